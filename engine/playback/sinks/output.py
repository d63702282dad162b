"""Audio sinks: where rendered frames go.

Both sinks expose the same producer (`sink.ring`, a `RingProducer` over two rings with an
atomic handover, see engine/playback/rings.py); they differ in who consumes:
- `NullSink`: a clock thread in this process at a speed factor, or `advance()` by hand in
  tests; no device.
- `AudioProcessSink`: a small child process that owns the PortAudio stream and whose
  callback only copies from the shared-memory rings (engine/playback/sinks/audio_process.py).
  If that process dies or the device disappears, the sink restarts it, and after repeated failures
  keeps the music's clock going in-process (silently, like the null sink) while it retries
  the device, saying so in `notice`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.config import EngineConfig
from engine.errors import TierplayError
from engine.frames import Audio
from engine.playback.ring_layout import HEARTBEAT_NS, lateness_percentile
from engine.playback.rings import RingProducer, audio_array, header_array
from engine.playback.sinks.ring_consumer import RingConsumer


class SinkError(TierplayError):
    """No output could be opened; the message says why in one line."""


OUTPUT_EVENTS_KEPT = 100
"""Incidents kept until the engine reads them; older ones are dropped (a device that flaps
for hours must not grow a list)."""


class OutputEvents:
    """Output incidents (restarts, fallbacks), told by the sink's watcher thread and taken
    by the engine's maintenance thread: a deque, whose append and popleft are atomic."""

    def __init__(self) -> None:
        self._events: deque[str] = deque(maxlen=OUTPUT_EVENTS_KEPT)

    def tell(self, event: str) -> None:
        self._events.append(event)

    def take(self) -> list[str]:
        """Every incident told since the last take, oldest first."""
        taken = []
        while True:
            try:
                taken.append(self._events.popleft())
            except IndexError:
                return taken


class Sink(Protocol):
    """What the player needs from an output."""

    name: str
    notice: str
    sample_rate: int
    block_frames: int
    latency_seconds: float
    """Device output latency: what was consumed is heard this much later."""
    events: OutputEvents
    """Output incidents (restarts, fallbacks) for the engine's log."""
    ring: RingProducer

    def start(self) -> None: ...

    def callback_lateness_ms(self, fraction: float) -> float: ...

    def close(self) -> None: ...


class ClockedConsumer:
    """Consumes a ring at `speed` x real time from a thread, as a device callback would."""

    def __init__(self, consumer: RingConsumer, block_frames: int, sample_rate: int, speed: float):
        self.consumer = consumer
        self.block_frames = block_frames
        self.sample_rate = sample_rate
        self.speed = speed
        self.scratch: Audio = np.zeros((block_frames, 2), dtype=np.float32)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.speed > 0 and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="null-clock", daemon=True)
            self._thread.start()

    def advance(self, frames: int, wait: bool = False) -> None:
        """Consume `frames` block by block; `wait`: stepped by hand (see `consume`)."""
        while frames > 0:
            step = min(frames, self.block_frames)
            self.consumer.consume(self.scratch[:step], wait=wait)
            frames -= step

    def _run(self) -> None:
        period = self.block_frames / self.sample_rate / self.speed
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                deadline = time.monotonic()  # fell behind: do not burst to catch up
            self.advance(self.block_frames)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None


class NullSink:
    """A sink with no device: paced by a clock thread at `speed` x real time, or by hand.

    With `speed=0` nothing is consumed until a test calls `advance(frames)`.
    """

    def __init__(
        self,
        sample_rate: int = 44_100,
        block_frames: int = 1024,
        speed: float = 1.0,
        ring_frames: int | None = None,
        reason: str = "",
    ) -> None:
        self.name = "null"
        self.notice = reason
        self.latency_seconds = 0.0
        self.events = OutputEvents()
        self.sample_rate = sample_rate
        self.block_frames = block_frames
        capacity = ring_frames or sample_rate
        header, rings, lock = header_array(), audio_array(capacity), threading.Lock()
        self.header = header
        self.ring = RingProducer(header, rings, lock, block_frames, sample_rate)
        self.clock = ClockedConsumer(
            RingConsumer(header, rings, lock, block_frames, sample_rate),
            block_frames,
            sample_rate,
            speed,
        )

    @property
    def reason(self) -> str:
        return self.notice

    def start(self) -> None:
        self.clock.start()

    def advance(self, frames: int) -> None:
        """Consume `frames` now, block by block, as a device callback would; stepped by
        hand, it sees everything the producer published before the call."""
        self.clock.advance(frames, wait=True)

    def play_into(self, out: Audio) -> None:
        """Consume len(out) frames block by block, keeping what was played (tests)."""
        for start in range(0, out.shape[0], self.block_frames):
            self.clock.consumer.consume(out[start : start + self.block_frames], wait=True)

    def callback_lateness_ms(self, fraction: float) -> float:
        return lateness_percentile(self.header, fraction)

    def close(self) -> None:
        self.clock.stop()


def list_output_devices() -> list[dict[str, Any]]:
    """Output devices as PortAudio sees them: index, name, host API, channels, rate."""
    import sounddevice as sd

    hostapis = sd.query_hostapis()
    devices = []
    for index, device in enumerate(sd.query_devices()):
        if device["max_output_channels"] > 0:
            devices.append(
                {
                    "index": index,
                    "name": device["name"],
                    "hostapi": hostapis[device["hostapi"]]["name"],
                    "channels": device["max_output_channels"],
                    "default_samplerate": device["default_samplerate"],
                }
            )
    return devices


def heartbeat_age_seconds(header: npt.NDArray[np.int64]) -> float:
    beat = int(header[HEARTBEAT_NS])
    return (time.monotonic_ns() - beat) / 1e9 if beat else 0.0


def ring_frames(config: EngineConfig) -> int:
    """Ring capacity: the feeder's lead plus two blocks of slack."""
    return int(config.ring_seconds * config.sample_rate) + 2 * config.block_frames


def make_sink(config: EngineConfig, kind: str | Sink, device: str | int | None) -> Sink:
    """Open the requested output; `auto` falls back to the null sink and says why."""
    if not isinstance(kind, str):
        return kind
    if kind == "null":
        return NullSink(config.sample_rate, config.block_frames, ring_frames=ring_frames(config))
    try:
        from engine.playback.sinks.audio_process import AudioProcessSink

        return AudioProcessSink(
            device,
            None,  # the device's own rate: the engine follows it
            config.block_frames,
            ring_frames=ring_frames(config),
            capture_seconds=config.output_capture_seconds,
        )
    except (SinkError, OSError) as error:
        if kind == "sounddevice":
            raise SinkError(str(error)) from error
        return NullSink(
            config.sample_rate,
            config.block_frames,
            ring_frames=ring_frames(config),
            reason=str(error),
        )
