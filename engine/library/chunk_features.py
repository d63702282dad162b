"""`ChunkFeatureIndex`: the five features of any chunk the engine has analysed, cheaply.

The planner asks for them ten times a second. The analyses come from the streaming
analysis pass, so the index only looks them up: it never decodes or analyses, and a chunk
the pass has not reached yet simply has no features.
"""

from __future__ import annotations

from engine.library.analysis_pass import AnalysisPass
from engine.library.track_store import TrackStore

Vector = tuple[float, ...]


class ChunkFeatureIndex:
    """Thread-safe lookups of (track id, chunk) -> feature vector."""

    def __init__(self, store: TrackStore, analyses: AnalysisPass) -> None:
        self._store = store
        self._analyses = analyses

    def __call__(self, track_id: str, chunk: int) -> Vector | None:
        track = self._store.track(track_id)
        if track is None:
            return None
        result = self._analyses.result(track.fingerprint)
        if result is None or not 0 <= chunk < len(result.chunk_features):
            return None
        return result.chunk_features[chunk].as_vector()
