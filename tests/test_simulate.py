"""`tierplay simulate`: a trace replayed through the real engine, and its one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.persist.trace import TraceEvent, read_trace, write_trace
from engine.vocabulary import PRESET_ORDER
from tests.helpers.audio_files import SAMPLE_AUDIO
from tui.cli import main

GOOD_TRACK_PAST_THE_END = '{"t": 1, "event": "track", "index": 9}'
REPLAY = ("simulate", "--library", str(SAMPLE_AUDIO), "--speed", "5")
TRACKS = sorted(p.name for p in SAMPLE_AUDIO.glob("*.flac"))


def short_session(path: Path) -> Path:
    """20 s of listening: switches (one back to the source), a seek, intensity, a skip, a
    track chosen from the library."""
    write_trace(
        path,
        [
            TraceEvent.open(0.0, TRACKS),
            TraceEvent.play(0.0),
            TraceEvent.preset(2.0, "warm"),
            TraceEvent.preset(5.0, "bright"),
            TraceEvent.seek(7.0, 12.0),
            TraceEvent.preset(9.0, "warm"),
            TraceEvent.intensity(11.0, 0.6),
            TraceEvent.preset(13.0, "original"),
            TraceEvent.next(15.0),
            TraceEvent.preset(16.0, "punchy"),
            TraceEvent.track(18.0, 0),
            TraceEvent.end(20.0),
        ],
    )
    return path


def test_simulate_json_has_the_documented_shape(tmp_path: Path, capsys) -> None:
    trace = short_session(tmp_path / "session.jsonl")
    code = main([*REPLAY, "--trace", str(trace), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {
        "stats",
        "predictions",
        "health",
        "switches",
        "seeks",
        "underruns",
        "renders",
        "skipped",
    }
    assert {"l1", "l2", "l3", "overall", "prediction"} <= set(result["stats"])
    assert result["stats"]["prediction"]["switches_in_session"] == 5
    assert [(s["from"], s["to"]) for s in result["switches"]] == [
        ("original", "warm"),
        ("warm", "bright"),
        ("bright", "warm"),
        ("warm", "warm"),  # the intensity change: same preset, new render
        ("warm", "original"),
        ("original", "punchy"),
    ]
    for switch in result["switches"]:
        assert switch["tier"] in ("l1", "l2", "l3", "miss", "source")
        assert switch["latency_ms"] is not None and switch["latency_ms"] >= 0
        assert 0.0 <= switch["t"] <= 20.0
    assert [round(s["t"]) for s in result["switches"]][:3] == [2, 5, 9]
    assert len(result["seeks"]) == 3  # the seek, the skip and the track chosen
    assert isinstance(result["underruns"], int)  # zero is asserted on stepped sinks (test_player)
    assert result["renders"] > 0
    assert result["skipped"] == []
    distribution = result["predictions"]["predictions"]
    assert {p["preset"] for p in distribution} == set(PRESET_ORDER) - {"punchy"}
    assert sum(p["probability"] for p in distribution) == pytest.approx(1.0, abs=1e-4)
    assert result["health"]["status"] in ("healthy", "warning", "critical")


def test_simulate_prints_a_readable_summary_and_records_the_replay(tmp_path: Path, capsys) -> None:
    trace = short_session(tmp_path / "session.jsonl")
    again = tmp_path / "again.jsonl"
    code = main([*REPLAY, "--trace", str(trace), "--record", str(again)])
    assert code == 0
    out = capsys.readouterr().out
    # The summary's lines; whether a busy machine underran at 5x is the benchmarks' to say.
    assert "hit rate" in out and "switches" in out and re.search(r"underruns \d+,", out)
    recorded = [e.event for e in read_trace(again)]
    original = [e.event for e in read_trace(trace)]
    assert recorded == original
    times = [e.t for e in read_trace(again)]
    assert times[-3] == pytest.approx(16.0, abs=1.0)  # recorded on the music's clock
    assert times[-2] == pytest.approx(18.0, abs=1.0)


def test_simulate_models_a_slow_machine(tmp_path: Path, capsys) -> None:
    trace = short_session(tmp_path / "session.jsonl")
    code = main([*REPLAY, "--trace", str(trace), "--render-slowdown", "10"])
    assert code == 0
    out = capsys.readouterr().out
    assert re.search(r"renders: [\d.]+x real time per thread \(slowed 10x\), \d+ stand-ins", out)


@pytest.mark.parametrize(
    ("lines", "args", "message"),
    [
        (['{"t": 0, "event": "play"}', '{"t": 1, "event": "jump"}'], [], "line 2"),
        (['{"t": 0, "event": "preset", "preset": "loud"}'], [], "line 1"),
        (["not json"], [], "line 1"),
        (['{"t": 0, "event": "play"}'], ["--speed", "0"], "--speed"),
        (['{"t": 0, "event": "play"}'], ["--speed", "500"], "--speed"),
        (['{"t": 0, "event": "open", "paths": ["nothing.flac"]}'], [], "no playable audio"),
        (['{"t": 0, "event": "end"}'], [], "holds no commands"),
        (['{"t": 0, "event": "preset", "preset": "warm"}'], [], "never opens a library"),
        (['{"t": 0, "event": "play"}'], [], "'play' at 0 s comes before any 'open'"),
        (
            [json.dumps({"t": 0, "event": "open", "paths": TRACKS}), GOOD_TRACK_PAST_THE_END],
            [],
            "past the 4 tracks open",
        ),
    ],
)
def test_bad_traces_and_options_are_one_line_errors(
    tmp_path: Path, capsys, lines: list[str], args: list[str], message: str
) -> None:
    trace = tmp_path / "bad.jsonl"
    trace.write_text("\n".join(lines) + "\n")
    code = main(["simulate", "--trace", str(trace), "--library", str(SAMPLE_AUDIO), *args])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_a_missing_trace_or_library_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["simulate", "--trace", str(tmp_path / "none.jsonl")]) == 2
    assert "none.jsonl" in capsys.readouterr().err
    trace = short_session(tmp_path / "ok.jsonl")
    assert main(["simulate", "--trace", str(trace), "--library", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
