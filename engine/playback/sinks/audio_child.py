"""The audio process's entry: open the PortAudio stream and keep it running.

This is all the child runs (see engine/playback/sinks/audio_process.py for the engine's
side), as `python -m engine.playback.sinks.audio_child SETTINGS`. It imports the standard
library, sounddevice, the shared block and lock and the numpy-free ring consumer, nothing
else: whatever it imports stays in its memory for the whole session. Its raw stream hands
the callback a plain buffer that the consumer fills by slice copies.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from engine.playback.ring_layout import (
    CAPTURE_INDEX,
    FRAME_BYTES,
    READ,
    STOP_REQUEST,
    byte_view,
    int64_words,
    shared_size,
)
from engine.playback.sinks.ring_consumer import RingConsumer
from engine.playback.sinks.shared import attach_block, open_lock

STOP_POLL_SECONDS = 0.1
"""How often the child looks for a stop request, and for an engine that is gone."""


def main() -> None:
    """Read the settings the engine passed, then run; the answer goes to its pipe."""
    settings = json.loads(sys.argv[1])
    ready_fd = int(settings["ready_fd"])

    def tell(message: tuple[object, ...]) -> None:
        os.write(ready_fd, (json.dumps(message) + "\n").encode())

    try:
        run_audio_process(
            int(settings["block_fd"]),
            int(settings["capacity"]),
            int(settings["capture_frames"]),
            int(settings["block_frames"]),
            settings["sample_rate"],
            settings["device"],
            open_lock(str(settings["lock"])),
            tell,
            int(settings["engine_pid"]),
        )
    finally:
        os.close(ready_fd)


def run_audio_process(
    block_fd: int,
    capacity: int,
    capture_frames: int,
    block_frames: int,
    sample_rate: int | None,
    device: str | int | None,
    lock: Any,
    tell: Callable[[tuple[object, ...]], None],
    engine_pid: int,
) -> None:
    """Open the stream, tell the engine, then only keep it running until the engine asks
    it to stop or is gone (a killed engine cannot ask)."""
    import sounddevice as sd

    header_bytes, audio_bytes = shared_size(capacity)
    block = attach_block(block_fd, header_bytes + audio_bytes + FRAME_BYTES * capture_frames)
    memory = byte_view(block)
    header = int64_words(memory[:header_bytes])
    rings = memory[header_bytes : header_bytes + audio_bytes]
    capture = memory[header_bytes + audio_bytes :] if capture_frames else None
    consumer: RingConsumer | None = None
    try:
        info = sd.query_devices(device, kind="output")
        rate = int(sample_rate or info["default_samplerate"])
        consumer = RingConsumer(header, rings, lock, block_frames, rate)

        def callback(outdata: Any, frames: int, _time: Any, status: Any) -> None:
            read = header[READ]
            consumer.consume(outdata, 1 if status else 0)
            if capture is not None:
                _tap(capture, capture_frames, read, header[READ] - read, byte_view(outdata))
                header[CAPTURE_INDEX] = header[READ]

        stream = sd.RawOutputStream(
            device=device,
            samplerate=rate,
            blocksize=block_frames,
            channels=2,
            dtype="float32",
            callback=callback,
        )
    except Exception as error:  # noqa: BLE001 - reported to the engine, which falls back
        tell(("error", f"{type(error).__name__}: {error}"))
        _release(block, consumer, header, rings, capture, memory)
        return
    tell(("ok", str(info["name"]), rate, float(stream.latency)))
    stream.start()
    try:
        while not header[STOP_REQUEST] and stream.active and os.getppid() == engine_pid:
            time.sleep(STOP_POLL_SECONDS)
    finally:
        try:
            stream.abort()
            stream.close()
        finally:
            sd._terminate()
            _release(block, consumer, header, rings, capture, memory)


def _tap(capture: memoryview, capacity: int, read: int, count: int, played: memoryview) -> None:
    """Copy what left the callback to the capture tap, indexed like the rings (tests)."""
    start = read % capacity
    first = min(count, capacity - start) * FRAME_BYTES
    begin = start * FRAME_BYTES
    capture[begin : begin + first] = played[:first]
    rest = count * FRAME_BYTES - first
    if rest > 0:
        capture[:rest] = played[first : first + rest]


def _release(block: Any, consumer: RingConsumer | None, *views: Any) -> None:
    """Let go of every view, then the shared block (a view still alive keeps it mapped)."""
    if consumer is not None:
        consumer.release()
    for view in views:
        if view is not None:
            view.release()
    with contextlib.suppress(BufferError):
        block.close()


if __name__ == "__main__":
    main()
