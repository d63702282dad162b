"""Rendering chunks of a track through a preset, seamlessly and deterministically.

A chunk [start, stop) is rendered from [start - warm-up, stop + look-ahead) with every plugin
reset, then trimmed: filters and compressors have settled by `start`, and the look-ahead
limiter sees the audio after `stop`. So concatenated chunks equal one continuous render, and
since nothing adds latency (the limiter's look-ahead is paid by rendering ahead, not by
delaying), every preset is sample-aligned with the source and with each other.

Loudness is set per track, never per chunk: the wet path's gain comes from the whole track's
integrated loudness (BS.1770), calibrated once per (track, preset) and cached.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyloudnorm

from engine.analysis import AnalysisCache, TrackAnalysis
from engine.config import EngineConfig
from engine.dsp.chain import PresetChain, mix_dry_wet
from engine.dsp.limiter import limit_true_peak, limiter_reach_frames
from engine.dsp.presets import Preset, adaptive_preset, preset_named
from engine.dsp.truepeak import Planar
from engine.tracks import Audio, DecodedTrack

SILENCE_LUFS = -70.0
MAX_WET_GAIN_DB = 18.0
CALIBRATION_PASSES = 3


def chunk_count(frames: int, chunk_frames: int) -> int:
    return max(1, math.ceil(frames / chunk_frames))


def chunk_bounds(index: int, frames: int, chunk_frames: int) -> tuple[int, int]:
    """[start, stop) frames of chunk `index`; the last chunk is shorter."""
    if not 0 <= index < chunk_count(frames, chunk_frames):
        raise IndexError(f"chunk {index} is outside the track ({frames} frames)")
    start = index * chunk_frames
    return start, min(frames, start + chunk_frames)


def integrated_loudness(planar: Planar, sample_rate: int) -> float:
    """BS.1770 integrated loudness in LUFS; silence and too-short audio read -70."""
    if planar.shape[1] < int(0.4 * sample_rate):
        return SILENCE_LUFS
    meter = pyloudnorm.Meter(sample_rate)
    value = float(meter.integrated_loudness(np.asarray(planar.T, dtype=np.float64)))
    return value if math.isfinite(value) and value > SILENCE_LUFS else SILENCE_LUFS


@dataclass(frozen=True)
class RenderPlan:
    """What a render of (track, preset) needs beyond the audio: its chain and wet gain."""

    preset: Preset
    wet_gain: float


class LoudnessCalibrations:
    """Thread-safe, bounded cache of per-(track, preset, mode) wet gains."""

    def __init__(self, max_entries: int = 512) -> None:
        self._lock = threading.Lock()
        self._gains: OrderedDict[tuple[str, str, str], float] = OrderedDict()
        self._max_entries = max_entries
        self._computing: dict[tuple[str, str, str], threading.Lock] = {}

    def get_or_compute(self, key: tuple[str, str, str], compute: Callable[[], float]) -> float:
        """The gain for `key`, computed once even when several render threads ask at once."""
        gain = self.get(key)
        if gain is not None:
            return gain
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            gain = self.get(key)
            if gain is None:
                gain = compute()
                self.put(key, gain)
            with self._lock:
                self._computing.pop(key, None)
            return gain

    def get(self, key: tuple[str, str, str]) -> float | None:
        with self._lock:
            gain = self._gains.get(key)
            if gain is not None:
                self._gains.move_to_end(key)
            return gain

    def put(self, key: tuple[str, str, str], gain: float) -> None:
        with self._lock:
            self._gains[key] = gain
            while len(self._gains) > self._max_entries:
                self._gains.popitem(last=False)

    def forget_track(self, content_hash: str) -> None:
        with self._lock:
            for key in [key for key in self._gains if key[0] == content_hash]:
                del self._gains[key]


class Renderer:
    """Renders chunks. One per thread: it owns its plugin chains; the caches are shared."""

    def __init__(
        self,
        config: EngineConfig,
        analyses: AnalysisCache | None = None,
        calibrations: LoudnessCalibrations | None = None,
    ) -> None:
        self.config = config
        # `is None`, not `or`: an empty shared cache is falsy (it has a length), and a
        # renderer that swapped it for a private one would analyse every track again.
        self.analyses = AnalysisCache() if analyses is None else analyses
        self.calibrations = LoudnessCalibrations() if calibrations is None else calibrations
        self._chains: OrderedDict[tuple[str, str], PresetChain] = OrderedDict()
        rate = config.sample_rate
        self.warmup_frames = round(config.warmup_seconds * rate)
        self.lookahead_frames = max(
            round(config.lookahead_seconds * rate), 2 * limiter_reach_frames(rate)
        )

    # -- public ---------------------------------------------------------------------------
    def render_chunk(
        self, decoded: DecodedTrack, preset: str, intensity: float, index: int
    ) -> Audio:
        """Chunk `index` of the track through `preset` at `intensity` (bucketed)."""
        start, stop = chunk_bounds(index, decoded.samples.shape[0], self.config.chunk_frames)
        return self.render_range(decoded, preset, intensity, start, stop)

    def render_range(
        self, decoded: DecodedTrack, preset: str, intensity: float, start: int, stop: int
    ) -> Audio:
        """Frames [start, stop) exactly as a continuous render of the whole track has them."""
        samples = decoded.samples
        if preset_named(preset).is_bypass:
            return np.array(samples[start:stop], dtype=np.float32)
        level = self.config.bucket_intensity(self.config.intensity_bucket(intensity))
        plan = self.plan(decoded, preset)
        first = max(0, start - self.warmup_frames)
        last = min(samples.shape[0], stop + self.lookahead_frames)
        dry: Planar = np.ascontiguousarray(samples[first:last].T)
        wet = self._chain(decoded, plan.preset).process(dry, self.config.sample_rate)
        mixed = mix_dry_wet(dry, wet, level, plan.wet_gain)
        limited = limit_true_peak(
            mixed, self.config.sample_rate, self.config.true_peak_ceiling_db, origin_frame=first
        )
        return np.ascontiguousarray(limited[:, start - first : stop - first].T)

    def render_track(self, decoded: DecodedTrack, preset: str, intensity: float) -> Audio:
        """One continuous render of the whole track (the reference chunks must equal)."""
        return self.render_range(decoded, preset, intensity, 0, decoded.samples.shape[0])

    def analysis(self, decoded: DecodedTrack) -> TrackAnalysis:
        return self.analyses.get_or_compute(
            decoded.content_hash,
            decoded.samples,
            self.config.sample_rate,
            self.config.chunk_frames,
        )

    def is_prepared(self, decoded: DecodedTrack, preset: str) -> bool:
        """True when rendering `preset` needs no whole-track calibration first."""
        if preset_named(preset).is_bypass:
            return True
        key = (decoded.content_hash, preset, self.config.loudness_mode)
        return self.calibrations.get(key) is not None

    def plan(self, decoded: DecodedTrack, preset: str) -> RenderPlan:
        """The preset as it applies to this track, with its calibrated wet gain."""
        resolved = self._resolve(decoded, preset)
        key = (decoded.content_hash, preset, self.config.loudness_mode)
        gain = self.calibrations.get_or_compute(key, lambda: self._calibrate(decoded, resolved))
        return RenderPlan(resolved, gain)

    # -- internals ------------------------------------------------------------------------
    def _resolve(self, decoded: DecodedTrack, preset: str) -> Preset:
        base = preset_named(preset)
        return adaptive_preset(self.analysis(decoded)) if base.name == "adaptive" else base

    def _chain(self, decoded: DecodedTrack, preset: Preset) -> PresetChain:
        owner = decoded.content_hash if preset.name == "adaptive" else ""
        key = (preset.name, owner)
        chain = self._chains.get(key)
        if chain is None or chain.preset != preset:
            chain = PresetChain(preset)
            self._chains[key] = chain
            while len(self._chains) > 16:
                self._chains.popitem(last=False)
        return chain

    def _calibrate(self, decoded: DecodedTrack, preset: Preset) -> float:
        """Wet gain that brings the limited, full-intensity render to the target loudness.

        One pass sets the gain from the wet path's loudness; a second corrects for what the
        true-peak limiter took off. Silent tracks keep unity gain.
        """
        rate = self.config.sample_rate
        dry: Planar = np.ascontiguousarray(decoded.samples.T)
        target = self._target_lufs(decoded, preset)
        wet = self._chain(decoded, preset).process(dry, rate)
        measured = integrated_loudness(wet, rate)
        if target <= SILENCE_LUFS or measured <= SILENCE_LUFS:
            return 1.0
        gain_db = _clamp_gain(target - measured)
        for _ in range(CALIBRATION_PASSES - 1):
            scaled = wet * np.float32(10 ** (gain_db / 20))
            limited = limit_true_peak(scaled, rate, self.config.true_peak_ceiling_db)
            error = target - integrated_loudness(limited, rate)
            if abs(error) < 0.05:
                break
            gain_db = _clamp_gain(gain_db + error)
        return float(10 ** (gain_db / 20))

    def _target_lufs(self, decoded: DecodedTrack, preset: Preset) -> float:
        if self.config.loudness_mode == "targets" and preset.target_lufs is not None:
            return preset.target_lufs
        return self.analysis(decoded).loudness_lufs


def _clamp_gain(gain_db: float) -> float:
    return max(-MAX_WET_GAIN_DB, min(MAX_WET_GAIN_DB, gain_db))


_thread_renderers = threading.local()


def render_chunk(
    decoded: DecodedTrack,
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
    return renderer.render_chunk(decoded, preset, intensity, index)
