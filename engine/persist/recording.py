"""`CommandRecording`: the engine's `--record`, one trace at a time, failures told once.

The engine records each command on the thread that made it; a recording is started,
replaced and stopped from others (the app's workers), so the recorder in use is swapped
under a lock. The line itself is written outside it: a command that took the recorder just
before it was closed is not recorded (the closed recorder ignores it), and none waits
behind a slow disk for another's line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.observe.error_log import DISK_REPEAT_SECONDS, ErrorLog
from engine.persist.trace_recorder import TraceRecorder


class CommandRecording:
    """Records commands as a trace while a recording runs; otherwise does nothing."""

    def __init__(self, clock: Callable[[], float], errors: ErrorLog) -> None:
        self._clock = clock
        self._errors = errors
        self._recorder: TraceRecorder | None = None
        self._lock = threading.Lock()

    def start(self, path: Path, library_root: Path | None = None) -> None:
        """Record every command from now on. A recording already running is finished
        first, so its file ends cleanly; a file that cannot be opened is reported once and
        nothing is recorded."""
        with self._lock:
            previous, self._recorder = self._recorder, None
        if previous is not None:
            previous.close()
        recorder = TraceRecorder(path, clock=self._clock, library_root=library_root)
        if recorder.error is not None:
            self._errors.report("trace", str(path), f"not recording to {path}: {recorder.error}")
            return
        with self._lock:
            self._recorder = recorder

    @property
    def recording(self) -> bool:
        with self._lock:
            recorder = self._recorder
            return recorder is not None and recorder.recording

    def stop(self, report: bool = False) -> None:
        """End the trace now (with its `end` event); later commands are not recorded.
        `report`: tell a failure to write that `end` (the engine's close does)."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        recorder.close()  # writes `end`, which can fail like any other line
        if report and recorder.error is not None:
            self._failed(recorder)

    def record(self, event: str, **fields: Any) -> None:
        with self._lock:
            recorder = self._recorder
        if recorder is None:
            return
        recorder.record(event, **fields)
        if recorder.error is not None:
            self._failed(recorder)

    def _failed(self, recorder: TraceRecorder) -> None:
        """Every command after the failure is not recorded either: counted, retold rarely."""
        self._errors.report(
            "trace",
            str(recorder.path),
            f"trace recording stopped: {recorder.error}",
            repeat_seconds=DISK_REPEAT_SECONDS,
        )
