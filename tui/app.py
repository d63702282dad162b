"""The Tierplay Textual app: reads engine snapshots on timers and sends commands.

The engine runs in this process, so the UI must never hold the GIL for long or wait on
anything: transport panels read `Engine.snapshot()` at 5 Hz, the heavier panels
`Engine.monitor()` at 4 Hz, hidden panels are not drawn, and the one slow thing the UI can
ask for (scanning a folder, opening a trace file) runs in a thread worker that reports back
with a message. The library named on the command line is opened that way too, with a
progress bar, so a folder of 10,000 files shows the player at once instead of a frozen
terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from textual import events, work
from textual.actions import ActionParseResult
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.dom import DOMNode
from textual.driver import Driver
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.widget import Widget
from textual.widgets import Footer, Header, Input
from textual.worker import Worker, WorkerState

from engine import EngineSnapshot
from engine.errors import TierplayError
from engine.library.scan import ScanProgress
from engine.library.tracks import Track
from engine.observe.events import Subscription
from engine.observe.monitor import MonitorSnapshot
from engine.playback.controls import PlaybackControls
from engine.playback.queue import REPEAT_MODES, QueueView
from engine.presets.model import PLACES_WITH_KEYS
from engine.vocabulary import PRESET_ORDER, plural
from tui.blind import BlindTest
from tui.cli import library_root
from tui.keymap import LoadedKeymap, keymap_path, load_keymap, preset_key_clashes
from tui.library_opening import LibraryOpening, OpeningState, describe_paths
from tui.monitor_pace import MonitorPace
from tui.palette import TierplayCommands
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen, help_sections, with_preset_names
from tui.screens.path_prompt import PathPrompt
from tui.widgets.cache_map import CacheMapPanel
from tui.widgets.event_log import EventLog
from tui.widgets.health import HealthPanel
from tui.widgets.library import LibraryPanel, TrackList
from tui.widgets.library_progress import LibraryProgress
from tui.widgets.now_playing import NowPlaying
from tui.widgets.output_meter import OutputMeter
from tui.widgets.panel import PresetClicked
from tui.widgets.predictions import PredictionsPanel
from tui.widgets.queue import FOLLOWING_SHOWN, QueuePanel
from tui.widgets.tier_panel import TierPanel

SNAPSHOT_HZ = 5
"""Playhead and event log: each reading costs the main thread 0.7 ms, mostly drawing. Five
a second move the position bar by each eighth of a cell on real music (a quarter of a
second of a 2-minute track at 80 columns); what a key or a click asked is shown at once
(`run_action`, `choose_preset`, `_ask_engine`), not at the next reading."""
MONITOR_HZ = 4
"""Tiers, cache map, predictions, health, meter: each read walks the buffer. While the
buffer is still, one tick in four reads (`MonitorPace`)."""
VOLUME_STEP = 0.05
INTENSITY_STEP = 0.05
"""One intensity bucket, so each key press is heard as a new render."""
DEFAULT_TRACE_NAME = "tierplay-trace.jsonl"
DEFAULT_PLAYLIST_NAME = "queue.m3u8"
QUIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
HIDDEN_PANELS = "hidden_panels"
"""The view setting that keeps the panels hidden for the next session."""
DEFAULT_MAP_COLUMNS = 12
BUFFER_ROW_EXTRA_LINES = 4
"""The buffer row's lines besides the cache map's preset rows: playhead, legend, border."""
NARROW_COLUMNS = 100
"""Narrower than this, the now-playing panel takes the top row alone: its lines (status
and modes, preset and volume) need most of an 80-column terminal."""
SHORT_ROWS = 36
"""Rows every panel needs: header, transport, the two panel rows, the event log, footer."""


if TYPE_CHECKING:
    from desktop.mpris import MprisServer


class PlayerEngine(PlaybackControls, Protocol):
    """What the app needs from `engine.Engine`; snapshot tests pass a frozen stand-in."""

    def toggle_mute(self) -> bool: ...
    def view_settings(self) -> dict[str, Any]: ...
    def set_view_settings(self, view: dict[str, Any]) -> None: ...
    def set_preset(self, name: str) -> None: ...
    def toggle_last_preset(self) -> str | None: ...
    def set_intensity(self, value: float) -> None: ...
    def clear(self, tier: str | None = None) -> int: ...
    def snapshot(self) -> EngineSnapshot: ...
    def monitor(self, map_columns: int = 12) -> MonitorSnapshot: ...
    def log(self, message: str) -> None: ...
    def subscribe(self, capacity: int = ..., log_history: bool = False) -> Subscription: ...
    def open(
        self, paths: Iterable[str | Path], progress: ScanProgress | None = None
    ) -> list[Track]: ...
    def tracks(self) -> list[Track]: ...
    def play_track(self, track_id: str) -> None: ...
    def set_repeat(self, mode: str) -> None: ...
    def set_shuffle(self, on: bool, seed: int | None = None) -> None: ...
    def play_scope(self, track_id: str, scope: str) -> None: ...
    def enqueue(self, track_id: str, next: bool = False) -> None: ...
    def dequeue(self, place: int) -> None: ...
    def move_queued(self, place: int, steps: int) -> int: ...
    def queue(self, following: int = 20) -> QueueView: ...
    def save_playlist(self, path: str | Path) -> int: ...
    def load_playlist(self, path: str | Path) -> int: ...
    def record_to(self, path: Path, library_root: Path | None = None) -> None: ...
    def stop_recording(self) -> None: ...


class RemoteApi(Protocol):
    """The HTTP API (`api.server.ApiServer`) the app runs on its own event loop."""

    @property
    def announcement(self) -> str:
        """Where it listens (and the token, when one is needed), for the listener."""
        ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


Show = Callable[[EngineSnapshot, MonitorSnapshot | None], None]
PanelWidget = TypeVar("PanelWidget", bound=Widget)


@dataclass(frozen=True)
class PanelSpec:
    """One panel: its widget id, the title on its border and in the palette, its rate."""

    id: str
    title: str
    fast: bool
    """Updated at SNAPSHOT_HZ (transport) rather than MONITOR_HZ (buffer)."""


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("now-playing", "Now playing", fast=True),
    PanelSpec("output-meter", "Output", fast=False),
    PanelSpec("cache-map", "Cache map", fast=False),
    PanelSpec("tiers", "Tiers", fast=False),
    PanelSpec("predictions", "Predictions", fast=False),
    PanelSpec("health", "Health", fast=False),
    PanelSpec("event-log", "Events", fast=True),
)

PRESET_PLACES = range(1, PLACES_WITH_KEYS + 1)


def preset_names(snapshot: EngineSnapshot) -> list[str]:
    """Every preset's name, in the order shown and bound to keys 1-9."""
    return [preset.name for preset in snapshot.presets]


TRANSPORT, PRESETS, VIEW = "Transport", "Presets", "View and app"
LISTS = "Library and queue"
HELP_GROUPS: dict[str, str] = {
    **dict.fromkeys(
        (
            "play_pause",
            "seek_back",
            "seek_forward",
            "seek_back_fine",
            "seek_forward_fine",
            "seek_back_far",
            "seek_forward_far",
            "next_track",
            "prev_track",
            "repeat",
            "shuffle",
            "volume_up",
            "volume_down",
            "mute",
        ),
        TRANSPORT,
    ),
    **dict.fromkeys(
        (
            *(f"preset_{place}" for place in PRESET_PLACES),
            "preset_next",
            "preset_prev",
            "preset_ab",
            "blind_test",
            "blind_pick",
            "intensity_down",
            "intensity_up",
        ),
        PRESETS,
    ),
    **dict.fromkeys(
        (
            "library_play",
            "library_queue",
            "library_play_next",
            "library_play_album",
            "library_play_folder",
            "queue_remove",
            "queue_move_up",
            "queue_move_down",
        ),
        LISTS,
    ),
    **dict.fromkeys(("library", "library_filter", "queue", "clear_caches", "help", "quit"), VIEW),
}
"""Help screen section per binding id; ids not listed still appear, under VIEW."""

BLIND_HIDES = ("cache-map", "predictions")
"""The panels that name presets, hidden while a blind test runs."""
LIBRARY_TAKES = ("buffer-row", "model-row")
"""The rows the library and queue views take the place of."""

PLAYER_ACTIONS = frozenset(
    {
        "toggle_play",
        "seek",
        "preset_place",
        "cycle_preset",
        "toggle_last_preset",
        "blind_test",
        "blind_pick",
        "intensity",
        "volume",
        "toggle_mute",
        "next_track",
        "prev_track",
        "clear_caches",
        "help",
        "quit_player",
        "library",
        "library_filter",
        "queue_view",
        "cycle_repeat",
        "toggle_shuffle",
    }
)
"""Actions of the priority bindings: off while a modal screen is up, so its own keys
(typing a path, `q` closing help, arrows in the palette) are not taken by the player."""

SEEK_GROUP = Binding.Group("Seek 5 s", compact=True)


class TierplayApp(App[None]):
    """The player. The engine is created by the caller and closed when the app exits."""

    TITLE = "Tierplay"
    AUTO_FOCUS = "#now-playing"
    """The one panel where focus does something (its scroll keys) at start."""
    CSS_PATH = "tierplay.tcss"
    cache_map: CacheMapPanel
    """Kept to size the monitor's cache map to the columns the panel can draw."""
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, TierplayCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_play", "Play/Pause", id="play_pause", priority=True),
        Binding("left", "seek(-5)", "Back 5 s", id="seek_back", priority=True, group=SEEK_GROUP),
        Binding(
            "right", "seek(5)", "Forward 5 s", id="seek_forward", priority=True, group=SEEK_GROUP
        ),
        Binding(
            "shift+left", "seek(-1)", "Back 1 s", id="seek_back_fine", priority=True, show=False
        ),
        Binding(
            "shift+right",
            "seek(1)",
            "Forward 1 s",
            id="seek_forward_fine",
            priority=True,
            show=False,
        ),
        Binding("comma", "seek(-30)", "Back 30 s", id="seek_back_far", priority=True, show=False),
        Binding(
            "full_stop",
            "seek(30)",
            "Forward 30 s",
            id="seek_forward_far",
            priority=True,
            show=False,
        ),
        Binding("n", "next_track", "Next track", id="next_track", priority=True),
        Binding("N", "prev_track", "Previous track", id="prev_track", priority=True, show=False),
        Binding("r", "cycle_repeat", "Repeat", id="repeat", priority=True, show=False),
        Binding("s", "toggle_shuffle", "Shuffle", id="shuffle", priority=True, show=False),
        *(
            Binding(
                str(place),
                f"preset_place({place})",
                f"Preset {place} in the list",
                id=f"preset_{place}",
                priority=True,
                show=False,
            )
            for place in PRESET_PLACES
        ),
        Binding("p", "cycle_preset(1)", "Next preset", id="preset_next", priority=True),
        Binding(
            "P", "cycle_preset(-1)", "Previous preset", id="preset_prev", priority=True, show=False
        ),
        Binding(
            "b",
            "toggle_last_preset",
            "A/B: the last preset",
            id="preset_ab",
            priority=True,
            show=False,
        ),
        Binding("B", "blind_test", "Blind test", id="blind_test", priority=True, show=False),
        Binding("v", "blind_pick", "Pick this one", id="blind_pick", priority=True),
        Binding(
            "left_square_bracket",
            f"intensity({-INTENSITY_STEP})",
            "Intensity -0.05",
            id="intensity_down",
            priority=True,
            show=False,
        ),
        Binding(
            "right_square_bracket",
            f"intensity({INTENSITY_STEP})",
            "Intensity +0.05",
            id="intensity_up",
            priority=True,
            show=False,
        ),
        Binding(
            "plus,equals_sign",
            f"volume({VOLUME_STEP})",
            "Volume up",
            id="volume_up",
            priority=True,
            show=False,
        ),
        Binding(
            "minus",
            f"volume({-VOLUME_STEP})",
            "Volume down",
            id="volume_down",
            priority=True,
            show=False,
        ),
        Binding("m", "toggle_mute", "Mute", id="mute", priority=True),
        Binding("l", "library", "Library", id="library", priority=True),
        Binding("u", "queue_view", "Queue", id="queue", priority=True),
        Binding(
            "slash",
            "library_filter",
            "Filter library",
            id="library_filter",
            priority=True,
            show=False,
        ),
        Binding("c", "clear_caches", "Clear caches", id="clear_caches", priority=True, show=False),
        Binding("question_mark", "help", "Help", id="help", priority=True),
        Binding("q", "quit_player", "Quit", id="quit", priority=True),
    ]

    class LibraryOpened(Message):
        """A thread worker finished opening `paths`: `count` tracks, or why not."""

        def __init__(
            self, paths: Sequence[Path], count: int, error: str | None, first: bool
        ) -> None:
            super().__init__()
            self.paths = paths
            self.count = count
            self.error = error
            self.first = first
            """The library the player was started with, not one opened from the palette."""

    class LibraryScanned(Message):
        """Progress of an open: `done` of `total` files probed."""

        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done = done
            self.total = total

    class PlaylistDone(Message):
        """A thread worker saved or loaded a playlist (`text` says what), or failed to."""

        def __init__(self, text: str, failed: bool) -> None:
            super().__init__()
            self.text = text
            self.failed = failed

    class RecordingChanged(Message):
        """A thread worker started (`path`) or stopped (None) a trace, or failed to."""

        def __init__(self, path: Path | None, error: str | None = None) -> None:
            super().__init__()
            self.path = path
            self.error = error

    def __init__(
        self,
        engine: PlayerEngine,
        autoplay: bool = True,
        *,
        live: bool = True,
        keymap_file: Path | None = None,
        recording: Path | None = None,
        clock: Callable[[], float] = time.time,
        api: RemoteApi | None = None,
        library: Sequence[Path] = (),
        opening: LibraryOpening | None = None,
        mpris: bool = False,
        driver_class: type[Driver] | None = None,
    ) -> None:
        """The player around an engine, open already or opened here from `library`.

        Args:
            engine: The engine to drive; the caller closes it.
            autoplay: Start playing once the screen is up.
            live: Read the engine on timers; False reads it once (frozen snapshot tests).
            keymap_file: Key overrides; by default `keymap.toml` in the config folder.
            recording: The trace the caller already records to (`--record`), if any.
            clock: Wall-clock seconds for the event log's stamps (frozen in snapshot tests).
            api: The HTTP API to serve while the app runs (`--api`), started on mount
                and stopped on unmount.
            library: Files and folders to open once the screen is up, in a thread with a
                progress bar (then `autoplay` starts them); nothing playable there ends
                the app with return code 2 and the reason.
            opening: That opening, started before the app (the command line starts it
                before Textual loads, so the music does not wait for the screen).
            mpris: Serve the player over MPRIS on the D-Bus session bus while it runs
                (media keys, desktop widgets); without a bus the event log says so.
            driver_class: Textual's driver to use instead of the platform's.
        """
        super().__init__(driver_class=driver_class)
        self.engine = engine
        self.autoplay = autoplay
        self.live = live
        self.keymap_file = keymap_file if keymap_file is not None else keymap_path()
        self.blind: BlindTest | None = None
        """The blind test running, if any (`B`)."""
        self._preset_rows = len(PRESET_ORDER)
        """Presets the buffer row is sized for (tierplay.tcss sizes it for the built-ins)."""
        self.clock = clock
        self.recording: Path | None = recording
        """The trace being recorded, so the palette offers Start or Stop."""
        self.api = api
        self.library = tuple(library)
        self.opening = opening
        self.mpris: MprisServer | None = None
        self._wants_mpris = mpris
        self.last_snapshot: EngineSnapshot | None = None
        self.last_monitor: MonitorSnapshot | None = None
        self._monitor_pace = MonitorPace()
        self._panels: dict[str, Widget] = {}
        self._shows: dict[str, Show] = {}
        self._events: Subscription | None = None
        """The engine's event stream, which the event log shows."""
        self._hidden: set[str] = set()
        """Panels the listener hid (not those a narrow terminal hides)."""

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top-row", classes="panel-row"):
            yield self._panel(NowPlaying(id="now-playing"), NowPlaying.show)
            yield self._panel(OutputMeter(id="output-meter"), OutputMeter.show)
        # The transport above stays put; on a short terminal the rest scrolls under it.
        with VerticalScroll(id="panels", can_focus=False):
            with Horizontal(id="buffer-row", classes="panel-row"):
                self.cache_map = self._panel(CacheMapPanel(id="cache-map"), CacheMapPanel.show)
                yield self.cache_map
                yield self._panel(TierPanel(id="tiers"), TierPanel.show)
            with Horizontal(id="model-row", classes="panel-row"):
                yield self._panel(PredictionsPanel(id="predictions"), PredictionsPanel.show)
                yield self._panel(HealthPanel(id="health"), HealthPanel.show)
            self.library_panel = LibraryPanel(id="library")
            self.library_panel.display = False
            yield self.library_panel
            self.queue_panel = QueuePanel(id="queue")
            self.queue_panel.display = False
            yield self.queue_panel
            yield self._panel(EventLog(id="event-log", clock=self.clock), EventLog.show)
        yield LibraryProgress(id="library-progress")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        """Below `NARROW_COLUMNS` the output meter gives the transport the whole width (a
        listener can still show it from the palette). Below `SHORT_ROWS` the event log
        comes before the predictions and health row, which scrolls in under it: the
        listener's messages (a file skipped, a device lost) stay in view at 80x24."""
        self.set_class(event.size.width < NARROW_COLUMNS, "-narrow")
        panels, model_row = self.query_one("#panels"), self.query_one("#model-row")
        last = panels.children[-1]
        if event.size.height < SHORT_ROWS and last is not model_row:
            panels.move_child(model_row, after=last)
        elif event.size.height >= SHORT_ROWS and last is model_row:
            panels.move_child(model_row, after=self.query_one("#buffer-row"))
        self._lay_out_rows()

    def _panel(
        self,
        widget: PanelWidget,
        show: Callable[[PanelWidget, EngineSnapshot, MonitorSnapshot | None], None],
    ) -> PanelWidget:
        """Register a panel so the timers can update it and the palette can toggle it."""
        assert widget.id is not None
        widget.can_focus = True  # tab walks the panels; the focused one is highlighted
        widget.add_class("panel")
        self._panels[widget.id] = widget
        self._shows[widget.id] = lambda snapshot, monitor: show(widget, snapshot, monitor)
        return widget

    def panel_titles(self) -> dict[str, str]:
        """Panel id -> the title on its border, so the palette names what is on screen."""
        titles = {}
        for spec in PANELS:
            panel = self._panels.get(spec.id)
            titles[spec.id] = (
                str(panel.border_title) if panel and panel.border_title else spec.title
            )
        return titles

    def panel_shown(self, panel_id: str) -> bool:
        return self._panels[panel_id].display

    def toggle_panel(self, panel_id: str) -> None:
        """Hide or show a panel; a shown panel is drawn at once from the last readings.
        The panels hidden are kept for the next session."""
        if self.blind is not None and panel_id in BLIND_HIDES:
            self.notify("That panel names the presets: it shows again when the blind test ends")
            return
        panel = self._panels[panel_id]
        panel.display = not panel.display
        self._lay_out_rows()
        if panel.display and self.last_snapshot is not None:
            self._shows[panel_id](self.last_snapshot, self.last_monitor)
        if panel.display:
            self._hidden.discard(panel_id)
        else:
            self._hidden.add(panel_id)
        hidden = [spec.id for spec in PANELS if spec.id in self._hidden]
        self.engine.set_view_settings({**self.engine.view_settings(), HIDDEN_PANELS: hidden})

    def _restore_hidden_panels(self) -> None:
        hidden = self.engine.view_settings().get(HIDDEN_PANELS, [])
        for panel_id in hidden if isinstance(hidden, list) else []:
            if panel_id in self._panels and panel_id != "now-playing":  # the transport stays
                self._panels[panel_id].display = False
                self._hidden.add(panel_id)
        self._lay_out_rows()

    def _lay_out_rows(self) -> None:
        """A row shows while one of its panels does; the library and queue views take the
        buffer's and the model's rows (their panels keep their own shown or hidden state)."""
        library = self.library_panel.display or self.queue_panel.display
        for row in self.query(".panel-row"):
            shown = sum(1 for child in row.children if child.display)
            row.display = shown > 0 and not (library and row.id in LIBRARY_TAKES)
            row.set_class(shown == 1, "-single")

    # -- start-up -------------------------------------------------------------------------
    async def on_mount(self) -> None:
        self._follow_hang_ups(True)
        self._apply_keymap()
        self._restore_hidden_panels()
        self._events = self.engine.subscribe(log_history=True)
        self.query_one(EventLog).follow(self._events)
        if self.api is not None:
            await self.api.start()
            self.engine.log(self.api.announcement)
            self.notify(self.api.announcement, title="Remote API", timeout=20, markup=False)
        if self.recording is not None:
            self.sub_title = f"recording to {self.recording.name}"
        if self.opening is None and self.library:
            self.opening = LibraryOpening(self.engine, self.library, play=self.autoplay)
        if self.opening is not None:
            self._follow_opening(self.opening, first=True)
        elif self.autoplay:
            self.engine.play()
        if self._wants_mpris:
            self.call_after_refresh(self._start_mpris)  # the first frame does not wait
        self.refresh_monitor()
        self.refresh_transport()
        if self.live:
            self.set_interval(1 / SNAPSHOT_HZ, self.refresh_transport)
            self.set_interval(1 / MONITOR_HZ, self._monitor_tick)

    async def _start_mpris(self) -> None:
        from desktop.mpris import MprisServer  # dbus-fast loads only when wanted

        self.mpris = MprisServer(self.engine, self.exit)
        self.engine.log(await self.mpris.start())

    async def on_unmount(self) -> None:
        self._follow_hang_ups(False)
        if self._events is not None:
            self._events.close()
        if self.api is not None:
            await self.api.stop()
        if self.mpris is not None:
            await self.mpris.stop()

    def _follow_hang_ups(self, on: bool) -> None:
        """The terminal closed (SIGHUP) or the player was told to stop (SIGTERM): quit as
        `q` does, so the music stops with the window and the state is saved. Without this
        the player went on playing, headless, after its terminal was gone."""
        loop = asyncio.get_running_loop()
        for signal_number in QUIT_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                if on:
                    loop.add_signal_handler(signal_number, self.exit)
                else:
                    loop.remove_signal_handler(signal_number)

    def _fit_preset_rows(self, count: int) -> None:
        """The cache map has a row per preset: its row grows or shrinks with the list."""
        if count != self._preset_rows:
            self._preset_rows = count
            self.query_one("#buffer-row").styles.height = count + BUFFER_ROW_EXTRA_LINES

    def _apply_keymap(self) -> None:
        """Key overrides from the config file; whatever is wrong in it is one log line."""
        loaded = load_app_keymap(self.keymap_file)
        if loaded.keymap:
            self.set_keymap(loaded.keymap)
        if loaded.problem:
            self.engine.log(loaded.problem)
        own = [(p.name, p.key) for p in self.engine.snapshot().presets if p.key is not None]
        bindings = declared_bindings(self.BINDINGS)
        for clash in preset_key_clashes(own, bindings, loaded.keymap):
            self.engine.log(f"{clash}: choose it with its place (1-9) or the palette")

    # -- reading the engine ---------------------------------------------------------------
    def refresh_transport(self) -> None:
        """10 Hz: the playhead and the event log."""
        snapshot = self.engine.snapshot()
        self.last_snapshot = snapshot
        self._fit_preset_rows(len(snapshot.presets))
        self._show_panels(snapshot, fast=True)
        if self.mpris is not None:
            self.mpris.refresh(snapshot)
        playing = snapshot.track.id if snapshot.track else None
        if self.library_panel.display:
            self.library_panel.track_list.mark_playing(playing)
        if self.queue_panel.display:
            self.queue_panel.track_list.mark_playing(playing)

    def _monitor_tick(self) -> None:
        """4 Hz while the buffer moves or the output meter shows music playing, else 1 Hz
        (`MonitorPace`)."""
        due = self._monitor_pace.due(self.last_snapshot, self.last_monitor)
        playing = self.last_snapshot is not None and self.last_snapshot.playing
        if due or (playing and self._panels["output-meter"].display):
            self.refresh_monitor()

    def refresh_monitor(self) -> None:
        """The panels that show the buffer, the predictor and the output."""
        snapshot = self.last_snapshot or self.engine.snapshot()
        self._monitor_pace.read(snapshot, self.last_monitor)
        self.last_monitor = self.engine.monitor(self._map_columns())
        self._show_panels(snapshot, fast=False)
        if self.library_panel.display:  # files added, changed or removed meanwhile
            self.library_panel.show_tracks(self.engine.tracks())
        if self.queue_panel.display:  # tracks heard leave the queue
            self.queue_panel.show_queue(self.engine.queue(FOLLOWING_SHOWN))

    def _map_columns(self) -> int:
        """As many chunks as the cache map can draw (the default before the first layout)."""
        panel = self.cache_map
        return panel.fitting_columns if panel.size.width else DEFAULT_MAP_COLUMNS

    def _show_panels(self, snapshot: EngineSnapshot, fast: bool) -> None:
        blind = self.blind
        if blind is not None:  # the letters, never the names
            snapshot = replace(
                snapshot,
                preset=f"blind {blind.letter(snapshot.preset)}",
                requested_preset=f"blind {blind.letter(snapshot.requested_preset)}",
                sounds_like=None,
            )
        for spec in PANELS:
            if spec.fast == fast and self._panels[spec.id].display:
                self._shows[spec.id](snapshot, self.last_monitor)

    # -- key actions ----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Player keys work on the main screen only, and not while text is typed (the
        library filter): there every key is the text's. A pick is only for a blind test."""
        if action not in PLAYER_ACTIONS:
            return True
        if action == "blind_pick" and self.blind is None:
            return False
        return len(self.screen_stack) == 1 and not isinstance(self.focused, Input)

    def on_key(self, event: events.Key) -> None:
        """A preset's own key (its `key` in presets.toml): no binding took the key, and the
        player's keys are on (see `check_action`)."""
        if not self.check_action("preset_place", ()):
            return
        for preset in self.engine.snapshot().presets:
            if preset.key is not None and preset.key in (event.key, event.character):
                event.stop()
                self.choose_preset(preset.name)
                return

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

    def action_cycle_repeat(self) -> None:
        """Off, all, one, off: the mode shows on the transport line."""
        current = REPEAT_MODES.index(self.engine.snapshot().repeat)
        self.engine.set_repeat(REPEAT_MODES[(current + 1) % len(REPEAT_MODES)])
        self._after_queue_change()

    def action_toggle_shuffle(self) -> None:
        self.engine.set_shuffle(not self.engine.snapshot().shuffle)
        self._after_queue_change()

    def choose_preset(self, name: str) -> None:
        """Every preset command: the list may have changed since the key or the palette
        named it (presets.toml edited), and a preset that went is said, not a crash."""
        try:
            self.engine.set_preset(name)
        except TierplayError as error:
            self.notify(str(error), severity="warning")
        self._show_what_was_asked()

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        """Every key's action, then its effect shown at once (play, seek, track...)."""
        handled = await super().run_action(action, default_namespace, namespaces)
        self._show_what_was_asked()
        return handled

    def _show_what_was_asked(self) -> None:
        """Read the playhead now rather than at the next `SNAPSHOT_HZ` reading."""
        if self.live and self.is_running:
            self.refresh_transport()

    def action_toggle_last_preset(self) -> None:
        """A/B: the preset asked for before, and back (in a blind test, the other one)."""
        if self.blind is not None:
            self.choose_preset(self.blind.other(self.engine.snapshot().requested_preset))
        elif self.engine.toggle_last_preset() is None:
            self.notify("A/B goes back to the preset chosen before: choose a second one first")

    def action_blind_test(self) -> None:
        """Start a blind test of the preset asked for against the one before it, or end
        the test running and say which was picked how often."""
        if self.blind is not None:
            self._end_blind_test()
            return
        snapshot = self.engine.snapshot()
        current = snapshot.requested_preset
        other = self.engine.toggle_last_preset()  # B is heard first: the names give nothing away
        if other is None:
            self.notify("A blind test compares two presets: choose a second one first")
            return
        self.blind = BlindTest((current, other))
        self._blind_view(hidden=True)
        self.engine.log(
            "blind test: b switches between A and B, v picks the one playing, B reveals"
        )

    def action_blind_pick(self) -> None:
        """The one playing is preferred this round; the letters are drawn again."""
        blind = self.blind
        if blind is None:
            return
        playing = self.engine.snapshot().requested_preset
        if blind.pick(playing):
            self.engine.log(f"blind test: round {blind.rounds - 1} picked; round {blind.rounds}")

    def _end_blind_test(self) -> None:
        blind, self.blind = self.blind, None
        self._blind_view(hidden=False)
        if blind is not None:
            self.engine.log(blind.reveal())

    def _blind_view(self, hidden: bool) -> None:
        """During a blind test the panels that name presets are hidden, and the event log
        writes `?` for the two names."""
        for panel_id in BLIND_HIDES:
            self._panels[panel_id].display = not hidden and panel_id not in self._hidden
        self._lay_out_rows()
        self.query_one(EventLog).masked = self.blind.pair if self.blind is not None else ()

    def action_preset_place(self, place: int) -> None:
        """The preset in that place of the list (keys 1-9); nothing where there is none."""
        names = preset_names(self.engine.snapshot())
        if place <= len(names):
            self.choose_preset(names[place - 1])

    def action_cycle_preset(self, step: int) -> None:
        """From the preset asked for (not the one heard), so quick presses never repeat one."""
        snapshot = self.engine.snapshot()
        names = preset_names(snapshot)
        asked = snapshot.requested_preset
        current = names.index(asked) if asked in names else 0
        self.choose_preset(names[(current + step) % len(names)])

    def action_intensity(self, delta: float) -> None:
        # Rounded to the step, so repeated presses land exactly on bucket centres.
        self.engine.set_intensity(round(self.engine.snapshot().intensity + delta, 2))

    def action_volume(self, delta: float) -> None:
        self.engine.set_volume(round(self.engine.snapshot().volume + delta, 2))

    def action_toggle_mute(self) -> None:
        self.engine.toggle_mute()

    def action_clear_caches(self) -> None:
        """Asks first: one stray key would otherwise throw away minutes of renders."""

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.clear_tier(None)

        self.push_screen(
            ConfirmScreen(
                "Drop every cached render from L1, L2 and L3? "
                "They are rendered again as the music plays.",
                confirm_label="Clear",
                title="Clear caches",
            ),
            answered,
        )

    def clear_tier(self, tier: str | None) -> None:
        cleared = self.engine.clear(tier)
        self.notify(f"Cleared {tier.upper() if tier else 'all tiers'}: {cleared} chunks")

    def action_help(self) -> None:
        # The app's and the screen's bindings: what the player answers to wherever the
        # focus is (a focused panel's own scroll keys are not the player's).
        active = {
            key: binding
            for key, binding in self.screen.active_bindings.items()
            if binding.node in (self, self.screen)
        }
        active |= self._list_bindings()
        order = (TRANSPORT, PRESETS, LISTS, VIEW)
        sections = help_sections(self, active, HELP_GROUPS, order)
        presets = [(p.name, p.key) for p in self.engine.snapshot().presets]
        sections = with_preset_names(sections, presets, "preset_")
        note = f'Change keys in {self.keymap_file}: [keys] binding_id = "key", e.g. mute = "x"'
        self.push_screen(HelpScreen(sections, note))

    def _list_bindings(self) -> dict[str, ActiveBinding]:
        """The library's and the queue's own keys (as the keymap set them), which answer
        only while their list has the focus: listed in help all the same."""
        found: dict[str, ActiveBinding] = {}
        lists: list[Widget] = [self.library_panel, self.queue_panel]
        lists.append(self.library_panel.track_list)
        for widget in lists:
            bindings = widget._bindings.copy()
            bindings.apply_keymap(self._keymap)
            for key, each in bindings.key_to_bindings.items():
                for binding in each:
                    if binding.id in HELP_GROUPS:
                        found[f"{widget.id}:{key}"] = ActiveBinding(widget, binding, True)
        return found

    def action_quit_player(self) -> None:
        self.exit()

    def action_library(self) -> None:
        """Show the library in place of the buffer panels, or the buffer panels again."""
        self.show_library(not self.library_panel.display)

    def action_library_filter(self) -> None:
        self.show_library(True)
        self.library_panel.open_filter()

    def action_queue_view(self) -> None:
        """Show the queue in place of the buffer panels, or the buffer panels again."""
        self.show_queue(not self.queue_panel.display)

    def show_library(self, shown: bool) -> None:
        """The library view (it replaces the queue view)."""
        self._show_view(self.library_panel, shown)
        if shown:
            self.library_panel.show_tracks(self.engine.tracks())

    def show_queue(self, shown: bool) -> None:
        """The queue view (it replaces the library view)."""
        self._show_view(self.queue_panel, shown)
        if shown:
            self.queue_panel.show_queue(self.engine.queue(FOLLOWING_SHOWN))

    def _show_view(self, panel: LibraryPanel | QueuePanel, shown: bool) -> None:
        for view in (self.library_panel, self.queue_panel):
            view.display = shown and view is panel
        self._lay_out_rows()
        if shown:
            if self.last_snapshot is not None:
                track = self.last_snapshot.track
                panel.track_list.mark_playing(track.id if track else None)
            panel.track_list.focus()

    def on_now_playing_seek_to(self, message: NowPlaying.SeekTo) -> None:
        self.engine.seek(message.seconds)

    def on_preset_clicked(self, message: PresetClicked) -> None:
        self.choose_preset(message.preset)

    def on_track_list_chosen(self, message: TrackList.Chosen) -> None:
        self._ask_engine(lambda: self.engine.play_track(message.track.id))

    def on_track_list_asked(self, message: TrackList.Asked) -> None:
        """A library row queued or its album or folder played; a queue row edited."""
        track_id, place, what = message.track.id, message.place, message.what
        queued = self.queue_panel.queued if message.list is self.queue_panel.track_list else 0
        requests: dict[str, Callable[[], object]] = {
            "queue": lambda: self.engine.enqueue(track_id),
            "queue_next": lambda: self.engine.enqueue(track_id, next=True),
            "album": lambda: self.engine.play_scope(track_id, "album"),
            "folder": lambda: self.engine.play_scope(track_id, "folder"),
        }
        if place < queued:  # the rows after the queue show the order: not edited here
            requests["remove"] = lambda: self.engine.dequeue(place)
            requests["move_up"] = lambda: self._move_queued(message.list, place, -1)
            requests["move_down"] = lambda: self._move_queued(message.list, place, 1)
        request = requests.get(what)
        if request is None:
            self.notify("Only queued tracks (numbered) are edited", title="Queue", markup=False)
            return
        self._ask_engine(request)
        self._after_queue_change()

    def _move_queued(self, listing: TrackList, place: int, steps: int) -> None:
        moved = self.engine.move_queued(place, steps)
        self.queue_panel.show_queue(self.engine.queue(FOLLOWING_SHOWN))
        listing.action_move_to(moved)

    def _after_queue_change(self) -> None:
        """The queue view and the transport line show a change at once, not at the next
        reading."""
        if self.queue_panel.display:
            self.queue_panel.show_queue(self.engine.queue(FOLLOWING_SHOWN))
        self.refresh_transport()

    def _ask_engine(self, request: Callable[[], object]) -> None:
        try:
            request()
        except TierplayError as error:  # the playlist changed under the list
            self.notify(str(error), title="Library", severity="warning", markup=False)
        self._show_what_was_asked()

    # -- palette actions ------------------------------------------------------------------
    def action_open_path(self) -> None:
        self._ask_path(
            PathPrompt(
                "Open",
                "File or folder to play (replaces the playlist):",
                placeholder="~/Music/album",
            ),
            lambda path: self.open_library([path]),
        )

    def action_save_playlist(self) -> None:
        self._ask_path(
            PathPrompt(
                "Save the queue",
                "Playlist file (.m3u8 or .m3u) for the queue, or the whole order when the "
                "queue is empty:",
                value=str(Path.cwd() / DEFAULT_PLAYLIST_NAME),
            ),
            lambda path: self.playlist_in_thread(path, save=True),
        )

    def action_load_playlist(self) -> None:
        self._ask_path(
            PathPrompt(
                "Queue a playlist",
                "Playlist file (.m3u8 or .m3u) whose tracks to queue, in its order:",
                placeholder="~/Music/mix.m3u8",
            ),
            lambda path: self.playlist_in_thread(path, save=False),
        )

    def _ask_path(self, prompt: PathPrompt, then: Callable[[Path], object]) -> None:
        """Show `prompt`; a path given (not escaped) goes to `then`."""

        def chosen(path: Path | None) -> None:
            if path is not None:
                then(path)

        self.push_screen(prompt, chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="playlist")
    def playlist_in_thread(self, path: Path, save: bool) -> None:
        """Save the queue to, or queue the tracks of, the playlist `path`."""
        try:
            if save:
                count = self.engine.save_playlist(path)
                done = f"Saved {plural(count, 'track')} to {path}"
            else:
                count = self.engine.load_playlist(path)
                done = f"Queued {plural(count, 'track')} from {path.name}"
        except TierplayError as error:
            self.post_message(self.PlaylistDone(str(error), failed=True))
            return
        self.post_message(self.PlaylistDone(done, failed=False))

    def on_tierplay_app_playlist_done(self, message: PlaylistDone) -> None:
        severity: SeverityLevel = "error" if message.failed else "information"
        self.notify(message.text, title="Playlist", severity=severity, markup=False)
        self._after_queue_change()

    def action_start_recording(self) -> None:
        self._ask_path(
            PathPrompt(
                "Record a trace",
                "Trace file (JSON lines; replay it with `tierplay simulate --trace`):",
                value=str(Path.cwd() / DEFAULT_TRACE_NAME),
            ),
            self.start_recording_to,
        )

    def stop_recording(self) -> None:
        self.stop_recording_in_thread()

    # -- thread workers: file system work never runs on the UI thread ----------------------
    def open_library(self, paths: Sequence[Path]) -> None:
        """Open files and folders in a thread, the progress bar following the scan."""
        self._follow_opening(LibraryOpening(self.engine, paths, play=False), first=False)

    def _follow_opening(self, opening: LibraryOpening, first: bool) -> None:
        """The progress bar and, at the end, a notice (or, for the library the player was
        started with and nothing playable there, the exit) follow `opening`."""
        self.query_one(LibraryProgress).begin(describe_paths(opening.paths))

        def changed(state: OpeningState) -> None:
            if state.finished:
                opened = self.LibraryOpened(opening.paths, state.count, state.error, first)
                self.post_message(opened)
            elif state.total:
                self.post_message(self.LibraryScanned(state.done, state.total))

        opening.follow(changed)

    def on_tierplay_app_library_scanned(self, message: LibraryScanned) -> None:
        self.query_one(LibraryProgress).advance(message.done, message.total)

    def on_tierplay_app_library_opened(self, message: LibraryOpened) -> None:
        self.query_one(LibraryProgress).end()
        what = describe_paths(message.paths)
        if message.error is not None and message.first:
            # Started on a library with nothing to play: say why on the way out.
            self.exit(return_code=2, message=f"tierplay: {message.error}")
        elif message.error is not None:
            self.notify(message.error, title="Open", severity="error", markup=False)
        else:
            self.notify(f"Playing {message.count} tracks from {what}", title="Open", markup=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="recording")
    def start_recording_to(self, path: Path) -> None:
        if path.is_dir():
            self.post_message(self.RecordingChanged(None, f"{path}: is a folder, not a file"))
            return
        try:
            with path.open("a", encoding="utf-8"):
                pass  # the engine reports an unwritable file only in its log; say it here
        except OSError as error:
            reason = error.strerror or str(error)
            self.post_message(self.RecordingChanged(None, f"{path}: cannot be written ({reason})"))
            return
        root = library_root([track.path for track in self.engine.tracks()])
        self.engine.record_to(path, root)
        self.post_message(self.RecordingChanged(path))

    @work(thread=True, exclusive=True, exit_on_error=False, group="recording")
    def stop_recording_in_thread(self) -> None:
        self.engine.stop_recording()
        self.post_message(self.RecordingChanged(None))

    def on_tierplay_app_recording_changed(self, message: RecordingChanged) -> None:
        if message.error is not None:
            self.notify(message.error, title="Recording", severity="error", markup=False)
            return
        if message.path is None and self.recording is not None:
            self.notify(f"Trace saved to {self.recording}", title="Recording", markup=False)
        elif message.path is not None:
            self.notify(
                f"Recording every command to {message.path}", title="Recording", markup=False
            )
        self.recording = message.path
        self.sub_title = f"recording to {message.path.name}" if message.path else ""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Failures nobody expected still reach the listener, never as a crash."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            text = f"{event.worker.name or 'background task'} failed: {error}"
            if isinstance(error, TierplayError | OSError):
                text = str(error)
            self.notify(text, title="Error", severity="error", markup=False)
            self.engine.log(text)


def load_app_keymap(path: Path) -> LoadedKeymap:
    """`path` read against the app's bindings (checked for clashes) and those of its screens
    and panels (which only need to exist: they answer where the player's keys are off)."""
    local = [
        *HelpScreen.BINDINGS,
        *ConfirmScreen.BINDINGS,
        *PathPrompt.BINDINGS,
        *TrackList.BINDINGS,
        *LibraryPanel.BINDINGS,
        *QueuePanel.BINDINGS,
    ]
    return load_keymap(path, declared_bindings(TierplayApp.BINDINGS), declared_bindings(local))


def declared_bindings(declared: Iterable[BindingType]) -> list[Binding]:
    """The `Binding`s of a BINDINGS list (tuples carry no id, so no keymap can reach them)."""
    return [binding for binding in declared if isinstance(binding, Binding)]
