"""Per-track loudness calibration from a sample of windows, not from whole-track renders.

Rendering a whole 5-minute track through every preset to learn its loudness took up to 1 GB
and 20 s before the buffer could start. A preset's effect on loudness is a property of its
EQ and dynamics against the music's spectrum and level, which a handful of short windows
spread over the track show as well as the whole: so the dry windows are decoded once, each
preset renders just those (reset per window, the first half second discarded as settling),
and the wet gain is what brings their gated loudness to the reference. The windows also give
the track's sampled analysis (band balance, dynamics) that the adaptive preset follows.

Loud masters: when the source's true peak is above the ceiling, the shared reference goes
down by the excess and the original gets that plain gain (ReplayGain's clipping
prevention), so no preset is pushed through decibels of limiting to match a hot original.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from engine.dsp.distinctness import ProfilePart, SoundProfile, profile_of, profile_part
from engine.dsp.loudness import SILENCE_LUFS, LoudnessMeter
from engine.dsp.truepeak import window_true_peak
from engine.frames import Planar
from engine.library.analysis import Features, TrackAnalysis, analyse
from engine.library.source import TrackSource

SAMPLE_WINDOWS = 8
"""Measured on 16 real tracks, six presets rendered whole against the sample's gains: 8
windows of 5 s left the presets up to 0.69 LU apart (mean 0.28), 12 of 3.5 s 0.42 (mean
0.22). Twelve seeks made a track's first renders slower (5.3 s instead of 3.0 s to ready
on a 60 s Ogg track) and lost switches under load, so it waits for a cheaper sample."""
SETTLE_SECONDS = 0.5
"""Rendered before each measured stretch and not measured: filters and compressors settle."""
MEASURE_SECONDS = 5.0
SLOPE_FLOOR_LUFS = -60.0
"""Windows quieter than this (fades, silence) say nothing about a preset's slope."""
SLOPE_MIN_WINDOWS = 3
SLOPE_MIN_RANGE_LU = 1.0
SLOPE_MAX = 1.5


@dataclass(frozen=True)
class TrackSample:
    """Dry windows spread over a track, with what they say about it."""

    windows: tuple[npt.NDArray[np.float16], ...]
    """Planar (2, frames): `settle_frames` of settling, then the measured stretch. Kept as
    float16 (half the bytes; its -66 dB rounding moves no loudness figure) and widened
    to float32 one window at a time."""
    settle_frames: int
    loudness_lufs: float
    """Gated loudness of the measured stretches: the matched presets' reference."""
    true_peak_db: float
    """Highest true peak over the whole windows, settling included (4x oversampled): a
    short track's back-to-back windows then see every peak it has."""
    window_lufs: tuple[float, ...] = ()
    """Gated loudness of each measured stretch alone: how a preset's loudness follows the
    source's, from window to window (`loudness_slope`)."""
    dry_profile: SoundProfile | None = None
    """How the windows sound as they are (the original's profile, `distinctness.py`)."""

    @property
    def nbytes(self) -> int:
        return sum(window.nbytes for window in self.windows)

    def reference_shift_db(self, ceiling_db: float) -> float:
        """How far the shared reference goes below the source: its true-peak excess."""
        if not math.isfinite(self.true_peak_db):
            return 0.0
        return min(0.0, ceiling_db - self.true_peak_db)


@dataclass(frozen=True)
class WetMeasure:
    """What a preset's calibration measured on a track's sample windows, rendered: its
    gain can be set again against the whole track's loudness from these alone, unless the
    limiter would then take something off (then the windows are rendered again)."""

    loudness_lufs: float
    """Gated loudness of the wet windows' measured stretches, before any gain."""
    window_lufs: tuple[float, ...]
    """Each stretch's own (the slope against the source's, `loudness_slope`)."""
    true_peak: float
    """Highest true peak of the wet windows, linear."""


def window_starts(frames: int, span: int, count: int) -> list[int]:
    """Where the windows start: evenly spread, first at 0 and last ending at the end. On a
    track too short for `count` apart windows they overlap, and up to `count` measured
    stretches long, those stretches cover it whole: back to back, they left the settling
    and the tail unmeasured and missed a 40 s track's loudness by up to 0.54 LU (0.07
    now), which rendered its presets' calibrations again once the whole track was read."""
    if frames <= span:
        return [0]
    return [round(k * (frames - span) / (count - 1)) for k in range(count)]


@dataclass(frozen=True)
class MeasuredWindow:
    """One sample window, decoded and measured on whichever thread took it."""

    window: npt.NDArray[np.float16]
    meter: LoudnessMeter
    """Its measured stretch, the settling fed first (one stretch, for `LoudnessMeter.joined`)."""
    true_peak: float
    profile: ProfilePart


class SampleReading:
    """A track's sample read window by window (`window`, any thread, any order), then put
    together (`sample`): the windows are shared out among the threads that want it."""

    def __init__(self, source: TrackSource) -> None:
        self.source = source
        self.settle = round(SETTLE_SECONDS * source.sample_rate)
        self.span = self.settle + round(MEASURE_SECONDS * source.sample_rate)
        self.starts = window_starts(source.frames, self.span, SAMPLE_WINDOWS)

    def window(self, index: int) -> MeasuredWindow | None:
        """Window `index` decoded and measured (None past the end of a shorter track)."""
        start, settle = self.starts[index], self.settle
        audio = self.source.read(start, start + self.span, keep=False)
        if audio.shape[0] <= settle:
            return None
        meter = LoudnessMeter(self.source.sample_rate)
        meter.feed(audio[:settle])
        meter.reset_steps()
        meter.feed(audio[settle:])
        planar = np.ascontiguousarray(audio.T)
        profile = profile_part(planar.mean(axis=0), self.source.sample_rate)
        return MeasuredWindow(planar.astype(np.float16), meter, window_true_peak(planar), profile)

    def sample(self, windows: Sequence[MeasuredWindow | None]) -> TrackSample:
        """The sample from its windows in order; the true peak counts the settling too."""
        read = [window for window in windows if window is not None]
        meter = LoudnessMeter.joined(self.source.sample_rate, [w.meter for w in read])
        peak = max((window.true_peak for window in read), default=0.0)
        peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
        lufs = tuple(meter.stretch_loudness())
        return TrackSample(
            tuple(window.window for window in read),
            self.settle,
            meter.integrated(),
            peak_db,
            lufs,
            profile_of(window.profile for window in read),
        )


def analyse_sample(
    sample: TrackSample, rate: int, between: Callable[[], None] = lambda: None
) -> TrackAnalysis:
    """Features and band balance of the measured stretches (the adaptive preset's input);
    apart from the sample itself, since only the adaptive preset waits for it.

    Each stretch is analysed alone (the analysis of 40 s at once peaked at 106 MB): the
    features are their mean, the band balance their mean power, the peak their highest."""
    settle = sample.settle_frames
    parts = []
    for window in sample.windows:
        between()
        parts.append(
            analyse(np.ascontiguousarray(window[:, settle:].T, dtype=np.float32), rate, 1 << 30)
        )
    parts = [part for part in parts if not part.failed]
    if not parts:
        return analyse(np.zeros((0, 2), np.float32), rate, 1)
    features = Features(
        *(float(np.mean([getattr(p.features, f.name) for p in parts])) for f in fields(Features))
    )
    bands = np.mean([np.power(10.0, np.asarray(p.band_levels_db) / 10) for p in parts], axis=0)
    return TrackAnalysis(
        features=features,
        chunk_features=(features,),
        loudness_lufs=sample.loudness_lufs,
        peak_dbfs=max(p.peak_dbfs for p in parts),
        band_levels_db=tuple(float(10 * np.log10(max(b, 1e-30))) for b in bands),
        failed=False,
    )


def measure_windows(windows: Iterable[Planar], settle_frames: int, rate: int) -> LoudnessMeter:
    """A meter fed each window's measured stretch as a stretch of its own (filters fed the
    settling first): its integrated loudness, and each window's."""
    meter = LoudnessMeter(rate)
    for window in windows:
        meter.segment()
        meter.feed(window[:, :settle_frames].T)
        meter.reset_steps()
        meter.feed(window[:, settle_frames:].T)
    return meter


def loudness_slope(dry_lufs: Sequence[float], wet_lufs: Sequence[float]) -> float:
    """How many LU a preset's loudness moves per LU of the source's, fitted over the sample
    windows: 1 for a plain EQ, below 1 where a compressor holds loud passages back.

    The sample's loudness misses the whole track's by a few tenths of an LU; a preset with
    a slope of 0.5 misses by half as much, so the presets drift apart by the difference.
    Knowing the whole track's loudness (the streaming analysis), that difference is taken
    out. Too few audible windows, or windows too alike to fit, give 1: no correction."""
    pairs = [
        (dry, wet)
        for dry, wet in zip(dry_lufs, wet_lufs, strict=False)
        if dry > SLOPE_FLOOR_LUFS and wet > SLOPE_FLOOR_LUFS
    ]
    if len(pairs) < SLOPE_MIN_WINDOWS:
        return 1.0
    dry = np.array([d for d, _ in pairs])
    wet = np.array([w for _, w in pairs])
    if float(np.ptp(dry)) < SLOPE_MIN_RANGE_LU:
        return 1.0
    slope = float(np.polyfit(dry, wet, 1)[0])
    return min(max(slope, 0.0), SLOPE_MAX)


def is_silent(lufs: float) -> bool:
    return lufs <= SILENCE_LUFS
