"""The streaming loudness meter equals a whole-signal measurement, piece by piece."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dsp.loudness import SILENCE_LUFS, LoudnessMeter, integrated_loudness
from tests.helpers.audio_files import SAMPLE_AUDIO

TRACKS = sorted(SAMPLE_AUDIO.glob("*.flac"))


@pytest.mark.parametrize("path", TRACKS, ids=lambda p: p.name)
def test_fed_in_pieces_it_reads_what_pyloudnorm_reads_of_the_whole(path) -> None:
    audio, rate = sf.read(path, dtype="float64", always_2d=True)
    meter = LoudnessMeter(rate)
    for start in range(0, len(audio), 12_345):
        meter.feed(audio[start : start + 12_345])
    reference = pyloudnorm.Meter(rate).integrated_loudness(audio)
    # Filtered in float32 against the reference's float64: within a thousandth of an LU.
    assert meter.integrated() == pytest.approx(reference, abs=1e-3)


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(1, 44_099), rate=st.sampled_from([44_100, 48_000, 96_000]))
def test_where_the_pieces_are_cut_changes_nothing(cut: int, rate: int) -> None:
    rng = np.random.default_rng(cut)
    audio = 0.1 * rng.standard_normal((3 * rate, 2))
    pieces = LoudnessMeter(rate)
    pieces.feed(audio[:cut])
    pieces.feed(audio[cut:])
    assert pieces.integrated() == pytest.approx(integrated_loudness(audio, rate), abs=1e-9)


def test_stretches_are_measured_together_without_blocks_across_the_gap() -> None:
    rate = 44_100
    loud = np.full((rate, 2), 0.5)
    quiet = np.full((rate, 2), 0.05)
    meter = LoudnessMeter(rate)
    meter.feed(loud)
    meter.segment()
    meter.feed(quiet)
    both = meter.block_powers()
    assert len(both) == 2 * 7  # 1 s holds seven 400 ms blocks a 100 ms step apart
    settled = LoudnessMeter(rate)
    settled.feed(loud)
    settled.reset_steps()  # what came before only settled the filters
    settled.feed(quiet)
    assert settled.integrated() < integrated_loudness(loud, rate)


def test_each_stretch_is_also_read_alone_and_an_unfed_stretch_is_not_counted() -> None:
    rate = 44_100
    loud = np.full((rate, 2), 0.5)
    quiet = np.full((rate, 2), 0.05)
    meter = LoudnessMeter(rate)
    meter.segment()  # nothing fed yet: still the first stretch
    meter.feed(loud)
    meter.segment()
    meter.feed(quiet)
    alone = meter.stretch_loudness()
    assert alone == pytest.approx([integrated_loudness(a, rate) for a in (loud, quiet)])
    assert alone[0] - alone[1] == pytest.approx(20.0, abs=0.01)


@settings(max_examples=20, deadline=None)
@given(gain=st.floats(0.01, 8.0), seed=st.integers(0, 1000))
def test_a_scaled_meter_reads_the_audio_made_that_much_louder(gain: float, seed: int) -> None:
    """The K-weighting is linear: stretches measured once read, scaled, what metering the
    louder audio again reads, stretch by stretch and together."""
    rate = 44_100
    rng = np.random.default_rng(seed)
    pieces = [0.05 * rng.standard_normal((rate, 2)), 0.2 * rng.standard_normal((2 * rate, 2))]
    once, again = LoudnessMeter(rate), LoudnessMeter(rate)
    for piece in pieces:
        once.segment()
        once.feed(piece)
        again.segment()
        again.feed(piece * gain)
    scaled = once.scaled(gain)
    assert scaled.integrated() == pytest.approx(again.integrated(), abs=1e-6)
    assert scaled.stretch_loudness() == pytest.approx(again.stretch_loudness(), abs=1e-6)


def test_meters_joined_read_as_one_meter_fed_their_stretches() -> None:
    rate = 44_100
    loud, quiet = np.full((rate, 2), 0.5), np.full((2 * rate, 2), 0.05)
    one = LoudnessMeter(rate)
    one.feed(loud)
    one.segment()
    one.feed(quiet)
    apart = [LoudnessMeter(rate), LoudnessMeter(rate)]
    apart[0].feed(loud)
    apart[1].feed(quiet)
    joined = LoudnessMeter.joined(rate, apart)
    assert joined.integrated() == one.integrated()
    assert joined.stretch_loudness() == one.stretch_loudness()
    assert LoudnessMeter.joined(rate, []).integrated() == SILENCE_LUFS


def test_silence_and_too_short_audio_read_as_silence() -> None:
    assert integrated_loudness(np.zeros((44_100, 2)), 44_100) == SILENCE_LUFS
    assert integrated_loudness(np.full((100, 2), 0.5), 44_100) == SILENCE_LUFS
