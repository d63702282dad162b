"""Shared fixtures: the JACK dummy device gate and small generated tracks."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import Engine, EngineConfig
from engine.library.scan import ScanProgress
from engine.library.tracks import Track
from engine.playback.sinks.output import NullSink

REPO = Path(__file__).resolve().parent.parent
SAMPLE_AUDIO = REPO / "sample_audio"


@pytest.fixture(autouse=True)
def private_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test's engine keeps its learned state in its own folder, never the user's."""
    directory = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("TIERPLAY_STATE_DIR", str(directory))
    return directory


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def jack_available() -> bool:
    """`make test` starts a JACK dummy server and sets TIERPLAY_JACK=1."""
    return os.environ.get("TIERPLAY_JACK") == "1"


@pytest.fixture
def jack_device() -> Iterator[int]:
    """Index of the JACK output device; in CI its absence is a failure, not a skip."""
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


def write_tone(
    path: Path,
    seconds: float = 3.0,
    rate: int = 44_100,
    frequency: float = 440.0,
    channels: int = 2,
    level: float = 0.3,
    subtype: str = "PCM_16",
) -> Path:
    """A short sine file; enough to exercise decoding and playback."""
    t = np.arange(int(seconds * rate)) / rate
    tone = level * np.sin(2 * np.pi * frequency * t)
    data = np.repeat(tone[:, None], channels, axis=1)
    sf.write(path, data, rate, subtype=subtype)
    return path


def write_quiet_in_half_the_windows(path: Path, rate: int = 44_100) -> Path:
    """80 s of noise, 8 dB quieter in every other calibration sample window (5.5 s long,
    10.6 s apart) and loud everywhere else: the sample reads it 1.2 LU quieter than it is."""
    rng = np.random.default_rng(11)
    frames = 80 * rate
    level = np.full(frames, 0.05)
    span = round(5.5 * rate)
    for start in [round(k * (frames - span) / 7) for k in range(0, 8, 2)]:
        level[start : start + span] /= 2.5
    sf.write(path, (level[:, None] * rng.standard_normal((frames, 2))).astype(np.float32), rate)
    return path


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


@pytest.fixture
def gated_engine() -> Iterator[GatedEngine]:
    engine = GatedEngine()
    yield engine
    engine.gate.set()
    engine.close()
