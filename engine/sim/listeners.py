"""Synthetic listeners: seeded models of how people use presets, written as traces.

The predictor and the cache policies are only as good as the listeners they serve, and real
traces are few. These models give any number of sessions of recognisable behaviour on any
library, each reproducible from its seed:

- `settled` picks a preset early and keeps it; an occasional intensity or volume tweak.
- `toggler` A/B-compares two presets every 5-25 s, with a brief detour to a third now and then.
- `content_driven` chooses the preset that suits the music about to play (`content_preset`),
  with a fixed rate of other choices, so its switches follow changes in the music.
- `explorer` runs through presets in bursts (some of ten or more in one second), then settles.
- `seeker` jumps around: relative and absolute seeks, next and previous track, a few switches.

Each model drives a `Playhead` that follows the engine player's rules (1x playback, gapless
track changes, a stop after the last track, seeks clamped to the track, next/prev wrapping),
so every seek, skip and switch happens where playback really is, and a replay of the trace
meets the same music the model chose for. Traces stay in the documented format: nothing in
them says why an event happened.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable

from engine.library.analysis import Features
from engine.persist.trace import TraceEvent
from engine.sim.timeline import LibraryTimeline, Playhead, to_ms
from engine.vocabulary import BYPASS, PRESET_ORDER

CONTENT_NOISE_RATE = 0.15
"""Share of the content-driven listener's switches that go elsewhere than the rule says."""
DETOUR_RATE = 0.08
"""Chance that a toggler's next switch is a brief visit to a third preset instead."""
RESTART_DELAY_MS = (1000, 3000)
"""How long a listener takes to start the list again once its last track has ended."""


def content_preset(features: Features) -> str:
    """The content-driven listener's taste, first match wins: tame harsh loud music, punch up
    dense fast music, soften quiet or dynamic music, keep voices natural, lift dull music,
    else leave it alone."""
    if features.energy >= 0.6 and features.brightness >= 0.7:
        return "warm"
    if features.energy >= 0.6 and features.tempo_energy >= 0.6:
        return "punchy"
    if features.dynamics >= 0.6 or features.energy <= 0.3:
        return "gentle"
    if features.vocal_presence >= 0.6:
        return "warm" if features.brightness >= 0.55 else "adaptive"
    if features.brightness <= 0.35:
        return "bright"
    return "original"


# -- the listener models ------------------------------------------------------------------------


class ListeningSession:
    """One listener at work: the clock, the playhead, the current settings, the events so far."""

    def __init__(self, timeline: LibraryTimeline, seed: int, seconds: float) -> None:
        if not (math.isfinite(seconds) and seconds >= 1.0):
            raise ValueError(f"a session lasts at least 1 s, not {seconds}")
        self.rng = random.Random(seed)
        self.timeline = timeline
        self.playhead = Playhead(timeline)
        self.events: list[TraceEvent] = []
        self.preset = BYPASS
        self.intensity = 1.0
        self.volume = 1.0
        self._now_ms = 0
        self._end_ms = to_ms(seconds)
        self.emit(TraceEvent.open, timeline.paths)
        self.emit(TraceEvent.play)

    def emit(self, make: Callable[..., TraceEvent], *args: object) -> None:
        event = make(self._now_ms / 1000.0, *args)
        self.playhead.apply(event)
        self.events.append(event)
        if event.preset_name is not None:
            self.preset = event.preset_name

    def wait(self, seconds: float) -> bool:
        """Let time pass (restarting the list if it plays out); False once the session is over,
        after which the model must not act."""
        target_ms = min(self._now_ms + max(to_ms(seconds), 1), self._end_ms)
        while (left := self.playhead.seconds_until_stop()) is not None:
            stop_ms = self._now_ms + to_ms(left)
            restart_ms = stop_ms + self.rng.randint(*RESTART_DELAY_MS)
            if stop_ms > target_ms or restart_ms + 1000 >= self._end_ms:
                break
            self._advance(restart_ms)
            self.emit(TraceEvent.next)
            self._advance(restart_ms + self.rng.randint(200, 800))
            self.emit(TraceEvent.play)
            target_ms = max(target_ms, self._now_ms)
        self._advance(target_ms)
        return self._now_ms < self._end_ms

    def finish(self) -> list[TraceEvent]:
        self._advance(self._end_ms)
        self.emit(TraceEvent.end)
        return self.events

    def _advance(self, now_ms: int) -> None:
        self._now_ms = now_ms
        self.playhead.advance(now_ms / 1000.0)

    # -- actions --------------------------------------------------------------------------
    def switch(self, preset: str) -> None:
        if preset != self.preset:
            self.emit(TraceEvent.preset, preset)

    def other_preset(self, exclude: Iterable[str] = ()) -> str:
        excluded = {self.preset, *exclude}
        return self.rng.choice([preset for preset in PRESET_ORDER if preset not in excluded])

    def nudge_intensity(self) -> None:
        self.intensity = self._nudged(self.intensity)
        self.emit(TraceEvent.intensity, self.intensity)

    def nudge_volume(self) -> None:
        self.volume = self._nudged(self.volume)
        self.emit(TraceEvent.volume, self.volume)

    def _nudged(self, value: float) -> float:
        """A slider moved by 1-4 steps of 0.05 (inwards at the ends), on the 0.05 grid."""
        step = self.rng.choice((0.05, 0.1, 0.15, 0.2)) * self.rng.choice((-1.0, 1.0))
        if not 0.0 <= value + step <= 1.0:
            step = -step
        return round(min(max(round((value + step) / 0.05) * 0.05, 0.0), 1.0), 2)

    def pause_for(self, seconds: float) -> None:
        self.emit(TraceEvent.pause)
        if self.wait(seconds):
            self.emit(TraceEvent.play)

    def seek_to(self, position: float) -> None:
        self.emit(TraceEvent.seek, round(min(max(position, 0.0), self.playhead.duration), 3))

    def seek_by(self, step: float) -> None:
        """Jump `step` seconds forward or back, whichever lands inside the track."""
        position, duration = self.playhead.position, self.playhead.duration
        deltas = [step, -step] if self.rng.random() < 0.6 else [-step, step]
        fitting = [delta for delta in deltas if 0.0 <= position + delta <= duration - 0.5]
        if fitting:
            self.emit(TraceEvent.seek_relative, fitting[0])
        else:
            self.seek_to(self.rng.uniform(0.0, max(duration - 1.0, 0.0)))

    def choose_for_content(self) -> None:
        features = self.timeline.upcoming_features(
            self.playhead.track_index, self.playhead.position
        )
        suited = content_preset(features)
        if suited == self.preset:
            return
        if self.rng.random() < CONTENT_NOISE_RATE:
            self.switch(self.other_preset(exclude=(suited,)))
        else:
            self.switch(suited)


ListenerModel = Callable[[LibraryTimeline, int, float], list[TraceEvent]]


def settled(timeline: LibraryTimeline, seed: int, seconds: float) -> list[TraceEvent]:
    """Picks a preset in the first seconds and keeps it; a rare tweak, a rarer change."""
    session = ListeningSession(timeline, seed, seconds)
    rng = session.rng
    if session.wait(rng.uniform(2.0, 10.0)):
        session.switch(rng.choice(PRESET_ORDER[1:]))
        while session.wait(rng.uniform(30.0, 120.0)):
            roll = rng.random()
            if roll < 0.03:
                session.switch(session.other_preset())
            elif roll < 0.55:
                session.nudge_intensity()
            elif roll < 0.75:
                session.nudge_volume()
            else:
                session.pause_for(rng.uniform(2.0, 10.0))
    return session.finish()


def toggler(timeline: LibraryTimeline, seed: int, seconds: float) -> list[TraceEvent]:
    """A/B: flips between two presets (often original and punchy) every 5-25 s."""
    session = ListeningSession(timeline, seed, seconds)
    rng = session.rng
    pair = (BYPASS, "punchy") if rng.random() < 0.5 else tuple(rng.sample(PRESET_ORDER, 2))
    side = 1 if pair[0] == session.preset else 0
    if session.wait(rng.uniform(1.0, 4.0)):
        session.switch(pair[side])
        while session.wait(rng.uniform(5.0, 25.0)):
            if rng.random() < DETOUR_RATE:
                session.switch(session.other_preset(exclude=pair))
                if not session.wait(rng.uniform(1.5, 4.0)):
                    break
                session.switch(pair[side])
            else:
                side = 1 - side
                session.switch(pair[side])
    return session.finish()


def content_driven(timeline: LibraryTimeline, seed: int, seconds: float) -> list[TraceEvent]:
    """Chooses for the music ahead, just before each chunk starts (now and then mid-chunk)."""
    session = ListeningSession(timeline, seed, seconds)
    rng = session.rng
    lead_seconds = (0.3, 1.5)
    alive = session.wait(rng.uniform(1.0, 4.0))
    if alive:
        session.choose_for_content()
    while alive:
        chunk_seconds = timeline.tracks[session.playhead.track_index].chunk_seconds
        gap = session.playhead.seconds_to_chunk_boundary(chunk_seconds)
        if not session.playhead.playing or gap <= lead_seconds[1] + 0.1:
            alive = session.wait(gap + 0.1 if session.playhead.playing else 1.0)
            continue
        if rng.random() < 0.2:
            alive = session.wait(rng.uniform(0.5, gap - lead_seconds[1]))
        else:
            alive = session.wait(gap - rng.uniform(*lead_seconds))
        if alive:
            session.choose_for_content()
            if rng.random() < 0.05:
                session.nudge_intensity()
    return session.finish()


def explorer(timeline: LibraryTimeline, seed: int, seconds: float) -> list[TraceEvent]:
    """Bursts through presets (the first, and half the rest, at 10+ a second), then settles."""
    session = ListeningSession(timeline, seed, seconds)
    rng = session.rng
    alive, mash = session.wait(rng.uniform(3.0, 8.0)), True
    while alive:
        if mash:  # keys 1-6 hammered: 10-16 switches 40-90 ms apart
            count, gaps = rng.randint(10, 16), (0.04, 0.09)
        else:  # a quick tour, a few switches a second
            count, gaps = rng.randint(4, 9), (0.2, 0.6)
        session.switch(session.other_preset())
        for _ in range(count - 1):
            alive = session.wait(rng.uniform(*gaps))
            if not alive:
                break
            session.switch(session.other_preset())
        if alive and rng.random() < 0.3:
            alive = session.wait(rng.uniform(5.0, 15.0))
            if alive:
                session.nudge_intensity()
        alive = alive and session.wait(rng.uniform(20.0, 60.0))
        mash = rng.random() < 0.5
    return session.finish()


def seeker(timeline: LibraryTimeline, seed: int, seconds: float) -> list[TraceEvent]:
    """Jumps around the music: seeks by 5 and 30 s and to anywhere, skips tracks, rarely
    switches."""
    session = ListeningSession(timeline, seed, seconds)
    rng = session.rng
    while session.wait(min(max(rng.expovariate(1.0 / 6.0), 0.3), 20.0)):
        roll = rng.random()
        if roll < 0.30:
            session.seek_by(5.0)
        elif roll < 0.45:
            session.seek_by(30.0)
        elif roll < 0.65:
            session.seek_to(rng.uniform(0.0, max(session.playhead.duration - 1.0, 0.0)))
        elif roll < 0.77:
            session.emit(TraceEvent.next)
        elif roll < 0.85:
            session.emit(TraceEvent.prev)
        elif roll < 0.94:
            session.switch(session.other_preset())
        else:
            session.pause_for(rng.uniform(1.0, 4.0))
    return session.finish()


MODELS: dict[str, ListenerModel] = {
    "settled": settled,
    "toggler": toggler,
    "content_driven": content_driven,
    "explorer": explorer,
    "seeker": seeker,
}


def generate(
    model_name: str, timeline: LibraryTimeline, seed: int, seconds: float
) -> list[TraceEvent]:
    """A session of `seconds` by the named model: open and play at 0, ..., end at `seconds`."""
    model = MODELS.get(model_name)
    if model is None:
        raise ValueError(
            f"unknown listener model {model_name!r}; choose one of {', '.join(MODELS)}"
        )
    return model(timeline, seed, seconds)
