"""The engine's error log: every failure counted under its kind and subject, and told to
the listener once, then again only now and then with its count.

A failing track fails every render, a vanished file fails every lookup, a full disk fails
every save: one log line each would bury everything else in the event log (it keeps 200
lines). So each distinct failure (kind + subject) is one `ErrorEntry` whose count grows,
its first occurrence is a log line at once, and its repeats are one line per
`REPEAT_SECONDS` with the count so far. Many distinct failures at once (a folder of 500
broken files) are told one by one up to `NEW_LINES_PER_WINDOW`, then summed per kind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

REPEAT_SECONDS = 5.0
"""At most one line per this many seconds for the repeats of one failure."""
DISK_REPEAT_SECONDS = 300.0
"""A write that keeps failing (read-only folder, full disk: the state file, a trace) is
retold this rarely; its count goes on."""
NEW_LINES_PER_WINDOW = 10
"""Distinct new failures told one by one per `REPEAT_SECONDS`; the rest are summed."""
MAX_ENTRIES = 500
"""Distinct failures kept (the oldest forgotten first): a library of 10,000 broken files
must not grow the snapshot without end."""
SUMMARIES = {"track": "skipped {n} more files"}
"""How a kind's held-back new failures are summed; other kinds: `{n} more {kind} failures`."""


@dataclass(frozen=True)
class ErrorEntry:
    """One distinct failure: what failed, the latest one-line message, how often, when."""

    kind: str
    """What failed: track, render, state, trace, output, engine."""
    subject: str
    """Which one: a file's path, a state file, "renders"; with `kind`, the failure's key."""
    message: str
    count: int
    first_seen: float
    last_seen: float


@dataclass
class _Told:
    """When an entry was last told and how many of its repeats since are not yet told."""

    at: float
    every: float = REPEAT_SECONDS
    untold: int = 0


class ErrorLog:
    """Counts failures and decides which become log lines; thread-safe.

    `emit` receives each line to log (the engine's message log), called after this log's
    lock is released, so it may take other locks; callers must not hold a lock `emit`
    takes.
    """

    def __init__(self, emit: Callable[[str], None], clock: Callable[[], float]) -> None:
        self._emit = emit
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], ErrorEntry] = OrderedDict()
        self._told: dict[tuple[str, str], _Told] = {}
        self._window_start = float("-inf")
        self._new_lines = 0
        self._held_new: dict[str, int] = {}
        self.total = 0
        """Failures ever reported, repeats included."""

    def report(
        self,
        kind: str,
        subject: str,
        message: str,
        count: int = 1,
        repeat_seconds: float = REPEAT_SECONDS,
    ) -> bool:
        """Count `count` occurrences of a failure; log it if it is new, or if its repeats
        have not been told for `repeat_seconds`. Returns whether it was new."""
        now = self._clock()
        key = (kind, subject)
        lines: list[str] = []
        with self._lock:
            self.total += count
            entry = self._entries.pop(key, None)
            new = entry is None
            if entry is None:
                entry = ErrorEntry(kind, subject, message, count, now, now)
            else:
                entry = replace(entry, message=message, count=entry.count + count, last_seen=now)
            self._entries[key] = entry  # most recent last
            while len(self._entries) > MAX_ENTRIES:
                forgotten, _ = self._entries.popitem(last=False)
                self._told.pop(forgotten, None)
            if new:
                self._tell_new(entry, now, lines)
                self._told[key] = _Told(now, repeat_seconds)
            else:
                self._tell_repeat(key, entry, now, lines)
        for line in lines:
            self._emit(line)
        return new

    def flush(self, force: bool = False) -> None:
        """Tell what was held back once its window has passed (or now, with `force`):
        repeats with their count, and the new failures that were summed."""
        now = self._clock()
        lines: list[str] = []
        with self._lock:
            if force or now - self._window_start >= REPEAT_SECONDS:
                for kind, held in self._held_new.items():
                    summary = SUMMARIES.get(kind, "{n} more {kind} failures")
                    lines.append(summary.format(n=held, kind=kind))
                self._held_new.clear()
                if force:  # all told: the next failures start a window of their own
                    self._window_start = float("-inf")
            for key, told in self._told.items():
                if told.untold and (force or now - told.at >= told.every):
                    lines.append(_with_count(self._entries[key]))
                    told.at, told.untold = now, 0
        for line in lines:
            self._emit(line)

    def entries(self) -> tuple[ErrorEntry, ...]:
        """Every failure kept, the most recent first."""
        with self._lock:
            return tuple(reversed(self._entries.values()))

    def as_json(self) -> list[dict[str, Any]]:
        """Each distinct failure, the most recent first, with its count and how long ago it
        was first and last seen (the API's /api/errors)."""
        now = self._clock()
        return [
            {
                "kind": entry.kind,
                "message": entry.message,
                "count": entry.count,
                "first_seen_seconds_ago": round(now - entry.first_seen, 3),
                "last_seen_seconds_ago": round(now - entry.last_seen, 3),
            }
            for entry in self.entries()
        ]

    def count(self, kind: str, subject: str) -> int:
        with self._lock:
            entry = self._entries.get((kind, subject))
            return entry.count if entry is not None else 0

    def _tell_new(self, entry: ErrorEntry, now: float, lines: list[str]) -> None:
        if now - self._window_start >= REPEAT_SECONDS:
            self._window_start, self._new_lines = now, 0
        if self._new_lines < NEW_LINES_PER_WINDOW:
            self._new_lines += 1
            lines.append(_with_count(entry))
        else:  # summed at the next flush; its repeats are told as usual
            self._held_new[entry.kind] = self._held_new.get(entry.kind, 0) + 1

    def _tell_repeat(
        self, key: tuple[str, str], entry: ErrorEntry, now: float, lines: list[str]
    ) -> None:
        told = self._told.setdefault(key, _Told(float("-inf")))
        if now - told.at >= told.every:
            lines.append(_with_count(entry))
            told.at, told.untold = now, 0
        else:
            told.untold += 1


def _with_count(entry: ErrorEntry) -> str:
    return entry.message if entry.count == 1 else f"{entry.message} ({entry.count} times)"
