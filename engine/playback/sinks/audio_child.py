"""The audio process's entry: open the PortAudio stream and keep it running.

This is all the child runs (see engine/playback/sinks/audio_process.py for the engine's side). It
imports the standard library, sounddevice and the numpy-free ring consumer, nothing else:
whatever it imports stays in its memory for the whole session. Its raw stream hands the
callback a plain buffer that the consumer fills by slice copies.
"""

from __future__ import annotations

import contextlib
import time
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
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

STOP_POLL_SECONDS = 0.1


def run_audio_process(
    shm_name: str,
    capacity: int,
    capture_frames: int,
    block_frames: int,
    sample_rate: int | None,
    device: str | int | None,
    lock: Any,
    ready: Connection,
) -> None:
    """Child process entry: open the stream, report, then only keep it running."""
    import sounddevice as sd

    shm = _attach(shm_name)
    header_bytes, audio_bytes = shared_size(capacity)
    memory = byte_view(shm.buf)
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
        ready.send(("error", f"{type(error).__name__}: {error}"))
        _release(shm, consumer, header, rings, capture, memory)
        return
    ready.send(("ok", str(info["name"]), rate, float(stream.latency)))
    stream.start()
    try:
        while not header[STOP_REQUEST] and stream.active:
            time.sleep(STOP_POLL_SECONDS)
    finally:
        try:
            stream.abort()
            stream.close()
        finally:
            sd._terminate()
            _release(shm, consumer, header, rings, capture, memory)


def _tap(capture: memoryview, capacity: int, read: int, count: int, played: memoryview) -> None:
    """Copy what left the callback to the capture tap, indexed like the rings (tests)."""
    start = read % capacity
    first = min(count, capacity - start) * FRAME_BYTES
    begin = start * FRAME_BYTES
    capture[begin : begin + first] = played[:first]
    rest = count * FRAME_BYTES - first
    if rest > 0:
        capture[:rest] = played[first : first + rest]


def _attach(name: str) -> SharedMemory:
    """The parent's shared block, not registered with the resource tracker. The parent
    created it, owns it and unlinks it; before Python 3.13 attaching registers it again
    with the tracker the parent shares, and a child still starting when the parent quits
    re-registers a block already unlinked: the tracker then warns of a leaked
    shared_memory object at exit."""
    register = resource_tracker.register
    resource_tracker.register = lambda *_args, **_kwargs: None  # this process only
    try:
        return SharedMemory(name=name)
    finally:
        resource_tracker.register = register


def _release(shm: SharedMemory, consumer: RingConsumer | None, *views: Any) -> None:
    """Let go of every view, then the shared block (a view still alive keeps it mapped)."""
    if consumer is not None:
        consumer.release()
    for view in views:
        if view is not None:
            view.release()
    with contextlib.suppress(BufferError):
        shm.close()
