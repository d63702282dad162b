"""Waiting for a thread's work without guessing how long it takes."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds. The timeout
    is a bound for a hung engine, never a speed being measured."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
