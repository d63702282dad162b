"""M3U and M3U8 playlists: read as the files they list, written with paths relative to
the playlist, so a playlist moved with its music still plays.

Both are read as UTF-8 (an .m3u that is not falls back to Latin-1, its historical
encoding); both are written as UTF-8 with `#EXTM3U` and one `#EXTINF` per track.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from engine.errors import TierplayError
from engine.library.tracks import Track

PLAYLIST_EXTENSIONS = frozenset({".m3u", ".m3u8"})


class PlaylistFileError(TierplayError):
    """A playlist file that cannot be read or written; the message is one line."""


def is_playlist(path: Path) -> bool:
    return path.suffix.lower() in PLAYLIST_EXTENSIONS


def read_playlist(path: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files `path` lists, in order, and the entries it lists that are not files here
    with why (a stream address, a file that is not there)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PlaylistFileError(f"{path.name}: {error.strerror or 'cannot be read'}") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        if path.suffix.lower() == ".m3u8":
            raise PlaylistFileError(f"{path.name}: not UTF-8 text") from None
        text = raw.decode("latin-1")
    folder = path.parent
    found: list[Path] = []
    missing: list[tuple[Path, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if "://" in entry and not entry.startswith("file://"):
            missing.append((Path(entry), f"{path.name} line {number}: streams are not played"))
            continue
        listed = Path(entry.removeprefix("file://"))
        target = Path(os.path.normpath(listed if listed.is_absolute() else folder / listed))
        if target.is_file():
            found.append(target)
        else:
            missing.append((target, f"listed in {path.name} (line {number}) but not found"))
    return found, missing


def write_playlist(path: Path, tracks: Sequence[Track]) -> None:
    """Write `tracks` to `path` (replacing it whole or not at all), each as a path relative
    to the playlist's folder where it can be (absolute on another drive)."""
    if not is_playlist(path):
        raise PlaylistFileError(f"{path.name}: a playlist's name ends in .m3u or .m3u8")
    folder = path.absolute().parent
    lines = ["#EXTM3U"]
    for track in tracks:
        name = f"{track.artist} - {track.title}" if track.artist else track.title
        lines.append(f"#EXTINF:{round(track.duration_seconds)},{name}")
        lines.append(_relative(track.path.absolute(), folder))
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        reason = error.strerror or "cannot be written"
        raise PlaylistFileError(f"{path}: {reason.lower()}") from error


def _relative(target: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(target, folder)).as_posix()
    except ValueError:  # another drive
        return str(target)
