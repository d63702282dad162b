"""Faults injected into a running engine, and whether it recovers without losing anything.

One engine plays a small library through a null sink paced at `--speed` x real time while
faults are injected one kind at a time: renders that raise, hang past their timeout or kill
their thread (through the engine's `render=` hook), corrupted cache entries, memory pressure
at every level and back, a state directory that cannot be written (read-only, full) or holds
garbage, files deleted, truncated or rewritten while they play, and (on a real device only)
the audio process killed and the audio device lost and found again. Each row says how often
the fault was injected, how many times the engine recovered, what was lost (a corrupt chunk
served, a setting not saved in the end, a budget exceeded, a render never redone, playback
stopped, the music's clock stalled or gone backwards) and the underruns meanwhile.

Run: .venv/bin/python -m bench.chaos [--speed 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from bench.storm import run_storm, settle
from engine import Engine, EngineConfig
from engine.cache.keys import ChunkKey
from engine.cache.tier import TierEntry
from engine.cache.worker import WorkerMetrics, render_key
from engine.dsp.render import Renderer
from engine.frames import Audio
from engine.library.source import TrackSource
from engine.library.tracks import Track
from engine.observe.memory import MemoryReading
from engine.observe.problems import MESSAGES, PROBLEM_NAMES
from engine.persist.state import StateStore
from engine.playback.sinks.output import NullSink
from engine.runtime import tune_runtime_for_audio

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
LIBRARY_FILES = (
    "01_neon_drive.flac",
    "02_quiet_rooms.flac",
    "03_low_end_groove.flac",
    "04_hum_line.flac",
)
PLENTY = MemoryReading(100_000_000, 0.6)
PRESSURE_STEPS = (0.15, 0.08, 0.03)
"""Available-memory fractions that force levels 1, 2 and 3 (see engine/observe/memory.py)."""
RECOVERY_SECONDS = 15.0


@dataclass
class FaultResult:
    fault: str
    injected: int = 0
    recovered: int = 0
    lost: int = 0
    underruns: int = 0
    note: str = ""


class FaultyRender:
    """The engine's render function with faults on demand: the next N renders raise, hang
    until released (past their timeout) or end their thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.raise_next = 0
        self.hang_next = 0
        self.kill_next = 0
        self.release = threading.Event()
        self.hung: list[ChunkKey] = []

    def __call__(self, renderer: Renderer, track: TrackSource, key: ChunkKey) -> Audio:
        with self._lock:
            fault = ""
            for name in ("raise_next", "hang_next", "kill_next"):
                if getattr(self, name) > 0:
                    setattr(self, name, getattr(self, name) - 1)
                    fault = name
                    break
        if fault == "raise_next":
            raise RuntimeError(f"injected render failure ({key.chunk_index})")
        if fault == "hang_next":
            self.hung.append(key)
            self.release.wait(60)
        if fault == "kill_next":
            raise SystemExit("injected: render thread dies")
        return render_key(renderer, track, key)


def wait_until(condition: Callable[[], bool], timeout: float = RECOVERY_SECONDS) -> bool:
    return settle(condition, timeout, poll=0.02)


def messages_since(engine: Engine, count: int) -> list[str]:
    """Messages logged after the engine had logged `count` in all (those still kept)."""
    snapshot = engine.snapshot()
    new = snapshot.message_count - count
    return list(snapshot.messages[-new:]) if new > 0 else []


class ChaosRig:
    """An engine playing a private copy of the library, with every fault hook in reach."""

    def __init__(self, workdir: Path, speed: float) -> None:
        self.workdir = workdir
        self.speed = speed
        self.library = workdir / "library"
        self.library.mkdir()
        for name in LIBRARY_FILES:
            shutil.copy(SAMPLE_AUDIO / name, self.library / name)
        self.state_dir = workdir / "state"
        self.render = FaultyRender()
        self.touched: set[Path] = set()
        """Files a fault has changed: later file faults pick another."""
        self.memory = PLENTY
        config = EngineConfig(
            ring_seconds=3.0,
            plan_horizon_chunks=4,
            state_dir=self.state_dir,
            render_timeouts_seconds=(2.0, 3.0, 4.0, 6.0),
            problem_report_seconds=1.0,  # a fault's line follows it within a second
        )
        sink = NullSink(44_100, 1024, speed=speed, ring_frames=10 * 44_100)
        self.engine = Engine(
            config,
            sink=sink,
            render=self.render,
            memory_reader=lambda: self.memory,
            interaction_clock=lambda: time.monotonic() * max(speed, 1.0),
        )
        self.engine.open([self.library])
        self.engine.set_preset("warm")
        self.engine.play()

    @property
    def underruns(self) -> int:
        return self.engine.sink.ring.underruns

    def messages(self, text: str) -> list[str]:
        return [m for m in self.engine.snapshot().messages if text in m]

    def messages_since(self, count: int) -> list[str]:
        return messages_since(self.engine, count)

    def playing_on(self, seconds: float = 0.5) -> bool:
        """Playback advances (on this track or the next) within the recovery window."""
        start = self.engine.snapshot()

        def moved() -> bool:
            now = self.engine.snapshot()
            if now.track_index != start.track_index:
                return True
            return now.playing and now.position_seconds > start.position_seconds + seconds

        return wait_until(moved)

    def playing_elsewhere(self, track: Track, seconds: float = 0.5) -> bool:
        """Playback has left `track` and advances on another one within the recovery
        window (the same track going on from memory does not count)."""

        def elsewhere() -> bool:
            now = self.engine.snapshot()
            return (
                now.track is not None
                and now.track.id != track.id
                and now.playing
                and now.position_seconds > seconds
            )

        return wait_until(elsewhere)

    def music_ahead(self) -> None:
        """The library plays once, in order, and a slow run (a busy machine) reaches its end,
        after which nothing plays on: before a fault whose checks need playback, make sure
        a recovery window's worth of music is still ahead, or play again from the start of
        a track no file fault has touched."""
        snapshot = self.engine.snapshot()
        tracks = self.engine.tracks()
        later = sum(t.duration_seconds for t in tracks[snapshot.track_index + 1 :])
        ahead = snapshot.duration_seconds - snapshot.position_seconds + later
        if snapshot.playing and ahead > RECOVERY_SECONDS * self.speed:
            return
        if any(t.path not in self.touched for t in tracks[:-1]):
            _play_an_untouched_track(self)

    def close(self) -> None:
        self.render.release.set()
        self.engine.close()


# -- render faults -----------------------------------------------------------------------------
def render_faults(rig: ChaosRig, kind: str, rounds: int) -> FaultResult:
    """Each round: the next render fails; recovered when the pool counts it, every thread
    is alive, the plan's chunks are rendered again and playback goes on."""
    names = {"raise": "render raises", "hang": "render hangs past timeout", "kill": "worker dies"}
    result = FaultResult(names[kind])
    workers = rig.engine.workers
    before_underruns = rig.underruns
    for _ in range(rounds):
        rig.music_ahead()
        before = workers.metrics()
        renders = before.renders_total
        rig.engine.clear("l1")  # something to render right now
        rig.engine.clear("l2")
        setattr(rig.render, f"{kind}_next", 1)
        result.injected += 1

        ok = wait_until(partial(_fault_counted, rig, kind, before))
        rendered_again = wait_until(partial(_renders_past, rig, renders + 2))
        alive = wait_until(lambda: workers.metrics().alive == workers.metrics().threads)
        if ok and rendered_again and alive and rig.playing_on():
            result.recovered += 1
        if not rendered_again:
            result.lost += 1
    rig.render.release.set()
    rig.render.release = threading.Event()
    result.underruns = rig.underruns - before_underruns
    return result


def _fault_counted(rig: ChaosRig, kind: str, before: WorkerMetrics) -> bool:
    """The pool has counted the injected fault (and, for a hang or a death, replaced the
    thread)."""
    now = rig.engine.workers.metrics()
    if kind == "raise":
        return now.failures > before.failures
    if kind == "hang":
        return now.timeouts > before.timeouts and now.restarts > before.restarts
    return now.restarts > before.restarts


RENDER_PROBLEM_LINES = tuple(MESSAGES)
"""How the error log tells render and cache problems (engine/observe/problems.py)."""


def _renders_past(rig: ChaosRig, renders: int) -> bool:
    return rig.engine.workers.metrics().renders_total > renders


# -- cache corruption --------------------------------------------------------------------------
def corrupt_entries(rig: ChaosRig, count: int) -> FaultResult:
    """Flip one bit inside stored chunks of every tier (bit rot after the checksum was
    taken), then look each one up as playback would: it must be dropped, never returned."""
    result = FaultResult("corrupt cache entry (L1-L3)")
    buffer = rig.engine.buffer
    rig.music_ahead()
    before_underruns, before_dropped = rig.underruns, buffer.corrupt_dropped
    wait_until(lambda: len(_victims(rig, count)) >= count, timeout=RECOVERY_SECONDS)
    victims = _victims(rig, count)
    corrupted = 0
    for tier_name, entry in victims:
        tier = buffer.tiers[tier_name]
        live = tier._entries.get(entry.key)
        if live is None or live.chunk is not entry.chunk:
            continue
        live.chunk = replace(entry.chunk, payload=_rotted(entry.chunk.payload))
        corrupted += 1
    result.injected = corrupted
    for tier_name, entry in victims:
        found = buffer.lookup(entry.key, entry.fingerprint, "playback", count=False)
        if found.tier == tier_name:
            result.lost += 1  # a corrupt chunk was served
    dropped = buffer.corrupt_dropped - before_dropped
    result.recovered = min(dropped, corrupted) if rig.playing_on() else 0
    told = rig.engine.errors.count
    if corrupted and wait_until(lambda: told("render", PROBLEM_NAMES[-1]) >= corrupted):
        tiers = sorted({name for name, _entry in victims})
        result.note = f"in {', '.join(tiers)}; reported in the log"
    result.underruns = rig.underruns - before_underruns
    return result


def _rotted(payload: bytes | np.ndarray) -> bytes | np.ndarray:
    """The payload with one bit flipped in its middle (an L1 array stays read-only)."""
    if isinstance(payload, bytes):
        bad = bytearray(payload)
        bad[len(bad) // 2] ^= 0x10
        return bytes(bad)
    array = np.array(payload, dtype=np.float32, order="C")
    raw = array.reshape(-1).view(np.uint8)
    raw[len(raw) // 2] ^= np.uint8(0x10)
    array.setflags(write=False)
    return array


def _victims(rig: ChaosRig, count: int) -> list[tuple[str, TierEntry]]:
    """Up to `count` stored chunks, taken from L1, L2 and L3 in turn (the tiers are
    exclusive: each key is in one)."""
    buffer = rig.engine.buffer
    per_tier = [
        [(name, entry) for entry in buffer.tiers[name].entries() if entry.chunk.frames > 0]
        for name in ("l1", "l2", "l3")
    ]
    chosen: list[tuple[str, TierEntry]] = []
    for round_index in range(count):
        for entries in per_tier:
            if round_index < len(entries) and len(chosen) < count:
                chosen.append(entries[round_index])
    return chosen


# -- memory pressure ---------------------------------------------------------------------------
def memory_pressure(rig: ChaosRig, rounds: int) -> FaultResult:
    """Step through every degradation level and back; lost = a budget exceeded at any
    reading, or budgets not restored in the end."""
    result = FaultResult("memory pressure (each level)")
    engine, buffer = rig.engine, rig.engine.buffer
    before_underruns = rig.underruns
    full = dict(buffer.configured_bytes)
    over_budget = 0
    for _ in range(rounds):
        rig.music_ahead()
        reached = 0
        for level, available in enumerate(PRESSURE_STEPS, start=1):
            rig.memory = MemoryReading(PLENTY.rss_bytes, available)
            result.injected += 1
            reached += wait_until(partial(_at_level, rig, level), timeout=5)
            over_budget += buffer.total_bytes() > buffer.total_budget_bytes()
        rig.memory = PLENTY
        back = wait_until(lambda: engine.memory.level == 0, timeout=10)
        restored = back and wait_until(
            lambda: {n: t.budget_bytes for n, t in buffer.tiers.items()} == full, timeout=5
        )
        resumed = wait_until(lambda: not engine.workers.metrics().paused, timeout=5)
        if restored and resumed and rig.playing_on():
            result.recovered += reached  # each level reached, and back to normal
    result.lost = over_budget
    result.underruns = rig.underruns - before_underruns
    return result


def _at_level(rig: ChaosRig, level: int) -> bool:
    return rig.engine.memory.level == level


# -- state -------------------------------------------------------------------------------------
def state_write_faults(rig: ChaosRig, code: int, rounds: int) -> FaultResult:
    """Saves fail with `code` (EROFS: read-only dir; ENOSPC: disk full) `rounds` times:
    reported once, playback goes on, and the settings reach the disk once it is writable."""
    label = "state dir read-only" if code == errno.EROFS else "state dir full (ENOSPC)"
    result = FaultResult(label)
    engine, store = rig.engine, rig.engine.state
    before_underruns = rig.underruns
    original = store._write_atomically

    def failing(payload: bytes) -> None:
        raise OSError(code, os.strerror(code))

    rig.music_ahead()
    store._write_atomically = failing  # type: ignore[method-assign]
    try:
        for round_index in range(rounds):
            engine.set_volume(0.5 + round_index / 100)
            result.injected += 1
            engine.save_state()
    finally:
        store._write_atomically = original  # type: ignore[method-assign]
    volume = engine.player.volume
    saved = engine.save_state()
    reports = rig.messages(os.strerror(code))
    on_disk = StateStore(rig.state_dir).load().data or {}
    kept = on_disk.get("settings", {}).get("volume") == volume
    if saved and kept and rig.playing_on():
        result.recovered = result.injected
    result.lost = 0 if kept else 1
    result.note = f"{len(reports)} log line(s)"
    result.underruns = rig.underruns - before_underruns
    return result


def garbage_state(workdir: Path, rounds: int) -> FaultResult:
    """A garbage state file: the next engine starts fresh, says so once, keeps the bytes."""
    result = FaultResult("garbage state file")
    directory = workdir / "garbage-state"
    directory.mkdir()
    for round_index in range(rounds):
        garbage = os.urandom(64) + f"{round_index}".encode()
        (directory / "state.json").write_bytes(garbage)
        result.injected += 1
        engine = Engine(EngineConfig(state_dir=directory), sink=NullSink(speed=0))
        try:
            warned = [m for m in engine.snapshot().messages if "started fresh" in m]
        finally:
            engine.close()
        kept = any(p.read_bytes() == garbage for p in directory.glob("state.json.bad-*"))
        result.recovered += len(warned) == 1 and kept
        result.lost += not kept
        for aside in directory.glob("state.json.bad-*"):
            aside.unlink()
    return result


# -- files changing under playback -------------------------------------------------------------
def file_faults(rig: ChaosRig, kind: str) -> FaultResult:
    """The playing file is deleted, truncated or rewritten: reported once, stale renders
    dropped, playback goes on (the new version, or the next track; a deleted one must be
    left for another)."""
    result = FaultResult(f"file {kind} while playing")
    engine = rig.engine
    before_underruns = rig.underruns
    _play_an_untouched_track(rig)
    track = engine.snapshot().track
    assert track is not None
    rig.touched.add(track.path)
    logged = engine.snapshot().message_count
    result.injected = 1
    if kind == "deleted":
        track.path.unlink()
    elif kind == "truncated":
        data = track.path.read_bytes()
        track.path.write_bytes(data[: len(data) // 3])
    else:
        other = next(p for p in rig.library.iterdir() if p != track.path)
        shutil.copy(other, track.path)
    reported = wait_until(
        lambda: any(
            track.path.name in m
            and any(said in m for said in ("changed on disk", "no longer playable", "skipped"))
            for m in rig.messages_since(logged)
        )
    )

    def stale() -> list[object]:
        return [
            e
            for entries in engine.buffer.entries().values()
            for e in entries
            if e.key.track_id == track.id and e.fingerprint == track.fingerprint
        ]

    # A render in flight when the file changed can land after the drop; the maintenance
    # pass drops it again (a deleted file stays changed), so stale entries must be gone
    # within a recovery window, not at the instant of the report.
    wait_until(lambda: not stale())
    stale_left = stale()
    going_on = rig.playing_elsewhere(track) if kind == "deleted" else rig.playing_on()
    result.recovered = int(reported and not stale_left and going_on)
    if not result.recovered:
        result.note = f"reported={reported} stale={len(stale_left)} playing on={going_on}"
    result.lost = len(stale_left)
    result.underruns = rig.underruns - before_underruns
    return result


def _moved_from(rig: ChaosRig, index: int) -> bool:
    return rig.engine.snapshot().track_index != index


def _play_an_untouched_track(rig: ChaosRig) -> None:
    """Play from the start of a track no fault has touched and that has a successor, so the
    fault lands on audio that is still to be played, whatever earlier faults shortened."""
    engine = rig.engine
    tracks = engine.tracks()
    target = next(i for i, t in enumerate(tracks[:-1]) if t.path not in rig.touched)
    while (now := engine.snapshot().track_index) != target:
        (engine.next_track if now < target else engine.prev_track)()
        wait_until(partial(_moved_from, rig, now), timeout=5)
    engine.seek(0.0)
    engine.play()


# -- the audio process -------------------------------------------------------------------------
def jack_running() -> bool:
    if shutil.which("jack_lsp") is None:
        return False
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def audio_process_killed(rounds: int) -> FaultResult:
    """Kill the child that owns the PortAudio stream; it must be restarted and play again."""
    result = FaultResult("audio process killed")
    if not jack_running():
        result.note = "skipped: no JACK server or real device (start jackd -d dummy)"
        return result
    from engine.playback.sinks.audio_process import AudioProcessSink

    engine = Engine(EngineConfig(), sink="sounddevice")
    try:
        sink = engine.sink
        assert isinstance(sink, AudioProcessSink)
        engine.open([SAMPLE_AUDIO / LIBRARY_FILES[0]])
        engine.play()
        wait_until(lambda: engine.snapshot().position_seconds > 0.3)
        before_underruns = sink.ring.underruns
        for _ in range(rounds):
            restarts = sink.restarts
            sink.kill_audio_process()
            result.injected += 1
            if wait_until(partial(_above, lambda: sink.restarts, restarts)):
                read = sink.ring.read_index + 11_025  # a quarter second played again
                result.recovered += wait_until(partial(_above, lambda: sink.ring.read_index, read))
        result.underruns = sink.ring.underruns - before_underruns
    finally:
        engine.close()
    return result


def _above(read: Callable[[], int], floor: int) -> bool:
    return read() > floor


# -- the audio device --------------------------------------------------------------------------
class ClockWatch:
    """Samples the engine's (track, position) from a thread: did the music's clock ever go
    backwards, and what was the longest time it stood still?"""

    def __init__(self, engine: Engine, interval: float = 0.01) -> None:
        self.engine = engine
        self.interval = interval
        self.backwards = 0
        self.longest_still = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clock-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        first = self.engine.snapshot()
        last = (first.track_index, first.position_seconds)
        moved_at = time.monotonic()
        while not self._stop.wait(self.interval):
            snapshot = self.engine.snapshot()
            now = (snapshot.track_index, snapshot.position_seconds)
            if now < last:
                self.backwards += 1
            if now != last:
                moved_at = time.monotonic()
            self.longest_still = max(self.longest_still, time.monotonic() - moved_at)
            last = now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


def device_lost(rounds: int) -> FaultResult:
    """The device disappears (its name no longer exists and the audio process dies): the
    sink falls back to its silent clock and says so, the music's clock goes on, and when the
    device returns it is reopened, the notice cleared and both changes logged. Lost: a round
    whose position went backwards or whose clock stalled."""
    result = FaultResult("device lost")
    if not jack_running():
        result.note = "skipped: no JACK server or real device (start jackd -d dummy)"
        return result
    from engine.playback.sinks.audio_process import (
        READY_TIMEOUT_SECONDS,
        RESTARTS_BEFORE_FALLBACK,
        AudioProcessSink,
    )

    # The clock stands still while the audio process is relaunched (each try spawns a child
    # that opens the device: seconds on a busy machine); longer than every try timing out is
    # a stall.
    still_limit = (RESTARTS_BEFORE_FALLBACK + 1) * READY_TIMEOUT_SECONDS
    engine = Engine(EngineConfig(), sink="sounddevice")
    longest_still = 0.0
    try:
        sink = engine.sink
        assert isinstance(sink, AudioProcessSink)
        device = sink.device
        engine.open([SAMPLE_AUDIO / name for name in LIBRARY_FILES])
        engine.play()
        for _ in range(rounds):
            engine.seek(0.0)  # a whole track ahead: the round never reaches its end
            # Landed and playing: until the consumer reaches the seek's cut the position is
            # still the last round's, and watching from there would see the seek as a jump
            # backwards.
            wait_until(lambda: 0.3 < engine.snapshot().position_seconds < 2.0)
            logged = engine.snapshot().message_count
            underruns = sink.ring.underruns
            watch = ClockWatch(engine)
            sink.device = "no such device"  # reopening it fails from now on
            sink.kill_audio_process()
            result.injected += 1
            fell_back = wait_until(lambda: not sink.using_device)
            said = "audio device lost" in engine.snapshot().output_notice
            at = engine.snapshot().position_seconds
            silent_clock = wait_until(partial(_position_past, engine, at + 0.5))
            sink.device = device  # the device returns
            back = wait_until(lambda: sink.using_device, timeout=2 * RECOVERY_SECONDS)
            cleared = wait_until(lambda: not engine.snapshot().output_notice, timeout=1)
            read = sink.ring.read_index + 11_025  # a quarter second through the device
            plays = wait_until(partial(_above, lambda: sink.ring.read_index, read))
            logged_both = wait_until(partial(_device_lines_logged, engine, logged))
            watch.stop()
            result.underruns += sink.ring.underruns - underruns
            longest_still = max(longest_still, watch.longest_still)
            stalled = watch.longest_still > still_limit or not (silent_clock and plays)
            result.lost += bool(watch.backwards) or stalled
            checks = (fell_back, said, silent_clock, back, cleared, plays, logged_both)
            result.recovered += all(checks) and not watch.backwards and not stalled
    finally:
        engine.close()
    result.note = f"clock stood still up to {longest_still:.1f} s (relaunching the device)"
    return result


def _position_past(engine: Engine, seconds: float) -> bool:
    return engine.snapshot().position_seconds > seconds


def _device_lines_logged(engine: Engine, count: int) -> bool:
    new = messages_since(engine, count)
    return any("audio device lost" in m for m in new) and any("is back" in m for m in new)


def command_storm(rig: ChaosRig, operations: int) -> FaultResult:
    """8 threads of random commands (see bench/storm.py), one library file deleted along
    the way; lost = over-budget tiers, inconsistent snapshots, exceptions seen, and a
    deleted track heard again or a render of it served once the engine found it gone."""
    before_underruns = rig.underruns
    tracks = rig.engine.tracks()
    doomed = [t.path for t in tracks[:-1] if t.path.exists()][:1]
    rig.touched.update(doomed)
    storm = run_storm(rig.engine, threads=8, operations=operations, delete=doomed)
    lost = (
        len(storm.over_budget)
        + len(storm.inconsistent)
        + len(storm.errors)
        + len(storm.deleted_problems)
    )
    done = storm.operations if storm.stuck_threads == 0 and lost == 0 else 0
    note = (
        f"{storm.seconds:.1f} s, slowest command {1000 * storm.slowest_command_seconds:.0f} ms,"
        f" {storm.snapshots_checked} snapshots checked, {storm.stuck_threads} threads stuck,"
        f" {storm.deleted_reported}/{storm.deleted} deleted reported"
    )
    if storm.deleted_problems:
        note += f"; {storm.deleted_problems[0]}"
    return FaultResult(
        "command storm (8 threads)",
        storm.operations,
        done,
        lost,
        rig.underruns - before_underruns,
        note,
    )


# -- the run -----------------------------------------------------------------------------------
def run(speed: float, rounds: int, storm_operations: int) -> list[FaultResult]:
    results: list[FaultResult] = []
    with tempfile.TemporaryDirectory(prefix="tierplay-chaos-") as temp:
        workdir = Path(temp)
        rig = ChaosRig(workdir, speed)
        try:
            rig.engine.wait_until_prepared(60)
            for kind in ("raise", "hang", "kill"):
                results.append(render_faults(rig, kind, rounds))
            results.append(corrupt_entries(rig, 2 * rounds))
            results.append(memory_pressure(rig, 1))
            results.append(state_write_faults(rig, errno.EROFS, rounds))
            results.append(state_write_faults(rig, errno.ENOSPC, rounds))
            # Before the storm's lines push them out of the kept log.
            problems = [m for m in rig.messages("") if m.startswith(RENDER_PROBLEM_LINES)]
            for kind in ("rewritten", "truncated", "deleted"):
                results.append(file_faults(rig, kind))
            results.append(command_storm(rig, storm_operations))
        finally:
            rig.close()
        results.append(garbage_state(workdir, rounds))
    results.append(audio_process_killed(rounds))
    results.append(device_lost(rounds))
    faults = sum(r.injected for r in results[:4])
    note = f"{len(problems)} lines for {faults} render and cache faults"
    results.append(FaultResult("render/cache log lines", note=note))
    return results


def format_table(results: list[FaultResult]) -> str:
    header = f"{'fault':32} {'injected':>8} {'recovered':>9} {'lost':>5} {'underruns':>9}  note"
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.fault:32} {r.injected:8d} {r.recovered:9d} {r.lost:5d} {r.underruns:9d}  {r.note}"
        )
    injected = sum(r.injected for r in results)
    recovered = sum(r.recovered for r in results)
    lost = sum(r.lost for r in results)
    lines.append(f"total: {recovered}/{injected} recovered, {lost} lost")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=4.0, help="null sink x real time")
    parser.add_argument("--rounds", type=int, default=3, help="injections per fault")
    parser.add_argument("--storm", type=int, default=10_000, help="commands in the storm")
    args = parser.parse_args()
    tune_runtime_for_audio()  # as `tierplay` does
    started = time.monotonic()
    results = run(args.speed, args.rounds, args.storm)
    print(format_table(results))
    print(f"({time.monotonic() - started:.0f} s, null sink at {args.speed:g}x real time)")


if __name__ == "__main__":
    main()
