"""The measured side of bench/footprint.py: each role runs in a process of its own.

`python -m bench.footprint_probe ROLE SPEC_JSON`, where ROLE is
- `idle`: imports what the engine imports (`engine.Engine`) and does nothing (baseline a);
- `minimal`: the smallest sounddevice player of one file (baseline b);
- `session`: the engine, through its public API only: play, listening with no keys (its
  first minute, then steady), a session of switches, seeks and skips, then time-to-ready
  after track starts and seeks;
- `app`: the whole player, `tierplay` in a pseudo-terminal of 80x24, listening with no keys;
- `make-tracks`: long generated tracks for the track-length sweep;
- `pick`: which file both players start with.

It tells the measuring process where it is with `@@ {json}` lines on stdout: marks (a phase
began or ended, on the system-wide monotonic clock the parent also reads) and, at the end,
the figures only the engine can give (time to ready, memory levels). The measuring process
imports none of this, so it shares no library pages with the player: PSS splits a shared
page between every process that maps it, and a parent with numpy loaded would halve the
player's share of it.
"""

from __future__ import annotations

import json
import math
import queue
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROTOCOL = "@@ "
POLL_SECONDS = 0.02
"""How often time-to-ready polls `Engine.check`."""
LEVEL_POLL_SECONDS = 0.25
READY_TIMEOUT_SECONDS = 30.0
DWELL_SECONDS = 0.5
"""Listening after each time-to-ready event before the next one."""
SWITCH_PATTERN = ("warm", "bright", "warm", "bright", "punchy", "warm", "adaptive", "gentle")
BLOCK_FRAMES = 1024


def tell(**fields: Any) -> None:
    print(PROTOCOL + json.dumps(fields), flush=True)


def mark(name: str) -> None:
    tell(mark=name, t=time.monotonic())


def stand_ins(engine: Any) -> int:
    return int(engine.health().get("stand_ins") or 0)


# -- baseline (a): the imports alone ----------------------------------------------------------


def run_idle(spec: dict[str, Any]) -> None:
    import engine

    _ = engine.Engine  # the package loads its names on first use: load what they need
    mark("ready")
    time.sleep(float(spec["seconds"]))
    mark("end")


# -- baseline (b): python-sounddevice's play_long_file.py pattern -----------------------------


class PacedStream:
    """Calls an output callback every block period from a thread: the null sink's pacing."""

    def __init__(self, callback: Callable[..., None], rate: int, channels: int) -> None:
        import numpy as np

        self._callback, self._period = callback, BLOCK_FRAMES / rate
        self._out = np.zeros((BLOCK_FRAMES, channels), dtype=np.float32)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            self._callback(self._out, BLOCK_FRAMES, None, None)
            due += self._period
            self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self) -> PacedStream:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_minimal(spec: dict[str, Any]) -> None:
    """Blocks read with soundfile into a queue, a callback that only copies; the file loops."""
    import numpy as np
    import soundfile as sf

    blocks: queue.Queue[Any] = queue.Queue(maxsize=20)

    def callback(outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        try:
            data = blocks.get_nowait()
        except queue.Empty:
            outdata.fill(0)
            return
        outdata[: len(data)] = data
        outdata[len(data) :].fill(0)

    with sf.SoundFile(spec["path"]) as audio:
        stream: Any
        if spec["sink"] == "sounddevice":
            import sounddevice as sd

            stream = sd.OutputStream(
                samplerate=audio.samplerate,
                blocksize=BLOCK_FRAMES,
                channels=audio.channels,
                dtype="float32",
                callback=callback,
            )
        else:
            stream = PacedStream(callback, audio.samplerate, audio.channels)
        deadline = time.monotonic() + float(spec["seconds"])
        with stream:
            mark("ready")
            while time.monotonic() < deadline:
                data = audio.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(data) == 0:
                    audio.seek(0)
                    continue
                blocks.put(np.ascontiguousarray(data), timeout=5.0)
            mark("end")


# -- the engine ----------------------------------------------------------------------------------


@dataclass
class LevelWatch:
    """Polls `health()['memory_level']`: the degradation level is not in the snapshot."""

    levels: list[tuple[float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, engine: Any) -> None:
        while not self.stop.wait(LEVEL_POLL_SECONDS):
            level = str(engine.health()["memory_level"])
            if not self.levels or self.levels[-1][1] != level:
                self.levels.append((time.monotonic(), level))


def watched_presets(engine: Any) -> list[str]:
    """The preset asked for and the two likeliest switch targets, as the predictor says now
    (`original` is never rendered)."""
    current = engine.snapshot().requested_preset
    ranked = [p["preset"] for p in engine.predictions()["predictions"]]
    targets = [p for p in ranked if p not in ("original", current)][:2]
    return [current, *targets] if current != "original" else targets


def is_ready(engine: Any, track_id: str, chunk: int) -> bool:
    intensity = engine.snapshot().intensity
    presets = watched_presets(engine)
    return all(engine.check(track_id, p, chunk, intensity)["is_cached"] for p in presets)


def time_to_ready(engine: Any, track_id: str, chunk: int, sent: float) -> dict[str, Any]:
    """Milliseconds from `sent` until the chunk is cached for every watched preset; None if
    the playhead left the chunk first (a render of it is useless from then on) or after
    READY_TIMEOUT_SECONDS. The targets are read at every poll: before the track's analysis
    the predictor's distribution is uniform and its first two are arbitrary."""
    instant, reached = is_ready(engine, track_id, chunk), False
    while not is_ready(engine, track_id, chunk):
        snap = engine.snapshot()
        here = snap.track is not None and snap.track.id == track_id
        reached = reached or (here and snap.chunk_index == chunk)
        gone = reached and (not here or snap.chunk_index > chunk)
        if gone or time.monotonic() - sent > READY_TIMEOUT_SECONDS:
            return {"ms": None, "instant": False}
        time.sleep(POLL_SECONDS)
    return {"ms": (time.monotonic() - sent) * 1000, "instant": instant}


def active_session(engine: Any, seconds: float, rng: random.Random) -> None:
    """Presets switched about twice a second, a seek every 5 s, a skip every 30 s."""
    started = time.monotonic()
    next_seek, next_skip, index = started + 5.0, started + 30.0, 0
    while (now := time.monotonic()) - started < seconds:
        time.sleep(0.5 * rng.uniform(0.6, 1.4))
        engine.set_preset(SWITCH_PATTERN[index % len(SWITCH_PATTERN)])
        index += 1
        if now >= next_skip:
            engine.next_track()
            next_skip += 30.0
        elif now >= next_seek:
            snap = engine.snapshot()
            if rng.random() < 0.75:
                engine.seek(max(0.0, snap.position_seconds + rng.choice([-5.0, 5.0, 30.0])))
            else:
                engine.seek(rng.uniform(0.0, snap.duration_seconds))
            next_seek += 5.0


def unheard_chunk(engine: Any, rng: random.Random) -> tuple[str, int] | None:
    """A chunk of the track playing that is not cached for the preset playing, away from
    the playhead: a seek there lands in music nobody has rendered yet."""
    snap = engine.snapshot()
    if snap.track is None:
        return None
    total = math.ceil(snap.duration_seconds / snap.chunk_seconds)
    here = snap.chunk_index
    candidates = [
        c
        for c in range(total)
        if c != here
        and not engine.check(snap.track.id, snap.requested_preset, c, snap.intensity)["is_cached"]
    ]
    return (snap.track.id, rng.choice(candidates)) if candidates else None


def seek_events(engine: Any, seeks: int, rng: random.Random) -> list[dict[str, Any]]:
    """Seeks to chunks not cached for the preset playing, on this track or the next ones.
    When the whole library is cached (a small one, after the session), every tier is cleared
    first (`clear()`, the `c` key) and the event says so."""
    events: list[dict[str, Any]] = []
    misses = 0
    while len(events) < seeks and misses < 4 * seeks + 8:
        target = unheard_chunk(engine, rng)
        cleared = False
        if target is None and misses % (len(engine.tracks()) + 1) == len(engine.tracks()):
            engine.clear()
            cleared, target = True, unheard_chunk(engine, rng)
        if target is None:
            misses += 1
            engine.next_track()
            time.sleep(1.0)
            continue
        track_id, chunk = target
        snap = engine.snapshot()
        position = (chunk + rng.uniform(0.0, 0.5)) * snap.chunk_seconds
        sent = time.monotonic()
        engine.seek(min(position, snap.duration_seconds - 1.0))
        events.append({**time_to_ready(engine, track_id, chunk, sent), "cleared": cleared})
        time.sleep(DWELL_SECONDS)
    return events


def start_events(engine: Any, starts: int) -> list[dict[str, Any]]:
    """`next_track`, timed from the command; the track heard changes at the cut."""
    events: list[dict[str, Any]] = []
    for _ in range(starts if len(engine.tracks()) > 1 else 0):
        before = engine.snapshot().track_index
        sent = time.monotonic()
        engine.next_track()
        while engine.snapshot().track_index == before and time.monotonic() - sent < 5.0:
            time.sleep(POLL_SECONDS)
        track = engine.snapshot().track
        if track is not None:
            events.append(time_to_ready(engine, track.id, 0, sent))
        time.sleep(DWELL_SECONDS)
    return events


LISTENING_PRESET = "warm"


def listened_with(state_dir: Path, preset: str = LISTENING_PRESET) -> None:
    """Save `preset` as the one the listener used last, for the player to restore as
    `tierplay` does: choosing it once started would be a switch the predictor learns, and
    the "no keys pressed" window would measure a listener who has just pressed one."""
    from engine.persist.state import StateStore

    error = StateStore(state_dir).save({"settings": {"preset": preset}})
    if error is not None:
        raise RuntimeError(error)


def run_session(spec: dict[str, Any]) -> None:
    """`budget_mb` is what `--budget-mb` means (all the engine holds); None: the default."""
    from engine import Engine, EngineConfig
    from engine.runtime import tune_runtime_for_audio

    rng = random.Random(int(spec.get("seed", 7)))
    with tempfile.TemporaryDirectory(prefix="tierplay-footprint-") as state:
        listened_with(Path(state))
        config = EngineConfig(state_dir=Path(state))
        if spec.get("budget_mb") is not None:
            config = config.with_process_budget(float(spec["budget_mb"]))
        tell(budget_mb=config.process_budget_mb)
        tune_runtime_for_audio()  # as `tierplay` does
        engine = Engine(config, sink=spec["sink"])
        watch = LevelWatch()
        try:
            engine.open([Path(p) for p in spec["paths"]])
            assert engine.snapshot().requested_preset == LISTENING_PRESET
            mark("opened")
            threading.Thread(target=watch.run, args=(engine,), daemon=True).start()
            track = engine.tracks()[0]
            sent = time.monotonic()
            engine.play()
            first = time_to_ready(engine, track.id, 0, sent)
            mark("listen-start")
            time.sleep(float(spec.get("settle_seconds", 0.0)))  # the first track's preparation
            mark("steady-start")
            time.sleep(float(spec["steady_seconds"]))  # listening, no keys
            mark("steady-end")
            served = {"listening": stand_ins(engine)}
            mark("active-start")
            active_session(engine, float(spec["active_seconds"]), rng)
            mark("active-end")
            served["active"] = stand_ins(engine) - sum(served.values())
            engine.set_preset(LISTENING_PRESET)
            mark("ready-start")
            seeks = seek_events(engine, int(spec["seeks"]), rng)
            served["seeks"] = stand_ins(engine) - sum(served.values())
            starts = start_events(engine, int(spec["starts"]))
            served["starts"] = stand_ins(engine) - sum(served.values())
            mark("ready-end")
            snap = engine.snapshot()
            tell(
                result={
                    "first_play": first,
                    "seeks": seeks,
                    "starts": starts,
                    "levels": watch.levels,
                    "stand_ins": engine.health().get("stand_ins"),
                    "stand_ins_by_phase": served,
                    "underruns": snap.underruns,
                    "output": snap.output_name
                    + (f" ({snap.output_notice})" if snap.output_notice else ""),
                    "sample_rate": engine.config.sample_rate,
                    "chunk_seconds": snap.chunk_seconds,
                    "tracks": len(engine.tracks()),
                    "skipped": [f"{s.path.name}: {s.reason}" for s in snap.skipped],
                }
            )
        finally:
            watch.stop.set()
            engine.close()
            mark("closed")


# -- the whole player ----------------------------------------------------------------------------


def run_app(spec: dict[str, Any]) -> None:
    """`tierplay` on the files with the null or sounddevice sink, in a pseudo-terminal that
    this process drains (as a terminal would), no keys pressed; `q` at the end. It tells its
    own pid, which the measuring process leaves out: a terminal is not the player."""
    import os
    import pty
    import select
    import shutil
    import signal
    import struct
    import termios
    from fcntl import ioctl

    tell(terminal_pid=os.getpid())
    tierplay = shutil.which("tierplay", path=str(Path(sys.executable).parent)) or "tierplay"
    with tempfile.TemporaryDirectory(prefix="tierplay-footprint-app-") as state:
        listened_with(Path(state))
        command = [tierplay, *spec["paths"], "--sink", spec["sink"], "--state-dir", state]
        pid, terminal = pty.fork()
        if pid == 0:  # the child: the player, with a terminal of its own
            os.environ.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
            os.execv(command[0], command)
        ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

        def drain(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([terminal], [], [], min(left, 0.5))
                if ready:
                    try:
                        os.read(terminal, 65536)
                    except OSError:
                        return

        drain(float(spec["settle_seconds"]))
        mark("steady-start")
        drain(float(spec["seconds"]))
        mark("steady-end")
        os.write(terminal, b"q")
        drain(5.0)
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)


# -- generated long tracks -------------------------------------------------------------------------


def make_track(path: Path, minutes: float, seed: int, rate: int = 44_100) -> None:
    """Seeded tones (a new chord every 10 s) with short noise bursts, 16-bit FLAC, written
    block by block so the generator never holds the track."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    block = 10 * rate
    with sf.SoundFile(str(path), "w", rate, 2, "PCM_16", format="FLAC") as out:
        for start in range(0, round(minutes * 60 * rate), block):
            frames = min(block, round(minutes * 60 * rate) - start)
            t = np.arange(frames) / rate
            tone = sum(
                0.15 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
                for f in rng.uniform(80.0, 2000.0, 3)
            )
            burst = np.zeros(frames)
            at, length = int(rng.integers(0, max(frames - rate // 4, 1))), rate // 4
            burst[at : at + length] = rng.normal(0.0, 0.08, len(burst[at : at + length]))
            left, right = tone + burst, 0.9 * tone + burst
            out.write(np.stack([left, right], axis=1).astype(np.float32))


def run_make_tracks(spec: dict[str, Any]) -> None:
    folder = Path(spec["folder"])
    for minutes in spec["minutes"]:
        path = folder / f"generated-{minutes:g}min.flac"
        make_track(path, float(minutes), seed=int(minutes))
        tell(track=str(path), minutes=minutes)


def run_pick(spec: dict[str, Any]) -> None:
    """The first file at `rate` lasting `seconds` or more, else the longest at `rate`."""
    import soundfile as sf

    found = []
    for path in spec["paths"]:
        try:
            info = sf.info(path)
        except (RuntimeError, OSError):
            continue
        found.append((path, info.samplerate, info.frames / max(info.samplerate, 1)))
    at_rate = [f for f in found if f[1] == spec["rate"]]
    long_enough = [f for f in at_rate if f[2] >= spec["seconds"]]
    chosen = long_enough or sorted(at_rate, key=lambda f: -f[2]) or found
    if chosen:
        tell(path=chosen[0][0])


ROLES: dict[str, Callable[[dict[str, Any]], None]] = {
    "pick": run_pick,
    "idle": run_idle,
    "minimal": run_minimal,
    "session": run_session,
    "app": run_app,
    "make-tracks": run_make_tracks,
}


def main() -> None:
    role, spec = sys.argv[1], json.loads(sys.argv[2])
    ROLES[role](spec)


if __name__ == "__main__":
    main()
