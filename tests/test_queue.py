"""The play order: the library's, an album's or a folder's, shuffled or not, the tracks
queued before it, and repeat (engine/playback/queue.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import TierplayError
from engine.library.playlist import Playlist
from engine.library.tags import Tags
from engine.library.tracks import Track
from engine.playback.queue import PlayQueue, QueueState


def track(name: str, album: str = "", folder: str = "music", number: int | None = None) -> Track:
    tags = Tags(title=name, artist="Band" if album else "", album=album, track_number=number)
    path = Path(folder) / f"{name}.flac"
    return Track(name, path, 60.0, 44_100, 2, 60 * 44_100, name, name, tags.artist, tags=tags)


def library(*tracks: Track) -> tuple[Playlist, PlayQueue]:
    playlist = Playlist()
    playlist.set(list(tracks))
    queue = PlayQueue(playlist, seed=1)
    queue.reset()
    return playlist, queue


def walk(queue: PlayQueue, start: Track, count: int) -> list[str]:
    """The ids that play from `start` on, each heard in turn (at most `count`)."""
    played = [start.id]
    queue.heard(start)
    current: Track | None = start
    while len(played) < count:
        current = queue.following(current)
        if current is None:
            break
        queue.heard(current)
        played.append(current.id)
    return played


A, B, C, D = (track(n) for n in "abcd")


def test_the_library_plays_in_order_and_stops_after_the_last() -> None:
    _playlist, queue = library(A, B, C, D)
    assert walk(queue, A, 10) == ["a", "b", "c", "d"]
    assert queue.first() is A


def test_repeat_all_plays_the_order_again_and_repeat_one_the_track() -> None:
    _playlist, queue = library(A, B, C)
    queue.set_repeat("all")
    assert walk(queue, A, 7) == ["a", "b", "c", "a", "b", "c", "a"]
    queue.set_repeat("one")
    assert walk(queue, B, 3) == ["b", "b", "b"]
    assert queue.step(B, 1) is C, "next goes on even when repeat holds the track"
    assert queue.neighbours(B)[0] is C, "what next skips to is pre-rendered"
    with pytest.raises(TierplayError, match="off, all or one"):
        queue.set_repeat("twice")


def test_next_and_previous_wrap_at_the_ends() -> None:
    _playlist, queue = library(A, B, C)
    assert queue.step(C, 1) is A
    assert queue.step(A, -1) is C
    assert queue.step(A, 2) is C


def test_queued_tracks_play_first_each_once_then_the_order_goes_on() -> None:
    _playlist, queue = library(A, B, C, D)
    queue.heard(A)
    queue.enqueue(D)
    queue.enqueue(C, next=True)  # before D
    assert [t.id for t in queue.up_next()] == ["c", "d"]
    assert queue.following(A) is C
    assert queue.following(A) is C, "asking again (a cut before the end) gives the same"
    queue.heard(C)
    assert [t.id for t in queue.up_next()] == ["d"], "a queued track leaves once heard"
    queue.heard(D)
    assert queue.up_next() == []
    assert queue.following(D) is B, "the order goes on after the last track it played"


def test_the_queue_is_edited_by_place() -> None:
    _playlist, queue = library(A, B, C, D)
    for item in (B, C, D):
        queue.enqueue(item)
    queue.enqueue(B)  # again: moved to the end, never twice
    assert [t.id for t in queue.up_next()] == ["c", "d", "b"]
    assert queue.move(2, -5) == 0
    assert [t.id for t in queue.up_next()] == ["b", "c", "d"]
    assert queue.remove(1) is C
    assert [t.id for t in queue.up_next()] == ["b", "d"]
    with pytest.raises(TierplayError, match="no place 5"):
        queue.remove(5)


def test_an_album_or_a_folder_plays_alone() -> None:
    one = [track(f"x{i}", album="X", folder="x") for i in range(3)]
    two = [track(f"y{i}", album="Y", folder="x") for i in range(2)]
    _playlist, queue = library(*one, *two)
    queue.set_scope("album", one[1])
    assert [t.id for t in queue.order()] == ["x0", "x1", "x2"]
    assert walk(queue, one[0], 9) == ["x0", "x1", "x2"]
    queue.set_scope("folder", one[1])
    assert len(queue.order()) == 5
    queue.set_scope("library", one[1])
    assert queue.scope == "library"


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=30),
    seed=st.integers(min_value=0, max_value=2**31),
    rounds=st.integers(min_value=1, max_value=3),
)
def test_shuffle_plays_every_track_once_before_any_again(
    count: int, seed: int, rounds: int
) -> None:
    tracks = [track(f"t{i}") for i in range(count)]
    _playlist, queue = library(*tracks)
    queue.set_repeat("all")
    queue.heard(tracks[0])
    queue.set_shuffle(True, seed)
    played = walk(queue, tracks[0], count * rounds)
    for start in range(0, len(played), count):
        assert sorted(played[start : start + count]) == sorted(t.id for t in tracks)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31), pick=st.integers(min_value=0, max_value=9))
def test_a_track_chosen_in_shuffle_takes_its_turn_and_no_other_is_lost(
    seed: int, pick: int
) -> None:
    tracks = [track(f"t{i}") for i in range(10)]
    _playlist, queue = library(*tracks)
    queue.set_shuffle(True, seed)
    first = queue.first()
    assert first is not None
    queue.heard(first)
    second = queue.following(first)
    assert second is not None
    queue.heard(second)
    chosen = tracks[pick]
    queue.chose(chosen)
    played = [first.id, second.id, *walk(queue, chosen, 10)]
    assert sorted(set(played)) == sorted(t.id for t in tracks), "every track still plays"
    if chosen not in (first, second):
        assert len(played) == 10 and played[2] == chosen.id, "and each once"


def test_neighbours_are_the_next_two_and_the_previous() -> None:
    _playlist, queue = library(A, B, C, D)
    assert queue.neighbours(B) == [C, D, A]
    queue.enqueue(D)
    assert queue.neighbours(B) == [D, C, A], "the queued track is the real next one"


def test_state_comes_back_with_tracks_that_are_still_there() -> None:
    playlist, queue = library(A, B, C)
    queue.set_repeat("all")
    queue.set_shuffle(True, 3)
    queue.enqueue(C)
    queue.enqueue(B)
    state = queue.state()
    assert state == QueueState("all", True, "library", None, ("c", "b"))
    playlist.set([A, B])  # c is gone
    fresh = PlayQueue(playlist, seed=2)
    fresh.reset(state)
    assert fresh.state() == QueueState("all", True, "library", None, ("b",))
    fresh.reset(QueueState(repeat="sometimes", scope="album", scope_track="gone"))
    assert fresh.state() == QueueState()


def test_the_view_shows_the_queue_then_what_follows() -> None:
    _playlist, queue = library(A, B, C, D)
    queue.heard(A)
    queue.enqueue(D)
    view = queue.view(A, following=5)
    assert view.up_next == [D]
    assert view.then == [B, C, D], "the order after the queue (D in it too), not A again"
