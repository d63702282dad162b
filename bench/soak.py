"""Soak: N minutes of playback with 120 switches/min, seeks, two render threads busy and the
Textual app refreshing at its own rates, on the default output (the JACK dummy device under
`make test`'s server). Prints underruns (goal 0), p99.9 callback lateness as a ratio to the
block period (goal <= 0.25) and peak RSS as a ratio to the configured cache budget plus the
process's own baseline measured before the library is opened.

The device's own timing is measured in the same run as the baseline: the bare audio
process (same stream, same callback, nothing playing) first on an idle machine and then
beside two CPU-bound processes. On a machine without real-time scheduling (the JACK dummy
server runs without it) that, not the player, can set the lateness floor.

Run: .venv/bin/python -m bench.soak [--minutes 10] [--baseline-seconds 30]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from multiprocessing.synchronize import Event

import psutil

from bench.session import run_session
from engine import EngineConfig
from engine.playback.sinks.audio_process import AudioProcessSink


def _burn(stop: Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


def bare_stream_lateness(seconds: float, busy_processes: int) -> float:
    """p99.9 callback lateness (ms) of the audio process alone, beside `busy_processes`
    CPU-bound processes."""
    config = EngineConfig()
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    burners = [context.Process(target=_burn, args=(stop,)) for _ in range(busy_processes)]
    for burner in burners:
        burner.start()
    sink = AudioProcessSink(block_frames=config.block_frames, ring_frames=config.sample_rate)
    try:
        sink.start()
        time.sleep(seconds)
        return sink.callback_lateness_ms(0.999)
    finally:
        sink.close()
        stop.set()
        for burner in burners:
            burner.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sink", default="auto")
    parser.add_argument("--baseline-seconds", type=float, default=30.0)
    args = parser.parse_args()
    idle = busy = float("nan")
    if args.sink == "auto" and args.baseline_seconds > 0:
        idle = bare_stream_lateness(args.baseline_seconds, 0)
        busy = bare_stream_lateness(args.baseline_seconds, 2)
    baseline_mb = psutil.Process().memory_info().rss / 1e6
    result = run_session(args.sink, args.minutes * 60)
    block_ms = result.block_seconds * 1000
    lateness = result.lateness_p999_ms
    peak = max(result.rss_samples_mb, default=baseline_mb)
    print(
        f"output: {result.output}; {args.minutes:g} min, {len(result.switches)} switches, "
        f"{len(result.seeks)} seeks"
    )
    print(f"underruns: {result.underruns} (goal 0)")
    print(
        f"callback lateness p99.9: {lateness:.2f} ms = {lateness / block_ms:.2f} x block "
        f"period {block_ms:.1f} ms (goal <= 0.25; 0.25 ms resolution)"
    )
    print(
        f"  bare stream, same device: idle {idle:.2f} ms = {idle / block_ms:.2f} x block; "
        f"beside 2 busy processes {busy:.2f} ms = {busy / block_ms:.2f} x block; "
        f"player / busy bare stream = {lateness / busy:.2f}"
    )
    print(
        f"peak RSS {peak:.0f} MB / (budget {result.budget_mb:.0f} MB + baseline "
        f"{baseline_mb:.0f} MB) = {peak / (result.budget_mb + baseline_mb):.2f}"
    )


if __name__ == "__main__":
    main()
