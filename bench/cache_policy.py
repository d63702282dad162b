"""Cache policy benchmark: our placement against four other policies, on a slow machine too.

Every listener model (engine/sim/listeners.py) writes the same traces for every policy, and each
policy serves them in the simulation of bench/policy_sim.py with the same three tiers of
memory bytes and the same render budget:
- ours: the engine's placement plan and predictor, learning online through its filter;
- read-ahead: the current preset, as far ahead as memory holds;
- render-all: every processed preset of the nearest chunks;
- demand-only LRU: renders what is missed, keeps what was used last;
- oracle: knows the future, prefetches in order of next use, evicts the furthest (Belady).

The render budget is this machine's, measured in the same run (the engine's render threads
rendering chunks of a sample track), divided by each slowdown factor (default 1, 5, 10, 20:
a slow board, a laptop on battery, a heavy chain). Recorded traces (`--trace`, written by
`tierplay --record` on the same library) are served beside the models.

Printed per slowdown: switch, playback and seek-landing hit ratios overall (per model with
`--detail`), renders per played chunk and the share of prefetch renders that served a
request. Then the goals, as ratios against the baselines measured in the same run: ours
switch hit ratio / the oracle's (goal >= 0.90 at every slowdown up to 10x), ours minus
read-ahead in points (goal >= +10), ours renders per played chunk / render-all's (goal <= 0.5).

Run: .venv/bin/python -m bench.cache_policy [--minutes 20] [--seeds 3] [--synthetic]
     [--slowdowns 1 5 10 20] [--trace T.jsonl ...] [--detail] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.policy_sim import (
    POLICY_NAMES,
    REQUEST_KINDS,
    PolicyResult,
    SimSettings,
    chunk_counts,
    merge_results,
    run_session,
)
from engine.config import EngineConfig
from engine.dsp.render import Renderer
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.persist.trace import TraceEvent, read_trace
from engine.sim.listeners import MODELS, generate
from engine.sim.timeline import LibraryTimeline, synthetic_timeline
from engine.sim.timeline import timeline_from_library as analysed_timeline
from engine.vocabulary import PROCESSED_PRESETS

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
OVERALL = "overall"
Results = dict[str, PolicyResult]


@dataclass(frozen=True)
class Goal:
    """One goal: ours against a baseline from the same run."""

    name: str
    column: str
    value: float | None
    target: float
    at_least: bool
    unit: str

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.target if self.at_least else self.value <= self.target

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": None if self.value is None else round(self.value, 4),
            "target": self.target,
            "at_least": self.at_least,
            "passed": self.passed,
        }


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or bottom is None or bottom == 0.0:
        return None
    return top / bottom


def goals(results: Mapping[str, PolicyResult]) -> list[Goal]:
    """The issue's three goals, each against a policy run on the same traces."""
    ours, oracle = results["ours"], results["oracle"]
    ahead, render_all = results["read_ahead"], results["render_all"]
    switch, ahead_switch = ours.switch_hit_ratio(), ahead.switch_hit_ratio()
    points = None if switch is None or ahead_switch is None else 100.0 * (switch - ahead_switch)
    return [
        Goal(
            "switch hit ours / oracle",
            "switch/oracle",
            _ratio(switch, oracle.switch_hit_ratio()),
            0.90,
            True,
            "x",
        ),
        Goal("switch hit ours - read-ahead", "switch-read_ahead", points, 10.0, True, "points"),
        Goal(
            "renders per played chunk ours / render-all",
            "renders/render_all",
            _ratio(ours.renders_per_played_chunk(), render_all.renders_per_played_chunk()),
            0.5,
            False,
            "x",
        ),
    ]


# -- running ------------------------------------------------------------------------------------


RECORDED = "recorded"


def run_models(
    timeline: LibraryTimeline,
    settings: SimSettings,
    models: list[str],
    seeds: int,
    seconds: float,
    recorded: Sequence[Sequence[TraceEvent]] = (),
) -> dict[str, Results]:
    """Per model, every policy's counts summed over the seeds' traces (and the recorded
    traces as a model of their own)."""
    by_model: dict[str, Results] = {}
    for model in models:
        sessions = [
            run_session(timeline, generate(model, timeline, seed, seconds), settings)
            for seed in range(1, seeds + 1)
        ]
        by_model[model] = merge_results(sessions)
    if recorded:
        by_model[RECORDED] = merge_results(
            [run_session(timeline, events, settings) for events in recorded]
        )
    by_model[OVERALL] = merge_results(list(by_model.values()))
    return by_model


def read_recorded(paths: Sequence[Path], timeline: LibraryTimeline) -> list[list[TraceEvent]]:
    """Traces `tierplay --record` wrote on this library, in its order (the simulation plays
    the library as the timeline lists it)."""
    traces = []
    for path in paths:
        events = list(read_trace(path))
        opened = next((event.paths for event in events if event.event == "open"), None)
        if opened is not None and not _opens(opened, timeline):
            raise SystemExit(f"{path}: recorded on another library or order than {timeline.root}")
        traces.append(events)
    return traces


def _opens(opened: Sequence[str], timeline: LibraryTimeline) -> bool:
    """The trace opened the timeline's tracks in its order, or its whole folder."""
    if tuple(opened) == timeline.paths:
        return True
    root = timeline.root
    return root is not None and all((root / name).resolve() == root.resolve() for name in opened)


def measured_render_rate(config: EngineConfig, repeats: int = 3) -> float:
    """Chunk renders per second this machine's render threads manage with the built-in
    presets: the median render of a chunk (warm-up and look-ahead included) of a sample
    track, times the render threads. Calibrations are made first and not counted."""
    path = sorted(SAMPLE_AUDIO.glob("*.flac"))[0]
    source = TrackSource(probe(path, config.sample_rate), config.sample_rate)
    renderer = Renderer(config)
    index = 1 if source.frames > 2 * config.chunk_frames else 0
    seconds = []
    for preset in PROCESSED_PRESETS:
        renderer.prepare(source, preset)
        for _ in range(repeats):
            started = time.perf_counter()
            renderer.render_chunk(source, preset, 1.0, index)
            seconds.append(time.perf_counter() - started)
    return config.render_threads / statistics.median(seconds)


def load_timeline(args: argparse.Namespace, chunk_seconds: float) -> LibraryTimeline:
    if args.synthetic:
        return synthetic_timeline(
            args.library_seed, tracks=args.tracks, chunk_seconds=chunk_seconds
        )
    return analysed_timeline([args.library], chunk_seconds)


def settings_from(args: argparse.Namespace, renders_per_second: float) -> SimSettings:
    engine = EngineConfig().with_total_budget(args.budget_mb)
    return SimSettings(
        engine=engine,
        renders_per_second=renders_per_second,
        step_seconds=args.step_seconds,
    )


# -- printing -----------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def describe_setup(
    timeline: LibraryTimeline,
    settings: SimSettings,
    args: argparse.Namespace,
    base_rate: float,
    recorded: int,
) -> list[str]:
    slots, sizes = settings.tier_slots(), settings.tier_chunk_bytes()
    tiers = ", ".join(
        f"{name.upper()} {slots[name]} x {sizes[name] / 1e6:.2f} MB" for name in slots
    )
    chunks = sum(chunk_counts(timeline, settings.engine.chunk_seconds))
    minutes = sum(track.duration_seconds for track in timeline.tracks) / 60.0
    source = f"synthetic (seed {args.library_seed})" if args.synthetic else args.library.name
    capacity = settings.capacity_chunks()
    need = len(PROCESSED_PRESETS) / settings.engine.chunk_seconds
    measured = "given" if args.base_renders_per_second else "measured now on this machine"
    return [
        f"library: {source}, {len(timeline.tracks)} tracks, {minutes:.1f} min, {chunks} chunks "
        f"per preset and bucket; the store holds {capacity / chunks:.1f} x that",
        f"memory, every policy: {settings.engine.total_budget_mb:.0f} MB = {capacity} chunks "
        f"({tiers})",
        f"renders, every policy: {base_rate:.2f} chunks per second of session at 1x ({measured}),"
        f" divided by the slowdown (render-all needs {need:.2f} to keep pace), at most "
        f"{settings.render_burst:.0f} saved up",
        f"traces: {args.seeds} seeds x {args.minutes:g} min per model"
        + (f", {recorded} recorded" if recorded else "")
        + f"; step {settings.step_seconds:g} s",
    ]


def print_table(title: str, results: Results) -> None:
    sample = results["ours"]
    counts = ", ".join(f"{sample.requests(kind)} {kind}" for kind in REQUEST_KINDS)
    print(f"\n{title}: requests {counts}; {sample.played_chunks:.0f} chunks played")
    print(
        f"  {'policy':<12}{'switch hit':>11}{'(preset':>9}{'intensity)':>11}{'playback hit':>13}"
        f"{'seek hit':>9}{'renders/played chunk':>22}{'prefetch used':>15}"
    )
    for name in POLICY_NAMES:
        result = results[name]
        print(
            f"  {name:<12}{_fmt(result.switch_hit_ratio()):>11}"
            f"{_fmt(result.hit_ratio('preset')):>9}{_fmt(result.hit_ratio('intensity')):>11}"
            f"{_fmt(result.hit_ratio('playback')):>13}{_fmt(result.hit_ratio('seek')):>9}"
            f"{_fmt(result.renders_per_played_chunk(), '.2f'):>22}"
            f"{_fmt(result.prefetch_use()):>15}"
        )


def print_goals(by_model: Mapping[str, Results]) -> None:
    print("\nGoals (ours against baselines from the same run)")
    columns = [goal.column for goal in goals(by_model[OVERALL])]
    print(f"  {'model':<16}" + "".join(f"{column:>20}" for column in columns))
    for model, results in by_model.items():
        cells = [_fmt(goal.value, ".3f" if goal.unit == "x" else "+.1f") for goal in goals(results)]
        print(f"  {model:<16}" + "".join(f"{cell:>20}" for cell in cells))
    for goal in goals(by_model[OVERALL]):
        spec = ".3f" if goal.unit == "x" else "+.1f"
        relation = ">=" if goal.at_least else "<="
        target = format(goal.target, ".2f" if goal.unit == "x" else "+.0f")
        print(
            f"  {goal.name:<44}{_fmt(goal.value, spec):>8} {goal.unit:<6} "
            f"goal {relation} {target:<5} {'PASS' if goal.passed else 'MISS'}"
        )


Slowdowns = dict[float, tuple[float, dict[str, Results]]]
"""Per slowdown factor: the render budget it gave (chunks per second), and the results."""


def print_summary(by_slowdown: Slowdowns) -> None:
    """The goals at every slowdown, overall."""
    print("\nSummary (overall, every model)")
    print(
        f"  {'slowdown':<10}{'renders/s':>10}{'ours switch':>13}{'oracle':>8}{'ours/oracle':>13}"
        f"{'ours/render-all':>17}{'ours/ahead pts':>16}"
    )
    for slowdown, (rate, by_model) in by_slowdown.items():
        results = by_model[OVERALL]
        ratio, points, cost = (goal.value for goal in goals(results))
        print(
            f"  {slowdown:<10g}{rate:>10.2f}"
            f"{_fmt(results['ours'].switch_hit_ratio()):>13}"
            f"{_fmt(results['oracle'].switch_hit_ratio()):>8}{_fmt(ratio):>13}"
            f"{_fmt(cost):>17}{_fmt(points, '+.1f'):>16}"
        )


def figures(result: PolicyResult) -> dict[str, Any]:
    return {
        "switch_hit_ratio": result.switch_hit_ratio(),
        "preset_switch_hit_ratio": result.hit_ratio("preset"),
        "intensity_switch_hit_ratio": result.hit_ratio("intensity"),
        "playback_hit_ratio": result.hit_ratio("playback"),
        "seek_hit_ratio": result.hit_ratio("seek"),
        "renders_per_played_chunk": result.renders_per_played_chunk(),
        "prefetch_use": result.prefetch_use(),
        "requests": {kind: result.requests(kind) for kind in REQUEST_KINDS},
        "prefetch_renders": result.prefetch_renders,
        "demand_renders": result.demand_renders,
        "played_chunks": round(result.played_chunks, 3),
        "max_bytes": result.max_bytes,
        "budget_bytes": result.budget_bytes,
    }


def as_json(by_slowdown: Slowdowns, setup: list[str]) -> dict[str, Any]:
    return {
        "setup": setup,
        "slowdowns": {
            f"{slowdown:g}": {
                "renders_per_second": round(rate, 4),
                "models": {
                    model: {name: figures(result) for name, result in results.items()}
                    for model, results in by_model.items()
                },
                "goals": {goal.name: goal.as_dict() for goal in goals(by_model[OVERALL])},
            }
            for slowdown, (rate, by_model) in by_slowdown.items()
        },
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="length of each session")
    parser.add_argument("--seeds", type=int, default=3, help="traces per listener model")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--library", type=Path, default=SAMPLE_AUDIO)
    parser.add_argument(
        "--synthetic", action="store_true", help="a made-up library instead (no decoding)"
    )
    parser.add_argument("--tracks", type=int, default=12, help="tracks in the synthetic library")
    parser.add_argument("--library-seed", type=int, default=1)
    parser.add_argument("--budget-mb", type=float, default=EngineConfig().total_budget_mb)
    parser.add_argument(
        "--slowdowns", type=float, nargs="+", default=[1.0, 5.0, 10.0, 20.0], metavar="N"
    )
    parser.add_argument(
        "--base-renders-per-second",
        type=float,
        help="the render budget at 1x (default: measured now, the engine's render threads)",
    )
    parser.add_argument(
        "--trace", type=Path, nargs="+", default=[], help="recorded traces on this library"
    )
    parser.add_argument("--step-seconds", type=float, default=SimSettings().step_seconds)
    parser.add_argument("--detail", action="store_true", help="a table per listener model")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.minutes * 60.0 < 1.0 or args.seeds < 1 or args.tracks < 1:
        parser.error("--minutes, --seeds and --tracks must be positive (a session lasts >= 1 s)")
    if args.budget_mb <= 0.0 or args.step_seconds <= 0.0:
        parser.error("--budget-mb and --step-seconds must be positive")
    if min(args.slowdowns) < 1.0 or (args.base_renders_per_second or 1.0) <= 0.0:
        parser.error("a slowdown is at least 1, and the base render rate positive")
    return args


def run_slowdowns(
    args: argparse.Namespace,
    timeline: LibraryTimeline,
    base_rate: float,
    recorded: list[list[TraceEvent]],
) -> Slowdowns:
    by_slowdown: Slowdowns = {}
    for slowdown in args.slowdowns:
        settings = settings_from(args, base_rate / slowdown)
        by_model = run_models(
            timeline, settings, args.models, args.seeds, args.minutes * 60.0, recorded
        )
        by_slowdown[slowdown] = (settings.renders_per_second, by_model)
        if args.json:
            continue
        print(f"\n=== slowdown {slowdown:g}x: {settings.renders_per_second:.2f} renders per second")
        for model, results in by_model.items():
            if args.detail or model == OVERALL:
                print_table(model, results)
        print_goals(by_model)
    return by_slowdown


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    base = SimSettings(engine=EngineConfig().with_total_budget(args.budget_mb))
    base_rate = args.base_renders_per_second or measured_render_rate(base.engine)
    timeline = load_timeline(args, base.engine.chunk_seconds)
    recorded = read_recorded(args.trace, timeline)
    setup = describe_setup(timeline, base, args, base_rate, len(recorded))
    if not args.json:
        print("\n".join(setup))
    by_slowdown = run_slowdowns(args, timeline, base_rate, recorded)
    if args.json:
        print(json.dumps(as_json(by_slowdown, setup), indent=2))
        return
    print_summary(by_slowdown)
    traces = len(args.slowdowns) * (len(args.models) * args.seeds + len(recorded))
    print(
        f"\n(library analysed and {traces} traces simulated in "
        f"{time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
