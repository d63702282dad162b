"""Presets from TOML text, checked field by field, each problem naming its file and line.

The format (see `builtin.toml`, which uses it) is an array of `[[preset]]` tables. Reading
never raises for anything in the text: what is valid comes back with one `PresetProblem`
per thing that is not, so `tierplay presets --check` can print them all and the engine can
say why a file was not taken.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from engine.presets.model import (
    FILTER_KINDS,
    PASS_FILTERS,
    PHASES,
    PLACES_WITH_KEYS,
    CompressorSettings,
    EqBand,
    FilterKind,
    Phase,
    Preset,
    RoomSettings,
)
from engine.vocabulary import BYPASS

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")
"""Lower-case letters, digits, `-` and `_`, at most 16: a name is shown in narrow panels,
written in traces and JSON, and part of a key binding's id."""
KEY_PATTERN = re.compile(r"[!-~]|f[1-9]|f1[0-9]|f2[0-4]")
"""One printable character, or a function key."""
PLACE_KEYS = frozenset(str(place) for place in range(1, PLACES_WITH_KEYS + 1))
"""Keys 1-9 choose the presets in their places: no preset may claim one of them."""
MAX_EQ_BANDS = 12
MAX_DESCRIPTION = 100

PRESET_FIELDS = (
    "name",
    "description",
    "key",
    "intensity",
    "width",
    "target_lufs",
    "adaptive",
    "eq",
    "phase",
    "compressor",
    "room",
)
BAND_FIELDS = ("type", "frequency_hz", "gain_db", "q")
COMPRESSOR_RANGES: dict[str, tuple[float, float]] = {
    "threshold_db": (-60.0, 0.0),
    "ratio": (1.0, 20.0),
    "attack_ms": (0.1, 1000.0),
    "release_ms": (1.0, 5000.0),
}
ROOM_RANGES: dict[str, tuple[float, float]] = {
    "decay_ms": (50.0, 1000.0),
    "level_db": (-40.0, 0.0),
}
"""A room of at most 1 s: its response is the convolution's length, and every chunk
renders that much more warm-up (`PresetChain.reach`)."""
ROOM_SEED_RANGE = (0, 65535)
RANGES: dict[str, tuple[float, float]] = {
    "intensity": (0.0, 1.0),
    "width": (0.0, 2.0),
    "target_lufs": (-40.0, 0.0),
    "gain_db": (-24.0, 24.0),
    "q": (0.1, 10.0),
}
LOWEST_FREQUENCY_HZ = 10.0


@dataclass(frozen=True)
class PresetProblem:
    """One thing wrong in a presets file: `file:line: field: message`."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass(frozen=True)
class PresetFile:
    """The valid presets of a file, in its order, and one problem per thing that is not."""

    presets: tuple[Preset, ...] = ()
    problems: tuple[PresetProblem, ...] = field(default=())


def parse_presets(text: str, file: str, sample_rate: int, builtin: bool = False) -> PresetFile:
    """Read `text` (named `file` in problems); `builtin` allows defining `original`."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return PresetFile(problems=(_syntax_problem(error, file),))
    lines = _Lines(text)
    problems: list[PresetProblem] = []

    def report(line: int | None, where: str, message: str) -> None:
        problems.append(PresetProblem(file, line, where, message))

    for name in document:
        if name != "preset":
            report(lines.top_level(name), name, "unknown table (presets are [[preset]] tables)")
    entries = document.get("preset", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        report(lines.top_level("preset"), "preset", "must be [[preset]] tables")
        entries = []
    presets: list[Preset] = []
    names: dict[str, int] = {}
    keys: dict[str, str] = {}
    for index, entry in enumerate(entries):
        checker = _PresetChecker(entry, index, lines, sample_rate, report)
        preset = checker.preset()
        if preset is None:
            continue
        line = lines.field(index, "name")
        if preset.is_bypass and not builtin:
            report(line, f"preset {BYPASS!r}", "the original cannot be redefined")
            continue
        if preset.name in names:
            report(
                line,
                f"preset {preset.name!r}",
                f"named twice (first at preset {names[preset.name] + 1})",
            )
            continue
        if preset.key is not None and preset.key in keys:
            report(
                lines.field(index, "key"),
                f"preset {preset.name!r} key",
                f"{preset.key!r} is already the key of {keys[preset.key]!r}",
            )
            continue
        names[preset.name] = index
        if preset.key is not None:
            keys[preset.key] = preset.name
        presets.append(preset)
    return PresetFile(tuple(presets), tuple(problems))


def _syntax_problem(error: tomllib.TOMLDecodeError, file: str) -> PresetProblem:
    message = str(error)
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    line = int(found.group(1)) if found else None
    reason = message[: found.start()].strip() if found else message
    return PresetProblem(file, line, "", f"not valid TOML: {reason}")


class _PresetChecker:
    """Checks one `[[preset]]` table; builds its `Preset` when nothing in it is wrong."""

    def __init__(
        self,
        entry: Mapping[str, Any],
        index: int,
        lines: _Lines,
        sample_rate: int,
        report: Any,
    ) -> None:
        self.entry, self.index, self.lines = entry, index, lines
        self.nyquist = sample_rate / 2
        self._report = report
        self.failed = False
        raw_name = entry.get("name")
        self.label = f"preset {raw_name!r}" if isinstance(raw_name, str) else f"preset {index + 1}"

    def problem(self, line: int | None, where: str, message: str) -> None:
        self.failed = True
        self._report(line, f"{self.label} {where}".strip(), message)

    def preset(self) -> Preset | None:
        entry = self.entry
        for unknown in entry:
            if unknown not in PRESET_FIELDS:
                self.problem(
                    self.lines.field(self.index, unknown),
                    unknown,
                    f"unknown field (known: {', '.join(PRESET_FIELDS)})",
                )
        name = self._name()
        description = self._text("description", "")
        key = self._key()
        intensity = self._number("intensity", 1.0)
        width = self._number("width", 1.0)
        target = self._number("target_lufs", None)
        adaptive = self._flag("adaptive")
        eq = self._eq()
        phase = self._phase()
        compressor = self._compressor()
        room = self._room()
        if adaptive and (eq or compressor is not None):
            self.problem(
                self.lines.field(self.index, "adaptive"),
                "adaptive",
                "derives its eq and compressor from each track: give neither",
            )
        if phase == "linear" and not eq and not adaptive and "eq" not in entry:
            self.problem(
                self.lines.field(self.index, "phase"),
                "phase",
                "a linear phase is the eq's: give eq bands (or leave phase out)",
            )
        if self.failed or name is None:
            return None
        return Preset(
            name,
            description or "",
            eq=eq,
            compressor=compressor,
            width=cast(float, width),
            target_lufs=target,
            key=key,
            intensity=cast(float, intensity),
            adaptive=adaptive,
            phase=phase,
            room=room,
        )

    # -- fields ---------------------------------------------------------------------------
    def _name(self) -> str | None:
        value = self.entry.get("name")
        line = self.lines.field(self.index, "name") or self.lines.preset(self.index)
        if value is None:
            self.problem(line, "name", "missing")
            return None
        if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
            self.problem(
                line,
                "name",
                f"{value!r} is not a name (1-16 lower-case letters, digits, - or _)",
            )
            return None
        return value

    def _text(self, name: str, default: str | None) -> str | None:
        value = self.entry.get(name, default)
        if value is None or (isinstance(value, str) and len(value) <= MAX_DESCRIPTION):
            return value
        line = self.lines.field(self.index, name)
        if not isinstance(value, str):
            self.problem(line, name, f"must be text, not {value!r}")
        else:
            self.problem(line, name, f"longer than {MAX_DESCRIPTION} characters")
        return default

    def _key(self) -> str | None:
        value = self.entry.get("key")
        if value is None:
            return None
        line = self.lines.field(self.index, "key")
        if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
            self.problem(line, "key", f"{value!r} is not a key (one character, or f1-f24)")
            return None
        if value in PLACE_KEYS:
            self.problem(line, "key", f"{value!r}: keys 1-9 choose presets by their place")
            return None
        return value

    def _flag(self, name: str) -> bool:
        value = self.entry.get(name, False)
        if isinstance(value, bool):
            return value
        self.problem(
            self.lines.field(self.index, name), name, f"must be true or false, not {value!r}"
        )
        return False

    def _number(self, name: str, default: float | None) -> float | None:
        value = self.entry.get(name)
        if value is None:
            return default
        checked = _ranged(value, RANGES[name])
        if isinstance(checked, str):
            self.problem(self.lines.field(self.index, name), name, checked)
            return default
        return checked

    def _eq(self) -> tuple[EqBand, ...]:
        value = self.entry.get("eq")
        if value is None:
            return ()
        line = self.lines.field(self.index, "eq")
        if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
            self.problem(line, "eq", "must be a list of bands ({ type = ..., frequency_hz = ... })")
            return ()
        if len(value) > MAX_EQ_BANDS:
            self.problem(line, "eq", f"{len(value)} bands; at most {MAX_EQ_BANDS}")
            return ()
        bands = (self._band(number, band) for number, band in enumerate(value))
        return tuple(band for band in bands if band is not None)

    def _band(self, number: int, band: Mapping[str, Any]) -> EqBand | None:
        where = f"eq[{number + 1}]"

        def line(name: str) -> int | None:
            return self.lines.item(self.index, "eq", number, name)

        failed = False

        def problem(name: str, message: str) -> None:
            nonlocal failed
            failed = True
            self.problem(line(name), f"{where}.{name}" if name else where, message)

        for name in band:
            if name not in BAND_FIELDS:
                problem(name, f"unknown field (known: {', '.join(BAND_FIELDS)})")
        kind = band.get("type")
        if kind not in FILTER_KINDS:
            problem("type", f"{kind!r} is not a filter ({', '.join(FILTER_KINDS)})")
            return None
        frequency = band.get("frequency_hz")
        if frequency is None:
            problem("frequency_hz", "missing")
        else:
            checked = _ranged(frequency, (LOWEST_FREQUENCY_HZ, self.nyquist))
            if isinstance(checked, str):
                message = checked
                if _is_number(frequency) and frequency >= self.nyquist:
                    message = f"{frequency} Hz is not below Nyquist ({self.nyquist:g} Hz)"
                problem("frequency_hz", message)
        values: dict[str, float] = {}
        for name in ("gain_db", "q"):
            if name not in band:
                continue
            if kind in PASS_FILTERS:
                problem(name, f"a {kind} has a cut-off only (no {name})")
                continue
            checked = _ranged(band[name], RANGES[name])
            if isinstance(checked, str):
                problem(name, checked)
            else:
                values[name] = checked
        if failed or frequency is None:
            return None
        return EqBand(cast(FilterKind, kind), float(frequency), **values)

    def _phase(self) -> Phase:
        value = self.entry.get("phase", "minimum")
        if value in PHASES:
            return cast(Phase, value)
        self.problem(
            self.lines.field(self.index, "phase"),
            "phase",
            f"{value!r} is not a phase ({', '.join(PHASES)})",
        )
        return "minimum"

    def _room(self) -> RoomSettings | None:
        value = self.entry.get("room")
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(self.lines.field(self.index, "room"), "room", "must be a table")
            return None
        known = (*ROOM_RANGES, "seed")
        failed = False

        def problem(name: str, message: str) -> None:
            nonlocal failed
            failed = True
            self.problem(self.lines.item(self.index, "room", None, name), f"room.{name}", message)

        for name in value:
            if name not in known:
                problem(name, f"unknown field (known: {', '.join(known)})")
        settings: dict[str, float] = {}
        for name, bounds in ROOM_RANGES.items():
            if name not in value:
                problem(name, "missing")
                continue
            checked = _ranged(value[name], bounds)
            if isinstance(checked, str):
                problem(name, checked)
            else:
                settings[name] = checked
        seed = value.get("seed", 0)
        low, high = ROOM_SEED_RANGE
        if not isinstance(seed, int) or isinstance(seed, bool) or not low <= seed <= high:
            problem("seed", f"{seed!r} is not a whole number from {low} to {high}")
        if failed:
            return None
        return RoomSettings(settings["decay_ms"], settings["level_db"], seed)

    def _compressor(self) -> CompressorSettings | None:
        value = self.entry.get("compressor")
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(
                self.lines.field(self.index, "compressor"), "compressor", "must be a table"
            )
            return None
        settings: dict[str, float] = {}
        for name in value:
            if name not in COMPRESSOR_RANGES:
                self.problem(
                    self.lines.item(self.index, "compressor", None, name),
                    f"compressor.{name}",
                    f"unknown field (known: {', '.join(COMPRESSOR_RANGES)})",
                )
        for name, bounds in COMPRESSOR_RANGES.items():
            line = self.lines.item(self.index, "compressor", None, name)
            if name not in value:
                self.problem(line, f"compressor.{name}", "missing")
                continue
            checked = _ranged(value[name], bounds)
            if isinstance(checked, str):
                self.problem(line, f"compressor.{name}", checked)
            else:
                settings[name] = checked
        if len(settings) < len(COMPRESSOR_RANGES):
            return None
        return CompressorSettings(**settings)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ranged(value: object, bounds: tuple[float, float]) -> float | str:
    """The number, or why it is not one in `bounds`."""
    low, high = bounds
    if not _is_number(value):
        return f"must be a number, not {value!r}"
    number = float(cast(float, value))
    if not low <= number <= high:
        return f"{number:g} is out of range ({low:g} to {high:g})"
    return number


class _Lines:
    """Where things are in the text, for problems: tomllib gives values, not lines.

    Knows the shapes the format uses: `[[preset]]` headers, `field = ...` lines, bands as
    inline tables in an `eq = [...]` list or as `[[preset.eq]]` tables, and the compressor
    inline or as `[preset.compressor]`. Anything else falls back to the preset's header."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        header = re.compile(r"\s*\[\[\s*preset\s*\]\]")
        self._starts = [i for i, line in enumerate(self._lines) if header.match(line)]

    def top_level(self, name: str) -> int | None:
        pattern = re.compile(rf"\s*(\[+\s*)?{re.escape(name)}\b")
        for number, line in enumerate(self._lines):
            if pattern.match(line):
                return number + 1
        return None

    def preset(self, index: int) -> int | None:
        return self._starts[index] + 1 if index < len(self._starts) else None

    def _block(self, index: int) -> range:
        if index >= len(self._starts):
            return range(0)
        end = self._starts[index + 1] if index + 1 < len(self._starts) else len(self._lines)
        return range(self._starts[index], end)

    def field(self, index: int, name: str) -> int | None:
        """The line of `name = ...` (or its `[preset.name]` table) in preset `index`."""
        key = re.compile(rf"\s*{re.escape(name)}\s*=")
        table = re.compile(rf"\s*\[+\s*preset\.{re.escape(name)}\s*\]+")
        for number in self._block(index):
            line = self._lines[number]
            if key.match(line) or table.match(line):
                return number + 1
        return self.preset(index)

    def item(self, index: int, name: str, number: int | None, inner: str) -> int | None:
        """The line of `inner` inside the `number`-th table of list `name` (or inside table
        `name` when `number` is None)."""
        anchor = self._table_start(index, name, number)
        if anchor is None:
            return self.field(index, name)
        key = re.compile(rf"(^|[{{,\s]){re.escape(inner)}\s*=")
        block = self._block(index)
        line, column = anchor
        for at in range(line, block.stop):
            text = self._lines[at][column:] if at == line else self._lines[at]
            if key.search(text):
                return at + 1
            column = 0
        return anchor[0] + 1

    def _table_start(self, index: int, name: str, number: int | None) -> tuple[int, int] | None:
        """(line, column) where that table starts."""
        block = self._block(index)
        header = re.compile(rf"\s*\[+\s*preset\.{re.escape(name)}\s*\]+")
        headers = [at for at in block if header.match(self._lines[at])]
        if headers:
            position = number or 0
            return (headers[position], 0) if position < len(headers) else None
        opening = self.field(index, name)
        if opening is None:
            return None
        seen = -1
        for at in range(opening - 1, block.stop):
            for column, char in enumerate(self._lines[at]):
                if char == "{":
                    seen += 1
                    if seen == (number or 0):
                        return at, column
        return None
