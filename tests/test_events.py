"""The engine's event stream: every subscriber gets every event, a slow one loses its
oldest and is told how many, and publishing never waits for anyone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Engine, EngineConfig
from engine.observe.events import EngineEvent, EventStream
from engine.playback.sinks.output import NullSink
from engine.vocabulary import TIER_NAMES
from tests.helpers.audio_files import SAMPLE_AUDIO
from tests.helpers.polling import wait_for


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=60))
def test_a_subscriber_behind_keeps_the_newest_and_counts_what_it_lost(
    capacity: int, published: int
) -> None:
    stream = EventStream()
    slow, fast = stream.subscribe(capacity), stream.subscribe(1000)
    for number in range(published):
        stream.publish("log", float(number), f"line {number}")
    events, dropped = slow.take()
    kept = min(capacity, published)
    assert [e.payload for e in events] == [f"line {n}" for n in range(published - kept, published)]
    assert dropped == published - kept
    assert [e.payload for e in fast.take()[0]] == [f"line {n}" for n in range(published)]
    assert slow.take() == ([], 0)


def test_a_closed_subscription_receives_nothing_more() -> None:
    stream = EventStream()
    with stream.subscribe() as subscription:
        stream.publish("log", 0.0, "before")
    stream.publish("log", 1.0, "after")
    assert [e.payload for e in subscription.take()[0]] == ["before"]
    assert stream.subscribers == 0


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine(EngineConfig(), sink=NullSink(speed=4.0))
    engine.open([SAMPLE_AUDIO])
    yield engine
    engine.close()


def test_the_engine_publishes_switches_log_lines_tracks_and_invalidations(engine: Engine) -> None:
    subscription = engine.subscribe()
    seen: list[EngineEvent] = []

    def has(kind: str) -> bool:
        seen.extend(subscription.take()[0])
        return any(e.kind == kind for e in seen)

    engine.play()
    wait_for(lambda: has("track"), 30.0)
    engine.set_preset("warm")
    wait_for(lambda: has("switch"), 30.0)
    switch = next(e for e in seen if e.kind == "switch")
    assert (switch.payload.source, switch.payload.target) == ("original", "warm")
    assert switch.payload.latency_ms is not None  # published once heard
    assert any(e.kind == "log" and e.payload.startswith("switched original → warm") for e in seen)
    engine.clear()
    wait_for(lambda: has("invalidated"), 5.0)
    cleared = next(e for e in seen if e.kind == "invalidated")
    assert cleared.payload["reason"] == "cleared all tiers"
    assert cleared.payload["track_id"] is None


def test_the_engine_publishes_each_lookup_with_the_tier_that_served_it(engine: Engine) -> None:
    subscription = engine.subscribe()
    seen: list[EngineEvent] = []

    def looked_up(kind: str) -> bool:
        seen.extend(e for e in subscription.take()[0] if e.kind == "lookup")
        return any(e.payload.kind == kind for e in seen)

    engine.set_preset("warm")
    engine.play()
    wait_for(lambda: looked_up("playback"), 30.0)
    record = next(e.payload for e in seen if e.payload.kind == "playback")
    track = engine.tracks()[0]
    assert (record.key.track_id, record.fingerprint) == (track.id, track.fingerprint)
    assert record.tier in (None, *TIER_NAMES)


def test_a_subscription_with_the_log_history_misses_no_line_and_repeats_none(
    engine: Engine,
) -> None:
    for number in range(5):
        engine.log(f"before {number}")
    with engine.subscribe(log_history=True) as subscription:
        engine.log("after")
        lines = [e.payload for e in subscription.take()[0] if e.kind == "log"]
    kept = engine.snapshot().messages
    last_before = lines.index("before 4")
    assert lines[: last_before + 1] == list(kept[: kept.index("before 4") + 1])
    assert lines.index("after") > last_before
    assert all(lines.count(f"before {n}") == 1 for n in range(5))
