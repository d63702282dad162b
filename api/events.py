"""The live event stream: one `EventHub` polls the engine and fans out to subscribers,
each of which reads its events as server-sent events (`GET /api/events`).

One poller serves every client, so ten open streams cost the engine what one does, and
nothing is polled while nobody listens. A client that reads too slowly loses its oldest
events, never the player's time: its queue is bounded and it is told how many it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from api.watch import EVENT_KINDS, EngineWatch, Event

POLL_SECONDS = 0.25
"""How often the engine is read while someone listens (the TUI's buffer panels: 4 Hz)."""
KEEPALIVE_SECONDS = 10.0
"""A comment line this often on a quiet stream, so proxies and clients see it is alive."""
QUEUE_EVENTS = 512
MAX_SUBSCRIBERS = 16


@dataclass(frozen=True)
class ApiEvent:
    id: int
    kind: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        """One server-sent event; `data` is one line of JSON."""
        payload = json.dumps(self.data, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {payload}\n\n".encode()


class Subscription:
    """One client's bounded queue of events of the kinds it asked for."""

    def __init__(self, kinds: Iterable[str], size: int = QUEUE_EVENTS) -> None:
        self.kinds = frozenset(kinds)
        self.queue: asyncio.Queue[ApiEvent | None] = asyncio.Queue(size)
        self.dropped = 0
        """Events lost to a full queue since the client was last told."""

    def offer(self, event: ApiEvent | None) -> None:
        """Queue `event` (None ends the stream), dropping the oldest when full."""
        if event is not None and event.kind not in self.kinds:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class EventHub:
    def __init__(
        self,
        watch: EngineWatch,
        poll_seconds: float = POLL_SECONDS,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.watch = watch
        self.poll_seconds = poll_seconds
        self.keepalive_seconds = keepalive_seconds
        self._on_error = on_error
        self._subscribers: set[Subscription] = set()
        self._ids = itertools.count(1)
        self._closed = asyncio.Event()
        self._failing = False

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def full(self) -> bool:
        return len(self._subscribers) >= MAX_SUBSCRIBERS

    def subscribe(self, kinds: Iterable[str] = EVENT_KINDS) -> Subscription:
        """A new subscription, given the current player and health state to start from."""
        if self._subscribers:
            self.poll()  # what the others have not been sent yet is theirs alone
        else:
            self.watch.prime()
        subscription = Subscription(kinds)
        self._subscribers.add(subscription)
        for kind, data in self.watch.baseline():
            subscription.offer(self._event(kind, data))
        if self._closed.is_set():
            subscription.offer(None)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def poll(self) -> None:
        """Read the engine once and send what changed; a failure is reported once."""
        try:
            changes: list[Event] = self.watch.changes()
        except Exception as error:  # noqa: BLE001 - the stream must outlive any one failure
            if not self._failing and self._on_error is not None:
                self._on_error(f"api event stream: {type(error).__name__}: {error}")
            self._failing = True
            return
        self._failing = False
        for kind, data in changes:
            event = self._event(kind, data)
            for subscription in self._subscribers:
                subscription.offer(event)

    def _event(self, kind: str, data: dict[str, Any]) -> ApiEvent:
        return ApiEvent(next(self._ids), kind, data)

    async def run(self) -> None:
        """Poll while anyone listens, until `close()`."""
        while not self._closed.is_set():
            if self._subscribers:
                self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self.poll_seconds)

    def close(self) -> None:
        """End every stream (the server can then shut down) and the poller."""
        self._closed.set()
        self.watch.close()
        for subscription in self._subscribers:
            subscription.offer(None)

    async def stream(self, kinds: Iterable[str]) -> AsyncIterator[bytes]:
        """One client's server-sent events, until it leaves or the hub closes. The
        subscription is made here, on the first read, so a client gone before then
        leaves nothing behind."""
        subscription = self.subscribe(kinds)
        try:
            yield f"retry: {round(self.poll_seconds * 8000)}\n\n".encode()
            while True:
                try:
                    event = await asyncio.wait_for(subscription.queue.get(), self.keepalive_seconds)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if subscription.dropped:
                    lost, subscription.dropped = subscription.dropped, 0
                    yield self._event("dropped", {"events": lost}).encode()
                if event is None:
                    return
                yield event.encode()
        finally:
            self.unsubscribe(subscription)
