"""`ApiSettings`: what `--api`, `--api-allow-remote` and `--api-token` ask for, checked."""

from __future__ import annotations

from dataclasses import dataclass

from api.address import ApiAddress, ApiAddressError, parse_address
from api.security import MIN_TOKEN_CHARS, new_token


@dataclass(frozen=True)
class ApiSettings:
    """Where to listen and who may talk to the API."""

    address: ApiAddress
    allow_remote: bool = False
    """Serve other machines too; then `token` is always set."""
    token: str | None = None
    """Every request must carry `Authorization: Bearer <token>` when set."""

    @staticmethod
    def from_options(address: str, allow_remote: bool, token: str | None) -> ApiSettings:
        """Remote access without a given token gets a fresh one (shown in the player)."""
        if token is not None and (len(token) < MIN_TOKEN_CHARS or not token.isprintable()):
            raise ApiAddressError(
                f"--api-token must be at least {MIN_TOKEN_CHARS} printable characters"
            )
        if allow_remote and token is None:
            token = new_token()
        return ApiSettings(parse_address(address), allow_remote, token)
