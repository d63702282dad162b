"""`PresetFeed`: the audio the player writes, at the active preset, from the buffer.

Reads go through the multi-tier buffer chunk by chunk (one counted lookup per chunk, not per
block). A preset or intensity change is a *request*: the feeder polls it between blocks, and
only when the new preset's chunk at the playhead is in hand (a hit, or an immediate render
finished) does it switch, with an equal-power crossfade baked in from the old render. Until
then the old preset keeps playing, so a miss costs latency, never silence.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.cache.buffer import Lookup, MultiTierBuffer, RequestKind
from engine.cache.keys import ChunkKey
from engine.config import EngineConfig
from engine.track_store import TrackStore
from engine.tracks import Audio, Track
from engine.worker import RenderJob, RenderWorkerPool

BYPASS = "original"


@dataclass(frozen=True)
class Setting:
    """What the listener asked to hear: a preset at an intensity bucket."""

    preset: str
    bucket: int


@dataclass
class ServedRequest:
    """One switch or seek: when it was asked, what served it, and when it was heard."""

    t: float
    kind: str
    source: str
    target: str
    tier: str
    ring_index: int = -1
    latency_ms: float | None = None


@dataclass(frozen=True)
class _Fade:
    """The old render to fade out after a switch: its audio, where it starts, the fade span."""

    old_start: int
    old_audio: Audio
    fade_start: int
    length: int


class PresetFeed:
    """The player's audio source. `read` runs on the feeder thread; `request` on any thread."""

    def __init__(
        self,
        config: EngineConfig,
        buffer: MultiTierBuffer,
        workers: RenderWorkerPool,
        store: TrackStore,
        clock: Callable[[], float] = time.monotonic,
        on_served: Callable[[ServedRequest], None] | None = None,
    ) -> None:
        self.config = config
        self.buffer = buffer
        self.workers = workers
        self.store = store
        self._clock = clock
        self._started = clock()
        self._on_served = on_served
        self._lock = threading.Lock()
        self.active = Setting(BYPASS, config.intensity_bucket(1.0))
        self.requested = self.active
        self._requested_at = 0.0
        self._pending_lookup: Lookup | None = None
        self._pending_job: RenderJob | None = None
        self._pending_tier = ""
        self._next_kind: RequestKind = "playback"
        self._chunk: tuple[ChunkKey, Audio] | None = None
        self._fade: _Fade | None = None
        self._unheard: list[ServedRequest] = []
        self.render_fallbacks = 0

    # -- commands (any thread) ------------------------------------------------------------
    def request(self, preset: str, bucket: int) -> None:
        with self._lock:
            self.requested = Setting(preset, bucket)
            self._requested_at = self._clock()
            self._pending_lookup = None
            self._pending_job = None

    def note_seek(self) -> None:
        """The next chunk read follows a seek: count it as one and time it."""
        with self._lock:
            self._next_kind = "seek"
            self._fade = None
            preset = self.active.preset
            now = self._clock() - self._started
            self._unheard.append(ServedRequest(now, "seek", preset, preset, "pending"))

    # -- feeder thread --------------------------------------------------------------------
    def key_for(self, track: Track, setting: Setting, frame: int) -> ChunkKey:
        return ChunkKey(track.id, setting.preset, setting.bucket, frame // self.config.chunk_frames)

    def poll_switch(self, track: Track, frame: int) -> bool:
        """True when the requested setting can start at `frame` (the player then flushes)."""
        with self._lock:
            target, source = self.requested, self.active
            if target == source:
                return False
            audio, tier = self._switch_audio(track, target, frame)
            if audio is None:
                return False
            old = self._audio_for_fade(track, source, frame)
            self._chunk = (self.key_for(track, target, frame), audio)
            length = round(self.config.crossfade_ms * self.config.sample_rate / 1000)
            self._fade = _Fade(old[0], old[1], frame, length) if old is not None else None
            self.active = target
            record = ServedRequest(
                self._requested_at - self._started, "switch", source.preset, target.preset, tier
            )
            self._unheard.append(record)
            return True

    def _switch_audio(self, track: Track, target: Setting, frame: int) -> tuple[Audio | None, str]:
        if target.preset == BYPASS:
            return self.store.get(track).samples, "source"
        key = self.key_for(track, target, frame)
        if self._pending_lookup is None:
            self._pending_lookup = self.buffer.lookup(key, track.fingerprint, "switch")
            self._pending_tier = self._pending_lookup.tier or "miss"
            if not self._pending_lookup.hit:
                self._pending_job = self.workers.request_now(key, track.fingerprint)
        if self._pending_lookup.hit:
            return self._pending_lookup.audio, self._pending_tier
        job = self._pending_job
        if job is None or not job.done.is_set():
            return None, "miss"
        audio = (
            job.audio
            if job.audio is not None
            else self.buffer.lookup(key, track.fingerprint, "switch", count=False).audio
        )
        if audio is None:  # the render failed: ask again on the next poll
            self._pending_job = self.workers.request_now(key, track.fingerprint)
        return audio, "miss"

    def flushed(self, ring_index: int, frame: int) -> None:
        """The player dropped queued audio; new audio starts at `ring_index` = track `frame`.

        The switch point may be later than the one polled (the consumer moved on meanwhile);
        the crossfade starts where the new audio really starts, so it stays sample-aligned.
        """
        with self._lock:
            if self._fade is not None:
                self._fade = _Fade(
                    self._fade.old_start, self._fade.old_audio, frame, self._fade.length
                )
            for record in self._unheard:
                if record.ring_index < 0:
                    record.ring_index = ring_index

    def heard(self, read_index: int) -> None:
        """Called by the feeder each pass: records whose first new frame has been played."""
        with self._lock:
            now = self._clock() - self._started
            done = [r for r in self._unheard if 0 <= r.ring_index < read_index]
            self._unheard = [r for r in self._unheard if r not in done]
        for record in done:
            record.latency_ms = max(0.0, (now - record.t) * 1000)
            if self._on_served is not None:
                self._on_served(record)

    def read(self, track: Track, start: int, count: int) -> Audio:
        """`count` frames from `start` at the active setting (fewer only at the track end)."""
        pieces: list[Audio] = []
        frame, end = start, min(start + count, track.frames)
        while frame < end:
            chunk_start, audio = self._chunk_at(track, frame)
            offset = frame - chunk_start
            piece = audio[offset : offset + end - frame]
            if len(piece) == 0:
                break
            pieces.append(self._crossfaded(track, frame, piece))
            frame += len(piece)
        if not pieces:
            return np.zeros((0, 2), dtype=np.float32)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _chunk_at(self, track: Track, frame: int) -> tuple[int, Audio]:
        with self._lock:
            setting = self.active
            key = self.key_for(track, setting, frame)
            chunk_start = key.chunk_index * self.config.chunk_frames
            if setting.preset == BYPASS:
                return 0, self.store.get(track).samples
            if self._chunk is not None and self._chunk[0] == key:
                return chunk_start, self._chunk[1]
            kind, self._next_kind = self._next_kind, "playback"
        audio = self._fetch(track, key, kind)
        with self._lock:
            self._chunk = (key, audio)
        return chunk_start, audio

    def _fetch(self, track: Track, key: ChunkKey, kind: RequestKind) -> Audio:
        found = self.buffer.lookup(key, track.fingerprint, kind)
        if kind == "seek":
            self._settle_seek_tier(found.tier or "miss")
        if found.audio is not None:
            return found.audio
        job = self.workers.request_now(key, track.fingerprint)
        job.done.wait(self.config.render_timeouts_seconds[0])
        audio = (
            job.audio
            if job.audio is not None
            else self.buffer.lookup(key, track.fingerprint, kind, count=False).audio
        )
        if audio is not None:
            return audio
        self.render_fallbacks += 1  # never silence: play the source for this chunk
        decoded = self.store.get(track).samples
        first = key.chunk_index * self.config.chunk_frames
        return decoded[first : first + self.config.chunk_frames]

    def _settle_seek_tier(self, tier: str) -> None:
        with self._lock:
            for record in self._unheard:
                if record.kind == "seek" and record.tier == "pending":
                    record.tier = tier

    def _audio_for_fade(
        self, track: Track, source: Setting, frame: int
    ) -> tuple[int, Audio] | None:
        """The old setting's audio around `frame`: what is playing now, kept for the fade."""
        if source.preset == BYPASS:
            return 0, self.store.get(track).samples
        key = self.key_for(track, source, frame)
        start = key.chunk_index * self.config.chunk_frames
        if self._chunk is not None and self._chunk[0] == key:
            return start, self._chunk[1]
        found = self.buffer.lookup(key, track.fingerprint, "playback", count=False)
        return (start, found.audio) if found.audio is not None else None

    def _crossfaded(self, track: Track, frame: int, piece: Audio) -> Audio:
        """Mix the old render into the first frames after a switch, equal power, aligned."""
        fade = self._fade
        if fade is None:
            return piece
        offset = frame - fade.fade_start
        if offset >= fade.length:
            self._fade = None
            return piece
        if offset < 0:
            return piece
        span = min(len(piece), fade.length - offset)
        old = fade.old_audio[frame - fade.old_start : frame - fade.old_start + span]
        span = len(old)
        if span == 0:
            return piece
        position = (np.arange(offset, offset + span, dtype=np.float32) + 0.5) / fade.length
        mixed = np.array(piece, dtype=np.float32)
        mixed[:span] = (
            old * np.cos(0.5 * np.pi * position)[:, None]
            + piece[:span] * np.sin(0.5 * np.pi * position)[:, None]
        )
        return mixed

    def reset_chunk(self) -> None:
        with self._lock:
            self._chunk = None
            self._fade = None

    def served_pending(self) -> list[ServedRequest]:
        with self._lock:
            return list(self._unheard)
