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
import os
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.analysis import Features, analyse
from engine.config import PRESET_ORDER
from engine.errors import TierplayError, TrackError
from engine.library import SkippedFile, open_library
from engine.trace import TraceEvent
from engine.tracks import load_track

UPCOMING_SECONDS = 2.0
"""A listener choosing for the music reacts to what they are about to hear: the chunk that
will be playing this far ahead."""
CONTENT_NOISE_RATE = 0.15
"""Share of the content-driven listener's switches that go elsewhere than the rule says."""
DETOUR_RATE = 0.08
"""Chance that a toggler's next switch is a brief visit to a third preset instead."""
RESTART_DELAY_MS = (1000, 3000)
"""How long a listener takes to start the list again once its last track has ended."""

SECTION_STYLES: dict[str, tuple[float, ...]] = {
    # energy, brightness, dynamics, vocal presence, tempo energy
    "driving": (0.8, 0.5, 0.3, 0.3, 0.8),
    "harsh": (0.8, 0.85, 0.3, 0.4, 0.6),
    "dull": (0.5, 0.2, 0.4, 0.3, 0.4),
    "quiet": (0.2, 0.5, 0.8, 0.3, 0.2),
    "vocal": (0.5, 0.45, 0.4, 0.8, 0.4),
    "plain": (0.45, 0.5, 0.45, 0.35, 0.4),
}
"""Section characters of synthetic tracks, each clear of `content_preset`'s thresholds by more
than the jitter added to it, so every section has one unambiguous suited preset."""
SECTION_JITTER = 0.05


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


# -- the library as a listener sees it ----------------------------------------------------------


@dataclass(frozen=True)
class TimelineTrack:
    """What a listener model knows of one track: where it is, how long, how it sounds."""

    path: str
    """As the trace's `open` lists it: relative to the library root."""
    duration_seconds: float
    chunk_seconds: float
    chunk_features: tuple[Features, ...]

    def __post_init__(self) -> None:
        if not (math.isfinite(self.duration_seconds) and self.duration_seconds >= 0.001):
            raise ValueError(f"{self.path}: duration must be at least 1 ms")
        if not (math.isfinite(self.chunk_seconds) and self.chunk_seconds > 0.0):
            raise ValueError(f"{self.path}: chunk_seconds must be positive")

    def features_at(self, position: float) -> Features:
        """Features of the chunk playing at `position`; neutral if the track has none."""
        if not self.chunk_features:
            return Features.neutral()
        index = int(max(position, 0.0) // self.chunk_seconds)
        return self.chunk_features[min(index, len(self.chunk_features) - 1)]


@dataclass(frozen=True)
class LibraryTimeline:
    """The tracks in play order; `root` is the folder their paths are relative to."""

    tracks: tuple[TimelineTrack, ...]
    root: Path | None = None
    skipped: tuple[SkippedFile, ...] = ()

    def __post_init__(self) -> None:
        if not self.tracks:
            raise ValueError("a timeline needs at least one track")

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(track.path for track in self.tracks)

    def upcoming_features(self, track_index: int, position: float) -> Features:
        """What a listener at (track, position) is about to hear: UPCOMING_SECONDS ahead, in
        the next track if this one ends first (playback is gapless)."""
        track = self.tracks[track_index]
        ahead = position + UPCOMING_SECONDS
        if ahead >= track.duration_seconds and track_index + 1 < len(self.tracks):
            return self.tracks[track_index + 1].features_at(ahead - track.duration_seconds)
        return track.features_at(min(ahead, track.duration_seconds))


def timeline_from_library(
    paths: Iterable[str | Path],
    chunk_seconds: float,
    sample_rate: int = 44_100,
    library_root: str | os.PathLike[str] | None = None,
) -> LibraryTimeline:
    """Decode and analyse real tracks, so models listen to the music the engine will play.

    Paths are made relative to `library_root`; by default the one folder given, or else the
    folder holding all the tracks. Unplayable files go to `skipped`, as in the engine.

    Raises:
        TierplayError: no playable track at all.
    """
    paths = list(paths)
    tracks, skipped = open_library(paths, sample_rate)
    skipped = list(skipped)
    found: list[tuple[Path, float, tuple[Features, ...]]] = []
    for track in tracks:
        try:
            decoded = load_track(track.path, sample_rate)
        except TrackError as error:
            skipped.append(SkippedFile(track.path, error.reason))
            continue
        analysis = analyse(decoded.samples, sample_rate, round(chunk_seconds * sample_rate))
        found.append((track.path, decoded.track.duration_seconds, analysis.chunk_features))
    if not found:
        raise TierplayError(f"no playable tracks in {', '.join(map(str, paths))}")
    root = _library_root(paths, [path for path, _, _ in found], library_root)
    return LibraryTimeline(
        tracks=tuple(
            TimelineTrack(_relative(path, root), duration, chunk_seconds, features)
            for path, duration, features in found
        ),
        root=root,
        skipped=tuple(skipped),
    )


def _library_root(
    given: Sequence[str | Path],
    files: Sequence[Path],
    library_root: str | os.PathLike[str] | None,
) -> Path:
    if library_root is not None:
        return Path(os.path.abspath(library_root))
    if len(given) == 1 and Path(given[0]).is_dir():
        return Path(os.path.abspath(given[0]))
    return Path(os.path.commonpath([os.path.abspath(path.parent) for path in files]))


def _relative(path: Path, root: Path) -> str:
    absolute = Path(os.path.abspath(path))
    return absolute.relative_to(root).as_posix() if absolute.is_relative_to(root) else str(absolute)


def synthetic_timeline(
    seed: int,
    tracks: int = 4,
    track_seconds: tuple[float, float] = (60.0, 180.0),
    chunk_seconds: float = 10.0,
    section_chunks: tuple[int, int] = (2, 6),
) -> LibraryTimeline:
    """A made-up library for fast tests: tracks of sections (SECTION_STYLES) that each last a
    few chunks, so the music ahead is predictable from the chunk about to play."""
    rng = random.Random(seed)
    made: list[TimelineTrack] = []
    for number in range(1, tracks + 1):
        duration = round(rng.uniform(*track_seconds), 3)
        count = math.ceil(duration / chunk_seconds)
        chunks: list[Features] = []
        style = ""
        while len(chunks) < count:
            style = rng.choice([name for name in SECTION_STYLES if name != style])
            centre = SECTION_STYLES[style]
            for _ in range(rng.randint(*section_chunks)):
                jitter = [rng.uniform(-SECTION_JITTER, SECTION_JITTER) for _ in centre]
                chunks.append(Features(*(v + dv for v, dv in zip(centre, jitter, strict=True))))
        path = f"track_{number:02d}.flac"
        made.append(TimelineTrack(path, duration, chunk_seconds, tuple(chunks[:count])))
    return LibraryTimeline(tuple(made))


# -- following playback -------------------------------------------------------------------------


def _ms(seconds: float) -> int:
    return round(seconds * 1000.0)


class Playhead:
    """Where playback is, following trace events by the rules of the engine's player.

    Time and positions are whole milliseconds (the resolution traces are written at), so a
    model and anyone replaying its trace compute exactly the same positions.
    """

    def __init__(self, timeline: LibraryTimeline) -> None:
        self._durations_ms = tuple(_ms(track.duration_seconds) for track in timeline.tracks)
        self.track_index = 0
        self.playing = False
        self._position_ms = 0
        self._now_ms = 0

    @property
    def position(self) -> float:
        """Seconds into the current track."""
        return self._position_ms / 1000.0

    @property
    def duration(self) -> float:
        """Length of the current track in seconds."""
        return self._durations_ms[self.track_index] / 1000.0

    def advance(self, t: float) -> None:
        """Let time pass until `t` (seconds since the session started)."""
        now_ms = _ms(t)
        if now_ms < self._now_ms:
            raise ValueError(f"time runs forward: {t} is before {self._now_ms / 1000.0}")
        elapsed, self._now_ms = now_ms - self._now_ms, now_ms
        while self.playing and elapsed > 0:
            left = self._durations_ms[self.track_index] - self._position_ms
            if elapsed < left:
                self._position_ms += elapsed
                return
            elapsed -= left
            if self.track_index + 1 == len(self._durations_ms):
                self._position_ms += left
                self.playing = False  # the player stops after the last track
            else:
                self.track_index += 1
                self._position_ms = 0

    def seconds_until_stop(self) -> float | None:
        """Playing time left before the end of the list stops playback; None when stopped."""
        if not self.playing:
            return None
        later = sum(self._durations_ms[self.track_index + 1 :])
        return (self._durations_ms[self.track_index] - self._position_ms + later) / 1000.0

    def seconds_to_chunk_boundary(self, chunk_seconds: float) -> float:
        """Playing time until the next chunk starts (the end of the track counts as one)."""
        chunk_ms = _ms(chunk_seconds)
        boundary = (self._position_ms // chunk_ms + 1) * chunk_ms
        return (min(boundary, self._durations_ms[self.track_index]) - self._position_ms) / 1000.0

    def apply(self, event: TraceEvent) -> None:
        """Advance to the event's time, then do what the engine does for it."""
        self.advance(event.t)
        kind = event.event
        if kind == "open":
            self.track_index, self._position_ms, self.playing = 0, 0, False
        elif kind == "play":
            self.playing = True
        elif kind in ("pause", "end"):
            self.playing = False
        elif kind == "seek" and event.position is not None:
            self._seek_ms(_ms(event.position))
        elif kind == "seek_relative" and event.delta is not None:
            self._seek_ms(self._position_ms + _ms(event.delta))
        elif kind in ("next", "prev"):
            step = 1 if kind == "next" else -1
            self.track_index = (self.track_index + step) % len(self._durations_ms)
            self._position_ms = 0

    def _seek_ms(self, position_ms: int) -> None:
        self._position_ms = min(max(position_ms, 0), self._durations_ms[self.track_index])


# -- the listener models ------------------------------------------------------------------------


class _Session:
    """One listener at work: the clock, the playhead, the current settings, the events so far."""

    def __init__(self, timeline: LibraryTimeline, seed: int, seconds: float) -> None:
        if not (math.isfinite(seconds) and seconds >= 1.0):
            raise ValueError(f"a session lasts at least 1 s, not {seconds}")
        self.rng = random.Random(seed)
        self.timeline = timeline
        self.playhead = Playhead(timeline)
        self.events: list[TraceEvent] = []
        self.preset = "original"
        self.intensity = 1.0
        self.volume = 1.0
        self._now_ms = 0
        self._end_ms = _ms(seconds)
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
        target_ms = min(self._now_ms + max(_ms(seconds), 1), self._end_ms)
        while (left := self.playhead.seconds_until_stop()) is not None:
            stop_ms = self._now_ms + _ms(left)
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
    session = _Session(timeline, seed, seconds)
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
    session = _Session(timeline, seed, seconds)
    rng = session.rng
    pair = ("original", "punchy") if rng.random() < 0.5 else tuple(rng.sample(PRESET_ORDER, 2))
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
    session = _Session(timeline, seed, seconds)
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
    session = _Session(timeline, seed, seconds)
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
    session = _Session(timeline, seed, seconds)
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
