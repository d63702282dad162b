"""Decoders: every common format decodes in line with its source, libsndfile and FFmpeg
agree where both read, any window equals the same frames of a whole read (the seams a
streamed source relies on), and a file that is not what its name says gets one line."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.formats import FORMATS, SOURCE_RATE, Format, at_rate, encode, noisy, tones
from engine.errors import TrackError, TrackUnreadable
from engine.library.decoders import DecodeError, open_reader
from engine.library.decoders.ffmpeg import SEGMENT_FRAMES, FfmpegReader
from engine.library.decoders.libsndfile import SoundfileReader
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.library.tracks import load_track

SECONDS = 3.0
BY_NAME = {kind.name: kind for kind in FORMATS}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tones in every format."""
    folder = tmp_path_factory.mktemp("formats")
    return {
        kind.name: encode(
            folder / f"{kind.name}{kind.suffix}", at_rate(tones(SECONDS), kind.rate), kind
        )
        for kind in FORMATS
    }


def whole(path: Path) -> npt.NDArray[np.float32]:
    with open_reader(path) as reader:
        return reader.read(0, reader.info.frames)


def lag(decoded: npt.NDArray[np.float32], source: npt.NDArray[np.float32], rate: int) -> int:
    """Where the decode lines up best with the source, in frames (0: no encoder delay left)."""
    span = source[rate // 2 : rate]
    errors = {
        k: float(np.sum((decoded[rate // 2 + k : rate + k] - span) ** 2))
        for k in range(-2048, 2049)
    }
    return min(errors, key=errors.__getitem__)


@pytest.mark.parametrize("kind", FORMATS, ids=[kind.name for kind in FORMATS])
def test_every_format_decodes_in_line_with_its_source(
    library: dict[str, Path], kind: Format
) -> None:
    path = library[kind.name]
    source = at_rate(tones(SECONDS), kind.rate)
    with open_reader(path) as reader:
        info = reader.info
        decoded = reader.read(0, info.frames + 4096)
    assert (info.samplerate, info.channels, info.format) == (kind.rate, 2, kind.shown)
    assert decoded.dtype == np.float32 and decoded.shape[1] == 2
    if kind.delay:  # a raw stream: its delay, padding and length are nobody's record
        decoded = decoded[kind.delay :]
        assert 0 <= decoded.shape[0] - source.shape[0] < 1024
        assert abs(info.frames - kind.delay - decoded.shape[0]) <= 0.1 * kind.rate
        decoded = decoded[: source.shape[0]]
    # The header's length is the decodable one, up to an Opus pre-skip it counts.
    assert decoded.shape[0] == source.shape[0]
    assert kind.delay or 0 <= info.frames - decoded.shape[0] <= 0.01 * kind.rate
    assert lag(decoded, source, kind.rate) == 0  # encoder delay and padding taken off
    error = decoded - source
    snr = 10 * np.log10(np.sum(source**2) / max(float(np.sum(error**2)), 1e-30))
    assert snr >= kind.min_snr_db
    if kind.min_snr_db >= 80:  # lossless: within a 16-bit step or two
        assert float(np.max(np.abs(error))) <= 2 / 32768


def test_a_file_goes_to_the_decoder_that_reads_it_best(library: dict[str, Path]) -> None:
    for name in ("wav", "flac", "vorbis", "opus"):
        assert isinstance(open_reader(library[name]), SoundfileReader)
    for name in ("mp3", "aac-m4a", "alac-m4a", "opus-webm", "wavpack", "flac-mka"):
        assert isinstance(open_reader(library[name]), FfmpegReader)


def test_libsndfile_and_ffmpeg_agree_on_the_same_mp3(library: dict[str, Path]) -> None:
    """Both read MP3 (libsndfile through mpg123): the same frames, to float rounding."""
    path = library["mp3"]
    with SoundfileReader(path) as mpg123, FfmpegReader(path) as ffmpeg:
        assert mpg123.info.frames == ffmpeg.info.frames
        np.testing.assert_allclose(
            mpg123.read(0, mpg123.info.frames), ffmpeg.read(0, ffmpeg.info.frames), atol=1e-5
        )


def test_libsndfile_and_ffmpeg_agree_on_the_same_flac(library: dict[str, Path]) -> None:
    path = library["flac"]
    with SoundfileReader(path) as libsndfile, FfmpegReader(path) as ffmpeg:
        assert libsndfile.info.frames == ffmpeg.info.frames
        np.testing.assert_array_equal(
            libsndfile.read(0, libsndfile.info.frames), ffmpeg.read(0, ffmpeg.info.frames)
        )


@pytest.fixture(scope="module")
def long_library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Ten seconds with noise (AAC substitutes some of it) in each FFmpeg format: several
    decoding segments, seeks that land on packets of every size."""
    folder = tmp_path_factory.mktemp("long")
    kinds = [kind for kind in FORMATS if not kind.codec.startswith("libsndfile:")]
    return {
        kind.name: encode(
            folder / f"{kind.name}{kind.suffix}", at_rate(noisy(10.0), kind.rate), kind
        )
        for kind in kinds
    }


WITHIN_A_ROUNDING = {"opus": 1e-7}
"""Ogg Opus is read by libsndfile, whose seek decodes its own pre-roll: now and then a
sample after it differs from a whole read's by one float32 rounding (1.5e-8 found at
frame 306893 of the ten seconds), -150 dB, far below what a seam may differ by (-80 dB).
Every other format is read bit for bit."""


@pytest.mark.parametrize("name", ["mp3", "aac-m4a", "alac-m4a", "opus", "opus-webm", "flac-mka"])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_window_equals_the_same_frames_of_a_whole_read(
    long_library: dict[str, Path], name: str, data: st.DataObject
) -> None:
    """What a render's window reads joins what the next one reads, bit for bit: for a
    decoder whose state drifts (AAC, Opus) because every frame is decoded from the same
    seek whatever the read, for the others because their state converges exactly."""
    path = long_library[name]
    reference = whole(path)
    frames = reference.shape[0]
    within = WITHIN_A_ROUNDING.get(name, 0.0)
    with open_reader(path) as reader:
        for _ in range(3):
            first = data.draw(st.integers(0, frames - 1), label="first")
            count = data.draw(st.integers(1, 3 * SEGMENT_FRAMES), label="count")
            window = reader.read(first, count)
            expected = reference[first : first + count]
            np.testing.assert_allclose(window, expected, rtol=0.0, atol=within)


@pytest.mark.parametrize("name", ["mp3", "alac-m4a", "flac-mka"])
def test_an_exact_decoder_reads_what_one_uninterrupted_decode_gives(
    long_library: dict[str, Path], name: str
) -> None:
    path = long_library[name]
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        pieces = [as_float(frame) for frame in container.decode(stream)]
    uninterrupted = np.concatenate(pieces)
    np.testing.assert_allclose(whole(path), uninterrupted, atol=1e-7)


def as_float(frame: av.AudioFrame) -> npt.NDArray[np.float64]:
    """A decoded frame as (frames, channels) floats, independently of the readers."""
    array = frame.to_ndarray()
    shaped = array.T if frame.format.is_planar else array.reshape(-1, len(frame.layout.channels))
    scale = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2.0**31}.get(shaped.dtype, 1.0)
    return shaped.astype(np.float64) / scale


def test_a_track_in_each_format_streams_its_windows_at_the_engine_rate(
    library: dict[str, Path],
) -> None:
    """Probed and read through `TrackSource` (Opus resampled from 48 kHz): the windows
    join the whole track's frames."""
    for name, path in library.items():
        track = probe(path, SOURCE_RATE)
        assert track.format == BY_NAME[name].shown
        estimated = BY_NAME[name].delay > 0  # a raw stream's length comes from its bit rate
        assert estimated or abs(track.frames - SECONDS * SOURCE_RATE) <= 0.01 * SOURCE_RATE
        source = TrackSource(track, SOURCE_RATE)
        every = source.read(0, track.frames)
        for first in (0, 12_345, SOURCE_RATE, 2 * SOURCE_RATE + 7):
            # Resampled windows (Opus) join to float rounding, as for any 48 kHz file.
            np.testing.assert_allclose(
                source.read(first, first + 20_000),
                every[first : first + 20_000],
                atol=1e-6,
                err_msg=f"{name} from {first}",
            )


# -- what is not audio, or not whole -----------------------------------------------------
def test_a_text_file_named_mp3_gets_one_line_and_no_decoder_noise(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not music\n" * 100)
    with pytest.raises(TrackUnreadable) as probed:
        probe(fake, SOURCE_RATE)
    with pytest.raises(TrackUnreadable) as loaded:
        load_track(fake, SOURCE_RATE)
    for error in (probed.value, loaded.value):
        assert str(error) == (
            "song.mp3: not a readable audio file (invalid data found when processing input)"
        )
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""  # not a word from mpg123 or FFmpeg


def test_an_m4a_cut_before_its_index_gets_one_line(
    library: dict[str, Path], tmp_path: Path
) -> None:
    cut = tmp_path / "cut.m4a"
    data = library["aac-m4a"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # the index ("moov") is written last
    with pytest.raises(TrackError) as caught:
        probe(cut, SOURCE_RATE)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("cut.m4a: ")


def test_a_cut_mp3_plays_to_where_its_audio_ends_and_says_so(
    long_library: dict[str, Path], tmp_path: Path
) -> None:
    cut = tmp_path / "cut.mp3"
    data = long_library["mp3"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    track = probe(cut, SOURCE_RATE)
    assert track.duration_seconds == pytest.approx(10.0, abs=0.05)  # as its header claims
    ends: list[int] = []
    source = TrackSource(track, SOURCE_RATE, on_end=lambda _t, frames, _why: ends.append(frames))
    tail = source.read(track.frames - SOURCE_RATE, track.frames)
    assert tail.shape[0] == 0
    assert len(ends) == 1 and 4.5 * SOURCE_RATE < ends[0] < 5.5 * SOURCE_RATE
    decoded = load_track(cut, SOURCE_RATE)
    assert decoded.track.warnings[0].startswith("truncated: ")


def test_a_damaged_stretch_of_an_mp3_decodes_around_it(
    long_library: dict[str, Path], tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.mp3"
    data = bytearray(long_library["mp3"].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = bytes(4000)
    damaged.write_bytes(bytes(data))
    with open_reader(damaged) as reader:
        decoded = reader.read(0, reader.info.frames)
    # FFmpeg resyncs after the damage and goes on: only the damaged packets are lost.
    assert decoded.shape[0] >= reader.info.frames - SOURCE_RATE // 2
    assert np.all(np.isfinite(decoded))
    late = decoded[-2 * SOURCE_RATE :]
    assert float(np.sqrt(np.mean(late**2))) > 0.1  # the music after it is there


def test_a_file_no_decoder_reads_raises_the_first_decoders_reason(tmp_path: Path) -> None:
    fake = tmp_path / "notes.flac"
    fake.write_text("not audio\n")
    with pytest.raises(DecodeError) as caught:
        open_reader(fake)
    assert caught.value.reason == "Format not recognised"
    sf.write(tmp_path / "real.wav", tones(0.1), SOURCE_RATE)
    assert open_reader(tmp_path / "real.wav").info.format == "WAV"
