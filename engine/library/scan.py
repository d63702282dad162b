"""The library: which files to play, found from files and folders, probed cheaply.

Opening a folder must not decode every file (a library can hold thousands), so `scan`
reads only headers; full decoding and validation happen when a track is first rendered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from engine.errors import TrackEmpty, TrackError, TrackUnreadable
from engine.library.tracks import (
    Track,
    check_path,
    check_rate_and_channels,
    fingerprint_file,
    not_openable,
    not_readable,
    track_id_for,
)

PROGRESS_EVERY_FILES = 100
"""How often `open_library` reports progress: often enough for a bar, cheap for 10,000 files."""
ScanProgress = Callable[[int, int], None]
"""(files probed, files found): a long scan shows it is moving."""
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".w64"}
)


@dataclass(frozen=True)
class SkippedFile:
    """A file the library could not use and the one-line reason, shown to the listener."""

    path: Path
    reason: str


def scan(paths: Iterable[str | Path]) -> tuple[list[Path], list[SkippedFile]]:
    """Expand files and folders (recursively, sorted) into audio file paths."""
    found: list[Path] = []
    skipped: list[SkippedFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_walk(path, skipped))
        elif os.path.lexists(path):
            found.append(path)
        else:
            skipped.append(SkippedFile(path, "file not found"))
    return found, skipped


def _walk(folder: Path, skipped: list[SkippedFile]) -> list[Path]:
    result: list[Path] = []

    def on_error(error: OSError) -> None:
        skipped.append(SkippedFile(Path(error.filename or folder), "folder cannot be read"))

    for root, dirs, files in os.walk(folder, onerror=on_error):
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                result.append(Path(root) / name)
    return result


def probe(path: Path, sample_rate: int) -> Track:
    """Header-only look at a file: enough for the playlist, checked again on decode.

    It refuses what the header alone proves unplayable, with the reason `load_track` would
    give, so the listener learns it when the folder opens, not when the track comes up."""
    check_path(path)
    try:
        info = sf.info(str(path))
        fingerprint = fingerprint_file(path)
    except sf.LibsndfileError as error:
        raise not_readable(path, error) from error
    except (RuntimeError, ValueError) as error:
        raise TrackUnreadable(path, "not a readable audio file") from error
    except OSError as error:
        raise not_openable(path, error) from error
    if info.frames <= 0 and info.format not in ("MPEG", "MP3"):
        raise TrackEmpty(path, "no audio frames")
    check_rate_and_channels(path, int(info.samplerate), int(info.channels))
    duration = info.frames / info.samplerate if info.samplerate > 0 else 0.0
    return Track(
        id=track_id_for(path),
        path=path,
        duration_seconds=duration,
        native_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=round(duration * sample_rate),
        fingerprint=fingerprint,
        title=path.stem,
        format=str(info.format),
    )


def open_library(
    paths: Iterable[str | Path], sample_rate: int, progress: ScanProgress | None = None
) -> tuple[list[Track], list[SkippedFile]]:
    """Scan and probe: the playable tracks in order, and what was skipped with why.
    `progress` is called every `PROGRESS_EVERY_FILES` files and once at the end."""
    files, skipped = scan(paths)
    tracks: list[Track] = []
    for done, path in enumerate(files, start=1):
        try:
            tracks.append(probe(path, sample_rate))
        except TrackError as error:
            skipped.append(SkippedFile(path, error.reason))
        if progress is not None and (done % PROGRESS_EVERY_FILES == 0 or done == len(files)):
            progress(done, len(files))
    return tracks, skipped
