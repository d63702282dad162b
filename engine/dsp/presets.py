"""Mastering presets as data: EQ bands, compressor, stereo width, loudness target.

The table below is the whole sound design; the chain in `engine/dsp/chain.py` only turns it
into plugins. `adaptive` is the one preset computed per track, from whole-track analysis
(never per chunk, so its tone cannot change at a chunk boundary).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from engine.errors import UnknownPreset
from engine.vocabulary import BYPASS, PRESET_ORDER

ADAPTIVE = "adaptive"
"""The one preset computed per track (`adaptive_preset`)."""

if TYPE_CHECKING:  # analysis measures loudness with engine.dsp: no import cycle at run time
    from engine.library.analysis import TrackAnalysis

FilterKind = Literal["low_shelf", "high_shelf", "peak", "highpass"]


@dataclass(frozen=True)
class EqBand:
    kind: FilterKind
    frequency_hz: float
    gain_db: float = 0.0
    q: float = 0.707


@dataclass(frozen=True)
class CompressorSettings:
    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float


@dataclass(frozen=True)
class Preset:
    """One mastering preset. `original` has no stages at all: it is the untouched source."""

    name: str
    description: str
    eq: tuple[EqBand, ...] = ()
    compressor: CompressorSettings | None = None
    width: float = 1.0
    """Side-channel gain: 1.0 keeps the stereo image, >1 widens, <1 narrows."""
    target_lufs: float | None = None
    """Used only in `targets` loudness mode; `matched` mode follows the original."""

    @property
    def is_bypass(self) -> bool:
        return self.name == BYPASS

    @property
    def is_adaptive(self) -> bool:
        """Computed per track from its analysis (`adaptive_preset`), not fixed."""
        return self.name == ADAPTIVE


PRESETS: dict[str, Preset] = {
    BYPASS: Preset(BYPASS, "the file as it is, untouched"),
    ADAPTIVE: Preset(
        ADAPTIVE,
        "corrects this track's tonal balance and dynamics (derived from its analysis)",
        target_lufs=-14.0,
    ),
    "gentle": Preset(
        "gentle",
        "soft top, relaxed low end, light slow compression: for long listening",
        eq=(
            EqBand("highpass", 30.0),
            EqBand("low_shelf", 250.0, -2.5),
            EqBand("high_shelf", 5_000.0, -4.0),
        ),
        compressor=CompressorSettings(-26.0, 1.6, 40.0, 400.0),
        width=0.9,
        target_lufs=-16.0,
    ),
    "warm": Preset(
        "warm",
        "fuller lows and low mids, rounded highs",
        eq=(
            EqBand("highpass", 25.0),
            EqBand("low_shelf", 180.0, 4.5),
            EqBand("peak", 450.0, 1.5, 0.8),
            EqBand("high_shelf", 4_000.0, -5.0),
        ),
        compressor=CompressorSettings(-22.0, 2.0, 25.0, 250.0),
        target_lufs=-14.0,
    ),
    "bright": Preset(
        "bright",
        "open, airy top and presence, leaner lows",
        eq=(
            EqBand("highpass", 40.0),
            EqBand("low_shelf", 160.0, -3.0),
            EqBand("peak", 3_200.0, 2.5, 0.9),
            EqBand("high_shelf", 7_000.0, 5.5),
        ),
        compressor=CompressorSettings(-22.0, 2.0, 15.0, 200.0),
        width=1.15,
        target_lufs=-14.0,
    ),
    "punchy": Preset(
        "punchy",
        "tight kick and bass, scooped mud, crisp top, fast heavy compression",
        eq=(
            EqBand("highpass", 30.0),
            EqBand("low_shelf", 90.0, 5.0),
            EqBand("peak", 320.0, -3.5, 1.0),
            EqBand("high_shelf", 9_000.0, 3.0),
        ),
        compressor=CompressorSettings(-24.0, 4.5, 5.0, 90.0),
        width=1.1,
        target_lufs=-11.0,
    ),
}
assert tuple(PRESETS) == PRESET_ORDER


def preset_named(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPreset(name, PRESET_ORDER) from None


# Reference balance the adaptive preset steers towards: octave-band levels (dB re. total)
# of a typical modern mix, 31.5 Hz .. 16 kHz. Measured tilt away from it is half corrected.
REFERENCE_BAND_DB = (-14.0, -9.5, -8.0, -8.5, -9.5, -11.0, -12.5, -14.5, -17.5, -23.0)
MAX_CORRECTION_DB = 4.5


def adaptive_preset(analysis: TrackAnalysis) -> Preset:
    """Parameters from whole-track analysis: tilt towards the reference, tame or add dynamics.

    Lows (31.5-125 Hz), low mids (250-500 Hz), presence (2-4 kHz) and air (8-16 kHz) are each
    corrected by half their distance from the reference, within +-4.5 dB. Dynamic tracks get
    gentle compression, already squashed ones almost none.
    """
    bands = analysis.band_levels_db
    if analysis.failed or len(bands) != len(REFERENCE_BAND_DB):
        bands = REFERENCE_BAND_DB

    def correction(indices: tuple[int, ...]) -> float:
        gap = sum(REFERENCE_BAND_DB[i] - bands[i] for i in indices) / len(indices)
        return max(-MAX_CORRECTION_DB, min(MAX_CORRECTION_DB, 0.5 * gap))

    features = analysis.features
    ratio = 1.5 + 2.0 * features.dynamics
    presence = correction((6, 7)) + (1.5 if features.vocal_presence > 0.5 else 0.0)
    eq = (
        EqBand("highpass", 28.0),
        EqBand("low_shelf", 110.0, correction((0, 1, 2)) + 1.0),
        EqBand("peak", 380.0, correction((3, 4)) - 1.0, 0.9),
        EqBand("peak", 2_800.0, max(-MAX_CORRECTION_DB, min(MAX_CORRECTION_DB, presence)), 0.8),
        EqBand("high_shelf", 9_000.0, correction((8, 9)) + 1.5),
    )
    compressor = CompressorSettings(-30.0 + 10.0 * features.energy, ratio, 20.0, 180.0)
    return replace(PRESETS[ADAPTIVE], eq=eq, compressor=compressor, width=1.05)
