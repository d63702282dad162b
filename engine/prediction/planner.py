"""`BufferPlanner`: what the buffer should hold next, learned from what the listener does.

It joins the three things the plan depends on: the predictor (which preset next, and how
likely any switch is), the interaction filter's verdict on which switches were real choices,
and the music itself (chunk features). The engine and the cache-policy benchmark both drive
this one class, so the benchmark measures exactly the engine's placement.

Time is the listener's: the filter's clock. Features come from a lookup that never computes
(the engine's analyses are made by the render workers), so planning stays cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from engine.config import EngineConfig
from engine.prediction.experts import StayModel
from engine.prediction.interaction import InteractionFilter
from engine.prediction.placement import PlacementPlan, PlanInput, TrackPosition, make_plan
from engine.prediction.predict import PresetPredictor
from engine.vocabulary import BYPASS

FeatureLookup = Callable[[str, int], tuple[float, ...] | None]
"""(track id, chunk index) -> that chunk's five features, or None when not known yet."""
"""The untouched source: never rendered, so never planned."""
LISTENING_AHEAD_SECONDS = 2.0
"""The music a switch is made for: what plays in the next seconds. A listener who reacts to a
new section switches just after it starts; one who knows the song, just before; both land
in the chunk two seconds on."""


BRANCH_CHUNKS = 2
"""How far past the playhead switch targets are rendered, each for its own chunk's music."""


@dataclass(frozen=True)
class Whereabouts:
    """Where playback is, as the plan needs it."""

    track: TrackPosition
    position_seconds: float
    next_track: TrackPosition | None = None


class BufferPlanner:
    """Thread-safe: commands arrive from the UI thread, plans are made by the engine loop."""

    def __init__(
        self,
        config: EngineConfig,
        predictor: PresetPredictor,
        interaction_filter: InteractionFilter,
        features: FeatureLookup,
        bucket_of: Callable[[str], int] | None = None,
    ) -> None:
        """`bucket_of` is the intensity bucket each preset plays at (the listener's
        intensity for it); None: every preset at the one asked for."""
        self.config = config
        self._bucket_of = bucket_of
        self.predictor = predictor
        self.filter = interaction_filter
        self._features = features
        self._lock = threading.Lock()
        self._chosen_for: dict[str, tuple[float, ...] | None] = {}
        """The music each preset was last chosen on, for learning once the choice settles."""
        self._last_chunk: tuple[str, int] | None = None

    # -- what the listener does ------------------------------------------------------------
    def preset_chosen(self, preset: str, where: Whereabouts | None) -> None:
        """A preset command (applied by the caller at once; learned once it settles)."""
        features = self.listening_features(where) if where is not None else None
        with self._lock:
            self._chosen_for[preset] = features
        self.filter.preset(preset)

    def intensity_chosen(self, value: float) -> None:
        self.filter.intensity(value)

    def track_changing(self) -> None:
        """Before a skip: switches settled on the old track are learned with its music."""
        self.learn_settled()
        self.filter.track_changed()

    def learn_settled(self) -> int:
        """Teach the predictor every switch the filter has confirmed; returns how many."""
        switches = self.filter.due_learning()
        for switch in switches:
            with self._lock:
                features = self._chosen_for.get(switch.target)
            self.predictor.observe_switch(switch.source, switch.target, features)
        return len(switches)

    # -- the music --------------------------------------------------------------------------
    def features_at(self, track_id: str, chunk: int) -> tuple[float, ...] | None:
        return self._features(track_id, chunk) if chunk >= 0 else None

    def listening_features(self, where: Whereabouts) -> tuple[float, ...] | None:
        """The chunk LISTENING_AHEAD_SECONDS on (within the track): what a switch is for."""
        ahead = where.position_seconds + LISTENING_AHEAD_SECONDS
        chunk = min(int(ahead / self.config.chunk_seconds), where.track.chunk_count - 1)
        return self.features_at(where.track.track_id, chunk)

    def section_change(self, track_id: str, chunk: int, following: int) -> bool | None:
        return StayModel.is_section_change(
            self.features_at(track_id, chunk), self.features_at(track_id, following)
        )

    # -- the plan ---------------------------------------------------------------------------
    def plan(
        self,
        where: Whereabouts,
        preset: str,
        intensity_bucket: int,
        tier_chunk_bytes: dict[str, int],
        tier_budget_bytes: dict[str, int],
    ) -> tuple[PlacementPlan, bool]:
        """The placement plan from the playhead; True as well when the track is new here
        (the caller prepares it). A chunk played through teaches the stay model."""
        track = where.track
        chunk_seconds = self.config.chunk_seconds
        chunk = min(int(where.position_seconds / chunk_seconds), max(0, track.chunk_count - 1))
        new_track = False
        with self._lock:
            last, self._last_chunk = self._last_chunk, (track.track_id, chunk)
        if last != (track.track_id, chunk):
            if last is not None and last[0] == track.track_id:
                change = self.section_change(track.track_id, last[1], chunk)
                self.predictor.observe_chunk_played(change)
            else:
                new_track = True
        distribution = self.predictor.distribution(preset, self.listening_features(where))
        ahead = [
            self.predictor.distribution(preset, self.features_at(track.track_id, chunk + step))
            for step in range(1, BRANCH_CHUNKS + 1)
            if chunk + step < track.chunk_count
        ]
        plan = make_plan(
            PlanInput(
                track=track,
                playhead_chunk=chunk,
                position_in_chunk=(where.position_seconds % chunk_seconds) / chunk_seconds,
                preset=preset,
                intensity_bucket=intensity_bucket,
                branch_buckets=self._branch_buckets(distribution),
                distribution=rendered_presets(distribution),
                chunk_distributions=tuple(rendered_presets(d) for d in (distribution, *ahead)),
                branch_chunks=BRANCH_CHUNKS,
                switch_probability_per_chunk=self.predictor.switch_probability_per_chunk(
                    self.section_change(track.track_id, chunk, chunk + 1)
                ),
                tier_chunk_bytes=tier_chunk_bytes,
                tier_budget_bytes=tier_budget_bytes,
                next_track=where.next_track,
                horizon_chunks=self.config.plan_horizon_chunks,
                current_needs_render=preset != BYPASS,
            )
        )
        return plan, new_track

    def _branch_buckets(self, distribution: dict[str, float]) -> dict[str, int]:
        bucket_of = self._bucket_of
        return {p: bucket_of(p) for p in distribution} if bucket_of is not None else {}


def rendered_presets(distribution: dict[str, float]) -> dict[str, float]:
    """Only presets that are rendered can be planned."""
    return {p: v for p, v in distribution.items() if p != BYPASS}
