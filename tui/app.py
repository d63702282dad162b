"""The Tierplay Textual app: reads engine snapshots on a timer and sends commands."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, Log

from engine import PRESET_ORDER, Engine
from tui.widgets.now_playing import NowPlaying

SNAPSHOT_HZ = 10


class TierplayApp(App[None]):
    """The player. The engine is created by the caller and closed when the app exits."""

    TITLE = "Tierplay"
    CSS_PATH = "tierplay.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_play", "Play/Pause", id="play_pause", priority=True),
        Binding("left", "seek(-5)", "-5s", id="seek_back", priority=True),
        Binding("right", "seek(5)", "+5s", id="seek_forward", priority=True),
        Binding("shift+left", "seek(-1)", "-1s", id="seek_back_fine", priority=True, show=False),
        Binding("shift+right", "seek(1)", "+1s", id="seek_forward_fine", priority=True, show=False),
        Binding("comma", "seek(-30)", "-30s", id="seek_back_far", priority=True, show=False),
        Binding("full_stop", "seek(30)", "+30s", id="seek_forward_far", priority=True, show=False),
        Binding("n", "next_track", "Next", id="next_track", priority=True),
        Binding("N", "prev_track", "Previous", id="prev_track", priority=True),
        *(
            Binding(
                str(number),
                f"preset('{name}')",
                name,
                id=f"preset_{name}",
                priority=True,
                show=False,
            )
            for number, name in enumerate(PRESET_ORDER, start=1)
        ),
        Binding("plus,equals_sign", "volume(0.05)", "Vol+", id="volume_up", priority=True),
        Binding("minus", "volume(-0.05)", "Vol-", id="volume_down", priority=True),
        Binding("m", "toggle_mute", "Mute", id="mute", priority=True),
        Binding("q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(self, engine: Engine, autoplay: bool = True) -> None:
        super().__init__()
        self.engine = engine
        self.autoplay = autoplay
        self._messages_shown = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield NowPlaying(id="now-playing")
        yield Log(id="event-log", max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        if self.autoplay:
            self.engine.play()
        self.refresh_from_engine()
        self.set_interval(1 / SNAPSHOT_HZ, self.refresh_from_engine)

    def refresh_from_engine(self) -> None:
        snapshot = self.engine.snapshot()
        self.query_one(NowPlaying).snapshot = snapshot
        log = self.query_one(Log)
        unseen = min(snapshot.message_count - self._messages_shown, len(snapshot.messages))
        for message in snapshot.messages[len(snapshot.messages) - unseen :]:
            log.write_line(message)
        self._messages_shown = snapshot.message_count

    def action_toggle_play(self) -> None:
        if self.engine.snapshot().playing:
            self.engine.pause()
        else:
            self.engine.play()

    def action_seek(self, delta: float) -> None:
        self.engine.seek_relative(delta)

    def action_next_track(self) -> None:
        self.engine.next_track()

    def action_prev_track(self) -> None:
        self.engine.prev_track()

    def action_preset(self, name: str) -> None:
        self.engine.set_preset(name)

    def action_volume(self, delta: float) -> None:
        self.engine.set_volume(self.engine.snapshot().volume + delta)

    def action_toggle_mute(self) -> None:
        self.engine.toggle_mute()
