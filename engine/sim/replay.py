"""Replay an interaction trace through the real engine: renders, buffer, predictor, feed.

`tierplay simulate` and the benchmarks use it. The trace's times are media seconds; the
null sink consumes audio `speed` times faster than real time and the commands are sent on
the same scaled schedule, so the engine sees the session as the listener lived it, only
faster. The interaction filter runs on the scaled clock too (a switch held 2 s of music is
held 2 s for the debounce, whatever the speed); render costs and latencies stay in real
milliseconds, because that is what a listener would wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import EngineConfig
from engine.engine import Engine
from engine.errors import TierplayError
from engine.persist.trace import Trace, TraceEvent
from engine.playback.feed import ServedRequest
from engine.playback.sinks.output import NullSink

MAX_NULL_SPEED = 50.0
"""Above this the render workers cannot keep a 12-chunk read-ahead, and the replay would
measure the machine, not the buffer."""


PREPARE_TIMEOUT_SECONDS = 30.0
LAST_SWITCH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ReplayResult:
    """What `simulate --json` prints (docs/architecture.md), built from the engine's own views."""

    stats: dict[str, Any]
    predictions: dict[str, Any]
    health: dict[str, Any]
    switches: list[dict[str, Any]]
    seeks: list[dict[str, Any]]
    underruns: int
    renders: int
    skipped: list[dict[str, str]]
    speed: float
    output: str

    def as_json(self) -> dict[str, Any]:
        return {
            "stats": self.stats,
            "predictions": self.predictions,
            "health": self.health,
            "switches": self.switches,
            "seeks": self.seeks,
            "underruns": self.underruns,
            "renders": self.renders,
            "skipped": self.skipped,
        }


class ReplayError(TierplayError):
    """The trace cannot be replayed (bad library, bad speed, nothing playable)."""


class MusicClock:
    """Seconds of the trace: real time x speed, minus the time the replay held the trace
    (the first track's preparation), so recorded and filtered times match the trace's."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._started = time.monotonic()
        self._held = 0.0

    def __call__(self) -> float:
        return (time.monotonic() - self._started - self._held) * self.speed

    def hold(self, real_seconds: float) -> None:
        self._held += real_seconds


def replay_engine(config: EngineConfig, speed: float, sink: str) -> tuple[Engine, MusicClock]:
    """An engine for a replay at `speed`, with the music clock its gestures are timed on
    (a real device plays in real time: the trace is replayed at speed 1)."""
    if sink != "null":
        clock = MusicClock(1.0)
        return Engine(config, sink=sink, interaction_clock=clock), clock
    check_speed(speed)
    # The feeder's lead must cover the same real time at any speed.
    ring_seconds = min(max(config.ring_seconds, 0.75 * speed), 16.0)
    config = EngineConfig(**{**config.__dict__, "ring_seconds": ring_seconds})
    ring = int(ring_seconds * config.sample_rate) + 2 * config.block_frames
    null = NullSink(config.sample_rate, config.block_frames, speed=speed, ring_frames=ring)
    clock = MusicClock(speed)
    return Engine(config, sink=null, interaction_clock=clock), clock


def replay(
    trace: Trace,
    library: Path,
    config: EngineConfig,
    speed: float = 10.0,
    sink: str = "null",
    on_event: Callable[[TraceEvent], None] | None = None,
    record: Path | None = None,
    on_engine: Callable[[Engine, MusicClock], None] | None = None,
) -> ReplayResult:
    """Play the trace through a fresh engine and collect what it measured; `record`
    writes the replayed commands as a new trace (on the engine's clock); `on_engine` is
    handed the engine and its music clock as soon as they exist (a watcher's seam).

    Raises:
        ReplayError: the trace cannot play (nothing in it, no library opened before its
            first command that needs one) or a command fails.
    """
    if sink == "null":
        check_speed(speed)
    check_playable(trace)
    engine, clock = replay_engine(config, speed, sink)
    if on_engine is not None:
        on_engine(engine, clock)
    speed = clock.speed
    try:
        if record is not None:
            engine.record_to(record, library)
        started = time.monotonic()
        for event in trace:
            wait = started + event.t / speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if event.event == "end":
                break
            dispatch(engine, event, library)
            if event.event == "open":
                # As the first seconds of listening would at real time: calibrate the first
                # track's presets before the trace's clock runs on.
                waited = time.monotonic()
                engine.wait_until_prepared(PREPARE_TIMEOUT_SECONDS)
                started += time.monotonic() - waited
                clock.hold(time.monotonic() - waited)
            if on_event is not None:
                on_event(event)
        engine.stop_recording()
        _let_last_switch_be_heard(engine)
        engine.pause()
        time.sleep(0.2)  # the last switch's first frames reach the sink
        return _result(engine, started, speed)
    finally:
        engine.close()


def check_speed(speed: float) -> None:
    if not 0.0 < speed <= MAX_NULL_SPEED:
        raise ReplayError(f"--speed must be in (0, {MAX_NULL_SPEED:g}] on the null sink")


LIBRARY_FREE_EVENTS = frozenset({"preset", "intensity", "volume", "repeat", "shuffle", "end"})
"""Events that mean something before a library is open (the settings a session starts
with); every other one needs the tracks an `open` gives."""


def check_playable(trace: Trace) -> None:
    """Refuse, with the reason, a trace that would replay nothing: a replay that prints
    `renders 0` and exits 0 reads as a measurement when it is none.

    Raises:
        ReplayError: no commands, or one that needs a library before any `open`.
    """
    events = [event for event in trace if event.event != "end"]
    if not events:
        raise ReplayError("the trace holds no commands, only its end: nothing to replay")
    for event in events:
        if event.event == "open":
            return
        if event.event not in LIBRARY_FREE_EVENTS:
            raise ReplayError(
                f"{event.event!r} at {event.t:g} s comes before any 'open': the trace "
                "does not say what was playing (record from the start, or add an 'open')"
            )
    raise ReplayError("the trace never opens a library ('open'): nothing to play")


def _let_last_switch_be_heard(engine: Engine) -> None:
    """A switch asked for just before the end is still reported with its latency (a miss
    on a busy machine can take longer than the music left in the trace)."""
    deadline = time.monotonic() + LAST_SWITCH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        snapshot = engine.snapshot()
        if not snapshot.playing:
            return
        if snapshot.preset == snapshot.requested_preset and engine.feed.unheard_count == 0:
            return
        time.sleep(0.02)


def dispatch(engine: Engine, event: TraceEvent, library: Path) -> None:
    """Send one trace event to the engine as the UI would."""
    name = event.event
    if name == "open":
        paths = [library / p if not Path(p).is_absolute() else Path(p) for p in event.paths or ()]
        if not engine.open(paths):
            raise ReplayError("no playable audio in " + ", ".join(map(str, paths)))
    elif name == "play":
        engine.play()
    elif name == "pause":
        engine.pause()
    elif name == "preset":
        engine.set_preset(event.preset_name or "")
    elif name == "seek":
        engine.seek(event.position or 0.0)
    elif name == "seek_relative":
        engine.seek_relative(event.delta or 0.0)
    elif name == "intensity":
        engine.set_intensity(event.value if event.value is not None else 1.0)
    elif name == "volume":
        engine.set_volume(event.value if event.value is not None else 1.0)
    elif name == "next":
        engine.next_track()
    elif name == "prev":
        engine.prev_track()
    elif name == "track":
        engine.play_track(_track_id(engine, event))
    else:
        _dispatch_queue(engine, event)


def _dispatch_queue(engine: Engine, event: TraceEvent) -> None:
    """The queue and its modes; a place the queue does not have is the trace's error."""
    name = event.event
    try:
        if name == "repeat":
            engine.set_repeat(event.mode or "off")
        elif name == "shuffle":
            engine.set_shuffle(bool(event.on), event.seed)
        elif name == "scope":
            engine.play_scope(_track_id(engine, event), event.mode or "library")
        elif name == "enqueue":
            engine.enqueue(_track_id(engine, event), next=bool(event.play_next))
        elif name == "dequeue":
            engine.dequeue(event.place or 0)
        elif name == "move":
            engine.move_queued(event.place or 0, event.steps or 0)
    except ReplayError:
        raise
    except TierplayError as error:
        raise ReplayError(f"{name!r} at {event.t:g} s: {error}") from error


def _track_id(engine: Engine, event: TraceEvent) -> str:
    tracks, index = engine.tracks(), event.index or 0
    if index >= len(tracks):
        raise ReplayError(f"{event.event!r} {index} is past the {len(tracks)} tracks open")
    return tracks[index].id


def _served(records: list[ServedRequest], started: float, speed: float) -> list[dict[str, Any]]:
    return [
        {
            "t": round(max(0.0, record.asked_at - started) * speed, 3),
            "from": record.source,
            "to": record.target,
            "tier": record.tier,
            "latency_ms": None if record.latency_ms is None else round(record.latency_ms, 2),
        }
        for record in records
        if record.asked_at >= started
    ]


def _result(engine: Engine, started: float, speed: float) -> ReplayResult:
    snapshot = engine.snapshot()
    return ReplayResult(
        stats=engine.stats(),
        predictions=engine.predictions(),
        health=engine.health(),
        switches=_served(engine.switches(), started, speed),
        seeks=_served(engine.seeks(), started, speed),
        underruns=snapshot.underruns,
        renders=engine.workers.metrics().renders_total,
        skipped=[{"path": str(s.path), "reason": s.reason} for s in snapshot.skipped],
        speed=speed,
        output=snapshot.output_name,
    )
