"""The placement plan: which chunks should be in which tier, ranked by expected value.

Pure functions of the playback state and the predictor's distribution, so they are tested
without threads. Expected value = probability the chunk will be played under that preset x
nearness to the playhead; the best-valued chunks fill L1, then L2, then L3, each up to its
budget. With the default budgets that puts now/next of the current preset and of the likely
switch targets in L1, further branches in L2 and the deep read-ahead in L3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.cache.keys import ChunkKey
from engine.vocabulary import TIER_NAMES

NEARNESS_PER_CHUNK = 0.5
"""Each chunk further from the playhead halves a chunk's value: a likely switch target at
the playhead is worth more than read-ahead the player needs only in 30 s."""
MAX_BRANCHES = 5
"""At most this many switch targets per chunk: every other built-in preset (a listener's
long list gets its likeliest five)."""
MIN_BRANCH_PROBABILITY = 0.02
"""A switch target at the playhead is rendered only if a switch to it within the next two
chunks is at least this likely, and twice that for each chunk further on (there is time to
render those when the playhead nears them). A settled listener's branches would mostly go
unheard; an exploring one's first switch of a burst is a guess among all.
`bench/cache_policy` chose the values: at least 0.90 of the oracle's switch hits at half
render-all's renders, at every slowdown up to 10x."""


@dataclass(frozen=True)
class TrackPosition:
    """A track the plan may render from: its identity and how many chunks it has."""

    track_id: str
    fingerprint: str
    chunk_count: int


@dataclass(frozen=True)
class PlanInput:
    """Everything the plan depends on, read from the player and the predictor."""

    track: TrackPosition
    playhead_chunk: int
    position_in_chunk: float
    """0..1: how far the playhead is through the current chunk."""
    preset: str
    intensity_bucket: int
    distribution: dict[str, float]
    """Next-preset probabilities over the other presets (sums to 1)."""
    switch_probability_per_chunk: float
    """Chance the listener switches preset while one chunk plays."""
    tier_chunk_bytes: dict[str, int]
    """Estimated bytes of one chunk in each tier."""
    tier_budget_bytes: dict[str, int]
    next_track: TrackPosition | None = None
    horizon_chunks: int = 12
    """Deep read-ahead of the current preset."""
    branch_chunks: int = 2
    """How far past the playhead the switch targets are rendered."""
    current_needs_render: bool = True
    """False when the current preset is the untouched source, which is never cached."""
    chunk_distributions: tuple[dict[str, float], ...] = ()
    """Optional: the distribution for each chunk from the playhead on (index = chunks ahead),
    from that chunk's own music, so the branch for the next section is the preset chosen for
    music like it. Chunks beyond it use `distribution`."""
    branch_buckets: dict[str, int] = field(default_factory=dict)
    """The intensity bucket a switch to each preset plays at (each keeps the listener's
    intensity for it); a preset not in it, at `intensity_bucket`."""
    min_read_ahead_probability: float = 0.3
    """Read-ahead of the current preset past the next chunk stops where the listener will
    likely have switched away: those renders would be thrown away unheard."""
    max_branches: int = MAX_BRANCHES
    min_branch_probability: float = MIN_BRANCH_PROBABILITY


@dataclass(frozen=True)
class PlannedChunk:
    key: ChunkKey
    fingerprint: str
    tier: str
    value: float
    probability: float


@dataclass(frozen=True)
class PlacementPlan:
    """Where each wanted chunk belongs; the buffer re-values entries and the worker renders."""

    items: tuple[PlannedChunk, ...]
    preset: str = ""
    playhead_chunk: int = 0
    track_id: str = ""
    by_key: dict[ChunkKey, PlannedChunk] = field(default_factory=dict)

    def values(self) -> dict[ChunkKey, tuple[float, float]]:
        return {item.key: (item.value, item.probability) for item in self.items}

    def top_switch_targets(self, count: int = 2) -> list[str]:
        """The other presets, most valuable first, by their chunk at the playhead."""
        at_playhead = [
            item
            for item in self.items
            if item.key.chunk_index == self.playhead_chunk
            and item.key.track_id == self.track_id
            and item.key.preset != self.preset
        ]
        at_playhead.sort(key=lambda item: -item.value)
        return [item.key.preset for item in at_playhead[:count]]


def distribution_at(plan_input: PlanInput, ahead: int) -> dict[str, float]:
    """The next-preset distribution for the chunk `ahead` chunks past the playhead."""
    if 0 <= ahead < len(plan_input.chunk_distributions):
        return plan_input.chunk_distributions[ahead]
    return plan_input.distribution


def branch_presets(plan_input: PlanInput, ahead: int = 0) -> list[str]:
    """Switch targets worth rendering at a chunk `ahead` of the playhead: the likeliest few,
    each only if a switch to it soon is likely enough, the more so the further the chunk."""
    return switch_targets(
        distribution_at(plan_input, ahead),
        plan_input.switch_probability_per_chunk,
        plan_input.min_branch_probability / NEARNESS_PER_CHUNK ** max(ahead, 0),
        plan_input.max_branches,
    )


def switch_targets(
    distribution: dict[str, float],
    switch_probability_per_chunk: float,
    needed: float = MIN_BRANCH_PROBABILITY,
    max_branches: int = MAX_BRANCHES,
) -> list[str]:
    """The likeliest `max_branches` presets of `distribution` that a switch to within the
    next two chunks is at least `needed` likely to reach; none for a settled listener."""
    stay = 1.0 - min(max(switch_probability_per_chunk, 0.0), 1.0)
    soon = 1.0 - stay**2
    ranked = sorted(distribution.items(), key=lambda item: -item[1])
    return [
        preset for preset, share in ranked[:max_branches] if share > 0 and share * soon >= needed
    ]


def candidate_values(plan_input: PlanInput) -> list[tuple[ChunkKey, str, float, float]]:
    """(key, fingerprint, value, probability) for every chunk worth considering."""
    stay = 1.0 - min(max(plan_input.switch_probability_per_chunk, 0.0), 1.0)
    track = plan_input.track
    candidates: list[tuple[ChunkKey, str, float, float]] = []
    last = min(track.chunk_count, plan_input.playhead_chunk + plan_input.horizon_chunks + 1)
    bucket = plan_input.intensity_bucket
    for chunk in range(plan_input.playhead_chunk, last):
        ahead = chunk - plan_input.playhead_chunk
        wait = max(0.0, ahead - plan_input.position_in_chunk)
        nearness = NEARNESS_PER_CHUNK**ahead
        still_here = stay**wait if ahead else 1.0
        worth_reading = ahead < 2 or still_here >= plan_input.min_read_ahead_probability
        if plan_input.current_needs_render and worth_reading:
            key = ChunkKey(track.track_id, plan_input.preset, bucket, chunk)
            candidates.append((key, track.fingerprint, still_here * nearness, still_here))
        if ahead > plan_input.branch_chunks:
            continue
        switched = 1.0 - stay ** (wait + 1.0)
        shares = distribution_at(plan_input, ahead)
        for preset in branch_presets(plan_input, ahead):
            probability = switched * shares[preset]
            branch = plan_input.branch_buckets.get(preset, bucket)
            other = ChunkKey(track.track_id, preset, branch, chunk)
            candidates.append((other, track.fingerprint, probability * nearness, probability))
    candidates.extend(_next_track_head(plan_input, stay, branch_presets(plan_input)))
    return candidates


def _next_track_head(
    plan_input: PlanInput, stay: float, branches: list[str]
) -> list[tuple[ChunkKey, str, float, float]]:
    """The first chunk of the next track (gapless advance) and of its likely switch targets."""
    following = plan_input.next_track
    remaining = plan_input.track.chunk_count - plan_input.playhead_chunk
    if following is None or remaining > plan_input.horizon_chunks:
        return []
    wait = max(0.0, remaining - plan_input.position_in_chunk)
    nearness = NEARNESS_PER_CHUNK**remaining
    bucket = plan_input.intensity_bucket
    heads: list[tuple[ChunkKey, str, float, float]] = []
    if plan_input.current_needs_render:
        probability = stay**wait
        key = ChunkKey(following.track_id, plan_input.preset, bucket, 0)
        heads.append((key, following.fingerprint, probability * nearness, probability))
    if remaining <= plan_input.branch_chunks:
        switched = 1.0 - stay ** (wait + 1.0)
        for preset in branches:
            probability = switched * plan_input.distribution[preset]
            key = ChunkKey(
                following.track_id, preset, plan_input.branch_buckets.get(preset, bucket), 0
            )
            heads.append((key, following.fingerprint, probability * nearness, probability))
    return heads


def make_plan(plan_input: PlanInput) -> PlacementPlan:
    """Rank the candidates by value and fill L1, L2, L3 in that order up to their budgets."""
    ranked = sorted(candidate_values(plan_input), key=lambda c: -c[2])
    items: list[PlannedChunk] = []
    tier_index = 0
    used = 0
    for key, fingerprint, value, probability in ranked:
        while tier_index < len(TIER_NAMES):
            tier = TIER_NAMES[tier_index]
            cost = plan_input.tier_chunk_bytes[tier]
            if used + cost <= plan_input.tier_budget_bytes[tier]:
                used += cost
                items.append(PlannedChunk(key, fingerprint, tier, value, probability))
                break
            tier_index += 1
            used = 0
        if tier_index >= len(TIER_NAMES):
            break
    return PlacementPlan(
        tuple(items),
        plan_input.preset,
        plan_input.playhead_chunk,
        plan_input.track.track_id,
        {item.key: item for item in items},
    )
