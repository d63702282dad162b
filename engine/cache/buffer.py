"""`MultiTierBuffer`: three tiers of real audio, lookups with promotion, honest counters.

A lookup tries L1, then L2, then L3. Every hit is decoded with its checksum checked (L1's
too: its array is played as is); a hit below L1 is promoted into L1 if L1 admits it, leaving
the lower tier (the tiers are exclusive, so a chunk is paid for once). Counters are kept per
request kind (playback, switch, seek) and per tier with one denominator, the lookups: hits in
all tiers + misses = lookups, always.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from engine.cache.codecs import (
    CorruptChunk,
    EncodedChunk,
    FlacCodec,
    Float32Codec,
    Int16Codec,
)
from engine.cache.keys import ChunkKey
from engine.cache.tier import MEGABYTE, Tier, TierEntry
from engine.frames import Audio
from engine.prediction.placement import PlacementPlan
from engine.vocabulary import TIER_NAMES, TierName

MAX_STALE_VERSIONS = 10_000
"""Invalidated file versions remembered (a file changes on disk rarely)."""
RequestKind = Literal["playback", "switch", "seek"]
REQUEST_KINDS: tuple[RequestKind, ...] = ("playback", "switch", "seek")


@dataclass(frozen=True)
class Lookup:
    """What a lookup found: the audio (None on a miss) and the tier that served it."""

    audio: Audio | None
    tier: str | None

    @property
    def hit(self) -> bool:
        return self.audio is not None


@dataclass(frozen=True)
class LookupRecord:
    """One lookup, as the event stream tells it: the chunk asked for, of which file
    version, for what, and the tier that served it (None: a miss)."""

    key: ChunkKey
    fingerprint: str
    kind: RequestKind
    tier: str | None


LookupObserver = Callable[[LookupRecord], None]


@dataclass
class LookupCounters:
    """Hits per tier and misses, for one request kind."""

    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIER_NAMES, 0))
    misses: int = 0

    @property
    def lookups(self) -> int:
        return sum(self.hits.values()) + self.misses


@dataclass(frozen=True)
class TierFigures:
    """Per-tier view: `misses` are the lookups that reached this tier and missed it."""

    name: str
    hits: int
    misses: int
    count: int
    size_bytes: int
    budget_bytes: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class MultiTierBuffer:
    """The three tiers together. Every method is thread-safe."""

    def __init__(
        self, l1_bytes: int, l2_bytes: int, l3_bytes: int, on_lookup: LookupObserver | None = None
    ) -> None:
        """`on_lookup` hears every lookup, on the thread that made it."""
        self._on_lookup = on_lookup
        self.tiers: dict[str, Tier] = {
            TierName.L1: Tier(TierName.L1, Float32Codec(), l1_bytes),
            TierName.L2: Tier(TierName.L2, Int16Codec(), l2_bytes),
            TierName.L3: Tier(TierName.L3, FlacCodec(), l3_bytes),
        }
        self.configured_bytes: dict[str, int] = {
            TierName.L1: l1_bytes,
            TierName.L2: l2_bytes,
            TierName.L3: l3_bytes,
        }
        self._counters = {kind: LookupCounters() for kind in REQUEST_KINDS}
        self._counter_lock = threading.Lock()
        self._plan = PlacementPlan(())
        self.corrupt_dropped = 0
        self._moves = threading.Lock()
        """Serialises promotions against stores, invalidation and clearing, so a promotion
        never resurrects a chunk that was invalidated, cleared or replaced while it decoded."""
        self._encoded_ratio: dict[str, float] = {
            TierName.L1: 1.0,
            TierName.L2: 0.5,
            TierName.L3: 0.2,
        }
        self._stale: OrderedDict[tuple[str, str], None] = OrderedDict()
        """File versions (track id, fingerprint) invalidated, oldest first."""
        self._generation = 0
        """Bumped by clearing and invalidation (under `_moves`): a demotion that began
        before must not bring back what they dropped."""
        self.demoted = 0
        """Evicted chunks kept one tier down instead of rendered again later."""

    @classmethod
    def from_megabytes(
        cls, l1_mb: float, l2_mb: float, l3_mb: float, on_lookup: LookupObserver | None = None
    ) -> MultiTierBuffer:
        l1, l2, l3 = (int(mb * MEGABYTE) for mb in (l1_mb, l2_mb, l3_mb))
        return cls(l1, l2, l3, on_lookup)

    # -- lookups --------------------------------------------------------------------------
    def lookup(
        self, key: ChunkKey, fingerprint: str, kind: RequestKind, count: bool = True
    ) -> Lookup:
        """Find a chunk; promote it to L1 when found lower; count the hit or the miss.

        `count=False` is for a second look at a request already counted (a miss whose
        render has since finished), so one request is never counted twice.
        """
        found = self._find(key, fingerprint, kind, count)
        if self._on_lookup is not None:
            self._on_lookup(LookupRecord(key, fingerprint, kind, found.tier))
        return found

    def _find(self, key: ChunkKey, fingerprint: str, kind: RequestKind, count: bool) -> Lookup:
        for name in TIER_NAMES:
            tier = self.tiers[name]
            chunk = tier.fetch(key, fingerprint)
            if chunk is None:
                continue
            try:
                audio = tier.decode(chunk)
            except CorruptChunk:
                tier.remove_if_holding(key, chunk)
                self.note_corrupt()
                continue
            if name != TierName.L1:
                self.move(key, fingerprint, chunk, audio, name, TierName.L1, demote=False)
            if count:
                self._count(kind, name)
            return Lookup(audio, name)
        if count:
            self._count(kind, None)
        return Lookup(None, None)

    def note_corrupt(self) -> None:
        """Count a chunk dropped for a failed checksum, wherever it was found, so the engine
        can report every one (a lookup or a worker's promotion)."""
        with self._counter_lock:
            self.corrupt_dropped += 1

    def peek_tier(self, key: ChunkKey) -> str | None:
        """Where a chunk is, without counting or promoting (for views and the worker)."""
        for name in TIER_NAMES:
            if key in self.tiers[name]:
                return name
        return None

    def move(
        self,
        key: ChunkKey,
        fingerprint: str,
        chunk: EncodedChunk,
        audio: Audio,
        source: str,
        target: str,
        demote: bool = True,
    ) -> bool:
        """Move a decoded chunk from `source` to `target`, if nothing changed meanwhile.

        The move happens only if `source` still holds this very chunk (it was not
        invalidated, cleared or replaced while we decoded) and `target` has no newer copy.
        An L1 chunk's audio is its stored array, which a caller may hand over without
        decoding it: it is verified here, or re-encoding would stamp a fresh, valid
        checksum over corrupt samples. A corrupt one is dropped and counted instead.
        What `target` evicts to make room moves down a tier (`demote`), which costs a few
        milliseconds: a lookup on the playback path lets it go instead.
        """
        origin = self.tiers[source]
        if isinstance(origin.codec, Float32Codec):
            try:
                origin.codec.verify(chunk)
            except CorruptChunk:
                origin.remove_if_holding(key, chunk)
                self.note_corrupt()
                return False
        planned = self._plan.by_key.get(key)
        value = planned.value if planned is not None else 0.0
        probability = planned.probability if planned is not None else 0.0
        destination = self.tiers[target]
        encoded = destination.codec.encode(audio)
        with self._moves:
            if not self.tiers[source].holds(key, chunk) or key in destination:
                return False
            evicted = destination.admit(TierEntry(key, encoded, fingerprint, value, probability))
            if evicted is None:
                return False
            self.tiers[source].remove_if_holding(key, chunk)
            generation = self._generation
        if demote:
            self._demote(evicted, target, generation)
        return True

    def _count(self, kind: RequestKind, tier: str | None) -> None:
        with self._counter_lock:
            counters = self._counters[kind]
            if tier is None:
                counters.misses += 1
            else:
                counters.hits[tier] += 1

    # -- storing --------------------------------------------------------------------------
    def store(
        self,
        key: ChunkKey,
        audio: Audio,
        fingerprint: str,
        tier: str,
        value: float,
        probability: float = 0.0,
        current: Callable[[], bool] = lambda: True,
    ) -> bool:
        """Encode and insert into `tier` (admission may refuse); drop copies in other tiers.
        A render of a file version invalidated meanwhile is refused: it was started before
        the file changed or went away, and must not outlive the drop. So is one for which
        `current` (asked under the lock `drop_presets` takes) says its gain was set again."""
        target = self.tiers[tier]
        chunk = target.codec.encode(audio)
        self._learn_ratio(tier, chunk.size_bytes, audio.nbytes)
        with self._moves:
            if (key.track_id, fingerprint) in self._stale or not current():
                return False
            evicted = target.admit(TierEntry(key, chunk, fingerprint, value, probability))
            if evicted is None:
                return False
            for name in TIER_NAMES:
                if name != tier:
                    self.tiers[name].remove(key)
            generation = self._generation
        self._demote(evicted, tier, generation)
        return True

    # -- demotion -------------------------------------------------------------------------
    def _demote(self, evicted: list[TierEntry], tier: str, generation: int) -> None:
        """Keep what an admission into `tier` evicted one tier down, where the plan still
        values it, instead of rendering it again when the plan asks for it there (14% of
        renders on real music were such repeats). A decode and an encode cost 2 to 10 ms, a
        render 50 to 90; both run outside every lock. What the last tier evicts, and what
        the plan no longer values, is let go."""
        waiting = [(entry, tier) for entry in evicted if entry.value > 0]
        while waiting:
            entry, origin = waiting.pop()
            if origin == TIER_NAMES[-1]:
                continue
            below = TIER_NAMES[TIER_NAMES.index(origin) + 1]
            try:
                audio = self.tiers[origin].decode(entry.chunk)
            except CorruptChunk:
                self.note_corrupt()
                continue
            encoded = self.tiers[below].codec.encode(audio)
            key = entry.key
            with self._moves:
                if (
                    generation != self._generation
                    or (key.track_id, entry.fingerprint) in self._stale
                    or any(key in held for held in self.tiers.values())
                ):
                    continue
                further = self.tiers[below].admit(replace(entry, chunk=encoded, access_count=0))
                if further is None:
                    continue
                self.demoted += 1
            waiting.extend((more, below) for more in further if more.value > 0)

    def _learn_ratio(self, tier: str, encoded: int, raw: int) -> None:
        if raw:
            self._encoded_ratio[tier] = 0.8 * self._encoded_ratio[tier] + 0.2 * encoded / raw

    def estimated_chunk_bytes(self, chunk_frames: int) -> dict[str, int]:
        """Bytes one chunk costs in each tier, from what recent chunks really cost."""
        raw = chunk_frames * 2 * 4
        return {name: max(1, int(raw * ratio)) for name, ratio in self._encoded_ratio.items()}

    # -- plan -----------------------------------------------------------------------------
    def apply_plan(self, plan: PlacementPlan) -> None:
        """Re-value every entry: what the plan no longer wants (played, stale) goes first."""
        self._plan = plan
        values = plan.values()
        for tier in self.tiers.values():
            tier.set_values(values)

    @property
    def plan(self) -> PlacementPlan:
        return self._plan

    # -- invalidation and budgets ---------------------------------------------------------
    def invalidate_track(self, track_id: str, fingerprint: str | None = None) -> int:
        """A track was deleted or modified: nothing rendered from it may be served again,
        and nothing rendered from that version (`fingerprint`) may be stored again, not
        even by a render already running."""
        with self._moves:
            if fingerprint is not None:
                self._stale[(track_id, fingerprint)] = None
                while len(self._stale) > MAX_STALE_VERSIONS:
                    self._stale.popitem(last=False)
            self._generation += 1
            return sum(
                tier.remove_where(lambda key: key.track_id == track_id)
                for tier in self.tiers.values()
            )

    def drop_presets(self, track_id: str, presets: Iterable[str]) -> int:
        """Drop every chunk of these presets on this track (their gain was set again)."""
        doomed = set(presets)
        with self._moves:
            self._generation += 1
            return sum(
                tier.remove_where(lambda key: key.track_id == track_id and key.preset in doomed)
                for tier in self.tiers.values()
            )

    def drop_presets_everywhere(self, presets: Iterable[str]) -> int:
        """Drop every chunk of these presets, on every track (they were redefined)."""
        doomed = set(presets)
        with self._moves:
            self._generation += 1
            return sum(
                tier.remove_where(lambda key: key.preset in doomed) for tier in self.tiers.values()
            )

    def is_stale(self, track_id: str, fingerprint: str) -> bool:
        """That version of the track was invalidated: its renders must not be used."""
        with self._moves:
            return (track_id, fingerprint) in self._stale

    def clear(self, tier: str | None = None) -> int:
        names = TIER_NAMES if tier is None else (tier,)
        with self._moves:
            self._generation += 1
            return sum(self.tiers[name].clear() for name in names)

    def resize(self, budgets: dict[str, int]) -> int:
        """New budgets (memory pressure); each tier evicts down to its new size at once."""
        return sum(self.tiers[name].resize(budgets[name]) for name in TIER_NAMES)

    # -- views ----------------------------------------------------------------------------
    def counters(self) -> dict[str, LookupCounters]:
        with self._counter_lock:
            return {
                kind: LookupCounters(dict(c.hits), c.misses) for kind, c in self._counters.items()
            }

    def tier_figures(self, kinds: Iterable[RequestKind] = REQUEST_KINDS) -> list[TierFigures]:
        counters = self.counters()
        selected = [counters[kind] for kind in kinds]
        hits = {name: sum(c.hits[name] for c in selected) for name in TIER_NAMES}
        misses_after = sum(c.misses for c in selected)
        figures: list[TierFigures] = []
        reached_below = misses_after
        for name in reversed(TIER_NAMES):  # misses at a tier = what went on past it
            stats = self.tiers[name].stats()
            figures.append(
                TierFigures(
                    name,
                    hits[name],
                    reached_below,
                    stats.count,
                    stats.size_bytes,
                    stats.budget_bytes,
                )
            )
            reached_below += hits[name]
        return list(reversed(figures))

    def total_bytes(self) -> int:
        return sum(tier.size_bytes for tier in self.tiers.values())

    def total_budget_bytes(self) -> int:
        return sum(tier.budget_bytes for tier in self.tiers.values())

    def entries(self) -> dict[str, list[TierEntry]]:
        return {name: self.tiers[name].entries() for name in TIER_NAMES}
