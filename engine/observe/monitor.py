"""`MonitorSnapshot`: what the live panels show about the buffer, read in one call.

The transport snapshot (`EngineSnapshot`) is cheap and read at 10 Hz; this one walks the
tiers, the worker queue and the output ring, so the UI reads it at 2-4 Hz. Everything here
is a frozen value: a widget can keep it, compare it and render it without ever touching the
engine's locks again.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.cache.buffer import MultiTierBuffer, TierFigures
from engine.cache.keys import ChunkKey
from engine.cache.worker import WorkerMetrics
from engine.observe.views import LatencyBook
from engine.prediction.interaction import FilterCounters
from engine.prediction.predict import PredictorView
from engine.vocabulary import BYPASS, TierName

CELL_STATES = (TierName.L1, TierName.L2, TierName.L3, "rendering", "queued", "missing", "source")
"""What a cache-map cell can show: the tier holding the chunk, or why none does. `source`
is the untouched original, which is never rendered or cached."""
METER_FRAMES = 4096
"""Frames the output meter analyses (~93 ms at 44.1 kHz): steady enough to read."""
SPECTRUM_BANDS = 16
SPECTRUM_RANGE_HZ = (40.0, 16_000.0)
SILENCE_DB = -90.0


@dataclass(frozen=True)
class TierLine:
    name: str
    hits: int
    misses: int
    hit_rate: float
    count: int
    size_bytes: int
    budget_bytes: int

    @staticmethod
    def of(figure: TierFigures) -> TierLine:
        return TierLine(
            figure.name,
            figure.hits,
            figure.misses,
            figure.hit_rate,
            figure.count,
            figure.size_bytes,
            figure.budget_bytes,
        )


@dataclass(frozen=True)
class CacheMap:
    """Rows = presets (in the order shown), columns = chunks `first_chunk`.. of the track."""

    track_id: str
    intensity_bucket: int
    first_chunk: int
    playhead_chunk: int
    playhead_fraction: float
    """0..1 through the playhead's chunk."""
    presets: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    """cells[row][column] is one of CELL_STATES."""


@dataclass(frozen=True)
class LatencyLine:
    """Measured switch latency (command -> first new frame heard) for one serving tier."""

    tier: str
    count: int
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class OutputLevels:
    """Levels of what is leaving the output right now (before the device's own latency)."""

    peak_db: tuple[float, ...]
    rms_db: tuple[float, ...]
    spectrum_db: tuple[float, ...]
    """SPECTRUM_BANDS log-spaced bands over SPECTRUM_RANGE_HZ, dB relative to full scale."""

    @staticmethod
    def silent(channels: int = 2) -> OutputLevels:
        silent = (SILENCE_DB,) * channels
        return OutputLevels(silent, silent, (SILENCE_DB,) * SPECTRUM_BANDS)


@dataclass(frozen=True)
class MonitorSnapshot:
    tiers: tuple[TierLine, ...]
    cache_map: CacheMap | None
    preset: str
    predictor: PredictorView
    health_status: str
    health_message: str
    underruns: int
    latencies: tuple[LatencyLine, ...]
    worker: WorkerMetrics
    interactions: FilterCounters
    memory_level: str
    rss_bytes: int
    """RSS of the player's processes together."""
    rss_limit_bytes: int
    """What they may reach: their size at start (the imports) plus the engine's budget."""
    budget_bytes: int
    total_bytes: int
    output: OutputLevels


def cache_map(
    buffer: MultiTierBuffer,
    presets: tuple[str, ...],
    pending: set[ChunkKey],
    running: set[ChunkKey],
    track_id: str,
    chunk_total: int,
    intensity_bucket: int,
    playhead_chunk: int,
    playhead_fraction: float,
    columns: int,
    buckets: Mapping[str, int] | None = None,
) -> CacheMap:
    """The chunks around the playhead (one column behind it, the rest ahead) per preset,
    in `presets`' order."""
    columns = max(1, min(columns, chunk_total))
    first = max(0, min(playhead_chunk - 1, chunk_total - columns))
    rows = []
    for preset in presets:
        row = []
        bucket = (buckets or {}).get(preset, intensity_bucket)  # each at its own intensity
        for chunk in range(first, first + columns):
            key = ChunkKey(track_id, preset, bucket, chunk)
            row.append(_cell_state(buffer, pending, running, key))
        rows.append(tuple(row))
    return CacheMap(
        track_id,
        intensity_bucket,
        first,
        playhead_chunk,
        playhead_fraction,
        presets,
        tuple(rows),
    )


def _cell_state(
    buffer: MultiTierBuffer, pending: set[ChunkKey], running: set[ChunkKey], key: ChunkKey
) -> str:
    if key.preset == BYPASS:
        return "source"
    tier = buffer.peek_tier(key)
    if tier is not None:
        return tier
    if key in running:
        return "rendering"
    return "queued" if key in pending else "missing"


def latency_lines(book: LatencyBook) -> tuple[LatencyLine, ...]:
    return tuple(
        LatencyLine(
            tier,
            len(book.samples(tier)),
            book.percentile(tier, 0.5),
            book.percentile(tier, 0.99),
        )
        for tier in (TierName.L1, TierName.L2, TierName.L3, "miss")
    )


def _db(value: float) -> float:
    return max(SILENCE_DB, 20.0 * math.log10(value)) if value > 0.0 else SILENCE_DB


def output_levels(audio: npt.NDArray[np.float32] | None, sample_rate: int) -> OutputLevels:
    """Peak and RMS per channel and a coarse spectrum of `audio` (frames x channels)."""
    if audio is None or len(audio) == 0:
        return OutputLevels.silent()
    frames = len(audio)
    # One row per channel: reductions along a contiguous row are ten times faster.
    channels = np.ascontiguousarray(np.asarray(audio).T, dtype=np.float64)
    peak = tuple(_db(float(v)) for v in np.abs(channels).max(axis=1))
    rms = tuple(_db(float(v)) for v in np.sqrt(np.einsum("ij,ij->i", channels, channels) / frames))
    window, bands_bins, full_scale = _spectrum_plan(frames, sample_rate)
    power = np.abs(np.fft.rfft(channels.mean(axis=0) * window)) ** 2
    bands = []
    for low, high in bands_bins:
        energy = float(power[low:high].sum()) / full_scale if high > low else 0.0
        bands.append(max(SILENCE_DB, 10.0 * math.log10(energy)) if energy > 0 else SILENCE_DB)
    return OutputLevels(peak, rms, tuple(bands))


@functools.lru_cache(maxsize=4)
def _spectrum_plan(
    frames: int, sample_rate: int
) -> tuple[npt.NDArray[np.float64], tuple[tuple[int, int], ...], float]:
    """The meter's window, each band's FFT bins [low, high) and the full-scale power, the
    same for every read of the same length: made once (the meter reads four times a
    second, and making them was half its cost)."""
    window = np.hanning(frames)
    frequencies = np.fft.rfftfreq(frames, 1.0 / sample_rate)
    edges = np.searchsorted(frequencies, np.geomspace(*SPECTRUM_RANGE_HZ, SPECTRUM_BANDS + 1))
    # Parseval: a full-scale sine puts N * sum(w^2) / 4 into the one-sided spectrum -> 0 dB.
    full_scale = frames * float(np.sum(window**2)) / 4.0
    return window, tuple((int(a), int(b)) for a, b in itertools.pairwise(edges)), full_scale
