"""A command storm: many threads issuing random engine commands at once.

Each thread switches presets, seeks, changes intensity, clears tiers, changes track and now
and then deletes a library file, in a random order, while a checker thread reads the
snapshot and the tier sizes as fast as it can. What it proves: no command waits long (a
deadlock shows as a thread that never finishes), no tier ever holds more than its budget,
every snapshot is consistent. Used by tests/test_chaos_storm.py and `bench.chaos`, both with
10,000 commands.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine import Engine
from engine.config import PRESET_ORDER
from engine.snapshot import EngineSnapshot

COMMANDS = ("preset", "seek", "intensity", "clear", "next", "prev", "delete")
TIERS: tuple[str | None, ...] = ("l1", "l2", "l3", None)


@dataclass
class StormResult:
    operations: int = 0
    seconds: float = 0.0
    slowest_command_seconds: float = 0.0
    stuck_threads: int = 0
    errors: list[str] = field(default_factory=list)
    snapshots_checked: int = 0
    inconsistent: list[str] = field(default_factory=list)
    over_budget: list[str] = field(default_factory=list)


def _command(engine: Engine, rng: random.Random, doomed: list[Path]) -> Callable[[], object]:
    """A random command; "delete" removes one of the `doomed` files (shared, each once)."""
    kind = rng.choice(COMMANDS)
    if kind == "delete":
        if not doomed or rng.random() > 0.01:  # a handful over the storm, not at once
            kind = "preset"
        else:
            try:
                path = doomed.pop()
            except IndexError:  # another thread took the last one
                kind = "preset"
            else:
                return lambda: path.unlink(missing_ok=True)
    if kind == "preset":
        return lambda: engine.set_preset(rng.choice(PRESET_ORDER))
    if kind == "seek":
        return lambda: engine.seek(rng.uniform(0.0, 60.0))
    if kind == "intensity":
        return lambda: engine.set_intensity(rng.random())
    if kind == "clear":
        return lambda: engine.clear(rng.choice(TIERS))
    return engine.next_track if kind == "next" else engine.prev_track


def snapshot_problem(snapshot: EngineSnapshot) -> str | None:
    """Why a snapshot is inconsistent, or None."""
    if snapshot.track_count and not 0 <= snapshot.track_index < snapshot.track_count:
        return f"track {snapshot.track_index} of {snapshot.track_count}"
    if not 0.0 <= snapshot.position_seconds <= snapshot.duration_seconds + 1.0:
        return f"position {snapshot.position_seconds} in {snapshot.duration_seconds} s"
    if snapshot.preset not in PRESET_ORDER or snapshot.requested_preset not in PRESET_ORDER:
        return f"presets {snapshot.preset!r} / {snapshot.requested_preset!r}"
    if not 0.0 <= snapshot.intensity <= 1.0:
        return f"intensity {snapshot.intensity}"
    if snapshot.message_count < len(snapshot.messages):
        return "fewer messages counted than kept"
    if snapshot.track is not None and snapshot.duration_seconds != snapshot.track.duration_seconds:
        return "duration of another track"
    return None


def _check(engine: Engine, stop: threading.Event, result: StormResult) -> None:
    """Read snapshots and tier sizes until `stop`; keep the first few problems."""
    while not stop.is_set():
        problem = snapshot_problem(engine.snapshot())
        if problem is not None and len(result.inconsistent) < 10:
            result.inconsistent.append(problem)
        for tier in engine.buffer.tiers.values():
            stats = tier.stats()
            if stats.size_bytes > stats.budget_bytes and len(result.over_budget) < 10:
                result.over_budget.append(
                    f"{stats.name}: {stats.size_bytes} > {stats.budget_bytes}"
                )
        result.snapshots_checked += 1
        time.sleep(0.001)


def run_storm(
    engine: Engine,
    threads: int = 8,
    operations: int = 10_000,
    seed: int = 7,
    delete: Sequence[Path] = (),
) -> StormResult:
    """`operations` random commands over `threads` threads, deleting the files in `delete`
    along the way (tracks deleted while they may be playing); waits at most 120 s."""
    result = StormResult()
    doomed = list(delete)
    lock = threading.Lock()
    stop = threading.Event()
    checker = threading.Thread(target=_check, args=(engine, stop, result), daemon=True)

    def issue(index: int, count: int) -> None:
        rng = random.Random(seed * 1000 + index)
        slowest = 0.0
        for _ in range(count):
            command = _command(engine, rng, doomed)
            started = time.monotonic()
            try:
                command()
            except Exception as error:  # noqa: BLE001 - any escape is a finding
                with lock:
                    result.errors.append(f"{type(error).__name__}: {error}")
            slowest = max(slowest, time.monotonic() - started)
        with lock:
            result.operations += count
            result.slowest_command_seconds = max(result.slowest_command_seconds, slowest)

    share = [operations // threads + (i < operations % threads) for i in range(threads)]
    workers = [
        threading.Thread(target=issue, args=(i, n), name=f"storm-{i}", daemon=True)
        for i, n in enumerate(share)
    ]
    started = time.monotonic()
    checker.start()
    for worker in workers:
        worker.start()
    deadline = started + 120.0
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    result.stuck_threads = sum(worker.is_alive() for worker in workers)
    result.seconds = time.monotonic() - started
    stop.set()
    checker.join(timeout=5.0)
    return result
