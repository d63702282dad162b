"""What the engine and its audio process share: a memory block and a lock, with no name left
behind.

multiprocessing's shared memory, its spawn-context lock and its spawn start method each
start Python's resource tracker: one more interpreter for the whole session (8 MB PSS
measured beside the player), whose only job is to unlink the names a crashed parent would
leak. Here nothing keeps a name. The block is an anonymous memory file (memfd) that the
child receives as a file descriptor; the lock is a POSIX semaphore (the one
`multiprocessing.Lock` wraps, with the same non-blocking acquire for the callback) whose
name the engine unlinks as soon as the child has opened it. The child imports this module:
standard library only.
"""

from __future__ import annotations

import _multiprocessing  # type: ignore[import-not-found]  # multiprocessing.Lock's semaphore
import contextlib
import mmap
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

SEMAPHORE = 1
"""`multiprocessing.synchronize.SEMAPHORE`: a lock is a semaphore whose most is 1."""
LOCK_PREFIX = "tierplay-audio-"
SEMAPHORE_FOLDER = Path("/dev/shm")
"""Where Linux keeps named semaphores (as `sem.<name>`)."""


class SharedBlock:
    """`size` bytes of shared memory, zeroed, mapped here and passed on as `fd`."""

    def __init__(self, size: int) -> None:
        self.fd = _anonymous_file()
        os.ftruncate(self.fd, size)
        self._map = mmap.mmap(self.fd, size)
        self.buf = memoryview(self._map)

    def close(self) -> None:
        """Unmap and close; a view still alive elsewhere keeps the mapping (and is told by
        BufferError, which is ignored: the memory goes with the last view)."""
        with contextlib.suppress(BufferError):
            self.buf.release()
            self._map.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def attach_block(fd: int, size: int) -> mmap.mmap:
    """The child's mapping of the block the engine passed as `fd`."""
    return mmap.mmap(fd, size)


def _anonymous_file() -> int:
    """A memory file with no name (Linux); elsewhere a temporary file already unlinked."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("tierplay-audio", os.MFD_CLOEXEC)
    with tempfile.TemporaryFile() as file:
        return os.dup(file.fileno())


def new_lock() -> tuple[Any, str]:
    """A fresh process-shared lock and the name the child opens it by; `forget_name` once
    the child has it (or will never have it). Names a killed engine left are swept first."""
    _sweep_orphaned_names()
    name = f"/{LOCK_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    return _multiprocessing.SemLock(SEMAPHORE, 1, 1, name, False), name


def open_lock(name: str) -> Any:
    """The child's handle on the engine's lock."""
    return _multiprocessing.SemLock._rebuild(0, SEMAPHORE, 1, name)


def forget_name(name: str) -> None:
    """Unlink the lock's name: the handles already open keep working."""
    with contextlib.suppress(OSError):
        _multiprocessing.sem_unlink(name)


def _sweep_orphaned_names() -> None:
    """Unlink the names of locks whose engine is gone (killed before its child opened one)."""
    if not SEMAPHORE_FOLDER.is_dir():
        return
    for entry in SEMAPHORE_FOLDER.glob(f"sem.{LOCK_PREFIX}*"):
        pid = entry.name.removeprefix(f"sem.{LOCK_PREFIX}").split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            forget_name("/" + entry.name.removeprefix("sem."))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
