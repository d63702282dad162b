"""The process budget: what `--budget-mb` promises is what the configuration holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.config import LEAN_BELOW_TIERS_MB, LEAN_SOURCE_CACHE_MB, EngineConfig
from engine.dsp.calibrations import LoudnessCalibrations

LEAN = EngineConfig(render_threads=1, kept_samples=1, source_cache_mb=LEAN_SOURCE_CACHE_MB)


@given(st.floats(min_value=LEAN.working_memory_mb / 0.9, max_value=4096.0))
def test_every_budget_above_the_lean_working_memory_is_held_exactly(total: float) -> None:
    config = EngineConfig().with_process_budget(total)
    assert abs(config.process_budget_mb - total) < 1e-6
    assert config.total_budget_mb >= 0.1 * total


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
    for key in ("a", "b"):
        calibrations.sample(key, lambda: TrackSample((), 0, -20.0, -3.0))
    assert [s.loudness_lufs for s in calibrations._samples.values()] == [-20.0]
    assert calibrations.summary("a") is not None  # what it measured outlives the windows
