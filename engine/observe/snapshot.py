"""`EngineSnapshot`: the transport state the UI reads at 10 Hz, as one immutable value."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.library.scan import SkippedFile
from engine.library.tracks import Track
from engine.observe.error_log import ErrorEntry
from engine.presets.book import builtin_presets
from engine.presets.model import Preset


@dataclass(frozen=True)
class EngineSnapshot:
    """Everything the UI shows, read in one call so panels never disagree."""

    track: Track | None
    track_index: int
    track_count: int
    position_seconds: float
    duration_seconds: float
    playing: bool
    volume: float
    muted: bool
    preset: str
    """The preset being heard."""
    requested_preset: str
    """The preset asked for; differs from `preset` while a missed switch renders."""
    intensity: float
    output_name: str
    output_notice: str
    underruns: int
    chunk_index: int
    skipped: tuple[SkippedFile, ...]
    messages: tuple[str, ...]
    """The most recent engine messages (bounded), oldest first."""
    message_count: int
    """Messages ever logged: the UI shows the ones it has not seen yet."""
    chunk_seconds: float = 10.0
    """Length of one render chunk, for the chunk ticks on the position bar."""
    errors: tuple[ErrorEntry, ...] = ()
    """Every distinct failure with its count, the most recent first (the error log)."""
    error_total: int = 0
    """Failures ever reported, repeats included (`errors` keeps the latest 500 kinds)."""
    repeat: str = "off"
    """The queue's modes (engine/playback/queue.py): repeat off, all or one;"""
    shuffle: bool = False
    scope: str = "library"
    """what is played: the library, or one album or folder of it;"""
    queued: int = 0
    """and how many tracks are queued to play next."""
    ended: bool = False
    """Not playing because the list played to its end (repeat off), not paused: play
    starts it again from the top."""
    buffering: bool = False
    """Playing, but the output has had no audio for a moment (a start or seek waiting)."""
    presets_ready: int = 0
    """Processed presets calibrated for the track, of `presets_total` (those it prepares:
    the one playing and, unless the listener has settled, the switch targets): a first
    switch to one not ready waits for its calibration."""
    presets_total: int = 0
    standing_in: bool = False
    """The original plays in place of the preset, whose render is not there yet (renders
    are behind: a slow machine, a heavy chain, a seek into unheard music)."""
    presets: tuple[Preset, ...] = field(default_factory=builtin_presets)
    """Every preset, in the order shown and bound to keys 1-9 (the listener's file may
    change it while playing)."""
    sounds_like: str | None = None
    """A preset the one asked for cannot be told apart from on this track (`original`:
    it makes no audible change here), once both are measured; None when it is distinct."""
