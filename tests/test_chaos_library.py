"""A library of 10,000 small tracks, 500 of them broken, opened while the engine keeps
answering: the scan reports progress, holds no lock while it probes (every command and view
answers half-way through), and the broken files are skipped with a few log lines, not 500."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.helpers.engines import GATE_AT, GATE_SECONDS, GatedEngine

TRACKS = 10_000
BROKEN_EVERY = 20


def make_library(root: Path) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((400, 2)), 8_000, format="WAV", subtype="PCM_16")
    good = buffer.getvalue()
    for number in range(TRACKS):
        folder = root / f"album{number // 500:02d}"
        folder.mkdir(exist_ok=True)
        broken = number % BROKEN_EVERY == 0
        (folder / f"track{number:05d}.wav").write_bytes(b"not audio" if broken else good)


def test_ten_thousand_tracks_open_with_progress_while_the_engine_answers(
    tmp_path: Path, gated_engine: GatedEngine
) -> None:
    make_library(tmp_path)
    engine = gated_engine
    progress: list[tuple[int, int]] = []
    opened: list[int] = []
    scan = threading.Thread(
        target=lambda: opened.append(len(engine.open([tmp_path], lambda *p: progress.append(p)))),
        daemon=True,
    )
    scan.start()
    assert engine.held.wait(GATE_SECONDS)
    # Half-way through the scan every command and view still answers: no lock is held
    # while files are probed. (A deadlock would hang here; the thread's join times out.)
    answers: list[object] = []

    def use_the_engine() -> None:
        engine.set_preset("warm")
        engine.set_volume(0.5)
        answers.append(engine.snapshot())
        answers.append(engine.monitor())
        answers.append(engine.stats())

    user = threading.Thread(target=use_the_engine, daemon=True)
    user.start()
    user.join(GATE_SECONDS)
    assert len(answers) == 3 and scan.is_alive()
    assert progress[-1] == (GATE_AT, TRACKS)
    engine.gate.set()
    scan.join(GATE_SECONDS)
    assert opened == [TRACKS - TRACKS // BROKEN_EVERY]
    done = [d for d, _total in progress]
    assert done == sorted(done) and progress[-1] == (TRACKS, TRACKS)
    assert len(progress) >= TRACKS // 100
    snapshot = engine.snapshot()
    assert snapshot.volume == 0.5
    assert len(snapshot.skipped) == TRACKS // BROKEN_EVERY
    skipped_lines = [m for m in snapshot.messages if m.startswith("skipped")]
    assert len(skipped_lines) <= 11
    assert f"skipped {TRACKS // BROKEN_EVERY - 10} more files" in skipped_lines
