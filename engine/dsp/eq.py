"""An EQ band as a pedalboard filter: the minimum-phase chain's, and the response the
linear-phase design (`fir.py`) measures, so the two can never disagree on a band."""

from __future__ import annotations

import pedalboard

from engine.presets.model import EqBand


def eq_plugin(band: EqBand) -> pedalboard.Plugin:
    if band.kind == "low_shelf":
        return pedalboard.LowShelfFilter(band.frequency_hz, band.gain_db, band.q)
    if band.kind == "high_shelf":
        return pedalboard.HighShelfFilter(band.frequency_hz, band.gain_db, band.q)
    if band.kind == "peak":
        return pedalboard.PeakFilter(band.frequency_hz, band.gain_db, band.q)
    if band.kind == "lowpass":
        return pedalboard.LowpassFilter(band.frequency_hz)
    return pedalboard.HighpassFilter(band.frequency_hz)
