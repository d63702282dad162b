"""The engine on streamed sources: a truncated file plays to its real end and the next
track follows; a half-hour track plays, seeks and switches without being held whole."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.formats import FORMATS, encode, noisy
from engine import Engine, EngineConfig
from engine.dsp.calibrations import LoudnessCalibrations
from engine.dsp.render import Renderer
from engine.observe.memory import MemoryReading
from engine.playback.sinks.output import NullSink
from engine.vocabulary import PROCESSED_PRESETS
from tests.helpers.audio_files import SAMPLE_AUDIO, write_quiet_in_half_the_windows, write_tone
from tests.helpers.polling import wait_for as poll_until

RATE = 44_100
SPEED = 8.0
wait_for = partial(poll_until, timeout=60.0)


def engine_on(paths: list[Path], **config: object) -> Engine:
    engine = Engine(
        EngineConfig(**config),  # type: ignore[arg-type]
        sink=NullSink(RATE, 1024, speed=SPEED, ring_frames=4 * RATE),
        interaction_clock=lambda: time.monotonic() * SPEED,
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )
    engine.open(paths)
    return engine


@pytest.fixture
def truncated_then_tone(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(3)
    whole = tmp_path / "whole.flac"
    sf.write(whole, (0.2 * rng.standard_normal((12 * RATE, 2))).astype(np.float32), RATE)
    cut = tmp_path / "01-cut.flac"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    whole.unlink()
    return [cut, write_tone(tmp_path / "02-tone.wav", seconds=4.0)]


def test_a_truncated_file_plays_to_its_real_end_then_the_next_track(
    truncated_then_tone: list[Path],
) -> None:
    engine = engine_on(truncated_then_tone)
    try:
        first = engine.tracks()[0]
        assert first.duration_seconds == pytest.approx(12.0)  # what the header claims
        engine.play()
        wait_for(lambda: engine.snapshot().track_index == 1)
        shortened = engine.tracks()[0]
        assert 4.0 < shortened.duration_seconds < 8.0
        told = [e for e in engine.errors.entries() if "truncated" in e.message]
        assert len(told) == 1 and told[0].count == 1
        assert engine.workers.metrics().failures <= 2  # not one failure per feeder pass
        assert engine.snapshot().playing
    finally:
        engine.close()


@pytest.fixture(scope="module")
def half_hour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """32 minutes at 8 kHz mono (small on disk; 677 MB at the engine rate, whole)."""
    rate = 8_000
    path = tmp_path_factory.mktemp("long") / "long-mix.flac"
    seconds = np.arange(32 * 60 * rate) / rate
    level = 0.2 + 0.1 * np.sin(seconds / 30)
    tone = level * np.sin(2 * np.pi * (220 + 40 * np.sin(seconds / 50)) * seconds)
    sf.write(path, tone.astype(np.float32), rate, subtype="PCM_16")
    return path


def test_a_half_hour_track_plays_seeks_and_switches_within_its_budget(half_hour: Path) -> None:
    engine = engine_on([half_hour], plan_horizon_chunks=3)
    try:
        engine.play()
        engine.seek(30 * 60)
        engine.set_preset("warm")
        wait_for(lambda: engine.snapshot().preset == "warm")
        wait_for(lambda: engine.snapshot().position_seconds > 30 * 60 + 2)
        track_id = engine.tracks()[0].id
        wait_for(lambda: engine.check(track_id, "warm", 181)["is_cached"])  # read ahead
        config = engine.config
        assert engine.buffer.total_bytes() <= config.total_budget_mb * 1_000_000
        assert engine.store.blocks.size_bytes <= config.source_cache_mb * 1_000_000
        assert engine.calibrations.sample_bytes < 20_000_000
        assert 0.0 < engine.health()["source_block_reuse"] < 1.0  # renders share blocks
    finally:
        engine.close()


def engine_with_analysis_held_back(
    **config: object,
) -> tuple[Engine, threading.Event, Callable[[str], float | None]]:
    """An engine (preset `warm`) that sees no track's whole loudness until the event is
    set; the real reading is returned too."""
    engine = Engine(
        EngineConfig(**config),  # type: ignore[arg-type]
        sink=NullSink(RATE, 1024),
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )
    analysed = threading.Event()
    known = engine.analyses.whole_loudness

    def held_back(content_key: str) -> float | None:
        return known(content_key) if analysed.is_set() else None

    engine.calibrations.whole_loudness = held_back
    engine.set_preset("warm")
    return engine, analysed, known


def test_a_neighbour_is_prepared_at_once_then_matched_over_its_whole_track(
    quiet_in_half_the_windows: Path,
) -> None:
    """The next track's presets are calibrated at once, from its sample, so a skip there
    starts instantly; once the streaming analysis has read it all, they are calibrated
    again against the whole track (nothing was asked for on it yet)."""
    engine, analysed, known = engine_with_analysis_held_back(plan_horizon_chunks=2)
    held_back = engine.calibrations.whole_loudness
    try:
        engine.open([sorted(SAMPLE_AUDIO.glob("*.flac"))[0], quiet_in_half_the_windows])
        neighbour = engine.store.get(engine.tracks()[1])
        renderer = engine.feed.renderer
        assert renderer is not None
        poll_until(lambda: renderer.is_prepared(neighbour, "warm"), timeout=180.0)
        assert "warm" in engine.calibrations.provisional_presets(neighbour.content_key)
        poll_until(lambda: known(neighbour.content_key) is not None, timeout=180.0)
        analysed.set()
        poll_until(
            lambda: not engine.calibrations.provisional_presets(neighbour.content_key), timeout=180
        )
        informed = Renderer(EngineConfig(), LoudnessCalibrations(whole_loudness=held_back))
        assert renderer.plan(neighbour, "warm").wet_gain == pytest.approx(
            informed.plan(neighbour, "warm").wet_gain
        )
    finally:
        engine.close()


@pytest.fixture(scope="module")
def quiet_in_half_the_windows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_quiet_in_half_the_windows(tmp_path_factory.mktemp("halves") / "halves.flac")


def test_a_track_started_at_once_is_recalibrated_for_the_presets_not_asked_for(
    quiet_in_half_the_windows: Path,
) -> None:
    """Calibrated from its sample alone when it starts; once its whole loudness is known,
    every preset not asked for on it is calibrated again against the whole track, and the
    preset playing keeps its gain (no level step inside the track)."""
    engine, analysed, known = engine_with_analysis_held_back()
    try:
        engine.open([quiet_in_half_the_windows])
        engine.play()
        assert engine.wait_until_prepared(timeout=180.0)
        source = engine.store.get(engine.tracks()[0])
        key = source.content_key
        assert engine.calibrations.provisional_presets(key) == sorted(PROCESSED_PRESETS)
        warm_gain = engine.calibrations.get((key, "warm", "matched"))
        poll_until(lambda: known(key) is not None, timeout=180.0)
        analysed.set()
        poll_until(lambda: engine.calibrations.provisional_presets(key) == ["warm"], timeout=60)
        assert engine.calibrations.get((key, "warm", "matched")) == warm_gain
        informed = Renderer(
            EngineConfig(), LoudnessCalibrations(whole_loudness=lambda _key: known(key))
        )
        renderer = engine.feed.renderer
        assert renderer is not None
        for preset in ("punchy", "bright"):
            assert renderer.plan(source, preset).wet_gain == pytest.approx(
                informed.plan(source, preset).wet_gain
            )
    finally:
        engine.close()


def test_a_gain_recalibrated_while_its_preset_is_asked_for_is_not_put_in_use(
    quiet_in_half_the_windows: Path,
) -> None:
    """A recalibrated gain that arrives while the listener switches to its preset waits
    for the switch to be marked heard, then is let go: the feed may already have taken the
    preset's chunk at the old gain, and the next chunk must not come at another level."""
    engine, _analysed, _known = engine_with_analysis_held_back()
    try:
        engine.open([quiet_in_half_the_windows])
        assert engine.wait_until_prepared(timeout=180.0)
        track = engine.tracks()[0]
        key = (engine.store.get(track).content_key, "punchy", "matched")
        gain = engine.calibrations.get(key)
        preparation = engine._parts.preparation
        installing: list[threading.Thread] = []

        def request_with_a_gain_arriving() -> None:
            engine.feed.request(preset="punchy")
            preparation._deliver(track, "punchy", 2.0 * (gain or 1.0))
            installer = threading.Thread(target=preparation.install)
            installer.start()
            installer.join(timeout=0.5)  # blocked until the switch is marked heard
            installing.append(installer)

        preparation.ask("punchy", request_with_a_gain_arriving)
        installing[0].join()
        assert engine.calibrations.get(key) == gain
    finally:
        engine.close()


def test_an_mp3_then_an_m4a_play_switch_and_hand_over(tmp_path: Path) -> None:
    """Tracks FFmpeg decodes stream like any other: calibrated, rendered, switched, and
    the next one follows at the end, with no render failing."""
    mp3, aac = (kind for kind in FORMATS if kind.name in ("mp3", "aac-m4a"))
    paths = [encode(tmp_path / "01-song.mp3", noisy(5.0), mp3)]
    paths.append(encode(tmp_path / "02-song.m4a", noisy(5.0, seed=1), aac))
    engine = engine_on(paths)
    try:
        assert [track.format for track in engine.tracks()] == ["MP3", "AAC"]
        engine.play()
        assert engine.wait_until_prepared(timeout=180.0)
        engine.set_preset("punchy")
        wait_for(lambda: engine.snapshot().track_index == 1)
        engine.set_preset("bright")
        wait_for(lambda: engine.snapshot().position_seconds > 2.0)
        assert engine.workers.metrics().failures == 0
        assert engine.buffer.total_bytes() > 0
        assert not engine.errors.entries()
    finally:
        engine.close()


def test_the_chunks_at_the_playhead_render_before_the_neighbours_are_prepared(
    tmp_path: Path,
) -> None:
    """A switch needs every preset's chunk at the playhead now; a neighbour's calibration
    is for a skip, and waits for them (not for the read-ahead past the playhead). L1 holds
    two chunks here: the switch targets' chunks at the playhead are planned in L2."""
    paths = [write_tone(tmp_path / f"{n}.wav", seconds=30.0) for n in range(3)]
    engine = engine_on(paths, l1_budget_mb=8.0)
    try:
        engine.workers.pause()  # only misses render: the queue is read as it stands
        engine.set_preset("warm")
        engine.play()
        playing, current = engine.tracks()[0].id, engine.snapshot().requested_preset

        def queued() -> list[str]:
            """Each queued job, in the order they would run: a switch target's chunk at the
            playhead, a neighbour's preparation, or something else."""
            jobs = sorted(job for job in engine.workers._queue if not job.cancelled)
            return [
                "playhead"
                if job.key.track_id == playing
                and job.key.chunk_index == 0
                and job.key.preset != current
                else "neighbour"
                if job.key.track_id != playing and job.key.chunk_index < 0
                else "other"
                for job in jobs
            ]

        wait_for(lambda: "playhead" in queued() and "neighbour" in queued())
        order = queued()
        assert max(n for n, what in enumerate(order) if what == "playhead") < order.index(
            "neighbour"
        )
    finally:
        engine.close()


def test_the_streaming_analysis_reads_the_playing_track_and_the_next_only(
    tmp_path: Path,
) -> None:
    """Reading a track costs about 1% of its length: the next track is read ahead, the
    next-but-one and the previous (which are calibrated from their samples all the same)
    wait until they come next."""
    paths = [
        write_tone(tmp_path / f"{n}.wav", seconds=6.0, frequency=220 * (n + 1)) for n in range(4)
    ]
    engine = engine_on(paths)
    try:
        tracks = [engine.store.get(track) for track in engine.tracks()]
        wait_for(
            lambda: all(
                engine.analyses.whole_loudness(t.content_key) is not None for t in tracks[:2]
            )
        )
        wait_for(engine.analyses.idle)
        assert [engine.analyses.result(t.content_key) is not None for t in tracks] == [
            True,
            True,
            False,
            False,
        ]
        engine.next_track()  # the next one comes next: its own next is read now
        wait_for(lambda: engine.analyses.whole_loudness(tracks[2].content_key) is not None)
    finally:
        engine.close()


def test_play_a_seek_and_a_skip_are_planned_at_once_not_at_the_next_tick(
    tmp_path: Path,
) -> None:
    """The upkeep loop's tick may be long while nothing is in flight: play and a command
    that moves the playhead wake it, and its plan starts where the music is going (the
    switch targets' chunks under the playhead, before the next track's preparation)."""
    paths = [write_tone(tmp_path / f"{n}.wav", seconds=40.0) for n in range(2)]
    engine = engine_on(paths, plan_interval_seconds=3600.0)
    try:
        engine.workers.pause()  # the queue is read as it stands
        first, second = (track.id for track in engine.tracks())
        playing = engine.snapshot().requested_preset

        def planned(track_id: str, chunk: int, other_than: str = "") -> bool:
            return any(
                not job.cancelled
                and job.key.track_id == track_id
                and job.key.chunk_index == chunk
                and job.key.preset != other_than
                for job in list(engine.workers._queue)
            )

        engine.play()  # the feed asks for the preset playing at once, without a plan
        wait_for(lambda: planned(first, 0, other_than=playing))
        engine.seek(31.0)
        wait_for(lambda: planned(first, 3))
        engine.next_track()
        wait_for(lambda: planned(second, 0))
    finally:
        engine.close()
