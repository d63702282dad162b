"""`ApiServer`: uvicorn serving the API as a task on the running app's event loop.

The player's engine and UI already share one process and one event loop; the API joins
them there instead of adding a thread that would contend for the GIL at its own pace.
uvicorn's `Server.serve()` runs as an asyncio task next to the event-stream poller. It
gets a socket bound before the app started (so a busy port is a command-line error), it
never installs signal handlers (Ctrl+C and SIGTERM stay the app's), and its log goes to the
player's event log, never to the terminal the UI draws on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from api.address import ApiAddress, bound_address
from api.app import create_app
from api.events import EventHub
from api.settings import ApiSettings
from api.watch import EngineWatch
from engine import Engine

GRACEFUL_SECONDS = 2
"""How long uvicorn lets requests in flight finish when the app quits."""
STOP_SECONDS = 3.0
"""How long `stop()` waits for uvicorn's shutdown before cancelling it."""
UVICORN_LOGGER = "uvicorn.error"


class _LoopServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the app it runs inside."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _EngineLogHandler(logging.Handler):
    """uvicorn's warnings and errors, one line each in the player's event log."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(logging.WARNING)
        self.engine = engine

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().splitlines()[0] if record.getMessage() else ""
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text = f"{text}: {type(error).__name__}: {error}"
        self.engine.log(f"api: {text}")


class ApiServer:
    """Started by the app once it is mounted and stopped when it unmounts."""

    def __init__(self, engine: Engine, settings: ApiSettings, listener: socket.socket) -> None:
        self.engine = engine
        self.settings = settings
        self.listener = listener
        self.address: ApiAddress = bound_address(listener)
        self.hub = EventHub(EngineWatch(engine), on_error=engine.log)
        self.app = create_app(engine, settings, self.hub)
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # the peer's own address decides what is loopback
            server_header=False,
            ws="none",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )
        self._server = _LoopServer(config)
        self._log_handler = _EngineLogHandler(engine)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        return f"{self.address.url}/api"

    @property
    def announcement(self) -> str:
        """What the player shows: where the API is and, for remote use, the token."""
        if self.settings.token is None:
            return f"API at {self.url} (this machine only)"
        reach = "other machines too" if self.settings.allow_remote else "this machine only"
        return f"API at {self.url} ({reach}); send Authorization: Bearer {self.settings.token}"

    async def start(self) -> None:
        logger = logging.getLogger(UVICORN_LOGGER)
        logger.addHandler(self._log_handler)
        logger.propagate = False
        self._tasks = [
            asyncio.create_task(self._server.serve([self.listener]), name="tierplay-api"),
            asyncio.create_task(self.hub.run(), name="tierplay-api-events"),
        ]
        for task in self._tasks:
            task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A task that failed is reported in the event log, whenever it happens."""
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self.engine.log(f"api stopped: {type(error).__name__}: {error}")

    async def stop(self) -> None:
        """End the event streams, let uvicorn finish what is in flight, then return."""
        self.hub.close()
        self._server.should_exit = True
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            for task in pending:
                self._server.force_exit = True
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=STOP_SECONDS)
            self._tasks = []
        self.close()

    def close(self) -> None:
        """Release the socket and the log handler (also when the app never started)."""
        logger = logging.getLogger(UVICORN_LOGGER)
        logger.removeHandler(self._log_handler)
        logger.propagate = True
        self.listener.close()
