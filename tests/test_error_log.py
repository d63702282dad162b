"""The error log: each failure counted, told once, its repeats told now and then with their
count, many new ones summed; on a fake clock, so the windows are exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.observe.error_log import MAX_ENTRIES, NEW_LINES_PER_WINDOW, REPEAT_SECONDS, ErrorLog
from tests.helpers.clocks import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_log(clock: FakeClock) -> tuple[ErrorLog, list[str]]:
    lines: list[str] = []
    return ErrorLog(lines.append, clock), lines


def test_a_failure_is_told_once_then_its_repeats_with_their_count(clock: FakeClock) -> None:
    log, lines = make_log(clock)
    assert log.report("track", "/a.wav", "skipped a.wav: bad") is True
    for _ in range(20):
        clock.now += 0.1
        assert log.report("track", "/a.wav", "skipped a.wav: bad") is False
    assert lines == ["skipped a.wav: bad"]
    assert log.count("track", "/a.wav") == 21
    clock.now += REPEAT_SECONDS
    log.report("track", "/a.wav", "skipped a.wav: bad")
    assert lines == ["skipped a.wav: bad", "skipped a.wav: bad (22 times)"]


def test_held_repeats_are_told_by_the_next_flush_after_their_window(clock: FakeClock) -> None:
    log, lines = make_log(clock)
    log.report("output", "lost", "audio device lost")
    clock.now += 1
    log.report("output", "lost", "audio device lost")
    log.flush()
    assert lines == ["audio device lost"]  # inside the window: held
    clock.now += REPEAT_SECONDS
    log.flush()
    assert lines == ["audio device lost", "audio device lost (2 times)"]
    clock.now += REPEAT_SECONDS
    log.flush()
    assert len(lines) == 2  # nothing new: nothing told


def test_the_latest_message_is_told_for_a_subject(clock: FakeClock) -> None:
    log, lines = make_log(clock)
    log.report("engine", "KeyError", "engine maintenance failed: KeyError: 1")
    clock.now += REPEAT_SECONDS
    log.report("engine", "KeyError", "engine maintenance failed: KeyError: 2")
    assert lines[-1] == "engine maintenance failed: KeyError: 2 (2 times)"
    assert log.entries()[0].message.endswith("KeyError: 2")


def test_many_new_failures_are_told_one_by_one_then_summed_per_kind(clock: FakeClock) -> None:
    log, lines = make_log(clock)
    for number in range(NEW_LINES_PER_WINDOW + 25):
        log.report("track", f"/{number}.wav", f"skipped {number}.wav: bad")
    for number in range(3):
        log.report("render", f"job {number}", "render failed")
    assert len(lines) == NEW_LINES_PER_WINDOW
    log.flush(force=True)
    assert lines[NEW_LINES_PER_WINDOW:] == ["skipped 25 more files", "3 more render failures"]
    # A forced flush starts a new window: the next failure is told at once.
    log.report("track", "/new.wav", "skipped new.wav: bad")
    assert lines[-1] == "skipped new.wav: bad"


def test_a_slow_repeat_interval_is_kept_per_failure(clock: FakeClock) -> None:
    log, lines = make_log(clock)
    log.report("state", "save", "state not saved: disk full", repeat_seconds=300)
    for _ in range(9):
        clock.now += 30
        log.report("state", "save", "state not saved: disk full", repeat_seconds=300)
        log.flush()
    assert lines == ["state not saved: disk full"]
    clock.now += 30
    log.flush()
    assert lines[-1] == "state not saved: disk full (10 times)"


def test_entries_are_bounded_and_the_most_recent_come_first(clock: FakeClock) -> None:
    log, _lines = make_log(clock)
    for number in range(MAX_ENTRIES + 50):
        clock.now += 0.001
        log.report("track", f"/{number}.wav", "bad")
    entries = log.entries()
    assert len(entries) == MAX_ENTRIES
    assert entries[0].subject == f"/{MAX_ENTRIES + 49}.wav"
    assert entries[-1].subject == "/50.wav"
    assert log.total == MAX_ENTRIES + 50


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.floats(min_value=0.0, max_value=3.0),
            st.integers(min_value=1, max_value=5),
            st.booleans(),
        ),
        max_size=200,
    )
)
def test_lines_are_bounded_and_every_occurrence_is_counted(
    reports: list[tuple[str, float, int, bool]],
) -> None:
    """However failures arrive: every occurrence is counted, and one failure is told at most
    once at first sight plus once per window that has passed."""
    clock = FakeClock()
    start = clock.now
    lines: list[str] = []
    log = ErrorLog(lines.append, clock)
    expected: dict[str, int] = {}
    for subject, pause, count, flush in reports:
        clock.now += pause
        log.report("render", subject, f"failure {subject}", count=count)
        expected[subject] = expected.get(subject, 0) + count
        if flush:
            log.flush()
    assert {e.subject: e.count for e in log.entries()} == expected
    assert log.total == sum(expected.values())
    windows = (clock.now - start) / REPEAT_SECONDS
    for subject in expected:
        told = [line for line in lines if line.startswith(f"failure {subject}")]
        assert 1 <= len(told) <= 1 + windows + 1
        counts = [int(line.split("(")[1].split()[0]) for line in told[1:]]
        assert counts == sorted(counts) and all(c <= expected[subject] for c in counts)
