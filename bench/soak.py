"""Soak: N minutes of playback with 120 switches/min, seeks, two render threads busy and the
Textual app refreshing at 10 Hz, on the default output (the JACK dummy device under
`make test`'s server). Prints underruns (goal 0), p99.9 callback lateness as a ratio to the
block period (goal <= 0.25) and peak RSS as a ratio to the configured cache budget plus the
process's own baseline measured before the library is opened.

Run: .venv/bin/python -m bench.soak [--minutes 10]
"""

from __future__ import annotations

import argparse

import psutil

from bench.session import run_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sink", default="auto")
    args = parser.parse_args()
    baseline_mb = psutil.Process().memory_info().rss / 1e6
    result = run_session(args.sink, args.minutes * 60)
    block_ms = result.block_seconds * 1000
    peak = max(result.rss_samples_mb, default=baseline_mb)
    print(
        f"output: {result.output}; {args.minutes:g} min, {len(result.switches)} switches, "
        f"{len(result.seeks)} seeks"
    )
    print(f"underruns: {result.underruns} (goal 0)")
    print(
        f"callback lateness p99.9: {result.lateness_p999_ms:.0f} ms = "
        f"{result.lateness_p999_ms / block_ms:.2f} x block period {block_ms:.1f} ms "
        "(goal <= 0.25; 1 ms resolution)"
    )
    print(
        f"peak RSS {peak:.0f} MB / (budget {result.budget_mb:.0f} MB + baseline "
        f"{baseline_mb:.0f} MB) = {peak / (result.budget_mb + baseline_mb):.2f}"
    )


if __name__ == "__main__":
    main()
