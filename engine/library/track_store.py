"""The tracks the engine knows, and a streaming source for each: no decoded samples kept.

Renders and the feeder read only the windows they need through `TrackSource`; the decoded
blocks they share live in one byte-bounded `BlockCache`. A track whose file changed since
it was listed (its fingerprint moved on) is never served.
"""

from __future__ import annotations

import threading

from engine.library.decoders import warm_up
from engine.library.decoders.pool import ReaderPool
from engine.library.source import BlockCache, EndListener, TrackSource
from engine.library.tracks import Track


class TrackStore:
    """Thread-safe map of track id -> (track, its source)."""

    def __init__(
        self, sample_rate: int, cache_bytes: int = 4_000_000, on_end: EndListener | None = None
    ) -> None:
        self._sample_rate = sample_rate
        self.blocks = BlockCache(cache_bytes)
        self.readers = ReaderPool()
        self._on_end = on_end
        self._sources: dict[str, TrackSource] = {}
        self._lock = threading.Lock()

    def register(self, tracks: list[Track]) -> None:
        warm_up(track.path for track in tracks)
        with self._lock:
            for track in tracks:
                self._put(track)

    def set_library(self, tracks: list[Track]) -> None:
        """The playlist changed: know only these tracks (their sources kept where the same)."""
        warm_up(track.path for track in tracks)
        with self._lock:
            old = self._sources
            self._sources = {}
            for track in tracks:
                known = old.get(track.id)
                if known is not None and known.track == track:
                    self._sources[track.id] = known
                else:
                    self._put(track)
        for track_id in old.keys() - {track.id for track in tracks}:
            self.blocks.forget(track_id)
            self.readers.forget(track_id)

    def _put(self, track: Track) -> None:
        self._sources[track.id] = self._source(track)

    def _source(self, track: Track) -> TrackSource:
        return TrackSource(track, self._sample_rate, self.blocks, self._on_end, self.readers)

    def forget(self, track_id: str) -> None:
        with self._lock:
            self._sources.pop(track_id, None)
        self.blocks.forget(track_id)
        self.readers.forget(track_id)

    def track(self, track_id: str) -> Track | None:
        with self._lock:
            source = self._sources.get(track_id)
            return source.track if source is not None else None

    def get(self, track: Track) -> TrackSource:
        """The source of `track` (made on the spot for a track not registered)."""
        with self._lock:
            source = self._sources.get(track.id)
            if source is not None and source.track.fingerprint == track.fingerprint:
                return source
        return self._source(track)

    def resolve(self, track_id: str, fingerprint: str) -> TrackSource | None:
        """For the render workers: None if the track is unknown or has changed."""
        with self._lock:
            source = self._sources.get(track_id)
        if source is None or source.track.fingerprint != fingerprint:
            return None
        return source
