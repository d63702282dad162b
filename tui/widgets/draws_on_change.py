"""A panel that asks for a repaint only when its drawing changes.

The panels are fed at 4 and 10 Hz with figures finer than they show (a playhead in frames,
a rate to more digits than printed), and every reactive change repainted the panel and sent
the terminal its lines again: most of the app's CPU while music played.
"""

from __future__ import annotations

from typing import Any, Self

from textual.geometry import Region
from textual.widget import Widget


class DrawsOnChange(Widget):
    """A plain repaint whose drawing, size, theme and hover state equal the last one's is
    skipped; a layout, a recompose or a repaint of given regions always goes through."""

    _last_drawing: tuple[Any, ...] | None = None

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if repaint and not (regions or layout or recompose) and self.is_mounted:
            drawing = (self.render(), self.size, self.app.theme, self.mouse_hover)
            if drawing == self._last_drawing:
                return self
            self._last_drawing = drawing
        else:
            self._last_drawing = None
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
