"""Pilot tests of the app against a real engine on a null sink.

Every wait polls (`pilot.pause()` until a condition holds, with a deadline): seeks inside the
engine's 100 ms throttle window are held and applied later, renders finish when they finish.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual import events
from textual.command import CommandList
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Button, Input, Label

from engine import PRESET_ORDER, Engine, EngineConfig
from engine.playback.sinks.output import NullSink
from engine.vocabulary import plural
from tests.helpers.audio_files import write_tone
from tui.app import HELP_GROUPS, TierplayApp, declared_bindings
from tui.keymap import CONFIG_DIR_ENV, load_keymap
from tui.palette import available_commands
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.path_prompt import PathPrompt
from tui.widgets.event_log import EventLog
from tui.widgets.now_playing import NowPlaying
from tui.widgets.tier_panel import TierPanel

SIZE = (100, 40)
TIMEOUT = 10.0
"""Generous: renders share two cores with the rest of the suite."""
LONG_SECONDS = 130.0
"""Room for 20 presses of +5 s without reaching the end of the track."""


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the user's keymap."""
    directory = tmp_path / "config"
    directory.mkdir()
    monkeypatch.setenv(CONFIG_DIR_ENV, str(directory))
    return directory


def make_engine(*paths: Path) -> Engine:
    engine = Engine(EngineConfig(), sink=NullSink(44_100, 1024, speed=1.0))
    engine.open(list(paths))
    return engine


@pytest.fixture
def engine(tone_library: Path) -> Iterator[Engine]:
    engine = make_engine(tone_library)
    yield engine
    engine.close()


@pytest.fixture
def long_engine(tmp_path: Path) -> Iterator[Engine]:
    """A long track first (seeks stay inside it), then a short one."""
    folder = tmp_path / "long"
    folder.mkdir()
    write_tone(folder / "1_long.wav", seconds=LONG_SECONDS, channels=1, level=0.1)
    write_tone(folder / "2_short.wav", seconds=3.0, frequency=330.0)
    engine = make_engine(folder)
    yield engine
    engine.close()


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], bool], what: str, timeout: float = TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.01)


def log_text(app: TierplayApp) -> str:
    return "\n".join(app.query_one(EventLog).messages)


def send_keys(app: TierplayApp, *keys: str) -> None:
    """Keys as a terminal delivers a held or mashed key: back to back, nobody waiting.

    `pilot.press` waits for the process to go idle after each key, which takes up to a
    second while render threads are busy, so it cannot press 12 keys within one second.
    """
    driver = app._driver
    assert driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)


def position(engine: Engine) -> float:
    return engine.snapshot().position_seconds


async def seek_lands(pilot: Pilot[None], engine: Engine, key: str, target: float) -> None:
    """Press `key` and wait for the position: a seek inside the throttle window is held."""
    await pilot.press(key)
    await wait_until(
        pilot, lambda: abs(position(engine) - target) < 0.01, f"{key} to land on {target} s"
    )


# -- keys ---------------------------------------------------------------------------------
async def test_transport_keys(engine: Engine) -> None:
    app = TierplayApp(engine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: engine.snapshot().playing, "autoplay")
        await pilot.press("space")
        assert not engine.snapshot().playing
        await pilot.press("space")
        assert engine.snapshot().playing
        await pilot.press("minus")
        assert engine.snapshot().volume == pytest.approx(0.95)
        await pilot.press("plus")
        assert engine.snapshot().volume == pytest.approx(1.0)
        await pilot.press("minus", "minus", "equals_sign")
        assert engine.snapshot().volume == pytest.approx(0.95)
        await pilot.press("m")
        assert engine.snapshot().muted and engine.snapshot().volume == 0.0
        await pilot.press("m")
        assert not engine.snapshot().muted
        assert engine.snapshot().volume == pytest.approx(0.95)
        await pilot.press("n")
        assert engine.snapshot().track_index == 1
        await pilot.press("n")
        assert engine.snapshot().track_index == 2
        await pilot.press("N")
        assert engine.snapshot().track_index == 1
        await pilot.press("right")  # past the end of a 3 s track: the next one plays
        await wait_until(pilot, lambda: engine.snapshot().track_index == 2, "the next track")


async def test_seek_keys_land_on_their_targets(long_engine: Engine) -> None:
    engine = long_engine
    app = TierplayApp(engine, autoplay=False)  # paused: positions are exact
    async with app.run_test(size=SIZE) as pilot:
        await seek_lands(pilot, engine, "right", 5.0)
        await seek_lands(pilot, engine, "shift+right", 6.0)
        await seek_lands(pilot, engine, "full_stop", 36.0)
        await seek_lands(pilot, engine, "shift+left", 35.0)
        await seek_lands(pilot, engine, "comma", 5.0)
        await seek_lands(pilot, engine, "left", 0.0)
        await seek_lands(pilot, engine, "comma", 0.0)  # clamped at the start


async def test_preset_and_intensity_keys(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        for number, name in enumerate(PRESET_ORDER, start=1):
            await pilot.press(str(number))
            assert engine.snapshot().requested_preset == name
        await pilot.press("p")  # punchy wraps round to original
        assert engine.snapshot().requested_preset == "original"
        await pilot.press("p", "p")
        assert engine.snapshot().requested_preset == "gentle"
        await pilot.press("P")
        assert engine.snapshot().requested_preset == "adaptive"
        await pilot.press("P", "P")
        assert engine.snapshot().requested_preset == "punchy"
        assert engine.snapshot().intensity == pytest.approx(1.0)
        await pilot.press("left_square_bracket")
        assert engine.snapshot().intensity == pytest.approx(0.95)
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert engine.snapshot().intensity == pytest.approx(0.85)
        await pilot.press("right_square_bracket")
        assert engine.snapshot().intensity == pytest.approx(0.9)
        await pilot.press(*["right_square_bracket"] * 4)  # clamped at 1
        assert engine.snapshot().intensity == pytest.approx(1.0)


def total_cached(engine: Engine) -> int:
    return sum(tier.count for tier in engine.monitor().tiers)


async def test_clear_asks_first(engine: Engine) -> None:
    engine.set_preset("warm")  # rendered chunks land in the tiers, even while paused
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: total_cached(engine) > 0, "cached chunks")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        keys = str(app.screen.query_one("#keys", Label).render())
        assert keys == "y: clear  ·  n or esc: cancel  ·  enter: the highlighted button"
        assert str(app.screen.query_one("#confirm", Button).label) == "Clear (y)"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "cancel")
        assert not any(m.startswith("cleared") for m in engine.snapshot().messages)
        assert total_cached(engine) > 0

        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: any(m.startswith("cleared all tiers") for m in engine.snapshot().messages),
            "the caches to be cleared",
        )
        await wait_until(pilot, lambda: "cleared all tiers" in log_text(app), "the log line")


async def test_help_lists_every_binding_and_closes(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        listed = {row.binding_id: row for s in screen.sections for row in s.rows}
        unfilled = {"preset_7", "preset_8", "preset_9", "blind_pick"}  # no preset; no test
        assert set(HELP_GROUPS) - set(listed) == unfilled
        titles = [s.title for s in screen.sections][:4]
        assert titles == ["Transport", "Presets", "Library and queue", "View and app"]
        assert listed["volume_up"].keys == ("+", "=")
        assert listed["seek_back_far"].keys == (",",)
        assert listed["preset_4"].description == "Preset: warm"
        text = "\n".join(str(static.render()) for static in screen.query(".help-section"))
        for row in listed.values():
            assert row.description in text
        await pilot.press("right")  # the player's keys are off while help is up
        assert position(engine) == 0.0
        await pilot.press("q")  # closes help, does not quit
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")
        assert app.is_running
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help again")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), "escape")


async def test_q_quits(engine: Engine) -> None:
    app = TierplayApp(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0


@pytest.mark.parametrize("signal_number", [signal.SIGHUP, signal.SIGTERM])
async def test_a_closed_terminal_quits_as_q_does(engine: Engine, signal_number: int) -> None:
    """The terminal's window closed (SIGHUP) or a stop was asked (SIGTERM): the player
    quits, rather than play on with no screen."""
    app = TierplayApp(engine)
    async with app.run_test(size=SIZE) as pilot:
        os.kill(os.getpid(), signal_number)
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0


# -- held keys: the interaction filter at work ----------------------------------------------
async def test_holding_right_is_throttled_and_loses_no_step(long_engine: Engine) -> None:
    engine = long_engine
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        send_keys(app, *["right"] * 20)
        await wait_until(pilot, lambda: "throttled" in log_text(app), "a throttled log line")
        await wait_until(pilot, lambda: abs(position(engine) - 100.0) < 0.01, "+100 s")
        assert engine.snapshot().track_index == 0
        assert engine.filter.counters().throttled > 0


async def test_rapid_preset_keys_are_reported_and_the_last_one_wins(engine: Engine) -> None:
    keys = ["2", "3", "4", "5", "6", "1", "2", "3", "4", "5", "6", "4"]
    app = TierplayApp(engine)
    async with app.run_test(size=SIZE) as pilot:
        send_keys(app, *keys)
        await wait_until(pilot, lambda: engine.filter.counters().presets == 12, "12 presses")
        assert engine.snapshot().requested_preset == "warm"
        await wait_until(pilot, lambda: "rapid" in log_text(app), "a rapid exploration line")
        await wait_until(pilot, lambda: engine.snapshot().preset == "warm", "warm to be heard")


# -- keymap file ----------------------------------------------------------------------------
async def test_keymap_file_remaps_a_binding(long_engine: Engine, config_dir: Path) -> None:
    engine = long_engine
    (config_dir / "keymap.toml").write_text('[keys]\nseek_forward = "f"\nhelp = "h,f1"\n')
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await seek_lands(pilot, engine, "f", 5.0)
        await pilot.press("right")  # no longer bound
        await pilot.pause(0.15)
        assert position(engine) == pytest.approx(5.0, abs=0.01)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help on h")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        listed = {row.binding_id: row for s in screen.sections for row in s.rows}
        assert listed["seek_forward"].keys == ("f",)
        assert listed["help"].keys == ("h", "f1")
        assert not any("keymap" in m for m in engine.snapshot().messages)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[keys]\nnot_a_binding = "x"\nmute = 3\n', ["unknown binding ids ignored: not_a_binding"]),
        ("[keys\nmute = 'x'", ["not valid TOML"]),
        ('mute = "x"\n', ["no [keys] table"]),
        ('[keys]\nmute = "q"\n', ["q is bound to both mute and quit"]),
    ],
)
async def test_a_bad_keymap_file_is_reported_once(
    engine: Engine, config_dir: Path, content: str, expected: list[str]
) -> None:
    (config_dir / "keymap.toml").write_text(content)
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "keymap" in log_text(app), "the keymap message")
        lines = [line for line in app.query_one(EventLog).messages if "keymap" in line]
        assert len(lines) == 1
        for words in expected:
            assert words in lines[0]
        await pilot.press("space")  # the player still works
        assert engine.snapshot().playing


# -- command palette ------------------------------------------------------------------------
def command_names(app: TierplayApp) -> list[str]:
    return [command.name for command in available_commands(app)]


async def type_path(pilot: Pilot[None], app: TierplayApp, path: Path) -> None:
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, PathPrompt) and bool(app.screen.query(Input)),
        "prompt",
    )
    app.screen.query_one(Input).value = str(path)


def run_command(app: TierplayApp, name: str) -> None:
    (command,) = [c for c in available_commands(app) if c.name == name]
    command.run()


async def test_at_80x24_the_event_log_shows_and_predictions_scroll_in_under_it(
    engine: Engine,
) -> None:
    """The panels do not all fit 24 rows: the listener's messages come before the
    engineers' predictions and health; taller, the rows go back to their order."""
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log, model = app.query_one(EventLog), app.query_one("#model-row")
        assert log.region.height >= 4 and log.region.bottom <= app.screen.region.bottom - 1
        assert model.region.y >= log.region.bottom  # below it, scrolled into on demand
        await pilot.resize_terminal(100, 40)
        await pilot.pause()
        assert model.region.bottom <= log.region.y


async def test_palette_offers_only_what_makes_sense(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        names = command_names(app)
        assert "Preset: original (current)" in names  # typing its name finds it
        assert {f"Preset: {p}" for p in PRESET_ORDER[1:]} <= set(names)
        assert "Start recording a trace…" in names and "Stop recording" not in names
        assert "Hide panel: Cache map" in names and "Show panel: Cache map" not in names
        run_command(app, "Preset: bright")
        assert engine.snapshot().requested_preset == "bright"
        assert "Preset: bright (current)" in command_names(app)
        assert "Preset: original" in command_names(app)

        run_command(app, "Hide panel: Cache map")
        assert not app.panel_shown("cache-map")
        assert "Show panel: Cache map" in command_names(app)
        await pilot.pause()
        buffer_row = app.query_one("#buffer-row")
        assert app.query_one("#tiers").outer_size.width == buffer_row.size.width  # the whole row
        run_command(app, "Show panel: Cache map")
        assert app.panel_shown("cache-map")

        top_row = app.query_one("#top-row")
        run_command(app, "Hide panel: Output")
        assert top_row.display and top_row.has_class("-single")  # now playing takes the row
        run_command(app, "Hide panel: Now playing")
        assert not top_row.display
        run_command(app, "Show panel: Output")
        assert top_row.display and top_row.has_class("-single")
        run_command(app, "Show panel: Now playing")
        assert top_row.display and not top_row.has_class("-single")

        engine.set_preset("warm")
        await wait_until(
            pilot, lambda: "Clear all caches" in command_names(app), "something to clear"
        )
        tiers = [n for n in command_names(app) if n.startswith("Clear L")]
        assert tiers
        run_command(app, tiers[0])
        tier = tiers[0].removeprefix("Clear ").lower()
        await wait_until(
            pilot,
            lambda: any(m.startswith(f"cleared {tier}") for m in engine.snapshot().messages),
            f"{tier} to be cleared",
        )


async def test_hidden_panels_are_kept_and_the_rest_widen(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        run_command(app, "Hide panel: Tiers")
        await pilot.pause()
        row, cache_map = app.query_one("#buffer-row"), app.query_one("#cache-map")
        await wait_until(
            pilot, lambda: cache_map.outer_size.width == row.size.width, "the gap filled"
        )
    assert engine.view_settings() == {"hidden_panels": ["tiers"]}
    again = TierplayApp(engine, autoplay=False)
    async with again.run_test(size=SIZE) as pilot:
        assert not again.panel_shown("tiers") and again.panel_shown("cache-map")
        run_command(again, "Show panel: Tiers")
    assert engine.view_settings() == {"hidden_panels": []}


async def test_palette_typing_runs_a_command(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        app.action_command_palette()
        await wait_until(
            pilot, lambda: app.screen.has_class("--textual-command-palette"), "palette"
        )
        await pilot.press(*"preset", "space", *"punchy")  # typed into the search box
        commands = app.screen.query_one(CommandList)
        await wait_until(
            pilot,
            lambda: (
                commands.option_count > 0
                and "punchy" in str(commands.get_option_at_index(0).prompt)
            ),
            "the punchy command",
        )
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: engine.snapshot().requested_preset == "punchy", "the preset to change"
        )
        assert not engine.snapshot().playing  # the space typed did not toggle playback


async def test_palette_opens_a_folder_in_a_worker(engine: Engine, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    write_tone(other / "x.wav")
    write_tone(other / "y.wav")
    (tmp_path / "empty").mkdir()
    messages: list[Message] = []
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:

        async def open_path(path: Path) -> None:
            run_command(app, "Open file or folder…")
            await type_path(pilot, app, path)
            await pilot.press("enter")

        def opened() -> list[TierplayApp.LibraryOpened]:
            return [m for m in messages if isinstance(m, TierplayApp.LibraryOpened)]

        await open_path(other)
        await wait_until(pilot, lambda: len(opened()) == 1, "the folder to open")
        assert opened()[0].error is None and opened()[0].count == 2
        assert [t.path.name for t in engine.tracks()] == ["x.wav", "y.wav"]

        for reports, wrong in enumerate([tmp_path / "nowhere", tmp_path / "empty"], start=2):
            await open_path(wrong)
            await wait_until(pilot, lambda n=reports: len(opened()) == n, f"{wrong} reported")
        errors = [m.error for m in opened()[1:]]
        assert errors[0] is not None and "no such file" in errors[0]
        assert errors[1] is not None and "no audio" in errors[1]
        notices = [m.notification for m in messages if isinstance(m, Notify)]
        assert any(n.severity == "error" and "no such file" in n.message for n in notices)
        assert [t.path.name for t in engine.tracks()] == ["x.wav", "y.wav"]  # unchanged


async def test_palette_records_a_trace(engine: Engine, tmp_path: Path) -> None:
    trace = tmp_path / "session.jsonl"
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        run_command(app, "Start recording a trace…")
        await type_path(pilot, app, trace)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.recording == trace, "recording to start")
        assert "Stop recording" in command_names(app)
        assert "Start recording a trace…" not in command_names(app)
        await pilot.press("4")
        run_command(app, "Stop recording")
        await wait_until(pilot, lambda: app.recording is None, "recording to stop")
    events = [json.loads(line)["event"] for line in trace.read_text().splitlines()]
    assert events == ["open", "preset", "end"]  # it begins with the library open


async def test_recording_to_a_folder_is_refused(engine: Engine, tmp_path: Path) -> None:
    messages: list[Message] = []
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        app.start_recording_to(tmp_path)
        await wait_until(
            pilot,
            lambda: any(isinstance(m, TierplayApp.RecordingChanged) for m in messages),
            "the report",
        )
        assert app.recording is None
        notices = [m.notification for m in messages if isinstance(m, Notify)]
        assert any(n.severity == "error" and "is a folder" in n.message for n in notices)


# -- panels ---------------------------------------------------------------------------------
async def test_panels_show_the_engine(engine: Engine) -> None:
    engine.set_preset("warm")
    app = TierplayApp(engine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: (
                app.last_monitor is not None
                and any(t.hits + t.misses for t in app.last_monitor.tiers)
            ),
            "buffer traffic",
        )
        await pilot.pause()
        monitor = app.last_monitor
        assert monitor is not None
        tiers = str(app.query_one(TierPanel).render())
        for tier in monitor.tiers:
            assert f"{tier.name.upper():<4}{tier.hit_rate:6.1%}" in tiers
            hits = plural(tier.hits, "hit")
            assert f"{hits} · {plural(tier.misses, 'miss', 'misses')}" in tiers
        now_playing = str(app.query_one(NowPlaying).render())
        assert "a  [1/3]" in now_playing and "output: null" in now_playing
        await wait_until(pilot, lambda: "skipped d.wav" in log_text(app), "the skipped file")


def test_keymap_knows_the_modal_screens_bindings(tmp_path: Path) -> None:
    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\nhelp_close = "x"\nquit = "ctrl+x"\n')
    app_bindings = declared_bindings(TierplayApp.BINDINGS)
    loaded = load_keymap(path, app_bindings, declared_bindings(HelpScreen.BINDINGS))
    assert loaded.problem is None
    assert loaded.keymap == {"help_close": "x", "quit": "ctrl+x"}
