"""The slow-machine model costs real CPU on the rendering thread and changes no sample;
the render speed the feeder and the timeouts rely on is measured from the renders."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from engine.config import EngineConfig
from engine.dsp.render import Renderer
from engine.dsp.render_speed import RenderSpeed
from engine.dsp.slowdown import RenderSlowdown, burn_cpu
from engine.library.scan import probe
from engine.library.source import TrackSource
from tests.helpers.audio_files import write_tone


def cpu_of(body: object) -> float:
    started = time.thread_time()
    body()  # type: ignore[operator]
    return time.thread_time() - started


def test_a_burn_spends_at_least_the_cpu_time_asked() -> None:
    assert cpu_of(lambda: burn_cpu(0.05)) >= 0.05
    assert burn_cpu(0.0) == 0.0


def test_a_burn_stops_when_its_owner_closes() -> None:
    assert burn_cpu(10.0, stopping=lambda: True) < 0.01


def test_a_slowed_body_costs_its_factor_in_cpu() -> None:
    slowdown = RenderSlowdown(4.0)
    spent: list[float] = []

    def body() -> None:
        with slowdown.applied():
            spent.append(cpu_of(lambda: burn_cpu(0.02)))

    assert cpu_of(body) >= 4.0 * spent[0] * 0.99


def test_nested_renders_are_slowed_once() -> None:
    """A render that calibrates first is one render: its calibration is not slowed twice."""
    slowdown = RenderSlowdown(3.0)
    inner: list[float] = []

    def body() -> None:
        with slowdown.applied(), slowdown.applied():
            inner.append(cpu_of(lambda: burn_cpu(0.03)))

    total = cpu_of(body)
    assert 3.0 * inner[0] * 0.99 <= total < 6.0 * inner[0]


def test_a_slowdown_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RenderSlowdown(0.5)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> TrackSource:
    path = write_tone(tmp_path_factory.mktemp("s") / "tone.wav", seconds=6.0)
    return TrackSource(probe(Path(path), 44_100), 44_100)


def test_a_slowed_render_is_the_same_audio(source: TrackSource) -> None:
    fast = Renderer(EngineConfig(chunk_seconds=2.0))
    slow = Renderer(EngineConfig(chunk_seconds=2.0, render_slowdown=3.0))
    for index in (0, 1):
        assert np.array_equal(
            fast.render_chunk(source, "warm", 1.0, index),
            slow.render_chunk(source, "warm", 1.0, index),
        )


def test_renders_and_calibrations_measure_the_speed(source: TrackSource) -> None:
    speed = RenderSpeed()
    renderer = Renderer(EngineConfig(chunk_seconds=2.0), speed=speed)
    assert speed.seconds_for(44_100) is None
    renderer.prepare(source, "punchy")  # a calibration alone measures the preset
    assert speed.seconds_for(44_100, "punchy") is not None
    renderer.render_chunk(source, "warm", 1.0, 0)
    factor = speed.real_time_factor(44_100)
    assert factor is not None and factor > 0.0


def test_the_speed_is_kept_per_preset() -> None:
    speed = RenderSpeed()
    speed.note("light", 0.01, 44_100)
    for _ in range(20):
        speed.note("heavy", 1.0, 44_100)
    heavy, light = speed.seconds_for(44_100, "heavy"), speed.seconds_for(44_100, "light")
    assert heavy == pytest.approx(1.0) and light == pytest.approx(0.01)
    assert speed.seconds_for(44_100, "unmeasured") == pytest.approx(1.0, rel=0.01)
    speed.note("light", 1.0, 0)  # nothing processed: nothing learned
    assert speed.seconds_for(44_100, "light") == pytest.approx(0.01)
