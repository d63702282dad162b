"""The queue panel: the tracks queued to play next, numbered, then (dim) what the order
plays after them, so the listener sees what comes whatever the modes.

The queued rows are edited in place (remove, move up or down) and Enter plays any row
now. Rows are `LibraryRow`s in a `TrackList`, drawn as the library draws them.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical

from engine.playback.queue import QueueView
from tui.widgets.library import TrackList, library_rows
from tui.widgets.panel import framed_css

FOLLOWING_SHOWN = 50
"""Tracks of the order shown after the queue: enough to see where it goes."""


def queue_title(view: QueueView) -> str:
    """`Queue: 2 tracks, then the album shuffled`: the panel's border says the whole plan."""
    count = len(view.up_next)
    queued = "empty" if not count else f"{count} track" + ("s" if count != 1 else "")
    what = {"library": "the library", "album": "the album", "folder": "the folder"}[view.scope]
    order = "shuffled" if view.shuffle else "in order"
    repeat = {"off": "", "all": ", repeated", "one": ", the playing track repeated"}[view.repeat]
    return f"Queue: {queued}, then {what} {order}{repeat}"


class QueuePanel(Vertical):
    """The queue's list; its keys edit the queued rows."""

    DEFAULT_CSS = framed_css("QueuePanel", "height: 1fr;")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,x", "ask('remove')", "Remove", id="queue_remove"),
        Binding("shift+up,K", "ask('move_up')", "Move up", id="queue_move_up"),
        Binding("shift+down,J", "ask('move_down')", "Move down", id="queue_move_down"),
    ]
    BORDER_TITLE = "Queue"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield TrackList(id="queue-list")

    @property
    def track_list(self) -> TrackList:
        return self.query_one(TrackList)

    @property
    def queued(self) -> int:
        """Rows that are queued (the rest show the order after them)."""
        return self.track_list.dim_from or 0

    def show_queue(self, view: QueueView) -> None:
        """Show `view`; nothing is redrawn when it is what is shown."""
        key = (view.repeat, view.shuffle, view.scope, *map(id, view.up_next), *map(id, view.then))
        if key == self._shown:
            return
        self._shown = key
        tracks = [*view.up_next, *view.then]
        listing = self.track_list
        listing.marks = {place: f"{place + 1}" for place in range(len(view.up_next))}
        listing.dim_from = len(view.up_next)
        listing.show_rows(library_rows(tracks))
        self.border_title = queue_title(view)

    def action_ask(self, what: str) -> None:
        self.track_list.ask(what)
