"""The engine plays through real PortAudio on the JACK dummy device without underruns."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import Engine, EngineConfig
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.jack


def test_engine_plays_on_real_device_without_underruns(
    jack_device: int, tone_library: Path
) -> None:
    engine = Engine(EngineConfig(), sink="sounddevice", device=jack_device)
    try:
        assert engine.snapshot().output_name == "system"
        engine.open([tone_library])
        started = time.monotonic()
        engine.play()
        wait_for(lambda: engine.snapshot().position_seconds >= 1.5, timeout=30.0)
        snap = engine.snapshot()
        elapsed = time.monotonic() - started
        assert snap.playing
        assert snap.position_seconds <= elapsed  # paced by the device: never ahead of it
        assert snap.underruns == 0
    finally:
        engine.close()
