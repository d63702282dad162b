"""Types of the compiled true-peak search (`_truepeak.c`)."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

def over(
    rows: Sequence[npt.NDArray[np.float32]],
    threshold: float,
    hot_level: float,
    weights: npt.NDArray[np.float32],
    prune_after: int,
    left_gain: float,
    start: int,
    frames_out: npt.NDArray[np.int64],
    peaks_out: npt.NDArray[np.float32],
) -> tuple[int, int]: ...
