"""The app as a listener uses it: keys pressed through the pilot while the panels refresh.

Plays the sample library on the default output (the JACK dummy device under a JACK server,
or any real device) with the full Textual app at 100x40, presses preset, seek, intensity and
cycle keys on a schedule (with a burst of held-key seeks and a rapid preset run now and
then), and measures how regularly the UI's transport refresh (SNAPSHOT_HZ) really ran: its interval
p50/p99 as a ratio to the nominal 100 ms (the baseline), the 4 Hz monitor refresh the
same way, and the underruns during the run (goal 0).

Run: .venv/bin/python -m bench.ui_session [--seconds 60] [--record TRACE.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections.abc import Callable
from pathlib import Path

from textual import events

from bench.session import SAMPLE_AUDIO, open_engine
from engine import EngineConfig
from engine.observe.stats import percentile
from tui.app import MONITOR_HZ, SNAPSHOT_HZ, TierplayApp

KEYS = ("1", "2", "3", "4", "5", "6", "p", "P", "right", "left", "bracketleft", "bracketright")


def send_keys(app: TierplayApp, *keys: str) -> None:
    """Keys as a terminal delivers them: straight to the driver, nobody waiting for idle."""
    driver = app._driver
    assert driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)


def timed(stamps: list[float], method: Callable[[], None]) -> Callable[[], None]:
    """Wrap a refresh method so each run leaves its start time in `stamps`."""

    def wrapper() -> None:
        stamps.append(time.perf_counter())
        method()

    return wrapper


async def drive(app: TierplayApp, seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    async with app.run_test(size=(100, 40)) as pilot:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            await asyncio.sleep(rng.uniform(0.3, 0.9))
            roll = rng.random()
            if roll < 0.05:
                send_keys(app, *["right"] * 15)  # a held seek key
            elif roll < 0.08:
                send_keys(app, *rng.choices("123456", k=12))  # rapid exploration
            else:
                send_keys(app, rng.choice(KEYS))
            if not app.engine.snapshot().playing:
                app.engine.next_track()
                app.engine.play()
        await pilot.pause()


def intervals(stamps: list[float]) -> list[float]:
    return [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]


def report(name: str, stamps: list[float], hz: float) -> str:
    values = intervals(stamps[2:])  # the first ticks overlap the app's start-up
    nominal = 1000 / hz
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    return (
        f"{name:<18}{len(values):>6}{nominal:>10.0f}{p50:>9.1f}{p99:>9.1f}"
        f"{p50 / nominal:>9.2f}{p99 / nominal:>9.2f}{max(values):>9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sink", default="auto")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--record", type=Path, metavar="TRACE.jsonl", help="record the session as a trace"
    )
    args = parser.parse_args()
    engine = open_engine(args.sink, EngineConfig())
    if args.record is not None:
        engine.record_to(args.record, SAMPLE_AUDIO)
    try:
        app = TierplayApp(engine, autoplay=True)
        transport: list[float] = []
        monitor: list[float] = []
        app.refresh_transport = timed(transport, app.refresh_transport)  # type: ignore[method-assign]
        app.refresh_monitor = timed(monitor, app.refresh_monitor)  # type: ignore[method-assign]
        asyncio.run(drive(app, args.seconds, args.seed))
        underruns = engine.sink.ring.underruns
        stats = engine.stats()
        output = engine.sink.name + (f" ({engine.sink.notice})" if engine.sink.notice else "")
    finally:
        engine.close()
    print(f"output: {output}; {args.seconds:.0f} s with keys pressed through the pilot")
    print(
        f"{'refresh':<18}{'ticks':>6}{'nominal':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'p50/nom':>9}{'p99/nom':>9}{'max ms':>9}"
    )
    print(report(f"transport {SNAPSHOT_HZ:g} Hz", transport, SNAPSHOT_HZ))
    print(report("monitor 4 Hz", monitor, MONITOR_HZ))
    print(
        f"preset changes {stats['prediction']['switches_in_session']}, "
        f"learned {stats['prediction']['predictions_made']}"
    )
    print(f"underruns during the run: {underruns} (goal 0)")


if __name__ == "__main__":
    main()
