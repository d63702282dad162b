"""Switch latency per serving tier: command -> first frame of new audio leaving the callback,
on this machine and on slower ones.

Runs a scripted session (bench/session.py) on the default output (the JACK dummy device
under `make test`'s server, or any real device; the null sink if none opens) at each render
slowdown (`--slowdowns`, default 1 5 10 20: the slow-machine model, every render costing
that many times its CPU), and prints p50/p99 per tier in ms and as a ratio to the block
period measured in the same run, with the underruns and the sources that stood in.

Beside each, what a player with no buffer makes the listener wait at the same slowdown,
measured in the same run: the render of the chunk the switch lands in (warm-up included),
and of a one-second head of it, on demand.

Goals: p99 <= 1 block + crossfade on L1/L2, <= 100 ms on a miss at 1x; underruns 0 at
every slowdown.

Run: .venv/bin/python -m bench.switch_latency [--seconds 60] [--slowdowns 1 5 10 20]
[--budget-mb MB] [--library DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.session import SWITCH_PATTERN, SessionResult, add_output_options, run_session
from engine.config import EngineConfig
from engine.dsp.render import Renderer
from engine.library.decoders import AUDIO_EXTENSIONS
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.observe.stats import percentile

CROSSFADE_MS = 15.0
HEAD_SECONDS = 1.0
ON_DEMAND_RENDERS = 12


def on_demand_ms(library: Path, slowdown: float) -> tuple[list[float], list[float]]:
    """(whole chunk, one-second head) render times in ms on demand at `slowdown`: the wait
    a player without a buffer imposes on every switch (the track calibrated beforehand)."""
    config = EngineConfig(render_slowdown=slowdown)
    path = sorted(p for p in library.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)[0]
    source = TrackSource(probe(path, config.sample_rate), config.sample_rate)
    renderer = Renderer(config)
    presets = sorted(set(SWITCH_PATTERN))
    for preset in presets:
        renderer.prepare(source, preset)
    chunks, heads = [], []
    index = 1 if source.frames > 2 * config.chunk_frames else 0  # with a whole warm-up
    start = index * config.chunk_frames
    head = round(HEAD_SECONDS * config.sample_rate)
    for number in range(ON_DEMAND_RENDERS):
        preset = presets[number % len(presets)]
        started = time.perf_counter()
        renderer.render_chunk(source, preset, 1.0, index)
        chunks.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        renderer.render_range(source, preset, 1.0, start, start + head)
        heads.append((time.perf_counter() - started) * 1000)
    return chunks, heads


def print_session(result: SessionResult, slowdown: float, library: Path) -> None:
    block_ms = result.block_seconds * 1000
    print(
        f"\n=== slowdown {slowdown:g}x: {result.asked_switches} switches asked, "
        f"{len(result.switches)} heard (the others were superseded first), "
        f"{len(result.seeks)} seeks in {result.seconds:.0f} s; output {result.output}; "
        f"block {block_ms:.1f} ms"
    )
    print(
        f"{'served by':<10}{'count':>6}{'p50 ms':>9}{'p99 ms':>9}{'p50/blk':>9}{'p99/blk':>9}  goal"
    )
    for tier in ("l1", "l2", "l3", "miss", "source"):
        values = [s.latency_ms for s in result.switches if s.tier == tier and s.latency_ms]
        if not values:
            continue
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        goal = "p99 <= %.1f ms" % (block_ms + CROSSFADE_MS) if tier in ("l1", "l2") else ""
        goal = "p99 <= 100 ms (1x)" if tier == "miss" else goal
        print(
            f"{tier:<10}{len(values):>6}{p50:>9.1f}{p99:>9.1f}{p50 / block_ms:>9.2f}"
            f"{p99 / block_ms:>9.2f}  {goal}"
        )
    heard = [s.latency_ms for s in result.switches if s.latency_ms]
    if heard:
        print(
            f"{'all':<10}{len(heard):>6}{percentile(heard, 0.5):>9.1f}"
            f"{percentile(heard, 0.99):>9.1f}"
        )
    seeks = [s.latency_ms for s in result.seeks if s.latency_ms]
    if seeks:
        print(
            f"{'seeks':<10}{len(seeks):>6}{percentile(seeks, 0.5):>9.1f}"
            f"{percentile(seeks, 0.99):>9.1f}"
        )
    chunks, heads = on_demand_ms(library, slowdown)
    for what, values in (("chunk", chunks), ("head", heads)):
        print(
            f"{'no buffer':<10}{len(values):>6}{percentile(values, 0.5):>9.1f}"
            f"{percentile(values, 0.99):>9.1f}  (render the {what} on demand)"
        )
    print(f"underruns during the run: {result.underruns} (goal 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--slowdowns", type=float, nargs="+", default=[1.0, 5.0, 10.0, 20.0], metavar="N"
    )
    parser.add_argument(
        "--budget-mb", type=float, default=None, help="all the engine may hold (default: none)"
    )
    add_output_options(parser)
    args = parser.parse_args()
    if min(args.slowdowns) < 1.0:
        parser.error("a slowdown is at least 1")
    for slowdown in args.slowdowns:
        result = run_session(
            args.sink,
            args.seconds,
            library=args.library,
            render_slowdown=slowdown,
            budget_mb=args.budget_mb,
        )
        print_session(result, slowdown, args.library)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
