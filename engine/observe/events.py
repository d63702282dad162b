"""The engine's event stream: what happened, pushed to each subscriber's bounded queue.

Served switches and seeks, lookups, log lines, track changes and invalidated renders are
published as they happen, on whatever thread they happen on. Publishing never waits on a
subscriber: each has its own bounded queue, and when a slow one's queue is full its oldest
event is dropped and counted, so it learns how many it lost. With no subscriber, publishing costs a
lock and an empty loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

EventKind = Literal["switch", "seek", "lookup", "log", "track", "invalidated"]
SUBSCRIPTION_CAPACITY = 1000
"""Events a subscriber may fall behind by before the oldest are dropped."""


@dataclass(frozen=True)
class EngineEvent:
    """One thing that happened. `payload` by kind: `switch`/`seek` a `ServedRequest` (heard,
    latency known), `lookup` a `LookupRecord` (each look into the tiers), `log` the line,
    `track` the `Track` now playing (None: stopped), `invalidated` a dict of `track_id`,
    `reason` and `chunks` dropped."""

    kind: EventKind
    at: float
    """When, on the engine's clock (monotonic seconds)."""
    payload: Any


class Subscription:
    """One subscriber's queue; `take` from any one thread."""

    def __init__(self, stream: EventStream, capacity: int) -> None:
        self._stream = stream
        self._events: deque[EngineEvent] = deque()
        self._capacity = max(1, capacity)
        self._dropped = 0
        self._lock = threading.Lock()

    def _put(self, event: EngineEvent) -> None:
        with self._lock:
            if len(self._events) >= self._capacity:
                self._events.popleft()
                self._dropped += 1
            self._events.append(event)

    def take(self) -> tuple[list[EngineEvent], int]:
        """The events since the last take, oldest first, and how many were dropped before
        them because this subscriber fell `capacity` behind."""
        with self._lock:
            events, dropped = list(self._events), self._dropped
            self._events.clear()
            self._dropped = 0
        return events, dropped

    def close(self) -> None:
        """Stop receiving; what is queued can still be taken."""
        self._stream.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventStream:
    """Fans each published event out to every subscription."""

    def __init__(self) -> None:
        self._subscriptions: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()

    def subscribe(
        self, capacity: int = SUBSCRIPTION_CAPACITY, backlog: Iterable[EngineEvent] = ()
    ) -> Subscription:
        """A new subscription, starting with `backlog` (what happened before it)."""
        subscription = Subscription(self, capacity)
        for event in backlog:
            subscription._put(event)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, kind: EventKind, at: float, payload: Any) -> None:
        subscriptions = self._subscriptions  # a tuple, replaced whole: no lock needed to read
        if not subscriptions:
            return
        event = EngineEvent(kind, at, payload)
        for subscription in subscriptions:
            subscription._put(event)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
