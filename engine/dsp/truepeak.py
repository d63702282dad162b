"""True-peak measurement (ITU-R BS.1770 style, 4x oversampled).

Two tools: `true_peak_db`, the reference measurement (scipy polyphase 4x) used by tests and
benchmarks, and `true_peak_near`, the fast per-frame estimate the limiter uses, given only
for the frames that can reach its threshold (`true_peak_envelope` is its dense form). The
estimate interpolates between samples only where an inter-sample peak could come near the
threshold, so quiet passages cost nothing.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from engine.frames import Planar

Frames = npt.NDArray[np.intp]
"""Frame numbers within a segment, ascending."""

OVERSAMPLING = 4
CANDIDATE_HEADROOM = 0.5
"""Stretches quieter than 6 dB below the threshold skip interpolation: an inter-sample over
of more than 6 dB needs full-scale content near Nyquist, which music does not have."""
CANDIDATE_SLICE = 1 << 13
"""Candidate frames interpolated at a time: on a loud master nearly every frame is one, and
the per-candidate scratch would otherwise be several times the chunk; this many keep it in
the core's cache (45670 candidates: 2.7 ms in slices of 8192, 4.4 in slices of 32768, 4.2
in slices of 2048, which pay numpy's per-call cost more often)."""


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


def true_peak_near(planar: Planar, threshold: float) -> tuple[Frames, npt.NDArray[np.float32]]:
    """(frames, peaks): in order, every frame whose peak of |audio| over [n, n+1) (the 3
    inter-sample points included) can reach `threshold`, and that peak. Every other frame's
    is below `threshold`.

    Inter-sample points are computed only for frames whose pair (n, n+1) comes within 6 dB of
    `threshold`, so a quiet passage costs one `abs` and a loud one a small gather; what the
    limiter needs is where the envelope is over its ceiling, a few frames in a thousand."""
    return _near(planar, sample_peaks(planar), threshold)


def sample_peaks(planar: Planar) -> npt.NDArray[np.float32]:
    """Each frame's largest |sample| over the channels."""
    peaks: npt.NDArray[np.float32] = np.abs(planar[0]).astype(np.float32, copy=False)
    for channel in planar[1:]:
        np.maximum(peaks, np.abs(channel), out=peaks)
    return peaks


def _near(
    planar: Planar, peaks: npt.NDArray[np.float32], threshold: float
) -> tuple[Frames, npt.NDArray[np.float32]]:
    hot = peaks >= threshold * CANDIDATE_HEADROOM
    hot[:-1] |= hot[1:]  # the pair (n, n+1)
    frames = np.flatnonzero(hot)
    del hot
    values = peaks[frames]
    for first in range(0, frames.size, CANDIDATE_SLICE):
        some = slice(first, first + CANDIDATE_SLICE)
        np.maximum(values[some], _between_samples(planar, frames[some]), out=values[some])
    return frames, values


def true_peak_envelope(planar: Planar, threshold: float) -> npt.NDArray[np.float32]:
    """Per-frame peak of |audio| over [n, n+1): exact wherever it can reach `threshold`,
    the sample peak elsewhere (where it stays below). The dense form of `true_peak_near`."""
    envelope = sample_peaks(planar)
    frames, values = _near(planar, envelope, threshold)
    envelope[frames] = values
    return envelope


@functools.cache
def folded_kernels() -> npt.NDArray[np.float32]:
    """The kernels folded about the middle of (n, n+1), where they are symmetric.

    Tap pairs x[n + k], x[n + 1 - k] (k = 1, 2, ...) have one weight at the middle point and
    mirrored weights at the outer two, so with s_k their sum and t_k their difference the
    middle point is sum(m_k s_k) and the outer two are A +- B, A = sum(a_k s_k) and
    B = sum(b_k t_k): the larger of their magnitudes is |A| + |B|. That is 8 array operations
    per pair instead of 12 per two taps. Returns the weights shaped (pairs, 3): m, a, b.
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


def _between_samples(planar: Planar, frames: Frames) -> npt.NDArray[np.float32]:
    """The largest inter-sample value after each of `frames`, over the channels."""
    shape = (planar.shape[0], frames.size)
    middle, outer_sum, outer_difference = (np.zeros(shape, dtype=np.float32) for _ in range(3))
    late, early, scratch = (np.empty(shape, dtype=np.float32) for _ in range(3))
    # Pair by pair, the channels together (no BLAS call: its threads would fight the render
    # threads'), into scratch that stays in cache.
    for k, (m, a, b) in enumerate(folded_kernels(), start=1):
        _taps_at(planar, frames + k, out=late)
        _taps_at(planar, frames + (1 - k), out=early)
        np.subtract(late, early, out=scratch)
        np.add(late, early, out=late)
        np.multiply(scratch, b, out=scratch)
        np.add(outer_difference, scratch, out=outer_difference)
        np.multiply(late, a, out=early)
        np.add(outer_sum, early, out=outer_sum)
        np.multiply(late, m, out=late)
        np.add(middle, late, out=middle)
    np.abs(outer_sum, out=outer_sum)
    np.abs(outer_difference, out=outer_difference)
    np.add(outer_sum, outer_difference, out=outer_sum)
    np.abs(middle, out=middle)
    np.maximum(middle, outer_sum, out=middle)
    between: npt.NDArray[np.float32] = middle.max(axis=0)
    return between


def _taps_at(planar: Planar, index: Frames, out: Planar) -> None:
    """planar[:, index] for ascending `index` into `out`, zero outside the audio (as if it
    were padded with silence)."""
    for channel, samples in zip(planar, out, strict=True):
        channel.take(index, mode="clip", out=samples)
    if index[0] < 0 or index[-1] >= planar.shape[1]:
        out[:, (index < 0) | (index >= planar.shape[1])] = 0.0


def window_true_peak(planar: Planar) -> float:
    """The true peak of `planar` as a linear value: the fast envelope, with its threshold at
    the sample peak so every frame near the maximum is interpolated."""
    if planar.size == 0:
        return 0.0
    peaks = sample_peaks(planar)
    sample_peak = float(peaks.max())
    if sample_peak == 0.0:
        return 0.0
    _, values = _near(planar, peaks, sample_peak)
    return max(sample_peak, float(values.max(initial=0.0)))
