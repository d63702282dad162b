"""The tier panel: hit rate, traffic and memory of each buffer tier, with its history."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from textual.content import Content
from textual.reactive import reactive

from engine import EngineSnapshot
from engine.observe.monitor import MonitorSnapshot, TierLine
from engine.vocabulary import TIER_NAMES, plural
from tui.widgets.bars import TIER_COLOURS, horizontal_bar, megabytes
from tui.widgets.panel import Panel

HISTORY_SAMPLES = 60
"""Hit-rate samples kept per tier (15-30 s at the monitor's 2-4 Hz)."""
SPARK_LEVELS = "▁▂▃▄▅▆▇█"
"""Sparkline heights; a rate of 0 still draws the lowest, so a sample is never invisible."""
INDENT = "    "
MIN_SPARK_WIDTH = 8
MEMORY_BAR_WIDTH = 10
LINES_PER_TIER = 2


def hit_rate_sparkline(rates: Sequence[float], width: int) -> str:
    """The newest `width` rates, one cell each on a fixed 0..1 scale, right-aligned.

    Textual's Sparkline scales to the data's own min and max, which would draw 0.95 vs 0.96
    as empty vs full; a hit rate needs the absolute scale to be read at a glance.
    """
    if width <= 0:
        return ""
    top = len(SPARK_LEVELS) - 1
    cells = (SPARK_LEVELS[round(min(max(rate, 0.0), 1.0) * top)] for rate in rates[-width:])
    return "".join(cells).rjust(width)


class TierPanel(Panel):
    """Per tier: hit rate, hits and misses, entries, memory against budget, and a sparkline
    of the hit rate over the last HISTORY_SAMPLES monitor readings.

    The history is kept here, not in the engine, which stays free of what the UI has drawn.
    The rate is the tier's own (since the session started), so the line shows the trend
    settling rather than the noise of the few lookups between two readings.
    """

    BORDER_TITLE = "Tiers"

    tiers: reactive[tuple[TierLine, ...]] = reactive(())
    """The latest figures per tier."""
    history: reactive[tuple[tuple[float, ...], ...]] = reactive(())
    """Recent hit rates per tier (0..1, oldest first), in the order of `tiers`."""

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """A tier panel with no history yet.

        Args:
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
            disabled: Whether the widget is disabled or not.
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._rates: dict[str, deque[float]] = {}

    def show(self, snapshot: EngineSnapshot, monitor: MonitorSnapshot | None) -> None:
        """Add one history sample per tier from `monitor`; None (no new reading) adds none,
        so the history advances at the monitor's rate, not the snapshot's."""
        if monitor is None:
            return
        for tier in monitor.tiers:
            self._record(tier)
        self.tiers = monitor.tiers
        self.history = tuple(tuple(self._rates[tier.name]) for tier in monitor.tiers)

    def _record(self, tier: TierLine) -> None:
        rates = self._rates.setdefault(tier.name, deque(maxlen=HISTORY_SAMPLES))
        rates.append(tier.hit_rate)

    def render(self) -> Content:
        if not self.tiers:
            empty = [Content.styled("Waiting for the buffer…", "dim")]
            return Content("\n").join(empty + [Content()] * (len(TIER_NAMES) * LINES_PER_TIER - 1))
        lines: list[Content] = []
        for index, tier in enumerate(self.tiers):
            rates = self.history[index] if index < len(self.history) else ()
            lines += [_figures_line(tier), self._history_line(tier, rates)]
        return Content("\n").join(lines)

    def _history_line(self, tier: TierLine, rates: Sequence[float]) -> Content:
        used = f" {megabytes(tier.size_bytes)}/{megabytes(tier.budget_bytes)} MB"
        spark_width = self.size.width - len(INDENT) - MEMORY_BAR_WIDTH - len(used) - 2
        spark_width = max(MIN_SPARK_WIDTH, spark_width)
        fill = tier.size_bytes / tier.budget_bytes if tier.budget_bytes else 1.0
        return Content.assemble(
            INDENT,
            (hit_rate_sparkline(rates, spark_width), TIER_COLOURS.get(tier.name, "")),
            "  ",
            (horizontal_bar(fill, MEMORY_BAR_WIDTH), _memory_style(fill)),
            used,
        )


def _figures_line(tier: TierLine) -> Content:
    return Content.assemble(
        (f"{tier.name.upper():<4}", f"bold {TIER_COLOURS.get(tier.name, '')}"),
        (f"{tier.hit_rate:6.1%}", "bold"),
        f"  {plural(tier.hits, 'hit')} · {plural(tier.misses, 'miss', 'misses')}"
        f" · {plural(tier.count, 'chunk')}",
    )


def _memory_style(fill: float) -> str:
    """A tier near its budget is evicting: worth a glance, not an alarm."""
    colour = "$warning" if fill >= 0.95 else "$accent"
    return f"{colour} on $boost"
