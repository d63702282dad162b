"""The output meter: level per channel and a coarse spectrum of what is being heard."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.reactive import reactive

from engine import EngineSnapshot
from engine.observe.monitor import (
    SILENCE_DB,
    SPECTRUM_BANDS,
    SPECTRUM_RANGE_HZ,
    MonitorSnapshot,
    OutputLevels,
)
from tui.widgets.bars import horizontal_bar
from tui.widgets.panel import Panel

METER_FLOOR_DB = -60.0
"""Bottom of the level meters: quieter than this is silence for a listener."""
SPECTRUM_FLOOR_DB = -80.0
"""Bottom of the spectrum: bands sit well below the broadband level."""
METER_ZONES: tuple[tuple[float, str], ...] = (
    (-18.0, "$success"),
    (-6.0, "$warning"),
    (0.0, "$error"),
)
"""(upper dBFS, colour): green for programme level, yellow near the top, red at the limit."""
PEAK_MARK = "┃"
SPECTRUM_ROWS = 3
VERTICAL_EIGHTHS = " ▁▂▃▄▅▆▇█"
MIN_METER_WIDTH = 10
LABEL_WIDTH = 2
SPECTRUM_STYLE = "$accent"
SPECTRUM_SCALE = (f"{0:>4} dB", f"{SPECTRUM_FLOOR_DB:>4.0f} dB")
"""Marks right of the spectrum's top and bottom rows: the scale is fixed, so say it."""


def db_fraction(level_db: float, floor_db: float) -> float:
    """Where `level_db` sits between `floor_db` (0) and full scale (1), clamped."""
    return min(max((level_db - floor_db) / -floor_db, 0.0), 1.0)


def db_text(level_db: float) -> str:
    """dBFS with one decimal; the engine's silence value reads as -inf, not as a number."""
    return "  -inf" if level_db <= SILENCE_DB else f"{level_db:6.1f}"


def meter_text(rms_db: float, peak_db: float) -> str:
    """The numbers after a meter, always the same width so the meters line up."""
    return f" rms{db_text(rms_db)} peak{db_text(peak_db)} dB"


def peak_cell(peak_db: float, width: int) -> int | None:
    """The meter cell of the peak marker, None for a peak below the meter's floor."""
    if peak_db <= METER_FLOOR_DB or width <= 0:
        return None
    return min(width - 1, int(db_fraction(peak_db, METER_FLOOR_DB) * width))


def level_meter(rms_db: float, peak_db: float, width: int) -> str:
    """A `width`-cell meter on a fixed -60..0 dBFS scale: RMS filled, the peak marked."""
    cells = list(horizontal_bar(db_fraction(rms_db, METER_FLOOR_DB), width))
    peak = peak_cell(peak_db, width)
    if peak is not None:
        cells[peak] = PEAK_MARK
    return "".join(cells)


def zone_spans(width: int) -> list[tuple[int, int, str]]:
    """(start, end, colour) cell ranges of a meter `width` cells wide, by METER_ZONES."""
    spans: list[tuple[int, int, str]] = []
    start = 0
    for upper_db, colour in METER_ZONES:
        end = round(db_fraction(upper_db, METER_FLOOR_DB) * width)
        if end > start:
            spans.append((start, end, colour))
        start = max(start, end)
    return spans


def spectrum_rows(bands_db: Sequence[float], rows: int, band_width: int) -> list[str]:
    """Vertical bars in eighth blocks, top row first, on a fixed -80..0 dB scale.

    Each band is `band_width` cells: bars of `band_width - 1` cells with a gap between
    them, or touching bars when there is one cell per band.
    """
    bar = max(1, band_width - 1)
    gap = " " * (band_width - bar)
    heights = [round(db_fraction(db, SPECTRUM_FLOOR_DB) * rows * 8) for db in bands_db]
    lines = []
    for row in range(rows - 1, -1, -1):
        cells = (VERTICAL_EIGHTHS[min(max(h - row * 8, 0), 8)] * bar + gap for h in heights)
        lines.append("".join(cells))
    return lines


def channel_labels(channels: int) -> list[str]:
    """L/R for stereo, M for mono, numbers otherwise."""
    if channels == 2:
        return ["L", "R"]
    if channels == 1:
        return ["M"]
    return [str(number) for number in range(1, channels + 1)]


class OutputMeter(Panel):
    """Peak and RMS per channel in dBFS and a 16-band spectrum of the audio leaving the
    output: a switch between presets is something to hear, and here also to see.

    Both scales are fixed, so loudness differences between presets show as they are.
    """

    BORDER_TITLE = "Output"

    levels: reactive[OutputLevels] = reactive(OutputLevels.silent)
    """The latest output levels (silent until the first reading)."""

    def show(self, snapshot: EngineSnapshot, monitor: MonitorSnapshot | None) -> None:
        """Take the levels from `monitor`; None (no new reading) keeps the last."""
        if monitor is not None:
            self.levels = monitor.output

    def render(self) -> Content:
        levels = self.levels
        text_width = len(meter_text(SILENCE_DB, SILENCE_DB))
        width = max(MIN_METER_WIDTH, self.size.width - LABEL_WIDTH - text_width)
        labels = channel_labels(len(levels.rms_db))
        meters = [
            _meter_line(label, rms, peak, width)
            for label, rms, peak in zip(labels, levels.rms_db, levels.peak_db, strict=True)
        ]
        return Content("\n").join(meters + self._spectrum_lines(levels.spectrum_db))

    def _spectrum_lines(self, bands_db: Sequence[float]) -> list[Content]:
        room = self.size.width - LABEL_WIDTH - len(SPECTRUM_SCALE[1])
        band_width = max(1, min(3, room // SPECTRUM_BANDS))
        rows = spectrum_rows(bands_db, SPECTRUM_ROWS, band_width)
        top, bottom = SPECTRUM_SCALE
        scale = [top, *([""] * (SPECTRUM_ROWS - 2)), bottom]
        lines = [
            Content.assemble(" " * LABEL_WIDTH, (row, SPECTRUM_STYLE), (mark, "dim"))
            for row, mark in zip(rows, scale, strict=True)
        ]
        low, high = SPECTRUM_RANGE_HZ
        axis_left, axis_right = f"{low:.0f} Hz", f"{high / 1000:.0f} kHz"
        span = len(bands_db) * band_width
        gap = max(1, span - len(axis_left) - len(axis_right))
        lines.append(Content.styled(" " * LABEL_WIDTH + axis_left + " " * gap + axis_right, "dim"))
        return lines


def _meter_line(label: str, rms_db: float, peak_db: float, width: int) -> Content:
    meter = level_meter(rms_db, peak_db, width)
    parts: list[str | tuple[str, str]] = [f"{label} "]
    parts += [(meter[start:end], f"{colour} on $boost") for start, end, colour in zone_spans(width)]
    parts.append(meter_text(rms_db, peak_db))
    return Content.assemble(*parts)
