"""The panels, each alone in a small app, fed hand-built snapshots with known values."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.content import Content
from textual.geometry import Spacing
from textual.reactive import reactive
from textual.visual import VisualType
from textual.widget import Widget

from engine import EngineSnapshot
from engine.cache.worker import WorkerMetrics
from engine.library.tracks import Track
from engine.observe.events import EventStream
from engine.observe.monitor import (
    SPECTRUM_BANDS,
    CacheMap,
    LatencyLine,
    MonitorSnapshot,
    OutputLevels,
    TierLine,
    output_levels,
)
from engine.prediction.interaction import FilterCounters
from engine.prediction.predict import PredictionScore, PredictorView
from engine.vocabulary import MB, PRESET_ORDER, format_clock
from tui.widgets.cache_map import CacheMapPanel, caret_offset, cell_glyph, label_width
from tui.widgets.event_log import EventLog, message_kind
from tui.widgets.health import HealthPanel
from tui.widgets.now_playing import NowPlaying, position_bar
from tui.widgets.output_meter import OutputMeter, level_meter, spectrum_rows
from tui.widgets.panel import Panel
from tui.widgets.predictions import PredictionsPanel
from tui.widgets.tier_panel import HISTORY_SAMPLES, TierPanel, hit_rate_sparkline

NOON = 1_700_000_000.0
LOW_BANDS_DB = (-20.0, -14.0, -12.0, -16.0, -22.0, -25.0, -28.0, -30.0)
HIGH_BANDS_DB = (-33.0, -36.0, -40.0, -45.0, -50.0, -58.0, -66.0, -79.0)


def make_track(artist: str = "Miles Davis") -> Track:
    return Track(
        id="t1",
        path=Path("blue_in_green.flac"),
        duration_seconds=337.0,
        native_rate=44_100,
        channels=2,
        frames=337 * 44_100,
        fingerprint="f",
        title="Blue in Green",
        artist=artist,
    )


def make_snapshot(**changes: Any) -> EngineSnapshot:
    snapshot = EngineSnapshot(
        track=make_track(),
        track_index=1,
        track_count=9,
        position_seconds=95.0,
        duration_seconds=337.0,
        playing=True,
        volume=0.8,
        muted=False,
        preset="warm",
        requested_preset="warm",
        intensity=0.75,
        output_name="JACK dummy",
        output_notice="",
        underruns=0,
        chunk_index=9,
        skipped=(),
        messages=(),
        message_count=0,
        chunk_seconds=10.0,
    )
    return dataclasses.replace(snapshot, **changes)


def make_cache_map(**changes: Any) -> CacheMap:
    rows = {
        "original": ["source"] * 12,
        "adaptive": ["l1", "l1", "l2", "l2", "l3", "l3"] + ["missing"] * 6,
        "gentle": ["l2"] * 4 + ["queued"] * 2 + ["missing"] * 6,
        "warm": ["l1"] * 3 + ["rendering", "queued"] + ["missing"] * 7,
        "bright": ["l3", "l1", "queued"] + ["missing"] * 9,
        "punchy": ["missing"] * 12,
    }
    chunks = CacheMap(
        track_id="t1",
        intensity_bucket=3,
        first_chunk=8,
        playhead_chunk=9,
        playhead_fraction=0.6,
        presets=PRESET_ORDER,
        cells=tuple(tuple(rows[preset]) for preset in PRESET_ORDER),
    )
    return dataclasses.replace(chunks, **changes)


def make_predictor(**changes: Any) -> PredictorView:
    view = PredictorView(
        distribution={
            "original": 0.05,
            "adaptive": 0.15,
            "gentle": 0.10,
            "bright": 0.45,
            "punchy": 0.25,
        },
        switch_probability_per_chunk=0.23,
        blend_weights={"markov": 0.5, "content": 0.3, "favourite": 0.2},
        context="audio_guided",
        score=PredictionScore(20, 11, 17, 9.4),
        by_context={},
        baselines={
            "markov": PredictionScore(20, 9, 15, 11.0),
            "content": PredictionScore(20, 7, 14, 12.0),
            "favourite": PredictionScore(0, 0, 0, 0.0),
        },
        learned_switches=23,
    )
    return dataclasses.replace(view, **changes)


def make_tiers(l1_rate: float = 0.8) -> tuple[TierLine, ...]:
    hits = round(150 * l1_rate)
    return (
        TierLine("l1", hits, 150 - hits, l1_rate, 12, 15_400_000, 18 * MB),
        TierLine("l2", 20, 10, 2 / 3, 30, 12_100_000, 36 * MB),
        TierLine("l3", 0, 10, 0.0, 41, 44_900_000, 45 * MB),
    )


def make_monitor(**changes: Any) -> MonitorSnapshot:
    monitor = MonitorSnapshot(
        tiers=make_tiers(),
        cache_map=make_cache_map(),
        preset="warm",
        predictor=make_predictor(),
        health_status="warning",
        health_message="L1 hit rate 80%, overall 93%",
        underruns=2,
        latencies=(
            LatencyLine("l1", 40, 21.4, 63.0),
            LatencyLine("l2", 12, 24.9, 70.2),
            LatencyLine("l3", 0, None, None),
            LatencyLine("miss", 3, 180.0, 240.0),
        ),
        worker=WorkerMetrics(
            threads=2,
            alive=2,
            paused=False,
            queue_depth=5,
            renders_total=140,
            renders_per_second=1.4,
            failures=1,
            timeouts=0,
            abandoned=0,
            restarts=0,
            busy_percent=43.0,
            last_error="",
        ),
        interactions=FilterCounters(
            positions=10,
            positions_applied=8,
            throttled=2,
            coalesced=1,
            positions_dropped=0,
            presets=30,
            intensities=3,
            track_changes=4,
            debounced=5,
            rapid_episodes=1,
            suspended=6,
            learned=23,
        ),
        memory_level="normal",
        rss_bytes=245_100_000,
        rss_limit_bytes=290_000_000,
        budget_bytes=99 * MB,
        total_bytes=72_400_000,
        output=OutputLevels(
            peak_db=(-3.2, -4.0),
            rms_db=(-14.5, -15.1),
            spectrum_db=LOW_BANDS_DB + HIGH_BANDS_DB,
        ),
    )
    return dataclasses.replace(monitor, **changes)


class PanelApp(App[None]):
    """Just one panel, by default as wide as a column of a two-column layout at 100 x 40."""

    def __init__(self, panel: Widget, width: int = 50) -> None:
        super().__init__()
        self.panel = panel
        self.width = width

    def compose(self) -> ComposeResult:
        yield self.panel

    def on_mount(self) -> None:
        self.panel.styles.width = self.width


def panel_lines(panel: Widget) -> list[str]:
    """The panel as drawn, border included, one string per terminal row."""
    return [strip.text for strip in panel.render_lines(panel.region.reset_offset)]


# -- every panel ----------------------------------------------------------------------------

PANEL_TITLES: dict[type[Widget], str] = {
    NowPlaying: "Now playing",
    OutputMeter: "Output",
    CacheMapPanel: "Cache map",
    TierPanel: "Tiers",
    PredictionsPanel: "Predictions",
    HealthPanel: "Health",
    EventLog: "Events",
}
"""The seven panels of the app and the title on each one's border."""


class PanelsApp(App[None]):
    """Every panel at once, one above the other."""

    def __init__(self, panels: list[Widget]) -> None:
        super().__init__()
        self.panels = panels

    def compose(self) -> ComposeResult:
        yield from self.panels


def app_panel_classes(base: type[Widget]) -> set[type[Widget]]:
    """The app's subclasses of `base`, at any depth (those defined by tests left out)."""
    found: set[type[Widget]] = set()
    for subclass in base.__subclasses__():
        if subclass.__module__.startswith("tui."):
            found.add(subclass)
        found |= app_panel_classes(subclass)
    return found


async def test_every_panel_is_framed_and_titled_by_its_border_title() -> None:
    """A panel names itself by its own BORDER_TITLE alone (Textual applies it): one that
    forgot would inherit an empty title. The frame comes from one place for all seven."""
    assert app_panel_classes(Panel) <= set(PANEL_TITLES), "a new panel: add its title here"
    panels = [panel_class() for panel_class in PANEL_TITLES]
    async with PanelsApp(panels).run_test(size=(100, 80)) as pilot:
        await pilot.pause()
        for panel, title in zip(panels, PANEL_TITLES.values(), strict=True):
            assert type(panel).__dict__.get("BORDER_TITLE") == title, type(panel).__name__
            assert panel.border_title == title
            assert title in panel_lines(panel)[0]
            assert panel.styles.border_top[0] == "round"
            assert panel.styles.padding == Spacing(0, 1, 0, 1)


# -- now playing --------------------------------------------------------------------------


def test_clock_and_position_bar_with_chunk_ticks() -> None:
    assert format_clock(95.4) == "1:35"
    assert format_clock(3725) == "1:02:05"
    bar = position_bar(25.0, 100.0, width=20, chunk_seconds=20.0)
    assert len(bar) == 20
    assert bar == "━━━━┿╸──┼───┼───┼───"
    assert "┼" not in position_bar(25.0, 100.0, width=20, chunk_seconds=5.0)  # too dense


async def test_now_playing_shows_track_position_state_preset_and_output() -> None:
    panel = NowPlaying()
    async with PanelApp(panel, width=100).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(requested_preset="bright"), None)
        await pilot.pause()
        lines = panel_lines(panel)
        assert "Now playing" in lines[0]
        assert "Miles Davis — Blue in Green  [2/9]" in lines[1]
        assert "1:35 ━" in lines[2] and lines[2].rstrip(" │").endswith("5:37")
        assert "┿" in lines[2] and "┼" in lines[2]
        assert lines[3].strip("│ ") == "▶ playing"
        assert "preset warm @ 75% → bright" in lines[4] and "vol 80%" in lines[4]
        assert "output: JACK dummy" in lines[4]

        panel.show(make_snapshot(presets_ready=3, presets_total=5), None)
        await pilot.pause()
        assert "▶ preparing presets (3 of 5)" in panel_lines(panel)[3]
        modes = make_snapshot(repeat="one", shuffle=True, scope="album", queued=2)
        panel.show(modes, None)
        await pilot.pause()
        assert "repeat one  shuffle  album only  +2 queued" in panel_lines(panel)[3]
        panel.show(make_snapshot(buffering=True, presets_ready=3, presets_total=5), None)
        await pilot.pause()
        assert "… buffering" in panel_lines(panel)[3]
        panel.show(make_snapshot(standing_in=True), None)
        await pilot.pause()
        assert "▶ playing the original while warm renders" in panel_lines(panel)[3]

        panel.show(make_snapshot(playing=False, muted=True, volume=0.0), None)
        panel.show(make_snapshot(output_name="null", output_notice="no device found"), None)
        await pilot.pause()
        text = str(panel.render())
        assert "output: null  no audio device: no device found" in text
        panel.show(make_snapshot(playing=False, muted=True, volume=0.0), None)
        text = str(panel.render())
        assert "paused" in text and "muted" in text and "→" not in text
        panel.show(make_snapshot(playing=False, ended=True), None)
        text = str(panel.render())
        assert "■ end of the list" in text and "paused" not in text

        panel.show(make_snapshot(sounds_like="original"), None)
        assert "preset warm @ 75% (no audible change on this track)" in str(panel.render())
        panel.show(make_snapshot(sounds_like="gentle"), None)
        assert "(sounds like gentle on this track)" in str(panel.render())


async def test_now_playing_repaints_only_when_what_it_draws_changes() -> None:
    """Fed at 10 Hz with a playhead finer than the clock it prints, the panel asks for a
    repaint only when its drawing differs (the app's main cost while music plays)."""
    panel = NowPlaying()
    async with PanelApp(panel, width=100).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(position_seconds=95.40), None)
        await pilot.pause()
        assert not panel._repaint_required
        panel.show(make_snapshot(position_seconds=95.45), None)  # still 1:35, same bar
        assert not panel._repaint_required
        panel.show(make_snapshot(position_seconds=97.0), None)  # 1:37
        assert panel._repaint_required
        await pilot.pause()
        assert "1:37" in panel_lines(panel)[2]


def pending_rows(panel: Widget) -> set[int]:
    """The content rows of `panel` (from 0) its next paint sends to the terminal (none
    listed when the whole panel is to be painted)."""
    top = panel.content_offset.y
    regions = panel._repaint_regions
    return {row - top for region in regions for row in range(region.y, region.bottom)}


async def test_a_panel_repaints_only_the_lines_that_changed() -> None:
    """The clock moving, or the preset changing, repaints that line alone; a new track
    changes several lines and each is repainted, the frame not."""
    panel = NowPlaying()
    async with PanelApp(panel, width=100).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(position_seconds=95.0), None)
        await pilot.pause()
        panel.show(make_snapshot(position_seconds=96.0), None)
        assert panel._repaint_required and pending_rows(panel) == {1}
        await pilot.pause()
        assert "1:36" in panel_lines(panel)[2]
        panel.show(make_snapshot(position_seconds=96.0, preset="bright"), None)
        assert pending_rows(panel) == {3}
        await pilot.pause()
        assert "bright" in panel_lines(panel)[4]
        panel.show(make_snapshot(position_seconds=0.0, preset="bright", track_index=2), None)
        assert pending_rows(panel) == {0, 1}
        await pilot.pause()
        assert "0:00" in panel_lines(panel)[2] and "[3/9]" in panel_lines(panel)[1]


class Styled(Panel):
    """One line whose text stays while its style changes."""

    style: reactive[str] = reactive("green")

    def render(self) -> Content:
        return Content.styled("level", self.style)


async def test_a_change_of_style_alone_is_repainted() -> None:
    """Content compares its text only: a drawing that only changes colour is not the same."""
    panel = Styled()
    async with PanelApp(panel).run_test() as pilot:
        panel.style = "blue"
        await pilot.pause()
        blue = list(panel.render_lines(panel.region.reset_offset)[1])
        panel.style = "red"
        assert panel._repaint_required
        await pilot.pause()
        red = list(panel.render_lines(panel.region.reset_offset)[1])
        assert [s.text for s in red] == [s.text for s in blue] and red != blue


class CountingNowPlaying(NowPlaying):
    draws = 0

    def render(self) -> VisualType:
        self.draws += 1
        return super().render()


async def test_a_changed_drawing_is_drawn_once_for_the_compare_and_the_paint() -> None:
    panel = CountingNowPlaying()
    async with PanelApp(panel, width=100).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(position_seconds=95.40), None)
        await pilot.pause()
        before = panel.draws
        panel.show(make_snapshot(position_seconds=97.0), None)
        await pilot.pause()
        assert "1:37" in panel_lines(panel)[2]
        assert panel.draws == before + 1
        panel.show(make_snapshot(position_seconds=99.0), None)
        assert "1:39" in str(panel.render())  # asked between refresh and paint: the same
        await pilot.pause()
        assert "1:39" in panel_lines(panel)[2]


async def test_a_playhead_that_moved_less_than_the_screen_shows_is_not_drawn() -> None:
    """At 10 Hz most snapshots move the playhead by less than a second and a bar cell: they
    are not drawn at all. Anything else that changed is drawn at once."""
    panel = CountingNowPlaying()
    async with PanelApp(panel, width=100).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(position_seconds=95.10), None)
        await pilot.pause()
        before = panel.draws
        panel.show(make_snapshot(position_seconds=95.20), None)
        panel.show(make_snapshot(position_seconds=95.30), None)
        await pilot.pause()
        assert panel.draws == before and panel.snapshot.position_seconds == 95.10
        panel.show(make_snapshot(position_seconds=95.40, preset="bright"), None)
        await pilot.pause()
        assert panel.draws == before + 1 and "bright" in str(panel.render())
        panel.show(make_snapshot(position_seconds=96.0, preset="bright"), None)
        await pilot.pause()
        assert "1:36" in panel_lines(panel)[2]


async def test_now_playing_untagged_track_shows_its_title() -> None:
    panel = NowPlaying()
    async with PanelApp(panel).run_test(size=(100, 30)):
        panel.show(make_snapshot(track=make_track(artist="")), None)
        assert str(panel.render()).splitlines()[0].startswith("Blue in Green  [2/9]")
        panel.snapshot = None
        assert str(panel.render()).startswith("Nothing to play")


# -- cache map ----------------------------------------------------------------------------


def test_cache_map_caret_sits_in_the_playhead_column() -> None:
    chunks = make_cache_map(playhead_fraction=0.6)
    assert caret_offset(chunks, columns=12) == 3 + 1  # second column, second cell
    assert caret_offset(make_cache_map(playhead_fraction=0.1), columns=12) == 3
    assert caret_offset(chunks, columns=1) is None
    assert cell_glyph("rendering", 0) != cell_glyph("rendering", 1)


async def test_cache_map_draws_tiers_active_row_and_playhead() -> None:
    panel = CacheMapPanel()
    async with PanelApp(panel).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(), make_monitor())
        await pilot.pause()
        lines = panel_lines(panel)
        assert "Cache map" in lines[0]
        grid_start = lines[1].index("original") - 2 + label_width(PRESET_ORDER)
        original, adaptive, warm = lines[1], lines[2], lines[4]
        assert original[grid_start : grid_start + 5] == "▬▬ ▬▬"
        assert adaptive[grid_start:].startswith("L1 L1 L2 L2 L3 L3  ·")
        assert "▶ warm" in warm and warm[grid_start:].startswith("L1 L1 L1 ▒▓ ░░")
        caret_line = lines[7]
        assert "chunk 10" in caret_line
        assert caret_line.index("▲") == grid_start + 4
        assert "L1 L2 L3" in lines[8] and "render" in lines[8] and "queued" in lines[8]

        panel.show(make_snapshot(), make_monitor())  # still rendering: the cell animates
        await pilot.pause()
        assert panel_lines(panel)[4][grid_start:].startswith("L1 L1 L1 ▓▒ ░░")
        panel.show(make_snapshot(preset="warm", requested_preset="bright"), None)
        assert "▷ bright" in str(panel.render())


async def test_cache_map_cuts_columns_that_do_not_fit() -> None:
    panel = CacheMapPanel()
    async with PanelApp(panel, width=40).run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert str(panel.render()).startswith("No track")
        panel.show(make_snapshot(), make_monitor())
        await pilot.pause()
        assert panel.fitting_columns == 8  # 36 cells inside the border: 8 of the 12 columns
        adaptive = str(panel.render()).splitlines()[1]
        assert adaptive == "  adaptive L1 L1 L2 L2 L3 L3  ·  ·"
        assert len(adaptive) == panel.size.width - 2


@pytest.mark.parametrize(
    ("width", "legend"),
    [
        (60, "L1 L2 L3 ▓▒ render ░░ queued  · missing"),
        (40, "▓▒ render ░░ queued  · missing"),
        (30, "▓▒ render ░░ queued"),
    ],
)
async def test_cache_map_legend_drops_what_the_cells_say_where_it_does_not_fit(
    width: int, legend: str
) -> None:
    """At 80 columns the map is 30 wide: its legend reads whole, not cut."""
    panel = CacheMapPanel()
    async with PanelApp(panel, width=width).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(), make_monitor())
        await pilot.pause()
        assert panel_lines(panel)[-2].strip("│ ") == legend


# -- tiers --------------------------------------------------------------------------------


def test_sparkline_has_a_fixed_zero_to_one_scale() -> None:
    assert hit_rate_sparkline([1.0, 1.0], 2) == "██"
    assert hit_rate_sparkline([0.0, 0.0], 2) == "▁▁"  # not scaled up to the data's range
    assert hit_rate_sparkline([0.0, 0.5, 1.0], 5) == "  ▁▅█"
    assert hit_rate_sparkline([0.0, 0.5, 1.0], 2) == "▅█"


async def test_tier_panel_shows_rates_traffic_memory_and_history() -> None:
    panel = TierPanel()
    async with PanelApp(panel).run_test(size=(100, 30)) as pilot:
        for rate in (0.0, 0.5, 1.0):
            panel.show(make_snapshot(), make_monitor(tiers=make_tiers(l1_rate=rate)))
        panel.show(make_snapshot(), None)  # no new reading: no new sample
        await pilot.pause()
        lines = panel_lines(panel)
        assert "Tiers" in lines[0]
        assert "L1  100.0%  150 hits · 0 misses · 12 chunks" in lines[1]
        assert "▁▅█  " in lines[2] and "15.4/18.0 MB" in lines[2]
        assert "L2   66.7%  20 hits · 10 misses · 30 chunks" in lines[3]
        assert "12.1/36.0 MB" in lines[4]
        assert "L3    0.0%" in lines[5] and "44.9/45.0 MB" in lines[6]
        assert "▁▁▁  " in lines[6]
        assert panel.history[0] == (0.0, 0.5, 1.0)


async def test_tier_panel_counts_one_of_a_thing_in_the_singular() -> None:
    panel = TierPanel()
    async with PanelApp(panel).run_test(size=(100, 30)) as pilot:
        one = TierLine("l3", 1, 1, 0.5, 1, 900_000, 45 * MB)
        panel.show(make_snapshot(), make_monitor(tiers=(*make_tiers()[:2], one)))
        await pilot.pause()
        assert "L3   50.0%  1 hit · 1 miss · 1 chunk" in panel_lines(panel)[5]


async def test_tier_history_is_bounded() -> None:
    panel = TierPanel()
    async with PanelApp(panel).run_test(size=(100, 30)):
        for _ in range(HISTORY_SAMPLES + 10):
            panel.show(make_snapshot(), make_monitor())
        assert all(len(rates) == HISTORY_SAMPLES for rates in panel.history)


# -- predictions --------------------------------------------------------------------------


async def test_predictions_sorted_with_scores_and_baseline() -> None:
    panel = PredictionsPanel()
    async with PanelApp(panel).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(), make_monitor())
        await pilot.pause()
        lines = panel_lines(panel)
        assert "Predictions" in lines[0]
        assert "switch next chunk 23%  context audio-guided" in lines[1]
        rows = [line.strip("│ ").split() for line in lines[2:7]]
        assert [row[0] for row in rows] == ["bright", "punchy", "adaptive", "gentle", "original"]
        assert [row[-1] for row in rows] == ["45%", "25%", "15%", "10%", "5%"]
        assert "top-1 55% · top-3 85% · Brier 0.47 · 20 made" in lines[7]
        assert "best baseline markov top-1 45% · 23 learned" in lines[8]
        assert "blend markov 50% · content 30% · favourite 20%" in lines[9]


async def test_predictions_before_any_switch_show_dashes() -> None:
    panel = PredictionsPanel()
    async with PanelApp(panel).run_test(size=(100, 30)):
        cold = make_predictor(score=PredictionScore(), baselines={}, context="cold")
        panel.show(make_snapshot(), make_monitor(predictor=cold))
        text = str(panel.render())
        assert "top-1 – · top-3 – · Brier – · 0 made" in text
        assert "best baseline –" in text and "context cold" in text


async def test_predictions_in_a_narrow_panel_read_whole_lines() -> None:
    """At 80 columns the panel is 30 wide: shorter forms of the same figures, none cut."""
    panel = PredictionsPanel()
    async with PanelApp(panel, width=30).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(), make_monitor())
        await pilot.pause()
        lines = [line.strip("│ ") for line in panel_lines(panel)]
        assert lines[1] == "switch 23% audio-guided"
        assert lines[7] == "top-1 55% · top-3 85%"
        assert lines[8] == "baseline markov 45%"
        assert lines[9] == "blend: markov 50%"
        assert not any("…" in line for line in lines)
        cold = make_predictor(context="warm")
        panel.show(make_snapshot(), make_monitor(predictor=cold))
        await pilot.pause()
        assert panel_lines(panel)[1].strip("│ ") == "switch 23% · ctx warm"


# -- health -------------------------------------------------------------------------------


async def test_health_panel_shows_badge_memory_latency_worker_and_input() -> None:
    panel = HealthPanel()
    async with PanelApp(panel).run_test(size=(100, 30)) as pilot:
        panel.show(make_snapshot(), make_monitor())
        await pilot.pause()
        text = "\n".join(panel_lines(panel))
        assert "Health" in text
        assert " WARNING  L1 hit rate 80%, overall 93%" in text
        assert "tiers 72.4/99.0 MB" in text and "rss 245/290 MB" in text
        assert "degradation normal" in text and "underruns 2" in text
        assert "switch latency p50/p99 ms" in text
        assert "L1 21/63  L2 25/70  L3 –  miss 180/240" in text
        assert "workers 2/2  queue 5  busy 43%  1.4 renders/s" in text
        assert "failures 1 · timeouts 0 · restarts 0" in text
        assert "throttled 2  debounced 5  rapid 1  learned 23" in text

        assert panel.outer_size.height == 8 + 2
        broken = dataclasses.replace(make_monitor().worker, alive=1, last_error="TimeoutError")
        panel.show(make_snapshot(), make_monitor(health_status="critical", worker=broken))
        await pilot.pause()
        lines = panel_lines(panel)
        assert "CRITICAL" in lines[1] and "workers 1/2" in lines[6]
        assert "last error: TimeoutError" in lines[9]  # a line of its own: the panel grew
        slow = dataclasses.replace(make_monitor().worker, real_time_factor=7.4, behind=3)
        panel.show(make_snapshot(), make_monitor(worker=slow))
        await pilot.pause()
        assert "switch latency p50/p99 ms · render 7x, behind" in "\n".join(panel_lines(panel))


# -- event log ----------------------------------------------------------------------------


def test_message_kinds() -> None:
    assert message_kind("skipped d.wav: not audio") == "skipped"
    assert message_kind("skipped to “Awakening”") == "track", "a track change, not a bad file"
    assert message_kind("now playing “Awakening”") == "track"
    assert message_kind("switched warm → bright (from cache L1, 23 ms)") == "switch"
    assert message_kind("seek to 1:25 (from cache L1, 23 ms)") == "seek"
    assert message_kind("track start (from cache L1, 31 ms)") == "seek"
    assert message_kind("x.flac is no longer playable (gone); skipped") == "skipped"
    assert message_kind("throttled: seek held") == "throttled"
    assert message_kind("rapid start: exploring presets") == "rapid"
    assert message_kind("memory pressure high: budgets resized, 3 evicted") == "memory"
    assert message_kind("engine maintenance failed: ValueError: x") == "error"
    assert message_kind("cleared all tiers: 3 chunks") == "info"


def followed_log(stream: EventStream, **options: Any) -> EventLog:
    log = EventLog(clock=lambda: NOON, **options)
    log.follow(stream.subscribe(capacity=10))
    return log


async def test_event_log_appends_each_log_line_once_with_a_stamp() -> None:
    stream = EventStream()
    log = followed_log(stream)
    async with PanelApp(log).run_test(size=(100, 30)) as pilot:
        stream.publish("log", 1.0, "skipped d.wav: not audio")
        log.show(make_snapshot(), None)
        log.show(make_snapshot(), None)
        stream.publish("log", 2.0, "throttled: seek held")
        stream.publish("invalidated", 2.5, {"track_id": None, "reason": "cleared", "chunks": 0})
        stream.publish("log", 3.0, "switch warm -> bright")
        log.show(make_snapshot(), make_monitor())
        await pilot.pause()
        assert [line[9:] for line in log.lines] == [
            "skipped d.wav: not audio",
            "throttled: seek held",
            "switch warm -> bright",
        ]
        assert log.lines[0][:8].count(":") == 2
        assert "Events" in panel_lines(log)[0]
        assert "skipped d.wav" in panel_lines(log)[1]


LONG_REASON = (
    "skipped truncated.flac: truncated: 4.3 s of 38.5 s playable "
    "(decoding failed: flac decoder lost sync)"
)


async def test_event_log_wraps_a_long_message_under_its_first_word() -> None:
    """A `Log` cuts a line at the panel's edge: the end of a reason could not be read. Each
    further line hangs under the message's first word, in the message's colour, and the
    message stays whole in `messages`."""
    stream = EventStream()
    log = followed_log(stream)
    async with PanelApp(log, width=50).run_test(size=(100, 30)) as pilot:
        stream.publish("log", 1.0, LONG_REASON)
        stream.publish("log", 2.0, "switch warm -> bright")
        log.show(make_snapshot(), None)
        await pilot.pause()
        width = log.scrollable_content_region.width
        assert len(log.lines) > 2 and all(len(line) <= width for line in log.lines)
        assert all(line.startswith(" " * 9) for line in log.lines[1:-1])
        assert " ".join(line.strip() for line in log.lines[:-1])[9:] == LONG_REASON
        assert [m[9:] for m in log.messages] == [LONG_REASON, "switch warm -> bright"]
        skipped = log.get_component_rich_style("event-log--skipped", partial=True)
        for line in log.lines[:-1]:
            coloured = Text(line)
            log.highlighter.highlight(coloured)
            assert coloured.spans[-1].style == skipped
        assert not log.show_horizontal_scrollbar


async def test_event_log_wraps_again_when_its_width_changes() -> None:
    stream = EventStream()
    log = followed_log(stream)
    async with PanelApp(log, width=40).run_test(size=(100, 30)) as pilot:
        stream.publish("log", 1.0, LONG_REASON)
        log.show(make_snapshot(), None)
        await pilot.pause()
        narrow = len(log.lines)
        log.styles.width = 90
        await pilot.pause()
        assert len(log.lines) < narrow
        width = log.scrollable_content_region.width
        assert all(len(line) <= width for line in log.lines)
        assert " ".join(line.strip() for line in log.lines)[9:] == LONG_REASON


async def test_event_log_keeps_a_bounded_number_of_lines() -> None:
    stream = EventStream()
    log = followed_log(stream, max_lines=3)
    async with PanelApp(log).run_test(size=(100, 30)):
        for n in range(5):
            stream.publish("log", float(n), f"render {n}")
        log.show(make_snapshot(), None)
        assert [line[9:] for line in log.lines] == ["render 2", "render 3", "render 4"]


async def test_event_log_says_how_many_events_it_fell_behind_by() -> None:
    stream = EventStream()
    log = followed_log(stream)  # a subscription of 10 events
    async with PanelApp(log).run_test(size=(100, 30)):
        for n in range(12):
            stream.publish("log", float(n), f"render {n}")
        log.show(make_snapshot(), None)
        lines = [line[9:] for line in log.lines]
        assert lines == ["… 2 earlier events not shown", *(f"render {n}" for n in range(2, 12))]


# -- output meter -------------------------------------------------------------------------


def test_level_meter_and_spectrum_scales() -> None:
    assert level_meter(-90.0, -90.0, 10) == " " * 10
    assert level_meter(0.0, 0.0, 10) == "█" * 9 + "┃"
    assert level_meter(-30.0, -6.0, 10) == "█████    ┃"
    assert level_meter(-45.0, -90.0, 10) == "██▌       "
    assert spectrum_rows([0.0, -80.0, -40.0], rows=2, band_width=1) == ["█  ", "█ █"]


def test_output_levels_read_a_full_scale_sine_in_its_own_band() -> None:
    """A 1 kHz sine at full scale in the left channel only: peak 0 dB and RMS -3 dB there,
    silence on the right; the spectrum is about 0 dB in the band holding 1 kHz (its mono
    mix is half the level: -6 dB) and far below it away from it."""
    rate, frames = 48_000, 4096
    wave = np.sin(2 * np.pi * 1000.0 * np.arange(frames) / rate).astype(np.float32)
    audio = np.stack([wave, np.zeros(frames, np.float32)], axis=1)
    levels = output_levels(audio, rate)
    assert levels.peak_db[0] == pytest.approx(0.0, abs=0.01)
    assert levels.rms_db[0] == pytest.approx(-3.01, abs=0.05)
    assert math.isinf(levels.peak_db[1]) or levels.peak_db[1] <= -90.0
    assert len(levels.spectrum_db) == SPECTRUM_BANDS
    loudest = int(np.argmax(levels.spectrum_db))
    assert levels.spectrum_db[loudest] == pytest.approx(-6.02, abs=0.5)
    assert max(levels.spectrum_db[: loudest - 2] + levels.spectrum_db[loudest + 3 :]) < -40.0
    assert output_levels(audio[:1000], rate) == output_levels(audio[:1000], rate)  # made again


async def test_output_meter_for_silence_and_for_music() -> None:
    meter = OutputMeter()
    async with PanelApp(meter).run_test(size=(100, 30)) as pilot:
        meter.show(make_snapshot(), make_monitor(output=OutputLevels.silent()))
        await pilot.pause()
        lines = panel_lines(meter)
        assert "Output" in lines[0]
        assert lines[1].startswith("│ L ") and "rms  -inf peak  -inf dB" in lines[1]
        assert not any(block in lines[1] + lines[2] for block in "█▏┃")
        assert not any(block in "".join(lines[3:6]) for block in "▁█")
        assert "40 Hz" in lines[6] and "16 kHz" in lines[6]

        meter.show(make_snapshot(), make_monitor())
        await pilot.pause()
        lines = panel_lines(meter)
        assert "rms -14.5 peak  -3.2 dB" in lines[1] and "┃" in lines[1]
        assert "█" in lines[5] and "0" in lines[3]
