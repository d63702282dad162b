"""`Engine`: the one facade the TUI, the CLI, benchmarks and tests use.

It has the parts made and connected (`engine/assembly.py`) and delegates to them. In the
order the music flows: the playlist, the decoded-track store and the streaming analysis
(library/); the multi-tier buffer and its render workers (cache/); the predictor, the
planner and the replanner that keeps the plan on the playhead (prediction/); the feed, the
transport, the player and the sink (playback/); and what tells about it all (observe/) and
outlives the session (persist/). One maintenance thread runs the parts' upkeep
(`engine/maintenance.py`).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from engine.assembly import assemble, upkeep
from engine.cache.worker import RenderFunction, render_key
from engine.config import EngineConfig
from engine.errors import TierplayError, UnknownPreset
from engine.library.m3u import read_playlist, write_playlist
from engine.library.scan import ScanProgress, SkippedFile, open_library
from engine.library.tracks import Track
from engine.observe.events import SUBSCRIPTION_CAPACITY, Subscription
from engine.observe.live import LiveViews
from engine.observe.memory import MemoryReading, give_back_free_memory, read_memory
from engine.observe.monitor import MonitorSnapshot
from engine.observe.snapshot import EngineSnapshot
from engine.observe.views import check_view, contents_view, predictions_view, stats_view
from engine.playback.feed import ServedRequest
from engine.playback.queue import QueueView
from engine.playback.sinks.output import Sink
from engine.presets.follow import PRESET_CHECK_SECONDS, PresetEdits
from engine.vocabulary import BYPASS, TIER_NAMES, format_clock, plural


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
        parts = assemble(
            config or EngineConfig(),
            sink,
            device,
            memory_reader,
            render,
            clock,
            interaction_clock or clock,
        )
        self._parts = parts
        # The parts tools and tests read directly; the rest are reached through the methods.
        self.config, self.sink, self.state = parts.config, parts.sink, parts.state
        self.journal, self.errors = parts.journal, parts.errors
        self.events, self.latencies = parts.journal.events, parts.journal.latencies
        self.store, self.analyses = parts.store, parts.analyses
        self.calibrations, self.buffer = parts.calibrations, parts.buffer
        self.workers, self.memory = parts.workers, parts.memory
        self.feed, self.player = parts.feed, parts.player
        self.predictor, self.filter, self.planner = parts.predictor, parts.filter, parts.planner
        self._views = LiveViews(parts, clock)
        self._opened: list[str] = []
        """The paths of the library open, for a recording started later."""
        self.presets = parts.presets
        self._loop = upkeep(parts, clock)
        edits = PresetEdits(
            parts.presets,
            parts.predictor,
            parts.buffer,
            parts.calibrations,
            parts.workers,
            parts.store,
            parts.feed,
            parts.player,
            parts.journal.log,
            choose=self.set_preset,
            replan=parts.replanner.replan,
            bucket_of=parts.settings.bucket_of,
        )
        edits.told_at_start()
        self._loop.every(PRESET_CHECK_SECONDS, edits.check, clock=time.monotonic)
        self._loop.every_tick(edits.follow)
        self.sink.start()
        self._loop.start()

    # -- library --------------------------------------------------------------------------
    def open(
        self, paths: Iterable[str | Path], progress: ScanProgress | None = None
    ) -> list[Track]:
        """Scan and probe `paths` (headers only); `progress(done, total)` follows a long scan.
        Skipped files go to the error log, which tells the first few one by one and sums
        the rest in one line: thousands of broken files must not flood the event log."""
        paths = list(paths)
        self._opened = [str(p) for p in paths]
        self._record("open", paths=self._opened)
        library = self._parts.index
        tracks, skipped = open_library(paths, self.config.sample_rate, progress, library)
        warning = library.take_warning()
        if warning is not None:
            self.errors.report("library index", warning, warning)
        self._parts.playlist.set(tracks)
        self._parts.library_watch.follow(paths)
        for item in skipped:
            self._parts.files.skip(item)
        self.errors.flush(force=True)  # the sum of what was not told, now, not in 5 s
        self.store.set_library(tracks)
        resume = self._parts.settings.take_resume(tracks)
        queue, transport = self._parts.queue, self._parts.transport
        queue.reset(resume.queue if resume is not None else None)
        order = queue.order(limit=1)
        transport.start(order[0] if order else None)
        if resume is not None and resume.track is not None:
            told = f"resumed “{{title}}” at {format_clock(resume.seconds)}"
            transport.play_track(resume.track, resume.seconds, told)
        # The queue learns the track stood at now, not at the upkeep loop's next tick: a
        # queue edited before that tick must not lose this track to it.
        transport.follow_track()
        first, _position = self.player.position()
        if first is not None:  # its sample and first preset are measured before play is pressed
            self._parts.replanner.prepare(first)
        return list(tracks)

    def tracks(self) -> list[Track]:
        return self._parts.playlist.tracks()

    def log(self, message: str) -> None:
        self.journal.log(message)

    # -- transport ------------------------------------------------------------------------
    def play(self) -> None:
        """Start or resume playback, and tick the loop at once: it ticks once a second
        while nothing is in flight, and its first plan is what puts the switch targets'
        chunks ahead of the neighbouring tracks' preparation."""
        self._record("play")
        self.feed.playback_starting()
        self.player.play()
        self._loop.wake()

    def pause(self) -> None:
        self._record("pause")
        self.player.pause()

    def seek(self, seconds: float) -> None:
        """Seek now, or (inside 100 ms of the last seek) hold the target and apply the
        latest one when the throttle window ends (`engine/playback/transport.py`)."""
        _number(seconds, "a seek position must be a number")
        self._record("seek", position=max(0.0, float(seconds)))
        self._parts.transport.seek(seconds)
        self._loop.wake()

    def seek_relative(self, delta: float) -> None:
        """Relative to a held seek target when there is one."""
        _number(delta, "a seek step must be a number")
        self._record("seek_relative", delta=float(delta))
        self._parts.transport.seek_relative(delta)
        self._loop.wake()

    def next_track(self) -> None:
        self._record("next")
        self._parts.transport.change_track(+1)
        self._loop.wake()

    def prev_track(self) -> None:
        self._record("prev")
        self._parts.transport.change_track(-1)
        self._loop.wake()

    def play_track(self, track_id: str) -> None:
        """Play the playlist's track `track_id` from its start, as the library's Enter does
        (playback starts if it was paused); the order goes on after it (the whole library
        again if it is outside the album or folder being played).

        Raises:
            TierplayError: no track with that id is in the playlist.
        """
        index, track = self._listed(track_id)
        self._record("track", index=index)
        queue = self._parts.queue
        if queue.scope != "library" and track not in queue.order():
            queue.set_scope("library", track)
        queue.chose(track)
        self._parts.transport.play_track(track)
        self._loop.wake()
        if not self.player.playing:
            self.play()

    # -- the queue and its modes (engine/playback/queue.py) ---------------------------------
    def set_repeat(self, mode: str) -> None:
        """`off` (stop after the last track), `all` (play the order again) or `one`."""
        self._parts.queue.set_repeat(mode)
        self._record("repeat", mode=mode)
        self.log(f"repeat {mode}")
        self._parts.replanner.replan()

    def set_shuffle(self, on: bool, seed: int | None = None) -> None:
        """Shuffle the order (a new permutation each time it is turned on), or not."""
        seed = random.randrange(2**31) if seed is None else seed
        self._parts.queue.set_shuffle(on, seed)
        self._record("shuffle", on=bool(on), seed=seed)
        self.log("shuffle on" if on else "shuffle off")
        self._parts.replanner.replan()

    def play_scope(self, track_id: str, scope: str) -> None:
        """Play only the album or folder of `track_id`, from its first track in the order;
        `library` lets the order go on through the whole library after `track_id`, with
        no jump."""
        index, track = self._listed(track_id)
        queue = self._parts.queue
        queue.set_scope(scope, track)
        first = queue.order(limit=1)
        self._record("scope", mode=scope, index=index)
        if scope == "library":
            self.log("playing the whole library")
            self._parts.replanner.replan()
        elif first:
            queue.chose(first[0])
            what = {"album": "the album", "folder": "the folder"}.get(scope, "the library")
            self._parts.transport.play_track(first[0], told=f"playing {what} from “{{title}}”")
            self._loop.wake()
            if not self.player.playing:
                self.play()

    def enqueue(self, track_id: str, next: bool = False) -> None:
        """Queue a track to play after the queue (`next`: before it, right after the one
        playing); queuing a queued track moves it."""
        index, track = self._listed(track_id)
        self._parts.queue.enqueue(track, next)
        self._record("enqueue", index=index, next=bool(next))
        self.log(f"“{track.title}” {'plays next' if next else 'added to the queue'}")
        self._parts.replanner.replan()

    def dequeue(self, place: int) -> None:
        """Take the track at `place` (0 first) out of the queue."""
        track = self._parts.queue.remove(place)
        self._record("dequeue", place=place)
        self.log(f"“{track.title}” taken out of the queue")
        self._parts.replanner.replan()

    def move_queued(self, place: int, steps: int) -> int:
        """Move the queued track at `place` by `steps` (negative: sooner); returns its
        new place."""
        moved = self._parts.queue.move(place, steps)
        self._record("move", place=place, steps=steps)
        self._parts.replanner.replan()
        return moved

    def queue(self, following: int = 20) -> QueueView:
        """The queue's modes, the tracks queued and the next `following` tracks of the
        order after them."""
        return self._parts.queue.view(self.player.position()[0], following)

    def save_playlist(self, path: str | Path) -> int:
        """Write the queue (the playing track, then the tracks queued) or, when nothing is
        queued, the whole order being played, as an M3U playlist; returns the tracks
        written.

        Raises:
            TierplayError: the file cannot be written (the one-line reason).
        """
        tracks = self._parts.queue.up_next()
        playing, _position = self.player.position()
        if tracks:
            tracks = [playing, *tracks] if playing is not None else tracks
        else:
            tracks = self._parts.queue.order()
        write_playlist(Path(path), tracks)
        self.log(f"saved {plural(len(tracks), 'track')} to {Path(path).name}")
        return len(tracks)

    def load_playlist(self, path: str | Path) -> int:
        """Queue the library's tracks an M3U playlist lists, in its order; returns how many.
        Entries that are not in the library are told as skipped.

        Raises:
            TierplayError: the playlist cannot be read.
        """
        files, missing = read_playlist(Path(path))
        tracks = self.tracks()
        places = {t.id: place for place, t in enumerate(tracks)}
        by_path = {os.path.abspath(t.path): t for t in tracks}
        found = [by_path[os.path.abspath(f)] for f in files if os.path.abspath(f) in by_path]
        for file in files:
            if os.path.abspath(file) not in by_path:
                missing.append((file, f"listed in {Path(path).name} but not in the library"))
        for item, reason in missing:
            self._parts.files.skip(SkippedFile(item, reason))
        self.errors.flush(force=True)
        self._parts.queue.enqueue_many(found)
        for track in found:  # one lookup each: a playlist may list thousands
            self._record("enqueue", index=places[track.id], next=False)
        self.log(f"queued {plural(len(found), 'track')} from {Path(path).name}")
        self._parts.replanner.replan()
        return len(found)

    def _listed(self, track_id: str) -> tuple[int, Track]:
        """The playlist's place and track for `track_id`.

        Raises:
            TierplayError: no track with that id is in the playlist.
        """
        playlist = self._parts.playlist
        index = playlist.index_of(track_id)
        track = playlist.find(track_id)
        if index is None or track is None:
            raise TierplayError(f"no track {track_id!r} in the playlist")
        return index, track

    def set_volume(self, volume: float) -> None:
        _number(volume, "volume must be a number between 0 and 1")
        self._record("volume", value=min(max(float(volume), 0.0), 1.0))
        self._parts.settings.set_volume(volume)

    def view_settings(self) -> dict[str, Any]:
        """What the screen asked to keep from the last session (its hidden panels ...)."""
        return self._parts.settings.view

    def set_view_settings(self, view: dict[str, Any]) -> None:
        """Keep the screen's choices (JSON values) for the next session, with the settings."""
        self._parts.settings.set_view(view)

    def toggle_mute(self) -> bool:
        """Mute (remembering the volume) or unmute; returns True when now muted."""
        return self._parts.settings.toggle_mute()

    def set_preset(self, name: str) -> None:
        """Applied at once, never dropped; the predictor learns it once it has settled."""
        if name not in self.presets:
            raise UnknownPreset(name, self.presets.order)
        self._record("preset", preset=name)
        previous = self.feed.requested.preset
        bucket = self._parts.settings.bucket_of(name)  # each preset keeps its own intensity
        self._parts.preparation.ask(name, lambda: self.feed.request(name, bucket))
        self.player.wake()
        self.planner.preset_chosen(name, self._parts.replanner.whereabouts())
        if name != previous:
            self._parts.settings.preset_changed(previous)
        self._parts.replanner.replan()

    def toggle_last_preset(self) -> str | None:
        """A/B: back to the preset asked for before this one (and again, forth). Returns
        the preset now asked for, or None when there was none before (or it went)."""
        last = self._parts.settings.last_preset
        if last is None or last not in self.presets:
            return None
        self.set_preset(last)
        return last

    def set_intensity(self, value: float) -> None:
        _number(value, "intensity must be a number between 0 and 1")
        intensity = self._parts.settings.set_intensity(self.feed.requested.preset, value)
        self._record("intensity", value=intensity)
        self.log(f"intensity {intensity:.0%}")
        self.feed.request(bucket=self.config.intensity_bucket(intensity))
        self.player.wake()
        self.planner.intensity_chosen(intensity)
        self._parts.replanner.replan()

    def wait_until_prepared(self, timeout: float = 30.0) -> bool:
        """Block until the current track's presets are calibrated (benchmarks, tests):
        those it prepares ahead, which for a settled listener is the one playing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            track, _position = self.player.position()
            renderer = self.feed.renderer
            wanted = None if track is None else self._parts.preparation.wanted(track)
            if track is not None and renderer is not None and wanted is not None:
                source = self.store.get(track)
                if all(renderer.is_prepared(source, p) for p in wanted):
                    return True
            time.sleep(0.05)
        return False

    # -- views ----------------------------------------------------------------------------
    def snapshot(self) -> EngineSnapshot:
        return self._views.snapshot()

    def monitor(self, map_columns: int = 12) -> MonitorSnapshot:
        """The buffer's live figures for the panels (heavier than `snapshot`: read at 2-4 Hz)."""
        return self._views.monitor(map_columns)

    def health(self) -> dict[str, Any]:
        return self._views.health()

    def stats(self) -> dict[str, Any]:
        return stats_view(self.buffer, self.predictor, self._parts.settings.preset_changes)

    def predictions(self) -> dict[str, Any]:
        _track, position = self.player.position()
        view = self._parts.replanner.predictor_view()
        return predictions_view(self.feed.requested.preset, position, view)

    def contents(self) -> dict[str, Any]:
        return contents_view(self.buffer, self.config)

    def check(
        self, track_id: str, preset: str, chunk_index: int, intensity: float = 1.0
    ) -> dict[str, Any]:
        if preset not in self.presets:
            raise UnknownPreset(preset, self.presets.order)
        return check_view(
            self.buffer, self.config, self.latencies, track_id, preset, chunk_index, intensity
        )

    def error_report(self) -> list[dict[str, Any]]:
        """The error log as JSON: each distinct failure, the most recent first."""
        return self.errors.as_json()

    def subscribe(
        self, capacity: int = SUBSCRIPTION_CAPACITY, log_history: bool = False
    ) -> Subscription:
        """A queue of what happens from now on (`engine/observe/events.py`): `take()` it
        as often as suits; a subscriber `capacity` behind loses its oldest events and is
        told how many. `log_history` starts it with the log lines kept so far (the app's
        event log). Close it when done."""
        return self.journal.subscribe(capacity, log_history)

    def switches(self) -> list[ServedRequest]:
        return self.journal.switches()

    def seeks(self) -> list[ServedRequest]:
        return self.journal.seeks()

    def clear(self, tier: str | None = None) -> int:
        if tier is not None and tier not in TIER_NAMES:
            raise TierplayError(f"unknown tier {tier!r}; use l1, l2 or l3")
        cleared = self.buffer.clear(tier)
        which = tier or "all tiers"
        self.journal.invalidated(None, f"cleared {which}", cleared)
        give_back_free_memory()
        self._parts.notices.report("clear", which, f"cleared {which}: {cleared} chunks")
        return cleared

    # -- what outlives the session ---------------------------------------------------------
    def save_state(self) -> bool:
        """Write the model and settings if they changed; a failure is reported once and
        never stops playback. Returns True when the file is up to date."""
        return self._parts.settings.save()

    def record_to(self, path: Path, library_root: Path | None = None) -> None:
        """Record every command from now on as a trace (`--record`), see
        `engine/persist/recording.py`. A recording started with a library open begins
        with where the session is (the library, the track and position, the preset, the
        modes), so that it replays from there."""
        self._parts.recording.start(path, library_root)
        if self._opened:
            self._record_where_we_are()

    def _record_where_we_are(self) -> None:
        self._record("open", paths=self._opened)
        snapshot = self.snapshot()
        queue = self._parts.queue
        if queue.repeat != "off":
            self._record("repeat", mode=queue.repeat)
        if snapshot.requested_preset != BYPASS:
            self._record("preset", preset=snapshot.requested_preset)
        if snapshot.intensity != 1.0:
            self._record("intensity", value=snapshot.intensity)
        if snapshot.track is not None and (snapshot.track_index or snapshot.playing):
            self._record("track", index=snapshot.track_index)  # plays it, as the app's Enter
        if snapshot.position_seconds > 0:
            self._record("seek", position=round(snapshot.position_seconds, 3))
        if not snapshot.playing and snapshot.track_index:
            self._record("pause")

    @property
    def recording(self) -> bool:
        """True while commands are being recorded as a trace."""
        return self._parts.recording.recording

    def stop_recording(self) -> None:
        """End the trace now (with its `end` event); later commands are not recorded."""
        self._parts.recording.stop()

    def _record(self, event: str, **fields: Any) -> None:
        self._parts.recording.record(event, **fields)

    def close(self, wait_for_work: bool = True) -> None:
        """Save what the listener set up, stop the sound and every thread.

        `wait_for_work=False` is for a process about to exit: renders, analyses and the
        feeder's limiting of a source block still running are left to die with it (each
        can take a while on a busy machine) instead of being waited for.
        The sink is closed all the same: the feeder then writes into a ring nobody reads.
        """
        self._loop.stop()
        self.planner.learn_settled()
        self._parts.settings.save()
        self._parts.recording.stop(report=True)
        self.workers.stop()  # the feeder may be waiting for a render
        self.player.close(wait_for_work)
        self.workers.close(wait_for_work)
        self.analyses.close(wait_for_work)
        self.sink.close()
        self._parts.library_watch.close()
        self._parts.index.close()


def _number(value: float, message: str) -> None:
    if value != value:  # NaN
        raise TierplayError(message)
