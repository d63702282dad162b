"""The library as a listener sees it, and a playhead that follows a trace.

`LibraryTimeline` holds, per track, its length and the features of each chunk; it is what
the listener models (engine/sim/listeners.py), the predictor benchmark and the cache-policy
simulator know of the music. `Playhead` follows trace events by the engine player's rules
(1x playback, gapless track changes, a stop after the last track, seeks clamped to the
track, next/prev wrapping) in whole milliseconds, so a model and anyone replaying its trace
compute exactly the same positions.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import TierplayError, TrackError
from engine.library.analysis import Features, analyse
from engine.library.scan import SkippedFile, open_library
from engine.library.tracks import load_track
from engine.persist.trace import TraceEvent

UPCOMING_SECONDS = 2.0
"""A listener choosing for the music reacts to what they are about to hear: the chunk that
will be playing this far ahead."""
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


def to_ms(seconds: float) -> int:
    """Whole milliseconds: the resolution traces are written at."""
    return round(seconds * 1000.0)


class Playhead:
    """Where playback is, following trace events by the rules of the engine's player.

    Time and positions are whole milliseconds (the resolution traces are written at), so a
    model and anyone replaying its trace compute exactly the same positions.
    """

    def __init__(self, timeline: LibraryTimeline) -> None:
        self._durations_ms = tuple(to_ms(track.duration_seconds) for track in timeline.tracks)
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
        now_ms = to_ms(t)
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
        chunk_ms = to_ms(chunk_seconds)
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
            self._seek_ms(to_ms(event.position))
        elif kind == "seek_relative" and event.delta is not None:
            self._seek_ms(self._position_ms + to_ms(event.delta))
        elif kind in ("next", "prev"):
            step = 1 if kind == "next" else -1
            self.track_index = (self.track_index + step) % len(self._durations_ms)
            self._position_ms = 0
        elif kind == "track" and event.index is not None:
            self.track_index = min(event.index, len(self._durations_ms) - 1)
            self._position_ms = 0
            self.playing = True

    def _seek_ms(self, position_ms: int) -> None:
        self._position_ms = min(max(position_ms, 0), self._durations_ms[self.track_index])
