"""`TraceRecorder`: writes the listener's actions as they happen (`--record`).

Recording must never disturb playback: each line is flushed as it is written (a crash keeps
the trace), and a recorder that cannot write (disk full, read-only folder) remembers why,
stops, and lets the music go on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from engine.persist.trace import TraceEvent


class TraceRecorder:
    """Writes the listener's actions as they happen; safe to call from any thread.

    Each line is flushed as it is written, so a crash loses nothing already recorded. Writing
    never raises into the caller: on the first OSError (disk full, read-only, folder gone)
    the recorder keeps the error in `error`, closes the file and ignores later events, and
    playback goes on. An event that would make the trace unreadable (an unknown preset, a
    value out of range) is not written; its reason is kept in `rejected` and recording goes on.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        library_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._root = Path(os.path.abspath(library_root)) if library_root is not None else None
        self._lock = threading.Lock()
        self._error: OSError | None = None
        self._rejected: list[str] = []
        self._latest_t = 0.0
        self._file: IO[str] | None = None
        self._start = clock()
        try:
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - held for the session
        except OSError as error:
            self._error = error

    @property
    def error(self) -> OSError | None:
        """Why recording stopped early, or None while all is well."""
        return self._error

    @property
    def rejected(self) -> tuple[str, ...]:
        """Why each refused event was refused, in order."""
        with self._lock:
            return tuple(self._rejected)

    @property
    def recording(self) -> bool:
        """True while events are still being written."""
        return self._file is not None

    def record(self, event: str, **fields: object) -> None:
        """Write one event at the current time; `paths` of an `open` may be Path objects."""
        with self._lock:
            if self._file is None:
                return
            paths = fields.get("paths")
            if event == "open" and isinstance(paths, list | tuple):
                fields["paths"] = [self._trace_path(path) for path in paths]
            t = round(max(self._clock() - self._start, self._latest_t), 3)
            try:
                line = TraceEvent.from_fields(t, event, fields).to_json_line()
            except ValueError as error:
                self._rejected.append(f"{event!r}: {error}")
                return
            self._latest_t = t
            self._write(line)

    def close(self, *, end: bool = True) -> None:
        """Finish the trace (with an `end` event unless `end=False`); idempotent."""
        if end:
            self.record("end")
        with self._lock:
            if self._file is None:
                return
            handle, self._file = self._file, None
            try:
                handle.close()
            except OSError as error:
                self._error = error

    def __enter__(self) -> TraceRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _trace_path(self, path: object) -> object:
        """Relative to the library root when under it (portable), else absolute."""
        if not isinstance(path, str | os.PathLike):
            return path  # left for validation to report
        absolute = Path(os.path.abspath(path))
        if self._root is not None and absolute.is_relative_to(self._root):
            return absolute.relative_to(self._root).as_posix()
        return str(absolute)

    def _write(self, line: str) -> None:
        """Append and flush one line; the caller holds the lock and the file is open."""
        assert self._file is not None
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as error:
            self._error = error
            handle, self._file = self._file, None
            with contextlib.suppress(OSError):  # the first error is the one worth reporting
                handle.close()
