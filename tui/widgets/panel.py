"""The frame every panel shares: a rounded border with the panel's title, text inset by a cell.

A panel names itself with Textual's own `BORDER_TITLE` class variable, which
`Widget.__init__` applies, so no panel needs a constructor just for its title.
"""

from __future__ import annotations

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
