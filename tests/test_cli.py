"""The `tierplay` command line: render, devices, and one-line errors for user mistakes."""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.config import LEAN_SOURCE_CACHE_MB, EngineConfig
from engine.dsp.render import Renderer
from engine.library.scan import probe
from engine.library.source import TrackSource
from tests.helpers.audio_files import write_tone
from tui.cli import add_common_options, budget_notice, device_notice, main


def test_render_writes_what_the_engine_renders(tmp_path: Path, capsys) -> None:
    source = write_tone(tmp_path / "in.wav", seconds=12.0, rate=48_000, level=0.5)
    target = tmp_path / "out.wav"
    assert main(["render", str(source), str(target), "--preset", "warm", "--intensity", "0.6"]) == 0
    written, rate = sf.read(target, dtype="float32")
    assert rate == 48_000
    expected = Renderer(EngineConfig(sample_rate=48_000)).render_track(
        TrackSource(probe(source, 48_000), 48_000), "warm", 0.6
    )
    np.testing.assert_allclose(written, expected, atol=2.0**-22)
    captured = capsys.readouterr()
    assert "100%" in captured.err and "wrote" in captured.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "missing.wav", "out.wav", "--preset", "warm"], "missing.wav: file not found"),
        (["render", "IN", "out.mp4", "--preset", "warm"], "cannot write .mp4"),
        (["render", "IN", "out.wav", "--preset", "warm", "--intensity", "1.5"], "between 0 and 1"),
        (["render", "IN", "IN", "--preset", "warm"], "would overwrite the input"),
        (["render", "GARBAGE", "out.wav", "--preset", "warm"], "not a readable audio file"),
        (["render", "FAKE_MP3", "out.wav", "--preset", "warm"], "song.mp3: not a readable audio"),
        (["render", "LOOP", "out.wav", "--preset", "warm"], "loop.wav: cannot be opened (Too many"),
        (["render", "IN", "LOOP", "--preset", "warm"], "loop.wav: a symbolic link that leads"),
        (["render", "IN", "absent/out.wav", "--preset", "warm"], "folder"),
        (["render", "IN", "absent/out.wav", "--preset", "warm"], "does not exist"),
        (["no-such-folder"], "no-such-folder: no such file or folder"),
        (["--budget-mb", "-3", "IN"], "--budget-mb must be a positive number"),
        (["--render-slowdown", "0.5", "IN"], "--render-slowdown must be between 1 and 100"),
        (["simulate", "--trace", "T", "--render-slowdown", "500"], "between 1 and 100"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path: Path, capsys, args, message) -> None:
    source = write_tone(tmp_path / "in.wav", seconds=1.0)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"\x00junk" * 100)
    fake_mp3 = tmp_path / "song.mp3"
    fake_mp3.write_text("not music\n" * 50)
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    replace = {"IN": str(source), "GARBAGE": str(garbage), "FAKE_MP3": str(fake_mp3)}
    replace["LOOP"] = str(loop)
    args = [replace.get(arg, arg) for arg in args]
    args = [str(tmp_path / arg) if arg.startswith(("out.", "absent/")) else arg for arg in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_a_budget_below_the_working_memory_is_said_not_hidden() -> None:
    """The engine cannot hold less than its lean working memory and a tenth for the tiers:
    a listener who asks for less is told what it will hold instead."""
    lean = EngineConfig(render_threads=1, kept_samples=1, source_cache_mb=LEAN_SOURCE_CACHE_MB)
    working = lean.working_memory_mb
    small = working - 10.0
    notice = budget_notice(EngineConfig().with_process_budget(small), small)
    assert notice is not None
    held = EngineConfig().with_process_budget(small).process_budget_mb
    assert f"--budget-mb {small:g}" in notice and f"up to {held:.0f} MB" in notice
    roomy = working + 50.0
    assert budget_notice(EngineConfig().with_process_budget(roomy), roomy) is None
    assert budget_notice(EngineConfig(), None) is None


def test_a_device_with_the_null_sink_is_said_to_be_unused() -> None:
    def args(*argv: str) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        add_common_options(parser)
        return parser.parse_args(list(argv))

    notice = device_notice(args("--sink", "null", "--device", "99"))
    assert notice is not None and "--device 99 is not used" in notice
    assert device_notice(args("--device", "99")) is None
    assert device_notice(args("--sink", "null")) is None


def test_version_names_the_package(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tierplay {metadata.version('tierplay')}"


def test_devices_lists_outputs_or_says_none(capsys) -> None:
    assert main(["devices"]) == 0
    assert capsys.readouterr().out.strip()


def test_check_config_names_each_keymap_problem_on_its_own_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("TIERPLAY_CONFIG_DIR", str(tmp_path))
    keymap = tmp_path / "keymap.toml"
    assert main(["--check-config"]) == 0
    assert "not there, the default keys are in use" in capsys.readouterr().out
    keymap.write_text('[keys]\nmute = "x"\n')
    assert main(["--check-config"]) == 0
    assert capsys.readouterr().out.strip() == f"{keymap}: ok, 1 binding remapped"
    keymap.write_text('[keys]\nmute = "q"\nnot_an_id = "z"\nhelp = 3\n')
    assert main(["--check-config"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(f"{keymap}: ") for line in lines)
    assert "q is bound to both mute and quit" in lines[2]
    assert "unknown binding ids ignored: not_an_id" in lines[0]
    assert "not a key, ignored: help = 3" in lines[1]
    keymap.write_text("[keys\n")
    assert main(["--check-config"]) == 1
    assert "not valid TOML" in capsys.readouterr().err


def test_presets_lists_each_with_its_origin_and_check_names_file_line_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("TIERPLAY_CONFIG_DIR", str(tmp_path))
    mine = tmp_path / "presets.toml"
    assert main(["presets", "--check"]) == 0  # none yet: the built-ins alone
    assert "not there, the built-in presets alone" in capsys.readouterr().out
    mine.write_text('[[preset]]\nname = "airy"\nkey = "y"\n\n[[preset]]\nname = "warm"\n')
    assert main(["presets"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[3].split()[:3] == ["4", "warm", "yours,"]
    assert rows[6].split()[:3] == ["7,y", "airy", "yours"]
    assert rows[5].split()[:3] == ["6", "punchy", "built-in"]
    assert main(["presets", "--check"]) == 0
    assert capsys.readouterr().out.strip() == f"{mine}: ok, 2 presets"

    other = tmp_path / "other.toml"
    other.write_text('[[preset]]\nname = "x"\nwidth = 3\neq = [{ type = "peak" }]\n')
    assert main(["presets", "--check", str(other)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{other}:3: preset 'x' width: 3 is out of range (0 to 2)",
        f"{other}:4: preset 'x' eq[1].frequency_hz: missing",
    ]
    assert main(["presets", "--check", str(tmp_path / "absent.toml")]) == 2
    assert "absent.toml: no such file" in capsys.readouterr().err


def test_a_shipped_example_is_added_to_the_listeners_presets_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder = tmp_path / "new-folder"
    monkeypatch.setenv("TIERPLAY_CONFIG_DIR", str(folder))
    assert main(["presets", "--add-example", "heavy"]) == 0
    mine = folder / "presets.toml"
    assert capsys.readouterr().out.strip() == f"added studio, room to {mine}"
    kept = mine.read_text()
    assert main(["presets", "--add-example", "heavy"]) == 2  # the names are taken
    err = capsys.readouterr().err.strip()
    assert err.startswith("tierplay: heavy not added: ") and "studio" in err
    assert mine.read_text() == kept
    assert main(["presets"]) == 0
    names = [row.split()[1] for row in capsys.readouterr().out.splitlines()[:8]]
    assert names[6:] == ["studio", "room"]


def test_render_takes_a_listeners_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("TIERPLAY_CONFIG_DIR", str(tmp_path))
    (tmp_path / "presets.toml").write_text(
        '[[preset]]\nname = "airy"\neq = [{type = "high_shelf", frequency_hz = 8e3, gain_db = 6}]'
    )
    source = write_tone(tmp_path / "in.wav", seconds=2.0)
    assert main(["render", str(source), str(tmp_path / "out.wav"), "--preset", "airy"]) == 0
    assert "preset airy" in capsys.readouterr().out
    assert main(["render", str(source), str(tmp_path / "o.wav"), "--preset", "nope"]) == 2
    assert "unknown preset 'nope'; choose one of original" in capsys.readouterr().err
