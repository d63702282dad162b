"""The in-place DSP steps give exactly what their plain array formulas give.

Width, the dry/wet mix and the limiter write into arrays the render owns, and the limiter's
gain and the true-peak interpolation run in slices, so that a render holds no extra
chunk-sized copies. None of it may change a sample: seams and cached chunks rely on every
render of a frame being bit-identical.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from engine.dsp import limiter, truepeak
from engine.dsp.chain import apply_width, mix_dry_wet

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
    mid = 0.5 * (planar[0] + planar[1])
    side = (0.5 * width) * (planar[0] - planar[1])
    return np.stack([mid + side, mid - side]).astype(np.float32, copy=False)


def reference_mix(dry: Planar, wet: Planar, intensity: float, wet_gain: float) -> Planar:
    if intensity >= 1.0:
        return (wet * np.float32(wet_gain)).astype(np.float32, copy=False)
    mixed = dry * np.float32(1.0 - intensity) + wet * np.float32(intensity * wet_gain)
    return mixed.astype(np.float32, copy=False)


def reference_envelope(planar: Planar, threshold: float) -> npt.NDArray[np.float32]:
    """The envelope from a zero-padded copy of the whole segment, gathered in one go."""
    envelope = np.abs(planar).max(axis=0).astype(np.float32)
    pair = envelope.copy()
    pair[:-1] = np.maximum(envelope[:-1], envelope[1:])
    candidates = np.flatnonzero(pair >= threshold * truepeak.CANDIDATE_HEADROOM)
    tap_offsets, kernels = truepeak.reference_phase_kernels()
    reach = -int(tap_offsets[0])
    padded = np.pad(planar, ((0, 0), (reach, int(tap_offsets[-1]))))
    between = np.zeros(candidates.size, dtype=np.float32)
    for channel in padded:
        phases = np.zeros((kernels.shape[1], candidates.size), dtype=np.float32)
        for tap, weights in enumerate(kernels):
            samples = channel[tap:][candidates]
            for phase, weight in enumerate(weights):
                phases[phase] += samples * weight
        between = np.maximum(between, np.abs(phases).max(axis=0))
    envelope[candidates] = np.maximum(envelope[candidates], between)
    return envelope


def reference_limit(planar: Planar, ceiling_db: float, origin: int) -> Planar:
    """The limiter with its whole gain curve in float64 and one float64 product."""
    ceiling = 10 ** ((ceiling_db - limiter.MARGIN_DB) / 20)
    envelope = reference_envelope(planar, ceiling)
    if float(envelope.max(initial=0.0)) <= ceiling:
        return planar.copy()
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
    return (planar * np.minimum(smooth, needed)[None, :]).astype(np.float32, copy=False)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    frames=st.integers(1, 3000),
    width=st.floats(0.0, 2.0),
)
def test_width_in_place_equals_the_formula(seed: int, frames: int, width: float) -> None:
    audio = planar_audio(seed, frames, 0.3)
    expected = reference_width(audio, width)
    assert np.array_equal(apply_width(audio.copy(), width), expected)


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


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    frames=st.integers(1, 5000),
    level=st.sampled_from([0.05, 0.4, 1.5]),
    origin=st.integers(0, 10**6),
)
def test_the_sliced_limiter_equals_the_whole_curve(
    seed: int, frames: int, level: float, origin: int
) -> None:
    """Slices shrunk to a few hundred frames, so that short examples cross many."""
    audio = planar_audio(seed, frames, level)
    expected = reference_limit(audio, -1.0, origin)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(limiter, "SLICE_FRAMES", 384)
        patch.setattr(truepeak, "CANDIDATE_SLICE", 256)
        got = limiter.limit_true_peak(audio.copy(), RATE, -1.0, origin_frame=origin)
    assert np.array_equal(got, expected)


def test_a_loud_chunk_is_limited_in_slices_exactly() -> None:
    """Several real slices at the shipped sizes: 3 s of a hot signal, every frame a candidate."""
    audio = planar_audio(7, 3 * RATE, 1.2)
    expected = reference_limit(audio, -1.0, 12_345)
    got = limiter.limit_true_peak(audio.copy(), RATE, -1.0, origin_frame=12_345)
    assert np.array_equal(got, expected)
    assert truepeak.true_peak_db(got) <= -1.0 + 0.01


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
