"""`ListenerSettings`: the volume, mute and intensity the listener set, and what outlives
the session (those settings, the preset, the predictor's model, the track and position
playing, where the next session resumes, and the queue with its modes).

The UI thread changes the settings; the maintenance thread saves them every
`EngineConfig.state_save_seconds` when they or the model changed, and `close` saves them
once more. A save that fails is reported and retried, and never stops playback.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from engine.config import EngineConfig
from engine.library.tracks import Track
from engine.observe.error_log import DISK_REPEAT_SECONDS, ErrorLog
from engine.persist.state import StateStore
from engine.playback.feed import PresetFeed
from engine.playback.player import Player
from engine.playback.queue import PlayQueue, QueueState
from engine.prediction.predict import PresetPredictor
from engine.presets.book import PresetBook

RESUME_STEP_SECONDS = 1.0
"""The playhead moved this far from the saved position: worth writing the state again."""
Whereabouts = tuple[str, float]
"""(the playing file's absolute path, seconds into it): where a session resumes."""


@dataclass(frozen=True)
class Resume:
    """Where the last session stopped, in the library just opened."""

    track: Track | None
    """The track playing then, if it is in this library."""
    seconds: float
    queue: QueueState


class ListenerSettings:
    """Thread-safe: `_lock` guards the intensity, the mute and the unsaved mark."""

    def __init__(
        self,
        config: EngineConfig,
        state: StateStore,
        predictor: PresetPredictor,
        presets: PresetBook,
        feed: PresetFeed,
        player: Player,
        queue: PlayQueue,
        errors: ErrorLog,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._state = state
        self._predictor = predictor
        self._presets = presets
        self._feed = feed
        self._player = player
        self._queue = queue
        self._errors = errors
        self._clock = clock
        self._lock = threading.Lock()
        self._intensities: dict[str, float] = {}
        """The intensity the listener set on each preset; one never set starts at its
        definition's (`Preset.intensity`)."""
        self._muted_volume: float | None = None
        self._dirty = False
        """Settings changed since the last save (the model has its own revision)."""
        self._saved_revision = 0
        self._saved_where: Whereabouts | None = None
        self._resume: Whereabouts | None = None
        """Where the last session stopped, until the first library opened takes it."""
        self._saved_queue: dict[str, Any] = {}
        """The queue as saved (paths), until the first library opened takes it."""
        self._written_queue: dict[str, Any] | None = None
        self._view: dict[str, Any] = {}
        """The screen's own choices (hidden panels ...), kept for it, never read here."""
        self._last_save = clock()
        self.last_preset: str | None = None
        """The preset asked for before the one asked for now, in this session."""
        self.preset_changes = 0
        """Preset changes asked for in this session (the stats' switches)."""

    @property
    def intensity(self) -> float:
        """The intensity of the preset asked for."""
        return self.intensity_of(self._feed.requested.preset)

    def intensity_of(self, preset: str) -> float:
        """The intensity `preset` plays at: the listener's for it, else its definition's."""
        with self._lock:
            found = self._intensities.get(preset)
        if found is not None:
            return found
        defined = self._presets.find(preset)
        return defined.intensity if defined is not None else 1.0

    def bucket_of(self, preset: str) -> int:
        return self._config.intensity_bucket(self.intensity_of(preset))

    @property
    def muted(self) -> bool:
        with self._lock:
            return self._muted_volume is not None

    def set_volume(self, volume: float) -> float:
        """Set (clamped) and returned; unmutes."""
        with self._lock:
            self._muted_volume = None
            self._player.set_volume(volume)
            self._dirty = True
            return self._player.volume

    def toggle_mute(self) -> bool:
        """Mute (remembering the volume) or unmute; returns True when now muted."""
        with self._lock:
            if self._muted_volume is None:
                self._muted_volume = self._player.volume
                self._player.set_volume(0.0)
                return True
            self._player.set_volume(self._muted_volume)
            self._muted_volume = None
            return False

    def set_intensity(self, preset: str, value: float) -> float:
        """Set (clamped) for `preset`, and returned."""
        with self._lock:
            intensity = self._intensities[preset] = min(max(float(value), 0.0), 1.0)
            self._dirty = True
            return intensity

    @property
    def view(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._view)

    def set_view(self, view: dict[str, Any]) -> None:
        """Keep the screen's choices (JSON values) with the settings."""
        with self._lock:
            if view != self._view:
                self._view = dict(view)
                self._dirty = True

    def changed(self) -> None:
        with self._lock:
            self._dirty = True

    def preset_changed(self, previous: str) -> None:
        """The listener asked for a preset other than `previous`, the one asked for before
        (where A/B goes back to)."""
        with self._lock:
            self._dirty = True
            self.preset_changes += 1
            self.last_preset = previous

    def restore(self, log: Callable[[str], None]) -> str | None:
        """Adopt the last session's model and settings, and start the feed with them;
        anything unusable is reported and the engine starts fresh. Returns the preset
        restored, if any."""
        loaded = self._state.load()
        if loaded.warning:
            log(loaded.warning)
        data = loaded.data or {}
        if "predictor" in data:
            try:
                self._predictor.load_state(data["predictor"])
            except (ValueError, ArithmeticError) as error:  # a number too big for a float
                log(f"predictor state not usable ({error}); learning afresh")
        settings = data.get("settings")
        return self._restore_settings(settings if isinstance(settings, dict) else {})

    def take_resume(self, tracks: list[Track]) -> Resume | None:
        """Where the last session stopped and its queue, those of it in `tracks`; asked
        once, by the first library opened."""
        with self._lock:
            resume, self._resume = self._resume, None
            saved, self._saved_queue = self._saved_queue, {}
        if resume is None and not saved:
            return None
        by_path = {_where_key(track): track for track in tracks}
        track, seconds = None, 0.0
        if resume is not None and resume[0] in by_path:
            track = by_path[resume[0]]
            seconds = resume[1] if resume[1] < track.duration_seconds - 1.0 else 0.0
        return Resume(track, seconds, _queue_state(saved, by_path))

    def save_when_due(self) -> None:
        if self._clock() - self._last_save > self._config.state_save_seconds:
            self.save()

    def save(self) -> bool:
        """Write the model and settings if they changed. Returns True when the file is up
        to date."""
        self._last_save = self._clock()
        revision = self._predictor.revision
        track, seconds = self._player.position()
        where = (_where_key(track), round(seconds, 1)) if track is not None else None
        queue = self._queue_paths(self._queue.state())
        with self._lock:
            unchanged = not self._dirty and queue == self._written_queue
            if unchanged and revision == self._saved_revision and not self._moved(where):
                return True
            self._dirty, self._saved_revision = False, revision
            self._saved_where, self._written_queue = where, queue
            muted = self._muted_volume  # read with the volume: a mute between is not saved
            volume = muted if muted is not None else self._player.volume
            intensities = dict(self._intensities)
            view = dict(self._view)
        requested = self._feed.requested.preset
        error = self._state.save(
            {
                "predictor": self._predictor.state(),
                "settings": {
                    "preset": requested,
                    "intensity": self.intensity_of(requested),
                    "intensities": intensities,
                    "volume": volume,
                    **({"track": where[0], "position": where[1]} if where else {}),
                    "queue": queue,
                    "view": view,
                },
            }
        )
        if error is not None:
            self.changed()  # still not on disk: the next save tries again
            # Each distinct reason is its own entry: a full disk after a read-only folder
            # is news, the same failure again is a count.
            self._errors.report("state", error, error, repeat_seconds=DISK_REPEAT_SECONDS)
        return error is None

    def _queue_paths(self, queue: QueueState) -> dict[str, Any]:
        """The queue by file paths (ids are the library's, paths outlive it)."""
        scope = self._queue.track(queue.scope_track) if queue.scope_track else None
        queued = (self._queue.track(i) for i in queue.up_next)
        return {
            "repeat": queue.repeat,
            "shuffle": queue.shuffle,
            "scope": queue.scope,
            "scope_track": _where_key(scope) if scope is not None else None,
            "up_next": [_where_key(t) for t in queued if t is not None],
        }

    def _moved(self, where: Whereabouts | None) -> bool:
        saved = self._saved_where
        if where is None or saved is None:
            return where != saved
        return where[0] != saved[0] or abs(where[1] - saved[1]) >= RESUME_STEP_SECONDS

    def _restore_settings(self, settings: dict[str, Any]) -> str | None:
        preset, volume, intensity = (
            settings.get("preset"),
            settings.get("volume"),
            settings.get("intensity"),
        )
        if isinstance(volume, int | float) and 0.0 <= volume <= 1.0:
            self._player.set_volume(float(volume))
        saved = settings.get("intensities")
        if isinstance(saved, dict):
            self._intensities = {
                name: float(value)
                for name, value in saved.items()
                if isinstance(name, str) and _is_intensity(value)
            }
        restored = preset if isinstance(preset, str) and preset in self._predictor.presets else None
        starting = restored or self._feed.requested.preset
        if _is_intensity(intensity) and starting not in self._intensities:
            self._intensities[starting] = float(intensity)  # saved before there were these
        track, position = settings.get("track"), settings.get("position")
        if isinstance(track, str) and _is_position(position):
            self._resume = self._saved_where = (track, float(position))
        queue = settings.get("queue")
        self._saved_queue = queue if isinstance(queue, dict) else {}
        view = settings.get("view")
        self._view = view if isinstance(view, dict) else {}
        # The feed starts at the preset's intensity, so what is rendered matches the
        # intensity the UI shows.
        self._feed.start_with(starting, self.bucket_of(starting))
        return restored


def _is_intensity(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _queue_state(saved: dict[str, Any], by_path: dict[str, Track]) -> QueueState:
    """The saved queue in this library: unknown values and missing tracks are left out."""

    def track_id(path: object) -> str | None:
        track = by_path.get(path) if isinstance(path, str) else None
        return track.id if track is not None else None

    up_next = saved.get("up_next")
    ids = [track_id(path) for path in up_next] if isinstance(up_next, list) else []
    return QueueState(
        repeat=str(saved.get("repeat", "off")),
        shuffle=saved.get("shuffle") is True,
        scope=str(saved.get("scope", "library")),
        scope_track=track_id(saved.get("scope_track")),
        up_next=tuple(i for i in ids if i is not None),
    )


def _where_key(track: Track) -> str:
    return str(track.path.absolute())


def _is_position(value: object) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0.0
    )
