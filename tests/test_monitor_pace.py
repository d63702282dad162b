"""The panels read the engine at every tick while the buffer moves, once a second while it
is still, and at once when it moves again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from engine import Engine, EngineConfig, EngineSnapshot
from engine.observe.memory import MemoryReading
from engine.observe.monitor import MonitorSnapshot
from engine.playback.sinks.output import NullSink
from tui import app as app_module
from tui.app import TierplayApp
from tui.monitor_pace import QUIET_EVERY, MonitorPace


@pytest.fixture(scope="module")
def readings() -> tuple[EngineSnapshot, MonitorSnapshot]:
    """A real snapshot and monitor reading of an idle engine."""
    engine = Engine(EngineConfig(), sink=NullSink(44_100, 1024, speed=0))
    try:
        return engine.snapshot(), engine.monitor()
    finally:
        engine.close()


def still(monitor: MonitorSnapshot) -> MonitorSnapshot:
    return replace(monitor, worker=replace(monitor.worker, queue_depth=0, renders_total=7))


def ticks_read(pace: MonitorPace, snapshot: EngineSnapshot, last: MonitorSnapshot, n: int) -> int:
    """How many of `n` ticks read, each reading recorded as the app does."""
    read = 0
    for _ in range(n):
        if pace.due(snapshot, last):
            pace.read(snapshot, last)
            read += 1
    return read


def settled_pace(snapshot: EngineSnapshot, monitor: MonitorSnapshot) -> MonitorPace:
    """A pace whose last two readings saw the same renders done."""
    pace = MonitorPace()
    pace.read(snapshot, monitor)
    pace.read(snapshot, monitor)
    return pace


def test_the_first_tick_reads(readings: tuple[EngineSnapshot, MonitorSnapshot]) -> None:
    snapshot, _monitor = readings
    assert MonitorPace().due(snapshot, None)
    assert MonitorPace().due(None, None)


def test_a_still_buffer_is_read_once_in_four_ticks(
    readings: tuple[EngineSnapshot, MonitorSnapshot],
) -> None:
    snapshot, monitor = readings
    quiet = still(monitor)
    pace = settled_pace(snapshot, quiet)
    assert ticks_read(pace, snapshot, quiet, 4 * QUIET_EVERY) == 4


def test_renders_queued_or_finishing_are_read_at_every_tick(
    readings: tuple[EngineSnapshot, MonitorSnapshot],
) -> None:
    snapshot, monitor = readings
    quiet = still(monitor)
    queued = replace(quiet, worker=replace(quiet.worker, queue_depth=3))
    assert ticks_read(settled_pace(snapshot, quiet), snapshot, queued, 8) == 8
    pace = settled_pace(snapshot, quiet)
    finished = replace(quiet, worker=replace(quiet.worker, renders_total=8))
    assert pace.due(snapshot, finished)  # one render done since the reading before


@pytest.mark.parametrize(
    "change",
    [
        {"chunk_index": 5},
        {"requested_preset": "bright"},
        {"playing": True},
        {"buffering": True},
        {"standing_in": True},
        {"presets_ready": 1},
    ],
)
def test_a_playhead_change_is_read_at_once(
    readings: tuple[EngineSnapshot, MonitorSnapshot], change: dict[str, object]
) -> None:
    snapshot, monitor = readings
    quiet = still(monitor)
    pace = settled_pace(snapshot, quiet)
    assert not pace.due(snapshot, quiet)
    assert pace.due(replace(snapshot, **change), quiet)  # type: ignore[arg-type]


def engine_counting_readings() -> tuple[Engine, list[int]]:
    """A stepped engine whose every monitor reading is counted (one entry per reading)."""
    engine = Engine(
        EngineConfig(),
        sink=NullSink(44_100, 1024, speed=0),
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )
    reads: list[int] = []
    monitor = engine.monitor

    def counted(map_columns: int = 12) -> MonitorSnapshot:
        reads.append(map_columns)
        return monitor(map_columns)

    engine.monitor = counted  # type: ignore[method-assign]
    return engine, reads


async def test_the_app_reads_a_still_engine_once_a_second() -> None:
    """Ticks driven by hand (no timers), on an engine with nothing to play or render: one
    tick in four reads it, and a preset key brings a reading at the next tick."""
    engine, reads = engine_counting_readings()
    try:
        app = TierplayApp(engine, autoplay=False, live=False)
        async with app.run_test() as pilot:
            await pilot.pause()
            app.refresh_transport()
            for _ in range(2):  # two readings with the same renders done (none)
                app.refresh_monitor()
            before = len(reads)
            for _ in range(4 * QUIET_EVERY):
                app.refresh_transport()
                app._monitor_tick()
            assert len(reads) - before == 4
            await pilot.press("3")
            app.refresh_transport()
            assert app.last_snapshot is not None
            assert app.last_snapshot.requested_preset != app.last_monitor.preset  # type: ignore[union-attr]
            before = len(reads)
            app._monitor_tick()
            assert len(reads) == before + 1
    finally:
        engine.close()


async def test_the_output_meter_is_read_at_every_tick_while_music_plays(
    tone_library: Path,
) -> None:
    """Wide enough for the meter beside the now-playing panel: its levels move with the
    music, still buffer or not."""
    engine, reads = engine_counting_readings()
    try:
        engine.open([tone_library])
        app = TierplayApp(engine, autoplay=False, live=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.query_one("#output-meter").display
            engine.play()
            app.refresh_transport()
            assert app.last_snapshot is not None and app.last_snapshot.playing
            before = len(reads)
            for _ in range(2 * QUIET_EVERY):
                app._monitor_tick()
            assert len(reads) - before == 2 * QUIET_EVERY
    finally:
        engine.close()


async def test_a_keys_effect_is_shown_at_once_not_at_the_next_reading(
    tone_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The playhead is read five times a second; what a key asked shows without waiting
    for the next reading (the timers here never fire within the test)."""
    monkeypatch.setattr(app_module, "SNAPSHOT_HZ", 0.001)
    monkeypatch.setattr(app_module, "MONITOR_HZ", 0.001)
    engine, _reads = engine_counting_readings()
    try:
        engine.open([tone_library])
        app = TierplayApp(engine, autoplay=False, live=True)
        async with app.run_test() as pilot:
            await pilot.pause()
            assert app.last_snapshot is not None and not app.last_snapshot.playing
            await pilot.press("space")
            assert app.last_snapshot.playing
            await pilot.press("3")
            assert app.last_snapshot.requested_preset == engine.snapshot().presets[2].name
    finally:
        engine.close()
