"""`InteractionFilter`: what the listener's key presses mean for seeking and for learning.

Seeks are throttled, never dropped: a position update inside the throttle window is *held*
(a newer one replaces it, and `pending_position()` lets relative seeks add to it), and the
held target is released by `due_position()` once the window has passed. Preset and intensity
changes are never filtered: the caller applies them at once; the filter only decides what the
predictor learns from them.

Learning follows three rules, all measured on the injected clock:

* Debounce: a switch is learned only once its target has been held for `debounce_seconds`.
  The source is the last *settled* preset, so A->B->C in quick succession is learned as A->C,
  and A->B->A learns nothing.
* Rapid exploration: `rapid_count` interactions (preset, intensity or position) within
  `rapid_window_seconds` start an episode that suspends learning. It ends once the window holds
  fewer interactions and the preset has been held for `debounce_seconds`; the preset settled
  on is then learned as one switch from the preset settled before the episode, because that
  is the listener's real choice and the presets tried on the way are not.
* Track changes bypass everything: they are not interactions, they drop a held seek (the new
  track starts from its own beginning) and they make the current preset the settled one. A
  switch still unsettled at that moment is not learned: it was not held long enough to prove
  a choice, and learning it later would attribute it to music it was not chosen for. Poll
  `due_learning()` before `track_changed()` to learn settled switches in the old track's context.

Every state change is evaluated lazily against the clock on the next call, so the result does
not depend on how often the caller polls; event times are when a rule fired, not when it was
noticed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

Clock = Callable[[], float]
EVENT_LOG_LENGTH = 200
"""Events kept for the UI log; older ones are dropped when nobody drains them."""
TOLERANCE_SECONDS = 1e-9
"""Rounding in a float clock must not decide which side of a window boundary an event is on."""


def _at_least(elapsed: float, window: float) -> bool:
    return elapsed >= window - TOLERANCE_SECONDS


class Switch(NamedTuple):
    """A preset switch the listener kept: what the predictor learns."""

    source: str
    target: str


@dataclass(frozen=True)
class FilterEvent:
    """One line for the UI event log."""

    t: float
    """Clock time at which the rule fired."""
    kind: str
    """`throttled`, `debounced`, `rapid_start`, `rapid_end`, `learned` or `track_change`."""
    message: str


@dataclass(frozen=True)
class FilterCounters:
    """Totals since the filter was made, as a snapshot the UI can keep."""

    positions: int
    """Position updates received."""
    positions_applied: int
    """Returned by `position()` at once or released later by `due_position()`."""
    throttled: int
    """Held because one was applied within the throttle window."""
    coalesced: int
    """Held targets replaced by a newer one before release; the newer one carries them."""
    positions_dropped: int
    """Held targets dropped because the track changed."""
    presets: int
    intensities: int
    track_changes: int
    debounced: int
    """Switches not learned because they were left, or the track changed, within the debounce."""
    rapid_episodes: int
    suspended: int
    """Preset changes made during rapid exploration, not learned one by one."""
    learned: int


@dataclass
class _Tally:
    """The mutable twin of `FilterCounters`, changed only under the filter's lock."""

    positions: int = 0
    positions_applied: int = 0
    throttled: int = 0
    coalesced: int = 0
    positions_dropped: int = 0
    presets: int = 0
    intensities: int = 0
    track_changes: int = 0
    debounced: int = 0
    rapid_episodes: int = 0
    suspended: int = 0
    learned: int = 0


@dataclass
class _Burst:
    """Position updates held since the last quiet throttle window, reported as one event."""

    started: float
    held: int = 0
    replaced: int = 0


class InteractionFilter:
    """Thread-safe with one lock; no threads or sleeps of its own, time comes from `clock`."""

    def __init__(
        self,
        initial_preset: str,
        clock: Clock = time.monotonic,
        *,
        throttle_seconds: float = 0.1,
        debounce_seconds: float = 0.5,
        rapid_count: int = 10,
        rapid_window_seconds: float = 1.0,
    ) -> None:
        if throttle_seconds < 0 or debounce_seconds < 0 or rapid_window_seconds < 0:
            raise ValueError("filter windows must not be negative")
        if rapid_count < 1:
            raise ValueError("rapid_count must be at least 1")
        self._clock = clock
        self._throttle = throttle_seconds
        self._debounce = debounce_seconds
        self._rapid_count = rapid_count
        self._rapid_window = rapid_window_seconds
        self._lock = threading.Lock()
        self._tally = _Tally()
        self._events: deque[FilterEvent] = deque(maxlen=EVENT_LOG_LENGTH)
        self._due: list[Switch] = []
        # Seeking.
        self._applied_at: float | None = None
        self._held: float | None = None
        self._burst: _Burst | None = None
        # Learning.
        self._current = initial_preset
        self._settled = initial_preset
        self._preset_since = clock()
        self._recent: deque[float] = deque(maxlen=rapid_count)
        """Times of the last `rapid_count` interactions: enough to tell a full window."""
        self._rapid_since: float | None = None
        self._rapid_presets = 0

    # -- seeking --------------------------------------------------------------------------
    def position(self, seconds: float) -> float | None:
        """A seek to `seconds`: the position to apply now, or None while it is held.

        A held target is never lost: a newer update replaces it (latest wins) and
        `due_position()` releases it once the throttle window has passed.
        """
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._tally.positions += 1
            self._record_interaction(now)
            if self._window_passed(now):
                if self._held is not None:
                    self._replace_held()
                    self._held = None
                self._apply_position(now)
                return seconds
            if self._burst is None:
                self._burst = _Burst(started=now)
            if self._held is not None:
                self._replace_held()
            self._held = seconds
            self._tally.throttled += 1
            self._burst.held += 1
            return None

    def pending_position(self) -> float | None:
        """The held target, so a relative seek adds to it and no step of a held key is lost."""
        with self._lock:
            return self._held

    def due_position(self) -> float | None:
        """The held target once its window has passed (the trailing edge), else None."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            if self._held is None or not self._window_passed(now):
                return None
            released, self._held = self._held, None
            self._apply_position(now)
            return released

    # -- presets and intensity ------------------------------------------------------------
    def preset(self, target: str) -> None:
        """A preset change the caller has applied; starts the debounce before it is learned.

        Choosing the preset already playing counts as an interaction but changes nothing else.
        """
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._tally.presets += 1
            self._record_interaction(now)
            if target == self._current:
                return
            if self._rapid_since is not None:
                self._tally.suspended += 1
                self._rapid_presets += 1
            elif self._current != self._settled:
                self._not_learned(now, f"{self._current} left after {self._held_ms(now)}")
            self._current = target
            self._preset_since = now

    def intensity(self, value: float) -> None:
        """An intensity change the caller has applied; it only counts as an interaction."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._tally.intensities += 1
            self._record_interaction(now)

    def track_changed(self) -> None:
        """A new track: drop the held seek and start learning afresh from the current preset."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._tally.track_changes += 1
            notes = []
            if self._held is not None:
                self._tally.positions_dropped += 1
                notes.append(f"held seek to {self._held:.1f} s dropped")
            self._held = None
            self._applied_at = None
            self._close_burst(now)
            if self._rapid_since is None and self._current != self._settled:
                self._tally.debounced += 1
                unsettled = f"{self._settled} -> {self._current}"
                notes.append(f"{unsettled} held {self._held_ms(now)}: not learned")
            self._settled = self._current
            self._log(now, "track_change", "; ".join(notes))

    # -- what the caller polls ------------------------------------------------------------
    def due_learning(self) -> list[Switch]:
        """Switches that have settled since the last call, oldest first."""
        with self._lock:
            self._advance(self._clock())
            due, self._due = self._due, []
            return due

    def rapid(self) -> bool:
        """Whether rapid exploration is suspending learning right now."""
        with self._lock:
            self._advance(self._clock())
            return self._rapid_since is not None

    def current_preset(self) -> str:
        """The last preset passed in: what the caller should be playing."""
        with self._lock:
            return self._current

    def settled_preset(self) -> str:
        """The preset the next learned switch will start from."""
        with self._lock:
            self._advance(self._clock())
            return self._settled

    def drain_events(self) -> list[FilterEvent]:
        with self._lock:
            self._advance(self._clock())
            events = list(self._events)
            self._events.clear()
            return events

    def counters(self) -> FilterCounters:
        with self._lock:
            self._advance(self._clock())
            return FilterCounters(**asdict(self._tally))

    # -- rules, called with the lock held -------------------------------------------------
    def _advance(self, now: float) -> None:
        """Apply every rule whose time has come; each depends only on `now`, not on polling."""
        if self._burst is not None and self._held is None and self._window_passed(now):
            assert self._applied_at is not None
            self._close_burst(self._applied_at + self._throttle)
        if self._rapid_since is not None:
            self._end_rapid_if_calm(now)
        elif self._current != self._settled and _at_least(now - self._preset_since, self._debounce):
            self._learn(self._preset_since + self._debounce)

    def _window_passed(self, now: float) -> bool:
        return self._applied_at is None or _at_least(now - self._applied_at, self._throttle)

    def _apply_position(self, now: float) -> None:
        self._applied_at = now
        self._tally.positions_applied += 1

    def _replace_held(self) -> None:
        self._tally.coalesced += 1
        if self._burst is not None:
            self._burst.replaced += 1

    def _close_burst(self, t: float) -> None:
        """Report a whole burst of held seeks as one event, so a held key does not spam the log."""
        burst, self._burst = self._burst, None
        if burst is None or burst.held == 0:
            return
        message = (
            f"throttled {burst.held} seek updates over {max(t - burst.started, 0.0):.2f} s "
            f"({burst.replaced} replaced by a newer target)"
        )
        self._log(t, "throttled", message)

    def _record_interaction(self, now: float) -> None:
        self._recent.append(now)
        if self._rapid_since is None and self._window_full(now):
            self._rapid_since = now
            self._rapid_presets = 0
            self._tally.rapid_episodes += 1
            message = (
                f"rapid exploration: {self._rapid_count} interactions within "
                f"{self._rapid_window:g} s; learning paused"
            )
            self._log(now, "rapid_start", message)

    def _window_full(self, now: float) -> bool:
        """Whether the last `rapid_count` interactions all fall within the window ending now."""
        return len(self._recent) == self._rapid_count and (
            now - self._recent[0] <= self._rapid_window + TOLERANCE_SECONDS
        )

    def _end_rapid_if_calm(self, now: float) -> None:
        held_until = self._preset_since + self._debounce
        if self._window_full(now) or not _at_least(now - self._preset_since, self._debounce):
            return
        assert self._rapid_since is not None
        calm_at = self._recent[0] + self._rapid_window
        ended = max(calm_at, held_until, self._rapid_since)
        message = (
            f"rapid exploration over after {ended - self._rapid_since:.1f} s, "
            f"{self._rapid_presets} preset changes; settled on {self._current}"
        )
        self._rapid_since = None
        self._log(ended, "rapid_end", message)
        if self._current != self._settled:
            self._learn(ended)

    def _learn(self, t: float) -> None:
        switch = Switch(self._settled, self._current)
        self._settled = self._current
        self._due.append(switch)
        self._tally.learned += 1
        self._log(t, "learned", f"learned {switch.source} -> {switch.target}")

    def _not_learned(self, now: float, reason: str) -> None:
        self._tally.debounced += 1
        self._log(now, "debounced", f"{reason}: not learned")

    def _held_ms(self, now: float) -> str:
        return f"{(now - self._preset_since) * 1000:.0f} ms"

    def _log(self, t: float, kind: str, message: str) -> None:
        self._events.append(FilterEvent(t, kind, message))
