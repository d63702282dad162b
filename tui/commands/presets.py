"""`tierplay presets [--check FILE] [--add-example NAME]`: every preset in use with its origin,
a file checked, or a shipped example added to the listener's presets.

Each problem is one line naming the file, the line and the field; the exit status is 1
when there is one, so a script (or an editor's save hook) can check a file before the
player reads it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from engine.config import EngineConfig
from engine.presets.book import PresetBook
from engine.presets.model import preset_keys
from engine.presets.toml_file import parse_presets
from tui.cli import CliError, presets_path


def run_presets(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tierplay presets",
        description="List every preset with its origin (built-in, or yours in "
        f"{presets_path()}), or check a presets file.",
    )
    parser.add_argument(
        "--check",
        type=Path,
        nargs="?",
        const=presets_path(),
        metavar="FILE",
        help="check FILE (by default your presets.toml): print each problem and exit",
    )
    parser.add_argument(
        "--add-example",
        choices=example_names(),
        metavar="NAME",
        help=f"add the presets of a shipped example ({', '.join(example_names())}) to yours",
    )
    args = parser.parse_args(argv)
    rate = EngineConfig().sample_rate
    if args.check is not None:
        return check_file(args.check, rate)
    if args.add_example is not None:
        return add_example(args.add_example, presets_path(), rate)
    book = PresetBook(rate, presets_path())
    for line in preset_lines(book):
        print(line)
    for problem in book.problems:
        print(problem, file=sys.stderr)
    return 1 if book.problems else 0


def preset_lines(book: PresetBook) -> list[str]:
    """One line per preset: its key, name, origin and what it does."""
    presets = book.presets()
    width = max(len(preset.name) for preset in presets)
    lines = []
    for place, preset in enumerate(presets, start=1):
        shown = ",".join(preset_keys(place, preset)) or "-"
        origin = book.origin(preset.name)
        lines.append(f"{shown:>5}  {preset.name:<{width}}  {origin:<29}  {preset.description}")
    where = book.user_file
    if where is not None:
        state = "" if where.exists() else " (not there: the built-ins alone)"
        lines.append(f"your presets: {where}{state}")
    return lines


def example_names() -> list[str]:
    """The example preset files shipped with the player (`engine/presets/examples/`)."""
    folder = resources.files("engine.presets").joinpath("examples")
    return sorted(
        item.name.removesuffix(".toml") for item in folder.iterdir() if item.name.endswith(".toml")
    )


def add_example(name: str, path: Path, sample_rate: int) -> int:
    """Append the example's presets to the listener's file, unless that would leave it
    invalid (a name already taken): the file is left as it was, and why is said."""
    text = resources.files("engine.presets").joinpath("examples", f"{name}.toml").read_text("utf-8")
    try:
        kept = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot be read ({error})") from None
    joined = kept + ("\n" if kept and not kept.endswith("\n") else "") + text
    problems = parse_presets(joined, str(path), sample_rate).problems
    if problems:
        raise CliError(f"{name} not added: {problems[0]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(joined, encoding="utf-8")
    except OSError as error:
        raise CliError(f"{path}: cannot be written ({error})") from None
    added = parse_presets(text, name, sample_rate).presets
    print(f"added {', '.join(preset.name for preset in added)} to {path}")
    return 0


def check_file(path: Path, sample_rate: int) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if path == presets_path():
            print(f"{path}: not there, the built-in presets alone are in use")
            return 0
        raise CliError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot be read ({error})") from None
    parsed = parse_presets(text, str(path), sample_rate)
    for problem in parsed.problems:
        print(problem, file=sys.stderr)
    if parsed.problems:
        return 1
    count = len(parsed.presets)
    print(f"{path}: ok, {count} preset{'' if count == 1 else 's'}")
    return 0
