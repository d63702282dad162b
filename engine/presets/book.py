"""`PresetBook`: the presets in use, the built-ins with the listener's file over them.

The built-ins ship as `builtin.toml`; the listener's `presets.toml` adds presets and may
replace a built-in by name (all but `original`). The book is read on any thread and
reloaded on the upkeep thread when the file changes: an edit that is not valid keeps the
last good definitions, and the problems say why.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from engine.errors import UnknownPreset
from engine.presets.model import Preset
from engine.presets.toml_file import PresetFile, PresetProblem, parse_presets
from engine.vocabulary import BYPASS

PRESETS_FILE = "presets.toml"
BUILTIN = "built-in"
YOURS = "yours"
REPLACED = "yours, replacing the built-in"


@cache
def builtin_presets(sample_rate: int = 44_100) -> tuple[Preset, ...]:
    """The presets shipped with the package, in their order."""
    text = resources.files("engine.presets").joinpath("builtin.toml").read_text("utf-8")
    parsed = parse_presets(text, "builtin.toml", sample_rate, builtin=True)
    if parsed.problems:  # a packaging fault, never the listener's
        raise RuntimeError("; ".join(map(str, parsed.problems)))
    return parsed.presets


@dataclass(frozen=True)
class PresetChange:
    """What a reload did: presets whose definition changed (or that went), those added,
    and the problems that kept the file from being taken (then nothing changed)."""

    changed: frozenset[str] = frozenset()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    problems: tuple[PresetProblem, ...] = ()


class PresetBook:
    """Thread-safe. Its order: the built-ins (replaced ones in place), then the listener's
    own presets in the file's order."""

    def __init__(self, sample_rate: int, user_file: Path | None = None) -> None:
        self.sample_rate = sample_rate
        self.user_file = user_file
        self._builtins = builtin_presets(sample_rate)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._user: tuple[Preset, ...] = ()
        self._presets: dict[str, Preset] = {p.name: p for p in self._builtins}
        self._in_order: tuple[Preset, ...] = self._builtins
        self.problems: tuple[PresetProblem, ...] = ()
        """Why the file (or part of it) was not taken at its last reading."""
        if user_file is not None:
            self._stamp = _stamp(user_file)
            read = self._read()
            self.problems = read.problems
            self._take(read.presets)  # at start, what is valid; a reload takes all or nothing

    # -- reading --------------------------------------------------------------------------
    @property
    def order(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._presets)

    def presets(self) -> tuple[Preset, ...]:
        """In their order; the same tuple until a reload (the UI reads it 10 times a second)."""
        with self._lock:
            return self._in_order

    def get(self, name: str) -> Preset:
        with self._lock:
            found = self._presets.get(name)
            if found is None:
                raise UnknownPreset(name, tuple(self._presets))
            return found

    def find(self, name: str) -> Preset | None:
        with self._lock:
            return self._presets.get(name)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._presets

    def origin(self, name: str) -> str:
        with self._lock:
            mine = {p.name for p in self._user}
            builtins = {p.name for p in self._builtins}
        if name not in mine:
            return BUILTIN
        return REPLACED if name in builtins else YOURS

    # -- reloading ------------------------------------------------------------------------
    def reload_if_changed(self) -> PresetChange | None:
        """Read the file again if it changed on disk since it was last read (or appeared,
        or went); None when it did not."""
        if self.user_file is None:
            return None
        stamp = _stamp(self.user_file)
        with self._lock:
            if stamp == self._stamp:
                return None
            self._stamp = stamp
        read = self._read()
        self.problems = read.problems
        if read.problems:
            return PresetChange(problems=read.problems)
        return self._take(read.presets)

    def _read(self) -> PresetFile:
        assert self.user_file is not None
        try:
            text = self.user_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return PresetFile()
        except (OSError, UnicodeDecodeError) as error:
            problem = PresetProblem(str(self.user_file), None, "", f"cannot be read ({error})")
            return PresetFile(problems=(problem,))
        return parse_presets(text, str(self.user_file), self.sample_rate)

    def _take(self, user: tuple[Preset, ...]) -> PresetChange:
        mine = {p.name: p for p in user if p.name != BYPASS}
        merged = {p.name: mine.pop(p.name, p) for p in self._builtins}
        merged.update(mine)
        with self._lock:
            before = self._presets
            self._presets, self._user = merged, user
            self._in_order = tuple(merged.values())
        changed = {name for name, preset in before.items() if merged.get(name) != preset}
        return PresetChange(
            changed=frozenset(changed),
            added=tuple(name for name in merged if name not in before),
            removed=tuple(name for name in before if name not in merged),
        )


def _stamp(path: Path) -> tuple[int, int] | None:
    """What tells an edit: the file's modification time and size (None: no file)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size
