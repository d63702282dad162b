"""The interaction filter's rules on a fake clock: seek throttling without loss, the learning
debounce, rapid exploration, track changes, and an event log that a held key cannot flood."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.prediction.interaction import (
    EVENT_LOG_LENGTH,
    FilterCounters,
    FilterEvent,
    InteractionFilter,
    Switch,
)
from tests.helpers.clocks import FakeClock


def make(clock: FakeClock, preset: str = "a") -> InteractionFilter:
    return InteractionFilter(preset, clock)


def kinds(events: list[FilterEvent]) -> list[str]:
    return [event.kind for event in events]


# -- seeking ------------------------------------------------------------------------------


def test_first_position_applies_at_once() -> None:
    clock = FakeClock(0.0)
    assert make(clock).position(0.0) == 0.0


def test_throttle_holds_the_latest_and_releases_it_after_the_window() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    assert flt.position(10.0) == 10.0
    clock.now = 0.03
    assert flt.position(11.0) is None
    clock.now = 0.06
    assert flt.position(12.0) is None
    assert flt.pending_position() == 12.0
    clock.now = 0.099
    assert flt.due_position() is None
    clock.now = 0.1
    assert flt.due_position() == 12.0
    assert flt.due_position() is None
    assert flt.pending_position() is None
    counters = flt.counters()
    assert (counters.positions, counters.positions_applied) == (3, 2)
    assert (counters.throttled, counters.coalesced) == (2, 1)


def test_release_starts_a_new_window() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.position(1.0)
    clock.now = 0.05
    flt.position(2.0)
    clock.now = 0.1
    assert flt.due_position() == 2.0
    clock.now = 0.15
    assert flt.position(3.0) is None
    clock.now = 0.2
    assert flt.due_position() == 3.0


def test_update_after_the_window_supersedes_the_held_one() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.position(1.0)
    clock.now = 0.05
    assert flt.position(2.0) is None
    clock.now = 0.15
    assert flt.position(3.0) == 3.0
    assert flt.due_position() is None
    assert flt.counters().coalesced == 1


def test_relative_seeks_accumulate_through_pending_position() -> None:
    """A seek key held at 30 Hz, +5 s per repeat: every step counts, none is lost."""
    clock = FakeClock(0.0)
    flt = make(clock)
    applied = 0.0
    for step in range(30):
        clock.now = step * 0.033
        pending = flt.pending_position()
        target = (pending if pending is not None else applied) + 5.0
        now_applied = flt.position(target)
        released = flt.due_position()
        for value in (now_applied, released):
            if value is not None:
                applied = value
    clock.now += 0.1
    released = flt.due_position()
    if released is not None:
        applied = released
    assert applied == pytest.approx(150.0)


def test_preset_and_intensity_inside_the_throttle_window_are_kept() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.position(5.0)
    clock.now = 0.01
    flt.preset("b")
    flt.intensity(0.3)
    clock.now = 0.02
    assert flt.position(6.0) is None
    assert flt.current_preset() == "b"
    counters = flt.counters()
    assert (counters.presets, counters.intensities) == (1, 1)
    clock.now = 0.6
    assert flt.due_position() == 6.0
    assert flt.due_learning() == [Switch("a", "b")]


# -- debounce -----------------------------------------------------------------------------


def test_switch_is_learned_once_held_for_the_debounce() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    clock.now = 0.499
    assert flt.due_learning() == []
    clock.now = 0.5
    assert flt.due_learning() == [("a", "b")]
    assert flt.due_learning() == []
    assert flt.settled_preset() == "b"


def test_a_preset_left_within_the_debounce_is_not_learned() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    clock.now = 0.499
    flt.preset("c")
    clock.now = 0.998
    assert flt.due_learning() == []
    clock.now = 0.999
    assert flt.due_learning() == [Switch("a", "c")]
    events = flt.drain_events()
    assert kinds(events) == ["debounced", "learned"]
    assert "b left after 499 ms" in events[0].message
    assert flt.counters().debounced == 1


def test_a_quick_return_learns_nothing() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    clock.now = 0.2
    flt.preset("a")
    clock.now = 10.0
    assert flt.due_learning() == []
    assert flt.counters().learned == 0
    assert kinds(flt.drain_events()) == ["debounced"]


def test_a_chain_of_settled_switches_learns_each() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    clock.now = 0.6
    flt.preset("c")
    clock.now = 1.2
    assert flt.due_learning() == [("a", "b"), ("b", "c")]


def test_choosing_the_playing_preset_does_not_restart_the_debounce() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    clock.now = 0.4
    flt.preset("b")
    clock.now = 0.5
    assert flt.due_learning() == [("a", "b")]


def test_learning_does_not_depend_on_when_it_is_polled() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    clock.now = 30.0
    assert flt.due_learning() == [("a", "b")]
    (event,) = flt.drain_events()
    assert (event.kind, event.t) == ("learned", 0.5)


# -- rapid exploration --------------------------------------------------------------------


def explore(clock: FakeClock, flt: InteractionFilter, presets: list[str], start: float) -> None:
    """One preset key every 100 ms from `start`."""
    for index, name in enumerate(presets):
        clock.now = start + index / 10
        flt.preset(name)


def test_ten_interactions_within_a_second_suspend_learning() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    explore(clock, flt, ["b", "c", "d", "e", "f", "b", "c", "d", "e", "f"], 0.0)
    assert flt.rapid()
    events = flt.drain_events()
    assert kinds(events).count("rapid_start") == 1
    assert events[-1].kind == "rapid_start"
    assert flt.counters().rapid_episodes == 1


def test_nine_interactions_do_not() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    explore(clock, flt, ["b", "c", "d", "e", "f", "b", "c", "d", "e"], 0.0)
    assert not flt.rapid()
    clock.now = 0.8 + 0.5
    assert flt.due_learning() == [("a", "e")]
    assert flt.counters().debounced == 8
    assert "rapid_start" not in kinds(flt.drain_events())


def test_the_preset_settled_on_after_exploring_is_learned_from_the_one_before() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    explore(clock, flt, ["b", "c", "d", "e", "f", "b", "c", "d", "e", "f", "c"], 0.0)
    flt.drain_events()
    # The window is calm from 1.1 s; "c" (chosen at 1.0 s) is held long enough at 1.5 s.
    clock.now = 1.45
    assert flt.rapid()
    assert flt.due_learning() == []
    clock.now = 1.5
    assert not flt.rapid()
    assert flt.due_learning() == [("a", "c")]
    events = flt.drain_events()
    assert kinds(events) == ["rapid_end", "learned"]
    assert events[0].t == pytest.approx(1.5)
    counters = flt.counters()
    # Nine quick switches were left before exploration was recognised; two came during it.
    assert (counters.learned, counters.debounced, counters.suspended) == (1, 8, 2)


def test_exploring_back_to_the_start_learns_nothing() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    explore(clock, flt, ["b", "c", "d", "e", "f", "b", "c", "d", "e", "a"], 0.0)
    clock.now = 5.0
    assert not flt.rapid()
    assert flt.due_learning() == []


def test_a_pending_switch_is_folded_into_the_episode() -> None:
    """A->B, then rapid seeking: B is not learned on its own, but kept after the episode."""
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    for step in range(10):
        clock.now = 0.05 + step * 0.04
        flt.position(float(step))
    assert flt.rapid()
    clock.now = 0.6
    assert flt.due_learning() == []
    clock.now = 5.0
    assert flt.due_learning() == [("a", "b")]


def test_every_kind_of_interaction_counts_toward_exploration() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    for step in range(10):
        clock.now = step / 10
        if step % 3 == 0:
            flt.preset("a")
        elif step % 3 == 1:
            flt.intensity(step / 10)
        else:
            flt.position(float(step))
    assert flt.rapid()


def test_each_episode_is_announced_once() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    explore(clock, flt, ["b", "c"] * 10, 0.0)
    explore(clock, flt, ["d", "e"] * 10, 10.0)
    clock.now = 20.0
    events = kinds(flt.drain_events())
    assert events.count("rapid_start") == 2
    assert events.count("rapid_end") == 2
    assert flt.counters().rapid_episodes == 2
    assert flt.due_learning() == [("a", "c"), ("c", "e")]


# -- track changes ------------------------------------------------------------------------


def test_track_change_drops_the_held_seek_and_resets_the_throttle() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.position(100.0)
    clock.now = 0.05
    assert flt.position(120.0) is None
    flt.track_changed()
    assert flt.pending_position() is None
    clock.now = 0.06
    assert flt.due_position() is None
    assert flt.position(3.0) == 3.0
    counters = flt.counters()
    assert (counters.positions_dropped, counters.track_changes) == (1, 1)


def test_track_changes_are_not_interactions() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    for step in range(30):
        clock.now = step / 100
        if step < 9:
            flt.intensity(0.5)
        flt.track_changed()
    assert not flt.rapid()


def test_an_unsettled_switch_at_a_track_change_is_not_learned() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    clock.now = 0.2
    flt.track_changed()
    assert flt.settled_preset() == "b"
    clock.now = 1.0
    assert flt.due_learning() == []
    flt.preset("c")
    clock.now = 1.5
    assert flt.due_learning() == [("b", "c")]
    track_event = next(e for e in flt.drain_events() if e.kind == "track_change")
    assert "a -> b held 200 ms: not learned" in track_event.message


def test_a_switch_settled_before_the_track_change_stays_due() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    flt.preset("b")
    clock.now = 0.7
    flt.track_changed()
    assert flt.due_learning() == [("a", "b")]


# -- the event log ------------------------------------------------------------------------


def test_a_held_seek_key_gives_one_throttle_event() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    for step in range(30):
        clock.now = step * 0.033
        flt.position(float(step))
        flt.due_position()
    clock.now += 0.1
    assert flt.due_position() == 29.0
    clock.now += 3.0
    events = flt.drain_events()
    assert kinds(events).count("throttled") == 1
    assert sorted(kinds(events)) == ["rapid_end", "rapid_start", "throttled"]
    throttled = next(e for e in events if e.kind == "throttled")
    assert f"throttled {flt.counters().throttled} seek updates" in throttled.message


def test_separate_bursts_give_separate_events() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    for start in (0.0, 5.0):
        clock.now = start
        flt.position(1.0)
        clock.now = start + 0.05
        flt.position(2.0)
        clock.now = start + 0.1
        assert flt.due_position() == 2.0
    clock.now = 6.0
    assert kinds(flt.drain_events()) == ["throttled", "throttled"]


def test_the_event_log_is_bounded() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    for step in range(EVENT_LOG_LENGTH + 50):
        clock.now = step * 0.2
        flt.preset("b" if step % 2 == 0 else "c")
    assert len(flt.drain_events()) == EVENT_LOG_LENGTH
    assert flt.drain_events() == []


def test_counters_are_a_frozen_snapshot() -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    snapshot = flt.counters()
    flt.position(1.0)
    assert snapshot.positions == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.positions = 3  # type: ignore[misc]
    assert isinstance(snapshot, FilterCounters)


@pytest.mark.parametrize(
    "kwargs",
    [{"throttle_seconds": -0.1}, {"debounce_seconds": -1.0}, {"rapid_count": 0}],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        InteractionFilter("a", FakeClock(), **kwargs)  # type: ignore[arg-type]


def test_calls_from_many_threads_are_all_counted() -> None:
    flt = InteractionFilter("a")

    def press() -> None:
        for step in range(500):
            flt.position(float(step))
            flt.preset("b" if step % 2 else "c")
            flt.due_position()

    threads = [threading.Thread(target=press) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counters = flt.counters()
    assert (counters.positions, counters.presets) == (2000, 2000)


# -- properties ---------------------------------------------------------------------------

ACTIONS = st.one_of(
    st.tuples(st.just("position"), st.floats(0.0, 600.0, allow_nan=False)),
    st.tuples(st.just("preset"), st.sampled_from(["a", "b", "c", "d"])),
    st.tuples(st.just("intensity"), st.floats(0.0, 1.0)),
    st.tuples(st.just("track"), st.just(0.0)),
    st.tuples(st.just("poll"), st.just(0.0)),
)
STEPS = st.lists(st.tuples(st.floats(0.0, 0.3), ACTIONS), max_size=80)


@settings(deadline=None)
@given(STEPS)
def test_no_preset_or_final_position_is_ever_lost(
    steps: list[tuple[float, tuple[str, float]]],
) -> None:
    clock = FakeClock(0.0)
    flt = make(clock)
    last_preset = "a"
    last_passed: float | None = None
    returned: list[float] = []
    for dt, (action, value) in steps:
        clock.now += dt
        if action == "position":
            last_passed = value
            applied = flt.position(value)
            if applied is not None:
                assert applied == value
                returned.append(applied)
        elif action == "preset":
            last_preset = str(value)
            flt.preset(last_preset)
        elif action == "intensity":
            flt.intensity(value)
        elif action == "track":
            last_passed = None
            flt.track_changed()
        else:
            released = flt.due_position()
            if released is not None:
                returned.append(released)
        assert flt.current_preset() == last_preset
        for switch in flt.due_learning():
            assert switch.source != switch.target
    clock.now += 0.1
    released = flt.due_position()
    if released is not None:
        returned.append(released)
    if last_passed is not None:
        assert returned[-1] == last_passed
    assert flt.pending_position() is None


@settings(deadline=None)
@given(STEPS, st.lists(st.booleans(), min_size=80, max_size=80))
def test_rules_do_not_depend_on_how_often_they_are_observed(
    steps: list[tuple[float, tuple[str, float]]], observe: list[bool]
) -> None:
    """A filter watched at every step and one never watched learn and log the same things."""
    quiet_clock, watched_clock = FakeClock(), FakeClock()
    quiet, watched = make(quiet_clock), make(watched_clock)
    for (dt, (action, value)), look in zip(steps, observe, strict=False):
        for clock, flt in ((quiet_clock, quiet), (watched_clock, watched)):
            clock.now += dt
            if action == "position":
                flt.position(value)
            elif action == "preset":
                flt.preset(str(value))
            elif action == "intensity":
                flt.intensity(value)
            elif action == "track":
                flt.track_changed()
            else:
                flt.due_position()
        if look:
            watched.rapid()
            watched.settled_preset()
            watched.counters()
    for clock in (quiet_clock, watched_clock):
        clock.now += 5.0
    assert quiet.due_learning() == watched.due_learning()
    assert quiet.drain_events() == watched.drain_events()
    assert quiet.counters() == watched.counters()
