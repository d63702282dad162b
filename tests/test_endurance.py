"""The load requirement, CI-sized: ten minutes of music at 100+ preset switches a minute
through the real engine (bench/endurance.py runs the hour)."""

from __future__ import annotations

import pytest

from bench.endurance import EnduranceResult, report, run_endurance
from tests.helpers.audio_files import SAMPLE_AUDIO

MINUTES = 10.0
SWITCHES_PER_MINUTE = 120.0
SPEED = 20.0
"""Ten minutes of music in about 30 s. Two cores do not keep up with that (commands come
25 ms apart, many are superseded before they are heard, the ring underruns): the books,
budgets and threads must hold all the same."""


@pytest.fixture(scope="module")
def endurance() -> EnduranceResult:
    return run_endurance(SAMPLE_AUDIO, MINUTES, SWITCHES_PER_MINUTE, SPEED, seed=3)


def test_the_trace_asks_for_100_switches_in_every_minute(endurance: EnduranceResult) -> None:
    trace = endurance.trace
    assert trace.minutes == pytest.approx(MINUTES)
    assert trace.per_minute_min >= 100
    assert trace.seeks > 0 and trace.track_changes > 0


def test_every_requested_switch_is_accounted_for(endurance: EnduranceResult) -> None:
    books = endurance.accounting
    assert books.requested == endurance.trace.switches
    # The engine counts every preset change, and its filter saw every command.
    assert endurance.watch.final["switches_in_session"] == books.requested
    assert endurance.watch.final["counters"].presets == books.requested
    # Heard, or replaced by the next command before the feeder cut over; nothing else.
    assert books.served + books.superseded + books.pending == books.requested
    assert (books.unmatched, books.wrong_target, books.broken_chain) == (0, 0, 0)
    assert books.pending <= 1
    assert books.served > 0.2 * books.requested
    # Superseded is not a place to hide a stalled feed: switches are heard every minute.
    assert endurance.silent_minutes() == []
    assert all(r.latency_ms is not None and r.latency_ms >= 0 for r in endurance.switches)


def test_tier_bytes_never_exceed_their_budgets(endurance: EnduranceResult) -> None:
    samples = endurance.watch.samples
    assert len(samples) >= 20  # sampled all along, not once
    assert [s.t for s in samples] == sorted(s.t for s in samples)
    assert samples[-1].t > 0.9 * MINUTES * 60
    for sample in samples:
        assert sample.violations == [], (sample.t, sample.tiers)
    assert endurance.budget_violations == 0
    assert max(s.cache_bytes for s in samples) > 0  # the buffer was in use


def test_no_worker_died_and_nothing_raised(endurance: EnduranceResult) -> None:
    watch = endurance.watch
    assert watch.errors == []
    assert endurance.worker_deaths == 0
    assert all(s.alive == s.threads for s in watch.samples)
    assert len(watch.engine_threads) >= 3  # engine, feeder, null clock, render watchdog
    assert not [line for line in watch.problems if "maintenance failed" in line]
    # No render of a chunk outside its track (a cut that followed the wrong segment).
    assert not [line for line in watch.problems if "outside the track" in line]


def test_the_engine_still_answers_at_the_end(endurance: EnduranceResult) -> None:
    final = endurance.watch.final
    assert final["health"]["status"] in ("healthy", "warning", "critical")
    assert final["track"] is not None
    assert final["stats"]["l1"]["max_mb"] > 0
    assert {p["preset"] for p in final["predictions"]["predictions"]}
    assert final["requested_preset"] == endurance.watch.commands[-1].target
    lines = report(endurance, window_minutes=5.0)
    assert any("all accounted for" in line for line in lines)
    assert any(line.startswith("budget violations: 0") for line in lines)
