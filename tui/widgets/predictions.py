"""The predictions panel: where the listener is expected to go next, and how well that works."""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.reactive import reactive

from engine import EngineSnapshot
from engine.observe.monitor import MonitorSnapshot
from engine.prediction.predict import PredictionScore, PredictorView
from tui.widgets.bars import NO_VALUE, first_fitting, horizontal_bar, percent
from tui.widgets.panel import Panel, PresetClicked, clicked_name

MIN_NAME_WIDTH = len("adaptive") + 1
MIN_BAR_WIDTH = 6
PERCENT_WIDTH = 5
DISTRIBUTION_ROWS = 5
"""The likeliest targets shown (the panel keeps its height with any number of presets)."""
BAR_STYLE = "$accent on $boost"
TOP_BAR_STYLE = "bold $success on $boost"
CONTEXT_NAMES = {"cold": "cold", "warm": "warm", "audio_guided": "audio-guided"}
"""How each prediction context reads: cold = too few switches learned, priors decide."""


def ranked(distribution: dict[str, float]) -> list[tuple[str, float]]:
    """Presets by probability, highest first (ties in the distribution's order, which is
    the presets' order, so rows do not jump)."""
    return sorted(distribution.items(), key=lambda item: -item[1])


def name_width(distribution: dict[str, float]) -> int:
    """Room for the longest name and a space (the listener's names may be longer)."""
    return max(MIN_NAME_WIDTH, *(len(preset) + 1 for preset in distribution))


def best_baseline(baselines: dict[str, PredictionScore]) -> tuple[str, PredictionScore] | None:
    """The single expert with the best top-1 accuracy: what the blend has to beat."""
    scored = [(name, score) for name, score in baselines.items() if score.predictions_made]
    return max(scored, key=lambda item: item[1].top1_accuracy, default=None)


def score_text(score: PredictionScore, full: bool = True) -> str:
    """Top-1, top-3 and Brier; dashes until a switch has been predicted. Not `full`: the
    two accuracies alone."""
    made = score.predictions_made
    top1 = percent(score.top1_accuracy) if made else NO_VALUE
    top3 = percent(score.top3_accuracy) if made else NO_VALUE
    accuracies = f"top-1 {top1} · top-3 {top3}"
    if not full:
        return accuracies
    brier = f"{score.brier:.2f}" if made else NO_VALUE
    return f"{accuracies} · Brier {brier} · {made} made"


class PredictionsPanel(Panel):
    """The predictor's next-preset distribution as sorted bars, P(switch in the next chunk),
    its context, and its running accuracy next to the best single expert's: the buffer
    pre-renders by these numbers, so they explain its hits and misses.
    """

    BORDER_TITLE = "Predictions"

    view: reactive[PredictorView | None] = reactive(None)
    """The latest predictor view from the monitor."""

    def show(self, snapshot: EngineSnapshot, monitor: MonitorSnapshot | None) -> None:
        """Take the predictor view from `monitor`; None (no new reading) keeps the last."""
        if monitor is not None:
            self.view = monitor.predictor

    def render(self) -> Content:
        view = self.view
        if view is None:
            waiting = Content.styled("Waiting for the predictor…", "dim")
            return Content("\n").join([waiting] + [Content()] * (DISTRIBUTION_ROWS + 3))
        width = self.size.width
        return Content("\n").join(
            [_header_line(view, width), *self._distribution_lines(view), *_score_lines(view, width)]
        )

    def on_click(self, event: events.Click) -> None:
        """A click on a preset's name switches to it."""
        if self.view is None:
            return
        rows = ranked(self.view.distribution)[:DISTRIBUTION_ROWS]
        names = {line: preset for line, (preset, _p) in enumerate(rows, start=1)}
        preset = clicked_name(event, self, names, name_width(self.view.distribution))
        if preset is not None:
            event.stop()
            self.post_message(PresetClicked(preset))

    def _distribution_lines(self, view: PredictorView) -> list[Content]:
        width = name_width(view.distribution)
        bar_width = max(MIN_BAR_WIDTH, self.size.width - width - PERCENT_WIDTH - 1)
        rows = ranked(view.distribution)[:DISTRIBUTION_ROWS]
        lines = [
            Content.assemble(
                preset.ljust(width),
                (horizontal_bar(p, bar_width), TOP_BAR_STYLE if rank == 0 else BAR_STYLE),
                f"{percent(p):>{PERCENT_WIDTH}}",
            )
            for rank, (preset, p) in enumerate(rows)
        ]
        return lines + [Content()] * (DISTRIBUTION_ROWS - len(lines))


def _header_line(view: PredictorView, width: int) -> Content:
    context = (CONTEXT_NAMES.get(view.context, view.context), "bold $accent")
    chance = (percent(view.switch_probability_per_chunk), "bold")
    return first_fitting(
        [
            Content.assemble("switch next chunk ", chance, "  context ", context),
            Content.assemble("switch ", chance, " · ctx ", context),
            Content.assemble("switch ", chance, " ", context),
        ],
        width,
    )


def _score_lines(view: PredictorView, width: int) -> list[Content]:
    """The blend's accuracy, the best baseline's top-1, and the blend weights (shorter
    forms where the panel is narrow)."""
    baseline = best_baseline(view.baselines)
    name, top1 = (baseline[0], percent(baseline[1].top1_accuracy)) if baseline else ("", "")
    compare = f"best baseline {name} top-1 {top1}" if baseline else f"best baseline {NO_VALUE}"
    short = f"baseline {name} {top1}" if baseline else f"baseline {NO_VALUE}"
    weights = view.blend_weights
    every = " · ".join(f"{expert} {percent(w)}" for expert, w in weights.items())
    leader = max(weights, key=lambda expert: weights[expert], default=None)
    led = f"blend: {leader} {percent(weights[leader])}" if leader else f"blend {NO_VALUE}"
    learned = f"{view.learned_switches} learned"
    dim = "dim"
    return [
        first_fitting(
            [Content(score_text(view.score)), Content(score_text(view.score, False))], width
        ),
        first_fitting(
            [Content.styled(f"{compare} · {learned}", dim), Content.styled(short, dim)], width
        ),
        first_fitting([Content.styled(f"blend {every}", dim), Content.styled(led, dim)], width),
    ]
