"""The health status judges what a listener hears: a cold cache is not trouble, dropouts
and late switches are (engine/observe/views.py)."""

from __future__ import annotations

from dataclasses import replace

from engine.cache.buffer import MultiTierBuffer
from engine.cache.keys import ChunkKey
from engine.cache.worker import WorkerMetrics
from engine.observe.journal import Journal
from engine.observe.memory import MemoryMonitor, MemoryReading
from engine.observe.views import SLOW_SERVE_MS, TROUBLE_SECONDS, health_view
from engine.playback.feed import ServedRequest
from engine.prediction.predict import PresetPredictor
from tests.helpers.clocks import FakeClock

WORKERS = WorkerMetrics(2, 2, False, 0, 0, 0.0, 0, 0, 0, 0, 0.0, "")


def cold_buffer() -> MultiTierBuffer:
    """Every lookup so far missed: the cache at the start of a session."""
    buffer = MultiTierBuffer.from_megabytes(18, 36, 45)
    for index in range(20):
        buffer.lookup(ChunkKey("t", "warm", 20, index), "f", "playback")
    return buffer


def health(buffer: MultiTierBuffer, underruns: int = 0, slow: int = 0) -> dict[str, object]:
    memory = MemoryMonitor(300_000_000, lambda: MemoryReading(100_000_000, 0.5))
    return health_view(buffer, PresetPredictor(), WORKERS, underruns, memory, slow)


def test_a_cold_cache_is_told_not_judged() -> None:
    view = health(cold_buffer())
    assert view["status"] == "healthy"
    assert view["message"] == "L1 hit rate 0%, overall 0%"


def test_dropouts_and_late_switches_are_trouble() -> None:
    assert health(cold_buffer(), underruns=1)["status"] == "warning"
    assert health(cold_buffer(), underruns=11)["status"] == "critical"
    late = health(cold_buffer(), slow=1)
    assert late["status"] == "warning"
    assert str(late["message"]).startswith("1 late switch in the last minute")
    assert health(cold_buffer(), slow=5)["status"] == "critical"


def test_late_switches_are_counted_for_a_minute() -> None:
    clock = FakeClock()
    journal = Journal(clock, 44_100)

    def served(latency_ms: float) -> None:
        record = ServedRequest(clock(), "switch", "warm", "bright", "miss", asked_at=clock())
        record.latency_ms = latency_ms
        journal.served(record)

    served(SLOW_SERVE_MS + 50)
    served(SLOW_SERVE_MS - 50)  # prompt: not trouble
    assert journal.slow_serves(SLOW_SERVE_MS, TROUBLE_SECONDS) == 1
    clock.advance(TROUBLE_SECONDS + 1)
    assert journal.slow_serves(SLOW_SERVE_MS, TROUBLE_SECONDS) == 0


def test_renders_behind_are_told_with_the_render_speed() -> None:
    memory = MemoryMonitor(300_000_000, lambda: MemoryReading(100_000_000, 0.5))
    behind = replace(WORKERS, real_time_factor=7.46, behind=2)
    view = health_view(
        MultiTierBuffer.from_megabytes(18, 36, 45), PresetPredictor(), behind, 0, memory
    )
    assert view["status"] == "warning"
    assert view["message"] == "renders behind: 2 urgent renders waiting over 2 s"
    assert view["worker"]["real_time_factor"] == 7.5 and view["worker"]["behind"] == 2
