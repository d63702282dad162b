"""The render worker pool under faults: order, de-duplication, cancellation, timeouts,
exceptions, stuck and dead threads, pause and resume. Renders are real chunks of a real
track; faults are injected through the render function."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from engine.cache.buffer import MultiTierBuffer
from engine.cache.keys import ChunkKey
from engine.cache.worker import RenderWorkerPool, render_key
from engine.config import EngineConfig
from engine.dsp.chain import PresetChain
from engine.dsp.render import Renderer
from engine.dsp.render_speed import RenderSpeed
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.prediction.placement import PlacementPlan, PlannedChunk
from engine.presets.model import Preset
from tests.helpers.audio_files import write_tone
from tests.helpers.polling import wait_for as poll_until

CONFIG = EngineConfig(chunk_seconds=1.0, render_threads=1)


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory) -> TrackSource:
    path = write_tone(tmp_path_factory.mktemp("w") / "tone.wav", seconds=8.0)
    return TrackSource(probe(path, 44_100), 44_100)


def key(chunk: int, preset: str = "warm") -> ChunkKey:
    return ChunkKey("t", preset, 20, chunk)


def plan_of(*items: tuple[ChunkKey, str, float]) -> PlacementPlan:
    planned = tuple(PlannedChunk(k, "fp", tier, value, value) for k, tier, value in items)
    return PlacementPlan(planned, by_key={p.key: p for p in planned})


wait_for = partial(poll_until, timeout=10.0)


class Recorder:
    """A render function that records order and can fail, hang or kill its thread."""

    def __init__(self) -> None:
        self.rendered: list[ChunkKey] = []
        self.fail: set[ChunkKey] = set()
        self.hang: dict[ChunkKey, threading.Event] = {}
        self.kill_once: set[ChunkKey] = set()

    def __call__(self, renderer: Renderer, track: TrackSource, chunk: ChunkKey) -> np.ndarray:
        if chunk in self.hang:
            self.hang[chunk].wait(10)
        if chunk in self.kill_once:
            self.kill_once.discard(chunk)
            raise SystemExit("thread dies")
        if chunk in self.fail:
            raise RuntimeError("render exploded")
        self.rendered.append(chunk)
        return render_key(renderer, track, chunk)


@pytest.fixture
def pool_factory(
    decoded: TrackSource,
) -> Iterator[Callable[..., tuple[RenderWorkerPool, Recorder]]]:
    pools: list[RenderWorkerPool] = []

    def make(
        config: EngineConfig = CONFIG,
        clock: Callable[[], float] = time.monotonic,
        speed: RenderSpeed | None = None,
    ):
        recorder = Recorder()
        buffer = MultiTierBuffer.from_megabytes(18, 36, 45)
        pool = RenderWorkerPool(
            config,
            buffer,
            lambda _id, fp: decoded if fp == "fp" else None,
            lambda: Renderer(config, speed=speed),
            render=recorder,
            clock=clock,
            speed=speed,
        )
        pools.append(pool)
        return pool, recorder

    yield make
    for pool in pools:
        pool.close()


def test_jobs_run_in_priority_then_value_order(pool_factory) -> None:
    pool, recorder = pool_factory()
    pool.pause()
    pool.submit_plan(
        plan_of((key(0), "l3", 0.1), (key(1), "l2", 0.2), (key(2), "l1", 0.3), (key(3), "l1", 0.9))
    )
    urgent = pool.request_now(key(4), "fp")
    wait_for(urgent.done.is_set)  # immediate jobs run even while paused
    assert recorder.rendered == [key(4)]
    pool.resume()
    wait_for(lambda: pool.buffer.peek_tier(key(0)) is not None)
    assert recorder.rendered == [key(4), key(3), key(2), key(1), key(0)]
    assert pool.buffer.peek_tier(key(0)) == "l3" and pool.buffer.peek_tier(key(3)) == "l1"


def test_a_plan_that_ranks_a_queued_job_lower_puts_it_lower(pool_factory) -> None:
    """Ranked first while the predictor knew nothing of the music, then last: it must not
    keep its first place. A miss the listener waits for keeps its place whatever a plan
    says."""
    pool, recorder = pool_factory()
    pool.pause()
    alike = ((key(0, "adaptive"), "l1", 0.05), (key(0, "gentle"), "l1", 0.05))
    pool.submit_plan(plan_of(*alike))
    pool.submit_plan(plan_of((key(0, "adaptive"), "l1", 0.035), (key(0, "gentle"), "l1", 0.046)))
    pool.resume()
    wait_for(lambda: len(recorder.rendered) == 2)
    assert recorder.rendered == [key(0, "gentle"), key(0, "adaptive")]


def test_a_plan_never_demotes_a_miss_being_waited_for(pool_factory) -> None:
    pool, recorder = pool_factory()
    pool.pause()
    pool.submit_plan(plan_of((key(1), "l1", 0.9)))
    hang = threading.Event()
    recorder.hang[key(1)] = hang  # the one thread is busy with it when the miss comes
    pool.resume()
    wait_for(lambda: key(1) in pool.running_keys())
    pool.request_now(key(0), "fp")
    pool.submit_plan(plan_of((key(1), "l1", 0.9), (key(2), "l1", 0.95), (key(0), "l3", 0.01)))
    hang.set()
    wait_for(lambda: len(recorder.rendered) == 3)
    assert recorder.rendered == [key(1), key(0), key(2)]


def test_duplicates_are_rendered_once_and_dropped_jobs_never(pool_factory) -> None:
    pool, recorder = pool_factory()
    pool.pause()
    pool.submit_plan(plan_of((key(0), "l1", 0.5), (key(1), "l2", 0.4)))
    pool.submit_plan(plan_of((key(0), "l1", 0.5), (key(1), "l2", 0.4)))
    assert pool.metrics().queue_depth == 2
    pool.submit_plan(plan_of((key(0), "l1", 0.5)))  # the plan moved on: key 1 is cancelled
    pool.resume()
    wait_for(lambda: pool.buffer.peek_tier(key(0)) == "l1")
    time.sleep(0.2)
    assert recorder.rendered == [key(0)]
    pool.submit_plan(plan_of((key(0), "l1", 0.5)))  # already there: nothing to do
    assert pool.metrics().queue_depth == 0


def test_a_lower_tier_copy_is_promoted_not_rerendered(pool_factory) -> None:
    pool, recorder = pool_factory()
    pool.submit_plan(plan_of((key(0), "l3", 0.1)))
    wait_for(lambda: pool.buffer.peek_tier(key(0)) == "l3")
    pool.submit_plan(plan_of((key(0), "l1", 0.9)))
    wait_for(lambda: pool.buffer.peek_tier(key(0)) == "l1")
    assert recorder.rendered == [key(0)]


def test_a_job_past_its_deadline_is_never_started(pool_factory) -> None:
    now = [100.0]
    pool, recorder = pool_factory(clock=lambda: now[0])
    pool.pause()
    pool.submit_plan(plan_of((key(0), "l1", 0.5)))
    now[0] += 60.0  # longer than any timeout
    pool.resume()
    wait_for(lambda: pool.metrics().timeouts == 1)
    assert recorder.rendered == [] and pool.buffer.peek_tier(key(0)) is None


def test_timeouts_stretch_to_the_measured_render_speed(pool_factory) -> None:
    """On a slow machine a render takes longer than the configured timeouts: they grow to
    a few renders' time, or every job would be abandoned."""
    now = [100.0]
    speed = RenderSpeed()
    speed.note("warm", 1.0, 4_410)  # 10x slower than real time
    pool, recorder = pool_factory(clock=lambda: now[0], speed=speed)
    pool.pause()
    pool.submit_plan(plan_of((key(0), "l1", 0.5)))
    now[0] += 60.0  # past the configured L1 timeout (5 s), within 4 renders of 3 s at 0.1x
    pool.resume()
    wait_for(lambda: pool.buffer.peek_tier(key(0)) == "l1")
    assert recorder.rendered == [key(0)] and pool.metrics().timeouts == 0


def test_urgent_renders_waiting_long_are_reported_behind(pool_factory) -> None:
    now = [100.0]
    pool, _recorder = pool_factory(clock=lambda: now[0])
    pool.pause()
    pool.submit_plan(plan_of((key(0), "l1", 0.5), (key(1), "l3", 0.1)))
    now[0] += 1.0
    assert pool.metrics().behind == 0
    now[0] += 1.5
    pool.submit_plan(plan_of((key(0), "l1", 0.6), (key(1), "l3", 0.1)))  # re-valued: same wait
    assert pool.metrics().behind == 1  # the L1 job; L3 read-ahead may wait
    pool.resume()
    wait_for(lambda: pool.buffer.peek_tier(key(0)) == "l1")
    assert pool.metrics().behind == 0


def test_a_render_finishing_past_its_deadline_is_abandoned(pool_factory, decoded) -> None:
    now = [100.0]
    pool, recorder = pool_factory(clock=lambda: now[0])
    slow = threading.Event()
    recorder.hang[key(0)] = slow
    pool.submit_plan(plan_of((key(0), "l3", 0.5)))
    wait_for(lambda: key(0) in pool.queued_keys() and pool.metrics().queue_depth == 0)
    now[0] += 19.0  # within the L3 timeout for the watchdog, then past it at completion
    time.sleep(0.3)
    now[0] += 5.0
    slow.set()
    wait_for(lambda: pool.metrics().abandoned + pool.metrics().timeouts >= 1)
    assert pool.buffer.peek_tier(key(0)) is None


def test_exceptions_are_counted_and_the_pool_goes_on(pool_factory) -> None:
    pool, recorder = pool_factory()
    recorder.fail.add(key(0))
    pool.submit_plan(plan_of((key(0), "l1", 0.9), (key(1), "l1", 0.5)))
    wait_for(lambda: pool.buffer.peek_tier(key(1)) == "l1")
    metrics = pool.metrics()
    assert metrics.failures == 1 and "render exploded" in metrics.last_error
    assert metrics.alive == metrics.threads


def test_a_stuck_render_is_abandoned_and_its_thread_replaced(pool_factory) -> None:
    # The timeout is wall time: the replacement's first render calibrates the preset
    # first, and on a loaded machine that took over a second, so it was abandoned too.
    config = EngineConfig(
        chunk_seconds=1.0, render_threads=1, render_timeouts_seconds=(3.0, 3.0, 3.0, 3.0)
    )
    pool, recorder = pool_factory(config)
    release = threading.Event()
    recorder.hang[key(0)] = release
    pool.submit_plan(plan_of((key(0), "l1", 0.9), (key(1), "l1", 0.5)))
    wait_for(lambda: pool.metrics().restarts == 1)

    def replanned_and_rendered() -> bool:  # the engine re-plans every 100 ms
        pool.submit_plan(plan_of((key(1), "l1", 0.5)))
        return pool.buffer.peek_tier(key(1)) == "l1"

    wait_for(replanned_and_rendered)  # the new thread carried on
    release.set()
    time.sleep(0.2)
    assert pool.buffer.peek_tier(key(0)) is None  # the stuck result is never inserted
    assert "stuck" in pool.metrics().last_error


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_thread_is_restarted_and_its_job_requeued(pool_factory) -> None:
    pool, recorder = pool_factory()
    recorder.kill_once.add(key(0))
    pool.submit_plan(plan_of((key(0), "l1", 0.9)))
    wait_for(lambda: pool.buffer.peek_tier(key(0)) == "l1")
    metrics = pool.metrics()
    assert metrics.restarts == 1 and metrics.alive == metrics.threads
    assert recorder.rendered == [key(0)]


def test_unknown_or_changed_tracks_are_not_rendered(pool_factory) -> None:
    pool, recorder = pool_factory()
    planned = PlannedChunk(key(0), "stale-fingerprint", "l1", 0.9, 0.9)
    pool.submit_plan(PlacementPlan((planned,), by_key={planned.key: planned}))
    time.sleep(0.3)
    assert recorder.rendered == [] and pool.buffer.peek_tier(key(0)) is None


def test_metrics_report_throughput_and_busy_time(pool_factory) -> None:
    pool, _recorder = pool_factory()
    pool.submit_plan(plan_of(*((key(i), "l2", 0.5 - i / 100) for i in range(6))))
    wait_for(lambda: pool.metrics().renders_total == 6)
    metrics = pool.metrics()
    assert metrics.renders_per_second > 0 and 0 < metrics.busy_percent <= 100
    assert metrics.queue_depth == 0 and metrics.threads == metrics.alive == 1


@pytest.mark.parametrize("priority", ["planned", "immediate"])
def test_a_render_running_when_its_file_changes_is_never_stored_or_served(
    pool_factory, priority: str
) -> None:
    """The file check drops a changed or deleted track's renders while one is still being
    rendered: that render must not land in the cache afterwards (it would be served as
    the file's audio), nor be handed to the feeder."""
    pool, recorder = pool_factory()
    release = threading.Event()
    recorder.hang[key(0)] = release
    if priority == "immediate":
        job = pool.request_now(key(0), "fp")
    else:
        pool.submit_plan(plan_of((key(0), "l1", 0.5)))
    wait_for(lambda: pool.running_count() == 1)
    pool.buffer.invalidate_track("t", "fp")  # the file changed while it rendered
    release.set()
    wait_for(lambda: pool.running_count() == 0)
    assert pool.buffer.peek_tier(key(0)) is None
    assert not pool.buffer.lookup(key(0), "fp", "playback").hit
    if priority == "immediate":
        assert job.done.is_set() and job.audio is None and not job.succeeded
    # The file's new version renders and is kept as usual.
    assert pool.buffer.store(key(0), np.zeros((4, 2), np.float32), "fp-new", "l1", 1.0)


class GatedChain:
    """A preset chain whose first window waits for the test: a calibration caught midway."""

    def __init__(self, chain: PresetChain, entered: threading.Event, release: threading.Event):
        self._chain, self._entered, self._release = chain, entered, release
        self.windows = 0

    def process(self, planar: np.ndarray, sample_rate: int) -> np.ndarray:
        self.windows += 1
        self._entered.set()
        self._release.wait(10)
        return self._chain.process(planar, sample_rate)


def test_a_closing_pool_gives_up_a_calibration_between_windows(tmp_path: Path) -> None:
    """A thread still in the plugin chain when the interpreter exits aborts the process:
    the pool's close must find its threads out of a calibration, which is many windows."""
    long_track = TrackSource(probe(write_tone(tmp_path / "long.wav", seconds=60.0), 44_100), 44_100)
    entered, release = threading.Event(), threading.Event()
    chains: list[GatedChain] = []

    class GatedRenderer(Renderer):
        def _chain(self, source: TrackSource, preset: Preset) -> GatedChain:  # type: ignore[override]
            chains.append(GatedChain(super()._chain(source, preset), entered, release))
            return chains[-1]

    renderers: list[Renderer] = []

    def make_renderer() -> Renderer:
        renderers.append(GatedRenderer(CONFIG))
        return renderers[-1]

    pool = RenderWorkerPool(
        CONFIG,
        MultiTierBuffer.from_megabytes(18, 36, 45),
        lambda _id, fp: long_track if fp == "fp" else None,
        make_renderer,
    )
    job = pool.request_now(key(0), "fp")  # a first render of "warm" calibrates it first
    wait_for(entered.is_set)
    pool.stop()
    release.set()
    pool.close()
    assert [chain.windows for chain in chains] == [1]  # no window after the stop
    assert job.done.is_set() and not job.succeeded and pool.failures == 0
    assert not renderers[0].is_prepared(long_track, "warm")
    assert all(not slot.thread.is_alive() for slot in pool._slots)
