"""The listener's presets in the engine: added presets play and are predicted like the
built-ins, and an edited file is followed while playing (only what changed is dropped; the
playing preset switches to its new chain; an invalid edit keeps the last good)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import Engine, EngineConfig
from engine.errors import UnknownPreset
from engine.observe.memory import MemoryReading
from engine.playback.sinks.output import NullSink
from engine.vocabulary import PRESET_ORDER
from tests.helpers.audio_files import write_tone
from tests.helpers.polling import wait_for as poll_until

RATE = 44_100
SPEED = 4.0
wait_for = partial(poll_until, timeout=60.0)
AIRY = """
[[preset]]
name = "airy"
key = "y"
description = "more air"
eq = [{ type = "high_shelf", frequency_hz = 8000, gain_db = 6 }]
"""
WARM_MINE = """
[[preset]]
name = "warm"
description = "my warm"
eq = [{ type = "low_shelf", frequency_hz = 200, gain_db = 6 }]
"""


def write(path: Path, text: str) -> None:
    """Write and move the modification time on, so an edit in the same clock tick shows."""
    before = path.stat().st_mtime_ns if path.exists() else time.time_ns()
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


@pytest.fixture
def presets_file(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "presets.toml"
    path.parent.mkdir()
    write(path, AIRY)
    return path


@pytest.fixture
def engine(tmp_path: Path, presets_file: Path) -> Iterator[Engine]:
    music = tmp_path / "music"
    music.mkdir()
    write_tone(music / "long.wav", seconds=60.0, frequency=220.0)
    made = Engine(
        EngineConfig(state_dir=tmp_path / "state", presets_file=presets_file),
        sink=NullSink(RATE, 1024, speed=SPEED, ring_frames=RATE),
        interaction_clock=lambda: time.monotonic() * SPEED,
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )
    made.open([music])
    yield made
    made.close()


def cached(engine: Engine, preset: str) -> int:
    contents = engine.contents()
    return sum(
        entry["preset"] == preset
        for tier in ("l1_entries", "l2_entries", "l3_entries")
        for entry in contents[tier]
    )


def logged(engine: Engine, text: str) -> bool:
    return any(text in line for line in engine.snapshot().messages)


def test_a_listeners_preset_plays_is_predicted_and_shown(engine: Engine) -> None:
    assert engine.presets.order == (*PRESET_ORDER, "airy")
    assert [p.name for p in engine.snapshot().presets] == [*PRESET_ORDER, "airy"]
    engine.play()
    engine.set_preset("airy")
    wait_for(lambda: engine.snapshot().preset == "airy")
    assert any(p["preset"] == "warm" for p in engine.predictions()["predictions"])
    assert engine.predictor.presets[-1] == "airy"
    wait_for(lambda: cached(engine, "airy") > 0)
    with pytest.raises(UnknownPreset, match="airy"):
        engine.set_preset("nowhere")


def test_an_edit_drops_only_what_changed_and_the_playing_preset_switches_to_it(
    engine: Engine, presets_file: Path
) -> None:
    engine.play()
    engine.set_preset("warm")
    wait_for(lambda: engine.snapshot().preset == "warm")
    others = [p for p in engine.presets.order if p not in ("warm", "original")]
    wait_for(lambda: cached(engine, "warm") > 0 and any(cached(engine, p) for p in others))
    switches = len(engine.switches())

    write(presets_file, AIRY + WARM_MINE)
    wait_for(lambda: logged(engine, "presets: warm changed"))
    assert engine.presets.get("warm").description == "my warm"
    assert any(cached(engine, p) for p in others), "unchanged presets keep their chunks"
    wait_for(lambda: any(s.target == "warm" == s.source for s in engine.switches()[switches:]))
    redefined = next(s for s in engine.switches()[switches:] if s.source == "warm")
    wait_for(lambda: redefined.latency_ms is not None)  # heard, through the usual switch
    assert engine.snapshot().preset == "warm"


def test_an_invalid_edit_keeps_the_last_good_presets_and_says_why(
    engine: Engine, presets_file: Path
) -> None:
    write(presets_file, AIRY.replace("gain_db = 6", "gain_db = 60"))
    wait_for(lambda: logged(engine, "the edit was not taken"))
    line = next(x for x in engine.snapshot().messages if "not taken" in x)
    assert f"{presets_file}:6: preset 'airy' eq[1].gain_db" in line
    assert engine.presets.get("airy").eq[0].gain_db == 6.0


def test_a_removed_preset_that_plays_gives_way_to_the_original(
    engine: Engine, presets_file: Path
) -> None:
    engine.play()
    engine.set_preset("airy")
    wait_for(lambda: engine.snapshot().preset == "airy")
    write(presets_file, "")
    wait_for(lambda: logged(engine, "presets: airy removed"))
    wait_for(lambda: engine.snapshot().preset == "original")
    assert engine.presets.order == PRESET_ORDER
    assert cached(engine, "airy") == 0


def test_a_preset_that_changes_nothing_here_is_said_to(tmp_path: Path) -> None:
    music = tmp_path / "noise"
    music.mkdir()
    rng = np.random.default_rng(5)
    sf.write(music / "noise.wav", 0.1 * rng.standard_normal((20 * RATE, 2)), RATE)
    presets_file = tmp_path / "presets.toml"
    barely = (
        '[[preset]]\nname = "barely"\neq = [{type = "peak", frequency_hz = 1e3, gain_db = 0.2}]'
    )
    write(presets_file, AIRY + barely)
    engine = Engine(
        EngineConfig(state_dir=tmp_path / "state", presets_file=presets_file),
        sink=NullSink(RATE, 1024, speed=SPEED, ring_frames=RATE),
        memory_reader=lambda: MemoryReading(200_000_000, 0.6),
    )
    try:
        engine.open([music])
        assert engine.wait_until_prepared(60)
        engine.set_preset("barely")
        wait_for(lambda: engine.snapshot().sounds_like == "original")
        engine.set_preset("airy")
        wait_for(lambda: engine.snapshot().requested_preset == "airy")
        assert engine.snapshot().sounds_like is None
    finally:
        engine.close()
