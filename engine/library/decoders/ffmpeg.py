"""`FfmpegReader`: MP3, AAC and ALAC (.m4a), Opus, WavPack, Matroska through FFmpeg (PyAV).

FFmpeg seeks to a packet at or before a time, and a lossy decoder's first frames after a
seek are wrong until its state has caught up (MP3's bit reservoir and overlap, Opus's
80 ms pre-roll): a read seeks `PREROLL_FRAMES` before its first frame, and again from
further back where the seek landed too late to warm the decoder up. A run of frames is
placed from its first frame's timestamp (less the stream's start, which is where an MP3's
encoder delay or an AAC edit list puts the first frame), each frame right after the one
before; a timestamp further off than its rounding means lost packets, and the frame goes
where it says, silence in the gap.

Decoders whose state is made of the last few frames alone (MP3 and the lossless ones) then
give the samples a whole-file decode gives, from any seek. Others never converge to the
same samples: AAC's perceptual noise substitution draws from a generator seeded when the
decoder opens (a flush does not reseed it), and Opus's prediction drifts by 1e-6. Those
are decoded on a fixed grid: segment k (native frames [k*S, (k+1)*S)) always by a fresh
decoder from the same seek, whatever read asked for it, so two reads of a frame agree and
windows join exactly.

Matroska and WebM stamp frames to the millisecond, too coarse to place a seek's first
frame to the sample by its stamp alone. Where the codec's frames are all one size (Opus's
20 ms, FLAC's blocks: the first frames say so, and every seek checks it), a frame can only
end on that grid, and the grid point nearest its stamped end is where it ends. Otherwise
such a file is decoded on from its start (a read at the middle of an hour costs seconds).

The file stays open between reads: FFmpeg seeks in an MP3 by reading it from the start
(25 ms at ten minutes in), once, and then from the index that left.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.library.decoders import ClosingReader, DecodeError, Native, StreamInfo, short_reason

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import InputContainer

SEGMENT_FRAMES = 1 << 16
"""The decoding grid of drifting decoders (1.5 s at 44.1 kHz)."""
PREROLL_FRAMES = 1 << 14
"""How far before a read its seek aims (0.37 s at 44.1 kHz): MP3 needed more than 8192
where its seek landed late, Opus needs 80 ms."""
WARM_FRAMES = 4096
"""Frames a decoder must have decoded before the first one a read keeps; a seek that
lands later is made again from further back."""
EXACT_CODECS = frozenset(
    {"mp3float", "mp3", "mp2float", "mp2", "flac", "alac", "wavpack", "ape", "tta", "tak"}
)
"""Decoders whose output from any warm seek equals a whole-file decode's."""
FORMAT_NAMES = {
    "mp3float": "MP3",
    "mp3": "MP3",
    "mp2float": "MP2",
    "aac": "AAC",
    "alac": "ALAC",
    "opus": "OPUS",
    "libopus": "OPUS",
    "vorbis": "VORBIS",
    "flac": "FLAC",
    "wavpack": "WAVPACK",
    "wmav1": "WMA",
    "wmav2": "WMA",
    "wmapro": "WMA",
    "ape": "APE",
}
INTEGER_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2.0**31, "s64": 2.0**63}
SAMPLE_TYPES: dict[str, type[np.generic]] = {
    "u8": np.uint8,
    "s16": np.int16,
    "s32": np.int32,
    "s64": np.int64,
    "flt": np.float32,
    "dbl": np.float64,
}

_JITTER_FRAMES = 64
"""How far a frame's timestamp may stray from right after the frame before (Matroska
rounds to the millisecond) before it means a gap."""
_import_lock = threading.Lock()


class FfmpegReader(ClosingReader):
    """A file FFmpeg reads; see `SourceReader`. Not for two threads at once."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._container = self._open()
        try:
            self.info = self._stream_info()
        except (AttributeError, TypeError, ValueError, ZeroDivisionError) as error:
            self._container.close()  # FFmpeg found a stream but not what it is made of
            raise DecodeError(f"unreadable audio stream ({short_reason(error)})") from None
        except BaseException:
            self._container.close()
            raise

    def _stream_info(self) -> StreamInfo:
        stream = self._container.streams.audio[0]
        context = stream.codec_context
        rate, channels = int(context.sample_rate or 0), int(context.channels or 0)
        if rate <= 0 or channels <= 0:
            raise DecodeError("no sample rate or channel count in the audio stream")
        self._rate = rate
        self._time_base = Fraction(stream.time_base or Fraction(1, rate))
        self._start = int(stream.start_time or 0)
        scale = self._time_base * rate
        self._scale = (scale.numerator, scale.denominator)
        """Frames per stamp tick, as a fraction."""
        self._exact = context.name in EXACT_CODECS
        self._coarse = self._time_base > Fraction(1, rate)
        """Timestamps coarser than a frame (Matroska's milliseconds): a seek's first frame
        is placed on the codec's frame grid, or, without one, the file is decoded on from
        its start."""
        self._grid = self._frame_grid(stream) if self._coarse else None
        self._run: _Run | None = None
        claimed = self._claimed_frames(self._container, stream)
        self._end = claimed if "mp4" in self._container.format.name else None
        """Where an MP4's edit list ends the audio: FFmpeg leaves an AAC encoder's
        padding after it."""
        metadata = {key.lower(): value for key, value in self._container.metadata.items()}
        return StreamInfo(
            samplerate=rate,
            channels=channels,
            frames=claimed,
            format=FORMAT_NAMES.get(context.name, context.name.upper()),
            title=" ".join(str(metadata.get("title", "")).split()),
            artist=" ".join(str(metadata.get("artist", "")).split()),
            exact_length=False,
        )

    def read(self, first: int, count: int, dtype: str = "float32") -> Native:
        try:
            return self._read(first, count, dtype)
        except _OffGrid:  # frames of changing sizes after all: read this file from its start
            self._grid = None
            self._drop_run()
            return self._read(first, count, dtype)

    def _read(self, first: int, count: int, dtype: str) -> Native:
        first, count = max(0, first), max(0, count)
        if self._end is not None:
            count = max(0, min(count, self._end - first))
        out = np.zeros((count, self.info.channels), dtype=dtype)
        stop, position = first + count, first
        while position < stop:
            origin, high = self._origin(position, stop)
            run = self._run_for(origin, position)
            reached = run.serve(position, high, out, first)
            if reached < high:  # the audio ends here
                return out[: max(reached - first, 0)]
            position = reached
        return out

    def close(self) -> None:
        self._drop_run()
        self._container.close()

    # -- decoding runs --------------------------------------------------------------------
    def _origin(self, position: int, stop: int) -> tuple[tuple[str, int], int]:
        """Which run may decode `position`, and up to where: any warm one for an exact
        decoder, the one of its segment for a drifting one, the one from the file's start
        where timestamps are too coarse to place a seek's first frame."""
        if self._coarse and self._grid is None:
            return ("start", 0), stop
        if self._exact:
            return ("seek", 0), stop
        segment = position // SEGMENT_FRAMES
        return ("segment", segment), min(stop, (segment + 1) * SEGMENT_FRAMES)

    def _run_for(self, origin: tuple[str, int], position: int) -> _Run:
        """The run going on, where it has not passed `position` and is not far behind it
        (decoding on is cheaper than a seek for a preroll's length), else a new one."""
        run = self._run
        if run is not None and run.origin == origin and run.covers(position):
            near = origin[0] != "seek" or position - run.reached <= PREROLL_FRAMES
            if near:
                return run
        self._drop_run()
        kind, number = origin
        anchor = number * SEGMENT_FRAMES if kind == "segment" else position
        if kind == "start":
            anchor = 0
        self._run = self._start_run(origin, anchor)
        return self._run

    def _start_run(self, origin: tuple[str, int], anchor: int) -> _Run:
        """A run whose decoder is warm by `anchor`: seeked `PREROLL_FRAMES` before it, or
        from further back where the seek landed late. A drifting decoder starts fresh."""
        aim = anchor - PREROLL_FRAMES
        for attempt in (aim, aim - 4 * PREROLL_FRAMES, 0):
            attempt = max(attempt, 0)
            shared = origin[0] == "seek" and attempt > 0  # from the start: a fresh open
            container = self._container if shared else self._open()
            run = _Run(origin, container, shared, self._frames_at, self._grid)
            try:
                if run.begin(self._timestamp(attempt) if attempt else None, anchor - WARM_FRAMES):
                    return run
            except _OffGrid:
                run.close()
                raise
            run.close()
        raise DecodeError("cannot seek in the file")  # a decode from its start is warm

    def _drop_run(self) -> None:
        if self._run is not None:
            self._run.close()
            self._run = None

    def _frames_at(self, stamp: int) -> int:
        """A stamp as frames from the stream's start, in integers (a Fraction per frame
        cost more than decoding an MP3)."""
        up, down = self._scale
        return ((stamp - self._start) * 2 * up + down) // (2 * down)

    def _frame_grid(self, stream: AudioStream) -> _Grid | None:
        """The codec's frame grid, when its frames are all one size as the first ones say
        (the very first is cut by the encoder delay, as is the first after a seek: a frame
        ends on the grid either way). None where frames are too short to tell apart by
        their stamps."""
        sizes: list[int] = []
        for frame in _frames(self._container, stream):
            if isinstance(frame, str):
                return None
            sizes.append(frame.samples)
            if len(sizes) == 3:
                break
        if len(sizes) < 3 or sizes[1] != sizes[2]:
            return None
        slack = 2 * math.ceil(self._time_base * self._rate) + 1  # a stamp's and the start's
        if sizes[1] <= 4 * slack:
            return None
        return _Grid(sizes[1], sizes[0], slack)

    def _timestamp(self, native_frame: int) -> int:
        return self._start + int(Fraction(native_frame, self._rate) / self._time_base)

    def _claimed_frames(self, container: InputContainer, stream: AudioStream) -> int:
        """The header's length; where it gives none, the packets' durations added up (a
        demux decodes nothing: 0.1 s for an hour of MP3)."""
        if stream.duration:
            return round(stream.duration * self._time_base * self._rate)
        if container.duration:
            return round(Fraction(container.duration, 1_000_000) * self._rate)
        container.seek(0, stream=stream, backward=True)  # from the first packet on
        total = sum(packet.duration or 0 for packet in container.demux(stream))
        return round(total * self._time_base * self._rate)

    def _open(self) -> InputContainer:
        av = _av()
        try:
            container: InputContainer = av.open(str(self._path), metadata_errors="ignore")
        except av.error.FFmpegError as error:
            if isinstance(error, FileNotFoundError):  # gone since it was checked
                raise
            # Not the system's verdict (the file was checked readable): FFmpeg says EPERM
            # or EIO of data it cannot make sense of.
            raise DecodeError(_reason(error)) from None
        if not container.streams.audio:
            container.close()
            raise DecodeError("no audio stream")
        return container


class _Run:
    """One decoder's way through the file from one start: each frame placed right after
    the one before (a timestamp further off than its own rounding means packets were
    lost there, and the frame goes where it says), the last one kept for the next read."""

    def __init__(
        self,
        origin: tuple[str, int],
        container: InputContainer,
        shared: bool,
        frames_at: Callable[[int], int],
        grid: _Grid | None,
    ) -> None:
        self.origin = origin
        self._grid = grid
        self._seeked = False
        self._container = container
        self._shared = shared
        self._frames_at = frames_at
        self._stream = container.streams.audio[0]
        self._frames: Iterator[AudioFrame | str] = iter(())
        self._piece: _Piece | None = None
        self.reached = 0
        """The frame after the last one decoded."""
        self._failure = ""

    def begin(self, timestamp: int | None, warm_by: int) -> bool:
        """Seek (from the start when None) and decode the first frame; False when that
        frame comes after `warm_by`, too late for the decoder to be warm."""
        if timestamp is not None:
            try:
                self._container.seek(timestamp, stream=self._stream, backward=True)
            except Exception:  # noqa: BLE001 - an unseekable file is read from its start
                return False
            self._stream.codec_context.flush_buffers()
            self._seeked = True
        self._frames = _frames(self._container, self._stream)
        if not self._next():
            return True  # nothing decodes from here: the reads find the end
        assert self._piece is not None
        return timestamp is None or self._piece.at <= max(warm_by, 0)

    def covers(self, position: int) -> bool:
        return self._piece is not None and self._piece.at <= position

    def serve(self, low: int, high: int, out: Native, base: int) -> int:
        """Copy [low, high) into `out` (row 0 is frame `base`); the frame reached, short
        of `high` where the audio ends."""
        reached = low
        while self._piece is not None:
            piece = self._piece
            start, stop = max(piece.at, low), min(piece.end, high)
            if stop > start:
                piece.copy(start, stop, out[start - base : stop - base])
                reached = max(reached, stop)
            if piece.end >= high or not self._next():
                break
        if reached == low and self._piece is None and self._failure:
            raise DecodeError(self._failure)
        return min(reached, high)

    def _next(self) -> bool:
        """Decode the next frame into `_piece`; False at the end of the audio."""
        for frame in self._frames:
            if isinstance(frame, str):
                self._failure = self._failure or frame
                continue
            stamped = None if frame.pts is None else self._frames_at(frame.pts)
            at = self.reached if self._piece is not None else (stamped or 0)
            if self._piece is None and self._seeked and self._grid is not None:
                at = self._grid.snap(at + frame.samples) - frame.samples
            if stamped is not None and abs(stamped - at) > _JITTER_FRAMES:
                at = stamped
            self._piece = _Piece(at, frame)
            self.reached = self._piece.end
            return True
        return False

    def close(self) -> None:
        if not self._shared:
            self._container.close()


@dataclass(frozen=True)
class _Grid:
    """Where frames of one size end: `first + k * size` (the first frame, cut by the
    encoder delay, is `first` long; the first after a seek is cut as well)."""

    size: int
    first: int
    slack: int
    """How far a stamp may be from its place: its own rounding and the start's."""

    def snap(self, stamped_end: int) -> int:
        """The grid point nearest a frame's stamped end; `_OffGrid` where none is near."""
        snapped = self.first + round((stamped_end - self.first) / self.size) * self.size
        if abs(snapped - stamped_end) > self.slack:
            raise _OffGrid
        return snapped


class _OffGrid(Exception):
    """A seek's first frame is not where the codec's frame grid says it must be."""


def _frames(container: InputContainer, stream: AudioStream) -> Iterator[AudioFrame | str]:
    """Decoded frames in order; a packet that fails to decode yields its reason instead,
    and a container that fails to demux ends the stream (its audio ends there)."""
    av = _av()
    try:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except (av.error.FFmpegError, ValueError) as error:
                yield _reason(error)
    except (av.error.FFmpegError, ValueError) as error:
        yield _reason(error)


class _Piece:
    """A decoded frame at its place, read straight from its planes' buffers (PyAV's
    `to_ndarray` stacks the planes into a new array, which cost more than decoding)."""

    def __init__(self, at: int, frame: AudioFrame) -> None:
        self.at = at
        self.end = at + frame.samples
        self._kind = frame.format.name.removesuffix("p")
        dtype = SAMPLE_TYPES[self._kind]
        channels, count = len(frame.layout.channels), frame.samples
        planes = frame.planes
        self._columns: list[Native]
        if frame.format.is_planar:
            self._columns = [
                np.frombuffer(memoryview(plane), dtype, count) for plane in planes[:channels]
            ]
        else:
            packed = np.frombuffer(memoryview(planes[0]), dtype, count * channels)
            self._columns = [packed[channel::channels] for channel in range(channels)]

    def copy(self, start: int, stop: int, into: Native) -> None:
        """Frames [start, stop) into `into`, one channel at a time, integer formats
        scaled to [-1, 1)."""
        first, last = start - self.at, stop - self.at
        scale = INTEGER_SCALE.get(self._kind)
        for channel, column in enumerate(self._columns):
            part = column[first:last]
            if scale is None:
                into[:, channel] = part
            elif self._kind == "u8":
                into[:, channel] = (part.astype(np.float64) - 128.0) / scale
            else:
                into[:, channel] = part / scale


def _reason(error: BaseException) -> str:
    """FFmpeg's message without its errno and path: "invalid data found when processing
    input" rather than "[Errno 1094995529] Invalid data found ...: '/long/path'"."""
    text = getattr(error, "strerror", None) or str(error)
    return short_reason(RuntimeError(text[:1].lower() + text[1:]))


def import_pyav() -> None:
    """Import PyAV now (see `warm_up`)."""
    _av()


def _av() -> Any:
    """PyAV, imported on first use (0.1 s), with FFmpeg's logging kept off the terminal."""
    with _import_lock:
        import av

        av.logging.set_level(None)
        return av
