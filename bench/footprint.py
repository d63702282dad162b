"""Footprint: memory and CPU of the whole player, and how soon what may be asked for is ready.

The player runs in a child process (bench/footprint_probe.py) through the engine's public
API only, and this process, which imports neither the engine nor numpy, samples every 0.25 s
the PSS (proportional set size, from /proc/PID/smaps) summed over the player's
processes: the engine process and its children (the audio process of the sounddevice
sink). PSS, unlike RSS, counts a page shared by two processes
half in each, so the sum is what the player adds to the machine. The sound server's shared
memory that its clients map (JACK's 51 MB segment) is the server's, and any player on that
device maps it: it is shown in a column of its own and left out of the player's figures and
of both baselines.

Baselines measured in the same run, one process at a time: (a) a bare process that only
imports the engine (`engine.Engine`); (b) the smallest sounddevice player of one file
(python-sounddevice's play_long_file.py: soundfile blocks into a queue, a callback that
copies). The goal printed beside each peak is baseline (a) + the budget + 60 MB,
whatever the track's length: memory must follow the budget, not the music.

Budgets are what `--budget-mb` means, all the engine may hold (tiers, decoded source
blocks, render scratch); runs without one use the default, which the child reports.

Prints, per library (`--library`, the corpus by default, and sample_audio/): peak and steady
PSS while switching presets twice a second, seeking every 5 s and skipping every 30 s; the
same for generated 1, 10 and 60 min tracks and for budgets of 50, 99 and 200 MB; CPU while
listening with no keys pressed (the first minute, while the first tracks are prepared, then
steady), of the engine alone and of the whole player (`tierplay` in an 80x24
pseudo-terminal), against the minimal player's on the same file; time until
the current preset's chunk and the two likeliest switch targets' are cached after a track
start and a seek into unheard music (p50/p99); memory-level changes per minute.

Run: .venv/bin/python -m bench.footprint [--library DIR] [--sink null|sounddevice]
     [--seconds 120] [--cpu-seconds 60] [--settle-seconds 60] [--quick]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.corpus import AUDIO_SUFFIXES, corpus_dir, corpus_tracks
from bench.footprint_probe import READY_TIMEOUT_SECONDS
from bench.footprint_watch import REPO, Run, output_for, progress, run_child

SAMPLE_AUDIO = REPO / "sample_audio"
SLACK_MB = 60.0
"""What the goal allows beyond baseline (a) and the budget: the audio process, the rings,
a decoder's buffers, a render in flight. The engine's `UNCOUNTED_MB`, which its health
panel allows too (this process does not import the engine)."""
CPU_GOAL_ENGINE, CPU_GOAL_APP = 3.0, 6.0
"""% of one core while listening steady, no keys pressed."""
NEXT_TRACK_LEAD_SECONDS = 120.0
"""How long before a track's end the engine starts preparing the next one (its plan
horizon, 12 chunks of 10 s). The steady window ends before that where the library has a
track long enough: that preparation is a track change's cost, paid once per track, and a
60 s window at the end of a short track would count it as if it were paid every minute."""


# -- the runs --------------------------------------------------------------------------------------


def audio_files(folder: Path) -> list[Path]:
    return sorted(p.resolve() for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def session_spec(
    paths: list[Path], sink: str, budget: float | None, **phases: float
) -> dict[str, Any]:
    spec: dict[str, Any] = {"paths": [str(p) for p in paths], "sink": sink, "budget_mb": budget}
    spec.update({"steady_seconds": 0.0, "active_seconds": 0.0, "starts": 0, "seeks": 0})
    spec.update(phases)
    return spec


def minimal_run(path: Path, sink: str, seconds: float) -> Run:
    return run_child(
        f"minimal {path.name}", "minimal", {"path": str(path), "sink": sink, "seconds": seconds}
    )


def pick_minimal_file(paths: list[Path], seconds: float) -> Path:
    """The file both players start with: 44.1 kHz (the JACK dummy's rate, which the minimal
    player cannot resample to) and long enough for the CPU window, when the library has one."""
    spec = {"paths": [str(p) for p in paths], "rate": 44_100, "seconds": seconds}
    run = run_child("pick", "pick", spec)
    picked = next((m["path"] for m in run.told if "path" in m), None)
    return Path(picked) if picked else paths[0]


@dataclass(frozen=True)
class Plan:
    sink: str
    seconds: float
    cpu_seconds: float
    settle_seconds: float
    sweep_seconds: float
    starts: int
    seeks: int
    lengths: tuple[float, ...]
    budgets: tuple[float, ...]


@dataclass
class LibraryRuns:
    label: str
    tracks: int
    minimal: Run
    session: Run
    app: Run


def library_runs(label: str, paths: list[Path], plan: Plan) -> LibraryRuns:
    """The minimal player, then the engine starting on the same file: it listens with no
    keys for the CPU window, then switches, seeks and skips, then time-to-ready events."""
    listening = plan.settle_seconds + plan.cpu_seconds
    first = pick_minimal_file(paths, listening + NEXT_TRACK_LEAD_SECONDS + 5.0)
    progress(f"{label}: minimal player on {first.name}, {plan.cpu_seconds:g} s")
    minimal = minimal_run(first, plan.sink, plan.cpu_seconds + 2.0)
    ordered = [first, *(p for p in paths if p != first)]
    progress(
        f"{label}: engine, {listening:g} s listening + {plan.seconds:g} s active + "
        f"{plan.starts} starts and {plan.seeks} seeks"
    )
    spec = session_spec(
        ordered,
        plan.sink,
        None,
        settle_seconds=plan.settle_seconds,
        steady_seconds=plan.cpu_seconds,
        active_seconds=plan.seconds,
        starts=plan.starts,
        seeks=plan.seeks,
    )
    session = run_child(label, "session", spec)
    progress(f"{label}: the whole player in a terminal, {listening:g} s listening")
    app_spec: dict[str, Any] = {"paths": [str(p) for p in ordered], "sink": plan.sink}
    app_spec.update(settle_seconds=plan.settle_seconds, seconds=plan.cpu_seconds)
    app = run_child(f"{label} app", "app", app_spec)
    return LibraryRuns(label, len(paths), minimal, session, app)


def settle(run: Run, seconds: float = 2.0) -> Run:
    """The minimal player's measured window starts once its queue and stream are going."""
    if "ready" in run.marks:
        run.marks["settled"] = run.marks["ready"] + seconds
    return run


# -- figures and tables ----------------------------------------------------------------------------


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)] if ordered else math.nan


def ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "never" if math.isinf(value) else f"{value:.0f}"


def level_figures(run: Run) -> tuple[int, float, str]:
    """Memory-level changes, per minute of the engine's life, and the levels seen."""
    levels = [level for _t, level in run.result.get("levels", [])]
    start = run.marks.get("opened", math.nan)
    end = run.marks.get("closed", run.pss[-1][0] if run.pss else math.nan)
    minutes = (end - start) / 60
    changes = max(len(levels) - 1, 0)
    seen = ",".join(dict.fromkeys(levels)) or "-"
    return changes, changes / minutes if minutes > 0 else math.nan, seen


def failure(run: Run) -> str:
    return f"  {run.name}: FAILED ({run.failed})" if run.failed else ""


def memory_row(label: str, run: Run, base: float, minimal: Run | None) -> str:
    budget = float(run.told_value("budget_mb") or math.nan)
    goal = base + budget + SLACK_MB
    steady = run.steady("active-start", "active-end")
    small = minimal.steady("settled", "end") if minimal is not None else math.nan
    changes, per_minute, _seen = level_figures(run)
    return (
        f"{label:<14} {budget:6.0f} {run.peak:8.1f} {steady:8.1f} {goal:7.1f} "
        f"{run.peak / goal:9.2f} {steady / goal:11.2f} {small:10.1f} {run.peak / small:12.1f} "
        f"{run.processes:5d} {run.server_peak:6.1f} {changes:7d} {per_minute:6.2f}"
    )


MEMORY_HEADER = (
    f"{'':<14} {'budget':>6} {'peak MB':>8} {'steady':>8} {'goal MB':>7} {'peak/goal':>9} "
    f"{'steady/goal':>11} {'minimal MB':>10} {'peak/minimal':>12} {'procs':>5} "
    f"{'server':>6} {'levels':>7} {'/min':>6}"
)


def print_memory(title: str, rows: list[tuple[str, Run, Run | None]], base: float) -> None:
    print(f"\n{title}")
    print(MEMORY_HEADER)
    for label, run, minimal in rows:
        print(memory_row(label, run, base, minimal) + failure(run))


def print_cpu(libraries: list[LibraryRuns], plan: Plan) -> None:
    print(
        f"\nCPU while listening, no keys pressed, % of one core: the engine's first "
        f"{plan.settle_seconds:g} s (the first tracks prepared), then {plan.cpu_seconds:g} s "
        f"steady, engine alone and the whole player (goals {CPU_GOAL_ENGINE:g} and "
        f"{CPU_GOAL_APP:g}), against the minimal player; the steady window ends before the "
        f"next track's preparation where the file is long enough (a track change's cost)"
    )
    print(
        f"{'':<14} {'first':>6} {'engine':>7} {'app':>6} {'minimal':>8} {'engine/min':>10} "
        f"{'app/min':>8} {'engine/goal':>11} {'app/goal':>8}  minimal player's file"
    )
    for lib in libraries:
        first = lib.session.cpu_percent("listen-start", "steady-start")
        engine = lib.session.cpu_percent("steady-start", "steady-end")
        app = lib.app.cpu_percent("steady-start", "steady-end")
        small = lib.minimal.cpu_percent("settled", "end")
        name = Path(lib.minimal.name.split(" ", 1)[1]).name
        print(
            f"{lib.label:<14} {first:6.1f} {engine:7.1f} {app:6.1f} {small:8.2f} "
            f"{engine / small:10.1f} {app / small:8.1f} {engine / CPU_GOAL_ENGINE:11.2f} "
            f"{app / CPU_GOAL_APP:8.2f}  {name}" + failure(lib.app)
        )


def print_ready(libraries: list[LibraryRuns]) -> None:
    print(
        "\ntime to ready (ms): from the command until the chunk played and the 2 likeliest switch "
        "targets' are cached, polled every 20 ms;\n"
        f"never: the playhead left the chunk first, or {READY_TIMEOUT_SECONDS:g} s passed; "
        "after clear: seeks made after clear(), nothing unheard being left uncached"
    )
    print(
        f"{'':<14} {'event':<16} {'n':>3} {'at once':>7} {'p50':>9} {'p99':>9} {'never':>6} "
        f"{'after clear':>11}"
    )
    for lib in libraries:
        first = lib.session.result.get("first_play")
        kinds = [("first play", [first] if first else [])]
        kinds += [("track start", lib.session.result.get("starts", []))]
        kinds += [("seek, unheard", lib.session.result.get("seeks", []))]
        for kind, events in kinds:
            values = [e["ms"] if e["ms"] is not None else math.inf for e in events]
            at_once = sum(e["instant"] for e in events)
            never = sum(math.isinf(v) for v in values)
            cleared = sum(e.get("cleared", False) for e in events)
            print(
                f"{lib.label:<14} {kind:<16} {len(values):3d} {at_once:7d} "
                f"{ms(nearest_rank(values, 0.5)):>9} {ms(nearest_rank(values, 0.99)):>9} "
                f"{never:6d} {cleared:11d}"
            )


def print_levels(runs: list[tuple[str, Run]]) -> None:
    print("\nmemory-level changes (health()['memory_level'], polled at 4 Hz) and stand-ins served;")
    print(
        "where any were served, the phase: listening (first play, no keys), active (the"
        " session's switches, seeks and skips), seeks or starts (the time-to-ready events)"
    )
    print(
        f"{'':<22} {'minutes':>7} {'changes':>7} {'/min':>6} {'after 1st min':>13}"
        f"  {'stand-ins':>9}  levels seen"
    )
    for label, run in runs:
        changes, per_minute, seen = level_figures(run)
        start = run.marks.get("opened", math.nan)
        end = run.marks.get("closed", math.nan)
        late = sum(1 for t, _level in run.result.get("levels", [])[1:] if t - start > 60)
        stand_ins = run.result.get("stand_ins")
        phases = run.result.get("stand_ins_by_phase") or {}
        where = ", ".join(f"{phase} {count}" for phase, count in phases.items() if count)
        print(
            f"{label:<22} {(end - start) / 60:7.1f} {changes:7d} {per_minute:6.2f} {late:13d}"
            f"  {'n/a' if stand_ins is None else stand_ins:>9}  {seen}"
            + (f"  (stand-ins while {where})" if where else "")
        )


def length_runs(plan: Plan, folder: Path) -> list[tuple[str, Run, Run]]:
    """Generated 1, 10, 60 min tracks alone in the library: memory must not follow them."""
    progress(f"generating {', '.join(f'{m:g}' for m in plan.lengths)} min tracks")
    made = run_child("make-tracks", "make-tracks", {"folder": str(folder), "minutes": plan.lengths})
    runs = []
    for message in made.told:
        path, label = Path(message["track"]), f"{message['minutes']:g} min"
        progress(f"{label}: minimal player, then the engine for {plan.sweep_seconds:g} s")
        minimal = settle(minimal_run(path, plan.sink, min(plan.sweep_seconds, 10.0)))
        spec = session_spec([path], plan.sink, None, active_seconds=plan.sweep_seconds)
        runs.append((label, run_child(label, "session", spec), minimal))
    return runs


def budget_runs(plan: Plan, paths: list[Path]) -> list[tuple[float, Run]]:
    """The same library at each `--budget-mb`."""
    runs = []
    for budget in plan.budgets:
        progress(f"budget {budget:g} MB: the engine for {plan.sweep_seconds:g} s")
        spec = session_spec(paths, plan.sink, budget, active_seconds=plan.sweep_seconds)
        runs.append((budget, run_child(f"budget {budget:g} MB", "session", spec)))
    return runs


def measure(plan: Plan, libraries: list[tuple[str, list[Path]]], why: str) -> None:
    progress("baseline (a): a process that only imports the engine")
    idle = run_child("import engine", "idle", {"seconds": 6.0})
    base = idle.steady("ready", "end")
    runs = [library_runs(label, paths, plan) for label, paths in libraries]
    for lib in runs:
        settle(lib.minimal)
    with tempfile.TemporaryDirectory(prefix="tierplay-long-") as folder:
        lengths = length_runs(plan, Path(folder))
    budgets = budget_runs(plan, libraries[0][1])

    print(f"footprint: sink {plan.sink} ({why}); PSS summed over the player's processes")
    print("(the engine process and its children), sampled every 0.25 s from another process")
    for label, paths in libraries:
        print(f"  library {label}: {len(paths)} tracks")
    print(f"goal: peak <= baseline (a) + budget + {SLACK_MB:g} MB, whatever the track length")
    print("server: the sound server's shared memory mapped into the player (MB, at its peak);")
    print("left out of every other figure, the minimal player's too")
    print(f"\n{'baselines, measured in this run':<40} {'PSS MB':>7} {'CPU %core':>9}  file")
    print(f"{'(a) the engine imported, nothing else':<40} {base:7.1f} {'-':>9}" + failure(idle))
    for lib in runs:
        name = lib.minimal.name.split(" ", 1)[1]
        print(
            f"{'(b) minimal sounddevice player, ' + lib.label:<40} "
            f"{lib.minimal.steady('settled', 'end'):7.1f} "
            f"{lib.minimal.cpu_percent('settled', 'end'):9.2f}  {name}" + failure(lib.minimal)
        )
    print_memory(
        f"memory while switching presets twice a second, seeking every 5 s, skipping every 30 s "
        f"({plan.seconds:g} s; steady = median of its second half)",
        [(lib.label, lib.session, lib.minimal) for lib in runs],
        base,
    )
    print_memory(
        f"by track length: one generated track, {plan.sweep_seconds:g} s each",
        [(label, run, minimal) for label, run, minimal in lengths],
        base,
    )
    print_memory(
        f"by budget: {libraries[0][0]}, {plan.sweep_seconds:g} s each",
        [(libraries[0][0], run, runs[0].minimal) for _budget, run in budgets],
        base,
    )
    print_cpu(runs, plan)
    print_ready(runs)
    print_levels(
        [(lib.label, lib.session) for lib in runs]
        + [(f"length {label}", run) for label, run, _minimal in lengths]
        + [(f"budget {budget:g} MB", run) for budget, run in budgets]
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, default=None, help="default: the corpus")
    parser.add_argument("--sink", choices=("auto", "null", "sounddevice"), default="auto")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    parser.add_argument(
        "--settle-seconds", type=float, default=60.0, help="listening before the CPU window"
    )
    parser.add_argument("--sweep-seconds", type=float, default=30.0)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--seeks", type=int, default=20)
    parser.add_argument("--lengths", default="1,10,60", help="generated track minutes")
    parser.add_argument("--budgets", default="50,99,200", help="--budget-mb values")
    parser.add_argument(
        "--quick", action="store_true", help="30 s sessions, 15 s windows, 5 starts and seeks"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.cpu_seconds, args.sweep_seconds = 30.0, 15.0, 15.0
        args.settle_seconds = 15.0
        args.starts, args.seeks = 5, 5
    return args


def main() -> None:
    args = parse_args()
    library = args.library
    if library is None and corpus_tracks():
        library = corpus_dir()
    libraries = [(library.name, audio_files(library))] if library is not None else []
    libraries.append(("sample_audio", audio_files(SAMPLE_AUDIO)))
    libraries = [(label, paths) for label, paths in libraries if paths]
    if len(libraries) == 2 and libraries[0][1] == libraries[1][1]:
        libraries.pop()  # --library sample_audio
    if not libraries:
        raise SystemExit("no audio files in the library or in sample_audio/")
    with output_for(args.sink) as (sink, why):
        plan = Plan(
            sink,
            args.seconds,
            args.cpu_seconds,
            args.settle_seconds,
            args.sweep_seconds,
            args.starts,
            args.seeks,
            tuple(float(m) for m in args.lengths.split(",") if m),
            tuple(float(b) for b in args.budgets.split(",") if b),
        )
        measure(plan, libraries, why)


if __name__ == "__main__":
    main()
