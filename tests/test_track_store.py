"""The decoded-track store: bounded, decodes once, never serves a changed file, and lets go
of the tracks a new playlist no longer holds."""

from __future__ import annotations

from pathlib import Path

from engine.library import probe
from engine.track_store import TrackStore
from engine.tracks import Track

from .conftest import write_tone

RATE = 44_100


def tracks_in(folder: Path, count: int) -> list[Track]:
    folder.mkdir()
    return [probe(write_tone(folder / f"{n}.wav", seconds=0.2), RATE) for n in range(count)]


def test_only_the_most_recent_decoded_tracks_are_kept(tmp_path: Path) -> None:
    tracks = tracks_in(tmp_path / "a", 5)
    store = TrackStore(RATE, 60.0, keep=2)
    store.set_library(tracks)
    for track in tracks:
        store.get(track)
    assert [store.peek(t) is not None for t in tracks] == [False, False, False, True, True]
    assert store.get(tracks[4]) is store.get(tracks[4])  # decoded once


def test_a_new_library_lets_go_of_the_tracks_that_left(tmp_path: Path) -> None:
    old = tracks_in(tmp_path / "old", 2)
    new = tracks_in(tmp_path / "new", 2)
    store = TrackStore(RATE, 60.0)
    store.set_library(old)
    store.get(old[0])
    store.set_library([old[1], *new])
    assert store.peek(old[0]) is None and store.track(old[0].id) is None
    assert store.resolve(old[0].id, old[0].fingerprint) is None  # a stale render job
    assert store.resolve(new[0].id, new[0].fingerprint) is not None


def test_a_changed_file_is_not_served(tmp_path: Path) -> None:
    (track,) = tracks_in(tmp_path / "a", 1)
    store = TrackStore(RATE, 60.0)
    store.set_library([track])
    assert store.resolve(track.id, "an older fingerprint") is None
    assert store.resolve(track.id, track.fingerprint) is not None
