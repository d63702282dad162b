"""The mouse: a click on the position bar seeks there, a click on a preset's name in the
cache map or the predictions switches to it; at 80x24 the transport stays whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine
from tests.helpers.audio_files import write_tone
from tui.app import TierplayApp
from tui.widgets.cache_map import CacheMapPanel
from tui.widgets.now_playing import NowPlaying
from tui.widgets.predictions import PredictionsPanel

from .test_app import SIZE, make_engine, wait_until

TRACK_SECONDS = 60.0
FRAME = (2, 1)
"""A panel's content starts past its border and padding (x) and its border (y)."""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    write_tone(tmp_path / "minute.wav", seconds=TRACK_SECONDS, channels=1, level=0.1)
    made = make_engine(tmp_path / "minute.wav")
    yield made
    made.close()


async def test_a_click_on_the_position_bar_seeks_there(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(NowPlaying)
        await wait_until(pilot, lambda: panel.snapshot is not None, "the transport")
        first = len("0:00 ")
        width = panel.size.width - len("0:00") - len("1:00") - 2
        cell = width * 3 // 4
        await pilot.click(NowPlaying, offset=(FRAME[0] + first + cell, FRAME[1] + 1))
        target = TRACK_SECONDS * cell / width
        await wait_until(
            pilot, lambda: abs(engine.snapshot().position_seconds - target) < 0.05, "the seek"
        )
        await pilot.click(NowPlaying, offset=(FRAME[0] + 1, FRAME[1] + 1))  # the clock: no seek
        await pilot.pause(0.2)
        assert abs(engine.snapshot().position_seconds - target) < 0.05


async def test_a_click_on_a_preset_name_switches_to_it(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        cache_map = app.query_one(CacheMapPanel)
        await wait_until(pilot, lambda: cache_map.cache_map is not None, "the cache map")
        row = cache_map.cache_map.presets.index("bright") if cache_map.cache_map else 0
        await pilot.click(CacheMapPanel, offset=(FRAME[0] + 3, FRAME[1] + row))
        await wait_until(pilot, lambda: engine.snapshot().requested_preset == "bright", "bright")

        predictions = app.query_one(PredictionsPanel)
        await wait_until(  # a view made after the switch: it lists the presets but bright
            pilot,
            lambda: predictions.view is not None and "bright" not in predictions.view.distribution,
            "the predictions from bright",
        )
        await pilot.click(PredictionsPanel, offset=(FRAME[0] + 1, FRAME[1] + 1))
        await wait_until(
            pilot, lambda: engine.snapshot().requested_preset != "bright", "the top prediction"
        )
