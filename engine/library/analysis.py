"""Audio analysis: whole-track and per-chunk features for the adaptive preset and the predictor.

Two consumers need to know what a track sounds like: the `adaptive` mastering preset derives its
EQ tilt and compression from the whole-track band balance, loudness and dynamics, and the
next-preset predictor uses the five features as a content prior. Both run while music plays, so
the analysis must be cheap (one pass over a track, well under half a second for a minute of
audio), must never raise (a damaged track still plays, with neutral features) and must give the
same answer for the same samples (it is cached by content hash).

How: one short-time Fourier transform of the mono mix (~46 ms Hann frames, 50 % overlap) is
reduced per frame to a few numbers (octave-band powers, voice-band power, frame level, onset
strength, harmonicity). The features of any segment, the whole track or one chunk, are then
differences of cumulative sums of those numbers, so ten chunks or ten thousand cost the same
single pass. Each feature is computed in isolation: if one fails or is not finite it becomes
0.5 (neutral) and the others stand.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from engine.dsp.loudness import integrated_loudness
from engine.library.tracks import MAX_NATIVE_RATE, MIN_NATIVE_RATE, to_stereo

FloatArray = npt.NDArray[np.float64]
Samples = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]

NEUTRAL = 0.5
"""What a feature falls back to when it cannot be measured: the middle of its range."""

FEATURE_NAMES: tuple[str, ...] = (
    "energy",
    "brightness",
    "dynamics",
    "vocal_presence",
    "tempo_energy",
)

OCTAVE_CENTRES_HZ: tuple[float, ...] = tuple(1000.0 * 2.0 ** (k - 5) for k in range(10))
"""Exact base-2 octave centres, nominally 31.5, 63, 125, ..., 8k, 16k Hz."""
BAND_FLOOR_DB = -120.0
"""Level reported for an octave band with no content (e.g. above Nyquist)."""
NEUTRAL_BAND_DB = 10.0 * math.log10(1.0 / len(OCTAVE_CENTRES_HZ))
"""Equal energy per octave (pink): what the adaptive preset reads as 'no tilt needed'."""

SILENT_LUFS = -70.0
"""BS.1770 absolute gate: anything quieter is reported as silence."""
MAX_LUFS = 10.0
SILENT_PEAK_DBFS = -120.0
LOUDNESS_BLOCK_SECONDS = 0.4
"""Input shorter than one 400 ms gating block has no loudness of its own (it is looped)."""

FRAME_SECONDS = 0.046
"""STFT frame: long enough to resolve harmonics of a 100 Hz voice, short enough for onsets."""
MIN_FRAME_SAMPLES = 64
SQUARE_BLOCK = 1 << 16
"""Samples squared at a time for the level statistics (256 KB of float32)."""
FRAMES_PER_BLOCK = 256
"""Frames transformed together: 2 MB of float32 at 44.1 kHz, small enough to stay in cache."""

ENERGY_RANGE_DBFS = (-40.0, -6.0)
"""RMS level mapped to energy 0..1: -40 dBFS is a quiet passage, -6 dBFS a brickwalled master."""
BRIGHTNESS_CENTROID_HZ = (200.0, 10_000.0)
"""Spectral centroid mapped to brightness 0..1 on a log-frequency axis."""
CREST_RANGE_DB = (3.0, 20.0)
"""Peak-to-RMS: 3 dB is a sine (no dynamics), 20 dB an uncompressed acoustic recording."""
LEVEL_SPREAD_RANGE_DB = (0.0, 10.0)
"""Standard deviation of ~46 ms frame levels: how much the level moves from moment to moment."""
LEVEL_FLOOR_DBFS = -60.0
"""Frame levels are floored here so digital silence between hits counts, but not as -inf."""

VOICE_BAND_HZ = (300.0, 3400.0)
"""The telephone band: where the formants that make speech and singing intelligible live."""
VOICE_SHARE_FULL = 0.5
"""Voice-band share of energy that counts as fully voice-dominated (bass takes the rest)."""
PITCH_RANGE_HZ = (80.0, 650.0)
"""Fundamentals searched for harmonic spacing: low male speech to a high soprano."""
HARMONICITY_RANGE = (0.1, 0.6)
"""Harmonic comb contrast mapped to 0..1: noise sits near 0, a sung vowel near 0.6."""
HARMONIC_RELIEF_DB = 3.0
"""A voice-band spectrum flatter than this (std of its detrended log) has no structure to hear:
an impulse's flat spectrum would otherwise show random 'harmonics' made of rounding noise."""
LOG_SPECTRUM_RANGE_DB = 60.0
"""Bins more than this far below a frame's loudest voice-band bin are floored (window leakage)."""

ONSET_BAND_EDGES = (0, 3, 4, 5, 6, 7, 8, 9, 10)
"""Onsets are measured per octave band from 177 Hz up (the three lowest octaves, too few FFT
bins to be steady on their own, are merged): a hi-hat over a held pad stands out in its own
octave, where a broad band would average it away."""
ONSET_RISE_DB = (5.0, 14.0)
"""A band level rise (over the louder of the two previous frames) below 5 dB is not an onset
(noise flickers that much); 14 dB or more in one band, or smaller rises in several bands at
once, make a full one."""
ONSET_FLOOR_DBFS = -90.0
ONSET_RANGE_DB = 40.0
"""Bands this far below the loudest recent frame are ignored: leakage, not music."""
ONSET_RATE_SCALE = 2.0
"""Onsets per second at which tempo energy reaches 1 - 1/e; 120 bpm clicks give about 0.7."""

_TINY = 1e-30


@dataclass(frozen=True)
class Features:
    """Five perceptual descriptors in [0, 1]; 0.5 means 'unknown' as much as 'medium'.

    Values are sanitised on construction (non-finite -> 0.5, others clamped), so every
    consumer can rely on the range whoever built the object.
    """

    energy: float
    brightness: float
    dynamics: float
    vocal_presence: float
    tempo_energy: float

    def __post_init__(self) -> None:
        for item in fields(self):
            object.__setattr__(self, item.name, _unit_or_neutral(getattr(self, item.name)))

    @staticmethod
    def neutral() -> Features:
        """The prior to use when nothing is known about a track."""
        return Features(NEUTRAL, NEUTRAL, NEUTRAL, NEUTRAL, NEUTRAL)

    def as_vector(self) -> tuple[float, ...]:
        """Values in FEATURE_NAMES order, for the predictor's feature vector."""
        return tuple(getattr(self, name) for name in FEATURE_NAMES)


@dataclass(frozen=True)
class TrackAnalysis:
    """Everything the adaptive preset and the predictor need to know about one track."""

    features: Features
    chunk_features: tuple[Features, ...]
    """One per chunk of `chunk_frames` samples; the last, partial chunk included."""
    loudness_lufs: float
    """ITU-R BS.1770 integrated loudness in [-70, +10]; -70 means silence."""
    peak_dbfs: float
    """Sample peak; -120 for silence, never -inf."""
    band_levels_db: tuple[float, ...]
    """Level of each octave band (OCTAVE_CENTRES_HZ) in dB relative to their sum."""
    failed: bool
    """True if the analysis could not run and every value is a neutral fallback."""


def _unit_or_neutral(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return NEUTRAL
    return min(max(number, 0.0), 1.0) if math.isfinite(number) else NEUTRAL


def analyse(samples: npt.NDArray[np.float32], sample_rate: int, chunk_frames: int) -> TrackAnalysis:
    """Analyse a track (float32, (frames, 2)); never raises, whatever the input.

    Analysis is advisory: a track whose analysis fails still plays, mastered with neutral
    parameters, so every failure is turned into `failed=True` and neutral values here.
    """
    try:
        with np.errstate(all="ignore"):
            return _analyse_unchecked(samples, int(sample_rate), int(chunk_frames))
    except Exception:  # noqa: BLE001 - analysis is advisory: a track must play without it
        return _failed_analysis(samples, chunk_frames)


def window_features(samples: npt.NDArray[np.float32], sample_rate: int) -> Features:
    """The features of one stretch as a whole (the analysis pass's chunk); never raises.

    Without what `analyse` adds for a track (integrated loudness, band levels): the pass
    meters loudness once over the whole track, and a loudness per chunk was 40% of its
    time."""
    try:
        with np.errstate(all="ignore"):
            return _measure(samples, int(sample_rate), 0)[0][0]
    except Exception:  # noqa: BLE001 - analysis is advisory
        return Features.neutral()


def _measure(
    samples: npt.NDArray[np.float32], sample_rate: int, chunk_frames: int
) -> tuple[list[Features], Samples, _SampleStats, _FrameSpectra]:
    """(features of the whole then of each chunk, the clean stereo, levels, spectra)."""
    if not MIN_NATIVE_RATE <= sample_rate <= MAX_NATIVE_RATE:
        raise ValueError(f"absurd sample rate {sample_rate} Hz")
    stereo = _clean_stereo(samples)
    if stereo.shape[0] == 0:
        raise ValueError("no frames")
    chunk_starts = _chunk_starts(stereo.shape[0], chunk_frames)
    level_stats = _SampleStats.measure(stereo, chunk_starts)
    mono = stereo[:, 0] + stereo[:, 1]
    mono *= np.float32(0.5)
    spectra = _FrameSpectra.measure(mono, sample_rate)
    frame_ranges = _segment_frame_ranges(chunk_starts, stereo.shape[0], spectra)
    table = _feature_table(level_stats, spectra, frame_ranges)
    return [Features(*row) for row in table], stereo, level_stats, spectra


def _analyse_unchecked(
    samples: npt.NDArray[np.float32], sample_rate: int, chunk_frames: int
) -> TrackAnalysis:
    (whole, *chunks), stereo, level_stats, spectra = _measure(samples, sample_rate, chunk_frames)
    return TrackAnalysis(
        features=whole,
        chunk_features=tuple(chunks),
        loudness_lufs=_integrated_loudness(stereo, sample_rate),
        peak_dbfs=_peak_dbfs(level_stats.peak[0]),
        band_levels_db=_band_levels_db(spectra.band_power.sum(axis=0)),
        failed=False,
    )


def _failed_analysis(samples: object, chunk_frames: int) -> TrackAnalysis:
    """Neutral everything; still one Features per chunk so callers can index by chunk."""
    try:
        count = len(_chunk_starts(len(samples), int(chunk_frames)))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        count = 0
    neutral = Features.neutral()
    return TrackAnalysis(
        features=neutral,
        chunk_features=(neutral,) * count,
        loudness_lufs=SILENT_LUFS,
        peak_dbfs=SILENT_PEAK_DBFS,
        band_levels_db=(NEUTRAL_BAND_DB,) * len(OCTAVE_CENTRES_HZ),
        failed=True,
    )


def _clean_stereo(samples: object) -> Samples:
    """Contiguous float32 stereo with NaN/Inf as silence (as load_track does).

    The caller's array is copied only when something must change: analysing must not touch it.
    """
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[1] != 2:
        audio = _any_layout_to_stereo(audio)
    audio = np.ascontiguousarray(audio)
    if not math.isfinite(np.add.reduce(audio.reshape(-1), dtype=np.float64)):
        # A float64 sum of float32 cannot overflow: it is finite iff every sample is.
        audio = np.where(np.isfinite(audio), audio, np.float32(0.0))
    return audio


def _any_layout_to_stereo(audio: Samples) -> Samples:
    """Scalars, mono vectors and multichannel arrays, mapped the way load_track maps files."""
    if audio.ndim == 0:
        audio = audio.reshape(1, 1)
    elif audio.ndim == 1:
        audio = audio[:, None]
    elif audio.ndim > 2:
        audio = audio.reshape(audio.shape[0], -1)
    if audio.shape[0] and audio.shape[1] == 0:
        raise ValueError("no channels")
    return to_stereo(audio.astype(np.float64)).astype(np.float32)


def _chunk_starts(frame_count: int, chunk_frames: int) -> IndexArray:
    """First sample of every chunk; a non-positive chunk length means one chunk."""
    if frame_count <= 0:
        return np.zeros(0, dtype=np.int64)
    step = chunk_frames if chunk_frames > 0 else frame_count
    return np.arange(0, frame_count, step, dtype=np.int64)


# --- sample-domain statistics -----------------------------------------------------------------


@dataclass(frozen=True)
class _SampleStats:
    """Per-segment level statistics; row 0 is the whole track, rows 1.. the chunks."""

    power: FloatArray
    """Mean square per channel, averaged over channels (what the speakers deliver)."""
    ac_power: FloatArray
    """Same without DC: a DC offset is inaudible and must not read as energy."""
    peak: FloatArray

    @staticmethod
    def measure(stereo: Samples, chunk_starts: IndexArray) -> _SampleStats:
        """One reduction per statistic over all chunks; the whole track is their total.

        Squares and peaks run on the interleaved samples (both channels of a chunk are one
        contiguous run), which keeps numpy on its fast one-dimensional path.
        """
        interleaved = stereo.reshape(-1)
        starts = 2 * chunk_starts
        lengths = np.diff(np.append(chunk_starts, stereo.shape[0])).astype(np.float64)
        sums = np.add.reduceat(stereo, chunk_starts, axis=0, dtype=np.float64)
        squares = _chunk_sums_of_squares(interleaved, starts)
        highest = np.maximum.reduceat(interleaved, starts).astype(np.float64)
        lowest = np.minimum.reduceat(interleaved, starts).astype(np.float64)
        peaks = np.maximum(highest, -lowest)
        lengths = np.append(lengths.sum(), lengths)
        power = np.append(squares.sum(), squares) / (2.0 * lengths)
        means = np.vstack([sums.sum(axis=0), sums]) / lengths[:, None]
        dc_power = 0.5 * (np.square(means[:, 0]) + np.square(means[:, 1]))
        return _SampleStats(
            power=power,
            ac_power=np.maximum(power - dc_power, 0.0),
            peak=np.append(peaks.max(), peaks),
        )


def _chunk_sums_of_squares(interleaved: Samples, starts: IndexArray) -> FloatArray:
    """Sum of squares per chunk, squaring SQUARE_BLOCK samples at a time.

    Squaring the whole track at once would allocate a temporary as large as the track: slow
    to fault in on first use and, for an hour of audio, over a gigabyte.
    """
    sums = np.zeros(starts.shape[0])
    for low in range(0, interleaved.shape[0], SQUARE_BLOCK):
        high = min(low + SQUARE_BLOCK, interleaved.shape[0])
        first = int(np.searchsorted(starts, low, side="right")) - 1
        last = int(np.searchsorted(starts, high, side="left"))
        cuts = np.append(low, starts[first + 1 : last]) - low
        block = np.square(interleaved[low:high])
        sums[first:last] += np.add.reduceat(block, cuts, dtype=np.float64)
    return sums


def _peak_dbfs(peak: float) -> float:
    return 20.0 * math.log10(peak) if peak > 10.0 ** (SILENT_PEAK_DBFS / 20.0) else SILENT_PEAK_DBFS


def _integrated_loudness(stereo: Samples, sample_rate: int) -> float:
    """BS.1770 integrated loudness, clamped to [-70, +10] LUFS.

    Input shorter than one gating block is looped, not zero-padded: a loop has the loudness of
    the original, silence would pull it down.
    """
    min_frames = math.ceil(LOUDNESS_BLOCK_SECONDS * sample_rate) + 1
    if stereo.shape[0] < min_frames:
        stereo = np.resize(stereo, (min_frames, stereo.shape[1]))
    try:
        lufs = integrated_loudness(stereo, sample_rate)
    except (ValueError, ArithmeticError, FloatingPointError):
        return SILENT_LUFS
    if math.isnan(lufs):
        return SILENT_LUFS
    return min(max(lufs, SILENT_LUFS), MAX_LUFS)


def _band_levels_db(band_power: FloatArray) -> tuple[float, ...]:
    """Octave-band levels relative to their sum; pink (flat per octave) when there is nothing."""
    total = float(band_power.sum())
    if not (math.isfinite(total) and total > 0.0):
        return (NEUTRAL_BAND_DB,) * len(OCTAVE_CENTRES_HZ)
    share = np.maximum(band_power / total, 10.0 ** (BAND_FLOOR_DB / 10.0))
    return tuple(float(level) for level in np.clip(10.0 * np.log10(share), BAND_FLOOR_DB, 0.0))


# --- frame-domain reductions ------------------------------------------------------------------


@dataclass(frozen=True)
class _FrameSpectra:
    """Per-frame reductions of the mono STFT; frame t is centred on sample t * hop."""

    hop_seconds: float
    hop: int
    band_power: FloatArray
    """(frames, 10): power per octave band, in mean-square units of the frame."""
    voice_power: FloatArray
    centroid_moment: FloatArray
    """Sum of power x frequency (Hz) over the octave bands' range."""
    level_db: FloatArray
    onset: FloatArray
    """Onset strength in [0, 1] per frame."""
    harmonicity: FloatArray

    @staticmethod
    def measure(mono: Samples, sample_rate: int) -> _FrameSpectra:
        size = _frame_size(sample_rate)
        hop = size // 2
        reduced, harmonicity = _reduce_spectra(mono, sample_rate, size)
        band_power = reduced[:, : len(OCTAVE_CENTRES_HZ)]
        return _FrameSpectra(
            hop_seconds=hop / sample_rate,
            hop=hop,
            band_power=band_power,
            voice_power=reduced[:, -2],
            centroid_moment=reduced[:, -1],
            level_db=_power_db(band_power.sum(axis=1), LEVEL_FLOOR_DBFS),
            onset=_onset_strength(band_power, mono.shape[0], size),
            harmonicity=harmonicity,
        )


def _frame_size(sample_rate: int) -> int:
    """Power of two nearest to FRAME_SECONDS (2048 at 44.1 and 48 kHz)."""
    return max(MIN_FRAME_SAMPLES, 1 << round(math.log2(FRAME_SECONDS * sample_rate)))


def _reduce_spectra(mono: Samples, sample_rate: int, size: int) -> tuple[FloatArray, FloatArray]:
    """Per-frame band reductions and harmonicity, FRAMES_PER_BLOCK frames at a time.

    Frames are centred (reflect-padded ends) with 50 % overlap. Working in blocks keeps the
    spectra in cache and never holds a whole-track spectrogram (tens of MB) in memory.
    """
    frequencies = np.arange(size // 2 + 1, dtype=np.float64) * (sample_rate / size)
    bounds = _band_bounds(frequencies)
    voice = slice(int(bounds[-2]), int(bounds[-1]))
    window = np.hanning(size + 2)[1:-1].astype(np.float32)
    padded = np.pad(mono, size // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, size)[:: size // 2]
    reduced: list[FloatArray] = []
    harmonicity: list[FloatArray] = []
    for first in range(0, frames.shape[0], FRAMES_PER_BLOCK):
        power = _power_spectra(frames[first : first + FRAMES_PER_BLOCK], window)
        reduced.append(_reduce_bins(power, frequencies, bounds))
        harmonicity.append(_harmonicity(power[:, voice], sample_rate / size))
    return np.concatenate(reduced), np.concatenate(harmonicity)


def _power_spectra(frames: Samples, window: Samples) -> Samples:
    """(frames, bins) one-sided power, scaled so a frame's bins sum to its mean square.

    Each frame's own mean is removed first, so a DC offset or a slow drift cannot leak into
    the lowest bands.
    """
    size = frames.shape[1]
    centred = frames - frames.mean(axis=1, keepdims=True, dtype=np.float32)
    centred *= window
    spectrum = np.fft.rfft(centred, axis=1).astype(np.complex64, copy=False)  # float32 in
    power = np.square(spectrum.real)
    power += np.square(spectrum.imag)
    scale = np.full(power.shape[1], 2.0 / (size * float(np.sum(np.square(window)))))
    scale[0] /= 2.0
    scale[-1] /= 2.0
    power *= scale.astype(np.float32)
    return power


def _band_bounds(frequencies: FloatArray) -> IndexArray:
    """Bin indices: 11 edges of the (contiguous) octave bands, then the voice band's two."""
    centres = np.asarray(OCTAVE_CENTRES_HZ)
    edges = np.append(centres / math.sqrt(2.0), centres[-1] * math.sqrt(2.0))
    return np.searchsorted(frequencies, np.append(edges, VOICE_BAND_HZ)).astype(np.int64)


def _reduce_bins(power: Samples, frequencies: FloatArray, bounds: IndexArray) -> FloatArray:
    """(frames, 12): octave-band powers, voice-band power, power x frequency over the octaves.

    Bin ranges are read off float64 cumulative sums: empty bands come out as exactly zero and
    no BLAS call is needed, here or for the moment (its worker threads cost more than this
    work on a busy machine).
    """
    zero = np.zeros((power.shape[0], 1))
    cumulative = np.hstack([zero, np.cumsum(power, axis=1, dtype=np.float64)])
    sums = cumulative[:, bounds[1:]] - cumulative[:, bounds[:-1]]
    octaves = slice(int(bounds[0]), int(bounds[len(OCTAVE_CENTRES_HZ)]))
    moment: FloatArray = (power[:, octaves] * frequencies[octaves]).sum(axis=1)
    band_count = len(OCTAVE_CENTRES_HZ)
    return np.hstack([sums[:, :band_count], sums[:, -1:], moment[:, None]])


def _power_db(power: FloatArray, floor_db: float) -> FloatArray:
    return np.asarray(10.0 * np.log10(np.maximum(power, 10.0 ** (floor_db / 10.0))))


def _onset_strength(band_power: FloatArray, sample_count: int, size: int) -> FloatArray:
    """Per-frame onset strength in [0, 1]: how sharply band levels rise, summed over bands.

    The rise is measured against the louder of the two previous frames, so a hit straddling two
    frames counts once. Both sides are floored ONSET_RANGE_DB below the loudest of the three
    frames, so a near-empty band flickering in the window's leakage is not an onset, while a
    hit out of digital silence is a full one. Frames whose window runs past either end of the
    track see the padding, not music, and get none.
    """
    pairs = itertools.pairwise(ONSET_BAND_EDGES)
    broad = np.stack([band_power[:, lo:hi].sum(axis=1) for lo, hi in pairs], axis=1)
    level = _power_db(broad, ONSET_FLOOR_DBFS)
    previous = _previous_frames(level)
    frame_level = _power_db(broad.sum(axis=1), ONSET_FLOOR_DBFS)
    floor = np.max(_previous_frames(frame_level[:, None]), axis=0)[:, 0]
    floor = np.maximum(np.maximum(floor, frame_level) - ONSET_RANGE_DB, ONSET_FLOOR_DBFS)[:, None]
    rise = np.maximum(level, floor) - np.maximum(np.max(previous, axis=0), floor)
    low, high = ONSET_RISE_DB
    strength = np.minimum(np.clip((rise - low) / (high - low), 0.0, 1.0).sum(axis=1), 1.0)
    centres = np.arange(level.shape[0]) * (size // 2)
    inside = (centres >= size // 2) & (centres + size // 2 <= sample_count)
    return np.asarray(np.where(inside, strength, 0.0))


def _previous_frames(values: FloatArray) -> FloatArray:
    """(2, frames, ...) the values one and two frames earlier (the first frame repeated)."""
    one = np.concatenate([values[:1], values[:-1]])
    two = np.concatenate([one[:1], one[:-1]])
    return np.stack([one, two])


def _harmonicity(voice_power: npt.NDArray[np.float32], bin_hz: float) -> FloatArray:
    """Per-frame harmonic comb contrast of the voice-band log spectrum, in [-1, 1].

    A voice (or any pitched source) puts peaks every f0 Hz: the log spectrum correlates with
    itself shifted by f0 and anti-correlates shifted by f0/2. Noise does neither, and a smooth
    spectral envelope (formants of filtered noise, a bass's leakage) correlates equally at both,
    so the contrast autocorr(f0) - autocorr(f0/2), maximised over pitches, isolates harmonic
    structure.
    """
    frame_count, bin_count = voice_power.shape
    shortest = max(4, round(PITCH_RANGE_HZ[0] / bin_hz))
    longest = min(round(PITCH_RANGE_HZ[1] / bin_hz), bin_count // 2)
    if frame_count == 0 or longest < shortest:
        return np.full(frame_count, np.nan)
    log_power = 10.0 * np.log10(voice_power.astype(np.float64) + _TINY)
    log_power = np.maximum(log_power, log_power.max(axis=1, keepdims=True) - LOG_SPECTRUM_RANGE_DB)
    residual = log_power - _moving_mean(log_power, 2 * longest + 1)
    size = 1 << (2 * bin_count - 1).bit_length()  # no wrap-around below bin_count lags
    autocorr = np.fft.irfft(np.abs(np.fft.rfft(residual, size, axis=1)) ** 2, size, axis=1)
    lags = np.arange(longest + 1)
    autocorr = autocorr[:, : longest + 1] * (bin_count / (bin_count - lags))
    autocorr /= np.maximum(autocorr[:, :1], _TINY)
    pitches = np.arange(shortest, longest + 1)
    contrast = autocorr[:, pitches] - autocorr[:, pitches // 2]
    audible = np.clip(residual.std(axis=1) / HARMONIC_RELIEF_DB, 0.0, 1.0)
    return np.asarray(contrast.max(axis=1) / 2.0 * audible)


def _moving_mean(rows: FloatArray, width: int) -> FloatArray:
    """Each row's mean over an odd `width` centred on each value, the ends repeated
    (scipy.ndimage's `uniform_filter1d`, `mode="nearest"`, without loading scipy)."""
    half = width // 2
    padded = np.pad(rows, ((0, 0), (half, half)), mode="edge")
    sums = np.cumsum(padded, axis=1)
    sums = np.concatenate([np.zeros((rows.shape[0], 1)), sums], axis=1)
    mean: FloatArray = (sums[:, width:] - sums[:, :-width]) / width
    return mean


# --- segments and features --------------------------------------------------------------------


def _segment_frame_ranges(
    chunk_starts: IndexArray, track_frames: int, spectra: _FrameSpectra
) -> tuple[IndexArray, IndexArray]:
    """[first, last) STFT windows of each segment: the whole track, then each chunk.

    A chunk owns the windows centred inside it; a chunk shorter than a hop owns its nearest one.
    """
    windows = spectra.level_db.shape[0]
    ends = np.append(chunk_starts[1:], track_frames)
    first = -(-chunk_starts // spectra.hop)
    last = -(-ends // spectra.hop)
    empty = last <= first
    first = np.clip(np.where(empty, chunk_starts // spectra.hop, first), 0, windows - 1)
    last = np.clip(np.where(empty, first + 1, last), first + 1, windows)
    return np.append(0, first), np.append(windows, last)


def _segment_sum(values: FloatArray, ranges: tuple[IndexArray, IndexArray]) -> FloatArray:
    """Sum of per-frame values over each [first, last) range, via one cumulative sum."""
    cumulative = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    first, last = ranges
    return np.asarray(cumulative[last] - cumulative[first])


def _feature_table(
    levels: _SampleStats, spectra: _FrameSpectra, ranges: tuple[IndexArray, IndexArray]
) -> FloatArray:
    """(segments, 5) features; each column computed and sanitised on its own."""
    count = ranges[0].shape[0]
    columns: list[Callable[[], FloatArray]] = [
        lambda: _energy(levels),
        lambda: _brightness(spectra, ranges),
        lambda: _dynamics(levels, spectra, ranges),
        lambda: _vocal_presence(spectra, ranges),
        lambda: _tempo_energy(spectra, ranges),
    ]
    return np.stack([_guarded(column, count) for column in columns], axis=1)


def _guarded(compute: Callable[[], FloatArray], count: int) -> FloatArray:
    """Run one feature; a failure or a non-finite value becomes neutral, the rest is clamped."""
    try:
        values = np.asarray(compute(), dtype=np.float64).reshape(count)
    except Exception:  # noqa: BLE001 - one broken feature must not take the others down
        return np.full(count, NEUTRAL)
    return np.where(np.isfinite(values), np.clip(values, 0.0, 1.0), NEUTRAL)


def _ramp(values: FloatArray, low: float, high: float) -> FloatArray:
    """Linear map of [low, high] onto [0, 1], clipped; NaN stays NaN (-> neutral)."""
    return np.asarray(np.clip((values - low) / (high - low), 0.0, 1.0))


def _energy(levels: _SampleStats) -> FloatArray:
    """RMS level (DC removed) on a -40..-6 dBFS scale."""
    return _ramp(_power_db(levels.ac_power, -200.0), *ENERGY_RANGE_DBFS)


def _brightness(spectra: _FrameSpectra, ranges: tuple[IndexArray, IndexArray]) -> FloatArray:
    """Power-weighted spectral centroid, placed on a log-frequency axis from 200 Hz to 10 kHz."""
    moment = _segment_sum(spectra.centroid_moment, ranges)
    total = _segment_sum(spectra.band_power.sum(axis=1), ranges)
    centroid = moment / np.where(total > _TINY, total, np.nan)
    low, high = BRIGHTNESS_CENTROID_HZ
    return _ramp(np.log(centroid / low) / math.log(high / low), 0.0, 1.0)


def _dynamics(
    levels: _SampleStats, spectra: _FrameSpectra, ranges: tuple[IndexArray, IndexArray]
) -> FloatArray:
    """Mean of crest factor (peak vs RMS) and frame-level spread: micro and macro dynamics."""
    rms = np.sqrt(np.where(levels.power > _TINY, levels.power, np.nan))
    crest_db = 20.0 * np.log10(levels.peak / rms)
    frame_count = (ranges[1] - ranges[0]).astype(np.float64)
    mean_level = _segment_sum(spectra.level_db, ranges) / frame_count
    mean_square = _segment_sum(np.square(spectra.level_db), ranges) / frame_count
    spread_db = np.sqrt(np.maximum(mean_square - np.square(mean_level), 0.0))
    crest = _ramp(crest_db, *CREST_RANGE_DB)
    spread = _ramp(spread_db, *LEVEL_SPREAD_RANGE_DB)
    return np.asarray(0.5 * (crest + spread))


def _vocal_presence(spectra: _FrameSpectra, ranges: tuple[IndexArray, IndexArray]) -> FloatArray:
    """Geometric mean of voice-band energy share and its harmonic structure: both are needed.

    Share alone would call pink noise vocal; harmonicity alone would call a bass line vocal.
    """
    voice = _segment_sum(spectra.voice_power, ranges)
    total = _segment_sum(spectra.band_power.sum(axis=1), ranges)
    share = _ramp(voice / np.where(total > _TINY, total, np.nan), 0.0, VOICE_SHARE_FULL)
    weighted = _segment_sum(np.nan_to_num(spectra.harmonicity) * spectra.voice_power, ranges)
    harmonicity = weighted / np.where(voice > _TINY, voice, np.nan)
    vocal = np.sqrt(share * _ramp(harmonicity, *HARMONICITY_RANGE))
    return np.asarray(np.where(share == 0.0, 0.0, vocal))


def _tempo_energy(spectra: _FrameSpectra, ranges: tuple[IndexArray, IndexArray]) -> FloatArray:
    """Onsets per second (strength-weighted), saturating: 1 - exp(-rate / 2)."""
    seconds = (ranges[1] - ranges[0]) * spectra.hop_seconds
    rate = _segment_sum(spectra.onset, ranges) / seconds
    return np.asarray(1.0 - np.exp(-rate / ONSET_RATE_SCALE))


# --- cache ------------------------------------------------------------------------------------


class AnalysisCache:
    """Bounded LRU of analyses keyed by (content hash, chunk length, sample rate); thread-safe.

    The same track is analysed once even when several render threads ask at the same moment:
    the first computes, the others wait for its result instead of repeating the work. The lock
    is never held while analysing.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._max_entries = max(1, int(max_entries))
        self._entries: OrderedDict[tuple[str, int, int], TrackAnalysis] = OrderedDict()
        self._pending: dict[tuple[str, int, int], Future[TrackAnalysis]] = {}
        self._lock = threading.Lock()

    def peek(self, content_hash: str, sample_rate: int, chunk_frames: int) -> TrackAnalysis | None:
        """The analysis if it was computed already; never computes (for the planner's thread)."""
        with self._lock:
            return self._entries.get((content_hash, int(chunk_frames), int(sample_rate)))

    def get_or_compute(
        self,
        content_hash: str,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        chunk_frames: int,
    ) -> TrackAnalysis:
        key = (content_hash, int(chunk_frames), int(sample_rate))
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                return cached
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = Future()
        if not owner:
            return pending.result()
        return self._compute(key, pending, samples, sample_rate, chunk_frames)

    def _compute(
        self,
        key: tuple[str, int, int],
        pending: Future[TrackAnalysis],
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        chunk_frames: int,
    ) -> TrackAnalysis:
        try:
            result = analyse(samples, sample_rate, chunk_frames)
        except BaseException as error:  # KeyboardInterrupt: waiters must not hang
            with self._lock:
                del self._pending[key]
            pending.set_exception(error)
            raise
        with self._lock:
            del self._pending[key]
            self._entries[key] = result
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        pending.set_result(result)
        return result

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
