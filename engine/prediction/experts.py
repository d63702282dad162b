"""The predictor's sources of evidence, each a normalised next-preset distribution.

Each expert answers one question the listener's history can settle:
- `MarkovExpert`: after preset A, where does this listener go? (decayed first-order counts)
- `ContentExpert`: which preset does this listener pick for music that sounds like the
  upcoming chunk? (a decayed Gaussian class model over the five chunk features)
- `FavouriteExpert`: where does this listener go, whatever they leave? (decayed counts)
- `StayModel`: will the listener switch at all while the next chunk plays, and more often at
  a section change than in the middle of one?

Recency comes from exponential decay only, never from multiplicative boosts, so every
distribution is a proper one. Every state is plain JSON-able data, so it persists.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DECAY_PER_SWITCH = 0.97
"""Each learned switch multiplies older evidence by this: ~33 switches of memory."""
PRIOR_COUNT = 0.5
"""Pseudo-count per transition: a cold start is uniform, and one switch does not decide."""
FEATURE_COUNT = 5
"""energy, brightness, dynamics, vocal presence, tempo energy: each in [0, 1]."""

CONTENT_PRIOR_CENTROIDS: dict[str, tuple[float, ...]] = {
    # energy, brightness, dynamics, vocal presence, tempo energy
    "original": (0.5, 0.5, 0.5, 0.5, 0.5),
    "adaptive": (0.5, 0.5, 0.5, 0.6, 0.5),
    "gentle": (0.3, 0.5, 0.75, 0.4, 0.3),
    "warm": (0.6, 0.75, 0.4, 0.6, 0.5),
    "bright": (0.4, 0.2, 0.5, 0.5, 0.4),
    "punchy": (0.75, 0.5, 0.35, 0.4, 0.75),
}
"""Where each preset is a natural choice before anything is learned: bright lifts dull
music, warm tames bright loud music, gentle suits quiet dynamic music, punchy suits dense
fast music. Weighted as a single pseudo-observation, so a few real switches override it."""
CENTROID_PRIOR_WEIGHT = 1.0
VARIANCE_PRIOR = 0.04
"""Per-feature variance before learning (sd 0.2 on a 0..1 scale): broad enough that the
prior centroids only lean, never decide."""
MIN_VARIANCE = 0.004


def normalised(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights over presets -> probabilities; all-zero weights give a uniform spread."""
    total = sum(weights.values())
    if total <= 0.0 or not math.isfinite(total):
        return {preset: 1.0 / len(weights) for preset in weights}
    return {preset: value / total for preset, value in weights.items()}


def _finite(value: Any, name: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0.0:
        raise ValueError(f"{name} must be a finite non-negative number")
    return number


def _both(presets: Sequence[str], saved: Collection[str]) -> list[str]:
    """The presets a saved model knows: what it learned of them is loaded, while presets
    added since start from the priors (and the ones removed are left out)."""
    return [preset for preset in presets if preset in saved]


class MarkovExpert:
    """P(next | current) from decayed transition counts plus a uniform pseudo-count."""

    name = "markov"

    def __init__(self, presets: Sequence[str]) -> None:
        self.presets = tuple(presets)
        self.counts = {a: dict.fromkeys(self.presets, 0.0) for a in self.presets}

    def distribution(self, current: str, features: Sequence[float] | None) -> dict[str, float]:
        row = self.counts.get(current, {})
        return normalised({p: row.get(p, 0.0) + PRIOR_COUNT for p in self.presets if p != current})

    def learn(self, source: str, target: str, features: Sequence[float] | None) -> None:
        for row in self.counts.values():
            for preset in row:
                row[preset] *= DECAY_PER_SWITCH
        self.counts[source][target] += 1.0

    def state(self) -> dict[str, Any]:
        return {"counts": self.counts}

    def load(self, state: Mapping[str, Any], saved: Collection[str]) -> None:
        counts, known = state["counts"], _both(self.presets, saved)
        for source in known:
            for target in known:
                self.counts[source][target] = _finite(counts[source][target], "markov count")


class FavouriteExpert:
    """P(next) from decayed counts of switch targets, whatever preset was left."""

    name = "favourite"

    def __init__(self, presets: Sequence[str]) -> None:
        self.presets = tuple(presets)
        self.counts = dict.fromkeys(self.presets, 0.0)

    def distribution(self, current: str, features: Sequence[float] | None) -> dict[str, float]:
        return normalised({p: self.counts[p] + PRIOR_COUNT for p in self.presets if p != current})

    def learn(self, source: str, target: str, features: Sequence[float] | None) -> None:
        for preset in self.counts:
            self.counts[preset] *= DECAY_PER_SWITCH
        self.counts[target] += 1.0

    def state(self) -> dict[str, Any]:
        return {"counts": self.counts}

    def load(self, state: Mapping[str, Any], saved: Collection[str]) -> None:
        for preset in _both(self.presets, saved):
            self.counts[preset] = _finite(state["counts"][preset], "favourite count")


class ContentExpert:
    """P(next | upcoming chunk's features): one decayed Gaussian per target preset.

    Each preset keeps the decayed mean of the features of the chunks the listener switched
    to it on, and a decayed weight; all share one per-feature variance. The class with the
    nearest mean (weighted by how often it is chosen) wins. It learns from a handful of
    switches, where a linear model would need hundreds, and it can represent "bright for
    dull music, warm for harsh loud music" regions that a linear model cannot.
    """

    name = "content"

    def __init__(self, presets: Sequence[str]) -> None:
        self.presets = tuple(presets)
        self.weights = dict.fromkeys(self.presets, CENTROID_PRIOR_WEIGHT)
        self.means = {
            p: list(CONTENT_PRIOR_CENTROIDS.get(p, (0.5,) * FEATURE_COUNT)) for p in self.presets
        }
        self.variance = [VARIANCE_PRIOR] * FEATURE_COUNT
        self.variance_weight = CENTROID_PRIOR_WEIGHT * 4

    def distribution(self, current: str, features: Sequence[float] | None) -> dict[str, float]:
        others = [p for p in self.presets if p != current]
        if features is None:
            return {p: 1.0 / len(others) for p in others}
        log_scores = {p: self._log_score(p, features) for p in others}
        top = max(log_scores.values())
        return normalised({p: math.exp(score - top) for p, score in log_scores.items()})

    def _log_score(self, preset: str, features: Sequence[float]) -> float:
        mean = self.means[preset]
        distance = sum(
            (x - m) ** 2 / v for x, m, v in zip(features, mean, self.variance, strict=True)
        )
        return math.log(self.weights[preset]) - 0.5 * distance

    def learn(self, source: str, target: str, features: Sequence[float] | None) -> None:
        if features is None:
            return
        for preset in self.weights:
            self.weights[preset] = max(1e-3, self.weights[preset] * DECAY_PER_SWITCH)
        mean = self.means[target]
        self.weights[target] += 1.0
        rate = 1.0 / self.weights[target]
        for i, x in enumerate(features):
            deviation = x - mean[i]
            mean[i] += rate * deviation
            self._learn_variance(i, deviation * (x - mean[i]))

    def _learn_variance(self, index: int, squared_deviation: float) -> None:
        self.variance_weight = self.variance_weight * DECAY_PER_SWITCH + 1.0
        rate = 1.0 / self.variance_weight
        updated = self.variance[index] + rate * (squared_deviation - self.variance[index])
        self.variance[index] = max(MIN_VARIANCE, updated)

    def state(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "means": self.means,
            "variance": self.variance,
            "variance_weight": self.variance_weight,
        }

    def load(self, state: Mapping[str, Any], saved: Collection[str]) -> None:
        for preset in _both(self.presets, saved):
            self.weights[preset] = max(1e-3, _finite(state["weights"][preset], "content weight"))
            mean = [float(x) for x in state["means"][preset]]
            if len(mean) != FEATURE_COUNT or not all(0.0 <= x <= 1.0 for x in mean):
                raise ValueError("content means must be five numbers in [0, 1]")
            self.means[preset] = mean
        variance = [_finite(x, "content variance") for x in state["variance"]]
        if len(variance) != FEATURE_COUNT:
            raise ValueError("content variance must have five numbers")
        self.variance = [max(MIN_VARIANCE, x) for x in variance]
        self.variance_weight = _finite(state["variance_weight"], "variance weight")


SECTION_CHANGE_DISTANCE = 0.15
"""Feature distance (RMS over the five features) above which the next chunk counts as a new
section: quiet verse to loud chorus moves energy and dynamics by 0.2-0.4."""
PRIOR_CHUNKS = 1.0
"""The prior's weight in chunks played: a new listener who touches nothing for a minute is
taken as settled, and the plan stops rendering switch targets for them. `bench/cache_policy`
on the corpus: a weight of 2 kept rendering them for two minutes and more, for the same
switch hits (0.909/0.904/0.902 of the oracle's at 1x/5x/10x); 0.5 began to lose hits."""
CHUNK_DECAY = 0.98
"""Each chunk played multiplies older switch-rate evidence by this: ~50 chunks of memory."""


@dataclass
class _Rate:
    """A decayed Beta estimate of a per-chunk switch probability."""

    switches: float
    chunks: float

    def value(self) -> float:
        """P(at least one switch in a chunk), from the rate as a Poisson process."""
        return min(0.95, 1.0 - math.exp(-self.switches / self.chunks))


class StayModel:
    """P(a switch while the next chunk plays), learned apart for steady and changing music.

    The plan uses it to decide how much of the budget goes to alternatives: a settled
    listener gets deep read-ahead, an active one gets branches. Listeners who react to the
    music switch far more at section changes, so the two rates are kept apart.
    """

    def __init__(self, prior_switch_probability: float = 0.25) -> None:
        prior = min(max(prior_switch_probability, 0.01), 0.95)
        rate = -math.log(1.0 - prior)  # switches per chunk that give `prior`
        self.steady = _Rate(rate * PRIOR_CHUNKS, PRIOR_CHUNKS)
        self.change = _Rate(rate * PRIOR_CHUNKS, PRIOR_CHUNKS)

    @staticmethod
    def is_section_change(
        current: Sequence[float] | None, upcoming: Sequence[float] | None
    ) -> bool | None:
        if current is None or upcoming is None:
            return None
        squared = sum((a - b) ** 2 for a, b in zip(current, upcoming, strict=True))
        return math.sqrt(squared / FEATURE_COUNT) > SECTION_CHANGE_DISTANCE

    def switch_probability(self, section_change: bool | None) -> float:
        if section_change is None:
            total = _Rate(
                self.steady.switches + self.change.switches, self.steady.chunks + self.change.chunks
            )
            return total.value()
        return (self.change if section_change else self.steady).value()

    def observe_chunk(self, section_change: bool | None, switches: int) -> None:
        """One chunk played, during which the listener made `switches` (learned) switches."""
        rate = self.change if section_change else self.steady
        for each in (self.steady, self.change):
            each.switches *= CHUNK_DECAY
            each.chunks *= CHUNK_DECAY
        rate.chunks += 1.0
        rate.switches += float(max(0, switches))

    def state(self) -> dict[str, Any]:
        return {"steady": [self.steady.switches, self.steady.chunks],
                "change": [self.change.switches, self.change.chunks]}  # fmt: skip

    def load(self, state: Mapping[str, Any]) -> None:
        for name in ("steady", "change"):
            switches, chunks = (_finite(x, "switch rate") for x in state[name])
            if chunks <= 0.0:
                raise ValueError("switch rate evidence needs a positive chunk count")
            setattr(self, name, _Rate(switches, chunks))
