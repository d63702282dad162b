"""`SharedWork`: a computation in independent parts that every thread waiting for its
result helps with, instead of waiting idle.

At a track's start both render threads need the same things first: the track's sample
(eight windows decoded) and the playing preset's calibration (those windows rendered). With
one thread computing and the other waiting, a core stood idle for a third of a second twice
before the first switch target could be rendered. Here each thread that asks takes the next
part not yet taken; whoever completes the last part puts them together (`finish`), and the
others wait only for that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

P = TypeVar("P")
R = TypeVar("R")


class SharedWork(Generic[P, R]):
    """`count` parts, computed by whichever threads call `help`, then finished once."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._parts: list[P | None] = [None] * count
        self._taken = 0
        self._left = count
        self._finishing = False
        self._done = threading.Event()
        self._result: R | None = None
        self._error: BaseException | None = None

    def help(
        self,
        part: Callable[[int], P],
        finish: Callable[[Sequence[P]], R],
    ) -> R:
        """Compute parts (`part(index)`, with the caller's own tools) until none is left to
        take; the caller that completes the last runs `finish` on all of them, in order.
        Returns the result, or raises what a part or `finish` raised, in every helper."""
        while (index := self._take()) is not None:
            try:
                if index >= 0 and not self._complete(index, part(index)):
                    continue
                result = finish(self._parts)  # type: ignore[arg-type]  # all set now
            except BaseException as error:
                self._fail(error)
                raise
            self._result = result
            self._done.set()
            return result
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]  # set before `_done`

    def _take(self) -> int | None:
        """The next part to compute, or None when all are taken (or the work failed); with
        no parts at all, the first caller finishes (as index -1, computing nothing)."""
        with self._lock:
            if self._error is not None:
                return None
            if not self._parts and not self._finishing:
                self._finishing = True
                return -1
            if self._taken >= len(self._parts):
                return None
            self._taken += 1
            return self._taken - 1

    def _complete(self, index: int, value: P) -> bool:
        """Keep part `index`; True for the caller that completed the last one."""
        with self._lock:
            self._parts[index] = value
            self._left -= 1
            return self._left == 0

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = error
        self._done.set()
