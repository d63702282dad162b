"""The one percentile every figure uses, so a p99 means the same in each report, and the
one running estimate the engine's measured costs follow."""

from __future__ import annotations

import math


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0..1) of the sorted values, nan for none: the element at
    index floor(fraction x n), clamped to the last."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def smoothed(old: float | None, new: float, weight: float) -> float:
    """A running estimate moved `weight` (0..1) of the way to the newest measure: the
    first measure as it is."""
    return new if old is None else old + weight * (new - old)
