"""The audio process: a small child that owns the PortAudio stream.

Measured here: a Python callback in the engine process, beside the Textual UI and two
render threads, missed 13-21 deadlines a minute (full GCs and GIL hand-offs). In a process
of its own, whose callback only copies from shared-memory rings, it missed none in
10 minutes. So the child does nothing but run the stream; everything it knows (read
position, underruns, lateness, heartbeat) it publishes in the shared header.

`AudioProcessSink` is the engine's side: it starts the child (spawn), watches it, restarts
it when it dies or the device stalls, and falls back to an in-process clock while the device
is gone, retrying it now and then.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np

from engine.playback.ring_layout import EXPECTING, STOP_REQUEST, lateness_percentile, shared_size
from engine.playback.rings import RingProducer, audio_array, header_array
from engine.playback.sinks.audio_child import run_audio_process
from engine.playback.sinks.output import (
    ClockedConsumer,
    OutputEvents,
    SinkError,
    heartbeat_age_seconds,
)
from engine.playback.sinks.ring_consumer import RingConsumer

READY_TIMEOUT_SECONDS = 10.0
STALL_SECONDS = 1.0
"""No callback for this long while audio is expected: the device is gone or stuck."""
WATCH_SECONDS = 0.5
"""How often the engine looks at the audio process: a dead one or a stalled device is
noticed within STALL_SECONDS and this."""
RESTARTS_BEFORE_FALLBACK = 2
RETRY_DEVICE_SECONDS = 5.0


class AudioProcessSink:
    """The real output: rings in shared memory, consumed by the audio process's callback."""

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int | None = None,
        block_frames: int = 1024,
        ring_frames: int = 44_100,
        capture_seconds: float = 0.0,
    ) -> None:
        self.device = device
        self.block_frames = block_frames
        self.capacity = ring_frames
        self._requested_rate = sample_rate
        self._context = multiprocessing.get_context("spawn")
        self._lock: Any = self._context.Lock()
        header_bytes, audio_bytes = shared_size(ring_frames)
        self.capture_frames = int(capture_seconds * (sample_rate or 48_000))
        self._shm = SharedMemory(
            create=True, size=header_bytes + audio_bytes + 8 * self.capture_frames
        )
        self.header = header_array(self._shm.buf)
        self.header[:] = 0
        self._rings = audio_array(ring_frames, self._shm.buf, header_bytes)
        self.ring = RingProducer(self.header, self._rings, self._lock, block_frames)
        self.capture = (
            np.ndarray(
                (self.capture_frames, 2), np.float32, self._shm.buf, header_bytes + audio_bytes
            )
            if self.capture_frames
            else None
        )
        self.notice = ""
        self.restarts = 0
        self.events = OutputEvents()
        self._process: Any = None
        self._fallback: ClockedConsumer | None = None
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._last_retry = 0.0
        name, rate, latency = self._launch()
        self.name, self.sample_rate, self.latency_seconds = name, rate, latency
        self.ring.sample_rate = rate

    # -- child lifecycle ------------------------------------------------------------------
    def _launch(self) -> tuple[str, int, float]:
        """Start the audio process and wait for its report; SinkError if it cannot play."""
        receive, send = self._context.Pipe(duplex=False)
        self._lock = self._context.Lock()  # fresh: a killed child may have held the old one
        self.ring.lock = self._lock
        self.header[STOP_REQUEST] = 0
        process = self._context.Process(
            target=run_audio_process,
            args=(
                self._shm.name,
                self.capacity,
                self.capture_frames,
                self.block_frames,
                self._requested_rate,
                self.device,
                self._lock,
                send,
            ),
            name="tierplay-audio",
            daemon=True,
        )
        process.start()
        send.close()
        if not receive.poll(READY_TIMEOUT_SECONDS):
            process.kill()
            raise SinkError("the audio process did not start in time")
        try:
            message = receive.recv()
        except EOFError as error:
            raise SinkError("the audio process died while opening the device") from error
        if message[0] != "ok":
            process.join(timeout=2.0)
            raise SinkError(f"no usable output device ({message[1]})")
        self._process = process
        _status, name, rate, latency = message
        self._requested_rate = rate  # a restart must keep the engine's rate
        return str(name), int(rate), float(latency)

    def _stop_process(self) -> None:
        process = self._process
        self._process = None
        if process is None:
            return
        self.header[STOP_REQUEST] = 1
        process.join(timeout=3.0)
        if process.is_alive():  # a stream on a dead server can hang in close()
            process.kill()
            process.join(timeout=1.0)

    def start(self) -> None:
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="audio-watch", daemon=True)
            self._watcher.start()

    # -- watching -------------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._watch_stop.wait(WATCH_SECONDS):
            if self._fallback is not None:
                self._maybe_reopen()
            elif not self._healthy():
                self._recover()

    def _healthy(self) -> bool:
        process = self._process
        if process is None or not process.is_alive():
            return False
        expecting = bool(self.header[EXPECTING])
        return not (expecting and heartbeat_age_seconds(self.header) > STALL_SECONDS)

    def _recover(self) -> None:
        reason = "the audio process died" if not self._alive() else "the device stopped"
        self._stop_process()
        for _attempt in range(RESTARTS_BEFORE_FALLBACK):
            try:
                self._launch()
                self.restarts += 1
                self.events.tell(f"{reason}: audio output restarted")
                return
            except SinkError as error:
                reason = str(error)
        self._fall_back(reason)

    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _fall_back(self, reason: str) -> None:
        """Keep the music's clock going without a device, and say so."""
        self.notice = f"audio device lost ({reason}); playing silently, retrying"
        self.events.tell(self.notice)
        consumer = RingConsumer(
            self.header, self._rings, self._lock, self.block_frames, self.sample_rate
        )
        self._fallback = ClockedConsumer(consumer, self.block_frames, self.sample_rate, 1.0)
        self._fallback.start()
        self._last_retry = time.monotonic()

    def _maybe_reopen(self) -> None:
        if time.monotonic() - self._last_retry < RETRY_DEVICE_SECONDS:
            return
        self._last_retry = time.monotonic()
        fallback = self._fallback
        assert fallback is not None
        fallback.stop()
        try:
            self._launch()
        except SinkError:
            fallback.start()
            return
        self._fallback = None
        self.notice = ""
        self.events.tell("audio device is back: playing through it again")

    def kill_audio_process(self) -> None:
        """Fault injection for tests and the chaos bench: the child dies as if it crashed."""
        if self._process is not None:
            self._process.kill()

    # -- views ----------------------------------------------------------------------------
    @property
    def using_device(self) -> bool:
        return self._fallback is None

    def callback_lateness_ms(self, fraction: float) -> float:
        return lateness_percentile(self.header, fraction)

    def close(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2.0)
        if self._fallback is not None:
            self._fallback.stop()
            self._fallback = None
        self._stop_process()
        self.ring = RingProducer(
            header_array(), audio_array(self.capacity), threading.Lock(), self.block_frames
        )
        # The spawn lock is a named semaphore, unlinked when its last reference goes.
        self._lock = threading.Lock()
        self.capture = None
        del self._rings
        self.header = header_array()
        try:
            self._shm.unlink()
            self._shm.close()
        except (BufferError, FileNotFoundError):
            pass
