"""The engine plays through real PortAudio on the JACK dummy device without underruns."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import Engine, EngineConfig
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.jack
ROOT = Path(__file__).resolve().parent.parent


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


CHILDREN_OF_A_SINK = """
import json, sys, psutil
from engine.playback.sinks.audio_process import AudioProcessSink
sink = AudioProcessSink(device=int(sys.argv[1]))
sink.start()
children = [" ".join(child.cmdline()) for child in psutil.Process().children(recursive=True)]
sink.close()
left = [" ".join(child.cmdline()) for child in psutil.Process().children(recursive=True)]
print(json.dumps({"children": children, "left": left}))
"""


def test_the_audio_output_is_one_child_process_and_nothing_else(jack_device: int) -> None:
    """No resource tracker beside it (an interpreter for the whole session), and none
    left once the sink closes; checked in a fresh interpreter, which nothing else has
    made start one."""
    result = subprocess.run(
        [sys.executable, "-c", CHILDREN_OF_A_SINK, str(jack_device)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(found["children"]) == 1, found
    assert "-m engine.playback.sinks.audio_child" in found["children"][0]
    assert found["left"] == []
