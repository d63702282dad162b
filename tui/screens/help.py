"""The help screen: every key the player answers to, read from the live bindings.

It is generated, never written by hand, so it shows the keys a keymap file put in place and
cannot drift from what the keys really do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

COLUMNS = 2
"""Side by side when the terminal is wide enough for them, ids included; else one, scrolled."""
FRAME_CHROME = 8
"""Cells a column layout loses to the frame's border and padding and the columns' padding."""
OTHER_GROUP = "View and app"
"""Where bindings not named in the group table go (focus, palette, ...)."""


@dataclass(frozen=True)
class HelpRow:
    keys: tuple[str, ...]
    """Each key as the footer shows it."""
    description: str
    binding_id: str | None


@dataclass(frozen=True)
class HelpSection:
    title: str
    rows: tuple[HelpRow, ...]


def help_sections(
    app: App[Any],
    active: Mapping[str, ActiveBinding],
    groups: Mapping[str, str],
    group_order: tuple[str, ...],
) -> list[HelpSection]:
    """One section per group, rows in binding order; keys sharing a binding share a row.

    `groups` maps a binding id to its section title; anything else with a description goes
    to `OTHER_GROUP`, so a binding added later is listed even before it is given a group.
    """
    rows: dict[str, tuple[Binding, list[str]]] = {}
    for active_binding in active.values():
        binding = active_binding.binding
        if binding.system or not binding.description:
            continue
        identity = binding.id or f"action {binding.action}"
        _first, keys = rows.setdefault(identity, (binding, []))
        keys.append(app.get_key_display(binding))
    sections: dict[str, list[HelpRow]] = {title: [] for title in (*group_order, OTHER_GROUP)}
    # The player's own bindings first, then those the app inherits (focus, palette, ...).
    ordered = sorted(rows.values(), key=lambda row: (row[0].id or "") not in groups)
    for binding, keys in ordered:
        title = groups.get(binding.id or "", OTHER_GROUP)
        sections.setdefault(title, []).append(HelpRow(tuple(keys), binding.description, binding.id))
    return [HelpSection(title, tuple(found)) for title, found in sections.items() if found]


def with_preset_names(
    sections: list[HelpSection], presets: list[tuple[str, str | None]], place_prefix: str
) -> list[HelpSection]:
    """Place keys (binding ids `place_prefix` + place, `preset_3`) named by the preset in
    that place, places with no preset left out, and each preset's own key (name, key)
    added after them: the list is the listener's, and may change while playing."""
    own = tuple(HelpRow((key,), f"Preset: {name}", None) for name, key in presets if key)
    named = []
    for section in sections:
        rows: list[HelpRow] = []
        after_places = None
        for row in section.rows:
            place = (row.binding_id or "").removeprefix(place_prefix)
            if row.binding_id is None or place == row.binding_id or not place.isdigit():
                rows.append(row)
                continue
            if int(place) <= len(presets):
                rows.append(replace(row, description=f"Preset: {presets[int(place) - 1][0]}"))
            after_places = len(rows)
        if after_places is not None:
            rows[after_places:after_places] = own
        named.append(HelpSection(section.title, tuple(rows)))
    return named


def balanced_columns(sections: list[HelpSection], columns: int) -> list[list[HelpSection]]:
    """Sections in order, split into `columns` of about equal height, so the whole list
    fits a 40-line terminal without scrolling."""
    heights = [len(section.rows) + 2 for section in sections]  # title and a blank line
    target = sum(heights) / columns
    split: list[list[HelpSection]] = [[]]
    filled = 0
    for section, height in zip(sections, heights, strict=True):
        if split[-1] and filled + height / 2 > target and len(split) < columns:
            split.append([])
            filled = 0
        split[-1].append(section)
        filled += height
    return split


@dataclass(frozen=True)
class ColumnWidths:
    """Of the keys and the descriptions, so every row's id starts in the same place."""

    keys: int
    description: int
    binding_id: int

    @classmethod
    def of(cls, sections: list[HelpSection]) -> ColumnWidths:
        rows = [row for section in sections for row in section.rows]
        return cls(
            max((len(" / ".join(row.keys)) for row in rows), default=0),
            max((len(row.description) for row in rows), default=0),
            max((len(row.binding_id or "") for row in rows), default=0),
        )

    @property
    def row(self) -> int:
        return 2 + self.keys + 2 + self.description + 2 + self.binding_id


def columns_that_fit(widths: ColumnWidths, width: int) -> int:
    return COLUMNS if COLUMNS * (widths.row + 2) + FRAME_CHROME <= width else 1


def render_section(section: HelpSection, widths: ColumnWidths) -> Text:
    """Key, what it does, and (dim) the id keymap.toml knows it by."""
    text = Text()
    text.append(f"{section.title}\n", style="bold underline")
    for row in section.rows:
        text.append(f"  {' / '.join(row.keys):<{widths.keys}}", style="bold")
        text.append(f"  {row.description:<{widths.description}}")
        if row.binding_id:
            text.append(f"  {row.binding_id}", style="dim")
        text.append("\n")
    return text


class HelpScreen(ModalScreen[None]):
    """Lists every binding; escape, `?` or `q` close it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help-frame {
        width: 96%; height: auto; max-height: 90%; padding: 0 1;
        border: round $accent; background: $surface;
    }
    HelpScreen #help-columns { height: auto; }
    HelpScreen .help-column { width: 1fr; height: auto; padding: 0 1; }
    HelpScreen .help-section { margin-top: 1; }
    HelpScreen #help-note { margin: 1 1 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close help", id="help_close"),
    ]

    def __init__(self, sections: list[HelpSection], note: str = "") -> None:
        """`note` goes under the keys: where they can be changed."""
        super().__init__()
        self.sections = sections
        self.note = note

    def compose(self) -> ComposeResult:
        widths = ColumnWidths.of(self.sections)
        columns = columns_that_fit(widths, self.app.size.width)
        with VerticalScroll(id="help-frame") as frame:
            frame.styles.max_width = columns * (widths.row + 2) + FRAME_CHROME
            frame.border_title = "Keys"
            frame.border_subtitle = "escape, ? or q to close"
            with Horizontal(id="help-columns"):
                for column in balanced_columns(self.sections, columns):
                    with Vertical(classes="help-column"):
                        for section in column:
                            yield Static(render_section(section, widths), classes="help-section")
            if self.note:
                yield Static(self.note, id="help-note", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
