"""Memory pressure levels: the RSS limit counts what the process grew by, not its size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.footprint import SLACK_MB
from engine import Engine, EngineConfig
from engine.observe.memory import UNCOUNTED_MB, MemoryMonitor, MemoryReading
from engine.vocabulary import MB

ROOT = Path(__file__).resolve().parent.parent


def test_a_process_that_started_large_is_not_under_pressure() -> None:
    reading = [MemoryReading(2_000 * MB, 0.6)]
    monitor = MemoryMonitor(1_000 * MB, lambda: reading[0])
    assert monitor.baseline_rss_bytes == 2_000 * MB
    assert monitor.update() == 0
    reading[0] = MemoryReading(2_900 * MB, 0.6)
    assert monitor.update() == 0
    reading[0] = MemoryReading(3_100 * MB, 0.6)  # grew by more than the limit
    assert monitor.update() == 1
    reading[0] = MemoryReading(3_600 * MB, 0.6)  # x1.6 of the limit: critical
    assert monitor.update() == 3 and monitor.worker_paused


def test_levels_come_down_one_step_at_a_time_with_a_margin() -> None:
    reading = [MemoryReading(0, 0.6)]
    monitor = MemoryMonitor(1_000 * MB, lambda: reading[0], baseline_rss_bytes=0)
    reading[0] = MemoryReading(1_600 * MB, 0.6)
    assert monitor.update() == 3
    reading[0] = MemoryReading(1_480 * MB, 0.6)  # under x1.5 but inside the margin
    assert monitor.update() == 3
    reading[0] = MemoryReading(100 * MB, 0.6)
    assert [monitor.update() for _ in range(3)] == [2, 1, 0]


def test_low_system_memory_raises_the_level_whatever_the_process_size() -> None:
    reading = [MemoryReading(100 * MB, 0.6)]
    monitor = MemoryMonitor(1_000 * MB, lambda: reading[0])
    reading[0] = MemoryReading(100 * MB, 0.04)
    assert monitor.update() == 3


FREED_TWICE = """
import numpy as np
from engine.observe.memory import tune_malloc
if {tune}:
    tune_malloc()
def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
for _ in range(2):  # glibc's own threshold moves up to the first array freed
    block = np.ones(6 * 2**20 // 8)
    del block
print(resident_mb())
"""


def test_a_large_array_freed_is_given_back_at_once() -> None:
    """After one 6 MB array is freed glibc's own threshold keeps the next one in its heap;
    with the threshold fixed it is given back as soon as it is freed."""
    resident = {
        tune: float(
            subprocess.run(
                [sys.executable, "-c", FREED_TWICE.format(tune=tune)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        )
        for tune in (False, True)
    }
    assert resident[True] < resident[False] - 4.0


def test_the_health_panels_rss_limit_allows_what_no_budget_counts(tmp_path: Path) -> None:
    """The limit shown beside the player's RSS is its size at start, everything the engine
    may hold (at a small budget, more than asked: the tiers' floors) and the memory no
    budget counts, as the footprint benchmark's goal allows."""
    config = EngineConfig(state_dir=tmp_path, cache_dir=tmp_path / "cache")
    config = config.with_process_budget(50.0)
    engine = Engine(config, sink="null", memory_reader=lambda: MemoryReading(150 * MB, 0.6))
    try:
        limit = engine.health()["process_rss_limit_mb"]
    finally:
        engine.close()
    assert config.process_budget_mb > 50.0
    assert limit == round(150 + config.process_budget_mb + UNCOUNTED_MB, 1)
    assert SLACK_MB == UNCOUNTED_MB
