"""A library of 10,000 small tracks, 500 of them broken, opened while the engine keeps
answering: the scan reports progress, the snapshot stays quick (the UI reads it at 10 Hz),
the broken files are skipped with a few log lines, not 500."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import Engine, EngineConfig
from engine.output import NullSink

TRACKS = 10_000
BROKEN_EVERY = 20
SNAPSHOT_LIMIT_SECONDS = 0.25
"""A snapshot slower than this would show as a stutter in a 10 Hz UI."""


def make_library(root: Path) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((400, 2)), 8_000, format="WAV", subtype="PCM_16")
    good = buffer.getvalue()
    for number in range(TRACKS):
        folder = root / f"album{number // 500:02d}"
        folder.mkdir(exist_ok=True)
        broken = number % BROKEN_EVERY == 0
        (folder / f"track{number:05d}.wav").write_bytes(b"not audio" if broken else good)


def test_ten_thousand_tracks_open_with_progress_while_the_engine_answers(tmp_path: Path) -> None:
    make_library(tmp_path)
    engine = Engine(EngineConfig(), sink=NullSink(speed=0))
    try:
        progress: list[tuple[int, int]] = []
        opened: list[int] = []

        def note(done: int, total: int) -> None:
            progress.append((done, total))

        scan = threading.Thread(
            target=lambda: opened.append(len(engine.open([tmp_path], note))), daemon=True
        )
        slowest = 0.0
        scan.start()
        while scan.is_alive():
            started = time.monotonic()
            engine.snapshot()
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.01)
        scan.join(60)
        assert opened == [TRACKS - TRACKS // BROKEN_EVERY]
        assert slowest < SNAPSHOT_LIMIT_SECONDS
        done = [d for d, _total in progress]
        assert done == sorted(done) and progress[-1] == (TRACKS, TRACKS)
        assert len(progress) >= TRACKS // 100
        snapshot = engine.snapshot()
        assert len(snapshot.skipped) == TRACKS // BROKEN_EVERY
        skipped_lines = [m for m in snapshot.messages if m.startswith("skipped")]
        assert len(skipped_lines) <= 11
        assert f"skipped {TRACKS // BROKEN_EVERY - 10} more files" in skipped_lines
    finally:
        engine.close()
