"""The render worker pool: fills the tiers in plan order.

Jobs come from the placement plan, most valuable first within a priority class
(immediate < L1 < L2 < L3), de-duplicated by key, and dropped when a new plan no longer wants
them. Each class has a timeout: a job that waits or runs past it is abandoned and its audio
never inserted. A job that raises is counted and the thread goes on; a thread that dies, or
sticks in a render past the timeout, is replaced by a watchdog, and its jobs re-queued.
Threads are niced so renders yield the CPU to the feeder and the UI.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from engine.cache.buffer import MultiTierBuffer
from engine.cache.codecs import CorruptChunk
from engine.cache.keys import ChunkKey
from engine.config import EngineConfig
from engine.dsp.render import Renderer, RenderStopped, chunk_count
from engine.dsp.render_speed import RenderSpeed
from engine.frames import Audio
from engine.library.source import TrackSource
from engine.prediction.placement import PlacementPlan
from engine.runtime import STEP_FINISH_SECONDS
from engine.vocabulary import TIER_NAMES, TierName

PRIORITY_CLASSES = ("immediate", TierName.L1, TierName.L2, TierName.L3)
URGENT = PRIORITY_CLASSES[:2]
PREPARE_TIMEOUT_FACTOR = 3.0
"""A preparation may wait behind a whole plan's renders: allow 3x the longest timeout."""
Clock = Callable[[], float]
TrackResolver = Callable[[str, str], TrackSource | None]
"""(track_id, fingerprint) -> the track's source, or None if it is gone or changed."""
RenderFunction = Callable[[Renderer, TrackSource, ChunkKey], Audio]


TIMEOUT_RENDERS = 4.0
"""A job may take at least this many chunk renders at the measured speed: on a slow
machine (or under a heavy chain) the configured timeouts would abandon every render."""
BEHIND_SECONDS = 2.0
"""An urgent job (immediate, or the plan's L1) waiting longer than this means renders are
behind what the listener will hear next: the panels say so."""


PREPARATION_INDEX, RECALIBRATION_INDEX = -1, -2
"""The chunk index in the key of a job about a preset, not a chunk."""


def tier_rank(tier: str) -> int:
    """0 for L1 (fastest) .. 2 for L3."""
    return TIER_NAMES.index(tier)


def render_key(renderer: Renderer, source: TrackSource, key: ChunkKey) -> Audio:
    intensity = renderer.config.bucket_intensity(key.intensity_bucket)
    return renderer.render_chunk(source, key.preset, intensity, key.chunk_index)


IDLE_WAIT_SECONDS = 1.0
"""An idle render thread's wait: every change to the queue wakes it, so the timeout only
bounds a wait nothing woke; at four wake-ups a second per thread it cost CPU for nothing."""
WATCHDOG_SECONDS = 1.0
"""How often the watchdog looks for a dead thread or a render past its timeout (2 s at
the soonest): once a second is soon enough, and five times cost CPU while listening."""


@dataclass(order=True)
class RenderJob:
    order: tuple[int, float, int]
    key: ChunkKey = field(compare=False)
    fingerprint: str = field(compare=False)
    tier: str = field(compare=False)
    priority: str = field(compare=False)
    value: float = field(compare=False)
    probability: float = field(compare=False)
    deadline: float = field(compare=False)
    done: threading.Event = field(default_factory=threading.Event, compare=False)
    cancelled: bool = field(default=False, compare=False)
    succeeded: bool = field(default=False, compare=False)
    audio: Audio | None = field(default=None, compare=False)
    timeout: float = field(default=5.0, compare=False)
    """How long the job may wait plus run before it is abandoned."""
    calibrate_only: bool = field(default=False, compare=False)
    """A preparation job: analyse the track and calibrate the preset's loudness, no chunk."""
    deliver_gain: Callable[[str, float], None] | None = field(default=None, compare=False)
    """A recalibration job: the preset's gain against the whole track, handed to this."""
    queued_at: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class WorkerMetrics:
    threads: int
    alive: int
    paused: bool
    queue_depth: int
    renders_total: int
    renders_per_second: float
    failures: int
    timeouts: int
    abandoned: int
    restarts: int
    busy_percent: float
    last_error: str
    real_time_factor: float | None = None
    """Seconds of audio one render thread processes per second, lately (None: no render
    measured yet)."""
    behind: int = 0
    """Urgent jobs (immediate, L1) waiting longer than BEHIND_SECONDS."""


@dataclass
class _Slot:
    """One worker thread and what it is doing, for the watchdog."""

    thread: threading.Thread
    job: RenderJob | None = None
    started_at: float = 0.0
    busy_seconds: float = 0.0


class RenderWorkerPool:
    """Render threads fed from a priority queue the plan keeps up to date."""

    def __init__(
        self,
        config: EngineConfig,
        buffer: MultiTierBuffer,
        resolve_track: TrackResolver,
        renderer_factory: Callable[[], Renderer],
        render: RenderFunction = render_key,
        clock: Clock = time.monotonic,
        speed: RenderSpeed | None = None,
    ) -> None:
        """`speed` is the renderers' shared measure of how fast they go (the timeouts
        stretch to it)."""
        self.config = config
        self.speed = RenderSpeed() if speed is None else speed
        self.buffer = buffer
        self._resolve = resolve_track
        self._renderer_factory = renderer_factory
        self._render = render
        self._clock = clock
        self._timeouts = dict(zip(PRIORITY_CLASSES, config.render_timeouts_seconds, strict=True))
        self._queue: list[RenderJob] = []
        self._queued: dict[ChunkKey, RenderJob] = {}
        self._running: dict[ChunkKey, RenderJob] = {}
        self._sequence = itertools.count()
        self._cv = threading.Condition()
        self._stop = False
        self._stopping = threading.Event()  # the renderers' view of `_stop`
        self._paused = False
        self._slots: list[_Slot] = []
        self._completed: deque[float] = deque(maxlen=1000)
        self._started_at = clock()
        self.failures = 0
        self.timeouts = 0
        self.abandoned = 0
        self.restarts = 0
        self.renders_total = 0
        self.last_error = ""
        with self._cv:
            for _ in range(max(1, config.render_threads)):
                self._add_slot(len(self._slots))
        self._watchdog = threading.Thread(target=self._watch, name="render-watchdog", daemon=True)
        self._watchdog.start()

    # -- feeding --------------------------------------------------------------------------
    def submit_plan(self, plan: PlacementPlan) -> None:
        """Queue what the plan wants where it is not yet; drop what it no longer wants."""
        now = self._clock()
        wanted: dict[ChunkKey, RenderJob] = {}
        for item in plan.items:
            present = self.buffer.peek_tier(item.key)
            if present is not None and tier_rank(present) <= tier_rank(item.tier):
                continue
            priority = TierName.L1 if _at_playhead(plan, item.key) else item.tier
            wanted[item.key] = self._job(
                item.key, item.fingerprint, item.tier, priority, item.value, item.probability, now
            )
        with self._cv:
            for key, job in list(self._queued.items()):
                keep = (
                    job.priority == "immediate"
                    or job.calibrate_only
                    or job.deliver_gain is not None
                )
                if not keep and key not in wanted:
                    job.cancelled = True
                    del self._queued[key]
            for key, job in wanted.items():
                existing = self._queued.get(key)
                if key in self._running or (existing is not None and _keeps_place(existing, job)):
                    continue
                if existing is not None:  # ranked anew where it stands (heapified below)
                    existing.order = (job.order[0], job.order[1], existing.order[2])
                    existing.tier, existing.priority = job.tier, job.priority
                    existing.value, existing.probability = job.value, job.probability
                    existing.timeout, existing.deadline = job.timeout, job.deadline
                    continue
                self._queued[key] = job
                heapq.heappush(self._queue, job)
            self._queue = [job for job in self._queue if not job.cancelled]
            heapq.heapify(self._queue)
            self._cv.notify_all()

    def request_now(
        self, key: ChunkKey, fingerprint: str, value: float = 1.0, tier: str = TierName.L1
    ) -> RenderJob:
        """Render `key` before anything else (a miss the listener is waiting for); once
        stopped, a job already done and without audio."""
        with self._cv:
            if self._stop:
                job = self._job(key, fingerprint, tier, "immediate", value, 1.0, self._clock())
                job.done.set()
                return job
            running = self._running.get(key)
            if running is not None:  # already rendering: wait for it, do not render it twice
                running.priority = "immediate"  # its audio is handed over even if not stored
                running.deadline = max(running.deadline, self._clock() + self._timeout("immediate"))
                return running
            queued = self._queued.get(key)
            if queued is not None and queued.priority == "immediate":
                return queued
            if queued is not None:
                queued.cancelled = True
            job = self._job(key, fingerprint, tier, "immediate", value, 1.0, self._clock())
            self._queued[key] = job
            heapq.heappush(self._queue, job)
            self._cv.notify_all()
            return job

    def _job(
        self,
        key: ChunkKey,
        fingerprint: str,
        tier: str,
        priority: str,
        value: float,
        probability: float,
        now: float,
    ) -> RenderJob:
        order = (PRIORITY_CLASSES.index(priority), -value, next(self._sequence))
        timeout = self._timeout(priority)
        return RenderJob(
            order,
            key,
            fingerprint,
            tier,
            priority,
            value,
            probability,
            now + timeout,
            timeout=timeout,
            queued_at=now,
        )

    def _timeout(self, priority: str) -> float:
        """The class's timeout, stretched to TIMEOUT_RENDERS chunk renders at the speed
        measured lately."""
        frames = round(
            (self.config.chunk_seconds + self.config.warmup_seconds) * self.config.sample_rate
        )
        expected = self.speed.seconds_for(frames) or 0.0
        return max(self._timeouts[priority], TIMEOUT_RENDERS * expected)

    def prepare_track(
        self, track_id: str, fingerprint: str, presets: tuple[str, ...], priority: str = TierName.L1
    ) -> None:
        """Sample a track and calibrate presets before any of their chunks is needed, in
        the order given, in `priority`'s class (`original` stands for the sample alone).

        Calibration renders the track's sample once per preset (0.1-0.3 s), so doing it
        ahead keeps it out of the first switch's latency; a preset not prepared here is
        calibrated by its first chunk's render.
        """

        def prepare(job: RenderJob) -> None:
            job.calibrate_only = True

        self._queue_track_jobs(track_id, fingerprint, presets, PREPARATION_INDEX, priority, prepare)

    def recalibrate_track(
        self,
        track_id: str,
        fingerprint: str,
        presets: list[str],
        deliver: Callable[[str, float], None],
    ) -> None:
        """Calibrate presets again against the whole track, in the background (L3's class),
        each gain handed to `deliver` (preset, gain), not put in use: the engine decides."""

        def recalibrate(job: RenderJob) -> None:
            job.deliver_gain = deliver

        self._queue_track_jobs(
            track_id, fingerprint, presets, RECALIBRATION_INDEX, TierName.L3, recalibrate
        )

    def _queue_track_jobs(
        self,
        track_id: str,
        fingerprint: str,
        presets: Iterable[str],
        index: int,
        priority: str,
        what: Callable[[RenderJob], None],
    ) -> None:
        """Queue jobs about a track's presets, not its chunks (`what` says what each does),
        unless one is queued or running already."""
        with self._cv:
            now = self._clock()
            for preset in presets:
                key = ChunkKey(track_id, preset, 0, index)
                if key in self._queued or key in self._running:
                    continue
                job = self._job(key, fingerprint, TierName.L1, priority, 2.0, 1.0, now)
                job.timeout = PREPARE_TIMEOUT_FACTOR * max(map(self._timeout, PRIORITY_CLASSES))
                job.deadline = now + job.timeout
                what(job)
                self._queued[key] = job
                heapq.heappush(self._queue, job)
            self._cv.notify_all()

    def cancel_track(self, track_id: str) -> None:
        with self._cv:
            for key, job in list(self._queued.items()):
                if key.track_id == track_id:
                    job.cancelled = True
                    job.done.set()
                    del self._queued[key]

    def pause(self) -> None:
        with self._cv:
            self._paused = True

    def resume(self) -> None:
        with self._cv:
            self._paused = False
            self._cv.notify_all()

    # -- threads --------------------------------------------------------------------------
    def _add_slot(self, index: int) -> None:
        """Start a worker thread in slot `index`; its slot exists before the thread runs."""
        thread = threading.Thread(target=self._run, name=f"render-worker-{index}", daemon=True)
        slot = _Slot(thread)
        if index < len(self._slots):
            self._slots[index] = slot
        else:
            self._slots.append(slot)
        thread.start()

    def _slot_of(self, thread: threading.Thread) -> _Slot | None:
        return next((slot for slot in self._slots if slot.thread is thread), None)

    def _run(self) -> None:
        nice_this_thread()
        renderer = self._renderer_factory()
        renderer.stop_with(self._stopping)
        me = threading.current_thread()
        while True:
            job = self._next_job(me)
            if job is None:
                return
            self._execute(renderer, job)
            with self._cv:
                self._running.pop(job.key, None)
                slot = self._slot_of(me)
                if slot is None:  # replaced by the watchdog while stuck: retire
                    return
                slot.busy_seconds += self._clock() - slot.started_at
                slot.job = None

    def _next_job(self, me: threading.Thread) -> RenderJob | None:
        with self._cv:
            while True:
                if self._stop or self._slot_of(me) is None:
                    return None
                job = self._pop_ready() if not self._paused else self._pop_immediate()
                if job is not None:
                    slot = self._slot_of(me)
                    assert slot is not None
                    slot.job, slot.started_at = job, self._clock()
                    self._running[job.key] = job
                    return job
                self._cv.wait(IDLE_WAIT_SECONDS)

    def _pop_ready(self) -> RenderJob | None:
        while self._queue:
            job = heapq.heappop(self._queue)
            if job.cancelled:
                continue
            self._queued.pop(job.key, None)
            if self._clock() > job.deadline:
                self.timeouts += 1
                job.done.set()
                continue
            return job
        return None

    def _pop_immediate(self) -> RenderJob | None:
        if self._queue and self._queue[0].priority == "immediate":
            return self._pop_ready()
        return None

    def _execute(self, renderer: Renderer, job: RenderJob) -> None:
        try:
            source = self._resolve(job.key.track_id, job.fingerprint)
            if source is None or not self._within_track(source, job.key):
                return
            if job.calibrate_only:
                renderer.prepare(source, job.key.preset)
                job.succeeded = True
                return
            if job.deliver_gain is not None:
                job.deliver_gain(job.key.preset, renderer.whole_track_gain(source, job.key.preset))
                job.succeeded = True
                return
            promoted = self._promote_from_lower_tier(job)
            if promoted:
                job.succeeded = True
                return
            content, preset = source.content_key, job.key.preset
            epoch = renderer.calibrations.epoch(content, preset)
            audio = self._render(renderer, source, job.key)
            if job.cancelled and job.priority != "immediate":
                return
            if renderer.calibrations.epoch(content, preset) != epoch:
                return  # its gain was set again while it rendered: never heard
            if self.buffer.is_stale(job.key.track_id, job.fingerprint):
                return  # the file changed or went away while this rendered: never heard
            if self._clock() > job.deadline:
                with self._cv:
                    self.abandoned += 1
                return
            calibrations = renderer.calibrations

            def current() -> bool:
                return calibrations.epoch(content, preset) == epoch

            job.succeeded = self.buffer.store(
                job.key, audio, job.fingerprint, job.tier, job.value, job.probability, current
            )
            if not job.succeeded and not current():
                return  # its gain was set again as it was stored (the store asks atomically)
            if not job.succeeded:  # refused: a miss waiting on this job still gets its audio
                job.audio = audio  # (even one upgraded by `request_now` after this check)
                job.succeeded = job.priority == "immediate"
            with self._cv:
                self.renders_total += 1
                self._completed.append(self._clock())
        except RenderStopped:
            return
        except Exception as error:  # noqa: BLE001 - one failing render must not stop the pool
            with self._cv:
                self.failures += 1
                self.last_error = f"{type(error).__name__}: {error}"[:200]
        finally:
            job.done.set()

    def _within_track(self, source: TrackSource, key: ChunkKey) -> bool:
        """A job queued before its file turned out shorter than its header may ask for a
        chunk past the real end: it is dropped, not counted as a failure."""
        return key.chunk_index < chunk_count(source.frames, self.config.chunk_frames)

    def _promote_from_lower_tier(self, job: RenderJob) -> bool:
        """A chunk already in a lower tier moves up by decoding, not by rendering again."""
        present = self.buffer.peek_tier(job.key)
        if present is None or tier_rank(present) <= tier_rank(job.tier):
            return False
        tier = self.buffer.tiers[present]
        chunk = tier.fetch(job.key, job.fingerprint)
        if chunk is None:
            return False
        try:
            audio = tier.decode(chunk)
        except CorruptChunk:  # a corrupt chunk is re-rendered instead
            tier.remove_if_holding(job.key, chunk)
            self.buffer.note_corrupt()
            return False
        return self.buffer.move(job.key, job.fingerprint, chunk, audio, present, job.tier)

    # -- watchdog -------------------------------------------------------------------------
    def _watch(self) -> None:
        while True:
            with self._cv:
                if self._stop:
                    return
                self._check_slots()
                self._cv.wait(WATCHDOG_SECONDS)

    def _check_slots(self) -> None:
        """Restart dead threads; replace a thread stuck in one render past its timeout."""
        now = self._clock()
        for index, slot in enumerate(self._slots):
            job = slot.job
            stuck = job is not None and now - slot.started_at > job.timeout
            if slot.thread.is_alive() and not stuck:
                continue
            if job is not None:
                self._running.pop(job.key, None)
                if stuck:
                    self.timeouts += 1
                    job.done.set()
                else:
                    self._requeue(job, now)
            what = "stuck in a render past its timeout" if stuck else "died"
            doing = f"rendering {job.key.describe()}" if job else "idle"
            self.last_error = f"render thread {what} ({doing}); replaced"
            self.restarts += 1
            self._add_slot(index)

    def _requeue(self, job: RenderJob, now: float) -> None:
        if job.cancelled or now > job.deadline:
            job.done.set()
            return
        job.order = (job.order[0], job.order[1], next(self._sequence))
        self._queued[job.key] = job
        heapq.heappush(self._queue, job)
        self._cv.notify_all()

    # -- views ----------------------------------------------------------------------------
    def idle(self) -> bool:
        """Nothing queued and nothing rendering."""
        with self._cv:
            return not self._queue and not self._running

    def metrics(self) -> WorkerMetrics:
        with self._cv:
            now = self._clock()
            window = min(10.0, max(now - self._started_at, 1e-9))
            recent = sum(1 for t in self._completed if now - t <= window)
            busy = sum(
                s.busy_seconds + (now - s.started_at if s.job is not None else 0.0)
                for s in self._slots
            )
            elapsed = max(now - self._started_at, 1e-9) * len(self._slots)
            return WorkerMetrics(
                threads=len(self._slots),
                alive=sum(1 for s in self._slots if s.thread.is_alive()),
                paused=self._paused,
                queue_depth=len(self._queued),
                renders_total=self.renders_total,
                renders_per_second=recent / window,
                failures=self.failures,
                timeouts=self.timeouts,
                abandoned=self.abandoned,
                restarts=self.restarts,
                busy_percent=min(100.0, 100.0 * busy / elapsed),
                last_error=self.last_error,
                real_time_factor=self.speed.real_time_factor(self.config.sample_rate),
                behind=sum(
                    1
                    for job in self._queued.values()
                    if job.priority in URGENT and now - job.queued_at > BEHIND_SECONDS
                ),
            )

    def running_count(self) -> int:
        """Jobs being executed right now (a paused pool finishes these, then waits)."""
        with self._cv:
            return len(self._running)

    def running_keys(self) -> set[ChunkKey]:
        """Chunks a render thread is working on right now (the cache map's "rendering")."""
        with self._cv:
            return set(self._running)

    def queued_keys(self) -> set[ChunkKey]:
        with self._cv:
            return set(self._queued) | set(self._running)

    def stop(self) -> None:
        """Take no more renders and release whoever waits for one, even one rendering
        now (the feeder then plays the source): a closing engine must not wait for a
        render to stop its feeder."""
        with self._cv:
            self._stop = True
            self._stopping.set()
            for job in (*self._queued.values(), *self._running.values()):
                job.done.set()
            self._cv.notify_all()

    def close(self, wait: bool = True) -> None:
        """Stop the threads; `wait`: until each has finished its render (daemon threads
        that a process about to exit can leave mid-render)."""
        self.stop()
        if not wait:
            return
        for slot in self._slots:
            slot.thread.join(timeout=STEP_FINISH_SECONDS)
        self._watchdog.join(timeout=2.0)


def _keeps_place(queued: RenderJob, planned: RenderJob) -> bool:
    """A queued job stays as it is when the plan wants it at the same class and value, or
    when it is a miss the listener waits for. Otherwise it takes the plan's rank, lower as
    well as higher: a target ranked first while the predictor knew nothing of the music
    must not stay ahead of the one it now ranks first."""
    return queued.priority == "immediate" or queued.order[:2] == planned.order[:2]


def _at_playhead(plan: PlacementPlan, key: ChunkKey) -> bool:
    """Any preset's chunk under the playhead renders in L1's class, whatever its tier: a
    switch needs it now, before the read-ahead and a neighbour's preparation (L2's class
    starts with those), which a skip needs, and on the first play took both threads."""
    return key.track_id == plan.track_id and key.chunk_index == plan.playhead_chunk


def nice_this_thread(increment: int = 5) -> None:
    """Lower this render thread's priority (Linux: threads are tasks with their own nice)."""
    try:
        native = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, native, os.getpriority(os.PRIO_PROCESS, native) + increment)
    except (AttributeError, OSError):
        pass
