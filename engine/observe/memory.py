"""Memory pressure -> degradation levels that shrink the tier budgets.

Readings come from psutil (process RSS, system available memory) through an injectable
reader, so tests can force every level. Levels step up at once and step down one at a time
with hysteresis, so a reading near a threshold does not make the budgets flap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from engine.vocabulary import TierName

LEVEL_NAMES = ("normal", "elevated", "high", "critical")
BUDGET_SCALES: tuple[dict[str, float], ...] = (
    {TierName.L1: 1.0, TierName.L2: 1.0, TierName.L3: 1.0},
    {TierName.L1: 1.0, TierName.L2: 1.0, TierName.L3: 0.5},  # L3 (deep read-ahead) gives way first
    {TierName.L1: 1.0, TierName.L2: 0.5, TierName.L3: 0.0},
    {TierName.L1: 0.5, TierName.L2: 0.25, TierName.L3: 0.0},  # and the worker pauses
)
AVAILABLE_FRACTION_THRESHOLDS = (0.20, 0.10, 0.05)
RSS_LIMIT_MULTIPLES = (1.0, 1.25, 1.5)
RECOVERY_MARGIN = 0.05


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """Found once: `find_library` runs `ldconfig -p` in a subprocess."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def give_back_free_memory() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim; elsewhere a no-op).

    glibc keeps freed arrays below the mmap threshold in its heaps for reuse and hands back
    only what is free at the top; a trim after bulk frees, and every few seconds, gives
    back the rest."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


UNCOUNTED_MB = 60.0
"""What the player's processes hold beyond their size at start and the engine's budget,
which no budget counts: the audio server's client and the rings, a decoder's buffers, the
libraries loaded on first use, a render in flight. The health panel's RSS limit and the
footprint benchmark's goal allow the same."""
MALLOC_ARENAS = 2
"""glibc gives a thread that meets contention an arena of its own (up to eight per core),
and every arena keeps the chunk-sized arrays freed in it for reuse. With the render,
feeder and analysis threads each in its own, the player's RSS was 30 MB higher at the
median and 38 MB at the peak than with two shared arenas (bench/footprint.py)."""
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
"""Arrays this large or larger are mapped on their own and unmapped when freed. glibc's
threshold moves up to the largest array freed (32 MB at most): after the first chunk it
kept every later window and chunk in its heaps between trims, and the player's peak on the
corpus at the smallest budget was 170 MB against 152 with the threshold fixed here. Fixed
at 1 MB or lower, the analysis pass's page faults kept it reading a minute longer than
before; at 4 MB steady CPU and switch latency measured the same as before."""
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
"""mallopt's parameter numbers (malloc.h)."""


def tune_malloc(arenas: int = MALLOC_ARENAS) -> None:
    """Cap glibc's malloc arenas for the threads started from now on, and fix its mmap
    threshold (elsewhere a no-op)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_ARENA_MAX, arenas)
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


@dataclass(frozen=True)
class MemoryReading:
    rss_bytes: int
    available_fraction: float


def read_memory() -> MemoryReading:
    """RSS of the player's processes together (the engine's and its audio process), and
    the system's available fraction."""
    available = psutil.virtual_memory()
    return MemoryReading(player_rss_bytes(), available.available / max(available.total, 1))


CHILDREN_REFRESH_SECONDS = 5.0
"""How long the list of the player's child processes is trusted: finding them walks the
whole process table, which cost more than the rest of a reading."""


class PlayerProcesses:
    """The player's process and its children (the audio process), found again only every
    CHILDREN_REFRESH_SECONDS."""

    def __init__(
        self,
        process: psutil.Process | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._process = process or psutil.Process()
        self._clock = clock
        self._children: list[psutil.Process] = []
        self._found_at: float | None = None

    def rss_bytes(self) -> int:
        """RSS of the process and of its children."""
        now = self._clock()
        if self._found_at is None or now - self._found_at >= CHILDREN_REFRESH_SECONDS:
            self._children, self._found_at = self._process.children(recursive=True), now
        total = int(self._process.memory_info().rss)
        for child in self._children:
            try:
                total += int(child.memory_info().rss)
            except psutil.Error:  # it ended meanwhile: look again at the next reading
                self._found_at = None
        return total


@functools.cache
def _this_player() -> PlayerProcesses:
    return PlayerProcesses()


def player_rss_bytes() -> int:
    """RSS of this process and of its children."""
    return _this_player().rss_bytes()


class MemoryMonitor:
    """Maps readings to a level in 0..3; `budgets` scales the configured tier budgets.

    The RSS limit applies to what the process grew by since the engine started: that is
    the memory the engine can give back. A process that was already large (a host
    application, a long test run) must not read as pressure the buffer caused and starve
    the renders.
    """

    def __init__(
        self,
        rss_limit_bytes: int,
        reader: Callable[[], MemoryReading] = read_memory,
        baseline_rss_bytes: int | None = None,
    ) -> None:
        self.rss_limit_bytes = rss_limit_bytes
        self._reader = reader
        self.level = 0
        self.last_reading = MemoryReading(0, 1.0)
        self.baseline_rss_bytes = (
            reader().rss_bytes if baseline_rss_bytes is None else baseline_rss_bytes
        )

    def _pressure_level(self, reading: MemoryReading, margin: float) -> int:
        level = 0
        for step, threshold in enumerate(AVAILABLE_FRACTION_THRESHOLDS, start=1):
            if reading.available_fraction < threshold + margin:
                level = step
        grown = reading.rss_bytes - self.baseline_rss_bytes
        for step, multiple in enumerate(RSS_LIMIT_MULTIPLES, start=1):
            if grown > self.rss_limit_bytes * (multiple - margin):
                level = max(level, step)
        return level

    def update(self) -> int:
        """Take a reading and move the level: up at once, down one step past a margin."""
        reading = self._reader()
        self.last_reading = reading
        now = self._pressure_level(reading, 0.0)
        if now > self.level:
            self.level = now
        elif now < self.level and self._pressure_level(reading, RECOVERY_MARGIN) < self.level:
            self.level -= 1
        return self.level

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def worker_paused(self) -> bool:
        return self.level == len(LEVEL_NAMES) - 1

    def budgets(self, configured: dict[str, int]) -> dict[str, int]:
        scales = BUDGET_SCALES[self.level]
        return {tier: int(size * scales[tier]) for tier, size in configured.items()}
