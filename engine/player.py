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
from typing import Protocol

import numpy as np

from engine.output import Audio, Sink
from engine.tracks import Track

AudioSource = Callable[[Track, int, int], Audio]
"""(track, first_frame, frame_count) -> float32 stereo frames (fewer only at the track end)."""
ErrorHandler = Callable[[Track, Exception], None]


class SwitchHook(Protocol):
    """Lets the audio source change what it plays at a point the player chooses."""

    def poll_switch(self, track: Track, frame: int) -> bool:
        """True if new audio is ready to start at `frame` (the player then flushes)."""
        ...

    def flushed(self, ring_index: int, frame: int) -> None:
        """Queued audio was dropped; new audio starts at `ring_index` = track `frame`."""
        ...

    def heard(self, read_index: int) -> None:
        """The consumer has read up to `read_index`."""
        ...


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
        switch_hook: SwitchHook | None = None,
    ) -> None:
        self.sink = sink
        self._source = source
        self._hook = switch_hook
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
        capacity = sink.ring.capacity - sink.block_frames
        self._fill_frames = min(capacity, int(ring_seconds * sink.sample_rate))
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

    def _position_locked(self, ring_index: int | None = None) -> tuple[int, int]:
        """(track index, frame) playing at `ring_index` (default: the consumer's position)."""
        index = self.sink.ring.read_index if ring_index is None else ring_index
        for segment in reversed(self._segments):
            if segment.ring_index <= index:
                return segment.track_index, segment.track_frame + index - segment.ring_index
        return self._track_index, self._write_frame

    def _safe_cut(self) -> int:
        """First ring index the consumer cannot be reading: one block past its position."""
        ring = self.sink.ring
        return min(ring.write_index, ring.read_index + self.sink.block_frames)

    def _jump(self, track_index: int, frame: int) -> int:
        """Drop queued audio after the block being played; continue from (track, frame).

        The caller holds the lock. Returns the ring index where the new audio starts.
        """
        ring = self.sink.ring
        cut = self._safe_cut()
        if cut == ring.read_index:
            ring.active = False  # the gap until new audio arrives is a seek, not a dropout
        ring.discard_after(cut)
        self._track_index = track_index
        self._write_frame = frame
        self._segments = deque(
            (s for s in self._segments if s.ring_index < cut), maxlen=self._segments.maxlen
        )
        self._segments.append(_Segment(cut, track_index, frame))
        return cut

    # -- feeder ---------------------------------------------------------------------------
    def _feed_loop(self) -> None:
        period = self.sink.block_frames / self.sink.sample_rate
        while not self._stop.is_set():
            self._feed_once()
            self._wake.wait(period / 2)
            self._wake.clear()

    def _maybe_switch(self) -> None:
        """Ask the source whether a requested switch is ready, and cut over if so."""
        hook = self._hook
        if hook is None:
            return
        with self._lock:
            if not self._playing or not self._tracks:
                return
            cut = self._safe_cut()
            index, frame = self._position_locked(cut)
            track = self._tracks[index]
        if not hook.poll_switch(track, frame):
            return
        with self._lock:
            cut = self._safe_cut()  # the consumer may have moved on while we looked
            index, frame = self._position_locked(cut)
            cut = self._jump(index, frame)
            hook.flushed(cut, frame)

    def _feed_once(self) -> None:
        block = self.sink.block_frames
        self._maybe_switch()
        if self._hook is not None:
            self._hook.heard(self.sink.ring.read_index)
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
