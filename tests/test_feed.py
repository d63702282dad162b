"""The feed's switch: prepared outside its lock, made only if nothing changed meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.cache.buffer import Lookup
from engine.config import EngineConfig
from engine.dsp import crossfade
from engine.dsp.render import Renderer
from engine.dsp.render_speed import RenderSpeed
from engine.library.scan import probe
from engine.library.track_store import TrackStore
from engine.playback.feed import PresetFeed
from engine.playback.original_level import GAIN_SETTLE_SECONDS
from engine.vocabulary import BYPASS, TierName

SAMPLE = Path(__file__).resolve().parent.parent / "sample_audio" / "01_neon_drive.flac"


class SlowBuffer:
    """A buffer whose lookup (an L3 decode, say) holds until the test lets it go."""

    def __init__(self, frames: int) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.audio = np.zeros((frames, 2), dtype=np.float32)

    def lookup(self, *_args: Any, **_kwargs: Any) -> Lookup:
        self.entered.set()
        assert self.release.wait(10.0)
        return Lookup(self.audio, TierName.L3)


def feed_with(buffer: SlowBuffer) -> tuple[PresetFeed, Any]:
    config = EngineConfig()
    store = TrackStore(config.sample_rate)
    track = probe(SAMPLE, config.sample_rate)
    store.register([track])
    feed = PresetFeed(config, buffer, workers=None, store=store)  # type: ignore[arg-type]
    feed.start_with("warm", config.intensity_bucket(1.0))
    return feed, track


def polled(feed: PresetFeed, track: Any, frame: int) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(feed.poll_switch(track, frame)))
    thread.start()
    return thread, result


def test_a_command_never_waits_behind_a_switch_being_prepared() -> None:
    buffer = SlowBuffer(EngineConfig().chunk_frames)
    feed, track = feed_with(buffer)
    bucket = feed.requested.bucket
    feed.request("bright", bucket)
    thread, result = polled(feed, track, 1000)
    assert buffer.entered.wait(10.0)
    asked = threading.Thread(target=feed.request, args=("punchy", bucket))
    asked.start()
    asked.join(5.0)
    done_while_the_lookup_held = not asked.is_alive()
    buffer.release.set()
    thread.join(10.0)
    assert done_while_the_lookup_held
    # What was prepared is made (requests faster than a preparation are still heard), and
    # the next poll serves the newer request.
    assert result == [True]
    assert feed.active.preset == "bright" and feed.requested.preset == "punchy"
    assert feed.poll_switch(track, 2000) is True
    assert feed.active.preset == "punchy"


def test_a_switch_prepared_across_a_seek_is_prepared_again() -> None:
    buffer = SlowBuffer(EngineConfig().chunk_frames)
    feed, track = feed_with(buffer)
    feed.request("bright", feed.requested.bucket)
    thread, result = polled(feed, track, 1000)
    assert buffer.entered.wait(10.0)
    feed.note_seek()
    buffer.release.set()
    thread.join(10.0)
    assert result == [False] and feed.active.preset == "warm"
    assert feed.poll_switch(track, 1000) is True  # the next poll makes it
    assert feed.active.preset == "bright"


class ChunkBuffer:
    """Misses chunk 0 and holds chunk 1, its frames set to the chunk's number."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.asked: list[int] = []

    def lookup(self, key: Any, _fingerprint: str, kind: str, count: bool = True) -> Lookup:
        if kind == "switch":
            self.asked.append(key.chunk_index)
        if key.chunk_index == 0:
            return Lookup(None, None)
        return Lookup(np.full((self.frames, 2), key.chunk_index, np.float32), TierName.L2)


class SlowWorkers:
    """A render asked for now that has not finished."""

    def request_now(self, *_args: Any) -> Any:
        return type("Job", (), {"done": threading.Event(), "audio": None})()


def test_a_switch_waiting_on_a_miss_serves_the_chunk_the_playhead_is_in_by_then() -> None:
    chunk = EngineConfig().chunk_frames
    buffer = ChunkBuffer(chunk)
    config = EngineConfig()
    store = TrackStore(config.sample_rate)
    track = probe(SAMPLE, config.sample_rate)
    store.register([track])
    feed = PresetFeed(config, buffer, SlowWorkers(), store)  # type: ignore[arg-type]
    feed.start_with("warm", config.intensity_bucket(1.0))
    feed.request("bright", feed.requested.bucket)
    assert feed.poll_switch(track, chunk - 100) is False  # a miss, its render on the way
    assert feed.poll_switch(track, chunk + 100) is True  # the playhead moved into chunk 1
    assert buffer.asked == [0, 1]
    held = feed._held
    assert held is not None and held.key.chunk_index == 1 and float(held.audio[0, 0]) == 1.0


class Workers:
    """One render asked for now, finished when the test says; preparations are no-ops."""

    def __init__(self) -> None:
        self.job = type("Job", (), {"done": threading.Event(), "audio": None})()

    def request_now(self, *_args: Any) -> Any:
        return self.job

    def prepare_track(self, *_args: Any) -> None:
        pass


def slow_machine_feed(seconds_per_frame: float) -> tuple[PresetFeed, Any, Workers, Renderer]:
    """A feed playing `warm`, calibrated, whose renders measured `seconds_per_frame`; the
    buffer misses every chunk."""
    config = EngineConfig()
    store = TrackStore(config.sample_rate)
    track = probe(SAMPLE, config.sample_rate)
    store.register([track])
    speed = RenderSpeed()
    renderer = Renderer(config, speed=speed)
    renderer.prepare(store.get(track), "warm")
    for _ in range(40):  # the calibration measured this machine; now it is slow
        speed.note("warm", seconds_per_frame * 1000, 1000)
    workers = Workers()
    buffer = ChunkBuffer(config.chunk_frames)
    feed = PresetFeed(config, buffer, workers, store, renderer_factory=lambda: renderer)  # type: ignore[arg-type]
    feed.start_with("warm", config.intensity_bucket(1.0))
    return feed, track, workers, renderer


def test_a_slow_machine_plays_the_source_until_the_render_arrives() -> None:
    """The feeder never waits for a render: the source stands in (counted once), and the
    render takes over with a crossfade, not a jump."""
    feed, track, workers, renderer = slow_machine_feed(1 / 4_410)  # 10x real time
    block = 1024
    first = feed.read(track, 0, block)
    source = renderer.original(feed.store.get(track), 0, 3 * block)
    assert np.array_equal(first, source[:block])
    assert feed.stand_ins == 1 and feed.standing_in and feed.head_renders == 0
    second = feed.read(track, block, block)
    assert np.array_equal(second, source[block : 2 * block]) and feed.stand_ins == 1
    rendered = renderer.render_chunk(feed.store.get(track), "warm", 1.0, 0)
    workers.job.audio = rendered
    workers.job.done.set()
    third = feed.read(track, 5 * block, block)  # past the stand-in's piece: the render
    assert not feed.standing_in
    fade = round(feed.config.crossfade_ms * feed.config.sample_rate / 1000)
    assert np.array_equal(third[fade:], rendered[5 * block + fade : 6 * block])
    # The first frames mix the source into the render: neither jumps in.
    assert not np.array_equal(third[:fade], rendered[5 * block : 5 * block + fade])


def test_a_fast_machine_renders_the_head_of_a_miss_at_once() -> None:
    feed, track, _workers, renderer = slow_machine_feed(1 / (200 * 44_100))  # 200x
    audio = feed.read(track, 0, 1024)
    assert feed.head_renders == 1 and feed.stand_ins == 0
    expected = renderer.render_range(feed.store.get(track), "warm", 1.0, 0, 1024)
    assert np.array_equal(audio, expected)


class FirstChunkBuffer:
    """Holds chunk 0's render; chunk 1 is not rendered yet."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = audio

    def lookup(self, key: Any, *_args: Any, **_kwargs: Any) -> Lookup:
        held = key.chunk_index == 0
        return Lookup(self.audio if held else None, TierName.L1 if held else None)

    def peek_tier(self, key: Any) -> str | None:
        return TierName.L1 if key.chunk_index == 0 else None


@pytest.mark.parametrize("slow", [True, False])
def test_a_render_fades_into_the_source_before_a_chunk_not_rendered_yet(slow: bool) -> None:
    """Crossing into a missing chunk on a slow machine: the render's last frames fade into
    the source, which plays on from the boundary (no jump from one to the other). A fast
    machine renders the next chunk's head there instead, and nothing fades."""
    feed, track, _workers, renderer = slow_machine_feed(1 / 4_410 if slow else 1 / 8_820_000)
    chunk = renderer.render_chunk(feed.store.get(track), "warm", 1.0, 0)
    feed.buffer = FirstChunkBuffer(chunk)  # type: ignore[assignment]
    boundary = feed.config.chunk_frames
    fade = round(feed.config.crossfade_ms * feed.config.sample_rate / 1000)
    first = boundary - 3 * 1024
    heard = np.concatenate([feed.read(track, first + n * 1024, 1024) for n in range(6)])
    source = renderer.original(feed.store.get(track), first, first + 6 * 1024)
    cut = boundary - first
    if not slow:
        assert np.array_equal(heard[:cut], chunk[first:])
        assert feed.head_renders == 1 and feed.stand_ins == 0
        return
    assert np.array_equal(heard[: cut - fade], chunk[first : boundary - fade])
    assert np.array_equal(heard[cut:], source[cut:])  # the source stands in
    assert feed.stand_ins == 1
    fading = heard[cut - fade : cut]
    assert not np.array_equal(fading, chunk[boundary - fade :])
    # By the boundary the mix is all but the source: no step into the stand-in.
    assert np.max(np.abs(fading[-1] - source[cut - 1])) < 0.01


def test_a_render_arriving_after_the_fade_out_fades_in_from_the_source() -> None:
    feed, track, _workers, renderer = slow_machine_feed(1 / 4_410)
    source_track = feed.store.get(track)
    chunks = [renderer.render_chunk(source_track, "warm", 1.0, index) for index in (0, 1)]
    buffer = FirstChunkBuffer(chunks[0])
    feed.buffer = buffer  # type: ignore[assignment]
    boundary = feed.config.chunk_frames
    fade = round(feed.config.crossfade_ms * feed.config.sample_rate / 1000)
    before = feed.read(track, boundary - 2048, 2048)  # faded out: chunk 1 was missing
    assert not np.array_equal(before[-fade:], chunks[0][-fade:])
    buffer.peek_tier = lambda _key: TierName.L1  # type: ignore[method-assign]
    buffer.lookup = lambda key, *_a, **_k: Lookup(chunks[key.chunk_index], TierName.L1)  # type: ignore[method-assign]
    after = feed.read(track, boundary, 2048)  # the render arrived in time after all
    source = renderer.original(source_track, boundary, boundary + fade)
    assert np.array_equal(after[fade:], chunks[1][fade:2048])
    assert np.max(np.abs(after[0] - source[0])) < 0.01  # it starts from the source
    assert feed.stand_ins == 0


def test_a_head_never_outlasts_the_audio_queued_before_it() -> None:
    """Right after a seek's first stand-in piece the ring holds a tenth of a second: a
    head that would take more than half of what is queued is not tried (it would be a
    dropout). The source plays on, and the head comes once the ring is deeper."""
    feed, track, _workers, _renderer = slow_machine_feed(1 / (200 * 44_100))  # ~6 ms a head
    lead: list[float | None] = [0.004]
    feed.lead = lambda: lead[0]
    feed.read(track, 0, 1024)
    assert feed.head_renders == 0 and feed.stand_ins == 1
    lead[0] = 0.4
    feed.read(track, round(0.1 * 44_100), 1024)  # past the stand-in's piece
    assert feed.head_renders == 1 and feed.stand_ins == 1


def test_a_head_where_nothing_is_decoded_yet_counts_its_decoding() -> None:
    """After a seek the head's window is not decoded: on a slow decoder that is most of
    its cost, which the chunks' renders (their blocks shared) never showed. Once the
    stand-in has played there and the blocks are cached, the head is cheap again."""
    feed, track, _workers, _renderer = slow_machine_feed(1 / (200 * 44_100))  # ~6 ms a head
    feed.lead = lambda: 0.12  # a head may take 60 ms
    source = feed.store.get(track)
    frame = 5 * 44_100
    for _ in range(100):
        source._note_decode(5e-7)  # 22 ms a second of audio: a slow machine's decoder
    feed.read(track, frame, 1024)
    assert feed.head_renders == 0 and feed.stand_ins == 1
    source.read(frame - 3 * 44_100, frame + 2 * 44_100)  # the blocks around it, cached
    feed.read(track, frame + round(0.1 * 44_100), 1024)
    assert feed.head_renders == 1


def test_in_a_seeks_gap_a_head_is_only_latency() -> None:
    """Nothing queued and nothing expected (the gap after a seek): the head's wait is
    heard as latency, not as a dropout, so the budget alone decides."""
    feed, track, _workers, _renderer = slow_machine_feed(1 / (200 * 44_100))
    feed.lead = lambda: None
    feed.read(track, 0, 1024)
    assert feed.head_renders == 1 and feed.stand_ins == 0


def test_heads_that_took_longer_than_their_estimate_are_not_tried_again() -> None:
    """A busy machine (the render threads' share, the GIL) stretches a head's time on the
    feeder far past its CPU estimate: the feeder learns it and stands in instead."""
    feed, track, _workers, _renderer = slow_machine_feed(1 / (200 * 44_100))
    feed._note_head(seconds=2.0, expected=0.01)  # a head took 200 times its estimate
    feed.read(track, 0, 1024)
    assert feed.head_renders == 0 and feed.stand_ins == 1


def test_a_busy_moment_does_not_rule_heads_out_for_good() -> None:
    """Refused heads let the stretch come down, so the feeder tries again later."""
    feed, track, _workers, _renderer = slow_machine_feed(1 / (200 * 44_100))
    feed._note_head(seconds=2.0, expected=0.01)
    frame = 0
    while feed.head_renders == 0:
        feed.read(track, frame, 1024)  # a stand-in piece each time, until a head is tried
        frame += round(0.1 * 44_100)
        assert frame < 44_100 * 9, "never tried again"
    assert feed.stand_ins == 1


class CountingRenderer(Renderer):
    """A real renderer that counts the original's reads."""

    originals = 0

    def original(self, *args: Any, **kwargs: Any) -> Any:
        self.originals += 1
        return super().original(*args, **kwargs)


def unsampled_feed(preset: str, buffer: Any = None) -> tuple[PresetFeed, Any, CountingRenderer]:
    """A feed playing `preset` on a hot master not sampled yet; renders never finish."""
    config = EngineConfig()
    store = TrackStore(config.sample_rate)
    track = probe(SAMPLE, config.sample_rate)
    store.register([track])
    renderer = CountingRenderer(config)
    feed = PresetFeed(config, buffer, Workers(), store, renderer_factory=lambda: renderer)  # type: ignore[arg-type]
    feed.start_with(preset, config.intensity_bucket(1.0))
    return feed, track, renderer


def settled(renderer: Renderer, source: Any, since: int, stop: int) -> np.ndarray:
    """The original from `since` to `stop` as it should be heard once the sampling has
    landed and unity reads went up to `since`: a linear fade to the gain, then the gain."""
    settle = round(GAIN_SETTLE_SECONDS * renderer.config.sample_rate)
    unity = renderer.original(source, since, stop, measure=False, at_unity=True)
    measured = renderer.original(source, since, stop)
    faded = crossfade.mix(unity[:settle], measured[:settle], 0, settle, 1.0)
    return np.concatenate([faded, measured[settle:]])


def test_the_original_plays_its_block_at_unity_then_settles_to_its_gain() -> None:
    """Before a track is sampled the original plays at unity gain; its block is read (and
    limited) once, not again for every piece the feeder writes, and plays out once the
    sampling lands. From there the level fades to the track's gain, without a step."""
    feed, track, renderer = unsampled_feed(BYPASS)
    piece, block = 1024, feed._block_frames
    provisional = [feed.read(track, n * piece, piece) for n in range(4)]
    assert renderer.originals == 1
    source = feed.store.get(track)
    renderer.prepare(source, BYPASS)  # the sampling lands
    provisional.append(feed.read(track, 4 * piece, block - 4 * piece))
    assert renderer.originals == 1  # the block played out as it was read
    assert renderer.original_gain(source) < 1.0  # a hot master: the level goes down
    unity = renderer.original(source, 0, block, measure=False, at_unity=True)
    assert np.array_equal(np.concatenate(provisional), unity)

    played = feed.read(track, block, block)
    assert np.array_equal(played, settled(renderer, source, block, 2 * block))


def test_a_stand_in_settles_to_the_gain_and_a_render_fades_in_from_what_played() -> None:
    """A preset not rendered yet on a track not sampled yet: the source stands in at unity,
    fades to its gain once the sampling lands (no step between two stand-in pieces), and
    the render, when it comes during that fade, fades in from the source as heard."""
    feed, track, renderer = unsampled_feed("warm", ChunkBuffer(EngineConfig().chunk_frames))
    piece = round(0.1 * feed.config.sample_rate)  # a stand-in piece
    source = feed.store.get(track)
    first = feed.read(track, 0, piece)
    assert feed.stand_ins == 1
    assert np.array_equal(first, renderer.original(source, 0, piece, at_unity=True))
    renderer.prepare(source, BYPASS)
    heard = np.concatenate([feed.read(track, piece * n, piece) for n in range(1, 4)])
    expected = settled(renderer, source, piece, 4 * piece)
    assert np.array_equal(heard, expected)

    renderer.prepare(source, "warm")
    rendered = renderer.render_chunk(source, "warm", 1.0, 0)
    feed.workers.job.audio = rendered  # type: ignore[attr-defined]
    feed.workers.job.done.set()  # type: ignore[attr-defined]
    at = 4 * piece
    after = feed.read(track, at, piece)
    fade = feed._fade_frames
    from_source = settled(renderer, source, piece, at + fade)[at - piece :]
    assert np.array_equal(after[fade:], rendered[at + fade : at + piece])
    assert np.max(np.abs(after[0] - from_source[0])) < 0.01  # from the stand-in as heard
    assert feed.stand_ins == 1


def test_a_seek_ends_the_settle() -> None:
    """After a seek what plays need not follow what played: the original is at its gain."""
    feed, track, renderer = unsampled_feed(BYPASS)
    feed.read(track, 0, 1024)
    source = feed.store.get(track)
    renderer.prepare(source, BYPASS)
    feed.note_seek()
    played = feed.read(track, 0, 1024)
    assert np.array_equal(played, renderer.original(source, 0, 1024))
