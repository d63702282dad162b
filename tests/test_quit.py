"""Starting and quitting leaves nothing behind: no shared-memory block, no process, no
warning at exit, on the real device (bench/launch.py measures how long it takes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.terminal import Terminal
from engine import Engine, EngineConfig
from tests.helpers.audio_files import SAMPLE_AUDIO

pytestmark = pytest.mark.jack

ROUNDS = 20
TRACK = SAMPLE_AUDIO / "04_hum_line.flac"
SHARED_MEMORY = Path("/dev/shm")


def shared_blocks() -> set[str]:
    return set(os.listdir(SHARED_MEMORY)) if SHARED_MEMORY.is_dir() else set()


def our_processes() -> set[int]:
    """This process's children, but Python's resource tracker (one for the interpreter)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def test_twenty_starts_and_quits_leave_no_block_and_no_process(jack_device: int) -> None:
    blocks, processes = shared_blocks(), our_processes()
    for _ in range(ROUNDS):
        engine = Engine(EngineConfig(), sink="sounddevice", device=jack_device)
        try:
            engine.open([TRACK])
            engine.play()
            deadline = time.monotonic() + 10
            while engine.snapshot().position_seconds <= 0:  # heard, not only started
                assert time.monotonic() < deadline, "no sound"
                time.sleep(0.01)
        finally:
            engine.close()
    assert shared_blocks() - blocks == set()
    deadline = time.monotonic() + 5  # a child reaped a moment after close returned
    while our_processes() - processes:
        assert time.monotonic() < deadline, f"left running: {our_processes() - processes}"
        time.sleep(0.05)


def test_a_process_that_plays_and_quits_says_nothing_at_exit(jack_device: int) -> None:
    """The whole path a listener's quit takes, in a process of its own: no warning of a
    leaked shared-memory object (or anything else) on the way out."""
    script = (
        "import time\n"
        "from engine import Engine, EngineConfig\n"
        f"engine = Engine(EngineConfig(), sink='sounddevice', device={jack_device})\n"
        f"engine.open([{str(TRACK)!r}])\n"
        "engine.play()\n"
        "time.sleep(0.5)\n"
        "engine.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


def test_the_tierplay_command_quits_on_q_and_leaves_nothing(
    jack_device: int, tmp_path: Path
) -> None:
    """The `tierplay` script ends its process at once after closing the engine (no
    interpreter teardown): its audio process and shared memory must still be gone, and
    the state saved, from the first seconds on (renders still running) and later."""
    blocks = shared_blocks()
    tierplay = Path(sys.executable).parent / "tierplay"
    children: list[psutil.Process] = []
    for settle in (0.0, 1.0, 3.0):
        terminal = Terminal(
            [str(tierplay), "--sink", "sounddevice", "--device", str(jack_device), str(TRACK)],
            env={"TIERPLAY_STATE_DIR": str(tmp_path)},
        )
        try:
            assert terminal.wait_for_screen(60), terminal.text()[-2000:]
            time.sleep(settle)
            children += psutil.Process(terminal.process.pid).children(recursive=True)
            assert terminal.quit(60) == 0, terminal.text()[-2000:]
        finally:
            terminal.close()
        assert "Traceback" not in terminal.text()
        assert "resource_tracker" not in terminal.text()  # nothing leaked at exit
        assert (tmp_path / "state.json").is_file()
    assert children, "the player started no audio process"
    assert shared_blocks() - blocks == set()
    deadline = time.monotonic() + 5  # reaped a moment after the exit
    while any(child.is_running() for child in children):
        assert time.monotonic() < deadline, [c.pid for c in children if c.is_running()]
        time.sleep(0.05)
