"""`PresetPredictor`: which preset the listener will switch to next, and how often.

A first-order Markov model over presets with exponentially decayed counts (recency comes
from decay, never from boosts, so probabilities stay probabilities) and a uniform prior so a
cold start spreads its bets. It also learns how often the listener switches per chunk
played, which sets how far ahead the plan renders alternatives. Every real switch is scored
against the distribution that was live just before it: top-1, top-3 and the Brier score.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.config import PRESET_ORDER

DECAY_PER_SWITCH = 0.97
"""Each learned switch multiplies older counts by this: ~33 switches of memory."""
PRIOR_COUNT = 0.5
"""Pseudo-count per transition: a cold start is uniform, and one switch does not decide."""
SWITCH_RATE_PRIOR = (1.0, 4.0)
"""(switches, chunks) pseudo-observations: a prior of one switch every four chunks."""


@dataclass(frozen=True)
class PredictionScore:
    """Online accuracy against the distribution live just before each real switch."""

    predictions_made: int
    top1_hits: int
    top3_hits: int
    brier_sum: float

    @property
    def top1_accuracy(self) -> float:
        return self.top1_hits / self.predictions_made if self.predictions_made else 0.0

    @property
    def top3_accuracy(self) -> float:
        return self.top3_hits / self.predictions_made if self.predictions_made else 0.0

    @property
    def brier(self) -> float:
        return self.brier_sum / self.predictions_made if self.predictions_made else 0.0


class PresetPredictor:
    """Thread-safe; the engine feeds it switches and chunks played."""

    def __init__(
        self, presets: tuple[str, ...] = PRESET_ORDER, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.presets = presets
        self._counts = {a: dict.fromkeys(presets, 0.0) for a in presets}
        self._switches, self._chunks = SWITCH_RATE_PRIOR
        self._score = PredictionScore(0, 0, 0, 0.0)
        self._lock = threading.Lock()
        self._clock = clock
        self._started = clock()

    def distribution(self, current: str) -> dict[str, float]:
        """P(next preset | current), over the other presets; sums to 1."""
        with self._lock:
            return self._distribution(current)

    def _distribution(self, current: str) -> dict[str, float]:
        row = self._counts.get(current, {})
        weights = {p: row.get(p, 0.0) + PRIOR_COUNT for p in self.presets if p != current}
        total = sum(weights.values())
        return {preset: weight / total for preset, weight in weights.items()}

    def switch_probability_per_chunk(self) -> float:
        with self._lock:
            return min(0.95, self._switches / self._chunks)

    def observe_switch(self, source: str, target: str) -> None:
        """A switch the listener kept: score the prediction made for it, then learn it."""
        if source == target or source not in self._counts or target not in self._counts:
            return
        with self._lock:
            self._score_switch(self._distribution(source), target)
            for row in self._counts.values():
                for preset in row:
                    row[preset] *= DECAY_PER_SWITCH
            self._counts[source][target] += 1.0
            self._switches += 1.0

    def observe_chunk_played(self) -> None:
        with self._lock:
            self._chunks += 1.0

    def _score_switch(self, distribution: dict[str, float], target: str) -> None:
        ranked = sorted(distribution, key=lambda preset: -distribution[preset])
        brier = sum(
            (p - (1.0 if preset == target else 0.0)) ** 2 for preset, p in distribution.items()
        )
        score = self._score
        self._score = PredictionScore(
            score.predictions_made + 1,
            score.top1_hits + (ranked[:1] == [target]),
            score.top3_hits + (target in ranked[:3]),
            score.brier_sum + brier,
        )

    def score(self) -> PredictionScore:
        with self._lock:
            return self._score

    def session_minutes(self) -> float:
        return (self._clock() - self._started) / 60.0
