"""A command storm: many threads issuing random engine commands at once.

Each thread switches presets, seeks, changes intensity, clears tiers, changes track and now
and then deletes a library file, in a random order, while a checker thread reads the
snapshot and the tier sizes as fast as it can. What it proves: no command waits long (a
deadlock shows as a thread that never finishes), no tier ever holds more than its budget,
every snapshot is consistent, and each library file deleted along the way is reported in the
engine's log or never heard again: moving to it with next_track skips it, and no render of
it is served once the engine's file check has found it gone. Used by
tests/test_chaos_storm.py and `bench.chaos`, both with 10,000 commands.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine import Engine
from engine.cache.buffer import LookupRecord
from engine.library.tracks import Track
from engine.observe.events import EngineEvent
from engine.observe.snapshot import EngineSnapshot
from engine.vocabulary import PRESET_ORDER

COMMANDS = ("preset", "seek", "intensity", "clear", "next", "prev", "delete")
TIERS: tuple[str | None, ...] = ("l1", "l2", "l3", None)
GONE_SAYINGS = ("no longer playable", "skipped")
"""How the engine's log names a file it cannot play any more ("x is no longer playable
(...); skipped" when the file check found it gone, "skipped x: ..." when the player could
not read it)."""
HEARD_SECONDS = 0.5
"""Position reached on a deleted track that counts as hearing it: a skip writes none of its
frames, a render served from the cache plays a whole chunk."""
SETTLE_SECONDS = 15.0
"""How long the deletion checks wait for playback to move on, or for a report."""
WATCH_CAPACITY = 100_000
"""Events the deletion watch may fall behind by (it drains every 10 ms)."""
LOOKUP_SECONDS = 0.05
"""A lookup is published once it has found its chunk: one told this soon after the file
check found the file gone may have begun before the renders were dropped (an L3 decode
takes 9 to 17 ms), so only later ones count as served after."""


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
    deleted: int = 0
    """Library files deleted during the storm."""
    deleted_reported: int = 0
    """Of those, the ones the engine's log named as unplayable."""
    deleted_problems: list[str] = field(default_factory=list)
    """A deleted file heard without being reported, heard again once reported, or a render
    of it served from the cache after the file check found it gone."""


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


class DeletionWatch:
    """What the engine does about the library files in `tracks` once they are deleted: when
    its log first names each as unplayable, when its file check found each gone (and dropped
    its renders), and every render of one the cache serves after that. Follows the engine's
    event stream (log lines, invalidations, lookups) on a thread of its own until `stop`."""

    def __init__(self, engine: Engine, tracks: Sequence[Track]) -> None:
        self.tracks = {track.id: track for track in tracks}
        self._reported: dict[str, float] = {}
        self.found_gone: dict[str, float] = {}
        self._served_after: list[str] = []
        self._lock = threading.Lock()
        self._events = engine.subscribe(capacity=WATCH_CAPACITY)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="deletion-watch", daemon=True)
        self._thread.start()

    @property
    def reported(self) -> dict[str, float]:
        self._drain()
        with self._lock:
            return dict(self._reported)

    @property
    def served_after(self) -> list[str]:
        self._drain()
        with self._lock:
            return list(self._served_after)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._drain()
        self._events.close()

    def _follow(self) -> None:
        while not self._stop.wait(0.01):
            self._drain()

    def _drain(self) -> None:
        events, dropped = self._events.take()
        with self._lock:
            if dropped:
                self._served_after.append(f"the watch fell behind: {dropped} events lost")
            for event in events:
                self._note(event)

    def _note(self, event: EngineEvent) -> None:
        if event.kind == "log":
            for track in self.tracks.values():
                said = any(saying in event.payload for saying in GONE_SAYINGS)
                if said and track.path.name in event.payload:
                    self._reported.setdefault(track.id, event.at)
        elif event.kind == "invalidated":
            gone = self.tracks.get(event.payload["track_id"])
            if gone is not None and not gone.path.exists():  # dropped for good: found gone
                self.found_gone.setdefault(gone.id, event.at)
        elif event.kind == "lookup":
            self._check_lookup(event.payload, event.at)

    def _check_lookup(self, record: LookupRecord, at: float) -> None:
        track = self.tracks.get(record.key.track_id)
        gone_at = self.found_gone.get(record.key.track_id)
        if track is None or gone_at is None or record.tier is None:
            return
        late = at - gone_at
        stale = record.fingerprint == track.fingerprint
        if stale and late > LOOKUP_SECONDS and len(self._served_after) < 10:
            self._served_after.append(
                f"{track.path.name}: chunk {record.key.chunk_index} served from {record.tier}"
                f" {late:.2f} s after the file check found it gone"
            )


def check_deleted(engine: Engine, watch: DeletionWatch, deleted: Sequence[Track]) -> list[str]:
    """Move onto each deleted track with next_track, twice, at a rendered preset: the first
    time it may still play from memory until the engine notices, but then it must be named
    in the log; the second time it must be skipped. A track the library's folder watch has
    taken out of the library meanwhile cannot be moved onto: that is the best outcome.
    Returns what went wrong."""
    problems: list[str] = []
    engine.set_preset("warm")
    for visit in (1, 2):
        for track in deleted:
            if all(listed.id != track.id for listed in engine.tracks()):
                continue
            try:
                heard = _move_onto(engine, track, {t.id for t in deleted})
            except NotReached as error:
                problems.append(f"{track.path.name}: {error}")
                continue
            reported = settle(lambda: track.id in watch.reported)  # noqa: B023 - waited on here
            if visit == 1 and heard >= HEARD_SECONDS and not reported:
                problems.append(f"{track.path.name}: heard for {heard:.1f} s and never reported")
            if visit == 2 and heard >= HEARD_SECONDS:
                problems.append(f"{track.path.name}: heard for {heard:.1f} s after its deletion")
    problems.extend(watch.served_after)
    return problems


class NotReached(Exception):
    """The playable track before a deleted one could not be played."""


def _move_onto(engine: Engine, target: Track, gone: set[str]) -> float:
    """Play the nearest track before `target` that is still there, then next_track onto
    `target`; follow playback until it has passed `target`. Returns how far into `target`
    it was heard."""
    tracks = engine.tracks()
    index = next(i for i, t in enumerate(tracks) if t.id == target.id)
    before = next(
        (
            (index - step) % len(tracks)
            for step in range(1, len(tracks))
            if tracks[(index - step) % len(tracks)].id not in gone
        ),
        None,
    )
    if before is None:
        raise NotReached("no track before it is still there")
    deadline = time.monotonic() + SETTLE_SECONDS
    # Forward only: prev_track onto a deleted track skips forward again.
    while (now := engine.snapshot().track_index) != before:
        if time.monotonic() > deadline:
            raise NotReached(f"next_track never reached track {before} (at {now})")
        engine.next_track()
        settle(lambda: engine.snapshot().track_index != now, timeout=5.0)
    engine.seek(0.0)
    engine.play()
    if not settle(lambda: _playing_at(engine.snapshot(), before, 0.2)):
        snapshot = engine.snapshot()
        raise NotReached(
            f"track {before} did not play: at track {snapshot.track_index},"
            f" {snapshot.position_seconds:.2f} s, playing={snapshot.playing}"
        )
    engine.next_track()
    heard = 0.0
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        snapshot = engine.snapshot()
        if snapshot.track_index == index:
            heard = max(heard, snapshot.position_seconds)
        elif snapshot.track_index != before and snapshot.position_seconds > HEARD_SECONDS:
            break  # playing on past it
        if not snapshot.playing:
            break  # the library ended after it
        time.sleep(0.005)
    return heard


def _playing_at(snapshot: EngineSnapshot, index: int, seconds: float) -> bool:
    return (
        snapshot.playing and snapshot.track_index == index and snapshot.position_seconds > seconds
    )


def settle(
    condition: Callable[[], bool], timeout: float = SETTLE_SECONDS, poll: float = 0.01
) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def run_storm(
    engine: Engine,
    threads: int = 8,
    operations: int = 10_000,
    seed: int = 7,
    delete: Sequence[Path] = (),
) -> StormResult:
    """`operations` random commands over `threads` threads, deleting the files in `delete`
    along the way (tracks deleted while they may be playing); waits at most 120 s. Then
    each deleted library track is moved onto (`check_deleted`)."""
    result = StormResult()
    doomed = list(delete)
    in_library = [t for t in engine.tracks() if t.path in set(delete)]
    deletions = DeletionWatch(engine, in_library)
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
    deleted = [t for t in in_library if not t.path.exists()]
    result.deleted = len(deleted)
    try:
        result.deleted_problems = check_deleted(engine, deletions, deleted)
    finally:
        deletions.stop()
    result.deleted_reported = sum(t.id in deletions.reported for t in deleted)
    return result
