"""A D-Bus session bus of one's own (`dbus-daemon --session`), for MPRIS tests and
benchmarks: nothing reaches the desktop's bus."""

from __future__ import annotations

import subprocess
from pathlib import Path


def start_session_bus(folder: Path) -> tuple[subprocess.Popen[str], str]:
    """The daemon, listening on a socket in `folder`, and its address."""
    daemon = subprocess.Popen(
        [
            "dbus-daemon",
            "--session",
            "--nofork",
            "--print-address=1",
            f"--address=unix:path={folder / 'bus'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # it warns that it cannot raise its fd limit
        text=True,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    if not address:
        daemon.kill()
        raise RuntimeError("dbus-daemon printed no address")
    return daemon, address


def stop_session_bus(daemon: subprocess.Popen[str]) -> None:
    daemon.terminate()
    daemon.wait(timeout=10)
