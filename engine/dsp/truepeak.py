"""True-peak measurement (ITU-R BS.1770 style, 4x oversampled).

Two tools: `true_peak_db`, the reference measurement (scipy polyphase 4x) used by tests and
benchmarks, and a fast per-frame estimate, exact only where it can reach a threshold. The
estimate interpolates between samples only where an inter-sample peak could come near the
threshold, so quiet passages cost nothing, with resample_poly's own filter folded about the
middle of each pair of samples (`folded_kernels`). The limiter asks `true_peak_over` for the
frames above its ceiling; the search runs compiled (`_truepeak.c`), with most sums cut short.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from engine.dsp import _truepeak
from engine.frames import Planar

Frames = npt.NDArray[np.intp]
"""Frame numbers within a segment, ascending."""

OVERSAMPLING = 4
CANDIDATE_HEADROOM = 0.5
"""Stretches quieter than 6 dB below the threshold skip interpolation: an inter-sample over
of more than 6 dB needs full-scale content near Nyquist, which music does not have."""
PRUNE_AFTER_PAIRS = 2
"""Pairs (of 10) summed before the search drops the frames out of reach: on loud masters
70 to 90% of the candidates are out of reach after 2."""
OVER_CAPACITY = 4096
"""Frames over the threshold found per call of the compiled search: a loud chunk has a few
dozen; a calibration pass pushing a window hard may have more, found in several calls."""


def interleaved(planar: Planar) -> npt.NDArray[np.float32]:
    """`planar` as (frames, channels), C-contiguous: what a render hands back. Channel by
    channel, a third of the time `np.ascontiguousarray(planar.T)` takes on a 10 s chunk."""
    audio = np.empty((planar.shape[1], planar.shape[0]), dtype=np.float32)
    for channel, samples in enumerate(planar):
        audio[:, channel] = samples
    return audio


def true_peak_db(audio: npt.NDArray[np.floating]) -> float:
    """Reference true peak in dBTP of (frames, channels) or (channels, frames) audio."""
    planar = audio if audio.shape[0] <= 8 else audio.T
    if planar.size == 0:
        return -math.inf
    # scipy loads on first use (in a render thread), not at start: 0.6 s
    from scipy.signal import resample_poly

    oversampled = resample_poly(np.asarray(planar, dtype=np.float64), OVERSAMPLING, 1, axis=1)
    peak = float(np.max(np.abs(oversampled)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


@functools.cache
def reference_phase_kernels() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The exact weights `true_peak_db`'s 4x polyphase filter gives x[n + d] at n + p/4.

    They are resample_poly's own filter (firwin: 81 taps, cutoff a quarter of Nyquist,
    Kaiser beta 5, times the factor), so the limiter's estimate and the reference
    measurement agree to float precision (a test checks them against scipy's impulse
    response). Built with numpy: the feeder limits the original and must not wait for scipy
    to load. Returns (offsets d, weights shaped (taps, 3)).
    """
    half = 10 * OVERSAMPLING
    taps = np.arange(2 * half + 1) - half
    cutoff = 1 / OVERSAMPLING
    fir = cutoff * np.sinc(cutoff * taps) * np.kaiser(2 * half + 1, 5.0)
    fir *= OVERSAMPLING / fir.sum()
    offsets = np.arange(-12, 13)
    # x[n + d] reaches the point n + p/4 through the filter's tap half + p - 4d.
    index = half - OVERSAMPLING * offsets[:, None] + np.arange(1, OVERSAMPLING)[None, :]
    inside = (index >= 0) & (index < fir.size)
    weights = np.where(inside, fir[np.clip(index, 0, fir.size - 1)], 0.0)
    used = np.flatnonzero(np.abs(weights).max(axis=1) > 1e-7)
    return offsets[used], weights[used].astype(np.float32)


def sample_peaks(planar: Planar) -> npt.NDArray[np.float32]:
    """Each frame's largest |sample| over the channels."""
    peaks: npt.NDArray[np.float32] = np.abs(planar[0]).astype(np.float32, copy=False)
    for channel in planar[1:]:
        np.maximum(peaks, np.abs(channel), out=peaks)
    return peaks


def true_peak_over(planar: Planar, threshold: float) -> tuple[Frames, npt.NDArray[np.float32]]:
    """(frames, peaks): in order, every frame whose peak of |audio| over [n, n+1) (the
    sample and the 3 inter-sample points, the largest over the channels) is above
    `threshold`, and that peak. Only frames whose pair (n, n+1) comes within
    `CANDIDATE_HEADROOM` of it are interpolated; the others' peaks are their samples'.

    A candidate's sum is cut short once the pairs left cannot carry it over `threshold`:
    each of their taps is at most the largest |sample| around the frame, so they add at
    most that times the sum of their weights (`pairs_left_gain`)."""
    rows = [np.ascontiguousarray(row, dtype=np.float32) for row in planar]
    count = planar.shape[1]
    hot_level = threshold * CANDIDATE_HEADROOM
    left_gain = pairs_left_gain(PRUNE_AFTER_PAIRS)
    found: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = []
    start = 0
    while start < count or not found:
        frames = np.empty(OVER_CAPACITY, dtype=np.int64)
        peaks = np.empty(OVER_CAPACITY, dtype=np.float32)
        written, start = _truepeak.over(
            rows,
            threshold,
            hot_level,
            folded_kernels(),
            PRUNE_AFTER_PAIRS,
            left_gain,
            start,
            frames,
            peaks,
        )
        found.append((frames[:written], peaks[:written]))
    if len(found) == 1:
        return found[0][0].astype(np.intp, copy=False), found[0][1]
    frames_over = np.concatenate([f for f, _ in found]).astype(np.intp, copy=False)
    return frames_over, np.concatenate([p for _, p in found])


@functools.cache
def pairs_left_gain(done: int) -> float:
    """The most the pairs after the first `done` can add to a frame's peak, per unit of the
    largest |tap|: each folded sum s_k or t_k is at most 2 taps, so the middle point gains
    at most 2 sum|m_k| and an outer point 2 sum(|a_k| + |b_k|). With room for the float32
    rounding of a sum of twenty products."""
    rest = np.abs(folded_kernels()[done:].astype(np.float64)).sum(axis=0)
    return 2 * float(max(rest[0], rest[1] + rest[2])) + 2.0**-12


@functools.cache
def folded_kernels() -> npt.NDArray[np.float32]:
    """The kernels folded about the middle of (n, n+1), where they are symmetric.

    Tap pairs x[n + k], x[n + 1 - k] (k = 1, 2, ...) have one weight at the middle point and
    mirrored weights at the outer two, so with s_k their sum and t_k their difference the
    middle point is sum(m_k s_k) and the outer two are A +- B, A = sum(a_k s_k) and
    B = sum(b_k t_k): the larger of their magnitudes is |A| + |B|. That is 5 products and
    sums per pair instead of 6 per tap. Returns the weights shaped (pairs, 3): m, a, b.
    """
    offsets, kernels = reference_phase_kernels()
    pairs = int(offsets[-1])
    late, early = np.arange(1, pairs + 1) - offsets[0], -np.arange(pairs) - offsets[0]
    symmetric = offsets[0] == 1 - pairs and np.array_equal(kernels[late, 1], kernels[early, 1])
    if not (symmetric and np.array_equal(kernels[late, 2], kernels[early, 0])):
        raise AssertionError("the 4x kernels are not symmetric about the middle of a pair")
    outer_late, outer_early = kernels[late, 0].astype(np.float64), kernels[early, 0]
    weights = np.stack(
        [kernels[late, 1], (outer_late + outer_early) / 2, (outer_late - outer_early) / 2], axis=1
    )
    return weights.astype(np.float32)


def window_true_peak(planar: Planar) -> float:
    """The true peak of `planar` as a linear value: the frames over its sample peak, with
    the threshold there so every frame near the maximum is interpolated."""
    if planar.size == 0:
        return 0.0
    sample_peak = float(sample_peaks(planar).max())
    if sample_peak == 0.0:
        return 0.0
    _, values = true_peak_over(planar, sample_peak)
    return max(sample_peak, float(values.max(initial=0.0)))
