"""Engines held at a known point, so a test acts while something is provably in progress."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from engine import Engine, EngineConfig
from engine.library.scan import ScanProgress
from engine.library.tracks import Track
from engine.playback.sinks.output import NullSink

GATE_AT = 5_000
"""The scan is held here until the test has used the engine (or the UI)."""
GATE_SECONDS = 60.0


class GatedEngine(Engine):
    """An engine whose library scan stops half-way until `gate` is set, so a test can use
    it while a scan is provably in progress (no race with a fast disk)."""

    def __init__(self) -> None:
        super().__init__(EngineConfig(), sink=NullSink(speed=1.0))
        self.gate = threading.Event()
        self.held = threading.Event()

    def open(
        self, paths: Iterable[str | Path], progress: ScanProgress | None = None
    ) -> list[Track]:
        def gated(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)
            if done == GATE_AT:
                self.held.set()
                self.gate.wait(GATE_SECONDS)

        return super().open(paths, gated)
