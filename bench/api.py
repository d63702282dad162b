"""Remote API under load: requests/s and p99 latency of `GET /api/cache/stats` served from
the running app's event loop while the player plays, and the underruns during the load.

Plays the sample library on the default output (the JACK dummy device under a JACK server,
or any real device; the null sink if none opens) with the full Textual app (headless, its
transport and monitor refreshes running) and the API on a loopback port, as `tierplay --api`
runs it. A client in a separate process, like a script would be, sends requests back to
back on keep-alive connections, in three phases of equal length:

1. idle: the engine paused once its start-up renders are done (nothing plays or renders),
   after a 1 s warm-up of the server - the baseline for the API figures;
2. playing, no load, with a preset switch every 2 s - the baseline for underruns and UI;
3. playing with the same switches, under load.

Prints requests/s and p50/p99 latency per loaded phase with their ratios to the idle
baseline, the UI's transport refresh interval p99 against its nominal period, and the
underruns of each playing phase (goal 0 under load).

Run: .venv/bin/python -m bench.api [--seconds 10] [--connections 2]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import itertools
import multiprocessing
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from api.address import open_listener
from api.server import ApiServer
from api.settings import ApiSettings
from bench.session import SWITCH_PATTERN, fresh_model_config, open_engine
from engine import Engine
from engine.observe.stats import percentile
from tui.app import SNAPSHOT_HZ, TierplayApp

PATH = "/api/cache/stats"
SWITCH_EVERY_SECONDS = 2.0


@dataclass
class Load:
    """What the client measured: one latency per answered request, in ms."""

    latencies_ms: list[float]
    errors: int
    seconds: float

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


def hammer(host: str, port: int, seconds: float, connections: int) -> Load:
    """Runs in the client process: `connections` threads, each a keep-alive connection
    sending requests back to back until the time is up."""
    results: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    deadline = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                connection.request("GET", PATH)
                response = connection.getresponse()
                response.read()
            except OSError:
                errors[slot] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=10)
                continue
            if response.status != 200:
                errors[slot] += 1
                continue
            results[slot].append((time.perf_counter() - started) * 1000)
        connection.close()

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(connections)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Load(list(itertools.chain(*results)), sum(errors), time.perf_counter() - began)


def warm_up() -> None:
    """Runs in the client process once, so its start-up is not timed."""


@dataclass
class Phase:
    name: str
    load: Load | None
    underruns: int
    refresh_stamps: list[float] = field(default_factory=list)

    def refresh_p99_ms(self) -> float:
        intervals = [(b - a) * 1000 for a, b in itertools.pairwise(self.refresh_stamps)]
        return percentile(intervals, 0.99)


async def run_phase(
    name: str,
    engine: Engine,
    stamps: list[float],
    seconds: float,
    client: Callable[[], asyncio.Future[Load]] | None,
    switching: bool,
) -> Phase:
    """One phase: switches presets while the client (if any) runs, for `seconds`."""
    underruns = engine.sink.ring.underruns
    stamps.clear()
    load_future = client() if client is not None else None
    presets = itertools.cycle(SWITCH_PATTERN)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        await asyncio.sleep(SWITCH_EVERY_SECONDS if switching else 0.25)
        if switching:
            if not engine.snapshot().playing:
                engine.next_track()
                engine.play()
            engine.set_preset(next(presets))
    load = await load_future if load_future is not None else None
    return Phase(name, load, engine.sink.ring.underruns - underruns, list(stamps))


async def settle(engine: Engine, timeout: float = 20.0) -> None:
    """Wait until the renders queued at start-up are done, so the baseline is idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not engine.workers.metrics().queue_depth and not engine.workers.running_keys():
            return
        await asyncio.sleep(0.1)


async def drive(engine: Engine, server: ApiServer, seconds: float, connections: int) -> list[Phase]:
    stamps: list[float] = []
    app = TierplayApp(engine, autoplay=False, api=server)
    refresh = app.refresh_transport

    def timed_refresh() -> None:
        stamps.append(time.perf_counter())
        refresh()

    app.refresh_transport = timed_refresh  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        await loop.run_in_executor(pool, warm_up)
        address = server.address

        def client() -> asyncio.Future[Load]:
            return loop.run_in_executor(
                pool, hammer, address.host, address.port, seconds, connections
            )

        async with app.run_test(size=(100, 40)) as pilot:
            await settle(engine)
            await loop.run_in_executor(pool, hammer, address.host, address.port, 1.0, 1)
            idle = await run_phase("idle, paused", engine, stamps, seconds, client, False)
            engine.play()
            quiet = await run_phase("playing", engine, stamps, seconds, None, True)
            loaded = await run_phase("playing + load", engine, stamps, seconds, client, True)
            await pilot.pause()
    return [idle, quiet, loaded]


def report(phases: list[Phase], connections: int, output: str, seconds: float) -> None:
    idle, quiet, loaded = phases
    assert idle.load is not None and loaded.load is not None
    base_rate = idle.load.per_second
    base_p50 = percentile(idle.load.latencies_ms, 0.5)
    base_p99 = percentile(idle.load.latencies_ms, 0.99)
    nominal = 1000 / SNAPSHOT_HZ
    print(
        f"output: {output}; GET {PATH} on {connections} keep-alive connections, "
        f"{seconds:.0f} s per phase"
    )
    print(
        f"{'phase':<16}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'rate/idle':>10}{'p99/idle':>9}{'errors':>7}{'UI p99/nom':>11}{'underruns':>10}"
    )
    for phase in phases:
        load = phase.load
        ui = phase.refresh_p99_ms() / nominal
        if load is None:
            figures = f"{'-':>9}{'-':>8}{'-':>8}{'-':>8}{'-':>10}{'-':>9}{'-':>7}"
        else:
            p50 = percentile(load.latencies_ms, 0.5)
            p99 = percentile(load.latencies_ms, 0.99)
            figures = (
                f"{len(load.latencies_ms):>9}{load.per_second:>8.0f}{p50:>8.2f}{p99:>8.2f}"
                f"{load.per_second / base_rate:>10.2f}{p99 / base_p99:>9.2f}{load.errors:>7}"
            )
        underruns = "-" if phase is idle else str(phase.underruns)
        print(f"{phase.name:<16}{figures}{ui:>11.2f}{underruns:>10}")
    print(
        f"idle baseline: {base_rate:.0f} req/s, p50 {base_p50:.2f} ms, p99 {base_p99:.2f} ms; "
        f"underruns under load: {loaded.underruns} (goal 0; {quiet.underruns} without load)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--sink", default="auto")
    args = parser.parse_args()
    settings = ApiSettings.from_options("127.0.0.1:0", allow_remote=False, token=None)
    listener = open_listener(settings.address, settings.allow_remote)
    state = tempfile.TemporaryDirectory(prefix="tierplay-api-")
    engine = open_engine(args.sink, fresh_model_config(Path(state.name)))
    try:
        server = ApiServer(engine, settings, listener)
        phases = asyncio.run(drive(engine, server, args.seconds, args.connections))
        output = engine.sink.name + (f" ({engine.sink.notice})" if engine.sink.notice else "")
    finally:
        listener.close()
        engine.close()
        state.cleanup()
    report(phases, args.connections, output, args.seconds)


if __name__ == "__main__":
    main()
