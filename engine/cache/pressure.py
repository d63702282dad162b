"""`MemoryPressure`: the buffer and its workers follow the player's memory level.

At each level change the tiers are resized to the level's budgets (evicting the least
valuable chunks) and the render workers paused or resumed; the change is told once, and a
storm of level changes is counted rather than flooding the log.
"""

from __future__ import annotations

from engine.cache.buffer import MultiTierBuffer
from engine.cache.worker import RenderWorkerPool
from engine.observe.error_log import ErrorLog
from engine.observe.memory import MemoryMonitor


class MemoryPressure:
    """`follow` runs on the maintenance thread."""

    def __init__(
        self,
        memory: MemoryMonitor,
        buffer: MultiTierBuffer,
        workers: RenderWorkerPool,
        notices: ErrorLog,
    ) -> None:
        self._memory = memory
        self._buffer = buffer
        self._workers = workers
        self._notices = notices

    def follow(self) -> None:
        before = self._memory.level
        if self._memory.update() == before:
            return
        evicted = self._buffer.resize(self._memory.budgets(self._buffer.configured_bytes))
        if self._memory.worker_paused:
            self._workers.pause()
        else:
            self._workers.resume()
        name = self._memory.level_name
        self._notices.report(
            "memory", name, f"memory pressure {name}: budgets resized, {evicted} evicted"
        )
