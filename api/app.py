"""`create_app`: the ASGI application, routes and guard together.

FastAPI (on Starlette) gives the validated bodies, the 422s and the OpenAPI schema at
`/api/openapi.json` from the same declarations, so the schema cannot drift from the code.
No route takes a path or touches the file system: the playlist is what the player opened.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.openapi.utils import get_openapi
from fastapi.responses import StreamingResponse

from api.cache_routes import cache_router
from api.events import EventHub
from api.models import Problem, ValidationProblem
from api.problems import HANDLERS
from api.security import AccessGuard
from api.settings import ApiSettings
from api.transport import transport_router
from api.watch import EVENT_KINDS, EventKind
from engine import Engine

OPENAPI_URL = "/api/openapi.json"
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A body that cannot be read (not UTF-8, say)"},
    401: {"model": Problem, "description": "Token missing or wrong (when one is set)"},
    403: {"model": Problem, "description": "Not a loopback client, or a cross-origin request"},
    422: {"model": ValidationProblem, "description": "Invalid request"},
}
"""Every route may answer these (FastAPI's own 422 shape is replaced by ours)."""


def _version() -> str:
    try:
        return version("tierplay")
    except PackageNotFoundError:
        return "0"


def create_app(engine: Engine, settings: ApiSettings, hub: EventHub) -> FastAPI:
    app = FastAPI(
        title="Tierplay",
        summary="Inspect and drive a running Tierplay player: its buffer, transport, events.",
        version=_version(),
        openapi_url=OPENAPI_URL,
        docs_url=None,  # the interactive docs load scripts from a CDN: not from a player
        redoc_url=None,
        responses=COMMON_RESPONSES,
    )
    for error, handler in HANDLERS.items():
        app.add_exception_handler(error, handler)
    app.include_router(cache_router(engine))
    app.include_router(transport_router(engine))
    app.include_router(events_router(hub))
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    app.add_middleware(AccessGuard, allow_remote=settings.allow_remote, token=settings.token)
    return app


def events_router(hub: EventHub) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["events"])

    @router.get(
        "/events",
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                "description": "Server-sent events: `event:` is the kind, `data:` one JSON "
                "object. A stream starts with `player` and `health`; `dropped` says how "
                "many events a slow reader lost.",
            },
            422: {"model": ValidationProblem, "description": "Unknown event kind"},
            429: {"model": Problem, "description": "Too many streams open"},
        },
        summary="Live events: player, switch, seek, lookups, worker, health, log",
    )
    async def events(
        kinds: Annotated[list[EventKind] | None, Query()] = None,
    ) -> StreamingResponse:
        if hub.full:
            raise HTTPException(429, "too many event streams open")
        return StreamingResponse(
            hub.stream(kinds or EVENT_KINDS),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    return router


def _openapi(app: FastAPI, settings: ApiSettings) -> dict[str, Any]:
    """The generated schema, plus the bearer scheme when this server wants a token."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        if settings.token is not None:
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearer": []}]
        app.openapi_schema = schema
    return app.openapi_schema
