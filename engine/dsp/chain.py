"""Turns a `Preset` into audio processing: pedalboard plugins, stereo width, dry/wet mix.

Each `PresetChain` owns its plugin instances, so every render thread builds its own chains
and no plugin state is ever shared between threads. A preset with a linear-phase EQ or a
room has a convolution stage first (`kernels.py`); its kernel is designed on the first
render that needs it (scipy loads then, in a render thread) and shared, read-only.
"""

from __future__ import annotations

import numpy as np
import pedalboard

from engine.dsp.convolution import PartitionedKernel, convolve
from engine.dsp.eq import eq_plugin
from engine.dsp.kernels import preset_kernel
from engine.frames import Planar
from engine.presets.model import Preset


def build_board(preset: Preset) -> pedalboard.Pedalboard:
    """The plugin part of a preset: EQ bands in order (unless the convolution stage has
    them, linear-phase), then the compressor."""
    bands = preset.eq if preset.phase == "minimum" else ()
    plugins: list[pedalboard.Plugin] = [eq_plugin(band) for band in bands]
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
    """The wet path of one preset: its convolution stage if it has one, plugins from a
    fresh state, then stereo width."""

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self.board = build_board(preset)

    def kernel(self, sample_rate: int) -> PartitionedKernel | None:
        return preset_kernel(self.preset, sample_rate)

    def reach(self, sample_rate: int) -> tuple[int, int]:
        """(before, after): frames a render must add on either side of its warm-up and
        look-ahead for the convolution stage to be exact there (0, 0 without one)."""
        kernel = self.kernel(sample_rate)
        return (0, 0) if kernel is None else kernel.reach

    def process(
        self, planar: Planar, sample_rate: int, origin_frame: int = 0, kept: slice = slice(None)
    ) -> Planar:
        """Process a whole segment from a reset state: deterministic for the same input.
        `origin_frame` (the segment's first frame in the track) anchors the convolution's
        partitions, so every render of a frame computes it alike. Only the `kept` frames
        come out (the others warm the plugins up): width, frame by frame, skips the rest."""
        kernel = self.kernel(sample_rate)
        if kernel is not None:
            planar = convolve(planar, kernel, origin_frame)
        wet: Planar = self.board(planar, sample_rate, reset=True)
        return apply_width(wet[:, kept], self.preset.width)


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
