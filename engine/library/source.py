"""Track sources: a track's audio read window by window from its file, never held whole.

A render needs `[chunk start - warm-up, chunk end + look-ahead)` and the original needs a few
seconds around the playhead, so `TrackSource.read` decodes just that span (seeking in the
file), maps it to stereo and resamples it to the engine rate (soxr). Windows join at seams:
a window starts on a native frame whose position at the engine rate is a whole number, and
is padded by more than the filter's reach, so every frame equals the one a resampling of the
whole file gives, to float rounding (at most one float32 step apart, below -150 dB, where
a polyphase filter of scipy's was bit-exact but aliased at -11 dB near Nyquist). A 3-hour
mix therefore costs what a 3-minute song costs.

A track's length is what actually decodes: a header may promise more than a truncated or
damaged file holds. The first read that meets the real end records it (`decodable_frames`)
and tells the engine once, and every later read stops there.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import TrackInvalid, TrackMissing
from engine.frames import Audio, Planar
from engine.library.decoders import DecodeError, Native
from engine.library.decoders.pool import ReaderPool
from engine.library.tracks import (
    ABSURD_PEAK,
    MAX_NONFINITE_FRACTION,
    Track,
    check_path,
    open_track_reader,
    resample_ratio,
    resampled,
    to_stereo,
)
from engine.observe.stats import smoothed

RESAMPLE_REACH_NATIVE = 1024
"""Native frames of padding either side of a window, more than soxr's filter reads (windows
then match the whole file resampled to float rounding from 256 on), counted in addition
to a whole period of the ratio."""
CACHE_BLOCK_SECONDS = 2.0
"""Reads are served from aligned blocks of this length, kept in a shared cache: the original
plays block by block instead of reopening the file per write, and the presets of one chunk
(and the neighbouring chunks' overlapping warm-up and look-ahead) decode their window once."""

DECODE_COST_SMOOTHING = 0.2
"""How fast a track's measured decode cost follows its latest decodes."""

SALVAGE_FRAMES = 4096
"""Damaged stretches are read again in blocks this small (a FLAC frame's usual length)."""
SCAN_STEP_FRAMES = 64
"""The last block before a file's decodable end is stepped through this finely."""

IN_FLIGHT_WAIT_SECONDS = 10.0
"""How long a render waits for blocks another thread decodes before decoding them itself
(a bound for a thread that died mid-decode, never reached otherwise)."""
CACHED_READ_BLOCKS = 10
"""Reads up to this many blocks long go through the cache: a render's window (a 10 s chunk,
its warm-up and look-ahead, a convolution's reach) does; a whole-track read does not."""

EndListener = Callable[[Track, int, str], None]
"""(track, decodable frames at the engine rate, reason) when a file ends before its header."""


@dataclass(frozen=True)
class _Span:
    """Native frames [first, last) to decode and where the wanted output starts in them."""

    first: int
    last: int
    skip: int
    """Output frames to drop from the front of the resampled span."""


BlockKey = tuple[str, str, int]
"""(track id, fingerprint, block number)."""


class BlockCache:
    """A byte-bounded LRU of decoded blocks shared by every source; thread-safe.

    Its bytes count against the engine's budget (`EngineConfig.source_cache_mb`). A thread
    about to decode blocks may claim them, so that another render wanting them waits for
    them instead of decoding them a second time (two render threads often start two presets
    of one chunk together).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._blocks: OrderedDict[BlockKey, Audio] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._in_flight: dict[BlockKey, threading.Event] = {}
        self.hits = 0
        """Blocks found decoded, since the start."""
        self.misses = 0
        """Blocks decoded, since the start."""

    def get(self, key: BlockKey) -> Audio | None:
        with self._lock:
            block = self._blocks.get(key)
            if block is not None:
                self._blocks.move_to_end(key)
                self.hits += 1
            return block

    def put(self, key: BlockKey, block: Audio) -> None:
        """A block just decoded (counted as such, kept if it fits)."""
        with self._lock:
            self.misses += 1
            if block.nbytes > self.max_bytes:
                return
            old = self._blocks.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._blocks[key] = block
            self._bytes += block.nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._blocks.popitem(last=False)
                self._bytes -= evicted.nbytes

    def claim(self, keys: list[BlockKey]) -> tuple[set[BlockKey], dict[BlockKey, threading.Event]]:
        """Of `keys` (blocks not found), those no thread decodes yet, now this one's to
        decode (`release` them after), and the events of those another thread decodes."""
        with self._lock:
            theirs = {key: self._in_flight[key] for key in keys if key in self._in_flight}
            mine = {key for key in keys if key not in theirs}
            for key in mine:
                self._in_flight[key] = threading.Event()
            return mine, theirs

    def release(self, keys: set[BlockKey]) -> None:
        """The claimed blocks are put, or will not be (a failed decode): wake who waits."""
        with self._lock:
            events = [self._in_flight.pop(key) for key in keys if key in self._in_flight]
        for event in events:
            event.set()

    def holds(self, key: BlockKey) -> bool:
        """The block is decoded and kept (a look that neither counts nor refreshes it)."""
        with self._lock:
            return key in self._blocks

    def forget(self, track_id: str) -> None:
        with self._lock:
            for key in [key for key in self._blocks if key[0] == track_id]:
                self._bytes -= self._blocks.pop(key).nbytes

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    @property
    def reuse(self) -> float | None:
        """The share of blocks asked for that were found decoded (None before any)."""
        with self._lock:
            asked = self.hits + self.misses
            return self.hits / asked if asked else None


class TrackSource:
    """Windowed, exactly resampled reads of one track at the engine rate; any thread."""

    def __init__(
        self,
        track: Track,
        sample_rate: int,
        cache: BlockCache | None = None,
        on_end: EndListener | None = None,
        readers: ReaderPool | None = None,
    ) -> None:
        self.track = track
        self.sample_rate = sample_rate
        self._cache = cache
        self._on_end = on_end
        self._up, self._down = resample_ratio(track.native_rate, sample_rate)
        self._native_dtype = "float32" if (self._up, self._down) == (1, 1) else "float64"
        self._native_end: int | None = None
        """Native frames that really decode, once a read has met the end early."""
        self._lock = threading.Lock()
        self._readers = readers if readers is not None else ReaderPool(1)
        self._block_frames = max(1, round(CACHE_BLOCK_SECONDS * sample_rate))
        self._decode_cost: float | None = None
        """CPU seconds per output frame of the decodes lately (smoothed): an opus frame
        costs three times an Ogg Vorbis one."""

    @property
    def content_key(self) -> str:
        """What caches of this audio are keyed by: the file's identity (size, mtime, head)."""
        return self.track.fingerprint

    @property
    def frames(self) -> int:
        """Frames at the engine rate that play: the header's count, or less once a read
        found the file shorter."""
        with self._lock:
            native_end = self._native_end
        if native_end is None:
            return self.track.frames
        return min(self.track.frames, self._to_output(native_end))

    def read(self, start: int, stop: int, keep: bool = True) -> Audio:
        """Frames [start, stop) at the engine rate (fewer only where the file really ends).

        With `keep`, a read short enough goes through the shared block cache; a pass that
        reads each frame once (analysis, the track's sample) gives False, so as not to
        push out the blocks that renders and playback share.

        Raises:
            TrackError: the file cannot be opened or read any more, in one line.
        """
        start, stop = self._clamped(start, stop)
        if stop <= start:
            return np.zeros((0, 2), dtype=np.float32)
        if self._cached(start, stop, keep):
            pieces = self._pieces(start, stop)
            return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        return self._decode(start, stop)

    def read_planar(self, start: int, stop: int) -> Planar:
        """`read`'s frames as a new (channels, frames) array of the caller's own, to process
        in place: cached blocks are copied straight into it, with no interleaved copy
        between. For render threads: it waits for blocks another thread is decoding."""
        start, stop = self._clamped(start, stop)
        if stop <= start or not self._cached(start, stop, keep=True):
            return np.ascontiguousarray(self.read(start, stop, keep=False).T)
        planar = np.empty((2, stop - start), dtype=np.float32)
        done = 0
        for piece in self._pieces(start, stop, wait=True):
            planar[:, done : done + piece.shape[0]] = piece.T
            done += piece.shape[0]
        return planar

    def decode_seconds(self, start: int, stop: int) -> float:
        """The CPU time a read of [start, stop) would spend decoding now: the frames whose
        blocks are not cached, at the cost the decodes of this track measured (0 before
        any). A render at a spot not played yet costs this beyond its chain."""
        start, stop = self._clamped(start, stop)
        with self._lock:
            cost = self._decode_cost
        if cost is None or stop <= start:
            return 0.0
        if not self._cached(start, stop, keep=True):
            return cost * (stop - start)
        assert self._cache is not None
        size = self._block_frames
        missing = sum(
            min(stop, (n + 1) * size) - max(start, n * size)
            for n in range(start // size, (stop - 1) // size + 1)
            if not self._cache.holds(self._block_key(n))
        )
        return cost * missing

    def _clamped(self, start: int, stop: int) -> tuple[int, int]:
        return max(0, start), min(stop, self.frames)

    def _cached(self, start: int, stop: int, keep: bool) -> bool:
        return (
            keep
            and self._cache is not None
            and stop - start <= CACHED_READ_BLOCKS * self._block_frames
        )

    # -- cached blocks --------------------------------------------------------------------
    def _pieces(self, start: int, stop: int, wait: bool = False) -> list[Audio]:
        """[start, stop) as read-only slices of the cached blocks it spans."""
        size = self._block_frames
        first = start // size
        blocks = self._blocks(first, (stop - 1) // size, wait)
        return [
            block[max(start - base, 0) : max(stop - base, 0)]
            for base, block in zip(range(first * size, stop, size), blocks, strict=True)
        ]

    def _blocks(self, first: int, last: int, wait: bool) -> list[Audio]:
        """Blocks `first` to `last`: the cached ones as they are, and each run of missing
        ones decoded in one read (one seek, one resampling) and cut into blocks of their own.

        With `wait` (a render thread), blocks another thread is decoding are waited for,
        after this thread's own are decoded (so two never wait on each other); without it
        (the feeder, which must never wait on a niced thread), they are decoded here too.

        A cached block is served only while its file is still there: a read in flight when
        the file was deleted can put a block back after the engine forgot the track, and a
        deleted file must not go on playing from memory (a stat, a few microseconds)."""
        assert self._cache is not None
        cache = self._cache
        keys = [self._block_key(n) for n in range(first, last + 1)]
        found = [cache.get(key) for key in keys]
        if any(block is not None for block in found) and not os.path.exists(self.track.path):
            cache.forget(self.track.id)
            raise TrackMissing(self.track.path, "file not found")
        missing = [key for key, block in zip(keys, found, strict=True) if block is None]
        mine, theirs = cache.claim(missing) if wait else (set(missing), {})
        try:
            self._decode_into(found, first, lambda k: keys[k] in mine)
        finally:
            if wait:
                cache.release(mine)
        for k, key in enumerate(keys):
            if found[k] is None and key in theirs:
                theirs[key].wait(IN_FLIGHT_WAIT_SECONDS)
                found[k] = cache.get(key)
        self._decode_into(found, first, lambda k: True)  # theirs failed or was let go
        return [block for block in found if block is not None]

    def _decode_into(
        self, found: list[Audio | None], first: int, ours: Callable[[int], bool]
    ) -> None:
        """Decode each run of blocks that `found` lacks and `ours` picks, in one read each,
        and put them in `found` and the cache."""
        assert self._cache is not None
        size = self._block_frames
        run = 0
        while run < len(found):
            if found[run] is not None or not ours(run):
                run += 1
                continue
            end = run
            while end + 1 < len(found) and found[end + 1] is None and ours(end + 1):
                end += 1
            decoded = self._decode((first + run) * size, (first + end + 1) * size)
            for k in range(run, end + 1):
                block = decoded[(k - run) * size : (k - run + 1) * size].copy()
                block.setflags(write=False)  # own memory: evicted alone, counted exactly
                self._cache.put(self._block_key(first + k), block)
                found[k] = block
            run = end + 1

    def _block_key(self, number: int) -> BlockKey:
        return (self.track.id, self.track.fingerprint, number)

    # -- decoding -------------------------------------------------------------------------
    def _decode(self, start: int, stop: int) -> Audio:
        started = time.thread_time()
        span = self._span(start, stop)
        raw = self._read_native(span.first, span.last)
        stereo = to_stereo(raw)
        if (self._up, self._down) != (1, 1):
            stereo = resampled(stereo, self._up, self._down)
        wanted = stereo[span.skip : span.skip + (stop - start)]
        decoded = np.ascontiguousarray(wanted, dtype=np.float32)
        if len(decoded):
            self._note_decode((time.thread_time() - started) / len(decoded))
        return decoded

    def _note_decode(self, seconds_per_frame: float) -> None:
        with self._lock:
            self._decode_cost = smoothed(
                self._decode_cost, seconds_per_frame, DECODE_COST_SMOOTHING
            )

    def _span(self, start: int, stop: int) -> _Span:
        """The native frames that produce output [start, stop) exactly.

        Output frame m sits at native position m * down / up. A span starting at native
        frame q * down produces output from q * up on, with the filter's start-up inside the
        padding; so q is chosen a padding below `start`, and the end likewise above `stop`.
        """
        up, down = self._up, self._down
        if (up, down) == (1, 1):
            return _Span(start, stop, 0)
        pad = math.ceil(RESAMPLE_REACH_NATIVE / down) + 1
        q = max(0, start // up - pad)
        last = math.ceil(stop * down / up) + pad * down
        return _Span(q * down, last, start - q * up)

    def _to_output(self, native_frames: int) -> int:
        return math.ceil(native_frames * self._up / self._down)

    def _read_native(self, first: int, last: int) -> Native:
        """Native frames [first, last) as (frames, channels), NaN/Inf as silence: float32,
        or float64 where they will be resampled (as a whole-file decode resamples them).

        A read that fails or comes up short inside the length the header claims means
        damage: the file's decodable end is found once (`_scan_end`), and a window before
        it is read again in small blocks, silence standing in for any that fail."""
        raw, failure = self._try_read(first, last - first)
        claimed = self._native_claimed()
        if raw is not None and (raw.shape[0] == last - first or first + raw.shape[0] >= claimed):
            return _sanitised(self.track.path, raw)
        with self._lock:
            known_end = self._native_end
        if known_end is None:
            # A read that came up short without an error ended where the audio ends; one
            # that found nothing at all may have started past it (FFmpeg seeks there
            # without a word), so the end is looked for.
            found = raw is not None and (raw.shape[0] > 0 or first == 0)
            known_end = (
                first + raw.shape[0] if found and raw is not None else self._scan_end(claimed)
            )
            if known_end < claimed:
                self._met_end(known_end, failure)
        stop = min(last, known_end)
        if raw is not None and first + raw.shape[0] >= stop:
            return _sanitised(self.track.path, raw[: max(stop - first, 0)])
        return _sanitised(self.track.path, self._salvage(first, stop))

    def _try_read(self, first: int, count: int) -> tuple[Native | None, str]:
        """Frames from `first`, or None and the decoder's reason when the read fails.

        The file is checked on disk first, so a deleted file stops playing; the reader is
        borrowed from the pool (kept open between reads: an MP3's seek index is built once)."""
        path = self.track.path
        check_path(path)
        key = (self.track.id, self.track.fingerprint)
        reader = self._readers.borrow(key)
        if reader is None:
            reader = open_track_reader(path)
        try:
            audio = reader.read(first, count, self._native_dtype)
        except DecodeError as error:
            reader.close()  # a decoder that failed may fail its next seek too
            return None, error.reason
        except BaseException:
            reader.close()
            raise
        self._readers.give_back(key, reader)
        return audio, ""

    def _scan_end(self, claimed: int) -> int:
        """The first native frame that does not decode: bisect to a block, then step."""
        good, bad = 0, claimed
        first, _ = self._try_read(0, 1)
        if first is None or first.shape[0] == 0:
            return 0
        while bad - good > SALVAGE_FRAMES:
            middle = (good + bad) // 2
            probe, _ = self._try_read(middle, 1)
            if probe is not None and probe.shape[0] == 1:
                good = middle
            else:
                bad = middle
        return good + self._frames_readable(good, bad - good)

    def _frames_readable(self, first: int, count: int) -> int:
        """How many of `count` frames from `first` decode: all at once where the read
        succeeds (a short read ends where the audio does), else in small steps."""
        whole, _ = self._try_read(first, count)
        if whole is not None:
            return int(whole.shape[0])
        done = 0
        while done < count:
            step, _ = self._try_read(first + done, min(SCAN_STEP_FRAMES, count - done))
            if step is None or step.shape[0] == 0:
                break
            done += step.shape[0]
        return done

    def _salvage(self, first: int, stop: int) -> Native:
        """[first, stop) in small blocks; a block that fails to decode becomes silence."""
        blocks = []
        for start in range(first, stop, SALVAGE_FRAMES):
            count = min(SALVAGE_FRAMES, stop - start)
            block, _ = self._try_read(start, count)
            if block is None or block.shape[0] < count:
                filler = np.zeros((count, self.track.channels), dtype=self._native_dtype)
                if block is not None:
                    filler[: block.shape[0]] = block
                block = filler
            blocks.append(block)
        if not blocks:
            return np.zeros((0, self.track.channels), dtype=self._native_dtype)
        return np.concatenate(blocks)

    def _native_claimed(self) -> int:
        """Native frames the header promises."""
        return round(self.track.duration_seconds * self.track.native_rate)

    def _met_end(self, native_end: int, failure: str) -> None:
        with self._lock:
            if self._native_end is not None and self._native_end <= native_end:
                return
            self._native_end = native_end
        if self._on_end is not None:
            reason = f"decoding failed: {failure}" if failure else "the file ends early"
            self._on_end(self.track, self._to_output(native_end), reason)


def _sanitised(path: Path, raw: Native) -> Native:
    """A few NaN/Inf become silence; a window of more, or of absurd level, means the file
    is garbage (refused with the reason `load_track` gives).

    The extremes come first: two passes that allocate nothing and, since NaN and Inf carry
    into them, say whether the slower look at every sample is needed at all."""
    if raw.size == 0:
        return raw
    low, high = float(raw.min()), float(raw.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        finite = np.isfinite(raw)
        bad = int(raw.size - np.count_nonzero(finite))
        if bad > MAX_NONFINITE_FRACTION * raw.size:
            raise TrackInvalid(path, f"{bad / raw.size:.0%} of samples are NaN/Inf (refused)")
        raw = np.where(finite, raw, raw.dtype.type(0.0))
        low, high = float(raw.min()), float(raw.max())
    peak = max(-low, high)
    if peak > ABSURD_PEAK:
        raise TrackInvalid(path, f"absurd level: peak {20 * math.log10(peak):+.0f} dBFS")
    return raw
