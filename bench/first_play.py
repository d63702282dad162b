"""First play: how soon a switch is instant after a library is opened and played.

Each run is a fresh process (nothing sampled, calibrated or decoded yet): the engine opens
the library with one file first, on the preset the last session restored, and plays. Two
times are read from `play()`, polled every 20 ms:
- playing: the chunk under the playhead is cached for the preset playing (what any player
  needs before it can play a rendered preset): the baseline, measured in the same run;
- ready: that chunk is cached for the two likeliest switch targets as well, as the predictor
  ranks them at each poll (bench/footprint.py's time to ready).
The goal is ready within 1 s at p50 and 2 s at p99; ready/playing says what the targets
cost beyond the chunk that plays.

Run: .venv/bin/python -m bench.first_play [--runs 3] [--files 4] [--library DIR]
[--sink null|sounddevice]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpus import corpus_dir, corpus_tracks
from bench.footprint_probe import POLL_SECONDS, READY_TIMEOUT_SECONDS, is_ready, listened_with
from bench.footprint_watch import output_for
from engine.library.decoders import AUDIO_EXTENSIONS
from engine.observe.stats import percentile

REPO = Path(__file__).resolve().parent.parent
SAMPLE_AUDIO = REPO / "sample_audio"
MIN_SECONDS = 120.0
"""Files picked to start with last this long at least, when the library has them."""
GOAL_P50_MS, GOAL_P99_MS = 1000.0, 2000.0


def run_child(spec: dict[str, Any]) -> None:
    """One first play, in this fresh process: prints {"playing": ms, "ready": ms}."""
    from engine import Engine, EngineConfig
    from engine.runtime import tune_runtime_for_audio

    with tempfile.TemporaryDirectory(prefix="tierplay-first-play-") as state:
        listened_with(Path(state))
        tune_runtime_for_audio()
        engine = Engine(EngineConfig(state_dir=Path(state)), sink=spec["sink"])
        try:
            engine.open([Path(p) for p in spec["paths"]])
            track = engine.tracks()[0]
            playing_preset = engine.snapshot().requested_preset
            sent = time.monotonic()
            engine.play()
            times: dict[str, float | None] = {"playing": None, "ready": None}
            while time.monotonic() - sent < READY_TIMEOUT_SECONDS and times["ready"] is None:
                now_ms = (time.monotonic() - sent) * 1000
                if times["playing"] is None:
                    intensity = engine.snapshot().intensity
                    check = engine.check(track.id, playing_preset, 0, intensity)
                    times["playing"] = now_ms if check["is_cached"] else None
                if is_ready(engine, track.id, 0):
                    times["ready"] = now_ms
                time.sleep(POLL_SECONDS)
            print(json.dumps(times), flush=True)
        finally:
            engine.close()


def first_files(paths: list[Path], count: int) -> list[Path]:
    """`count` files to start with, the long ones first: a real song, not a jingle."""
    import soundfile as sf

    def seconds(path: Path) -> float:
        try:
            info = sf.info(str(path))
            return float(info.frames) / max(int(info.samplerate), 1)
        except (RuntimeError, OSError):
            return 0.0  # MP3 and friends: soundfile may not say; FFmpeg plays them

    long = [p for p in paths if seconds(p) >= MIN_SECONDS]
    return (long or paths)[:count]


def measure(label: str, paths: list[Path], runs: int, files: int, sink: str) -> None:
    rows: list[tuple[str, float | None, float | None]] = []
    for first in first_files(paths, files):
        ordered = [first, *(p for p in paths if p != first)]
        spec = {"paths": [str(p) for p in ordered], "sink": sink}
        for _ in range(runs):
            done = subprocess.run(
                [sys.executable, "-m", "bench.first_play", "--child", json.dumps(spec)],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
                print(f"  {first.name}: failed: {tail[0]}", file=sys.stderr)
                continue
            times = json.loads(lines[-1])
            rows.append((first.name, times["playing"], times["ready"]))
    report(label, rows)


def report(label: str, rows: list[tuple[str, float | None, float | None]]) -> None:
    print(f"\n{label}: {len(rows)} first plays (ms from play(); never: not within 30 s)")
    print(f"{'file':<34} {'playing':>8} {'ready':>8} {'ready/playing':>14}")
    for name in dict.fromkeys(name for name, _p, _r in rows):
        mine = [(p, r) for n, p, r in rows if n == name]
        playing = [p for p, _r in mine if p is not None]
        ready = [r for _p, r in mine if r is not None]
        p = statistics.median(playing) if playing else None
        r = statistics.median(ready) if ready else None
        ratio = f"{r / p:14.2f}" if p and r else f"{'-':>14}"
        print(f"{name:<34} {_ms(p)} {_ms(r)} {ratio}   (median of {len(mine)})")
    ready_all = [r for _n, _p, r in rows if r is not None]
    playing_all = [p for _n, p, _r in rows if p is not None]
    never = sum(1 for _n, _p, r in rows if r is None)
    if ready_all and playing_all:
        p50, p99 = percentile(ready_all, 0.5), percentile(ready_all, 0.99)
        base = percentile(playing_all, 0.5)
        print(
            f"ready p50 {p50:.0f} ms (goal {GOAL_P50_MS:.0f}, {p50 / GOAL_P50_MS:.2f} of it), "
            f"p99 {p99:.0f} ms (goal {GOAL_P99_MS:.0f}, {p99 / GOAL_P99_MS:.2f}), never {never}; "
            f"playing p50 {base:.0f} ms, ready/playing {p50 / base:.2f}"
        )


def _ms(value: float | None) -> str:
    return f"{value:8.0f}" if value is not None else f"{'never':>8}"


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3, help="first plays per file")
    parser.add_argument("--files", type=int, default=4, help="files to start with")
    parser.add_argument("--library", type=Path, default=None, help="default: the corpus")
    parser.add_argument("--sink", choices=("auto", "null", "sounddevice"), default="auto")
    args = parser.parse_args()
    if args.child:
        run_child(json.loads(args.child))
        return
    with output_for(args.sink) as (sink, why):
        print(f"first play: sink {sink} ({why}); {args.runs} runs per file, each a fresh process")
        library = args.library or (corpus_dir() if corpus_tracks() else None)
        if library is not None:
            measure(library.name, audio_files(library), args.runs, args.files, sink)
        measure("sample_audio", audio_files(SAMPLE_AUDIO), args.runs, args.files, sink)


if __name__ == "__main__":
    main()
