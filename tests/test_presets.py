"""Presets as data: the built-ins from their TOML, a listener's file checked field by field
with file and line, and the book that merges them and follows edits."""

from __future__ import annotations

import os
import textwrap
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import UnknownPreset
from engine.presets.book import BUILTIN, REPLACED, YOURS, PresetBook, builtin_presets
from engine.presets.model import CompressorSettings, EqBand, RoomSettings
from engine.presets.toml_file import parse_presets
from engine.vocabulary import PRESET_ORDER

RATE = 44_100


def parsed(text: str, builtin: bool = False) -> tuple[list[str], list[str]]:
    """(names taken, problems as printed)."""
    result = parse_presets(textwrap.dedent(text), "presets.toml", RATE, builtin)
    return [p.name for p in result.presets], [str(p) for p in result.problems]


def test_the_builtins_come_from_their_file_in_the_order_shown() -> None:
    presets = builtin_presets()
    assert tuple(p.name for p in presets) == PRESET_ORDER
    by_name = {p.name: p for p in presets}
    assert by_name["original"].eq == () and by_name["original"].compressor is None
    assert by_name["adaptive"].is_adaptive and not by_name["warm"].is_adaptive
    assert by_name["punchy"].compressor == CompressorSettings(-24.0, 4.5, 5.0, 90.0)
    assert by_name["warm"].eq[2] == EqBand("peak", 450.0, 1.5, 0.8)
    assert by_name["bright"].width == 1.15 and by_name["gentle"].target_lufs == -16.0


def test_a_valid_file_gives_its_presets_in_order() -> None:
    names, problems = parsed(
        """
        [[preset]]
        name = "airy"
        key = "y"
        description = "more air"
        intensity = 0.6
        eq = [
            { type = "high_shelf", frequency_hz = 9000, gain_db = 4 },
            { type = "lowpass", frequency_hz = 18000 },
        ]

        [[preset]]
        name = "night"

        [preset.compressor]
        threshold_db = -30
        ratio = 3
        attack_ms = 10
        release_ms = 200
        """
    )
    assert (names, problems) == (["airy", "night"], [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'name = "x"\n',
            "presets.toml:1: name: unknown table (presets are [[preset]] tables)",
        ),
        (
            '[[preset]]\nname = "x"\nwdth = 1.2\n',
            "presets.toml:3: preset 'x' wdth: unknown field",
        ),
        (
            '[[preset]]\nname = "x"\neq = [\n  { type = "peak", frequency_hz = 100 },\n'
            '  { type = "peak", frequency_hz = 30000 },\n]\n',
            "presets.toml:5: preset 'x' eq[2].frequency_hz: 30000 Hz is not below Nyquist",
        ),
        (
            '[[preset]]\nname = "x"\neq = [{ type = "peak", frequency_hz = 100, q = -1 }]\n',
            "presets.toml:3: preset 'x' eq[1].q: -1 is out of range (0.1 to 10)",
        ),
        (
            '[[preset]]\nname = "x"\neq = [{ type = "highpass", frequency_hz = 30, gain_db = 3 }]',
            "presets.toml:3: preset 'x' eq[1].gain_db: a highpass has a cut-off only (no gain_db)",
        ),
        (
            '[[preset]]\nname = "x"\neq = [{ type = "notch", frequency_hz = 100 }]\n',
            "presets.toml:3: preset 'x' eq[1].type: 'notch' is not a filter",
        ),
        (
            '[[preset]]\nname = "x"\n[preset.compressor]\nthreshold_db = -20\nratio = 0.5\n'
            "attack_ms = 5\nrelease_ms = 50\n",
            "presets.toml:5: preset 'x' compressor.ratio: 0.5 is out of range (1 to 20)",
        ),
        (
            '[[preset]]\nname = "x"\ncompressor = {threshold_db = -9, ratio = 2, release_ms = 5 }',
            "presets.toml:3: preset 'x' compressor.attack_ms: missing",
        ),
        (
            '[[preset]]\nname = "x"\n\n[[preset]]\nname = "x"\n',
            "presets.toml:5: preset 'x': named twice",
        ),
        (
            '[[preset]]\nname = "x"\nkey = "y"\n\n[[preset]]\nname = "z"\nkey = "y"\n',
            "presets.toml:7: preset 'z' key: 'y' is already the key of 'x'",
        ),
        ('[[preset]]\nname = "z"\nkey = "3"\n', "presets.toml:3: preset 'z' key: '3': keys 1-9"),
        (
            '[[preset]]\nname = "original"\n',
            "presets.toml:2: preset 'original': the original cannot",
        ),
        (
            '[[preset]]\nname = "Loud Mix"\n',
            "presets.toml:2: preset 'Loud Mix' name: 'Loud Mix' is not",
        ),
        ("[[preset]]\ndescription = 'x'\n", "presets.toml:1: preset 1 name: missing"),
        (
            '[[preset]]\nname = "x"\nwidth = "wide"\n',
            "presets.toml:3: preset 'x' width: must be a number",
        ),
        (
            '[[preset]]\nname = "x"\nadaptive = true\neq = [{ type = "peak", frequency_hz = 99 }]',
            "presets.toml:3: preset 'x' adaptive: derives its eq and compressor",
        ),
        ('[[preset]]\nname = "x"\nwidth = \n', "presets.toml:3: not valid TOML: Invalid value"),
        (
            '[[preset]]\nname = "x"\neq = [{ type = "peak", frequency_hz = 99 }]\nphase = "zero"\n',
            "presets.toml:4: preset 'x' phase: 'zero' is not a phase (minimum, linear)",
        ),
        (
            '[[preset]]\nname = "x"\nphase = "linear"\n',
            "presets.toml:3: preset 'x' phase: a linear phase is the eq's: give eq bands",
        ),
        (
            '[[preset]]\nname = "x"\n[preset.room]\ndecay_ms = 3000\nlevel_db = -6\n',
            "presets.toml:4: preset 'x' room.decay_ms: 3000 is out of range (50 to 1000)",
        ),
        (
            '[[preset]]\nname = "x"\nroom = { decay_ms = 300, level_db = -6, seed = 1.5 }\n',
            "presets.toml:3: preset 'x' room.seed: 1.5 is not a whole number from 0 to 65535",
        ),
        (
            '[[preset]]\nname = "x"\nroom = { decay_ms = 300 }\n',
            "presets.toml:3: preset 'x' room.level_db: missing",
        ),
        (
            '[[preset]]\nname = "x"\n[preset.room]\ndecay_ms = 300\nlevel_db = -6\nsize = 3\n',
            "presets.toml:6: preset 'x' room.size: unknown field (known: decay_ms, level_db, seed)",
        ),
        (
            '[[preset]]\nname = "x"\nroom = 0.5\n',
            "presets.toml:3: preset 'x' room: must be a table",
        ),
    ],
)
def test_each_problem_is_one_line_with_file_line_and_field(text: str, expected: str) -> None:
    _names, problems = parsed(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def test_a_linear_phase_eq_and_a_room_are_read() -> None:
    result = parse_presets(
        textwrap.dedent(
            """
            [[preset]]
            name = "hall"
            phase = "linear"
            eq = [{ type = "high_shelf", frequency_hz = 9000, gain_db = 2 }]
            room = { decay_ms = 400, level_db = -9, seed = 3 }

            [[preset]]
            name = "plain"
            eq = [{ type = "high_shelf", frequency_hz = 9000, gain_db = 2 }]
            """
        ),
        "presets.toml",
        RATE,
    )
    assert result.problems == ()
    hall, plain = result.presets
    assert hall.phase == "linear" and hall.room == RoomSettings(400.0, -9.0, 3) and hall.convolves
    assert plain.phase == "minimum" and plain.room is None and not plain.convolves


def test_the_heavy_examples_are_valid_and_not_built_in() -> None:
    """Shipped in the package beside the built-ins, for a listener to copy; the six
    built-ins stay six."""
    text = resources.files("engine.presets").joinpath("examples/heavy.toml").read_text("utf-8")
    result = parse_presets(text, "heavy.toml", RATE)
    assert result.problems == ()
    assert [p.name for p in result.presets] == ["studio", "room"]
    assert all(preset.convolves for preset in result.presets)
    assert not {p.name for p in result.presets} & set(PRESET_ORDER)
    assert len(builtin_presets()) == 6


def test_every_problem_of_a_file_is_told_and_the_valid_presets_kept() -> None:
    names, problems = parsed(
        """
        [[preset]]
        name = "good"

        [[preset]]
        name = "bad"
        width = 5
        eq = [{ type = "peak", frequency_hz = 1, gain_db = 40 }]
        """
    )
    assert names == ["good"]
    assert [p.split(": ", 2)[1] for p in problems] == [
        "preset 'bad' width",
        "preset 'bad' eq[1].frequency_hz",
        "preset 'bad' eq[1].gain_db",
    ]


@given(st.text(max_size=300))
def test_no_text_makes_the_reader_raise(text: str) -> None:
    result = parse_presets(text, "p.toml", RATE)
    assert all(str(problem).startswith("p.toml") for problem in result.problems)


def write(path: Path, text: str) -> None:
    """Write and move the modification time on, so an edit within one clock tick shows."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(textwrap.dedent(text))
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_the_book_adds_the_listeners_presets_and_replaces_builtins_in_place(
    tmp_path: Path,
) -> None:
    file = tmp_path / "presets.toml"
    write(file, '[[preset]]\nname = "airy"\n\n[[preset]]\nname = "warm"\ndescription = "mine"\n')
    book = PresetBook(RATE, file)
    assert book.order == (*PRESET_ORDER, "airy")
    assert book.get("warm").description == "mine"
    assert [book.origin(n) for n in ("punchy", "warm", "airy")] == [BUILTIN, REPLACED, YOURS]
    with pytest.raises(UnknownPreset, match="airy"):
        book.get("nowhere")


def test_a_reload_tells_only_what_changed_and_an_invalid_edit_keeps_the_last_good(
    tmp_path: Path,
) -> None:
    file = tmp_path / "presets.toml"
    book = PresetBook(RATE, file)  # no file yet: the built-ins alone
    assert book.order == PRESET_ORDER and book.reload_if_changed() is None
    write(file, '[[preset]]\nname = "airy"\n\n[[preset]]\nname = "warm"\n')
    change = book.reload_if_changed()
    assert change is not None
    assert change.added == ("airy",) and change.changed == {"warm"}
    assert book.reload_if_changed() is None  # nothing on disk moved

    write(file, '[[preset]]\nname = "airy"\nwidth = 1.5\n\n[[preset]]\nname = "warm"\n')
    change = book.reload_if_changed()
    assert change is not None and change.changed == {"airy"} and not change.added

    write(file, '[[preset]]\nname = "airy"\nwidth = 9\n')
    change = book.reload_if_changed()
    assert change is not None and change.problems and not change.changed
    assert book.get("airy").width == 1.5 and "warm" in book.order  # the last good stay

    file.unlink()
    change = book.reload_if_changed()
    assert change is not None and change.removed == ("airy",) and "warm" in change.changed
    assert book.order == PRESET_ORDER
