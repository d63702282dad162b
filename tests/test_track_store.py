"""The track store: a streaming source per known track, never a changed file, and it lets
go of the tracks a new playlist no longer holds (and of their decoded blocks)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.library.decoders.pool import IDLE_READERS
from engine.library.scan import probe
from engine.library.track_store import TrackStore
from engine.library.tracks import Track
from tests.helpers.audio_files import write_tone

RATE = 44_100


def tracks_in(folder: Path, count: int) -> list[Track]:
    folder.mkdir()
    return [probe(write_tone(folder / f"{n}.wav", seconds=0.2), RATE) for n in range(count)]


def test_each_track_keeps_one_source(tmp_path: Path) -> None:
    tracks = tracks_in(tmp_path / "a", 2)
    store = TrackStore(RATE)
    store.set_library(tracks)
    assert store.get(tracks[0]) is store.get(tracks[0])
    store.set_library(tracks)  # the same playlist again keeps what the sources learnt
    assert store.get(tracks[0]) is store.resolve(tracks[0].id, tracks[0].fingerprint)


def test_a_new_library_lets_go_of_the_tracks_that_left(tmp_path: Path) -> None:
    old = tracks_in(tmp_path / "old", 2)
    new = tracks_in(tmp_path / "new", 2)
    store = TrackStore(RATE)
    store.set_library(old)
    store.get(old[0]).read(0, 100)
    assert store.blocks.size_bytes > 0
    store.set_library([old[1], *new])
    assert store.blocks.size_bytes == 0 and store.track(old[0].id) is None
    assert store.resolve(old[0].id, old[0].fingerprint) is None  # a stale render job
    assert store.resolve(new[0].id, new[0].fingerprint) is not None


def test_a_changed_file_is_not_served(tmp_path: Path) -> None:
    (track,) = tracks_in(tmp_path / "a", 1)
    store = TrackStore(RATE)
    store.set_library([track])
    assert store.resolve(track.id, "an older fingerprint") is None
    assert store.resolve(track.id, track.fingerprint) is not None


def test_decoded_blocks_stay_within_their_budget(tmp_path: Path) -> None:
    (track,) = tracks_in(tmp_path / "a", 1)
    store = TrackStore(RATE, cache_bytes=20_000)
    store.set_library([track])
    source = store.get(track)
    for start in range(0, source.frames, 1_000):
        source.read(start, start + 1_000)
        assert store.blocks.size_bytes <= 20_000


def open_files_under(folder: Path) -> list[str]:
    """Files of `folder` this process holds open (its descriptors, as the system has them)."""
    held = []
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held


def test_a_long_session_keeps_only_a_few_files_open(tmp_path: Path) -> None:
    """Readers stay open between reads (an MP3's seek index is built once per open), but
    only the last few used: a library played through does not pile up open files."""
    tracks = tracks_in(tmp_path / "a", 12)
    store = TrackStore(RATE, cache_bytes=0)
    store.set_library(tracks)
    for track in tracks:
        source = store.get(track)
        source.read(0, 1000)
        source.read(2000, 3000)  # the same reader, given back and borrowed again
    held = open_files_under(tmp_path)
    assert len(held) == IDLE_READERS
    assert len(set(held)) == len(held)  # one reader per track at most
    last = tracks[-1]
    store.forget(last.id)
    assert str(last.path) not in open_files_under(tmp_path)
    store.set_library(tracks[:2])
    assert open_files_under(tmp_path) == []
