"""`Journal`: what the engine tells about itself as it happens.

Log lines for the event log, switches and seeks heard (with their latencies), track
changes and invalidated renders: each is kept for the snapshot and published on the event
stream in the order it happened, whatever thread it happened on.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from engine.observe.events import EngineEvent, EventKind, EventStream, Subscription
from engine.observe.views import LatencyBook
from engine.playback.feed import SOURCE_TIER, ServedRequest
from engine.vocabulary import format_clock

SERVED_FROM = {
    "l1": "from cache L1",
    "l2": "from cache L2",
    "l3": "from cache L3",
    "miss": "rendered on the spot",
    "pending": "render pending",
    SOURCE_TIER: "the original, nothing to render",
}
"""Where a switch or seek was served from, in the event log's words."""
MESSAGES_KEPT = 200
SERVED_KEPT = 2000
"""Switches and seeks heard that are kept for `Engine.switches` and `Engine.seeks`."""


class Journal:
    """The message log, the served switches and seeks, and the event stream; thread-safe."""

    def __init__(self, clock: Callable[[], float], sample_rate: int) -> None:
        self._clock = clock
        self._sample_rate = sample_rate
        self._lock = threading.Lock()
        """Held while a line is kept and published, so subscribers see the log's order."""
        self._messages: deque[tuple[float, str]] = deque(maxlen=MESSAGES_KEPT)
        """Each line with when it was logged."""
        self._message_count = 0
        self._switches: deque[ServedRequest] = deque(maxlen=SERVED_KEPT)
        self._seeks: deque[ServedRequest] = deque(maxlen=SERVED_KEPT)
        self.latencies = LatencyBook()
        self.events = EventStream()

    def log(self, message: str) -> None:
        with self._lock:
            self._log(message)

    def publish(self, kind: EventKind, payload: Any) -> None:
        self.events.publish(kind, self._clock(), payload)

    def invalidated(self, track_id: str | None, reason: str, chunks: int) -> None:
        self.publish("invalidated", {"track_id": track_id, "reason": reason, "chunks": chunks})

    def served(self, record: ServedRequest) -> None:
        """A switch or seek was heard: keep it for the figures and say so in the log."""
        self.latencies.add(record)
        how = SERVED_FROM.get(record.tier, record.tier)
        latency = "" if record.latency_ms is None else f", {record.latency_ms:.0f} ms"
        if record.kind == "switch":
            message = f"switched {record.source} → {record.target} ({how}{latency})"
        elif record.track_start:
            message = f"track start ({how}{latency})"
        else:
            at = max(record.frame, 0) / self._sample_rate
            message = f"seek to {format_clock(at)} ({how}{latency})"
        with self._lock:
            (self._switches if record.kind == "switch" else self._seeks).append(record)
            self._log(message)
        self.publish("switch" if record.kind == "switch" else "seek", record)

    def messages(self) -> tuple[tuple[str, ...], int]:
        """The lines kept (the latest `MESSAGES_KEPT`) and how many were ever logged."""
        with self._lock:
            return tuple(line for _at, line in self._messages), self._message_count

    def subscribe(self, capacity: int, log_history: bool = False) -> Subscription:
        """The event stream from now on; with `log_history`, the log lines kept so far
        first. Made under the log's lock, so no line is missed or told twice."""
        with self._lock:
            kept = self._messages if log_history else ()
            backlog = [EngineEvent("log", at, line) for at, line in kept]
            return self.events.subscribe(capacity, backlog)

    def slow_serves(self, over_ms: float, within_seconds: float) -> int:
        """Switches and seeks asked for in the last `within_seconds` that were heard more
        than `over_ms` after the key: what a listener notices as a late switch."""
        since = self._clock() - within_seconds
        with self._lock:
            served = (*self._switches, *self._seeks)
        return sum(
            1
            for record in served
            if record.asked_at >= since
            and record.latency_ms is not None
            and record.latency_ms > over_ms
        )

    def switches(self) -> list[ServedRequest]:
        with self._lock:
            return list(self._switches)

    def seeks(self) -> list[ServedRequest]:
        with self._lock:
            return list(self._seeks)

    def _log(self, message: str) -> None:
        at = self._clock()
        self._messages.append((at, message))
        self._message_count += 1
        self.events.publish("log", at, message)
