"""`Engine`: the one facade the TUI, the CLI, benchmarks and tests use.

It wires the parts together: the library and decoded-track store, the multi-tier buffer
and its render workers, the predictor, the feed that plays the active preset, the player
and the sink. A maintenance thread keeps the placement plan on the playhead (10 Hz), follows
memory pressure and notices files that changed on disk.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from engine.cache.buffer import MultiTierBuffer
from engine.cache.worker import RenderFunction, RenderWorkerPool, WorkerMetrics, render_key
from engine.config import EngineConfig
from engine.dsp.calibrations import LoudnessCalibrations
from engine.dsp.render import Renderer, chunk_count
from engine.errors import TierplayError, TrackError, UnknownPreset
from engine.library.analysis_pass import AnalysisPass
from engine.library.chunk_features import ChunkFeatureIndex
from engine.library.scan import ScanProgress, SkippedFile, open_library, probe
from engine.library.track_store import TrackStore
from engine.library.tracks import Track, fingerprint_file
from engine.observe.error_log import REPEAT_SECONDS, ErrorLog
from engine.observe.events import SUBSCRIPTION_CAPACITY, EventStream, Subscription
from engine.observe.memory import (
    MemoryMonitor,
    MemoryReading,
    give_back_free_memory,
    read_memory,
)
from engine.observe.monitor import (
    METER_FRAMES,
    MonitorSnapshot,
    TierLine,
    cache_map,
    latency_lines,
    output_levels,
)
from engine.observe.snapshot import EngineSnapshot
from engine.observe.views import (
    LatencyBook,
    check_view,
    contents_view,
    health_view,
    predictions_view,
    stats_view,
)
from engine.persist.recording import CommandRecording
from engine.persist.state import StateStore
from engine.playback.feed import PresetFeed, ServedRequest
from engine.playback.player import Player
from engine.playback.sinks.output import Sink, make_sink
from engine.prediction.interaction import InteractionFilter
from engine.prediction.placement import TrackPosition
from engine.prediction.planner import BufferPlanner, Whereabouts
from engine.prediction.predict import PresetPredictor
from engine.vocabulary import BYPASS, MB, PRESET_ORDER, PROCESSED_PRESETS, TierName

FILE_CHECK_SECONDS = 2.0
STATE_SAVE_SECONDS = 30.0
"""How often a changed model and settings are written (and always on close)."""
HELD_SEEK_POLL_SECONDS = 0.02
MEMORY_CHECK_SECONDS = 0.5
PLAN_REFRESH_SECONDS = 1.0
"""How often the loop plans again when nothing it plans from has changed (the chunk
playing, the setting asked for, the cache's contents, the memory level): the plan's values
then drift only with the position inside the chunk."""
UNTOLD_SHORTFALL_SECONDS = 0.5
"""A file shorter than its header by less than this is corrected without a word: Ogg
headers often promise a few frames more than decode."""
STATE_REPEAT_SECONDS = 300.0
"""A save that keeps failing (read-only folder, full disk) is retold this rarely."""
PROBLEM_REPORT_SECONDS = REPEAT_SECONDS
"""At most one log line per this many seconds for repeated render and cache failures: a
failing track fails every render, and one line each would bury the rest of the log."""
PROBLEM_NAMES = ("failed", "timed out", "thread restarts", "corrupt cached chunks dropped")
NEIGHBOUR_PRESETS = 2
"""Likeliest switch targets calibrated ahead on the neighbouring tracks."""
REFINE_MISS_LU = 0.3
"""A track whose sample read its loudness this close is not recalibrated once analysed: a
preset then drifts by at most 0.7 x 0.3 = 0.2 LU (its slope is 0.3 to 1), and half of the
real tracks measured need no recalibration renders at all."""


class Engine:
    """Owns every part; every public method is thread-safe and returns quickly."""

    def __init__(
        self,
        config: EngineConfig | None = None,
        sink: str | Sink = "auto",
        device: str | int | None = None,
        memory_reader: Callable[[], MemoryReading] = read_memory,
        render: RenderFunction = render_key,
        clock: Callable[[], float] = time.monotonic,
        interaction_clock: Callable[[], float] | None = None,
    ) -> None:
        """`interaction_clock` times the listener's gestures (throttle, debounce): a replay
        faster than real time passes a clock scaled to the music."""
        config = config or EngineConfig()
        self.sink = make_sink(config, sink, device)
        if self.sink.sample_rate != config.sample_rate:  # the device's rate wins
            config = EngineConfig(**{**config.__dict__, "sample_rate": self.sink.sample_rate})
        self.config = config
        self._clock = clock
        self._neighbour_tracks: list[Track] = []
        self._playing_track: Track | None = None
        self._asked_on_track: frozenset[str] = frozenset()
        """Presets asked for since the track began (replaced whole: read on another thread)."""
        self._refined: set[str] = set()
        """Tracks (fingerprints) whose calibrations were refined by their whole loudness."""
        self._recalibrated: queue.SimpleQueue[tuple[Track, str, float]] = queue.SimpleQueue()
        """Gains recalibrated by the workers, waiting to be put in use."""
        self._planned_inputs: tuple[object, ...] = ()
        self._planned_at = -math.inf
        self._lock = threading.Lock()
        self._tracks: list[Track] = []
        self._skipped: list[SkippedFile] = []
        self._messages: deque[str] = deque(maxlen=200)
        self._message_count = 0
        self.errors = ErrorLog(self.log, clock)
        """Every failure, counted; told in the message log once, then now and then."""
        self._notices = ErrorLog(self.log, clock)
        """Routine lines a storm of commands repeats (clear, memory levels): the same
        counting, so they cannot push everything else out of the message log."""
        self._switches: deque[ServedRequest] = deque(maxlen=2000)
        self._seeks: deque[ServedRequest] = deque(maxlen=2000)
        self.latencies = LatencyBook()
        self._intensity = 1.0
        self._switch_commands = 0
        self._worker_problems = (0, 0, 0, 0)
        self._last_problem_report: float | None = None
        self._settings_lock = threading.Lock()
        """Guards the mute and the unsaved-settings mark: the UI thread sets them, the
        maintenance thread saves them."""
        self._muted_volume: float | None = None
        self._gone: set[str] = set()
        self.events = EventStream()
        """What happened, for `subscribe` (the API's /api/events, tests, tools)."""
        self._failed_reads: queue.SimpleQueue[Track] = queue.SimpleQueue()
        """Tracks the player could not read (feeder -> maintenance): checked on disk at the
        next file check even if playback has moved past them."""
        self._ended: queue.SimpleQueue[tuple[Track, int, str]] = queue.SimpleQueue()
        self.store = TrackStore(
            config.sample_rate,
            int(config.source_cache_mb * 1_000_000),
            on_end=lambda track, frames, why: self._ended.put((track, frames, why)),
        )
        self.buffer = MultiTierBuffer.from_megabytes(
            config.l1_budget_mb, config.l2_budget_mb, config.l3_budget_mb
        )
        calibrations = LoudnessCalibrations(
            kept_samples=config.kept_samples, whole_loudness=self._whole_loudness
        )
        self.calibrations = calibrations
        self.analyses = AnalysisPass(config.sample_rate, config.chunk_frames)
        self._chunk_features = ChunkFeatureIndex(self.store, self.analyses)
        self.workers = RenderWorkerPool(
            config,
            self.buffer,
            self._resolve_for_render,
            lambda: Renderer(config, calibrations),
            render=render,
            clock=clock,
        )
        self.predictor = PresetPredictor(
            clock=clock, prior_switch_probability=config.switch_probability_per_chunk
        )
        self._interaction_clock = interaction_clock or clock
        self.filter = InteractionFilter(BYPASS, self._interaction_clock)
        self.planner = BufferPlanner(config, self.predictor, self.filter, self._chunk_features)
        self.state = StateStore(config.state_dir)
        self._state_dirty = False
        """Settings changed since the last save (the model has its own revision)."""
        self._saved_revision = 0
        self._last_save = clock()
        self._recording = CommandRecording(self._interaction_clock, self.errors)
        self.memory = MemoryMonitor(int(config.memory_limit_mb * 1_000_000), memory_reader)
        self.feed = PresetFeed(
            config,
            self.buffer,
            self.workers,
            self.store,
            clock,
            self._served,
            renderer_factory=lambda: Renderer(config, calibrations),
        )
        self.player = Player(
            self.sink,
            self.feed.read,
            self._on_track_error,
            ring_seconds=config.ring_seconds,
            switch_hook=self.feed,
        )
        self._restore_state()
        self._stop = threading.Event()
        self._last_file_check = 0.0
        self._last_memory_check = 0.0
        self._maintenance = threading.Thread(target=self._maintain, name="engine", daemon=True)
        self.sink.start()
        self._maintenance.start()

    # -- library --------------------------------------------------------------------------
    def open(
        self, paths: Iterable[str | Path], progress: ScanProgress | None = None
    ) -> list[Track]:
        """Scan and probe `paths` (headers only); `progress(done, total)` follows a long scan.
        Skipped files go to the error log, which tells the first few one by one and sums
        the rest in one line: thousands of broken files must not flood the event log."""
        paths = list(paths)
        self._record("open", paths=[str(p) for p in paths])
        tracks, skipped = open_library(paths, self.config.sample_rate, progress)
        with self._lock:
            self._tracks = tracks
        for item in skipped:
            self._skip(item)
        self.errors.flush(force=True)  # the sum of what was not told, now, not in 5 s
        self.store.set_library(tracks)
        self.player.set_tracks(tracks)
        if tracks:  # its sample and first preset are measured before play is pressed
            self._prepare(tracks[0])
        return list(tracks)

    def tracks(self) -> list[Track]:
        with self._lock:
            return list(self._tracks)

    def _whole_loudness(self, content_key: str) -> float | None:
        """The streaming analysis's integrated loudness, once it has read the whole track."""
        found = self.analyses.result(content_key)
        return found.loudness_lufs if found is not None and found.complete else None

    def _resolve_for_render(self, track_id: str, fingerprint: str) -> Any:
        try:
            return self.store.resolve(track_id, fingerprint)
        except TrackError:
            return None

    def _on_track_error(self, track: Track, error: Exception) -> None:
        reason = error.reason if isinstance(error, TrackError) else f"playback failed ({error})"
        self._skip(SkippedFile(track.path, reason))
        self._failed_reads.put(track)

    def _skip(self, item: SkippedFile, message: str | None = None) -> None:
        """A file that cannot be played: counted in the error log, listed once."""
        text = message or f"skipped {item.path.name}: {item.reason}"
        if self.errors.report("track", str(item.path), text):
            with self._lock:
                self._skipped.append(item)

    def _log(self, message: str) -> None:
        """Record a message for the UI and the subscribers; the caller holds the lock, so
        lines are published in the order they are logged."""
        self._messages.append(message)
        self._message_count += 1
        self.events.publish("log", self._clock(), message)

    def log(self, message: str) -> None:
        with self._lock:
            self._log(message)

    # -- transport ------------------------------------------------------------------------
    def play(self) -> None:
        self._record("play")
        self.feed.playback_starting()
        self.player.play()

    def pause(self) -> None:
        self._record("pause")
        self.player.pause()

    def seek(self, seconds: float) -> None:
        """Seek now, or (inside 100 ms of the last seek) hold the target and apply the
        latest one when the throttle window ends: a held seek key never floods the feeder,
        and its last position is never lost."""
        if seconds != seconds:  # NaN
            raise TierplayError("a seek position must be a number")
        self._record("seek", position=max(0.0, float(seconds)))
        with self._lock:
            self._seek_filtered(seconds)

    def _seek_filtered(self, seconds: float) -> None:
        """The caller holds `_lock`, so a held target the maintenance thread releases is on
        the player before anyone reads the position again."""
        target = self.filter.position(max(0.0, float(seconds)))
        if target is not None:
            self._apply_seek(target)

    def _apply_seek(self, seconds: float) -> None:
        self.feed.note_seek()
        self.player.seek(seconds)

    def seek_relative(self, delta: float) -> None:
        """Relative to a held seek target when there is one, so every step of a held key
        counts."""
        if delta != delta:  # NaN
            raise TierplayError("a seek step must be a number")
        self._record("seek_relative", delta=float(delta))
        # Under the lock: a held target released between reading the base and applying it
        # would otherwise be read as the old position, and the steps it carried lost.
        with self._lock:
            base = self.filter.pending_position()
            if base is None:
                _track, base = self.player.position()
            self._seek_filtered(base + delta)

    def next_track(self) -> None:
        self._record("next")
        self._change_track(+1)

    def prev_track(self) -> None:
        self._record("prev")
        self._change_track(-1)

    def _change_track(self, step: int) -> None:
        """Track changes bypass the filter; switches settled on the old track are learned
        with its music first."""
        # Under the lock, so a held seek released just before the change cannot land in
        # the new track after it.
        with self._lock:
            self.planner.track_changing()
            self.feed.note_seek()
            self.player.skip(step)

    def set_volume(self, volume: float) -> None:
        if volume != volume:  # NaN
            raise TierplayError("volume must be a number between 0 and 1")
        self._record("volume", value=min(max(float(volume), 0.0), 1.0))
        with self._settings_lock:
            self._muted_volume = None
            self.player.set_volume(volume)
            self._state_dirty = True

    def toggle_mute(self) -> bool:
        """Mute (remembering the volume) or unmute; returns True when now muted."""
        with self._settings_lock:
            if self._muted_volume is None:
                self._muted_volume = self.player.volume
                self.player.set_volume(0.0)
                return True
            self.player.set_volume(self._muted_volume)
            self._muted_volume = None
            return False

    def set_preset(self, name: str) -> None:
        """Applied at once, never dropped; the predictor learns it once it has settled."""
        if name not in PRESET_ORDER:
            raise UnknownPreset(name, PRESET_ORDER)
        self._record("preset", preset=name)
        previous = self.feed.requested.preset
        self._asked_on_track = self._asked_on_track | {name}
        self.feed.request(name, self.feed.requested.bucket)
        self.player.wake()
        self.planner.preset_chosen(name, self._whereabouts())
        if name != previous:
            with self._lock:
                self._switch_commands += 1
            self._mark_settings_changed()
        self._replan()

    def set_intensity(self, value: float) -> None:
        if value != value:  # NaN
            raise TierplayError("intensity must be a number between 0 and 1")
        with self._lock:
            self._intensity = min(max(float(value), 0.0), 1.0)
        self._record("intensity", value=self._intensity)
        self.feed.request(self.feed.requested.preset, self.config.intensity_bucket(value))
        self.player.wake()
        self.planner.intensity_chosen(value)
        self._mark_settings_changed()
        self._replan()

    # -- the maintenance loop -------------------------------------------------------------
    def _maintain(self) -> None:
        while not self._stop.wait(self._maintenance_interval()):
            try:
                self._follow_interactions()
                self._replan_when_due()
                self._follow_memory()
                self._report_output_events()
                self._report_worker_problems()
                self._follow_track_ends()
                self._refine_calibrations()
                self._install_recalibrations()
                if self._clock() - self._last_file_check > FILE_CHECK_SECONDS:
                    self._last_file_check = self._clock()
                    self._check_files()
                    give_back_free_memory()
                if self._clock() - self._last_save > STATE_SAVE_SECONDS:
                    self.save_state()
            except Exception as error:  # noqa: BLE001 - the loop must outlive any one failure
                name = type(error).__name__
                self.errors.report("engine", name, f"engine maintenance failed: {name}: {error}")
            self.errors.flush()
            self._notices.flush()

    def _maintenance_interval(self) -> float:
        """Fast while a seek is held, so it is applied as soon as its window ends."""
        if self.filter.pending_position() is not None:
            return HELD_SEEK_POLL_SECONDS
        return self.config.plan_interval_seconds

    def _follow_interactions(self) -> None:
        """Apply a held seek whose window has passed, learn settled switches, log events."""
        with self._lock:  # released and applied in one step: see `seek_relative`
            held = self.filter.due_position()
            if held is not None:
                self._apply_seek(held)
        self.planner.learn_settled()
        for event in self.filter.drain_events():
            if event.kind != "learned":
                self.log(f"{event.kind.replace('_', ' ')}: {event.message}")

    def _whereabouts(self) -> Whereabouts | None:
        track, position = self.player.position()
        if track is None:
            return None
        return Whereabouts(self._position_of(track), position, self._next_track_position(track))

    def _plan_inputs(self, where: Whereabouts) -> tuple[object, ...]:
        """What a new plan would differ by, beyond the position inside the chunk."""
        chunk = int(where.position_seconds / self.config.chunk_seconds)
        next_id = where.next_track.track_id if where.next_track is not None else None
        return (
            where.track.track_id,
            chunk,
            next_id,
            self.feed.requested,
            self.buffer.total_bytes(),
            self.memory.level,
        )

    def _replan_when_due(self) -> None:
        """The loop's plan: at once when an input changed, else every PLAN_REFRESH_SECONDS."""
        where = self._whereabouts()
        if where is None:
            return
        inputs = self._plan_inputs(where)
        fresh = time.monotonic() - self._planned_at < PLAN_REFRESH_SECONDS
        if inputs != self._planned_inputs or not fresh:
            self._replan(where, inputs)

    def _replan(
        self, where: Whereabouts | None = None, inputs: tuple[object, ...] | None = None
    ) -> None:
        """Plan from where the playhead is, re-value the tiers, and queue the renders."""
        where = where or self._whereabouts()
        if where is None:
            return
        self._planned_inputs = self._plan_inputs(where) if inputs is None else inputs
        self._planned_at = time.monotonic()
        requested = self.feed.requested
        plan, new_track = self.planner.plan(
            where,
            requested.preset,
            requested.bucket,
            self.buffer.estimated_chunk_bytes(self.config.chunk_frames),
            {name: tier.budget_bytes for name, tier in self.buffer.tiers.items()},
        )
        if new_track:
            track = self.store.track(where.track.track_id)
            if track is not None:
                self._prepare(track)
        self.buffer.apply_plan(plan)
        self.workers.submit_plan(plan)

    def _listening_features(self) -> tuple[float, ...] | None:
        where = self._whereabouts()
        return self.planner.listening_features(where) if where is not None else None

    def _chunk_total(self, track: Track) -> int:
        return chunk_count(track.frames, self.config.chunk_frames)

    def _prepare(self, track: Track) -> None:
        """A new current track: its sample and the preset playing first, ahead of every
        render; the other presets in the background (a chunk's render calibrates its preset
        if it gets there first). The neighbours' samples and likeliest presets next, so a
        skip or the next track starts with nothing left to measure; and the streaming
        analysis of all of them."""
        requested = self.feed.requested.preset
        self._playing_track = track
        self.events.publish("track", self._clock(), track)
        self._asked_on_track = frozenset({requested})
        likely = self._likely_presets()
        self.workers.prepare_track(track.id, track.fingerprint, (BYPASS, requested))
        self.workers.prepare_track(track.id, track.fingerprint, likely, TierName.L3)
        self.analyses.request(self.store.get(track), urgent=True)
        ahead = (BYPASS, requested, *likely[:NEIGHBOUR_PRESETS])
        neighbours = self._neighbours(track)
        for neighbour in neighbours:
            self.workers.prepare_track(neighbour.id, neighbour.fingerprint, ahead, TierName.L2)
            self.analyses.request(self.store.get(neighbour))
        self._neighbour_tracks = neighbours

    def _refine_calibrations(self) -> None:
        """The track playing and its neighbours were calibrated from their samples alone,
        so that they start at once: once a track's whole loudness is known, its presets not
        asked for on it yet are calibrated again in the background, to match over the whole
        track (see `_install_recalibrations`)."""
        playing = self._playing_track
        for track in [playing, *self._neighbour_tracks] if playing is not None else []:
            if track.fingerprint in self._refined:
                continue
            whole = self._whole_loudness(track.fingerprint)
            if whole is None:
                continue
            self._refined.add(track.fingerprint)
            summary = self.calibrations.summary(track.fingerprint)
            if summary is not None and abs(whole - summary.loudness_lufs) < REFINE_MISS_LU:
                continue
            asked = self._asked_on_track if track is playing else frozenset()
            redo = [
                p
                for p in self.calibrations.provisional_presets(track.fingerprint)
                if p not in asked
            ]
            self.workers.recalibrate_track(
                track.id, track.fingerprint, redo, partial(self._deliver_gain, track)
            )

    def _deliver_gain(self, track: Track, preset: str, gain: float) -> None:
        self._recalibrated.put((track, preset, gain))

    def _install_recalibrations(self) -> None:
        """Put the gains recalibrated against the whole track in use, each with its
        chunks dropped at once (no render waits for a calibration), unless the preset was
        asked for on the playing track meanwhile: it was heard, it keeps its gain."""
        installed = False
        while True:
            try:
                track, preset, gain = self._recalibrated.get_nowait()
            except queue.Empty:
                break
            playing = self._playing_track is not None and self._playing_track.id == track.id
            if playing and preset in self._asked_on_track:
                continue
            mode = self.config.loudness_mode
            self.calibrations.install(track.fingerprint, preset, mode, gain)
            dropped = self.buffer.drop_presets(track.id, [preset])
            self._invalidated(track.id, f"{preset} recalibrated", dropped)
            installed = True
        if installed:
            self._replan()

    def _likely_presets(self) -> tuple[str, ...]:
        """The processed presets, likeliest switch targets first."""
        likely = [p["preset"] for p in self.predictions()["predictions"]]
        return tuple(p for p in dict.fromkeys([*likely, *PROCESSED_PRESETS]) if p != BYPASS)

    def _neighbours(self, track: Track) -> list[Track]:
        """The next two tracks and the previous one: where a skip or a long seek lands."""
        with self._lock:
            if track not in self._tracks:
                return []
            index = self._tracks.index(track)
            picks = [index + 1, index + 2, index - 1]
            return [self._tracks[i] for i in picks if 0 <= i < len(self._tracks) and i != index]

    def wait_until_prepared(self, timeout: float = 30.0) -> bool:
        """Block until the current track's presets are calibrated (benchmarks, tests)."""
        deadline = time.monotonic() + timeout
        renderer = self.feed.renderer
        while time.monotonic() < deadline:
            track, _position = self.player.position()
            if track is not None and renderer is not None:
                source = self.store.get(track)
                if all(renderer.is_prepared(source, p) for p in PRESET_ORDER):
                    return True
            time.sleep(0.05)
        return False

    def _position_of(self, track: Track) -> TrackPosition:
        return TrackPosition(
            track.id, track.fingerprint, chunk_count(track.frames, self.config.chunk_frames)
        )

    def _next_track_position(self, track: Track) -> TrackPosition | None:
        with self._lock:
            if track not in self._tracks:
                return None
            index = self._tracks.index(track)
            if index + 1 >= len(self._tracks):
                return None
            return self._position_of(self._tracks[index + 1])

    def _follow_memory(self) -> None:
        """Read the player's memory at most every MEMORY_CHECK_SECONDS: a reading walks
        the process table for the audio process (1.5% of a core at the plan's 10 Hz)."""
        now = time.monotonic()
        if now - self._last_memory_check < MEMORY_CHECK_SECONDS:
            return
        self._last_memory_check = now
        before = self.memory.level
        level = self.memory.update()
        if level == before:
            return
        evicted = self.buffer.resize(self.memory.budgets(self.buffer.configured_bytes))
        if self.memory.worker_paused:
            self.workers.pause()
        else:
            self.workers.resume()
        name = self.memory.level_name
        self._notices.report(
            "memory", name, f"memory pressure {name}: budgets resized, {evicted} evicted"
        )

    def _report_output_events(self) -> None:
        for event in self.sink.events.take():
            self.errors.report("output", event, event)

    def _check_files(self) -> None:
        """A track modified or deleted on disk: drop its renders; never serve stale audio."""
        track, _position = self.player.position()
        following = self._next_track_position(track) if track is not None else None
        watched = {track.id} if track is not None else set()
        if following is not None:
            watched.add(following.track_id)
        while True:  # a file the player skipped may be behind the playhead by now
            try:
                watched.add(self._failed_reads.get_nowait().id)
            except queue.Empty:
                break
        candidates = {t.id: t for t in self.tracks() if t.id in watched}
        for item in candidates.values():
            try:
                current = fingerprint_file(item.path)
            except OSError:
                current = ""
            if current == item.fingerprint:
                continue
            dropped = self.buffer.invalidate_track(item.id, item.fingerprint)
            self._invalidated(item.id, "file changed on disk", dropped)
            self.workers.cancel_track(item.id)
            self.calibrations.forget_track(item.fingerprint)
            self.store.forget(item.id)
            self._reload(item)
        for gone in list(self._gone):  # a render or read that was running may have landed
            self.buffer.invalidate_track(gone)
            self.store.forget(gone)

    def _follow_track_ends(self) -> None:
        """A file that decodes shorter than its header said: its length becomes what
        decodes, so playback moves on at its real end; told once per file."""
        while True:
            try:
                track, frames, why = self._ended.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                stale = next((t for t in self._tracks if t.id == track.id), None)
            if stale is None or stale.fingerprint != track.fingerprint or stale.frames <= frames:
                continue
            rate = self.config.sample_rate
            note = f"truncated: {frames / rate:.1f} s of {stale.duration_seconds:.1f} s playable"
            fresh = replace(
                stale,
                frames=frames,
                duration_seconds=frames / rate,
                warnings=(*stale.warnings, f"{note} ({why})"),
            )
            with self._lock:
                self._tracks = [fresh if t.id == stale.id else t for t in self._tracks]
            self.store.register([fresh])
            self.player.replace_track(stale, fresh)
            if stale.frames - frames > UNTOLD_SHORTFALL_SECONDS * rate:
                self.errors.report("track", str(stale.path), f"{stale.path.name}: {note} ({why})")

    def _reload(self, stale: Track) -> None:
        """Put the file's new version in place of the old one (same id, new fingerprint),
        so playback goes on with fresh renders; a file that is gone is reported once."""
        try:
            fresh = probe(stale.path, self.config.sample_rate)
        except TrackError as error:
            if stale.id not in self._gone:
                self._gone.add(stale.id)
                self._skip(
                    SkippedFile(stale.path, error.reason),
                    f"{stale.path.name} is no longer playable ({error.reason}); skipped",
                )
            return
        with self._lock:
            self._tracks = [fresh if t.id == stale.id else t for t in self._tracks]
        self.store.register([fresh])
        self.player.replace_track(stale, fresh)
        self._gone.discard(stale.id)
        self.log(f"{stale.path.name} changed on disk: its cached renders were dropped")

    def _served(self, record: ServedRequest) -> None:
        """A switch or seek was heard: keep it for the figures and say so in the log."""
        self.latencies.add(record)
        latency = "" if record.latency_ms is None else f", {record.latency_ms:.0f} ms"
        if record.kind == "switch":
            message = f"switch {record.source} -> {record.target}: {record.tier}{latency}"
        else:
            at = max(record.frame, 0) / self.config.sample_rate
            message = f"seek to {at:.1f} s: {record.tier}{latency}"
        with self._lock:
            (self._switches if record.kind == "switch" else self._seeks).append(record)
            self._log(message)
        self.events.publish("switch" if record.kind == "switch" else "seek", self._clock(), record)

    def _report_worker_problems(self) -> None:
        """Failed, timed-out or restarted renders and corrupt cached chunks: one line per
        new batch, with a count, never one per job, and at most one line per
        `PROBLEM_REPORT_SECONDS` (a batch held back is reported, summed, at the next)."""
        metrics = self.workers.metrics()
        seen = (metrics.failures, metrics.timeouts, metrics.restarts, self.buffer.corrupt_dropped)
        previous = self._worker_problems
        if seen == previous:
            return
        now = self._clock()
        last = self._last_problem_report
        if last is not None and now - last < PROBLEM_REPORT_SECONDS:
            return
        self._worker_problems, self._last_problem_report = seen, now
        new = [n - o for n, o in zip(seen, previous, strict=True)]
        parts = [f"{count} {what}" for count, what in zip(new, PROBLEM_NAMES, strict=True) if count]
        detail = f" (last: {metrics.last_error})" if metrics.last_error and any(new[:3]) else ""
        self.log("renders: " + ", ".join(parts) + detail)

    # -- views ----------------------------------------------------------------------------
    def snapshot(self) -> EngineSnapshot:
        track, position = self.player.position()
        position = max(0.0, position - self.sink.latency_seconds)  # what is heard right now
        with self._lock:
            index = self._tracks.index(track) if track in self._tracks else 0
            return EngineSnapshot(
                track=track,
                track_index=index,
                track_count=len(self._tracks),
                position_seconds=position,
                duration_seconds=track.duration_seconds if track else 0.0,
                playing=self.player.playing,
                volume=self.player.volume,
                muted=self._is_muted(),
                preset=self.feed.active.preset,
                requested_preset=self.feed.requested.preset,
                intensity=self._intensity,
                output_name=self.sink.name,
                output_notice=self.sink.notice,
                underruns=self.sink.ring.underruns,
                chunk_index=int(position * self.config.sample_rate) // self.config.chunk_frames,
                skipped=tuple(self._skipped),
                messages=tuple(self._messages),
                errors=self.errors.entries(),
                error_total=self.errors.total,
                message_count=self._message_count,
                chunk_seconds=self.config.chunk_seconds,
            )

    def stats(self) -> dict[str, Any]:
        with self._lock:
            switches = self._switch_commands
        return stats_view(self.buffer, self.predictor, switches)

    def predictions(self) -> dict[str, Any]:
        _track, position = self.player.position()
        preset = self.feed.requested.preset
        view = self.predictor.view(preset, self._listening_features())
        return predictions_view(preset, position, view)

    def contents(self) -> dict[str, Any]:
        return contents_view(self.buffer, self.config)

    def check(
        self, track_id: str, preset: str, chunk_index: int, intensity: float = 1.0
    ) -> dict[str, Any]:
        if preset not in PRESET_ORDER:
            raise UnknownPreset(preset, PRESET_ORDER)
        return check_view(
            self.buffer, self.config, self.latencies, track_id, preset, chunk_index, intensity
        )

    def error_report(self) -> list[dict[str, Any]]:
        """The error log as JSON: each distinct failure, the most recent first, with its
        count and how long ago it was first and last seen."""
        now = self._clock()
        return [
            {
                "kind": entry.kind,
                "message": entry.message,
                "count": entry.count,
                "first_seen_seconds_ago": round(now - entry.first_seen, 3),
                "last_seen_seconds_ago": round(now - entry.last_seen, 3),
            }
            for entry in self.errors.entries()
        ]

    def health(self) -> dict[str, Any]:
        return self._health(self.workers.metrics())

    def _health(self, worker: WorkerMetrics) -> dict[str, Any]:
        underruns = self.sink.ring.underruns
        view = health_view(self.buffer, self.predictor, worker, underruns, self.memory)
        rss_limit = self.memory.baseline_rss_bytes + self.config.process_budget_mb * MB
        view["process_rss_limit_mb"] = round(rss_limit / MB, 1)
        view["process_budget_mb"] = round(self.config.process_budget_mb, 1)
        view["working_memory_mb"] = round(
            (self.store.blocks.size_bytes + self.calibrations.sample_bytes) / MB, 2
        )
        view["stand_ins"] = self.feed.stand_ins
        view["render_fallbacks"] = self.feed.render_fallbacks
        return view

    def monitor(self, map_columns: int = 12) -> MonitorSnapshot:
        """The buffer's live figures for the panels (heavier than `snapshot`: read at 2-4 Hz)."""
        track, position = self.player.position()
        requested = self.feed.requested
        upcoming = self._listening_features()
        worker = self.workers.metrics()
        health = self._health(worker)
        figures = self.buffer.tier_figures()
        chunks = None
        if track is not None:
            frame = int(position * self.config.sample_rate)
            chunks = cache_map(
                self.buffer,
                self.workers.queued_keys(),
                self.workers.running_keys(),
                track.id,
                self._chunk_total(track),
                requested.bucket,
                frame // self.config.chunk_frames,
                (frame % self.config.chunk_frames) / self.config.chunk_frames,
                map_columns,
            )
        ring = self.sink.ring
        playing = ring.peek(ring.read_index, METER_FRAMES) if self.player.playing else None
        return MonitorSnapshot(
            tiers=tuple(TierLine.of(f) for f in figures),
            cache_map=chunks,
            preset=requested.preset,
            predictor=self.predictor.view(requested.preset, upcoming),
            health_status=health["status"],
            health_message=health["message"],
            underruns=ring.underruns,
            latencies=latency_lines(self.latencies),
            worker=worker,
            interactions=self.filter.counters(),
            memory_level=self.memory.level_name,
            rss_bytes=self.memory.last_reading.rss_bytes,
            rss_limit_bytes=self.memory.baseline_rss_bytes
            + int(self.config.process_budget_mb * MB),
            budget_bytes=self.buffer.total_budget_bytes(),
            total_bytes=self.buffer.total_bytes(),
            output=output_levels(playing, self.config.sample_rate),
        )

    def subscribe(self, capacity: int = SUBSCRIPTION_CAPACITY) -> Subscription:
        """A queue of what happens from now on (`engine/observe/events.py`): `take()` it
        as often as suits; a subscriber `capacity` behind loses its oldest events and is
        told how many. Close it when done."""
        return self.events.subscribe(capacity)

    def _invalidated(self, track_id: str | None, reason: str, chunks: int) -> None:
        payload = {"track_id": track_id, "reason": reason, "chunks": chunks}
        self.events.publish("invalidated", self._clock(), payload)

    def switches(self) -> list[ServedRequest]:
        with self._lock:
            return list(self._switches)

    def seeks(self) -> list[ServedRequest]:
        with self._lock:
            return list(self._seeks)

    def clear(self, tier: str | None = None) -> int:
        if tier not in (None, TierName.L1, TierName.L2, TierName.L3):
            raise TierplayError(f"unknown tier {tier!r}; use l1, l2 or l3")
        cleared = self.buffer.clear(tier)
        self._invalidated(None, f"cleared {tier or 'all tiers'}", cleared)
        give_back_free_memory()
        which = tier or "all tiers"
        self._notices.report("clear", which, f"cleared {which}: {cleared} chunks")
        return cleared

    # -- what outlives the session ---------------------------------------------------------
    def _restore_state(self) -> None:
        """Adopt the last session's model and settings; anything unusable is reported and
        the engine starts fresh."""
        loaded = self.state.load()
        if loaded.warning:
            self.log(loaded.warning)
        data = loaded.data or {}
        if "predictor" in data:
            try:
                self.predictor.load_state(data["predictor"])
            except (ValueError, ArithmeticError) as error:  # a number too big for a float
                self.log(f"predictor state not usable ({error}); learning afresh")
        settings = data.get("settings")
        if isinstance(settings, dict):
            self._restore_settings(settings)

    def _restore_settings(self, settings: dict[str, Any]) -> None:
        preset, volume, intensity = (
            settings.get("preset"),
            settings.get("volume"),
            settings.get("intensity"),
        )
        if isinstance(volume, int | float) and 0.0 <= volume <= 1.0:
            self.player.set_volume(float(volume))
        if isinstance(intensity, int | float) and 0.0 <= intensity <= 1.0:
            self._intensity = float(intensity)
        # The feed starts at the restored intensity even when the preset is not restored,
        # so what is rendered matches the intensity the UI shows.
        bucket = self.config.intensity_bucket(self._intensity)
        if preset in PRESET_ORDER:
            assert isinstance(preset, str)
            self.feed.start_with(preset, bucket)
            self.filter = InteractionFilter(preset, self._interaction_clock)
            self.planner.filter = self.filter
        else:
            self.feed.start_with(self.feed.requested.preset, bucket)

    def _is_muted(self) -> bool:
        with self._settings_lock:
            return self._muted_volume is not None

    def _mark_settings_changed(self) -> None:
        with self._settings_lock:
            self._state_dirty = True

    def save_state(self) -> bool:
        """Write the model and settings if they changed; a failure is reported once and
        never stops playback. Returns True when the file is up to date."""
        self._last_save = self._clock()
        revision = self.predictor.revision
        with self._settings_lock:
            if not self._state_dirty and revision == self._saved_revision:
                return True
            self._state_dirty, self._saved_revision = False, revision
            muted = self._muted_volume  # read with the volume: a mute between is not saved
            volume = muted if muted is not None else self.player.volume
        error = self.state.save(
            {
                "predictor": self.predictor.state(),
                "settings": {
                    "preset": self.feed.requested.preset,
                    "intensity": self._intensity,
                    "volume": volume,
                },
            }
        )
        if error is not None:
            self._mark_settings_changed()  # still not on disk: the next save tries again
            # Each distinct reason is its own entry: a full disk after a read-only folder
            # is news, the same failure again is a count.
            self.errors.report("state", error, error, repeat_seconds=STATE_REPEAT_SECONDS)
        return error is None

    def record_to(self, path: Path, library_root: Path | None = None) -> None:
        """Record every command from now on as a trace (`--record`), see
        `engine/persist/recording.py`."""
        self._recording.start(path, library_root)

    @property
    def recording(self) -> bool:
        """True while commands are being recorded as a trace."""
        return self._recording.recording

    def stop_recording(self) -> None:
        """End the trace now (with its `end` event); later commands are not recorded."""
        self._recording.stop()

    def _record(self, event: str, **fields: Any) -> None:
        self._recording.record(event, **fields)

    def close(self) -> None:
        self._stop.set()
        self._maintenance.join(timeout=2.0)
        self.planner.learn_settled()
        self.save_state()
        self._recording.stop(report=True)
        self.player.close()
        self.workers.close()
        self.analyses.close()
        self.sink.close()
