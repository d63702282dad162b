"""The audio process's shared block and lock: another process sees the same memory and
the same lock, and no name outlives its use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.playback.sinks import shared
from engine.playback.sinks.shared import SharedBlock, forget_name, new_lock

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys
from engine.playback.sinks.shared import attach_block, open_lock
fd, size, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
block = attach_block(fd, size)
lock = open_lock(name)
held_elsewhere = not lock.acquire(False)  # the engine holds it
block[:5] = b"child"
print(json.dumps({"read": block[5:11].decode(), "held_elsewhere": held_elsewhere}))
"""


def test_a_child_shares_the_block_and_the_lock_and_no_name_is_left() -> None:
    block = SharedBlock(4096)
    lock, name = new_lock()
    try:
        block.buf[5:11] = b"engine"
        assert lock.acquire(False)
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(block.fd), "4096", name],
            pass_fds=(block.fd,),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"read": "engine", "held_elsewhere": True}
        assert bytes(block.buf[:5]) == b"child"
        lock.release()
    finally:
        forget_name(name)
        block.close()
    assert not semaphore_file(name).exists()
    assert lock.acquire(False)  # the handle outlives the name


def test_names_left_by_a_dead_engine_are_swept() -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    orphan = f"/{shared.LOCK_PREFIX}{int(dead.stdout)}-0"
    mine = f"/{shared.LOCK_PREFIX}{os.getpid()}-0"
    kept = []
    try:
        for name in (orphan, mine):
            kept.append(shared._multiprocessing.SemLock(shared.SEMAPHORE, 1, 1, name, False))
        _lock, name = new_lock()
        forget_name(name)
        assert not semaphore_file(orphan).exists()
        assert semaphore_file(mine).exists()  # its engine is alive: not touched
    finally:
        forget_name(orphan)
        forget_name(mine)


def semaphore_file(name: str) -> Path:
    return shared.SEMAPHORE_FOLDER / f"sem.{name.removeprefix('/')}"
