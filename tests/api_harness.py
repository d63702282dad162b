"""The running app with its API, for the API tests (no tests of its own here).

Each test gets the real thing: an engine on a null sink (paced by a clock, in this
process), the Textual app under the pilot, and uvicorn on the app's event loop serving a
loopback port the kernel picked, with an httpx client talking to it over TCP.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from textual.pilot import Pilot

from api.address import ApiAddress, open_listener
from api.server import ApiServer
from api.settings import ApiSettings
from engine import Engine, EngineConfig
from engine.playback.sinks.output import NullSink
from tui.app import TierplayApp

SIZE = (100, 40)
TIMEOUT = 10.0
"""Generous: renders share two cores with the rest of the suite."""
NO_KEYMAP = Path("/nonexistent/tierplay-test/keymap.toml")
"""The tests never read the user's key overrides."""


def null_engine(*paths: Path) -> Engine:
    engine = Engine(EngineConfig(), sink=NullSink(44_100, 1024, speed=1.0))
    engine.open(list(paths))
    return engine


def local_settings(token: str | None = None, allow_remote: bool = False) -> ApiSettings:
    """Loopback, any free port; a token when given (or generated, for remote access)."""
    return ApiSettings.from_options("127.0.0.1:0", allow_remote, token)


@dataclass
class Running:
    app: TierplayApp
    pilot: Pilot[None]
    server: ApiServer
    client: httpx.AsyncClient


@asynccontextmanager
async def running_app(
    engine: Engine, settings: ApiSettings | None = None, autoplay: bool = False
) -> AsyncIterator[Running]:
    """The app serving its API; the client sends the token when the server wants one."""
    settings = settings or local_settings()
    server = ApiServer(engine, settings, open_listener(settings.address, settings.allow_remote))
    app = TierplayApp(engine, autoplay=autoplay, keymap_file=NO_KEYMAP, api=server)
    headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
    async with (
        app.run_test(size=SIZE) as pilot,
        httpx.AsyncClient(base_url=server.address.url, headers=headers, timeout=TIMEOUT) as client,
    ):
        yield Running(app, pilot, server, client)


async def eventually(
    pilot: Pilot[None], condition: Callable[[], bool], what: str, timeout: float = TIMEOUT
) -> None:
    """Poll while the app runs (its loop serves the API too); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


class EventReader:
    """Server-sent events of one streamed response, as (kind, data), read in steps."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self._kind = ""

    async def until(
        self, condition: Callable[[list[tuple[str, Any]]], bool]
    ) -> list[tuple[str, Any]]:
        """The events read from now until `condition(events)` holds (or TIMEOUT)."""
        events: list[tuple[str, Any]] = []

        async def collect() -> None:
            async for line in self._lines:
                if line.startswith("event: "):
                    self._kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((self._kind, json.loads(line.removeprefix("data: "))))
                    if condition(events):
                        return

        await asyncio.wait_for(collect(), TIMEOUT)
        return events

    async def rest(self) -> list[str]:
        """Every line left, until the server ends the stream (or TIMEOUT)."""

        async def drain() -> list[str]:
            return [line async for line in self._lines]

        return await asyncio.wait_for(drain(), TIMEOUT)


@contextmanager
def app_in_thread(engine: Engine, settings: ApiSettings) -> Iterator[ApiAddress]:
    """The app and its API on an event loop of their own, for synchronous clients (the
    schema fuzzer): yields the address once it serves, stops the app on exit."""
    started = threading.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        state["stop"] = (asyncio.get_running_loop(), stop)
        async with running_app(engine, settings) as running:
            state["address"] = running.server.address
            started.set()
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:  # noqa: BLE001 - reported to the test's thread
            state["failure"] = error
        finally:
            started.set()

    thread = threading.Thread(target=run, name="api-test-app", daemon=True)
    thread.start()
    assert started.wait(TIMEOUT * 3), "the app did not start"
    if "failure" in state:
        raise state["failure"]
    try:
        yield state["address"]
    finally:
        loop, stop = state["stop"]
        loop.call_soon_threadsafe(stop.set)
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "the app did not stop"
