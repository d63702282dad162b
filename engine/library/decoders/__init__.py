"""Decoders: one `SourceReader` protocol over the libraries that decode audio files.

libsndfile (soundfile) reads WAV, FLAC, AIFF, Ogg Vorbis and Opus, quickly and with exact
seeks; FFmpeg (through PyAV, whose wheels bundle it) reads the rest: MP3, AAC and ALAC in
.m4a, raw AAC, WavPack, Matroska and WebM. MP3 goes to FFmpeg although libsndfile reads it
too: libsndfile's mpg123 prints its complaints about a damaged or fake MP3 on the terminal
the screen is drawn on, and FFmpeg's logging is off. A file libsndfile refuses is offered
to FFmpeg (a .wav holding MP3 or ADPCM, an .ogg holding Speex); the error the listener sees
is the first decoder's, in one line. Nothing goes the other way: libsndfile would hand a
fake .mp3 to mpg123.

A reader reads native frames (the file's rate and channels) from any frame, and the frames
it returns for a given position are the same whatever the read that asked for them: the
windows of a track join exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import numpy.typing as npt

Native = npt.NDArray[Any]
"""Decoded frames at the file's rate, (frames, channels), float32 or float64."""

FFMPEG_EXTENSIONS = frozenset({".mp3", ".m4a", ".m4b", ".aac", ".wv", ".mka", ".webm"})
"""Files FFmpeg decodes first; every other one goes to libsndfile first."""
LIBSNDFILE_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".w64"}
)
AUDIO_EXTENSIONS = FFMPEG_EXTENSIONS | LIBSNDFILE_EXTENSIONS
"""What a folder scan picks up."""


class DecodeError(Exception):
    """The file cannot be decoded (there, or at all); `reason` is one line, no path."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StreamInfo:
    """What a file's header says about its audio."""

    samplerate: int
    channels: int
    frames: int
    """Native frames the header claims (0 when it does not say); a damaged file may hold
    fewer, which the reads find out."""
    format: str
    """Short upper-case name for the listener: FLAC, MP3, AAC, ALAC, OPUS..."""
    frames_declared: int | None = None
    """Frames a WAV/AIFF header declared when the file holds fewer (libsndfile shortens
    such a file quietly; its parse log keeps the declared length)."""
    title: str = ""
    artist: str = ""
    length_known: bool = True
    """False where the header gives no length (a raw MP3 stream): 0 frames is no fault."""
    exact_length: bool = True
    """False where `frames` is the container's estimate (FFmpeg's durations count an Opus
    pre-skip, an ADTS stream's length is guessed from its bit rate): a decodable end a
    little short of it is no truncation."""


class ClosingReader:
    """What makes every reader a context manager: `with open_reader(path) as reader:`."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class SourceReader(Protocol):
    """An open audio file, read window by window."""

    info: StreamInfo

    def read(self, first: int, count: int, dtype: str = "float32") -> Native:
        """Up to `count` native frames from `first`, (frames, channels) of `dtype`; fewer
        only where the audio ends.

        Raises:
            DecodeError: the frames cannot be decoded, in one line.
        """
        ...

    def close(self) -> None: ...

    def __enter__(self) -> SourceReader: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


def open_reader(path: Path) -> SourceReader:
    """The file opened by the decoder that reads it (see the module's docstring).

    Raises:
        DecodeError: no decoder reads it, in one line.
        OSError: the system would not open the file.
    """
    from engine.library.decoders.ffmpeg import FfmpegReader
    from engine.library.decoders.libsndfile import SoundfileReader

    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        return FfmpegReader(path)
    try:
        return SoundfileReader(path)
    except DecodeError as refused:
        try:
            return FfmpegReader(path)
        except DecodeError:
            raise refused from None


def warm_up(paths: Iterable[Path]) -> None:
    """Import FFmpeg's bindings (0.1 s) in the background when these files need them: a
    library read back from its index is not probed, and the first read of such a track
    must not wait for the import (the feeder may be that first reader)."""
    if any(path.suffix.lower() in FFMPEG_EXTENSIONS for path in paths):
        from engine.library.decoders.ffmpeg import import_pyav

        threading.Thread(target=import_pyav, name="import-pyav", daemon=True).start()


def short_reason(error: BaseException) -> str:
    """An exception's text on one line, at most 100 characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 100 else text[:97] + "..."
