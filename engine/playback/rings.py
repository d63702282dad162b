"""Two output rings and an atomic handover between them: the click-free switch.

Producer (the engine's feeder) and consumer (the audio callback, here or in the audio
process) share one absolute frame index space. The consumer reads the *active* ring. To
change what plays from index p (a switch or a seek), the producer writes the new audio
into the *other* ring from p on, then publishes (ring, p) in one step under a lock; the
consumer changes ring exactly when it reaches p, so it never reads a half-written block
and never sees the old ring rewritten under it. If the consumer is already past p when it
first sees the handover, it keeps the old ring and reports the miss; the producer retries
at a later p.

Every field has one writer. The producer writes its fields while holding the lock; the
consumer reads them with a non-blocking acquire and keeps its last copy if the lock is
busy, so it never waits (release/acquire ordering that holds on ARM too). The consumer's
own fields are single-writer integers the producer only reads.

The header's layout is in engine/playback/ring_layout.py and the consumer in
engine/playback/sinks/ring_consumer.py (numpy-free, for the audio process); the producer
here writes numpy frames.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.frames import Audio
from engine.playback.ring_layout import (
    ACTIVE,
    APPLIED_AT_NS,
    APPLIED_SEQ,
    END_INDEX,
    EXPECTING,
    HANDOVER_AT,
    HANDOVER_RING,
    HANDOVER_SEQ,
    HEADER_FIELDS,
    LAST_CALLBACK_NS,
    MISSED_SEQ,
    READ,
    UNDERRUN_FRAMES,
    UNDERRUNS,
    W0,
    LockLike,
)

CUT_MARGIN_NS = 4_000_000
"""Time the producer needs to write and publish the first block after a cut."""


def header_array(buffer: Any = None) -> npt.NDArray[np.int64]:
    if buffer is None:
        header = np.zeros(HEADER_FIELDS, dtype=np.int64)
    else:
        header = np.ndarray((HEADER_FIELDS,), dtype=np.int64, buffer=buffer)
    return header


def audio_array(capacity: int, buffer: Any = None, offset: int = 0) -> npt.NDArray[np.float32]:
    shape = (2, capacity, 2)
    if buffer is None:
        return np.zeros(shape, dtype=np.float32)
    return np.ndarray(shape, dtype=np.float32, buffer=buffer, offset=offset)


class RingProducer:
    """The feeder's side. Only one thread may call its methods (the player's feeder)."""

    def __init__(
        self,
        header: npt.NDArray[np.int64],
        rings: npt.NDArray[np.float32],
        lock: LockLike,
        block_frames: int,
        sample_rate: int = 44_100,
    ) -> None:
        self.header = header
        self.rings = rings
        self.lock = lock
        self.capacity = int(rings.shape[1])
        self.block_frames = block_frames
        self.sample_rate = sample_rate
        self.ring = 0
        """The ring being written (the consumer's active one, or the one handed over)."""
        self.write_index = 0
        self.pending_at: int | None = None
        """Start of audio written to the other ring but not yet published."""
        self.handover_seq = 0
        self.handover_at = 0

    # -- consumer state, read-only here ---------------------------------------------------
    @property
    def read_index(self) -> int:
        return int(self.header[READ])

    @property
    def underruns(self) -> int:
        return int(self.header[UNDERRUNS])

    @property
    def underrun_frames(self) -> int:
        return int(self.header[UNDERRUN_FRAMES])

    def queued_frames(self) -> int:
        return self.write_index - self.read_index

    @property
    def expecting(self) -> bool:
        """The producer promises audio: a gap now is an underrun."""
        return bool(self.header[EXPECTING])

    def free_frames(self) -> int:
        return self.capacity - self.block_frames - self.queued_frames()

    def handover_missed(self) -> bool:
        """The consumer passed the last handover point before it saw it: cut again later."""
        return self.handover_seq > 0 and int(self.header[MISSED_SEQ]) == self.handover_seq

    def handover_applied(self) -> bool:
        """The consumer has taken the last cut, and no cut waits to be published: until
        then audio it reads past the cut's index is still the old ring's."""
        return self.pending_at is None and int(self.header[APPLIED_SEQ]) >= self.handover_seq

    def applied_at_ns(self) -> int:
        return int(self.header[APPLIED_AT_NS])

    # -- writing --------------------------------------------------------------------------
    def safe_cut(self) -> int:
        """The first block boundary the consumer cannot have started: one block ahead."""
        return min(self.write_index, self.read_index + self.block_frames)

    def earliest_cut(self) -> int:
        """The consumer's next block, heard soonest, unless that callback is due within
        CUT_MARGIN_NS (we could not publish in time): then the block after it.

        Either way it is safe: a consumer that reaches the cut before the handover is
        published keeps the old, intact ring and reports the miss; the producer cuts again.
        """
        read = self.read_index
        last = int(self.header[LAST_CALLBACK_NS])
        period = int(self.block_frames * 1e9 / max(self.sample_rate, 1))
        if last and time.monotonic_ns() - last > period - CUT_MARGIN_NS:
            read += self.block_frames
        return min(self.write_index, read)

    def peek(self, index: int, count: int) -> Audio | None:
        """A copy of what the consumer would play at [index, index + count) if nothing
        changed (its active ring), or None if that audio is not all there."""
        active = int(self.header[ACTIVE])
        if index < self.read_index or index + count > int(self.header[W0 + active]):
            return None
        positions = np.arange(index, index + count) % self.capacity
        copied: Audio = self.rings[active][positions]
        return copied

    def cut(self, index: int) -> int:
        """Make audio from `index` on come from the next writes; returns the real cut.

        Normally the new audio goes to the ring the consumer is not reading, handed over at
        the cut. If an earlier handover is still on its way (published, not yet reached),
        the new audio follows it in the same ring from at least one block past that point,
        so the consumer takes both cuts in order and never reads a block being rewritten.
        """
        if self.handover_missed():
            # The consumer read on in the old ring past the cut it never took: what was
            # written after that cut is void, and the next cut is where the consumer is.
            self.write_index = max(self.write_index, self.read_index)
        index = max(self.earliest_cut(), min(index, self.write_index))
        if not self._handover_in_flight():
            # A cut into the other ring is taken when the consumer arrives there in its own
            # ring, which it reads to the end and no further: a cut past that end (after a
            # miss, the producer has written the other ring further) would never be reached,
            # and the music would stop for good. In the usual case both ends are the same.
            reachable = max(self.read_index, int(self.header[W0 + int(self.header[ACTIVE])]))
            index = max(self.read_index, min(index, reachable))
        if self.pending_at is not None:  # cut again before anything was published
            index = max(index, self.pending_at)
            self.write_index = self.pending_at = index
            return index
        if self._handover_in_flight():
            # Never below a block past it (the consumer reads that block as it switches),
            # never past what is written (no holes): at worst we simply append.
            index = min(self.write_index, max(index, self.handover_at + self.block_frames))
            self.write_index = index
            return index
        if index == self.write_index and int(self.header[ACTIVE]) == self.ring:
            return index  # nothing queued past the cut: keep writing the same ring
        self.ring = 1 - int(self.header[ACTIVE])
        self.write_index = index
        self.pending_at = index
        return index

    def _handover_in_flight(self) -> bool:
        """A published handover the consumer has neither taken nor missed yet."""
        seq = self.handover_seq
        return seq > int(self.header[APPLIED_SEQ]) and int(self.header[MISSED_SEQ]) != seq

    def write(self, frames: Audio) -> int:
        """Copy frames at the write index; publish a pending handover with the first ones."""
        count = min(len(frames), max(0, self.free_frames()))
        if count == 0:
            return 0
        start = self.write_index % self.capacity
        first = min(count, self.capacity - start)
        ring = self.rings[self.ring]
        ring[start : start + first] = frames[:first]
        if count > first:
            ring[: count - first] = frames[first:count]
        self.write_index += count
        self._publish()
        return count

    def _publish(self, final: bool = False) -> None:
        """Publish what is written; hand over a pending cut once a whole block follows it.

        A cut published with less (a track that ended a few frames past a seek) would send
        the consumer into a ring it runs dry in one callback: an underrun. Until then it
        keeps the old ring, which is safe (it reports a miss and the producer cuts again).
        `final`: no more audio is coming after this (a pause's fade, the library's end).
        """
        with _held(self):
            self.header[W0 + self.ring] = self.write_index
            pending = self.pending_at
            if pending is not None and (final or self.write_index - pending >= self.block_frames):
                self.handover_seq += 1
                self.handover_at = pending
                self.header[HANDOVER_RING] = self.ring
                self.header[HANDOVER_AT] = pending
                self.header[HANDOVER_SEQ] = self.handover_seq
                self.pending_at = None

    def set_expecting(self, expecting: bool, end_index: int = -1) -> None:
        """Promise audio (or not); an `end_index` says it ends there, so a cut written
        up to it is handed over even if shorter than a block."""
        if end_index >= 0:
            self._publish(final=True)
        elif self.header[EXPECTING] == int(expecting) and self.header[END_INDEX] == end_index:
            return  # as it is (the producer's own words): the feeder says so at every write
        with _held(self):
            self.header[EXPECTING] = int(expecting)
            self.header[END_INDEX] = end_index


class _held:
    """`with _held(producer):` takes the producer's current lock.

    If the consumer process was killed while holding the lock, it would never be released:
    so we wait in short steps and re-read `producer.lock`, which the sink replaces with a
    fresh lock when it starts a new audio process.
    """

    def __init__(self, owner: RingProducer) -> None:
        self.owner = owner
        self.lock: LockLike | None = None

    def __enter__(self) -> None:
        while True:
            lock = self.owner.lock
            if lock.acquire(True, 0.05):
                self.lock = lock
                return

    def __exit__(self, *_exc: object) -> None:
        assert self.lock is not None
        self.lock.release()
