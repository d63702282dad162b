"""What a track calibrates before it is needed: every preset while the listener may switch,
only the one playing once the listener has settled (a rare switch calibrates its own)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from engine import Engine, EngineConfig
from engine.observe.memory import MemoryReading
from engine.playback.sinks.output import NullSink
from engine.vocabulary import PROCESSED_PRESETS
from tests.helpers.audio_files import write_tone
from tests.helpers.polling import wait_for as poll_until

RATE = 44_100
wait_for = partial(poll_until, timeout=120.0)


@pytest.fixture
def two_tracks(tmp_path: Path) -> list[Path]:
    return [
        write_tone(tmp_path / "01-low.wav", seconds=60.0, frequency=220.0),
        write_tone(tmp_path / "02-high.wav", seconds=60.0, frequency=880.0),
    ]


def engine_playing_warm(paths: list[Path], settled: bool) -> Engine:
    """An engine asked for warm, its listener settled (many chunks heard without a
    switch) or new, with `paths` opened and playing in real time (a minute a track)."""
    engine = Engine(
        EngineConfig(),
        sink=NullSink(RATE, 1024),
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )
    if settled:
        for _ in range(30):
            engine.planner.predictor.observe_chunk_played()
    engine.set_preset("warm")
    engine.open(paths)
    engine.play()
    return engine


def calibrated(engine: Engine, index: int) -> list[str]:
    """The processed presets calibrated on the `index`th track, once the workers idle."""
    wait_for(engine.workers.idle)
    renderer = engine.feed.renderer
    assert renderer is not None
    source = engine.store.get(engine.tracks()[index])
    return [p for p in sorted(PROCESSED_PRESETS) if renderer.is_prepared(source, p)]


def test_a_listener_who_may_switch_has_every_preset_calibrated(two_tracks: list[Path]) -> None:
    engine = engine_playing_warm(two_tracks, settled=False)
    try:
        assert engine.wait_until_prepared(timeout=120.0)
        assert calibrated(engine, 0) == sorted(PROCESSED_PRESETS)
        snapshot = engine.snapshot()
        assert snapshot.presets_ready == snapshot.presets_total == len(PROCESSED_PRESETS)
    finally:
        engine.close()


def test_a_settled_listener_calibrates_the_preset_playing_and_a_switch_its_own(
    two_tracks: list[Path],
) -> None:
    """Nothing is calibrated for switches that are not coming, on the track or the next;
    a switch then calibrates its preset, which plays once it is."""
    engine = engine_playing_warm(two_tracks, settled=True)
    try:
        assert engine.wait_until_prepared(timeout=120.0)
        assert calibrated(engine, 0) == ["warm"]
        assert calibrated(engine, 1) == ["warm"]
        snapshot = engine.snapshot()  # the screen says "playing", not "preparing presets"
        assert (snapshot.presets_ready, snapshot.presets_total) == (1, 1)
        engine.set_preset("bright")
        assert engine.wait_until_prepared(timeout=120.0)  # bright, asked for, is included
        assert calibrated(engine, 0) == ["bright", "warm"]
        snapshot = engine.snapshot()
        assert (snapshot.presets_ready, snapshot.presets_total) == (2, 2)
        wait_for(lambda: engine.snapshot().preset == "bright")
        assert engine.workers.metrics().failures == 0
    finally:
        engine.close()
