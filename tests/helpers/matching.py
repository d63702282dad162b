"""The promise every processed preset keeps: loudness-matched to the original, under the
ceiling."""

from __future__ import annotations

import numpy as np

from engine.dsp.loudness import integrated_loudness
from engine.dsp.truepeak import true_peak_db

MATCH_LU = 0.5
CEILING_DBTP = -1.0


def assert_matched_and_under_the_ceiling(
    rendered: np.ndarray, original: np.ndarray, rate: int
) -> None:
    """Within MATCH_LU of the original as played, true peak at or below the ceiling."""
    gap = integrated_loudness(rendered, rate) - integrated_loudness(original, rate)
    assert abs(gap) <= MATCH_LU, f"{gap:+.2f} LU from the original"
    assert true_peak_db(rendered) <= CEILING_DBTP
