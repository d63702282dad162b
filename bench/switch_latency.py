"""Switch latency per serving tier: command -> first frame of new audio leaving the callback.

Runs a scripted session (bench/session.py) on the default output (the JACK dummy device
under `make test`'s server, or any real device; the null sink if none opens) and prints
p50/p99 per tier in ms and as a ratio to the block period measured in the same run.
Goals: p99 <= 1 block + crossfade on L1/L2, <= 100 ms on a miss.

Run: .venv/bin/python -m bench.switch_latency [--seconds 60]
"""

from __future__ import annotations

import argparse

from bench.session import run_session
from engine.observe.stats import percentile

CROSSFADE_MS = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sink", default="auto")
    args = parser.parse_args()
    result = run_session(args.sink, args.seconds)
    block_ms = result.block_seconds * 1000
    print(
        f"output: {result.output}; block period {block_ms:.1f} ms (baseline); "
        f"{len(result.switches)} switches, {len(result.seeks)} seeks in {result.seconds:.0f} s"
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
        goal = "p99 <= 100 ms" if tier == "miss" else goal
        print(
            f"{tier:<10}{len(values):>6}{p50:>9.1f}{p99:>9.1f}{p50 / block_ms:>9.2f}"
            f"{p99 / block_ms:>9.2f}  {goal}"
        )
    seeks = [s.latency_ms for s in result.seeks if s.latency_ms]
    if seeks:
        print(
            f"{'seeks':<10}{len(seeks):>6}{percentile(seeks, 0.5):>9.1f}"
            f"{percentile(seeks, 0.99):>9.1f}"
        )
    print(f"underruns during the run: {result.underruns}")


if __name__ == "__main__":
    main()
