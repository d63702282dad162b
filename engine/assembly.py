"""How the engine's parts are made and connected: the one place that knows them all.

`assemble` builds every part in the order each needs the others, and `upkeep` schedules
their background work on the maintenance loop. `Engine` (the facade) calls both and then
only delegates; `LiveViews` reads the parts for the screen and the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from engine.cache.buffer import MultiTierBuffer
from engine.cache.pressure import MemoryPressure
from engine.cache.worker import RenderFunction, RenderWorkerPool
from engine.config import EngineConfig
from engine.dsp.calibrations import LoudnessCalibrations
from engine.dsp.render import Renderer
from engine.dsp.render_speed import RenderSpeed
from engine.library.analysis_pass import AnalysisPass
from engine.library.chunk_features import ChunkFeatureIndex
from engine.library.file_watch import FileWatch
from engine.library.folder_watch import LibraryWatch
from engine.library.index import LibraryIndex
from engine.library.playlist import Playlist
from engine.library.track_store import TrackStore
from engine.maintenance import MaintenanceLoop
from engine.observe.error_log import ErrorLog
from engine.observe.journal import Journal
from engine.observe.memory import MemoryMonitor, MemoryReading, give_back_free_memory
from engine.observe.problems import WorkerProblems
from engine.persist.recording import CommandRecording
from engine.persist.settings import ListenerSettings
from engine.persist.state import StateStore
from engine.playback.feed import PresetFeed
from engine.playback.player import Player
from engine.playback.queue import PlayQueue
from engine.playback.sinks.output import Sink, make_sink
from engine.playback.transport import Transport
from engine.prediction.interaction import InteractionFilter
from engine.prediction.planner import BufferPlanner
from engine.prediction.predict import PresetPredictor
from engine.prediction.preparation import TrackPreparation
from engine.prediction.replanner import Replanner
from engine.presets.book import PresetBook
from engine.vocabulary import BYPASS

FILE_CHECK_SECONDS = 2.0
"""How often the playing and the next track's files are checked for changes on disk."""
HELD_SEEK_POLL_SECONDS = 0.02
"""The loop's tick while a seek is held, so it is applied as soon as its window ends."""
QUIET_TICKS = 4
"""While no switch or seek is in flight, nothing renders and no track change is written
ahead of the one heard, the loop ticks this many plan intervals apart (1 s by default). A
command plans at once on its own thread or wakes the loop (a seek, a track change), and
the player wakes it when it writes the next track, so a short track cannot pass between
two ticks unheard; only the chunk boundaries' plans wait, and the chunk after the playhead
is rendered long before the playhead reaches it. At four ticks a second the loop was a
third of the engine's CPU while listening steady."""
MEMORY_CHECK_SECONDS = 1.0
"""How often memory is read and the pressure level followed. Since no track is held whole
nothing grows in a second; twice a second was a tenth of the upkeep thread's CPU."""


@dataclass(frozen=True)
class Parts:
    """Every part of one engine, connected."""

    config: EngineConfig
    sink: Sink
    journal: Journal
    errors: ErrorLog
    """Every failure, counted; told in the message log once, then now and then."""
    notices: ErrorLog
    """Routine lines a storm of commands repeats (clear, memory levels): the same counting,
    so they cannot push everything else out of the message log."""
    playlist: Playlist
    queue: PlayQueue
    index: LibraryIndex
    library_watch: LibraryWatch
    store: TrackStore
    analyses: AnalysisPass
    calibrations: LoudnessCalibrations
    presets: PresetBook
    buffer: MultiTierBuffer
    workers: RenderWorkerPool
    files: FileWatch
    feed: PresetFeed
    player: Player
    predictor: PresetPredictor
    state: StateStore
    settings: ListenerSettings
    filter: InteractionFilter
    planner: BufferPlanner
    memory: MemoryMonitor
    preparation: TrackPreparation
    replanner: Replanner
    transport: Transport
    recording: CommandRecording


def assemble(
    config: EngineConfig,
    sink: str | Sink,
    device: str | int | None,
    memory_reader: Callable[[], MemoryReading],
    render: RenderFunction,
    clock: Callable[[], float],
    gestures: Callable[[], float],
) -> Parts:
    """The parts, with the settings and the model of the last session restored. The sink's
    sample rate wins over the configured one. `gestures` times the listener's commands."""
    output = make_sink(config, sink, device)
    if output.sample_rate != config.sample_rate:
        config = EngineConfig(**{**config.__dict__, "sample_rate": output.sample_rate})
    rate = config.sample_rate
    journal = Journal(clock, rate)
    errors = ErrorLog(journal.log, clock)
    ended: list[FileWatch] = []  # the store reports a file's real end to the watch below
    store = TrackStore(
        rate, int(config.source_cache_mb * 1e6), on_end=lambda *end: ended[0].track_ended(*end)
    )
    analyses = AnalysisPass(rate, config.chunk_frames)
    calibrations = LoudnessCalibrations(
        kept_samples=config.kept_samples, whole_loudness=analyses.whole_loudness
    )
    budgets = (config.l1_budget_mb, config.l2_budget_mb, config.l3_budget_mb)
    buffer = MultiTierBuffer.from_megabytes(*budgets, on_lookup=partial(journal.publish, "lookup"))
    presets = PresetBook(rate, config.presets_file)
    speed = RenderSpeed()
    renderer = partial(Renderer, config, calibrations, presets, speed)
    workers = RenderWorkerPool(
        config, buffer, store.resolve, renderer, render=render, clock=clock, speed=speed
    )
    playlist = Playlist()
    queue = PlayQueue(playlist)
    files = FileWatch(rate, playlist, queue, store, buffer, workers, calibrations, errors, journal)
    ended.append(files)
    feed = PresetFeed(config, buffer, workers, store, clock, journal.served, renderer)
    player = Player(output, feed.read, files.track_failed, config.ring_seconds, feed, queue)
    feed.lead = player.lead_seconds
    predictor = PresetPredictor(
        presets.order, clock, prior_switch_probability=config.switch_probability_per_chunk
    )
    state = StateStore(config.state_dir)
    settings = ListenerSettings(
        config, state, predictor, presets, feed, player, queue, errors, clock
    )
    filter = InteractionFilter(settings.restore(journal.log) or BYPASS, gestures)
    features = ChunkFeatureIndex(store, analyses)
    planner = BufferPlanner(config, predictor, filter, features, settings.bucket_of)
    memory = MemoryMonitor(int(config.memory_limit_mb * 1e6), memory_reader)
    preparation = TrackPreparation(
        config.loudness_mode,
        queue,
        store,
        buffer,
        workers,
        calibrations,
        analyses,
        journal,
        requested=lambda: feed.requested.preset,
    )
    index = LibraryIndex.in_cache_dir(rate, config.cache_dir)
    library_watch = LibraryWatch(
        rate, playlist, store, index, files, errors, journal.log, config.library_watch_debounce_ms
    )
    return Parts(
        config=config,
        sink=output,
        journal=journal,
        errors=errors,
        notices=ErrorLog(journal.log, clock),
        playlist=playlist,
        queue=queue,
        index=index,
        library_watch=library_watch,
        store=store,
        analyses=analyses,
        calibrations=calibrations,
        presets=presets,
        buffer=buffer,
        workers=workers,
        files=files,
        feed=feed,
        player=player,
        predictor=predictor,
        state=state,
        settings=settings,
        filter=filter,
        planner=planner,
        memory=memory,
        preparation=preparation,
        replanner=Replanner(
            config, planner, preparation, playlist, queue, buffer, workers, memory, feed, player
        ),
        transport=Transport(filter, planner, feed, player, queue, journal.log),
        recording=CommandRecording(gestures, errors),
    )


def upkeep(parts: Parts, clock: Callable[[], float]) -> MaintenanceLoop:
    """The maintenance loop with the parts' background work, in the order a tick runs it."""
    p = parts

    def tick_seconds() -> float:
        if p.transport.seek_held():
            return HELD_SEEK_POLL_SECONDS
        interval = p.config.plan_interval_seconds
        quiet = not p.feed.busy() and p.workers.idle() and not p.player.change_ahead()
        return QUIET_TICKS * interval if quiet else interval

    def report_output_events() -> None:
        for event in p.sink.events.take():
            p.errors.report("output", event, event)

    every = p.config.problem_report_seconds
    problems = WorkerProblems(p.workers, p.buffer, p.errors, every)
    pressure = MemoryPressure(p.memory, p.buffer, p.workers, p.notices)
    loop = MaintenanceLoop(tick_seconds, clock, p.errors, flushed=(p.errors, p.notices))
    p.player.on_track_written = loop.wake  # a short track must not pass between two ticks
    loop.every_tick(
        p.transport.follow_interactions, p.transport.follow_track, p.replanner.replan_when_due
    )
    loop.every(MEMORY_CHECK_SECONDS, pressure.follow, clock=time.monotonic)
    loop.every_tick(
        report_output_events,
        problems.report,
        partial(p.files.follow_track_ends, p.player),
        p.preparation.refine,
        p.replanner.install_recalibrations,
    )
    loop.every(FILE_CHECK_SECONDS, partial(p.files.check, p.player), give_back_free_memory)
    loop.every_tick(partial(p.library_watch.apply, p.player))
    loop.every_tick(p.settings.save_when_due)
    return loop
