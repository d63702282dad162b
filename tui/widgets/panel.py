"""The frame every panel shares: a rounded border with the panel's title, text inset by a cell.

A panel names itself with Textual's own `BORDER_TITLE` class variable, which
`Widget.__init__` applies, so no panel needs a constructor just for its title.
"""

from __future__ import annotations

from textual import events
from textual.message import Message

from tui.widgets.draws_on_change import DrawsOnChange

FRAME_RULES = """
        border: round $panel;
        border-title-color: $accent;
        padding: 0 1;
"""
"""The frame, the same for every panel (the app's CSS recolours the focused panel's)."""


def framed_css(type_name: str, rules: str = "") -> str:
    """DEFAULT_CSS for `type_name`: the panel frame, then the panel's own `rules`.

    For a panel that cannot derive from `Panel` (the event log is a `Log`): Textual inherits
    DEFAULT_CSS along first bases only, so the frame in a mixin's CSS would never load.
    """
    return f"{type_name} {{{FRAME_RULES}{rules}}}\n"


class PresetClicked(Message):
    """The listener clicked a preset's name in a panel: switch to it."""

    def __init__(self, preset: str) -> None:
        super().__init__()
        self.preset = preset


def clicked_name(
    event: events.Click, widget: DrawsOnChange, names: dict[int, str], width: int
) -> str | None:
    """The name drawn at the click when it is on one: `names` maps a line (from 0) to the
    name that starts it, `width` cells wide."""
    offset = event.get_content_offset(widget)
    if offset is None or offset.x >= width:
        return None
    return names.get(offset.y)


class Panel(DrawsOnChange):
    """A framed panel drawn as lines of text; a subclass sets `BORDER_TITLE`.

    Lines too long are cut with an ellipsis rather than wrapped, so a narrow panel keeps its
    rows, and the height follows the lines drawn.
    """

    DEFAULT_CSS = framed_css(
        "Panel",
        """
        height: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        """,
    )
