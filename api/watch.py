"""`EngineWatch`: what changed in the engine since the last look, as event payloads.

Switches and seeks as they are heard and the engine's log lines come from the engine's
event stream (`Engine.subscribe`); state that moves without an event (the transport,
buffer hits and misses per request kind, worker progress and problems, health) is read
and compared, from the app's event loop a few times a second, never from the audio path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, get_args

from engine import Engine
from engine.observe.events import EngineEvent
from engine.playback.feed import ServedRequest
from engine.vocabulary import TIER_NAMES

EventKind = Literal["player", "switch", "seek", "lookups", "worker", "health", "log"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
WORKER_PROGRESS_SECONDS = 1.0
"""A worker event for renders alone at most this often; problems are reported at once."""
WORKER_PROBLEMS = ("alive", "paused", "failures", "timeouts", "abandoned", "restarts")

Event = tuple[str, dict[str, Any]]


class EngineWatch:
    """Remembers the last reading of each source; `changes()` returns what moved since."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self._clock = clock
        self._player: dict[str, Any] = {}
        self._events = engine.subscribe()
        self._lookups: dict[str, dict[str, int]] = {}
        self._worker: dict[str, Any] = {}
        self._worker_at = 0.0
        self._health_key: tuple[Any, ...] = ()

    def prime(self) -> None:
        """Forget the past: a first subscriber must not get a burst of old events."""
        self._events.take()
        self._lookups = self._read_lookups()
        health = self.engine.health()
        self._worker, self._worker_at = dict(health["worker"]), self._clock()
        self._health_key = _health_key(health)
        self._player = self._read_player()

    def baseline(self) -> list[Event]:
        """The player and health state as last read, for a client to start from."""
        return [("player", dict(self._player)), ("health", self.engine.health())]

    def changes(self) -> list[Event]:
        taken, dropped = self._events.take()
        streamed = self._streamed(taken)
        events = self._player_events()
        events += [e for e in streamed if e[0] in ("switch", "seek")]
        events += self._lookup_events()
        health = self.engine.health()
        events += self._worker_events(health["worker"])
        events += self._health_events(health)
        if dropped:
            message = f"{dropped} engine events not sent: the stream was read too slowly"
            events.append(("log", {"message": message}))
        events += [e for e in streamed if e[0] == "log"]
        return events

    def close(self) -> None:
        self._events.close()

    # -- sources ----------------------------------------------------------------------------
    def _read_player(self) -> dict[str, Any]:
        """The transport state that changes on a command (the position moves all the time
        and is left to `GET /api/player`)."""
        s = self.engine.snapshot()
        return {
            "playing": s.playing,
            "track_id": s.track.id if s.track is not None else None,
            "track_index": s.track_index,
            "preset": s.preset,
            "requested_preset": s.requested_preset,
            "intensity": round(s.intensity, 4),
            "volume": round(s.volume, 4),
            "muted": s.muted,
        }

    def _player_events(self) -> list[Event]:
        player = self._read_player()
        if player == self._player:
            return []
        self._player = player
        return [("player", dict(player))]

    def _streamed(self, events: list[EngineEvent]) -> list[Event]:
        """The stream's switches, seeks and log lines as API events (others are not sent)."""
        rate = self.engine.config.sample_rate
        out: list[Event] = []
        for event in events:
            if event.kind in ("switch", "seek"):
                out.append((event.kind, served_payload(event.payload, rate)))
            elif event.kind == "log":
                out.append(("log", {"message": event.payload}))
        return out

    def _read_lookups(self) -> dict[str, dict[str, int]]:
        return {
            kind: {**{tier: c.hits[tier] for tier in TIER_NAMES}, "miss": c.misses}
            for kind, c in self.engine.buffer.counters().items()
        }

    def _lookup_events(self) -> list[Event]:
        """Buffer hits per tier and misses since the last event, per request kind."""
        now = self._read_lookups()
        delta: dict[str, dict[str, int]] = {}
        for kind, counts in now.items():
            before = self._lookups.get(kind, {})
            moved = {name: n - before.get(name, 0) for name, n in counts.items()}
            if any(moved.values()):
                delta[kind] = moved
        self._lookups = now
        return [("lookups", delta)] if delta else []

    def _worker_events(self, worker: dict[str, Any]) -> list[Event]:
        problem = any(worker[name] != self._worker.get(name) for name in WORKER_PROBLEMS)
        progress = worker["renders_total"] != self._worker.get("renders_total")
        due = self._clock() - self._worker_at >= WORKER_PROGRESS_SECONDS
        if not (problem or (progress and due)):
            return []
        self._worker, self._worker_at = dict(worker), self._clock()
        return [("worker", dict(worker))]

    def _health_events(self, health: dict[str, Any]) -> list[Event]:
        key = _health_key(health)
        if key == self._health_key:
            return []
        self._health_key = key
        return [("health", health)]


def served_payload(record: ServedRequest, sample_rate: int) -> dict[str, Any]:
    """The shape `simulate --json` uses for switches and seeks, plus where a seek landed."""
    payload: dict[str, Any] = {
        "t": round(record.t, 3),
        "from": record.source,
        "to": record.target,
        "tier": record.tier,
        "latency_ms": None if record.latency_ms is None else round(record.latency_ms, 2),
    }
    if record.kind == "seek":
        payload["position_seconds"] = round(max(record.frame, 0) / sample_rate, 3)
    return payload


def _health_key(health: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a health event: not the hit rates in the message, which move each read."""
    worker = health["worker"]
    return (
        health["status"],
        health["underruns"],
        health.get("memory_level"),
        worker["alive"] < worker["threads"],
    )
