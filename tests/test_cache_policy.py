"""Cache policy simulation: the same requests for all, budgets honoured, the oracle on top."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.policy_sim import (
    POLICY_NAMES,
    REQUEST_KINDS,
    OurPlacement,
    PolicyResult,
    Script,
    SimSettings,
    build_script,
    make_policy,
    run_session,
    simulate,
)
from engine.cache.keys import ChunkKey
from engine.config import EngineConfig
from engine.library.analysis import Features
from engine.persist.trace import TraceEvent
from engine.sim.listeners import MODELS, generate
from engine.sim.timeline import LibraryTimeline, TimelineTrack, synthetic_timeline

SESSION_SECONDS = 240.0
SETTINGS = SimSettings()
TIGHT = SimSettings(engine=EngineConfig().with_total_budget(10.0))
"""Six chunks in all (none fit L1): every policy has to evict all the time."""
ORACLE_TOLERANCE = 0.02
"""The oracle is greedy under the render budget (it spends credit on whatever is needed
next, playback or switch), so it is an upper bound on switch hits in practice, not by proof."""

Session = tuple[Script, dict[str, PolicyResult]]


@pytest.fixture(scope="module")
def timeline() -> LibraryTimeline:
    return synthetic_timeline(3, tracks=6)


def run_all(timeline: LibraryTimeline, settings: SimSettings) -> dict[str, Session]:
    sessions: dict[str, Session] = {}
    for model in MODELS:
        script = build_script(timeline, generate(model, timeline, 5, SESSION_SECONDS), settings)
        sessions[model] = (
            script,
            {
                name: simulate(script, make_policy(name, script, settings), settings)
                for name in POLICY_NAMES
            },
        )
    return sessions


@pytest.fixture(scope="module")
def sessions(timeline: LibraryTimeline) -> dict[str, Session]:
    return run_all(timeline, SETTINGS)


@pytest.fixture(scope="module")
def tight_sessions(timeline: LibraryTimeline) -> dict[str, Session]:
    return run_all(timeline, TIGHT)


def test_no_policy_ever_holds_more_bytes_than_the_budget(
    sessions: dict[str, Session], tight_sessions: dict[str, Session]
) -> None:
    for runs in (sessions, tight_sessions):
        for _script, results in runs.values():
            for result in results.values():
                assert 0 <= result.max_bytes <= result.budget_bytes
    assert TIGHT.capacity_chunks() == 6
    slots, sizes = TIGHT.tier_slots(), TIGHT.tier_chunk_bytes()
    full = sum(slots[name] * sizes[name] for name in slots)
    _script, explorer = tight_sessions["explorer"]
    assert all(result.max_bytes == full for result in explorer.values())  # it did fill up


def test_every_request_is_a_hit_or_a_miss_exactly_once(
    sessions: dict[str, Session], tight_sessions: dict[str, Session]
) -> None:
    for runs in (sessions, tight_sessions):
        for script, results in runs.values():
            asked = Counter(request.kind for request in script.requests)
            for result in results.values():
                for kind in REQUEST_KINDS:
                    assert result.hits[kind] + result.misses[kind] == asked[kind]
                assert result.demand_renders == sum(result.misses.values())


def test_the_oracle_is_an_upper_bound_on_switch_hits(
    sessions: dict[str, Session], tight_sessions: dict[str, Session]
) -> None:
    for runs in (sessions, tight_sessions):
        for script, results in runs.values():
            if not any(request.kind in ("preset", "intensity") for request in script.requests):
                continue
            best = results["oracle"].switch_hit_ratio()
            assert best is not None
            for name, result in results.items():
                other = result.switch_hit_ratio()
                assert other is not None
                assert best >= other - ORACLE_TOLERANCE, name


def test_demand_only_lru_never_prefetches(sessions: dict[str, Session]) -> None:
    for _script, results in sessions.values():
        assert results["demand_lru"].prefetch_renders == 0
        assert results["demand_lru"].renders > 0


def test_render_all_renders_the_most(sessions: dict[str, Session]) -> None:
    for model, (_script, results) in sessions.items():
        most = results["render_all"].renders
        assert all(result.renders <= most for result in results.values()), model


def test_prefetching_never_outruns_the_render_budget(sessions: dict[str, Session]) -> None:
    budget = SETTINGS.render_burst + SETTINGS.renders_per_second * SESSION_SECONDS
    for _script, results in sessions.values():
        for result in results.values():
            assert result.prefetch_renders <= budget
    _script, settled = sessions["settled"]
    assert settled["render_all"].prefetch_renders >= 0.8 * budget  # the budget binds it


def test_results_are_deterministic_per_seed(timeline: LibraryTimeline) -> None:
    events = generate("content_driven", timeline, 11, 120.0)
    assert run_session(timeline, events, SETTINGS) == run_session(timeline, events, SETTINGS)


def test_our_placement_learns_only_what_the_filter_lets_through(timeline: LibraryTimeline) -> None:
    for model in ("toggler", "explorer"):
        events = generate(model, timeline, 2, SESSION_SECONDS)
        script = build_script(timeline, events, SETTINGS)
        ours = OurPlacement(timeline, SETTINGS)
        simulate(script, ours, SETTINGS)
        learned = ours.planner.predictor.view("original").learned_switches
        switches = sum(event.event == "preset" for event in events)
        assert 0 < learned <= switches
        if model == "explorer":  # rapid bursts are learned as one switch each
            assert learned < switches / 2


# -- the requests a trace makes -------------------------------------------------------------


def two_tracks() -> LibraryTimeline:
    flat = Features.neutral()
    return LibraryTimeline(
        (
            TimelineTrack("a.flac", 30.0, 10.0, (flat,) * 3),
            TimelineTrack("b.flac", 25.0, 10.0, (flat,) * 3),
        )
    )


def test_requests_follow_playback_and_never_ask_for_the_original() -> None:
    events = [
        TraceEvent.open(0.0, ["a.flac", "b.flac"]),
        TraceEvent.play(0.0),
        TraceEvent.preset(1.0, "warm"),  # a switch at chunk 0
        TraceEvent.preset(12.0, "original"),  # the source: never looked up
        TraceEvent.preset(15.0, "warm"),
        TraceEvent.intensity(16.0, 0.5),  # another bucket: a switch too
        TraceEvent.seek(17.0, 25.0),
        TraceEvent.pause(23.0),  # b started at 22, gapless
        TraceEvent.prev(24.0),  # landed while paused: looked up on play
        TraceEvent.play(25.0),
        TraceEvent.preset(26.0, "warm"),  # already playing: nothing to look up
        TraceEvent.volume(27.0, 0.5),
        TraceEvent.end(30.0),
    ]
    script = build_script(two_tracks(), events, SETTINGS)
    assert [(request.kind, request.key) for request in script.requests] == [
        ("preset", ChunkKey("a.flac", "warm", 20, 0)),
        ("playback", ChunkKey("a.flac", "warm", 20, 1)),
        ("preset", ChunkKey("a.flac", "warm", 20, 1)),
        ("intensity", ChunkKey("a.flac", "warm", 10, 1)),
        ("seek", ChunkKey("a.flac", "warm", 10, 2)),
        ("playback", ChunkKey("b.flac", "warm", 10, 0)),
        ("seek", ChunkKey("a.flac", "warm", 10, 0)),
    ]
    assert [request.number for request in script.requests] == list(range(7))
    assert script.played_chunks == pytest.approx(2.8)  # 23 s, then 5 s after the pause
