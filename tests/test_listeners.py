"""Synthetic listeners: reproducible, valid traces whose behaviour matches each model's name."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from pathlib import Path

import pytest

from engine.library.analysis import Features
from engine.persist.trace import TraceEvent, read_trace, write_trace
from engine.sim.listeners import CONTENT_NOISE_RATE, MODELS, content_preset, generate
from engine.sim.timeline import (
    SECTION_STYLES,
    LibraryTimeline,
    Playhead,
    TimelineTrack,
    synthetic_timeline,
    timeline_from_library,
)
from engine.vocabulary import PRESET_ORDER

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
SESSION_SECONDS = 600.0


def preset_events(events: list[TraceEvent]) -> list[str]:
    return [event.preset_name for event in events if event.preset_name is not None]


def check_playback_consistency(timeline: LibraryTimeline, events: list[TraceEvent]) -> None:
    """Every seek lands inside the track playing, and the playhead never leaves its track."""
    playhead = Playhead(timeline)
    for event in events:
        playhead.advance(event.t)
        if event.event == "seek":
            assert event.position is not None
            assert 0.0 <= event.position <= playhead.duration
        if event.event == "seek_relative":
            assert event.delta is not None
            assert 0.0 <= playhead.position + event.delta <= playhead.duration
        playhead.apply(event)
        assert 0.0 <= playhead.position <= playhead.duration


# -- every model -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", sorted(MODELS))
def test_each_model_is_deterministic_per_seed(model: str) -> None:
    timeline = synthetic_timeline(seed=1)
    first = generate(model, timeline, seed=7, seconds=SESSION_SECONDS)
    assert generate(model, timeline, seed=7, seconds=SESSION_SECONDS) == first
    assert generate(model, timeline, seed=8, seconds=SESSION_SECONDS) != first


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_model_writes_a_valid_consistent_trace(model: str, seed: int, tmp_path: Path) -> None:
    timeline = synthetic_timeline(seed=seed, tracks=3, track_seconds=(40.0, 120.0))
    events = generate(model, timeline, seed=seed, seconds=SESSION_SECONDS)
    path = tmp_path / f"{model}.jsonl"
    write_trace(path, events)
    assert list(read_trace(path)) == events
    assert events[0] == TraceEvent.open(0.0, timeline.paths)
    assert events[1] == TraceEvent.play(0.0)
    assert events[-1] == TraceEvent.end(SESSION_SECONDS)
    assert [event.event for event in events].count("end") == 1
    times = [event.t for event in events]
    assert times == sorted(times)
    assert all(round(t, 3) == t for t in times)
    check_playback_consistency(timeline, events)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_session_longer_than_the_library_starts_it_again(model: str) -> None:
    timeline = synthetic_timeline(seed=3, tracks=2, track_seconds=(30.0, 40.0))
    events = generate(model, timeline, seed=3, seconds=400.0)
    check_playback_consistency(timeline, events)
    playhead = Playhead(timeline)
    restarts = 0
    for before, after in itertools.pairwise(events):
        playhead.apply(before)
        left = playhead.seconds_until_stop()
        if left is not None and before.t + left < after.t and after.event != "end":
            assert after.event == "next"  # the list played out: the listener starts it again
            assert after.t - (before.t + left) <= 3.0 + 1e-9
            restarts += 1
    assert restarts >= 1


def test_an_unknown_model_or_a_tiny_session_is_refused() -> None:
    timeline = synthetic_timeline(seed=0)
    with pytest.raises(ValueError, match="unknown listener model 'dj'"):
        generate("dj", timeline, seed=0, seconds=60.0)
    with pytest.raises(ValueError, match="at least 1 s"):
        generate("settled", timeline, seed=0, seconds=0.5)


# -- each model's character --------------------------------------------------------------------


def test_settled_listener_almost_never_changes_preset() -> None:
    counts = []
    for seed in range(10):
        events = generate("settled", synthetic_timeline(seed), seed=seed, seconds=SESSION_SECONDS)
        counts.append(len(preset_events(events)))
        assert any(event.event == "intensity" for event in events)
    assert all(count >= 1 for count in counts)
    assert sum(counts) <= 13


def test_toggler_alternates_between_two_presets() -> None:
    alternating = transitions = 0
    for seed in range(3):
        events = generate("toggler", synthetic_timeline(seed), seed=seed, seconds=1200.0)
        presets = preset_events(events)
        pair = {name for name, _ in Counter(presets).most_common(2)}
        steps = list(itertools.pairwise(presets))
        alternating += sum(a in pair and b in pair for a, b in steps)
        transitions += len(steps)
        times = [event.t for event in events if event.preset_name is not None]
        assert min(b - a for a, b in itertools.pairwise(times)) >= 1.5
    assert transitions >= 120
    assert alternating / transitions >= 0.75


def content_agreement(timeline: LibraryTimeline, events: list[TraceEvent]) -> tuple[int, int]:
    """(choices that match `content_preset` of the music ahead, all choices)."""
    playhead = Playhead(timeline)
    agree = total = 0
    for event in events:
        playhead.advance(event.t)
        if event.preset_name is not None:
            ahead = timeline.upcoming_features(playhead.track_index, playhead.position)
            agree += content_preset(ahead) == event.preset_name
            total += 1
        playhead.apply(event)
    return agree, total


def test_content_driven_listener_follows_its_rule_about_85_percent() -> None:
    agree = total = 0
    for seed in range(5):
        timeline = synthetic_timeline(seed)
        events = generate("content_driven", timeline, seed=seed, seconds=1200.0)
        matched, chosen = content_agreement(timeline, events)
        agree += matched
        total += chosen
    assert total >= 150
    assert abs(agree / total - (1.0 - CONTENT_NOISE_RATE)) < 0.08


def test_content_driven_listener_switches_only_when_the_music_changes() -> None:
    steady = Features(*SECTION_STYLES["driving"])
    track = TimelineTrack("one.flac", 300.0, 10.0, (steady,) * 30)
    timeline = LibraryTimeline((track,))
    for seed in range(10):
        presets = preset_events(generate("content_driven", timeline, seed, seconds=280.0))
        assert presets[-1] == "punchy"
        assert len(presets) <= 5  # the first choice, and corrections of off-rule ones


def test_explorer_has_a_burst_of_ten_switches_within_one_second() -> None:
    for seed in range(5):
        events = generate("explorer", synthetic_timeline(seed), seed, seconds=SESSION_SECONDS)
        times = [event.t for event in events if event.event == "preset"]
        densest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
        assert densest >= 10
        assert len(set(preset_events(events))) == len(PRESET_ORDER)


def test_seeker_seeks_a_lot_and_skips_tracks() -> None:
    events = generate("seeker", synthetic_timeline(0), seed=0, seconds=SESSION_SECONDS)
    kinds = Counter(event.event for event in events)
    assert kinds["seek"] + kinds["seek_relative"] >= 40
    assert kinds["seek"] >= 5 and kinds["seek_relative"] >= 10
    assert kinds["next"] >= 3 and kinds["prev"] >= 2
    assert 1 <= kinds["preset"] <= kinds["seek"] + kinds["seek_relative"]
    deltas = {abs(event.delta) for event in events if event.delta is not None}
    assert deltas == {5.0, 30.0}


# -- the playhead ------------------------------------------------------------------------------


def two_tracks() -> LibraryTimeline:
    neutral = (Features.neutral(),)
    return LibraryTimeline(
        (TimelineTrack("a.flac", 10.0, 10.0, neutral), TimelineTrack("b.flac", 5.5, 10.0, neutral))
    )


def test_playhead_plays_gaplessly_and_stops_after_the_last_track() -> None:
    playhead = Playhead(two_tracks())
    playhead.apply(TraceEvent.open(0.0, ["a.flac", "b.flac"]))
    playhead.apply(TraceEvent.play(0.0))
    assert playhead.seconds_until_stop() == 15.5
    playhead.advance(12.0)
    assert (playhead.track_index, playhead.position, playhead.playing) == (1, 2.0, True)
    playhead.advance(20.0)
    assert (playhead.track_index, playhead.position, playhead.playing) == (1, 5.5, False)
    assert playhead.seconds_until_stop() is None
    with pytest.raises(ValueError, match="time runs forward"):
        playhead.advance(19.0)


def test_playhead_follows_seeks_skips_and_pauses_like_the_player() -> None:
    playhead = Playhead(two_tracks())
    for event in [
        TraceEvent.play(0.0),
        TraceEvent.seek(1.0, 99.0),  # clamped to the track
        TraceEvent.pause(1.0),
    ]:
        playhead.apply(event)
    assert (playhead.track_index, playhead.position) == (0, 10.0)
    playhead.apply(TraceEvent.seek_relative(5.0, -30.0))
    assert playhead.position == 0.0  # paused: time passed, the playhead did not move
    playhead.apply(TraceEvent.prev(6.0))  # wraps to the last track
    assert (playhead.track_index, playhead.position) == (1, 0.0)
    playhead.apply(TraceEvent.next(6.0))
    playhead.apply(TraceEvent.play(6.0))
    playhead.advance(8.5)
    assert (playhead.track_index, playhead.position) == (0, 2.5)
    assert playhead.seconds_to_chunk_boundary(10.0) == 7.5
    assert playhead.seconds_to_chunk_boundary(2.0) == 1.5


# -- timelines ---------------------------------------------------------------------------------


def test_synthetic_timeline_is_seeded_and_made_of_sections() -> None:
    timeline = synthetic_timeline(seed=4, tracks=5)
    assert timeline == synthetic_timeline(seed=4, tracks=5)
    assert timeline != synthetic_timeline(seed=5, tracks=5)
    assert len(timeline.tracks) == 5 and len(set(timeline.paths)) == 5
    for track in timeline.tracks:
        assert 60.0 <= track.duration_seconds <= 180.0
        assert len(track.chunk_features) == math.ceil(track.duration_seconds / 10.0)
        suited = [content_preset(features) for features in track.chunk_features]
        changes = sum(a != b for a, b in itertools.pairwise(suited))
        assert changes <= len(suited) // 2  # sections last several chunks


def test_every_section_style_suits_one_preset_whatever_its_jitter() -> None:
    suited = {content_preset(Features(*style)) for style in SECTION_STYLES.values()}
    assert len(suited) == len(SECTION_STYLES)
    timeline = synthetic_timeline(seed=9, tracks=20)
    found = {content_preset(f) for track in timeline.tracks for f in track.chunk_features}
    assert found == suited


def test_upcoming_features_look_ahead_into_the_next_track() -> None:
    loud, quiet = Features(*SECTION_STYLES["driving"]), Features(*SECTION_STYLES["quiet"])
    timeline = LibraryTimeline(
        (
            TimelineTrack("a.flac", 20.0, 10.0, (quiet, quiet)),
            TimelineTrack("b", 9.0, 10.0, (loud,)),
        )
    )
    assert timeline.upcoming_features(0, 5.0) == quiet
    assert timeline.upcoming_features(0, 19.0) == loud
    assert timeline.upcoming_features(1, 8.5) == loud  # the last track: its own end


def test_timeline_from_sample_audio_drives_a_real_session(tmp_path: Path) -> None:
    timeline = timeline_from_library([SAMPLE_AUDIO], chunk_seconds=10.0)
    assert timeline.root == SAMPLE_AUDIO
    assert len(timeline.tracks) == 4 and not timeline.skipped
    assert all(not Path(path).is_absolute() for path in timeline.paths)
    for track in timeline.tracks:
        assert (SAMPLE_AUDIO / track.path).is_file()
        assert 30.0 < track.duration_seconds < 60.0
        assert len(track.chunk_features) == math.ceil(track.duration_seconds / 10.0 - 1e-9)
    events = generate("content_driven", timeline, seed=0, seconds=300.0)
    write_trace(tmp_path / "real.jsonl", events)
    read_trace(tmp_path / "real.jsonl")
    check_playback_consistency(timeline, events)
    assert len(preset_events(events)) >= 3
