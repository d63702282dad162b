"""The library panel: every track of the playlist by its tags, filtered as you type.

A library can hold 10,000 tracks, so the list draws only the lines on screen (Textual's
line API on a `ScrollView`): filtering or scrolling costs the same for ten tracks or ten
thousand. Rows are in the library's order (`engine/library/order.py`: a folder by album
artist, album, disc and track number, so an album reads in its order); the playing track
is marked. From a row the listener plays the track, queues it, or plays its album or
folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from engine.library.tags import VALUES_JOINED_BY
from engine.library.tracks import Track
from engine.vocabulary import format_clock
from tui.widgets.panel import framed_css

PLAYING_MARK = "▶ "
MARK_WIDTH = len(PLAYING_MARK)
DURATION_WIDTH = 7
"""` 12:34` or `1:02:03`, right-aligned."""
GAP = "  "


@dataclass(frozen=True)
class LibraryRow:
    """One track as the library lists it: what it shows and what a filter searches."""

    track: Track
    artist: str
    album: str
    title: str
    number: str
    """`2-07` (disc-track) or `07`, empty when untagged."""
    search: str
    """Artist, album, title and file name, case-folded: what a filter's words must be in."""


def library_rows(tracks: Sequence[Track]) -> list[LibraryRow]:
    """The tracks as rows, in their order."""
    return [_row(track) for track in tracks]


def matching(rows: Sequence[LibraryRow], query: str) -> list[LibraryRow]:
    """Rows with every word of `query` somewhere in artist, album, title or file name
    (one plain pass per word: a test per row and word costs most of a keystroke)."""
    found = list(rows)
    for word in query.casefold().split():
        found = [row for row in found if word in row.search]
    return found


def _row(track: Track) -> LibraryRow:
    tags = track.tags
    artist = track.artist or tags.album_artist
    number = f"{tags.track_number:02d}" if tags.track_number else ""
    if number and tags.disc_number:
        number = f"{tags.disc_number}-{number}"
    search = " ".join((artist, tags.album_artist, tags.album, track.title, track.path.name))
    return LibraryRow(track, artist, tags.album, track.title, number, search.casefold())


def row_text(row: LibraryRow, width: int, playing: bool, mark: str = "") -> str:
    """One line of `width` cells (never fewer than the mark and the duration): mark, artist,
    album, number and title, duration. `mark` replaces the blank a row not playing has."""
    mark = PLAYING_MARK if playing else (mark or " " * MARK_WIDTH)[:MARK_WIDTH].ljust(MARK_WIDTH)
    duration = format_clock(round(row.track.duration_seconds)).rjust(DURATION_WIDTH)
    room = max(0, width - MARK_WIDTH - DURATION_WIDTH)
    if room < 30:  # narrow: the title alone
        return mark + _fit(row.title, room) + duration
    artist_width = room * 3 // 10
    album_width = room * 3 // 10
    title_width = room - artist_width - album_width
    title = f"{row.number} {row.title}" if row.number else row.title
    return (
        mark
        + _fit(row.artist, artist_width)
        + _fit(row.album, album_width)
        + _fit(title, title_width)
        + duration
    )


def _fit(text: str, width: int) -> str:
    """`text` in `width` cells with a gap after it, shortened when too long."""
    if width <= len(GAP):
        return " " * width
    room = width - len(GAP)
    if cell_len(text) > room:
        text = _shortened(text, room)
    return set_cell_size(text, room) + GAP


def _shortened(text: str, room: int) -> str:
    """`text`, too long for `room` cells, cut to fit. A field's several values (two
    artists: `Ann / Bob / Cleo`) keep as many first values whole as fit and say how many
    more there are (`Ann / Bob +1`), so no name is cut; a first value too long for that is
    cut with an ellipsis before the count, and anything else at the end."""
    values = text.split(VALUES_JOINED_BY)
    for kept in range(len(values) - 1, 0, -1):
        shown = VALUES_JOINED_BY.join(values[:kept]) + f" +{len(values) - kept}"
        if cell_len(shown) <= room:
            return shown
    more = f" +{len(values) - 1}" if len(values) > 1 else ""
    if more and room - len(more) >= 2:
        return set_cell_size(values[0], room - len(more) - 1) + "…" + more
    return set_cell_size(text, room - 1) + "…"


class TrackList(ScrollView, can_focus=True):
    """The rows, one line each, with a cursor; Enter or a double click plays a row."""

    DEFAULT_CSS = """
    TrackList {
        height: 1fr;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;  /* rows are drawn to the width: nothing to scroll sideways */
    }
    TrackList > .track-list--cursor {
        background: $accent 30%;
    }
    TrackList:focus > .track-list--cursor {
        background: $accent;
        color: $text;
    }
    TrackList > .track-list--playing {
        text-style: bold;
        color: $success;
    }
    TrackList > .track-list--later {
        color: $text-muted;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "track-list--cursor",
        "track-list--playing",
        "track-list--later",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move_to(0)", "First", show=False),
        Binding("end", "move_to(-1)", "Last", show=False),
        Binding("enter", "choose", "Play", id="library_play"),
    ]

    class Chosen(Message):
        """The listener chose `track` to play."""

        def __init__(self, track: Track) -> None:
            super().__init__()
            self.track = track

    class Asked(Message):
        """The listener asked `what` of the track in row `place` (see `TRACK_REQUESTS`)."""

        def __init__(self, list: TrackList, track: Track, what: str, place: int) -> None:
            super().__init__()
            self.list = list
            self.track = track
            self.what = what
            self.place = place

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[LibraryRow] = []
        self.cursor = 0
        self.playing_id: str | None = None
        self.marks: dict[int, str] = {}
        """Row index -> the mark drawn before it (the queue numbers its rows)."""
        self.dim_from: int | None = None
        """Rows from here on are drawn dim: shown, not edited (what plays after the queue)."""

    def show_rows(self, rows: list[LibraryRow]) -> None:
        """Show `rows`, keeping the cursor on the same track where it is still listed."""
        current = self.current()
        self.rows = rows
        ids = [row.track.id for row in rows]
        self.cursor = ids.index(current.track.id) if current and current.track.id in ids else 0
        self.virtual_size = Size(self.size.width, len(rows))
        self._keep_cursor_visible()
        self.refresh()

    def mark_playing(self, track_id: str | None) -> None:
        if track_id != self.playing_id:
            self.playing_id = track_id
            self.refresh()

    def current(self) -> LibraryRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if not 0 <= index < len(self.rows):
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        playing = row.track.id == self.playing_id
        style = self.rich_style
        if self.dim_from is not None and index >= self.dim_from:
            style += self.get_component_rich_style("track-list--later")
        if playing:
            style += self.get_component_rich_style("track-list--playing")
        if index == self.cursor:
            style += self.get_component_rich_style("track-list--cursor")
        text = row_text(row, width, playing, self.marks.get(index, ""))
        return Strip([Segment(text, style)], width)

    def action_move(self, step: int) -> None:
        self._set_cursor(self.cursor + step)

    def action_page(self, step: int) -> None:
        self._set_cursor(self.cursor + step * max(1, self.scrollable_content_region.height - 1))

    def action_move_to(self, index: int) -> None:
        self._set_cursor(index if index >= 0 else len(self.rows) - 1)

    def action_choose(self) -> None:
        row = self.current()
        if row is not None:
            self.post_message(self.Chosen(row.track))

    def ask(self, what: str) -> None:
        """Tell the app the listener asked `what` of the row under the cursor."""
        row = self.current()
        if row is not None:
            self.post_message(self.Asked(self, row.track, what, self.cursor))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < len(self.rows):
            self._set_cursor(index)
            if event.chain >= 2:
                self.action_choose()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows))

    def _set_cursor(self, index: int) -> None:
        self.cursor = max(0, min(index, len(self.rows) - 1))
        self._keep_cursor_visible()
        self.refresh()

    def _keep_cursor_visible(self) -> None:
        if self.rows:
            self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, immediate=True)


class LibraryPanel(Vertical):
    """The track list under a filter line that `/` opens; Escape closes the filter."""

    DEFAULT_CSS = framed_css(
        "LibraryPanel",
        """
        height: 1fr;
        """,
    ) + (
        """
    LibraryPanel > #library-filter, LibraryPanel > #library-filter:focus {
        display: none;
        height: 1;
        border: none;
        padding: 0;
        background: $boost;
    }
    LibraryPanel.-filtering > #library-filter {
        display: block;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close_filter", "Close filter", show=False),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("e", "ask('queue')", "Queue", id="library_queue"),
        Binding("E", "ask('queue_next')", "Play next", id="library_play_next"),
        Binding("a", "ask('album')", "Play album", id="library_play_album"),
        Binding("d", "ask('folder')", "Play folder", id="library_play_folder"),
    ]
    BORDER_TITLE = "Library"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.all_rows: list[LibraryRow] = []
        self._tracks: list[Track] = []
        self._last: tuple[str, list[LibraryRow]] = ("", [])
        """The last filter and its rows: typing on narrows them instead of all rows."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: words of artist, album or title", id="library-filter")
        yield TrackList(id="library-list")

    @property
    def track_list(self) -> TrackList:
        return self.query_one(TrackList)

    @property
    def filter_input(self) -> Input:
        return self.query_one(Input)

    def show_tracks(self, tracks: list[Track]) -> None:
        """The playlist's tracks; nothing is redone when they are the same objects."""
        if len(tracks) == len(self._tracks) and all(
            a is b for a, b in zip(tracks, self._tracks, strict=True)
        ):
            return
        self._tracks = list(tracks)
        self.all_rows = library_rows(tracks)
        self._last = ("", self.all_rows)
        self._apply_filter()

    def open_filter(self) -> None:
        self.add_class("-filtering")
        self.filter_input.focus()

    def action_close_filter(self) -> None:
        if self.has_class("-filtering"):
            self.remove_class("-filtering")
            self.filter_input.value = ""
            self.track_list.focus()

    def action_move(self, step: int) -> None:
        self.track_list.action_move(step)

    def action_ask(self, what: str) -> None:
        self.track_list.ask(what)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._apply_filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter plays the row under the cursor (the first match). Posted from
        here: a message a child posts on its parent's behalf stops at that parent."""
        event.stop()
        row = self.track_list.current()
        if row is not None:
            self.post_message(TrackList.Chosen(row.track))

    def _apply_filter(self) -> None:
        query = self.filter_input.value if self.has_class("-filtering") else ""
        folded = query.casefold()
        last_query, last_rows = self._last
        # A query that only adds to the end matches a subset of what the last one matched.
        narrowed = bool(last_query) and folded.startswith(last_query)
        rows = matching(last_rows if narrowed else self.all_rows, folded)
        self._last = (folded, rows)
        self.track_list.show_rows(rows)
        total = len(self.all_rows)
        if query.strip():
            self.border_title = f"Library: {len(rows):,} of {total:,} match “{query.strip()}”"
        else:
            self.border_title = f"Library: {total:,} tracks"
