"""Tracks: decoding, validation, resampling and channel mapping.

Everything the engine plays passes through `load_track`, which returns float32 stereo at the
engine rate or raises a `TrackError` whose message is one line; `decoders/` reads the file.
Damaged files do not always raise (a half MP3 reports its full length), so we count the
frames we actually read and report a truncation instead of trusting the header, and the
length a WAV/AIFF header declared (libsndfile quietly shortens the file to what it holds)
counts too.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import stat
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from engine.errors import TrackEmpty, TrackError, TrackInvalid, TrackMissing, TrackUnreadable
from engine.frames import Audio
from engine.library.decoders import (
    DecodeError,
    SourceReader,
    StreamInfo,
    open_reader,
    short_reason,
)
from engine.library.tags import Tags

F = TypeVar("F", np.float32, np.float64)
"""Float32 samples shaped (frames, channels)."""

MIN_NATIVE_RATE = 4_000
MAX_NATIVE_RATE = 768_000
MAX_CHANNELS = 64
ABSURD_PEAK = 64.0
"""A float file peaking above +36 dBFS is garbage, not a hot master."""
MAX_NONFINITE_FRACTION = 0.01
"""Up to 1% NaN/Inf samples are replaced by silence; more than that and the file is refused."""
READ_BLOCK_FRAMES = 1 << 16
SALVAGE_BLOCK_FRAMES = 64
"""After a decode error, the damaged block is re-read in blocks this small to keep what decodes."""
MAX_POLYPHASE_FACTOR = 4096
"""Odd native rates (44101 Hz) would need a huge polyphase filter; the ratio is approximated."""
HEADER_BYTES_FOR_FINGERPRINT = 65_536
END_SLACK_SECONDS = 0.1


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
    """The title tag, else the file name without its extension."""
    artist: str = ""
    format: str = ""
    warnings: tuple[str, ...] = field(default=())
    """What was repaired or cut on load (truncation, NaN, clipping), in one line each."""
    tags: Tags = field(default=Tags())
    """Everything the file's tags say (album, numbers, ReplayGain); empty when untagged."""


@dataclass(frozen=True)
class DecodedTrack:
    """A track together with its samples at the engine rate (float32, stereo)."""

    track: Track
    samples: Audio
    content_hash: str


def listed_track(
    path: Path,
    duration_seconds: float,
    native_rate: int,
    channels: int,
    fingerprint: str,
    format: str,
    tags: Tags,
    sample_rate: int,
) -> Track:
    """A track as the library lists it, from its header's figures and its tags (probed now
    or read back from the library index): titled by its tags, else its file name."""
    return Track(
        id=track_id_for(path),
        path=path,
        duration_seconds=duration_seconds,
        native_rate=native_rate,
        channels=channels,
        frames=round(duration_seconds * sample_rate),
        fingerprint=fingerprint,
        title=tags.title or path.stem,
        artist=tags.artist,
        format=format,
        tags=tags,
    )


def track_id_for(path: Path) -> str:
    """Stable id from the resolved path: the same file keeps its id across sessions."""
    return hashlib.blake2b(_resolved(path).encode(), digest_size=6).hexdigest()


def _resolved(path: Path) -> str:
    """`path` with every symlink resolved. A library's files share a few folders, so each
    folder is resolved once (a whole-path resolve costs a stat per component, and 10,000
    of them were most of a library's reopening); a file that is itself a link is resolved
    whole."""
    absolute = os.path.abspath(path)
    try:
        if os.path.islink(absolute):
            return str(path.resolve())
    except (OSError, RuntimeError):  # a symlink loop: fall back to the absolute path
        return absolute
    folder, name = os.path.split(absolute)
    return os.path.join(_resolved_folder(folder), name)


@functools.lru_cache(maxsize=4096)
def _resolved_folder(folder: str) -> str:
    try:
        return str(Path(folder).resolve())
    except (OSError, RuntimeError):
        return folder


def fingerprint_file(path: Path) -> str:
    """Cheap identity of a file's content: size, mtime and a hash of its first 64 KiB."""
    info = path.stat()
    digest = hashlib.blake2b(digest_size=8)
    with path.open("rb") as handle:
        digest.update(handle.read(HEADER_BYTES_FOR_FINGERPRINT))
    return f"{info.st_size}-{info.st_mtime_ns}-{digest.hexdigest()}"


def load_track(path: str | Path, sample_rate: int, max_seconds: float = 3600.0) -> DecodedTrack:
    """Decode, validate and convert a file to float32 stereo at `sample_rate`.

    Raises:
        TrackError: a subclass naming what is wrong, with a one-line message.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    path = Path(path)
    check_path(path)
    try:
        fingerprint = fingerprint_file(path)
    except OSError as error:  # removed or made unreadable since the checks
        raise not_openable(path, error) from error
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


def check_path(path: Path) -> None:
    """The file itself, before any decoder opens it: missing, a loop, a FIFO, unreadable."""
    if not os.path.lexists(path):
        raise TrackMissing(path, "file not found")
    try:
        info = path.stat()
    except OSError as error:
        if isinstance(error, FileNotFoundError) and path.is_symlink():
            raise TrackMissing(path, "broken symlink (its target does not exist)") from error
        raise not_openable(path, error) from error
    if stat.S_ISDIR(info.st_mode):
        raise TrackUnreadable(path, "is a directory, not an audio file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block, a device never ends
        raise TrackUnreadable(path, "not a regular file (device, FIFO or socket)")
    if not os.access(path, os.R_OK):
        raise TrackUnreadable(path, "permission denied")
    if info.st_size == 0:
        raise TrackEmpty(path, "empty file (0 bytes)")


def open_track_reader(path: Path) -> SourceReader:
    """The file's reader, or the `TrackError` a listener reads (probe, loads and streamed
    windows alike)."""
    try:
        return open_reader(path)
    except DecodeError as error:
        raise _not_decodable(path, error) from error
    except OSError as error:
        raise not_openable(path, error) from error


def _decode(
    path: Path, max_seconds: float
) -> tuple[npt.NDArray[np.float64], StreamInfo, list[str]]:
    """Read the whole file block by block, keeping whatever decodes before a failure."""
    warnings: list[str] = []
    with open_track_reader(path) as reader:
        info = reader.info
        _check_format(path, info)
        limit = int(max_seconds * info.samplerate) + 1
        blocks, frames_read, failure = _read_blocks(reader, limit, 0)
    if failure is not None and frames_read < limit:
        blocks, frames_read = _salvage(path, blocks, frames_read, limit)
    if frames_read == 0:
        if failure is not None:
            raise TrackUnreadable(path, f"cannot decode audio ({failure})")
        raise TrackEmpty(path, "no audio frames")
    if frames_read >= limit:
        limit_text = f"{max_seconds / 60:g} min" if max_seconds >= 60 else f"{max_seconds:g} s"
        raise TrackInvalid(path, f"longer than the {limit_text} limit")
    expected = max(info.frames, info.frames_declared or 0)
    rate = info.samplerate
    if failure is not None:
        of = f" of {_seconds(expected, rate, frames_read)}" if expected > frames_read else ""
        warnings.append(
            f"truncated: {_seconds(frames_read, rate, expected)}{of} playable "
            f"(decoding failed: {failure})"
        )
    elif expected - frames_read > (0 if info.exact_length else end_slack(rate)):
        warnings.append(
            f"truncated: {_seconds(frames_read, rate, expected)} of "
            f"{_seconds(expected, rate, frames_read)} playable"
        )
    return np.concatenate(blocks, axis=0), info, warnings


def end_slack(native_rate: int) -> int:
    """Native frames a header may claim beyond the decodable end without the file being
    cut: an Opus header counts its pre-skip, an MP3's its last frame's padding."""
    return round(END_SLACK_SECONDS * native_rate)


def _read_blocks(
    reader: SourceReader, limit: int, salvage_from: int
) -> tuple[list[npt.NDArray[np.float64]], int, str | None]:
    """Read up to `limit` frames; blocks shrink to SALVAGE_BLOCK_FRAMES from `salvage_from` on.

    A failing `read` loses the whole block it was asked for, so a salvage pass replays the
    good part and then reads in small blocks. Returns the blocks, the frame count and the
    first error, if any.
    """
    blocks: list[npt.NDArray[np.float64]] = []
    frames_read = 0
    while frames_read < limit:
        size = READ_BLOCK_FRAMES
        if frames_read < salvage_from:
            size = min(size, salvage_from - frames_read)
        elif salvage_from:
            size = SALVAGE_BLOCK_FRAMES
        try:
            block = reader.read(frames_read, size, dtype="float64")
        except DecodeError as error:
            return blocks, frames_read, error.reason
        if block.shape[0] == 0:
            break
        blocks.append(block)
        frames_read += block.shape[0]
        if block.shape[0] < size:
            break
    return blocks, frames_read, None


def _salvage(
    path: Path, blocks: list[npt.NDArray[np.float64]], frames_read: int, limit: int
) -> tuple[list[npt.NDArray[np.float64]], int]:
    """Re-decode a file whose read failed, keeping the frames of the block that failed."""
    try:
        with open_track_reader(path) as reader:
            again, frames_again, _ = _read_blocks(reader, limit, max(frames_read, 1))
    except TrackError:
        return blocks, frames_read
    if frames_again > frames_read:
        return again, frames_again
    return blocks, frames_read


def _seconds(frames: int, rate: int, other: int) -> str:
    """`frames` as seconds, with enough decimals to differ from `other` when they differ."""
    for decimals in (1, 3):
        text = f"{frames / rate:.{decimals}f}"
        if text != f"{other / rate:.{decimals}f}" and (frames == 0 or float(text) > 0):
            return f"{text} s"
    return f"{frames / rate:.3f} s"


def check_rate_and_channels(path: Path, samplerate: int, channels: int) -> None:
    """What a header alone proves unplayable (the library skips such a file at once)."""
    if not MIN_NATIVE_RATE <= samplerate <= MAX_NATIVE_RATE:
        raise TrackInvalid(path, f"absurd sample rate {samplerate} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise TrackInvalid(path, f"absurd channel count {channels}")


def _check_format(path: Path, info: StreamInfo) -> None:
    check_rate_and_channels(path, info.samplerate, info.channels)
    if info.frames == 0 and info.length_known:
        if info.frames_declared:
            declared = f"{info.frames_declared / info.samplerate:.1f} s"
            raise TrackEmpty(
                path, f"truncated: no audio data after the header ({declared} declared)"
            )
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


_C = 0.7071
_DOWNMIX_LEFT: dict[int, tuple[float, ...]] = {
    # Default WAV/FLAC channel orders; the right channel mirrors the left (swap L/R pairs).
    3: (1.0, 0.0, _C),  # L R C
    5: (1.0, 0.0, _C, _C, 0.0),  # L R C Ls Rs
    6: (1.0, 0.0, _C, 0.0, _C, 0.0),  # L R C LFE Ls Rs (ITU, LFE dropped)
    7: (1.0, 0.0, _C, 0.0, 0.5, _C, 0.0),  # L R C LFE Cs Ls Rs
    8: (1.0, 0.0, _C, 0.0, _C, 0.0, _C, 0.0),  # L R C LFE Lb Rb Ls Rs
}
_DOWNMIX_RIGHT_ORDER: dict[int, tuple[int, ...]] = {
    3: (1, 0, 2),
    5: (1, 0, 2, 4, 3),
    6: (1, 0, 2, 3, 5, 4),
    7: (1, 0, 2, 3, 4, 6, 5),
    8: (1, 0, 2, 3, 5, 4, 7, 6),
}


def to_stereo(raw: npt.NDArray[F]) -> npt.NDArray[F]:
    """Mono is duplicated; 3.0, 5.0, 5.1, 6.1 and 7.1 use an ITU-style downmix (centre on
    both sides, LFE dropped); other layouts average even and odd channels. The gains of each
    side sum to 1, so the downmix never peaks above the input's peak."""
    channels = raw.shape[1]
    if channels == 2:
        return raw
    if channels == 1:
        return np.repeat(raw, 2, axis=1)
    if channels in _DOWNMIX_LEFT:
        left_gains = np.asarray(_DOWNMIX_LEFT[channels])
        right_gains = left_gains[list(_DOWNMIX_RIGHT_ORDER[channels])]
        total = left_gains.sum()
        return np.stack(
            [_weighted_sum(raw, left_gains / total), _weighted_sum(raw, right_gains / total)],
            axis=1,
        )
    left = raw[:, 0::2].mean(axis=1)
    right = raw[:, 1::2].mean(axis=1)
    return np.stack([left, right], axis=1)


def _weighted_sum(raw: npt.NDArray[F], gains: npt.NDArray[np.float64]) -> npt.NDArray[F]:
    """sum(raw[:, c] * gains[c]) channel by channel in raw's dtype: a matrix product would
    call BLAS, whose worker threads fight the render threads for the cores."""
    total = np.zeros(raw.shape[0], dtype=raw.dtype)
    for channel, gain in enumerate(gains):
        if gain:
            total += raw[:, channel] * raw.dtype.type(gain)
    return total


def resample_to(audio: npt.NDArray[np.float64], native_rate: int, rate: int) -> Audio:
    """`audio` at `rate`, as contiguous float32 (see `resampled`).

    The ratio is exact for every usual rate; an odd one (44101 Hz) is approximated to
    within 0.025% (half a cent of pitch), so that windows of a source stay aligned.
    """
    if native_rate != rate:
        up, down = resample_ratio(native_rate, rate)
        if up != down:
            audio = resampled(audio, up, down)
    return np.ascontiguousarray(audio, dtype=np.float32)


def resampled(audio: npt.NDArray[np.floating], up: int, down: int) -> npt.NDArray[np.float64]:
    """(frames, channels) audio at `up / down` times its rate: soxr's very high quality
    (passband flat to 0.02 dB, aliases below -180 dB, in float64; bench/resample.py has it
    against resample_poly), `ceil(frames * up / down)` frames long as a polyphase filter
    gives, soxr's sometimes missing last frame being silence."""
    import soxr

    frames = audio.shape[0]
    out = np.asarray(soxr.resample(np.asarray(audio, dtype=np.float64), down, up, "VHQ"))
    wanted = math.ceil(frames * up / down)
    if out.shape[0] < wanted:
        out = np.concatenate([out, np.zeros((wanted - out.shape[0], out.shape[1]))])
    return out[:wanted]


def resample_ratio(native_rate: int, rate: int) -> tuple[int, int]:
    """(up, down) of the polyphase resampler from `native_rate` to `rate`; (1, 1) when equal."""
    if native_rate == rate:
        return 1, 1
    divisor = math.gcd(native_rate, rate)
    up, down = rate // divisor, native_rate // divisor
    if max(up, down) <= MAX_POLYPHASE_FACTOR:
        return up, down
    if rate >= native_rate:  # bound `up`, the denominator of native/rate
        approx = Fraction(native_rate, rate).limit_denominator(MAX_POLYPHASE_FACTOR)
        return approx.denominator, max(approx.numerator, 1)
    approx = Fraction(rate, native_rate).limit_denominator(MAX_POLYPHASE_FACTOR)
    return max(approx.numerator, 1), approx.denominator


def _not_decodable(path: Path, error: DecodeError) -> TrackUnreadable:
    """The one error for a file no decoder reads, with the decoder's reason."""
    return TrackUnreadable(path, f"not a readable audio file ({error.reason})")


def not_openable(path: Path, error: OSError) -> TrackUnreadable:
    """The one error for a file the system will not open for us (probe and decode)."""
    return TrackUnreadable(path, f"cannot be opened ({_os_reason(error)})")


def _os_reason(error: OSError) -> str:
    return short_reason(RuntimeError(error.strerror)) if error.strerror else short_reason(error)
