"""A panel that asks for a repaint only when its drawing changes.

The panels are fed at 4 and 10 Hz with figures finer than they show (a playhead in frames,
a rate to more digits than printed), and every reactive change repainted the panel and sent
the terminal its lines again: most of the app's CPU while music played.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from textual.geometry import Region
from textual.visual import VisualType
from textual.widget import Widget


class DrawsOnChange(Widget):
    """A plain repaint whose drawing, size, theme and hover state equal the last one's is
    skipped; a layout, a recompose or a repaint of given regions always goes through.

    The drawing made to compare is the one painted next: a subclass's `render` hands it
    over once instead of drawing the same figures twice.
    """

    _last_drawing: tuple[Any, ...] | None = None
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
            drawing = (drawn, self.size, self.app.theme, self.mouse_hover)
            if drawing == self._last_drawing:
                return self
            self._last_drawing = drawing
            self._drawn = drawn
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
