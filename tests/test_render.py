"""Rendering: seamless chunks, loudness matching, true peak, distinct presets, determinism."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st
from scipy.signal import welch

from engine.config import EngineConfig
from engine.dsp.calibration import (
    SAMPLE_WINDOWS,
    loudness_slope,
    measure_windows,
    window_starts,
)
from engine.dsp.calibrations import LoudnessCalibrations
from engine.dsp.limiter import limit_true_peak, limiter_threshold
from engine.dsp.loudness import LoudnessMeter, integrated_loudness
from engine.dsp.render import Renderer, chunk_bounds, chunk_count
from engine.dsp.render_speed import RenderSpeed
from engine.dsp.truepeak import true_peak_db
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.presets.book import PresetBook
from engine.vocabulary import PRESET_ORDER
from tests.helpers.audio_files import SAMPLE_AUDIO, write_quiet_in_half_the_windows
from tests.helpers.matching import assert_matched_and_under_the_ceiling

RATE = 44_100
SAMPLE_TRACKS = sorted(SAMPLE_AUDIO.glob("*.flac"))
PROCESSED = [name for name in PRESET_ORDER if name != "original"]
OCTAVE_CENTRES_HZ = [31.5 * 2**k for k in range(10)]


def test_the_sample_library_is_there() -> None:
    assert len(SAMPLE_TRACKS) >= 4


def source_of(path: Path) -> TrackSource:
    return TrackSource(probe(path, RATE), RATE)


@cache
def decoded(name: str) -> TrackSource:
    return source_of(SAMPLE_AUDIO / name)


@cache
def samples(name: str) -> np.ndarray:
    track = decoded(name)
    return track.read(0, track.frames)


@cache
def renderer(chunk_seconds: float = 10.0, mode: str = "matched") -> Renderer:
    return Renderer(EngineConfig(chunk_seconds=chunk_seconds, loudness_mode=mode))


@cache
def continuous(name: str, preset: str, mode: str = "matched") -> np.ndarray:
    return renderer(10.0, mode).render_track(decoded(name), preset, 1.0)


def chunked(name: str, preset: str, chunk_seconds: float) -> np.ndarray:
    track = decoded(name)
    render = renderer(chunk_seconds)
    count = chunk_count(track.frames, render.config.chunk_frames)
    return np.concatenate([render.render_chunk(track, preset, 1.0, i) for i in range(count)])


def max_abs_dbfs(difference: np.ndarray) -> float:
    peak = float(np.max(np.abs(difference)))
    return -np.inf if peak == 0 else 20 * np.log10(peak)


def octave_levels_db(audio: np.ndarray) -> np.ndarray:
    frequencies, power = welch(audio.mean(axis=1), RATE, nperseg=8192)
    levels = []
    for centre in OCTAVE_CENTRES_HZ:
        band = (frequencies >= centre / np.sqrt(2)) & (frequencies < centre * np.sqrt(2))
        levels.append(10 * np.log10(power[band].sum() + 1e-20))
    return np.array(levels)


def crest_factor_db(audio: np.ndarray) -> float:
    rms = np.sqrt(np.mean(audio.astype(np.float64) ** 2))
    return float(20 * np.log10(np.max(np.abs(audio)) / rms))


TRACK_NAMES = [path.name for path in SAMPLE_TRACKS]


@pytest.mark.parametrize("name", TRACK_NAMES)
@pytest.mark.parametrize("preset", PRESET_ORDER)
def test_chunks_of_10_and_7_seconds_equal_a_continuous_render(name: str, preset: str) -> None:
    reference = continuous(name, preset)
    ten = chunked(name, preset, 10.0)
    seven = chunked(name, preset, 7.0)
    assert ten.shape == seven.shape == reference.shape
    assert max_abs_dbfs(ten - reference) <= -80.0
    assert max_abs_dbfs(seven - reference) <= -80.0
    assert max_abs_dbfs(ten - seven) <= -80.0


@pytest.mark.parametrize("name", TRACK_NAMES)
@pytest.mark.parametrize("preset", PROCESSED)
def test_presets_are_loudness_matched_and_never_over_the_ceiling(name: str, preset: str) -> None:
    original, rendered = continuous(name, "original"), continuous(name, preset)
    assert_matched_and_under_the_ceiling(rendered, original, RATE)


@pytest.mark.parametrize("name", TRACK_NAMES)
def test_original_is_the_source_at_a_plain_gain_under_the_ceiling(name: str) -> None:
    gain = renderer().original_gain(decoded(name))
    assert gain <= 1.0
    np.testing.assert_array_equal(continuous(name, "original"), samples(name) * np.float32(gain))
    if true_peak_db(samples(name)) <= -1.0:
        assert gain == 1.0


@pytest.mark.parametrize("name", TRACK_NAMES)
def test_the_original_can_be_kept_bit_exact(name: str) -> None:
    exact = Renderer(EngineConfig(original_bit_exact=True))
    np.testing.assert_array_equal(exact.render_track(decoded(name), "original", 1.0), samples(name))


@pytest.mark.parametrize("name", TRACK_NAMES)
def test_every_pair_of_processed_presets_sounds_different(name: str) -> None:
    renders = {preset: continuous(name, preset) for preset in PROCESSED}
    bands = {preset: octave_levels_db(audio) for preset, audio in renders.items()}
    crest = {preset: crest_factor_db(audio) for preset, audio in renders.items()}
    for first, second in itertools.combinations(PROCESSED, 2):
        band_distance = float(np.max(np.abs(bands[first] - bands[second])))
        crest_distance = abs(crest[first] - crest[second])
        assert max(band_distance, crest_distance) >= 1.5, (first, second)


@pytest.mark.parametrize("name", [TRACK_NAMES[0], TRACK_NAMES[2]])
@pytest.mark.parametrize("preset", ["punchy", "gentle"])
def test_per_preset_loudness_targets_mode(name: str, preset: str) -> None:
    rendered = continuous(name, preset, "targets")
    target = {"punchy": -11.0, "gentle": -16.0}[preset]
    assert abs(integrated_loudness(rendered, RATE) - target) <= 1.0
    assert true_peak_db(rendered) <= -1.0


def test_render_is_deterministic_across_renderers() -> None:
    track = decoded(TRACK_NAMES[0])
    first = Renderer(EngineConfig()).render_chunk(track, "adaptive", 0.8, 1)
    second = Renderer(EngineConfig()).render_chunk(track, "adaptive", 0.8, 1)
    np.testing.assert_array_equal(first, second)


def test_intensity_is_a_dry_wet_mix_in_exact_buckets() -> None:
    track = decoded(TRACK_NAMES[2])
    render = renderer()
    dry = render.render_chunk(track, "warm", 0.0, 0)
    np.testing.assert_allclose(dry, samples(TRACK_NAMES[2])[: dry.shape[0]], atol=1e-6)
    # 0.51 and 0.49 fall in the 0.50 bucket: same render, same cache key.
    np.testing.assert_array_equal(
        render.render_chunk(track, "warm", 0.51, 0), render.render_chunk(track, "warm", 0.49, 0)
    )
    half = render.render_chunk(track, "warm", 0.5, 0)
    full = render.render_chunk(track, "warm", 1.0, 0)
    assert max_abs_dbfs(half - dry) < max_abs_dbfs(full - dry)


def test_chunk_bounds_cover_the_track_exactly() -> None:
    frames, chunk = 1_000_003, 441_000
    spans = [chunk_bounds(i, frames, chunk) for i in range(chunk_count(frames, chunk))]
    assert spans[0][0] == 0 and spans[-1][1] == frames
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    with pytest.raises(IndexError):
        chunk_bounds(len(spans), frames, chunk)


def test_silent_and_tiny_tracks_render_without_errors(tmp_path: Path) -> None:

    sf.write(tmp_path / "silence.wav", np.zeros((RATE * 3, 2)), RATE)
    sf.write(tmp_path / "tiny.wav", np.full((10, 2), 0.5), RATE)
    for name in ("silence.wav", "tiny.wav"):
        track = source_of(tmp_path / name)
        for preset in PRESET_ORDER:
            out = renderer().render_chunk(track, preset, 1.0, 0)
            assert out.shape == (track.frames, 2) and np.isfinite(out).all()
            assert true_peak_db(out) <= -1.0 or preset == "original"


def test_renderers_share_the_caches_they_are_given_even_when_empty() -> None:
    """Each renderer must use the caches it is given, or every render thread samples and
    calibrates every track again."""
    calibrations = LoudnessCalibrations()
    first = Renderer(EngineConfig(), calibrations)
    second = Renderer(EngineConfig(), calibrations)
    assert first.calibrations is second.calibrations is calibrations
    track = decoded(TRACK_NAMES[0])
    assert first.sample(track) is second.sample(track)


def test_a_computation_that_raises_leaves_no_gate_and_is_asked_again() -> None:
    """A failed calibration (a file that went away mid-sample) must not leave its gate
    behind: the next render asks again and gets the value."""
    calibrations = LoudnessCalibrations()
    key = ("track", "warm", "matched")

    def failing() -> float:
        raise OSError("gone")

    def gain(compute: Callable[[], float]) -> float:
        return calibrations.shared_gain(key, 1, lambda _index: compute(), lambda parts: parts[0])

    with pytest.raises(OSError):
        gain(failing)
    assert calibrations._sharing == {}
    assert gain(lambda: 0.5) == 0.5
    assert gain(failing) == 0.5  # computed once, then kept


def test_two_threads_calibrating_one_preset_share_its_windows() -> None:
    """At a track's start both render threads want the playing preset's calibration: the
    second renders sample windows beside the first instead of waiting idle, and the gain
    is the one a thread alone measures, to the bit."""
    track = decoded(TRACK_NAMES[1])
    alone = Renderer(EngineConfig())
    expected = alone.plan(track, "warm").wet_gain

    calibrations = LoudnessCalibrations()
    first, second = Renderer(EngineConfig(), calibrations), Renderer(EngineConfig(), calibrations)
    first.sample(track)
    first_in, second_in = threading.Event(), threading.Event()
    windows: dict[str, list[int]] = {"first": [], "second": []}

    def held(name: str, renderer: Renderer) -> None:
        render_window = renderer._wet_window

        def window(*args: Any) -> Any:
            windows[name].append(args[2])
            if name == "first" and len(windows[name]) == 1:
                first_in.set()
                assert second_in.wait(10.0)
            if name == "second":
                second_in.set()
            return render_window(*args)

        renderer._wet_window = window  # type: ignore[method-assign]

    held("first", first)
    held("second", second)
    gains: dict[str, float] = {}
    one = threading.Thread(target=lambda: gains.update(first=first.plan(track, "warm").wet_gain))
    one.start()
    assert first_in.wait(10.0)
    gains["second"] = second.plan(track, "warm").wet_gain
    one.join(10.0)
    assert windows["first"] and windows["second"]
    assert sorted(windows["first"] + windows["second"]) == list(range(SAMPLE_WINDOWS))
    assert gains == {"first": expected, "second": expected}


def test_a_limiter_pass_meters_again_only_the_windows_the_limiter_touches() -> None:
    """A calibration's limiter pass reads a window the limiter leaves untouched from its
    first measure, scaled: the loudness is the one every window limited and metered again
    gives, at gains where the limiter takes peaks off some windows and not others."""
    render = Renderer(EngineConfig())
    track = decoded("01_neon_drive.flac")
    preset = render.presets.get("bright")
    key = (track.content_key, "bright", "matched")
    count, window, _finish = render._calibration(track, preset, key)
    windows = [window(index) for index in range(count)]
    settle, ceiling = render.sample(track).settle_frames, render.config.true_peak_ceiling_db
    peaks_db = sorted(20 * np.log10(w.true_peak) for w in windows)
    threshold_db = 20 * np.log10(limiter_threshold(ceiling))
    for loudest_touched in (1, count // 2, count - 1):  # gains where some windows are over
        between = (peaks_db[-loudest_touched] + peaks_db[-loudest_touched - 1]) / 2
        gain_db = threshold_db - between
        scale = np.float32(10 ** (gain_db / 20))
        over = [w.true_peak * scale > limiter_threshold(ceiling) for w in windows]
        assert sum(over) == loudest_touched
        meters = [
            measure_windows(
                [limit_true_peak(np.multiply(w.kept, scale, dtype=np.float32), RATE, ceiling)],
                settle,
                RATE,
            )
            for w in windows
        ]
        every_window = LoudnessMeter.joined(RATE, meters).integrated()
        assert render._limited_loudness(windows, settle, gain_db) == pytest.approx(
            every_window, abs=1e-3
        )


@pytest.fixture(scope="module")
def hot_master(tmp_path_factory: pytest.TempPathFactory) -> TrackSource:
    """A loud master: -7 LUFS-ish, peaking 2 dB over full scale (a float file)."""
    rng = np.random.default_rng(7)
    seconds = np.arange(30 * RATE) / RATE
    beat = 0.6 * np.sin(2 * np.pi * 55 * seconds) * (1 + np.sign(np.sin(2 * np.pi * 2 * seconds)))
    music = beat[:, None] + 0.35 * rng.standard_normal((seconds.size, 2))
    music *= 1.26 / np.max(np.abs(music))  # +2 dBFS sample peak
    path = tmp_path_factory.mktemp("hot") / "hot.wav"
    sf.write(path, music.astype(np.float32), RATE, subtype="FLOAT")
    return source_of(path)


def test_a_hot_master_lowers_the_reference_not_the_presets(hot_master: TrackSource) -> None:
    render = Renderer(EngineConfig())
    gain = render.original_gain(hot_master)
    assert 20 * np.log10(gain) < -2.0  # the original comes down by its excess, plainly
    levels = {}
    for preset in PRESET_ORDER:
        audio = render.render_track(hot_master, preset, 1.0)
        levels[preset] = integrated_loudness(audio, RATE)
        assert true_peak_db(audio) <= -1.0, preset
    assert max(levels.values()) - min(levels.values()) <= 0.5, levels
    untouched = Renderer(EngineConfig(original_bit_exact=True))
    exact = untouched.render_range(hot_master, "original", 1.0, 0, RATE)
    np.testing.assert_array_equal(exact, hot_master.read(0, RATE))


def test_a_loudness_slope_is_fitted_only_where_the_windows_can_show_one() -> None:
    dry = [-30.0, -24.0, -18.0, -12.0]
    assert loudness_slope(dry, [d + 3.0 for d in dry]) == pytest.approx(1.0)  # an EQ
    assert loudness_slope(dry, [0.5 * d - 8.0 for d in dry]) == pytest.approx(0.5)  # a squeeze
    assert loudness_slope(dry[:2], [0.5 * d for d in dry[:2]]) == 1.0  # too few windows
    assert loudness_slope([-20.0, -20.2, -20.1], [-10.0, -12.0, -11.0]) == 1.0  # too alike
    assert loudness_slope([-80.0, -75.0, -20.0, -10.0], [-9.0, -9.0, -9.0, -9.0]) == 1.0


@pytest.fixture(scope="module")
def quiet_in_half_the_windows(tmp_path_factory: pytest.TempPathFactory) -> TrackSource:
    folder = tmp_path_factory.mktemp("halves")
    return source_of(write_quiet_in_half_the_windows(folder / "halves.flac"))


def test_known_whole_track_loudness_keeps_compressed_presets_matched(
    quiet_in_half_the_windows: TrackSource,
) -> None:
    """The compressing presets follow the source's level by less than 1 LU per LU, so the
    sample's miss sets them apart from the original; the whole track's loudness, once
    known, takes that out."""
    track = quiet_in_half_the_windows
    whole = integrated_loudness(track.read(0, track.frames), RATE)
    sampled = Renderer(EngineConfig())
    assert whole - sampled.sample(track).loudness_lufs > 1.0
    informed = Renderer(EngineConfig(), LoudnessCalibrations(whole_loudness=lambda _key: whole))

    def spread(render: Renderer) -> float:
        levels = [
            integrated_loudness(render.render_track(track, preset, 1.0), RATE)
            for preset in ("original", "punchy", "bright")
        ]
        return max(levels) - min(levels)

    assert spread(informed) <= 0.25
    assert spread(informed) < spread(sampled) - 0.1


def test_a_gain_set_from_the_sample_alone_is_provisional_until_replaced(
    quiet_in_half_the_windows: TrackSource,
) -> None:
    track = quiet_in_half_the_windows
    whole: list[float] = []
    calibrations = LoudnessCalibrations(whole_loudness=lambda _key: whole[0] if whole else None)
    render = Renderer(EngineConfig(), calibrations)
    sampled = render.plan(track, "punchy").wet_gain
    key = track.content_key
    assert calibrations.provisional_presets(key) == ["punchy"]
    epoch, others = calibrations.epoch(key, "punchy"), calibrations.epoch(key, "warm")
    whole.append(integrated_loudness(track.read(0, track.frames), RATE))
    assert render.plan(track, "punchy").wet_gain == sampled  # in use until replaced
    again = render.whole_track_gain(track, "punchy")
    assert again != pytest.approx(sampled)
    assert render.plan(track, "punchy").wet_gain == sampled  # computing it changed nothing
    calibrations.install(key, "punchy", "matched", again)
    assert calibrations.epoch(key, "punchy") != epoch  # its renders begun before are stale
    assert calibrations.epoch(key, "warm") == others  # another preset's are not
    assert calibrations.provisional_presets(key) == []
    assert render.plan(track, "punchy").wet_gain == again


@pytest.mark.parametrize(
    ("name", "preset", "renders_again"),
    [("", "punchy", False), ("04_hum_line.flac", "hot", True)],
)
def test_a_recalibration_equals_a_calibration_that_knew_the_whole_track(
    tmp_path: Path,
    quiet_in_half_the_windows: TrackSource,
    name: str,
    preset: str,
    renders_again: bool,
) -> None:
    """What the first calibration measured sets the gain against the whole track without
    rendering the sample again, unless the limiter would then take something off (the hot
    preset on a track whose sample read it 0.5 LU too loud)."""
    track = decoded(name) if name else quiet_in_half_the_windows
    file = tmp_path / "presets.toml"
    file.write_text(LOUD_PRESET)
    whole: list[float] = []
    speed = RenderSpeed()
    render = Renderer(
        EngineConfig(),
        LoudnessCalibrations(whole_loudness=lambda _key: whole[0] if whole else None),
        PresetBook(RATE, file),
        speed,
    )
    sampled = render.plan(track, preset).wet_gain
    whole.append(integrated_loudness(track.read(0, track.frames), RATE))
    before = speed.noted
    again = render.whole_track_gain(track, preset)
    informed = Renderer(
        EngineConfig(),
        LoudnessCalibrations(whole_loudness=lambda _key: whole[0]),
        PresetBook(RATE, file),
    )
    assert again == pytest.approx(informed.plan(track, preset).wet_gain, rel=1e-6)
    assert again != pytest.approx(sampled)
    assert (speed.noted > before) is renders_again


LOUD_PRESET = """
[[preset]]
name = "hot"
eq = [
    { type = "low_shelf", frequency_hz = 100, gain_db = 10 },
    { type = "high_shelf", frequency_hz = 6000, gain_db = 9 },
    { type = "lowpass", frequency_hz = 16000 },
]
compressor = { threshold_db = -40, ratio = 8, attack_ms = 1, release_ms = 60 }
width = 1.8
"""


@pytest.mark.parametrize("name", [TRACK_NAMES[0], TRACK_NAMES[2]])
def test_a_listeners_preset_is_matched_limited_and_seamless(tmp_path: Path, name: str) -> None:
    file = tmp_path / "presets.toml"
    file.write_text(LOUD_PRESET)
    config = EngineConfig()
    render = Renderer(config, presets=PresetBook(RATE, file))
    track = decoded(name)
    whole = render.render_track(track, "hot", 1.0)
    original = integrated_loudness(continuous(name, "original"), RATE)
    assert abs(integrated_loudness(whole, RATE) - original) <= 0.5
    assert true_peak_db(whole) <= -1.0
    count = chunk_count(track.frames, config.chunk_frames)
    chunks = np.concatenate([render.render_chunk(track, "hot", 1.0, i) for i in range(count)])
    assert max_abs_dbfs(chunks - whole) <= -80.0


@given(st.integers(1, 60), st.integers(0, 5_000))
def test_sample_windows_cover_a_short_track_whole(settle: int, frames: int) -> None:
    """Evenly spread from the start to the end; on a track shorter than the windows side
    by side, up to as many measured stretches long, no frame goes unmeasured but the
    first window's settling."""
    measure, count = 5 * settle, 8
    span = settle + measure
    starts = window_starts(frames, span, count)
    assert starts[0] == 0 and starts == sorted(starts)
    if frames <= span:
        assert starts == [0]
        return
    assert len(starts) == count and starts[-1] + span == frames
    if frames <= count * measure + settle:
        measured_to = span
        for start in starts[1:]:
            assert start + settle <= measured_to  # no gap before this stretch
            measured_to = start + span
