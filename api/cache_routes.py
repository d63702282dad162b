"""The buffer over HTTP: `/api/cache/*`, the router the system we rebuild promised.

Each view is the engine's own dict (docs/architecture.md fixes its shape). The handlers are `async`
and call the engine directly on the app's event loop: every engine view returns in well
under a millisecond, less than a hop to a thread pool would cost.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from api.models import (
    CacheCheck,
    CacheContents,
    CacheHealth,
    CacheStats,
    Cleared,
    Predictions,
    Preset,
    Problem,
    ValidationProblem,
)
from api.problems import unprocessable
from api.transport import known_preset
from engine import Engine
from engine.dsp.render import chunk_count
from engine.vocabulary import TIER_NAMES

MAX_TRACK_ID_CHARS = 128


def cache_router(engine: Engine) -> APIRouter:
    router = APIRouter(prefix="/api/cache", tags=["cache"])

    @router.get(
        "/stats",
        response_model=None,
        responses={200: {"model": CacheStats}},
        summary="Hits, misses, sizes per tier; prediction accuracy",
    )
    async def stats() -> JSONResponse:
        return JSONResponse(engine.stats())

    @router.get(
        "/predictions",
        response_model=None,
        responses={200: {"model": Predictions}},
        summary="The next-preset distribution",
    )
    async def predictions() -> JSONResponse:
        return JSONResponse(engine.predictions())

    @router.get(
        "/contents",
        response_model=None,
        responses={200: {"model": CacheContents}},
        summary="Every cached chunk, per tier",
    )
    async def contents() -> JSONResponse:
        return JSONResponse(engine.contents())

    @router.get(
        "/check",
        response_model=None,
        responses={
            200: {"model": CacheCheck},
            404: {"model": Problem, "description": "No such track in the playlist"},
            422: {"model": ValidationProblem, "description": "Invalid query"},
        },
        summary="Is this chunk cached, where, and how fast a switch to it was",
    )
    async def check(
        track_id: Annotated[str, Query(min_length=1, max_length=MAX_TRACK_ID_CHARS)],
        preset: Preset,
        chunk_idx: Annotated[int, Query(ge=0, le=1_000_000)],
        intensity: Annotated[float, Query(ge=0.0, le=1.0, allow_inf_nan=False)] = 1.0,
    ) -> JSONResponse:
        known_preset(engine, preset, ("query", "preset"))
        track = next((t for t in engine.tracks() if t.id == track_id), None)
        if track is None:
            raise HTTPException(404, f"no track {track_id!r} in the playlist (see /api/tracks)")
        chunks = chunk_count(track.frames, engine.config.chunk_frames)
        if chunk_idx >= chunks:
            raise unprocessable(
                ("query", "chunk_idx"), f"track {track_id} has chunks 0 to {chunks - 1}"
            )
        return JSONResponse(engine.check(track_id, preset, chunk_idx, intensity))

    @router.get(
        "/health",
        response_model=None,
        responses={200: {"model": CacheHealth}},
        summary="Status, memory, underruns, render workers",
    )
    async def health() -> JSONResponse:
        return JSONResponse(engine.health())

    @router.post(
        "/clear",
        response_model=None,
        responses={200: {"model": Cleared}},
        summary="Drop every cached render",
    )
    async def clear_all() -> JSONResponse:
        return JSONResponse({"tier": "all", "cleared_chunks": engine.clear(None)})

    @router.post(
        "/clear/{tier}",
        response_model=None,
        responses={
            200: {"model": Cleared},
            400: {"model": Problem, "description": "Not l1, l2 or l3"},
        },
        summary="Drop one tier's renders (l1, l2 or l3)",
    )
    async def clear_tier(tier: str) -> JSONResponse:
        if tier not in TIER_NAMES:
            raise HTTPException(400, f"unknown tier {tier!r}; use l1, l2 or l3")
        return JSONResponse({"tier": tier, "cleared_chunks": engine.clear(tier)})

    return router
