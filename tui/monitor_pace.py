"""`MonitorPace`: how often the buffer's panels read the engine.

Read at 4 Hz, the panels' figures move only while the buffer does: renders queued or
finishing, a switch or seek not heard yet, a track or chunk change. While the buffer is
still, a listener with no key pressed, every reading repainted what had barely changed
(a resident size a few hundred kB off, a sparkline a sample on) and sent the terminal its
lines again. The panels then read once a second, and at once when something moves. (The
app keeps 4 Hz while the output meter is on screen and music plays: its levels move.)
"""

from __future__ import annotations

from engine import EngineSnapshot
from engine.observe.monitor import MonitorSnapshot

QUIET_EVERY = 4
"""While the buffer is still, one monitor tick in this many reads the engine (1 Hz)."""


class MonitorPace:
    """Decides, tick by tick, whether the panels read the engine now."""

    def __init__(self) -> None:
        self._ticks = 0
        self._seen: tuple[object, ...] | None = None
        """What the last reading was made at, from the playhead's snapshot."""
        self._renders_before: int | None = None
        """Renders done at the reading before the last one."""

    def due(self, snapshot: EngineSnapshot | None, last: MonitorSnapshot | None) -> bool:
        """Whether to read at this tick: always while the buffer moves, else at every
        QUIET_EVERY-th tick. `snapshot` is the playhead's latest, `last` the last reading."""
        self._ticks += 1
        if snapshot is None or last is None:
            return True
        worker = last.worker
        working = worker.queue_depth > 0 or worker.renders_total != self._renders_before
        moving = working or self._at(snapshot) != self._seen
        return moving or self._ticks % QUIET_EVERY == 0

    def read(self, snapshot: EngineSnapshot | None, last: MonitorSnapshot | None) -> None:
        """A reading is being made at `snapshot`; `last` is the one before it."""
        self._seen = self._at(snapshot) if snapshot is not None else None
        self._renders_before = last.worker.renders_total if last is not None else None

    @staticmethod
    def _at(snapshot: EngineSnapshot) -> tuple[object, ...]:
        track = snapshot.track.id if snapshot.track is not None else None
        return (
            track,
            snapshot.chunk_index,
            snapshot.playing,
            snapshot.preset,
            snapshot.requested_preset,
            snapshot.intensity,
            snapshot.buffering,
            snapshot.standing_in,
            snapshot.presets_ready,
            snapshot.presets_total,
        )
