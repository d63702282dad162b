"""README's own commands, executed as written: every line of its shell blocks, in order,
in a folder holding a copy of the sample folder, with `.venv/bin` on PATH as README says
(`. .venv/bin/activate`). Each must exit with status 0. A line that starts the player runs
in a pseudo terminal: it must draw its first screen, take a few keys and quit on `q`. A
line marked `in one terminal` keeps the player running while the block's next lines run
from "another" terminal. README's keymap example must pass `--check-config`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.launch import player_state
from bench.terminal import Terminal
from tests.helpers.audio_files import SAMPLE_AUDIO

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BIN = Path(sys.executable).parent
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUNS_THE_SUITE = "make test"
"""The command that runs this test: not run again from inside it."""
EXITING = ("render", "simulate", "devices", "presets", "--check-config", "--version")
"""`tierplay` subcommands and options that do their job and exit (the rest start the player)."""
KEYS_WHILE_PLAYING = "45"
LINE_TIMEOUT = 60.0
SERVER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Block:
    language: str
    lines: tuple[str, ...]
    line_number: int

    def __str__(self) -> str:
        return f"README.md:{self.line_number} ({self.language})"


def readme_blocks() -> list[Block]:
    text = README.read_text()
    blocks = []
    for match in BLOCK.finditer(text):
        lines = tuple(line for line in match.group(2).splitlines() if line.strip())
        line_number = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(match.group(1), lines, line_number))
    return blocks


def starts_player(line: str) -> bool:
    words = line.split("#")[0].split()
    if words[:2] == ["make", "run"]:
        return True
    return bool(words) and words[0] == "tierplay" and (len(words) < 2 or words[1] not in EXITING)


def listening_port(line: str) -> int | None:
    """The port of `--api [HOST:]PORT` on a player line."""
    found = re.search(r"--api\s+(?:[\w.]+:)?(\d+)", line)
    return int(found.group(1)) if found else None


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """A listener's shell after `. .venv/bin/activate`, with their folders kept apart."""
    homes = {name: tmp_path / name for name in ("config", "cache", "state")}
    for folder in homes.values():
        folder.mkdir()
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(BIN.parent),
        "TIERPLAY_CONFIG_DIR": str(homes["config"]),
        "TIERPLAY_CACHE_DIR": str(homes["cache"]),
        "TIERPLAY_STATE_DIR": str(homes["state"]),
    }


@pytest.fixture
def work_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copytree(SAMPLE_AUDIO, folder / "sample_audio")
    return folder


def run_line(line: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        line,
        shell=True,
        executable="/bin/bash",
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=LINE_TIMEOUT,
    )
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, f"`{line}` exited {done.returncode}: {said[-2000:]}"
    assert done.stdout.strip(), f"`{line}` printed nothing"
    assert "Traceback" not in said, f"`{line}`: {said[-2000:]}"


def start_player(line: str, cwd: Path, env: dict[str, str]) -> Terminal:
    terminal = Terminal(line, env=env, cwd=cwd, shell=True)
    if not terminal.wait_for_screen(LINE_TIMEOUT):
        terminal.close()
        pytest.fail(f"`{line}` drew no screen: {terminal.text()[-2000:]}")
    terminal.type(KEYS_WHILE_PLAYING)  # two presets, as a listener would try them
    return terminal


def quit_player(line: str, terminal: Terminal) -> None:
    try:
        time.sleep(0.5)  # the keys are taken in before `q`
        status = terminal.quit(LINE_TIMEOUT)
    finally:
        terminal.close()
    assert status == 0, f"`{line}` exited {status} on q: {terminal.text()[-2000:]}"
    assert "Traceback" not in terminal.text()


def wait_until_serving(port: int) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT
    while time.monotonic() < deadline:
        if player_state(port) is not None:
            return
        time.sleep(0.05)
    pytest.fail(f"nothing serves port {port}")


def shell_blocks() -> list[Block]:
    return [block for block in readme_blocks() if block.language == "sh"]


def test_readme_has_commands_to_run() -> None:
    lines = [line for block in shell_blocks() for line in block.lines]
    assert any(line.startswith("tierplay simulate") for line in lines)
    assert any(starts_player(line) and listening_port(line) for line in lines)


@pytest.mark.parametrize("block", shell_blocks(), ids=str)
def test_every_command_in_a_readme_block_works(
    block: Block, work_folder: Path, shell_env: dict[str, str]
) -> None:
    running: tuple[str, Terminal] | None = None
    try:
        for line in block.lines:
            if line.startswith(RUNS_THE_SUITE):
                continue
            cwd = REPO if line.startswith("make ") else work_folder
            if not starts_player(line):
                run_line(line, cwd, shell_env)
                continue
            terminal = start_player(line, cwd, shell_env)
            if "in one terminal" in line:
                port = listening_port(line)
                assert port is not None, f"`{line}`: a server without a port"
                running = (line, terminal)
                wait_until_serving(port)
            else:
                quit_player(line, terminal)
    finally:
        if running is not None:
            quit_player(*running)


def test_readme_toml_examples_pass_their_checks(shell_env: dict[str, str], tmp_path: Path) -> None:
    """The keymap example passes `--check-config`, the presets example `presets --check`."""
    examples = [block for block in readme_blocks() if block.language == "toml"]
    assert {example.lines[0] for example in examples} == {"[keys]", "[[preset]]"}
    for example in examples:
        is_keymap = example.lines[0] == "[keys]"
        config = Path(shell_env["TIERPLAY_CONFIG_DIR"])
        written = config / ("keymap.toml" if is_keymap else "presets.toml")
        written.write_text("\n".join(example.lines) + "\n")
        check = ["--check-config"] if is_keymap else ["presets", "--check", str(written)]
        done = subprocess.run(
            ["tierplay", *check],
            env=shell_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=LINE_TIMEOUT,
        )
        assert done.returncode == 0, f"{example}: {done.stdout}{done.stderr}"
