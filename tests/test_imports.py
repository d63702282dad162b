"""What each entry point loads, checked in a fresh interpreter.

The audio process runs `python -m engine.playback.sinks.audio_child`: what that module
imports (and sounddevice) sits in its memory for the whole session, so it must not reach
numpy, the DSP stack, the UI or the web stack. The web stack loads only with `--api`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DSP = ("scipy", "pedalboard")
TEST_ONLY = ("pyloudnorm",)
"""The reference loudness meter the tests check the engine's own against."""
WEB = ("fastapi", "uvicorn", "starlette", "pydantic")
UI = ("textual",)
NUMPY = ("numpy",)
"""The audio process copies through memoryviews: numpy would cost it 8 MB for nothing."""


def loaded_after(statement: str, candidates: tuple[str, ...]) -> list[str]:
    """The candidates in `sys.modules` after `statement` runs in a fresh interpreter."""
    code = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps([name for name in {candidates!r} if name in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_the_audio_process_imports_neither_numpy_nor_dsp_nor_ui_nor_web() -> None:
    assert (
        loaded_after("import engine.playback.sinks.audio_child", NUMPY + DSP + TEST_ONLY + UI + WEB)
        == []
    )


def test_the_player_reaches_its_first_sound_without_scipy() -> None:
    """scipy's imports take 0.6 s: they load in a render thread at the first measurement,
    while the source already plays, not before the engine, the app or the renderer."""
    statement = "from tui.cli import script\nfrom engine import Engine\nimport tui.app\n" + (
        "import engine.dsp.render\nimport engine.library.analysis"
    )
    assert loaded_after(statement, ("scipy",)) == []


def test_the_player_loads_numpy_with_one_blas_thread() -> None:
    """`tierplay` sets it before numpy loads: OpenBLAS (numpy's wheels bundle it) then
    reports one thread, where it would start one per core."""
    code = (
        "import ctypes, glob, os, sys\n"
        "import tui.cli\n"
        "assert 'numpy' not in sys.modules\n"
        "tui.cli.one_blas_thread()\n"
        "import numpy\n"
        "libs = os.path.join(os.path.dirname(numpy.__file__), '..', 'numpy.libs')\n"
        "blas = ctypes.CDLL(glob.glob(os.path.join(libs, '*openblas*'))[0])\n"
        "print(blas.scipy_openblas_get_num_threads64_())"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_the_audio_process_runs_the_numpy_free_entry() -> None:
    """The sink starts its child on the module checked above, and that module runs as a
    program."""
    from engine.playback.sinks import audio_child, audio_process

    assert audio_process.CHILD_MODULE == audio_child.__name__ == "engine.playback.sinks.audio_child"
    assert "CHILD_MODULE" in audio_process.AudioProcessSink._launch.__code__.co_names
    assert 'if __name__ == "__main__":' in Path(audio_child.__file__).read_text()


@pytest.mark.parametrize("module", ["tui.cli", "tui.app"])
def test_the_web_stack_loads_only_with_api(module: str) -> None:
    assert loaded_after(f"import {module}", WEB) == []


@pytest.mark.parametrize("module", ["tui.cli", "tui.app", "engine.playback.sinks.audio_child"])
def test_dbus_loads_only_when_mpris_starts(module: str) -> None:
    assert loaded_after(f"import {module}", ("dbus_fast", "desktop")) == []


def test_the_engine_names_still_import_from_the_package() -> None:
    statement = (
        "from engine import PRESET_ORDER, Engine, EngineConfig, EngineSnapshot\n"
        "import engine\n"
        "assert engine.Engine is Engine and Engine.__module__ == 'engine.engine'\n"
        "assert EngineConfig().sample_rate > 0 and 'original' in PRESET_ORDER\n"
        "assert EngineSnapshot.__module__ == 'engine.observe.snapshot'"
    )
    assert loaded_after(statement, DSP + TEST_ONLY) == ["pedalboard"]


def test_measuring_loudness_and_analysing_never_load_scipy() -> None:
    """scipy's libraries were 76 MB of the player's memory for two jobs: K-weighting now
    runs through pedalboard's filters and the analysis through numpy's FFT."""
    statement = (
        "import numpy as np\n"
        "from engine.dsp.loudness import integrated_loudness\n"
        "from engine.library.analysis import analyse\n"
        "t = np.arange(44100 * 3) / 44100\n"
        "tone = np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32) * 0.3\n"
        "assert -20 < integrated_loudness(tone, 44100) < 0\n"
        "assert not analyse(tone, 44100, tone.shape[0]).failed"
    )
    assert loaded_after(statement, ("scipy",)) == []


SIMULATION = ("engine.sim", "engine.sim.timeline", "engine.sim.listeners", "engine.sim.replay")
"""The simulation rigs: `tierplay simulate` and the benchmarks load them, the player never."""


@pytest.mark.parametrize(
    "statement",
    [
        "import engine.engine",
        "import tui.app",
        "import api.app",
        "import tui.cli",
    ],
)
def test_the_running_player_never_loads_the_simulation_rigs(statement: str) -> None:
    assert loaded_after(statement, SIMULATION) == []


def test_every_runtime_module_stays_clear_of_the_simulation_rigs() -> None:
    """Each engine module outside engine/sim, imported alone, loads none of them."""
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "engine").rglob("*.py")
        if "sim" not in path.relative_to(ROOT).parts and path.name != "__init__.py"
    )
    statement = "\n".join(f"import {module}" for module in modules)
    assert len(modules) > 30
    assert loaded_after(statement, SIMULATION) == []


def test_the_feeder_limits_the_original_without_scipy() -> None:
    """The feeder plays the original through the true-peak limiter before its track is
    sampled; if that needed scipy, it would wait out scipy's import in a render thread
    (0.6 s, most of the ring) at every start."""
    statement = (
        "import numpy as np\n"
        "from engine.dsp.limiter import limit_true_peak\n"
        "t = np.arange(44100 * 2) / 44100\n"
        "hot = np.stack([np.sin(2 * np.pi * 11025 * t + 0.7)] * 2).astype(np.float32) * 1.2\n"
        "assert np.abs(limit_true_peak(hot, 44100, -1.0)).max() < 1.0"
    )
    assert loaded_after(statement, ("scipy",)) == []
