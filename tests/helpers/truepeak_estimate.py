"""The true-peak estimate in numpy, every folded pair summed for every candidate: the
oracle the compiled search (engine/dsp/_truepeak.c) is held to, bit for bit.

Its float32 sums are taken in the order the search takes them (per pair: s = late + early,
t = late - early, then B += t b, A += s a, middle += s m), so where the search finds a frame
over a threshold, this finds it too, at the same value to the bit. It is written the plain
way, whole arrays at once: a test's audio is short.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.dsp import truepeak

Planar = npt.NDArray[np.float32]


def candidates(planar: Planar, threshold: float) -> npt.NDArray[np.intp]:
    """Frames whose pair (n, n+1) comes within `CANDIDATE_HEADROOM` of `threshold`."""
    peaks = truepeak.sample_peaks(planar)
    hot = peaks >= threshold * truepeak.CANDIDATE_HEADROOM
    hot[:-1] |= hot[1:]
    return np.flatnonzero(hot)


def near(planar: Planar, threshold: float) -> tuple[npt.NDArray[np.intp], Planar]:
    """(candidates, their peaks over [n, n+1)): the sample peak or the largest
    inter-sample point, over the channels."""
    frames = candidates(planar, threshold)
    values = truepeak.sample_peaks(planar)[frames]
    count = planar.shape[1]
    for channel in planar:
        middle, outer_sum, outer_difference = (
            np.zeros(frames.size, dtype=np.float32) for _ in range(3)
        )
        for pair, (m, a, b) in enumerate(truepeak.folded_kernels()):
            k = pair + 1
            late, early = (_taps(channel, frames + offset, count) for offset in (k, 1 - k))
            s, t = late + early, late - early
            outer_difference += t * b
            outer_sum += s * a
            middle += s * m
        outer = np.abs(outer_sum) + np.abs(outer_difference)
        np.maximum(values, np.maximum(np.abs(middle), outer), out=values)
    return frames, values


def envelope(planar: Planar, threshold: float) -> Planar:
    """Per-frame peak over [n, n+1): the estimate at the candidates, the sample peak
    elsewhere (where it stays below `threshold`)."""
    values = truepeak.sample_peaks(planar)
    frames, peaks = near(planar, threshold)
    values[frames] = peaks
    return values


def _taps(channel: npt.NDArray[np.float32], index: npt.NDArray[np.intp], count: int) -> Planar:
    """channel[index], zero outside the audio."""
    inside = (index >= 0) & (index < count)
    taps = np.zeros(index.size, dtype=np.float32)
    taps[inside] = channel[index[inside]]
    return taps
