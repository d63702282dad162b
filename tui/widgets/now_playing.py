"""The now-playing panel: track, position, what the music is doing, preset, volume, output.

It is the transport, so it stays on screen whatever the terminal's size; a click on its
position bar seeks there.
"""

from __future__ import annotations

from dataclasses import replace

from textual import events
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive

from engine import EngineSnapshot
from engine.library.tracks import Track
from engine.observe.monitor import MonitorSnapshot
from engine.vocabulary import BYPASS, format_clock
from tui.widgets.panel import Panel

BAR_WIDTH = 40
"""Position bar length when the caller does not fit it to a panel."""
MIN_BAR_WIDTH = 10
MIN_TICK_SPACING = 2
"""Cells between chunk ticks below which they would merge into a dashed line: left out."""
POSITION_LINE = 1
"""The line of the position bar (from 0)."""
LINES = 4
"""Every state renders this many lines, so new snapshots repaint without a new layout."""
PLAYED_STYLE = "$accent"
UNPLAYED_STYLE = "$foreground-muted"
WARNING_STYLE = "$warning"


def position_bar(
    position: float, duration: float, width: int = BAR_WIDTH, chunk_seconds: float = 0.0
) -> str:
    """A `width`-cell bar: played `━`, the playhead `╸`, unplayed `─`.

    Chunk boundaries get a tick (`┿` played, `┼` ahead) because the buffer works in
    chunks: a seek or switch across a tick may need a chunk that is not rendered yet.
    """
    head = playhead_cell(position, duration, width)
    cells = ["━" if cell < head else "─" for cell in range(width)]
    for cell in chunk_tick_cells(duration, width, chunk_seconds):
        cells[cell] = "┿" if cell < head else "┼"
    if 0 <= head < width:
        cells[head] = "╸"
    return "".join(cells)


def playhead_cell(position: float, duration: float, width: int) -> int:
    """The cell of a `width`-cell bar the playhead is in (0 when the length is unknown)."""
    if duration <= 0 or width <= 0:
        return 0
    return min(width - 1, max(0, int(width * position / duration)))


def chunk_tick_cells(duration: float, width: int, chunk_seconds: float) -> list[int]:
    """Cells of a `width`-cell bar where a chunk starts (the first chunk's start excluded)."""
    if duration <= 0 or chunk_seconds <= 0 or width * chunk_seconds / duration < MIN_TICK_SPACING:
        return []
    boundaries = int(duration // chunk_seconds)
    cells = (round(width * k * chunk_seconds / duration) for k in range(1, boundaries + 1))
    return [cell for cell in cells if 0 < cell < width]


def track_name(track: Track) -> str:
    """`artist — title` when the file is tagged with an artist, otherwise the title."""
    return f"{track.artist} — {track.title}" if track.artist else track.title


class NowPlaying(Panel):
    """What is playing, where, how loud, through which preset and which output.

    Fed engine snapshots at 10 Hz by the app; a frozen snapshot equal to the last one
    causes no repaint, so a paused player costs nothing.
    """

    BORDER_TITLE = "Now playing"
    DEFAULT_CSS = """
    NowPlaying {
        border: round $accent;
    }
    """

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """The latest engine snapshot to show."""

    class SeekTo(Message):
        """The listener clicked the position bar at `seconds` into the track."""

        def __init__(self, seconds: float) -> None:
            super().__init__()
            self.seconds = seconds

    def show(self, snapshot: EngineSnapshot, monitor: MonitorSnapshot | None) -> None:
        """Show `snapshot`; the monitor adds nothing here (it is taken for a uniform call).
        A snapshot that differs from the one shown only by a playhead that has not moved a
        second on the clock or a cell on the bar is not drawn at all: at 10 Hz, drawing it
        to find it unchanged was most of this panel's cost."""
        shown = self.snapshot
        if shown is not None and self._drawn_alike(shown, snapshot):
            return
        self.snapshot = snapshot

    def _drawn_alike(self, shown: EngineSnapshot, new: EngineSnapshot) -> bool:
        if replace(new, position_seconds=shown.position_seconds) != shown:
            return False
        return self._playhead_drawing(shown) == self._playhead_drawing(new)

    def _playhead_drawing(self, snap: EngineSnapshot) -> tuple[str, int]:
        """What of the position line moves with the playhead: the clock and the bar's cell."""
        _first, width = self._bar_span(snap)
        position = snap.position_seconds
        return format_clock(position), playhead_cell(position, snap.duration_seconds, width)

    def render(self) -> Content:
        snap = self.snapshot
        if snap is None or snap.track is None:
            empty = Content.styled("Nothing to play: open a file or folder.", "dim")
            return Content("\n").join([empty, *([""] * (LINES - 1))])
        return Content("\n").join(
            [
                self._title_line(snap),
                self._position_line(snap),
                _status_line(snap),
                _sound_line(snap),
            ]
        )

    def _title_line(self, snap: EngineSnapshot) -> Content:
        assert snap.track is not None
        return Content.assemble(
            (track_name(snap.track), "bold"),
            (f"  [{snap.track_index + 1}/{snap.track_count}]", "dim"),
        )

    def _bar_span(self, snap: EngineSnapshot) -> tuple[int, int]:
        """(first cell, width) of the position bar on its line."""
        elapsed = format_clock(snap.position_seconds)
        total = format_clock(snap.duration_seconds)
        return len(elapsed) + 1, max(MIN_BAR_WIDTH, self.size.width - len(elapsed) - len(total) - 2)

    def on_click(self, event: events.Click) -> None:
        """A click on the bar seeks to where it points (the cell's start)."""
        snap = self.snapshot
        if snap is None or snap.track is None or snap.duration_seconds <= 0:
            return
        offset = event.get_content_offset(self)
        if offset is None or offset.y != POSITION_LINE:
            return
        first, width = self._bar_span(snap)
        if first <= offset.x < first + width:
            event.stop()
            self.post_message(self.SeekTo(snap.duration_seconds * (offset.x - first) / width))

    def _position_line(self, snap: EngineSnapshot) -> Content:
        elapsed = format_clock(snap.position_seconds)
        total = format_clock(snap.duration_seconds)
        _first, width = self._bar_span(snap)
        bar = position_bar(snap.position_seconds, snap.duration_seconds, width, snap.chunk_seconds)
        head = playhead_cell(snap.position_seconds, snap.duration_seconds, width) + 1
        return Content.assemble(
            f"{elapsed} ",
            (bar[:head], PLAYED_STYLE),
            (bar[head:], UNPLAYED_STYLE),
            f" {total}",
        )


def _status_line(snap: EngineSnapshot) -> Content:
    """What the music is doing, and the queue's modes that are on."""
    parts: list[str | tuple[str, str]] = [_status(snap)]
    for mode in play_modes(snap):
        parts += ["  ", (mode, "bold")]
    return Content.assemble(*parts)


def _sound_line(snap: EngineSnapshot) -> Content:
    """The preset heard (`→ requested` while a missed switch renders), the volume, and
    the output last: on a narrow screen the output is what is cut."""
    volume = ("muted", WARNING_STYLE) if snap.muted else (f"vol {snap.volume:.0%}", "")
    parts: list[str | tuple[str, str]] = [
        "preset ",
        (snap.preset, "bold $accent"),
        f" @ {snap.intensity:.0%}",
    ]
    if snap.requested_preset != snap.preset:
        parts += [(f" → {snap.requested_preset}", WARNING_STYLE), (" rendering…", "dim")]
    elif snap.sounds_like is not None:
        parts.append((alike_note(snap.sounds_like), "dim"))
    parts += ["   ", volume, "   "]
    return Content.assemble(*parts) + _output(snap)


def alike_note(other: str) -> str:
    """What a listener is told when the preset makes no clear difference on this track."""
    if other == BYPASS:
        return " (no audible change on this track)"
    return f" (sounds like {other} on this track)"


def _status(snap: EngineSnapshot) -> tuple[str, str]:
    """What the music is doing, in a word or three."""
    if snap.ended:
        return "■ end of the list", "dim"
    if not snap.playing:
        return "▌▌ paused", WARNING_STYLE
    if snap.buffering:
        return "… buffering", WARNING_STYLE
    if snap.standing_in:
        return f"▶ playing the original while {snap.preset} renders", WARNING_STYLE
    if snap.presets_ready < snap.presets_total:
        return f"▶ preparing presets ({snap.presets_ready} of {snap.presets_total})", "$success"
    return "▶ playing", "$success"


def play_modes(snap: EngineSnapshot) -> list[str]:
    """The queue's modes that are on, in words: `repeat all`, `shuffle`, `album`, `+2`."""
    modes = [f"repeat {snap.repeat}"] if snap.repeat != "off" else []
    if snap.shuffle:
        modes.append("shuffle")
    if snap.scope != "library":
        modes.append(f"{snap.scope} only")
    if snap.queued:
        modes.append(f"+{snap.queued} queued")
    return modes


def _output(snap: EngineSnapshot) -> Content:
    """The output device, or why there is none (the null sink plays silently)."""
    line = Content.styled(f"output: {snap.output_name}", "dim")
    if snap.output_notice:
        line += Content.styled(f"  no audio device: {snap.output_notice}", WARNING_STYLE)
    return line
