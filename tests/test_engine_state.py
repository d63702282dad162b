"""What outlives a session, through the real engine: the learned model and the settings,
state files that cannot be used, saves that fail, and the trace of every command.

Learning needs a preset held 500 ms on the listener's clock; a hand-moved clock makes that
instant. Playback checks use a null sink consuming at 10x real time.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from engine import Engine, EngineConfig
from engine.persist.state import STATE_FILENAME, STATE_VERSION
from engine.persist.trace import read_trace
from engine.playback.sinks.output import NullSink
from engine.vocabulary import PRESET_ORDER
from tests.helpers.audio_files import SAMPLE_AUDIO, write_tone
from tests.helpers.clocks import FakeClock
from tests.helpers.polling import wait_for as poll_until

wait_for = partial(poll_until, timeout=5.0)
SPEED = 10.0


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    for number, frequency in enumerate((220.0, 330.0)):
        write_tone(folder / f"{number}_tone.wav", seconds=20.0, frequency=frequency, channels=1)
    return folder


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines a test makes; each is closed at the end even if the test fails (close twice
    is harmless)."""
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.close()


def make_engine(
    made: list[Engine],
    state_dir: Path | None,
    clock: FakeClock,
    speed: float = 0.0,
    state_save_seconds: float = 30.0,
) -> Engine:
    engine = Engine(
        EngineConfig(state_dir=state_dir, state_save_seconds=state_save_seconds),
        sink=NullSink(44_100, 1024, speed=speed),
        interaction_clock=clock,
    )
    made.append(engine)
    return engine


def failed_saves(engine: Engine) -> int:
    """Every failed save is counted in the error log, told or not."""
    return sum(entry.count for entry in engine.errors.entries() if entry.kind == "state")


def messages(engine: Engine, fragment: str) -> list[str]:
    return [m for m in engine.snapshot().messages if fragment in m]


def predictions_made(engine: Engine) -> int:
    count = engine.stats()["prediction"]["predictions_made"]
    assert isinstance(count, int)
    return count


def wait_until_learned(engine: Engine, count: int) -> None:
    """The maintenance thread has learned `count` switches in all."""
    wait_for(lambda: predictions_made(engine) == count)


def assert_plays(engine: Engine, library: Path) -> None:
    """Playback starts and the sink keeps consuming."""
    if not engine.tracks():
        engine.open([library])
    engine.play()
    start = engine.snapshot().position_seconds
    wait_for(lambda: engine.snapshot().position_seconds > start + 1.0)
    assert engine.snapshot().playing


# -- round trip ------------------------------------------------------------------------------


def test_the_model_and_settings_come_back_in_the_next_session(
    tmp_path: Path, library: Path, engines: list[Engine]
) -> None:
    state_dir = tmp_path / "state"
    clock = FakeClock()
    first = make_engine(engines, state_dir, clock)
    first.open([library])
    for number, preset in enumerate(["warm", "bright", "warm", "punchy"], start=1):
        first.set_preset(preset)
        clock.advance(0.6)
        wait_until_learned(first, number)
    first.set_volume(0.4)
    first.set_intensity(0.65)
    first.set_preset("gentle")  # chosen last: restored, though not held long enough to learn
    first.close()
    assert predictions_made(first) == 4
    saved = json.loads((state_dir / STATE_FILENAME).read_text(encoding="utf-8"))
    assert saved["settings"] == {
        "preset": "gentle",
        "intensity": 1.0,  # gentle's own: the 0.65 was set on punchy
        "intensities": {"punchy": 0.65},
        "volume": 0.4,
        "track": str((library / "0_tone.wav").absolute()),
        "position": 0.0,
        "queue": {
            "repeat": "off",
            "shuffle": False,
            "scope": "library",
            "scope_track": None,
            "up_next": [],
        },
        "view": {},
    }

    second_clock = FakeClock(50.0)
    second = make_engine(engines, state_dir, second_clock, speed=SPEED)
    snapshot = second.snapshot()
    assert (snapshot.preset, snapshot.requested_preset) == ("gentle", "gentle")
    assert snapshot.volume == pytest.approx(0.4)
    assert snapshot.intensity == pytest.approx(1.0)
    assert second.feed.requested.bucket == second.config.intensity_bucket(1.0)
    assert second.stats()["prediction"]["switches_in_session"] == 0  # a start, not a switch
    assert second.switches() == []
    assert snapshot.messages == ()
    for current in PRESET_ORDER:
        for features in (None, (0.2, 0.4, 0.6, 0.8, 0.5)):
            expected = first.predictor.distribution(current, features)
            assert second.predictor.distribution(current, features) == pytest.approx(
                expected, rel=1e-12, abs=1e-15
            )
    assert second.predictor.view("gentle").learned_switches == 4

    # The next switch is learned from the restored preset.
    before = second.predictor.state()["experts"]["markov"]["counts"]["gentle"]["bright"]
    second.set_preset("bright")
    second_clock.advance(0.6)
    wait_until_learned(second, 1)
    after = second.predictor.state()["experts"]["markov"]["counts"]["gentle"]["bright"]
    assert after > before
    second.set_preset("punchy")  # with the intensity it was left at
    assert second.snapshot().intensity == pytest.approx(0.65)
    assert second.feed.requested.bucket == second.config.intensity_bucket(0.65)
    assert_plays(second, library)


def test_the_next_session_resumes_the_track_and_position_it_stopped_at(
    tmp_path: Path, library: Path, engines: list[Engine]
) -> None:
    state_dir = tmp_path / "state"
    first = make_engine(engines, state_dir, FakeClock())
    tracks = first.open([library])
    first.next_track()
    first.seek(7.0)
    wait_for(lambda: first.snapshot().position_seconds == pytest.approx(7.0, abs=0.05))
    first.close()

    second = make_engine(engines, state_dir, FakeClock(50.0))
    again = second.open([library])
    snapshot = second.snapshot()
    assert snapshot.track is not None and snapshot.track.path == tracks[1].path
    assert snapshot.position_seconds == pytest.approx(7.0, abs=0.05)
    assert not snapshot.playing  # resumed where it was, waiting for play
    assert messages(second, "resumed “1_tone” at 0:07")
    second.play()
    second.close()
    assert again[1].path == tracks[1].path

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_tone(elsewhere / "other.wav", seconds=5.0)
    third = make_engine(engines, state_dir, FakeClock(90.0))
    third.open([elsewhere])  # the track left off is not here: play from the start
    assert third.snapshot().position_seconds == 0.0
    assert not messages(third, "resumed")


@pytest.mark.parametrize("position", [-1.0, "7", None, True, float("inf")])
def test_a_saved_position_that_makes_no_sense_is_not_resumed(
    tmp_path: Path, library: Path, engines: list[Engine], position: object
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    track = str((library / "1_tone.wav").absolute())
    settings = {"preset": "warm", "track": track, "position": position}
    payload = {"version": STATE_VERSION, "saved_at": "2026-01-01T00:00:00Z", "settings": settings}
    (state_dir / STATE_FILENAME).write_text(json.dumps(payload), encoding="utf-8")
    engine = make_engine(engines, state_dir, FakeClock())
    engine.open([library])
    assert engine.snapshot().track == engine.tracks()[0]
    assert engine.snapshot().position_seconds == 0.0


# -- files that cannot be used ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "suffix", "reason"),
    [
        (b"\x00\xff{not json", "bad", "is not valid JSON"),
        (b"", "bad", "is not valid JSON"),
        (b"[1, 2, 3]", "bad", "is not a JSON object"),
        (b'{"settings": {"preset": "warm"}}', "bad", "has no valid version number"),
        (
            json.dumps({"version": STATE_VERSION + 98, "settings": {"preset": "warm"}}).encode(),
            f"newer-v{STATE_VERSION + 98}",
            "was written by a newer Tierplay",
        ),
    ],
    ids=["garbage", "empty", "list", "no-version", "newer"],
)
def test_an_unusable_state_file_is_set_aside_and_the_engine_starts_fresh(
    tmp_path: Path,
    library: Path,
    engines: list[Engine],
    content: bytes,
    suffix: str,
    reason: str,
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / STATE_FILENAME).write_bytes(content)
    engine = make_engine(engines, state_dir, FakeClock(), speed=SPEED)
    warnings = messages(engine, reason)
    assert len(warnings) == 1 and "started fresh" in warnings[0], engine.snapshot().messages
    aside = list(state_dir.glob(f"{STATE_FILENAME}.{suffix}-*"))
    assert len(aside) == 1 and aside[0].name in warnings[0]
    assert aside[0].read_bytes() == content
    assert not (state_dir / STATE_FILENAME).exists()
    snapshot = engine.snapshot()
    assert (snapshot.preset, snapshot.volume, snapshot.intensity) == ("original", 1.0, 1.0)
    assert engine.predictor.view("original").learned_switches == 0
    assert_plays(engine, library)

    engine.set_volume(0.7)
    engine.close()
    assert aside[0].read_bytes() == content  # the new save did not touch the old file
    saved = json.loads((state_dir / STATE_FILENAME).read_text(encoding="utf-8"))
    assert saved["version"] == STATE_VERSION and saved["settings"]["volume"] == 0.7


@pytest.mark.parametrize(
    "predictor",
    [{"format": 99}, [1, 2], "model", "huge-number"],
    ids=["other-format", "list", "string", "huge-number"],
)
def test_a_predictor_section_that_does_not_fit_is_learned_afresh(
    tmp_path: Path, engines: list[Engine], predictor: Any
) -> None:
    state_dir = tmp_path / "state"
    if predictor == "huge-number":  # valid JSON, too big for a float
        donor = make_engine(engines, tmp_path / "donor", FakeClock())
        predictor = donor.predictor.state()
        predictor["experts"]["markov"]["counts"]["warm"]["bright"] = 10**400
    state_dir.mkdir()
    document = {
        "version": STATE_VERSION,
        "predictor": predictor,
        "settings": {"preset": "warm", "volume": 0.5, "intensity": 0.3},
    }
    (state_dir / STATE_FILENAME).write_text(json.dumps(document), encoding="utf-8")
    engine = make_engine(engines, state_dir, FakeClock())
    assert len(messages(engine, "learning afresh")) == 1, engine.snapshot().messages
    snapshot = engine.snapshot()
    assert (snapshot.preset, snapshot.requested_preset) == ("warm", "warm")
    assert snapshot.volume == pytest.approx(0.5)
    assert snapshot.intensity == pytest.approx(0.3)
    assert engine.predictor.view("warm").learned_switches == 0


def test_an_intensity_restored_without_a_preset_is_what_the_feed_renders(
    tmp_path: Path, engines: list[Engine]
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    document = {"version": STATE_VERSION, "settings": {"preset": "nope", "intensity": 0.3}}
    (state_dir / STATE_FILENAME).write_text(json.dumps(document), encoding="utf-8")
    engine = make_engine(engines, state_dir, FakeClock())
    assert engine.snapshot().intensity == pytest.approx(0.3)
    assert engine.snapshot().requested_preset == "original"
    assert engine.feed.requested.bucket == engine.config.intensity_bucket(0.3)


# -- saves that fail -------------------------------------------------------------------------


def state_dir_under_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No directory can be made there, even by root (whom chmod does not stop)."""
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    return blocker / "sub"


def state_dir_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every write of the state file fails as on a full disk; other renames still work."""
    directory = tmp_path / "state"
    replace: Callable[..., None] = os.replace

    def full(source: Any, destination: Any, *args: Any, **kwargs: Any) -> None:
        if Path(destination).parent == directory:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        replace(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    return directory


@pytest.mark.parametrize(
    ("make_state_dir", "reason"),
    [(state_dir_under_a_file, "Not a directory"), (state_dir_on_a_full_disk, "No space left")],
    ids=["under-a-file", "disk-full"],
)
def test_a_failing_save_is_reported_once_and_playback_goes_on(
    tmp_path: Path,
    library: Path,
    engines: list[Engine],
    monkeypatch: pytest.MonkeyPatch,
    make_state_dir: Callable[[Path, pytest.MonkeyPatch], Path],
    reason: str,
) -> None:
    state_dir = make_state_dir(tmp_path, monkeypatch)
    engine = make_engine(engines, state_dir, FakeClock(), speed=SPEED, state_save_seconds=1.0)
    engine.open([library])
    # Two 20 s tracks last 4 s here: on a loaded machine they end before the failed saves
    # are counted, and playing on is then the next track.
    engine.set_repeat("all")
    engine.play()
    engine.set_volume(0.5)
    assert engine.save_state() is False
    engine.set_preset("warm")
    assert engine.save_state() is False
    assert engine.save_state() is False  # nothing new, but still not on disk
    failures = messages(engine, "state not saved")
    assert len(failures) == 1 and reason in failures[0], engine.snapshot().messages

    # The maintenance thread's periodic save fails the same way, quietly after the first time.
    tried = failed_saves(engine)
    wait_for(lambda: failed_saves(engine) >= tried + 3)
    before = engine.snapshot()

    def played_on() -> bool:
        now = engine.snapshot()
        assert now.track is not None and before.track is not None
        moved = now.position_seconds > before.position_seconds + 1.0
        return moved or now.track.id != before.track.id

    wait_for(played_on)  # still playing
    assert engine.snapshot().playing
    engine.close()
    assert len(messages(engine, "state not saved")) == 1
    assert messages(engine, "maintenance failed") == []
    assert not (state_dir / STATE_FILENAME).exists()


# -- recording -------------------------------------------------------------------------------


def test_every_command_is_recorded_in_order_with_library_relative_paths(
    tmp_path: Path, engines: list[Engine]
) -> None:
    clock = FakeClock()
    engine = make_engine(engines, None, clock)
    trace_path = tmp_path / "trace.jsonl"
    engine.record_to(trace_path, library_root=SAMPLE_AUDIO)
    files = [SAMPLE_AUDIO / "03_low_end_groove.flac", SAMPLE_AUDIO / "04_hum_line.flac"]
    commands: list[Callable[[], object]] = [
        lambda: engine.open(files),
        engine.play,
        lambda: engine.set_preset("warm"),
        lambda: engine.seek(12.5),
        lambda: engine.seek_relative(-2.0),
        lambda: engine.set_intensity(0.4),
        lambda: engine.set_volume(0.8),
        engine.next_track,
        engine.prev_track,
        engine.pause,
        engine.close,
    ]
    for command in commands:
        command()
        clock.advance(0.25)
    trace = read_trace(trace_path)
    assert [event.event for event in trace] == [
        "open",
        "play",
        "preset",
        "seek",
        "seek_relative",
        "intensity",
        "volume",
        "next",
        "prev",
        "pause",
        "end",
    ]
    events = trace.events
    assert events[0].paths == ("03_low_end_groove.flac", "04_hum_line.flac")
    assert events[2].preset_name == "warm"
    assert events[3].position == 12.5
    assert events[4].delta == -2.0
    assert (events[5].value, events[6].value) == (0.4, 0.8)
    # Times are on the listener's clock, from when recording started.
    assert [event.t for event in trace] == [0.25 * n for n in range(len(events))]
    assert not any("record" in m for m in engine.snapshot().messages)


def test_a_recording_started_mid_session_begins_where_the_session_is(
    tmp_path: Path, engines: list[Engine]
) -> None:
    """Started from the palette after the library opened, a trace still replays: it
    begins with the library, the track and position, the preset and the modes."""
    clock = FakeClock()
    engine = make_engine(engines, None, clock)
    engine.open([SAMPLE_AUDIO])
    engine.set_preset("warm")
    engine.set_repeat("all")
    engine.play_track(engine.tracks()[2].id)
    engine.seek(12.5)
    clock.advance(0.5)
    engine.pause()
    trace_path = tmp_path / "late.jsonl"
    engine.record_to(trace_path, library_root=SAMPLE_AUDIO.parent)
    engine.set_preset("bright")
    engine.close()
    events = [(e.event, e.payload()) for e in read_trace(trace_path)]
    assert events[:6] == [
        ("open", {"paths": ("sample_audio",)}),
        ("repeat", {"mode": "all"}),
        ("preset", {"preset": "warm"}),
        ("track", {"index": 2}),
        ("seek", {"position": events[4][1]["position"]}),
        ("pause", {}),
    ]
    assert 12.0 <= float(events[4][1]["position"]) <= 13.0  # type: ignore[arg-type]
    assert events[6:] == [("preset", {"preset": "bright"}), ("end", {})]


def test_recording_again_finishes_the_first_trace(tmp_path: Path, engines: list[Engine]) -> None:
    engine = make_engine(engines, None, FakeClock())
    engine.record_to(tmp_path / "one.jsonl")
    engine.set_volume(0.5)
    engine.record_to(tmp_path / "two.jsonl")
    engine.set_volume(0.6)
    engine.close()
    one, two = read_trace(tmp_path / "one.jsonl"), read_trace(tmp_path / "two.jsonl")
    assert [(e.event, e.value) for e in one] == [("volume", 0.5), ("end", None)]
    assert [(e.event, e.value) for e in two] == [("volume", 0.6), ("end", None)]


@pytest.mark.parametrize("target", ["missing-folder", "full-device"])
def test_a_recorder_that_cannot_write_reports_once_and_nothing_raises(
    tmp_path: Path, library: Path, engines: list[Engine], target: str
) -> None:
    if target == "full-device":
        path = Path("/dev/full")  # opens fine; every write fails with ENOSPC
        if not path.exists():
            pytest.skip("no /dev/full on this system")
    else:
        path = tmp_path / "missing" / "trace.jsonl"
    engine = make_engine(engines, None, FakeClock(), speed=SPEED)
    engine.record_to(path, library_root=library)
    engine.open([library])
    engine.set_preset("warm")
    engine.set_volume(0.9)
    engine.seek(1.0)
    engine.next_track()
    assert_plays(engine, library)
    engine.pause()
    engine.close()
    reports = [m for m in engine.snapshot().messages if "record" in m]
    assert len(reports) == 1, engine.snapshot().messages
    assert str(path) in reports[0] or "No space left" in reports[0]
    if target == "missing-folder":
        assert not path.parent.exists()
