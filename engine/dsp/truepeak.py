"""True-peak measurement (ITU-R BS.1770 style, 4x oversampled).

Two tools: `true_peak_db`, the reference measurement (scipy polyphase 4x) used by tests and
benchmarks, and `true_peak_envelope`, the fast per-sample estimate the limiter uses. The
estimate interpolates between samples only where an inter-sample peak could come near the
ceiling, so quiet passages cost nothing.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

Planar = npt.NDArray[np.float32]
"""Channel-major float32 audio shaped (channels, frames), as pedalboard uses it."""

OVERSAMPLING = 4
CANDIDATE_HEADROOM = 0.5
"""Stretches quieter than 6 dB below the threshold skip interpolation: an inter-sample over
of more than 6 dB needs full-scale content near Nyquist, which music does not have."""
CANDIDATE_SLICE = 1 << 15
"""Candidate frames interpolated at a time: on a loud master nearly every frame is one,
and the per-candidate scratch would otherwise be several times the chunk."""


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


def true_peak_envelope(planar: Planar, threshold: float) -> npt.NDArray[np.float32]:
    """Per-frame peak of |audio| over [n, n+1), the 3 inter-sample points included.

    Inter-sample points are computed only for frames whose pair (n, n+1) comes within 6 dB of
    `threshold`, so a quiet passage costs one `abs` and a loud one a small gather.
    """
    envelope: npt.NDArray[np.float32] = np.abs(planar[0]).astype(np.float32)
    for channel in planar[1:]:
        np.maximum(envelope, np.abs(channel), out=envelope)
    pair_peak = envelope.copy()
    np.maximum(envelope[:-1], envelope[1:], out=pair_peak[:-1])
    candidates = np.flatnonzero(pair_peak >= threshold * CANDIDATE_HEADROOM)
    del pair_peak
    if candidates.size == 0:
        return envelope
    for first in range(0, candidates.size, CANDIDATE_SLICE):
        some = candidates[first : first + CANDIDATE_SLICE]
        envelope[some] = np.maximum(envelope[some], _between_samples(planar, some))
    return envelope


def _between_samples(planar: Planar, candidates: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
    """The largest inter-sample value after each candidate frame, over the channels."""
    between = np.zeros(candidates.size, dtype=np.float32)
    frames = planar.shape[1]
    tap_offsets, kernels = reference_phase_kernels()
    for channel in planar:
        # Tap by tap (no BLAS call: its own threads would fight the render threads).
        phases = np.zeros((kernels.shape[1], candidates.size), dtype=np.float32)
        scratch = np.empty(candidates.size, dtype=np.float32)
        for offset, weights in zip(tap_offsets, kernels, strict=True):
            samples = _taps_at(channel, candidates + offset, frames)
            for phase, weight in enumerate(weights):
                np.multiply(samples, weight, out=scratch)
                np.add(phases[phase], scratch, out=phases[phase])
        np.maximum(between, np.abs(phases).max(axis=0), out=between)
    return between


def _taps_at(
    channel: npt.NDArray[np.float32], index: npt.NDArray[np.intp], frames: int
) -> npt.NDArray[np.float32]:
    """channel[index], zero outside the audio (as if it were padded with silence)."""
    samples = channel.take(index, mode="clip")
    samples[(index < 0) | (index >= frames)] = 0.0
    return samples


def window_true_peak(planar: Planar) -> float:
    """The true peak of `planar` as a linear value: the fast envelope, with its threshold at
    the sample peak so every frame near the maximum is interpolated."""
    if planar.size == 0:
        return 0.0
    sample_peak = float(np.max(np.abs(planar)))
    if sample_peak == 0.0:
        return 0.0
    return float(np.max(true_peak_envelope(planar, sample_peak)))
