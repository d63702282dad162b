"""The maintenance loop: steps run in order, periodic ones at most once per period, and a
failing step is reported without stopping the loop."""

from __future__ import annotations

from pathlib import Path

from engine import Engine, EngineConfig
from engine.assembly import QUIET_TICKS
from engine.maintenance import MaintenanceLoop
from engine.observe.error_log import ErrorLog
from engine.playback.sinks.output import NullSink
from tests.helpers.audio_files import write_tone
from tests.helpers.clocks import FakeClock
from tests.helpers.polling import wait_for


def make_loop(clock: FakeClock, lines: list[str]) -> tuple[MaintenanceLoop, ErrorLog]:
    errors = ErrorLog(lines.append, clock)
    return MaintenanceLoop(lambda: 0.001, clock, errors, flushed=(errors,)), errors


def test_steps_run_in_order_and_periodic_ones_once_per_period() -> None:
    clock = FakeClock()
    ran: list[str] = []
    loop, _errors = make_loop(clock, [])
    loop.every_tick(lambda: ran.append("tick"))
    loop.every(2.0, lambda: ran.append("slow"))
    loop.start()
    try:
        wait_for(lambda: ran.count("tick") >= 5, 10.0)
        assert ran.count("slow") == 1  # the clock stands still: once, at the first tick
        assert ran[:2] == ["tick", "slow"]
        clock.advance(2.5)
        wait_for(lambda: ran.count("slow") == 2, 10.0)
    finally:
        loop.stop()


def test_a_failing_step_is_reported_and_the_loop_goes_on() -> None:
    clock = FakeClock()
    lines: list[str] = []
    ran: list[int] = []
    loop, errors = make_loop(clock, lines)

    def failing() -> None:
        raise ValueError("no such chunk")

    loop.every_tick(lambda: ran.append(1), failing)
    loop.start()
    try:
        wait_for(lambda: len(ran) >= 3, 10.0)  # later ticks run again
    finally:
        loop.stop()
    assert errors.count("engine", "ValueError") >= 3
    assert lines[0] == "engine maintenance failed: ValueError: no such chunk"


def test_a_wake_ticks_the_loop_before_its_interval() -> None:
    ticks: list[int] = []
    clock = FakeClock()
    loop = MaintenanceLoop(lambda: 3600.0, clock, ErrorLog(lambda _line: None, clock), ())
    loop.every_tick(lambda: ticks.append(1))
    loop.start()
    try:
        loop.wake()
        wait_for(lambda: len(ticks) == 1, 10.0)
        loop.wake()
        wait_for(lambda: len(ticks) == 2, 10.0)
    finally:
        loop.stop()
    assert not loop._thread.is_alive()  # stop wakes a loop waiting out a long interval


def test_the_engine_ticks_slower_while_nothing_is_in_flight(tmp_path: Path) -> None:
    """A command plans on its own thread; only the loop's own rounds can wait while no
    switch or seek is in flight and nothing renders."""
    engine = Engine(EngineConfig(state_dir=tmp_path), sink=NullSink(44_100, 1024, speed=0))
    try:
        engine.open([write_tone(tmp_path / "a.wav", seconds=3.0)])
        assert engine.wait_until_prepared(60)
        tick = engine._loop._interval  # the tick is the loop's own business
        step = engine.config.plan_interval_seconds
        wait_for(lambda: engine.workers.idle() and not engine.feed.busy(), 60.0)
        assert tick() == QUIET_TICKS * step
        engine.set_preset("warm")  # nothing plays: the switch stays in flight
        assert tick() == step
    finally:
        engine.close()
