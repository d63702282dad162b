"""Interaction traces: what a listener did and when, one JSON object per line.

`--record` writes a trace while someone listens, `tierplay simulate` replays one through the
engine, and the benchmarks generate them (engine/sim/listeners.py). The format is fixed by the
design document:

    {"t": 12.5, "event": "preset", "preset": "punchy"}

`t` is seconds since the session started and never decreases. A replayed trace is the
evidence behind every benchmark figure, so reading is strict: each line is checked, and every
problem is reported with its line number instead of being skipped or guessed at. That
includes keys an event does not define (a misspelt `"postion"` must not quietly turn into a
seek with no target) and duplicate keys (JSON would keep the last one without a word).
Blank lines are allowed; a trace need not end with `end` (a crashed session still leaves a
usable trace), but nothing may follow an `end`.

Recording (engine/persist/trace_recorder.py) has the opposite duty: it must never disturb playback.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from engine.errors import TierplayError
from engine.playback.queue import REPEAT_MODES, SCOPES
from engine.presets.toml_file import NAME_PATTERN
from engine.vocabulary import PRESET_ORDER

EVENT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "open": ("paths",),
    "play": (),
    "pause": (),
    "preset": ("preset",),
    "seek": ("position",),
    "seek_relative": ("delta",),
    "intensity": ("value",),
    "volume": ("value",),
    "next": (),
    "prev": (),
    "track": ("index",),
    "repeat": ("mode",),
    "shuffle": ("on", "seed"),
    "scope": ("mode", "index"),
    "enqueue": ("index", "next"),
    "dequeue": ("place",),
    "move": ("place", "steps"),
    "end": (),
}
"""Every event a trace may hold, with the payload keys it requires (and allows)."""

MAX_REPORTED_PROBLEMS = 20
"""Reading stops after this many problems: enough to fix a file in one go, not a flood."""
SHOWN_PROBLEMS = 3
"""Problems spelled out in an error's one-line message; `TraceError.problems` has them all."""


@dataclass(frozen=True)
class TraceEvent:
    """One listener action at `t` seconds; only the payload attribute its event uses is set.

    Construction validates, so an event that exists is one `read_trace` would accept on its
    own (ordering is a property of the whole trace and is checked there).
    """

    t: float
    event: str
    paths: tuple[str, ...] | None = None
    """`open`: the files or folders, relative to the library root or absolute."""
    preset_name: str | None = None
    """`preset`: a preset's name (written as the JSON key `preset`)."""
    position: float | None = None
    """`seek`: absolute seconds into the current track."""
    delta: float | None = None
    """`seek_relative`: seconds to move, negative to go back."""
    value: float | None = None
    """`intensity` and `volume`: in [0, 1]."""
    index: int | None = None
    """`track`, `scope`, `enqueue`: a track's place in the playlist (0 first)."""
    mode: str | None = None
    """`repeat`: off, all or one; `scope`: library, album or folder."""
    on: bool | None = None
    """`shuffle`: on or off."""
    seed: int | None = None
    """`shuffle`: the seed of its permutation, so a replay shuffles alike."""
    play_next: bool | None = None
    """`enqueue`: queued to play next (JSON key `next`), else at the queue's end."""
    place: int | None = None
    """`dequeue`, `move`: a place in the queue (0 first)."""
    steps: int | None = None
    """`move`: places to move, negative towards the front."""

    def __post_init__(self) -> None:
        problem = _time_problem(self.t) or _event_problem(self.event, self.payload())
        if problem is not None:
            raise ValueError(problem)
        # JSON-shaped input (ints, lists) is stored in one form, so equal events compare equal.
        object.__setattr__(self, "t", float(self.t))
        if self.paths is not None:
            object.__setattr__(self, "paths", tuple(self.paths))
        for name in ("position", "delta", "value"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    @staticmethod
    def from_fields(t: object, event: object, fields: Mapping[str, object]) -> TraceEvent:
        """Build from JSON-shaped values (the `fields` use the JSON keys).

        Raises:
            ValueError: with a message fit to follow "line N: ".
        """
        problem = _time_problem(t) or _event_problem(event, fields)
        if problem is not None:
            raise ValueError(problem)
        payload: dict[str, Any] = {_ATTRIBUTES[key]: value for key, value in fields.items()}
        return TraceEvent(cast(float, t), cast(str, event), **payload)

    def payload(self) -> dict[str, object]:
        """The event's fields under their JSON keys, without `t` and `event`."""
        values = {
            "paths": self.paths,
            "preset": self.preset_name,
            "position": self.position,
            "delta": self.delta,
            "value": self.value,
            "index": self.index,
            "mode": self.mode,
            "on": self.on,
            "seed": self.seed,
            "next": self.play_next,
            "place": self.place,
            "steps": self.steps,
        }
        return {key: value for key, value in values.items() if value is not None}

    def to_json_line(self) -> str:
        """The event as one trace line (no newline), keys in the documented order."""
        fields: dict[str, object] = {"t": self.t, "event": self.event}
        for key, value in self.payload().items():
            fields[key] = list(value) if isinstance(value, tuple) else value
        return json.dumps(fields, allow_nan=False, ensure_ascii=False)

    # -- one constructor per event, named after it ------------------------------------------
    @classmethod
    def open(cls, t: float, paths: Sequence[str]) -> TraceEvent:
        return cls(t, "open", paths=tuple(paths))

    @classmethod
    def play(cls, t: float) -> TraceEvent:
        return cls(t, "play")

    @classmethod
    def pause(cls, t: float) -> TraceEvent:
        return cls(t, "pause")

    @classmethod
    def preset(cls, t: float, name: str) -> TraceEvent:
        return cls(t, "preset", preset_name=name)

    @classmethod
    def seek(cls, t: float, position: float) -> TraceEvent:
        return cls(t, "seek", position=position)

    @classmethod
    def seek_relative(cls, t: float, delta: float) -> TraceEvent:
        return cls(t, "seek_relative", delta=delta)

    @classmethod
    def intensity(cls, t: float, value: float) -> TraceEvent:
        return cls(t, "intensity", value=value)

    @classmethod
    def volume(cls, t: float, value: float) -> TraceEvent:
        return cls(t, "volume", value=value)

    @classmethod
    def next(cls, t: float) -> TraceEvent:
        return cls(t, "next")

    @classmethod
    def prev(cls, t: float) -> TraceEvent:
        return cls(t, "prev")

    @classmethod
    def track(cls, t: float, index: int) -> TraceEvent:
        return cls(t, "track", index=index)

    @classmethod
    def end(cls, t: float) -> TraceEvent:
        return cls(t, "end")


_ATTRIBUTES = {"paths": "paths", "preset": "preset_name", "position": "position"}
_ATTRIBUTES |= {"delta": "delta", "value": "value", "index": "index"}
_ATTRIBUTES |= {"mode": "mode", "on": "on", "seed": "seed", "next": "play_next"}
_ATTRIBUTES |= {"place": "place", "steps": "steps"}
_COUNTS = ("index", "seed", "place")
"""Keys that hold a whole number >= 0."""


def _number(value: object) -> float | None:
    """A finite JSON number as a float; None for anything else (`true`, NaN, 1e999, "1")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # a boolean is an int to Python, but in a trace it is a mistake
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        return None
    return number if math.isfinite(number) else None


def _time_problem(t: object) -> str | None:
    number = _number(t)
    if number is None:
        return f"t must be a finite number, not {t!r}"
    if number < 0.0:
        return f"t must not be negative ({t!r})"
    return None


def _event_problem(event: object, fields: Mapping[str, object]) -> str | None:
    if not isinstance(event, str):
        return f"event must be a string, not {event!r}"
    expected = EVENT_FIELDS.get(event)
    if expected is None:
        return f"unknown event {event!r} (known: {', '.join(EVENT_FIELDS)})"
    unexpected = [key for key in fields if key not in expected]
    if unexpected:
        return f"unexpected key {unexpected[0]!r} for {event!r}" + _allowed(expected)
    missing = [key for key in expected if key not in fields]
    if missing:
        return f"{event!r} needs {missing[0]!r}"
    for key in expected:
        problem = _field_problem(event, key, fields[key])
        if problem is not None:
            return problem
    return None


def _allowed(keys: Collection[str]) -> str:
    return f" (it takes {', '.join(map(repr, keys))})" if keys else " (it takes none)"


def _field_problem(event: str, key: str, value: object) -> str | None:
    if key == "paths":
        if not isinstance(value, list | tuple):
            return f"'open' paths must be a list of strings, not {value!r}"
        if not value:
            return "'open' paths must not be empty"
        if not all(isinstance(path, str) and path for path in value):
            return f"'open' paths must be non-empty strings: {value!r}"
        return None
    if key == "preset":
        if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
            return f"{value!r} is not a preset name"
        return None
    if key in _COUNTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{event!r} {key} must be a whole number >= 0, not {value!r}"
        return None
    if key == "steps":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{event!r} steps must be a whole number, not {value!r}"
        return None
    if key in ("on", "next"):
        if not isinstance(value, bool):
            return f"{event!r} {key} must be true or false, not {value!r}"
        return None
    if key == "mode":
        modes = REPEAT_MODES if event == "repeat" else SCOPES
        if value not in modes:
            return f"{event!r} mode must be one of {', '.join(modes)}, not {value!r}"
        return None
    number = _number(value)
    if number is None:
        return f"{event!r} {key} must be a finite number, not {value!r}"
    if key == "position" and number < 0.0:
        return f"'seek' position must be >= 0, not {value!r}"
    if key == "value" and not 0.0 <= number <= 1.0:
        return f"{event!r} value must be in [0, 1], not {value!r}"
    return None


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceProblem:
    """One thing wrong with a trace and the 1-based line it is on."""

    line_number: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.message}"


class TraceError(TierplayError):
    """A trace that cannot be replayed as written; every problem found, first one first.

    Attributes:
        line_number, message: the first problem.
        problems: all problems found (at most MAX_REPORTED_PROBLEMS).
        truncated: reading stopped at the limit, so later lines were not checked.
    """

    def __init__(
        self,
        line_number: int,
        message: str,
        *,
        more: Sequence[TraceProblem] = (),
        truncated: bool = False,
        source: str | None = None,
    ) -> None:
        self.line_number = line_number
        self.message = message
        self.problems = (TraceProblem(line_number, message), *more)
        self.truncated = truncated
        self.source = source
        shown = "; ".join(str(problem) for problem in self.problems[:SHOWN_PROBLEMS])
        hidden = len(self.problems) - SHOWN_PROBLEMS
        if hidden > 0:
            shown += f"; and {hidden} more"
        if truncated:
            shown += f" (stopped reading after {len(self.problems)} problems)"
        super().__init__(f"{source}: {shown}" if source else shown)


class TraceUnreadable(TierplayError):
    """The trace file itself cannot be read (missing, a folder, no permission)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Trace:
    """A validated trace: events ordered by `t`."""

    events: tuple[TraceEvent, ...]

    @property
    def duration_seconds(self) -> float:
        """When the session ended (its last event), 0 for an empty trace."""
        return self.events[-1].t if self.events else 0.0

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


def read_trace(
    source: str | os.PathLike[str] | Iterable[str | bytes],
    presets: Collection[str] = PRESET_ORDER,
) -> Trace:
    """Read and validate a trace from a file path, or from lines already in memory.

    A `str` is a path; pass text as `text.splitlines()`. `presets` are the names a
    `preset` event may use (the built-ins, or those of the engine replaying it).

    Raises:
        TraceError: listing every malformed line (up to MAX_REPORTED_PROBLEMS).
        TraceUnreadable: the file cannot be opened or read.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            with path.open("rb") as handle:
                return _parse(handle, str(path), presets)
        except OSError as error:
            raise TraceUnreadable(path, f"cannot be read ({error.strerror or error})") from error
    return _parse(source, None, presets)


def _parse(
    lines: Iterable[str | bytes], source: str | None, presets: Collection[str] = PRESET_ORDER
) -> Trace:
    events: list[TraceEvent] = []
    problems: list[TraceProblem] = []
    latest_t = 0.0
    ended_on: int | None = None
    truncated = False
    for number, raw in enumerate(lines, start=1):
        if len(problems) >= MAX_REPORTED_PROBLEMS:
            truncated = True
            break
        try:
            event = _parse_line(raw)
        except ValueError as error:
            problems.append(TraceProblem(number, str(error)))
            continue
        if event is None:
            continue
        if event.preset_name is not None and event.preset_name not in presets:
            known = ", ".join(presets)
            problems.append(TraceProblem(number, f"unknown preset {event.preset_name!r} ({known})"))
        elif ended_on is not None:
            problems.append(TraceProblem(number, f"{event.event!r} after 'end' (line {ended_on})"))
        elif event.t < latest_t:
            message = f"t {event.t:g} is earlier than a previous event's {latest_t:g}"
            problems.append(TraceProblem(number, message))
        ended_on = number if event.event == "end" and ended_on is None else ended_on
        latest_t = max(latest_t, event.t)
        events.append(event)
    if problems:
        first, *more = problems
        raise TraceError(
            first.line_number, first.message, more=more, truncated=truncated, source=source
        )
    return Trace(tuple(events))


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"duplicate key {key!r}")
        result[key] = value
    return result


def _parse_line(raw: str | bytes) -> TraceEvent | None:
    """The event on one line, None for a blank line; ValueError says what is wrong."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"not UTF-8 text (byte {error.start + 1})") from None
    if not raw.strip():
        return None
    try:
        parsed = json.loads(raw, object_pairs_hook=_unique_keys)
    except _DuplicateKey:
        raise
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"expected a JSON object, not {type(parsed).__name__}")
    for key in ("t", "event"):
        if key not in parsed:
            raise ValueError(f"missing {key!r}")
    fields = {key: value for key, value in parsed.items() if key not in ("t", "event")}
    return TraceEvent.from_fields(parsed["t"], parsed["event"], fields)


# -- writing ---------------------------------------------------------------------------------


def write_trace(
    path: str | os.PathLike[str],
    events: Iterable[TraceEvent],
    presets: Collection[str] = PRESET_ORDER,
) -> None:
    """Write a generated trace; refuses (TraceError) one that `read_trace` would refuse."""
    lines = [event.to_json_line() for event in events]
    _parse(lines, str(path), presets)
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
