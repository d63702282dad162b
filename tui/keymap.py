"""The listener's key overrides: `keymap.toml` in the config folder, applied with `set_keymap`.

The file holds one table, `[keys]`, mapping a binding id to a key (or to several, separated
by commas), for example:

```toml
[keys]
seek_forward = "f"
seek_back = "b"
play_pause = "space,k"
```

A keymap is a convenience, so nothing in it may stop the player: a missing file means the
defaults, and every problem (bad TOML, an unknown id, a value that is not a key, two
bindings on one key) is collected into one message for the event log while everything
usable still applies.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding, InvalidBinding

from engine.vocabulary import PRESET_ORDER
from tui.config_folder import CONFIG_DIR_ENV, config_dir

__all__ = ["CONFIG_DIR_ENV", "KEYMAP_FILE", "LoadedKeymap", "keymap_path", "load_keymap"]

KEYMAP_FILE = "keymap.toml"
RENAMED_IDS = {f"preset_{name}": f"preset_{place}" for place, name in enumerate(PRESET_ORDER, 1)}
"""The preset keys were bound by name (`preset_punchy`) before presets could be added; the
built-ins keep their places, so an old keymap still means the same key."""


def keymap_path() -> Path:
    return config_dir() / KEYMAP_FILE


@dataclass(frozen=True)
class LoadedKeymap:
    """What could be applied from the file, and one line saying what could not."""

    keymap: dict[str, str]
    """Binding id -> comma-separated keys, ready for `App.set_keymap`."""
    problem: str | None = None
    """One message for the event log, or None when the whole file applied."""
    problems: tuple[str, ...] = ()
    """The same, one line per problem (`tierplay --check-config`)."""


def normalized_keys(keys: str) -> list[str]:
    """Textual's own spelling of each key (`?` -> `question_mark`), so clashes compare equal."""
    return [binding.key for binding in Binding.make_bindings([Binding(keys, "")])]


def load_keymap(
    path: Path, bindings: Iterable[Binding], screen_bindings: Iterable[Binding] = ()
) -> LoadedKeymap:
    """Read `path` against the app's `bindings`; never raises for anything in the file.

    `screen_bindings` (those of modal screens) may be remapped too, but are not checked for
    clashes with the app's: while a modal screen is up the player's keys are off.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LoadedKeymap({})
    except (OSError, UnicodeDecodeError) as error:
        return _unusable(path, f"cannot be read ({error})")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return _unusable(path, f"not valid TOML ({error})")
    table = document.get("keys")
    if not isinstance(table, dict):
        return _unusable(path, 'no [keys] table of binding_id = "key"')
    bindings = list(bindings)
    known = {b.id for b in [*bindings, *screen_bindings] if b.id}
    table = {RENAMED_IDS.get(binding_id, binding_id): keys for binding_id, keys in table.items()}
    keymap, problems = _usable_entries(table, known)
    problems.extend(_clashes(bindings, keymap))
    if not problems:
        return LoadedKeymap(keymap)
    return LoadedKeymap(keymap, f"keymap {path}: " + "; ".join(problems), tuple(problems))


def _unusable(path: Path, reason: str) -> LoadedKeymap:
    return LoadedKeymap({}, f"keymap {path}: {reason}; default keys in use", (reason,))


def _usable_entries(
    table: Mapping[str, object], known_ids: set[str]
) -> tuple[dict[str, str], list[str]]:
    keymap: dict[str, str] = {}
    unknown: list[str] = []
    invalid: list[str] = []
    for binding_id, keys in table.items():
        if binding_id not in known_ids:
            unknown.append(binding_id)
        elif not isinstance(keys, str) or not _is_key_list(keys):
            invalid.append(f"{binding_id} = {keys!r}")
        else:
            keymap[binding_id] = keys
    problems = []
    if unknown:
        problems.append(
            f"unknown binding ids ignored: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known_ids))})"
        )
    if invalid:
        problems.append(f"not a key, ignored: {', '.join(invalid)}")
    return keymap, problems


def _is_key_list(keys: str) -> bool:
    try:
        return bool(normalized_keys(keys))
    except InvalidBinding:  # an empty key between commas
        return False


def preset_key_clashes(
    presets: Iterable[tuple[str, str]], bindings: Iterable[Binding], keymap: Mapping[str, str]
) -> list[str]:
    """Presets' own keys (name, key) that a binding already has: the binding wins."""
    owners = {
        key: binding.id
        for binding in bindings
        if binding.id is not None
        for key in normalized_keys(keymap.get(binding.id, binding.key))
    }
    clashes = []
    for name, key in presets:
        owner = next((owners[k] for k in normalized_keys(key) if k in owners), None)
        if owner is not None:
            clashes.append(f"preset {name}'s key {key} is already {owner}'s")
    return clashes


def _clashes(bindings: list[Binding], keymap: Mapping[str, str]) -> list[str]:
    """Keys that two bindings would claim once the keymap applies: only one of them works."""
    owners: dict[str, set[str]] = {}
    for binding in bindings:
        if binding.id is None:
            continue
        keys = keymap.get(binding.id, binding.key)
        for key in normalized_keys(keys):
            owners.setdefault(key, set()).add(binding.id)
    return [
        f"{key} is bound to both {' and '.join(sorted(ids))}"
        for key, ids in sorted(owners.items())
        if len(ids) > 1
    ]
