"""How well the preset predictor foresees switches, against trivial baselines on the same events.

Each synthetic listener model (engine/sim/listeners.py) generates sessions on a library; every
session is walked the way the engine's `BufferPlanner` walks it: the playhead follows the
trace, each preset change goes through the interaction filter (debounce, rapid exploration)
with the music it was chosen on (two seconds ahead), and each switch the filter lets through
is scored by the predictor against the distribution live just before it, then learned. The
baselines see exactly the same switches:

- most frequent: the preset switched to most often so far (other than the current one);
- last target: the presets most recently switched to, most recent first ("go back");
- Markov without content: decayed first-order transition counts alone.

Goal (the issue): top-1 >= 1.15 x the best baseline on the content-driven and toggler
listeners, and top-3 >= 0.85.

    python -m bench.predictor [--minutes 60] [--seeds 5] [--library sample_audio | --synthetic]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.persist.trace import TraceEvent
from engine.prediction.experts import MarkovExpert, normalised
from engine.prediction.interaction import InteractionFilter
from engine.prediction.predict import PredictionScore, PresetPredictor
from engine.sim.listeners import MODELS, generate
from engine.sim.timeline import LibraryTimeline, Playhead, synthetic_timeline, timeline_from_library
from engine.vocabulary import PRESET_ORDER

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
STEP_SECONDS = 0.1
"""The engine's maintenance loop polls the filter at 10 Hz; the walk does the same."""
GOAL_MODELS = ("content_driven", "toggler")
TOP1_GOAL_RATIO = 1.15
TOP3_GOAL = 0.85


class MostFrequent:
    name = "most frequent"

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def distribution(self, current: str) -> dict[str, float]:
        return normalised({p: self.counts[p] + 0.5 for p in PRESET_ORDER if p != current})

    def learn(self, source: str, target: str) -> None:
        self.counts[target] += 1


class LastTarget:
    name = "last target"

    def __init__(self) -> None:
        self.recent: list[str] = []

    def distribution(self, current: str) -> dict[str, float]:
        ranked = [p for p in self.recent if p != current]
        ranked += [p for p in PRESET_ORDER if p != current and p not in ranked]
        return normalised({p: 0.5**rank for rank, p in enumerate(ranked)})

    def learn(self, source: str, target: str) -> None:
        self.recent = [target, *[p for p in self.recent if p != target]]


class MarkovOnly:
    name = "markov"

    def __init__(self) -> None:
        self.expert = MarkovExpert(PRESET_ORDER)

    def distribution(self, current: str) -> dict[str, float]:
        return self.expert.distribution(current, None)

    def learn(self, source: str, target: str) -> None:
        self.expert.learn(source, target, None)


Baseline = MostFrequent | LastTarget | MarkovOnly


@dataclass
class ModelScores:
    ours: PredictionScore
    baselines: dict[str, PredictionScore]
    by_context: dict[str, PredictionScore]
    preset_changes: int


def walk(events: Sequence[TraceEvent], timeline: LibraryTimeline) -> ModelScores:
    """One session, as the engine sees it: filtered switches, scored and then learned."""
    now = [0.0]
    interaction = InteractionFilter("original", lambda: now[0])
    predictor = PresetPredictor(clock=lambda: now[0])
    baselines: list[Baseline] = [MostFrequent(), LastTarget(), MarkovOnly()]
    scores = {b.name: PredictionScore() for b in baselines}
    playhead = Playhead(timeline)
    changes = 0
    chosen_for: dict[str, tuple[float, ...]] = {}
    """The music each preset was chosen on, as `BufferPlanner` keeps it."""

    def learn_due() -> None:
        for switch in interaction.due_learning():
            predictor.observe_switch(switch.source, switch.target, chosen_for.get(switch.target))
            for baseline in baselines:
                opinion = baseline.distribution(switch.source)
                scores[baseline.name] = scores[baseline.name].scored(opinion, switch.target)
                baseline.learn(switch.source, switch.target)

    for event in events:
        while now[0] + STEP_SECONDS < event.t:
            now[0] += STEP_SECONDS
            playhead.advance(now[0])
            learn_due()
        now[0] = event.t
        playhead.apply(event)
        if event.event == "preset" and event.preset_name is not None:
            changes += event.preset_name != interaction.current_preset()
            ahead = timeline.upcoming_features(playhead.track_index, playhead.position)
            chosen_for[event.preset_name] = ahead.as_vector()
            interaction.preset(event.preset_name)
        elif event.event == "intensity" and event.value is not None:
            interaction.intensity(event.value)
        elif event.event in ("seek", "seek_relative"):
            interaction.position(playhead.position)
        elif event.event in ("next", "prev"):
            interaction.track_changed()
        learn_due()
    now[0] += 1.0  # the last switch settles
    learn_due()
    view = predictor.view("original")
    return ModelScores(predictor.score(), scores, view.by_context, changes)


def merged(scores: Sequence[PredictionScore]) -> PredictionScore:
    return PredictionScore(
        sum(s.predictions_made for s in scores),
        sum(s.top1_hits for s in scores),
        sum(s.top3_hits for s in scores),
        sum(s.brier_sum for s in scores),
    )


def run_model(
    name: str, timeline: LibraryTimeline, seeds: int, seconds: float
) -> tuple[PredictionScore, dict[str, PredictionScore], dict[str, PredictionScore], int]:
    walks = [walk(generate(name, timeline, seed, seconds), timeline) for seed in range(seeds)]
    ours = merged([w.ours for w in walks])
    names = walks[0].baselines.keys()
    baselines = {n: merged([w.baselines[n] for w in walks]) for n in names}
    contexts = {c: merged([w.by_context[c] for w in walks]) for c in walks[0].by_context}
    return ours, baselines, contexts, sum(w.preset_changes for w in walks)


def _cell(score: PredictionScore) -> str:
    return f"{score.top1_accuracy:5.3f} {score.top3_accuracy:5.3f} {score.brier:5.3f}"


def report(timeline: LibraryTimeline, label: str, seeds: int, seconds: float) -> list[str]:
    lines = [
        f"library: {label}; {seeds} sessions x {seconds / 60:.0f} min per listener model",
        "model            switches  ours top1 top3 brier |  most frequent   |  last target"
        "     |  markov          | top1/best  goal",
    ]
    failures = []
    for name in MODELS:
        ours, baselines, contexts, changes = run_model(name, timeline, seeds, seconds)
        best = max(b.top1_accuracy for b in baselines.values())
        ratio = ours.top1_accuracy / best if best > 0 else math.inf
        goal = ""
        if name in GOAL_MODELS:
            met = ratio >= TOP1_GOAL_RATIO and ours.top3_accuracy >= TOP3_GOAL
            goal = "PASS" if met else "MISS"
            if not met:
                failures.append(name)
        lines.append(
            f"{name:<16} {ours.predictions_made:>5}/{changes:<5} {_cell(ours)} | "
            + " | ".join(_cell(baselines[n]) for n in ("most frequent", "last target", "markov"))
            + f" | {ratio:9.2f}  {goal}"
        )
        by_context = ", ".join(
            f"{c} {s.predictions_made} @ {s.top1_accuracy:.2f}"
            for c, s in contexts.items()
            if s.predictions_made
        )
        lines.append(f"{'':<16} ours by context: {by_context}")
    lines.append(
        f"goal: top-1 >= {TOP1_GOAL_RATIO} x best baseline and top-3 >= {TOP3_GOAL} on "
        f"{', '.join(GOAL_MODELS)}: " + (f"MISSED on {', '.join(failures)}" if failures else "met")
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="per session")
    parser.add_argument("--seeds", type=int, default=5, help="sessions per listener model")
    parser.add_argument("--library", type=Path, default=SAMPLE_AUDIO)
    parser.add_argument(
        "--synthetic", action="store_true", help="also run on a made-up 12-track library"
    )
    args = parser.parse_args(argv)
    seconds = args.minutes * 60.0
    timeline = timeline_from_library([args.library], 10.0, library_root=args.library)
    print("\n".join(report(timeline, str(args.library), args.seeds, seconds)))
    if args.synthetic:
        print()
        made = synthetic_timeline(seed=1, tracks=12)
        print("\n".join(report(made, "synthetic, 12 tracks", args.seeds, seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
