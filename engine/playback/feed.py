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
from engine.cache.worker import RenderJob, RenderWorkerPool
from engine.config import EngineConfig
from engine.dsp import crossfade
from engine.dsp.render import Renderer
from engine.frames import Audio
from engine.library.source import CACHE_BLOCK_SECONDS, TrackSource
from engine.library.track_store import TrackStore
from engine.library.tracks import Track
from engine.observe.stats import smoothed
from engine.playback.original_level import OriginalLevel, Stretch
from engine.vocabulary import BYPASS

HEAD_SECONDS = 1.0
"""On a missed switch, this much of the chunk is rendered at once on the feeder thread."""
HEAD_BUDGET_SHARE = 1 / 6
"""The longest a head render may take on the feeder's thread, as a share of the ring's
fill: on a slow machine or a heavy chain the feeder does not try (the old preset, or the
source, plays on until the render threads deliver), so a switch never stalls it."""
HEAD_LEAD_SHARE = 0.5
"""A head may also take at most this share of the audio queued when it starts: right
after a seek's first stand-in piece the ring holds a tenth of a second, and a head that
outlasts what is queued is a dropout. The source stands in until the ring is deeper."""
HEAD_STRETCH_SMOOTHING = 0.1
"""How fast the heads' stretch comes back down: after each quicker head, and after each
head refused for it alone."""
STAND_IN_SECONDS = 0.1
"""How much source is played at a time while waiting for a calibration (then we look again)."""
FADE_SOURCE_SECONDS = 0.25
"""Source kept for a fade out of the original: the switch point may move a few blocks on."""
SOURCE_TIER = "source"
"""What served a seek made while the original plays: the file itself, no render needed."""


@dataclass(frozen=True)
class Setting:
    """What the listener asked to hear: a preset at an intensity bucket."""

    preset: str
    bucket: int
    revision: int = 0
    """Counts the preset's redefinitions: a new one is a switch to the same name."""


@dataclass
class ServedRequest:
    """One switch or seek: when it was asked, what served it, and when it was heard."""

    t: float
    kind: str
    source: str
    target: str
    tier: str
    ring_index: int = -1
    frame: int = -1
    """Track frame where the new audio starts (the handover point)."""
    latency_ms: float | None = None
    asked_at: float = 0.0
    """The command's time on the engine clock, for the latency."""
    cut_at: float = 0.0
    """When the feeder cut over to the new audio (latency = wait for the feeder + for the
    consumer to reach the cut)."""
    track_start: bool = False
    """A seek that starts another track (a skip or a choice), not one within the track."""


@dataclass(frozen=True)
class _Held:
    """Audio of the active setting in hand: a whole chunk, or the head of one after a miss."""

    key: ChunkKey
    first_frame: int
    audio: Audio
    stand_in: bool = False
    """The untouched source, played while the track's presets are still being calibrated."""

    def covers(self, key: ChunkKey, frame: int) -> bool:
        return key == self.key and self.first_frame <= frame < self.first_frame + len(self.audio)


@dataclass(frozen=True)
class _OriginalBlock:
    """A source block of the original, kept while the playhead is in it."""

    ident: tuple[str, str, int, int]
    """The stretch it plays in, and its block number."""
    first_frame: int
    audio: Audio


@dataclass
class _PendingSwitch:
    """A request's lookup and render job, made once however often the feeder polls. Only
    the feeder thread touches its fields; a new request replaces it whole, under the lock."""

    key: ChunkKey | None = None
    """The chunk the lookup and the job are for: a poll in another chunk (the playhead
    moved on, or a seek landed) looks that one up instead of serving this one's audio."""
    lookup: Lookup | None = None
    job: RenderJob | None = None
    tier: str = ""


@dataclass(frozen=True)
class _Gap:
    """A chunk boundary and whether the render after it was missing when the feeder
    reached its fade: then the render before it faded into the source."""

    at: tuple[str, int]
    """(track id, boundary frame)."""
    setting: Setting
    fades: bool
    rho: float


@dataclass(frozen=True)
class _Fade:
    """The old render to fade out after a switch: its audio, where it starts, the fade span."""

    old_start: int
    old_audio: Audio
    fade_start: int
    length: int
    rho: float = 1.0
    """Correlation of old and new over the fade: sets the power-preserving gains."""


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
        renderer_factory: Callable[[], Renderer] | None = None,
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
        self._pending = _PendingSwitch()
        """The requested switch's lookup and render job, made once per request."""
        self._seeks = 0
        """Seeks noted so far: a switch prepared across one is prepared again."""
        self._next_kind: RequestKind = "playback"
        self._held: _Held | None = None
        self.renderer = renderer_factory() if renderer_factory is not None else None
        """The feeder's own renderer, for the head of a chunk after a miss."""
        self._fade_frames = round(config.crossfade_ms * config.sample_rate / 1000)
        """The switch crossfade's length, and every fade between a render and the source."""
        self._head_budget = HEAD_BUDGET_SHARE * config.ring_seconds
        self._head_stretch = 1.0
        """Wall time / CPU estimate of the heads rendered here lately (feeder thread)."""
        self.lead: Callable[[], float | None] = lambda: None
        """Seconds of audio queued before the consumer runs dry, or None while it expects
        none (a seek's gap, where a wait is latency, not a dropout): the player's
        `lead_seconds`, set by whoever joins the two."""
        self._originals = OriginalLevel(self.renderer or Renderer(config), config.sample_rate)
        """Reads the original (a plain gain for hot masters) for the feeder's thread."""
        self._original_block: _OriginalBlock | None = None
        self._block_frames = round(CACHE_BLOCK_SECONDS * config.sample_rate)
        self._fade: _Fade | None = None
        self._switch_fade: _Fade | None = None
        """The last switch's fade, kept until the switch is heard: a cut the consumer
        missed is made again later, and must fade again there (else it clicks)."""
        self._unheard: list[ServedRequest] = []
        self._gap: _Gap | None = None
        """The last chunk boundary looked at for a missing render (feeder thread only)."""
        self.render_fallbacks = 0
        self.stand_ins = 0
        self.head_renders = 0

    # -- commands (any thread) ------------------------------------------------------------
    @property
    def unheard_count(self) -> int:
        """Switches and seeks made but not yet heard (their latency is still open)."""
        with self._lock:
            return len(self._unheard)

    @property
    def standing_in(self) -> bool:
        """The source plays in place of the active preset, whose render is not there yet."""
        with self._lock:
            held = self._held
            return held is not None and held.stand_in and self.active.preset != BYPASS

    def busy(self) -> bool:
        """A switch waits for its audio, or a switch or seek made is not heard yet."""
        with self._lock:
            return self.requested != self.active or bool(self._unheard)

    def start_with(self, preset: str, bucket: int) -> None:
        """The setting to start in (restored from the last session): not a switch."""
        with self._lock:
            self.active = self.requested = Setting(preset, bucket)

    def request(self, preset: str | None = None, bucket: int | None = None) -> None:
        """Ask for `preset` and/or the intensity `bucket`; what is not given is kept, read
        under the lock, so a preset and an intensity asked on two threads never undo each
        other."""
        with self._lock:
            kept = self.requested
            preset = kept.preset if preset is None else preset
            bucket = kept.bucket if bucket is None else bucket
            self.requested = Setting(preset, bucket, kept.revision)
            self._requested_at = self._clock()
            self._pending = _PendingSwitch()

    def redefined(self, preset: str, bucket: int) -> None:
        """`preset` has a new definition, calibrated, to play at intensity `bucket`: if it
        is the one asked for, switch to it anew (with the crossfade), as to another preset."""
        with self._lock:
            kept = self.requested
            if kept.preset != preset:
                return
            self.requested = Setting(preset, bucket, kept.revision + 1)
            self._requested_at = self._clock()
            self._pending = _PendingSwitch()

    def playback_starting(self) -> None:
        """A switch asked for while nothing played is heard when playback starts: its
        latency runs from there, not from a command made minutes before the resume."""
        with self._lock:
            if self.requested != self.active:
                self._requested_at = max(self._requested_at, self._clock())

    def note_seek(self, track_start: bool = False) -> None:
        """The next chunk read follows a seek (`track_start`: into another track): count it
        as one and time it."""
        with self._lock:
            self._next_kind = "seek"
            self._fade = self._switch_fade = None
            self._seeks += 1
            preset = self.active.preset
            now = self._clock()
            self._unheard.append(
                ServedRequest(
                    now - self._started,
                    "seek",
                    preset,
                    preset,
                    "pending",
                    asked_at=now,
                    track_start=track_start,
                )
            )

    # -- feeder thread --------------------------------------------------------------------
    def key_for(self, track: Track, setting: Setting, frame: int) -> ChunkKey:
        return ChunkKey(track.id, setting.preset, setting.bucket, frame // self.config.chunk_frames)

    def poll_switch(self, track: Track, frame: int) -> bool:
        """True when the requested setting can start at `frame` (the player then flushes).

        The new audio (a lookup that may decode an L3 chunk, or a head render) and the old
        audio for the fade are found outside the lock, so a command never waits behind
        them. The switch prepared is made even if another was asked for meanwhile (the next
        poll serves that one: requests faster than a preparation still get heard), but not
        across a seek, which moved the frame it was prepared for."""
        with self._lock:
            target, source = self.requested, self.active
            if target == source:
                return False
            pending, seeks, playing = self._pending, self._seeks, self._held
            asked_at = self._requested_at
        held, tier = self._switch_audio(track, target, frame, pending)
        old = self._audio_for_fade(track, source, frame, playing) if held is not None else None
        with self._lock:
            if (self.active, self._seeks) != (source, seeks) or held is None:
                return False
            self._held = held
            length = self._fade_frames
            self._fade = self._fade_at(old, held, frame, length) if old is not None else None
            self._switch_fade = self._fade
            self.active = target
            record = ServedRequest(
                asked_at - self._started,
                "switch",
                source.preset,
                target.preset,
                tier,
                asked_at=asked_at,
            )
            self._unheard.append(record)
            return True

    def _switch_audio(
        self, track: Track, target: Setting, frame: int, pending: _PendingSwitch
    ) -> tuple[_Held | None, str]:
        """The new setting's audio at `frame`: from the buffer, or on a miss the head of
        the chunk rendered right here (the whole chunk follows from the worker). The lookup
        and the render request are made once per request and chunk, kept in `pending`."""
        key = self.key_for(track, target, frame)
        if target.preset == BYPASS:
            stop = frame + round(FADE_SOURCE_SECONDS * self.config.sample_rate)
            return _Held(key, frame, self._original(track, frame, stop)), "source"
        first = key.chunk_index * self.config.chunk_frames
        if pending.key != key:  # first poll, or the playhead has since left that chunk
            counted = pending.key is None
            pending.key, pending.job = key, None
            pending.lookup = self.buffer.lookup(key, track.fingerprint, "switch", counted)
            if counted:
                pending.tier = pending.lookup.tier or "miss"
            if not pending.lookup.hit:
                pending.job = self.workers.request_now(key, track.fingerprint)
        assert pending.lookup is not None
        if pending.lookup.audio is not None:
            return _Held(key, first, pending.lookup.audio), pending.tier
        job = pending.job
        if job is not None and job.done.is_set():
            audio = job.audio or self.buffer.lookup(key, track.fingerprint, "switch", False).audio
            if audio is not None:
                return _Held(key, first, audio), "miss"
        head = self._render_head(track, target, key, frame)
        return (head, "miss") if head is not None else (None, "miss")

    def _render_head(
        self, track: Track, target: Setting, key: ChunkKey, frame: int
    ) -> _Held | None:
        """Render [frame, frame + head) of the chunk now: a miss is heard in ~20 ms."""
        if self.renderer is None:
            return None
        chunk_end = min(track.frames, (key.chunk_index + 1) * self.config.chunk_frames)
        stop = min(chunk_end, frame + round(HEAD_SECONDS * self.config.sample_rate))
        source = self.store.get(track)
        expected = self._head_expected(source, target.preset, frame, stop)
        if expected is None:
            return None
        if not self._head_fits(expected):
            if expected <= self._head_budget < expected * self._head_stretch:
                self._relax_stretch()
            return None
        started = time.perf_counter()
        try:
            intensity = self.config.bucket_intensity(target.bucket)
            audio = self.renderer.render_range(source, target.preset, intensity, frame, stop)
        except Exception:  # noqa: BLE001 - the worker's render is still on its way
            return None
        self._note_head(time.perf_counter() - started, expected)
        self.head_renders += 1
        return _Held(key, frame, audio)

    def _relax_stretch(self) -> None:
        """A head refused only for the stretch: let it come down a little, so a machine
        busy for a moment is tried again (about once a second of stand-ins) rather than
        never."""
        self._head_stretch = 1.0 + (self._head_stretch - 1.0) * (1.0 - HEAD_STRETCH_SMOOTHING)

    def _note_head(self, seconds: float, expected: float) -> None:
        """How much longer than its CPU estimate a head took on this thread (a busy machine,
        the render threads' share, the GIL): at once when longer, slowly when shorter."""
        stretch = max(1.0, seconds / max(expected, 1e-6))
        if stretch > self._head_stretch:
            self._head_stretch = stretch
        else:
            self._head_stretch = smoothed(self._head_stretch, stretch, HEAD_STRETCH_SMOOTHING)

    def _head_at_hand(self, track: Track, preset: str, frame: int) -> bool:
        """A miss of `preset` at `frame` would be met by a head rendered on the feeder's
        thread: the preset is calibrated, and a head there renders within the feeder's
        budget (its CPU time at the speed measured lately, stretched by what heads really
        took on this thread) and well within the audio queued."""
        stop = min(track.frames, frame + round(HEAD_SECONDS * self.config.sample_rate))
        expected = self._head_expected(self.store.get(track), preset, frame, stop)
        return expected is not None and self._head_fits(expected)

    def _head_expected(
        self, source: TrackSource, preset: str, start: int, stop: int
    ) -> float | None:
        """The CPU time a head of [start, stop) should take, or None where none can be
        rendered on the feeder's thread: no renderer, the preset not calibrated yet
        (calibrating would stall the feeder), or no render measured yet."""
        if self.renderer is None or not self.renderer.is_prepared(source, preset):
            return None
        return self._head_seconds(source, preset, start, stop)

    def _head_fits(self, expected: float) -> bool:
        """A head expected to take `expected` CPU seconds fits the feeder's budget once
        stretched as heads have been lately, and ends well within the audio queued."""
        return expected * self._head_stretch <= self._head_budget and self._within_lead(expected)

    def _within_lead(self, expected: float) -> bool:
        """A head expected to take `expected` CPU seconds (stretched as heads have been
        lately) ends well before the audio queued runs out."""
        lead = self.lead()
        return lead is None or expected * self._head_stretch <= HEAD_LEAD_SHARE * lead

    def _head_seconds(
        self, source: TrackSource, preset: str, start: int, stop: int
    ) -> float | None:
        """The CPU time a head of [start, stop) should take: its chain over the window
        (warm-up and look-ahead included) at the speed renders measured, and the decoding
        of what the source has not cached, slowed as the renders are (a spot not played
        yet, after a seek, costs twice what a chunk's renders suggest)."""
        assert self.renderer is not None
        first = max(0, start - self.renderer.warmup_frames)
        last = stop + self.renderer.lookahead_frames
        chain = self.renderer.speed.seconds_for(last - first, preset)
        if chain is None:
            return None
        return chain + self.renderer.slowdown.factor * source.decode_seconds(first, last)

    def flushed(self, ring_index: int, frame: int) -> None:
        """The player dropped queued audio; new audio starts at `ring_index` = track `frame`.

        The switch point may be later than the one polled (the consumer moved on meanwhile);
        the crossfade starts where the new audio really starts, so it stays sample-aligned.
        """
        with self._lock:
            fade = self._fade if self._fade is not None else self._switch_fade
            held = self._held
            if fade is not None and held is not None:
                old = (fade.old_start, fade.old_audio)
                self._fade = self._fade_at(old, held, frame, fade.length)
                if fade is self._switch_fade:
                    self._switch_fade = self._fade
            now = self._clock()
            for record in self._unheard:
                if record.ring_index < 0 or record.latency_ms is None:
                    record.ring_index, record.frame, record.cut_at = ring_index, frame, now

    def heard(self, read_index: int, applied_at: float | None = None) -> None:
        """Called by the feeder each pass: records whose first new frame has been played.

        `applied_at` is when the consumer really switched to the new audio (the callback's
        own clock); without it, the time we noticed stands in (at most half a block late).
        """
        with self._lock:
            now = self._clock()
            done = [r for r in self._unheard if 0 <= r.ring_index < read_index]
            self._unheard = [r for r in self._unheard if r not in done]
            if not any(r.kind == "switch" for r in self._unheard):
                self._switch_fade = None
        for record in done:
            heard_at = now
            if applied_at is not None and record is done[-1] and applied_at >= record.asked_at:
                heard_at = min(now, applied_at)
            record.latency_ms = max(0.0, (heard_at - record.asked_at) * 1000)
            if self._on_served is not None:
                self._on_served(record)

    def read(self, track: Track, start: int, count: int) -> Audio:
        """`count` frames from `start` at the active setting (fewer only at the track end)."""
        pieces: list[Audio] = []
        frame, end = start, min(start + count, track.frames)
        while frame < end:
            chunk_start, audio = self._chunk_at(track, frame)
            offset = frame - chunk_start
            if offset < 0:  # cannot happen: held audio always covers the frame asked
                break
            piece = audio[offset : offset + end - frame]
            if len(piece) == 0:
                break
            piece = self._crossfaded(track, frame, piece)
            pieces.append(self._before_gap(track, frame, chunk_start, len(audio), piece))
            frame += len(piece)
        if not pieces:
            return np.zeros((0, 2), dtype=np.float32)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _chunk_at(self, track: Track, frame: int) -> tuple[int, Audio]:
        with self._lock:
            setting = self.active
            bypass = setting.preset == BYPASS
            if bypass:
                self._settle_seek_tier_locked(SOURCE_TIER)
        if bypass:  # read outside the lock: a block decode must not hold up commands
            return self._original_at(track, frame)
        with self._lock:
            setting = self.active
            key = self.key_for(track, setting, frame)
            held = self._held
            seeking = self._next_kind == "seek"
            if held is not None and held.covers(key, frame) and not seeking:
                return held.first_frame, held.audio
            kind, self._next_kind = self._next_kind, "playback"
            # Past a head rendered after a miss: the same request, already counted.
            continuing = held is not None and held.key == key and not seeking
        fetched = self._fetch(track, key, kind, frame, count=not continuing)
        after_stand_in = held is not None and held.stand_in and continuing
        after_fade_out = (
            self._gap is not None and self._gap.fades and self._gap.at == (track.id, frame)
        )
        arrived = not fetched.stand_in and (after_stand_in or after_fade_out)
        fade = self._fade_from_source(track, fetched, frame) if arrived else None
        with self._lock:
            if fade is not None:
                self._fade = fade
            self._held = fetched
        return fetched.first_frame, fetched.audio

    def _before_gap(
        self, track: Track, frame: int, chunk_start: int, chunk_length: int, piece: Audio
    ) -> Audio:
        """The end of a rendered chunk whose next chunk is not rendered yet: its last frames
        fade into the source, which stands in from the boundary on (a jump from the render
        to the source there would click). Decided once per boundary, when the feeder
        first reads within a fade of it, so the pieces of one fade agree."""
        length = self._fade_frames
        chunk_end = chunk_start + chunk_length
        fade_start = chunk_end - length
        if frame + len(piece) <= fade_start or chunk_end >= track.frames or fade_start < 0:
            return piece
        with self._lock:
            setting, held = self.active, self._held
        if setting.preset == BYPASS or held is None or held.stand_in:
            return piece
        if held.first_frame != chunk_start or len(held.audio) != chunk_length:
            return piece  # the head of a miss, not a whole chunk
        gap = self._gap_at(track, setting, chunk_end, held.audio[fade_start - chunk_start :])
        if not gap.fades:
            return piece
        split = max(0, fade_start - frame)
        tail = piece[split:]
        first = frame + split
        source = self._original(track, first, first + len(tail))
        faded = crossfade.mix(tail, source, first - fade_start, length, gap.rho)
        return np.concatenate([piece[:split], faded]) if split else faded

    def _gap_at(self, track: Track, setting: Setting, boundary: int, tail: Audio) -> _Gap:
        """Whether the chunk after `boundary` is missing (its render asked for at once),
        with the correlation of the render's tail and the source for the fade."""
        at = (track.id, boundary)
        gap = self._gap
        if gap is not None and gap.at == at and gap.setting == setting:
            return gap
        key = self.key_for(track, setting, boundary)
        missing = self.buffer.peek_tier(key) is None
        if missing:
            missing = not self.workers.request_now(key, track.fingerprint).done.is_set()
        if missing and self._head_at_hand(track, setting.preset, boundary):
            missing = False  # the feeder renders the next chunk's head there at once
        rho = 1.0
        if missing:
            source = self._original(track, boundary - len(tail), boundary)
            rho = crossfade.correlation(tail, source)
        self._gap = _Gap(at, setting, missing, rho)
        return self._gap

    def _fade_from_source(self, track: Track, rendered: _Held, frame: int) -> _Fade:
        """The render has arrived after a stand-in: fade from the source into it (the
        source is read here, outside the lock)."""
        length = self._fade_frames
        source = self._original(track, frame, frame + length)
        return self._fade_at((frame, source), rendered, frame, length)

    def _fetch(
        self, track: Track, key: ChunkKey, kind: RequestKind, frame: int, count: bool = True
    ) -> _Held:
        """The chunk from the buffer; on a miss, its head rendered here at once while the
        worker renders the whole chunk, so the feeder is never held up for long."""
        first = key.chunk_index * self.config.chunk_frames
        found = self.buffer.lookup(key, track.fingerprint, kind, count)
        if kind == "seek":
            self._settle_seek_tier(found.tier or "miss")
        if found.audio is not None:
            return _Held(key, first, found.audio)
        job = self.workers.request_now(key, track.fingerprint)
        if not job.done.is_set():
            setting = Setting(key.preset, key.intensity_bucket)
            head = self._render_head(track, setting, key, frame)
            if head is not None:
                return head
            return self._stand_in(track, key, frame, counted=count)
        audio = job.audio
        if audio is None:
            audio = self.buffer.lookup(key, track.fingerprint, kind, count=False).audio
        if audio is not None:
            return _Held(key, first, audio)
        self.render_fallbacks += 1  # never silence: play the source for this chunk
        stop = first + self.config.chunk_frames
        return _Held(key, first, self._original(track, first, stop))

    def _stand_in(self, track: Track, key: ChunkKey, frame: int, counted: bool) -> _Held:
        """The chunk is not rendered yet (a seek or a track change before the presets were
        calibrated, or renders slower than this machine can afford on the feeder): play
        the source (the presets' loudness reference) for a moment rather than stall the
        feeder into a dropout; the render takes over with a crossfade when it is ready.
        `counted`: the first stand-in for this lookup (later ones continue it)."""
        if counted:
            self.stand_ins += 1
        chunk_end = min(track.frames, (key.chunk_index + 1) * self.config.chunk_frames)
        stop = min(chunk_end, frame + round(STAND_IN_SECONDS * self.config.sample_rate))
        audio = self._original(track, frame, stop)
        return _Held(key, frame, audio, stand_in=True)

    def _original(self, track: Track, start: int, stop: int) -> Audio:
        """The original from the feeder's thread, which never waits for a sampling: a
        track not sampled yet has it asked for first, and plays at unity meanwhile (its
        level settles to the gain once known: `OriginalLevel`)."""
        source = self.store.get(track)
        if not self._originals.measured(source):
            self.workers.prepare_track(track.id, track.fingerprint, (BYPASS,), "immediate")
        return self._originals.read(source, self._stretch(track), start, stop)

    def _stretch(self, track: Track) -> Stretch:
        """What plays on without a break: this track since the last seek or track change
        (the count is read without the lock: an int, and a seek's own read follows)."""
        return (track.id, track.fingerprint, self._seeks)

    def _original_at(self, track: Track, frame: int) -> tuple[int, Audio]:
        """The original's block around `frame` (blocks are the source cache's, so reads
        line up with it), kept while the playhead is in it: limiting the whole block again
        for every piece the feeder writes would cost more than the piece lasts on a busy
        machine."""
        number = frame // self._block_frames
        ident = (*self._stretch(track), number)
        kept = self._original_block
        if kept is not None and kept.ident == ident:
            return kept.first_frame, kept.audio
        first = number * self._block_frames
        audio = self._original(track, first, first + self._block_frames)
        self._original_block = _OriginalBlock(ident, first, audio)
        return first, audio

    @staticmethod
    def _fade_at(old: tuple[int, Audio], new: _Held, frame: int, length: int) -> _Fade:
        """A fade starting at `frame`, with the correlation of the two renders there."""
        old_start, old_audio = old
        before = old_audio[frame - old_start : frame - old_start + length]
        after = new.audio[frame - new.first_frame : frame - new.first_frame + length]
        return _Fade(old_start, old_audio, frame, length, crossfade.correlation(before, after))

    def _settle_seek_tier(self, tier: str) -> None:
        with self._lock:
            self._settle_seek_tier_locked(tier)

    def _settle_seek_tier_locked(self, tier: str) -> None:
        """The seeks not yet served learn what served them (the caller holds the lock)."""
        for record in self._unheard:
            if record.kind == "seek" and record.tier == "pending":
                record.tier = tier

    def _audio_for_fade(
        self, track: Track, source: Setting, frame: int, held: _Held | None
    ) -> tuple[int, Audio] | None:
        """The old setting's audio around `frame`: what is playing now (`held`), kept for
        the fade."""
        if source.preset == BYPASS:
            stop = frame + round(FADE_SOURCE_SECONDS * self.config.sample_rate)
            return frame, self._original(track, frame, stop)
        key = self.key_for(track, source, frame)
        start = key.chunk_index * self.config.chunk_frames
        if held is not None and held.covers(key, frame):
            return held.first_frame, held.audio
        found = self.buffer.lookup(key, track.fingerprint, "playback", count=False)
        return (start, found.audio) if found.audio is not None else None

    def _crossfaded(self, track: Track, frame: int, piece: Audio) -> Audio:
        """Mix the old render into the first frames after a switch: aligned, power kept."""
        fade = self._fade
        if fade is None:
            return piece
        offset = frame - fade.fade_start
        if offset >= fade.length:
            with self._lock:  # a switch or seek may have set a new fade since it was read
                if self._fade is fade:
                    self._fade = None
            return piece
        if offset < 0:
            return piece
        span = min(len(piece), fade.length - offset)
        old = fade.old_audio[frame - fade.old_start : frame - fade.old_start + span]
        if len(old) == 0:
            return piece
        return crossfade.mix(old, piece, offset, fade.length, fade.rho)
