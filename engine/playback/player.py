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

from engine.dsp import crossfade
from engine.frames import Audio
from engine.library.tracks import Track
from engine.playback.sinks.output import Sink
from engine.runtime import STEP_FINISH_SECONDS

AudioSource = Callable[[Track, int, int], Audio]
"""(track, first_frame, frame_count) -> float32 stereo frames (fewer only at the track end)."""
ErrorHandler = Callable[[Track, Exception], None]


class TrackOrder(Protocol):
    """Which track plays after which (`engine/playback/queue.py`)."""

    def following(self, track: Track) -> Track | None:
        """The track written right after `track` ends (None: playing stops). Asked again
        for the same track when a cut lands before its end, so it must not move on."""
        ...

    def step(self, track: Track, delta: int) -> Track | None:
        """Where `delta` next (or previous, < 0) presses go from `track`."""
        ...

    def first(self) -> Track | None:
        """Where play starts again after playing stopped at the end."""
        ...


class ListOrder:
    """The tracks in their list's order, wrapping on steps: for tools and tests."""

    def __init__(self, tracks: list[Track]) -> None:
        self._tracks = list(tracks)

    def following(self, track: Track) -> Track | None:
        place = self._place(track)
        return (
            self._tracks[place + 1] if place is not None and place + 1 < len(self._tracks) else None
        )

    def step(self, track: Track, delta: int) -> Track | None:
        place = self._place(track)
        return None if place is None else self._tracks[(place + delta) % len(self._tracks)]

    def first(self) -> Track | None:
        return self._tracks[0] if self._tracks else None

    def _place(self, track: Track) -> int | None:
        return next((i for i, t in enumerate(self._tracks) if t.id == track.id), None)


class SwitchHook(Protocol):
    """Lets the audio source change what it plays at a point the player chooses."""

    def poll_switch(self, track: Track, frame: int) -> bool:
        """True if new audio is ready to start at `frame` (the player then flushes)."""
        ...

    def flushed(self, ring_index: int, frame: int) -> None:
        """Queued audio was dropped; new audio starts at `ring_index` = track `frame`."""
        ...

    def heard(self, read_index: int, applied_at: float | None) -> None:
        """The consumer has read up to `read_index`; the last cut left it at `applied_at`."""
        ...

    def busy(self) -> bool:
        """A switch is waiting for its audio, or one made is not heard yet: poll often."""
        ...


FADE_SECONDS = 0.01
"""Fade for pause, resume and seeks: short enough to feel instant, long enough not to click."""
FLOOR_SECONDS = 0.25
"""Audio the feeder queues before it does anything that may take long (a switch that
missed renders the head of its chunk first). Right after a cut the ring holds a block or
two; a second switch polled then, rendering for tens of milliseconds on a busy machine,
was an underrun. Filling this far first costs a few hits' copies and delays nothing: the
next cut still lands at the consumer's next block."""
REFILL_SECONDS = 0.2
"""While nothing is in flight the feeder rests until this much audio has drained from the
ring and then writes it at once: five wake-ups a second instead of one per half block.
The ring still holds at least its fill less this (or half its fill in a small ring)."""
PAUSED_POLL_SECONDS = 0.1
"""How often a paused feeder looks for a missed cut; commands wake it at once."""
PIECE_BLOCKS = 4
"""Blocks the feeder reads and writes at once (one right after a cut): each write costs
a read through the feed, two locks and a publish whatever its length, and a block at a
time was 43 of them a second. A waiting command is still served between pieces."""


def _fade_curve(count: int, rising: bool) -> Audio:
    """Equal-power quarter-sine ramp of `count` frames."""
    position = (np.arange(count, dtype=np.float32) + 0.5) / max(count, 1)
    curve = np.sin(0.5 * np.pi * position) if rising else np.cos(0.5 * np.pi * position)
    return curve.astype(np.float32)


@dataclass(frozen=True)
class _Segment:
    """Ring index where audio from `track` starting at `track_frame` begins."""

    ring_index: int
    track: Track
    track_frame: int


class Player:
    """Plays tracks in the order a `TrackOrder` gives through a sink, gaplessly."""

    def __init__(
        self,
        sink: Sink,
        source: AudioSource,
        on_error: ErrorHandler | None = None,
        ring_seconds: float = 0.75,
        switch_hook: SwitchHook | None = None,
        order: TrackOrder | None = None,
    ) -> None:
        self.sink = sink
        self._order: TrackOrder = order or ListOrder([])
        self._source = source
        self._hook = switch_hook
        self._on_error = on_error
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._track: Track | None = None
        self._write_frame = 0
        self._ended = False
        """Playing stopped after the last track of the order: play starts it again."""
        self._playing = False
        self._volume = 1.0
        self._applied_volume = 1.0
        self._segments: deque[_Segment] = deque(maxlen=64)
        self.on_track_written: Callable[[], None] | None = None
        """Told (on the feeder's thread, under the lock) when the next track's first frame
        is written: whoever follows the track heard must look again before it is heard."""
        self._fade_frames = round(FADE_SECONDS * sink.sample_rate)
        self._tail: Audio | None = None
        """What would have played after the last cut: faded out under the new audio."""
        self._fade_in = False
        self._last_cut_blends = True
        capacity = sink.ring.capacity - sink.block_frames
        self._fill_frames = min(capacity, int(ring_seconds * sink.sample_rate))
        self._floor_frames = min(self._fill_frames, int(FLOOR_SECONDS * sink.sample_rate))
        refill = int(REFILL_SECONDS * sink.sample_rate)
        self._low_water_frames = max(self._fill_frames - refill, self._fill_frames // 2)
        self._thread = threading.Thread(target=self._feed_loop, name="feeder", daemon=True)
        self._thread.start()

    # -- commands -------------------------------------------------------------------------
    def set_tracks(self, tracks: list[Track]) -> None:
        """Play `tracks` in their order (tools and tests; the engine gives a queue)."""
        with self._lock:
            self._order = ListOrder(tracks)
        self.start(tracks[0] if tracks else None)

    def start(self, track: Track | None) -> None:
        """A new library: stand at the start of `track` (None: nothing to play)."""
        with self._lock:
            self._track = None
            if track is not None:
                self._jump(track, 0)

    def play(self) -> None:
        with self._lock:
            if self._playing or self._track is None:
                return
            first = self._order.first() if self._ended else None
            if first is not None:
                self._jump(first, 0, blend=False)  # played to the end: from the top again
            else:
                self._continue_at_cut(blend=False)
            self._fade_in = True  # resume without a click
            self._playing = True
        self._wake.set()

    def pause(self) -> None:
        """Stop after a short fade of what was about to play, so the pause never clicks."""
        with self._lock:
            if not self._playing:
                return
            self._playing = False
            self._continue_at_cut(blend=True)
            self._end_at_cut_locked()

    def _end_at_cut_locked(self) -> None:
        """Nothing follows the cut just made: write the fade of what would have played
        there (if any) and hand the cut over as the end of the audio."""
        ring = self.sink.ring
        tail, self._tail = self._tail, None
        if tail is not None:
            ring.write(tail * _fade_curve(len(tail), rising=False)[:, None])
        ring.set_expecting(True, end_index=ring.write_index)

    def wake(self) -> None:
        """A command changed what should play: let the feeder act now, not in half a block."""
        self._wake.set()

    def seek(self, seconds: float) -> None:
        with self._lock:
            if self._track is None:
                return
            _at, heard, _frame = self._playhead_at_earliest_cut()  # feeder may be further
            self._start_track_locked(heard, self._frame_at(heard, seconds))
        self._wake.set()

    def skip(self, delta: int) -> Track | None:
        """Move `delta` tracks forward or back in the order (which wraps at its ends);
        returns the track it moved to."""
        target = None
        with self._lock:
            if self._track is not None:
                _at, heard, _frame = self._playhead_at_earliest_cut()  # heard, not written
                target = self._order.step(heard, delta)
                if target is not None:
                    self._start_track_locked(target)
        self._wake.set()
        return target

    def skip_to(self, track: Track, seconds: float = 0.0) -> Track:
        """Go on at `track` (one the listener chose, or the one a resumed session left),
        from `seconds` into it."""
        with self._lock:
            self._start_track_locked(track, self._frame_at(track, seconds))
        self._wake.set()
        return track

    def _frame_at(self, track: Track, seconds: float) -> int:
        """The frame `seconds` into `track`, inside the track."""
        frame = int(np.clip(seconds, 0.0, track.duration_seconds) * self.sink.sample_rate)
        return min(frame, max(track.frames - 1, 0))

    def _start_track_locked(self, track: Track, frame: int = 0) -> None:
        """Go on at (`track`, `frame`) from the next block; the caller holds the lock."""
        cut = self._jump(track, frame)
        if self._hook is not None:
            self._hook.flushed(cut, frame)

    def replace_track(self, stale: Track, fresh: Track) -> None:
        """The same file in a new version: swap it in without moving the playhead."""
        with self._lock:
            if self._track == stale:
                self._track = fresh
            self._segments = deque(
                (
                    _Segment(s.ring_index, fresh, s.track_frame) if s.track == stale else s
                    for s in self._segments
                ),
                maxlen=self._segments.maxlen,  # a long session's cuts stay bounded
            )

    def set_volume(self, volume: float) -> None:
        with self._lock:
            self._volume = float(np.clip(volume, 0.0, 1.0))

    # -- state ----------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def ended(self) -> bool:
        """Stopped after the last track of the order (not paused): play starts it again."""
        return self._ended and not self._playing

    @property
    def volume(self) -> float:
        return self._volume

    def position(self) -> tuple[Track | None, float]:
        """The track being heard and the position in it, from frames the sink consumed.
        Never past the track's end: the silence after the last track is not more track."""
        return self._position_seconds(at_next_block=False)

    def lead_seconds(self) -> float | None:
        """Audio queued before the consumer runs dry, in seconds; None while it expects
        none (the gap after a seek, where a wait is latency, not a dropout). For the
        source, on the feeder's thread."""
        ring = self.sink.ring
        if not ring.expecting:
            return None
        return max(0, ring.queued_frames()) / self.sink.sample_rate

    def change_ahead(self) -> bool:
        """A track boundary or a cut is written but not heard yet."""
        with self._lock:
            segments = self._segments
            return bool(segments) and segments[-1].ring_index > self.sink.ring.read_index

    def position_at_next_block(self) -> tuple[Track | None, float]:
        """As `position`, at the consumer's next block (one block ahead at most): a seek or
        a track change is there from the moment it is made, before it is heard, so a plan
        made at once starts where the music is going."""
        return self._position_seconds(at_next_block=True)

    def _position_seconds(self, at_next_block: bool) -> tuple[Track | None, float]:
        with self._lock:
            if self._track is None:
                return None, 0.0
            at = self.sink.ring.earliest_cut() if at_next_block else None
            track, frame = self._position_locked(at)
            return track, min(frame, track.frames) / self.sink.sample_rate

    def _position_locked(self, ring_index: int | None = None) -> tuple[Track, int]:
        """(track, frame) playing at `ring_index` (default: the consumer's position); the
        caller holds the lock and has a track."""
        index = self.sink.ring.read_index if ring_index is None else ring_index
        for segment in reversed(self._segments):
            if segment.ring_index <= index:
                return segment.track, segment.track_frame + index - segment.ring_index
        assert self._track is not None
        return self._track, self._write_frame

    def _jump(self, track: Track, frame: int, blend: bool = True) -> int:
        """Play (track, frame) from the consumer's next block: a seek or a track change."""
        return self._cut_to(lambda _cut: (track, frame), blend)

    def _continue_at_cut(self, blend: bool) -> int:
        """Cut at the consumer's next block and go on with what was meant to play there (a
        switch, a pause or resume, a missed cut made again): the track and frame the
        segments give for the real cut, which may be past a track boundary."""
        return self._cut_to(self._position_locked, blend)

    def _cut_to(self, target: Callable[[int], tuple[Track, int]], blend: bool) -> int:
        """Cut the ring at the earliest point and continue from `target(cut)` = (track,
        frame), via a ring handover. With `blend`, what would have played is faded
        out under the new audio; a preset switch brings its own crossfade. The caller
        holds the lock. Returns the ring index where the new audio starts.
        """
        ring = self.sink.ring
        cut = ring.cut(ring.earliest_cut())
        track, frame = target(cut)
        self._tail = ring.peek(cut, self._fade_frames) if blend else None
        self._last_cut_blends = blend
        if cut == ring.read_index:
            ring.set_expecting(False)  # the gap until new audio arrives is a seek, not a dropout
        self._track = track
        self._write_frame = frame
        self._ended = False
        self._segments = deque(
            (s for s in self._segments if s.ring_index < cut), maxlen=self._segments.maxlen
        )
        self._segments.append(_Segment(cut, track, frame))
        return cut

    def _playhead_at_earliest_cut(self) -> tuple[int, Track, int]:
        """(ring index of the earliest cut, track, frame playing there); the caller holds
        the lock and has a track."""
        at = self.sink.ring.earliest_cut()
        track, frame = self._position_locked(at)
        return at, track, frame

    # -- feeder ---------------------------------------------------------------------------
    def _feed_loop(self) -> None:
        period = self.sink.block_frames / self.sink.sample_rate
        while not self._stop.is_set():
            self._wake.clear()
            self._feed_once()
            self._wake.wait(self._rest_seconds(period))

    def _rest_seconds(self, period: float) -> float:
        """Half a block while a cut or a switch is in flight (its latency is measured by
        these polls); otherwise until the ring has drained to its low-water mark."""
        ring = self.sink.ring
        busy = self._hook is not None and self._hook.busy()
        if busy or not ring.handover_applied() or ring.handover_missed():
            return period / 2
        if not self._playing:
            return PAUSED_POLL_SECONDS
        spare = ring.queued_frames() - self._low_water_frames
        return max(period / 2, spare / self.sink.sample_rate)

    def _retry_missed_handover(self) -> None:
        """The consumer passed a cut before it saw it (it kept the old audio): cut again."""
        with self._lock:
            if not self.sink.ring.handover_missed() or self._track is None:
                return
            # What was meant to play at the new cut: the segments written since the missed
            # one say it (the track whose audio was there, or the next one if a track
            # boundary came first). Following only the last segment would start a track
            # from a frame before its first when that segment lies beyond the new cut.
            cut = self._continue_at_cut(blend=self._last_cut_blends)
            if not self._playing:
                # Paused, or the library ended right after the cut: no write will follow
                # to hand this one over, so it ends the audio itself.
                self._end_at_cut_locked()
            elif self._hook is not None:
                self._hook.flushed(cut, self._write_frame)

    def _maybe_switch(self) -> None:
        """Ask the source whether a requested switch is ready, and cut over if so."""
        hook = self._hook
        if hook is None:
            return
        with self._lock:
            if not self._playing or self._track is None:
                return
            _at, track, frame = self._playhead_at_earliest_cut()
        if not hook.poll_switch(track, frame):
            return
        with self._lock:
            cut = self._continue_at_cut(blend=False)  # where the consumer is now
            hook.flushed(cut, self._write_frame)

    def _feed_once(self) -> None:
        self._retry_missed_handover()
        self._fill(self._floor_frames, yield_to_commands=False)
        self._maybe_switch()
        ring = self.sink.ring
        if self._hook is not None and ring.handover_applied():
            # Only once the consumer has taken the last cut: a missed one is cut again first.
            self._hook.heard(ring.read_index, ring.applied_at_ns() / 1e9)
        self._fill(self._fill_frames, yield_to_commands=True)

    def _fill(self, target_frames: int, yield_to_commands: bool) -> None:
        """Write pieces of blocks until `target_frames` are queued. Past the safety floor a
        waiting command is served first (`yield_to_commands`); below it, never."""
        block = self.sink.block_frames
        while not (yield_to_commands and self._wake.is_set()):
            with self._lock:
                ring = self.sink.ring
                track = self._track
                if not self._playing or track is None:
                    return
                wanted = min(target_frames - ring.queued_frames(), ring.free_frames())
                if wanted <= 0 or ring.free_frames() < block:
                    return
                # Right after a cut, or with little queued, one block at once: the consumer
                # is due there soon.
                short = ring.pending_at is not None or ring.queued_frames() < PIECE_BLOCKS * block
                pieces = 1 if short else PIECE_BLOCKS
                count = min(pieces, max(1, wanted // block)) * block
                start = self._write_frame
            frames = self._read(track, start, count)
            with self._lock:
                if self._track is not track or self._write_frame != start:
                    continue  # a command moved the transport while we read: read again
                if len(frames):
                    ring.write(self._blend(self._apply_volume(frames)))
                    self._write_frame += len(frames)
                    ring.set_expecting(True)
                if len(frames) < count:
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
        assert self._track is not None
        following = self._order.following(self._track)
        if following is None:
            self._playing = False
            self._ended = True
            self.sink.ring.set_expecting(True, end_index=self.sink.ring.write_index)
            return
        self._track = following
        self._write_frame = 0
        self._segments.append(_Segment(self.sink.ring.write_index, following, 0))
        if self.on_track_written is not None:
            self.on_track_written()

    def _blend(self, frames: Audio) -> Audio:
        """Fade in after a resume; crossfade from the old audio after a seek or skip."""
        tail, self._tail = self._tail, None
        fade_in, self._fade_in = self._fade_in, False
        if tail is None and not fade_in:
            return frames
        if tail is None:
            count = min(len(frames), self._fade_frames)
            mixed = np.array(frames, dtype=np.float32)
            mixed[:count] *= _fade_curve(count, rising=True)[:, None]
            return mixed
        rho = crossfade.correlation(tail, frames[: len(tail)])
        return crossfade.mix(tail, frames, 0, len(tail), rho)

    def _apply_volume(self, frames: Audio) -> Audio:
        """Ramp linearly from the last applied volume to the target over one block: no zipper."""
        target = self._volume
        if target == 1.0 and self._applied_volume == 1.0:
            return frames
        ramp = np.linspace(self._applied_volume, target, len(frames), dtype=np.float32)
        self._applied_volume = target
        return frames * ramp[:, None]

    def close(self, wait: bool = True) -> None:
        """Stop the feeder; `wait`: until it has (the feeder is a daemon thread that a
        process about to exit can leave mid-block)."""
        self._stop.set()
        self._wake.set()
        if wait:
            self._thread.join(timeout=STEP_FINISH_SECONDS)
