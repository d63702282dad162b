"""Shared fixtures: the JACK dummy device gate and small generated tracks."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime import tune_runtime_for_audio
from tests.helpers.audio_files import write_tone
from tests.helpers.engines import GatedEngine

PRIVATE_FOLDERS = {
    "state": "TIERPLAY_STATE_DIR",
    "cache": "TIERPLAY_CACHE_DIR",
    "config": "TIERPLAY_CONFIG_DIR",
}
"""The user folders the player writes to or reads, each overridden by its variable."""


@pytest.fixture(autouse=True)
def private_folders(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Path]:
    """Every test's engine keeps its learned state and its library index in folders of its
    own, and reads no keymap or presets of the user's."""
    folders = {}
    for name, variable in PRIVATE_FOLDERS.items():
        folders[name] = tmp_path_factory.mktemp(name)
        monkeypatch.setenv(variable, str(folders[name]))
    return folders


def jack_available() -> bool:
    """`make test` starts a JACK dummy server and sets TIERPLAY_JACK=1."""
    return os.environ.get("TIERPLAY_JACK") == "1"


@pytest.fixture
def audio_runtime() -> Iterator[None]:
    """The interpreter tuned as `tierplay` tunes it (no gen-2 sweeps over a frozen heap,
    a 1 ms switch interval), then as it was. Without it a real-device test plays in a
    process whose heap holds every earlier test's objects and whose GIL changes hands
    every 5 ms: a stall the player never has."""
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    tune_runtime_for_audio()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)


@pytest.fixture
def jack_device(audio_runtime: None) -> Iterator[int]:
    """Index of the JACK output device, in the player's runtime; in CI its absence is a
    failure, not a skip."""
    if not jack_available():
        if os.environ.get("CI"):
            pytest.fail("CI must run the real-device tests: start them with `make test`")
        pytest.skip("no JACK dummy server (run the suite with `make test`)")
    import sounddevice as sd

    hostapis = sd.query_hostapis()
    index = next(
        (
            number
            for number, device in enumerate(sd.query_devices())
            if device["max_output_channels"] > 0 and "JACK" in hostapis[device["hostapi"]]["name"]
        ),
        None,
    )
    assert index is not None, "JACK server is running but PortAudio shows no JACK device"
    yield index


@pytest.fixture
def tone_library(tmp_path: Path) -> Path:
    """Three short tones in a folder, plus one garbage file the library must skip."""
    folder = tmp_path / "library"
    folder.mkdir()
    write_tone(folder / "a.wav", frequency=220.0)
    write_tone(folder / "b.flac", frequency=330.0, rate=48_000)
    write_tone(folder / "c.wav", frequency=440.0, channels=1)
    (folder / "d.wav").write_bytes(b"not audio at all" * 10)
    return folder


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Terminate PortAudio before `make test` stops jackd, or Python aborts at exit."""
    import sys

    sounddevice = sys.modules.get("sounddevice")
    if sounddevice is not None:
        sounddevice._terminate()


@pytest.fixture
def gated_engine() -> Iterator[GatedEngine]:
    engine = GatedEngine()
    yield engine
    engine.gate.set()
    engine.close()
