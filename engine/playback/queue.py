"""`PlayQueue`: which track plays after which.

The order is the library's (or the album's or folder's the listener chose to play), as
listed or shuffled; the tracks the listener queued play before it goes on, each once;
repeat plays the order again, or the one track. The player asks `following` at each
track's end (gapless: the answer is written right after the last frame), the planner and
the preparation ask `neighbours` so the real next track is pre-rendered whatever the mode.

`following` is a pure reading of the state: the feeder asks it for audio the listener has
not heard yet, and a cut before the track's end (a switch, a seek) asks again. The state
moves on only when a track is heard (`heard`, from the maintenance loop) or the listener
says so: a queued track leaves the queue once it is playing, not when it is written.

Shuffle walks one random permutation of the order, so no track repeats until every one
has played; with repeat all, each new round is shuffled again once its first track is
heard.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

from engine.errors import TierplayError
from engine.library.order import album_of, folder_of
from engine.library.playlist import Playlist
from engine.library.tracks import Track

REPEAT_MODES = ("off", "all", "one")
SCOPES = ("library", "album", "folder")
MAX_UP_NEXT = 10_000
"""More than a listener would queue by hand; bounds a runaway script's requests."""


@dataclass(frozen=True)
class QueueState:
    """What outlives the session: the modes and the tracks queued (by id)."""

    repeat: str = "off"
    shuffle: bool = False
    scope: str = "library"
    scope_track: str | None = None
    """The track whose album or folder the scope is."""
    up_next: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class QueueView:
    """The queue as the screen and the API show it."""

    repeat: str
    shuffle: bool
    scope: str
    up_next: list[Track]
    then: list[Track]
    """The order's tracks that follow the queue (the first few)."""


class PlayQueue:
    """Thread-safe; every method returns at once."""

    def __init__(self, playlist: Playlist, seed: int | None = None) -> None:
        self._playlist = playlist
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._repeat = "off"
        self._shuffle = False
        self._scope = "library"
        self._scope_track: str | None = None
        self._up_next: list[str] = []
        self._anchor: str | None = None
        """The last track heard from the order (not from the queue): the order goes on
        after it once the queue is empty."""
        self._heard: str | None = None
        self._from_queue: str | None = None
        """The track heard, when it came from the queue."""
        self._permutation: list[str] = []
        self._library: list[Track] = []
        self._order: list[str] = []
        self._places: dict[str, int] = {}
        self._by_id: dict[str, Track] = {}
        self._built_from: tuple[object, ...] = ()

    # -- the library and the state ----------------------------------------------------------
    def reset(self, state: QueueState | None = None) -> None:
        """A new library: the order starts over, with the modes and the queue of `state`
        (by default the ones in use), those of its tracks that are in the library."""
        with self._lock:
            if state is None:
                state = QueueState(self._repeat, self._shuffle, up_next=tuple(self._up_next))
            self._refresh()
            self._repeat = state.repeat if state.repeat in REPEAT_MODES else "off"
            self._shuffle = bool(state.shuffle)
            self._scope = state.scope if state.scope in SCOPES else "library"
            self._scope_track = state.scope_track if state.scope_track in self._by_id else None
            if self._scope_track is None:
                self._scope = "library"
            self._up_next = [i for i in state.up_next if i in self._by_id][:MAX_UP_NEXT]
            self._anchor = self._heard = self._from_queue = None
            self._permutation = []
            self._built_from = ()

    def state(self) -> QueueState:
        with self._lock:
            return QueueState(
                self._repeat, self._shuffle, self._scope, self._scope_track, tuple(self._up_next)
            )

    def track(self, track_id: str) -> Track | None:
        """The library's track with this id."""
        with self._lock:
            self._refresh()
            return self._by_id.get(track_id)

    @property
    def repeat(self) -> str:
        return self._repeat

    @property
    def shuffle(self) -> bool:
        return self._shuffle

    @property
    def scope(self) -> str:
        return self._scope

    @property
    def queued(self) -> int:
        """Tracks queued to play next."""
        return len(self._up_next)

    # -- what plays next ------------------------------------------------------------------------
    def first(self) -> Track | None:
        """Where playing from the top starts: the queue's first track, else the order's."""
        with self._lock:
            self._refresh()
            if self._up_next:
                return self._by_id[self._up_next[0]]
            return self._track(self._order[0]) if self._order else None

    def following(self, track: Track) -> Track | None:
        """The track that plays after `track` ends, or None where playing stops."""
        with self._lock:
            self._refresh()
            if self._repeat == "one" and track.id in self._by_id:
                return track
            return self._track(next(self._walk(track.id, self._repeat), None))

    def step(self, track: Track, delta: int) -> Track | None:
        """Where next (`delta` > 0) or previous (< 0) track goes from `track`: repeat one
        does not hold it, and the order wraps at both ends."""
        with self._lock:
            self._refresh()
            if delta > 0:
                ahead = islice(self._walk(track.id, "all"), delta - 1, None)
                return self._track(next(ahead, None))
            current: str | None = track.id
            for _ in range(-delta):
                current = self._before_id(current) if current is not None else None
            return self._track(current)

    def neighbours(self, track: Track) -> list[Track]:
        """The tracks a listener will most likely hear after this one, in order: the next
        two (the one next would skip to when repeat holds this one) and the previous."""
        with self._lock:
            self._refresh()
            repeat = "off" if self._repeat == "off" else "all"  # one: where next goes
            ids: list[str | None] = [*islice(self._walk(track.id, repeat), 2)]
            ids.append(self._before_id(track.id))
            unique = dict.fromkeys(i for i in ids if i is not None and i != track.id)
            return [t for t in (self._track(i) for i in unique) if t is not None]

    def view(self, playing: Track | None, following: int) -> QueueView:
        """The queue and the `following` tracks of the order that play after it (repeat
        one aside), never the playing track again."""
        with self._lock:
            self._refresh()
            then: list[str] = []
            if playing is not None:
                repeat = "all" if self._repeat == "all" else "off"
                queued = len(self._up_next) - (
                    self._up_next.index(playing.id) + 1 if playing.id in self._up_next else 0
                )
                for track_id in islice(self._walk(playing.id, repeat), queued, None):
                    if track_id == playing.id or track_id in then or len(then) >= following:
                        break
                    then.append(track_id)
            return QueueView(
                self._repeat,
                self._shuffle,
                self._scope,
                [self._by_id[i] for i in self._up_next],
                [self._by_id[i] for i in then],
            )

    def heard(self, track: Track) -> bool:
        """`track` began to be heard: a queued track leaves the queue (with any queued
        before it); a track of the order is where the order goes on. Returns True when it
        changed from the last one heard."""
        with self._lock:
            if track.id == self._heard:
                return False
            self._refresh()
            self._heard = track.id
            if track.id in self._up_next:
                del self._up_next[: self._up_next.index(track.id) + 1]
                self._from_queue = track.id
                return True
            previous, self._anchor, self._from_queue = self._anchor, track.id, None
            order = self._order
            wrapped = bool(order) and previous == order[-1] and track.id == order[0]
            if self._shuffle and wrapped and self._repeat == "all":
                rest = self._permutation[1:]
                self._random.shuffle(rest)
                self._permutation = [self._permutation[0], *rest]
                self._built_from = ()
            return True

    # -- the listener's choices ---------------------------------------------------------------
    def chose(self, track: Track) -> None:
        """The listener picked `track` to play now: the order goes on from it (in shuffle,
        it takes its turn now, so every other track still plays once)."""
        with self._lock:
            self._refresh()
            permutation = self._permutation
            if self._shuffle and track.id in self._places and track.id != self._anchor:
                permutation.remove(track.id)
                at = permutation.index(self._anchor) + 1 if self._anchor in permutation else 0
                permutation.insert(at, track.id)
                self._built_from = ()
            self._anchor, self._from_queue = track.id, None
            if track.id in self._up_next:  # played now, out of turn: only it leaves
                self._up_next.remove(track.id)

    def set_repeat(self, mode: str) -> None:
        if mode not in REPEAT_MODES:
            raise TierplayError(f"unknown repeat mode {mode!r}; use off, all or one")
        with self._lock:
            self._repeat = mode

    def set_shuffle(self, on: bool, seed: int | None = None) -> None:
        """A new permutation each time shuffle is turned on, starting after the track
        heard; `seed` makes it the same again (a replayed session)."""
        with self._lock:
            if seed is not None:
                self._random.seed(seed)
            self._shuffle = bool(on)
            self._permutation = []
            self._built_from = ()

    def set_scope(self, scope: str, track: Track) -> None:
        """Play only `track`'s album or folder (or the whole library again)."""
        if scope not in SCOPES:
            raise TierplayError(f"unknown scope {scope!r}; use library, album or folder")
        with self._lock:
            self._scope = scope
            self._scope_track = None if scope == "library" else track.id
            self._permutation = []
            self._built_from = ()
            self._anchor, self._from_queue = track.id, None

    def order(self, limit: int | None = None) -> list[Track]:
        """The order as it stands (shuffled when shuffling), the first `limit` tracks."""
        with self._lock:
            self._refresh()
            return [self._by_id[i] for i in self._order[:limit]]

    # -- the queue ----------------------------------------------------------------------------
    def up_next(self) -> list[Track]:
        with self._lock:
            self._refresh()
            return [self._by_id[i] for i in self._up_next]

    def enqueue(self, track: Track, next: bool = False) -> None:
        """Queue `track` to play after the queue (`next`: before it). A track is queued
        once: queuing it again moves it."""
        with self._lock:
            self._refresh()
            if track.id not in self._by_id:
                raise TierplayError(f"no track {track.id!r} in the library")
            if track.id in self._up_next:
                self._up_next.remove(track.id)
            elif len(self._up_next) >= MAX_UP_NEXT:
                raise TierplayError(f"the queue holds {MAX_UP_NEXT} tracks already")
            self._up_next.insert(0 if next else len(self._up_next), track.id)

    def enqueue_many(self, tracks: Sequence[Track]) -> None:
        for track in tracks:
            self.enqueue(track)

    def remove(self, position: int) -> Track:
        with self._lock:
            self._refresh()
            self._check_position(position)
            return self._by_id[self._up_next.pop(position)]

    def move(self, position: int, delta: int) -> int:
        """Move the queued track at `position` by `delta` places; returns where it is now."""
        with self._lock:
            self._refresh()
            self._check_position(position)
            target = max(0, min(len(self._up_next) - 1, position + delta))
            self._up_next.insert(target, self._up_next.pop(position))
            return target

    def _check_position(self, position: int) -> None:
        if not 0 <= position < len(self._up_next):
            count = len(self._up_next)
            raise TierplayError(f"no place {position} in the queue of {count} tracks")

    # -- under the lock ---------------------------------------------------------------------------
    def _walk(self, start: str, repeat: str) -> Iterator[str]:
        """The tracks that play after `start`, in turn, as if each were heard: the rest of
        the queue, then the order after the track it was queued from (repeat one aside)."""
        if start in self._up_next:
            rest = self._up_next[self._up_next.index(start) + 1 :]
            anchor = self._anchor
        else:
            rest = list(self._up_next)
            queued = start == self._from_queue or start not in self._places
            anchor = self._anchor if queued else start
        yield from rest
        while (anchor := self._after_in_order(anchor, repeat)) is not None:
            yield anchor

    def _after_in_order(self, current: str | None, repeat: str) -> str | None:
        order = self._order
        if not order:
            return None
        if current is None or current not in self._places:
            return order[0]
        place = self._places[current] + 1
        if place < len(order):
            return order[place]
        return order[0] if repeat != "off" else None

    def _before_id(self, current: str) -> str | None:
        order = self._order
        if not order:
            return None
        queued = current in self._up_next or current == self._from_queue
        base = self._anchor if queued or current not in self._places else current
        if base is None or base not in self._places:
            return order[-1]
        return order[self._places[base] - 1]  # -1 wraps to the last

    def _track(self, track_id: str | None) -> Track | None:
        return self._by_id.get(track_id) if track_id is not None else None

    def _scope_ids(self, scope: str, track_id: str | None) -> list[str]:
        tracks = self._library
        anchor = self._by_id.get(track_id) if track_id is not None else None
        if scope == "library" or anchor is None:
            return [t.id for t in tracks]
        key: Callable[[Track], tuple[str, ...]] = album_of if scope == "album" else folder_of
        wanted = key(anchor)
        return [t.id for t in tracks if key(t) == wanted]

    def _refresh(self) -> None:
        """Rebuild the order when the library, the scope or the shuffle changed."""
        version = self._playlist.version
        inputs = (version, self._scope, self._scope_track, self._shuffle)
        if inputs == self._built_from:
            return
        if version != (self._built_from[0] if self._built_from else None):
            self._library = self._playlist.tracks()
            self._by_id = {t.id: t for t in self._library}
            self._up_next = [i for i in self._up_next if i in self._by_id]
        ids = self._scope_ids(self._scope, self._scope_track)
        if self._shuffle:
            ids = self._shuffled(ids)
        self._order = ids
        self._places = {track_id: place for place, track_id in enumerate(ids)}
        self._built_from = inputs

    def _shuffled(self, ids: list[str]) -> list[str]:
        """The permutation kept, with tracks no longer in the order dropped and new ones
        put at random places after the track heard; a new one starts with that track."""
        wanted = set(ids)
        kept = [i for i in self._permutation if i in wanted]
        if not kept:
            rest = [i for i in ids if i != self._heard]
            self._random.shuffle(rest)
            kept = [self._heard, *rest] if self._heard in wanted else rest
        else:
            present = set(kept)
            start = kept.index(self._heard) + 1 if self._heard in present else 0
            for new in (i for i in ids if i not in present):
                kept.insert(self._random.randint(start, len(kept)), new)
        self._permutation = kept
        return list(kept)
