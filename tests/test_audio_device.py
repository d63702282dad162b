"""The real audio path exists: a PortAudio stream on the JACK dummy device is paced."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.jack


def test_jack_dummy_output_stream_is_paced(jack_device: int) -> None:
    """About 43 callbacks/s at 44.1 kHz / 1024 frames: a real clock, not a free-running null."""
    import sounddevice as sd

    callbacks = 0

    def callback(outdata: np.ndarray, frames: int, _time: object, _status: object) -> None:
        nonlocal callbacks
        outdata.fill(0)
        callbacks += 1

    stream = sd.OutputStream(
        device=jack_device,
        samplerate=44_100,
        blocksize=1024,
        channels=2,
        dtype="float32",
        callback=callback,
    )
    with stream:
        start_count, started = callbacks, time.monotonic()
        time.sleep(2.0)
        rate = (callbacks - start_count) / (time.monotonic() - started)
    assert 38.0 <= rate <= 48.0, f"{rate:.1f} callbacks/s: the device is not paced"
