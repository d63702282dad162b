"""`LoudnessCalibrations`: what the renderers measure once per track and share.

Per-(track, preset, mode) wet gains and what set them (`WetMeasure`), each track's sample
summary (loudness, true peak) and sample analysis are small and kept for every track; the
samples' windows are large and kept for two tracks, their bytes counted against the
engine's budget. Whatever several render threads ask for at once is computed once: a
sample's windows and a calibration's renders are shared out among the threads that ask
(`SharedWork`), and no lock is held while anything is computed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from engine.dsp.calibration import TrackSample, WetMeasure
from engine.dsp.distinctness import AUDIBLE_DB, SoundProfile
from engine.dsp.lru import Lru
from engine.dsp.shared_work import SharedWork
from engine.library.analysis import TrackAnalysis
from engine.vocabulary import BYPASS

V = TypeVar("V")
P = TypeVar("P")
WholeLoudness = Callable[[str], "float | None"]
FORGOTTEN = ""
"""The epoch entry a forgotten track bumps for all its presets, and a forgotten preset for
all tracks (no preset or track is named "")."""
KEEP_SAMPLES = 2
"""Track samples whose windows are kept (about 8 MB each), unless the engine says: the
current track's and a neighbour's."""


class LoudnessCalibrations:
    """Thread-safe, bounded caches shared by the renderers of one engine."""

    def __init__(
        self,
        max_entries: int = 512,
        kept_samples: int = KEEP_SAMPLES,
        whole_loudness: WholeLoudness = lambda _content_key: None,
    ) -> None:
        self.whole_loudness = whole_loudness
        """The track's whole-track integrated loudness once the streaming analysis has
        read all of it, else None: calibrations made after that match the whole track."""
        self._lock = threading.Lock()
        self._gains: Lru[tuple[str, str, str], float] = Lru(max_entries)
        self._wets: Lru[tuple[str, str, str], WetMeasure] = Lru(max_entries)
        self._samples: Lru[str, TrackSample] = Lru(max(1, kept_samples))
        self._summaries: Lru[str, TrackSample] = Lru(max_entries)
        """What each sample measured, without its windows: kept for every track."""
        self._analyses: Lru[str, TrackAnalysis] = Lru(max_entries)
        self._sharing: dict[object, SharedWork[object, object]] = {}
        """What is being computed, by key: a thread that asks for it helps."""
        self._provisional: set[tuple[str, str, str]] = set()
        """Gains set from the sample alone, before the whole track's loudness was known."""
        self._profiles: dict[str, dict[str, SoundProfile]] = {}
        """Per track, how each preset calibrated on it sounds (`distinctness.py`)."""
        self._max_profiled = max_entries // 8
        """Tracks whose profiles are kept (a few hundred bytes each), the oldest let go."""
        self._epochs: dict[tuple[str, str], int] = {}
        """Per (track, preset), bumped when its gain is set again: a render begun before is
        stale. Forgetting a track bumps its `FORGOTTEN` entry, which every preset reads."""

    def shared_gain(
        self,
        key: tuple[str, str, str],
        count: int,
        part: Callable[[int], P],
        finish: Callable[[Sequence[P]], float],
    ) -> float:
        """The gain for `key`; if it is not known, computed in `count` parts that the
        threads asking for it at once share (see `SharedWork`)."""
        gains = self._gains
        return self._shared(
            key, lambda: gains.get(key), count, part, finish, lambda gain: gains.put(key, gain)
        )

    def analysis(self, content_key: str, compute: Callable[[], TrackAnalysis]) -> TrackAnalysis:
        """The analysis of the track's sample, computed once and kept for every track."""
        return self._shared(
            ("analysis", content_key),
            lambda: self._analyses.get(content_key),
            1,
            lambda _: compute(),
            _only,
            lambda found: self._analyses.put(content_key, found),
        )

    def shared_sample(
        self,
        content_key: str,
        count: int,
        part: Callable[[int], P],
        finish: Callable[[Sequence[P]], TrackSample],
    ) -> TrackSample:
        """The track's sample, decoded once and kept for its few neighbours' worth; if it is
        not kept, its windows decoded in `count` parts that the threads asking share."""
        return self._shared(
            ("sample", content_key),
            lambda: self._samples.get(content_key),
            count,
            part,
            finish,
            lambda found: self._put_sample(content_key, found),
        )

    def get(self, key: tuple[str, str, str]) -> float | None:
        return self._locked(lambda: self._gains.get(key))

    def put(self, key: tuple[str, str, str], gain: float) -> None:
        self._locked(lambda: self._gains.put(key, gain))

    def wet(self, key: tuple[str, str, str]) -> WetMeasure | None:
        """What the calibration of `key` measured on the sample's rendered windows."""
        return self._locked(lambda: self._wets.get(key))

    def put_wet(self, key: tuple[str, str, str], measure: WetMeasure) -> None:
        self._locked(lambda: self._wets.put(key, measure))

    def summary(self, content_key: str) -> TrackSample | None:
        """What the track's sample measured (its windows may be gone); never computes."""
        return self._locked(lambda: self._summaries.get(content_key))

    def put_profile(self, content_key: str, preset: str, profile: SoundProfile) -> None:
        with self._lock:
            self._profiles.setdefault(content_key, {})[preset] = profile
            while len(self._profiles) > self._max_profiled:
                del self._profiles[next(iter(self._profiles))]

    def has_profile(self, content_key: str, preset: str) -> bool:
        with self._lock:
            return preset in self._profiles.get(content_key, {})

    def sounds_like(self, content_key: str, preset: str) -> str | None:
        """A preset that `preset` cannot be told apart from on this track (the original
        first), among those measured on it; None when it is distinct from them all."""
        with self._lock:
            profiles = dict(self._profiles.get(content_key, {}))
        own = profiles.pop(preset, None)
        if own is None:
            return None
        close = [p for p, other in profiles.items() if own.distance(other)[0] < AUDIBLE_DB]
        return BYPASS if BYPASS in close else (close[0] if close else None)

    def forget_track(self, content_key: str) -> None:
        with self._lock:
            self._profiles.pop(content_key, None)
            self._gains.drop(lambda key: key[0] == content_key)
            self._wets.drop(lambda key: key[0] == content_key)
            for cache in (self._samples, self._summaries, self._analyses):
                cache.drop(lambda key: key == content_key)
            self._provisional = {key for key in self._provisional if key[0] != content_key}
            self._bump((content_key, FORGOTTEN))

    def forget_preset(self, preset: str) -> None:
        """The preset was redefined: its gains on every track are measured again, and
        renders begun before are stale (`epoch`)."""
        with self._lock:
            self._gains.drop(lambda key: key[1] == preset)
            self._wets.drop(lambda key: key[1] == preset)
            for profiles in self._profiles.values():
                profiles.pop(preset, None)
            self._provisional = {key for key in self._provisional if key[1] != preset}
            self._bump((FORGOTTEN, preset))

    def note_provisional(self, key: tuple[str, str, str]) -> None:
        """This gain was set from the track's sample alone (see `provisional_presets`)."""
        with self._lock:
            self._provisional.add(key)

    def provisional_presets(self, content_key: str) -> list[str]:
        """Presets whose gain on this track was set before its whole loudness was known."""
        with self._lock:
            return sorted(key[1] for key in self._provisional if key[0] == content_key)

    def install(self, content_key: str, preset: str, mode: str, gain: float) -> None:
        """Replace a provisional gain with one matched over the whole track; renders begun
        before are stale (`epoch`)."""
        key = (content_key, preset, mode)
        with self._lock:
            self._gains.put(key, gain)
            self._provisional.discard(key)
            self._bump((content_key, preset))

    def epoch(self, content_key: str, preset: str) -> int:
        """Changes whenever the preset's gain on the track is set again, or the track or
        the preset is forgotten."""
        with self._lock:
            epochs = self._epochs
            return (
                epochs.get((content_key, preset), 0)
                + epochs.get((content_key, FORGOTTEN), 0)
                + epochs.get((FORGOTTEN, preset), 0)
            )

    def _bump(self, key: tuple[str, str]) -> None:
        self._epochs[key] = self._epochs.get(key, 0) + 1

    @property
    def sample_bytes(self) -> int:
        """Bytes held by the kept samples (counted against the engine's budget)."""
        return self._locked(lambda: sum(sample.nbytes for sample in self._samples.values()))

    # -- internals ------------------------------------------------------------------------
    def _put_sample(self, content_key: str, sample: TrackSample) -> None:
        self._samples.put(content_key, sample)
        self._summaries.put(content_key, replace(sample, windows=()))

    def _locked(self, action: Callable[[], V]) -> V:
        with self._lock:
            return action()

    def _shared(
        self,
        key: object,
        peek: Callable[[], V | None],
        count: int,
        part: Callable[[int], P],
        finish: Callable[[Sequence[P]], V],
        store: Callable[[V], None],
    ) -> V:
        """What `peek` finds, else the result of the work under `key`, begun now or joined.
        `peek` and `store` run under the lock: a result is stored and its work let go in
        one step, so no thread starts the work again in between. A work that failed is let
        go too: the next ask begins it anew."""
        with self._lock:
            found = peek()
            if found is not None:
                return found
            work = self._sharing.get(key)
            if work is None:
                work = self._sharing[key] = SharedWork(count)
        shared: SharedWork[P, V] = work  # type: ignore[assignment]  # one key, one kind

        def finished(parts: Sequence[P]) -> V:
            result = finish(parts)
            with self._lock:
                store(result)
                self._let_go(key, work)
            return result

        try:
            return shared.help(part, finished)
        except BaseException:
            with self._lock:
                self._let_go(key, work)
            raise

    def _let_go(self, key: object, work: object) -> None:
        if self._sharing.get(key) is work:
            del self._sharing[key]


def _only(parts: Sequence[V]) -> V:
    """The result of a work in one part."""
    return parts[0]
