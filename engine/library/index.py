"""`LibraryIndex`: what every file of the library was found to be, kept in SQLite.

Probing a file (its header, a hash of its head, its tags) is the cost of opening a
library: about a millisecond a file when the disk is warm, far more when it is not. The
index keeps each file's result keyed by path, size and modification time, so reopening a
library of 10,000 tracks only lists the folders and stats the files; a file that changed
is probed again. Files that cannot play are kept too, with their one-line reason.

The index is a cache in the user cache folder: a file that is damaged, from another
version or locked by a second player is set aside and rebuilt, never a reason not to play.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import platformdirs

from engine.library.tags import Tags
from engine.library.tracks import Track, listed_track

INDEX_FILENAME = "library.sqlite"
SCHEMA_VERSION = 2
"""Stored as `PRAGMA user_version`: an index of another version is rebuilt (2: text tags
hold every value of a multi-valued tag, not the first)."""
CACHE_DIR_VARIABLE = "TIERPLAY_CACHE_DIR"
"""Overrides the user cache folder (tests and benchmarks keep the listener's index apart)."""
LOCK_TIMEOUT_SECONDS = 2.0

_TAG_COLUMNS = tuple(f.name for f in fields(Tags))
_COLUMNS = (
    "path",
    "size",
    "mtime_ns",
    "fingerprint",
    "duration",
    "native_rate",
    "channels",
    "format",
    *_TAG_COLUMNS,
    "reason",
)


def default_cache_dir() -> Path:
    """$TIERPLAY_CACHE_DIR, else the platform's per-user cache folder
    (e.g. ~/.cache/tierplay on Linux)."""
    override = os.environ.get(CACHE_DIR_VARIABLE)
    if override:
        return Path(override)
    return platformdirs.user_cache_path("tierplay")


@dataclass(frozen=True)
class FileStamp:
    """What says a file is the one probed before: its size and modification time."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp | None:
        try:
            info = path.stat()
        except OSError:
            return None
        return cls(info.st_size, info.st_mtime_ns)


@dataclass(frozen=True)
class IndexEntry:
    """One file as probed: a playable track (with its tags), or why it cannot play."""

    path: Path
    """Absolute, as the index keys it."""
    stamp: FileStamp | None
    """None when the file could not even be stat'ed: nothing to keep."""
    track: Track | None
    reason: str = ""


class LibraryIndex:
    """Thread-safe; `path` None keeps the index in memory only (nothing survives)."""

    def __init__(self, path: Path | None, sample_rate: int) -> None:
        self.path = path
        self._sample_rate = sample_rate
        self._lock = threading.Lock()
        self._warning: str | None = None
        self._db = self._connect()

    @classmethod
    def in_cache_dir(cls, sample_rate: int, directory: Path | None = None) -> LibraryIndex:
        folder = directory if directory is not None else default_cache_dir()
        return cls(folder / INDEX_FILENAME, sample_rate)

    def take_warning(self) -> str | None:
        """One line for the listener if the file on disk could not be used (told once)."""
        with self._lock:
            warning, self._warning = self._warning, None
        return warning

    def entries(self) -> Mapping[str, IndexEntry]:
        """Every file the index knows, by absolute path. An entry becomes a `Track` only
        when it is looked up: a small folder opened does not pay for a large index."""
        with self._lock:
            try:
                rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM files").fetchall()
            except sqlite3.Error as error:
                self._start_again(error)
                return {}
        return _Entries({row[0]: row for row in rows}, self._entry)

    def store(self, entries: Iterable[IndexEntry]) -> None:
        """Record probed files (replacing what was known of them)."""
        rows = [self._row(entry) for entry in entries if entry.stamp is not None]
        if not rows:
            return
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._lock:
            try:
                with self._db:
                    self._db.executemany(
                        f"INSERT OR REPLACE INTO files ({', '.join(_COLUMNS)}) VALUES ({marks})",
                        rows,
                    )
            except sqlite3.Error as error:
                self._start_again(error)

    def forget(self, paths: Iterable[str]) -> None:
        """Drop files that are gone."""
        keys = [(path,) for path in paths]
        if not keys:
            return
        with self._lock:
            try:
                with self._db:
                    self._db.executemany("DELETE FROM files WHERE path = ?", keys)
            except sqlite3.Error as error:
                self._start_again(error)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- internals ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            return self._open(":memory:")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._open(str(self.path))
        except (sqlite3.Error, OSError) as error:
            return self._set_aside(error)

    def _start_again(self, error: sqlite3.Error) -> None:
        """Reading or writing failed (a damaged file, a full disk): start a new index."""
        self._db.close()
        self._db = self._set_aside(error) if self.path is not None else self._open(":memory:")

    def _set_aside(self, error: BaseException) -> sqlite3.Connection:
        """Move the unusable file (and its journal) aside and start a new one there; in
        memory if even that fails. Says so once in `warning`."""
        assert self.path is not None
        try:
            for suffix in ("", "-wal", "-shm"):
                part = self.path.with_name(self.path.name + suffix)
                if part.exists():
                    part.replace(part.with_name(part.name + ".unusable"))
            db = self._open(str(self.path))
            self._warning = f"library index was unusable ({_short(error)}): rebuilt"
            return db
        except (sqlite3.Error, OSError) as second:
            self._warning = f"library index cannot be kept ({_short(second)}): in memory"
            return self._open(":memory:")

    def _open(self, where: str) -> sqlite3.Connection:
        db = sqlite3.connect(where, timeout=LOCK_TIMEOUT_SECONDS, check_same_thread=False)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                db.execute("DROP TABLE IF EXISTS files")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS files ("
                "path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, fingerprint TEXT, "
                "duration REAL, native_rate INTEGER, channels INTEGER, format TEXT, "
                + ", ".join(f"{name} {_sql_type(name)}" for name in _TAG_COLUMNS)
                + ", reason TEXT)"
            )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.commit()
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _row(self, entry: IndexEntry) -> tuple[object, ...]:
        track, stamp = entry.track, entry.stamp
        assert stamp is not None
        head: tuple[object, ...] = (str(entry.path), stamp.size, stamp.mtime_ns)
        if track is None:
            empty = (None,) * (len(_COLUMNS) - len(head) - 1)
            return (*head, *empty, entry.reason)
        tags = (getattr(track.tags, name) for name in _TAG_COLUMNS)
        info = (track.fingerprint, track.duration_seconds, track.native_rate, track.channels)
        return (*head, *info, track.format, *tags, None)

    def _entry(self, row: tuple[Any, ...]) -> IndexEntry:
        values = dict(zip(_COLUMNS, row, strict=True))
        path = Path(str(values["path"]))
        stamp = FileStamp(int(values["size"]), int(values["mtime_ns"]))
        if values["reason"] is not None:
            return IndexEntry(path, stamp, None, str(values["reason"]))
        track = listed_track(
            path,
            float(values["duration"]),
            int(values["native_rate"]),
            int(values["channels"]),
            str(values["fingerprint"]),
            str(values["format"]),
            Tags(**{name: values[name] for name in _TAG_COLUMNS}),
            self._sample_rate,
        )
        return IndexEntry(path, stamp, track)


class _Entries(Mapping[str, IndexEntry]):
    """The index's rows by path, each made an `IndexEntry` when it is read."""

    def __init__(
        self, rows: dict[str, tuple[Any, ...]], make: Callable[[tuple[Any, ...]], IndexEntry]
    ) -> None:
        self._rows = rows
        self._make = make

    def __getitem__(self, path: str) -> IndexEntry:
        return self._make(self._rows[path])

    def __contains__(self, path: object) -> bool:
        return path in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def _sql_type(name: str) -> str:
    kind = {f.name: f.type for f in fields(Tags)}[name]
    if "int" in str(kind):
        return "INTEGER"
    if "float" in str(kind):
        return "REAL"
    return "TEXT"


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:80] or type(error).__name__
