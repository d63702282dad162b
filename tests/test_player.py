"""Playback through the engine on a hand-stepped null sink: exact frames, transport, skips."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import Engine, EngineConfig
from engine.cache.keys import ChunkKey
from engine.dsp import crossfade
from engine.dsp.render import Renderer
from engine.errors import TierplayError
from engine.library.tracks import Track, load_track
from engine.playback import player as player_module
from engine.playback.player import Player
from engine.playback.ring_layout import LAST_CALLBACK_NS
from engine.playback.sinks.output import NullSink
from tests.helpers.audio_files import SAMPLE_AUDIO
from tests.helpers.polling import wait_for as poll_until

wait_until = partial(poll_until, timeout=5.0)


@pytest.fixture
def stepped_engine() -> Iterator[tuple[Engine, NullSink]]:
    sink = NullSink(44_100, 1024, speed=0)
    engine = Engine(EngineConfig(), sink=sink)
    yield engine, sink
    engine.close()


def capture(sink: NullSink, frames: int) -> np.ndarray:
    """Consume `frames` from the ring, returning what a device would have played."""
    out = np.zeros((frames, 2), dtype=np.float32)
    done = 0
    while done < frames:
        step = min(1024, frames - done)
        wait_until(lambda step=step: sink.ring.queued_frames() >= step)
        sink.play_into(out[done : done + step])
        done += step
    return out


def test_open_skips_garbage_with_a_reason(stepped_engine, tone_library: Path) -> None:
    engine, _sink = stepped_engine
    tracks = engine.open([tone_library])
    assert [t.path.name for t in tracks] == ["a.wav", "b.flac", "c.wav"]
    skipped = engine.snapshot().skipped
    assert [s.path.name for s in skipped] == ["d.wav"]
    assert "not a readable audio file" in skipped[0].reason


def test_plays_exact_frames_and_reports_position(stepped_engine, tone_library: Path) -> None:
    engine, sink = stepped_engine
    tracks = engine.open([tone_library])
    engine.play()
    played = capture(sink, 44_100)
    expected = load_track(tracks[0].path, 44_100).samples[:44_100]
    fade = 441  # 10 ms fade-in: starting never clicks
    np.testing.assert_array_equal(played[fade:], expected[fade:])
    gain = np.abs(played[1:fade, 0]) / np.maximum(np.abs(expected[1:fade, 0]), 1e-9)
    assert np.all(gain <= 1.0 + 1e-6) and np.all(np.diff(gain[gain > 0]) >= -1e-6)
    snap = engine.snapshot()
    assert snap.track == tracks[0]
    assert snap.position_seconds == pytest.approx(1.0, abs=1e-6)
    assert snap.underruns == 0


def test_seek_next_prev_and_pause(stepped_engine, tone_library: Path) -> None:
    engine, sink = stepped_engine
    tracks = engine.open([tone_library])
    engine.play()
    engine.seek(2.0)
    capture(sink, 4410)
    assert engine.snapshot().position_seconds == pytest.approx(2.1, abs=1e-3)
    engine.next_track()
    capture(sink, 1024)
    assert engine.snapshot().track == tracks[1]
    engine.prev_track()
    engine.prev_track()
    capture(sink, 1024)
    assert engine.snapshot().track == tracks[2]  # wraps around
    engine.pause()
    assert not engine.snapshot().playing
    sink.advance(4096)  # silence while paused is not an underrun
    assert engine.snapshot().underruns == 0


def test_play_track_starts_the_chosen_track_and_playback(
    stepped_engine, tone_library: Path
) -> None:
    engine, sink = stepped_engine
    tracks = engine.open([tone_library])
    engine.play_track(tracks[2].id)  # paused: the choice starts playback
    capture(sink, 1024)
    snap = engine.snapshot()
    assert snap.playing and snap.track == tracks[2]
    assert snap.position_seconds == pytest.approx(1024 / 44_100, abs=1e-6)
    engine.seek(1.0)
    engine.play_track(tracks[1].id)  # while playing: from the start of the chosen track
    capture(sink, 2048)
    assert engine.snapshot().track == tracks[1]
    assert engine.snapshot().position_seconds < 0.1
    with pytest.raises(TierplayError, match="no track"):
        engine.play_track("not-a-track")


def test_gapless_advance_and_end_of_library(stepped_engine, tone_library: Path) -> None:
    engine, sink = stepped_engine
    tracks = engine.open([tone_library])
    engine.play()
    total = sum(load_track(t.path, 44_100).samples.shape[0] for t in tracks)
    played = capture(sink, total)
    expected = np.concatenate([load_track(t.path, 44_100).samples for t in tracks])
    # After the start's fade-in: frame for frame, the 48 kHz tone to float rounding (its
    # windows are resampled one by one, the reference whole), the others bit for bit.
    np.testing.assert_allclose(played[441:], expected[441:], rtol=0, atol=6e-8)
    start = 0
    for track in tracks:
        stop = start + track.frames
        if track.native_rate == 44_100:
            first = max(start, 441)
            np.testing.assert_array_equal(played[first:stop], expected[first:stop])
        start = stop
    wait_until(lambda: not engine.snapshot().playing)
    sink.advance(8192)
    assert engine.snapshot().underruns == 0


def test_a_recording_split_into_tracks_plays_back_as_the_unsplit_original(
    stepped_engine, tmp_path: Path
) -> None:
    """Gapless: one continuous recording (a sweep over noise) cut into three files at
    frames no block boundary meets plays back sample for sample as the whole."""
    rate = 44_100
    rng = np.random.default_rng(5)
    t = np.arange(3 * rate) / rate
    sweep = 0.4 * np.sin(2 * np.pi * (100 * t + 400 * t**2))
    whole = np.stack([sweep, sweep[::-1]], axis=1) + 0.05 * rng.standard_normal((3 * rate, 2))
    cuts = [0, rate + 123, 2 * rate + 777, 3 * rate]
    folder = tmp_path / "album"
    folder.mkdir()
    for number, (start, stop) in enumerate(itertools.pairwise(cuts), start=1):
        sf.write(folder / f"{number:02d}.flac", whole[start:stop], rate, subtype="PCM_16")
    original = tmp_path / "whole.flac"
    sf.write(original, whole, rate, subtype="PCM_16")
    expected = load_track(original, rate).samples
    engine, sink = stepped_engine
    engine.open([folder])
    engine.play()
    played = capture(sink, expected.shape[0])
    fade = 441  # the start's fade-in
    for boundary in cuts[1:-1]:
        around = slice(boundary - 2048, boundary + 2048)
        assert np.max(np.abs(played[around] - expected[around])) == 0.0
    np.testing.assert_array_equal(played[fade:], expected[fade:])


def test_volume_is_ramped_not_stepped(stepped_engine, tone_library: Path) -> None:
    engine, sink = stepped_engine
    engine.open([tone_library])
    engine.set_volume(0.5)
    engine.play()
    played = capture(sink, 8192)
    expected = load_track(tone_library / "a.wav", 44_100).samples[:8192] * 0.5
    np.testing.assert_allclose(played[2048:], expected[2048:], atol=1e-6)


def test_unknown_preset_is_a_clear_error(stepped_engine) -> None:
    engine, _sink = stepped_engine
    with pytest.raises(Exception, match="unknown preset 'loud'"):
        engine.set_preset("loud")


def test_a_track_not_yet_calibrated_plays_its_source_then_the_render(
    stepped_engine, tone_library: Path
) -> None:
    """A skip into a track whose presets are still being calibrated never stalls the
    feeder into a dropout: the source stands in, and the render takes over when ready."""
    engine, sink = stepped_engine
    tracks = engine.open([tone_library])
    engine.set_preset("warm")
    assert engine.wait_until_prepared(30)
    engine.play()
    capture(sink, 44_100)  # warm is playing on the first track
    engine.workers.pause()  # nothing but urgent renders: the next track stays unprepared
    wait_until(lambda: engine.workers.running_count() == 0)  # a preparation in flight ends
    engine.buffer.invalidate_track(tracks[1].id)  # its head may have been rendered ahead
    renderer = engine.feed.renderer
    assert renderer is not None
    renderer.calibrations.forget_track(engine.store.get(tracks[1]).content_key)
    decoded = load_track(tracks[1].path, 44_100)
    engine.next_track()
    played = capture(sink, 4096)
    assert engine.feed.stand_ins >= 1
    # The cut is at the consumer's next block or the one after: find which, then compare.
    offsets = [
        cut
        for cut in (0, 1024)
        if np.allclose(played[cut + 441 :], decoded.samples[441 : 4096 - cut], atol=1e-6)
    ]
    assert offsets, "after the skip, the next track's source plays"
    engine.workers.resume()
    first_chunk = ChunkKey(tracks[1].id, "warm", engine.config.intensity_bucket(1.0), 0)
    wait_until(lambda: engine.buffer.peek_tier(first_chunk) is not None)
    later = capture(sink, 2 * 44_100)
    assert engine.snapshot().underruns == 0
    start = 4096 - offsets[0] + 2 * 44_100 - 4096  # two seconds on: the render plays
    expected = renderer.render_range(engine.store.get(tracks[1]), "warm", 1.0, start, start + 4096)
    np.testing.assert_allclose(later[-4096:], expected, atol=1e-5)


def _tone_track(name: str, frames: int) -> Track:
    return Track(name, Path(name), frames / 44_100, 44_100, 2, frames, name, name)


def _steady_source(track: Track, start: int, count: int) -> np.ndarray:
    """Every track at one level, as many frames as it has from `start`."""
    return np.full((max(0, min(count, track.frames - start)), 2), 0.25, dtype=np.float32)


def test_the_lead_is_the_audio_queued_once_audio_is_promised() -> None:
    """What the source may spend on a read: the queued audio while the consumer expects
    it, and no limit before anything is promised."""
    sink = NullSink(44_100, 1024, speed=0)
    player = Player(sink, _steady_source, ring_seconds=0.2)
    try:
        player.set_tracks([_tone_track("steady", 10 * 44_100)])
        assert player.lead_seconds() is None
        player.play()
        poll_until(lambda: sink.ring.queued_frames() >= round(0.2 * 44_100), timeout=5.0)
        assert player.lead_seconds() == sink.ring.queued_frames() / 44_100  # the ring is full
    finally:
        player.close()
        sink.close()


def test_a_missed_cut_at_the_end_of_the_library_ends_the_audio() -> None:
    """A seek to the last frame of the last track, read slowly: the consumer passes the
    cut before it is written and the library ends right after it. The player must end the
    audio there, not cut again forever with nothing to hand over (a stream of dropouts)."""
    sink = NullSink(44_100, 1024, speed=0)
    track = _tone_track("last", 44_100)
    release = threading.Event()
    seeking = threading.Event()

    def source(track: Track, start: int, count: int) -> np.ndarray:
        if start == track.frames - 1:  # the read after the seek: held up
            seeking.set()
            release.wait(5.0)
        frames = max(0, min(count, track.frames - start))
        return np.full((frames, 2), 0.25, dtype=np.float32)

    player = Player(sink, source, ring_seconds=0.2)
    try:
        player.set_tracks([track])
        player.play()
        poll_until(lambda: sink.ring.queued_frames() >= 4096, timeout=5.0)
        sink.advance(1024)
        player.seek(track.duration_seconds)
        assert seeking.wait(5.0)
        sink.advance(3 * 1024)  # past the cut before anything after the seek is written
        release.set()
        poll_until(lambda: not player.playing, timeout=5.0)
        handovers = sink.ring.handover_seq
        for _ in range(20):  # half a second, with the feeder free to act between blocks
            sink.advance(1024)
            time.sleep(0.015)
        assert sink.ring.underruns == 0
        assert sink.ring.handover_seq <= handovers + 1  # ended once, not cut again and again
        assert sink.ring.handover_applied()
    finally:
        player.close()
        sink.close()


def test_a_missed_cut_followed_by_a_track_boundary_resumes_at_the_right_frame() -> None:
    """A seek near a track's end, read slowly: the consumer passes the cut, and the next
    track starts (in the ring) after it. The cut made again must play what was meant for
    its own ring index (the first track's tail or the next track's start), never a frame
    before the next track's first one (a negative frame: a failed render and a skip)."""
    sink = NullSink(44_100, 1024, speed=0)
    first, second = _tone_track("first", 44_100), _tone_track("second", 44_100)
    level = {"first": 0.25, "second": 0.5}
    release = threading.Event()
    seeking = threading.Event()
    tail = 4_000  # frames of the first track after the seek: the boundary lies past the cut
    reads: list[tuple[str, int]] = []

    def source(track: Track, start: int, count: int) -> np.ndarray:
        reads.append((track.id, start))
        if track is first and start == first.frames - tail:  # the read after the seek
            seeking.set()
            release.wait(5.0)
        frames = max(0, min(count, track.frames - start))
        return np.full((frames, 2), level[track.id], dtype=np.float32)

    player = Player(sink, source, ring_seconds=0.2)
    try:
        player.set_tracks([first, second])
        player.play()
        poll_until(lambda: sink.ring.queued_frames() >= 4096, timeout=5.0)
        sink.advance(1024)
        player.seek((first.frames - tail) / 44_100)
        assert seeking.wait(5.0)
        sink.advance(2 * 1024)  # past the cut before anything after the seek is written
        release.set()
        blocks = []
        for _ in range(12):  # the consumer finds the cut missed; the feeder cuts again
            time.sleep(0.02)
            block = np.zeros((1024, 2), dtype=np.float32)
            sink.play_into(block)
            blocks.append(block[:, 0])
        assert all(start >= 0 for _track, start in reads), reads
        played = np.concatenate(blocks)
        boundary = int(np.argmax(played == 0.5))
        assert boundary > 0 and np.all(played[boundary:] == 0.5)  # the second track, whole
        first_after_cut = played[played != 0.25][:1]  # the tail's fade-in, if any, then 0.5
        assert len(first_after_cut) and sink.ring.underruns == 0
    finally:
        player.close()
        sink.close()


def test_next_and_seek_near_a_tracks_end_act_on_the_track_heard() -> None:
    """In a track's last moments the feeder already writes the next one. `next` must go
    to the track after the one heard (not skip one), and a seek must land in the track
    heard (not in the next)."""
    sink = NullSink(44_100, 1024, speed=0)
    tracks = [_tone_track(name, 44_100) for name in ("a", "b", "c")]
    level = {"a": 0.25, "b": 0.5, "c": 0.75}

    def source(track: Track, start: int, count: int) -> np.ndarray:
        frames = max(0, min(count, track.frames - start))
        return np.full((frames, 2), level[track.id], dtype=np.float32)

    player = Player(sink, source, ring_seconds=0.2)
    try:
        player.set_tracks(tracks)
        player.play()
        poll_until(lambda: sink.ring.queued_frames() >= 4096, timeout=5.0)

        def play_blocks(count: int) -> None:
            for _ in range(count):
                poll_until(lambda: sink.ring.queued_frames() >= 8192, timeout=5.0)
                sink.advance(1024)

        play_blocks(40)  # 44,100 - 40,960 frames of "a" left: "b" is already written
        assert player.position()[0] is tracks[0] and player._track is tracks[1]
        player.skip(1)
        play_blocks(3)
        assert player.position()[0] is tracks[1]
        play_blocks(38)  # near the end of "b": "c" is written
        assert player.position()[0] is tracks[1] and player._track is tracks[2]
        player.seek(0.5)  # in "b", heard now
        play_blocks(3)
        track, seconds = player.position()
        assert track is tracks[1] and 0.5 <= seconds < 0.6
        assert sink.ring.underruns == 0
    finally:
        player.close()
        sink.close()


def test_a_switch_made_while_paused_is_timed_from_the_resume(
    stepped_engine, tone_library: Path
) -> None:
    """Latency is what the listener waits: from pressing play, not from the key pressed
    while nothing played."""
    engine, sink = stepped_engine
    engine.open([tone_library])
    assert engine.wait_until_prepared(30)
    engine.set_preset("warm")
    paused_ms = 3000.0  # far above one render, even on a busy machine
    time.sleep(paused_ms / 1000)  # paused for a while
    engine.play()
    deadline = time.monotonic() + 10
    while not engine.switches() and time.monotonic() < deadline:
        capture(sink, 1024)  # the render of the switch may still be running: keep playing
        time.sleep(0.005)
    switch = engine.switches()[-1]
    assert switch.target == "warm" and switch.latency_ms is not None
    # Timed from the key, it would be at least the pause; from play, one render at most.
    assert switch.latency_ms < paused_ms


class _SwitchHook:
    """A switch hook that only says whether something is in flight."""

    def __init__(self) -> None:
        self.in_flight = False

    def poll_switch(self, track: Track, frame: int) -> bool:
        return False

    def flushed(self, ring_index: int, frame: int) -> None:
        pass

    def heard(self, read_index: int, applied_at: float | None) -> None:
        pass

    def busy(self) -> bool:
        return self.in_flight


def _consume_until_the_cut_is_heard(sink: NullSink) -> None:
    block = np.zeros((1024, 2), dtype=np.float32)
    for _ in range(200):
        if sink.ring.handover_applied():
            return
        sink.play_into(block)
    raise AssertionError("the consumer never reached the cut")


def test_the_feeder_rests_until_the_ring_drains_unless_something_is_in_flight() -> None:
    """With the ring full and nothing in flight the feeder sleeps until REFILL_SECONDS has
    drained (a few wake-ups a second); a switch in flight or a pause changes that."""
    sink = NullSink(44_100, 1024, speed=0)
    hook = _SwitchHook()
    track = _tone_track("long", 60 * 44_100)

    player = Player(sink, _steady_source, ring_seconds=0.75, switch_hook=hook)
    period = 1024 / 44_100
    try:
        player.set_tracks([track])
        player.play()
        poll_until(lambda: sink.ring.queued_frames() >= int(0.75 * 44_100) - 1024, timeout=5.0)
        _consume_until_the_cut_is_heard(sink)
        rest = player._rest_seconds(period)
        assert 4 * period < rest <= player_module.REFILL_SECONDS + period
        hook.in_flight = True
        assert player._rest_seconds(period) == period / 2
        hook.in_flight = False
        player.pause()
        _consume_until_the_cut_is_heard(sink)
        assert player._rest_seconds(period) == player_module.PAUSED_POLL_SECONDS
    finally:
        player.close()
        sink.close()


def test_a_track_replaced_in_place_keeps_the_playhead_and_a_bounded_history() -> None:
    """A file's new version (same id) is swapped in where it plays; the list of cut points
    stays bounded, as it must over a long session of cuts."""
    sink = NullSink(44_100, 1024, speed=0)
    stale = _tone_track("a", 44_100)
    player = Player(sink, lambda t, s, c: np.zeros((min(c, t.frames - s), 2), np.float32))
    try:
        player.set_tracks([stale])
        fresh = Track("a", Path("a"), 0.5, 44_100, 2, 22_050, "a-new", "a")
        player.replace_track(stale, fresh)
        assert player.position()[0] is fresh
        assert player._segments.maxlen == 64
        for _ in range(100):
            player.seek(0.1)
        assert len(player._segments) <= 64
    finally:
        player.close()


def test_a_switch_cut_the_consumer_missed_is_faded_and_timed_where_it_is_heard(
    stepped_engine,
) -> None:
    """On a busy machine the consumer can reach a switch's cut before the feeder has
    published it: it plays on in the old audio and the feeder cuts again later. The cut
    made again must fade like the first (an unfaded cut clicks), and the switch is
    recorded there, where the listener hears it."""
    engine, sink = stepped_engine
    engine.open([SAMPLE_AUDIO / "01_neon_drive.flac"])
    engine.set_preset("punchy")
    assert engine.wait_until_prepared(60)
    engine.play()
    played = [capture(sink, 1024)]
    for _ in range(500):  # until punchy is heard, then a little more
        if any(s.target == "punchy" and s.latency_ms is not None for s in engine.switches()):
            break
        played.append(capture(sink, 1024))
    played.append(capture(sink, 8192))
    feed, flushed = engine.feed, engine.feed.flushed
    cut_made, consumer_passed = threading.Event(), threading.Event()

    def flushed_then_held(ring_index: int, frame: int) -> None:
        flushed(ring_index, frame)
        if feed.active.preset == "warm" and not cut_made.is_set():
            cut_made.set()  # the cut is made, nothing after it is published yet
            consumer_passed.wait(10.0)

    feed.flushed = flushed_then_held  # type: ignore[method-assign]
    engine.set_preset("warm")
    assert cut_made.wait(30.0)
    heard_before = sum(len(block) for block in played)
    passed = np.zeros((2 * 1024, 2), dtype=np.float32)
    sink.play_into(passed)  # past the cut before the feeder goes on
    played.append(passed)
    consumer_passed.set()
    for _ in range(60):
        time.sleep(0.01)
        played.append(capture(sink, 1024))
    audio = np.concatenate(played)

    switch = [s for s in engine.switches() if s.target == "warm"][-1]
    assert switch.latency_ms is not None
    at, frame = switch.ring_index, switch.frame
    assert heard_before + 2 * 1024 <= at <= len(audio) - 4096  # cut again past the consumer
    renderer = Renderer(EngineConfig(), engine.calibrations)  # the gains the engine used
    source = engine.store.get(engine.tracks()[0])
    old = renderer.render_range(source, "punchy", 1.0, frame - 2048, frame + 4096)
    new = renderer.render_range(source, "warm", 1.0, frame - 2048, frame + 4096)
    fade = round(engine.config.crossfade_ms * engine.config.sample_rate / 1000)
    rho = crossfade.correlation(old[2048 : 2048 + fade], new[2048 : 2048 + fade])
    faded = crossfade.mix(old[2048 : 2048 + fade], new[2048 : 2048 + fade], 0, fade, rho)
    np.testing.assert_allclose(audio[at - 2048 : at], old[:2048], atol=1e-4)
    np.testing.assert_allclose(audio[at : at + fade], faded, atol=1e-4)
    np.testing.assert_allclose(audio[at + fade : at + 4096], new[2048 + fade :], atol=1e-4)


def test_a_seek_is_at_the_next_block_before_it_is_heard() -> None:
    """With the consumer's callback due, a seek cuts a block ahead: the position heard
    stays where it was until that block plays, but a plan made at once must start at the
    seek's target."""
    sink = NullSink(44_100, 1024, speed=0)
    track = _tone_track("long", 60 * 44_100)

    player = Player(sink, _steady_source, ring_seconds=0.5)
    try:
        player.set_tracks([track])
        player.play()
        poll_until(lambda: sink.ring.queued_frames() >= 8192, timeout=5.0)
        sink.advance(4096)
        sink.ring.header[LAST_CALLBACK_NS] = 1  # long ago: the next callback is due now
        player.seek(30.0)
        assert player.position() == (track, 4096 / 44_100)
        ahead, seconds = player.position_at_next_block()
        assert ahead is track and seconds == pytest.approx(30.0, abs=1e-4)
        poll_until(lambda: sink.ring.queued_frames() >= 8192, timeout=5.0)
        sink.advance(2048)
        _heard, heard_seconds = player.position()
        assert 30.0 <= heard_seconds < 30.05
    finally:
        player.close()
        sink.close()


def test_a_track_written_ahead_is_told_and_stays_ahead_until_heard() -> None:
    """The upkeep loop ticks slowly while nothing is in flight: the player wakes it when it
    writes the next track, and says a change is ahead until that track is heard, so a
    short track cannot pass between two ticks."""
    sink = NullSink(44_100, 1024, speed=0)
    tracks = [_tone_track(name, 44_100 // 4) for name in ("a", "b")]

    told: list[int] = []
    player = Player(sink, _steady_source, ring_seconds=0.5)
    player.on_track_written = lambda: told.append(sink.ring.write_index)
    try:
        player.set_tracks(tracks)
        player.play()
        poll_until(lambda: told, timeout=5.0)
        assert told == [44_100 // 4] and player.change_ahead()
        sink.advance(44_100 // 4 - 1024)
        assert player.change_ahead() and player.position()[0] is tracks[0]
        sink.advance(2048)
        assert not player.change_ahead() and player.position()[0] is tracks[1]
    finally:
        player.close()
        sink.close()
