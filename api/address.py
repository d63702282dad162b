"""Where the API listens: `--api [HOST:]PORT` parsed, and loopback told apart.

Binding is done here, before the app starts, so a port in use is one clear line at the
command line instead of an error inside the running player.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from engine.errors import TierplayError

DEFAULT_HOST = "127.0.0.1"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
LISTEN_BACKLOG = 64


class ApiAddressError(TierplayError):
    """An `--api` address that cannot be parsed or bound; `str()` is one line."""


@dataclass(frozen=True)
class ApiAddress:
    """A host and a TCP port (0 = any free port, as the tests use)."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def url(self) -> str:
        """The base URL a client on this machine uses (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_address(text: str) -> ApiAddress:
    """`PORT`, `HOST:PORT` or `[IPV6]:PORT`; a missing host is the loopback address."""
    text = text.strip()
    host, separator, port_text = text.rpartition(":")
    if not separator:
        host, port_text = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ApiAddressError(f"--api {text}: write an IPv6 host in brackets, e.g. [::1]:8765")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ApiAddressError(f"--api {text}: the port must be a number from 0 to 65535")
    return ApiAddress(host or DEFAULT_HOST, int(port_text))


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual names of this machine's loopback."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_listener(address: ApiAddress, allow_remote: bool) -> socket.socket:
    """Bind and listen now. Without `allow_remote`, what was bound must be loopback (a
    name like `localhost` is checked after it resolves, not trusted by its spelling)."""
    if not allow_remote and not address.loopback:
        raise ApiAddressError(
            f"--api {address.host}:{address.port} is not a loopback address; "
            "add --api-allow-remote to serve other machines (a token is then required)"
        )
    try:
        family, kind, proto, _name, sockaddr = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as error:
        raise ApiAddressError(f"--api {address.host}: {error.strerror or error}") from error
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(sockaddr)
        listener.listen(LISTEN_BACKLOG)
    except OSError as error:
        listener.close()
        reason = error.strerror or str(error)
        raise ApiAddressError(f"--api {address.host}:{address.port}: {reason.lower()}") from error
    bound = bound_address(listener)
    if not allow_remote and not bound.loopback:
        listener.close()
        raise ApiAddressError(f"--api {address.host} resolved to {bound.host}, not loopback")
    return listener


def bound_address(listener: socket.socket) -> ApiAddress:
    """The address a listening socket really has (the real port when 0 was asked for)."""
    name = listener.getsockname()
    return ApiAddress(str(name[0]), int(name[1]))
