"""Audio sinks: where rendered frames go.

`SoundDeviceSink` plays through PortAudio; `NullSink` consumes frames at a paced rate (a clock
thread at a speed factor) or by hand (`advance`) for tests and the simulator. Both share one
single-producer / single-consumer ring: the player writes, the consumer (the PortAudio
callback or the clock) only copies out and counts underruns.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.errors import TierplayError

Audio = npt.NDArray[np.float32]


class SinkError(TierplayError):
    """No output could be opened; the message says why in one line."""


class FrameRing:
    """SPSC ring of stereo float32 frames with monotonically increasing indices.

    Only the producer moves `write_index` and only the consumer moves `read_index`; each is a
    Python int replaced in one store, so neither side needs a lock and the consumer never
    waits.
    """

    def __init__(self, capacity_frames: int, channels: int = 2) -> None:
        self.capacity = capacity_frames
        self.buffer: Audio = np.zeros((capacity_frames, channels), dtype=np.float32)
        self.write_index = 0
        self.read_index = 0
        self.underrun_frames = 0
        self.underruns = 0
        self.active = False
        """Set by the producer while it promises audio; a gap counts as an underrun only then."""
        self.end_index: int | None = None
        """Where the promised audio ends (end of the library), or None while it goes on."""

    def free_frames(self) -> int:
        return self.capacity - (self.write_index - self.read_index)

    def queued_frames(self) -> int:
        return self.write_index - self.read_index

    def write(self, frames: Audio) -> int:
        """Copy as many frames as fit; returns how many were taken."""
        count = min(len(frames), self.free_frames())
        start = self.write_index % self.capacity
        first = min(count, self.capacity - start)
        self.buffer[start : start + first] = frames[:first]
        if count > first:
            self.buffer[: count - first] = frames[first:count]
        self.write_index += count
        return count

    def read_into(self, out: Audio) -> None:
        """Consumer side: copy the next frames into `out`, silence and count on underrun."""
        wanted = out.shape[0]
        count = min(wanted, self.write_index - self.read_index)
        start = self.read_index % self.capacity
        first = min(count, self.capacity - start)
        out[:first] = self.buffer[start : start + first]
        if count > first:
            out[first:count] = self.buffer[: count - first]
        if count < wanted:
            out[count:] = 0.0
            if self.active and (self.end_index is None or self.read_index + count < self.end_index):
                self.underrun_frames += wanted - count
                self.underruns += 1
        self.read_index += count

    def discard_after(self, index: int) -> None:
        """Producer-side flush: forget frames from `index` on (the consumer keeps what it has).

        Callers pass at least the consumer's position plus the block it may be copying, so
        the consumer never sees a block change under it.
        """
        self.write_index = max(self.read_index, min(index, self.write_index))


class Sink(Protocol):
    """What the player needs from an output."""

    name: str
    sample_rate: int
    block_frames: int
    ring: FrameRing

    def start(self) -> None: ...

    def frames_played(self) -> int: ...

    def close(self) -> None: ...


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
        self.reason = reason
        self.sample_rate = sample_rate
        self.block_frames = block_frames
        self.speed = speed
        self.ring = FrameRing(ring_frames or sample_rate)
        self._scratch: Audio = np.zeros((block_frames, 2), dtype=np.float32)
        self._consumed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.speed > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="null-sink", daemon=True)
            self._thread.start()

    def advance(self, frames: int) -> None:
        """Consume `frames` now, block by block, exactly as a device callback would."""
        while frames > 0:
            step = min(frames, self.block_frames)
            self.ring.read_into(self._scratch[:step])
            self._consumed += step
            frames -= step

    def frames_played(self) -> int:
        return self._consumed

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

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None


class SoundDeviceSink:
    """A PortAudio output stream whose callback only copies from the ring."""

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int | None = None,
        block_frames: int = 1024,
        ring_frames: int | None = None,
    ) -> None:
        import sounddevice as sd  # imported here: PortAudio may be absent on this machine

        try:
            info: dict[str, Any] = sd.query_devices(device, kind="output")
        except (ValueError, sd.PortAudioError) as error:
            raise SinkError(f"no usable output device ({error})") from error
        self.name = str(info["name"])
        self.sample_rate = int(sample_rate or info["default_samplerate"])
        self.block_frames = block_frames
        self.ring = FrameRing(ring_frames or self.sample_rate)
        self.status_flags = 0
        self._consumed = 0
        try:
            self._stream = sd.OutputStream(
                device=device,
                samplerate=self.sample_rate,
                blocksize=block_frames,
                channels=2,
                dtype="float32",
                callback=self._callback,
            )
        except (ValueError, sd.PortAudioError) as error:
            raise SinkError(f"cannot open {self.name!r} ({error})") from error
        self.latency_seconds = float(self._stream.latency)

    def _callback(self, outdata: Audio, frames: int, _time: Any, status: Any) -> None:
        if status:
            self.status_flags += 1
        self.ring.read_into(outdata)
        self._consumed += frames

    def start(self) -> None:
        self._stream.start()

    def frames_played(self) -> int:
        return self._consumed

    def close(self) -> None:
        try:
            self._stream.abort()
            self._stream.close()
        except Exception:  # noqa: BLE001 - a dead server must not stop shutdown
            pass


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
