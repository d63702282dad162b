"""The predictions panel: where the listener is expected to go next, and how well that works."""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.reactive import reactive

from engine import EngineSnapshot
from engine.observe.monitor import MonitorSnapshot
from engine.prediction.predict import PredictionScore, PredictorView
from tui.widgets.bars import NO_VALUE, horizontal_bar, percent
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


def score_text(score: PredictionScore) -> str:
    """Top-1, top-3 and Brier; dashes until a switch has been predicted."""
    if not score.predictions_made:
        return f"top-1 {NO_VALUE} · top-3 {NO_VALUE} · Brier {NO_VALUE} · 0 made"
    return (
        f"top-1 {percent(score.top1_accuracy)} · top-3 {percent(score.top3_accuracy)}"
        f" · Brier {score.brier:.2f} · {score.predictions_made} made"
    )


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
        return Content("\n").join(
            [_header_line(view), *self._distribution_lines(view), *_score_lines(view)]
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


def _header_line(view: PredictorView) -> Content:
    context = CONTEXT_NAMES.get(view.context, view.context)
    return Content.assemble(
        "switch next chunk ",
        (percent(view.switch_probability_per_chunk), "bold"),
        "  context ",
        (context, "bold $accent"),
    )


def _score_lines(view: PredictorView) -> list[Content]:
    """The blend's accuracy, the best baseline's top-1, and the blend weights."""
    baseline = best_baseline(view.baselines)
    compare = (
        f"best baseline {baseline[0]} top-1 {percent(baseline[1].top1_accuracy)}"
        if baseline is not None
        else f"best baseline {NO_VALUE}"
    )
    weights = " · ".join(f"{name} {percent(w)}" for name, w in view.blend_weights.items())
    return [
        Content(score_text(view.score)),
        Content.styled(f"{compare} · {view.learned_switches} learned", "dim"),
        Content.styled(f"blend {weights}", "dim"),
    ]
