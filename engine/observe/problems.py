"""`WorkerProblems`: render and cache failures counted in the error log, like every other.

Failed, timed-out or restarted renders and corrupt cached chunks are counted by the worker
pool and the buffer; each new batch of them is reported to the error log under its kind
(`render`, `failed` ...) with its count, so the event log, the health panel and the API's
`/api/errors` tell the same numbers. The error log says a failure the first time and sums
its repeats into one line per `EngineConfig.problem_report_seconds`, never a line a job.
"""

from __future__ import annotations

from engine.cache.buffer import MultiTierBuffer
from engine.cache.worker import RenderWorkerPool
from engine.observe.error_log import ErrorLog

PROBLEM_NAMES = ("failed", "timed out", "thread restarts", "corrupt cached chunks dropped")
MESSAGES = (
    "a render failed",
    "a render timed out and was abandoned",
    "a render thread was replaced",
    "a corrupt cached chunk was dropped (it is rendered again)",
)


class WorkerProblems:
    """Read by the maintenance thread only."""

    def __init__(
        self,
        workers: RenderWorkerPool,
        buffer: MultiTierBuffer,
        errors: ErrorLog,
        every_seconds: float,
    ) -> None:
        self._workers = workers
        self._buffer = buffer
        self._errors = errors
        self._every = every_seconds
        self._told = (0, 0, 0, 0)

    def report(self) -> None:
        metrics = self._workers.metrics()
        seen = (metrics.failures, metrics.timeouts, metrics.restarts, self._buffer.corrupt_dropped)
        if seen == self._told:
            return
        new = [n - o for n, o in zip(seen, self._told, strict=True)]
        self._told = seen
        for count, what, message in zip(new, PROBLEM_NAMES, MESSAGES, strict=True):
            if count <= 0:
                continue
            last = metrics.last_error if what != PROBLEM_NAMES[-1] else ""
            detail = f" ({last})" if last else ""
            self._errors.report(
                "render", what, message + detail, count=count, repeat_seconds=self._every
            )
