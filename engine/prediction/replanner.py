"""`Replanner`: keeps the buffer's placement plan on the playhead.

It reads where the playhead is, asks the planner for a plan, re-values the tiers and queues
the renders, and prepares a track the plan finds new. The maintenance loop plans when a plan
input changed or every `PLAN_REFRESH_SECONDS`; a command plans at once. Plans are
serialised, so two threads never interleave one plan's tiers with another's renders.
"""

from __future__ import annotations

import threading
import time

from engine.cache.buffer import MultiTierBuffer
from engine.cache.worker import RenderWorkerPool
from engine.config import EngineConfig
from engine.dsp.render import chunk_count
from engine.library.playlist import Playlist
from engine.library.tracks import Track
from engine.observe.memory import MemoryMonitor
from engine.playback.feed import PresetFeed
from engine.playback.player import Player
from engine.playback.queue import PlayQueue
from engine.prediction.placement import TrackPosition, switch_targets
from engine.prediction.planner import BufferPlanner, Whereabouts, rendered_presets
from engine.prediction.predict import PredictorView
from engine.prediction.preparation import TrackPreparation
from engine.vocabulary import BYPASS

PLAN_REFRESH_SECONDS = 1.0
"""How often the loop plans again when nothing it plans from has changed (the chunk
playing, the setting asked for, the cache's contents, the memory level): the plan's values
then drift only with the position inside the chunk."""


class Replanner:
    """Plans from the playhead; `replan` and `replan_when_due` from any thread."""

    def __init__(
        self,
        config: EngineConfig,
        planner: BufferPlanner,
        preparation: TrackPreparation,
        playlist: Playlist,
        queue: PlayQueue,
        buffer: MultiTierBuffer,
        workers: RenderWorkerPool,
        memory: MemoryMonitor,
        feed: PresetFeed,
        player: Player,
    ) -> None:
        self._config = config
        self.planner = planner
        self._preparation = preparation
        self._playlist = playlist
        self._queue = queue
        self._buffer = buffer
        self._workers = workers
        self._memory = memory
        self._feed = feed
        self._player = player
        self._lock = threading.Lock()
        """Serialises plans; guards what the last plan was made from and when."""
        self._planned_inputs: tuple[object, ...] = ()
        self._planned_at = -float("inf")

    def whereabouts(self) -> Whereabouts | None:
        """Where the plan starts: the consumer's next block, where a seek or a track change
        just made already is (the position heard is a block late for it)."""
        track, position = self._player.position_at_next_block()
        if track is None:
            return None
        following = self._queue.following(track)
        after = self._position_of(following) if following is not None else None
        return Whereabouts(self._position_of(track), position, after)

    def predictor_view(self) -> PredictorView:
        """The predictor's view for the preset asked for, at the music playing now."""
        where = self.whereabouts()
        upcoming = self.planner.listening_features(where) if where is not None else None
        return self.planner.predictor.view(self._feed.requested.preset, upcoming)

    def likely_presets(self) -> tuple[str, ...]:
        """The processed presets a track calibrates ahead, likeliest switch targets first:
        none for a settled listener, with no switch target worth rendering: calibrating
        every preset on every track spent 13% of the engine's CPU on 40 s tracks for
        switches that mostly never come. A rare one plays the source while its preset
        calibrates (0.1-0.3 s)."""
        view = self.predictor_view()
        distribution = view.distribution
        if not switch_targets(rendered_presets(distribution), view.switch_probability_per_chunk):
            return ()
        ranked = sorted(distribution, key=lambda p: -distribution[p])
        presets = self.planner.predictor.presets
        return tuple(p for p in dict.fromkeys([*ranked, *presets]) if p != BYPASS)

    def prepare(self, track: Track) -> None:
        """Prepare `track` as the current one (`Engine.open`), in turn with the plans."""
        with self._lock:
            self._prepare(track)

    def _prepare(self, track: Track) -> None:
        self._preparation.prepare(track, self.likely_presets())

    def install_recalibrations(self) -> None:
        """Put recalibrated gains in use; their chunks are dropped, so plan again."""
        if self._preparation.install():
            self.replan()

    def replan_when_due(self) -> None:
        """Plan at once when an input changed, else every `PLAN_REFRESH_SECONDS`."""
        with self._lock:
            where = self.whereabouts()
            if where is None:
                return
            inputs = self._plan_inputs(where)
            stale = time.monotonic() - self._planned_at >= PLAN_REFRESH_SECONDS
            if stale or inputs != self._planned_inputs:
                self._plan(where, inputs)

    def replan(self) -> None:
        """Plan now (a command changed what is asked for)."""
        with self._lock:
            where = self.whereabouts()
            if where is not None:
                self._plan(where, self._plan_inputs(where))

    def _plan(self, where: Whereabouts, inputs: tuple[object, ...]) -> None:
        """Plan from `where`, re-value the tiers, and queue the renders. The caller holds
        the lock and read `where` under it, so no plan from an older position lands last."""
        self._planned_inputs, self._planned_at = inputs, time.monotonic()
        requested = self._feed.requested
        plan, new_track = self.planner.plan(
            where,
            requested.preset,
            requested.bucket,
            self._buffer.estimated_chunk_bytes(self._config.chunk_frames),
            {name: tier.budget_bytes for name, tier in self._buffer.tiers.items()},
        )
        if new_track:
            track = self._playlist.find(where.track.track_id)
            if track is not None:
                self._prepare(track)
        self._buffer.apply_plan(plan)
        self._workers.submit_plan(plan)

    def _plan_inputs(self, where: Whereabouts) -> tuple[object, ...]:
        """What a new plan would differ by, beyond the position inside the chunk. Whether
        the music ahead is analysed is one: until it is, the predictor ranks the switch
        targets alike, and the plan made then renders arbitrary ones first."""
        chunk = int(where.position_seconds / self._config.chunk_seconds)
        next_id = where.next_track.track_id if where.next_track is not None else None
        return (
            where.track.track_id,
            chunk,
            next_id,
            self._feed.requested,
            self._buffer.total_bytes(),
            self._memory.level,
            self.planner.listening_features(where) is not None,
        )

    def _position_of(self, track: Track) -> TrackPosition:
        frames = chunk_count(track.frames, self._config.chunk_frames)
        return TrackPosition(track.id, track.fingerprint, frames)
