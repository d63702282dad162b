"""Interaction traces: exact format, strict reading with line numbers, a recorder that never
gets in the way of playback."""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.errors import TierplayError
from engine.persist.trace import (
    EVENT_FIELDS,
    MAX_REPORTED_PROBLEMS,
    TraceError,
    TraceEvent,
    TraceUnreadable,
    read_trace,
    write_trace,
)
from engine.persist.trace_recorder import TraceRecorder
from tests.helpers.clocks import FakeClock

DESIGN_EVENTS = [
    TraceEvent.open(0.0, ["a.flac", "sub/b.ogg"]),
    TraceEvent.play(0.0),
    TraceEvent.preset(12.5, "punchy"),
    TraceEvent.seek(30.0, 95.0),
    TraceEvent.seek_relative(31.0, -5.0),
    TraceEvent.intensity(40.0, 0.6),
    TraceEvent.volume(50.0, 0.8),
    TraceEvent.pause(60.0),
    TraceEvent.play(61.0),
    TraceEvent.next(70.0),
    TraceEvent.prev(80.0),
    TraceEvent.end(600.0),
]
"""The design's example, line for line."""
ADDED_EVENTS = [
    TraceEvent.track(90.0, 2),
    TraceEvent(91.0, "repeat", mode="all"),
    TraceEvent(92.0, "shuffle", on=True, seed=7),
    TraceEvent(93.0, "scope", mode="album", index=1),
    TraceEvent(94.0, "enqueue", index=3, play_next=True),
    TraceEvent(95.0, "dequeue", place=0),
    TraceEvent(96.0, "move", place=1, steps=-1),
]
"""The events added since the design's example: a track chosen in the library, and the
queue and its modes."""
EVERY_KIND = [*DESIGN_EVENTS[:-1], *ADDED_EVENTS, DESIGN_EVENTS[-1]]

DESIGN_EXAMPLE = """\
{"t": 0.0, "event": "open", "paths": ["a.flac", "sub/b.ogg"]}
{"t": 0.0, "event": "play"}
{"t": 12.5, "event": "preset", "preset": "punchy"}
{"t": 30.0, "event": "seek", "position": 95.0}
{"t": 31.0, "event": "seek_relative", "delta": -5.0}
{"t": 40.0, "event": "intensity", "value": 0.6}
{"t": 50.0, "event": "volume", "value": 0.8}
{"t": 60.0, "event": "pause"}
{"t": 61.0, "event": "play"}
{"t": 70.0, "event": "next"}
{"t": 80.0, "event": "prev"}
{"t": 600.0, "event": "end"}
"""


# -- the format --------------------------------------------------------------------------------


def test_every_event_kind_is_covered() -> None:
    assert {event.event for event in EVERY_KIND} == set(EVENT_FIELDS)


def test_lines_are_exactly_the_documented_ones() -> None:
    written = "".join(event.to_json_line() + "\n" for event in DESIGN_EVENTS)
    assert written == DESIGN_EXAMPLE
    assert TraceEvent.track(90.0, 2).to_json_line() == '{"t": 90.0, "event": "track", "index": 2}'


def test_write_then_read_gives_the_same_events(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    write_trace(path, EVERY_KIND)
    trace = read_trace(path)
    assert list(trace) == EVERY_KIND
    assert len(trace) == len(EVERY_KIND)
    assert trace.duration_seconds == 600.0


def test_json_shaped_values_are_normalised() -> None:
    event = TraceEvent.from_fields(3, "seek", {"position": 95})
    assert event == TraceEvent.seek(3.0, 95.0)
    assert event.to_json_line() == '{"t": 3.0, "event": "seek", "position": 95.0}'
    assert TraceEvent.from_fields(0, "open", {"paths": ["x"]}).paths == ("x",)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: TraceEvent.preset(1.0, "Loud Mix"), "'Loud Mix' is not a preset name"),
        (lambda: TraceEvent.volume(1.0, 1.5), "in [0, 1]"),
        (lambda: TraceEvent(1.0, "repeat", mode="twice"), "mode must be one of off, all, one"),
        (lambda: TraceEvent(1.0, "shuffle", on=1, seed=2), "on must be true or false"),  # type: ignore[arg-type]
        (lambda: TraceEvent(1.0, "move", place=-1, steps=1), "place must be a whole number"),
        (lambda: TraceEvent(1.0, "scope", mode="all", index=0), "one of library, album, folder"),
        (lambda: TraceEvent.seek(1.0, -2.0), ">= 0"),
        (lambda: TraceEvent.play(float("nan")), "finite"),
        (lambda: TraceEvent.play(-1.0), "negative"),
        (lambda: TraceEvent.open(0.0, []), "empty"),
        (lambda: TraceEvent(1.0, "play", value=0.5), "unexpected key 'value'"),
        (lambda: TraceEvent(1.0, "seek"), "needs 'position'"),
        (lambda: TraceEvent(1.0, "rewind"), "unknown event"),
        (lambda: TraceEvent.track(1.0, -1), "whole number >= 0"),
        (lambda: TraceEvent.from_fields(1.0, "track", {"index": 1.5}), "whole number >= 0"),
        (lambda: TraceEvent.from_fields(1.0, "track", {"index": True}), "whole number >= 0"),
    ],
)
def test_an_invalid_event_cannot_be_built(make: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        make()


# -- reading -----------------------------------------------------------------------------------


def test_the_design_example_reads_from_lines_and_bytes() -> None:
    assert list(read_trace(DESIGN_EXAMPLE.splitlines())) == DESIGN_EVENTS
    encoded = [line.encode() + b"\r\n" for line in DESIGN_EXAMPLE.splitlines()]
    assert list(read_trace(encoded)) == DESIGN_EVENTS


def test_blank_lines_are_allowed_and_still_counted() -> None:
    lines = ["", '{"t": 0.0, "event": "play"}', "   ", "\t", '{"t": 1.0, "event": "bogus"}']
    with pytest.raises(TraceError) as caught:
        read_trace(lines)
    assert caught.value.line_number == 5
    assert len(read_trace(lines[:4])) == 1


def test_an_empty_trace_is_valid() -> None:
    assert len(read_trace([])) == 0
    assert read_trace(["", ""]).duration_seconds == 0.0


GOOD = '{"t": 1.0, "event": "play"}'


@pytest.mark.parametrize(
    ("bad_line", "fragment"),
    [
        ('{"t": 2.0, "event": "play"', "not valid JSON"),
        ("not json at all", "not valid JSON"),
        ('[2.0, "play"]', "expected a JSON object, not list"),
        ('"play"', "expected a JSON object, not str"),
        ('{"event": "play"}', "missing 't'"),
        ('{"t": 2.0}', "missing 'event'"),
        ('{"t": NaN, "event": "play"}', "t must be a finite number"),
        ('{"t": Infinity, "event": "play"}', "t must be a finite number"),
        ('{"t": 1e999, "event": "play"}', "t must be a finite number"),
        ('{"t": "2.0", "event": "play"}', "t must be a finite number"),
        ('{"t": true, "event": "play"}', "t must be a finite number"),
        ('{"t": -2.0, "event": "play"}', "negative"),
        ('{"t": 0.5, "event": "play"}', "earlier than a previous event"),
        ('{"t": 2.0, "event": "rewind"}', "unknown event 'rewind'"),
        ('{"t": 2.0, "event": 7}', "event must be a string"),
        ('{"t": 2.0, "event": "preset", "preset": "loud"}', "unknown preset 'loud'"),
        ('{"t": 2.0, "event": "preset", "preset": 3}', "3 is not a preset name"),
        ('{"t": 2.0, "event": "preset"}', "'preset' needs 'preset'"),
        ('{"t": 2.0, "event": "intensity", "value": 1.2}', "value must be in [0, 1]"),
        ('{"t": 2.0, "event": "volume", "value": -0.1}', "value must be in [0, 1]"),
        ('{"t": 2.0, "event": "volume", "value": "loud"}', "must be a finite number"),
        ('{"t": 2.0, "event": "seek", "position": -1}', "position must be >= 0"),
        ('{"t": 2.0, "event": "seek", "position": null}', "must be a finite number"),
        ('{"t": 2.0, "event": "seek_relative", "delta": NaN}', "must be a finite number"),
        ('{"t": 2.0, "event": "open", "paths": "a.flac"}', "paths must be a list of strings"),
        ('{"t": 2.0, "event": "open", "paths": ["a.flac", 3]}', "paths must be non-empty"),
        ('{"t": 2.0, "event": "open", "paths": []}', "paths must not be empty"),
        ('{"t": 2.0, "event": "play", "preset": "warm"}', "unexpected key 'preset'"),
        ('{"t": 2.0, "event": "seek", "postion": 5.0}', "unexpected key 'postion'"),
        ('{"t": 2.0, "event": "play", "t": 3.0}', "duplicate key 't'"),
    ],
)
def test_each_malformed_line_is_reported_with_its_number(bad_line: str, fragment: str) -> None:
    lines = [GOOD, "", bad_line, '{"t": 9.0, "event": "pause"}']
    with pytest.raises(TraceError) as caught:
        read_trace(lines)
    error = caught.value
    assert isinstance(error, TierplayError)
    assert error.line_number == 3
    assert fragment in error.message
    assert str(error).startswith("line 3: ")
    assert len(error.problems) == 1


def test_bytes_that_are_not_utf8_are_reported() -> None:
    with pytest.raises(TraceError) as caught:
        read_trace([GOOD.encode(), b'{"t": 2.0, "event": "pl\xffay"}'])
    assert caught.value.line_number == 2
    assert "UTF-8" in caught.value.message


def test_nothing_may_follow_end() -> None:
    lines = [GOOD, '{"t": 2.0, "event": "end"}', '{"t": 3.0, "event": "play"}']
    with pytest.raises(TraceError) as caught:
        read_trace(lines)
    assert caught.value.line_number == 3
    assert "after 'end' (line 2)" in caught.value.message


def test_a_trace_without_end_is_valid() -> None:
    assert [event.event for event in read_trace([GOOD])] == ["play"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(
        "\n".join(
            [
                GOOD,
                '{"t": 2.0, "event": "rewind"}',
                GOOD.replace("1.0", "0.5"),
                '{"t": 3.0, "event": "volume", "value": 2}',
                '{"t": 4.0, "event": "pause"}',
                "oops",
            ]
        )
    )
    with pytest.raises(TraceError) as caught:
        read_trace(path)
    error = caught.value
    assert [problem.line_number for problem in error.problems] == [2, 3, 4, 6]
    assert error.source == str(path)
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{path}: line 2: unknown event 'rewind'")
    assert "line 3: " in message and "line 4: " in message and "and 1 more" in message
    assert not error.truncated


def test_a_decrease_is_reported_once_not_for_every_later_line() -> None:
    times = [1.0, 5.0, 2.0, 6.0, 7.0]
    lines = [json.dumps({"t": t, "event": "play"}) for t in times]
    with pytest.raises(TraceError) as caught:
        read_trace(lines)
    assert [problem.line_number for problem in caught.value.problems] == [3]


def test_reading_stops_after_the_problem_limit() -> None:
    lines = ['{"t": 1.0, "event": "rewind"}'] * (MAX_REPORTED_PROBLEMS + 5)
    with pytest.raises(TraceError) as caught:
        read_trace(lines)
    assert len(caught.value.problems) == MAX_REPORTED_PROBLEMS
    assert caught.value.truncated
    assert "stopped reading" in str(caught.value)


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TraceUnreadable, match="cannot be read"):
        read_trace(tmp_path / "missing.jsonl")
    with pytest.raises(TraceUnreadable):
        read_trace(tmp_path)


def test_write_trace_refuses_what_read_trace_would_refuse(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with pytest.raises(TraceError) as caught:
        write_trace(path, [TraceEvent.play(5.0), TraceEvent.pause(4.0)])
    assert caught.value.line_number == 2
    assert not path.exists()


# -- recording ---------------------------------------------------------------------------------


def test_recorder_writes_times_from_its_start_rounded_to_milliseconds(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "rec.jsonl"
    recorder = TraceRecorder(path, clock=clock)
    recorder.record("play")
    clock.now += 12.34567
    recorder.record("preset", preset="punchy")
    clock.now -= 5.0  # a clock that steps back must not make the trace go backwards
    recorder.record("seek", position=10)
    recorder.close()
    events = list(read_trace(path))
    assert events == [
        TraceEvent.play(0.0),
        TraceEvent.preset(12.346, "punchy"),
        TraceEvent.seek(12.346, 10.0),
        TraceEvent.end(12.346),
    ]
    assert recorder.error is None and not recorder.recording


def test_recorder_flushes_every_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    clock = FakeClock()
    recorder = TraceRecorder(path, clock=clock)
    for step in range(3):
        clock.now += 1.0
        recorder.record("volume", value=0.5)
        assert len(path.read_text().splitlines()) == step + 1  # readable before close
    assert [event.t for event in read_trace(path)] == [1.0, 2.0, 3.0]
    recorder.close(end=False)
    assert [event.event for event in read_trace(path)] == ["volume"] * 3


def test_recorder_writes_paths_relative_to_the_library_root(tmp_path: Path) -> None:
    root = tmp_path / "music"
    (root / "sub").mkdir(parents=True)
    elsewhere = tmp_path / "other" / "c.wav"
    path = tmp_path / "rec.jsonl"
    with TraceRecorder(path, clock=FakeClock(), library_root=root) as recorder:
        recorder.record("open", paths=[root / "a.flac", str(root / "sub" / "b.ogg"), elsewhere])
        recorder.record("open", paths=[root, root / "sub" / ".." / "a.flac"])
    first, second, _end = read_trace(path)
    assert first.paths == ("a.flac", "sub/b.ogg", str(elsewhere))
    assert second.paths == (".", "a.flac")


def test_recorder_without_a_root_writes_absolute_paths(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    with TraceRecorder(tmp_path / "rec.jsonl") as recorder:
        recorder.record("open", paths=["a.flac"])
    (opened, _end) = read_trace(tmp_path / "rec.jsonl")
    assert opened.paths == (str(tmp_path / "a.flac"),)


def test_recorder_keeps_invalid_events_out_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with TraceRecorder(path, clock=FakeClock()) as recorder:
        recorder.record("preset", preset="Loud Mix")
        recorder.record("rewind")
        recorder.record("play")
        recorder.record("preset", preset="loud")  # a listener's own preset is recorded
    assert [event.event for event in read_trace(path, presets=("loud",))] == [
        "play",
        "preset",
        "end",
    ]
    assert len(recorder.rejected) == 2
    assert "'Loud Mix' is not a preset name" in recorder.rejected[0]


@pytest.mark.parametrize("where", ["missing-folder/rec.jsonl", "."])
def test_recorder_on_an_unwritable_path_reports_and_never_raises(
    tmp_path: Path, where: str
) -> None:
    recorder = TraceRecorder(tmp_path / where, clock=FakeClock())
    assert isinstance(recorder.error, OSError)
    assert not recorder.recording
    recorder.record("play")
    recorder.record("preset", preset="warm")
    recorder.close()


class _FullDisk:
    """A text file whose writes fail once `room` lines have been written."""

    def __init__(self, path: Path, room: int) -> None:
        self._handle = path.open("w", encoding="utf-8")
        self._room = room

    def write(self, text: str) -> int:
        if self._room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= 1
        return self._handle.write(text)

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def test_recorder_stops_quietly_when_the_disk_fills(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "rec.jsonl"
    monkeypatch.setattr(
        "engine.persist.trace_recorder.open",
        lambda *_args, **_kwargs: _FullDisk(path, room=2),
        raising=False,
    )
    recorder = TraceRecorder(path, clock=FakeClock())
    recorder.record("play")
    recorder.record("preset", preset="warm")
    recorder.record("preset", preset="bright")  # no room: recording stops here
    recorder.record("pause")
    recorder.close()
    assert recorder.error is not None and recorder.error.errno == errno.ENOSPC
    assert not recorder.recording
    assert [event.event for event in read_trace(path)] == ["play", "preset"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_recorder_on_a_real_full_device() -> None:
    recorder = TraceRecorder("/dev/full", clock=FakeClock())
    recorder.record("play")
    assert recorder.error is not None and recorder.error.errno == errno.ENOSPC
    recorder.close()


def test_recorder_is_safe_to_share_between_threads(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = TraceRecorder(path)

    def listener() -> None:
        for _ in range(200):
            recorder.record("intensity", value=0.5)

    threads = [threading.Thread(target=listener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    events = list(read_trace(path))
    assert len(events) == 801 and events[-1].event == "end"
