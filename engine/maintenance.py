"""`MaintenanceLoop`: the engine's one background thread of upkeep.

It runs the parts' upkeep steps in the order they were given: some at every tick (the
plan on the playhead, held seeks, track ends, recalibrations, failures to tell), some at
their own period (memory, files on disk, saving state). A failing step is reported in the
error log and the loop goes on: it must outlive any one failure. Its tick is
`EngineConfig.plan_interval_seconds`, faster while a seek is held, so that seek is applied
as soon as its window ends, and slower while nothing is in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from engine.observe.error_log import ErrorLog

Step = Callable[[], object]


@dataclass
class _Periodic:
    seconds: float
    clock: Callable[[], float]
    steps: tuple[Step, ...]
    last: float = -float("inf")


class MaintenanceLoop:
    """Steps are added before `start`; the thread runs until `stop`."""

    def __init__(
        self,
        interval: Callable[[], float],
        clock: Callable[[], float],
        errors: ErrorLog,
        flushed: tuple[ErrorLog, ...],
    ) -> None:
        """`interval()` is the wait before the next tick; `flushed` are the logs whose
        held-back lines are told at the end of each tick."""
        self._interval = interval
        self._clock = clock
        self._errors = errors
        self._flushed = flushed
        self._steps: list[Step | _Periodic] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)

    def every_tick(self, *steps: Step) -> None:
        self._steps.extend(steps)

    def every(self, seconds: float, *steps: Step, clock: Callable[[], float] | None = None) -> None:
        """`steps` in order, at most once per `seconds` on `clock` (the loop's by default)."""
        self._steps.append(_Periodic(seconds, clock or self._clock, steps))

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Tick now: a command moved the playhead, and the plan (and the tick's own pace)
        must follow it without waiting out the interval."""
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval())
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                for step in self._steps:
                    self._take(step)
            except Exception as error:  # noqa: BLE001 - the loop must outlive any one failure
                name = type(error).__name__
                self._errors.report("engine", name, f"engine maintenance failed: {name}: {error}")
            for log in self._flushed:
                log.flush()

    @staticmethod
    def _take(step: Step | _Periodic) -> None:
        if not isinstance(step, _Periodic):
            step()
            return
        now = step.clock()
        if now - step.last > step.seconds:
            step.last = now
            for each in step.steps:
                each()
