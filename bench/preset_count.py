"""Twelve presets against six: does a longer list cost the buffer its hits or its clicks?

The same scripted session (bench/session.py: the app on screen, 120 switches a minute,
a seek every 5 s, the same seed, so the same timing) runs twice on the default output:
once with the six built-ins, once with six presets of a listener's presets.toml added.
The twelve-preset run switches through a pattern over all eleven processed presets; the
six-preset run plays the same pattern with each added preset mapped onto a built-in, so
the two differ by the list alone. Printed per run: the switches' hit ratio (served from a
tier), p50/p99 switch latency as heard, underruns and the source stand-ins; then the
twelve-preset figures as ratios to the six-preset run (the baseline of the same run).

Run: .venv/bin/python -m bench.preset_count [--seconds 60] [--library DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.session import SessionResult, add_output_options, run_session
from engine.observe.stats import percentile
from engine.vocabulary import PROCESSED_PRESETS

EXTRA_PRESETS = """
[[preset]]
name = "airy"
eq = [{ type = "high_shelf", frequency_hz = 9000, gain_db = 5 }]
width = 1.2

[[preset]]
name = "night"
eq = [{ type = "low_shelf", frequency_hz = 120, gain_db = -4 }]
compressor = { threshold_db = -30, ratio = 3, attack_ms = 10, release_ms = 150 }

[[preset]]
name = "vocal"
eq = [{ type = "peak", frequency_hz = 2500, gain_db = 4, q = 0.8 }]

[[preset]]
name = "lofi"
eq = [
    { type = "highpass", frequency_hz = 200 },
    { type = "lowpass", frequency_hz = 5000 },
]

[[preset]]
name = "deep"
eq = [{ type = "low_shelf", frequency_hz = 90, gain_db = 6 }]

[[preset]]
name = "wide"
width = 1.6
"""
EXTRA_NAMES = ("airy", "night", "vocal", "lofi", "deep", "wide")
PATTERN_12 = (
    "warm", "airy", "bright", "night", "punchy", "vocal", "warm", "lofi",
    "adaptive", "deep", "gentle", "wide", "airy", "warm", "night", "bright",
)  # fmt: skip
"""A listener who goes back to a few presets and tries the rest: every processed one."""


def mapped_onto_builtins(pattern: tuple[str, ...]) -> tuple[str, ...]:
    """The same pattern for six presets: each added preset replaced by a built-in, so the
    switch count, timing and places are the twelve-preset run's."""
    builtins = PROCESSED_PRESETS
    return tuple(
        builtins[EXTRA_NAMES.index(p) % len(builtins)] if p in EXTRA_NAMES else p for p in pattern
    )


def figures(result: SessionResult) -> dict[str, float]:
    heard = [s for s in result.switches if s.latency_ms is not None]
    latencies = [s.latency_ms for s in heard if s.latency_ms is not None]
    hits = sum(s.tier in ("l1", "l2", "l3") for s in heard)
    return {
        "switches": float(len(heard)),
        "hit_ratio": hits / len(heard) if heard else 0.0,
        "p50_ms": percentile(latencies, 0.5) if latencies else 0.0,
        "p99_ms": percentile(latencies, 0.99) if latencies else 0.0,
        "underruns": float(result.underruns),
        "stand_ins": float(sum(s.tier == "source" for s in heard)),
    }


def print_row(name: str, row: dict[str, float]) -> None:
    print(
        f"{name:<12}{row['switches']:>9.0f}{row['hit_ratio']:>11.3f}{row['p50_ms']:>9.1f}"
        f"{row['p99_ms']:>9.1f}{row['underruns']:>11.0f}{row['stand_ins']:>10.0f}"
    )


def ratio(value: float, baseline: float) -> str:
    if baseline == 0.0:
        return "same (0)" if value == 0.0 else f"{value:g} vs 0"
    return f"{value / baseline:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    add_output_options(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierplay-presets-") as folder:
        presets_file = Path(folder) / "presets.toml"
        presets_file.write_text(EXTRA_PRESETS)
        six = run_session(
            args.sink, args.seconds, pattern=mapped_onto_builtins(PATTERN_12), library=args.library
        )
        twelve = run_session(
            args.sink,
            args.seconds,
            pattern=PATTERN_12,
            presets_file=presets_file,
            library=args.library,
        )
    print(f"output: {six.output}; {args.seconds:.0f} s per run on {args.library}")
    print(f"{'presets':<12}{'switches':>9}{'hit ratio':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'underruns':>11}{'stand-ins':>10}")  # fmt: skip
    base, many = figures(six), figures(twelve)
    print_row("6 (base)", base)
    print_row("12", many)
    print(
        f"12 / 6: hit ratio {ratio(many['hit_ratio'], base['hit_ratio'])}, "
        f"p50 {ratio(many['p50_ms'], base['p50_ms'])}, "
        f"p99 {ratio(many['p99_ms'], base['p99_ms'])}, "
        f"underruns {ratio(many['underruns'], base['underruns'])}"
    )


if __name__ == "__main__":
    main()
