"""A command run in a pseudo terminal, as a listener runs the player: what it draws is read
(a full terminal would stop it), keys are typed into it, and its exit is awaited."""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

FIRST_SCREEN = b"Now playing"
"""Bytes the player's first frame holds (a panel's title)."""
KEPT_BYTES = 256 * 1024
"""What is kept of the output: its end, for a failure's message."""


class Terminal:
    """`argv` (or a shell line when `shell`) in a pty of its own; `started` is when it
    began, `first_screen` when its first frame arrived (None until then)."""

    def __init__(
        self,
        argv: Sequence[str] | str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        shell: bool = False,
    ) -> None:
        leader, follower = pty.openpty()
        self._leader = leader
        self.started = time.perf_counter()
        self.first_screen: float | None = None
        self.output = bytearray()
        self.process = subprocess.Popen(
            argv,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env={**os.environ, "TERM": "xterm-256color", **(env or {})},
            cwd=cwd,
            shell=shell,
            close_fds=True,
            start_new_session=True,
        )
        os.close(follower)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def wait_for_screen(self, timeout: float) -> bool:
        """True once the first frame is drawn; False at the timeout or if it ended first."""
        deadline = time.perf_counter() + timeout
        while self.first_screen is None and time.perf_counter() < deadline:
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        return self.first_screen is not None

    def type(self, keys: str) -> None:
        os.write(self._leader, keys.encode())

    def quit(self, timeout: float) -> int:
        """Press `q` and wait for the exit status; killed (and -9) past the timeout."""
        self.type("q")
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            return -9

    def close(self) -> None:
        """Kill it if it still runs, and free the terminal."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        self._reader.join(timeout=2)
        with contextlib.suppress(OSError):
            os.close(self._leader)

    def text(self) -> str:
        return self.output.decode(errors="replace")

    def _drain(self) -> None:
        """Read everything drawn; the first frame is looked for across reads (a frame
        comes in pieces)."""
        while True:
            try:
                data = os.read(self._leader, 65536)
            except OSError:
                return
            if not data:
                return
            tail = bytes(self.output[-64:]) + data
            self.output += data
            del self.output[:-KEPT_BYTES]
            if self.first_screen is None and FIRST_SCREEN in tail:
                self.first_screen = time.perf_counter()
