"""`StateStore`: predictor state and settings kept between sessions, never at playback's cost.

The file is plain, versioned JSON written atomically (a temp file in the same directory,
flushed and fsynced, then renamed over the old one), so a crash or a full disk leaves either
the old file or the new one, never half of each. A file we cannot use (unreadable, not JSON,
not an object, no version, a newer version) is moved aside, not deleted, so a newer Tierplay's
state or a hand edit can be recovered; the engine starts fresh. Nothing here raises: failures
come back as one-line messages for the status bar and the event log.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

STATE_VERSION = 1
"""Bump when the layout changes in a way an older reader would misread."""
STATE_FILENAME = "state.json"
ENVELOPE_KEYS = ("version", "saved_at")
"""Written around the sections; a section may not use these names."""
UtcClock = Callable[[], datetime]
STALE_TEMP_SECONDS = 600.0
"""A temp file this old is a save that never finished (the process was killed while it
wrote): removed at load. Younger ones may be another player's save in progress."""


STATE_DIR_VARIABLE = "TIERPLAY_STATE_DIR"
"""Overrides the default directory (tests and benchmarks keep the listener's state apart)."""


def default_state_dir() -> Path:
    """$TIERPLAY_STATE_DIR, else the platform's per-user state directory
    (e.g. ~/.local/state/tierplay on Linux)."""
    override = os.environ.get(STATE_DIR_VARIABLE)
    if override:
        return Path(override)
    return platformdirs.user_state_path("tierplay")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LoadResult:
    """What `StateStore.load` found: `data` None means start fresh."""

    data: dict[str, Any] | None
    """The saved sections, without the version and time stamp around them."""
    warning: str | None
    """One line for the listener when a file was unusable, else None."""


class _Unusable(Exception):
    """A state file that must be set aside; `suffix` names the copy, `str()` says why."""

    def __init__(self, reason: str, suffix: str = "bad") -> None:
        super().__init__(reason)
        self.suffix = suffix


class StateStore:
    """One JSON file of named sections, e.g. {"predictor": {...}, "settings": {...}}."""

    def __init__(
        self,
        directory: Path | None = None,
        filename: str = STATE_FILENAME,
        *,
        clock: UtcClock = _utc_now,
    ) -> None:
        self.directory = directory if directory is not None else default_state_dir()
        self.path = self.directory / filename
        self._clock = clock
        self._newer_in_place = False
        """A newer version's file could not be moved aside: saving would destroy it."""

    def load(self) -> LoadResult:
        """Read the saved sections; a missing file is a fresh start without a warning."""
        self._remove_stale_temps()
        try:
            data = self._read()
        except FileNotFoundError:
            return LoadResult(None, None)
        except _Unusable as unusable:
            return LoadResult(None, self._set_aside(unusable))
        return LoadResult({k: v for k, v in data.items() if k not in ENVELOPE_KEYS}, None)

    def save(self, sections: Mapping[str, Any]) -> str | None:
        """Write `sections` atomically: None on success, else why not (the old file is kept)."""
        clash = [key for key in ENVELOPE_KEYS if key in sections]
        if clash:
            return f"state not saved: section name {clash[0]!r} is reserved"
        if self._newer_in_place:
            return f"state not saved: {self.path} is from a newer Tierplay and was kept"
        document = {"version": STATE_VERSION, "saved_at": self._clock().isoformat(), **sections}
        try:
            text = json.dumps(document, allow_nan=False, indent=1, ensure_ascii=False) + "\n"
        except (TypeError, ValueError, RecursionError) as exc:
            return f"state not saved: not plain JSON data ({exc})"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._write_atomically(text.encode("utf-8"))
        except OSError as exc:
            return f"state not saved to {self.path}: {_describe(exc)}"
        return None

    def _read(self) -> dict[str, Any]:
        """The file's top-level object, checked; raises `_Unusable` for anything we cannot use."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise _Unusable(f"could not be read ({_describe(exc)})") from exc
        try:
            document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise _Unusable("is not valid JSON") from exc
        if not isinstance(document, dict):
            raise _Unusable("is not a JSON object")
        version = document.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise _Unusable("has no valid version number")
        if version > STATE_VERSION:
            raise _Unusable(
                f"was written by a newer Tierplay (version {version})", f"newer-v{version}"
            )
        return document

    def _set_aside(self, unusable: _Unusable) -> str:
        """Move the unusable file out of the way and say where it went."""
        stamp = self._clock().strftime("%Y%m%dT%H%M%SZ")
        aside = self._free_name(f"{self.path.name}.{unusable.suffix}-{stamp}")
        try:
            self.path.rename(aside)
        except OSError as exc:
            self._newer_in_place = unusable.suffix.startswith("newer")
            kept = "kept it" if self._newer_in_place else "it will be replaced on the next save"
            return (
                f"{self.path} {unusable}; could not move it aside ({_describe(exc)}), {kept}; "
                "starting fresh"
            )
        return f"{self.path} {unusable}; moved it to {aside.name} and started fresh"

    def _free_name(self, name: str) -> Path:
        """`name` in the state directory, numbered if a file of that name exists already."""
        candidate = self.directory / name
        number = 1
        while candidate.exists():
            candidate = self.directory / f"{name}-{number}"
            number += 1
        return candidate

    def _remove_stale_temps(self) -> None:
        """The temp files of saves that never finished (`_write_atomically`'s names)."""
        now = time.time()
        with suppress(OSError):
            for temp in self.directory.glob(f".{glob.escape(self.path.name)}.*.tmp"):
                with suppress(OSError):
                    if now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
                        temp.unlink()

    def _write_atomically(self, payload: bytes) -> None:
        """Temp file, fsync, rename: readers see the old file or the new one, never a mix."""
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.directory
        )
        try:
            with open(fd, "wb") as temp:
                temp.write(payload)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_directory(self.directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it.

    The new file is already in place, so a failure here is not a failed save.
    """
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON; we never write them, so a file holding them is foreign."""
    raise ValueError(f"{name} is not JSON")


def _describe(exc: OSError) -> str:
    """An OS error as a short phrase without the path, which the caller names already."""
    return " ".join((exc.strerror or str(exc) or type(exc).__name__).split())
