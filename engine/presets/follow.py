"""`PresetEdits`: the listener's presets file followed while playing.

On the upkeep thread: the file is read again when it changes on disk. Only the presets that
changed lose their cached chunks and gains. The playing one keeps playing its old chain
until its new definition is calibrated on the playing track, then switches to it with the
usual crossfade; one that went is replaced by the original. An edit that is not valid
changes nothing, and the event log says why.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.cache.buffer import MultiTierBuffer
from engine.cache.worker import RenderWorkerPool
from engine.dsp.calibrations import LoudnessCalibrations
from engine.library.track_store import TrackStore
from engine.playback.feed import PresetFeed
from engine.playback.player import Player
from engine.prediction.predict import PresetPredictor
from engine.presets.book import PresetBook, PresetChange
from engine.vocabulary import BYPASS, plural

PRESET_CHECK_SECONDS = 0.5
"""How often the file's modification time is looked at (one stat)."""
PROBLEMS_TOLD = 3
"""Problems of an invalid edit told one by one in the event log; the rest are counted."""


class PresetEdits:
    """Upkeep-thread only: `check` and `follow` are steps of the maintenance loop."""

    def __init__(
        self,
        book: PresetBook,
        predictor: PresetPredictor,
        buffer: MultiTierBuffer,
        calibrations: LoudnessCalibrations,
        workers: RenderWorkerPool,
        store: TrackStore,
        feed: PresetFeed,
        player: Player,
        log: Callable[[str], None],
        choose: Callable[[str], None],
        replan: Callable[[], None],
        bucket_of: Callable[[str], int],
    ) -> None:
        """`choose` sets the preset as the listener's command would (a removed one's
        replacement); `replan` plans at once; `bucket_of` is a preset's intensity bucket."""
        self._book = book
        self._predictor = predictor
        self._buffer = buffer
        self._calibrations = calibrations
        self._workers = workers
        self._store = store
        self._feed = feed
        self._player = player
        self._log = log
        self._choose = choose
        self._replan = replan
        self._bucket_of = bucket_of
        self._pending: str | None = None
        """The playing preset, redefined, until its new chain is calibrated."""

    def told_at_start(self) -> None:
        """Say what was wrong with the file the engine started with, if anything."""
        if self._book.problems:
            self._tell_problems("some presets were not taken", self._book)

    def check(self) -> None:
        """Read the file again if it changed, and put what changed in use."""
        change = self._book.reload_if_changed()
        if change is None:
            return
        if change.problems:
            self._tell_problems("the edit was not taken; the last good presets stay", self._book)
            return
        if not (change.changed or change.added):
            return
        self._predictor.set_presets(self._book.order)
        for preset in change.changed:
            self._calibrations.forget_preset(preset)
        dropped = self._buffer.drop_presets_everywhere(change.changed)
        self._log(_describe(change, dropped))
        requested = self._feed.requested.preset
        if requested in change.removed:
            self._choose(BYPASS)
        elif requested in change.changed:
            self._calibrate(requested)
        self._replan()

    def follow(self) -> None:
        """Every tick: the playing preset's new chain, once calibrated, is switched to."""
        pending = self._pending
        if pending is None:
            return
        track, _position = self._player.position()
        renderer = self._feed.renderer
        source = self._store.get(track) if track is not None else None
        if (
            source is not None
            and renderer is not None
            and not renderer.is_prepared(source, pending)
        ):
            return
        self._pending = None
        self._feed.redefined(pending, self._bucket_of(pending))

    def _calibrate(self, preset: str) -> None:
        track, _position = self._player.position()
        self._pending = preset
        if track is not None:
            self._workers.prepare_track(track.id, track.fingerprint, (preset,))

    def _tell_problems(self, what: str, book: PresetBook) -> None:
        problems = book.problems
        shown = "; ".join(str(p) for p in problems[:PROBLEMS_TOLD])
        more = len(problems) - PROBLEMS_TOLD
        extra = (
            f" (and {plural(more, 'more problem')}: tierplay presets --check)" if more > 0 else ""
        )
        self._log(f"presets: {what}: {shown}{extra}")


def _describe(change: PresetChange, dropped: int) -> str:
    parts = []
    edited = sorted(change.changed - set(change.removed))
    if edited:
        parts.append(f"{', '.join(edited)} changed")
    if change.added:
        parts.append(f"{', '.join(change.added)} added")
    if change.removed:
        parts.append(f"{', '.join(change.removed)} removed")
    cached = f" ({plural(dropped, 'cached chunk')} dropped)" if dropped else ""
    return f"presets: {'; '.join(parts)}{cached}"
