"""The engine plays through real PortAudio on the JACK dummy device without underruns."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import Engine, EngineConfig

pytestmark = pytest.mark.jack


def test_engine_plays_on_real_device_without_underruns(
    jack_device: int, tone_library: Path
) -> None:
    engine = Engine(EngineConfig(), sink="sounddevice", device=jack_device)
    try:
        assert engine.snapshot().output_name == "system"
        engine.open([tone_library])
        engine.play()
        time.sleep(2.0)
        snap = engine.snapshot()
        assert snap.playing
        assert 1.5 <= snap.position_seconds <= 2.2
        assert snap.underruns == 0
    finally:
        engine.close()
