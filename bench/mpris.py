"""MPRIS: a D-Bus PlayPause to the change being heard, p50 and p99.

Starts a session bus of its own (dbus-daemon), serves an engine playing sample_audio/ on
the default output (the JACK dummy device under `make test`'s server; the null sink if
none opens) over MPRIS, and toggles play and pause from a D-Bus client, the calls going
through the daemon. The change is heard when the heard playhead (the audio callback's
read position) starts moving after a play, or stops moving after a pause (its last move,
once it has stood still for a few blocks). Baseline, in the same run and interleaved: the
same toggles as direct engine calls, without D-Bus.

Run: .venv/bin/python -m bench.mpris [--rounds 20] [--sink auto|null]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dbus_fast.aio import MessageBus

from bench.session_bus import start_session_bus, stop_session_bus
from desktop.mpris import BUS_NAME, OBJECT_PATH, PLAYER_INTERFACE, MprisServer
from engine import Engine, EngineConfig
from engine.observe.stats import percentile
from engine.runtime import tune_runtime_for_audio

REPO = Path(__file__).resolve().parent.parent
STILL_SECONDS = 0.12
"""A playhead unmoved this long (five blocks) has stopped."""
POLL_SECONDS = 0.002
TIMEOUT_SECONDS = 10.0

Toggle = Callable[[], Awaitable[None]]


async def heard_after(engine: Engine, toggle: Toggle) -> float:
    """Seconds from the toggle's call to its change of the heard playhead."""
    pausing = engine.snapshot().playing
    position = engine.snapshot().position_seconds
    asked = time.perf_counter()
    await toggle()
    moved_at = asked
    deadline = asked + TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        now, current = time.perf_counter(), engine.snapshot().position_seconds
        if current != position:
            position, moved_at = current, now
            if not pausing:
                return moved_at - asked
        elif pausing and now - moved_at >= STILL_SECONDS:
            return moved_at - asked
    raise TimeoutError("the playhead did not change")


async def measure(engine: Engine, player: Any, rounds: int) -> dict[str, list[float]]:
    async def direct() -> None:
        if engine.snapshot().playing:
            engine.pause()
        else:
            engine.play()

    async def over_dbus() -> None:
        await player.call_play_pause()

    found: dict[str, list[float]] = {"engine call": [], "D-Bus PlayPause": []}
    for _ in range(rounds):
        for label, toggle in (("engine call", direct), ("D-Bus PlayPause", over_dbus)):
            for _pause_then_play in range(2):
                found[label].append(await heard_after(engine, toggle))
                await asyncio.sleep(0.2)
    return found


async def run(rounds: int, sink: str) -> None:
    with tempfile.TemporaryDirectory(prefix="tierplay-mpris-") as folder:
        daemon, address = start_session_bus(Path(folder))
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        engine = Engine(EngineConfig(state_dir=Path(folder) / "state"), sink=sink)
        server = MprisServer(engine, lambda: None)
        try:
            engine.open([REPO / "sample_audio"])
            engine.play()
            print(await server.start())
            client = await MessageBus(bus_address=address).connect()
            introspection = await client.introspect(BUS_NAME, OBJECT_PATH)
            proxy = client.get_proxy_object(BUS_NAME, OBJECT_PATH, introspection)
            player = proxy.get_interface(PLAYER_INTERFACE)
            await asyncio.sleep(1.0)
            found = await measure(engine, player, rounds)
            block_ms = 1000 * engine.config.block_frames / engine.config.sample_rate
            print(f"output: {engine.snapshot().output_name}; block {block_ms:.1f} ms")
            base = found["engine call"]
            print(f"{'toggle':<18}{'count':>6}{'p50 ms':>9}{'p99 ms':>9}{'p50 x':>8}{'p99 x':>8}")
            for label, values in found.items():
                p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
                print(
                    f"{label:<18}{len(values):>6}{1000 * p50:>9.1f}{1000 * p99:>9.1f}"
                    f"{p50 / percentile(base, 0.5):>8.2f}{p99 / percentile(base, 0.99):>8.2f}"
                )
            print(f"underruns: {engine.snapshot().underruns}")
            client.disconnect()
        finally:
            await server.stop()
            engine.close()
            stop_session_bus(daemon)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sink", default="auto")
    args = parser.parse_args()
    tune_runtime_for_audio()
    asyncio.run(run(args.rounds, args.sink))


if __name__ == "__main__":
    main()
