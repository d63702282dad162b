"""A slow machine, modelled: every render costs `factor` times the CPU it took here.

The predictive buffer matters most where rendering is slow (a small ARM board, a laptop
on battery, a heavy chain), and this machine renders at 150-340x real time. Sleeping would
not model that: a sleeping thread leaves the cores free, while a slow machine's renders
compete for them with the feeder and the UI. So the extra time is spent on real arithmetic,
on the rendering thread, in numpy loops that release the GIL as pedalboard does.

Only the outermost render on a thread is slowed (a render that calibrates first counts its
calibration once), and a closing renderer stops burning at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

BURN_FRAMES = 1 << 15
"""Samples per burn step: ~0.1-0.3 ms of arithmetic, so the GIL is held for a tiny share of
the time and the end of the burn is overshot by less than a step."""

_local = threading.local()


def burn_cpu(seconds: float, stopping: Callable[[], bool] = lambda: False) -> float:
    """Spend `seconds` of this thread's CPU time on arithmetic; returns what it spent.

    Stops early once `stopping()` is true (checked between steps)."""
    if seconds <= 0.0:
        return 0.0
    scratch = getattr(_local, "scratch", None)
    if scratch is None:
        scratch = np.linspace(0.0, 1.0, BURN_FRAMES, dtype=np.float32)
        _local.scratch = scratch
    started = time.thread_time()
    end = started + seconds
    while (now := time.thread_time()) < end and not stopping():
        np.sin(scratch, out=scratch)
    return now - started


class RenderSlowdown:
    """Makes each render on this thread cost `factor` times its CPU time (1: no change)."""

    def __init__(self, factor: float = 1.0, stopping: Callable[[], bool] = lambda: False):
        if not factor >= 1.0:
            raise ValueError(f"a render slowdown is at least 1, not {factor}")
        self.factor = float(factor)
        self._stopping = stopping

    def stop_with(self, stopping: Callable[[], bool]) -> None:
        self._stopping = stopping

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Run the body, then burn (factor - 1) times the CPU it took; nested uses on the
        same thread burn once, for the outermost."""
        nested: int = getattr(_local, "depth", 0)
        if self.factor == 1.0 or nested:
            yield
            return
        _local.depth = 1
        started = time.thread_time()
        try:
            yield
        finally:
            _local.depth = 0
        spent = time.thread_time() - started
        burn_cpu((self.factor - 1.0) * spent, self._stopping)
