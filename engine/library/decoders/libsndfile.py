"""`SoundfileReader`: WAV, FLAC, AIFF and Ogg Vorbis through libsndfile (soundfile).

libsndfile seeks exactly and reads a window without decoding what comes before it. It also
shortens a WAV/AIFF whose header declares more data than the file holds, quietly; the
declared length is recovered from its parse log so that the cut is reported.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.library.decoders import ClosingReader, DecodeError, Native, StreamInfo, short_reason


class SoundfileReader(ClosingReader):
    """A file libsndfile reads; see `SourceReader`."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle = _open(path)
        handle = self._handle
        frames = max(int(handle.frames), 0)
        self.info = StreamInfo(
            samplerate=int(handle.samplerate),
            channels=int(handle.channels),
            frames=frames,
            format=str(handle.format),
            frames_declared=declared_frames(_parse_log(handle), frames),
            title=_tag(handle, "title"),
            artist=_tag(handle, "artist"),
            length_known=frames > 0 or str(handle.format) not in ("MPEG", "MP3"),
        )

    def read(self, first: int, count: int, dtype: str = "float32") -> Native:
        try:
            if self._handle.tell() != first:
                # A seek on a file read before can land wrong (Ogg Vorbis: 0.38 off after a
                # forward seek); from a fresh open it is exact. Reads that go on from where
                # the last one ended (a damaged stretch stepped through) do not seek.
                self._handle.close()
                self._handle = _open(self._path)
                self._handle.seek(first)
            return np.asarray(self._handle.read(count, dtype=dtype, always_2d=True))
        except sf.LibsndfileError as error:
            raise DecodeError(soundfile_reason(error)) from None
        except (RuntimeError, ValueError) as error:
            raise DecodeError(short_reason(error)) from None

    def close(self) -> None:
        self._handle.close()


def _open(path: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(path)
    except sf.LibsndfileError as error:
        raise DecodeError(soundfile_reason(error)) from None
    except (RuntimeError, ValueError) as error:
        raise DecodeError(short_reason(error)) from None


def soundfile_reason(error: sf.LibsndfileError) -> str:
    """libsndfile's own message, without soundfile's "Error opening '/long/path': " prefix."""
    try:
        text = str(error.error_string)
    except (AttributeError, RuntimeError, ValueError):
        text = str(error)
    text = text.strip().removeprefix("Error : ").removesuffix(".")
    return short_reason(RuntimeError(text)) if text else short_reason(error)


_LOG_DATA_SIZE = re.compile(
    r"^\s*(?:data|SSND|Data Size)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE
)
_LOG_BLOCK_ALIGN = re.compile(r"^\s*Block Align\s*:\s*(\d+)", re.MULTILINE)
_LOG_FRAME_COUNT = re.compile(
    r"(?:Frame count read from 'COMM' chunk \(|does not match value from 'ds64' chunk of )(\d+)"
)
_STREAMING_SIZE = 0xFFFFFFFF
"""A data size written by streaming encoders that never went back to fill it in."""


def _parse_log(handle: sf.SoundFile) -> str:
    try:
        return str(handle.extra_info)
    except (RuntimeError, ValueError, UnicodeDecodeError):
        return ""


def declared_frames(log: str, frames_claimed: int) -> int | None:
    """Frames the header declared, if libsndfile logged that the file holds less than that."""
    counted = _LOG_FRAME_COUNT.search(log)
    if counted and int(counted.group(1)) > frames_claimed:
        return int(counted.group(1))
    size = _LOG_DATA_SIZE.search(log)
    if not size:
        return None
    declared, present = int(size.group(1)), int(size.group(2))
    if declared <= present or declared >= _STREAMING_SIZE:
        return None
    align = _LOG_BLOCK_ALIGN.search(log)
    if align and int(align.group(1)) > 0:
        return declared // int(align.group(1))
    if present > 0 and frames_claimed > 0:
        return declared * frames_claimed // present
    return None


def _tag(handle: sf.SoundFile, name: str) -> str:
    try:
        value = getattr(handle, name, "")
    except (RuntimeError, sf.LibsndfileError):
        return ""
    return " ".join(str(value or "").split())  # one line: no newlines or tabs from tags
