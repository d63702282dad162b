"""A panel that asks for a repaint only where its drawing changes.

The panels are fed at 4 and 10 Hz with figures finer than they show (a playhead in frames,
a rate to more digits than printed), and every reactive change repainted the panel and sent
the terminal its lines again: most of the app's CPU while music played. Most changes then
touch one line of a panel (the clock, a resident size), so only the lines that changed are
repainted and sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from textual.content import Content
from textual.geometry import Region, Size
from textual.visual import VisualType
from textual.widget import Widget


@dataclass(frozen=True)
class Drawing:
    """What a paint would show: each line drawn, styles included (Content's own equality
    compares the text alone), or the whole visual when it is not lines of text; and what
    changes every line (size, theme, hover)."""

    lines: tuple[Any, ...]
    by_line: bool
    frame: tuple[Size, str, bool]

    @classmethod
    def of(cls, drawn: VisualType, frame: tuple[Size, str, bool]) -> Drawing:
        if isinstance(drawn, Content):
            split = drawn.split("\n", allow_blank=True)
            return cls(tuple((line.plain, tuple(line.spans)) for line in split), True, frame)
        return cls((drawn,), False, frame)

    def changed_lines(self, last: Drawing) -> list[int] | None:
        """The lines that differ from `last`'s; None when the whole widget must be
        repainted (another size, theme, hover state or number of lines, or no lines)."""
        if self.frame != last.frame or len(self.lines) != len(last.lines):
            return None
        pairs = enumerate(zip(self.lines, last.lines, strict=True))
        changed = [y for y, (new, old) in pairs if new != old]
        return changed if (self.by_line and last.by_line) or not changed else None


class DrawsOnChange(Widget):
    """A plain repaint is cut to the lines whose drawing changed since the last one, and
    skipped when none did; a layout, a recompose or a repaint of given regions always goes
    through. Lines are the drawing's: a subclass draws one line of text per row (a `Panel`
    does not wrap).

    The drawing made to compare is the one painted next: a subclass's `render` hands it
    over once instead of drawing the same figures twice.
    """

    _last_drawing: Drawing | None = None
    _drawn: VisualType | None = None
    """Drawn by `refresh` to compare and not painted yet."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("render")
        if own is not None:
            cls.render = _handing_over(own)  # type: ignore[assignment]

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        self._drawn = None
        if repaint and not (regions or layout or recompose) and self.is_mounted:
            drawn = self.render()
            drawing = Drawing.of(drawn, (self.size, self.app.theme, self.mouse_hover))
            last, self._last_drawing = self._last_drawing, drawing
            changed = None if last is None else drawing.changed_lines(last)
            if changed == []:
                return self
            self._drawn = drawn
            if changed is not None:
                width = self.content_size.width
                return super().refresh(*(Region(0, y, width, 1) for y in changed))
        else:
            self._last_drawing = None
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)


def _handing_over(render: Callable[[Any], VisualType]) -> Callable[[Any], VisualType]:
    """`render` that first returns what `refresh` drew for the coming paint, once."""

    def handing_over(self: DrawsOnChange) -> VisualType:
        drawn = self._drawn
        if drawn is not None:
            self._drawn = None
            return drawn
        return render(self)

    handing_over.__doc__ = render.__doc__
    return handing_over
