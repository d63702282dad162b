"""The library panel: rows in tag order, a filter as you type, Enter plays, the view toggles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.app import App, ComposeResult

from engine import Engine
from engine.library.order import sorted_by_tags
from engine.library.tags import Tags
from engine.library.tracks import Track
from tests.helpers.audio_files import write_album
from tui.app import TierplayApp
from tui.widgets.library import (
    DURATION_WIDTH,
    MARK_WIDTH,
    LibraryPanel,
    TrackList,
    library_rows,
    matching,
    row_text,
)

from .test_app import SIZE, make_engine, wait_until

ALBUM = [
    ("Nadia", "Dawn", 1, "Awakening"),
    ("Nadia", "Dawn", 2, "Morning"),
    ("Abel", "Zeal", 1, "Zero"),
]


def track(name: str, **tags: object) -> Track:
    """A track as the library lists it (no file behind it)."""
    found = Tags(**tags)  # type: ignore[arg-type]
    return Track(
        id=name,
        path=Path("/music") / name,
        duration_seconds=185.0,
        native_rate=44_100,
        channels=2,
        frames=185 * 44_100,
        fingerprint=name,
        title=found.title or Path(name).stem,
        artist=found.artist,
        tags=found,
    )


def test_rows_follow_artist_album_disc_and_track_with_loose_files_last() -> None:
    tracks = [
        track("loose.flac"),
        track("c.flac", artist="Nadia", album="Dawn", title="Second", track_number=2),
        track(
            "d.flac",
            artist="Nadia",
            album="Dawn",
            title="Later disc",
            disc_number=2,
            track_number=1,
        ),
        track("a.flac", artist="Abel", album="Zeal", title="Zero", track_number=1),
        track("b.flac", artist="Nadia", album="Dawn", title="First", track_number=1),
    ]
    titles = [row.title for row in library_rows(sorted_by_tags(tracks))]
    assert titles == ["Zero", "First", "Second", "Later disc", "loose"]


def test_a_filter_needs_every_word_in_artist_album_title_or_file_name() -> None:
    rows = library_rows(
        [
            track("x.flac", artist="Nadia", album="Dawn", title="Awakening"),
            track("y.flac", artist="Abel", album="Dawn", title="Zero"),
            track("z.flac", artist="Abel", album="Zeal", title="Zeroth"),
        ]
    )
    assert [r.title for r in matching(rows, "dawn")] == ["Awakening", "Zero"]
    assert [r.title for r in matching(rows, "ZERO abel")] == ["Zero", "Zeroth"]
    assert [r.title for r in matching(rows, "z.flac")] == ["Zeroth"]
    assert matching(rows, "  ") == rows
    assert matching(rows, "nothing") == []


@given(
    width=st.integers(0, 300),
    artist=st.one_of(
        st.text(max_size=80), st.lists(st.text(max_size=20), max_size=5).map(" / ".join)
    ),
    title=st.text(min_size=1, max_size=80),
    playing=st.booleans(),
)
def test_a_row_is_exactly_as_wide_as_the_list(
    width: int, artist: str, title: str, playing: bool
) -> None:
    (row,) = library_rows([track("a.flac", artist=artist, title=title, album="Dawn")])
    text = row_text(row, width, playing)
    assert cell_len(text) == max(width, MARK_WIDTH + DURATION_WIDTH)
    assert text.startswith("▶ ") == playing


class ListApp(App[None]):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = library_rows([track(f"{n:02d}.flac", title=f"Song {n}") for n in range(rows)])

    def compose(self) -> ComposeResult:
        yield TrackList()

    def on_mount(self) -> None:
        self.query_one(TrackList).show_rows(self.rows)


async def test_a_list_longer_than_its_panel_scrolls_down_only() -> None:
    """The rows fill the width left of the vertical scrollbar: a horizontal one would take
    a row of an 80x24 screen for nothing to scroll to."""
    async with ListApp(rows=40).run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        rows = pilot.app.query_one(TrackList)
        assert rows.show_vertical_scrollbar and not rows.show_horizontal_scrollbar
        assert rows.scrollable_content_region.height == 10


def test_a_row_shows_the_playing_mark_the_number_and_the_duration() -> None:
    (row,) = library_rows(
        [
            track(
                "a.flac",
                artist="Nadia",
                album="Dawn",
                title="Awakening",
                track_number=7,
                disc_number=2,
            )
        ]
    )
    text = row_text(row, 80, playing=True)
    assert text.startswith("▶ Nadia")
    assert "2-07 Awakening" in text and text.endswith("3:05")
    narrow = row_text(replace(row, title="Awakening"), 30, playing=False)
    assert narrow.strip().startswith("Awakening") and len(narrow) == 30


def test_a_field_of_several_values_keeps_whole_names_and_counts_the_rest() -> None:
    """Two artists are two values joined by " / ": cut, the row keeps the first names whole
    and says how many more there are, rather than a name cut in two."""
    (row,) = library_rows([track("a.flac", artist="Nadia / Bo / Cleopatra", title="Dawn")])
    cells = [row_text(row, width, playing=False)[MARK_WIDTH:] for width in (100, 80, 50, 40)]
    assert cells[0].startswith("Nadia / Bo / Cleopatra  ")
    assert cells[1].startswith("Nadia / Bo +1  ")
    assert cells[2].startswith("Nadia +2  ")
    assert cells[3].startswith("Nad… +2  ")
    (plain,) = library_rows([track("b.flac", artist="Nadia Boulanger-Cleopatra", title="D")])
    assert row_text(plain, 45, playing=False)[MARK_WIDTH:].startswith("Nadia B…  ")


# -- in the app ------------------------------------------------------------------------------


@pytest.fixture
def tagged_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(write_album(tmp_path / "music", ALBUM))
    yield engine
    engine.close()


def heard_title(engine: Engine) -> str | None:
    track = engine.snapshot().track
    return track.title if track is not None else None


def playing_title(engine: Engine) -> str | None:
    """The title heard while playing; None while paused."""
    return heard_title(engine) if engine.snapshot().playing else None


def shown_titles(app: TierplayApp) -> list[str]:
    return [row.title for row in app.query_one(TrackList).rows]


async def test_l_shows_the_library_in_place_of_the_buffer_panels_and_back(
    tagged_engine: Engine,
) -> None:
    app = TierplayApp(tagged_engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(LibraryPanel)
        assert not panel.display
        await pilot.press("l")
        await wait_until(pilot, lambda: panel.display, "the library to show")
        assert not app.query_one("#buffer-row").display
        assert not app.query_one("#model-row").display
        assert shown_titles(app) == ["Zero", "Awakening", "Morning"]
        assert isinstance(app.focused, TrackList)
        assert panel.border_title == "Library: 3 tracks"
        await pilot.press("l")
        await wait_until(pilot, lambda: not panel.display, "the library to hide")
        assert app.query_one("#buffer-row").display and app.query_one("#model-row").display


async def test_enter_plays_the_track_under_the_cursor_and_marks_it(tagged_engine: Engine) -> None:
    app = TierplayApp(tagged_engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "down", "down", "enter")
        await wait_until(
            pilot, lambda: playing_title(tagged_engine) == "Morning", "the chosen track to play"
        )
        track = tagged_engine.snapshot().track
        track_list = app.query_one(TrackList)
        assert track is not None
        await wait_until(pilot, lambda: track_list.playing_id == track.id, "the playing mark")


async def test_slash_filters_as_you_type_and_player_keys_become_text(
    tagged_engine: Engine,
) -> None:
    app = TierplayApp(tagged_engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        before = tagged_engine.snapshot().track
        await pilot.press("slash", "n", "a", "d")
        panel = app.query_one(LibraryPanel)
        await wait_until(pilot, lambda: shown_titles(app) == ["Awakening", "Morning"], "filter")
        assert panel.border_title == "Library: 2 of 3 match “nad”"
        assert panel.filter_input.value == "nad"
        assert tagged_engine.snapshot().track == before  # `n` was text, not "next track"
        await pilot.press("space", "m", "o")
        await wait_until(pilot, lambda: shown_titles(app) == ["Morning"], "the second word")
        assert not tagged_engine.snapshot().playing  # space was text too
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: playing_title(tagged_engine) == "Morning",
            "Enter in the filter to play the first match",
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(shown_titles(app)) == 3, "the filter to close")
        assert isinstance(app.focused, TrackList)
        await pilot.press("n")  # a player key again
        await wait_until(pilot, lambda: heard_title(tagged_engine) != "Morning", "n to skip")


async def test_a_double_click_plays_a_row(tagged_engine: Engine) -> None:
    app = TierplayApp(tagged_engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        track_list = app.query_one(TrackList)
        await wait_until(pilot, lambda: len(track_list.rows) == 3, "rows")
        await pilot.click(TrackList, offset=(4, 2), times=2)
        await wait_until(
            pilot,
            lambda: playing_title(tagged_engine) == "Morning",
            "the double-clicked row to play",
        )


async def test_a_filter_narrows_as_you_type_and_widens_as_you_delete(
    tagged_engine: Engine,
) -> None:
    app = TierplayApp(tagged_engine, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", "n", "a", "d", "i", "a")
        await wait_until(pilot, lambda: shown_titles(app) == ["Awakening", "Morning"], "nadia")
        await pilot.press("space", "x")
        await wait_until(pilot, lambda: shown_titles(app) == [], "no row has an x too")
        await pilot.press("backspace")
        await wait_until(pilot, lambda: len(shown_titles(app)) == 2, "back to nadia")
        for _ in range(6):
            await pilot.press("backspace")
        await wait_until(pilot, lambda: len(shown_titles(app)) == 3, "every track again")
        await pilot.press("z")
        await wait_until(pilot, lambda: shown_titles(app) == ["Zero"], "a new word from all rows")
