"""The audio process: a small child that owns the PortAudio stream.

Measured here: a Python callback in the engine process, beside the Textual UI and two
render threads, missed 13-21 deadlines a minute (full GCs and GIL hand-offs). In a process
of its own, whose callback only copies from shared-memory rings, it missed none in
10 minutes. So the child does nothing but run the stream; everything it knows (read
position, underruns, lateness, heartbeat) it publishes in the shared header.

`AudioProcessSink` is the engine's side: it starts the child (a fresh interpreter running
`engine.playback.sinks.audio_child`, not a multiprocessing spawn, which would bring the
resource tracker's process and re-run the engine's main module), watches it, restarts it
when it dies or the device stalls, and falls back to an in-process clock while the device
is gone, retrying it now and then.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.playback.ring_layout import EXPECTING, STOP_REQUEST, lateness_percentile, shared_size
from engine.playback.rings import RingProducer, audio_array, header_array
from engine.playback.sinks.output import (
    ClockedConsumer,
    OutputEvents,
    SinkError,
    heartbeat_age_seconds,
)
from engine.playback.sinks.ring_consumer import RingConsumer
from engine.playback.sinks.shared import SharedBlock, forget_name, new_lock

CHILD_MODULE = "engine.playback.sinks.audio_child"
"""What the audio process runs (`python -m`)."""
IMPORT_ROOT = Path(__file__).resolve().parents[3]
"""The folder the `engine` package is in: the child imports it from there too."""
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
        self._lock: Any = threading.Lock()  # until the first child's lock is made
        header_bytes, audio_bytes = shared_size(ring_frames)
        self.capture_frames = int(capture_seconds * (sample_rate or 48_000))
        self._block = SharedBlock(header_bytes + audio_bytes + 8 * self.capture_frames)
        self.header = header_array(self._block.buf)
        self.header[:] = 0
        self._rings = audio_array(ring_frames, self._block.buf, header_bytes)
        self.ring = RingProducer(self.header, self._rings, self._lock, block_frames)
        self.capture = (
            np.ndarray(
                (self.capture_frames, 2), np.float32, self._block.buf, header_bytes + audio_bytes
            )
            if self.capture_frames
            else None
        )
        self.notice = ""
        self.restarts = 0
        self.events = OutputEvents()
        self._process: subprocess.Popen[bytes] | None = None
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
        # A fresh lock for each child: a killed child may have held the old one.
        lock, lock_name = new_lock()
        self._lock = lock
        self.ring.lock = lock
        self.header[STOP_REQUEST] = 0
        receive, send = os.pipe()
        settings = {
            "block_fd": self._block.fd,
            "capacity": self.capacity,
            "capture_frames": self.capture_frames,
            "block_frames": self.block_frames,
            "sample_rate": self._requested_rate,
            "device": self.device,
            "lock": lock_name,
            "ready_fd": send,
            "engine_pid": os.getpid(),
        }
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", CHILD_MODULE, json.dumps(settings)],
                pass_fds=(self._block.fd, send),
                stdin=subprocess.DEVNULL,
                env=_child_environment(),
            )
        except OSError as error:
            os.close(receive)
            forget_name(lock_name)
            raise SinkError(f"the audio process could not start ({error})") from error
        finally:
            os.close(send)
        try:
            message = _read_message(receive, READY_TIMEOUT_SECONDS)
        finally:
            os.close(receive)
            forget_name(lock_name)  # the child has opened it, or never will
        if message is None:
            if process.poll() is None:
                process.kill()
                process.wait()
                raise SinkError("the audio process did not start in time")
            process.wait()
            raise SinkError("the audio process died while opening the device")
        if message[0] != "ok":
            _wait(process, 2.0)
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
        if not _wait(process, 3.0):  # a stream on a dead server can hang in close()
            process.kill()
            _wait(process, 1.0)

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
        if not self._alive():
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
        process = self._process
        return process is not None and process.poll() is None

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
        self._lock = threading.Lock()  # the semaphore closes with its last handle
        self.capture = None
        del self._rings
        self.header = header_array()
        self._block.close()


def _child_environment() -> dict[str, str]:
    """The engine's environment, with the `engine` package importable wherever the player
    was started from."""
    environment = dict(os.environ)
    paths = [str(IMPORT_ROOT), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return environment


def _read_message(fd: int, timeout: float) -> tuple[Any, ...] | None:
    """The child's one-line report, or None if it closed the pipe or said nothing in time."""
    deadline = time.monotonic() + timeout
    received = b""
    while b"\n" not in received:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        received += chunk
    return tuple(json.loads(received.split(b"\n", 1)[0]))


def _wait(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for `process` to end; whether it did within `timeout`."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True
