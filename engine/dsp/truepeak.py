"""True-peak measurement (ITU-R BS.1770 style, 4x oversampled).

Two tools: `true_peak_db`, the reference measurement (scipy polyphase 4x) used by tests and
benchmarks, and a fast per-frame estimate, exact only where it can reach a threshold
(`true_peak_envelope`, dense; `window_true_peak`, a window's largest). The estimate
interpolates between samples only where an inter-sample peak could come near the
threshold, so quiet passages cost nothing. The limiter asks `true_peak_over` for the frames
above its ceiling only: the envelope's values there, with most sums cut short.
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


PRUNE_AFTER_PAIRS = (2, 4)
"""After how many pairs (of 10) `true_peak_over` drops the candidates out of reach."""
PRUNE_FROM = 4096
"""Fewer candidates than this are summed whole: dropping some would save less than finding
them costs."""
NEIGHBOURHOOD_FRAMES = 32
"""The blocks whose peaks bound a frame's taps (a power of 2, at least the taps' reach of
10 frames)."""
SCAN_FRAMES = 1 << 16
"""Frames `true_peak_over` finds the candidates of at a time (a multiple of the block)."""
PRUNED_SLICE = 1 << 14
"""Candidates `true_peak_over` sums at a time: after the first pairs only a few are left,
and a larger slice pays numpy's per-call cost on those fewer times."""


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


def _near(
    planar: Planar, peaks: npt.NDArray[np.float32], threshold: float
) -> tuple[Frames, npt.NDArray[np.float32]]:
    """(frames, their peaks): in order, every frame whose peak of |audio| over [n, n+1) (the
    3 inter-sample points included) can reach `threshold`, and that peak; `peaks` are the
    frames' sample peaks. Every other frame's is below `threshold`.

    Inter-sample points are computed only for frames whose pair (n, n+1) comes within 6 dB
    of `threshold`, so a quiet passage costs one `abs` and a loud one a small gather."""
    frames = _candidates(peaks, threshold)
    return frames, _with_between_samples(planar, frames, peaks[frames])


def _with_between_samples(
    planar: Planar, frames: Frames, values: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """`values` (the frames' sample peaks) raised in place to their inter-sample peaks."""
    for first in range(0, frames.size, CANDIDATE_SLICE):
        some = slice(first, first + CANDIDATE_SLICE)
        np.maximum(values[some], _between_samples(planar, frames[some]), out=values[some])
    return values


def true_peak_over(planar: Planar, threshold: float) -> tuple[Frames, npt.NDArray[np.float32]]:
    """(frames, peaks): in order, every frame whose peak of |audio| over [n, n+1) is above
    `threshold`, and that peak: where `true_peak_envelope` is above it, to the bit. What a
    limiter needs, at a fraction of the cost on a loud master.

    A candidate's sum is cut short once the pairs left cannot carry it over `threshold`:
    each of their taps is at most the largest |sample| around the frame, so they add at
    most that times the sum of their weights (`_pairs_left_gain`). On loud masters 70 to
    90% of the candidates are out of reach after 2 pairs of 10, and all but 2% after 4."""
    frames, values, blocks = _scan(planar, threshold)
    if frames.size < PRUNE_FROM:
        values = _with_between_samples(planar, frames, values)
        over = values > threshold
        return frames[over], values[over]
    around = _around(blocks)[frames // NEIGHBOURHOOD_FRAMES]
    found = [(frames[:0], values[:0])]
    for first in range(0, frames.size, PRUNED_SLICE):
        some = slice(first, first + PRUNED_SLICE)
        found.append(_over_in_slice(planar, frames[some], values[some], around[some], threshold))
    return np.concatenate([f for f, _ in found]), np.concatenate([v for _, v in found])


def _over_in_slice(
    planar: Planar,
    frames: Frames,
    values: npt.NDArray[np.float32],
    around: npt.NDArray[np.float32],
    threshold: float,
) -> tuple[Frames, npt.NDArray[np.float32]]:
    """`true_peak_over` for a slice of candidates: `values` are their sample peaks,
    `around` the largest |sample| within reach of their taps."""
    sums = _PairSums(planar.shape[0], frames.size)
    done = 0
    for upto in PRUNE_AFTER_PAIRS:
        sums.add(planar, frames, range(done, upto))
        done = upto
        reach = sums.peak()
        reach += around * np.float32(_pairs_left_gain(upto))
        kept = np.flatnonzero(np.maximum(reach, values) > threshold)
        frames, values, around = frames.take(kept), values.take(kept), around.take(kept)
        sums.keep(kept)
    sums.add(planar, frames, range(done, len(folded_kernels())))
    np.maximum(values, sums.peak(), out=values)
    over = values > threshold
    return frames[over], values[over]


@functools.cache
def _pairs_left_gain(done: int) -> float:
    """The most the pairs after the first `done` can add to a frame's peak, per unit of the
    largest |tap|: each folded sum s_k or t_k is at most 2 taps, so the middle point gains
    at most 2 sum|m_k| and an outer point 2 sum(|a_k| + |b_k|). With room for the float32
    rounding of a sum of twenty products."""
    rest = np.abs(folded_kernels()[done:].astype(np.float64)).sum(axis=0)
    return 2 * float(max(rest[0], rest[1] + rest[2])) + 2.0**-12


def _candidates(peaks: npt.NDArray[np.float32], threshold: float) -> Frames:
    """Frames whose pair (n, n+1) comes within `CANDIDATE_HEADROOM` of `threshold`."""
    hot = peaks >= threshold * CANDIDATE_HEADROOM
    hot[:-1] |= hot[1:]  # the pair (n, n+1)
    return np.flatnonzero(hot)


def _scan(
    planar: Planar, threshold: float
) -> tuple[Frames, npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(candidates, their sample peaks, each block's largest sample peak): what
    `_candidates` finds in `sample_peaks`, found `SCAN_FRAMES` at a time in scratch that
    stays in cache, with no chunk-sized array (whose page faults cost as much as the scan).

    A block's largest is found by halving, every other value against its neighbour five
    times: numpy's reduction along rows of 32 pays a per-row cost, seven times as long."""
    count, size = planar.shape[1], NEIGHBOURHOOD_FRAMES
    blocks = np.empty(-(-count // size), dtype=np.float32)
    peaks, other = (np.empty(min(count, SCAN_FRAMES) + 1, dtype=np.float32) for _ in range(2))
    frames: list[Frames] = []
    values: list[npt.NDArray[np.float32]] = []
    for start in range(0, count, SCAN_FRAMES):
        stop = min(count, start + SCAN_FRAMES)
        end = min(count, stop + 1)  # and the next frame, for the pair (n, n+1)
        scanned, scratch = peaks[: end - start], other[: end - start]
        np.abs(planar[0, start:end], out=scanned)
        for channel in planar[1:]:
            np.maximum(scanned, np.abs(channel[start:end], out=scratch), out=scanned)
        found = _candidates(scanned, threshold)
        found = found[: np.searchsorted(found, stop - start)]  # not the next frame itself
        frames.append(found + start)
        values.append(scanned.take(found))
        first_block = start // size
        own = _largest_per_block(scanned[: stop - start], size)
        blocks[first_block : first_block + own.size] = own
    if not frames:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32), blocks
    return np.concatenate(frames), np.concatenate(values), blocks


def _largest_per_block(values: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.float32]:
    """The largest of each `size` values (a power of 2; the last block may be short)."""
    whole = values.size // size
    largest = np.empty(-(-values.size // size), dtype=np.float32)
    halved = values[: whole * size]
    while halved.size > whole:
        halved = np.maximum(halved[0::2], halved[1::2])
    largest[:whole] = halved
    if whole < largest.size:
        largest[whole] = values[whole * size :].max()
    return largest


def _around(blocks: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per block, the largest of its peak and its neighbours': at least every |tap| of a
    frame in it (taps reach 10 frames, a block is 32)."""
    around = blocks.copy()
    np.maximum(around[1:], blocks[:-1], out=around[1:])
    np.maximum(around[:-1], blocks[1:], out=around[:-1])
    return around


def true_peak_envelope(planar: Planar, threshold: float) -> npt.NDArray[np.float32]:
    """Per-frame peak of |audio| over [n, n+1): exact wherever it can reach `threshold`,
    the sample peak elsewhere (where it stays below)."""
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
    sums = _PairSums(planar.shape[0], frames.size)
    sums.add(planar, frames, range(len(folded_kernels())))
    return sums.peak()


class _PairSums:
    """The folded pairs' three sums (middle point, outer sum, outer difference) for a set
    of frames, each channel apart, added pair by pair.

    Each frame's sums take the same operations in the same order whichever frames are
    beside it, so dropping frames half-way changes no other frame's value by a bit."""

    def __init__(self, channels: int, count: int) -> None:
        shape = (channels, count)
        self.middle, self.outer_sum, self.outer_difference = (
            np.zeros(shape, dtype=np.float32) for _ in range(3)
        )

    def add(self, planar: Planar, frames: Frames, pairs: range) -> None:
        """Add `pairs` (0 is the pair around the middle of (n, n+1)) for `frames`."""
        if not frames.size:
            return
        shape = self.middle.shape
        late, early, scratch = (np.empty(shape, dtype=np.float32) for _ in range(3))
        # Pair by pair, the channels together (no BLAS call: its threads would fight the
        # render threads'), into scratch that stays in cache.
        for pair in pairs:
            k = pair + 1
            m, a, b = folded_kernels()[pair]
            _taps_at(planar, frames + k, out=late)
            _taps_at(planar, frames + (1 - k), out=early)
            np.subtract(late, early, out=scratch)
            np.add(late, early, out=late)
            np.multiply(scratch, b, out=scratch)
            np.add(self.outer_difference, scratch, out=self.outer_difference)
            np.multiply(late, a, out=early)
            np.add(self.outer_sum, early, out=self.outer_sum)
            np.multiply(late, m, out=late)
            np.add(self.middle, late, out=self.middle)

    def peak(self) -> npt.NDArray[np.float32]:
        """Each frame's largest inter-sample magnitude from the pairs added, over the
        channels: the middle point's, or the larger outer point's, |A| + |B|."""
        outer = np.abs(self.outer_sum)
        np.add(outer, np.abs(self.outer_difference), out=outer)
        np.maximum(np.abs(self.middle), outer, out=outer)
        largest: npt.NDArray[np.float32] = outer.max(axis=0)
        return largest

    def keep(self, kept: Frames) -> None:
        """Go on with the frames at positions `kept` only (`take`: a boolean mask costs
        several times as much here)."""
        self.middle = self.middle.take(kept, axis=1)
        self.outer_sum = self.outer_sum.take(kept, axis=1)
        self.outer_difference = self.outer_difference.take(kept, axis=1)


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
