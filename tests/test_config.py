"""The process budget: what `--budget-mb` promises is what the configuration holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.config import LEAN_BELOW_TIERS_MB, LEAN_SOURCE_CACHE_MB, EngineConfig
from engine.dsp.calibrations import LoudnessCalibrations

LEAN = EngineConfig(render_threads=1, kept_samples=1, source_cache_mb=LEAN_SOURCE_CACHE_MB)


@given(st.floats(min_value=LEAN.working_memory_mb + sum(LEAN.tier_floors_mb), max_value=4096.0))
def test_every_budget_above_the_lean_engine_with_its_floors_is_held_exactly(total: float) -> None:
    config = EngineConfig().with_process_budget(total)
    assert abs(config.process_budget_mb - total) < 1e-6


@given(st.floats(min_value=1.0, max_value=4096.0), st.sampled_from([2.0, 10.0, 30.0]))
def test_every_tier_holds_its_floor_of_chunks_whatever_the_budget(
    total: float, chunk_seconds: float
) -> None:
    """A tier too small for the chunks it serves makes every switch a miss: below the
    floors the engine holds more than asked (and the player says so)."""
    config = EngineConfig(chunk_seconds=chunk_seconds).with_process_budget(total)
    float32_chunk_mb = config.chunk_frames * 2 * 4 / 1e6
    l1, l2, l3 = config.tier_budgets_mb
    assert l1 >= 3 * float32_chunk_mb - 1e-9
    assert l2 >= 4 * float32_chunk_mb / 2 - 1e-9 and l3 >= 2 * float32_chunk_mb / 2 - 1e-9
    least = config.working_memory_mb + sum(config.tier_floors_mb)
    assert abs(config.process_budget_mb - max(total, least)) < 1e-6


def test_a_budget_shares_its_tiers_as_the_defaults_do_once_past_the_floors() -> None:
    config = EngineConfig().with_process_budget(400.0)
    default = EngineConfig().tier_budgets_mb
    pairs = zip(config.tier_budgets_mb, default, strict=True)
    ratios = [mb / default_mb for mb, default_mb in pairs]
    assert max(ratios) - min(ratios) < 1e-9


@given(st.floats(min_value=10.0, max_value=4096.0))
def test_the_engine_goes_lean_only_when_its_tiers_would_starve(total: float) -> None:
    full = EngineConfig()
    config = full.with_process_budget(total)
    starving = total - full.working_memory_mb < LEAN_BELOW_TIERS_MB
    assert (config.render_threads, config.kept_samples) == ((1, 1) if starving else (2, 2))
    assert config.working_memory_mb < full.working_memory_mb or not starving


def test_the_default_budget_keeps_two_render_threads_and_two_samples() -> None:
    config = EngineConfig()
    assert (config.render_threads, config.kept_samples) == (2, 2)
    assert config.process_budget_mb == config.total_budget_mb + config.working_memory_mb


def test_the_calibrations_keep_as_many_samples_as_configured() -> None:
    from engine.dsp.calibration import TrackSample

    calibrations = LoudnessCalibrations(kept_samples=1)
    sample = TrackSample((), 0, -20.0, -3.0)
    for key in ("a", "b"):
        calibrations.shared_sample(key, 1, lambda _index: sample, lambda parts: parts[0])
    assert [s.loudness_lufs for s in calibrations._samples.values()] == [-20.0]
    assert calibrations.summary("a") is not None  # what it measured outlives the windows
