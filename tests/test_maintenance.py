"""The maintenance loop: steps run in order, periodic ones at most once per period, and a
failing step is reported without stopping the loop."""

from __future__ import annotations

from engine.maintenance import MaintenanceLoop
from engine.observe.error_log import ErrorLog
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
