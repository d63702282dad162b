"""Power-preserving crossfades between two aligned renders.

A switch fades between two renders of the same music (different EQ and dynamics), which
are strongly correlated: the textbook equal-power (sin/cos) curve would then swell by up to
3 dB in the middle of the fade and can overshoot. So the gains keep the *power* of the mix
constant for the correlation actually measured over the fade: linear (gains sum to one)
for identical material, sin/cos for unrelated material (a seek), in between otherwise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.frames import Audio


def correlation(old: Audio, new: Audio) -> float:
    """Normalised correlation of two equally long stretches, in [0, 1] (negative -> 0)."""
    count = min(len(old), len(new))
    if count == 0:
        return 0.0
    a = old[:count].astype(np.float64).ravel()
    b = new[:count].astype(np.float64).ravel()
    energy = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    if energy <= 1e-20:
        return 1.0
    return min(1.0, max(0.0, float(np.dot(a, b)) / energy))


def crossfade_gains(
    offset: int, count: int, length: int, rho: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(fade-out, fade-in) gains for frames [offset, offset + count) of a `length` fade."""
    t = (np.arange(offset, offset + count, dtype=np.float64) + 0.5) / max(length, 1)
    norm = np.sqrt(t**2 + (1 - t) ** 2 + 2 * rho * t * (1 - t))
    return ((1 - t) / norm).astype(np.float32), (t / norm).astype(np.float32)


def mix(old: Audio, new: Audio, offset: int, length: int, rho: float) -> Audio:
    """Frames [offset, offset + len(new)) of a fade from `old` to `new` (both aligned)."""
    count = min(len(old), len(new))
    fade_out, fade_in = crossfade_gains(offset, count, length, rho)
    mixed = np.array(new, dtype=np.float32)
    mixed[:count] = old[:count] * fade_out[:, None] + new[:count] * fade_in[:, None]
    return mixed
