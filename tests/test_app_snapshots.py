"""Snapshot tests: the main screen and the help screen, drawn from frozen data.

The app runs against `FrozenEngine`, which answers `snapshot()` and `monitor()` with
hand-built values, with its timers off (`live=False`) and the event log's clock fixed, so
every run draws the same screen. Update the baselines with `--snapshot-update` after a
deliberate change, and look at them (`snapshot_report.html`) before committing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from engine import PRESET_ORDER, EngineSnapshot
from engine.cache.worker import WorkerMetrics
from engine.library.tags import Tags
from engine.library.tracks import Track
from engine.observe.events import EngineEvent, EventStream, Subscription
from engine.observe.monitor import CacheMap, LatencyLine, MonitorSnapshot, OutputLevels, TierLine
from engine.playback.queue import QueueView
from engine.prediction.interaction import FilterCounters
from engine.prediction.predict import PredictionScore, PredictorView
from tui.app import TierplayApp
from tui.keymap import CONFIG_DIR_ENV

SnapCompare = Callable[..., bool]
SIZE = (100, 40)
FROZEN_TIME = 1_700_000_000.0
"""2023-11-14 22:13:20 UTC: every event-log stamp."""

TRACK = Track(
    id="t-neon",
    path=Path("/music/01_neon_drive.flac"),
    duration_seconds=38.5,
    native_rate=44_100,
    channels=2,
    frames=1_697_850,
    fingerprint="frozen",
    title="Neon Drive",
    artist="Sample Audio",
    format="FLAC",
    tags=Tags(title="Neon Drive", artist="Sample Audio", album="Samples", track_number=1),
)
LIBRARY = [
    TRACK,
    *(
        replace(
            TRACK,
            id=f"t-{number}",
            path=Path(f"/music/Nadia/Dawn/{number:02d}.ogg"),
            duration_seconds=200.0 + 17 * number,
            title=title,
            artist="Nadia",
            tags=Tags(title=title, artist="Nadia", album="Dawn", track_number=number),
        )
        for number, title in enumerate(("Awakening", "Morning Light", "Long Shadows"), start=1)
    ),
]

MESSAGES = (
    "skipped notes.wav: not a readable audio file",
    "now playing “Neon Drive”",
    "switched original → warm (from cache L1, 23 ms)",
    "seek to 0:12 (rendered on the spot, 41 ms)",
    "throttled 19 seek updates over 0.10 s (18 replaced by a newer target)",
    "rapid exploration: 10 interactions within 1 s; learning paused",
    "rapid exploration over after 1.6 s, 11 preset changes; settled on warm",
    "cleared l1: 4 chunks",
)

SNAPSHOT = EngineSnapshot(
    track=TRACK,
    track_index=0,
    track_count=4,
    position_seconds=12.5,
    duration_seconds=38.5,
    playing=True,
    volume=0.8,
    muted=False,
    preset="warm",
    requested_preset="warm",
    intensity=0.75,
    output_name="null",
    output_notice="",
    underruns=0,
    chunk_index=1,
    skipped=(),
    messages=MESSAGES,
    message_count=len(MESSAGES),
    chunk_seconds=10.0,
    repeat="all",
    shuffle=True,
    queued=2,
    presets_ready=5,
    presets_total=5,
)

CELLS = {
    "original": ("source", "source", "source", "source"),
    "adaptive": ("l2", "l1", "l2", "l3"),
    "gentle": ("l3", "l2", "queued", "missing"),
    "warm": ("l1", "l1", "l1", "rendering"),
    "bright": ("l2", "l1", "queued", "missing"),
    "punchy": ("missing", "l3", "missing", "missing"),
}

MONITOR = MonitorSnapshot(
    tiers=(
        TierLine("l1", 42, 8, 0.84, 9, 15_800_000, 18_000_000),
        TierLine("l2", 6, 2, 0.75, 12, 10_500_000, 36_000_000),
        TierLine("l3", 1, 1, 0.5, 20, 6_000_000, 45_000_000),
    ),
    cache_map=CacheMap(
        track_id="t-neon",
        intensity_bucket=15,
        first_chunk=0,
        playhead_chunk=1,
        playhead_fraction=0.25,
        presets=PRESET_ORDER,
        cells=tuple(CELLS[preset] for preset in PRESET_ORDER),
    ),
    preset="warm",
    predictor=PredictorView(
        distribution={
            "original": 0.1,
            "adaptive": 0.15,
            "gentle": 0.05,
            "bright": 0.45,
            "punchy": 0.25,
        },
        switch_probability_per_chunk=0.22,
        blend_weights={"markov": 0.5, "content": 0.3, "favourite": 0.2},
        context="warm",
        score=PredictionScore(20, 11, 17, 9.6),
        by_context={},
        baselines={
            "markov": PredictionScore(20, 9, 15, 11.0),
            "favourite": PredictionScore(20, 7, 14, 12.0),
        },
        learned_switches=23,
    ),
    health_status="healthy",
    health_message="L1 hit rate 84%, overall 80%",
    underruns=0,
    latencies=(
        LatencyLine("l1", 15, 21.0, 38.0),
        LatencyLine("l2", 4, 27.0, 45.0),
        LatencyLine("l3", 1, 60.0, 60.0),
        LatencyLine("miss", 2, 140.0, 210.0),
    ),
    worker=WorkerMetrics(
        threads=2,
        alive=2,
        paused=False,
        queue_depth=3,
        renders_total=57,
        renders_per_second=1.5,
        failures=0,
        timeouts=0,
        abandoned=0,
        restarts=0,
        busy_percent=62.0,
        last_error="",
    ),
    interactions=FilterCounters(
        positions=40,
        positions_applied=21,
        throttled=19,
        coalesced=18,
        positions_dropped=0,
        presets=14,
        intensities=2,
        track_changes=1,
        debounced=3,
        rapid_episodes=1,
        suspended=11,
        learned=4,
    ),
    memory_level="normal",
    rss_bytes=310_000_000,
    rss_limit_bytes=330_000_000,
    budget_bytes=99_000_000,
    total_bytes=32_300_000,
    output=OutputLevels(
        peak_db=(-6.2, -7.0),
        rms_db=(-18.5, -19.1),
        spectrum_db=(
            -30.0, -24.0, -20.0, -22.0, -26.0, -28.0, -31.0, -33.0,
            -36.0, -40.0, -44.0, -49.0, -55.0, -62.0, -70.0, -85.0,
        ),
    ),
)  # fmt: skip


class FrozenEngine:
    """The engine API the app uses, answering with the frozen values above.

    Commands are recorded, never applied: the screen must not change under the snapshot.
    """

    def __init__(self) -> None:
        self.commands: list[str] = []

    def snapshot(self) -> EngineSnapshot:
        return SNAPSHOT

    def monitor(self, map_columns: int = 12) -> MonitorSnapshot:
        return MONITOR

    def tracks(self) -> list[Track]:
        return list(LIBRARY)

    def play(self) -> None:
        self.commands.append("play")

    def play_track(self, track_id: str) -> None:
        self.commands.append(f"play_track {track_id}")

    def pause(self) -> None:
        self.commands.append("pause")

    def seek(self, seconds: float) -> None:
        self.commands.append(f"seek {seconds}")

    def seek_relative(self, delta: float) -> None:
        self.commands.append(f"seek_relative {delta}")

    def queue(self, following: int = 20) -> QueueView:
        return QueueView("all", True, "library", LIBRARY[2:], [LIBRARY[1], LIBRARY[0]])

    def next_track(self) -> None:
        self.commands.append("next")

    def prev_track(self) -> None:
        self.commands.append("prev")

    def set_volume(self, volume: float) -> None:
        self.commands.append(f"volume {volume}")

    def toggle_mute(self) -> bool:
        self.commands.append("mute")
        return True

    def view_settings(self) -> dict[str, object]:
        return {}

    def set_view_settings(self, view: dict[str, object]) -> None:
        self.commands.append(f"view {view}")

    def set_preset(self, name: str) -> None:
        self.commands.append(f"preset {name}")

    def set_intensity(self, value: float) -> None:
        self.commands.append(f"intensity {value}")

    def clear(self, tier: str | None = None) -> int:
        self.commands.append(f"clear {tier}")
        return 0

    def log(self, message: str) -> None:
        self.commands.append(f"log {message}")

    def subscribe(self, capacity: int = 1000, log_history: bool = False) -> Subscription:
        """The frozen snapshot's messages as the log's history; nothing happens after."""
        history = SNAPSHOT.messages if log_history else ()
        backlog = [EngineEvent("log", 0.0, message) for message in history]
        return EventStream().subscribe(capacity, backlog)

    def open(self, paths: Iterable[str | Path]) -> list[Track]:
        self.commands.append("open")
        return [TRACK]

    def record_to(self, path: Path, library_root: Path | None = None) -> None:
        self.commands.append(f"record {path}")

    def stop_recording(self) -> None:
        self.commands.append("stop recording")


@pytest.fixture(autouse=True)
def frozen_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No user keymap, and event-log stamps in UTC wherever the tests run."""
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def frozen_app() -> TierplayApp:
    return TierplayApp(
        FrozenEngine(),
        autoplay=False,
        live=False,
        keymap_file=Path("/home/listener/.config/tierplay/keymap.toml"),  # absent: defaults
        clock=lambda: FROZEN_TIME,
    )


def test_main_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(frozen_app(), terminal_size=SIZE)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_main_screen_at_each_size(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """At 80x24 the transport is whole, the event log comes under the buffer's panels and
    the predictions and health scroll in below; wider, the output meter joins the
    transport; taller, every panel shows."""
    assert snap_compare(frozen_app(), terminal_size=size)


def test_preparing_presets(snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch) -> None:
    preparing = replace(SNAPSHOT, presets_ready=3, repeat="off", shuffle=False, queued=0)
    monkeypatch.setattr(FrozenEngine, "snapshot", lambda self: preparing)
    assert snap_compare(frozen_app(), terminal_size=(80, 24))


def test_queue_view(snap_compare: SnapCompare) -> None:
    assert snap_compare(frozen_app(), press=["u"], terminal_size=SIZE)


def test_library_view(snap_compare: SnapCompare) -> None:
    assert snap_compare(frozen_app(), press=["l"], terminal_size=SIZE)


def test_help_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(frozen_app(), press=["question_mark"], terminal_size=SIZE)
