"""`Transport`: seeks and track changes, throttled and in order.

A seek inside 100 ms of the last one is held by the interaction filter and the latest
target applied when its window ends, so a held seek key never floods the feeder and its
last position is never lost. One lock orders every move of the playhead: a held target
released by the maintenance thread is on the player before anyone reads the position
again, and cannot land in the next track after a skip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.library.tracks import Track
from engine.playback.feed import PresetFeed
from engine.playback.player import Player
from engine.playback.queue import PlayQueue
from engine.prediction.interaction import InteractionFilter
from engine.prediction.planner import BufferPlanner


class Transport:
    """Moves the playhead; every method from any thread."""

    def __init__(
        self,
        filter: InteractionFilter,
        planner: BufferPlanner,
        feed: PresetFeed,
        player: Player,
        queue: PlayQueue,
        log: Callable[[str], None],
    ) -> None:
        self._filter = filter
        self._log = log
        self._planner = planner
        self._feed = feed
        self._player = player
        self._queue = queue
        self._lock = threading.Lock()
        self._told: str | None = None
        """The track a command moved to and told of: not told again when it is heard."""

    def seek(self, seconds: float) -> None:
        with self._lock:
            self._seek_filtered(seconds)

    def seek_relative(self, delta: float) -> None:
        """Relative to a held seek target when there is one, so every step of a held key
        counts."""
        # Under the lock: a held target released between reading the base and applying it
        # would otherwise be read as the old position, and the steps it carried lost.
        with self._lock:
            base = self._filter.pending_position()
            if base is None:
                _track, base = self._player.position()
            self._seek_filtered(base + delta)

    def change_track(self, step: int) -> None:
        """Track changes bypass the filter; switches settled on the old track are learned
        with its music first."""
        told = "skipped to “{title}”" if step > 0 else "back to “{title}”"
        self._change_track(lambda: self._player.skip(step), told)

    def play_track(
        self, track: Track, seconds: float = 0.0, told: str = "playing “{title}”"
    ) -> None:
        """Go on at `track`, `seconds` into it (as `change_track` does a step); the
        event log says `told` with the track's title."""
        self._change_track(lambda: self._player.skip_to(track, seconds), told)

    def start(self, track: Track | None) -> None:
        """A new library: stand at the start of `track`, paused, without a word."""
        with self._lock:
            self._told = track.id if track is not None else None
            self._player.start(track)

    def _change_track(self, move: Callable[[], Track | None], told: str) -> None:
        with self._lock:
            self._planner.track_changing()
            self._feed.note_seek(track_start=True)
            target = move()
            if target is not None:
                self._told = target.id
        if target is not None:
            self._log(told.format(title=target.title))

    def follow_track(self) -> None:
        """The maintenance loop: the queue learns the track heard, and a track that began
        by itself (the last one ended) is told."""
        heard, _position = self._player.position()
        if heard is None or not self._queue.heard(heard):
            return
        with self._lock:
            told, self._told = self._told, None
        if heard.id != told:
            self._log(f"now playing “{heard.title}”")

    def follow_interactions(self) -> None:
        """The filter's due work (the maintenance loop): a held seek whose window has
        passed is applied, settled switches are learned, its events are told."""
        with self._lock:
            held = self._filter.due_position()
            if held is not None:
                self._apply(held)
        self._planner.learn_settled()
        for event in self._filter.drain_events():
            if event.kind == "track_change" and event.message:
                self._log(f"at the track change: {event.message}")
            elif event.kind not in ("learned", "track_change"):
                self._log(event.message)

    def seek_held(self) -> bool:
        return self._filter.pending_position() is not None

    def _seek_filtered(self, seconds: float) -> None:
        target = self._filter.position(max(0.0, float(seconds)))
        if target is not None:
            self._apply(target)

    def _apply(self, seconds: float) -> None:
        self._feed.note_seek()
        self._player.seek(seconds)
