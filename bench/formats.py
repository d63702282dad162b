"""Audio files in the formats a listener's library holds, made with the encoders PyAV's
FFmpeg carries (LAME, AAC, ALAC, Opus, WavPack, FLAC) and libsndfile's (Vorbis): for the
decoding benchmark and the decoder tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

SOURCE_RATE = 44_100
_PREFERRED_SAMPLE_FORMATS = ("fltp", "flt", "s16p", "s16", "s32p", "s32")


@dataclass(frozen=True)
class Format:
    """One way to store audio: file suffix, codec and container, the rate it runs at and
    what its decode may differ from the source by."""

    name: str
    suffix: str
    codec: str
    container: str | None
    rate: int
    shown: str
    """The format name a track in it reports."""
    min_snr_db: float
    """Lossy: the least signal-to-error ratio against the source (this encoder, these
    tones); lossless: the quantisation's."""
    exact_decoder: bool = True
    """Its decoder gives a whole-file decode's samples from any warm seek."""
    bit_rate: int | None = None
    delay: int = 0
    """Frames of encoder delay a decode keeps at its start: a raw ADTS stream does not
    say how much its encoder put there."""


FORMATS = (
    Format("wav", ".wav", "libsndfile:WAV:PCM_16", None, SOURCE_RATE, "WAV", 80.0),
    Format("flac", ".flac", "libsndfile:FLAC:PCM_16", None, SOURCE_RATE, "FLAC", 80.0),
    Format("vorbis", ".ogg", "libsndfile:OGG:VORBIS", None, SOURCE_RATE, "OGG", 35.0),
    Format("mp3", ".mp3", "libmp3lame", None, SOURCE_RATE, "MP3", 22.0),
    Format("aac-m4a", ".m4a", "aac", "ipod", SOURCE_RATE, "AAC", 22.0, exact_decoder=False),
    Format("alac-m4a", ".m4a", "alac", "ipod", SOURCE_RATE, "ALAC", 80.0),
    Format("opus", ".opus", "libopus", "ogg", 48_000, "OGG", 35.0, exact_decoder=False),
    Format("opus-webm", ".webm", "libopus", "webm", 48_000, "OPUS", 35.0, exact_decoder=False),
    Format("flac-mka", ".mka", "flac", "matroska", SOURCE_RATE, "FLAC", 80.0),
    Format("wavpack", ".wv", "wavpack", None, SOURCE_RATE, "WAVPACK", 80.0),
    Format("aac-adts", ".aac", "aac", "adts", SOURCE_RATE, "AAC", 22.0, False, delay=1024),
)


def tones(seconds: float, rate: int = SOURCE_RATE) -> npt.NDArray[np.float32]:
    """Stereo tones that every codec keeps (nothing for noise substitution to replace)."""
    t = np.arange(round(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3000 * t)
    right = 0.3 * np.sin(2 * np.pi * 550 * t) + 0.05 * np.sin(2 * np.pi * 5000 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


def noisy(seconds: float, seed: int = 0) -> npt.NDArray[np.float32]:
    """Tones with noise: what AAC fills with substituted noise, differently per decoder."""
    audio = tones(seconds)
    rng = np.random.default_rng(seed)
    return (audio + 0.05 * rng.standard_normal(audio.shape)).astype(np.float32)


def at_rate(audio: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float32]:
    """The source as the file holds it (Opus runs at 48 kHz)."""
    if rate == SOURCE_RATE:
        return audio
    return np.asarray(soxr.resample(audio, SOURCE_RATE, rate), dtype=np.float32)


def encode(path: Path, audio: npt.NDArray[np.float32], kind: Format) -> Path:
    """`audio` (at `kind.rate`, stereo) written to `path` in `kind`'s format."""
    return encode_blocks(path, (audio[i : i + 4096] for i in range(0, len(audio), 4096)), kind)


def encode_blocks(path: Path, blocks: Iterable[npt.NDArray[np.float32]], kind: Format) -> Path:
    """Stereo blocks (at `kind.rate`) written to `path` one after the other: an hour is
    never held whole."""
    if kind.codec.startswith("libsndfile:"):
        _library, major, subtype = kind.codec.split(":")
        with sf.SoundFile(path, "w", kind.rate, 2, subtype, format=major) as out:
            for block in blocks:
                out.write(block)
        return path
    with av.open(str(path), "w", format=kind.container) as out:
        stream = out.add_stream(kind.codec, rate=kind.rate, layout="stereo")
        assert isinstance(stream, av.AudioStream)
        if kind.bit_rate:
            stream.bit_rate = kind.bit_rate
        offered = [f.name for f in stream.codec_context.codec.audio_formats or ()]
        sample_format = next(f for f in _PREFERRED_SAMPLE_FORMATS if f in offered)
        stream.codec_context.format = sample_format
        position = 0
        for block in blocks:
            frame = _frame(block, sample_format)
            frame.rate, frame.pts = kind.rate, position
            position += block.shape[0]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _frame(block: npt.NDArray[np.float32], sample_format: str) -> av.AudioFrame:
    kind = sample_format.removesuffix("p")
    data: npt.NDArray[Any]
    if kind == "s16":
        data = np.round(block * 32767).astype(np.int16)
    elif kind == "s32":
        data = np.round(block.astype(np.float64) * (2**31 - 1)).astype(np.int32)
    else:
        data = block
    planar = sample_format.endswith("p")
    shaped = np.ascontiguousarray(data.T) if planar else data.reshape(1, -1)
    return av.AudioFrame.from_ndarray(shaped, format=sample_format, layout="stereo")
