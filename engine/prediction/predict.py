"""`PresetPredictor`: which preset the listener will switch to next, and whether they will.

The next-preset distribution is a blend of three experts (engine/prediction/experts.py): where this
listener goes from the current preset (decayed Markov counts), which preset they choose for
music like the upcoming chunk (content), and where they go whatever they leave (favourite).
The blend weights follow each expert's accuracy on the listener's real switches (a Hedge
update with a fixed share, so an expert that was wrong for a while can win back), and a
small uniform floor keeps every preset possible. A separate stay model says how likely any
switch is while the next chunk plays; the plan uses both.

Every real switch is scored against the distribution that was live just before it: top-1,
top-3 and the Brier score, overall and per context (cold: too few switches learned yet;
audio-guided: the content expert leads the blend; warm: the listener's history leads), and
so is each expert alone, which is the baseline the blend must beat. The learned state is
plain data, so `state()` / `load_state()` persist it across sessions.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.prediction.experts import (
    ContentExpert,
    FavouriteExpert,
    MarkovExpert,
    StayModel,
    normalised,
)
from engine.vocabulary import PRESET_ORDER

CONTEXTS = ("cold", "warm", "audio_guided")
COLD_SWITCHES = 5
"""Learned switches before the predictor counts as warm: below it, priors decide."""
HEDGE_RATE = 1.0
"""Learning rate of the blend: weights are multiplied by P(actual target) ** rate."""
FIXED_SHARE = 0.02
"""Share of blend weight spread back evenly after each switch, so no expert is ever lost."""
UNIFORM_FLOOR = 0.01
"""Mass spread evenly over every preset: a prediction is never certain, and the Brier score
is never ruined by a listener doing what they never did before."""
STATE_FORMAT = 1


class Expert(Protocol):
    name: str

    def distribution(self, current: str, features: Sequence[float] | None) -> dict[str, float]:
        """P(next preset | current, upcoming chunk's features) over the other presets."""
        ...

    def learn(self, source: str, target: str, features: Sequence[float] | None) -> None: ...

    def state(self) -> dict[str, Any]: ...

    def load(self, state: Mapping[str, Any], saved: Collection[str]) -> None:
        """Adopt `state`, learned over the `saved` presets (see `load_state`)."""
        ...


@dataclass(frozen=True)
class PredictionScore:
    """Online accuracy against the distribution live just before each real switch."""

    predictions_made: int = 0
    top1_hits: int = 0
    top3_hits: int = 0
    brier_sum: float = 0.0

    @property
    def top1_accuracy(self) -> float:
        return self.top1_hits / self.predictions_made if self.predictions_made else 0.0

    @property
    def top3_accuracy(self) -> float:
        return self.top3_hits / self.predictions_made if self.predictions_made else 0.0

    @property
    def brier(self) -> float:
        return self.brier_sum / self.predictions_made if self.predictions_made else 0.0

    def scored(self, distribution: Mapping[str, float], target: str) -> PredictionScore:
        """This score with one more prediction, for the switch that went to `target`."""
        ranked = sorted(distribution, key=lambda preset: -distribution[preset])
        brier = sum(
            (p - (1.0 if preset == target else 0.0)) ** 2 for preset, p in distribution.items()
        )
        if target not in distribution:
            brier += 1.0
        return PredictionScore(
            self.predictions_made + 1,
            self.top1_hits + (ranked[:1] == [target]),
            self.top3_hits + (target in ranked[:3]),
            self.brier_sum + brier,
        )

    def as_dict(self) -> dict[str, float | int]:
        return {
            "predictions_made": self.predictions_made,
            "top1_accuracy": round(self.top1_accuracy, 4),
            "top3_accuracy": round(self.top3_accuracy, 4),
            "brier_score": round(self.brier, 4),
        }


@dataclass(frozen=True)
class PredictorView:
    """What the predictions panel shows, read in one consistent call."""

    distribution: dict[str, float]
    switch_probability_per_chunk: float
    blend_weights: dict[str, float]
    context: str
    score: PredictionScore
    by_context: dict[str, PredictionScore]
    baselines: dict[str, PredictionScore]
    learned_switches: int


class PresetPredictor:
    """Thread-safe; the engine feeds it learned switches and chunks played."""

    def __init__(
        self,
        presets: tuple[str, ...] = PRESET_ORDER,
        clock: Callable[[], float] = time.monotonic,
        prior_switch_probability: float = 0.25,
    ) -> None:
        self.presets = presets
        self._experts: tuple[Expert, ...] = (
            MarkovExpert(presets),
            ContentExpert(presets),
            FavouriteExpert(presets),
        )
        self._blend = {expert.name: 1.0 / len(self._experts) for expert in self._experts}
        self._stay = StayModel(prior_switch_probability)
        self._learned_switches = 0
        self._switches_this_chunk = 0
        self._score = PredictionScore()
        self._by_context = {context: PredictionScore() for context in CONTEXTS}
        self._baselines = {expert.name: PredictionScore() for expert in self._experts}
        self._revision = 0
        self._lock = threading.Lock()
        self._clock = clock
        self._started = clock()

    # -- predictions ----------------------------------------------------------------------
    def distribution(
        self, current: str, features: Sequence[float] | None = None
    ) -> dict[str, float]:
        """P(next preset | current, upcoming chunk's features), over the other presets."""
        with self._lock:
            return self._distribution(current, features)

    def _distribution(self, current: str, features: Sequence[float] | None) -> dict[str, float]:
        others = [p for p in self.presets if p != current]
        blended = dict.fromkeys(others, 0.0)
        for expert in self._experts:
            weight = self._blend[expert.name]
            for preset, probability in expert.distribution(current, features).items():
                if preset in blended:
                    blended[preset] += weight * probability
        blended = normalised(blended)
        floor = UNIFORM_FLOOR / len(others)
        return {p: (1.0 - UNIFORM_FLOOR) * v + floor for p, v in blended.items()}

    def switch_probability_per_chunk(self, section_change: bool | None = None) -> float:
        """P(at least one switch while the next chunk plays)."""
        with self._lock:
            return self._stay.switch_probability(section_change)

    def context(self, features: Sequence[float] | None = None) -> str:
        with self._lock:
            return self._context(features)

    def _context(self, features: Sequence[float] | None) -> str:
        if self._learned_switches < COLD_SWITCHES:
            return "cold"
        leader = max(self._blend, key=lambda name: self._blend[name])
        return "audio_guided" if features is not None and leader == "content" else "warm"

    # -- learning -------------------------------------------------------------------------
    def observe_switch(
        self, source: str, target: str, features: Sequence[float] | None = None
    ) -> None:
        """A switch the listener kept: score the prediction made for it, then learn it.

        `features` are those of the chunk the switch was made on, so the content expert
        learns which music the listener chose `target` for.
        """
        if source == target or source not in self.presets or target not in self.presets:
            return
        with self._lock:
            context = self._context(features)
            live = self._distribution(source, features)
            self._score = self._score.scored(live, target)
            self._by_context[context] = self._by_context[context].scored(live, target)
            self._update_blend(source, target, features)
            for expert in self._experts:
                expert.learn(source, target, features)
            self._learned_switches += 1
            self._switches_this_chunk += 1
            self._revision += 1

    def _update_blend(self, source: str, target: str, features: Sequence[float] | None) -> None:
        for expert in self._experts:
            opinion = expert.distribution(source, features)
            self._baselines[expert.name] = self._baselines[expert.name].scored(opinion, target)
            likelihood = max(opinion.get(target, 0.0), 1e-6)
            self._blend[expert.name] *= likelihood**HEDGE_RATE
        total = sum(self._blend.values())
        if total <= 0.0 or not math.isfinite(total):
            total, self._blend = 1.0, {name: 1.0 / len(self._blend) for name in self._blend}
        share = FIXED_SHARE / len(self._blend)
        self._blend = {n: (1.0 - FIXED_SHARE) * w / total + share for n, w in self._blend.items()}

    def observe_chunk_played(self, section_change: bool | None = None) -> None:
        """A chunk finished playing; the stay model learns whether it held a switch."""
        with self._lock:
            self._stay.observe_chunk(section_change, self._switches_this_chunk)
            self._switches_this_chunk = 0
            self._revision += 1

    # -- reading --------------------------------------------------------------------------
    @property
    def revision(self) -> int:
        """Grows with everything learned: the engine saves the model when it has moved."""
        with self._lock:
            return self._revision

    def score(self) -> PredictionScore:
        with self._lock:
            return self._score

    def view(self, current: str, features: Sequence[float] | None = None) -> PredictorView:
        with self._lock:
            return PredictorView(
                distribution=self._distribution(current, features),
                switch_probability_per_chunk=self._stay.switch_probability(None),
                blend_weights=dict(self._blend),
                context=self._context(features),
                score=self._score,
                by_context=dict(self._by_context),
                baselines=dict(self._baselines),
                learned_switches=self._learned_switches,
            )

    def set_presets(self, presets: tuple[str, ...]) -> None:
        """The presets changed (the listener's file was edited): what was learned of the
        ones kept stays, and the session's scores go on."""
        if presets == self.presets:
            return
        while True:  # the experts are rebuilt outside the lock, from a copy of their state
            revision = self.revision
            fresh = PresetPredictor(presets, self._clock)
            fresh.load_state(self.state())
            with self._lock:
                if self._revision != revision:  # a switch learned meanwhile: copy again
                    continue
                self.presets = presets
                self._experts = fresh._experts
                self._revision += 1
                return

    def session_minutes(self) -> float:
        return (self._clock() - self._started) / 60.0

    # -- persistence ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The learned model as plain JSON data (scores are per session and not kept)."""
        with self._lock:
            return {
                "format": STATE_FORMAT,
                "presets": list(self.presets),
                "experts": {expert.name: expert.state() for expert in self._experts},
                "blend": dict(self._blend),
                "stay": self._stay.state(),
                "learned_switches": self._learned_switches,
            }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Adopt a saved model; raises ValueError (and changes nothing) if it does not fit.

        A model saved with other presets fits: what it learned of the presets both know is
        kept, a preset added since starts from the priors, and one removed is forgotten."""
        try:
            fresh = PresetPredictor(self.presets, self._clock)
            if state.get("format") != STATE_FORMAT:
                raise ValueError("the saved model is for another format")
            saved = state["presets"]
            if not isinstance(saved, list) or not all(isinstance(n, str) for n in saved):
                raise ValueError("the saved model's presets must be a list of names")
            for expert in fresh._experts:
                expert.load(state["experts"][expert.name], saved)
            fresh._stay.load(state["stay"])
            blend = {name: float(state["blend"][name]) for name in fresh._blend}
            if not all(math.isfinite(w) and w > 0.0 for w in blend.values()):
                raise ValueError("blend weights must be positive numbers")
            learned = int(state["learned_switches"])
            if learned < 0:
                raise ValueError("learned switches must not be negative")
        except (KeyError, TypeError, AttributeError, IndexError, OverflowError) as error:
            raise ValueError(f"the saved model is incomplete ({error!r})") from error
        with self._lock:
            self._experts = fresh._experts
            self._stay = fresh._stay
            self._blend = normalised(blend)
            self._learned_switches = learned
