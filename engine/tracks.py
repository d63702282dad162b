"""Tracks: decoding, validation, resampling and channel mapping.

Everything the engine plays passes through `load_track`, which returns float32 stereo at the
engine rate or raises a `TrackError` whose message is one line. Damaged files do not always
raise in libsndfile (a half MP3 reports its full length), so we count the frames we actually
read and report a truncation instead of trusting the header.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy.signal import resample_poly

from engine.errors import TrackEmpty, TrackInvalid, TrackMissing, TrackUnreadable

Audio = npt.NDArray[np.float32]
"""Float32 samples shaped (frames, channels)."""

MIN_NATIVE_RATE = 4_000
MAX_NATIVE_RATE = 768_000
MAX_CHANNELS = 64
ABSURD_PEAK = 64.0
"""A float file peaking above +36 dBFS is garbage, not a hot master."""
MAX_NONFINITE_FRACTION = 0.01
"""Up to 1% NaN/Inf samples are replaced by silence; more than that and the file is refused."""
READ_BLOCK_FRAMES = 1 << 16
HEADER_BYTES_FOR_FINGERPRINT = 65_536


@dataclass(frozen=True)
class Track:
    """A playable track, as the library and the UI know it."""

    id: str
    path: Path
    duration_seconds: float
    native_rate: int
    channels: int
    """Channels in the file; the engine always plays stereo."""
    frames: int
    """Frames at the engine rate."""
    fingerprint: str
    """size + mtime + header hash: changes when the file is modified or replaced."""
    title: str
    artist: str = ""
    format: str = ""
    warnings: tuple[str, ...] = field(default=())
    """What was repaired or cut on load (truncation, NaN, clipping), in one line each."""


@dataclass(frozen=True)
class DecodedTrack:
    """A track together with its samples at the engine rate (float32, stereo)."""

    track: Track
    samples: Audio
    content_hash: str


def track_id_for(path: Path) -> str:
    """Stable id from the resolved path: the same file keeps its id across sessions."""
    return hashlib.blake2b(str(path.resolve()).encode(), digest_size=6).hexdigest()


def fingerprint_file(path: Path) -> str:
    """Cheap identity of a file's content: size, mtime and a hash of its first 64 KiB."""
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=8)
    with path.open("rb") as handle:
        digest.update(handle.read(HEADER_BYTES_FOR_FINGERPRINT))
    return f"{stat.st_size}-{stat.st_mtime_ns}-{digest.hexdigest()}"


def load_track(path: str | Path, sample_rate: int, max_seconds: float = 3600.0) -> DecodedTrack:
    """Decode, validate and convert a file to float32 stereo at `sample_rate`.

    Raises:
        TrackError: a subclass naming what is wrong, with a one-line message.
    """
    path = Path(path)
    _check_path(path)
    fingerprint = fingerprint_file(path)
    raw, info, warnings = _decode(path, max_seconds)
    raw = _sanitise(path, raw, warnings)
    stereo = to_stereo(raw)
    samples = resample_to(stereo, info.samplerate, sample_rate)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        warnings.append("silent")
    content_hash = hashlib.blake2b(samples.tobytes(), digest_size=16).hexdigest()
    track = Track(
        id=track_id_for(path),
        path=path,
        duration_seconds=samples.shape[0] / sample_rate,
        native_rate=info.samplerate,
        channels=info.channels,
        frames=samples.shape[0],
        fingerprint=fingerprint,
        title=info.title or path.stem,
        artist=info.artist,
        format=info.format,
        warnings=tuple(warnings),
    )
    return DecodedTrack(track=track, samples=samples, content_hash=content_hash)


@dataclass(frozen=True)
class _FileInfo:
    samplerate: int
    channels: int
    frames_claimed: int
    format: str
    title: str
    artist: str


def _check_path(path: Path) -> None:
    if not os.path.lexists(path):
        raise TrackMissing(path, "file not found")
    if path.is_dir():
        raise TrackUnreadable(path, "is a directory, not an audio file")
    try:
        path.stat()
    except OSError as error:  # a symlink loop or a dangling link
        raise TrackUnreadable(path, f"cannot be opened ({error.strerror or error})") from error
    if not os.access(path, os.R_OK):
        raise TrackUnreadable(path, "permission denied")
    if path.stat().st_size == 0:
        raise TrackEmpty(path, "empty file (0 bytes)")


def _open(path: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(path)
    except sf.LibsndfileError as error:
        raise TrackUnreadable(path, f"not a readable audio file ({_short(error)})") from error
    except (OSError, RuntimeError, ValueError) as error:
        raise TrackUnreadable(path, f"cannot be opened ({_short(error)})") from error


def _decode(path: Path, max_seconds: float) -> tuple[npt.NDArray[np.float64], _FileInfo, list[str]]:
    """Read the whole file block by block, keeping whatever decodes before a failure."""
    warnings: list[str] = []
    with _open(path) as handle:
        info = _FileInfo(
            samplerate=int(handle.samplerate),
            channels=int(handle.channels),
            frames_claimed=max(int(handle.frames), 0),
            format=str(handle.format),
            title=_tag(handle, "title"),
            artist=_tag(handle, "artist"),
        )
        _check_format(path, info, max_seconds)
        blocks: list[npt.NDArray[np.float64]] = []
        frames_read = 0
        limit = int(max_seconds * info.samplerate) + 1
        try:
            while frames_read < limit:
                block = handle.read(READ_BLOCK_FRAMES, dtype="float64", always_2d=True)
                if block.shape[0] == 0:
                    break
                blocks.append(block)
                frames_read += block.shape[0]
        except (sf.LibsndfileError, RuntimeError, ValueError) as error:
            if frames_read == 0:
                raise TrackUnreadable(path, f"cannot decode audio ({_short(error)})") from error
            warnings.append(f"decoding failed after {frames_read / info.samplerate:.1f} s")
    if frames_read == 0:
        raise TrackEmpty(path, "no audio frames")
    if frames_read >= limit:
        raise TrackInvalid(path, f"longer than the {max_seconds / 60:.0f} min limit")
    claimed = info.frames_claimed
    if 0 < claimed and frames_read < claimed and not any("failed" in w for w in warnings):
        warnings.append(
            f"truncated: {frames_read / info.samplerate:.1f} s of "
            f"{claimed / info.samplerate:.1f} s playable"
        )
    elif any("failed" in w for w in warnings):
        warnings[-1] = f"truncated: {warnings[-1]}"
    return np.concatenate(blocks, axis=0), info, warnings


def _check_format(path: Path, info: _FileInfo, max_seconds: float) -> None:
    if not MIN_NATIVE_RATE <= info.samplerate <= MAX_NATIVE_RATE:
        raise TrackInvalid(path, f"absurd sample rate {info.samplerate} Hz")
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise TrackInvalid(path, f"absurd channel count {info.channels}")
    if info.frames_claimed == 0 and info.format not in ("MPEG", "MP3"):
        raise TrackEmpty(path, "header declares zero frames")


def _sanitise(
    path: Path, raw: npt.NDArray[np.float64], warnings: list[str]
) -> npt.NDArray[np.float64]:
    """Replace a few NaN/Inf samples with silence; refuse files that are mostly garbage."""
    finite = np.isfinite(raw)
    bad = int(raw.size - np.count_nonzero(finite))
    if bad:
        if bad > MAX_NONFINITE_FRACTION * raw.size:
            raise TrackInvalid(path, f"{bad / raw.size:.0%} of samples are NaN/Inf (refused)")
        raw = np.where(finite, raw, 0.0)
        warnings.append(f"{bad} NaN/Inf samples replaced with silence")
    peak = float(np.max(np.abs(raw)))
    if peak > ABSURD_PEAK:
        raise TrackInvalid(path, f"absurd level: peak {20 * math.log10(peak):+.0f} dBFS")
    if peak > 1.0:
        warnings.append(f"peaks at {20 * math.log10(peak):+.1f} dBFS (limited on output)")
    return raw


def to_stereo(raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Mono is duplicated; 5.1 uses the ITU downmix; other layouts split even/odd channels."""
    channels = raw.shape[1]
    if channels == 2:
        return raw
    if channels == 1:
        return np.repeat(raw, 2, axis=1)
    if channels == 6:  # L R C LFE Ls Rs
        centre = 0.7071 * raw[:, 2]
        left = raw[:, 0] + centre + 0.7071 * raw[:, 4]
        right = raw[:, 1] + centre + 0.7071 * raw[:, 5]
        return np.stack([left, right], axis=1) / (1.0 + 2 * 0.7071)
    left = raw[:, 0::2].mean(axis=1)
    right = raw[:, 1::2].mean(axis=1)
    return np.stack([left, right], axis=1)


def resample_to(audio: npt.NDArray[np.float64], native_rate: int, rate: int) -> Audio:
    """Polyphase resampling (exact rational ratio), returned as contiguous float32."""
    if native_rate != rate:
        divisor = math.gcd(native_rate, rate)
        audio = resample_poly(audio, rate // divisor, native_rate // divisor, axis=0)
    return np.ascontiguousarray(audio, dtype=np.float32)


def _tag(handle: sf.SoundFile, name: str) -> str:
    try:
        value = getattr(handle, name, "")
    except (RuntimeError, sf.LibsndfileError):
        return ""
    return str(value or "").strip()


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= 80 else text[:77] + "..."
