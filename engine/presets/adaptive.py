"""The adaptive preset's chain for one track, from that track's analysis.

Computed per track (never per chunk, so its tone cannot change at a chunk boundary).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from engine.presets.model import CompressorSettings, EqBand, Preset

if TYPE_CHECKING:  # analysis measures loudness with engine.dsp: no import cycle at run time
    from engine.library.analysis import TrackAnalysis

REFERENCE_BAND_DB = (-14.0, -9.5, -8.0, -8.5, -9.5, -11.0, -12.5, -14.5, -17.5, -23.0)
"""Octave-band levels (dB re. total) of a typical modern mix, 31.5 Hz .. 16 kHz, which the
adaptive preset steers towards: measured tilt away from it is half corrected."""
MAX_CORRECTION_DB = 4.5


def adaptive_preset(base: Preset, analysis: TrackAnalysis) -> Preset:
    """`base` with EQ and compressor from the track's analysis: tilt towards the reference,
    tame or add dynamics.

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
    return replace(base, eq=eq, compressor=compressor, width=1.05)
