"""Tests for engine.library.tracks: decoding good files, refusing or repairing bad ones, fuzzing.

Every file is made here (numpy + soundfile + raw bytes) under pytest's tmp_path.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import TrackEmpty, TrackError, TrackInvalid, TrackMissing, TrackUnreadable
from engine.library.scan import probe
from engine.library.tracks import (
    DecodedTrack,
    Track,
    fingerprint_file,
    load_track,
    resample_to,
    to_stereo,
    track_id_for,
)

RATE = 44_100
Floats = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- helpers


def sine(
    seconds: float = 1.0,
    rate: int = RATE,
    channels: int = 2,
    freq: float = 1000.0,
    amplitude: float = 0.5,
) -> Floats:
    t = np.arange(round(seconds * rate)) / rate
    mono = amplitude * np.sin(2 * np.pi * freq * t)
    return np.repeat(mono[:, None], channels, axis=1)


def encode(data: Floats, rate: int = RATE, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def wav_header(
    *,
    rate: int = RATE,
    channels: int = 2,
    bits: int = 16,
    data_size: int,
    riff_size: int | None = None,
    format_tag: int = 1,
) -> bytes:
    """A canonical 44-byte PCM WAV header, with every field under the caller's control."""
    align = channels * bits // 8
    fmt_chunk = struct.pack(
        "<HHIIHH", format_tag, channels, rate, (rate * align) & 0xFFFFFFFF, align, bits
    )
    riff = 36 + data_size if riff_size is None else riff_size
    return (
        b"RIFF"
        + struct.pack("<I", riff & 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt_chunk
        + b"data"
        + struct.pack("<I", data_size & 0xFFFFFFFF)
    )


def dominant_frequency(samples: npt.NDArray[np.floating], rate: int) -> float:
    mono = samples[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    return float(np.fft.rfftfreq(mono.size, 1 / rate)[int(np.argmax(spectrum))])


def assert_valid(decoded: DecodedTrack) -> None:
    """What every successfully loaded track must satisfy, whatever the input."""
    samples = decoded.samples
    assert isinstance(decoded.track, Track)
    assert samples.dtype == np.float32
    assert samples.flags.c_contiguous
    assert samples.ndim == 2 and samples.shape[1] == 2
    assert samples.shape[0] > 0
    assert decoded.track.frames == samples.shape[0]
    assert np.isfinite(samples).all()
    assert decoded.track.duration_seconds == pytest.approx(samples.shape[0] / RATE)
    for warning in decoded.track.warnings:
        assert "\n" not in warning and warning.strip() == warning and warning


def assert_one_line(error: TrackError, path: Path) -> None:
    message = str(error)
    assert "\n" not in message and "\r" not in message
    assert path.name in message
    assert message.startswith(f"{path.name}: ")
    assert error.path == path


def load(path: Path) -> DecodedTrack:
    decoded = load_track(path, RATE)
    assert_valid(decoded)
    return decoded


def mp3_supported() -> bool:
    try:
        encode(sine(0.1), fmt="MP3", subtype="MPEG_LAYER_III")
    except (sf.LibsndfileError, TypeError, ValueError):
        return False
    return True


needs_mp3 = pytest.mark.skipif(not mp3_supported(), reason="this libsndfile cannot write MP3")


# --------------------------------------------------------------------------- good input


@dataclass(frozen=True)
class GoodFormat:
    suffix: str
    fmt: str
    subtype: str
    rate: int
    lossless_tolerance: float | None
    """Largest sample error for lossless formats; None for lossy codecs."""


GOOD_FORMATS = [
    pytest.param(GoodFormat("wav", "WAV", "PCM_U8", RATE, 1 / 64), id="wav-u8"),
    pytest.param(GoodFormat("wav", "WAV", "PCM_16", RATE, 1e-4), id="wav-16"),
    pytest.param(GoodFormat("wav", "WAV", "PCM_24", RATE, 1e-6), id="wav-24"),
    pytest.param(GoodFormat("wav", "WAV", "FLOAT", RATE, 1e-7), id="wav-float32"),
    pytest.param(GoodFormat("flac", "FLAC", "PCM_16", RATE, 1e-4), id="flac"),
    pytest.param(GoodFormat("ogg", "OGG", "VORBIS", RATE, None), id="ogg-vorbis"),
    pytest.param(GoodFormat("mp3", "MP3", "MPEG_LAYER_III", RATE, None), id="mp3", marks=needs_mp3),
    pytest.param(GoodFormat("opus", "OGG", "OPUS", 48_000, None), id="opus-48k"),
]


@pytest.mark.parametrize("kind", GOOD_FORMATS)
def test_good_formats_decode_to_float32_stereo(tmp_path: Path, kind: GoodFormat) -> None:
    source = sine(1.0, kind.rate, amplitude=0.5)
    path = tmp_path / f"tone.{kind.suffix}"
    sf.write(path, source, kind.rate, format=kind.fmt, subtype=kind.subtype)

    decoded = load(path)
    track = decoded.track

    assert track.warnings == ()
    assert track.native_rate == kind.rate
    assert track.channels == 2
    assert track.format == kind.fmt
    assert track.title == "tone" and track.artist == ""
    assert abs(track.frames - RATE) <= 1
    assert track.duration_seconds == pytest.approx(1.0, abs=1e-3)
    assert dominant_frequency(decoded.samples, RATE) == pytest.approx(1000.0, abs=3.0)
    if kind.lossless_tolerance is not None:
        assert np.max(np.abs(decoded.samples - source)) <= kind.lossless_tolerance
    else:  # lossy: the level survives roughly
        rms = float(np.sqrt(np.mean(decoded.samples[RATE // 10 : -RATE // 10] ** 2)))
        assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.15)


def test_mono_is_duplicated_to_both_channels(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    source = sine(0.5, channels=1)
    sf.write(path, source, RATE, subtype="FLOAT")
    decoded = load(path)
    assert decoded.track.channels == 1
    assert np.array_equal(decoded.samples[:, 0], decoded.samples[:, 1])
    np.testing.assert_allclose(decoded.samples[:, 0], source[:, 0], atol=1e-7)


@pytest.mark.parametrize("channels", [3, 4, 5, 6, 7, 8])
def test_multichannel_is_downmixed_without_exceeding_the_input_level(
    tmp_path: Path, channels: int
) -> None:
    rng = np.random.default_rng(channels)
    source = rng.uniform(-0.9, 0.9, size=(RATE // 4, channels))
    path = tmp_path / f"surround{channels}.wav"
    sf.write(path, source, RATE, subtype="FLOAT")
    decoded = load(path)
    assert decoded.track.channels == channels
    assert np.max(np.abs(decoded.samples)) <= np.max(np.abs(source)) + 1e-6
    assert decoded.track.warnings == ()


def test_quad_downmix_averages_front_and_back(tmp_path: Path) -> None:
    source = np.zeros((1000, 4))
    source[:, 0], source[:, 1], source[:, 2], source[:, 3] = 0.8, 0.4, 0.2, -0.4
    path = tmp_path / "quad.wav"
    sf.write(path, source, RATE, subtype="FLOAT")
    samples = load(path).samples
    np.testing.assert_allclose(samples[:, 0], 0.5, atol=1e-6)  # (0.8 + 0.2) / 2
    np.testing.assert_allclose(samples[:, 1], 0.0, atol=1e-6)  # (0.4 - 0.4) / 2


@pytest.mark.parametrize("channels", [3, 5, 6, 7, 8])
def test_centre_channel_lands_in_the_middle(channels: int) -> None:
    """Regression: an even/odd split put 3.0/7.1 centre (dialogue) in the left ear only."""
    raw = np.zeros((100, channels))
    raw[:, 2] = 0.6  # C in every WAV/FLAC layout from 3 channels up
    stereo = to_stereo(raw)
    assert stereo.shape == (100, 2)
    np.testing.assert_allclose(stereo[:, 0], stereo[:, 1])
    assert stereo[0, 0] > 0.1


@pytest.mark.parametrize("channels", [3, 5, 6, 7, 8])
def test_left_stays_left_in_surround_downmix(channels: int) -> None:
    raw = np.zeros((10, channels))
    raw[:, 0] = 1.0
    stereo = to_stereo(raw)
    assert np.all(stereo[:, 0] > 0.3) and np.all(stereo[:, 1] == 0.0)


def test_five_one_lfe_is_dropped() -> None:
    raw = np.zeros((10, 6))
    raw[:, 3] = 1.0
    assert np.all(to_stereo(raw) == 0.0)


@pytest.mark.parametrize("native", [48_000, 22_050, 96_000, 8_000, 11_025, 32_000, 192_000])
def test_resampled_to_engine_rate_keeps_frequency(tmp_path: Path, native: int) -> None:
    seconds = 0.5
    path = tmp_path / f"rate{native}.wav"
    sf.write(path, sine(seconds, native), native, subtype="FLOAT")
    decoded = load(path)
    assert decoded.track.native_rate == native
    assert abs(decoded.track.frames - round(seconds * native) * RATE / native) <= 1
    assert dominant_frequency(decoded.samples, RATE) == pytest.approx(1000.0, abs=3.0)
    # the middle keeps its level (edges ring a little from the zero padding)
    middle = decoded.samples[RATE // 10 : -RATE // 10]
    assert np.max(np.abs(middle)) == pytest.approx(0.5, abs=0.01)


def test_odd_native_rate_is_resampled_quickly(tmp_path: Path) -> None:
    """Regression: 767999 Hz -> 44100 Hz built a 15-million-tap filter (about 5 s)."""
    path = tmp_path / "odd.wav"
    sf.write(path, sine(0.1, 767_999), 767_999, subtype="FLOAT")
    started = time.process_time()  # CPU time: what the filter costs, whatever the load
    decoded = load(path)
    assert time.process_time() - started < 1.0
    assert abs(decoded.track.frames - 0.1 * RATE) <= 2


@pytest.mark.parametrize(("native", "rate"), [(44_101, 44_100), (7_919, 44_100), (8_000, 44_100)])
def test_resample_to_frame_count_and_pitch(native: int, rate: int) -> None:
    out = resample_to(sine(0.5, native), native, rate)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert abs(out.shape[0] - 0.5 * rate) <= 0.5 * rate * 3e-4 + 1
    assert dominant_frequency(out, rate) == pytest.approx(1000.0, abs=3.0)


def test_resample_to_same_rate_is_a_float32_copy() -> None:
    audio = sine(0.01)
    out = resample_to(audio, RATE, RATE)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, audio, atol=1e-7)


def test_tags_are_read_when_present(tmp_path: Path) -> None:
    path = tmp_path / "tagged.flac"
    with sf.SoundFile(path, "w", RATE, 2, format="FLAC") as handle:
        handle.title = "Blue in Green"
        handle.artist = "Miles Davis"
        handle.write(sine(0.2))
    track = load(path).track
    assert track.title == "Blue in Green"
    assert track.artist == "Miles Davis"


def test_multiline_tags_are_flattened(tmp_path: Path) -> None:
    path = tmp_path / "tagged.flac"
    with sf.SoundFile(path, "w", RATE, 2, format="FLAC") as handle:
        handle.title = "Line one\nline two"
        handle.write(sine(0.2))
    assert load(path).track.title == "Line one line two"


def test_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "02 - Untitled.flac"
    sf.write(path, sine(0.2), RATE)
    track = load(path).track
    assert track.title == "02 - Untitled" and track.artist == ""


def test_fingerprint_changes_when_the_file_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    sf.write(path, sine(0.2, freq=440), RATE)
    first = load(path).track
    assert first.fingerprint == fingerprint_file(path)
    assert fingerprint_file(path) == fingerprint_file(path)

    sf.write(path, sine(0.2, freq=880), RATE)  # same size, different content
    second = load(path).track
    assert second.fingerprint != first.fingerprint
    assert second.id == first.id

    sf.write(path, sine(0.3, freq=880), RATE)  # different size
    assert fingerprint_file(path) != second.fingerprint


def test_track_id_is_stable_per_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.wav"
    other = tmp_path / "b.wav"
    sf.write(path, sine(0.1), RATE)
    sf.write(other, sine(0.1), RATE)
    link = tmp_path / "link.wav"
    link.symlink_to(path)
    monkeypatch.chdir(tmp_path)

    ids = {
        load(path).track.id,
        load(path).track.id,
        track_id_for(Path("a.wav")),
        load(link).track.id,
    }
    assert len(ids) == 1
    assert re.fullmatch(r"[0-9a-f]{12}", ids.pop())
    assert track_id_for(other) != track_id_for(path)


def test_track_id_for_a_symlink_loop_does_not_raise(tmp_path: Path) -> None:
    (tmp_path / "x.wav").symlink_to(tmp_path / "y.wav")
    (tmp_path / "y.wav").symlink_to(tmp_path / "x.wav")
    assert track_id_for(tmp_path / "x.wav") == track_id_for(tmp_path / "x.wav")


def test_content_hash_follows_the_samples_not_the_path(tmp_path: Path) -> None:
    data = encode(sine(0.2))
    (tmp_path / "one.wav").write_bytes(data)
    (tmp_path / "two.wav").write_bytes(data)
    (tmp_path / "three.wav").write_bytes(encode(sine(0.2, freq=500)))
    one, two, three = (load(tmp_path / n) for n in ("one.wav", "two.wav", "three.wav"))
    assert one.content_hash == two.content_hash != three.content_hash
    assert one.track.id != two.track.id


def test_string_path_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s.wav"
    sf.write(path, sine(0.1), RATE)
    assert load_track(str(path), RATE).track.path == path


def test_other_engine_rates(tmp_path: Path) -> None:
    path = tmp_path / "s.wav"
    sf.write(path, sine(0.5), RATE)
    decoded = load_track(path, 48_000)
    assert decoded.samples.shape == (24_000, 2)
    assert decoded.track.duration_seconds == pytest.approx(0.5)


def test_longer_than_max_seconds_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, sine(2.0, 8_000), 8_000)
    with pytest.raises(TrackInvalid, match=r"long\.wav: longer than the 1 s limit$") as caught:
        load_track(path, RATE, max_seconds=1.0)
    assert_one_line(caught.value, path)
    assert load_track(path, RATE, max_seconds=2.0).track.frames == 2 * RATE


def test_limit_message_in_minutes(tmp_path: Path) -> None:
    """Regression: a limit under a minute read "longer than the 0 min limit"."""
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros((61 * 4_000, 1)), 4_000, subtype="PCM_U8")
    with pytest.raises(TrackInvalid, match=r"longer than the 1 min limit$"):
        load_track(path, RATE, max_seconds=60.0)


@pytest.mark.parametrize("rate", [0, -44_100])
def test_bad_engine_rate_is_a_programming_error(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "s.wav"
    sf.write(path, sine(0.1), RATE)
    with pytest.raises(ValueError, match="sample_rate"):
        load_track(path, rate)


# --------------------------------------------------------------------------- bad input


Maker = Callable[[Path], Path]
Check = Callable[[DecodedTrack, Path], None]


@dataclass(frozen=True)
class Bad:
    make: Maker
    error: type[TrackError] | None
    """The exact class raised, or None when the file loads with a warning."""
    match: str
    """Regex searched in str(error), or in one of the warnings."""
    check: Check | None = None


def put(name: str, data: bytes) -> Maker:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    return make


@cache
def one_second_wav() -> bytes:
    return encode(sine(1.0))


@cache
def one_second_flac() -> bytes:
    return encode(sine(1.0), fmt="FLAC")


def wav_cut_at(cut: int) -> Maker:
    return put(f"cut{cut}.wav", one_second_wav()[:cut])


def wav_cut_at_fraction(fraction: float) -> Maker:
    data = one_second_wav()
    return put(f"cut{fraction:g}.wav", data[: 44 + int((len(data) - 44) * fraction)])


def keeps_the_start(seconds: float) -> Check:
    """The playable part is kept, lasts about `seconds` and is the start of the source."""

    def check(decoded: DecodedTrack, path: Path) -> None:
        assert decoded.track.duration_seconds == pytest.approx(seconds, abs=0.01)
        source = sine(1.0)[: decoded.track.frames]
        np.testing.assert_allclose(decoded.samples, source, atol=1e-4)

    return check


def lying_wav(tmp: Path) -> Path:
    """1 s of audio under a header that declares 4 s."""
    audio = encode(sine(1.0))[44:]
    path = tmp / "lying.wav"
    path.write_bytes(wav_header(data_size=4 * len(audio)) + audio)
    return path


def streaming_wav(tmp: Path) -> Path:
    """A WAV written by a streaming encoder: sizes left at 0xFFFFFFFF. Not a truncation."""
    audio = encode(sine(1.0))[44:]
    path = tmp / "streamed.wav"
    path.write_bytes(wav_header(data_size=0xFFFFFFFF, riff_size=0xFFFFFFFF) + audio)
    return path


def header_only_wav(tmp: Path) -> Path:
    path = tmp / "header-only.wav"
    path.write_bytes(wav_header(data_size=0))
    assert path.stat().st_size == 44
    return path


def flac_cut_at(fraction: float) -> Maker:
    data = one_second_flac()
    return put(f"cut{fraction:g}.flac", data[: int(len(data) * fraction)])


def flac_byte_flipped_mid_file(tmp: Path) -> Path:
    data = bytearray(one_second_flac())
    data[len(data) // 2] ^= 0xFF
    path = tmp / "flipped.flac"
    path.write_bytes(bytes(data))
    return path


def lossy_cut(suffix: str, fmt: str, subtype: str, rate: int = RATE) -> Maker:
    def make(tmp: Path) -> Path:
        data = encode(sine(1.0, rate), rate, fmt=fmt, subtype=subtype)
        path = tmp / f"half.{suffix}"
        path.write_bytes(data[: len(data) // 2])
        return path

    return make


def aiff_cut(tmp: Path) -> Path:
    data = encode(sine(1.0), fmt="AIFF")
    path = tmp / "half.aiff"
    path.write_bytes(data[: len(data) // 2])
    return path


def float_wav(name: str, damage: Callable[[Floats], None]) -> Maker:
    def make(tmp: Path) -> Path:
        audio = sine(1.0)
        damage(audio)
        path = tmp / name
        sf.write(path, audio, RATE, subtype="FLOAT")
        return path

    return make


def few_nonfinite(audio: Floats) -> None:
    audio[100, 0] = np.nan
    audio[200, 1] = np.inf
    audio[300, 0] = -np.inf


def five_percent_nan(audio: Floats) -> None:
    audio[::10, 0] = np.nan


def absurd_peak(audio: Floats) -> None:
    audio[1000, 1] = 1e6


def four_times_too_hot(audio: Floats) -> None:
    audio *= 4.0


def silence(audio: Floats) -> None:
    audio[:] = 0.0


def nonfinite_replaced(decoded: DecodedTrack, path: Path) -> None:
    assert decoded.samples[100, 0] == 0.0 and decoded.samples[200, 1] == 0.0
    assert decoded.samples[300, 0] == 0.0
    assert decoded.samples[101, 0] != 0.0


def peaks_kept(decoded: DecodedTrack, path: Path) -> None:
    assert np.max(np.abs(decoded.samples)) == pytest.approx(2.0, abs=1e-3)


def all_zero(decoded: DecodedTrack, path: Path) -> None:
    assert not decoded.samples.any()


def wav_with_rate(rate: int) -> Maker:
    audio = encode(sine(0.1))[44:]
    return put(f"rate{rate}.wav", wav_header(rate=rate, data_size=len(audio)) + audio)


def wav_with_channels(channels: int) -> Maker:
    data = b"\x00\x01" * channels * 100
    header = wav_header(channels=channels, data_size=len(data))
    return put(f"channels{channels}.wav", header + data)


def wav_with_junk_chunk(tmp: Path) -> Path:
    data = one_second_wav()
    junk = b"junk" + struct.pack("<I", 1 << 20) + b"\xa5" * (1 << 20)
    body = data[12:36] + junk + data[36:]
    path = tmp / "junk-chunk.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body)
    return path


def same_as_source(decoded: DecodedTrack, path: Path) -> None:
    assert decoded.track.warnings == ()
    assert decoded.track.frames == RATE
    np.testing.assert_allclose(decoded.samples, sine(1.0), atol=1e-4)


def flac_named(name: str) -> Maker:
    return put(name, one_second_flac())


def format_is(fmt: str) -> Check:
    def check(decoded: DecodedTrack, path: Path) -> None:
        assert decoded.track.format == fmt
        same_as_source(decoded, path)

    return check


def missing(tmp: Path) -> Path:
    return tmp / "never-written.wav"


def directory(tmp: Path) -> Path:
    path = tmp / "album.wav"
    path.mkdir()
    return path


def symlink_loop(tmp: Path) -> Path:
    (tmp / "loop-a.wav").symlink_to(tmp / "loop-b.wav")
    (tmp / "loop-b.wav").symlink_to(tmp / "loop-a.wav")
    return tmp / "loop-a.wav"


def dangling_symlink(tmp: Path) -> Path:
    path = tmp / "dangling.wav"
    path.symlink_to(tmp / "deleted.wav")
    return path


def fifo(tmp: Path) -> Path:
    path = tmp / "pipe.wav"
    os.mkfifo(path)
    return path


def garbage(tmp: Path) -> Path:
    path = tmp / "garbage.wav"
    path.write_bytes(b"\x00GARBAGE" + np.random.default_rng(7).bytes(8192))
    return path


TRUNCATED_FLAC = (
    r"^truncated: 0\.\d s of 1\.0 s playable \(decoding failed: flac decoder lost sync\)$"
)
BAD_FILES = {
    # -- the path itself
    "missing": Bad(missing, TrackMissing, r"never-written\.wav: file not found$"),
    "directory": Bad(directory, TrackUnreadable, r"is a directory, not an audio file$"),
    "empty-0-bytes": Bad(put("empty.wav", b""), TrackEmpty, r"empty file \(0 bytes\)$"),
    "symlink-loop": Bad(
        symlink_loop, TrackUnreadable, r"cannot be opened \(Too many levels of symbolic links\)"
    ),
    "dangling-symlink": Bad(
        dangling_symlink, TrackMissing, r"broken symlink \(its target does not exist\)$"
    ),
    "fifo": Bad(fifo, TrackUnreadable, r"not a regular file \(device, FIFO or socket\)$"),
    # -- not audio at all
    "garbage-bytes-as-wav": Bad(
        garbage, TrackUnreadable, r"not a readable audio file \(Format not recognised\)$"
    ),
    "text-renamed-flac": Bad(
        put("notes.flac", b"This is not a FLAC file.\n" * 40),
        TrackUnreadable,
        r"not a readable audio file \(Format not recognised\)$",
    ),
    # -- WAV structure
    "header-only-wav": Bad(header_only_wav, TrackEmpty, r"header declares zero frames$"),
    "wav-cut-at-4": Bad(wav_cut_at(4), TrackUnreadable, r"\(Format not recognised\)$"),
    "wav-cut-at-12": Bad(wav_cut_at(12), TrackUnreadable, r"No 'data' chunk marker\)$"),
    "wav-cut-at-20": Bad(wav_cut_at(20), TrackUnreadable, r"Malformed 'fmt ' chunk\)$"),
    "wav-cut-at-40": Bad(wav_cut_at(40), TrackUnreadable, r"No 'data' chunk marker\)$"),
    "wav-cut-after-header": Bad(
        wav_cut_at(44),
        TrackEmpty,
        r"truncated: no audio data after the header \(1\.0 s declared\)$",
    ),
    "wav-cut-at-25%": Bad(
        wav_cut_at_fraction(0.25),
        None,
        r"^truncated: 0\.2 s of 1\.0 s playable$",
        keeps_the_start(0.25),
    ),
    "wav-cut-at-50%": Bad(
        wav_cut_at_fraction(0.5),
        None,
        r"^truncated: 0\.5 s of 1\.0 s playable$",
        keeps_the_start(0.5),
    ),
    "wav-cut-3-bytes-short": Bad(
        wav_cut_at(len(one_second_wav()) - 3),
        None,
        r"^truncated: 1\.000 s of 1\.000 s playable$",
        keeps_the_start(1.0),
    ),
    "wav-header-lies-about-length": Bad(
        lying_wav, None, r"^truncated: 1\.0 s of 4\.0 s playable$", keeps_the_start(1.0)
    ),
    "aiff-cut-at-50%": Bad(
        aiff_cut, None, r"^truncated: 0\.5 s of 1\.0 s playable$", keeps_the_start(0.5)
    ),
    "wav-1MB-junk-chunk": Bad(wav_with_junk_chunk, None, r"^$", same_as_source),
    # -- FLAC / lossy damage
    "flac-cut-in-header": Bad(
        flac_cut_at(0.001), TrackUnreadable, r"\(File contains data in an unimplemented format\)$"
    ),
    "flac-cut-at-30%": Bad(flac_cut_at(0.3), None, TRUNCATED_FLAC, keeps_the_start(0.28)),
    "flac-cut-at-50%": Bad(flac_cut_at(0.5), None, TRUNCATED_FLAC, keeps_the_start(0.46)),
    "flac-byte-flipped-mid-file": Bad(
        flac_byte_flipped_mid_file, None, TRUNCATED_FLAC, keeps_the_start(0.46)
    ),
    "ogg-cut-at-50%": Bad(
        lossy_cut("ogg", "OGG", "VORBIS"),
        TrackUnreadable,
        r"not a readable audio file \(Supported file format but file is malformed\)$",
    ),
    # -- sample content
    "float-few-nan-inf": Bad(
        float_wav("few-nan.wav", few_nonfinite),
        None,
        r"^3 NaN/Inf samples replaced with silence$",
        nonfinite_replaced,
    ),
    "float-5%-nan": Bad(
        float_wav("mostly-nan.wav", five_percent_nan),
        TrackInvalid,
        r"5% of samples are NaN/Inf \(refused\)$",
    ),
    "float-peak-1e6": Bad(
        float_wav("absurd.wav", absurd_peak), TrackInvalid, r"absurd level: peak \+120 dBFS$"
    ),
    "float-hot-+6dBFS": Bad(
        float_wav("hot.wav", four_times_too_hot),
        None,
        r"^peaks at \+6\.0 dBFS \(limited on output\)$",
        peaks_kept,
    ),
    "all-silent": Bad(float_wav("silent.wav", silence), None, r"^silent$", all_zero),
    # -- absurd header values
    "rate-1-hz": Bad(wav_with_rate(1), TrackInvalid, r"absurd sample rate 1 Hz$"),
    "rate-3-mhz": Bad(wav_with_rate(3_000_000), TrackInvalid, r"absurd sample rate 3000000 Hz$"),
    "rate-0-hz": Bad(
        wav_with_rate(0), TrackUnreadable, r"\(Internal error : SF_INFO struct incomplete\)$"
    ),
    "channels-0": Bad(wav_with_channels(0), TrackUnreadable, r"\(Channel count is zero\)$"),
    "channels-100": Bad(wav_with_channels(100), TrackInvalid, r"absurd channel count 100$"),
    # -- valid audio in a misleading wrapper
    "flac-named-mp3": Bad(flac_named("really-flac.mp3"), None, r"^$", format_is("FLAC")),
    "wav-named-flac": Bad(put("really-wav.flac", one_second_wav()), None, r"^$", format_is("WAV")),
    "wav-streaming-size-ffffffff": Bad(streaming_wav, None, r"^$", same_as_source),
}


@pytest.mark.parametrize("case", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_files(tmp_path: Path, case: Bad) -> None:
    path = case.make(tmp_path)
    if case.error is not None:
        with pytest.raises(TrackError) as caught:
            load_track(path, RATE)
        assert caught.type is case.error, f"{caught.type.__name__}: {caught.value}"
        assert re.search(case.match, str(caught.value)), str(caught.value)
        assert_one_line(caught.value, path)
        return
    decoded = load(path)
    warnings = decoded.track.warnings
    if case.match == r"^$":
        assert warnings == ()
    else:
        assert any(re.search(case.match, w) for w in warnings), warnings
    if case.check is not None:
        case.check(decoded, path)


def test_bad_file_table_is_large_enough() -> None:
    assert sum(1 for case in BAD_FILES.values() if case.error is not None) >= 15
    assert len(BAD_FILES) >= 30


@needs_mp3
def test_half_an_mp3_loads_with_a_truncation_warning(tmp_path: Path) -> None:
    path = lossy_cut("mp3", "MP3", "MPEG_LAYER_III")(tmp_path)
    decoded = load(path)
    assert len(decoded.track.warnings) == 1
    assert re.fullmatch(r"truncated: 0\.\d s of 1\.0 s playable", decoded.track.warnings[0])
    assert 0.3 < decoded.track.duration_seconds < 0.6


def test_half_an_opus_loads_shorter(tmp_path: Path) -> None:
    """Ogg stores no total length: a cut Opus file is simply shorter (nothing to warn about)."""
    path = lossy_cut("opus", "OGG", "OPUS", 48_000)(tmp_path)
    decoded = load(path)
    assert 0.1 < decoded.track.duration_seconds < 0.6


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_flac_keeps_nearly_everything_that_decodes(
    tmp_path: Path, fraction: float
) -> None:
    """Regression: one failing 65536-frame read used to throw away the whole block."""
    path = flac_cut_at(fraction)(tmp_path)
    decoded = load(path)
    assert decoded.track.warnings[0].startswith("truncated: ")
    # FLAC frames hold 4096 samples: at most the partial one is lost, plus a salvage block
    assert decoded.track.duration_seconds > fraction - 4096 / RATE - 0.02
    np.testing.assert_allclose(decoded.samples, sine(1.0)[: decoded.track.frames], atol=1e-4)


UNPRIVILEGED_UID = 65534
"""`nobody`: root reads a chmod 000 file, so the check runs as this user in a child."""


def as_unprivileged_user(check: Callable[[], None]) -> None:
    """Run `check` in a forked child that has given up root (when we are root), so a
    permission test means the same under CI's root as on a user's machine."""
    if os.geteuid() != 0:
        check()
        return
    pid = os.fork()
    if pid == 0:  # the child: no pytest machinery, only an exit status
        status = 1
        try:
            os.setgid(UNPRIVILEGED_UID)
            os.setuid(UNPRIVILEGED_UID)
            check()
            status = 0
        except BaseException as error:  # noqa: BLE001 - reported through the status
            print(f"in the unprivileged child: {error!r}", file=sys.stderr)
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the check failed as an unprivileged user"


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A folder any user can reach (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="tierplay-perm-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.parametrize("step", ["probe", "load"])
def test_unreadable_permissions(reachable_dir: Path, step: str) -> None:
    path = reachable_dir / "locked.wav"
    path.write_bytes(one_second_wav())
    path.chmod(0)

    def check() -> None:
        with pytest.raises(TrackUnreadable, match=r"locked\.wav: permission denied$") as caught:
            probe(path, RATE) if step == "probe" else load_track(path, RATE)
        assert_one_line(caught.value, path)

    try:
        as_unprivileged_user(check)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("name", ["with space.wav", "ünïcödé ✓.wav", "-dash.wav"])
def test_messages_name_unusual_file_names(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"nope" * 100)
    with pytest.raises(TrackUnreadable) as caught:
        load_track(path, RATE)
    assert_one_line(caught.value, path)


def test_messages_do_not_repeat_the_full_path(tmp_path: Path) -> None:
    """Regression: soundfile's "Error opening '/long/tmp/path': ..." pushed libsndfile's
    reason past the 80-character cut, leaving "No 'data' chunk ma..."."""
    path = tmp_path / ("x" * 60 + ".wav")
    path.write_bytes(one_second_wav()[:30])
    with pytest.raises(TrackUnreadable) as caught:
        load_track(path, RATE)
    message = str(caught.value)
    assert str(tmp_path) not in message
    assert message.endswith("(Error in WAV file. No 'data' chunk marker)")


@pytest.mark.parametrize(("channels", "rate"), [(1, 8_000), (2, 22_050), (6, 48_000), (9, 11_025)])
def test_to_stereo_and_resample_invariants(channels: int, rate: int) -> None:
    rng = np.random.default_rng(channels)
    raw = rng.uniform(-1.0, 1.0, size=(500, channels))
    stereo = to_stereo(raw)
    assert stereo.shape == (500, 2)
    assert np.max(np.abs(stereo)) <= np.max(np.abs(raw)) + 1e-12
    out = resample_to(stereo, rate, RATE)
    assert out.shape[1] == 2 and np.isfinite(out).all()
    assert abs(out.shape[0] - 500 * RATE / rate) <= 1


# --------------------------------------------------------------------------- fuzzing

FUZZ_RATE = 8_000


@cache
def fuzz_seed(kind: str) -> bytes:
    audio = sine(0.2, FUZZ_RATE, freq=440.0)
    return encode(audio, FUZZ_RATE, fmt=kind, subtype="PCM_16")


def mutate(
    draw: st.DrawFn,
    data: bytearray,
    steps: int,
    where: st.SearchStrategy[int],
    byte_values: st.SearchStrategy[int],
) -> bytes:
    """Damage `data` `steps` times: a flipped bit, an overwritten byte, a cut, an insertion
    or a deletion at a position drawn from `where` (the fuzzers bias it to the header)."""
    for _ in range(steps):
        if not data:
            break
        position = min(draw(where), len(data) - 1)
        operation = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete"]))
        if operation == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "byte":
            data[position] = draw(byte_values)
        elif operation == "truncate":
            del data[position:]
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[position : position + draw(st.integers(1, 64))]
    return bytes(data)


@st.composite
def mutated_file(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["WAV", "FLAC"]))
    data = bytearray(fuzz_seed(kind))
    header_biased = st.integers(0, 96) | st.integers(0, len(data) - 1)
    steps = draw(st.integers(1, 4))
    return kind, mutate(draw, data, steps, header_biased, st.integers(0, 255))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutated=mutated_file())
def test_damaged_files_load_or_raise_a_track_error(
    tmp_path: Path, mutated: tuple[str, bytes]
) -> None:
    kind, data = mutated
    path = tmp_path / f"fuzzed.{kind.lower()}"
    path.write_bytes(data)
    try:
        decoded = load_track(path, RATE)
    except TrackError as error:
        assert_one_line(error, path)
        return
    assert_valid(decoded)
    assert decoded.track.channels >= 1
