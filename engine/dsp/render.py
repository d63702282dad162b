"""Rendering chunks of a track through a preset, seamlessly and deterministically.

A chunk [start, stop) is rendered from [start - warm-up, stop + look-ahead) with every plugin
reset, then trimmed: filters and compressors have settled by `start`, and the look-ahead
limiter sees the audio after `stop`. So concatenated chunks equal one continuous render, and
since nothing adds latency (the limiter's look-ahead is paid by rendering ahead, not by
delaying), every preset is sample-aligned with the source and with each other. Only that
window is decoded from the file (`TrackSource`), so no render holds a whole track.

Loudness is set per track, never per chunk: the wet path's gain is calibrated once per
(track, preset) on a sample of windows spread over the track (`calibration.py`), and kept
for as long as the track is known, so the level never steps inside a track.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.config import EngineConfig
from engine.dsp.calibration import (
    MeasuredWindow,
    SampleReading,
    TrackSample,
    WetMeasure,
    analyse_sample,
    is_silent,
    loudness_slope,
    measure_windows,
)
from engine.dsp.calibrations import LoudnessCalibrations
from engine.dsp.chain import PresetChain, mix_dry_wet
from engine.dsp.distinctness import ProfilePart, profile_of, profile_part
from engine.dsp.kernels import kernel_designed
from engine.dsp.limiter import MARGIN_DB as LIMITER_MARGIN_DB
from engine.dsp.limiter import limit_true_peak, limiter_reach_frames, limiter_threshold
from engine.dsp.loudness import LoudnessMeter
from engine.dsp.render_speed import RenderSpeed
from engine.dsp.shared_work import SharedWork
from engine.dsp.slowdown import RenderSlowdown
from engine.dsp.truepeak import interleaved, window_true_peak
from engine.frames import Audio, Planar
from engine.library.source import TrackSource
from engine.presets.adaptive import adaptive_preset
from engine.presets.book import PresetBook
from engine.presets.model import Preset
from engine.vocabulary import BYPASS

MAX_WET_GAIN_DB = 30.0
"""The most a preset's gain may move its wet path: a listener's night-mode compressor
(threshold -40 dB, ratio 8) takes 26 dB off a loud master, and must get it back to be
matched; beyond this a chain is taken to have all but silenced the music."""
REFERENCE_MARGIN_DB = 0.05
UNSAMPLED_PEAK_HEADROOM_DB = 6.0
"""How much louder than the sampled peaks an unsampled one is taken to be, at the most
(measured on real music: 1 dB; the limiter's envelope is exact from 6 dB below on)."""
CALIBRATION_PASSES = 3
FLOAT16_PEAK_SLACK = 1.0 + 2.0**-9
"""How far a kept (float16) window's true peak may stand above its float32 original's: each
sample rounds by at most 2**-11 of itself, and the 4x kernels' weights sum to 2.24 in
magnitude at the most, so an interpolated point moves by under 2**-9 of the peak."""


def chunk_count(frames: int, chunk_frames: int) -> int:
    return max(1, math.ceil(frames / chunk_frames))


def chunk_bounds(index: int, frames: int, chunk_frames: int) -> tuple[int, int]:
    """[start, stop) frames of chunk `index`; the last chunk is shorter."""
    if not 0 <= index < chunk_count(frames, chunk_frames):
        raise IndexError(f"chunk {index} is outside the track ({frames} frames)")
    start = index * chunk_frames
    return start, min(frames, start + chunk_frames)


class RenderStopped(Exception):
    """The renderer's owner is closing: a calibration gives up between windows."""


@dataclass(frozen=True)
class RenderPlan:
    """What a render of (track, preset) needs beyond the audio: its chain and wet gain."""

    preset: Preset
    wet_gain: float


@dataclass(frozen=True)
class _WetWindow:
    """One sample window through a preset: what its calibration measures on it."""

    kept: npt.NDArray[np.float16]
    meter: LoudnessMeter
    """Its measured stretch (the settling fed first)."""
    true_peak: float
    profile: ProfilePart | None
    """How it sounds (None once the preset's profile on the track is known)."""
    seconds: float
    """Thread time its render took."""


class Renderer:
    """Renders chunks. One per thread: it owns its plugin chains; the caches are shared."""

    def __init__(
        self,
        config: EngineConfig,
        calibrations: LoudnessCalibrations | None = None,
        presets: PresetBook | None = None,
        speed: RenderSpeed | None = None,
    ):
        self.config = config
        # `is None`, not `or`: an empty shared cache must not be swapped for a private one.
        self.calibrations = LoudnessCalibrations() if calibrations is None else calibrations
        self.presets = PresetBook(config.sample_rate) if presets is None else presets
        """The engine's presets (the built-ins alone for an offline render)."""
        self.speed = RenderSpeed() if speed is None else speed
        """How fast renders go here (shared by an engine's renderers)."""
        self.slowdown = RenderSlowdown(config.render_slowdown)
        self._chains: OrderedDict[tuple[str, str], PresetChain] = OrderedDict()
        self._stopping = threading.Event()
        rate = config.sample_rate
        self.warmup_frames = round(config.warmup_seconds * rate)
        self.lookahead_frames = max(
            round(config.lookahead_seconds * rate), 2 * limiter_reach_frames(rate)
        )

    # -- public ---------------------------------------------------------------------------
    def stop_with(self, stopping: threading.Event) -> None:
        """Give up a calibration, a sample or its analysis between windows once `stopping`
        is set (`RenderStopped`).

        A closing pool waits for its threads, and a calibration is many windows long: a
        thread left in the plugin chain when the interpreter exits aborts the process."""
        self._stopping = stopping
        self.slowdown.stop_with(stopping.is_set)

    def _stop_if_asked(self) -> None:
        if self._stopping.is_set():
            raise RenderStopped

    def render_chunk(self, source: TrackSource, preset: str, intensity: float, index: int) -> Audio:
        """Chunk `index` of the track through `preset` at `intensity` (bucketed)."""
        start, stop = chunk_bounds(index, source.frames, self.config.chunk_frames)
        return self.render_range(source, preset, intensity, start, stop)

    def render_range(
        self, source: TrackSource, preset: str, intensity: float, start: int, stop: int
    ) -> Audio:
        """Frames [start, stop) exactly as a continuous render of the whole track has them
        (fewer only where the file really ends before `stop`)."""
        if preset == BYPASS:
            return self.original(source, start, stop)
        level = self.config.bucket_intensity(self.config.intensity_bucket(intensity))
        plan = self.plan(source, preset)
        chain = self._chain(source, plan.preset)
        before, after = chain.reach(self.config.sample_rate)  # a convolution's, else 0
        first = max(0, start - self.warmup_frames - before)
        started = time.thread_time()
        with self.slowdown.applied():
            dry = source.read_planar(first, stop + self.lookahead_frames + after)
            if dry.shape[1] <= start - first:
                return np.zeros((0, 2), dtype=np.float32)
            # Past the chain, only what the limiter needs to see for [start, stop) is kept:
            # width, mix and limiter work frame by frame or within its reach.
            reach = limiter_reach_frames(self.config.sample_rate)
            kept = slice(max(0, start - reach - first), stop + reach - first)
            wet = chain.process(dry, self.config.sample_rate, origin_frame=first, kept=kept)
            mixed = mix_dry_wet(dry[:, kept], wet, level, plan.wet_gain)
            processed = dry.shape[1]
            del dry, wet
            origin = first + kept.start
            limited = limit_true_peak(
                mixed, self.config.sample_rate, self.config.true_peak_ceiling_db, origin
            )
        self.speed.note(preset, time.thread_time() - started, processed)
        return interleaved(limited[:, start - origin : stop - origin])

    def original(
        self,
        source: TrackSource,
        start: int,
        stop: int,
        measure: bool = True,
        at_unity: bool = False,
    ) -> Audio:
        """The source itself, at the plain gain that keeps a hot master under the ceiling.

        The gain comes from the sample's true peak; a louder peak the sample did not see is
        caught by the true-peak limiter, which is otherwise a no-op (bit-exact setting aside).
        With `measure` False (the feeder, which must never wait a sampling out) a track not
        sampled yet plays at unity gain through the limiter: under the ceiling all the same.
        `at_unity` reads it that way whatever the sample says (to fade from it).
        """
        if self._original_untouched():
            return source.read(start, stop)
        summary = None if at_unity else self.calibrations.summary(source.content_key)
        if summary is None and measure and not at_unity:
            summary = self.summary(source)
        gain = np.float32(1.0 if summary is None else self._gain_for(summary))
        if summary is not None and self._far_below_ceiling(summary, float(gain)):
            audio = source.read(start, stop)
            return audio if gain == 1.0 else audio * gain
        reach = limiter_reach_frames(self.config.sample_rate)
        first = max(0, start - reach)
        window = source.read(first, stop + reach)
        if window.shape[0] <= start - first:
            return np.zeros((0, 2), dtype=np.float32)
        planar: Planar = np.ascontiguousarray(window.T) * gain
        limited = limit_true_peak(
            planar, self.config.sample_rate, self.config.true_peak_ceiling_db, origin_frame=first
        )
        return interleaved(limited[:, start - first : stop - first])

    def _far_below_ceiling(self, summary: TrackSample, gain: float) -> bool:
        """The sampled true peak, at `gain`, is so far under the ceiling that no peak the
        sample missed can reach it: the limiter's envelope need not even be computed."""
        peak_db = summary.true_peak_db + 20 * math.log10(gain)
        return peak_db < self.config.true_peak_ceiling_db - UNSAMPLED_PEAK_HEADROOM_DB

    def _original_untouched(self) -> bool:
        return self.config.loudness_mode != "matched" or self.config.original_bit_exact

    def original_gain(self, source: TrackSource) -> float:
        """1.0 unless the source's true peak is over the ceiling in matched mode (and the
        original is not kept bit-exact): then the reference goes down by the excess."""
        if self._original_untouched():
            return 1.0
        return self._gain_for(self.summary(source))

    def _gain_for(self, summary: TrackSample) -> float:
        return _linear(summary.reference_shift_db(self._reference_ceiling_db))

    def render_track(self, source: TrackSource, preset: str, intensity: float) -> Audio:
        """One continuous render of the whole track (the reference chunks must equal)."""
        return self.render_range(source, preset, intensity, 0, source.frames)

    def summary(self, source: TrackSource) -> TrackSample:
        """What the track's sample measured (loudness, true peak, analysis); sampled only
        if it never was (the windows themselves are kept for a couple of tracks)."""
        found = self.calibrations.summary(source.content_key)
        return found if found is not None else self.sample(source)

    def sample(self, source: TrackSource) -> TrackSample:
        """The track's sample windows and what they measure, decoded once per track (the
        windows shared out among the threads that ask for it at once)."""
        reading = SampleReading(source)  # where its windows start: cheap, read only if asked

        def window(index: int) -> MeasuredWindow | None:
            self._stop_if_asked()
            return reading.window(index)

        return self.calibrations.shared_sample(
            source.content_key, len(reading.starts), window, reading.sample
        )

    def is_prepared(self, source: TrackSource, preset: str) -> bool:
        """True when rendering `preset` needs no calibration or kernel design first (cheap,
        any thread)."""
        if preset == BYPASS:
            if self._original_untouched():
                return True
            return self.calibrations.summary(source.content_key) is not None
        key = (source.content_key, preset, self.config.loudness_mode)
        if self.calibrations.get(key) is None:
            return False
        # Calibrated, so an adaptive preset's analysis is there: resolving it is cheap.
        base = self.presets.get(preset)
        return not base.convolves or kernel_designed(
            self._resolve(source, preset), self.config.sample_rate
        )

    def prepare(self, source: TrackSource, preset: str) -> None:
        """Do ahead what a first render of `preset` would wait for: the track's sample, and
        the preset's calibration on it."""
        if preset == BYPASS:
            self.original_gain(source)
        else:
            plan = self.plan(source, preset)
            self._chain(source, plan.preset).kernel(self.config.sample_rate)  # if let go

    def plan(self, source: TrackSource, preset: str) -> RenderPlan:
        """The preset as it applies to this track, with its calibrated wet gain."""
        resolved = self._resolve(source, preset)
        key = (source.content_key, preset, self.config.loudness_mode)
        gain = self.calibrations.get(key)
        if gain is None:
            gain = self.calibrations.shared_gain(key, *self._calibration(source, resolved, key))
        return RenderPlan(resolved, gain)

    def whole_track_gain(self, source: TrackSource, preset: str) -> float:
        """The preset's gain calibrated now, apart from the one in use (see
        `LoudnessCalibrations.install`): once the whole track's loudness is known.

        What the first calibration measured sets it without a render, unless the new gain
        would have the limiter take something off (its effect on loudness is measured on
        the windows rendered again)."""
        key = (source.content_key, preset, self.config.loudness_mode)
        resolved = self._resolve(source, preset)
        wet = self.calibrations.wet(key)
        summary = self.calibrations.summary(source.content_key)
        if wet is not None and summary is not None:
            gain_db = self._first_gain_db(source, summary, resolved, key, wet)
            if gain_db is None or self._under_ceiling(wet, gain_db):
                return _linear(gain_db)
        count, window, finish = self._calibration(source, resolved, key)
        return SharedWork[_WetWindow, float](count).help(window, finish)  # alone: not in use

    # -- internals ------------------------------------------------------------------------
    def _resolve(self, source: TrackSource, preset: str) -> Preset:
        base = self.presets.get(preset)
        if not base.is_adaptive:
            return base
        analysis = self.calibrations.analysis(
            source.content_key,
            lambda: analyse_sample(
                self.sample(source), self.config.sample_rate, self._stop_if_asked
            ),
        )
        return adaptive_preset(base, analysis)

    def _chain(self, source: TrackSource, preset: Preset) -> PresetChain:
        owner = source.content_key if preset.is_adaptive else ""
        key = (preset.name, owner)
        chain = self._chains.get(key)
        if chain is None or chain.preset != preset:
            chain = PresetChain(preset)
            self._chains[key] = chain
            while len(self._chains) > 16:
                self._chains.popitem(last=False)
        return chain

    def _calibration(
        self, source: TrackSource, preset: Preset, key: tuple[str, str, str]
    ) -> tuple[int, Callable[[int], _WetWindow], Callable[[Sequence[_WetWindow]], float]]:
        """The wet gain that brings the limited, full-intensity render to the reference, as
        work in parts: each sample window rendered and measured (by whichever thread takes
        it, through its own chain), then the gain set from them all (`_gain_from`)."""
        sample = self.sample(source)
        chain = self._chain(source, preset)
        profiled = not self.calibrations.has_profile(source.content_key, preset.name)

        def window(index: int) -> _WetWindow:
            return self._wet_window(sample, chain, index, profiled)

        def finish(windows: Sequence[_WetWindow]) -> float:
            return self._gain_from(source, sample, preset, key, windows)

        return len(sample.windows), window, finish

    def _wet_window(
        self, sample: TrackSample, chain: PresetChain, index: int, profiled: bool
    ) -> _WetWindow:
        """Sample window `index` through the preset's chain (reset), measured; kept at half
        width for the limiter's passes (float16: its -66 dB rounding moves no loudness
        figure)."""
        self._stop_if_asked()
        rate = self.config.sample_rate
        started = time.thread_time()
        with self.slowdown.applied():
            wet = chain.process(sample.windows[index].astype(np.float32), rate)
            peak = window_true_peak(wet)
            kept = wet.astype(np.float16)
        seconds = time.thread_time() - started
        meter = measure_windows([wet], sample.settle_frames, rate)
        profile = profile_part(wet.mean(axis=0, dtype=np.float32), rate) if profiled else None
        return _WetWindow(kept, meter, peak, profile, seconds)

    def _gain_from(
        self,
        source: TrackSource,
        sample: TrackSample,
        preset: Preset,
        key: tuple[str, str, str],
        windows: Sequence[_WetWindow],
    ) -> float:
        """The gain from the wet windows' loudness; further passes correct for what the
        true-peak limiter takes off, on the kept windows. Silence keeps unity gain."""
        rate, settle = self.config.sample_rate, sample.settle_frames
        frames = sum(window.kept.shape[1] for window in windows)
        self.speed.note(preset.name, sum(window.seconds for window in windows), frames)
        self._note_profiles(source, sample, preset.name, windows)
        meter = LoudnessMeter.joined(rate, [window.meter for window in windows])
        measure = WetMeasure(
            meter.integrated(),
            tuple(meter.stretch_loudness()),
            max((window.true_peak for window in windows), default=0.0),
        )
        self.calibrations.put_wet(key, measure)
        gain_db = self._first_gain_db(source, sample, preset, key, measure)
        if gain_db is None or self._under_ceiling(measure, gain_db):
            return _linear(gain_db)
        target = gain_db + measure.loudness_lufs
        for _ in range(CALIBRATION_PASSES - 1):
            self._stop_if_asked()
            with self.slowdown.applied():
                error = target - self._limited_loudness(windows, settle, gain_db)
            if abs(error) < 0.05:
                break
            gain_db = _clamp_gain(gain_db + error)
        return _linear(gain_db)

    def _limited_loudness(
        self, windows: Sequence[_WetWindow], settle_frames: int, gain_db: float
    ) -> float:
        """The kept wet windows' loudness at `gain_db`, through the true-peak limiter.

        A window whose true peak stays under the limiter's threshold at that gain comes
        out of it untouched, and the K-weighting is linear: its stretch is its first
        measure scaled, not limited and metered again. On the corpus and the sample tracks
        the limiter acted on 284 of the 504 windows of such passes (70 ms a pass of all
        eight)."""
        rate, ceiling = self.config.sample_rate, self.config.true_peak_ceiling_db
        scale = _linear(gain_db)
        untouched_below = limiter_threshold(ceiling) / FLOAT16_PEAK_SLACK
        meters = []
        for window in windows:
            if window.true_peak * scale <= untouched_below:
                meters.append(window.meter.scaled(scale))
                continue
            gained = np.multiply(window.kept, np.float32(scale), dtype=np.float32)
            limited = limit_true_peak(gained, rate, ceiling)
            meters.append(measure_windows([limited], settle_frames, rate))
        return LoudnessMeter.joined(rate, meters).integrated()

    def _first_gain_db(
        self,
        source: TrackSource,
        sample: TrackSample,
        preset: Preset,
        key: tuple[str, str, str],
        wet: WetMeasure,
    ) -> float | None:
        """The gain in dB that brings the wet windows to the reference before the limiter;
        None for silence (unity gain). `sample` may be the summary, without its windows."""
        target = self._target_lufs(sample, preset)
        if is_silent(target) or is_silent(wet.loudness_lufs):
            return None
        correction = self._whole_track_correction(source, sample, preset, wet)
        if correction is None:
            self.calibrations.note_provisional(key)
        return _clamp_gain(target + (correction or 0.0) - wet.loudness_lufs)

    def _under_ceiling(self, wet: WetMeasure, gain_db: float) -> bool:
        """Where the gained wet path stays under the ceiling, the limiter takes nothing off."""
        return wet.true_peak * _linear(gain_db) <= _linear(self.config.true_peak_ceiling_db)

    def _note_profiles(
        self, source: TrackSource, sample: TrackSample, preset: str, wets: Sequence[_WetWindow]
    ) -> None:
        """How the preset sounds on the track's sample (and the original), each once per
        track and definition, so the player can say when a preset changes nothing audible
        on this music. A recalibration against the whole track changes a gain, not the
        sound: its profile stands."""
        calibrations, key = self.calibrations, source.content_key
        if sample.dry_profile is not None and not calibrations.has_profile(key, BYPASS):
            calibrations.put_profile(key, BYPASS, sample.dry_profile)
        parts = [wet.profile for wet in wets]
        if not calibrations.has_profile(key, preset) and all(p is not None for p in parts):
            calibrations.put_profile(key, preset, profile_of(p for p in parts if p is not None))

    def _whole_track_correction(
        self, source: TrackSource, sample: TrackSample, preset: Preset, wet: WetMeasure
    ) -> float | None:
        """LU to add to the sample's target so the whole track, not just its sample, comes
        out at the reference; None until the streaming analysis has read the whole track.

        The sample misses the source's whole-track loudness by `miss`; the original (a
        plain gain) moves by all of it, the preset by `slope` times it."""
        whole = self.calibrations.whole_loudness(source.content_key)
        if whole is None:
            return None
        if is_silent(whole) or is_silent(sample.loudness_lufs):
            return 0.0
        miss = whole - sample.loudness_lufs
        slope = loudness_slope(sample.window_lufs, wet.window_lufs)
        follows_source = self.config.loudness_mode != "targets" or preset.target_lufs is None
        return (miss if follows_source else 0.0) - slope * miss

    def _target_lufs(self, sample: TrackSample, preset: Preset) -> float:
        if self.config.loudness_mode == "targets" and preset.target_lufs is not None:
            return preset.target_lufs
        if self.config.original_bit_exact:
            return sample.loudness_lufs
        return sample.loudness_lufs + sample.reference_shift_db(self._reference_ceiling_db)

    @property
    def _reference_ceiling_db(self) -> float:
        """Where the sampled true peak of a hot original is brought: just under the point
        where the limiter starts, so the original stays a plain gain where the sample saw."""
        return self.config.true_peak_ceiling_db - LIMITER_MARGIN_DB - REFERENCE_MARGIN_DB


def _clamp_gain(gain_db: float) -> float:
    return max(-MAX_WET_GAIN_DB, min(MAX_WET_GAIN_DB, gain_db))


def _linear(gain_db: float | None) -> float:
    """A gain in dB as a factor; None (silence) is unity."""
    return 1.0 if gain_db is None else float(10 ** (gain_db / 20))


_thread_renderers = threading.local()


def render_chunk(
    source: TrackSource,
    preset: str,
    intensity: float,
    index: int,
    config: EngineConfig | None = None,
) -> npt.NDArray[np.float32]:
    """Convenience: render one chunk with this thread's default renderer."""
    config = config or EngineConfig()
    renderer: Renderer | None = getattr(_thread_renderers, "renderer", None)
    if renderer is None or renderer.config != config:
        renderer = Renderer(config)
        _thread_renderers.renderer = renderer
    return renderer.render_chunk(source, preset, intensity, index)
