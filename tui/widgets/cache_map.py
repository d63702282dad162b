"""The cache map: which tier holds each preset's chunks around the playhead."""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.reactive import reactive

from engine import EngineSnapshot
from engine.observe.monitor import CacheMap, MonitorSnapshot
from engine.vocabulary import PRESET_ORDER, TIER_NAMES
from tui.widgets.bars import TIER_COLOURS, first_fitting
from tui.widgets.panel import Panel, PresetClicked, clicked_name

CELL_WIDTH = 2
"""Cells per chunk column; one more cell separates columns."""
COLUMN_STEP = CELL_WIDTH + 1
MIN_LABEL_WIDTH = 2 + len("adaptive") + 1
"""Row marker, preset name and a space: at least the built-ins' longest, more for a
listener's longer names (`label_width`)."""
CELL_GLYPHS: dict[str, str] = {
    **{tier: tier.upper() for tier in TIER_NAMES},
    "queued": "░░",
    "missing": " ·",
    "source": "▬▬",
}
"""Two cells per state; tiers carry their name so the map reads without colour."""
RENDERING_FRAMES = ("▓▒", "▒▓")
"""A chunk being rendered alternates between these on every monitor reading."""
CELL_STYLES: dict[str, str] = {
    **{tier: f"bold $text on {colour} 70%" for tier, colour in TIER_COLOURS.items()},
    "rendering": "bold $foreground",
    "queued": "$foreground 50%",
    "missing": "$foreground 40%",
    "source": "$foreground 25%",
}
"""Tiers are solid blocks in their colour; work in progress and gaps are shades of grey."""
ACTIVE_MARK = "▶"
"""Marks the preset being heard."""
REQUESTED_MARK = "▷"
"""Marks a preset asked for but not heard yet (its chunk is being rendered)."""
CARET = "▲"
LEGEND: tuple[tuple[str, str], ...] = (
    *((tier, "") for tier in TIER_NAMES),
    ("rendering", "render"),
    ("queued", "queued"),
    ("missing", "missing"),
)
"""Legend entries: a state's glyph and the word after it (tiers need none; the original's
row is labelled by its name)."""
NARROW_LEGENDS: tuple[tuple[str, ...], ...] = (
    ("rendering", "queued", "missing"),
    ("rendering", "queued"),
)
"""The legend's entries where the whole one does not fit: the tiers first go (their cells
say their names), then the dot of a chunk not cached."""


def cell_glyph(state: str, frame: int = 0) -> str:
    """The two cells drawn for a cache-map state; `frame` animates rendering chunks."""
    if state == "rendering":
        return RENDERING_FRAMES[frame % len(RENDERING_FRAMES)]
    return CELL_GLYPHS.get(state, "??")


def caret_offset(chunks: CacheMap, columns: int) -> int | None:
    """Cells from the grid's left edge to the playhead, or None if its column is not shown.

    Inside its column the caret sits on the cell `playhead_fraction` falls in.
    """
    column = chunks.playhead_chunk - chunks.first_chunk
    if not 0 <= column < columns:
        return None
    inside = min(CELL_WIDTH - 1, int(chunks.playhead_fraction * CELL_WIDTH))
    return column * COLUMN_STEP + max(0, inside)


def label_width(presets: tuple[str, ...]) -> int:
    return max(MIN_LABEL_WIDTH, *(len(preset) + 3 for preset in presets))


def columns_for_width(width: int, presets: tuple[str, ...] = ()) -> int:
    """How many chunk columns fit a panel `width` cells wide (at least one)."""
    return max(1, (width - label_width(presets) + 1) // COLUMN_STEP)


class CacheMapPanel(Panel):
    """Rows are presets, columns the chunks around the playhead, each cell where that
    chunk lives: the map shows whether the buffer holds what the listener may ask for next.

    Columns that do not fit are cut on the right; the map starts one chunk behind the
    playhead, so the playhead column always stays in view.
    """

    BORDER_TITLE = "Cache map"

    cache_map: reactive[CacheMap | None] = reactive(None)
    """The latest map from the monitor, or None before there is a track."""
    active_preset: reactive[str] = reactive("")
    """The preset being heard (from the 10 Hz snapshot, fresher than the monitor)."""
    requested_preset: reactive[str] = reactive("")
    """The preset asked for; differs from `active_preset` while a missed switch renders."""
    presets: reactive[tuple[str, ...]] = reactive(PRESET_ORDER)
    """The rows, in order (the listener's presets file may change them while playing)."""
    frame: reactive[int] = reactive(0)
    """Animation frame for rendering cells; advances only while some chunk is rendering."""

    @property
    def fitting_columns(self) -> int:
        """Chunk columns that fit the panel now: what the app may ask the monitor for."""
        return columns_for_width(self.size.width, self.presets)

    def show(self, snapshot: EngineSnapshot, monitor: MonitorSnapshot | None) -> None:
        """Mark the presets from `snapshot`; take the map from `monitor` when there is a new
        reading (None keeps the last one: the monitor is read less often than snapshots)."""
        self.active_preset = snapshot.preset
        self.requested_preset = snapshot.requested_preset
        self.presets = tuple(preset.name for preset in snapshot.presets)
        if monitor is None:
            return
        self.cache_map = monitor.cache_map
        if monitor.cache_map is not None and _any_rendering(monitor.cache_map):
            self.frame += 1

    def render(self) -> Content:
        chunks = self.cache_map
        presets = chunks.presets if chunks is not None else self.presets
        if chunks is None:
            lines = [Content.styled("No track: nothing buffered.", "dim")]
            lines += [Content()] * (len(presets) + 1)
        else:
            columns = min(self.fitting_columns, len(chunks.cells[0]) if chunks.cells else 0)
            lines = [
                self._row(preset, row[:columns])
                for preset, row in zip(presets, chunks.cells, strict=True)
            ]
            lines.append(self._caret_line(chunks, columns))
        lines.append(_legend(self.size.width))
        return Content("\n").join(lines)

    def on_click(self, event: events.Click) -> None:
        """A click on a preset's name switches to it."""
        chunks = self.cache_map
        presets = chunks.presets if chunks is not None else self.presets
        preset = clicked_name(event, self, dict(enumerate(presets)), label_width(presets))
        if preset is not None and chunks is not None:
            event.stop()
            self.post_message(PresetClicked(preset))

    def _row(self, preset: str, states: tuple[str, ...]) -> Content:
        cells = [Content.styled(cell_glyph(s, self.frame), CELL_STYLES.get(s, "")) for s in states]
        return Content.assemble(self._label(preset), Content(" ").join(cells))

    def _label(self, preset: str) -> tuple[str, str]:
        width = label_width(self.presets)
        if preset == self.active_preset:
            return f"{ACTIVE_MARK} {preset}".ljust(width), "bold $accent"
        if preset == self.requested_preset:
            return f"{REQUESTED_MARK} {preset}".ljust(width), "$warning"
        return f"  {preset}".ljust(width), ""

    def _caret_line(self, chunks: CacheMap, columns: int) -> Content:
        label = f"  chunk {chunks.playhead_chunk + 1}".ljust(label_width(self.presets))
        offset = caret_offset(chunks, columns)
        if offset is None:
            return Content.styled(label, "dim")
        return Content.assemble((label, "dim"), " " * offset, (CARET, "bold $accent"))


def _any_rendering(chunks: CacheMap) -> bool:
    return any("rendering" in row for row in chunks.cells)


def _legend(width: int) -> Content:
    """The legend that fits `width` cells: all of it, or the entries `NARROW_LEGENDS` keep."""
    everything = tuple(state for state, _word in LEGEND)
    return first_fitting([_legend_of(states) for states in (everything, *NARROW_LEGENDS)], width)


def _legend_of(states: tuple[str, ...]) -> Content:
    parts: list[str | tuple[str, str]] = []
    for state, word in LEGEND:
        if state in states:
            parts += [(cell_glyph(state), CELL_STYLES[state]), f" {word} " if word else " "]
    return Content.assemble(*parts).rstrip()
