"""Memory pressure -> degradation levels that shrink the tier budgets.

Readings come from psutil (process RSS, system available memory) through an injectable
reader, so tests can force every level. Levels step up at once and step down one at a time
with hysteresis, so a reading near a threshold does not make the budgets flap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psutil

LEVEL_NAMES = ("normal", "elevated", "high", "critical")
BUDGET_SCALES: tuple[dict[str, float], ...] = (
    {"l1": 1.0, "l2": 1.0, "l3": 1.0},
    {"l1": 1.0, "l2": 1.0, "l3": 0.5},  # L3 (deep read-ahead) gives way first
    {"l1": 1.0, "l2": 0.5, "l3": 0.0},
    {"l1": 0.5, "l2": 0.25, "l3": 0.0},  # and the worker pauses
)
AVAILABLE_FRACTION_THRESHOLDS = (0.20, 0.10, 0.05)
RSS_LIMIT_MULTIPLES = (1.0, 1.25, 1.5)
RECOVERY_MARGIN = 0.05


@dataclass(frozen=True)
class MemoryReading:
    rss_bytes: int
    available_fraction: float


def read_memory() -> MemoryReading:
    available = psutil.virtual_memory()
    return MemoryReading(
        psutil.Process().memory_info().rss, available.available / max(available.total, 1)
    )


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
