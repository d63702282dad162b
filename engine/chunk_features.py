"""`ChunkFeatureIndex`: the five features of any chunk the engine has analysed, cheaply.

The planner asks for them ten times a second. The analyses are made by the render workers
(the adaptive preset and the loudness calibration need them), so the index only looks them
up: it never decodes or analyses, and a track not analysed yet simply has no features.
"""

from __future__ import annotations

import threading

from engine.analysis import AnalysisCache
from engine.config import EngineConfig
from engine.track_store import TrackStore
from engine.tracks import Track

Vector = tuple[float, ...]
KEEP_TRACKS = 32
"""Feature tables kept (a few hundred bytes each); the oldest go first."""


class ChunkFeatureIndex:
    """Thread-safe lookups of (track id, chunk) -> feature vector."""

    def __init__(self, config: EngineConfig, store: TrackStore, analyses: AnalysisCache) -> None:
        self._config = config
        self._store = store
        self._analyses = analyses
        self._tables: dict[tuple[str, str], tuple[Vector, ...]] = {}
        self._lock = threading.Lock()

    def __call__(self, track_id: str, chunk: int) -> Vector | None:
        track = self._store.track(track_id)
        if track is None:
            return None
        key = (track.id, track.fingerprint)
        with self._lock:
            table = self._tables.get(key)
        if table is None:
            table = self._table_for(track)
            if table is None:
                return None
        return table[chunk] if 0 <= chunk < len(table) else None

    def _table_for(self, track: Track) -> tuple[Vector, ...] | None:
        decoded = self._store.peek(track)
        if decoded is None:
            return None
        analysis = self._analyses.peek(
            decoded.content_hash, self._config.sample_rate, self._config.chunk_frames
        )
        if analysis is None or analysis.failed:
            return None
        table = tuple(features.as_vector() for features in analysis.chunk_features)
        with self._lock:
            while len(self._tables) >= KEEP_TRACKS:
                self._tables.pop(next(iter(self._tables)))
            self._tables[(track.id, track.fingerprint)] = table
        return table
