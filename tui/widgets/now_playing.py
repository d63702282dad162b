"""The now-playing panel: track, position, transport state, preset and output."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine import EngineSnapshot

BAR_WIDTH = 40


def format_clock(seconds: float) -> str:
    minutes, secs = divmod(max(int(seconds), 0), 60)
    return f"{minutes}:{secs:02d}"


def position_bar(position: float, duration: float, width: int = BAR_WIDTH) -> str:
    """A text progress bar; the playhead is the boundary between filled and empty."""
    filled = 0 if duration <= 0 else min(width, round(width * position / duration))
    return "━" * filled + "╸" + "─" * (width - filled)


class NowPlaying(Widget):
    """Shows what is playing; updated from engine snapshots, never from the audio thread."""

    DEFAULT_CSS = """
    NowPlaying { height: auto; padding: 0 1; }
    """

    snapshot: reactive[EngineSnapshot | None] = reactive(None, layout=True)
    """The latest engine snapshot to show."""

    def render(self) -> Text:
        snap = self.snapshot
        if snap is None or snap.track is None:
            return Text("Nothing to play: open a file or folder.", style="dim")
        track = snap.track
        name = f"{track.artist} — {track.title}" if track.artist else track.title
        state = "▶ playing" if snap.playing else "⏸ paused"
        text = Text()
        text.append(f"{name}", style="bold")
        text.append(f"   [{snap.track_index + 1}/{snap.track_count}]\n", style="dim")
        text.append(f"{format_clock(snap.position_seconds)} ")
        text.append(position_bar(snap.position_seconds, snap.duration_seconds), style="cyan")
        text.append(f" {format_clock(snap.duration_seconds)}\n")
        text.append(f"{state}   volume {snap.volume:.0%}   ")
        text.append(f"preset {snap.preset}", style="bold magenta")
        text.append(f" @ {snap.intensity:.0%}\n")
        text.append(f"output: {snap.output_name}", style="dim")
        if snap.output_notice:
            text.append(f"  (no audio device: {snap.output_notice})", style="yellow")
        return text
