"""The queue in the app: keys queue from the library, `u` shows the queue and edits it,
`r` and `s` set repeat and shuffle on the transport line, `a` and `d` play an album or a
folder, and the palette saves and queues playlists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine
from tests.helpers.audio_files import write_album
from tui.app import TierplayApp
from tui.widgets.library import LibraryPanel, TrackList
from tui.widgets.now_playing import NowPlaying
from tui.widgets.queue import QueuePanel

from .test_app import SIZE, make_engine, run_command, type_path, wait_until

SONGS = [
    ("Abel", "Zeal", 1, "Zero"),
    ("Nadia", "Dawn", 1, "Awakening"),
    ("Nadia", "Dawn", 2, "Morning"),
    ("Nadia", "Dusk", 1, "Evening"),
]
"""In the library's order (by artist, album, track number)."""


@pytest.fixture
def music(tmp_path: Path) -> Path:
    return write_album(tmp_path / "music", SONGS)


@pytest.fixture
def engine(music: Path) -> Iterator[Engine]:
    made = make_engine(music)
    yield made
    made.close()


def queued_titles(engine: Engine) -> list[str]:
    return [track.title for track in engine.queue().up_next]


def queue_rows(app: TierplayApp) -> list[str]:
    return [row.title for row in app.query_one(QueuePanel).track_list.rows]


def transport_line(app: TierplayApp) -> str:
    return str(app.query_one(NowPlaying).render()).splitlines()[2]


async def test_library_keys_queue_and_u_shows_the_queue_to_edit(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "down", "down", "e", "down", "e", "up", "up", "E")
        await wait_until(pilot, lambda: len(queued_titles(engine)) == 3, "three queued")
        assert queued_titles(engine) == ["Awakening", "Morning", "Evening"]
        await wait_until(pilot, lambda: "+3 queued" in transport_line(app), "the count")

        await pilot.press("u")
        panel = app.query_one(QueuePanel)
        await wait_until(pilot, lambda: panel.display, "the queue view")
        assert not app.query_one(LibraryPanel).display
        assert not app.query_one("#buffer-row").display
        assert queue_rows(app)[:3] == ["Awakening", "Morning", "Evening"]
        assert panel.queued == 3
        assert panel.border_title == "Queue: 3 tracks, then the library in order"
        assert isinstance(app.focused, TrackList)

        await pilot.press("J")  # Awakening one down
        await wait_until(pilot, lambda: queued_titles(engine)[1] == "Awakening", "moved")
        assert panel.track_list.cursor == 1, "the cursor follows the moved track"
        await pilot.press("K")
        await wait_until(pilot, lambda: queued_titles(engine)[0] == "Awakening", "back up")
        await pilot.press("shift+down")
        await wait_until(pilot, lambda: queued_titles(engine)[1] == "Awakening", "down again")
        await pilot.press("shift+up", "shift+down")
        await wait_until(pilot, lambda: panel.track_list.cursor == 1, "the cursor at 1")
        assert queued_titles(engine)[1] == "Awakening"
        await pilot.press("x")
        await wait_until(pilot, lambda: queued_titles(engine) == ["Morning", "Evening"], "gone")
        await wait_until(pilot, lambda: queue_rows(app)[:2] == ["Morning", "Evening"], "redrawn")
        await pilot.press("end", "x")  # a row after the queue: shown, not edited
        assert queued_titles(engine) == ["Morning", "Evening"]
        await pilot.press("home", "down", "delete")
        await wait_until(pilot, lambda: queued_titles(engine) == ["Morning"], "deleted")
        engine.enqueue(next(t.id for t in engine.tracks() if t.title == "Evening"))

        await pilot.press("home", "enter")
        await wait_until(pilot, lambda: engine.snapshot().playing, "the queued track to play")
        track = engine.snapshot().track
        assert track is not None and track.title == "Morning"
        await wait_until(pilot, lambda: queued_titles(engine) == ["Evening"], "it left the queue")
        await pilot.press("u")
        await wait_until(pilot, lambda: not panel.display, "the buffer panels again")
        assert app.query_one("#buffer-row").display


async def test_r_and_s_set_repeat_and_shuffle_on_the_transport_line(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        assert "repeat" not in transport_line(app)
        await pilot.press("r")
        await wait_until(pilot, lambda: "repeat all" in transport_line(app), "repeat all")
        await pilot.press("r")
        await wait_until(pilot, lambda: "repeat one" in transport_line(app), "repeat one")
        assert engine.snapshot().repeat == "one"
        await pilot.press("r")
        await wait_until(pilot, lambda: engine.snapshot().repeat == "off", "repeat off")
        await pilot.press("s")
        await wait_until(pilot, lambda: "shuffle" in transport_line(app), "shuffle shown")
        assert engine.snapshot().shuffle
        await pilot.press("s")
        await wait_until(pilot, lambda: not engine.snapshot().shuffle, "shuffle off")


async def test_a_and_d_play_an_album_or_a_folder_from_its_first_track(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "down", "down", "a")  # on "Morning": its album is Dawn
        await wait_until(pilot, lambda: engine.snapshot().scope == "album", "album only")
        track = engine.snapshot().track
        assert track is not None and track.title == "Awakening"
        await wait_until(pilot, lambda: "album only" in transport_line(app), "shown")
        await pilot.press("d")
        await wait_until(pilot, lambda: engine.snapshot().scope == "folder", "folder only")
        track = engine.snapshot().track
        assert track is not None and track.title == "Zero"
        run_command(app, "Play the whole library")
        assert engine.snapshot().scope == "library"


async def test_library_keys_are_text_in_the_filter(engine: Engine) -> None:
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", "e", "v", "e")
        panel = app.query_one(LibraryPanel)
        await wait_until(pilot, lambda: panel.filter_input.value == "eve", "typed")
        assert queued_titles(engine) == [] and engine.snapshot().scope == "library"


async def test_the_palette_saves_the_queue_and_queues_a_playlist(
    engine: Engine, tmp_path: Path
) -> None:
    titles = {track.title: track.id for track in engine.tracks()}
    engine.enqueue(titles["Evening"])
    target = tmp_path / "lists" / "evening.m3u8"
    target.parent.mkdir()
    app = TierplayApp(engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        run_command(app, "Save the queue as a playlist…")
        await type_path(pilot, app, target)
        await pilot.press("enter")
        await wait_until(pilot, target.exists, "the playlist file")
        entries = [line for line in target.read_text().splitlines() if line[:1] != "#"]
        assert entries == ["../music/0.flac", "../music/3.flac"]

        engine.dequeue(0)
        run_command(app, "Queue a playlist…")
        await type_path(pilot, app, target)
        await pilot.press("enter")
        await wait_until(pilot, lambda: queued_titles(engine) == ["Zero", "Evening"], "queued")

        run_command(app, "Queue a playlist…")
        await type_path(pilot, app, tmp_path / "nowhere.m3u8")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: any("nowhere.m3u8" in n.message for n in app._notifications),
            "the reason",
        )
        assert queued_titles(engine) == ["Zero", "Evening"]
