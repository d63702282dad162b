"""The queue through the engine: the order played, the queue before it, repeat, the end of
the library, m3u playlists, and the queue and modes a next session resumes with."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from engine import PRESET_ORDER, Engine, EngineConfig
from engine.errors import TierplayError
from engine.observe.memory import MemoryReading
from engine.persist.trace import read_trace
from engine.playback.sinks.output import NullSink
from engine.sim.replay import dispatch
from tests.helpers.audio_files import write_tone
from tests.helpers.polling import wait_for as poll_until

RATE = 44_100
SPEED = 8.0
wait_for = partial(poll_until, timeout=60.0)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    music = tmp_path / "music"
    music.mkdir()
    for number, name in enumerate("abcd"):
        write_tone(music / f"{name}.wav", seconds=2.0, frequency=300.0 + 100 * number)
    return music


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(tmp_path / "state")
    yield made
    made.close()


def make_engine(state_dir: Path) -> Engine:
    return Engine(
        EngineConfig(state_dir=state_dir, cache_dir=state_dir / "cache"),
        sink=NullSink(RATE, 1024, speed=SPEED, ring_frames=4 * RATE),
        interaction_clock=lambda: time.monotonic() * SPEED,
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )


def heard(engine: Engine) -> list[str]:
    """The titles the event log says began to play, in order."""
    return [
        line.split("“", 1)[1].rstrip("”")
        for line in engine.snapshot().messages
        if line.startswith(("now playing “", "playing “", "skipped to “", "playing the "))
    ]


def ids(engine: Engine) -> dict[str, str]:
    return {track.title: track.id for track in engine.tracks()}


def test_the_library_plays_to_its_end_and_play_starts_it_again(
    engine: Engine, folder: Path
) -> None:
    engine.open([folder])
    assert not engine.snapshot().ended, "paused at the start, not at the end"
    engine.play()
    wait_for(lambda: heard(engine) == ["b", "c", "d"] and not engine.snapshot().playing)
    assert engine.snapshot().ended
    engine.play()
    wait_for(lambda: engine.snapshot().playing)
    assert not engine.snapshot().ended
    track, _position = engine.player.position()
    assert track is not None and track.title == "a", "from the top, not silence at the end"


def test_a_queued_track_plays_next_then_the_order_goes_on(engine: Engine, folder: Path) -> None:
    engine.open([folder])
    titles = ids(engine)
    engine.enqueue(titles["d"])
    engine.enqueue(titles["c"], next=True)
    assert [t.title for t in engine.queue().up_next] == ["c", "d"]
    engine.play()
    wait_for(lambda: heard(engine)[:3] == ["c", "d", "b"])
    assert engine.queue().up_next == []


def test_repeat_one_plays_the_track_again_and_next_moves_on(engine: Engine, folder: Path) -> None:
    engine.open([folder])
    engine.set_repeat("one")
    engine.play()
    wait_for(lambda: engine.player.position()[1] > 1.0)
    wait_for(lambda: engine.player.position()[1] < 0.5)  # round again
    track, _position = engine.player.position()
    assert track is not None and track.title == "a"
    engine.next_track()
    wait_for(lambda: heard(engine)[-1:] == ["b"])


def test_repeat_all_goes_round_and_stop_at_the_end_is_off(engine: Engine, folder: Path) -> None:
    engine.open([folder])
    engine.set_repeat("all")
    engine.play_track(ids(engine)["d"])
    wait_for(lambda: heard(engine)[-2:] == ["d", "a"])
    assert engine.snapshot().playing


def test_an_album_plays_alone_from_its_first_track(engine: Engine, tmp_path: Path) -> None:
    for album in ("one", "two"):
        (tmp_path / album).mkdir()
        for name in ("x", "y"):
            write_tone(tmp_path / album / f"{album}-{name}.wav", seconds=2.0)
    engine.open([tmp_path / "one", tmp_path / "two"])
    engine.play_scope(ids(engine)["two-y"], "folder")
    wait_for(lambda: heard(engine) == ["two-x", "two-y"] and not engine.snapshot().playing)
    assert engine.snapshot().scope == "folder"


def test_the_queue_and_modes_come_back_in_the_next_session(tmp_path: Path, folder: Path) -> None:
    first = make_engine(tmp_path / "state")
    try:
        first.open([folder])
        titles = ids(first)
        first.set_repeat("all")
        first.set_shuffle(True, seed=5)
        first.enqueue(titles["c"])
        first.enqueue(titles["b"])
    finally:
        first.close()
    second = make_engine(tmp_path / "state")
    try:
        second.open([folder])
        view = second.queue()
        assert (view.repeat, view.shuffle) == ("all", True)
        assert [t.title for t in view.up_next] == ["c", "b"]
    finally:
        second.close()


def test_a_playlist_is_saved_relative_and_queued_back(engine: Engine, folder: Path) -> None:
    engine.open([folder])
    titles = ids(engine)
    engine.enqueue(titles["c"])
    engine.enqueue(titles["b"])
    playlist = folder.parent / "lists" / "mix.m3u8"
    playlist.parent.mkdir()
    assert engine.save_playlist(playlist) == 3  # the playing track, then the queue
    lines = [line for line in playlist.read_text().splitlines() if not line.startswith("#")]
    assert lines == ["../music/a.wav", "../music/c.wav", "../music/b.wav"]
    engine.dequeue(0)
    engine.dequeue(0)
    assert engine.load_playlist(playlist) == 3
    assert [t.title for t in engine.queue().up_next] == ["a", "c", "b"]
    with pytest.raises(TierplayError, match="no such file"):
        engine.save_playlist(folder / "missing" / "x.m3u8")


def test_the_track_stood_at_is_known_before_the_loop_ticks(engine: Engine, folder: Path) -> None:
    """Queued while paused at the library's first track, that track stays queued to play
    again, whenever the upkeep loop's next tick comes."""
    engine.open([folder])
    engine.enqueue(ids(engine)["a"])
    engine._parts.transport.follow_track()  # the loop's tick, late on a busy machine
    assert [t.title for t in engine.queue().up_next] == ["a"]


def test_a_playlist_opened_plays_in_its_order_and_says_what_it_lacks(
    engine: Engine, folder: Path
) -> None:
    playlist = folder / "list.m3u"
    playlist.write_text("#EXTM3U\nd.wav\nhttp://radio.example/stream\nnone.wav\nb.wav\n")
    tracks = engine.open([playlist])
    assert [t.title for t in tracks] == ["d", "b"]
    reasons = [entry.message for entry in engine.errors.entries()]
    assert any("streams are not played" in reason for reason in reasons)
    assert any("list.m3u (line 4) but not found" in reason for reason in reasons)


def test_a_recorded_session_replays_the_same_queue_and_modes(
    tmp_path: Path, engine: Engine, folder: Path
) -> None:
    trace_path = tmp_path / "session.jsonl"
    engine.record_to(trace_path, library_root=folder.parent)
    engine.open([folder])
    titles = ids(engine)
    engine.set_repeat("all")
    engine.set_shuffle(True)
    engine.enqueue(titles["d"])
    engine.enqueue(titles["b"], next=True)
    engine.enqueue(titles["c"])
    engine.move_queued(2, -1)
    engine.dequeue(0)
    engine.stop_recording()
    recorded = engine.queue()

    events = [event.event for event in read_trace(trace_path)]
    queue_events = ["repeat", "shuffle", "enqueue", "enqueue", "enqueue", "move", "dequeue"]
    assert events[-8:] == [*queue_events, "end"]
    replayed = make_engine(tmp_path / "replay-state")
    try:
        for event in read_trace(trace_path):
            if event.event != "end":
                dispatch(replayed, event, folder.parent)
        again = replayed.queue()
        assert [t.title for t in again.up_next] == [t.title for t in recorded.up_next]
        assert [t.title for t in again.then] == [t.title for t in recorded.then], "same shuffle"
    finally:
        replayed.close()


def test_the_queued_track_is_the_one_prepared_next(engine: Engine, tmp_path: Path) -> None:
    """Its first chunk is rendered while the track before it plays, whatever the mode."""
    music = tmp_path / "long"
    music.mkdir()
    for name in "abcd":
        write_tone(music / f"{name}.wav", seconds=30.0)
    engine.open([music])
    titles = ids(engine)
    # A rendered preset: the next track's first chunk is then the current preset's, planned
    # for any listener (the original is never rendered, and a listener who does not switch
    # soon gets no switch targets rendered, the next track's included).
    engine.set_preset("warm")
    engine.enqueue(titles["d"])
    engine.play()

    def ready(title: str) -> bool:
        return any(engine.check(titles[title], p, 0)["is_cached"] for p in PRESET_ORDER)

    wait_for(lambda: ready("d"))
    engine.dequeue(0)
    engine.set_shuffle(True, seed=3)
    after = engine.queue(following=1).then[0]
    wait_for(lambda: ready(after.title))


def told(engine: Engine, opening: str) -> list[str]:
    return [line for line in engine.snapshot().messages if line.startswith(opening)]


def test_a_track_change_is_told_as_a_track_start_not_a_seek(engine: Engine, folder: Path) -> None:
    """The event log says where a skipped-to track's first audio came from as its start:
    playing the original, the file itself, with nothing to render."""
    engine.open([folder])
    engine.set_preset("original")
    engine.play()
    wait_for(lambda: engine.snapshot().playing)
    engine.next_track()
    wait_for(lambda: len(told(engine, "track start")) == 1)
    assert told(engine, "track start")[0].startswith("track start (the original, nothing to ")
    assert told(engine, "seek to") == []
    assert [seek.tier for seek in engine.seeks()] == ["source"]
