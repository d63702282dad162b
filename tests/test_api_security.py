"""Who may use the API: loopback binding, the token, refused origins, no file paths.

Token enforcement runs against the running app over TCP. A client on another machine
cannot be made here (these machines send traffic to loopback only), so the loopback-only
rule is checked by calling the same ASGI app with a non-loopback client address.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.address import ApiAddressError, bound_address, open_listener, parse_address
from api.security import bearer_token, token_matches
from api.server import ApiServer
from api.settings import ApiSettings
from engine import Engine
from tests.helpers.audio_files import write_tone
from tui.cli import main
from tui.widgets.event_log import EventLog

from .api_harness import eventually, local_settings, null_engine, running_app

TOKEN = "a-token-of-thirty-two-characters"


@pytest.fixture
def engine(tone_library: Path) -> Iterator[Engine]:
    engine = null_engine(tone_library)
    yield engine
    engine.close()


# -- where it listens -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("8765", "127.0.0.1", 8765),
        ("localhost:0", "localhost", 0),
        ("[::1]:9000", "::1", 9000),
        ("0.0.0.0:8765", "0.0.0.0", 8765),
    ],
)
def test_addresses_default_to_loopback(text: str, host: str, port: int) -> None:
    address = parse_address(text)
    assert (address.host, address.port) == (host, port)
    assert address.loopback == (host != "0.0.0.0")


@pytest.mark.parametrize("text", ["", "port", "70000", "::1:80", "127.0.0.1:-1"])
def test_bad_addresses_are_one_line_errors(text: str) -> None:
    with pytest.raises(ApiAddressError, match="--api"):
        parse_address(text)


def test_the_default_binding_is_loopback_only() -> None:
    settings = ApiSettings.from_options("0", allow_remote=False, token=None)
    listener = open_listener(settings.address, settings.allow_remote)
    try:
        bound = bound_address(listener)
        assert bound.host == "127.0.0.1" and bound.port > 0 and bound.loopback
        assert settings.token is None
    finally:
        listener.close()
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        with pytest.raises(ApiAddressError, match="not a loopback address"):
            open_listener(parse_address(f"[{host}]:0" if ":" in host else f"{host}:0"), False)


def test_remote_access_always_has_a_token() -> None:
    generated = ApiSettings.from_options("0.0.0.0:0", allow_remote=True, token=None)
    assert generated.token is not None and len(generated.token) >= 32
    other = ApiSettings.from_options("0.0.0.0:0", allow_remote=True, token=None)
    assert other.token != generated.token
    given = ApiSettings.from_options("0.0.0.0:0", allow_remote=True, token=TOKEN)
    assert given.token == TOKEN
    with pytest.raises(ApiAddressError, match="at least 16"):
        ApiSettings.from_options("0", allow_remote=True, token="short")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api", "0.0.0.0:0"], "not a loopback address; add --api-allow-remote"),
        (["--api-allow-remote"], "need --api [HOST:]PORT"),
        (["--api-token", TOKEN], "need --api [HOST:]PORT"),
        (["--api", "0", "--api-token", "short"], "--api-token must be at least 16"),
        (["--api", "99999"], "the port must be a number from 0 to 65535"),
        (["--api", "BUSY"], "address already in use"),
    ],
)
def test_cli_refuses_unsafe_or_broken_api_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    track = write_tone(tmp_path / "a.wav", seconds=1.0)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        args = [f"127.0.0.1:{port}" if arg == "BUSY" else arg for arg in args]
        assert main([*args, "--sink", "null", str(track)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


# -- the token -----------------------------------------------------------------------------
def test_tokens_compare_whole_and_exact() -> None:
    assert token_matches(TOKEN, TOKEN)
    for offered in (None, "", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "é" * 32):
        assert not token_matches(TOKEN, offered)
    assert bearer_token(f"Bearer {TOKEN}") == TOKEN
    assert bearer_token(f"bearer   {TOKEN} ") == TOKEN
    assert bearer_token(f"Basic {TOKEN}") is None
    assert bearer_token("Bearer") is None


async def test_remote_mode_requires_the_token_it_shows(engine: Engine) -> None:
    settings = local_settings(allow_remote=True)  # remote rules, bound to loopback here
    assert settings.token is not None
    async with running_app(engine, settings) as running:
        await eventually(
            running.pilot,
            lambda: settings.token in "\n".join(running.app.query_one(EventLog).messages),
            "the token in the event log",
        )
        base = running.server.address.url
        async with httpx.AsyncClient(base_url=base) as anonymous:
            for method, path in (
                ("GET", "/api/cache/stats"),
                ("POST", "/api/player/play"),
                ("POST", "/api/cache/clear"),
                ("GET", "/api/openapi.json"),
                ("GET", "/api/events"),
            ):
                for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}):
                    answer = await anonymous.request(method, path, headers=headers)
                    assert answer.status_code == 401, (method, path, headers)
                    assert answer.headers["www-authenticate"].startswith("Bearer")
                    assert "token" in answer.json()["message"]
        assert not engine.snapshot().playing
        assert (await running.client.get("/api/cache/stats")).status_code == 200
        assert (await running.client.post("/api/player/play")).json()["playing"] is True
        schema = (await running.client.get("/api/openapi.json")).json()
        assert schema["security"] == [{"bearer": []}]


async def test_a_given_token_is_enforced_on_loopback_too(engine: Engine) -> None:
    async with running_app(engine, local_settings(token=TOKEN)) as running:
        async with httpx.AsyncClient(base_url=running.server.address.url) as anonymous:
            assert (await anonymous.get("/api/player")).status_code == 401
        assert (await running.client.get("/api/player")).status_code == 200


# -- requests a web page or another machine could make ----------------------------------------
def asgi_client(server: ApiServer, client_host: str, **headers: str) -> httpx.AsyncClient:
    """The server's own ASGI app, called as if from `client_host`."""
    transport = httpx.ASGITransport(app=server.app, client=(client_host, 40000))
    return httpx.AsyncClient(transport=transport, base_url=server.address.url, headers=headers)


async def test_other_machines_are_refused_unless_remote_access_is_on(engine: Engine) -> None:
    async with running_app(engine) as running:
        async with asgi_client(running.server, "192.0.2.10") as outsider:
            answer = await outsider.get("/api/cache/stats")
        assert answer.status_code == 403 and "loopback clients only" in answer.json()["message"]
        async with asgi_client(running.server, "127.0.0.1") as local:
            assert (await local.get("/api/cache/stats")).status_code == 200
    settings = local_settings(token=TOKEN, allow_remote=True)
    async with running_app(engine, settings) as running:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with asgi_client(running.server, "192.0.2.10", **auth) as outsider:
            assert (await outsider.get("/api/cache/stats")).status_code == 200
        async with asgi_client(running.server, "192.0.2.10") as outsider:
            assert (await outsider.get("/api/cache/stats")).status_code == 401


async def test_web_pages_cannot_drive_or_read_the_player(engine: Engine) -> None:
    async with running_app(engine) as running:
        client, base = running.client, running.server.address.url
        refused: list[dict[str, Any]] = [
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": "http://localhost:3000"},  # another local site is another origin
            {"Host": "evil.example"},  # DNS rebinding: a name that points at 127.0.0.1
            {"Host": f"evil.example:{running.server.address.port}"},
        ]
        for headers in refused:
            answer = await client.post("/api/player/play", headers=headers)
            assert answer.status_code == 403, headers
        assert not engine.snapshot().playing
        same_origin = {"Origin": base}
        assert (await client.get("/api/player", headers=same_origin)).status_code == 200
        assert "access-control-allow-origin" not in (await client.get("/api/player")).headers


async def test_no_endpoint_takes_a_path(engine: Engine) -> None:
    """Every input the API accepts, by name: none of them is a file or a folder."""
    async with running_app(engine) as running:
        schema = (await running.client.get("/api/openapi.json")).json()
        for probe in ("/api/../../etc/passwd", "/api/cache/clear/..%2F..%2Fetc%2Fpasswd"):
            answer = await running.client.post(probe)
            assert answer.status_code in (400, 404, 405), probe
    parameters = {
        p["name"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        for p in operation.get("parameters", [])
    }
    assert parameters == {"track_id", "preset", "chunk_idx", "intensity", "tier", "kinds"}
    bodies = {
        name
        for model in ("SeekRequest", "PresetRequest", "IntensityRequest")
        for name in schema["components"]["schemas"][model]["properties"]
    }
    assert bodies == {"position", "delta", "preset", "intensity"}
    request_bodies = [
        operation["requestBody"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        if "requestBody" in operation
    ]
    assert len(request_bodies) == 3
