"""Audio analysis: features stay in range on any input and tell sounds apart the way the
adaptive preset and the predictor need; loudness matches BS.1770; the cache is a bounded LRU."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyloudnorm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.signal import iirpeak, lfilter

from engine.library import analysis
from engine.library.analysis import (
    FEATURE_NAMES,
    OCTAVE_CENTRES_HZ,
    AnalysisCache,
    Features,
    TrackAnalysis,
    analyse,
)
from engine.library.tracks import load_track

RATE = 44_100
CHUNK = RATE * 2
SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"

Stereo = npt.NDArray[np.float32]


# --- signals ----------------------------------------------------------------------------------


def stereo(mono: npt.NDArray[np.float64]) -> Stereo:
    return np.repeat(mono[:, None], 2, axis=1).astype(np.float32)


def seconds(duration: float) -> npt.NDArray[np.float64]:
    return np.arange(int(duration * RATE)) / RATE


def sine(frequency: float, peak: float = 0.3, duration: float = 4.0) -> Stereo:
    return stereo(peak * np.sin(2 * np.pi * frequency * seconds(duration)))


def white_noise(rms: float = 0.1, duration: float = 4.0, seed: int = 1) -> Stereo:
    return stereo(rms * np.random.default_rng(seed).standard_normal(int(duration * RATE)))


def sung_vowel(f0: float = 220.0, duration: float = 4.0) -> Stereo:
    """A sawtooth with 5.5 Hz vibrato through three formant resonances (the vowel /a/)."""
    t = seconds(duration)
    phase = np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5.5 * t))) / RATE
    saw = 2 * (phase % 1.0) - 1
    voice = np.zeros_like(saw)
    for rank, formant in enumerate((730.0, 1090.0, 2440.0)):
        b, a = iirpeak(formant, formant / 80.0, fs=RATE)
        voice += lfilter(b, a, saw) / (rank + 1)
    return stereo(0.3 * voice / np.max(np.abs(voice)))


def formant_noise(duration: float = 4.0) -> Stereo:
    """Noise through the same formants: a voice's envelope without its harmonics."""
    noise = np.random.default_rng(2).standard_normal(int(duration * RATE))
    shaped = np.zeros_like(noise)
    for rank, formant in enumerate((730.0, 1090.0, 2440.0)):
        b, a = iirpeak(formant, formant / 80.0, fs=RATE)
        shaped += lfilter(b, a, noise) / (rank + 1)
    return stereo(0.3 * shaped / np.max(np.abs(shaped)))


def click_track(bpm: float = 120.0, duration: float = 6.0) -> Stereo:
    clicks = np.zeros(int(duration * RATE))
    clicks[:: int(RATE * 60 / bpm)] = 0.8
    return stereo(clicks)


def features_of(samples: Stereo) -> Features:
    return analyse(samples, RATE, CHUNK).features


def assert_valid(result: TrackAnalysis) -> None:
    for features in (result.features, *result.chunk_features):
        for value in features.as_vector():
            assert math.isfinite(value) and 0.0 <= value <= 1.0
    assert -70.0 <= result.loudness_lufs <= 10.0
    assert math.isfinite(result.peak_dbfs) and result.peak_dbfs >= -120.0
    assert len(result.band_levels_db) == len(OCTAVE_CENTRES_HZ) == 10
    assert all(-120.0 <= level <= 0.0 for level in result.band_levels_db)


# --- the Features type ------------------------------------------------------------------------


def test_feature_names_match_the_fields_and_the_vector_order() -> None:
    assert tuple(field.name for field in dataclasses.fields(Features)) == FEATURE_NAMES
    features = Features(0.1, 0.2, 0.3, 0.4, 0.5)
    assert features.as_vector() == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert Features.neutral().as_vector() == (0.5,) * 5


def test_features_are_sanitised_on_construction() -> None:
    features = Features(float("nan"), 2.0, -1.0, 0.3, float("inf"))
    assert features.as_vector() == (0.5, 1.0, 0.0, 0.3, 0.5)


# --- loudness and peak ------------------------------------------------------------------------


def test_loudness_of_a_minus_20_dbfs_sine_in_both_channels_is_minus_20_lufs() -> None:
    """BS.1770 sums channel powers: a 1 kHz sine peaking at -20 dBFS reads -23.0 LUFS in one
    channel and -20.0 LUFS (+3 dB) when both channels carry it, as a stereo track does."""
    tone = sine(1000.0, peak=0.1, duration=5.0)
    assert analyse(tone, RATE, CHUNK).loudness_lufs == pytest.approx(-20.0, abs=0.1)
    left_only = tone.copy()
    left_only[:, 1] = 0.0
    assert analyse(left_only, RATE, CHUNK).loudness_lufs == pytest.approx(-23.0, abs=0.1)
    reference = pyloudnorm.Meter(RATE).integrated_loudness(tone.astype(np.float64))
    # The meter filters in float32 (the reference in float64): a thousandth of an LU.
    assert analyse(tone, RATE, CHUNK).loudness_lufs == pytest.approx(reference, abs=1e-3)


def test_loudness_of_input_shorter_than_a_gating_block_is_measured_not_refused() -> None:
    short = sine(1000.0, peak=0.1, duration=0.1)
    assert analyse(short, RATE, CHUNK).loudness_lufs == pytest.approx(-20.0, abs=0.5)


def test_silence_reads_minus_70_lufs_and_minus_120_dbfs_without_failing() -> None:
    result = analyse(np.zeros((RATE, 2), np.float32), RATE, CHUNK)
    assert_valid(result)
    assert result.loudness_lufs == -70.0
    assert result.peak_dbfs == -120.0
    assert not result.failed
    assert result.features.energy == 0.0
    assert result.features.tempo_energy == 0.0


def test_sample_peak_in_dbfs() -> None:
    result = analyse(sine(440.0, peak=0.5), RATE, CHUNK)
    assert result.peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.01)


# --- discrimination ---------------------------------------------------------------------------


def test_noise_is_bright_and_a_bass_sine_is_dark() -> None:
    noise, bass, mid = features_of(white_noise()), features_of(sine(60.0)), features_of(sine(1e3))
    assert noise.brightness > 0.9
    assert bass.brightness < 0.1
    assert bass.brightness < mid.brightness < noise.brightness


def test_a_sung_vowel_is_more_vocal_than_bass_noise_or_formant_shaped_noise() -> None:
    bass = features_of(sine(60.0)).vocal_presence
    noise = features_of(white_noise()).vocal_presence
    shaped = features_of(formant_noise()).vocal_presence
    assert bass < 0.1
    for f0 in (150.0, 220.0, 440.0, 600.0):
        vowel = features_of(sung_vowel(f0)).vocal_presence
        assert vowel > 0.6, f0
        assert vowel > max(bass, noise, shaped) + 0.4, f0


def test_a_steady_tone_has_no_dynamics_and_no_pulse() -> None:
    for tone in (sine(440.0), sine(60.0), sung_vowel()):
        features = features_of(tone)
        assert features.dynamics < 0.2
        assert features.tempo_energy < 0.05


def test_a_120_bpm_click_track_has_a_strong_pulse_and_wide_dynamics() -> None:
    clicks = features_of(click_track(120.0))
    assert clicks.tempo_energy > 0.6
    assert clicks.dynamics > 0.6
    assert features_of(click_track(60.0)).tempo_energy < clicks.tempo_energy
    assert features_of(white_noise()).tempo_energy < 0.15


def test_a_loud_signal_has_more_energy_than_a_quiet_one() -> None:
    loud, quiet = features_of(sine(440.0, peak=0.5)), features_of(sine(440.0, peak=0.02))
    assert loud.energy > quiet.energy + 0.4
    assert features_of(sine(440.0, peak=1.0)).energy == pytest.approx(1.0, abs=0.05)


def test_a_dc_offset_adds_neither_energy_nor_bass() -> None:
    quiet = sine(1000.0, peak=0.02)
    offset = features_of(quiet + np.float32(0.5))
    assert offset.energy == pytest.approx(features_of(quiet).energy, abs=0.02)
    assert offset.brightness == pytest.approx(features_of(quiet).brightness, abs=0.02)


def test_band_levels_show_where_the_energy_is() -> None:
    tone = analyse(sine(1000.0), RATE, CHUNK).band_levels_db
    at_1k = OCTAVE_CENTRES_HZ.index(1000.0)
    assert tone[at_1k] > -0.5
    assert max(tone[:at_1k] + tone[at_1k + 1 :]) < -30
    white = analyse(white_noise(), RATE, CHUNK).band_levels_db
    assert list(white) == sorted(white), "white noise doubles its power every octave"
    assert white[-1] - white[-2] == pytest.approx(3.0, abs=1.0)


def test_chunks_follow_the_content() -> None:
    silence = np.zeros((3 * RATE, 2), np.float32)
    silence_then_noise = np.concatenate([silence, white_noise(0.1, 3.5)])
    result = analyse(silence_then_noise, RATE, RATE)
    assert len(result.chunk_features) == 7  # 6.5 s in 1 s chunks: the partial one counts
    energies = [chunk.energy for chunk in result.chunk_features]
    assert energies[:3] == [0.0, 0.0, 0.0]
    assert all(energy > 0.4 for energy in energies[3:])
    assert 0.0 < result.features.energy < max(energies)


def test_chunk_length_zero_or_longer_than_the_track_gives_one_chunk() -> None:
    tone = sine(440.0, duration=1.0)
    for chunk_frames in (0, -5, 10 * RATE):
        result = analyse(tone, RATE, chunk_frames)
        assert len(result.chunk_features) == 1
        assert result.chunk_features[0] == result.features


def test_features_do_not_depend_on_the_engine_rate() -> None:
    def two_partials(rate: int) -> Stereo:
        t = np.arange(4 * rate) / rate
        return stereo(0.3 * np.sin(2 * np.pi * 220 * t) + 0.15 * np.sin(2 * np.pi * 1100 * t))

    reference = analyse(two_partials(RATE), RATE, RATE).features
    for rate in (22_050, 48_000):
        features = analyse(two_partials(rate), rate, rate).features
        for name in FEATURE_NAMES:
            assert getattr(features, name) == pytest.approx(getattr(reference, name), abs=0.05)


def test_analysis_is_deterministic() -> None:
    """The cache keys on content: the same samples must always give the same analysis."""
    mixture = sung_vowel(duration=2.0) + white_noise(0.02, 2.0)
    assert analyse(mixture, RATE, RATE) == analyse(mixture.copy(), RATE, RATE)


# --- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "samples",
    [
        pytest.param(np.zeros((1, 2), np.float32), id="one sample"),
        pytest.param(np.full((1, 2), 0.7, np.float32), id="one loud sample"),
        pytest.param(np.full((300, 2), np.nan, np.float32), id="all NaN"),
        pytest.param(np.full((5000, 2), np.inf, np.float32), id="all Inf"),
        pytest.param(white_noise(0.1, 0.01), id="shorter than a frame"),
        pytest.param(np.full((RATE, 2), 0.5, np.float32), id="pure DC"),
        pytest.param(np.sign(sine(100.0, 1.0)).astype(np.float32), id="full-scale square"),
        pytest.param(white_noise(0.3), id="white noise"),
        pytest.param(np.full((2000, 2), 3e38, np.float32), id="float32 max"),
        pytest.param(np.linspace(-1, 1, 3000, dtype=np.float32), id="mono vector"),
        pytest.param(np.ones((3000, 6), np.float32) * 0.1, id="5.1"),
    ],
)
def test_weird_input_never_raises(samples: Stereo) -> None:
    result = analyse(samples, RATE, 1000)
    assert_valid(result)
    assert not result.failed
    assert len(result.chunk_features) == math.ceil(samples.shape[0] / 1000)


def test_nan_is_treated_as_silence_and_the_input_is_not_modified() -> None:
    tone = sine(440.0, duration=1.0)
    holed = tone.copy()
    holed[::7] = np.nan
    before = holed.copy()
    result = analyse(holed, RATE, CHUNK)
    assert_valid(result)
    np.testing.assert_array_equal(holed, before)
    zeroed = np.where(np.isnan(holed), 0.0, holed).astype(np.float32)
    assert result == analyse(zeroed, RATE, CHUNK)


def test_unanalysable_input_falls_back_to_neutral_and_says_so() -> None:
    for result in (
        analyse(np.zeros((0, 2), np.float32), RATE, CHUNK),
        analyse(sine(440.0, duration=0.5), 0, 1000),
        analyse(np.zeros((10, 0), np.float32), RATE, CHUNK),
    ):
        assert result.failed
        assert result.features == Features.neutral()
        assert_valid(result)
    assert len(analyse(sine(440.0, duration=0.5), 0, 1000).chunk_features) == 23


def test_a_failing_feature_becomes_neutral_and_the_others_stand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(analysis, "_vocal_presence", broken)
    result = analyse(sine(60.0), RATE, CHUNK)
    assert not result.failed
    assert result.features.vocal_presence == 0.5
    assert result.features.brightness < 0.1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    samples=st.integers(0, 6000).flatmap(
        lambda frames: arrays(
            np.float32,
            (frames, 2),
            elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
        )
    ),
    chunk_frames=st.integers(-10, 8000),
    sample_rate=st.sampled_from([8_000, 22_050, 44_100, 48_000, 96_000]),
)
def test_any_array_yields_features_in_range(
    samples: Stereo, chunk_frames: int, sample_rate: int
) -> None:
    result = analyse(samples, sample_rate, chunk_frames)
    assert_valid(result)
    expected_chunks = (
        0
        if samples.shape[0] == 0
        else math.ceil(samples.shape[0] / (chunk_frames if chunk_frames > 0 else samples.shape[0]))
    )
    assert len(result.chunk_features) == expected_chunks
    assert result.failed == (samples.shape[0] == 0)


def test_a_minute_of_audio_is_analysed_quickly() -> None:
    """The budget is 0.5 s per minute of audio on one core; allow a busy test machine 3x."""
    minute = np.concatenate([sung_vowel(duration=30.0), white_noise(0.1, 30.0)])
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = analyse(minute, RATE, 10 * RATE)
        timings.append(time.perf_counter() - started)
    assert len(result.chunk_features) == 6
    assert min(timings) < 1.5, timings


# --- cache ------------------------------------------------------------------------------------


def counting_analyse(monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> list[str]:
    """Replace analyse with a recorder; returns the list of keys it was called for."""
    calls: list[str] = []
    real = analysis.analyse

    def recorded(samples: Stereo, sample_rate: int, chunk_frames: int) -> TrackAnalysis:
        calls.append(f"{sample_rate}/{chunk_frames}")
        time.sleep(delay)
        return real(samples, sample_rate, chunk_frames)

    monkeypatch.setattr(analysis, "analyse", recorded)
    return calls


def test_cache_returns_the_same_analysis_and_keys_on_rate_and_chunk_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = counting_analyse(monkeypatch)
    cache = AnalysisCache()
    tone = sine(440.0, duration=0.5)
    first = cache.get_or_compute("abc", tone, RATE, 1000)
    assert cache.get_or_compute("abc", tone, RATE, 1000) is first
    cache.get_or_compute("abc", tone, RATE, 2000)
    cache.get_or_compute("abc", tone, 48_000, 1000)
    assert len(calls) == 3
    assert len(cache) == 3


def test_cache_is_bounded_and_evicts_the_least_recently_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = counting_analyse(monkeypatch)
    cache = AnalysisCache(max_entries=2)
    tone = sine(440.0, duration=0.5)
    cache.get_or_compute("a", tone, RATE, 1000)
    cache.get_or_compute("b", tone, RATE, 1000)
    cache.get_or_compute("a", tone, RATE, 1000)  # a is now the most recent
    cache.get_or_compute("c", tone, RATE, 1000)  # evicts b
    assert len(cache) == 2
    assert len(calls) == 3
    cache.get_or_compute("a", tone, RATE, 1000)
    assert len(calls) == 3
    cache.get_or_compute("b", tone, RATE, 1000)
    assert len(calls) == 4
    assert len(cache) == 2


def test_cache_computes_once_when_threads_ask_together(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_analyse(monkeypatch, delay=0.1)
    cache = AnalysisCache(max_entries=4)
    tone = sine(440.0, duration=0.5)
    results: list[TrackAnalysis] = []
    lock = threading.Lock()

    def worker() -> None:
        result = cache.get_or_compute("same", tone, RATE, 1000)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 8
    assert all(result is results[0] for result in results)
    assert len(calls) == 1


# --- the sample library -----------------------------------------------------------------------


SAMPLE_FILES = sorted(SAMPLE_AUDIO.glob("*.flac"))


@pytest.mark.skipif(not SAMPLE_FILES, reason="no sample_audio/*.flac generated yet")
def test_sample_tracks_have_valid_and_distinct_features() -> None:
    vectors = {}
    for path in SAMPLE_FILES:
        decoded = load_track(path, RATE)
        result = analyse(decoded.samples, RATE, 10 * RATE)
        assert_valid(result)
        assert not result.failed
        assert result.loudness_lufs > -50.0
        vectors[path.name] = np.array(result.features.as_vector())
    names = list(vectors)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            distance = np.max(np.abs(vectors[first] - vectors[second]))
            assert distance > 0.05, (first, second, vectors[first], vectors[second])
