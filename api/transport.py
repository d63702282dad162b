"""The player over HTTP: `GET /api/player`, `GET /api/tracks`, and the transport commands.

Every command answers with the player's state right after it. A switch is heard a block
or two later (on a miss, once its head is rendered), so `preset` may still show the old
preset while `requested_preset` shows the new one; a seek inside 100 ms of the last one is
held by the engine and lands when its throttle window ends.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.models import (
    ErrorReport,
    IntensityRequest,
    PlayerState,
    PresetInfo,
    PresetRequest,
    SeekRequest,
    TrackInfo,
    ValidationProblem,
)
from api.problems import unprocessable
from engine import Engine
from engine.dsp.render import chunk_count
from engine.library.tracks import Track

Responses = dict[int | str, dict[str, Any]]
STATE: Responses = {
    200: {"model": PlayerState, "description": "The player's state after the command"}
}
INVALID: Responses = {422: {"model": ValidationProblem, "description": "Invalid body"}}


def track_info(track: Track, chunk_frames: int) -> dict[str, Any]:
    return {
        "id": track.id,
        "title": track.title,
        "artist": track.artist,
        "album": track.tags.album,
        "album_artist": track.tags.album_artist,
        "track_number": track.tags.track_number,
        "disc_number": track.tags.disc_number,
        "file": track.path.name,
        "duration_seconds": round(track.duration_seconds, 3),
        "chunks": chunk_count(track.frames, chunk_frames),
    }


def player_state(engine: Engine) -> dict[str, Any]:
    snapshot = engine.snapshot()
    track = None
    if snapshot.track is not None:
        track = track_info(snapshot.track, engine.config.chunk_frames)
        track["index"] = snapshot.track_index
    return {
        "playing": snapshot.playing,
        "track": track,
        "track_count": snapshot.track_count,
        "position_seconds": round(snapshot.position_seconds, 3),
        "chunk_index": snapshot.chunk_index,
        "preset": snapshot.preset,
        "requested_preset": snapshot.requested_preset,
        "intensity": round(snapshot.intensity, 4),
        "volume": round(snapshot.volume, 4),
        "muted": snapshot.muted,
        "output": snapshot.output_name,
        "output_notice": snapshot.output_notice,
        "underruns": snapshot.underruns,
    }


def known_preset(engine: Engine, name: str, location: tuple[str, str]) -> None:
    """A 422 naming every preset, for a name the engine does not know."""
    if name not in engine.presets:
        known = ", ".join(map(repr, engine.presets.order))
        raise unprocessable(location, f"unknown preset {name!r}; one of {known}")


def transport_router(engine: Engine) -> APIRouter:
    """Routes that drive `engine`; each logs what it did, so the listener sees it too."""
    router = APIRouter(prefix="/api", tags=["player"])

    def state() -> JSONResponse:
        return JSONResponse(player_state(engine))

    def done(what: str) -> JSONResponse:
        """Say in the player's event log that a remote client did `what`."""
        engine.log(f"api: {what}")
        return state()

    @router.get("/player", response_model=None, responses=STATE, summary="Player state")
    async def get_player() -> JSONResponse:
        return state()

    @router.get(
        "/tracks",
        response_model=None,
        responses={200: {"model": list[TrackInfo]}},
        summary="The playlist (ids for /api/cache/check)",
    )
    async def get_tracks() -> JSONResponse:
        frames = engine.config.chunk_frames
        return JSONResponse([track_info(t, frames) for t in engine.tracks()])

    @router.get(
        "/errors",
        response_model=None,
        responses={200: {"model": list[ErrorReport]}},
        summary="Every distinct failure with its count, the most recent first",
    )
    async def get_errors() -> JSONResponse:
        return JSONResponse(engine.error_report())

    @router.post("/player/play", response_model=None, responses=STATE, summary="Play")
    async def play() -> JSONResponse:
        engine.play()
        return done("play")

    @router.post("/player/pause", response_model=None, responses=STATE, summary="Pause")
    async def pause() -> JSONResponse:
        engine.pause()
        return done("pause")

    @router.post("/player/next", response_model=None, responses=STATE, summary="Next track")
    async def next_track() -> JSONResponse:
        engine.next_track()
        return done("next track")

    @router.post("/player/prev", response_model=None, responses=STATE, summary="Previous track")
    async def prev_track() -> JSONResponse:
        engine.prev_track()
        return done("previous track")

    @router.post(
        "/player/seek",
        response_model=None,
        responses={**STATE, **INVALID},
        summary="Seek to a position or by a step (seconds)",
    )
    async def seek(body: SeekRequest) -> JSONResponse:
        if body.delta is not None:
            engine.seek_relative(body.delta)
            return done(f"seek {body.delta:+g} s")
        assert body.position is not None
        duration = engine.snapshot().duration_seconds
        if body.position > duration:
            raise unprocessable(
                ("body", "position"),
                f"position {body.position:g} s is past the end of the track ({duration:g} s)",
            )
        engine.seek(body.position)
        return done(f"seek to {body.position:g} s")

    @router.post(
        "/player/preset",
        response_model=None,
        responses={**STATE, **INVALID},
        summary="Switch preset (heard at the next safe block boundary)",
    )
    async def preset(body: PresetRequest) -> JSONResponse:
        known_preset(engine, body.preset, ("body", "preset"))
        engine.set_preset(body.preset)
        return done(f"preset {body.preset}")

    @router.get(
        "/presets",
        response_model=None,
        responses={200: {"model": list[PresetInfo]}},
        summary="Every preset, in the order shown, with its key and origin",
    )
    async def get_presets() -> JSONResponse:
        presets = engine.presets
        return JSONResponse(
            [
                {
                    "name": preset.name,
                    "place": place,
                    "key": preset.key,
                    "description": preset.description,
                    "origin": presets.origin(preset.name),
                }
                for place, preset in enumerate(presets.presets(), start=1)
            ]
        )

    @router.post(
        "/player/intensity",
        response_model=None,
        responses={**STATE, **INVALID},
        summary="Set the preset intensity (0 = dry, 1 = full)",
    )
    async def intensity(body: IntensityRequest) -> JSONResponse:
        engine.set_intensity(body.intensity)
        return done(f"intensity {body.intensity:g}")

    return router
