"""Turns a `Preset` into audio processing: pedalboard plugins, stereo width, dry/wet mix.

Each `PresetChain` owns its plugin instances, so every render thread builds its own chains
and no plugin state is ever shared between threads.
"""

from __future__ import annotations

import numpy as np
import pedalboard

from engine.dsp.truepeak import Planar
from engine.presets.model import EqBand, Preset


def _eq_plugin(band: EqBand) -> pedalboard.Plugin:
    if band.kind == "low_shelf":
        return pedalboard.LowShelfFilter(band.frequency_hz, band.gain_db, band.q)
    if band.kind == "high_shelf":
        return pedalboard.HighShelfFilter(band.frequency_hz, band.gain_db, band.q)
    if band.kind == "peak":
        return pedalboard.PeakFilter(band.frequency_hz, band.gain_db, band.q)
    if band.kind == "lowpass":
        return pedalboard.LowpassFilter(band.frequency_hz)
    return pedalboard.HighpassFilter(band.frequency_hz)


def build_board(preset: Preset) -> pedalboard.Pedalboard:
    """The plugin part of a preset: EQ bands in order, then the compressor."""
    plugins: list[pedalboard.Plugin] = [_eq_plugin(band) for band in preset.eq]
    if preset.compressor is not None:
        settings = preset.compressor
        plugins.append(
            pedalboard.Compressor(
                threshold_db=settings.threshold_db,
                ratio=settings.ratio,
                attack_ms=settings.attack_ms,
                release_ms=settings.release_ms,
            )
        )
    return pedalboard.Pedalboard(plugins)


class PresetChain:
    """The wet path of one preset: plugins from a fresh state, then stereo width."""

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self.board = build_board(preset)

    def process(self, planar: Planar, sample_rate: int) -> Planar:
        """Process a whole segment from a reset state: deterministic for the same input."""
        wet: Planar = self.board(planar, sample_rate, reset=True)
        return apply_width(wet, self.preset.width)


def apply_width(planar: Planar, width: float) -> Planar:
    """Mid/side width: the side signal scaled by `width`, mono content untouched. Written
    into `planar` (the chain's own output): no chunk-sized copies.

    Mid + width * side is left - c * (left - right) with c = (1 - width) / 2, and right
    gains what left loses: one difference and three passes over the audio, not six."""
    if width == 1.0 or planar.shape[0] != 2:
        return planar
    left, right = planar[0], planar[1]
    moved = left - right
    moved *= np.float32((1.0 - width) / 2)
    left -= moved
    right += moved
    return planar


def mix_dry_wet(dry: Planar, wet: Planar, intensity: float, wet_gain: float) -> Planar:
    """Intensity as dry/wet: 0 is the source, 1 is the loudness-matched preset.

    Mixed in place into `wet` (`dry` is scaled in place too): both are the caller's own
    scratch, and a render holds no third chunk-sized array."""
    np.multiply(wet, np.float32(min(intensity, 1.0) * wet_gain), out=wet)
    if intensity < 1.0:
        np.multiply(dry, np.float32(1.0 - intensity), out=dry)
        np.add(wet, dry, out=wet)
    return wet
