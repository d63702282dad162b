"""The consumer's side of the output rings: what the audio callback runs.

It copies bytes from the active ring into the device's buffer, takes a published handover
exactly at its index, and counts underruns and lateness in the shared header (see
engine/playback/rings.py for the protocol). It works on plain buffers through `memoryview`, without
numpy: the audio process imports this and sounddevice and nothing else of weight.
"""

from __future__ import annotations

import time
from typing import Any

from engine.playback.ring_layout import (
    ACTIVE,
    APPLIED_AT_NS,
    APPLIED_SEQ,
    CALLBACKS,
    END_INDEX,
    EXPECTING,
    FRAME_BYTES,
    HANDOVER_AT,
    HANDOVER_RING,
    HANDOVER_SEQ,
    HEARTBEAT_NS,
    LAST_CALLBACK_NS,
    LAST_UNDERRUN_NS,
    LAST_UNDERRUN_READ,
    LAST_UNDERRUN_WRITTEN,
    LATENESS_BASE,
    LATENESS_BIN_US,
    LATENESS_BINS,
    MISSED_SEQ,
    READ,
    STATUS_FLAGS,
    UNDERRUN_FRAMES,
    UNDERRUNS,
    W0,
    LockLike,
    byte_view,
    int64_words,
)

PRODUCER_FIELDS = 7
"""Header words 0..6 are the producer's: copied under the lock, all at once."""


class RingConsumer:
    """The audio callback's side: copies, switches rings at the published index, counts.

    `header` and `rings` are the shared block's two parts (any buffers): the header's int64
    words and both rings' frames, ring 0 then ring 1. `consume` copies with slice
    assignment; nothing it does grows with the block.
    """

    def __init__(
        self, header: Any, rings: Any, lock: LockLike, block_frames: int, sample_rate: int
    ) -> None:
        self.header = int64_words(header)
        everything = byte_view(rings)
        ring_bytes = everything.nbytes // 2
        self.capacity = ring_bytes // FRAME_BYTES
        self.rings = (everything[:ring_bytes], everything[ring_bytes:])
        self.lock = lock
        self.seen = memoryview(bytearray(8 * PRODUCER_FIELDS)).cast("q")
        """The producer's fields as last copied under the lock."""
        self.seen[END_INDEX] = -1
        self.silence = bytes(block_frames * FRAME_BYTES)
        self.period_ns = int(block_frames * 1e9 / sample_rate)

    def _refresh(self, wait: bool) -> None:
        if self.lock.acquire(wait):
            try:
                self.seen[:] = self.header[:PRODUCER_FIELDS]
            finally:
                self.lock.release()

    def consume(self, out: Any, status: int = 0, wait: bool = False) -> None:
        """Fill `out` (interleaved float32 stereo, any buffer) with what plays next.

        A device callback never waits: while the producer publishes it plays on from its
        last copy of the producer's fields. `wait=True` (a test stepping the sink by hand,
        never a callback) takes the lock, so it sees everything published before."""
        header, seen = self.header, self.seen
        view = byte_view(out)
        now = time.monotonic_ns()
        self._note_timing(now)
        if status:
            header[STATUS_FLAGS] += 1
        self._refresh(wait)
        read = header[READ]
        if seen[HANDOVER_SEQ] > header[APPLIED_SEQ]:
            if read == seen[HANDOVER_AT]:
                header[ACTIVE] = seen[HANDOVER_RING]
                header[APPLIED_SEQ] = seen[HANDOVER_SEQ]
                header[APPLIED_AT_NS] = now
            elif read > seen[HANDOVER_AT] and header[MISSED_SEQ] != seen[HANDOVER_SEQ]:
                header[MISSED_SEQ] = seen[HANDOVER_SEQ]
        active = header[ACTIVE]
        wanted = view.nbytes // FRAME_BYTES
        count = max(0, min(wanted, seen[W0 + active] - read))
        self._copy(self.rings[active], read % self.capacity, count, view)
        if count < wanted:
            self._silence(view, count * FRAME_BYTES)
            end = seen[END_INDEX]
            if seen[EXPECTING] and (end < 0 or read + count < end):
                header[UNDERRUNS] += 1
                header[UNDERRUN_FRAMES] += wanted - count
                header[LAST_UNDERRUN_NS] = now
                header[LAST_UNDERRUN_READ] = read
                header[LAST_UNDERRUN_WRITTEN] = seen[W0 + active]
        header[READ] = read + count
        header[CALLBACKS] += 1
        header[HEARTBEAT_NS] = now

    def _copy(self, ring: memoryview, start: int, count: int, view: memoryview) -> None:
        first = min(count, self.capacity - start) * FRAME_BYTES
        begin = start * FRAME_BYTES
        view[:first] = ring[begin : begin + first]
        rest = count * FRAME_BYTES - first
        if rest > 0:
            view[first : first + rest] = ring[:rest]

    def _silence(self, view: memoryview, offset: int) -> None:
        silence = self.silence
        while offset < view.nbytes:
            step = min(len(silence), view.nbytes - offset)
            view[offset : offset + step] = silence[:step]
            offset += step

    def release(self) -> None:
        """Let go of the shared block, which cannot be unmapped while a view is alive."""
        for view in (self.header, *self.rings):
            view.release()

    def _note_timing(self, now: int) -> None:
        last = self.header[LAST_CALLBACK_NS]
        self.header[LAST_CALLBACK_NS] = now
        if last:
            late_bins = (now - last - self.period_ns) // (LATENESS_BIN_US * 1000)
            if late_bins >= 0:
                self.header[LATENESS_BASE + min(late_bins, LATENESS_BINS - 1)] += 1
