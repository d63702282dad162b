"""The shared header of the output rings: which field is where, and who writes it.

The producer (the engine's feeder) and the consumer (the audio callback, in the audio
process or the null sink's clock) share one block: this header of int64 words, then two
rings of interleaved float32 stereo frames. Pure Python, so that the audio process can
read it without numpy.
"""

from __future__ import annotations

from typing import Any, Protocol

# Producer-written header fields (under the lock).
W0, W1 = 0, 1
"""Absolute write index of ring 0 and ring 1."""
HANDOVER_SEQ, HANDOVER_RING, HANDOVER_AT = 2, 3, 4
EXPECTING = 5
"""1 while the producer promises audio (playing); gaps count as underruns only then."""
END_INDEX = 6
"""Where promised audio ends (end of the library), or -1."""
STOP_REQUEST = 7
"""Set by the engine to ask the audio process to close its stream and exit."""
# Consumer-written fields.
READ = 8
ACTIVE = 9
APPLIED_SEQ, MISSED_SEQ = 10, 11
UNDERRUNS, UNDERRUN_FRAMES, CALLBACKS, STATUS_FLAGS = 12, 13, 14, 15
HEARTBEAT_NS = 16
APPLIED_AT_NS = 17
"""Monotonic time (ns) the last handover was applied: when the new audio left the callback."""
LAST_CALLBACK_NS = 18
CAPTURE_INDEX = 19
"""Frames copied to the optional capture tap (what left the callback; for tests)."""
LAST_UNDERRUN_NS, LAST_UNDERRUN_READ, LAST_UNDERRUN_WRITTEN = 20, 21, 22
"""When the last underrun happened, where the consumer was and how far its ring was
written: enough to line a dropout up with what the feeder was doing."""
LATENESS_BASE = 24
LATENESS_BIN_US = 250
LATENESS_BINS = 256
"""Callback lateness histogram: bin k counts callbacks k..k+1 quarter-milliseconds later
than the period (the last bin: 64 ms or more). A quarter of a millisecond resolves the
goal of a quarter block (5.8 ms at 1024 frames) without rounding a whole bin into it."""
HEADER_FIELDS = LATENESS_BASE + LATENESS_BINS


class LockLike(Protocol):
    def acquire(self, block: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...


FRAME_BYTES = 8
"""One interleaved float32 stereo frame."""


def shared_size(capacity: int) -> tuple[int, int]:
    """(bytes for header, bytes for audio) of a shared-memory block."""
    return HEADER_FIELDS * 8, 2 * capacity * FRAME_BYTES


def int64_words(buffer: Any) -> memoryview:
    """The header as int64 words, whatever buffer (numpy array, shared memory) holds it."""
    return memoryview(buffer).cast("B").cast("q")


def byte_view(buffer: Any) -> memoryview:
    """Any C-contiguous buffer (numpy frames, a PortAudio buffer) as bytes."""
    return memoryview(buffer).cast("B")


def lateness_percentile(header: Any, fraction: float) -> float:
    """Callback lateness (ms past the block period) at `fraction` of callbacks, to the
    bin's lower edge."""
    bins = int64_words(header)[LATENESS_BASE : LATENESS_BASE + LATENESS_BINS].tolist()
    total = sum(bins)
    if total == 0:
        return 0.0
    threshold = fraction * total
    running = 0
    for late_bins, count in enumerate(bins):
        running += count
        if running >= threshold:
            return late_bins * LATENESS_BIN_US / 1000
    return LATENESS_BINS * LATENESS_BIN_US / 1000
