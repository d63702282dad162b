"""SharedWork: the threads that ask for a result share its parts, and it is finished once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.dsp.shared_work import SharedWork

WAIT = 10.0
"""Seconds a test waits for another thread before it gives up (a hang, not a timing)."""


def run(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_a_second_thread_takes_the_parts_the_first_has_not_reached() -> None:
    """The first helper's first part waits until the second has taken one: both compute,
    every part exactly once, and both get the one result, finished once."""
    work: SharedWork[int, list[int]] = SharedWork(6)
    first_in, second_took = threading.Event(), threading.Event()
    computed: dict[str, list[int]] = {"first": [], "second": []}
    finishes: list[str] = []
    results: dict[str, list[int]] = {}

    def helper(name: str) -> None:
        def part(index: int) -> int:
            computed[name].append(index)
            if name == "first" and index == 0:
                first_in.set()
                assert second_took.wait(WAIT)
            if name == "second":
                second_took.set()
            return index * index

        def finish(parts: Sequence[int]) -> list[int]:
            finishes.append(name)
            return list(parts)

        results[name] = work.help(part, finish)

    first = run(lambda: helper("first"))
    assert first_in.wait(WAIT)  # the first has taken part 0 and is held in it
    second = run(lambda: helper("second"))
    first.join(WAIT)
    second.join(WAIT)
    assert computed["second"], "the second thread only waited"
    assert sorted(computed["first"] + computed["second"]) == list(range(6))
    assert len(finishes) == 1
    assert results["first"] == results["second"] == [0, 1, 4, 9, 16, 25]


def test_a_part_that_raises_is_raised_in_every_helper() -> None:
    """A file gone mid-sample fails the whole work for everyone waiting on it, not just
    the thread that met it; nothing is finished."""
    work: SharedWork[int, int] = SharedWork(3)
    first_in = threading.Event()
    let_fail = threading.Event()
    errors: list[BaseException] = []
    finished: list[int] = []

    def failing(index: int) -> int:
        first_in.set()
        assert let_fail.wait(WAIT)
        raise OSError("gone")

    def waiting_one() -> None:
        try:
            work.help(lambda index: index, lambda parts: finished.append(1) or 0)
        except OSError as error:
            errors.append(error)

    def failing_one() -> None:
        try:
            work.help(failing, lambda parts: finished.append(1) or 0)
        except OSError as error:
            errors.append(error)

    first = run(failing_one)
    assert first_in.wait(WAIT)
    second = run(waiting_one)  # takes what parts are left, then waits for part 0
    let_fail.set()
    first.join(WAIT)
    second.join(WAIT)
    assert [str(error) for error in errors] == ["gone", "gone"]
    assert finished == []


def test_work_without_parts_is_finished_once_by_the_first_to_ask() -> None:
    work: SharedWork[int, str] = SharedWork(0)
    calls: list[int] = []
    assert (
        work.help(lambda index: index, lambda parts: calls.append(len(parts)) or "done") == "done"
    )
    assert work.help(lambda index: index, lambda parts: "again") == "done"
    assert calls == [0]


@given(count=st.integers(0, 12), threads=st.integers(1, 4))
def test_any_number_of_helpers_finish_it_once_with_every_part_in_order(
    count: int, threads: int
) -> None:
    work: SharedWork[int, tuple[int, ...]] = SharedWork(count)
    finishes: list[int] = []
    results: list[tuple[int, ...]] = []

    def finish(parts: Sequence[int]) -> tuple[int, ...]:
        finishes.append(1)
        return tuple(parts)

    helpers = [run(lambda: results.append(work.help(lambda i: 10 * i, finish)))]
    helpers += [run(lambda: results.append(work.help(lambda i: 10 * i, finish)))
                for _ in range(threads - 1)]  # fmt: skip
    for helper in helpers:
        helper.join(WAIT)
    assert len(finishes) == 1
    assert results == [tuple(10 * i for i in range(count))] * threads


def test_an_error_in_finish_reaches_the_caller() -> None:
    work: SharedWork[int, int] = SharedWork(1)

    def finish(parts: Sequence[int]) -> int:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        work.help(lambda index: index, finish)
    with pytest.raises(ValueError, match="bad"):
        work.help(lambda index: index, finish)
