"""Transport and the feed into the sink.

A feeder thread keeps the sink's ring `ring_seconds` ahead of the consumer with audio from
an `AudioSource`. Commands (play, pause, seek, next) come from other threads and only change
state under a short lock; the feeder applies them between blocks, so the consumer never
sees a half-written block.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.output import Audio, Sink
from engine.tracks import Track

AudioSource = Callable[[Track, int, int], Audio]
"""(track, first_frame, frame_count) -> float32 stereo frames (fewer only at the track end)."""
ErrorHandler = Callable[[Track, Exception], None]


@dataclass(frozen=True)
class _Segment:
    """Ring index where audio from `track_index` starting at `track_frame` begins."""

    ring_index: int
    track_index: int
    track_frame: int


class Player:
    """Plays a list of tracks in order through a sink, gaplessly."""

    def __init__(
        self,
        sink: Sink,
        source: AudioSource,
        on_error: ErrorHandler | None = None,
        ring_seconds: float = 0.75,
    ) -> None:
        self.sink = sink
        self._source = source
        self._on_error = on_error
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._tracks: list[Track] = []
        self._track_index = 0
        self._write_frame = 0
        self._playing = False
        self._volume = 1.0
        self._applied_volume = 1.0
        self._segments: deque[_Segment] = deque(maxlen=64)
        self._fill_frames = int(ring_seconds * sink.sample_rate)
        self._thread = threading.Thread(target=self._feed_loop, name="feeder", daemon=True)
        self._thread.start()

    # -- commands -------------------------------------------------------------------------
    def set_tracks(self, tracks: list[Track]) -> None:
        with self._lock:
            self._tracks = list(tracks)
            self._jump(0, 0)

    def play(self) -> None:
        with self._lock:
            self._playing = bool(self._tracks)
        self._wake.set()

    def pause(self) -> None:
        with self._lock:
            if self._playing:
                index, frame = self._position_locked()
                self._playing = False
                self.sink.ring.active = False
                self._jump(index, frame)

    def seek(self, seconds: float) -> None:
        with self._lock:
            if not self._tracks:
                return
            track = self._tracks[self._track_index]
            frame = int(np.clip(seconds, 0.0, track.duration_seconds) * self.sink.sample_rate)
            self._jump(self._track_index, min(frame, max(track.frames - 1, 0)))
        self._wake.set()

    def skip(self, delta: int) -> None:
        """Move `delta` tracks forward or back, wrapping at the ends of the list."""
        with self._lock:
            if self._tracks:
                self._jump((self._track_index + delta) % len(self._tracks), 0)
        self._wake.set()

    def set_volume(self, volume: float) -> None:
        with self._lock:
            self._volume = float(np.clip(volume, 0.0, 1.0))

    # -- state ----------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def volume(self) -> float:
        return self._volume

    def position(self) -> tuple[Track | None, float]:
        """The track being heard and the position in it, from frames the sink consumed."""
        with self._lock:
            if not self._tracks:
                return None, 0.0
            index, frame = self._position_locked()
            return self._tracks[index], frame / self.sink.sample_rate

    def _position_locked(self) -> tuple[int, int]:
        read_index = self.sink.ring.read_index
        for segment in reversed(self._segments):
            if segment.ring_index <= read_index:
                return segment.track_index, segment.track_frame + read_index - segment.ring_index
        return self._track_index, self._write_frame

    def _jump(self, track_index: int, frame: int) -> None:
        """Drop queued audio and continue from (track, frame); caller holds the lock."""
        self.sink.ring.active = False  # the gap until new audio arrives is a seek, not a dropout
        self.sink.ring.discard_queued()
        self._track_index = track_index
        self._write_frame = frame
        self._segments.clear()
        self._segments.append(_Segment(self.sink.ring.write_index, track_index, frame))

    # -- feeder ---------------------------------------------------------------------------
    def _feed_loop(self) -> None:
        period = self.sink.block_frames / self.sink.sample_rate
        while not self._stop.is_set():
            self._feed_once()
            self._wake.wait(period / 2)
            self._wake.clear()

    def _feed_once(self) -> None:
        block = self.sink.block_frames
        while True:
            with self._lock:
                ring = self.sink.ring
                if not self._playing or not self._tracks:
                    return
                if ring.queued_frames() >= self._fill_frames:
                    return
                if ring.free_frames() < block:
                    return
                track = self._tracks[self._track_index]
                start = self._write_frame
            frames = self._read(track, start, block)
            with self._lock:
                if self._tracks[self._track_index] is not track or self._write_frame != start:
                    continue  # a command moved the transport while we read: read again
                if len(frames):
                    ring.write(self._apply_volume(frames))
                    self._write_frame += len(frames)
                    ring.end_index = None
                    ring.active = True
                if len(frames) < block:
                    self._advance_track_locked()

    def _read(self, track: Track, start: int, count: int) -> Audio:
        try:
            return self._source(track, start, count)
        except Exception as error:  # noqa: BLE001 - one bad track must not stop playback
            if self._on_error is not None:
                self._on_error(track, error)
            return np.zeros((0, 2), dtype=np.float32)

    def _advance_track_locked(self) -> None:
        """Gapless: the next track's frames follow in the same ring; stop after the last."""
        if self._track_index + 1 >= len(self._tracks):
            self._playing = False
            self.sink.ring.end_index = self.sink.ring.write_index
            return
        self._track_index += 1
        self._write_frame = 0
        self._segments.append(_Segment(self.sink.ring.write_index, self._track_index, 0))

    def _apply_volume(self, frames: Audio) -> Audio:
        """Ramp linearly from the last applied volume to the target over one block: no zipper."""
        target = self._volume
        if target == 1.0 and self._applied_volume == 1.0:
            return frames
        ramp = np.linspace(self._applied_volume, target, len(frames), dtype=np.float32)
        self._applied_volume = target
        return frames * ramp[:, None]

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=2.0)
