"""One streaming pass over each track, in the background: chunk features and loudness.

The predictor's content model wants the five features of every chunk, and the figures want
the track's integrated loudness and peak. Both come from reading the source chunk by chunk,
once, on a niced thread of its own: one chunk's window in memory at a time, never the track.
Results are published as they grow, so the chunks near the playhead have features long
before a long mix has been read to its end.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np

from engine.cache.worker import nice_this_thread
from engine.dsp.loudness import LoudnessMeter
from engine.library.analysis import Features, window_features
from engine.library.source import TrackSource
from engine.runtime import STEP_FINISH_SECONDS

ANALYSIS_NICE = 10
"""Below the render threads (5): the pass is the least urgent work the engine does."""
IDLE_PER_BUSY = 6.0
"""After each chunk, wait six times as long as it took: the pass uses at most a seventh of
a core, and the renders the listener waits for go first. Analysing costs 0.6 to 1.2% of
the music's length, so the playing track and the next one are read within a minute or
so (analyses are kept: each later track brings one new next track), and the pass then
rests until the next track. A neighbour read at a 25th of a core instead kept it, and
the recalibrations that follow its reading, busy for minutes: the same work, spread over
what should be quiet listening."""
KEEP_TRACKS = 64
"""Analyses kept (a few kilobytes each); the oldest go first."""


@dataclass(frozen=True)
class StreamedAnalysis:
    """What the pass has learnt of a track so far."""

    chunk_features: tuple[Features, ...]
    loudness_lufs: float
    """BS.1770 integrated loudness of what was read (the whole track once `complete`)."""
    peak: float
    """Highest sample magnitude read."""
    complete: bool


@dataclass
class _Progress:
    """How far a track was read, and what was measured so far."""

    meter: LoudnessMeter
    start: int = 0
    peak: float = 0.0
    features: list[Features] = field(default_factory=list)


class AnalysisPass:
    """A thread that analyses queued tracks one chunk at a time; thread-safe."""

    def __init__(self, sample_rate: int, chunk_frames: int) -> None:
        self._rate = sample_rate
        self._chunk_frames = chunk_frames
        self._results: OrderedDict[str, StreamedAnalysis] = OrderedDict()
        self._queue: deque[TrackSource] = deque()
        self._progress: dict[str, _Progress] = {}
        self._cv = threading.Condition()
        self._stop = False
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="analysis", daemon=True)
        self._thread.start()

    def request(self, source: TrackSource, urgent: bool = False) -> None:
        """Analyse `source` (unless done or queued); `urgent` puts it first."""
        with self._cv:
            done = self._results.get(source.content_key)
            if (done is not None and done.complete) or source.content_key == self._current:
                return
            self._queue = deque(s for s in self._queue if s.content_key != source.content_key)
            if urgent:
                self._queue.appendleft(source)
                self._preempted = self._busy
            else:
                self._queue.append(source)
            self._cv.notify()

    def result(self, content_key: str) -> StreamedAnalysis | None:
        with self._cv:
            return self._results.get(content_key)

    def whole_loudness(self, content_key: str) -> float | None:
        """The integrated loudness, once the pass has read the whole track."""
        found = self.result(content_key)
        return found.loudness_lufs if found is not None and found.complete else None

    def idle(self) -> bool:
        """Nothing queued and nothing being read (tests and benchmarks wait for it)."""
        with self._cv:
            return not self._queue and not self._busy

    def close(self, wait: bool = True) -> None:
        """Stop the thread; `wait`: until its current analysis ends (see RenderWorkers)."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if wait:
            self._thread.join(timeout=STEP_FINISH_SECONDS)

    # -- the thread -----------------------------------------------------------------------
    _busy = False
    _preempted = False
    _current = ""

    def _run(self) -> None:
        nice_this_thread(ANALYSIS_NICE)
        while True:
            with self._cv:
                while not self._queue and not self._stop:
                    self._busy = False
                    self._cv.wait()
                if self._stop:
                    return
                source = self._queue.popleft()
                self._busy, self._current = True, source.content_key
            try:
                self._analyse(source)
            except Exception:  # noqa: BLE001 - advisory: a track plays without its features
                with self._cv:
                    self.failures += 1
            with self._cv:
                self._current = ""

    def _analyse(self, source: TrackSource) -> None:
        """Read on from where this track was left; yield to a track put first meanwhile."""
        with self._cv:
            progress = self._progress.pop(source.content_key, None)
        if progress is None:
            progress = _Progress(LoudnessMeter(self._rate))
        while progress.start < source.frames:
            with self._cv:
                if self._stop:
                    return
                if self._preempted:  # an urgent track came in: it goes first
                    self._preempted = False
                    self._progress[source.content_key] = progress
                    self._queue.insert(1, source)
                    return
            began = time.perf_counter()
            window = source.read(progress.start, progress.start + self._chunk_frames, keep=False)
            if window.shape[0] == 0:
                break
            progress.meter.feed(window)
            progress.peak = max(progress.peak, float(np.max(np.abs(window))))
            progress.features.append(window_features(window, self._rate))
            progress.start += window.shape[0]
            self._publish(source, progress, complete=False)
            pause = IDLE_PER_BUSY * (time.perf_counter() - began)
            with self._cv:  # a niced thread still takes the GIL: leave most of it free
                # (a close or an urgent track that came during the chunk ends the pause)
                self._cv.wait_for(lambda: self._stop or self._preempted, pause)
        self._publish(source, progress, complete=True)

    def _publish(self, source: TrackSource, progress: _Progress, complete: bool) -> None:
        result = StreamedAnalysis(
            tuple(progress.features), progress.meter.integrated(), progress.peak, complete
        )
        with self._cv:
            self._results[source.content_key] = result
            self._results.move_to_end(source.content_key)
            while len(self._results) > KEEP_TRACKS:
                self._results.popitem(last=False)
