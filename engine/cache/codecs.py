"""How each tier stores audio, and the real byte count it costs.

L1 keeps float32 ready to copy; L2 int16 (half the bytes) with a per-chunk scale so a hot
chunk is never clipped; L3 FLAC over that int16, chosen by measurement (bench/buffer.py):
on the sample tracks it takes 16-64% of int16's bytes where zstd over int16 takes 83-99%,
and decodes a 10 s chunk in 9-17 ms. Every encoded chunk carries a CRC-32 of its payload,
checked when it is decoded, so a corrupted entry is dropped instead of played. That holds for
L1 too, although its decode is otherwise free: CRC-32 (any single-bit flip, any burst up to
32 bits) costs about 1 ms per 10 s chunk, read in place (bench/buffer.py), against a feeder
that keeps 0.75 s of audio ahead and reads one chunk per 10 s.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import soundfile as sf

from engine.errors import TierplayError
from engine.frames import Audio

INT16_FULL_SCALE = 32767.0


class CorruptChunk(TierplayError):
    """A stored chunk whose checksum no longer matches: it must be re-rendered."""


@dataclass(frozen=True)
class EncodedChunk:
    """Audio as a tier stores it. `size_bytes` is what the tier's budget is charged."""

    payload: bytes | Audio
    frames: int
    scale: float
    checksum: int

    @property
    def size_bytes(self) -> int:
        payload = self.payload
        return len(payload) if isinstance(payload, bytes) else int(payload.nbytes)


class Codec(Protocol):
    name: str

    def encode(self, audio: Audio) -> EncodedChunk: ...

    def decode(self, chunk: EncodedChunk) -> Audio: ...


def _checked(chunk: EncodedChunk, data: bytes | memoryview) -> None:
    if zlib.crc32(data) != chunk.checksum:
        raise CorruptChunk("stored chunk failed its checksum")


def _sample_bytes(audio: Audio) -> memoryview:
    """The samples' bytes in C order, in place when they already are (no 3.5 MB copy)."""
    return np.ascontiguousarray(audio).reshape(-1).view(np.uint8).data


class Float32Codec:
    """L1: the render itself, read-only, so a fetch needs no copy and no conversion."""

    name = "float32"

    def encode(self, audio: Audio) -> EncodedChunk:
        stored = np.array(audio, dtype=np.float32, order="C")
        stored.setflags(write=False)
        return EncodedChunk(stored, stored.shape[0], 1.0, zlib.crc32(_sample_bytes(stored)))

    def decode(self, chunk: EncodedChunk) -> Audio:
        """The stored array itself, once its checksum matches: an L1 hit is played as is,
        so this is the last point where a flipped bit can be caught before the speakers."""
        self.verify(chunk)
        assert not isinstance(chunk.payload, bytes)
        return chunk.payload

    def verify(self, chunk: EncodedChunk) -> None:
        assert not isinstance(chunk.payload, bytes)
        _checked(chunk, _sample_bytes(chunk.payload))


def _to_int16(audio: Audio) -> tuple[np.ndarray, float]:
    """Scale into int16 without clipping: hot chunks get a scale below full scale."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    scale = INT16_FULL_SCALE / max(peak, 1.0)
    return np.round(audio * scale).astype(np.int16), scale


class Int16Codec:
    """L2: half the bytes of float32; decoding is one multiply."""

    name = "int16"

    def encode(self, audio: Audio) -> EncodedChunk:
        quantised, scale = _to_int16(audio)
        payload = quantised.tobytes()
        return EncodedChunk(payload, audio.shape[0], scale, zlib.crc32(payload))

    def decode(self, chunk: EncodedChunk) -> Audio:
        assert isinstance(chunk.payload, bytes)
        _checked(chunk, chunk.payload)
        quantised = np.frombuffer(chunk.payload, dtype=np.int16).reshape(-1, 2)
        return (quantised * np.float32(1.0 / chunk.scale)).astype(np.float32)


class FlacCodec:
    """L3: lossless FLAC of the int16 form: the most chunks per megabyte."""

    name = "flac"

    def encode(self, audio: Audio) -> EncodedChunk:
        quantised, scale = _to_int16(audio)
        if audio.shape[0] == 0:
            return EncodedChunk(b"", 0, scale, zlib.crc32(b""))
        buffer = io.BytesIO()
        sf.write(buffer, quantised, 44_100, format="FLAC", subtype="PCM_16")
        payload = buffer.getvalue()
        return EncodedChunk(payload, audio.shape[0], scale, zlib.crc32(payload))

    def decode(self, chunk: EncodedChunk) -> Audio:
        assert isinstance(chunk.payload, bytes)
        _checked(chunk, chunk.payload)
        if chunk.frames == 0:
            return np.zeros((0, 2), dtype=np.float32)
        quantised, _rate = sf.read(io.BytesIO(chunk.payload), dtype="int16", always_2d=True)
        audio: Audio = (quantised * np.float32(1.0 / chunk.scale)).astype(np.float32)
        return audio
