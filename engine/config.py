"""One place for the engine's numbers, each with its unit in its name."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.vocabulary import PRESET_ORDER

__all__ = ["PRESET_ORDER", "EngineConfig"]


RENDER_THREAD_SCRATCH_MB = 22.0
"""A render thread's peak besides the tiers: a 10 s chunk's window, wet path and limiter."""
FEEDER_SCRATCH_MB = 3.0
"""The feeder's head render (the first blocks of a switch that missed the cache)."""
ANALYSIS_SCRATCH_MB = 20.0
"""The analysis pass's peak per chunk, measured: a 10 s window of a 48 kHz file decoded and
resampled (18 MB), then its features and loudness (20 MB with the window)."""
TRACK_SAMPLE_MB = 8.0
"""One track's sample: eight 5.5 s windows of float16 stereo (7.8 MB at 44.1 kHz)."""
LEAN_BELOW_TIERS_MB = 30.0
"""A process budget leaving the tiers less than this makes the engine lean (see
`EngineConfig.with_process_budget`)."""
LEAN_SOURCE_CACHE_MB = 4.0
"""A lean engine's decoded source blocks: the playhead's and a render window's worth less
the blocks a second render thread would share."""
TIER_FLOOR_CHUNKS = (3.0, 4.0, 2.0)
"""The fewest chunks each tier holds whatever the budget, in its own format's bytes at
most (L1 float32, L2 and L3 int16: L3's FLAC takes a quarter to two thirds of that): L1 the
chunk playing, the next and the likeliest switch target's; L2 the next targets'; L3 a few
further ahead. With less, a switch is a miss every time: the cache is not worth its bytes."""


@dataclass(frozen=True)
class EngineConfig:
    """Engine settings. Frozen so a running engine never sees a number change under it."""

    sample_rate: int = 44_100
    """Engine and output rate; every track is resampled to it on load."""
    block_frames: int = 1024
    """Frames per audio callback (23.2 ms at 44.1 kHz): measured safe on 2 busy cores."""
    chunk_seconds: float = 10.0
    """Length of one cached render unit."""
    warmup_seconds: float = 2.0
    """Audio rendered before a chunk and discarded, so filters and compressors have settled."""
    lookahead_seconds: float = 0.2
    """Audio rendered after a chunk so the look-ahead limiter sees what comes next."""
    intensity_step: float = 0.05
    """Intensity bucket width: the same bucket is used by the cache, the plan and the renders."""
    crossfade_ms: float = 15.0
    """Equal-power crossfade between the old and the new render on a switch."""
    loudness_mode: str = "matched"
    """`matched`: every preset at the original's loudness; `targets`: per-preset LUFS targets."""
    true_peak_ceiling_db: float = -1.0
    """Highest true peak (dBTP, 4x oversampled) any render may reach."""
    original_bit_exact: bool = False
    """Play `original` exactly as the file has it, even when its true peak is over the
    ceiling (matched mode otherwise lowers the shared reference, the original by a gain)."""
    l1_budget_mb: float = 18.0
    l2_budget_mb: float = 36.0
    l3_budget_mb: float = 45.0
    render_threads: int = 2
    render_slowdown: float = 1.0
    """Every render costs this many times its CPU time: a slow machine or a heavy chain,
    modelled (`engine/dsp/slowdown.py`) for benchmarks and `simulate --render-slowdown`."""
    kept_samples: int = 2
    """Track samples (the dry calibration windows, 8 MB each) kept decoded: the current
    track's and a neighbour's; a sample that was let go is decoded again when needed."""
    render_timeouts_seconds: tuple[float, float, float, float] = (2.0, 5.0, 10.0, 20.0)
    """Per priority (immediate, L1, L2, L3): a render waiting or running longer is abandoned."""
    switch_probability_per_chunk: float = 0.25
    """Prior chance of a preset switch while one chunk plays, before the predictor learns."""
    plan_horizon_chunks: int = 12
    plan_interval_seconds: float = 0.25
    """How often the maintenance loop looks at the playhead and what it reports: it plans
    when a plan input changed (commands plan at once). Faster costs CPU and gains nothing:
    the chunk after the playhead is rendered long before the playhead reaches it."""
    memory_limit_mb: float = 1024.0
    """Growth of the process RSS since the engine started above which memory degradation
    starts (then x1.25, x1.5 for the next levels)."""
    ring_seconds: float = 0.75
    """How far ahead of the audio callback the feeder keeps the output ring (0.5-1 s)."""
    output_capture_seconds: float = 0.0
    """Keep a copy of the last N seconds that left the audio callback (tests, diagnostics)."""
    max_track_seconds: float = 6 * 3600.0
    """The furthest position a seek accepts (the API validates against it). The engine no
    longer refuses long files: sources are streamed, so length costs no memory."""
    source_cache_mb: float = 12.0
    """Decoded source blocks (counted in the budget), shared by the original, stand-ins and
    renders: the presets of one chunk decode its window once, and a chunk shares its warm-up
    and look-ahead with its neighbours. 12 MB holds two chunks' windows: about 80% of blocks
    are found decoded while switching on the corpus (27% at 4 MB)."""
    state_save_seconds: float = 30.0
    """How often a changed predictor model and settings are written (and always on close)."""
    problem_report_seconds: float = 5.0
    """At most one log line per this many seconds for repeated render and cache failures:
    a failing track fails every render, and one line each would bury the rest of the log."""
    state_dir: Path | None = None
    """Where predictor state and settings live; None means the platform's user state dir."""
    cache_dir: Path | None = None
    """Where the library index lives; None means the platform's user cache folder."""
    presets_file: Path | None = None
    """The listener's presets.toml, followed while playing; None: the built-in presets alone."""
    library_watch_debounce_ms: int = 1600
    """Changes to the opened folders within this long are applied as one batch."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def chunk_frames(self) -> int:
        return round(self.chunk_seconds * self.sample_rate)

    def intensity_bucket(self, intensity: float) -> int:
        """The exact bucket an intensity falls in; cache keys and renders both use it."""
        clamped = min(max(float(intensity), 0.0), 1.0)
        return round(clamped / self.intensity_step)

    def bucket_intensity(self, bucket: int) -> float:
        """The intensity a bucket is rendered at (its centre), so equal buckets sound equal."""
        return min(1.0, bucket * self.intensity_step)

    @property
    def total_budget_mb(self) -> float:
        """The tiers' budgets together (the cached renders)."""
        return self.l1_budget_mb + self.l2_budget_mb + self.l3_budget_mb

    @property
    def render_scratch_mb(self) -> float:
        """What renders and analysis hold besides the tiers, measured: 22 MB per render
        thread at its peak (a 10 s chunk's window, wet path and limiter), 3 MB for the
        feeder's head render, 20 MB for the analysis pass and 8 MB per kept track sample.
        Counted in the budget."""
        return (
            self.render_threads * RENDER_THREAD_SCRATCH_MB
            + FEEDER_SCRATCH_MB
            + ANALYSIS_SCRATCH_MB
            + self.kept_samples * TRACK_SAMPLE_MB
        )

    @property
    def working_memory_mb(self) -> float:
        """What the engine holds besides the tiers: source blocks and render scratch."""
        return self.source_cache_mb + self.render_scratch_mb

    @property
    def process_budget_mb(self) -> float:
        """Everything the engine holds: tiers, decoded source blocks and render scratch."""
        return self.total_budget_mb + self.working_memory_mb

    def with_process_budget(self, total_mb: float) -> EngineConfig:
        """All the engine may hold is `total_mb`: the tiers get what the working memory
        leaves, in their 18/36/45 proportions, and never less than `tier_floors_mb`.

        A budget that would leave the tiers less than LEAN_BELOW_TIERS_MB makes the engine
        lean first (one render thread, one kept sample, a third of the source blocks: 38 MB
        less working memory), since a cache too small to hold what plays next loses more
        than a second render thread gains."""
        config = self
        if total_mb - self.working_memory_mb < LEAN_BELOW_TIERS_MB:
            config = replace(
                self,
                render_threads=1,
                kept_samples=1,
                source_cache_mb=min(self.source_cache_mb, LEAN_SOURCE_CACHE_MB),
            )
        floors = config.tier_floors_mb
        tiers = max(total_mb - config.working_memory_mb, sum(floors))
        shares = _shares(tiers, config.tier_budgets_mb)
        budgets = [max(mb, floor) for mb, floor in zip(shares, floors, strict=True)]
        excess = sum(budgets) - tiers
        for tier in (2, 1, 0):  # a raised tier's bytes come from the furthest ahead first
            taken = min(excess, budgets[tier] - floors[tier])
            budgets[tier] -= taken
            excess -= taken
        l1, l2, l3 = budgets
        return replace(config, l1_budget_mb=l1, l2_budget_mb=l2, l3_budget_mb=l3)

    @property
    def tier_budgets_mb(self) -> tuple[float, float, float]:
        """(L1, L2, L3)."""
        return (self.l1_budget_mb, self.l2_budget_mb, self.l3_budget_mb)

    @property
    def tier_floors_mb(self) -> tuple[float, float, float]:
        """`TIER_FLOOR_CHUNKS` in MB: a chunk is 4 bytes a sample in L1, 2 below."""
        float32_chunk_mb = self.chunk_frames * 2 * 4 / 1e6
        l1, l2, l3 = TIER_FLOOR_CHUNKS
        return (l1 * float32_chunk_mb, l2 * float32_chunk_mb / 2, l3 * float32_chunk_mb / 2)

    def with_total_budget(self, total_mb: float) -> EngineConfig:
        """Scale the three tier budgets to a new total, keeping their 18/36/45 proportions."""
        l1, l2, l3 = _shares(total_mb, self.tier_budgets_mb)
        return replace(self, l1_budget_mb=l1, l2_budget_mb=l2, l3_budget_mb=l3)


def _shares(total_mb: float, budgets_mb: tuple[float, float, float]) -> list[float]:
    """`total_mb` split as `budgets_mb` are."""
    return [total_mb * mb / sum(budgets_mb) for mb in budgets_mb]
