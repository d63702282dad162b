"""The opened folders followed on disk: a file added joins the library in its place, a
file removed leaves it, a file changed is read again; the index keeps up and the queue
is left as the listener made it (engine/library/folder_watch.py)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import watchfiles
from mediafile import MediaFile

from engine import Engine, EngineConfig
from engine.library.tracks import fingerprint_file
from engine.observe.memory import MemoryReading
from engine.playback.sinks.output import NullSink
from tests.helpers.audio_files import write_tone
from tests.helpers.polling import wait_for as poll_until

wait_for = partial(poll_until, timeout=30.0)


def tagged(path: Path, number: int, title: str) -> Path:
    write_tone(path, seconds=1.0, frequency=300.0 + 40 * number)
    tags = MediaFile(str(path))
    tags.artist, tags.album, tags.track, tags.title = "Nadia", "Dawn", number, title
    tags.save()
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    music = tmp_path / "music"
    music.mkdir()
    tagged(music / "a.flac", 1, "One")
    tagged(music / "c.flac", 3, "Three")
    return music


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    config = EngineConfig(
        state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", library_watch_debounce_ms=50
    )
    made = Engine(
        config,
        sink=NullSink(44_100, 1024, speed=1.0),
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )
    yield made
    made.close()


def titles(engine: Engine) -> list[str]:
    return [track.title for track in engine.tracks()]


def test_a_file_added_joins_in_its_place_and_one_removed_leaves(
    engine: Engine, folder: Path, tmp_path: Path
) -> None:
    engine.open([folder])
    engine.enqueue(engine.tracks()[1].id)
    time.sleep(0.3)  # the watch is up
    staged = tagged(tmp_path / "b.flac", 2, "Two")
    shutil.move(staged, folder / "b.flac")  # as a file manager or a download lands it
    wait_for(lambda: titles(engine) == ["One", "Two", "Three"])
    assert any("1 track added on disk" in line for line in engine.snapshot().messages)

    (folder / "c.flac").unlink()
    wait_for(lambda: titles(engine) == ["One", "Two"])
    assert engine.queue().up_next == [], "a queued track whose file went leaves the queue"
    index = sqlite_paths(tmp_path / "cache")
    assert str(folder / "b.flac") in index and str(folder / "c.flac") not in index


def test_a_file_changed_is_read_again_and_a_bad_one_is_told(engine: Engine, folder: Path) -> None:
    engine.open([folder])
    time.sleep(0.3)
    tags = MediaFile(str(folder / "c.flac"))
    tags.title = "Three, remastered"
    tags.save()
    wait_for(lambda: "Three, remastered" in titles(engine))
    (folder / "notes.mp3").write_text("not audio")
    wait_for(lambda: any("notes.mp3" in e.message for e in engine.errors.entries()))
    assert len(engine.tracks()) == 2


def test_only_folders_are_followed_and_a_new_library_replaces_them(
    engine: Engine, folder: Path, tmp_path: Path
) -> None:
    engine.open([folder / "a.flac"])
    assert engine._parts.library_watch._thread is None
    other = tmp_path / "other"
    other.mkdir()
    tagged(other / "x.flac", 1, "Ex")
    engine.open([other])
    time.sleep(0.3)
    tagged(folder / "b.flac", 2, "Two")  # the old folder: not followed now
    tagged(other / "y.flac", 2, "Why")
    wait_for(lambda: titles(engine) == ["Ex", "Why"])


def sqlite_paths(cache: Path) -> set[str]:
    (database,) = [p for p in cache.iterdir() if p.suffix == ".sqlite"]
    with sqlite3.connect(database) as connection:
        return {os.path.normpath(row[0]) for row in connection.execute("SELECT path FROM files")}


def test_a_file_only_read_is_not_a_change(engine: Engine, folder: Path) -> None:
    """Reading a file moves its access time, which inotify reports as a change of its
    metadata: that must not drop a track's renders (they would be rendered again, and a
    source forgotten under the feeder plays as silence)."""
    path = tagged(folder / "d.flac", 4, "Four")  # neither playing nor next
    engine.open([folder])
    watch = engine._parts.library_watch
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns + 10**9, stat.st_mtime_ns))
    watch._batches.put({(watchfiles.Change.modified, str(path))})
    watch.apply(engine.player)
    assert not any("changed on disk" in line for line in engine.snapshot().messages)
    listed = engine.tracks()[2]
    assert listed.path == path
    assert listed.fingerprint == fingerprint_file(path)
    tags = MediaFile(str(path))
    tags.title = "Four, again"
    tags.save()  # a real change, for contrast
    watch._batches.put({(watchfiles.Change.modified, str(path))})
    watch.apply(engine.player)
    assert any("d.flac changed on disk" in line for line in engine.snapshot().messages)
