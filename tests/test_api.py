"""The remote API against the running app: every endpoint, bad input, the event stream.

The app runs under the pilot with a real engine on a null sink; the API is served by
uvicorn on the app's own event loop and reached over loopback TCP with httpx.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.models import (
    CacheCheck,
    CacheContents,
    CacheHealth,
    CacheStats,
    ErrorReport,
    PlayerState,
    Predictions,
    PresetInfo,
    TrackInfo,
)
from engine import PRESET_ORDER, Engine, EngineConfig
from tests.helpers.audio_files import write_tone
from tui.widgets.event_log import EventLog

from .api_harness import EventReader, eventually, null_engine, running_app

TIER_FIELDS = {"size_mb", "count", "hits", "misses", "hit_rate", "utilization", "max_mb"}
ENTRY_FIELDS = {
    "track_id",
    "preset",
    "chunk_idx",
    "intensity",
    "tier",
    "access_count",
    "probability",
    "size_bytes",
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A 25 s track (three chunks, room to seek) and a 3 s one."""
    folder = tmp_path / "library"
    folder.mkdir()
    write_tone(folder / "1_long.wav", seconds=25.0, channels=1, level=0.1)
    write_tone(folder / "2_short.wav", seconds=3.0, frequency=330.0)
    engine = null_engine(folder)
    yield engine
    engine.close()


def log_text(running: Any) -> str:
    return "\n".join(running.app.query_one(EventLog).messages)


def cached_entries(contents: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for tier in ("l1", "l2", "l3") for e in contents[f"{tier}_entries"]]


async def test_cache_views_keep_the_design_shapes(engine: Engine) -> None:
    engine.set_preset("warm")  # renders land in the tiers, even while paused
    async with running_app(engine) as running:
        client = running.client
        await eventually(
            running.pilot, lambda: engine.contents()["total_entries"] > 0, "cached chunks"
        )

        stats = (await client.get("/api/cache/stats")).json()
        assert set(stats) == {"l1", "l2", "l3", "overall", "prediction"}
        assert all(set(stats[tier]) >= TIER_FIELDS for tier in ("l1", "l2", "l3"))
        assert {"total_hits", "total_misses", "overall_hit_rate", "total_size_mb"} <= set(
            stats["overall"]
        )
        assert stats["l1"]["max_mb"] == engine.config.l1_budget_mb
        CacheStats.model_validate(stats)

        predictions = (await client.get("/api/cache/predictions")).json()
        Predictions.model_validate(predictions)
        assert predictions["current_preset"] == "warm"
        others = [p["preset"] for p in predictions["predictions"]]
        assert sorted(others) == sorted(set(PRESET_ORDER) - {"warm"})
        assert sum(p["probability"] for p in predictions["predictions"]) == pytest.approx(1.0)

        contents = (await client.get("/api/cache/contents")).json()
        CacheContents.model_validate(contents)
        entries = cached_entries(contents)
        assert contents["total_entries"] == len(entries) > 0
        assert all(set(e) == ENTRY_FIELDS for e in entries)

        health = (await client.get("/api/cache/health")).json()
        CacheHealth.model_validate(health)
        assert health["status"] in ("healthy", "warning", "critical")
        assert health["worker"]["threads"] == engine.config.render_threads

        entry = entries[0]
        query = {
            "track_id": entry["track_id"],
            "preset": entry["preset"],
            "chunk_idx": entry["chunk_idx"],
            "intensity": entry["intensity"],
        }
        check = (await client.get("/api/cache/check", params=query)).json()
        CacheCheck.model_validate(check)
        assert check["is_cached"] and check["tier"] in ("l1", "l2", "l3")
        assert {k: check[k] for k in query} == query
        missing = {**query, "preset": "original"}  # the source is never rendered or cached
        check = (await client.get("/api/cache/check", params=missing)).json()
        assert check["is_cached"] is False and check["tier"] is None


async def test_clear_drops_renders_and_names_only_real_tiers(engine: Engine) -> None:
    engine.set_preset("warm")
    async with running_app(engine) as running:
        client = running.client
        await eventually(
            running.pilot, lambda: engine.contents()["total_entries"] > 0, "cached chunks"
        )
        answer = await client.post("/api/cache/clear")
        assert answer.status_code == 200
        assert answer.json()["tier"] == "all" and answer.json()["cleared_chunks"] > 0
        for tier in ("l1", "l2", "l3"):
            answer = await client.post(f"/api/cache/clear/{tier}")
            assert answer.status_code == 200 and answer.json()["tier"] == tier
        for bad in ("l4", "L1", "all", "..%2F..%2Fetc"):
            answer = await client.post(f"/api/cache/clear/{bad}")
            assert answer.status_code in (400, 404), bad
        answer = await client.post("/api/cache/clear/l4")
        assert answer.status_code == 400
        refusal = "unknown tier 'l4'; use l1, l2 or l3"
        assert answer.json() == {"message": refusal, "detail": refusal}
        await eventually(running.pilot, lambda: "cleared all tiers" in log_text(running), "log")


async def test_transport_drives_the_engine_the_tui_shows(engine: Engine) -> None:
    async with running_app(engine) as running:
        client, pilot = running.client, running.pilot
        state = (await client.get("/api/player")).json()
        PlayerState.model_validate(state)
        assert state["playing"] is False and state["track"]["index"] == 0
        assert state["track"]["file"] == "1_long.wav"  # a name, never a path
        tracks = (await client.get("/api/tracks")).json()
        assert [TrackInfo.model_validate(t).file for t in tracks] == ["1_long.wav", "2_short.wav"]
        assert tracks[0]["chunks"] == 3

        presets = (await client.get("/api/presets")).json()
        assert [PresetInfo.model_validate(p).name for p in presets] == list(PRESET_ORDER)
        assert presets[4] == {
            "name": "bright",
            "place": 5,
            "key": None,
            "description": "open, airy top and presence, leaner lows",
            "origin": "built-in",
        }
        state = (await client.post("/api/player/preset", json={"preset": "bright"})).json()
        assert state["requested_preset"] == "bright"
        state = (await client.post("/api/player/intensity", json={"intensity": 0.6})).json()
        assert state["intensity"] == pytest.approx(0.6)
        await client.post("/api/player/seek", json={"position": 12.5})
        await eventually(pilot, lambda: engine.snapshot().position_seconds == 12.5, "seek")
        await client.post("/api/player/seek", json={"delta": -2.5})
        await eventually(pilot, lambda: engine.snapshot().position_seconds == 10.0, "step")

        state = (await client.post("/api/player/play")).json()
        assert state["playing"] is True
        state = (await client.post("/api/player/pause")).json()
        assert state["playing"] is False
        await client.post("/api/player/next")  # heard at the next cut in the output ring
        await eventually(pilot, lambda: engine.snapshot().track_index == 1, "the next track")
        await client.post("/api/player/prev")
        await eventually(pilot, lambda: engine.snapshot().track_index == 0, "the first track")

        # The TUI shows the same engine: its panels and its event log saw all of it.
        await eventually(
            pilot,
            lambda: (
                running.app.last_snapshot is not None
                and running.app.last_snapshot.requested_preset == "bright"
            ),
            "the TUI to show the preset",
        )
        for line in ("api: preset bright", "api: intensity 0.6", "api: seek to 12.5 s"):
            await eventually(pilot, lambda line=line: line in log_text(running), line)


LONGEST_TRACK = EngineConfig().max_track_seconds
BAD_BODIES: list[tuple[str, bytes | dict[str, Any] | None, str]] = [
    ("/api/player/intensity", b'{"intensity": NaN}', "finite number"),
    ("/api/player/intensity", b'{"intensity": Infinity}', "finite number"),
    ("/api/player/intensity", {"intensity": 1.5}, "less than or equal to 1"),
    ("/api/player/intensity", {"intensity": -0.1}, "greater than or equal to 0"),
    ("/api/player/intensity", {"intensity": "loud"}, "valid number"),
    ("/api/player/intensity", {"intensity": 0.5, "extra": 1}, "Extra inputs"),
    ("/api/player/preset", {"preset": "vintage"}, "'original', 'adaptive'"),
    ("/api/player/preset", {}, "Field required"),
    ("/api/player/seek", {"position": 3.0, "delta": 1.0}, 'exactly one of "position"'),
    ("/api/player/seek", {}, 'exactly one of "position"'),
    ("/api/player/seek", b'{"position": NaN}', "finite number"),
    ("/api/player/seek", {"position": -1.0}, "greater than or equal to 0"),
    ("/api/player/seek", {"position": 30.0}, "past the end of the track (25 s)"),
    ("/api/player/seek", {"delta": 1e9}, f"less than or equal to {LONGEST_TRACK:g}"),
    ("/api/player/seek", b"position=3", "valid dictionary"),
    ("/api/player/seek", b"{not json", "JSON decode error"),
    ("/api/player/seek", None, "Field required"),
]

BAD_QUERIES: list[tuple[dict[str, Any], int, str]] = [
    ({"preset": "warm", "chunk_idx": 0}, 422, "query.track_id: Field required"),
    ({"track_id": "T", "preset": "vintage", "chunk_idx": 0}, 422, "query.preset"),
    ({"track_id": "T", "preset": "warm", "chunk_idx": -1}, 422, "greater than or equal to 0"),
    ({"track_id": "T", "preset": "warm", "chunk_idx": "x"}, 422, "valid integer"),
    ({"track_id": "T", "preset": "warm", "chunk_idx": 3}, 422, "has chunks 0 to 2"),
    ({"track_id": "T", "preset": "warm", "chunk_idx": 0, "intensity": "nan"}, 422, "finite"),
    ({"track_id": "T", "preset": "warm", "chunk_idx": 0, "intensity": 2}, 422, "less than"),
    ({"track_id": "nope", "preset": "warm", "chunk_idx": 0}, 404, "no track 'nope'"),
]


async def test_bad_input_is_refused_with_a_clear_message(engine: Engine) -> None:
    async with running_app(engine) as running:
        client = running.client
        track_id = engine.tracks()[0].id
        before = engine.snapshot()
        for path, body, expected in BAD_BODIES:
            if isinstance(body, dict):
                answer = await client.post(path, json=body)
            else:
                kind = "application/json" if body and body.startswith(b"{") else "text/plain"
                headers = {"content-type": kind} if body else {}
                answer = await client.post(path, content=body, headers=headers)
            assert answer.status_code == 422, (path, body, answer.text)
            assert expected in answer.json()["message"], (path, body, answer.text)
        for query, status, expected in BAD_QUERIES:
            query = {k: track_id if v == "T" else v for k, v in query.items()}
            answer = await client.get("/api/cache/check", params=query)
            assert answer.status_code == status, (query, answer.text)
            assert expected in answer.json()["message"], answer.text  # one shape for all
        events = await client.get("/api/events", params={"kinds": "sounds"})
        assert events.status_code == 422 and "query.kinds" in events.json()["message"]
        missing = await client.get("/api/nothing")
        assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
        assert (await client.get("/api/player/play")).status_code == 405
        after = engine.snapshot()  # nothing reached the engine
        assert (after.requested_preset, after.intensity, after.position_seconds) == (
            before.requested_preset,
            before.intensity,
            before.position_seconds,
        )


async def test_event_stream_reports_switches_lookups_and_commands(engine: Engine) -> None:
    async with running_app(engine) as running:
        client = running.client
        async with client.stream("GET", "/api/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            reader = EventReader(stream)
            first = await reader.until(lambda events: len(events) >= 2)
            assert [kind for kind, _data in first] == ["player", "health"]
            assert first[0][1]["playing"] is False
            await client.post("/api/player/preset", json={"preset": "punchy"})
            await client.post("/api/player/play")

            def seen(events: list[tuple[str, Any]]) -> bool:
                kinds = {kind for kind, _data in events}
                return {"switch", "lookups", "log", "player", "worker"} <= kinds

            events = await reader.until(seen)
        switch = next(data for kind, data in events if kind == "switch")
        assert switch["to"] == "punchy" and switch["tier"] in ("l1", "l2", "l3", "miss")
        assert set(switch) >= {"t", "from", "to", "tier", "latency_ms"}
        lookups = next(data for kind, data in events if kind == "lookups")
        assert set(lookups) <= {"playback", "switch", "seek"}
        assert all(set(c) == {"l1", "l2", "l3", "miss"} for c in lookups.values())
        messages = [data["message"] for kind, data in events if kind == "log"]
        assert "api: preset punchy" in messages
        players = [data for kind, data in events if kind == "player"]
        assert players[-1]["playing"] is True and players[-1]["requested_preset"] == "punchy"
        await eventually(running.pilot, lambda: running.server.hub.subscribers == 0, "unsubscribe")


async def test_event_stream_filters_kinds(engine: Engine) -> None:
    async with running_app(engine) as running:
        params = {"kinds": ["log"]}
        async with running.client.stream("GET", "/api/events", params=params) as stream:
            await running.client.post("/api/player/pause")
            events = await EventReader(stream).until(
                lambda events: ("log", {"message": "api: pause"}) in events
            )
        assert {kind for kind, _data in events} == {"log"}


async def test_stopping_the_server_ends_open_event_streams(engine: Engine) -> None:
    async with running_app(engine) as running:
        async with running.client.stream("GET", "/api/events") as stream:
            reader = EventReader(stream)
            await reader.until(lambda events: len(events) >= 2)
            started = time.monotonic()
            await running.server.stop()  # what the app does when it unmounts
            await reader.rest()
        assert time.monotonic() - started < 2.0
        assert running.server.hub.subscribers == 0


async def test_errors_lists_each_failure_once_with_its_count(tmp_path: Path) -> None:
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    write_tone(tmp_path / "good.wav", seconds=1.0)
    engine = null_engine(tmp_path)
    try:
        async with running_app(engine) as running:
            reports = (await running.client.get("/api/errors")).json()
            engine.errors.report("output", "lost", "audio device lost (test)", count=3)
            later = (await running.client.get("/api/errors")).json()
    finally:
        engine.close()
    assert [ErrorReport.model_validate(r).kind for r in reports] == ["track"]
    assert reports[0]["message"].startswith("skipped broken.wav: not a readable audio file")
    assert reports[0]["count"] == 1 and reports[0]["last_seen_seconds_ago"] >= 0
    assert [(r["kind"], r["count"]) for r in later] == [("output", 3), ("track", 1)]


async def test_openapi_schema_lists_every_endpoint(engine: Engine) -> None:
    async with running_app(engine) as running:
        schema = (await running.client.get("/api/openapi.json")).json()
    paths = schema["paths"]
    for path in ("stats", "predictions", "contents", "check", "health"):
        assert "get" in paths[f"/api/cache/{path}"]
    assert "post" in paths["/api/cache/clear"] and "post" in paths["/api/cache/clear/{tier}"]
    for command in ("play", "pause", "seek", "preset", "intensity", "next", "prev"):
        assert "post" in paths[f"/api/player/{command}"]
    assert "get" in paths["/api/player"] and "get" in paths["/api/events"]
    assert "get" in paths["/api/errors"]
    assert "HTTPValidationError" not in str(schema)  # every 422 has our one shape


async def test_the_tui_shows_where_the_api_is_and_stops_it_on_exit(engine: Engine) -> None:
    async with running_app(engine) as running:
        url = running.server.url
        await eventually(running.pilot, lambda: f"API at {url}" in log_text(running), "log")
        assert any(f"API at {url}" in n.message for n in running.app._notifications)
        base = running.server.address.url
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=base) as client:
            await client.get("/api/player")
