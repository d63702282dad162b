"""The multi-tier cache: codecs, one tier's admission and budget, the buffer's lookups,
promotion and counters, single-threaded (a Hypothesis state machine against a Python model)
and under concurrent load."""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections import Counter
from dataclasses import replace

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from engine.cache.buffer import REQUEST_KINDS, MultiTierBuffer
from engine.cache.codecs import (
    INT16_FULL_SCALE,
    CorruptChunk,
    EncodedChunk,
    FlacCodec,
    Float32Codec,
    Int16Codec,
)
from engine.cache.keys import ChunkKey
from engine.cache.tier import Tier, TierEntry
from engine.prediction.placement import PlacementPlan, PlannedChunk
from engine.vocabulary import TIER_NAMES

RATE = 44_100


# -- helpers ------------------------------------------------------------------------------
def noise(seed: int, frames: int = 2_000, amplitude: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-amplitude, amplitude, (frames, 2)).astype(np.float32)


def sine_with_noise(frames: int = 20_000, seed: int = 0) -> np.ndarray:
    t = np.arange(frames) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    rng = np.random.default_rng(seed)
    left = tone + 0.003 * rng.standard_normal(frames)
    right = 0.8 * tone + 0.003 * rng.standard_normal(frames)
    return np.stack([left, right], axis=1).astype(np.float32)


def int16_tolerance(audio: np.ndarray) -> float:
    """One int16 step at the chunk's scale: the most an L2/L3 round trip may move a sample."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return max(peak, 1.0) / INT16_FULL_SCALE


def assert_audio_matches(found: np.ndarray, stored: np.ndarray, stored_tier: str) -> None:
    """L1 is exact; a chunk that went through L2/L3 (even if promoted since) is int16-close."""
    assert found.dtype == np.float32
    assert found.shape == stored.shape
    if stored_tier == "l1":
        np.testing.assert_array_equal(found, stored)
    else:
        error = float(np.max(np.abs(found.astype(np.float64) - stored))) if stored.size else 0.0
        assert error <= int16_tolerance(stored), (error, int16_tolerance(stored))


def flipped(payload: bytes, position: int, mask: int) -> bytes:
    data = bytearray(payload)
    data[position] ^= mask
    return bytes(data)


def blob(size: int, tag: int = 0) -> EncodedChunk:
    """An encoded chunk of exactly `size` bytes (tier tests never decode it)."""
    payload = bytes([tag % 256]) * size
    return EncodedChunk(payload, size // 4, 1.0, zlib.crc32(payload))


def tkey(index: int, track: str = "t") -> ChunkKey:
    return ChunkKey(track, "warm", 0, index)


def check_tier_accounting(tier: Tier) -> None:
    stats = tier.stats()
    entries = tier.entries()
    assert stats.size_bytes == sum(e.size_bytes for e in entries)
    assert stats.count == len(entries)
    assert 0 <= stats.size_bytes <= stats.budget_bytes


def plan_of(values: dict[ChunkKey, tuple[str, float]]) -> PlacementPlan:
    """A plan as `make_plan` builds it (items and `by_key` agree)."""
    items = tuple(
        PlannedChunk(key, fingerprint, "l1", value, min(1.0, value / 10.0))
        for key, (fingerprint, value) in values.items()
    )
    return PlacementPlan(items, by_key={item.key: item for item in items})


def check_figures(buffer: MultiTierBuffer, lookups: int, misses: int) -> None:
    l1, l2, l3 = buffer.tier_figures()
    assert (l1.name, l2.name, l3.name) == TIER_NAMES
    assert l1.hits + l1.misses == lookups
    assert l2.hits + l2.misses == l1.misses
    assert l3.hits + l3.misses == l2.misses
    assert l3.misses == misses


# -- 1. codecs ----------------------------------------------------------------------------
FRAMES = st.integers(min_value=1, max_value=3_000)
HOT_SAMPLES = st.floats(min_value=-4.0, max_value=4.0, width=32, allow_nan=False)
hot_audio = hnp.arrays(np.float32, st.tuples(FRAMES, st.just(2)), elements=HOT_SAMPLES)


@settings(max_examples=60, deadline=None)
@given(audio=hot_audio)
def test_float32_round_trip_is_exact_and_read_only(audio: np.ndarray) -> None:
    codec = Float32Codec()
    chunk = codec.encode(audio)
    original = audio.copy()
    audio[...] = 0.0  # the stored chunk is a copy, not a view of the caller's buffer
    decoded = codec.decode(chunk)
    np.testing.assert_array_equal(decoded, original)
    assert decoded.dtype == np.float32
    assert not decoded.flags.writeable
    with pytest.raises(ValueError):
        decoded[0, 0] = 1.0
    assert chunk.frames == original.shape[0]
    assert chunk.size_bytes == decoded.nbytes == original.shape[0] * 2 * 4
    codec.verify(chunk)  # the checksum matches the stored array


@settings(max_examples=100, deadline=None)
@given(audio=hot_audio)
def test_int16_round_trip_within_one_step_and_never_clips(audio: np.ndarray) -> None:
    codec = Int16Codec()
    chunk = codec.encode(audio)
    decoded = codec.decode(chunk)
    assert decoded.dtype == np.float32
    assert decoded.shape == audio.shape
    peak = float(np.max(np.abs(audio)))
    tolerance = int16_tolerance(audio)
    assert float(np.max(np.abs(decoded.astype(np.float64) - audio))) <= tolerance
    if peak > 1.0:
        assert chunk.scale < INT16_FULL_SCALE
        # a hot chunk keeps its peak: nothing was clipped at full scale
        assert float(np.max(np.abs(decoded))) >= peak - tolerance
    assert isinstance(chunk.payload, bytes)
    assert chunk.size_bytes == len(chunk.payload) == audio.shape[0] * 2 * 2


def test_int16_keeps_a_chunk_at_plus_minus_four() -> None:
    audio = noise(1, 5_000, 1.0)
    audio[10] = [4.0, -4.0]
    codec = Int16Codec()
    chunk = codec.encode(audio)
    assert chunk.scale == pytest.approx(INT16_FULL_SCALE / 4.0)
    decoded = codec.decode(chunk)
    assert decoded[10, 0] == pytest.approx(4.0, abs=4.0 / INT16_FULL_SCALE)
    assert decoded[10, 1] == pytest.approx(-4.0, abs=4.0 / INT16_FULL_SCALE)
    assert float(np.max(np.abs(decoded - audio))) <= 4.0 / INT16_FULL_SCALE


@settings(max_examples=40, deadline=None)
@given(audio=hot_audio)
def test_flac_round_trips_exactly_what_int16_gives(audio: np.ndarray) -> None:
    flac, int16 = FlacCodec(), Int16Codec()
    flac_chunk, int16_chunk = flac.encode(audio), int16.encode(audio)
    assert flac_chunk.scale == int16_chunk.scale
    assert flac_chunk.frames == audio.shape[0]
    np.testing.assert_array_equal(flac.decode(flac_chunk), int16.decode(int16_chunk))
    assert isinstance(flac_chunk.payload, bytes)
    assert flac_chunk.size_bytes == len(flac_chunk.payload)


def test_flac_is_smaller_than_int16_on_a_real_ish_signal() -> None:
    audio = sine_with_noise(20_000)
    flac_bytes = FlacCodec().encode(audio).size_bytes
    int16_bytes = Int16Codec().encode(audio).size_bytes
    assert int16_bytes == 20_000 * 4
    assert flac_bytes < 0.8 * int16_bytes, (flac_bytes, int16_bytes)


@settings(max_examples=60, deadline=None)
@given(
    codec=st.sampled_from([Int16Codec(), FlacCodec()]),
    seed=st.integers(0, 1_000),
    frames=st.integers(1, 2_000),
    where=st.floats(0.0, 1.0, exclude_max=True),
    mask=st.integers(1, 255),
)
def test_one_flipped_byte_raises_corrupt_chunk(
    codec: Int16Codec | FlacCodec, seed: int, frames: int, where: float, mask: int
) -> None:
    chunk = codec.encode(noise(seed, frames))
    assert isinstance(chunk.payload, bytes)
    position = int(where * len(chunk.payload))
    bad = replace(chunk, payload=flipped(chunk.payload, position, mask))
    assert bad.checksum == chunk.checksum
    assert bad.size_bytes == chunk.size_bytes
    with pytest.raises(CorruptChunk):
        codec.decode(bad)


def test_float32_verify_detects_a_changed_array() -> None:
    codec = Float32Codec()
    chunk = codec.encode(noise(3, 1_000))
    changed = np.array(chunk.payload)  # writable copy
    changed[500, 1] += 0.25
    with pytest.raises(CorruptChunk):
        codec.verify(replace(chunk, payload=changed))


# -- 2. one tier --------------------------------------------------------------------------
def filled_tier(budget: int, sizes_values: list[tuple[int, float]]) -> Tier:
    tier = Tier("t", Int16Codec(), budget)
    for index, (size, value) in enumerate(sizes_values):
        assert tier.put(tkey(index), blob(size, index), "fp", value)
    return tier


def test_tier_refuses_when_room_would_cost_a_more_valuable_entry() -> None:
    tier = filled_tier(300, [(100, 5.0), (100, 1.0), (100, 3.0)])
    before = {e.key: e.chunk for e in tier.entries()}
    # 150 bytes needed: the value-1 entry frees 100, the next cheapest is worth 3 > 2
    assert not tier.put(tkey(9), blob(150), "fp", 2.0)
    assert {e.key: e.chunk for e in tier.entries()} == before
    assert tier.size_bytes == 300
    check_tier_accounting(tier)


def test_tier_admits_by_evicting_the_lowest_values_first() -> None:
    tier = filled_tier(300, [(100, 5.0), (100, 1.0), (100, 3.0)])
    assert tier.put(tkey(9), blob(150), "fp", 4.0)
    assert set(tier.keys()) == {tkey(0), tkey(9)}  # values 1 and 3 went, 5 stayed
    assert tier.size_bytes == 250
    # 100 bytes needed, 50 free: only the cheapest (value 4, 150 bytes) has to go
    assert tier.put(tkey(10), blob(100), "fp", 10.0)
    assert set(tier.keys()) == {tkey(0), tkey(10)}
    assert tier.size_bytes == 200
    check_tier_accounting(tier)


def test_an_equal_value_is_not_worth_more_and_may_be_evicted() -> None:
    tier = filled_tier(200, [(100, 2.0), (100, 3.0)])
    assert tier.put(tkey(9), blob(100), "fp", 2.0)
    assert set(tier.keys()) == {tkey(1), tkey(9)}
    assert not tier.put(tkey(10), blob(100), "fp", 1.5)  # now everything is worth more
    assert set(tier.keys()) == {tkey(1), tkey(9)}


def test_tier_evicts_nothing_when_there_is_room() -> None:
    tier = filled_tier(300, [(100, 5.0), (100, 1.0)])
    assert tier.put(tkey(9), blob(100), "fp", 0.0)
    assert len(tier) == 3
    assert tier.size_bytes == 300


def test_entry_larger_than_the_whole_budget_is_refused() -> None:
    tier = filled_tier(300, [(100, 0.0)])
    assert not tier.put(tkey(9), blob(301), "fp", 1e9)
    assert tier.keys() == [tkey(0)]
    empty = Tier("t", Int16Codec(), 300)
    assert not empty.put(tkey(9), blob(301), "fp", 1e9)
    assert len(empty) == 0
    assert empty.size_bytes == 0
    assert empty.put(tkey(9), blob(300), "fp", 0.0)  # exactly the budget fits
    assert empty.size_bytes == 300


def test_fetch_with_another_fingerprint_misses_and_drops_the_entry() -> None:
    tier = Tier("t", Int16Codec(), 1_000)
    chunk = blob(200)
    assert tier.put(tkey(0), chunk, "v1", 1.0)
    assert tier.fetch(tkey(0), "v1") is chunk
    assert tier.entries()[0].access_count == 1
    assert tier.fetch(tkey(0), "v2") is None
    assert tkey(0) not in tier
    assert tier.size_bytes == 0
    assert tier.fetch(tkey(0), "v1") is None


def test_resize_evicts_lowest_values_first_and_ends_within_budget() -> None:
    tier = filled_tier(500, [(100, 4.0), (100, 1.0), (100, 5.0), (100, 2.0), (100, 3.0)])
    assert tier.resize(250) == 3
    assert tier.budget_bytes == 250
    assert {e.value for e in tier.entries()} == {4.0, 5.0}
    assert tier.size_bytes == 200
    assert tier.resize(1_000) == 0  # growing evicts nothing
    assert tier.size_bytes == 200
    assert tier.resize(-10) == 2
    assert tier.budget_bytes == 0
    assert tier.size_bytes == 0
    check_tier_accounting(tier)


def test_set_values_revalues_and_unplanned_entries_go_first() -> None:
    tier = filled_tier(400, [(100, 5.0)] * 4)
    tier.set_values({tkey(1): (9.0, 0.5), tkey(3): (7.0, 0.25)})
    values = {e.key: (e.value, e.probability) for e in tier.entries()}
    assert values == {
        tkey(0): (0.0, 0.0),
        tkey(1): (9.0, 0.5),
        tkey(2): (0.0, 0.0),
        tkey(3): (7.0, 0.25),
    }
    assert tier.put(tkey(9), blob(200), "fp", 1.0)  # worth less than the old 5s
    assert set(tier.keys()) == {tkey(1), tkey(3), tkey(9)}
    assert tier.resize(250) == 1  # value 1 now the cheapest
    assert set(tier.keys()) == {tkey(1), tkey(3)}


def test_replacing_a_key_accounts_bytes_correctly() -> None:
    tier = Tier("t", Int16Codec(), 300)
    assert tier.put(tkey(0), blob(100), "fp", 5.0)
    assert tier.put(tkey(0), blob(250), "fp", 5.0)
    assert (len(tier), tier.size_bytes) == (1, 250)
    assert tier.put(tkey(0), blob(40), "fp", 5.0)
    assert (len(tier), tier.size_bytes) == (1, 40)
    assert tier.put(tkey(1), blob(200), "fp", 1.0)
    old = tier.fetch(tkey(0), "fp")
    # growing key 0 to 150 needs 50 more bytes, which would evict value 1 for value 0.5
    assert not tier.put(tkey(0), blob(150), "fp", 0.5)
    assert tier.fetch(tkey(0), "fp") is old
    assert tier.size_bytes == 240
    # the same size in place needs no room, whatever the new value
    assert tier.put(tkey(0), blob(40, 7), "fp2", 0.0)
    assert tier.size_bytes == 240
    # growing to 300 with a higher value evicts the other entry
    assert tier.put(tkey(0), blob(300), "fp", 2.0)
    assert tier.keys() == [tkey(0)]
    assert tier.size_bytes == 300
    check_tier_accounting(tier)


tier_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.integers(0, 5),
            st.integers(0, 400),
            st.integers(0, 3).map(float),
            st.sampled_from(["a", "b"]),
        ),
        st.tuples(st.just("resize"), st.integers(-50, 1_000)),
        st.tuples(st.just("fetch"), st.integers(0, 5), st.sampled_from(["a", "b"])),
        st.tuples(
            st.just("values"), st.dictionaries(st.integers(0, 5), st.integers(0, 6), max_size=6)
        ),
        st.tuples(st.just("remove"), st.integers(0, 5)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(budget=st.integers(0, 1_000), ops=tier_ops)
def test_tier_admission_and_budget_under_random_operations(budget: int, ops: list) -> None:
    tier = Tier("t", Int16Codec(), budget)
    for op in ops:
        before = {e.key: e for e in tier.entries()}
        used, limit = tier.size_bytes, tier.budget_bytes
        if op[0] == "put":
            _, index, size, value, fingerprint = op
            key = tkey(index)
            previous = before[key].size_bytes if key in before else 0
            needed = size - previous
            evictable = sum(
                e.size_bytes for k, e in before.items() if k != key and e.value <= value
            )
            should_admit = needed <= (limit - used) + evictable
            admitted = tier.put(key, blob(size, index), fingerprint, value)
            assert admitted == should_admit, (op, before, limit)
            after = {e.key: e for e in tier.entries()}
            if not admitted:
                assert after.keys() == before.keys()
            else:
                assert after[key].size_bytes == size
                assert after[key].value == value
                evicted = [before[k] for k in before.keys() - after.keys()]
                kept = [after[k] for k in after if k != key]
                assert all(e.value <= value for e in evicted)
                if evicted:
                    # lowest values first...
                    last_value = max(e.value for e in evicted)
                    assert last_value <= min((e.value for e in kept), default=np.inf)
                    # ...and no more than needed: the greedy scan stopped at the first victim
                    # (of the highest evicted value) that made enough room
                    freed = limit - used + sum(e.size_bytes for e in evicted)
                    last = max(e.size_bytes for e in evicted if e.value == last_value)
                    assert freed >= needed
                    assert freed - last < needed
        elif op[0] == "resize":
            evicted_count = tier.resize(op[1])
            assert tier.budget_bytes == max(0, op[1])
            after = {e.key: e for e in tier.entries()}
            evicted = [before[k] for k in before.keys() - after.keys()]
            assert evicted_count == len(evicted)
            if evicted:
                assert max(e.value for e in evicted) <= min(
                    (e.value for e in after.values()), default=np.inf
                )
                # every eviction was needed: before the last (highest-valued) one, the tier
                # was still over the new budget
                last_value = max(e.value for e in evicted)
                last = max(e.size_bytes for e in evicted if e.value == last_value)
                assert tier.size_bytes + last > tier.budget_bytes
        elif op[0] == "fetch":
            key = tkey(op[1])
            found = tier.fetch(key, op[2])
            if key in before and before[key].fingerprint == op[2]:
                assert found is before[key].chunk
            else:
                assert found is None
                assert key not in tier
        elif op[0] == "values":
            plan = {tkey(i): (float(v), v / 10.0) for i, v in op[1].items()}
            tier.set_values(plan)
            for entry in tier.entries():
                assert (entry.value, entry.probability) == plan.get(entry.key, (0.0, 0.0))
        else:
            key = tkey(op[1])
            removed = tier.remove(key)
            assert (removed is not None) == (key in before)
            assert key not in tier
        check_tier_accounting(tier)


# -- 3. the buffer, as a state machine against a model ------------------------------------
TRACKS = ("a", "b")
FINGERPRINTS = {"a": ("a-v1", "a-v2"), "b": ("b-v1", "b-v2")}
KEYS = tuple(
    ChunkKey(track, "warm", bucket, index)
    for track in TRACKS
    for bucket in (0, 1)
    for index in (0, 1)
)


# A 1,000-frame chunk costs 8,000 bytes in L1, 4,000 in L2 and a little over 4,000 in L3
# (noise does not compress); budgets are drawn in those units so a tier holds 0 to ~6 of them.
def tier_budget(unit: int) -> st.SearchStrategy[int]:
    return st.builds(lambda n, slack: n * unit + slack, st.integers(0, 6), st.integers(0, unit))


BUDGETS = st.fixed_dictionaries(
    {"l1": tier_budget(8_000), "l2": tier_budget(4_000), "l3": tier_budget(4_400)}
)


class BufferMachine(RuleBasedStateMachine):
    """Random store / lookup / invalidate / clear / resize / apply_plan on a small buffer.

    The model holds, per key, the last *successful* store: (fingerprint, audio, tier stored
    in). Everything in the buffer came from such a store, so any hit must match it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.buffer = MultiTierBuffer(0, 0, 0)
        self.model: dict[ChunkKey, tuple[str, np.ndarray, str]] = {}
        self.hits: dict[str, Counter[str]] = {kind: Counter() for kind in REQUEST_KINDS}
        self.misses: Counter[str] = Counter()
        self.plan_values: dict[ChunkKey, float] = {}

    @initialize(budgets=BUDGETS)
    def start(self, budgets: dict[str, int]) -> None:
        self.buffer = MultiTierBuffer(budgets["l1"], budgets["l2"], budgets["l3"])

    def snapshot(self) -> dict[str, dict[ChunkKey, TierEntry]]:
        return {
            name: {e.key: e for e in entries} for name, entries in self.buffer.entries().items()
        }

    @rule(
        key=st.sampled_from(KEYS),
        version=st.sampled_from([0, 1]),
        tier=st.sampled_from(TIER_NAMES),
        value=st.integers(0, 10).map(float),
        frames=st.sampled_from([1_000, 2_000]),
        amplitude=st.sampled_from([0.25, 1.0, 3.0]),
        seed=st.integers(0, 2**16),
    )
    def store(
        self,
        key: ChunkKey,
        version: int,
        tier: str,
        value: float,
        frames: int,
        amplitude: float,
        seed: int,
    ) -> None:
        fingerprint = FINGERPRINTS[key.track_id][version]
        audio = noise(seed, frames, amplitude)
        before = self.snapshot()
        stored = self.buffer.store(key, audio, fingerprint, tier, value)
        after = self.snapshot()
        if stored:
            self.model[key] = (fingerprint, audio, tier)
            assert self.buffer.peek_tier(key) == tier
            assert all(key not in after[name] for name in TIER_NAMES if name != tier)
            assert after[tier][key].fingerprint == fingerprint
            self.follow_demotions(key, before, after)
        else:
            assert {n: set(e) for n, e in after.items()} == {n: set(e) for n, e in before.items()}

    def follow_demotions(
        self,
        stored: ChunkKey,
        before: dict[str, dict[ChunkKey, TierEntry]],
        after: dict[str, dict[ChunkKey, TierEntry]],
    ) -> None:
        """What a store evicted either went one tier down, valued, or is gone; a chunk that
        went through int16 is compared at int16's precision from then on."""
        for name, entries in before.items():
            for moved, entry in entries.items():
                if moved == stored or moved in after[name] or moved not in self.model:
                    continue
                places = [n for n in TIER_NAMES if moved in after[n]]
                assert places in ([], list(TIER_NAMES[TIER_NAMES.index(name) + 1 :][:1])), places
                if places:
                    assert entry.value > 0
                    fingerprint, audio, _tier = self.model[moved]
                    self.model[moved] = (fingerprint, audio, places[0])

    @rule(
        key=st.sampled_from(KEYS),
        version=st.sampled_from([0, 1]),
        kind=st.sampled_from(REQUEST_KINDS),
    )
    def lookup(self, key: ChunkKey, version: int, kind: str) -> None:
        self.check_lookup(key, FINGERPRINTS[key.track_id][version], kind)

    @precondition(lambda self: any(len(tier) for tier in self.buffer.tiers.values()))
    @rule(data=st.data(), same_version=st.booleans(), kind=st.sampled_from(REQUEST_KINDS))
    def lookup_held(self, data: st.DataObject, same_version: bool, kind: str) -> None:
        """Ask for a chunk the buffer holds (the random rule above mostly misses)."""
        held = {e.key: e.fingerprint for es in self.buffer.entries().values() for e in es}
        key = data.draw(st.sampled_from(sorted(held)))
        fingerprint = held[key]
        if not same_version:
            versions = FINGERPRINTS[key.track_id]
            fingerprint = versions[1 - versions.index(fingerprint)]
        self.check_lookup(key, fingerprint, kind)

    def check_lookup(self, key: ChunkKey, fingerprint: str, kind: str) -> None:
        before = self.snapshot()
        expected_tier = None
        stale_in: list[str] = []
        for name in TIER_NAMES:
            entry = before[name].get(key)
            if entry is None:
                continue
            if entry.fingerprint == fingerprint:
                expected_tier = name
                break
            stale_in.append(name)
        found = self.buffer.lookup(key, fingerprint, kind)
        after = self.snapshot()
        assert found.tier == expected_tier
        for name in stale_in:  # an entry of another file version is dropped, never served
            assert key not in after[name]
        if found.tier is None:
            assert found.audio is None
            self.misses[kind] += 1
            return
        self.hits[kind][found.tier] += 1
        assert found.audio is not None
        assert key in self.model, "served a chunk that was invalidated or never stored"
        model_fingerprint, audio, stored_tier = self.model[key]
        assert model_fingerprint == fingerprint, "served another fingerprint's audio"
        assert_audio_matches(found.audio, audio, stored_tier)
        if found.tier != "l1":
            places = [name for name in TIER_NAMES if key in after[name]]
            assert places in (["l1"], [found.tier]), places
            if places == ["l1"]:
                assert after["l1"][key].value == self.plan_values.get(key, 0.0)
                assert after["l1"][key].fingerprint == fingerprint

    @rule(track=st.sampled_from(TRACKS))
    def invalidate_track(self, track: str) -> None:
        before = self.snapshot()
        removed = self.buffer.invalidate_track(track)
        assert removed == sum(1 for e in before.values() for k in e if k.track_id == track)
        for entries in self.snapshot().values():
            assert all(k.track_id != track for k in entries)
        self.model = {k: v for k, v in self.model.items() if k.track_id != track}

    @rule(tier=st.sampled_from((None, *TIER_NAMES)))
    def clear(self, tier: str | None) -> None:
        before = self.snapshot()
        names = TIER_NAMES if tier is None else (tier,)
        removed = self.buffer.clear(tier)
        assert removed == sum(len(before[name]) for name in names)
        after = self.snapshot()
        for name in names:
            assert not after[name]
            assert self.buffer.tiers[name].size_bytes == 0
        for name in names:
            for key in before[name]:
                self.model.pop(key, None)

    @rule(budgets=BUDGETS)
    def resize(self, budgets: dict[str, int]) -> None:
        before = self.snapshot()
        evicted = self.buffer.resize(budgets)
        after = self.snapshot()
        assert evicted == sum(len(before[n]) - len(after[n]) for n in TIER_NAMES)
        for name in TIER_NAMES:
            assert self.buffer.tiers[name].budget_bytes == budgets[name]
            assert set(after[name]) <= set(before[name])

    @rule(
        values=st.dictionaries(
            st.sampled_from(KEYS), st.integers(0, 10).map(float), max_size=len(KEYS)
        )
    )
    def apply_plan(self, values: dict[ChunkKey, float]) -> None:
        self.buffer.apply_plan(
            plan_of({k: (FINGERPRINTS[k.track_id][0], v) for k, v in values.items()})
        )
        self.plan_values = dict(values)
        for entries in self.buffer.entries().values():
            for entry in entries:
                assert entry.value == values.get(entry.key, 0.0)

    @invariant()
    def within_budgets_and_accounted(self) -> None:
        for tier in self.buffer.tiers.values():
            check_tier_accounting(tier)
        assert self.buffer.total_bytes() <= self.buffer.total_budget_bytes()
        seen: Counter[ChunkKey] = Counter()
        for tier in self.buffer.tiers.values():
            seen.update(tier.keys())
        assert all(count == 1 for count in seen.values()), "a chunk is held by two tiers"

    @invariant()
    def counters_add_up(self) -> None:
        counters = self.buffer.counters()
        for kind in REQUEST_KINDS:
            issued = sum(self.hits[kind].values()) + self.misses[kind]
            assert counters[kind].lookups == issued
            assert counters[kind].misses == self.misses[kind]
            assert counters[kind].hits == {n: self.hits[kind][n] for n in TIER_NAMES}
        total = sum(sum(h.values()) for h in self.hits.values()) + sum(self.misses.values())
        check_figures(self.buffer, total, sum(self.misses.values()))
        assert self.buffer.corrupt_dropped == 0


BufferMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestBufferMachine = BufferMachine.TestCase


def test_lookup_without_counting_leaves_counters_alone() -> None:
    buffer = MultiTierBuffer(100_000, 100_000, 100_000)
    key = KEYS[0]
    assert buffer.store(key, noise(1), "a-v1", "l2", 1.0)
    assert buffer.lookup(key, "a-v1", "switch", count=False).tier == "l2"
    assert buffer.lookup(KEYS[1], "a-v1", "seek", count=False).tier is None
    assert all(c.lookups == 0 for c in buffer.counters().values())


def test_a_render_whose_gain_was_set_again_is_refused_under_the_drop_lock() -> None:
    """`current` is asked while the buffer's lock is held, so a gain set again (then its
    preset dropped) between a worker's last look and its store never leaves a chunk at the
    old gain behind the drop."""
    buffer = MultiTierBuffer(100_000, 100_000, 100_000)
    asked_locked: list[bool] = []

    def gain_set_again() -> bool:
        asked_locked.append(buffer._moves.locked())
        return False

    assert not buffer.store(KEYS[0], noise(1), "a-v1", "l2", 1.0, current=gain_set_again)
    assert asked_locked == [True]
    assert buffer.lookup(KEYS[0], "a-v1", "switch", count=False).tier is None
    assert buffer.store(KEYS[0], noise(1), "a-v1", "l2", 1.0, current=lambda: True)


# -- 4. concurrent stress -----------------------------------------------------------------
def test_concurrent_use_never_exceeds_budgets_and_counters_add_up() -> None:
    frames = 2_000
    l1_chunk, l2_chunk = frames * 8, frames * 4
    limits = {"l1": 4 * l1_chunk, "l2": 4 * l2_chunk, "l3": 5 * l2_chunk}
    buffer = MultiTierBuffer(limits["l1"], limits["l2"], limits["l3"])
    # rendering is deterministic: one (key, fingerprint) always has the same audio
    rendered = {
        (key, fingerprint): noise(i * 2 + v, frames, 0.5 + (i % 3))
        for i, key in enumerate(KEYS)
        for v, fingerprint in enumerate(FINGERPRINTS[key.track_id])
    }
    workers, seconds = 6, 1.5
    barrier = threading.Barrier(workers + 1)
    done = threading.Event()
    errors: list[BaseException] = []
    lookups: list[Counter[str]] = [Counter() for _ in range(workers)]
    hits: list[Counter[tuple[str, str]]] = [Counter() for _ in range(workers)]
    samples = [0]

    def work(index: int) -> None:
        rng = random.Random(index)
        try:
            barrier.wait(timeout=10)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                roll = rng.random()
                key = rng.choice(KEYS)
                fingerprint = rng.choice(FINGERPRINTS[key.track_id])
                if roll < 0.40:
                    tier = rng.choice(TIER_NAMES)
                    value = float(rng.randint(0, 10))
                    buffer.store(key, rendered[key, fingerprint], fingerprint, tier, value)
                elif roll < 0.86:
                    kind = rng.choice(REQUEST_KINDS)
                    found = buffer.lookup(key, fingerprint, kind)
                    lookups[index][kind] += 1
                    if found.tier is not None:
                        hits[index][kind, found.tier] += 1
                        assert found.audio is not None
                        # never another fingerprint's (or another key's) audio
                        assert_audio_matches(found.audio, rendered[key, fingerprint], "l2")
                elif roll < 0.91:
                    buffer.resize(
                        {name: rng.randint(0, 2 * limit) for name, limit in limits.items()}
                    )
                elif roll < 0.93:
                    buffer.clear(rng.choice((None, *TIER_NAMES)))
                else:
                    buffer.invalidate_track(rng.choice(TRACKS))
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    def sample() -> None:
        try:
            barrier.wait(timeout=10)
            while not done.is_set():
                for tier in buffer.tiers.values():
                    # one locked snapshot: reading the two properties separately could pair
                    # a size from before a concurrent shrink with the budget from after it
                    stats = tier.stats()
                    assert 0 <= stats.size_bytes <= stats.budget_bytes, stats
                samples[0] += 1
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
    sampler = threading.Thread(target=sample, daemon=True)
    for thread in [*threads, sampler]:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 20)
    done.set()
    sampler.join(timeout=10)
    assert not any(t.is_alive() for t in [*threads, sampler]), "a thread hung"
    assert not errors, errors[:3]
    assert samples[0] > 50

    counters = buffer.counters()
    issued = sum(lookups, Counter())
    served = sum(hits, Counter())
    assert sum(issued.values()) > 100
    for kind in REQUEST_KINDS:
        assert counters[kind].lookups == issued[kind]
        assert counters[kind].hits == {name: served[kind, name] for name in TIER_NAMES}
    total_misses = sum(c.misses for c in counters.values())
    check_figures(buffer, sum(issued.values()), total_misses)
    for tier in buffer.tiers.values():
        check_tier_accounting(tier)


# -- 5. promotion and corruption ----------------------------------------------------------
KEY = ChunkKey("a", "warm", 0, 0)
BIG = 1_000_000


@pytest.mark.parametrize("source", ["l2", "l3"])
def test_lower_tier_hit_is_returned_and_promoted_to_l1(source: str) -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    audio = sine_with_noise(4_000)
    assert buffer.store(KEY, audio, "a-v1", source, 1.0)
    assert buffer.peek_tier(KEY) == source
    found = buffer.lookup(KEY, "a-v1", "playback")
    assert found.tier == source
    assert found.audio is not None
    assert_audio_matches(found.audio, audio, source)
    assert buffer.peek_tier(KEY) == "l1"
    assert KEY not in buffer.tiers[source]
    again = buffer.lookup(KEY, "a-v1", "seek")
    assert again.tier == "l1"
    np.testing.assert_array_equal(again.audio, found.audio)
    counters = buffer.counters()
    assert counters["playback"].hits[source] == 1
    assert counters["seek"].hits["l1"] == 1
    check_figures(buffer, 2, 0)


def test_stays_in_l3_when_l1_is_full_of_more_valuable_entries() -> None:
    frames = 4_000
    buffer = MultiTierBuffer(2 * frames * 8, BIG, BIG)  # L1 holds exactly two chunks
    keep = [ChunkKey("a", "warm", 0, i) for i in (1, 2)]
    for i, key in enumerate(keep):
        assert buffer.store(key, noise(i, frames), "a-v1", "l1", 5.0)
    audio = sine_with_noise(frames)
    assert buffer.store(KEY, audio, "a-v1", "l3", 1.0)
    buffer.apply_plan(plan_of({keep[0]: ("a-v1", 5.0), keep[1]: ("a-v1", 6.0), KEY: ("a-v1", 1.0)}))

    found = buffer.lookup(KEY, "a-v1", "playback")
    assert found.tier == "l3"
    assert_audio_matches(found.audio, audio, "l3")
    assert buffer.peek_tier(KEY) == "l3"
    assert set(buffer.tiers["l1"].keys()) == set(keep)

    # once the plan values it above the cheapest L1 entry, it moves up and that entry goes
    buffer.apply_plan(plan_of({keep[0]: ("a-v1", 5.0), keep[1]: ("a-v1", 6.0), KEY: ("a-v1", 9.0)}))
    found = buffer.lookup(KEY, "a-v1", "playback")
    assert found.tier == "l3"
    assert buffer.peek_tier(KEY) == "l1"
    assert set(buffer.tiers["l1"].keys()) == {keep[1], KEY}
    assert buffer.tiers["l1"].entries()[-1].value == 9.0
    assert KEY not in buffer.tiers["l3"]
    assert buffer.peek_tier(keep[0]) is None  # a lookup lets its eviction go: no demotion


# -- demotion: an evicted chunk the plan still values moves one tier down ----------------
FRAMES_4K = 4_000
L1_TWO = 2 * FRAMES_4K * 8  # float32 stereo: L1 holds exactly two chunks


def two_in_l1(buffer: MultiTierBuffer) -> list[ChunkKey]:
    keys = [ChunkKey("a", "warm", 0, i) for i in (1, 2)]
    for i, key in enumerate(keys):
        assert buffer.store(key, noise(i, FRAMES_4K), "a-v1", "l1", 2.0 + i)
    return keys


def test_a_valued_chunk_evicted_from_l1_moves_to_l2_instead_of_being_lost() -> None:
    buffer = MultiTierBuffer(L1_TWO, BIG, BIG)
    cheap, dear = two_in_l1(buffer)
    assert buffer.store(KEY, noise(9, FRAMES_4K), "a-v1", "l1", 5.0)
    assert buffer.peek_tier(cheap) == "l2" and buffer.peek_tier(dear) == "l1"
    assert buffer.demoted == 1
    found = buffer.lookup(cheap, "a-v1", "playback")
    assert found.tier == "l2"
    assert_audio_matches(found.audio, noise(0, FRAMES_4K), "l2")


def test_an_unplanned_chunk_evicted_is_let_go() -> None:
    buffer = MultiTierBuffer(L1_TWO, BIG, BIG)
    cheap, dear = two_in_l1(buffer)
    buffer.apply_plan(plan_of({dear: ("a-v1", 3.0)}))  # `cheap` is worth nothing now
    assert buffer.store(KEY, noise(9, FRAMES_4K), "a-v1", "l1", 5.0)
    assert buffer.peek_tier(cheap) is None
    assert buffer.demoted == 0


def test_demotions_cascade_and_the_last_tier_lets_go() -> None:
    int16_chunk = FRAMES_4K * 2 * 2
    buffer = MultiTierBuffer(L1_TWO, int16_chunk, 1)  # L2 holds one chunk, L3 none
    cheap, _dear = two_in_l1(buffer)
    in_l2 = ChunkKey("a", "warm", 0, 7)
    assert buffer.store(in_l2, noise(7, FRAMES_4K), "a-v1", "l2", 1.0)
    assert buffer.store(KEY, noise(9, FRAMES_4K), "a-v1", "l1", 5.0)
    assert buffer.peek_tier(cheap) == "l2"  # worth 2: it takes the place of the chunk worth 1
    assert buffer.peek_tier(in_l2) is None  # which L3 cannot hold
    for tier in buffer.tiers.values():
        check_tier_accounting(tier)


def test_dropping_a_tracks_presets_leaves_its_others_and_other_tracks() -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    keys = [ChunkKey(t, p, 0, 0) for t in ("a", "b") for p in ("warm", "punchy", "bright")]
    for i, key in enumerate(keys):
        assert buffer.store(key, noise(i), f"{key.track_id}-v1", TIER_NAMES[i % 3], 1.0)
    assert buffer.drop_presets("a", ["warm", "bright"]) == 2
    held = {k for k in keys if buffer.peek_tier(k) is not None}
    assert held == set(keys) - {ChunkKey("a", "warm", 0, 0), ChunkKey("a", "bright", 0, 0)}


@pytest.mark.parametrize("drop", ["clear", "invalidate"])
def test_a_demotion_under_way_does_not_bring_back_what_was_dropped(
    drop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = MultiTierBuffer(L1_TWO, BIG, BIG)
    cheap, _dear = two_in_l1(buffer)
    codec = buffer.tiers["l2"].codec
    encode = codec.encode
    encoding, dropped = threading.Event(), threading.Event()

    def encode_then_wait(audio: np.ndarray) -> EncodedChunk:
        encoding.set()
        assert dropped.wait(timeout=5)  # another thread drops everything meanwhile
        return encode(audio)

    def drop_all() -> None:
        assert encoding.wait(timeout=5)
        if drop == "clear":
            buffer.clear()
        else:
            buffer.invalidate_track("a")
        dropped.set()

    monkeypatch.setattr(codec, "encode", encode_then_wait)
    other = threading.Thread(target=drop_all, daemon=True)
    other.start()
    assert buffer.store(ChunkKey("b", "warm", 0, 0), noise(9, FRAMES_4K), "b-v1", "l1", 5.0)
    other.join(timeout=5)
    assert not other.is_alive()
    assert buffer.peek_tier(cheap) is None


def corrupt(buffer: MultiTierBuffer, tier: str, audio: np.ndarray, how: str) -> None:
    """Put a chunk with one flipped payload byte into `tier` (through put or in place)."""
    target = buffer.tiers[tier]
    chunk = target.codec.encode(audio)
    assert isinstance(chunk.payload, bytes)
    bad = replace(chunk, payload=flipped(chunk.payload, len(chunk.payload) // 2, 0x10))
    if how == "put":
        assert target.put(KEY, bad, "a-v1", 1.0)
    else:
        assert target.put(KEY, chunk, "a-v1", 1.0)
        target._entries[KEY].chunk = bad  # bit rot inside the tier


@pytest.mark.parametrize("how", ["put", "in_place"])
@pytest.mark.parametrize("tier", ["l2", "l3"])
def test_corrupt_entry_is_dropped_and_counted_as_a_miss(tier: str, how: str) -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    corrupt(buffer, tier, noise(5), how)
    found = buffer.lookup(KEY, "a-v1", "switch")
    assert found.audio is None
    assert found.tier is None
    assert buffer.corrupt_dropped == 1
    assert buffer.peek_tier(KEY) is None
    assert buffer.tiers[tier].size_bytes == 0
    assert buffer.counters()["switch"].misses == 1
    figures = {f.name: f for f in buffer.tier_figures()}
    assert figures[tier].hits == 0
    assert figures[tier].misses == 1
    check_figures(buffer, 1, 1)


@pytest.mark.parametrize("how", ["put", "in_place"])
def test_corrupt_l2_entry_falls_through_to_a_good_l3_copy(how: str) -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    audio = noise(6)
    assert buffer.tiers["l3"].put(KEY, FlacCodec().encode(audio), "a-v1", 1.0)
    corrupt(buffer, "l2", noise(7), how)  # different audio: it must never be returned
    found = buffer.lookup(KEY, "a-v1", "playback")
    assert found.tier == "l3"
    assert_audio_matches(found.audio, audio, "l3")
    assert buffer.corrupt_dropped == 1
    assert KEY not in buffer.tiers["l2"]
    assert buffer.peek_tier(KEY) == "l1"
    figures = {f.name: f for f in buffer.tier_figures()}
    assert (figures["l1"].hits, figures["l1"].misses) == (0, 1)
    assert (figures["l2"].hits, figures["l2"].misses) == (0, 1)
    assert (figures["l3"].hits, figures["l3"].misses) == (1, 0)


def test_invalidate_during_a_lookup_does_not_resurrect_the_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    audio = noise(8)
    assert buffer.store(KEY, audio, "a-v1", "l2", 1.0)
    l2 = buffer.tiers["l2"]
    decode = l2.decode
    decoded, invalidated = threading.Event(), threading.Event()

    def decode_then_wait(chunk: EncodedChunk) -> np.ndarray:
        result = decode(chunk)
        decoded.set()
        assert invalidated.wait(timeout=5)  # another thread invalidates meanwhile
        return result

    def invalidate() -> None:
        assert decoded.wait(timeout=5)
        buffer.invalidate_track("a")
        invalidated.set()

    monkeypatch.setattr(l2, "decode", decode_then_wait)
    other = threading.Thread(target=invalidate, daemon=True)
    other.start()
    found = buffer.lookup(KEY, "a-v1", "playback")
    other.join(timeout=5)
    assert not other.is_alive()
    assert found.tier == "l2"  # the lookup began first: serving it once is fine
    # ...but after invalidate_track returned, nothing of track "a" may be served again
    assert buffer.peek_tier(KEY) is None
    assert not buffer.lookup(KEY, "a-v1", "playback").hit


# -- 6. L1 integrity: the float32 entries are verified whenever they are read -------------
def flipped_bit(audio: np.ndarray, bit: int) -> np.ndarray:
    """A read-only copy of `audio` with one bit of its samples flipped (bit rot in RAM)."""
    bad = np.array(audio, dtype=np.float32, order="C")
    raw = bad.reshape(-1).view(np.uint8)
    raw[bit // 8] ^= np.uint8(1 << (bit % 8))
    bad.setflags(write=False)
    return bad


def corrupt_l1(buffer: MultiTierBuffer, audio: np.ndarray, how: str) -> EncodedChunk:
    """Store `audio` in L1 with one flipped sample bit (through put or in place)."""
    l1 = buffer.tiers["l1"]
    chunk = l1.codec.encode(audio)
    assert not isinstance(chunk.payload, bytes)
    bad = replace(chunk, payload=flipped_bit(chunk.payload, 8 * chunk.size_bytes // 2 + 3))
    if how == "put":
        assert l1.put(KEY, bad, "a-v1", 1.0)
    else:
        assert l1.put(KEY, chunk, "a-v1", 1.0)
        l1._entries[KEY].chunk = bad  # bit rot inside the tier
    return bad


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 1_000),
    frames=st.integers(1, 2_000),
    where=st.floats(0.0, 1.0, exclude_max=True),
)
def test_float32_decode_rejects_any_single_flipped_bit(
    seed: int, frames: int, where: float
) -> None:
    codec = Float32Codec()
    chunk = codec.encode(noise(seed, frames))
    assert not isinstance(chunk.payload, bytes)
    bit = int(where * 8 * chunk.size_bytes)
    bad = replace(chunk, payload=flipped_bit(chunk.payload, bit))
    assert bad.size_bytes == chunk.size_bytes
    with pytest.raises(CorruptChunk):
        codec.decode(bad)


def test_an_empty_float32_chunk_verifies() -> None:
    codec = Float32Codec()
    chunk = codec.encode(np.zeros((0, 2), dtype=np.float32))
    assert chunk.checksum == zlib.crc32(b"")
    assert codec.decode(chunk).shape == (0, 2)


@pytest.mark.parametrize("how", ["put", "in_place"])
def test_corrupt_l1_entry_is_dropped_never_played_and_a_restore_serves_good_audio(
    how: str,
) -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    audio = noise(9)
    bad = corrupt_l1(buffer, audio, how)
    found = buffer.lookup(KEY, "a-v1", "playback")
    assert found.audio is None  # a miss: the caller re-renders
    assert found.tier is None
    assert buffer.corrupt_dropped == 1
    assert buffer.peek_tier(KEY) is None
    assert buffer.tiers["l1"].size_bytes == 0
    assert buffer.counters()["playback"].misses == 1
    check_figures(buffer, 1, 1)

    assert buffer.store(KEY, audio, "a-v1", "l1", 1.0)  # the re-render lands
    again = buffer.lookup(KEY, "a-v1", "playback")
    assert again.tier == "l1"
    assert again.audio is not None
    assert_audio_matches(again.audio, audio, "l1")
    assert not np.array_equal(again.audio, bad.payload)
    assert buffer.corrupt_dropped == 1
    check_figures(buffer, 2, 1)


def test_corrupt_l1_entry_falls_through_to_a_good_lower_copy() -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    audio = noise(10)
    assert buffer.tiers["l3"].put(KEY, FlacCodec().encode(audio), "a-v1", 1.0)
    corrupt_l1(buffer, noise(11), "in_place")  # different audio: it must never be returned
    found = buffer.lookup(KEY, "a-v1", "playback")
    assert found.tier == "l3"
    assert_audio_matches(found.audio, audio, "l3")
    assert buffer.corrupt_dropped == 1
    assert buffer.peek_tier(KEY) == "l1"  # the good copy was promoted in its place


@pytest.mark.parametrize("target", ["l2", "l3"])
def test_demoting_a_corrupt_l1_entry_does_not_launder_it(target: str) -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    bad = corrupt_l1(buffer, noise(12), "in_place")
    assert not isinstance(bad.payload, bytes)
    with pytest.raises(CorruptChunk):
        buffer.tiers["l1"].decode(bad)
    # a caller that hands the stored array itself over must not get a fresh checksum for it
    assert not buffer.move(KEY, "a-v1", bad, bad.payload, "l1", target)
    assert KEY not in buffer.tiers[target]
    assert buffer.peek_tier(KEY) is None
    assert buffer.corrupt_dropped == 1
    assert not buffer.lookup(KEY, "a-v1", "playback").hit


@pytest.mark.parametrize("target", ["l2", "l3"])
def test_a_good_l1_entry_still_demotes(target: str) -> None:
    buffer = MultiTierBuffer(BIG, BIG, BIG)
    audio = sine_with_noise(4_000)
    assert buffer.store(KEY, audio, "a-v1", "l1", 1.0)
    chunk = buffer.tiers["l1"].fetch(KEY, "a-v1")
    assert chunk is not None
    assert buffer.move(KEY, "a-v1", chunk, buffer.tiers["l1"].decode(chunk), "l1", target)
    assert buffer.peek_tier(KEY) == target
    found = buffer.lookup(KEY, "a-v1", "playback")
    assert found.tier == target
    assert_audio_matches(found.audio, audio, target)
    assert buffer.corrupt_dropped == 0
