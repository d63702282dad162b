"""What importing costs: the audio process against a bare sounddevice process.

The audio process runs `python -m engine.playback.sinks.audio_child`: it imports that
module and nothing of the engine's main module.
Everything those imports pull in sits in its memory for the whole session, beside a
callback that only needs sounddevice and the rings (no numpy: it copies through
memoryviews). Each figure comes from a fresh process of its own, measured in the same run
as the baseline:
- after the imports alone: RSS, PSS, modules loaded, import time, against a process that
  imports only sounddevice (and one that adds numpy, for scale);
- while playing on a JACK server, if one answers: the real audio process's RSS and PSS,
  against a bare raw sounddevice stream on the same device;
- the engine process's (`import engine; engine.Engine`) and `import tui.cli` costs.

Memory is read from outside (psutil memory_full_info) so the measuring adds nothing.

Run: .venv/bin/python -m bench.imports [--repeat 3] [--play-seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
HEAVY = ("scipy", "pedalboard", "pyloudnorm", "soundfile", "textual", "fastapi", "uvicorn")
BASELINE = "import sounddevice"
IMPORT_CASES = (
    ("sounddevice (baseline)", BASELINE),
    ("numpy + sounddevice", "import numpy, sounddevice"),
    (
        "engine.playback.sinks.audio_child + sounddevice",
        "import engine.playback.sinks.audio_child, sounddevice",
    ),
    ("import engine; engine.Engine", "import engine; engine.Engine"),
    ("import tui.cli", "import tui.cli"),
)

REPORT = """
import json, sys
heavy = [name for name in {heavy!r} if name in sys.modules]
print(json.dumps({{"modules": len(sys.modules), "heavy": heavy, **report}}), flush=True)
sys.stdin.readline()
"""

IMPORT_CHILD = (
    """
import time
start = time.perf_counter()
{statement}
report = {{"seconds": time.perf_counter() - start}}
"""
    + REPORT
)

FIND_JACK = """
import sounddevice as sd
hostapis = sd.query_hostapis()
jack = next(
    number
    for number, info in enumerate(sd.query_devices())
    if info["max_output_channels"] > 0 and "JACK" in hostapis[info["hostapi"]]["name"]
)
"""

BARE_STREAM = (
    FIND_JACK
    + """
silence = bytes(1024 * 8)

def callback(outdata, frames, _time, status):
    outdata[:] = silence[: len(outdata)]

stream = sd.RawOutputStream(device=jack, blocksize=1024, channels=2, dtype="float32",
                            callback=callback)
stream.start()
time.sleep({seconds})
report = {{"device": sd.query_devices(jack)["name"]}}
"""
)

PLAYER = (
    """
import sys
from tui.cli import main  # the `tierplay` script's line

if __name__ == "__main__":
    import json, tempfile, time
    from pathlib import Path
    from engine import Engine, EngineConfig
    from engine.runtime import tune_runtime_for_audio
"""
    + "\n".join("    " + line for line in FIND_JACK.strip().splitlines())
    + """
    with tempfile.TemporaryDirectory() as state:
        tune_runtime_for_audio()
        engine = Engine(EngineConfig(state_dir=Path(state)), sink="sounddevice", device=jack)
        try:
            engine.open([Path({library!r})])
            engine.play()
            time.sleep({seconds})
            snap = engine.snapshot()
            print(json.dumps({{"device": snap.output_name, "playing": snap.playing,
                               "underruns": snap.underruns}}), flush=True)
            sys.stdin.readline()
        finally:
            engine.close()
"""
)


@dataclass(frozen=True)
class Figures:
    rss_mb: float
    pss_mb: float
    uss_mb: float
    modules: int
    seconds: float
    heavy: tuple[str, ...]
    note: str = ""


def memory_mb(pid: int) -> tuple[float, float, float]:
    """RSS, PSS and USS: shared libraries count whole in RSS, shared out in PSS, not in USS."""
    info = psutil.Process(pid).memory_full_info()
    return info.rss / MIB, info.pss / MIB, info.uss / MIB


Report = dict[str, Any]
Child = subprocess.Popen[str]


def run_child(code: str, script: Path | None = None) -> tuple[Report, Child]:
    """Start a fresh interpreter at the project root; returns its report line and itself,
    still waiting on stdin so it can be measured."""
    command = [sys.executable, str(script)] if script else [sys.executable, "-c", code]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=30)
        assert process.stderr is not None
        raise RuntimeError(process.stderr.read().strip().splitlines()[-1:] or "no output")
    report: Report = json.loads(line)
    return report, process


def finish(process: Child) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure_import(statement: str, repeat: int) -> Figures:
    memories, reports = [], []
    for _ in range(repeat):
        report, process = run_child(IMPORT_CHILD.format(statement=statement, heavy=HEAVY))
        try:
            memories.append(memory_mb(process.pid))
        finally:
            finish(process)
        reports.append(report)
    rss, pss, uss = (statistics.median(values) for values in zip(*memories, strict=True))
    return Figures(
        rss,
        pss,
        uss,
        modules=round(statistics.median(report["modules"] for report in reports)),
        seconds=statistics.median(report["seconds"] for report in reports),
        heavy=tuple(reports[0]["heavy"]),
    )


def jack_answers() -> bool:
    lsp = shutil.which("jack_lsp")
    if lsp is None:
        return False
    return subprocess.run([lsp], capture_output=True, timeout=10).returncode == 0


def measure_bare_stream(seconds: float) -> Figures:
    code = "import time\n" + BARE_STREAM.format(seconds=seconds) + REPORT.format(heavy=HEAVY)
    report, process = run_child(code)
    try:
        memory = memory_mb(process.pid)
    finally:
        finish(process)
    return Figures(*memory, report["modules"], 0.0, (), f"device {report['device']}")


def audio_children(pid: int) -> list[psutil.Process]:
    """The engine's audio processes."""
    found = []
    for child in psutil.Process(pid).children():
        command = " ".join(child.cmdline())
        if "engine.playback.sinks.audio_child" in command:
            found.append(child)
    return found


def measure_audio_process(seconds: float) -> Figures:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "player.py"
        library = str(ROOT / "sample_audio")
        script.write_text(PLAYER.format(library=library, seconds=seconds))
        report, process = run_child("", script)
        try:
            children = audio_children(process.pid)
            if len(children) != 1:
                raise RuntimeError(f"expected one audio process, found {len(children)}")
            memory = memory_mb(children[0].pid)
        finally:
            finish(process)
    note = (
        f"device {report['device']}, playing {report['playing']}, underruns {report['underruns']}"
    )
    return Figures(*memory, 0, 0.0, (), note)


def row(name: str, figures: Figures, base: Figures) -> str:
    memory = "".join(
        f"{mine:>7.1f}{mine / theirs:>6.2f}x"
        for mine, theirs in (
            (figures.rss_mb, base.rss_mb),
            (figures.pss_mb, base.pss_mb),
            (figures.uss_mb, base.uss_mb),
        )
    )
    seconds = (
        f"{figures.seconds * 1000:>7.0f}{figures.seconds / base.seconds:>6.1f}x"
        if figures.seconds
        else f"{'':>14}"
    )
    loaded = f"{figures.modules} modules: {', '.join(figures.heavy) or '-'}"
    return f"{name:<36}{memory}{seconds}  {figures.note or loaded}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per case")
    parser.add_argument("--play-seconds", type=float, default=3.0)
    args = parser.parse_args()
    header = (
        f"{'':<36}"
        + "".join(f"{unit:>7}{'x base':>7}" for unit in ("RSS MiB", "PSS MiB", "USS MiB", "imp ms"))
        + "  heavy modules loaded"
    )
    print(f"imports, each in fresh processes (median of {args.repeat}); baseline: {BASELINE}")
    print(header)
    base: Figures | None = None
    for name, statement in IMPORT_CASES:
        figures = measure_import(statement, args.repeat)
        base = base or figures
        print(row(name, figures, base))
    if not jack_answers():
        print("playing: not measured (no JACK server answers; see README, Benchmarks)")
        return
    print(f"\nplaying on the JACK server for {args.play_seconds:.0f} s; baseline: a bare stream")
    print(header.replace("heavy modules loaded", "notes").replace(" imp ms x base", " " * 14))
    try:
        bare = measure_bare_stream(args.play_seconds)
        print(row("bare sounddevice stream (baseline)", bare, bare))
        time.sleep(0.5)
        print(row("Tierplay's audio process", measure_audio_process(args.play_seconds), bare))
    except (RuntimeError, OSError, ValueError) as error:
        print(f"playing: not measured ({error})")


if __name__ == "__main__":
    main()
