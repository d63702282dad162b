"""Process-wide tuning belongs to the entry point, never to a library constructor."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from engine import Engine, EngineConfig

ROOT = Path(__file__).resolve().parent.parent


def test_constructing_an_engine_leaves_the_interpreter_as_it_was(tmp_path: Path) -> None:
    interval, frozen = sys.getswitchinterval(), gc.get_freeze_count()
    thresholds = gc.get_threshold()
    engine = Engine(EngineConfig(state_dir=tmp_path), sink="null")
    try:
        assert sys.getswitchinterval() == interval
        assert gc.get_freeze_count() == frozen
        assert gc.get_threshold() == thresholds
    finally:
        engine.close()


def test_the_entry_points_tuning_sets_what_was_measured() -> None:
    """In a fresh interpreter: the 1 ms switch interval, a frozen heap, no gen-2 sweeps."""
    code = (
        "import gc, sys\n"
        "from engine.runtime import tune_runtime_for_audio\n"
        "tune_runtime_for_audio()\n"
        "print(sys.getswitchinterval(), gc.get_freeze_count() > 0, gc.get_threshold()[2])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.001", "True", str(10**9)]
