"""The listener's presets in the app: keys 1-9 by place, a preset's own key, every preset
in the palette and the help, a cache-map row each, and the list followed while playing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import PRESET_ORDER, Engine, EngineConfig
from engine.playback.sinks.output import NullSink
from tests.helpers.audio_files import write_tone
from tests.test_engine_presets import write
from tui.app import TierplayApp
from tui.palette import available_commands
from tui.screens.help import HelpScreen
from tui.widgets.cache_map import CacheMapPanel
from tui.widgets.now_playing import NowPlaying

from .test_app import SIZE, command_names, log_text, run_command, wait_until

EXTRA = ("airy", "night", "dark", "vocal", "lofi", "wide")
"""Six presets after the built-in six: twelve in all, three past the place keys."""


def presets_text(names: tuple[str, ...], key_of: dict[str, str]) -> str:
    blocks = []
    for number, name in enumerate(names):
        key = f'key = "{key_of[name]}"\n' if name in key_of else ""
        gain = 1.0 + number
        blocks.append(
            f'[[preset]]\nname = "{name}"\ndescription = "{name} sound"\n{key}'
            f'eq = [{{ type = "peak", frequency_hz = 1000, gain_db = {gain} }}]\n'
        )
    return "\n".join(blocks)


@pytest.fixture
def presets_file(private_folders: dict[str, Path]) -> Path:
    path = private_folders["config"] / "presets.toml"
    write(path, presets_text(EXTRA, {"wide": "w"}))
    return path


@pytest.fixture
def engine(tmp_path: Path, presets_file: Path) -> Iterator[Engine]:
    folder = tmp_path / "music"
    folder.mkdir()
    write_tone(folder / "tone.wav", seconds=30.0)
    made = Engine(
        EngineConfig(state_dir=tmp_path / "state", presets_file=presets_file),
        sink=NullSink(44_100, 1024, speed=1.0),
    )
    made.open([folder])
    yield made
    made.close()


def map_rows(app: TierplayApp) -> list[str]:
    panel = app.query_one(CacheMapPanel)
    chunks = panel.cache_map
    return list(chunks.presets) if chunks is not None else []


async def test_place_keys_own_keys_and_the_palette_reach_every_preset(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        asked = lambda: engine.snapshot().requested_preset  # noqa: E731
        await pilot.press("7")
        await wait_until(pilot, lambda: asked() == "airy", "the 7th preset")
        await pilot.press("9")
        await wait_until(pilot, lambda: asked() == "dark", "the 9th preset")
        await pilot.press("w")
        await wait_until(pilot, lambda: asked() == "wide", "its own key")
        await pilot.press("p")  # the next one wraps round to the first
        await wait_until(pilot, lambda: asked() == "original", "next wraps")
        await pilot.press("P")
        await wait_until(pilot, lambda: asked() == "wide", "previous wraps")
        names = command_names(app)
        assert {f"Preset: {name}" for name in (*PRESET_ORDER, *EXTRA[:5])} <= set(names)
        run_command(app, "Preset: lofi")
        assert asked() == "lofi"


async def test_the_cache_map_and_help_list_every_preset(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(map_rows(app)) == 12, "a row per preset")
        assert map_rows(app) == [*PRESET_ORDER, *EXTRA]
        row = app.query_one("#buffer-row")
        await wait_until(pilot, lambda: row.size.height == 16, "the row sized for 12")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        rows = [(r.keys, r.description) for s in screen.sections for r in s.rows]
        assert (("7",), "Preset: airy") in rows and (("9",), "Preset: dark") in rows
        assert (("w",), "Preset: wide") in rows


async def test_an_edited_file_changes_the_list_while_playing(
    engine: Engine, presets_file: Path
) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(map_rows(app)) == 12, "twelve rows")
        (stale,) = [c for c in available_commands(app) if c.name == "Preset: wide"]
        write(presets_file, presets_text(("airy",), {}))
        await wait_until(pilot, lambda: map_rows(app) == [*PRESET_ORDER, "airy"], "seven rows")
        row = app.query_one("#buffer-row")
        await wait_until(pilot, lambda: row.size.height == 11, "the row shrinks")
        await pilot.press("w")  # no preset has that key any more
        await pilot.press("7")
        await wait_until(pilot, lambda: engine.snapshot().requested_preset == "airy", "7")
        assert "Preset: wide" not in command_names(app)
        stale.run()  # a palette opened before the edit: said, not a crash
        notes = lambda: [n.message for n in app._notifications]  # noqa: E731
        await wait_until(pilot, lambda: any("unknown preset 'wide'" in n for n in notes()), "why")
        assert app.is_running


async def test_b_goes_back_and_forth_and_a_blind_test_hides_the_names(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        asked = lambda: engine.snapshot().requested_preset  # noqa: E731
        await pilot.press("b")  # nothing chosen before: it says so
        await wait_until(pilot, lambda: bool(app._notifications), "the reason")
        await pilot.press("4")
        await wait_until(pilot, lambda: asked() == "warm", "warm")
        await pilot.press("6")
        await wait_until(pilot, lambda: asked() == "punchy", "punchy")
        await pilot.press("b")
        await wait_until(pilot, lambda: asked() == "warm", "back to warm")
        await pilot.press("b")
        await wait_until(pilot, lambda: asked() == "punchy", "forth to punchy")

        await pilot.press("B")
        await wait_until(pilot, lambda: app.blind is not None, "the blind test")
        assert not app.query_one("#cache-map").display
        assert not app.query_one("#predictions").display
        lines_before = len(log_text(app).splitlines())
        await pilot.press("b", "v", "b", "v", "v")
        await wait_until(pilot, lambda: app.blind is not None and app.blind.picked == 3, "picks")
        await pilot.pause(0.3)  # the switches' log lines
        shown = str(app.query_one(NowPlaying).render())
        assert "blind A" in shown or "blind B" in shown
        assert "warm" not in shown and "punchy" not in shown
        during = "\n".join(log_text(app).splitlines()[lines_before:])
        assert "warm" not in during and "punchy" not in during

        await pilot.press("B")
        await wait_until(pilot, lambda: "blind test: picked" in log_text(app), "the reveal")
        assert app.blind is None and app.query_one("#cache-map").display
        assert "of 3 rounds" in log_text(app)
