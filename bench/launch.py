"""Launch to first sound, and quit, of the real `tierplay` command in a terminal.

Each run starts `tierplay --sink null --api 127.0.0.1:PORT sample_audio/` in a pseudo
terminal (the app draws as it would for a listener) with a state folder of its own, reads
the API until the playhead moves, presses `q` and waits for the process to end. The first
sound is the answer's time less the position it gives (the null sink plays in real time),
the least of 15 such bounds, so the API's own start-up does not count. It listens on for
8 s and reads the underruns then: the start is when the screen, the library's opening and
the first renders all contend with the feeder (goal 0). Printed as p50 and
p90 over the runs, each against a baseline measured in the same run: a bare interpreter
that imports the libraries the player needs before its first screen (numpy, soundfile,
sounddevice, pedalboard, textual; scipy loads later, in a render thread) and exits. The
API adds its own imports to every run, and at quit uvicorn's shutdown (up to 0.1 s).

Run: .venv/bin/python -m bench.launch [--runs 10] [--library DIR] [--sink null|sounddevice]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.terminal import Terminal

REPO = Path(__file__).resolve().parent.parent
TIERPLAY = Path(sys.executable).parent / "tierplay"
BASELINE_IMPORTS = "import numpy, soundfile, sounddevice, pedalboard, textual.app"
TIMEOUT_SECONDS = 60.0
LISTEN_SECONDS = 8.0
"""How long after its first sound a run listens before reading the underruns."""
SOUND_SAMPLES = 15
"""Answers read once the music plays: each bounds its start from above, the least is kept
(the API shares the app's loop, so an answer drawn out by a frame bounds it loosely)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def baseline_seconds() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", BASELINE_IMPORTS],
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
    )
    return time.perf_counter() - started


def player_state(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/player", timeout=0.5) as got:
            state: dict[str, object] = json.loads(got.read())
            return state
    except OSError:
        return None


@dataclass(frozen=True)
class Run:
    """Seconds from the command to the first screen and the first sound, and to the end
    after `q`; the underruns in the first seconds of listening."""

    first_screen: float
    first_sound: float
    quit: float
    underruns: int
    """-1 where the API never gave them."""


def one_run(library: Path, sink: str) -> Run:
    """A run from a state folder of its own: the music starts at 0:00, not where a
    previous run stopped, and no track is sampled yet."""
    with tempfile.TemporaryDirectory(prefix="tierplay-launch-") as state:
        return _timed_run(library, Path(state), sink)


def _timed_run(library: Path, state_dir: Path, sink: str) -> Run:
    port = free_port()
    terminal = Terminal(
        [str(TIERPLAY), "--sink", sink, "--api", f"127.0.0.1:{port}", str(library)],
        # As on a listener's machine: compiled modules are cached (the warm-up run writes
        # them), even where the shell says not to write them.
        env={"TIERPLAY_STATE_DIR": str(state_dir), "PYTHONDONTWRITEBYTECODE": ""},
    )
    started = terminal.started
    try:
        deadline = started + TIMEOUT_SECONDS
        bounds: list[float] = []
        while time.perf_counter() < deadline and len(bounds) < SOUND_SAMPLES:
            state = player_state(port)
            answered = time.perf_counter()
            position = state.get("position_seconds") if state else None
            if isinstance(position, int | float) and position > 0:
                # The null sink plays in real time: the music started at most `position`
                # before the answer, however late the API came up or answered.
                bounds.append(answered - position - started)
            time.sleep(0.02)
        first_sound = min(bounds, default=float("nan"))
        underruns = -1
        listened = started + first_sound + LISTEN_SECONDS
        while time.perf_counter() < deadline:
            state = player_state(port)
            value = state.get("underruns") if state else None
            if isinstance(value, int):
                underruns = value
                if time.perf_counter() >= listened:
                    break
            time.sleep(0.25)
        terminal.wait_for_screen(max(0.0, deadline - time.perf_counter()))
        asked = time.perf_counter()
        terminal.quit(TIMEOUT_SECONDS)
        quit_seconds = time.perf_counter() - asked
    finally:
        terminal.close()
    first_screen = terminal.first_screen - started if terminal.first_screen else float("nan")
    return Run(first_screen, first_sound, quit_seconds, underruns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--library", type=Path, default=REPO / "sample_audio")
    parser.add_argument("--sink", default="null", help="null (default) or sounddevice")
    args = parser.parse_args()
    baselines: list[float] = []
    runs: list[Run] = []
    one_run(args.library, args.sink)  # warms the page cache, the index, compiled modules
    for _ in range(args.runs):
        baselines.append(baseline_seconds())
        runs.append(one_run(args.library, args.sink))
    base = statistics.median(baselines)
    print(f"{args.runs} runs of tierplay --sink {args.sink} on {args.library}")
    print(f"  baseline (interpreter + the same imports): p50 {base:.2f} s")
    for label, values in (
        ("first screen", [run.first_screen for run in runs]),
        ("first sound", [run.first_sound for run in runs]),
        ("quit", [run.quit for run in runs]),
    ):
        p50 = statistics.median(values)
        p90 = sorted(values)[min(len(values) - 1, int(0.9 * len(values)))]
        print(f"  {label:<13} p50 {p50:5.2f} s  p90 {p90:5.2f} s  p50 x{p50 / base:.2f} baseline")
    read = [run.underruns for run in runs if run.underruns >= 0]
    unread = f"; not read in {len(runs) - len(read)} (no answer)" if len(read) < len(runs) else ""
    print(
        f"  underruns in the first {LISTEN_SECONDS:g} s: {sum(read)} in all, "
        f"{sum(1 for u in read if u)} of {len(read)} starts (goal 0); per start {read}{unread}"
    )


if __name__ == "__main__":
    main()
