"""The in-place DSP steps give exactly what their plain array formulas give.

Width, the dry/wet mix and the limiter write into arrays the render owns, and the limiter's
gain and the true-peak interpolation run in slices, so that a render holds no extra
chunk-sized copies. None of it may change a sample: seams and cached chunks rely on every
render of a frame being bit-identical. The limiter sums its taps and its gain windows in
its own order, so against the plain float64 formula it is checked to float32 rounding, and
against itself in other slices to the bit.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from engine.dsp import _truepeak, limiter, truepeak
from engine.dsp.chain import apply_width, mix_dry_wet
from tests.helpers import truepeak_estimate

RATE = 44_100
Planar = npt.NDArray[np.float32]


def planar_audio(seed: int, frames: int, level: float) -> Planar:
    rng = np.random.default_rng(seed)
    audio = rng.normal(0.0, level, (2, frames)).astype(np.float32)
    audio[1] = 0.6 * audio[0] + 0.4 * audio[1]  # correlated channels, like music
    return audio


def reference_width(planar: Planar, width: float) -> Planar:
    if width == 1.0:
        return planar
    moved = (planar[0] - planar[1]) * np.float32((1.0 - width) / 2)
    return np.stack([planar[0] - moved, planar[1] + moved]).astype(np.float32, copy=False)


def reference_mix(dry: Planar, wet: Planar, intensity: float, wet_gain: float) -> Planar:
    if intensity >= 1.0:
        return (wet * np.float32(wet_gain)).astype(np.float32, copy=False)
    mixed = dry * np.float32(1.0 - intensity) + wet * np.float32(intensity * wet_gain)
    return mixed.astype(np.float32, copy=False)


def reference_envelope(planar: Planar, threshold: float) -> npt.NDArray[np.float64]:
    """The envelope in float64 from a zero-padded copy of the whole segment, every tap
    summed in order, at every frame whose pair comes within 6 dB of `threshold`."""
    envelope = np.abs(planar).max(axis=0).astype(np.float64)
    pair = envelope.copy()
    pair[:-1] = np.maximum(envelope[:-1], envelope[1:])
    candidates = np.flatnonzero(pair >= threshold * truepeak.CANDIDATE_HEADROOM)
    tap_offsets, kernels = truepeak.reference_phase_kernels()
    reach = -int(tap_offsets[0])
    padded = np.pad(planar.astype(np.float64), ((0, 0), (reach, int(tap_offsets[-1]))))
    between = np.zeros(candidates.size)
    for channel in padded:
        phases = np.zeros((kernels.shape[1], candidates.size))
        for tap, weights in enumerate(kernels.astype(np.float64)):
            samples = channel[tap:][candidates]
            for phase, weight in enumerate(weights):
                phases[phase] += samples * weight
        between = np.maximum(between, np.abs(phases).max(axis=0))
    envelope[candidates] = np.maximum(envelope[candidates], between)
    return envelope


def reference_gain(planar: Planar, ceiling_db: float, origin: int) -> npt.NDArray[np.float64]:
    """The limiter's gain curve in float64 with scipy's filters and np.interp."""
    ceiling = 10 ** ((ceiling_db - limiter.MARGIN_DB) / 20)
    envelope = reference_envelope(planar, ceiling)
    needed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    frames = needed.shape[0]
    lead = origin % limiter.BLOCK_FRAMES
    blocks = math.ceil((frames + lead) / limiter.BLOCK_FRAMES)
    grid = np.ones(blocks * limiter.BLOCK_FRAMES, dtype=np.float64)
    grid[lead : lead + frames] = needed
    gain = grid.reshape(blocks, limiter.BLOCK_FRAMES).min(axis=1)
    gain = minimum_filter1d(gain, 3, mode="nearest")
    for seconds in limiter.STAGE_SECONDS:
        width = 2 * max(1, round(seconds * RATE / limiter.BLOCK_FRAMES)) + 1
        gain = minimum_filter1d(gain, width, mode="nearest")
        gain = uniform_filter1d(gain, width, mode="nearest")
    centres = np.arange(blocks) * limiter.BLOCK_FRAMES + (limiter.BLOCK_FRAMES - 1) / 2 - lead
    smooth = np.interp(np.arange(frames, dtype=np.float64), centres, gain)
    return np.minimum(smooth, needed)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    frames=st.integers(1, 3000),
    width=st.floats(0.0, 2.0),
)
def test_width_in_place_equals_the_formula(seed: int, frames: int, width: float) -> None:
    audio = planar_audio(seed, frames, 0.3)
    expected = reference_width(audio, width)
    got = apply_width(audio.copy(), width)
    assert np.array_equal(got, expected)
    mid, side = (audio[0] + audio[1]) / 2, (audio[0] - audio[1]) / 2
    np.testing.assert_allclose(got, [mid + width * side, mid - width * side], atol=1e-6)
    mono = np.stack([audio[0], audio[0]])
    assert np.array_equal(apply_width(mono.copy(), width), mono)


@pytest.mark.parametrize("frames", [0, 1, 4097])
def test_interleaved_is_the_contiguous_transpose(frames: int) -> None:
    audio = planar_audio(frames, frames, 0.3)[:, : max(0, frames - 1)]  # a view, as trimmed
    got = truepeak.interleaved(audio)
    assert got.flags.c_contiguous and got.dtype == np.float32
    assert np.array_equal(got, np.ascontiguousarray(audio.T))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    frames=st.integers(1, 3000),
    intensity=st.floats(0.0, 1.0),
    wet_gain=st.floats(0.1, 4.0),
)
def test_mix_in_place_equals_the_formula(
    seed: int, frames: int, intensity: float, wet_gain: float
) -> None:
    dry, wet = planar_audio(seed, frames, 0.3), planar_audio(seed + 1, frames, 0.3)
    expected = reference_mix(dry, wet, intensity, wet_gain)
    assert np.array_equal(mix_dry_wet(dry.copy(), wet.copy(), intensity, wet_gain), expected)


def limited_in_slices(audio: Planar, origin: int, overs: int, frames: int) -> Planar:
    """Limited with the gain applied `frames` at a time and the frames over the ceiling
    found `overs` at a time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(limiter, "SLICE_FRAMES", frames)
        patch.setattr(truepeak, "OVER_CAPACITY", overs)
        return limiter.limit_true_peak(audio.copy(), RATE, -1.0, origin_frame=origin)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    frames=st.integers(1, 5000),
    level=st.sampled_from([0.05, 0.4, 1.5]),
    origin=st.integers(0, 10**6),
)
def test_the_sliced_limiter_is_the_whole_curve(
    seed: int, frames: int, level: float, origin: int
) -> None:
    """Slices shrunk to a few hundred frames (and the overs found a few at a time), so that
    short examples cross many: the same
    samples to the bit as the shipped sizes, and the plain float64 curve to float32
    rounding (the sums are ordered differently)."""
    audio = planar_audio(seed, frames, level)
    got = limited_in_slices(audio, origin, 3, 384)
    shipped = limited_in_slices(audio, origin, truepeak.OVER_CAPACITY, limiter.SLICE_FRAMES)
    assert np.array_equal(got, shipped)
    expected = audio * reference_gain(audio, -1.0, origin)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-9)


def test_a_loud_chunk_is_limited_in_slices_exactly() -> None:
    """Several real slices at the shipped sizes: 3 s of a hot signal, every frame a
    candidate, and more frames over the ceiling than one search call returns."""
    audio = planar_audio(7, 3 * RATE, 1.2)
    got = limiter.limit_true_peak(audio.copy(), RATE, -1.0, origin_frame=12_345)
    assert truepeak.true_peak_over(audio, limiter.limiter_threshold(-1.0))[0].size > 4096
    assert np.array_equal(got, limited_in_slices(audio, 12_345, 1000, 4096))
    expected = audio * reference_gain(audio, -1.0, 12_345)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-9)
    assert truepeak.true_peak_db(got) <= -1.0 + 0.01


@pytest.mark.parametrize("origin", [0, 7, 16, 31])
def test_a_slice_holding_only_the_ramp_past_the_last_frame_is_skipped(origin: int) -> None:
    """One segment per slice: the last, after the last block's centre, may start past the
    audio when the last frame is over the ceiling."""
    for frames in range(1, 70):
        audio = np.zeros((2, frames), dtype=np.float32)
        audio[:, -1] = 1.5
        shipped = limited_in_slices(audio, origin, truepeak.OVER_CAPACITY, limiter.SLICE_FRAMES)
        assert np.array_equal(limited_in_slices(audio, origin, 256, limiter.BLOCK_FRAMES), shipped)
        assert truepeak.true_peak_db(shipped) <= -1.0


AUDIO_NEAR_A_THRESHOLD = {
    "seed": st.integers(0, 2**16),
    "level": st.sampled_from([0.05, 0.3, 0.6, 1.5]),
    "threshold": st.sampled_from([0.5, 0.9]),
}
"""`planar_audio`'s seed and level, and a threshold: the true-peak estimate's cases."""


@settings(max_examples=30, deadline=None)
@given(frames=st.integers(1, 4000), **AUDIO_NEAR_A_THRESHOLD)
def test_the_estimate_near_the_threshold_is_the_tap_by_tap_sum(
    seed: int, frames: int, level: float, threshold: float
) -> None:
    """The folded pairs give what the 20 taps summed one by one give (to float32 rounding),
    on the frames within 6 dB of the threshold, and the sample peak elsewhere."""
    audio = planar_audio(seed, frames, level)
    expected = reference_envelope(audio, threshold)
    envelope = truepeak_estimate.envelope(audio, threshold)
    np.testing.assert_allclose(envelope, expected, rtol=1e-6, atol=1e-9)
    pair = np.abs(audio).max(axis=0)
    pair[:-1] = np.maximum(pair[:-1], pair[1:])
    near = truepeak_estimate.candidates(audio, threshold)
    assert np.array_equal(near, np.flatnonzero(pair >= threshold * truepeak.CANDIDATE_HEADROOM))


def estimate_over(audio: Planar, threshold: float) -> tuple[npt.NDArray[np.intp], Planar]:
    near, peaks = truepeak_estimate.near(audio, threshold)
    over = peaks > threshold
    return near[over], peaks[over]


@settings(max_examples=60, deadline=None)
@given(
    frames=st.integers(0, 3000),
    channels=st.sampled_from([1, 2, 3]),
    capacity=st.sampled_from([1, 7, 4096]),
    trimmed=st.integers(0, 40),
    **AUDIO_NEAR_A_THRESHOLD,
)
def test_the_frames_over_are_the_estimates_to_the_bit(
    seed: int,
    frames: int,
    level: float,
    threshold: float,
    channels: int,
    capacity: int,
    trimmed: int,
) -> None:
    """The compiled search, which cuts a frame's sum short once the taps left cannot carry
    it over the threshold, finds the same frames over it, at the same peaks, as summing
    every tap in numpy; found any number at a time, in rows that are a trimmed view (as
    a render's are), with any number of channels."""
    stereo = planar_audio(seed, frames + trimmed, level)
    audio = np.concatenate([stereo, -stereo[:1]])[:channels, trimmed:]
    expected_frames, expected_peaks = estimate_over(audio, threshold)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(truepeak, "OVER_CAPACITY", capacity)
        found, values = truepeak.true_peak_over(audio, threshold)
    assert found.dtype == np.intp
    assert np.array_equal(found, expected_frames)
    assert np.array_equal(values, expected_peaks)


def test_the_frames_over_on_a_loud_chunk_are_the_estimates() -> None:
    """A chunk's worth of hot, band-limited audio, where tens of thousands of frames are
    candidates and most are dropped after the first pairs."""
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 1.0, (2, 200_003))
    audio = (noise[:, 3:] + noise[:, 2:-1] + noise[:, 1:-2] + noise[:, :-3]) / 4
    audio = (audio / np.abs(audio).max() * 1.4).astype(np.float32)
    near = truepeak_estimate.candidates(audio, 0.85)
    found, values = truepeak.true_peak_over(audio, 0.85)
    expected_frames, expected_peaks = estimate_over(audio, 0.85)
    assert 0 < found.size < near.size / 10
    assert np.array_equal(found, expected_frames)
    assert np.array_equal(values, expected_peaks)


def test_the_search_starts_where_it_is_told() -> None:
    """A call resumed from any frame finds the frames over from there on, the same."""
    audio = planar_audio(3, 5000, 0.6)
    everything, peaks = estimate_over(audio, 0.9)
    rows = list(audio)
    kernels, gain = truepeak.folded_kernels(), truepeak.pairs_left_gain(2)
    for start in (0, 1, 13, int(everything[len(everything) // 2]), 4999, 5000):
        frames = np.empty(5000, dtype=np.int64)
        values = np.empty(5000, dtype=np.float32)
        written, resume = _truepeak.over(rows, 0.9, 0.45, kernels, 2, gain, start, frames, values)
        assert resume == 5000
        assert np.array_equal(frames[:written], everything[everything >= start])
        assert np.array_equal(values[:written], peaks[everything >= start])


def test_the_search_refuses_what_it_cannot_read() -> None:
    """Wrong types and shapes are errors, not garbage read from memory."""
    rows, kernels = list(planar_audio(1, 100, 0.5)), truepeak.folded_kernels()
    frames, values = np.empty(10, dtype=np.int64), np.empty(10, dtype=np.float32)
    arguments = (0.9, 0.45, kernels, 2, 1.0, 0, frames, values)
    with pytest.raises(TypeError, match="float32"):
        _truepeak.over([rows[0].astype(np.float64)], *arguments)
    with pytest.raises(ValueError, match="channels"):
        _truepeak.over([], *arguments)
    with pytest.raises(ValueError, match="length"):
        _truepeak.over([rows[0], rows[1][:50]], *arguments)
    with pytest.raises(ValueError, match="pairs"):
        _truepeak.over(rows, 0.9, 0.45, kernels, 11, 1.0, 0, frames, values)
    with pytest.raises(TypeError, match="int64"):
        _truepeak.over(rows, 0.9, 0.45, kernels, 2, 1.0, 0, values, values)
    with pytest.raises(ValueError, match="contiguous"):
        _truepeak.over([rows[0][::2]], *arguments)


def test_the_limiters_kernels_are_resample_polys_own_filter() -> None:
    """Built with numpy (the feeder must not wait for scipy), equal to the weights read
    off scipy's 4x polyphase impulse response, which the reference measurement uses."""
    from scipy.signal import resample_poly

    centre = 64
    impulse = np.zeros(2 * centre + 1)
    impulse[centre] = 1.0
    response = resample_poly(impulse, truepeak.OVERSAMPLING, 1)
    offsets = np.arange(-12, 13)
    weights = np.array([[response[4 * (centre - d) + p] for p in range(1, 4)] for d in offsets])
    used = np.flatnonzero(np.abs(weights).max(axis=1) > 1e-7)
    tap_offsets, kernels = truepeak.reference_phase_kernels()
    assert np.array_equal(tap_offsets, offsets[used])
    assert np.array_equal(kernels, weights[used].astype(np.float32))
