"""Command-palette commands: the player's actions that have no key of their own.

Only what makes sense right now is offered: every preset (the one asked for marked), tiers
that hold something to clear, "Show" for a hidden panel and "Hide" for a shown one, "Stop
recording" only while a trace is being recorded. The state is read once when the palette
opens, so the list does not shift under the listener while they type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from engine.playback.queue import REPEAT_MODES
from engine.presets.model import preset_keys
from engine.vocabulary import plural

if TYPE_CHECKING:
    from tui.app import TierplayApp

MEGABYTE = 1_000_000


@dataclass(frozen=True)
class PaletteCommand:
    name: str
    help: str
    run: Callable[[], object]


def available_commands(app: TierplayApp) -> list[PaletteCommand]:
    """The commands that would do something now, in the order the palette lists them."""
    return [
        *_preset_commands(app),
        *_comparison_commands(app),
        *_clear_commands(app),
        PaletteCommand(
            "Open file or folder…",
            "Replace the playlist with the audio files in a file or folder",
            app.action_open_path,
        ),
        *_queue_commands(app),
        *_recording_commands(app),
        *_panel_commands(app),
    ]


def _preset_commands(app: TierplayApp) -> list[PaletteCommand]:
    """Every preset, the one asked for marked: typing its name finds it, and says so."""
    snapshot = app.engine.snapshot()
    commands = []
    for place, preset in enumerate(snapshot.presets, start=1):
        keys = preset_keys(place, preset)
        with_keys = f" (key {' or '.join(keys)})" if keys else ""
        about = f": {preset.description}" if preset.description else ""
        current = app.blind is None and preset.name == snapshot.requested_preset
        commands.append(
            PaletteCommand(
                f"Preset: {preset.name}" + (" (current)" if current else ""),
                (f"Playing{with_keys}" if current else f"Switch to it{with_keys}") + about,
                partial(app.choose_preset, preset.name),
            )
        )
    return commands


def _comparison_commands(app: TierplayApp) -> list[PaletteCommand]:
    """A/B and the blind test, as the keys offer them now."""
    if app.blind is not None:
        return [
            PaletteCommand(
                "Blind test: switch between A and B", "Key b", app.action_toggle_last_preset
            ),
            PaletteCommand(
                "Blind test: pick the one playing",
                f"Key v; round {app.blind.rounds}",
                app.action_blind_pick,
            ),
            PaletteCommand(
                "Blind test: reveal", "Key B: which was picked how often", app.action_blind_test
            ),
        ]
    return [
        PaletteCommand(
            "A/B: the preset before",
            "Key b: back to it, and again forth",
            app.action_toggle_last_preset,
        ),
        PaletteCommand(
            "Blind test: this preset against the one before",
            "Key B: their names hidden behind A and B until you reveal them",
            app.action_blind_test,
        ),
    ]


def _clear_commands(app: TierplayApp) -> list[PaletteCommand]:
    tiers = [tier for tier in app.engine.monitor().tiers if tier.count > 0]
    commands = [
        PaletteCommand(
            f"Clear {tier.name.upper()}",
            f"Drop the {plural(tier.count, 'chunk')} ({tier.size_bytes / MEGABYTE:.1f} MB) "
            f"held in {tier.name.upper()}",
            partial(app.clear_tier, tier.name),
        )
        for tier in tiers
    ]
    if tiers:
        chunks = sum(tier.count for tier in tiers)
        commands.append(
            PaletteCommand(
                "Clear all caches",
                f"Drop {'the' if chunks == 1 else 'all'} {plural(chunks, 'cached chunk')} "
                "from every tier",
                partial(app.clear_tier, None),
            )
        )
    return commands


def _queue_commands(app: TierplayApp) -> list[PaletteCommand]:
    snapshot = app.engine.snapshot()
    commands = [
        PaletteCommand(
            f"Repeat: {mode}",
            REPEAT_HELP[mode],
            partial(app.engine.set_repeat, mode),
        )
        for mode in REPEAT_MODES
        if mode != snapshot.repeat
    ]
    commands.append(
        PaletteCommand(
            f"Shuffle: {'off' if snapshot.shuffle else 'on'}",
            "Play in the library's order again"
            if snapshot.shuffle
            else "Play every track once in a random order, then (repeat all) shuffle again",
            partial(app.engine.set_shuffle, not snapshot.shuffle),
        )
    )
    if snapshot.scope != "library" and snapshot.track is not None:
        commands.append(
            PaletteCommand(
                "Play the whole library",
                f"Go on through the whole library, not only this {snapshot.scope}",
                partial(app.engine.play_scope, snapshot.track.id, "library"),
            )
        )
    commands += [
        PaletteCommand(
            "Save the queue as a playlist…",
            "Write the queue (or, when it is empty, the whole order) to an .m3u8 file",
            app.action_save_playlist,
        ),
        PaletteCommand(
            "Queue a playlist…",
            "Queue the tracks an .m3u or .m3u8 file lists, in its order",
            app.action_load_playlist,
        ),
    ]
    return commands


REPEAT_HELP = {
    "off": "Stop after the last track",
    "all": "Play the order again after its last track",
    "one": "Play the playing track again and again (next still moves on)",
}


def _recording_commands(app: TierplayApp) -> list[PaletteCommand]:
    if app.recording is not None:
        return [
            PaletteCommand(
                "Stop recording",
                f"Finish the trace in {app.recording}",
                app.stop_recording,
            )
        ]
    return [
        PaletteCommand(
            "Start recording a trace…",
            "Record every command from now on to a JSON-lines trace (tierplay simulate)",
            app.action_start_recording,
        )
    ]


def _panel_commands(app: TierplayApp) -> list[PaletteCommand]:
    commands = []
    for panel_id, title in app.panel_titles().items():
        verb = "Hide" if app.panel_shown(panel_id) else "Show"
        commands.append(
            PaletteCommand(
                f"{verb} panel: {title}",
                f"{verb} the {title.lower()} panel",
                partial(app.toggle_panel, panel_id),
            )
        )
    return commands


class TierplayCommands(Provider):
    """The Tierplay commands, offered by the palette next to Textual's own."""

    _commands: list[PaletteCommand]

    async def startup(self) -> None:
        self._commands = available_commands(cast("TierplayApp", self.app))

    async def discover(self) -> Hits:
        for command in self._commands:
            yield DiscoveryHit(command.name, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands:
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), command.run, help=command.help)
