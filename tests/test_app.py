"""Pilot tests of the app against a real engine on a null sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine, EngineConfig
from engine.output import NullSink
from tui.app import TierplayApp
from tui.widgets.now_playing import NowPlaying


@pytest.fixture
def engine(tone_library: Path) -> Iterator[Engine]:
    engine = Engine(EngineConfig(), sink=NullSink(44_100, 1024, speed=1.0))
    engine.open([tone_library])
    yield engine
    engine.close()


async def test_keys_drive_the_engine(engine: Engine) -> None:
    app = TierplayApp(engine)
    async with app.run_test() as pilot:
        while not engine.snapshot().playing:
            await pilot.pause()
        await pilot.press("space")
        assert not engine.snapshot().playing
        await pilot.press("space")
        assert engine.snapshot().playing
        await pilot.press("5")
        assert engine.snapshot().preset == "bright"
        await pilot.press("minus")
        assert engine.snapshot().volume == pytest.approx(0.95)
        await pilot.press("m")
        assert engine.snapshot().muted and engine.snapshot().volume == 0.0
        await pilot.press("m")
        assert not engine.snapshot().muted
        assert engine.snapshot().volume == pytest.approx(0.95)
        await pilot.press("right")  # past the end of a 3 s track: the next one plays
        assert engine.snapshot().track_index == 1
        await pilot.press("n")
        assert engine.snapshot().track_index == 2
        await pilot.press("N")
        assert engine.snapshot().track_index == 1
        await pilot.press("left")
        assert engine.snapshot().position_seconds < 0.5
        await pilot.press("shift+right")
        assert 0.9 <= engine.snapshot().position_seconds < 1.6
        await pilot.press("comma")
        assert engine.snapshot().position_seconds < 0.5


async def test_now_playing_and_event_log_show_the_snapshot(engine: Engine) -> None:
    app = TierplayApp(engine)
    async with app.run_test() as pilot:
        await pilot.pause(0.2)
        text = str(app.query_one(NowPlaying).render())
        assert "a" in text and "output: null" in text
        log_lines = "\n".join(str(line) for line in app.query_one("#event-log").lines)
        assert "skipped d.wav" in log_lines
        await pilot.press("q")
    assert app.return_code == 0
