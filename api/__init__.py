"""Tierplay's remote control and inspection API (`tierplay --api [HOST:]PORT`).

It serves the running player's engine over HTTP from the Textual app's own event loop:
the cache views of docs/architecture.md, the transport, and a live event stream. This package may
import `engine` and nothing of `tui`; `engine` never imports it.
"""

from api.address import ApiAddress, parse_address
from api.settings import ApiSettings

__all__ = ["ApiAddress", "ApiSettings", "parse_address"]
