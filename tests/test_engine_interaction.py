"""The interaction filter inside the real engine: a held seek key, presets inside the throttle
window, what the predictor learns, track changes, bad input.

The listener's gestures are timed on a hand-moved clock, so throttle and debounce windows
pass without real sleeps; the engine's maintenance thread still runs for real (it releases
held seeks and learns settled switches), so its effects are polled for. A hand-stepped null
sink with nothing playing keeps positions exact: a seek shows at once in the playhead.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from engine import Engine, EngineConfig
from engine.errors import TierplayError
from engine.playback.sinks.output import NullSink
from tests.helpers.audio_files import write_tone
from tests.helpers.clocks import FakeClock
from tests.helpers.polling import wait_for as poll_until

wait_for = partial(poll_until, timeout=5.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Three 40 s tones: long enough for a 30 s held seek, quick to write and analyse."""
    folder = tmp_path / "library"
    folder.mkdir()
    for number, frequency in enumerate((220.0, 330.0, 440.0)):
        write_tone(folder / f"{number}_tone.wav", seconds=40.0, frequency=frequency, channels=1)
    return folder


@pytest.fixture
def engine(clock: FakeClock, library: Path) -> Iterator[Engine]:
    engine = Engine(
        EngineConfig(),
        sink=NullSink(44_100, 1024, speed=0),
        interaction_clock=clock,
    )
    engine.open([library])
    yield engine
    engine.close()


def messages(engine: Engine, fragment: str) -> list[str]:
    return [m for m in engine.snapshot().messages if fragment in m]


def position(engine: Engine) -> float:
    return engine.snapshot().position_seconds


def predictions_made(engine: Engine) -> int:
    count = engine.stats()["prediction"]["predictions_made"]
    assert isinstance(count, int)
    return count


def seeks_applied(engine: Engine) -> int:
    """Positions the filter let through to the player (at once or released later)."""
    return engine.filter.counters().positions_applied


def markov_count(engine: Engine, source: str, target: str) -> float:
    count = engine.predictor.state()["experts"]["markov"]["counts"][source][target]
    assert isinstance(count, float)
    return count


# -- seeking ---------------------------------------------------------------------------------


def test_a_held_seek_key_loses_no_step_and_applies_few_seeks(
    engine: Engine, clock: FakeClock
) -> None:
    engine.seek(2.0)
    start = position(engine)
    assert start == pytest.approx(2.0)
    before = seeks_applied(engine)
    for _ in range(30):  # key repeat at 30 Hz
        clock.advance(0.033)
        engine.seek_relative(1.0)
    clock.advance(0.2)  # the key is let go: the last held target is due
    wait_for(lambda: engine.filter.pending_position() is None)
    assert position(engine) == pytest.approx(start + 30.0)
    applied = seeks_applied(engine) - before
    # One seek per 100 ms window at most: the feeder is not flooded.
    assert 2 <= applied <= 12, applied
    counters = engine.filter.counters()
    assert counters.positions == 31
    assert counters.throttled >= 30 - applied  # every press not applied was held

    clock.advance(0.2)  # a quiet window closes the burst
    wait_for(lambda: len(messages(engine, "throttled")) == 1)

    # A second press of the key is a second burst, reported once more.
    for _ in range(10):
        clock.advance(0.033)
        engine.seek_relative(-1.0)
    clock.advance(0.2)
    wait_for(lambda: engine.filter.pending_position() is None)
    clock.advance(0.2)
    wait_for(lambda: len(messages(engine, "throttled")) == 2)
    assert position(engine) == pytest.approx(start + 20.0)
    assert len(messages(engine, "throttled")) == 2


def test_a_step_taken_while_a_held_seek_is_released_is_not_lost(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The maintenance thread releasing a held target and a relative step reading the
    position must not interleave: the step would count from the old position."""
    seek: Callable[[float], None] = engine.player.seek

    def slow_seek(seconds: float) -> None:
        time.sleep(0.1)  # widens the gap between the release and the player moving
        seek(seconds)

    monkeypatch.setattr(engine.player, "seek", slow_seek)
    engine.seek_relative(1.0)  # applied at once
    clock.advance(0.03)
    engine.seek_relative(1.0)  # held: 2.0
    clock.advance(0.1)  # due: the maintenance thread takes it
    wait_for(lambda: engine.filter.pending_position() is None)
    engine.seek_relative(1.0)  # while the release is on its way to the player
    clock.advance(0.2)
    wait_for(lambda: engine.filter.pending_position() is None)
    wait_for(lambda: position(engine) == pytest.approx(3.0))


def test_a_preset_change_right_after_a_seek_is_never_lost(engine: Engine, clock: FakeClock) -> None:
    engine.seek(5.0)
    clock.advance(0.01)
    engine.seek(8.0)  # inside the window: held
    assert engine.filter.pending_position() == pytest.approx(8.0)
    clock.advance(0.01)
    engine.set_preset("warm")
    assert engine.snapshot().requested_preset == "warm"
    clock.advance(0.01)
    engine.set_intensity(0.35)
    assert engine.snapshot().intensity == pytest.approx(0.35)
    assert engine.feed.requested.bucket == engine.config.intensity_bucket(0.35)
    assert engine.snapshot().requested_preset == "warm"
    assert engine.stats()["prediction"]["switches_in_session"] == 1
    clock.advance(0.2)
    wait_for(lambda: position(engine) == pytest.approx(8.0))  # and the seek still lands
    counters = engine.filter.counters()
    assert (counters.presets, counters.intensities) == (1, 1)


def test_seeking_to_nan_is_refused_with_a_clear_message(engine: Engine, clock: FakeClock) -> None:
    engine.seek(4.0)
    clock.advance(0.01)
    engine.seek(6.0)  # held
    with pytest.raises(TierplayError, match="seek position must be a number"):
        engine.seek(math.nan)
    with pytest.raises(TierplayError, match="seek step must be a number"):
        engine.seek_relative(math.nan)
    assert engine.filter.pending_position() == pytest.approx(6.0)  # the held target is intact
    assert engine.filter.counters().positions == 2
    clock.advance(0.2)
    wait_for(lambda: position(engine) == pytest.approx(6.0))


# -- track changes ---------------------------------------------------------------------------


def test_track_changes_bypass_the_throttle_and_drop_a_held_seek(
    engine: Engine, clock: FakeClock
) -> None:
    before = seeks_applied(engine)
    engine.seek(5.0)
    clock.advance(0.02)
    engine.seek(9.0)  # held
    clock.advance(0.02)
    engine.next_track()  # inside the window, yet at once
    snapshot = engine.snapshot()
    assert (snapshot.track_index, snapshot.position_seconds) == (1, 0.0)
    assert engine.filter.pending_position() is None
    clock.advance(0.5)  # long past the window: the dropped target must not come back
    wait_for(lambda: len(messages(engine, "held seek to 9.0 s dropped")) == 1)
    snapshot = engine.snapshot()
    assert (snapshot.track_index, snapshot.position_seconds) == (1, 0.0)
    assert seeks_applied(engine) - before == 1  # 5.0 only
    assert engine.filter.counters().positions_dropped == 1

    engine.seek(3.0)  # the new track starts a new throttle window: applied at once
    assert position(engine) == pytest.approx(3.0)
    clock.advance(0.01)
    engine.seek(7.0)  # held
    clock.advance(0.01)
    engine.prev_track()
    snapshot = engine.snapshot()
    assert (snapshot.track_index, snapshot.position_seconds) == (0, 0.0)
    clock.advance(0.5)
    wait_for(lambda: len(messages(engine, "held seek to 7.0 s dropped")) == 1)
    assert position(engine) == 0.0
    assert seeks_applied(engine) - before == 2  # 5.0, then 3.0
    assert engine.filter.counters().track_changes == 2


# -- what the predictor learns ---------------------------------------------------------------


def test_a_preset_left_within_the_debounce_is_counted_but_not_learned(
    engine: Engine, clock: FakeClock
) -> None:
    engine.set_preset("warm")
    clock.advance(0.45)
    engine.set_preset("bright")  # warm left after 450 ms
    wait_for(lambda: len(messages(engine, "warm left after 450 ms: not learned")) == 1)
    assert predictions_made(engine) == 0
    assert engine.stats()["prediction"]["switches_in_session"] == 2
    assert engine.snapshot().requested_preset == "bright"

    clock.advance(0.5)  # bright held 500 ms: learned, from the preset settled before warm
    wait_for(lambda: predictions_made(engine) == 1)
    assert markov_count(engine, "original", "bright") == pytest.approx(1.0)
    assert markov_count(engine, "original", "warm") == 0.0
    assert markov_count(engine, "warm", "bright") == 0.0
    assert engine.stats()["prediction"]["switches_in_session"] == 2
    assert engine.filter.counters().learned == 1


def test_rapid_exploration_learns_only_the_preset_settled_on(
    engine: Engine, clock: FakeClock
) -> None:
    tried = list(itertools.islice(itertools.cycle(["warm", "bright", "punchy", "gentle"]), 12))
    for preset in tried:  # 12 changes in 0.88 s
        engine.set_preset(preset)
        clock.advance(0.08)
    wait_for(lambda: len(messages(engine, "rapid exploration:")) == 1)
    assert predictions_made(engine) == 0
    assert engine.filter.rapid()
    assert engine.stats()["prediction"]["switches_in_session"] == 12
    assert engine.snapshot().requested_preset == tried[-1]  # every change applied

    clock.advance(1.0)  # calm, and the last preset held 500 ms
    wait_for(lambda: predictions_made(engine) == 1)
    wait_for(lambda: len(messages(engine, "rapid exploration over")) == 1)
    assert markov_count(engine, "original", tried[-1]) == pytest.approx(1.0)
    learned = {
        (source, target)
        for source in ("original", *tried)
        for target in tried
        if markov_count(engine, source, target) > 0.0
    }
    assert learned == {("original", tried[-1])}
    clock.advance(2.0)  # nothing more is learned later on
    wait_for(lambda: engine.filter.counters().learned == 1 and not engine.filter.rapid())
    assert predictions_made(engine) == 1
    assert len(messages(engine, "rapid exploration:")) == 1
