"""Cache policies under listener traces: a chunk-level simulation with equal memory and CPU.

Hit ratios measured on the real engine depend on the machine (how fast renders finish) as
much as on the policy. This simulation takes the machine out: no audio is rendered, chunks
are keys, and every policy gets exactly the same three things.

- The same requests. A trace is followed once by a `Playhead` (the engine player's rules) in
  steps of `step_seconds` of session time, stopping at every chunk boundary and every event.
  A *playback* request is made when playback enters a chunk, a *seek* request when a seek or a
  track skip lands (on resuming play if it landed while paused), a *switch* request when the
  preset or the intensity bucket changes; each asks for (track, preset, bucket, chunk at the
  playhead). `original` is the untouched source: it is never cached, so neither switching to
  it nor playing it makes a request.
- The same memory bytes. The store has the engine's three tiers with their byte budgets and
  codecs (L1 float32, L2 int16, L3 FLAC at `l3_share_of_int16` of int16). A policy's best
  ranked chunks fill L1, the next L2, the rest L3, as the placement plan fills them, so the
  store is `capacity` slots whose bytes are those of the tiers they fall in. The tier a chunk
  sits in changes how fast a hit is heard, never whether it is a hit, so it is not modelled
  further; the bytes the occupied slots cost are checked against the budget at every step.
- The same render budget. Render credit accrues at `renders_per_second` of session time, up
  to `render_burst` (CPU left idle cannot be saved up; two render threads can start two renders
  at once). A prefetch render needs a whole credit. A miss is rendered on demand whatever the
  credit (the listener is waiting) and is paid for too, so credit can go negative and a policy
  that misses a lot has less to prefetch with: nobody gets free renders.

At each step a policy sees the playback state, the missed requests are rendered and stored,
and then it prefetches in its own order of preference while credit lasts. Where space is
needed it names a victim, and it may refuse (stop prefetching) rather than evict something it
prefers to the candidate; a demand render is always stored.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from engine.cache.keys import ChunkKey
from engine.cache.tier import MEGABYTE
from engine.config import EngineConfig
from engine.persist.trace import TraceEvent
from engine.prediction.interaction import InteractionFilter
from engine.prediction.placement import PlacementPlan, TrackPosition
from engine.prediction.planner import BufferPlanner, Whereabouts
from engine.prediction.predict import PresetPredictor
from engine.sim.timeline import LibraryTimeline, Playhead
from engine.vocabulary import BYPASS, PROCESSED_PRESETS, TIER_NAMES

REQUEST_KINDS = ("preset", "intensity", "playback", "seek")
SWITCH_KINDS = ("preset", "intensity")
"""A switch is a change of preset or of intensity bucket: both ask for another render."""
POLICY_NAMES = ("ours", "read_ahead", "render_all", "demand_lru", "oracle")
NEVER = math.inf
"""Next use of a key the future never asks for again."""


@dataclass(frozen=True)
class SimSettings:
    """Everything every policy shares in one comparison."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    """Chunk length, tier budgets, intensity buckets, plan horizon, switch prior."""
    renders_per_second: float = 0.6
    """Chunk renders per second of session time. Render-all needs 0.5 (five presets, one
    10 s chunk each per 10 s of music) just to keep pace, so it can never rebuild its
    window after a seek or a skip (71 chunks take two minutes); read-ahead needs 0.1, so
    it has six times what it uses."""
    render_burst: float = 2.0
    """Most credit that can be saved up: one render per render thread."""
    l3_share_of_int16: float = 0.55
    """FLAC bytes as a share of int16 on music (bench/buffer.py measures 0.5-0.6)."""
    step_seconds: float = 0.1
    """The simulation's clock step; the engine looks at its plan inputs every
    `plan_interval_seconds` (0.25 s) and plans at once on a command, so a finer step
    models it no worse."""

    def tier_chunk_bytes(self) -> dict[str, int]:
        """Bytes one chunk costs in each tier."""
        float32 = self.engine.chunk_frames * 2 * 4
        int16 = float32 // 2
        return {"l1": float32, "l2": int16, "l3": round(int16 * self.l3_share_of_int16)}

    def tier_budget_bytes(self) -> dict[str, int]:
        config = self.engine
        budgets_mb = (config.l1_budget_mb, config.l2_budget_mb, config.l3_budget_mb)
        return {name: int(mb * MEGABYTE) for name, mb in zip(TIER_NAMES, budgets_mb, strict=True)}

    def tier_slots(self) -> dict[str, int]:
        """Chunks each tier holds: the same count `make_plan` fills it with."""
        sizes, budgets = self.tier_chunk_bytes(), self.tier_budget_bytes()
        return {name: budgets[name] // sizes[name] for name in TIER_NAMES}

    def capacity_chunks(self) -> int:
        return sum(self.tier_slots().values())


def _ms(seconds: float) -> int:
    return round(seconds * 1000.0)


# -- the requests a trace makes -----------------------------------------------------------------


class Request(NamedTuple):
    """One lookup; `number` is its place in the whole session's order (the oracle's clock)."""

    number: int
    kind: str
    key: ChunkKey


@dataclass(frozen=True)
class Tick:
    """One simulation step: the state after its event, and the lookups it made."""

    t: float
    event: TraceEvent | None
    track_index: int
    position: float
    playing: bool
    preset: str
    bucket: int
    requests: tuple[Request, ...]


@dataclass(frozen=True)
class Script:
    """A trace followed once, so every policy serves exactly the same requests."""

    timeline: LibraryTimeline
    ticks: tuple[Tick, ...]
    requests: tuple[Request, ...]
    played_chunks: float
    """Seconds of music played / chunk length: the denominator of the render cost."""


def chunk_counts(timeline: LibraryTimeline, chunk_seconds: float) -> tuple[int, ...]:
    """Chunks per track, as the engine cuts them (the last one may be short)."""
    chunk_ms = _ms(chunk_seconds)
    return tuple(
        max(1, math.ceil(_ms(track.duration_seconds) / chunk_ms)) for track in timeline.tracks
    )


class _ScriptBuilder:
    """Follows a trace with a playhead and writes down every lookup playback would make."""

    def __init__(self, timeline: LibraryTimeline, settings: SimSettings) -> None:
        self._timeline = timeline
        self._config = settings.engine
        self._chunk_ms = _ms(settings.engine.chunk_seconds)
        self._step_ms = max(1, _ms(settings.step_seconds))
        self._counts = chunk_counts(timeline, settings.engine.chunk_seconds)
        self._playhead = Playhead(timeline)
        self._preset = BYPASS
        self._bucket = settings.engine.intensity_bucket(1.0)
        self._landing: str | None = None
        """The lookup a seek, skip or open made while paused owes on the next play."""
        self._now_ms = 0
        self._played_ms = 0
        self._ticks: list[Tick] = []
        self._requests: list[Request] = []

    def build(self, events: Sequence[TraceEvent]) -> Script:
        for event in events:
            event_ms = _ms(event.t)
            while (stop_ms := self._next_stop_ms()) < event_ms:
                self._tick(stop_ms, None)
            self._tick(event_ms, event)
        return Script(
            self._timeline,
            tuple(self._ticks),
            tuple(self._requests),
            self._played_ms / self._chunk_ms,
        )

    def _next_stop_ms(self) -> int:
        """The next step, or the next chunk boundary if playback reaches one first."""
        stop = self._now_ms + self._step_ms
        if self._playhead.playing:
            boundary = _ms(self._playhead.seconds_to_chunk_boundary(self._config.chunk_seconds))
            stop = min(stop, self._now_ms + max(boundary, 1))
        return stop

    def _tick(self, stop_ms: int, event: TraceEvent | None) -> None:
        first = len(self._requests)
        self._advance(stop_ms)
        if event is not None:
            self._apply(event)
        playhead = self._playhead
        self._ticks.append(
            Tick(
                stop_ms / 1000.0,
                event,
                playhead.track_index,
                playhead.position,
                playhead.playing,
                self._preset,
                self._bucket,
                tuple(self._requests[first:]),
            )
        )

    def _advance(self, stop_ms: int) -> None:
        """Let the music play to `stop_ms`; entering a new chunk is a playback lookup."""
        playhead = self._playhead
        before, was_playing = self._place(), playhead.playing
        left = playhead.seconds_until_stop()
        if left is not None:
            self._played_ms += min(stop_ms - self._now_ms, _ms(left))
        playhead.advance(stop_ms / 1000.0)
        self._now_ms = stop_ms
        if was_playing and self._place() != before:
            self._request("playback")

    def _apply(self, event: TraceEvent) -> None:
        kind = event.event
        if kind == "preset" and event.preset_name is not None:
            self._switch(event.preset_name, self._bucket, kind)
        elif kind == "intensity" and event.value is not None:
            self._switch(self._preset, self._config.intensity_bucket(event.value), kind)
        else:
            self._playhead.apply(event)
            if kind in ("seek", "seek_relative", "next", "prev", "open"):
                self._land("playback" if kind == "open" else "seek")
            elif kind == "play" and self._landing is not None:
                self._land(self._landing)

    def _switch(self, preset: str, bucket: int, kind: str) -> None:
        """A changed setting is looked up at once; choosing what already plays asks nothing."""
        changed = (preset, bucket) != (self._preset, self._bucket)
        self._preset, self._bucket = preset, bucket
        if changed:
            self._request(kind)

    def _land(self, kind: str) -> None:
        """The feeder looks the landing chunk up when it next reads, i.e. once playing."""
        if self._playhead.playing:
            self._landing = None
            self._request(kind)
        else:
            self._landing = kind

    def _place(self) -> tuple[int, int]:
        track = self._playhead.track_index
        chunk = _ms(self._playhead.position) // self._chunk_ms
        return track, min(chunk, self._counts[track] - 1)

    def _request(self, kind: str) -> None:
        if self._preset == BYPASS:
            return
        track, chunk = self._place()
        key = ChunkKey(self._timeline.tracks[track].path, self._preset, self._bucket, chunk)
        self._requests.append(Request(len(self._requests), kind, key))


def build_script(
    timeline: LibraryTimeline, events: Sequence[TraceEvent], settings: SimSettings
) -> Script:
    """Every lookup the trace makes, with the playback state at each step."""
    return _ScriptBuilder(timeline, settings).build(events)


# -- the store ----------------------------------------------------------------------------------


class ChunkStore:
    """The chunks a policy holds, in `capacity` slots that cost what their tier costs.

    Keeps recency (least recently used first) and insertion order (oldest first) for the
    policies that evict by them.
    """

    def __init__(self, settings: SimSettings) -> None:
        sizes, slots = settings.tier_chunk_bytes(), settings.tier_slots()
        self._slots = tuple((slots[name], sizes[name]) for name in TIER_NAMES)
        self.capacity = sum(count for count, _ in self._slots)
        self.budget_bytes = sum(settings.tier_budget_bytes().values())
        self._recency: OrderedDict[ChunkKey, None] = OrderedDict()
        self._inserted: dict[ChunkKey, None] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._inserted

    def __len__(self) -> int:
        return len(self._inserted)

    def full(self) -> bool:
        return len(self._inserted) >= self.capacity

    def touch(self, key: ChunkKey) -> None:
        self._recency.move_to_end(key)

    def insert(self, key: ChunkKey) -> None:
        if self.full() or key in self._inserted:
            raise ValueError(f"cannot store {key}: full or already held")
        self._recency[key] = None
        self._inserted[key] = None

    def evict(self, key: ChunkKey) -> None:
        del self._recency[key]
        del self._inserted[key]

    def by_recency(self) -> Iterator[ChunkKey]:
        return iter(self._recency)

    def by_insertion(self) -> Iterator[ChunkKey]:
        return iter(self._inserted)

    def bytes_used(self) -> int:
        """What the held chunks cost with the most wanted in L1, the next in L2, then L3."""
        left, used = len(self._inserted), 0
        for count, size in self._slots:
            taken = min(left, count)
            used, left = used + taken * size, left - taken
        return used


# -- the policies -------------------------------------------------------------------------------


class Policy:
    """What one cache policy decides: what to render ahead, in order, and what to evict."""

    name = ""

    def observe(self, tick: Tick) -> None:
        """The playback state of a new step, before its lookups are served."""

    def on_request(self, request: Request) -> None:
        """A lookup is being served (hit or miss)."""

    def wanted(self) -> Sequence[ChunkKey]:
        """Chunks to render ahead, most wanted first; held ones are skipped."""
        return ()

    def victim(self, store: ChunkStore, candidate: ChunkKey, forced: bool) -> ChunkKey | None:
        """A held chunk to evict for `candidate`, or None to keep everything (never when
        `forced`: a demand render is always stored)."""
        raise NotImplementedError


class DemandLru(Policy):
    """No prefetch: render what is missed, evict the least recently used."""

    name = "demand_lru"

    def victim(self, store: ChunkStore, candidate: ChunkKey, forced: bool) -> ChunkKey | None:
        return next(store.by_recency())


class _Window(Policy):
    """Wants a ranked window ahead of the playhead; evicts what is outside it (least
    recently used first), then the worst-ranked chunk if the candidate ranks better."""

    def __init__(self, timeline: LibraryTimeline, settings: SimSettings) -> None:
        self._paths = timeline.paths
        self._counts = chunk_counts(timeline, settings.engine.chunk_seconds)
        self._chunk_ms = _ms(settings.engine.chunk_seconds)
        self._capacity = settings.capacity_chunks()
        self._ranked: list[ChunkKey] = []
        self._rank: dict[ChunkKey, int] = {}

    def observe(self, tick: Tick) -> None:
        self._ranked = self._window(tick)[: self._capacity]
        self._rank = {key: rank for rank, key in enumerate(self._ranked)}

    def _window(self, tick: Tick) -> list[ChunkKey]:
        raise NotImplementedError

    def places_ahead(self, tick: Tick) -> Iterator[tuple[str, int]]:
        """(track, chunk) in play order from the playhead, into the following tracks (the
        player stops after the last one)."""
        chunk = min(_ms(tick.position) // self._chunk_ms, self._counts[tick.track_index] - 1)
        for track in range(tick.track_index, len(self._paths)):
            for index in range(chunk, self._counts[track]):
                yield self._paths[track], index
            chunk = 0

    def wanted(self) -> Sequence[ChunkKey]:
        return self._ranked

    def victim(self, store: ChunkStore, candidate: ChunkKey, forced: bool) -> ChunkKey | None:
        for key in store.by_recency():
            if key not in self._rank:
                return key
        worst = max(store.by_insertion(), key=lambda key: self._rank[key])
        if forced or self._rank[worst] > self._rank.get(candidate, len(self._rank)):
            return worst
        return None


class ReadAhead(_Window):
    """Sequential read-ahead: the current preset only, as far ahead as the store holds."""

    name = "read_ahead"

    def _window(self, tick: Tick) -> list[ChunkKey]:
        if tick.preset == BYPASS:
            return []
        window: list[ChunkKey] = []
        for track, chunk in self.places_ahead(tick):
            if len(window) >= self._capacity:
                break
            window.append(ChunkKey(track, tick.preset, tick.bucket, chunk))
        return window


class RenderAll(_Window):
    """Every processed preset of the nearest chunks: a chunk's presets (the current one
    first) before the next chunk's."""

    name = "render_all"

    def _window(self, tick: Tick) -> list[ChunkKey]:
        presets = sorted(PROCESSED_PRESETS, key=lambda preset: preset != tick.preset)
        window: list[ChunkKey] = []
        for track, chunk in self.places_ahead(tick):
            if len(window) >= self._capacity:
                break
            window.extend(ChunkKey(track, preset, tick.bucket, chunk) for preset in presets)
        return window


class Oracle(Policy):
    """Knows every future lookup: prefetches in order of next use and evicts the chunk used
    furthest in the future (Belady), never one needed sooner than the candidate.

    Greedy under the render budget, so an upper bound in practice rather than by proof: it
    spends credit on whatever is needed next, playback or switch alike.
    """

    name = "oracle"

    def __init__(self, script: Script, settings: SimSettings) -> None:
        self._requests = script.requests
        self._capacity = settings.capacity_chunks()
        self._uses: dict[ChunkKey, list[int]] = {}
        for request in script.requests:
            self._uses.setdefault(request.key, []).append(request.number)
        self._next = 0
        """Index of the first request not yet served."""

    def on_request(self, request: Request) -> None:
        self._next = request.number + 1

    def next_use(self, key: ChunkKey) -> float:
        uses = self._uses.get(key, [])
        found = bisect.bisect_left(uses, self._next)
        return uses[found] if found < len(uses) else NEVER

    def wanted(self) -> Sequence[ChunkKey]:
        """The next `capacity` distinct keys the future asks for, soonest first."""
        upcoming: dict[ChunkKey, None] = {}
        for index in range(self._next, len(self._requests)):
            if len(upcoming) >= self._capacity:
                break
            upcoming.setdefault(self._requests[index].key, None)
        return list(upcoming)

    def victim(self, store: ChunkStore, candidate: ChunkKey, forced: bool) -> ChunkKey | None:
        furthest = max(store.by_insertion(), key=self.next_use)
        if forced or self.next_use(furthest) > self.next_use(candidate):
            return furthest
        return None


class OurPlacement(Policy):
    """The engine's placement: its `BufferPlanner` (the predictor learning online from the
    switches the interaction filter lets through, and `make_plan`) at every step, renders in
    value order and eviction by plan value with the tiers' admission rule.

    The planner is driven as `Engine` drives it (`set_preset`, `set_intensity`,
    `_change_track`, the maintenance loop), on a clock that is the trace's time. Seeks reach
    the filter (they count as interactions) but are applied at once, as the playhead applies
    them. The predictor starts cold, as for a new listener.
    """

    name = "ours"

    def __init__(self, timeline: LibraryTimeline, settings: SimSettings) -> None:
        self._timeline = timeline
        self._counts = chunk_counts(timeline, settings.engine.chunk_seconds)
        self._chunk_bytes = settings.tier_chunk_bytes()
        self._budgets = settings.tier_budget_bytes()
        self._features = {
            track.path: tuple(features.as_vector() for features in track.chunk_features)
            for track in timeline.tracks
        }
        self._now = 0.0
        predictor = PresetPredictor(
            clock=self._clock,
            prior_switch_probability=settings.engine.switch_probability_per_chunk,
        )
        self.filter = InteractionFilter(BYPASS, self._clock)
        self.planner = BufferPlanner(settings.engine, predictor, self.filter, self._lookup)
        self._where: Whereabouts | None = None
        """Where the player was at the previous step: where a command finds it."""
        self.plan = PlacementPlan(())

    def _clock(self) -> float:
        return self._now

    def _lookup(self, track_id: str, chunk: int) -> tuple[float, ...] | None:
        table = self._features.get(track_id, ())
        return table[chunk] if 0 <= chunk < len(table) else None

    def observe(self, tick: Tick) -> None:
        self._now = tick.t
        if tick.event is not None:
            self._follow(tick.event)
        self.filter.due_position()
        self.planner.learn_settled()
        self._where = self._whereabouts(tick)
        self.plan, _new_track = self.planner.plan(
            self._where, tick.preset, tick.bucket, self._chunk_bytes, self._budgets
        )

    def _follow(self, event: TraceEvent) -> None:
        """What the engine tells its planner and filter for each command."""
        kind = event.event
        if kind == "preset" and event.preset_name is not None:
            self.planner.preset_chosen(event.preset_name, self._where)
        elif kind == "intensity" and event.value is not None:
            self.planner.intensity_chosen(event.value)
        elif kind in ("seek", "seek_relative"):
            self.filter.position(self._where.position_seconds if self._where else 0.0)
        elif kind in ("next", "prev"):
            self.planner.track_changing()

    def _whereabouts(self, tick: Tick) -> Whereabouts:
        track = tick.track_index
        following = self._position_of(track + 1) if track + 1 < len(self._counts) else None
        return Whereabouts(self._position_of(track), tick.position, following)

    def _position_of(self, track: int) -> TrackPosition:
        return TrackPosition(self._timeline.tracks[track].path, "", self._counts[track])

    def wanted(self) -> Sequence[ChunkKey]:
        return [item.key for item in self.plan.items]  # already in value order

    def value(self, key: ChunkKey) -> float:
        planned = self.plan.by_key.get(key)
        return planned.value if planned is not None else 0.0

    def victim(self, store: ChunkStore, candidate: ChunkKey, forced: bool) -> ChunkKey | None:
        """The least valuable (oldest first among equals, as a tier sorts them); refused if
        it is worth more than the candidate (the tiers' admission rule)."""
        cheapest = min(store.by_insertion(), key=self.value)
        if forced or self.value(cheapest) <= self.value(candidate):
            return cheapest
        return None


def make_policy(name: str, script: Script, settings: SimSettings) -> Policy:
    if name == "ours":
        return OurPlacement(script.timeline, settings)
    if name == "read_ahead":
        return ReadAhead(script.timeline, settings)
    if name == "render_all":
        return RenderAll(script.timeline, settings)
    if name == "demand_lru":
        return DemandLru()
    if name == "oracle":
        return Oracle(script, settings)
    raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")


# -- running a policy ---------------------------------------------------------------------------


@dataclass
class PolicyResult:
    """Counts for one policy over one or more sessions; ratios are computed from sums."""

    policy: str
    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REQUEST_KINDS, 0))
    misses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REQUEST_KINDS, 0))
    prefetch_renders: int = 0
    prefetches_used: int = 0
    """Prefetched chunks that served a request before they were evicted."""
    demand_renders: int = 0
    played_chunks: float = 0.0
    max_bytes: int = 0
    budget_bytes: int = 0

    def requests(self, *kinds: str) -> int:
        return sum(self.hits[kind] + self.misses[kind] for kind in kinds)

    def hit_ratio(self, *kinds: str) -> float | None:
        """Hits / requests over the kinds together; None when there were none."""
        total = self.requests(*kinds)
        return sum(self.hits[kind] for kind in kinds) / total if total else None

    def switch_hit_ratio(self) -> float | None:
        return self.hit_ratio(*SWITCH_KINDS)

    @property
    def renders(self) -> int:
        return self.prefetch_renders + self.demand_renders

    def renders_per_played_chunk(self) -> float | None:
        return self.renders / self.played_chunks if self.played_chunks else None

    def prefetch_use(self) -> float | None:
        """Share of prefetch renders that were worth their CPU."""
        return self.prefetches_used / self.prefetch_renders if self.prefetch_renders else None

    def merged(self, other: PolicyResult) -> PolicyResult:
        return PolicyResult(
            self.policy,
            {kind: self.hits[kind] + other.hits[kind] for kind in REQUEST_KINDS},
            {kind: self.misses[kind] + other.misses[kind] for kind in REQUEST_KINDS},
            self.prefetch_renders + other.prefetch_renders,
            self.prefetches_used + other.prefetches_used,
            self.demand_renders + other.demand_renders,
            self.played_chunks + other.played_chunks,
            max(self.max_bytes, other.max_bytes),
            max(self.budget_bytes, other.budget_bytes),
        )


class _Run:
    """One policy serving one script."""

    def __init__(self, script: Script, policy: Policy, settings: SimSettings) -> None:
        self._script = script
        self._policy = policy
        self._settings = settings
        self._store = ChunkStore(settings)
        self._credit = settings.render_burst
        self._unused: set[ChunkKey] = set()
        """Prefetched chunks held that no request has used yet."""
        self.result = PolicyResult(
            policy.name, played_chunks=script.played_chunks, budget_bytes=self._store.budget_bytes
        )

    def run(self) -> PolicyResult:
        last_t = 0.0
        for tick in self._script.ticks:
            self._accrue(tick.t - last_t)
            last_t = tick.t
            self._policy.observe(tick)
            for request in tick.requests:
                self._serve(request)
            self._prefetch()
            self._check_bytes()
        return self.result

    def _accrue(self, seconds: float) -> None:
        earned = seconds * self._settings.renders_per_second
        self._credit = min(self._settings.render_burst, self._credit + earned)

    def _serve(self, request: Request) -> None:
        self._policy.on_request(request)
        if request.key in self._store:
            self._store.touch(request.key)
            self.result.hits[request.kind] += 1
            if request.key in self._unused:
                self._unused.discard(request.key)
                self.result.prefetches_used += 1
            return
        self.result.misses[request.kind] += 1
        self.result.demand_renders += 1
        self._credit -= 1.0
        if self._make_room(request.key, forced=True):
            self._store.insert(request.key)

    def _prefetch(self) -> None:
        for key in self._policy.wanted():
            if self._credit < 1.0:
                return
            if key in self._store:
                continue
            if not self._make_room(key, forced=False):
                return
            self._store.insert(key)
            self._unused.add(key)
            self._credit -= 1.0
            self.result.prefetch_renders += 1

    def _make_room(self, key: ChunkKey, forced: bool) -> bool:
        """Evict the policy's victims until `key` fits; False if it refuses (or nothing fits)."""
        while self._store.full():
            if len(self._store) == 0:
                return False
            victim = self._policy.victim(self._store, key, forced)
            if victim is None:
                return False
            self._store.evict(victim)
            self._unused.discard(victim)
        return True

    def _check_bytes(self) -> None:
        used = self._store.bytes_used()
        if used > self._store.budget_bytes:
            raise AssertionError(f"{self._policy.name} holds {used} bytes over its budget")
        self.result.max_bytes = max(self.result.max_bytes, used)


def simulate(script: Script, policy: Policy, settings: SimSettings) -> PolicyResult:
    """Serve every request of `script` with `policy` under the shared memory and CPU budget."""
    return _Run(script, policy, settings).run()


def run_session(
    timeline: LibraryTimeline,
    events: Sequence[TraceEvent],
    settings: SimSettings,
    policies: Sequence[str] = POLICY_NAMES,
) -> dict[str, PolicyResult]:
    """One trace through every policy, each starting empty with the same budgets."""
    script = build_script(timeline, events, settings)
    return {
        name: simulate(script, make_policy(name, script, settings), settings) for name in policies
    }


def merge_results(
    results: Sequence[Mapping[str, PolicyResult]],
) -> dict[str, PolicyResult]:
    """Sum per-session results policy by policy."""
    merged: dict[str, PolicyResult] = {}
    for session in results:
        for name, result in session.items():
            merged[name] = merged[name].merged(result) if name in merged else result
    return merged
