"""`TrackPreparation`: what a track needs measured before its switches can be instant.

When a track becomes current, its sample and the preset playing first are calibrated ahead
of every render, the likely switch targets in the background (none for a settled listener;
a chunk's render calibrates its preset if it gets there first), and its neighbours' samples
and likeliest presets next, so a skip or the next track starts with nothing left to
measure. The streaming analysis reads the track and the next one (`ANALYSED_AHEAD`).
Once a track's whole loudness is known, the presets not heard on it yet are calibrated
again against the whole track and their chunks dropped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from functools import partial

from engine.cache.buffer import MultiTierBuffer
from engine.cache.worker import RenderWorkerPool
from engine.dsp.calibrations import LoudnessCalibrations
from engine.library.analysis_pass import AnalysisPass
from engine.library.track_store import TrackStore
from engine.library.tracks import Track
from engine.observe.journal import Journal
from engine.playback.queue import PlayQueue
from engine.vocabulary import BYPASS, TierName

NEIGHBOUR_PRESETS = 2
"""Likeliest switch targets calibrated ahead on the neighbouring tracks."""
ANALYSED_AHEAD = 1
"""Neighbours read by the streaming analysis ahead of their turn: the next track only.
Reading costs 0.6 to 1.2% of the music's length; the next-but-one and the previous are
rarely heard before they become the next, and then they are read. All three neighbours
kept the pass busy for a minute and a half after a first track began."""
REFINE_MISS_LU = 0.3
"""A track whose sample read its loudness this close is not recalibrated once analysed: a
preset then drifts by at most 0.7 x 0.3 = 0.2 LU (its slope is 0.3 to 1), and half of the
real tracks measured need no recalibration renders at all."""


class TrackPreparation:
    """`prepare` runs on whichever thread plans; `asked` on the UI thread; `refine` and
    `install` on the maintenance thread. `_lock` guards the playing track, its neighbours
    and the presets asked for on it, and is held while a recalibrated gain is installed."""

    def __init__(
        self,
        loudness_mode: str,
        order: PlayQueue,
        store: TrackStore,
        buffer: MultiTierBuffer,
        workers: RenderWorkerPool,
        calibrations: LoudnessCalibrations,
        analyses: AnalysisPass,
        journal: Journal,
        requested: Callable[[], str],
    ) -> None:
        """`requested` is the preset asked for now (the feed's)."""
        self._requested = requested
        self._loudness_mode = loudness_mode
        self._order = order
        self._store = store
        self._buffer = buffer
        self._workers = workers
        self._calibrations = calibrations
        self._analyses = analyses
        self._journal = journal
        self._lock = threading.Lock()
        self._playing: Track | None = None
        self._neighbours: list[Track] = []
        self._asked: frozenset[str] = frozenset()
        """Presets asked for since the track began: heard, so they keep their gains."""
        self._ahead: tuple[str, ...] = ()
        """The presets calibrated ahead on the playing track."""
        self._refined: set[str] = set()
        """Tracks (fingerprints) whose calibrations were refined by their whole loudness."""
        self._recalibrated: queue.SimpleQueue[tuple[Track, str, float]] = queue.SimpleQueue()
        """Gains recalibrated by the workers, waiting to be put in use."""

    def prepare(self, track: Track, likely: tuple[str, ...]) -> None:
        """`track` is now current; `likely` are the processed presets worth calibrating,
        likeliest switch targets first. The preset asked for is read under the lock: a
        command requests its preset before it tells `asked`, so one that lands meanwhile is
        never lost."""
        neighbours = self._order.neighbours(track)
        with self._lock:
            requested = self._requested()
            again = self._playing is not None and self._playing.id == track.id
            self._playing, self._neighbours = track, neighbours
            # Prepared again (opened, then planned): what was heard and prepared stays.
            self._asked = (self._asked if again else frozenset()) | {requested}
            ahead = (BYPASS, requested, *likely)
            self._ahead = tuple(dict.fromkeys((*self._ahead, *ahead) if again else ahead))
        self._journal.publish("track", track)
        self._workers.prepare_track(track.id, track.fingerprint, (BYPASS, requested))
        self._workers.prepare_track(track.id, track.fingerprint, likely, TierName.L3)
        self._analyses.request(self._store.get(track), urgent=True)
        ahead = (BYPASS, requested, *likely[:NEIGHBOUR_PRESETS])
        for neighbour in neighbours:
            self._workers.prepare_track(neighbour.id, neighbour.fingerprint, ahead, TierName.L2)
        for neighbour in neighbours[:ANALYSED_AHEAD]:
            self._analyses.request(self._store.get(neighbour))

    def wanted(self, track: Track) -> frozenset[str] | None:
        """The presets `track` is calibrated for before they are needed, once it is the
        playing one (None before): those calibrated ahead and those asked for on it."""
        with self._lock:
            if self._playing is None or self._playing.id != track.id:
                return None
            return frozenset(self._ahead) | self._asked

    def ask(self, preset: str, request: Callable[[], None]) -> None:
        """The listener asked for `preset` on the playing track: `request` it from the feed
        and mark it heard in one step under the lock that `install` holds, so a gain is
        never replaced between the feed taking the preset's chunk and the mark (the next
        chunk would come at another level)."""
        with self._lock:
            request()
            self._asked = self._asked | {preset}

    def refine(self) -> None:
        """Queue the recalibration of the playing track's and its neighbours' presets not
        asked for yet, once their whole loudness is known and their sample misread it."""
        with self._lock:
            playing, asked = self._playing, self._asked
            tracks = [playing, *self._neighbours] if playing is not None else []
        for track in tracks:
            if track.fingerprint in self._refined:
                continue
            whole = self._calibrations.whole_loudness(track.fingerprint)
            if whole is None:
                continue
            self._refined.add(track.fingerprint)
            summary = self._calibrations.summary(track.fingerprint)
            if summary is not None and abs(whole - summary.loudness_lufs) < REFINE_MISS_LU:
                continue
            heard = asked if track is playing else frozenset()
            redo = [
                p
                for p in self._calibrations.provisional_presets(track.fingerprint)
                if p not in heard
            ]
            deliver = partial(self._deliver, track)
            self._workers.recalibrate_track(track.id, track.fingerprint, redo, deliver)

    def install(self) -> bool:
        """Put the recalibrated gains in use, each with its chunks dropped at once, unless
        the preset was asked for on the playing track meanwhile: it was heard, it keeps its
        gain. Returns whether any was installed (the plan is then stale)."""
        installed = False
        while True:
            try:
                track, preset, gain = self._recalibrated.get_nowait()
            except queue.Empty:
                return installed
            with self._lock:  # held to the install: a preset asked for meanwhile keeps its gain
                heard = self._playing is not None and self._playing.id == track.id
                if heard and preset in self._asked:
                    continue
                self._calibrations.install(track.fingerprint, preset, self._loudness_mode, gain)
                dropped = self._buffer.drop_presets(track.id, [preset])
            self._journal.invalidated(track.id, f"{preset} recalibrated", dropped)
            installed = True

    def _deliver(self, track: Track, preset: str, gain: float) -> None:
        self._recalibrated.put((track, preset, gain))
