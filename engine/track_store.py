"""Decoded tracks on demand: the renderers' source of samples, bounded in memory.

Decoding a track takes tens of milliseconds and ~14 MB per minute of stereo float32, so we
keep only the few most recently used, decode each at most once at a time, and refuse to
serve a track whose file changed since it was listed (its fingerprint moved on).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from engine.tracks import DecodedTrack, Track, load_track


class TrackStore:
    """Thread-safe LRU of decoded tracks, keyed by track id and fingerprint."""

    def __init__(self, sample_rate: int, max_seconds: float, keep: int = 4) -> None:
        self._sample_rate = sample_rate
        self._max_seconds = max_seconds
        self._keep = keep
        self._tracks: dict[str, Track] = {}
        self._decoded: OrderedDict[tuple[str, str], DecodedTrack] = OrderedDict()
        self._lock = threading.Lock()
        self._decoding: dict[tuple[str, str], threading.Lock] = {}

    def register(self, tracks: list[Track]) -> None:
        with self._lock:
            for track in tracks:
                self._tracks[track.id] = track

    def set_library(self, tracks: list[Track]) -> None:
        """The playlist changed: know only these tracks, and let go of the decoded samples
        of any that left it (opening folder after folder must not pile them up)."""
        with self._lock:
            self._tracks = {track.id: track for track in tracks}
            for key in [key for key in self._decoded if key[0] not in self._tracks]:
                del self._decoded[key]

    def forget(self, track_id: str) -> None:
        with self._lock:
            self._tracks.pop(track_id, None)
            for key in [key for key in self._decoded if key[0] == track_id]:
                del self._decoded[key]

    def track(self, track_id: str) -> Track | None:
        with self._lock:
            return self._tracks.get(track_id)

    def get(self, track: Track) -> DecodedTrack:
        """Decode (once) and return; raises TrackError if the file cannot be played."""
        key = (track.id, track.fingerprint)
        with self._lock:
            cached = self._decoded.get(key)
            if cached is not None:
                self._decoded.move_to_end(key)
                return cached
            gate = self._decoding.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                cached = self._decoded.get(key)
                if cached is not None:
                    return cached
            decoded = load_track(track.path, self._sample_rate, self._max_seconds)
            with self._lock:
                self._decoded[key] = decoded
                self._decoding.pop(key, None)
                while len(self._decoded) > self._keep:
                    self._decoded.popitem(last=False)
            return decoded

    def peek(self, track: Track) -> DecodedTrack | None:
        """The decoded track if it is already in memory; never decodes (cheap, any thread)."""
        with self._lock:
            return self._decoded.get((track.id, track.fingerprint))

    def resolve(self, track_id: str, fingerprint: str) -> DecodedTrack | None:
        """For the render workers: None if the track is unknown or has changed."""
        track = self.track(track_id)
        if track is None or track.fingerprint != fingerprint:
            return None
        return self.get(track)
