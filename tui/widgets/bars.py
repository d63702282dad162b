"""Text drawing shared by the panels: bars in eighth blocks and sizes in megabytes.

Pure functions of numbers to strings, so each panel's look can be tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from engine.vocabulary import MB, TierName

"""Decimal megabytes, as the engine counts its budgets."""
EIGHTHS = " ▏▎▍▌▋▊▉"
"""Partial blocks by eighths of a cell, left-aligned: a bar grows smoothly, not per cell."""
TIER_COLOURS: dict[str, str] = {
    TierName.L1: "$success",
    TierName.L2: "$primary-lighten-1",
    TierName.L3: "$accent-darken-2",
}
"""One colour per tier (fastest green to slowest amber), the same in every panel."""
NO_VALUE = "–"
"""Shown instead of a number that has no samples yet, so 0 never means "unknown"."""


def horizontal_bar(fraction: float, width: int) -> str:
    """A bar `width` cells long filled to `fraction` (clamped to 0..1) in eighths of a cell.

    The unfilled part is spaces, so the caller's background style draws the track.
    """
    if width <= 0:
        return ""
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, remainder = divmod(eighths, 8)
    bar = "█" * full + (EIGHTHS[remainder] if remainder else "")
    return bar.ljust(width)


def megabytes(size_bytes: int) -> str:
    """Bytes as megabytes with one decimal: budgets are tens to hundreds of MB."""
    return f"{size_bytes / MB:.1f}"


def percent(fraction: float) -> str:
    """A fraction as a whole percentage, the resolution a glance needs."""
    return f"{fraction:.0%}"


def first_fitting(forms: Sequence[Content], width: int) -> Content:
    """The first of `forms` (fullest first) that fits `width` cells; the last one if none
    does (the panel cuts it): a narrow terminal reads a shorter line, not a cut one."""
    return next((form for form in forms if form.cell_length <= width), forms[-1])
