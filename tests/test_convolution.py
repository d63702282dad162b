"""The convolution stage: partitioned convolution exact across windows, the linear-phase
EQ's design against the plugins' response, the generated room."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import oaconvolve

from engine.dsp.convolution import PARTITION_FRAMES, PartitionedKernel, convolve
from engine.dsp.fir import TOLERANCE_DB, linear_phase_kernel, measured_magnitude
from engine.dsp.kernels import preset_kernel
from engine.dsp.room import room_response, uniform
from engine.presets.model import EqBand, Preset, RoomSettings

RATE = 44_100
STUDIO = (
    EqBand("highpass", 25.0),
    EqBand("low_shelf", 110.0, -1.5),
    EqBand("peak", 1500.0, 4.0, 0.7),
    EqBand("high_shelf", 12000.0, 4.5),
)
ROOM = RoomSettings(500.0, -4.0, 7)


def noise(frames: int, seed: int = 3) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((2, frames)) * 0.1).astype(np.float32)


def test_it_is_the_centred_convolution() -> None:
    kernel = np.random.default_rng(1).standard_normal(9001) * np.hanning(9001)
    signal = noise(100_000)
    out = convolve(signal, PartitionedKernel.of(kernel, 4500), origin_frame=0)
    for channel in range(2):
        expected = oaconvolve(signal[channel].astype(np.float64), kernel)[4500 : 4500 + 100_000]
        np.testing.assert_allclose(out[channel], expected, rtol=0, atol=2e-6)


@pytest.mark.parametrize("origin", [0, 1, PARTITION_FRAMES - 1, 3 * PARTITION_FRAMES, 123_457])
@pytest.mark.parametrize("centre", [0, 4096])
def test_a_window_computes_the_frames_within_its_reach_bit_for_bit(
    origin: int, centre: int
) -> None:
    """Partitions on the track's grid: a window anywhere gives the continuous render's
    bits, beyond `reach` from its ends."""
    taps = 2 * centre + 1 if centre else 20_000
    kernel = PartitionedKernel.of(np.random.default_rng(2).standard_normal(taps), centre)
    track = noise(400_000)
    whole = convolve(track, kernel)
    stop = origin + 150_000
    part = convolve(track[:, origin:stop], kernel, origin_frame=origin)
    before, after = kernel.reach
    # Before the track's start there is silence in both: no reach to keep from frame 0.
    exact_from = origin + before if origin else 0
    assert np.array_equal(
        part[:, exact_from - origin : -after], whole[:, exact_from : stop - after]
    )


def test_the_linear_phase_eq_is_symmetric_and_within_tolerance_of_the_plugins() -> None:
    kernel = linear_phase_kernel(STUDIO, RATE)
    assert kernel.size % 2 == 1 and np.array_equal(kernel, kernel[::-1])
    frequencies, target = measured_magnitude(STUDIO, RATE)
    realised = np.abs(np.fft.rfft(kernel, 2 * (frequencies.size - 1)))
    band = (frequencies >= 20) & (frequencies <= 20_000) & (target >= 0.01)
    error = np.abs(20 * np.log10(realised[band] / target[band]))
    assert error.max() <= TOLERANCE_DB


def test_the_lowest_band_sets_the_length() -> None:
    def taps(lowest: float) -> int:
        bands = (EqBand("low_shelf", lowest, 3.0), EqBand("high_shelf", 8000.0, -2.0))
        return linear_phase_kernel(bands, RATE).size

    assert taps(25.0) > taps(100.0) > taps(400.0)
    assert linear_phase_kernel(STUDIO, RATE).size == 8193  # a 25 Hz high-pass: 186 ms


def test_the_room_is_causal_unit_energy_and_the_same_every_time() -> None:
    room = room_response(ROOM, RATE)
    assert room.size == round(0.5 * RATE)
    assert int(np.argmax(np.abs(room))) == 0
    assert np.sum(room**2) == pytest.approx(1.0)
    reverberant = np.sum(room[1:] ** 2) / room[0] ** 2
    assert 10 * np.log10(reverberant) == pytest.approx(ROOM.level_db)
    room_response.cache_clear()
    assert np.array_equal(room, room_response(ROOM, RATE))
    assert not np.array_equal(room, room_response(RoomSettings(500.0, -4.0, 8), RATE))


def test_the_rooms_noise_is_pinned_to_the_bit_generators_stream() -> None:
    """Numbers from PCG64's raw stream (stable across numpy versions), not a Generator's."""
    assert uniform(7, 3).tolist() == pytest.approx(
        [0.25019093320933394, 0.794427601939151, 0.551371380490387], abs=1e-15
    )


def test_the_stage_keeps_the_music_where_it_was() -> None:
    """Linear-phase EQ and room: an impulse comes out largest at its own frame."""
    preset = Preset("x", "", eq=STUDIO, phase="linear", room=ROOM)
    kernel = preset_kernel(preset, RATE)
    assert kernel is not None
    impulse = np.zeros((2, 60_000), dtype=np.float32)
    impulse[:, 30_000] = 0.5
    out = convolve(impulse, kernel, origin_frame=0)
    assert int(np.argmax(np.abs(out[0]))) == 30_000


def test_presets_without_a_stage_have_none() -> None:
    assert preset_kernel(Preset("x", "", eq=STUDIO), RATE) is None
    assert preset_kernel(Preset("x", "", phase="linear"), RATE) is None
