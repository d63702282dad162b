"""The library: which files to play, found from files and folders, probed cheaply.

Opening a folder must not decode every file (a library can hold thousands), so `scan`
reads only headers; full decoding and validation happen when a track is first rendered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from engine.errors import TrackEmpty, TrackError
from engine.library.decoders import AUDIO_EXTENSIONS
from engine.library.index import FileStamp, IndexEntry, LibraryIndex
from engine.library.m3u import PlaylistFileError, is_playlist, read_playlist
from engine.library.order import sorted_by_tags
from engine.library.tags import read_tags
from engine.library.tracks import (
    Track,
    check_path,
    check_rate_and_channels,
    fingerprint_file,
    listed_track,
    not_openable,
    open_track_reader,
)

PROGRESS_EVERY_FILES = 100
"""How often `open_library` reports progress: often enough for a bar, cheap for 10,000 files."""
ScanProgress = Callable[[int, int], None]
"""(files probed, files found): a long scan shows it is moving."""


@dataclass(frozen=True)
class SkippedFile:
    """A file the library could not use and the one-line reason, shown to the listener."""

    path: Path
    reason: str


@dataclass(frozen=True)
class _Group:
    """The files one path given to `open_library` stands for; a folder's are played in the
    order their tags give, a file's and a playlist's as given."""

    files: list[Path]
    by_tags: bool


def scan(paths: Iterable[str | Path]) -> tuple[list[Path], list[SkippedFile]]:
    """Expand files, folders (recursively, sorted) and playlists into audio file paths."""
    groups, skipped = _scan_groups(paths)
    return [path for group in groups for path in group.files], skipped


def _scan_groups(paths: Iterable[str | Path]) -> tuple[list[_Group], list[SkippedFile]]:
    groups: list[_Group] = []
    skipped: list[SkippedFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            groups.append(_Group(_walk(path, skipped), by_tags=True))
        elif is_playlist(path):
            groups.append(_Group(_listed(path, skipped), by_tags=False))
        elif os.path.lexists(path):
            groups.append(_Group([path], by_tags=False))
        else:
            skipped.append(SkippedFile(path, "file not found"))
    return groups, skipped


def _listed(playlist: Path, skipped: list[SkippedFile]) -> list[Path]:
    try:
        found, missing = read_playlist(playlist)
    except PlaylistFileError as error:
        skipped.append(SkippedFile(playlist, str(error).removeprefix(f"{playlist.name}: ")))
        return []
    skipped.extend(SkippedFile(path, reason) for path, reason in missing)
    return found


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
    with open_track_reader(path) as reader:
        info = reader.info
    try:
        fingerprint = fingerprint_file(path)
    except OSError as error:
        raise not_openable(path, error) from error
    if info.frames <= 0 and info.length_known:
        raise TrackEmpty(path, "no audio frames")
    check_rate_and_channels(path, info.samplerate, info.channels)
    duration = info.frames / info.samplerate
    return listed_track(
        path,
        duration,
        info.samplerate,
        info.channels,
        fingerprint,
        info.format,
        read_tags(path),
        sample_rate,
    )


def open_library(
    paths: Iterable[str | Path],
    sample_rate: int,
    progress: ScanProgress | None = None,
    index: LibraryIndex | None = None,
) -> tuple[list[Track], list[SkippedFile]]:
    """Scan and probe: the playable tracks in the library's order (`engine/library/order.py`),
    and what was skipped with why.

    With an `index`, a file whose size and modification time it knows is not probed
    again, and what is probed is recorded in it. `progress` is called every
    `PROGRESS_EVERY_FILES` files and once at the end."""
    paths = list(paths)
    groups, skipped = _scan_groups(paths)
    files = [path for group in groups for path in group.files]
    known = index.entries() if index is not None else {}
    probed: list[IndexEntry] = []
    tracks: list[Track] = []
    done = 0
    for group in groups:
        found: list[Track] = []
        for path in group.files:
            entry = _indexed(path, known)
            if entry is None:
                entry = _probed(path, sample_rate)
                if entry.stamp is not None:
                    probed.append(entry)
            if entry.track is not None:
                found.append(entry.track)
            else:
                skipped.append(SkippedFile(path, entry.reason))
            done += 1
            if progress is not None and (done % PROGRESS_EVERY_FILES == 0 or done == len(files)):
                progress(done, len(files))
        tracks.extend(sorted_by_tags(found) if group.by_tags else found)
    if index is not None:
        index.store(probed)
        index.forget(_vanished(paths, files, known))
    return tracks, skipped


def _indexed(path: Path, known: Mapping[str, IndexEntry]) -> IndexEntry | None:
    """The index's entry for `path` if the file is still the one it probed."""
    entry = known.get(os.path.abspath(path))
    if entry is None or FileStamp.of(path) != entry.stamp:
        return None
    if entry.track is not None and entry.track.path != path:  # listed by another spelling
        return IndexEntry(entry.path, entry.stamp, replace(entry.track, path=path))
    return entry


def _probed(path: Path, sample_rate: int) -> IndexEntry:
    stamp = FileStamp.of(path)
    key = Path(os.path.abspath(path))
    try:
        return IndexEntry(key, stamp, probe(path, sample_rate))
    except TrackError as error:
        return IndexEntry(key, stamp, None, error.reason)


def _vanished(
    roots: Iterable[str | Path], files: list[Path], known: Mapping[str, IndexEntry]
) -> list[str]:
    """Indexed files under the scanned folders that the scan no longer found."""
    folders = [os.path.join(os.path.abspath(r), "") for r in roots if Path(r).is_dir()]
    found = {os.path.abspath(f) for f in files}
    return [
        key
        for key in known
        if key not in found and any(key.startswith(folder) for folder in folders)
    ]
