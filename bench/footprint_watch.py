"""Watching the player from outside: bench/footprint.py's sampling of a child process tree.

A child runs one role of bench/footprint_probe.py; this process samples, every 0.25 s, PSS
(from /proc/PID/smaps, which also tells the sound server's mappings apart) summed over the
child and its descendants, and CPU seconds per process, and reads the child's `@@ {json}`
lines (marks and figures). It imports neither the engine nor numpy: PSS splits a shared
page between the processes that map it, so a measuring process with the same libraries
loaded would shrink the player's figure.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.footprint_probe import PROTOCOL

REPO = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.25
MB = 1e6
"""As engine.vocabulary.MB, written out: this process must import neither the engine nor
numpy (see above)."""
SOUND_SERVER_MAPPINGS = ("/dev/shm/jack-", "memfd:pulseaudio", "memfd:pipewire")
"""Shared memory a sound server maps into each of its clients (JACK's engine segment is
51 MB). It is the server's, paid alike by any player on that device, the minimal one too:
counted apart from the player's own PSS."""


@dataclass
class Run:
    """One child process as this process saw it."""

    name: str
    pss: list[tuple[float, float]] = field(default_factory=list)
    """(time, MB) summed over the child and its descendants, the sound server's shared
    memory left out."""
    server: list[tuple[float, float]] = field(default_factory=list)
    """(time, MB) of the sound server's shared memory mapped into those processes."""
    cpu: list[tuple[float, dict[int, float]]] = field(default_factory=list)
    """(time, CPU seconds per process)."""
    processes: int = 0
    marks: dict[str, float] = field(default_factory=dict)
    told: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    failed: str = ""

    @property
    def peak(self) -> float:
        return max((mb for _t, mb in self.pss), default=math.nan)

    @property
    def server_peak(self) -> float:
        return max((mb for _t, mb in self.server), default=0.0)

    def steady(self, start: str, end: str) -> float:
        """Median PSS over the second half of a phase."""
        low, high = self.marks.get(start), self.marks.get(end)
        if low is None or high is None:
            return math.nan
        values = [mb for t, mb in self.pss if (low + high) / 2 <= t <= high]
        return statistics.median(values) if values else math.nan

    def told_value(self, key: str) -> Any:
        """The last `key` the child told, or None."""
        return next((m[key] for m in reversed(self.told) if key in m), None)

    def cpu_percent(self, start: str, end: str) -> float:
        """CPU of all the player's processes over a phase, in % of one core (a process that
        told it is the terminal, `terminal_pid`, is not the player's)."""
        low, high = self.marks.get(start), self.marks.get(end)
        inside = [
            (t, c) for t, c in self.cpu if low is not None and high is not None and low <= t <= high
        ]
        if len(inside) < 2:
            return math.nan
        (t0, first), (t1, last) = inside[0], inside[-1]
        terminal = self.told_value("terminal_pid")
        used = sum(
            seconds - first.get(pid, 0.0) for pid, seconds in last.items() if pid != terminal
        )
        return 100.0 * used / (t1 - t0)


# -- running and watching a child ----------------------------------------------------------------


def _read_protocol(stream: Any, run: Run) -> None:
    for line in stream:
        if not line.startswith(PROTOCOL):
            continue
        message = json.loads(line[len(PROTOCOL) :])
        if "mark" in message:
            run.marks[message["mark"]] = float(message["t"])
        elif "result" in message:
            run.result = message["result"]
        else:
            run.told.append(message)


def _look(root: psutil.Process) -> tuple[float, float, dict[int, float]] | None:
    """PSS (MB) summed over the tree without the sound server's shared memory, that shared
    memory, and CPU seconds per process; None once the tree is gone."""
    try:
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    pss, server, cpu = 0.0, 0.0, {}
    for process in tree:
        try:
            total, shared = pss_and_sound_server(process.pid)
            pss += total - shared
            server += shared
            times = process.cpu_times()
            cpu[process.pid] = times.user + times.system
        except (psutil.Error, OSError):
            continue  # exited between the listing and the reading
    return pss, server, cpu


def pss_and_sound_server(pid: int) -> tuple[float, float]:
    """MB of PSS of the process, and of its mappings of a sound server's shared memory:
    one pass over /proc/PID/smaps gives both."""
    total_kb, server_kb, counting = 0, 0, False
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            if line[0] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
                counting = any(name in line for name in SOUND_SERVER_MAPPINGS)
            elif line.startswith("Pss:"):
                kb = int(line.split()[1])
                total_kb += kb
                if counting:
                    server_kb += kb
    return total_kb * 1024 / MB, server_kb * 1024 / MB


def run_child(name: str, role: str, spec: dict[str, Any], timeout: float = 1800.0) -> Run:
    run = Run(name)
    began = time.monotonic()
    command = [sys.executable, "-m", "bench.footprint_probe", role, json.dumps(spec)]
    with tempfile.TemporaryFile("w+") as errors:
        child = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        reader = threading.Thread(target=_read_protocol, args=(child.stdout, run), daemon=True)
        reader.start()
        root = psutil.Process(child.pid)
        started = time.monotonic()
        while child.poll() is None:
            seen = _look(root)
            now = time.monotonic()
            if seen is not None:
                run.pss.append((now, seen[0]))
                run.server.append((now, seen[1]))
                run.cpu.append((now, seen[2]))
                run.processes = max(run.processes, len(seen[2]))
            if now - started > timeout:
                child.kill()
            time.sleep(SAMPLE_SECONDS)
        reader.join(timeout=5.0)
        if child.returncode != 0:
            errors.seek(0)
            lines = [line for line in errors.read().splitlines() if line.strip()]
            run.failed = lines[-1] if lines else f"exit status {child.returncode}"
    progress(
        f"{name}: {time.monotonic() - began:.0f} s"
        + (f", failed: {run.failed}" if run.failed else "")
    )
    return run


def default_sink(asked: str) -> tuple[str, str, subprocess.Popen[bytes] | None]:
    """The sink, why, and a JACK dummy server this run started (to stop at the end)."""
    answers = (
        shutil.which("jack_lsp") is not None
        and subprocess.run(["jack_lsp"], capture_output=True, check=False).returncode == 0
    )
    if asked == "null":
        return "null", "asked for", None
    if answers:
        return "sounddevice", "a JACK server answers jack_lsp", None
    if asked == "auto" or shutil.which("jackd") is None:
        return "null", "no JACK server answers jack_lsp", None
    server = subprocess.Popen(
        ["jackd", "--no-realtime", "-d", "dummy", "-r", "44100", "-p", "1024"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if subprocess.run(["jack_lsp"], capture_output=True, check=False).returncode == 0:
            return "sounddevice", "on a JACK dummy server started for this run", server
        time.sleep(0.1)
    server.kill()
    return "null", "jackd did not start", None


@contextmanager
def output_for(asked: str) -> Iterator[tuple[str, str]]:
    """`default_sink`'s sink and why, with the JACK server it started (if any) stopped
    at the end."""
    sink, why, server = default_sink(asked)
    try:
        yield sink, why
    finally:
        if server is not None:
            server.terminate()
            server.wait()


def progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)
