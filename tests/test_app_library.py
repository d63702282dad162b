"""The player started on a library, through the app: a huge one opens behind a progress bar
while the keys and panels stay live; a broken one plays what it can, says what it skipped
in the event panel, and nothing reaches the UI as an exception; a failure that repeats is
one line in the event panel and a count in the health panel."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message
from textual.notifications import Notify

from engine import Engine, EngineConfig
from engine.playback.sinks.output import NullSink
from tests.helpers.audio_files import write_tone
from tests.helpers.engines import GATE_AT, GatedEngine
from tui.app import TierplayApp
from tui.screens.help import HelpScreen
from tui.widgets.health import HealthPanel
from tui.widgets.library_progress import LibraryProgress

from .test_app import SIZE, log_text, wait_until
from .test_chaos_library import (
    BROKEN_EVERY,
    TRACKS,
    make_library,
)
from .test_tracks import BAD_FILES


async def test_a_library_of_10000_tracks_opens_behind_a_progress_bar_while_keys_work(
    tmp_path: Path, gated_engine: GatedEngine
) -> None:
    make_library(tmp_path)
    engine = gated_engine
    messages: list[Message] = []
    app = TierplayApp(engine, library=[tmp_path])
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        bar = app.query_one(LibraryProgress)
        await wait_until(pilot, engine.held.is_set, "the scan to reach half-way")
        await wait_until(pilot, lambda: f"{GATE_AT:,} / {TRACKS:,} files" in bar.label, "bar")
        assert bar.display and str(tmp_path) in bar.label

        # The scan is stuck in its thread: the player still answers keys and redraws.
        ticks = sum(isinstance(m, TierplayApp.LibraryScanned) for m in messages)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")
        before = engine.snapshot().volume
        await pilot.press("minus")
        await wait_until(pilot, lambda: engine.snapshot().volume < before, "volume to drop")
        assert not engine.snapshot().playing and engine.tracks() == []
        assert ticks >= GATE_AT // 100

        engine.gate.set()
        await wait_until(pilot, lambda: not bar.display, "the open to finish", timeout=60)
        playable = TRACKS - TRACKS // BROKEN_EVERY
        assert len(engine.tracks()) == playable
        await wait_until(pilot, lambda: engine.snapshot().playing, "autoplay after the open")
        notices = [m.notification.message for m in messages if isinstance(m, Notify)]
        assert f"Playing {playable} tracks from {tmp_path}" in notices
        done = [m.done for m in messages if isinstance(m, TierplayApp.LibraryScanned)]
        assert done == sorted(done) and done[-1] == TRACKS
        await wait_until(pilot, lambda: "more files" in log_text(app), "the skip summary")
        assert f"skipped {TRACKS // BROKEN_EVERY - 10} more files" in log_text(app)


async def test_a_library_with_nothing_playable_ends_the_app_with_the_reason(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.wav").write_bytes(b"not audio")
    (tmp_path / "b.flac").write_bytes(b"")
    engine = Engine(EngineConfig(), sink=NullSink(speed=1.0))
    try:
        app = TierplayApp(engine, library=[tmp_path])
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.return_code is not None, "the app to end")
        assert app.return_code == 2
    finally:
        engine.close()


# -- a library of broken files ----------------------------------------------------------------
PLAY_SPEED = 4.0
"""Null sink x real time: the library's playable second-long files pass in a few seconds."""


def broken_library(root: Path) -> tuple[Path, list[str], list[str]]:
    """Every broken kind from the track tests, each in its own folder between good tones.

    Returns the library, the names of the files that must be skipped (they raise) and of the
    good or damaged-but-playable files, in playlist order."""
    library = root / "library"
    library.mkdir()
    skipped: list[str] = []
    playable: list[str] = []
    for name in ("000-first", "zzz-last"):  # folders: a folder's own files come first
        (library / name).mkdir()
        write_tone(library / name / f"{name}.wav", seconds=1.0)
    playable.append("000-first.wav")
    for number, (kind, case) in enumerate(BAD_FILES.items(), start=1):
        if kind == "missing":
            continue  # a path that is not there is not in a folder's listing
        folder = library / f"{number:03d}-{kind}"
        folder.mkdir()
        path = case.make(folder)
        if path.is_dir():
            continue  # a folder named like a file is walked as a folder: nothing to skip
        (skipped if case.error is not None else playable).append(path.name)
    playable.append("zzz-last.wav")
    return library, skipped, playable


async def test_a_library_of_broken_files_plays_the_rest_and_says_what_it_skipped(
    tmp_path: Path,
) -> None:
    library, must_skip, must_play = broken_library(tmp_path)
    engine = Engine(EngineConfig(), sink=NullSink(speed=PLAY_SPEED))
    messages: list[Message] = []
    heard: list[str] = []
    try:
        app = TierplayApp(engine, library=[library])
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:

            def reached_the_end() -> bool:
                snapshot = engine.snapshot()
                name = snapshot.track.path.name if snapshot.track is not None else None
                moving = snapshot.position_seconds > 0.05
                if name is not None and moving and heard[-1:] != [name]:
                    heard.append(name)
                return heard[-1:] == ["zzz-last.wav"] and not snapshot.playing

            await wait_until(pilot, reached_the_end, "the library to play through", timeout=90)
            await pilot.pause(0.2)  # one more event-log refresh
            shown = log_text(app)
            assert app.return_code is None  # still running: nothing escaped into the UI

        notices = [m.notification for m in messages if isinstance(m, Notify)]
        assert [n.message for n in notices if n.severity == "error"] == []
        # Every playable file was heard, in order; no broken one was.
        assert [name for name in heard if name in must_play] == [
            name for name in must_play if name in heard
        ]
        assert set(heard) <= set(must_play)
        assert len(heard) >= len(must_play) - 2  # a few are shorter than one poll at 4x
        # Each broken file is named in the event panel or counted in its summary line.
        skipped = engine.snapshot().skipped
        assert {item.path.name for item in skipped} >= set(must_skip)
        named = [name for name in must_skip if f"skipped {name}:" in shown]
        summed = len(must_skip) - len(named)
        assert summed == 0 or f"skipped {summed} more files" in shown
    finally:
        engine.close()


# -- the error log on screen ------------------------------------------------------------------
async def test_a_repeated_failure_shows_once_in_the_event_panel_and_counted_in_health(
    tone_library: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    config = EngineConfig(state_dir=blocker / "state")  # every save fails: Not a directory
    engine = Engine(config, sink=NullSink(speed=1.0))
    try:
        app = TierplayApp(engine, autoplay=False, library=[tone_library])
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "skipped d.wav" in log_text(app), "the skip line")
            saves = 6
            for _ in range(saves):
                await pilot.press("minus")  # a setting changed: the next save writes
                assert engine.save_state() is False
            health = app.query_one(HealthPanel)
            expected = f"errors {saves + 1} (2 distinct) · last: state not saved to"
            await wait_until(pilot, lambda: health.last_error.startswith(expected), "health")
            await pilot.pause(0.2)  # one more event-log refresh
            lines = [line for line in log_text(app).splitlines() if "state not saved" in line]
            assert len(lines) == 1 and "Not a directory" in lines[0]
            assert [e.count for e in engine.snapshot().errors] == [saves, 1]
    finally:
        engine.close()
