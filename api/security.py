"""Who may use the API: loopback clients only unless remote access was asked for, a bearer
token when one is set, and no requests a web page could forge.

A player listening on 127.0.0.1 is still reachable from any web page the user opens: a
page can POST to it (a "simple" cross-origin request needs no preflight) or rebind a DNS
name to 127.0.0.1 and read it. So requests whose `Host` is not a loopback name (local
mode) or whose `Origin` is another site are refused before any route runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from api.address import is_loopback_host
from api.problems import problem_body

TOKEN_BYTES = 24
"""Random bytes in a generated token (32 URL-safe characters)."""
MIN_TOKEN_CHARS = 16


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if authorization is None:
        return None
    scheme, _space, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_matches(expected: str, offered: str | None) -> bool:
    """Constant-time comparison of digests, so response timing tells nothing about the
    token, not even its length."""
    given = (offered or "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(
        hashlib.sha256(expected.encode("utf-8")).digest(), hashlib.sha256(given).digest()
    )


def host_name(host_header: str) -> str:
    """`127.0.0.1:8765` -> `127.0.0.1`, `[::1]:8765` -> `::1`."""
    return urlsplit(f"//{host_header}").hostname or ""


class AccessGuard:
    """ASGI middleware applying the rules above to every HTTP request.

    Failures answer 401 (token missing or wrong) or 403 (not allowed from there) with a
    the JSON every other error of the API has (`api/problems.py`).
    """

    def __init__(self, app: ASGIApp, allow_remote: bool, token: str | None) -> None:
        self.app = app
        self.allow_remote = allow_remote
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, detail = self.refusal(scope)
        if status:
            await _refuse(send, status, detail)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str]:
        """(0, "") when the request may go on, else the status and the reason."""
        headers = _headers(scope)
        client = scope.get("client")
        if not self.allow_remote:
            if client is not None and not is_loopback_host(str(client[0])):
                return 403, "this player serves loopback clients only (see --api-allow-remote)"
            host = headers.get("host")
            if host is not None and not is_loopback_host(host_name(host)):
                return 403, f"Host {host!r} is not a loopback name"
        origin = headers.get("origin")
        if origin is not None and origin != f"{_scheme(scope)}://{headers.get('host', '')}":
            return 403, "cross-origin requests are not allowed"
        if self.token is not None and not token_matches(
            self.token, bearer_token(headers.get("authorization"))
        ):
            return 401, "missing or wrong token (send Authorization: Bearer <token>)"
        return 0, ""


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name (the last one wins when repeated)."""
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def _scheme(scope: Scope) -> str:
    return str(scope.get("scheme", "http"))


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps(problem_body(detail)).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="tierplay"'))
    message: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    await send(message)
    await send({"type": "http.response.body", "body": body})
