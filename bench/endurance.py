"""Endurance: an hour of music at 100+ preset switches a minute, through the real engine.

A generated listener (runs of back-and-forth between two favourite presets, exploration
bursts, seeks and track changes) is written as a trace and replayed with engine/sim/replay.py on
the null sink at `--speed` x real time. Every ~0.5 s of wall time a sampler reads each
tier's bytes against its budget, the process RSS, the engine's message log, the feed's
unheard requests and the health of the render, feeder and maintenance threads.

Every switch the trace asks for must be accounted for: heard (the engine keeps a
`ServedRequest` with its serving tier and latency) or superseded by the next command before
the feeder cut over to it (the feed then serves the newer one only, and the engine counts
nothing). Preset commands are never filtered: the interaction filter decides only what the
predictor learns (debounced, suspended during rapid exploration), and its counters are shown.

Prints a table per `--window-minutes` of music and a summary: switches served against
requested, budget violations (goal 0), worker deaths (goal 0), RSS and switch-latency p99 of
the last window as ratios to the first (goal about 1.0: no leak, no degradation), underruns.

Run: .venv/bin/python -m bench.endurance [--minutes 60] [--switches-per-minute 120] [--speed 3]
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from engine.config import EngineConfig
from engine.engine import Engine
from engine.observe.stats import percentile
from engine.persist.trace import TraceEvent, read_trace, write_trace
from engine.playback.feed import ServedRequest
from engine.prediction.interaction import FilterCounters
from engine.runtime import tune_runtime_for_audio
from engine.sim.listeners import ListeningSession
from engine.sim.replay import MAX_NULL_SPEED, MusicClock, ReplayResult, replay
from engine.sim.timeline import LibraryTimeline, timeline_from_library
from engine.vocabulary import BYPASS, MB, PRESET_ORDER

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
SAMPLE_SECONDS = 0.5
"""Wall-clock period of the sampler."""
PREDICTOR_STATE_EVERY = 20
"""The predictor's saved-state size (a growth check) is read every this many samples."""
ENGINE_THREADS = ("engine", "feeder", "null-clock", "render-watchdog")
"""Threads an engine on the null sink starts besides its render workers (by name)."""
PROBLEM_MARKERS = ("maintenance failed", "renders:", "memory pressure", "playback failed")
"""Engine log lines that tell of trouble: counted and shown."""


# -- the listener ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListenerMix:
    """How the generated listener spends its time; the default is the bench's."""

    run_share: float = 0.8
    """Share of episodes that are a back-and-forth run between the two favourites."""
    run_length: tuple[int, int] = (6, 24)
    burst_share: float = 0.12
    """Share of episodes that are an exploration burst (the rest: only an interlude)."""
    detour_rate: float = 0.08
    """Chance per run switch of a brief visit to a third preset instead."""
    new_favourites_rate: float = 0.03
    """Chance per run that the listener adopts a new favourite pair."""
    seek_rate: float = 0.3
    track_change_rate: float = 0.06


def endurance_trace(
    timeline: LibraryTimeline,
    seconds: float,
    switches_per_minute: float,
    seed: int,
    mix: ListenerMix | None = None,
) -> list[TraceEvent]:
    """A session of `seconds` with at least `switches_per_minute` preset switches in every
    minute (a pace controller keeps the running count on the target rate).

    Runs toggle the two favourites every 0.35-1.05 x the target interval (held ~0.5 s at
    120 a minute: about half of them are debounced, as real A/B comparison is); bursts hammer
    10-16 presets 40-90 ms apart (rapid exploration) or tour 4-9 of them a few a second;
    interludes between episodes seek by 5 or 30 s or anywhere, or skip a track.
    """
    mix = mix or ListenerMix()
    if switches_per_minute <= 0:
        raise ValueError("switches per minute must be positive")
    session = ListeningSession(timeline, seed, seconds)
    rng = session.rng
    interval = 60.0 / switches_per_minute
    processed = [p for p in PRESET_ORDER if p != BYPASS]
    favourites = rng.sample(processed, 2)
    switched = [0]

    def switch(preset: str) -> None:
        before = len(session.events)
        session.switch(preset)
        switched[0] += len(session.events) - before

    def wait(seconds: float) -> bool:
        return session.wait(seconds)

    def behind() -> float:
        """Switches owed to the target pace so far (negative when ahead)."""
        now = session.events[-1].t if session.events else 0.0
        return now / interval - switched[0]

    alive = wait(rng.uniform(1.0, 3.0))
    while alive:
        roll = rng.random()
        if roll < mix.run_share:
            if rng.random() < mix.new_favourites_rate:
                favourites = rng.sample(processed, 2)
            side = 0 if session.preset != favourites[0] else 1
            for _ in range(rng.randint(*mix.run_length)):
                if rng.random() < mix.detour_rate:
                    switch(session.other_preset(exclude=favourites))
                else:
                    switch(favourites[side])
                    side = 1 - side
                alive = wait(rng.uniform(0.35, 1.05) * interval)
                if not alive:
                    break
        elif roll < mix.run_share + mix.burst_share:
            mash = rng.random() < 0.5
            count, gaps = ((10, 16), (0.04, 0.09)) if mash else ((4, 9), (0.2, 0.6))
            for _ in range(rng.randint(*count)):
                switch(session.other_preset())
                alive = wait(rng.uniform(*gaps))
                if not alive:
                    break
            if alive:
                switch(favourites[rng.randrange(2)])
        if not alive:
            break
        # An interlude: as long as the pace allows (never more than 4 s), sometimes a seek
        # or a track change in it.
        owed = behind()
        pause = rng.uniform(0.3, 1.0) if owed > 0 else min(-owed * interval, 4.0)
        alive = wait(pause / 2)
        if alive and rng.random() < mix.seek_rate:
            kind = rng.random()
            if kind < 0.45:
                session.seek_by(5.0)
            elif kind < 0.75:
                session.seek_by(30.0)
            else:
                session.seek_to(rng.uniform(0.0, max(session.playhead.duration - 1.0, 0.0)))
        elif alive and rng.random() < mix.track_change_rate:
            session.emit(TraceEvent.next if rng.random() < 0.75 else TraceEvent.prev)
        alive = alive and wait(pause / 2)
    return session.finish()


@dataclass(frozen=True)
class TraceFigures:
    """What a generated trace asks for."""

    minutes: float
    events: int
    switches: int
    per_minute_min: int
    per_minute_median: float
    seeks: int
    track_changes: int


def trace_figures(events: Sequence[TraceEvent]) -> TraceFigures:
    """Counts of a trace; per-minute figures over its whole minutes."""
    duration = events[-1].t if events else 0.0
    presets = [e.t for e in events if e.event == "preset"]
    whole = max(int(duration // 60), 1)
    per_minute = [0] * whole
    for t in presets:
        if int(t // 60) < whole:
            per_minute[int(t // 60)] += 1
    return TraceFigures(
        minutes=duration / 60,
        events=len(events),
        switches=len(presets),
        per_minute_min=min(per_minute),
        per_minute_median=statistics.median(per_minute),
        seeks=sum(e.event in ("seek", "seek_relative") for e in events),
        track_changes=sum(e.event in ("next", "prev") for e in events),
    )


# -- watching the engine -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One look at the running engine."""

    t: float
    """Media seconds since the trace started."""
    tiers: dict[str, tuple[int, int]]
    """Per tier: bytes held, budget bytes."""
    rss_bytes: int
    messages: int
    """Length of the engine's message log (a bounded deque)."""
    unheard: int
    """Switches and seeks made but not yet heard."""
    queue_depth: int
    threads: int
    alive: int
    restarts: int
    last_error: str
    """The pool's last problem: tells a thread that died from one replaced while stuck."""
    failures: int
    timeouts: int
    engine_threads_lost: int
    underruns: int
    predictor_state_bytes: int | None = None
    playing: bool = True
    """The player was playing: stopped after the library's last track, nothing is heard."""

    @property
    def cache_bytes(self) -> int:
        return sum(size for size, _budget in self.tiers.values())

    @property
    def budget_bytes(self) -> int:
        return sum(budget for _size, budget in self.tiers.values())

    @property
    def violations(self) -> list[str]:
        return [name for name, (size, budget) in self.tiers.items() if size > budget]


@dataclass(frozen=True)
class Command:
    """A preset command as replayed: its media time, its target, and the wall-clock time
    (engine clock) just after it was sent."""

    t: float
    target: str
    sent_by: float


@dataclass
class Watch:
    """What the sampler and the replay's event hook collected."""

    speed: float
    engine: Engine | None = None
    clock: MusicClock | None = None
    anchor: float | None = None
    """Engine-clock time of media second 0 (the replay's own start, after preparation)."""
    marks: list[float] = field(default_factory=list)
    """Engine-clock time just after each event was sent, in trace order."""
    events: list[TraceEvent] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    switches: dict[int, ServedRequest] = field(default_factory=dict)
    """Every switch record seen, by identity (the engine keeps only its last 2000)."""
    seeks: dict[int, ServedRequest] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Engine log lines telling of trouble."""
    messages_missed: int = 0
    """Log lines that scrolled out of the engine's deque between two samples."""
    errors: list[str] = field(default_factory=list)
    """Exceptions raised while sampling."""
    final: dict[str, Any] = field(default_factory=dict)
    """The engine's views read at the last trace event, while it still played."""
    trace_done: threading.Event = field(default_factory=threading.Event)
    seen_messages: int = 0
    engine_threads: dict[int, threading.Thread] = field(default_factory=dict)
    """The engine's own threads, as the sampler first saw them alive."""
    threads_before: set[int] = field(default_factory=set)
    """Threads that ran before the replay (not the engine's)."""

    def media_t(self, engine_time: float) -> float:
        anchor = self.anchor if self.anchor is not None else engine_time
        return (engine_time - anchor) * self.speed


def capture_engine(watch: Watch) -> Callable[[Engine, MusicClock], None]:
    """`replay`'s `on_engine`: hands the engine it makes to `watch` as soon as it exists."""

    def capture(engine: Engine, clock: MusicClock) -> None:
        watch.engine, watch.clock = engine, clock

    return capture


def harvest(watch: Watch, engine: Engine) -> None:
    """Keep every switch and seek record the engine has made since the last look."""
    for record in engine.switches():
        watch.switches.setdefault(id(record), record)
    for record in engine.seeks():
        watch.seeks.setdefault(id(record), record)


def take_sample(watch: Watch, engine: Engine, process: psutil.Process, number: int) -> Sample:
    harvest(watch, engine)
    tiers = {name: tier.stats() for name, tier in engine.buffer.tiers.items()}
    snapshot = engine.snapshot()
    new = snapshot.message_count - watch.seen_messages
    fresh = snapshot.messages[-new:] if 0 < new <= len(snapshot.messages) else snapshot.messages
    watch.messages_missed += max(0, new - len(snapshot.messages))
    watch.seen_messages = snapshot.message_count
    if new > 0:
        watch.problems += [m for m in fresh if any(k in m for k in PROBLEM_MARKERS)]
    for thread in threading.enumerate():
        if thread.name in ENGINE_THREADS and id(thread) not in watch.threads_before:
            watch.engine_threads.setdefault(id(thread), thread)
    worker = engine.workers.metrics()
    state_bytes = None
    if number % PREDICTOR_STATE_EVERY == 0:
        state_bytes = len(json.dumps(engine.predictor.state()))
    return Sample(
        t=watch.media_t(time.monotonic()),
        tiers={name: (stats.size_bytes, stats.budget_bytes) for name, stats in tiers.items()},
        rss_bytes=process.memory_info().rss,
        messages=len(snapshot.messages),
        unheard=engine.feed.unheard_count,
        queue_depth=worker.queue_depth,
        threads=worker.threads,
        alive=worker.alive,
        restarts=worker.restarts,
        last_error=worker.last_error,
        failures=worker.failures,
        timeouts=worker.timeouts,
        engine_threads_lost=sum(not t.is_alive() for t in watch.engine_threads.values()),
        underruns=snapshot.underruns,
        predictor_state_bytes=state_bytes,
        playing=snapshot.playing,
    )


def sampler(watch: Watch, period: float) -> None:
    """Sample until the trace is done (the replay then pauses and closes the engine)."""
    process = psutil.Process()
    number = 0
    while not watch.trace_done.wait(period):
        engine = watch.engine
        if engine is None or watch.anchor is None:
            continue
        try:
            watch.samples.append(take_sample(watch, engine, process, number))
        except Exception as error:  # noqa: BLE001 - reported, and the replay goes on
            watch.errors.append(f"sampling failed: {type(error).__name__}: {error}")
        number += 1


def event_hook(watch: Watch, last: TraceEvent) -> Callable[[TraceEvent], None]:
    """The replay's `on_event`: note when each command went out; at the last event, read
    the engine's views and stop the sampler."""

    def on_event(event: TraceEvent) -> None:
        now = time.monotonic()
        if event.event == "open":
            # Media second 0: the replay holds the trace's clock while the first track is
            # prepared, and this runs just after that.
            watch.anchor = now - event.t / watch.speed
        elif watch.anchor is not None:
            watch.anchor = min(watch.anchor, now - event.t / watch.speed)
        watch.marks.append(now)
        watch.events.append(event)
        if event.event == "preset" and event.preset_name is not None:
            watch.commands.append(Command(event.t, event.preset_name, now))
        if event is last and watch.engine is not None:
            try:
                watch.final = final_views(watch.engine)
            except Exception as error:  # noqa: BLE001 - reported as a failure of the run
                watch.errors.append(f"engine views failed: {type(error).__name__}: {error}")
            watch.trace_done.set()

    return on_event


def final_views(engine: Engine) -> dict[str, Any]:
    snapshot = engine.snapshot()
    return {
        "health": engine.health(),
        "stats": engine.stats(),
        "predictions": engine.predictions(),
        "contents": engine.contents(),
        "playing": snapshot.playing,
        "track": snapshot.track.path.name if snapshot.track is not None else None,
        "requested_preset": snapshot.requested_preset,
        "counters": engine.filter.counters(),
        "switches_in_session": engine.stats()["prediction"]["switches_in_session"],
    }


# -- accounting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accounting:
    """Every preset command: heard, superseded before the cut-over, or pending at the end."""

    requested: int
    served: int
    """Commands heard: a switch record whose request time falls on them."""
    superseded: int
    """Commands a newer one replaced before the feeder cut over (no record is made)."""
    pending: int
    """The last command, if it was still unheard when the replay ended."""
    unmatched: int
    """Switch records no command explains, or a second record for one command (goal 0)."""
    wrong_target: int
    """Records whose target is not what their command asked for (goal 0)."""
    broken_chain: int
    """Records whose source is not the previous record's target (goal 0)."""
    superseded_wait_ms: float
    """Longest real time a superseded command waited before the next one replaced it."""

    @property
    def complete(self) -> bool:
        return (
            self.served + self.superseded + self.pending == self.requested
            and self.unmatched == 0
            and self.wrong_target == 0
            and self.broken_chain == 0
        )


def account(watch: Watch, initial_preset: str = BYPASS) -> Accounting:
    """Match each switch record to the command whose request it carries.

    A record's `asked_at` is the engine-clock time of the last `request` before the cut-over
    (or the resume, when playback was stopped): it lies between the mark of the event before
    that command and the command's own mark.
    """
    commands, marks, events = watch.commands, watch.marks, watch.events
    command_at = {id(c): i for i, c in enumerate(commands)}
    by_event: list[int | None] = []
    latest: int | None = None
    preset_events = iter(commands)
    for event in events:
        if event.event == "preset":
            latest = command_at[id(next(preset_events))]
        by_event.append(latest)
    records = sorted(
        (r for r in watch.switches.values() if r.source != r.target),
        key=lambda r: r.asked_at,
    )
    served: dict[int, ServedRequest] = {}
    unmatched = wrong = broken = 0
    previous_target = initial_preset
    for record in records:
        index = bisect.bisect_left(marks, record.asked_at)
        owner = by_event[index] if index < len(by_event) else None
        if owner is None or owner in served:
            unmatched += 1
        else:
            served[owner] = record
            wrong += record.target != commands[owner].target
        broken += record.source != previous_target
        previous_target = record.target
    last = len(commands) - 1
    pending = int(last >= 0 and last not in served)
    waits = [
        (commands[i + 1].sent_by - commands[i].sent_by) * 1000
        for i in range(last)
        if i not in served
    ]
    return Accounting(
        requested=len(commands),
        served=len(served),
        superseded=len(waits),
        pending=pending,
        unmatched=unmatched,
        wrong_target=wrong,
        broken_chain=broken,
        superseded_wait_ms=max(waits, default=0.0),
    )


# -- the run -----------------------------------------------------------------------------------


@dataclass
class EnduranceResult:
    replay: ReplayResult
    watch: Watch
    trace: TraceFigures
    accounting: Accounting
    wall_seconds: float
    config: EngineConfig

    @property
    def switches(self) -> list[ServedRequest]:
        """Switch records that changed preset, in request order."""
        records = (r for r in self.watch.switches.values() if r.source != r.target)
        return sorted(records, key=lambda r: r.asked_at)

    @property
    def budget_violations(self) -> int:
        return sum(len(s.violations) for s in self.watch.samples)

    def silent_minutes(self) -> list[int]:
        """Media minutes in which switches were asked for and none was heard: a stalled
        feed (the bookkeeping alone would count those requests as superseded)."""
        heard = {int(self.watch.media_t(r.asked_at) // 60) for r in self.switches}
        asked = {int(c.t // 60) for c in self.watch.commands}
        # The trace's listener restarts the library when its own model of the playhead says
        # it ended; a busy machine lets the real playhead run ahead of that model, and the
        # player sits stopped in between: no feed there to stall.
        looks: dict[int, list[bool]] = {}
        for sample in self.watch.samples:
            looks.setdefault(int(sample.t // 60), []).append(sample.playing)
        stopped = {m for m, playing in looks.items() if playing.count(False) * 2 >= len(playing)}
        whole = int(self.trace.minutes)
        return sorted(m for m in asked - heard - stopped if m < whole)

    def render_restarts(self) -> tuple[int, int]:
        """Render threads the watchdog replaced: (died, stuck in one render past its
        timeout), told apart by the pool's last error at the sample that saw them."""
        died = stuck = previous = 0
        for sample in self.watch.samples:
            new, previous = sample.restarts - previous, sample.restarts
            if new > 0 and "stuck" in sample.last_error:
                stuck += new
            else:
                died += max(new, 0)
        return died, stuck

    @property
    def worker_deaths(self) -> int:
        """Render threads that died, plus engine threads that stopped while the trace ran
        (a render thread replaced while stuck past its timeout is counted apart)."""
        samples = self.watch.samples
        if not samples:
            return 0
        return self.render_restarts()[0] + max(s.engine_threads_lost for s in samples)


def run_endurance(
    library: Path,
    minutes: float,
    switches_per_minute: float,
    speed: float,
    seed: int = 1,
    config: EngineConfig | None = None,
    sample_seconds: float = SAMPLE_SECONDS,
    save_trace: Path | None = None,
) -> EnduranceResult:
    """Generate the session, replay it through a fresh engine (private state folder) and
    watch it; raises whatever the replay raises."""
    config = config or EngineConfig()
    timeline = timeline_from_library([library], config.chunk_seconds, library_root=library)
    events = endurance_trace(timeline, minutes * 60, switches_per_minute, seed)
    figures = trace_figures(events)
    watch = Watch(speed=speed)
    watch.threads_before = {id(t) for t in threading.enumerate()}
    with tempfile.TemporaryDirectory(prefix="tierplay-endurance-") as private:
        path = save_trace or Path(private) / "endurance.jsonl"
        write_trace(path, events)
        trace = read_trace(path)
        config = replace(config, state_dir=Path(private))
        thread = threading.Thread(target=sampler, args=(watch, sample_seconds), daemon=True)
        thread.start()
        started = time.monotonic()
        try:
            result = replay(
                trace,
                library,
                config,
                speed=speed,
                on_event=event_hook(watch, trace.events[-2]),
                on_engine=capture_engine(watch),
            )
        finally:
            watch.trace_done.set()
            thread.join(timeout=10.0)
        wall = time.monotonic() - started
    assert watch.engine is not None
    harvest(watch, watch.engine)  # the last switches, heard after the trace's last event
    return EnduranceResult(result, watch, figures, account(watch), wall, config)


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start_minutes: float
    end_minutes: float
    requested: int
    served: int
    l1_share: float
    """Switches served from L1, of those needing a render (not to the source)."""
    p50_ms: float
    p99_ms: float
    cache_peak_mb: float
    budget_mb: float
    rss_median_mb: float
    rss_peak_mb: float
    underruns: int
    samples: int


def windows(result: EnduranceResult, window_minutes: float) -> list[Window]:
    watch = result.watch
    span = window_minutes * 60
    total = max(result.trace.minutes * 60, span)
    count = max(1, round(total / span))
    rows = []
    switches = [(watch.media_t(r.asked_at), r) for r in result.switches]
    previous_underruns = 0
    for index in range(count):
        low, high = index * span, (index + 1) * span if index < count - 1 else float("inf")
        served = [r for t, r in switches if low <= t < high]
        asked = [c for c in watch.commands if low <= c.t < high]
        samples = [s for s in watch.samples if low <= s.t < high]
        processed = [r for r in served if r.tier != "source"]
        latencies = [r.latency_ms for r in served if r.latency_ms is not None]
        rss = [s.rss_bytes / MB for s in samples]
        underruns = samples[-1].underruns if samples else previous_underruns
        rows.append(
            Window(
                start_minutes=low / 60,
                end_minutes=min(high, total) / 60,
                requested=len(asked),
                served=len(served),
                l1_share=(
                    sum(r.tier == "l1" for r in processed) / len(processed)
                    if processed
                    else float("nan")
                ),
                p50_ms=percentile(latencies, 0.5),
                p99_ms=percentile(latencies, 0.99),
                cache_peak_mb=max((s.cache_bytes / MB for s in samples), default=float("nan")),
                budget_mb=max((s.budget_bytes / MB for s in samples), default=float("nan")),
                rss_median_mb=statistics.median(rss) if rss else float("nan"),
                rss_peak_mb=max(rss, default=float("nan")),
                underruns=underruns - previous_underruns,
                samples=len(samples),
            )
        )
        previous_underruns = underruns
    return rows


def _minutes_list(minutes: list[int]) -> str:
    shown = ", ".join(str(m) for m in minutes[:12])
    return f" (minutes {shown}{', ...' if len(minutes) > 12 else ''})" if minutes else ""


def _ratio(last: float, first: float) -> float:
    return last / first if first > 0 else float("nan")


def report(result: EnduranceResult, window_minutes: float) -> list[str]:
    watch, replayed, trace, books = result.watch, result.replay, result.trace, result.accounting
    samples = watch.samples
    rows = windows(result, window_minutes)
    media_seconds = trace.minutes * 60
    lines = [
        f"trace: {trace.minutes:.1f} media min, {trace.events} events, {trace.switches} "
        f"preset switches ({trace.switches / max(trace.minutes, 1e-9):.1f}/min; per whole "
        f"minute min {trace.per_minute_min}, median {trace.per_minute_median:g}), "
        f"{trace.seeks} seeks, {trace.track_changes} track changes",
        f"replay: {replayed.speed:g}x requested on the {replayed.output} sink, "
        f"{result.wall_seconds:.0f} s wall = {media_seconds / result.wall_seconds:.2f}x "
        f"achieved; {len(samples)} samples",
        "",
        "media min   asked  served  L1 share  p50 ms  p99 ms  cache MB peak/budget  "
        "RSS MB med/peak  underruns",
    ]
    for row in rows:
        lines.append(
            f"{row.start_minutes:4.0f}-{row.end_minutes:<4.0f} {row.requested:>7} "
            f"{row.served:>7} {row.l1_share:>9.3f} {row.p50_ms:>7.1f} {row.p99_ms:>7.1f}  "
            f"{row.cache_peak_mb:>9.1f} / {row.budget_mb:<8.1f}  "
            f"{row.rss_median_mb:>7.0f} / {row.rss_peak_mb:<6.0f} {row.underruns:>9}"
        )
    counters: FilterCounters | None = watch.final.get("counters")
    first, last = rows[0], rows[-1]
    tiers = ("l1", "l2", "l3")
    utilisation = {
        name: max(
            (s.tiers[name][0] / s.tiers[name][1] for s in samples if s.tiers[name][1]), default=0.0
        )
        for name in tiers
    }
    states = [s.predictor_state_bytes for s in samples if s.predictor_state_bytes is not None]
    last_sample = samples[-1] if samples else None
    lines += [
        "",
        f"switches: {books.requested} requested, {books.served} served, {books.superseded} "
        f"superseded by the next command before the cut-over (longest wait "
        f"{books.superseded_wait_ms:.0f} ms real), {books.pending} pending at the end: "
        + ("all accounted for" if books.complete else "NOT ACCOUNTED FOR")
        + f" (unmatched records {books.unmatched}, wrong target {books.wrong_target}, "
        f"broken chain {books.broken_chain})",
        f"  engine counts {watch.final.get('switches_in_session', '?')} preset changes"
        + (
            f"; filter: {counters.presets} presets, {counters.learned} learned, "
            f"{counters.debounced} debounced, {counters.suspended} suspended in "
            f"{counters.rapid_episodes} rapid episodes; seeks {counters.positions} "
            f"({counters.throttled} throttled, {counters.coalesced} coalesced), "
            f"{counters.track_changes} track changes"
            if counters is not None
            else ""
        ),
        f"minutes with switches asked and none heard: {len(result.silent_minutes())} "
        f"(goal 0){_minutes_list(result.silent_minutes())}",
        f"budget violations: {result.budget_violations} in {len(samples)} samples (goal 0); "
        "peak use " + ", ".join(f"{name} {utilisation[name]:.3f}" for name in tiers) + " of budget",
        f"worker deaths: {result.worker_deaths} (goal 0): render threads alive "
        + (
            f"{min(s.alive for s in samples)}-{max(s.alive for s in samples)} of "
            f"{last_sample.threads}, died and replaced {result.render_restarts()[0]}, "
            f"replaced while stuck past their timeout {result.render_restarts()[1]}, failures "
            f"{last_sample.failures}, timeouts {last_sample.timeouts}, engine threads lost "
            f"{max(s.engine_threads_lost for s in samples)} of {len(watch.engine_threads)}"
            if last_sample is not None
            else "(no samples)"
        ),
        f"RSS last/first window: peak {_ratio(last.rss_peak_mb, first.rss_peak_mb):.3f}, "
        f"median {_ratio(last.rss_median_mb, first.rss_median_mb):.3f} (goal about 1.0)",
        f"switch latency p99 last/first window: {_ratio(last.p99_ms, first.p99_ms):.2f}; "
        f"p50 {_ratio(last.p50_ms, first.p50_ms):.2f} (goal <= about 1.0)",
        f"underruns: {replayed.underruns}",
        f"engine log: deque length max {max((s.messages for s in samples), default=0)}, "
        f"{watch.messages_missed} lines scrolled past the sampler; unheard requests max "
        f"{max((s.unheard for s in samples), default=0)}; render queue max "
        f"{max((s.queue_depth for s in samples), default=0)}; predictor state "
        + (f"{states[0]} -> {states[-1]} bytes" if states else "not read"),
        f"trouble in the log: {len(watch.problems)} lines"
        + "".join(f"\n  {line}" for line in watch.problems[:10]),
        f"sampling errors: {len(watch.errors)}" + "".join(f"\n  {e}" for e in watch.errors[:5]),
        f"health at the end: {watch.final.get('health', {}).get('status', '?')}",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="of music")
    parser.add_argument("--switches-per-minute", type=float, default=120.0)
    parser.add_argument(
        "--speed", type=float, default=3.0, help=f"x real time (null sink, <= {MAX_NULL_SPEED:g})"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--library", type=Path, default=SAMPLE_AUDIO)
    parser.add_argument("--window-minutes", type=float, default=10.0)
    parser.add_argument("--save-trace", type=Path, help="keep the generated trace here")
    args = parser.parse_args(argv)
    tune_runtime_for_audio()  # as `tierplay` does
    print(
        f"endurance: {args.minutes:g} min of {args.library.name}/ at "
        f"{args.switches_per_minute:g} switches/min, {args.speed:g}x real time",
        flush=True,
    )
    result = run_endurance(
        args.library,
        args.minutes,
        args.switches_per_minute,
        args.speed,
        seed=args.seed,
        save_trace=args.save_trace,
    )
    print("\n".join(report(result, args.window_minutes)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
