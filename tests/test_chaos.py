"""Faults injected into a playing engine (the rig `bench/chaos.py` runs longer): each one is
recovered, nothing is lost, and each shows in the engine's log with a count, not once per
failure. Real renders and real files; a null sink at 4x real time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chaos import (
    ChaosRig,
    corrupt_entries,
    file_faults,
    garbage_state,
    render_faults,
    wait_until,
)

SPEED = 4.0


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosRig]:
    """One playing engine for the module: preparing a library takes seconds."""
    rig = ChaosRig(tmp_path_factory.mktemp("chaos"), SPEED)
    rig.engine.wait_until_prepared(60)
    yield rig
    rig.close()


def problem_count(rig: ChaosRig, what: str) -> int:
    """How many render problems of `what` ("failed", "thread restarts", ...) the error log
    has counted: the one count the event log, the health panel and the API all tell."""
    return rig.engine.errors.count("render", what)


def problem_lines(rig: ChaosRig, message: str) -> int:
    return len(rig.messages(message))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(
    ("kind", "logged_as"),
    [("raise", "failed"), ("hang", "timed out"), ("kill", "thread restarts")],
)
def test_a_render_fault_is_recovered_and_logged_with_its_count(
    rig: ChaosRig, kind: str, logged_as: str
) -> None:
    before = problem_count(rig, logged_as)
    result = render_faults(rig, kind, rounds=1)
    assert (result.injected, result.recovered, result.lost) == (1, 1, 0)
    assert wait_until(lambda: problem_count(rig, logged_as) >= before + 1, timeout=10)
    counted = problem_count(rig, logged_as)
    told = [e["count"] for e in rig.engine.error_report() if e["kind"] == "render"]
    assert counted in told, "the API tells the same count"


def test_repeated_render_failures_are_summed_not_spammed(rig: ChaosRig) -> None:
    assert rig.engine.config.problem_report_seconds == 1.0
    rig.music_ahead()
    workers = rig.engine.workers
    logged_before = problem_count(rig, "failed")
    lines_before = problem_lines(rig, "a render failed")
    failures_before = workers.metrics().failures
    rig.render.raise_next = 30
    deadline = time.monotonic() + 30
    while rig.render.raise_next > 0:  # the plan queues renders again until all 30 failed
        assert time.monotonic() < deadline, "renders stopped coming"
        rig.engine.clear()
        wait_until(lambda: rig.render.raise_next == 0, timeout=0.5)
    failed = workers.metrics().failures - failures_before
    assert failed >= 30
    assert wait_until(lambda: problem_count(rig, "failed") - logged_before == failed)
    lines = problem_lines(rig, "a render failed") - lines_before
    assert 1 <= lines < failed  # summed into a few lines, every failure counted
    assert rig.playing_on()


def test_a_corrupt_cache_entry_is_dropped_never_served_and_logged(rig: ChaosRig) -> None:
    result = corrupt_entries(rig, 6)
    assert result.injected > 0 and "l1" in result.note  # the float32 tier is checked too
    assert result.lost == 0  # no corrupt chunk came back from a lookup
    assert result.recovered == result.injected
    assert wait_until(
        lambda: problem_count(rig, "corrupt cached chunks dropped") >= result.injected
    )


def test_a_garbage_state_file_is_set_aside_once_per_start(tmp_path: Path) -> None:
    result = garbage_state(tmp_path, rounds=2)
    assert (result.injected, result.recovered, result.lost) == (2, 2, 0)


@pytest.mark.parametrize("kind", ["truncated", "deleted"])
def test_a_file_damaged_while_it_plays_is_reported_and_playback_goes_on(
    rig: ChaosRig, kind: str
) -> None:
    result = file_faults(rig, kind)
    outcome = (result.injected, result.recovered, result.lost)
    assert outcome == (1, 1, 0), (result.note, rig.engine.snapshot().messages[-8:])
