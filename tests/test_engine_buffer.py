"""The engine with its buffer: a listening session, the JSON views, memory pressure,
files changing on disk. Real renders, a null sink paced faster than real time."""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from engine import Engine, EngineConfig
from engine.errors import TierplayError
from engine.observe.memory import MemoryReading
from engine.playback.sinks.output import NullSink
from tests.helpers.audio_files import SAMPLE_AUDIO
from tests.helpers.polling import wait_for as poll_until

SPEED = 10.0


wait_for = partial(poll_until, timeout=30.0)


def fast_engine(**config: object) -> Engine:
    settings = EngineConfig(ring_seconds=3.0, **config)  # type: ignore[arg-type]
    sink = NullSink(44_100, 1024, speed=SPEED, ring_frames=10 * 44_100)
    # The listener's gestures are timed on the music's clock, as in a replay at 10x. Memory
    # reads as plentiful: the figures asserted must not depend on the machine's load.
    return Engine(
        settings,
        sink=sink,
        interaction_clock=lambda: time.monotonic() * SPEED,
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )


@pytest.fixture
def engine() -> Iterator[Engine]:
    # A 4-chunk read-ahead: at 10x real time a 12-chunk one would need 10x the render CPU.
    engine = fast_engine(plan_horizon_chunks=4)
    engine.open([SAMPLE_AUDIO])
    yield engine
    engine.close()


def heard_playing(engine: Engine, switches: int) -> bool:
    """`switches` are heard; the library is started again if it ended first (a switch
    is heard only while playing)."""
    if not engine.snapshot().playing:
        engine.next_track()
        engine.play()
    return len(engine.switches()) >= switches


def target_cached(engine: Engine, preset: str) -> bool:
    """`preset` is in L1 or L2 for the chunk playing and the next: a switch now lands in one
    of them whatever block it is cut at."""
    snapshot = engine.snapshot()
    assert snapshot.track is not None
    chunk = snapshot.chunk_index
    return all(
        engine.check(snapshot.track.id, preset, index).get("tier") in ("l1", "l2")
        for index in (chunk, chunk + 1)
    )


def test_five_minute_session_serves_planned_switch_targets_from_l1_or_l2(engine: Engine) -> None:
    """Every switch to a target rendered ahead is heard from L1 or L2, and the plan's top
    two targets are what the listener asks for."""
    engine.set_preset("warm")
    assert engine.wait_until_prepared(60)  # as after a few seconds of listening
    engine.play()
    pattern = itertools.cycle(["bright", "warm", "bright", "warm", "punchy", "warm"])
    planned_top_two: list[tuple[str, list[str]]] = []
    ready: list[bool] = []
    media_seconds = 0.0
    started = time.monotonic()
    while media_seconds < 300.0:
        time.sleep(0.9)  # 12 s of music between switches
        early = engine.buffer.plan.top_switch_targets(2)
        time.sleep(0.3)
        if not engine.snapshot().playing:  # the end of the library: start it again
            engine.next_track()
            engine.play()
            continue
        # The last switch heard before the next is asked: on a loaded machine one that waits
        # for its render would be superseded by the next, and never heard.
        wait_for(partial(heard_playing, engine, len(planned_top_two) + 1), timeout=60)
        target = next(pattern)
        now = engine.buffer.plan.top_switch_targets(2)
        planned_top_two.append((target, [p for p in now if p in early]))
        ready.append(target_cached(engine, target))
        engine.set_preset(target)
        media_seconds = (time.monotonic() - started) * SPEED
    # The last switch may wait behind two niced render threads on a loaded machine: a
    # bound for a hung engine, as everywhere else, not 10 s.
    wait_for(lambda: len(engine.switches()) >= len(planned_top_two) + 1, timeout=60)
    switches = engine.switches()[1:]
    assert [s.target for s in switches] == [t for t, _ in planned_top_two], engine.switches()
    planned = [
        served
        for (target, top_two), served in zip(planned_top_two, switches, strict=True)
        if target in top_two
    ]
    assert len(planned) >= len(planned_top_two) // 2  # the predictor learned the pattern
    # How many planned renders are done when the switch comes is the machine's speed (at
    # 10x beside two busy processes, 3 in 23 were not): what must hold is that every switch
    # to a target rendered by then is heard from the buffer.
    rendered = [s for s, cached in zip(switches, ready, strict=True) if cached]
    assert rendered, "no switch target was rendered ahead"
    assert all(s.tier in ("l1", "l2") for s in rendered), rendered
    from_l1_l2 = [s for s in planned if s.tier in ("l1", "l2")]
    assert len(from_l1_l2) >= len(planned) // 2, planned
    assert engine.snapshot().preset == planned_top_two[-1][0]  # no switch was lost
    stats = engine.stats()
    assert stats["overall"]["total_hits"] + stats["overall"]["total_misses"] > 0
    assert stats["prediction"]["switches_in_session"] == len(planned_top_two) + 1
    # Each switch is learned (and scored) once it has been held for 500 ms of music.
    wait_for(lambda: engine.stats()["prediction"]["predictions_made"] == len(planned_top_two) + 1)
    assert engine.buffer.total_bytes() <= engine.buffer.total_budget_bytes()


def test_json_views_have_the_documented_shapes(engine: Engine) -> None:
    engine.set_preset("bright")
    engine.play()
    wait_for(lambda: engine.contents()["total_entries"] >= 3)
    stats = engine.stats()
    tier_fields = {"size_mb", "count", "hits", "misses", "hit_rate", "utilization", "max_mb"}
    for tier in ("l1", "l2", "l3"):
        assert tier_fields <= set(stats[tier])
    assert stats["l1"]["max_mb"] == pytest.approx(18.0)
    assert {"total_hits", "total_misses", "overall_hit_rate", "total_size_mb"} <= set(
        stats["overall"]
    )
    assert {
        "accuracy",
        "top3_accuracy",
        "predictions_made",
        "switches_in_session",
        "session_duration_minutes",
    } <= set(stats["prediction"])

    predictions = engine.predictions()
    assert predictions["current_preset"] == "bright"
    assert {p["preset"] for p in predictions["predictions"]} == {
        "original",
        "adaptive",
        "gentle",
        "warm",
        "punchy",
    }
    assert sum(p["probability"] for p in predictions["predictions"]) == pytest.approx(1.0, abs=1e-5)

    contents = engine.contents()
    entry_fields = {
        "track_id",
        "preset",
        "chunk_idx",
        "intensity",
        "tier",
        "access_count",
        "probability",
        "size_bytes",
    }
    entries = contents["l1_entries"] + contents["l2_entries"] + contents["l3_entries"]
    assert len(entries) == contents["total_entries"]
    assert all(set(entry) == entry_fields for entry in entries)
    assert all(entry["size_bytes"] > 0 for entry in entries)

    first = entries[0]
    check = engine.check(first["track_id"], first["preset"], first["chunk_idx"], first["intensity"])
    assert check["is_cached"] and check["tier"] == first["tier"]
    assert set(check) >= {
        "track_id",
        "preset",
        "chunk_idx",
        "intensity",
        "is_cached",
        "tier",
        "estimated_latency_ms",
    }
    missing = engine.check(first["track_id"], "gentle", 999)
    assert not missing["is_cached"] and missing["tier"] is None

    health = engine.health()
    assert health["status"] in ("healthy", "warning", "critical")
    assert {
        "message",
        "l1_hit_rate",
        "overall_hit_rate",
        "total_memory_mb",
        "memory_limit_mb",
        "memory_utilization",
        "prediction_accuracy",
        "underruns",
        "worker",
    } <= set(health)
    assert health["memory_limit_mb"] == pytest.approx(99.0)


def test_clear_empties_tiers_and_rejects_unknown_ones(engine: Engine) -> None:
    engine.set_preset("punchy")
    engine.play()
    wait_for(lambda: engine.contents()["total_entries"] >= 3)
    engine.pause()
    engine.workers.pause()  # no render in flight lands after the clear
    wait_for(lambda: not engine.workers.running_keys())
    engine.clear("l1")
    assert engine.stats()["l1"]["count"] == 0
    engine.clear()
    assert engine.contents()["total_entries"] == 0
    with pytest.raises(TierplayError, match="unknown tier"):
        engine.clear("l4")


def test_memory_pressure_shrinks_budgets_l3_first_pauses_and_recovers() -> None:
    reading = [MemoryReading(100_000_000, 0.5)]
    engine = Engine(
        EngineConfig(plan_interval_seconds=0.02),
        sink=NullSink(speed=0),
        memory_reader=lambda: reading[0],
    )
    try:
        budgets = lambda: {n: t.budget_bytes for n, t in engine.buffer.tiers.items()}  # noqa: E731
        full = budgets()
        for level, (available, expected_l3, paused) in enumerate(
            [(0.15, full["l3"] // 2, False), (0.08, 0, False), (0.03, 0, True)], start=1
        ):
            reading[0] = MemoryReading(100_000_000, available)
            wait_for(lambda lv=level: engine.memory.level == lv, timeout=5)
            wait_for(lambda e=expected_l3: budgets()["l3"] == e, timeout=5)
            wait_for(lambda p=paused: engine.workers.metrics().paused is p, timeout=5)
        assert budgets()["l1"] < full["l1"]
        assert engine.health()["memory_level"] == "critical"
        reading[0] = MemoryReading(100_000_000, 0.6)
        wait_for(lambda: budgets() == full, timeout=5)
        assert not engine.workers.metrics().paused
        assert any("memory pressure" in m for m in engine.snapshot().messages)
    finally:
        engine.close()


def test_a_track_modified_on_disk_never_serves_stale_audio(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    for name in ("03_low_end_groove.flac", "04_hum_line.flac"):
        shutil.copy(SAMPLE_AUDIO / name, library / name)
    engine = fast_engine()
    try:
        tracks = engine.open([library])
        engine.set_preset("warm")
        engine.play()
        first = tracks[0]
        wait_for(lambda: any(e["track_id"] == first.id for e in engine.contents()["l1_entries"]))
        engine.pause()
        shutil.copy(SAMPLE_AUDIO / "04_hum_line.flac", first.path)  # rewritten in place
        wait_for(lambda: any("changed on disk" in m for m in engine.snapshot().messages))
        stale = [
            entry
            for tier in engine.buffer.entries().values()
            for entry in tier
            if entry.key.track_id == first.id and entry.fingerprint == first.fingerprint
        ]
        assert stale == []
        fresh = engine.tracks()[0]
        assert fresh.id == first.id and fresh.fingerprint != first.fingerprint
        engine.play()  # the new version plays, rendered afresh
        wait_for(
            lambda: any(
                entry.key.track_id == fresh.id and entry.fingerprint == fresh.fingerprint
                for tier in engine.buffer.entries().values()
                for entry in tier
            )
        )
    finally:
        engine.close()


def test_the_feeder_keeps_the_configured_lead() -> None:
    """ring_seconds reaches the player: a replay faster than real time needs a longer lead."""
    engine = Engine(
        EngineConfig(ring_seconds=3.0), sink=NullSink(44_100, 1024, speed=0, ring_frames=4 * 44_100)
    )
    try:
        engine.open([SAMPLE_AUDIO])
        engine.play()
        wait_for(lambda: engine.sink.ring.queued_frames() >= int(2.9 * 44_100), timeout=10)
    finally:
        engine.close()
