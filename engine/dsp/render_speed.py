"""How fast this machine renders, as measured by the renders themselves.

The feeder may render the head of a missed chunk on its own thread only if that takes a
small part of the time the output ring holds; on a slow machine (or under a heavy chain) it
must not try, and plays the source until the render threads deliver. Every renderer of an
engine shares one `RenderSpeed`, so the feeder knows the speed from the render threads'
work before it ever renders.

Renders are timed in the rendering thread's CPU time: the render threads are niced, so on
a busy machine their wall time says how long they waited, not what a render on the feeder
(not niced) would cost.
"""

from __future__ import annotations

import threading

from engine.observe.stats import smoothed

SMOOTHING = 0.25
"""Weight of the newest render in the running estimate: a few renders follow a change
(a heavy preset, a busy machine) without one quick render hiding a slow trend."""


class RenderSpeed:
    """CPU seconds per frame of audio processed, smoothed over recent renders."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds_per_frame: float | None = None
        self._by_preset: dict[str, float] = {}
        """Per preset: its own smoothed cost, so a heavy chain is judged as heavy."""
        self._noted = 0

    def note(self, preset: str, seconds: float, frames: int) -> None:
        """A render of `preset` processed `frames` frames in `seconds` of CPU time."""
        if frames <= 0 or seconds < 0.0:
            return
        cost = seconds / frames
        with self._lock:
            self._noted += 1
            self._seconds_per_frame = smoothed(self._seconds_per_frame, cost, SMOOTHING)
            self._by_preset[preset] = smoothed(self._by_preset.get(preset), cost, SMOOTHING)

    @property
    def noted(self) -> int:
        """Renders measured so far (a calibration's pass over its windows counts as one)."""
        with self._lock:
            return self._noted

    def seconds_for(self, frames: int, preset: str | None = None) -> float | None:
        """Expected CPU time to process `frames` frames of `preset` (any preset when not
        measured on its own); None before any render was measured."""
        with self._lock:
            cost = self._by_preset.get(preset) if preset is not None else None
            if cost is None:
                cost = self._seconds_per_frame
        return None if cost is None else cost * frames

    def real_time_factor(self, sample_rate: int) -> float | None:
        """Seconds of audio one render thread processes per second: 200 is this machine's
        order with the built-in presets, below ~10 a miss is heard as a delay."""
        seconds = self.seconds_for(sample_rate)
        return None if not seconds else 1.0 / seconds
