"""`tierplay simulate --trace T.jsonl`: replay a listening session through the real engine.

Renders, buffer, predictor and feed all run as in the player; only the output is the null
sink, consuming audio `--speed` times faster than real time (a real device replays at speed
1). It prints the engine's stats, predictions and health, and the switch and seek latencies
per serving tier; `--json` prints the one object docs/architecture.md specifies.

A replay starts from an empty model in a private state folder unless `--state-dir` is
given, so its figures depend on the trace alone and the listener's own model is untouched.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.config import EngineConfig
from engine.observe.stats import percentile
from engine.persist.trace import read_trace
from engine.presets.book import PresetBook
from engine.runtime import tune_runtime_for_audio
from engine.sim.replay import ReplayResult, replay
from engine.vocabulary import TierName
from tui.cli import DEFAULT_LIBRARY, CliError, add_common_options, config_from_args

TIERS = (TierName.L1, TierName.L2, TierName.L3, "miss")


def run_simulate(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tierplay simulate",
        description="Replay an interaction trace through the real engine and print what it "
        "measured (null sink, SPEED x real time).",
    )
    parser.add_argument("--trace", type=Path, required=True, help="the trace (JSON lines)")
    parser.add_argument(
        "--library", type=Path, default=DEFAULT_LIBRARY, help="where the trace's paths are"
    )
    parser.add_argument("--speed", type=float, default=10.0, help="x real time (null sink)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_common_options(parser)
    args = parser.parse_args(argv)
    tune_runtime_for_audio()  # as the player does: the replay runs the same engine
    if not args.library.is_dir():
        raise CliError(f"{args.library}: not a folder (--library)")
    if not args.speed == args.speed or args.speed <= 0:
        raise CliError("--speed must be a positive number")
    sink = "null" if args.sink == "auto" else args.sink
    config = config_from_args(args)
    trace = read_trace(args.trace, PresetBook(config.sample_rate, config.presets_file).order)
    with tempfile.TemporaryDirectory(prefix="tierplay-simulate-") as private:
        if args.state_dir is None:
            config = replace(config, state_dir=Path(private))
        if not args.json:
            print(
                f"replaying {len(trace)} events ({trace.duration_seconds:.0f} s of listening) "
                f"at {args.speed:g}x on the {sink} sink",
                flush=True,
            )
        result = replay(
            trace, args.library, config, speed=args.speed, sink=sink, record=args.record
        )
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print(summary(result, config))
    return 0


def latency_rows(records: list[dict[str, Any]]) -> list[str]:
    """One line per serving tier: count, p50 and p99 latency."""
    rows = []
    for tier in TIERS:
        latencies = [r["latency_ms"] for r in records if r["tier"] == tier and r["latency_ms"]]
        if latencies:
            rows.append(
                f"  {tier:<5} {len(latencies):>6} {percentile(latencies, 0.5):>8.1f} "
                f"{percentile(latencies, 0.99):>8.1f}"
            )
    return rows or ["  (none)"]


def render_line(health: dict[str, Any], config: EngineConfig) -> str:
    """How fast renders went and what that cost the listener: sources standing in."""
    factor = health["worker"].get("real_time_factor")
    speed = "not measured" if factor is None else f"{factor:g}x real time per thread"
    slowed = f" (slowed {config.render_slowdown:g}x)" if config.render_slowdown != 1.0 else ""
    reuse = health.get("source_block_reuse")
    blocks = "" if reuse is None else f", {reuse:.0%} of source blocks reused"
    return (
        f"renders: {speed}{slowed}, {health.get('stand_ins', 0)} stand-ins, "
        f"{health['worker']['timeouts']} timeouts{blocks}"
    )


def summary(result: ReplayResult, config: EngineConfig) -> str:
    stats, prediction = result.stats, result.stats["prediction"]
    lines = ["tier   hits  misses  hit rate   MB / budget"]
    for tier in (TierName.L1, TierName.L2, TierName.L3):
        figure = stats[tier]
        lines.append(
            f"{tier:<4} {figure['hits']:>6} {figure['misses']:>7} {figure['hit_rate']:>9.3f}"
            f"   {figure['size_mb']:.1f} / {figure['max_mb']:.1f}"
        )
    overall = stats["overall"]
    lines.append(f"overall hit rate {overall['overall_hit_rate']:.3f}")
    predictions = result.predictions
    ranked = ", ".join(
        f"{p['preset']} {p['probability']:.2f}" for p in predictions["predictions"][:3]
    )
    lines += [
        f"prediction: top-1 {prediction['accuracy']:.3f}, top-3 {prediction['top3_accuracy']:.3f}"
        f", Brier {prediction['brier_score']:.3f} over {prediction['predictions_made']} "
        f"learned switches ({prediction['switches_in_session']} preset changes)",
        f"next from {predictions['current_preset']}: {ranked}",
        f"health: {result.health['status']} ({result.health['message']})",
        "switches  count   p50 ms   p99 ms",
        *latency_rows(result.switches),
        "seeks     count   p50 ms   p99 ms",
        *latency_rows(result.seeks),
        f"underruns {result.underruns}, renders {result.renders}, speed {result.speed:g}x, "
        f"output {result.output}, chunk {config.chunk_seconds:g} s",
        render_line(result.health, config),
    ]
    lines += [f"skipped {item['path']}: {item['reason']}" for item in result.skipped]
    return "\n".join(lines)
