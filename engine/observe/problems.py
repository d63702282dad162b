"""`WorkerProblems`: render and cache failures told as one counted line per batch.

Failed, timed-out or restarted renders and corrupt cached chunks are counted by the worker
pool and the buffer; this turns their growth into a log line with the counts, never one
line per job, and at most one line per `EngineConfig.problem_report_seconds` (a batch held
back is reported, summed, at the next).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.cache.buffer import MultiTierBuffer
from engine.cache.worker import RenderWorkerPool

PROBLEM_NAMES = ("failed", "timed out", "thread restarts", "corrupt cached chunks dropped")


class WorkerProblems:
    """Read by the maintenance thread only."""

    def __init__(
        self,
        workers: RenderWorkerPool,
        buffer: MultiTierBuffer,
        log: Callable[[str], None],
        clock: Callable[[], float],
        every_seconds: float,
    ) -> None:
        self._workers = workers
        self._buffer = buffer
        self._log = log
        self._clock = clock
        self._every = every_seconds
        self._told = (0, 0, 0, 0)
        self._told_at: float | None = None

    def report(self) -> None:
        metrics = self._workers.metrics()
        seen = (metrics.failures, metrics.timeouts, metrics.restarts, self._buffer.corrupt_dropped)
        if seen == self._told:
            return
        now = self._clock()
        if self._told_at is not None and now - self._told_at < self._every:
            return
        new = [n - o for n, o in zip(seen, self._told, strict=True)]
        self._told, self._told_at = seen, now
        parts = [f"{count} {what}" for count, what in zip(new, PROBLEM_NAMES, strict=True) if count]
        detail = f" (last: {metrics.last_error})" if metrics.last_error and any(new[:3]) else ""
        self._log("renders: " + ", ".join(parts) + detail)
