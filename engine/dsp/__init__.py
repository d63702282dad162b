"""Mastering DSP: preset data, the plugin chain, the true-peak limiter and chunk rendering."""

from engine.dsp.presets import PRESETS, Preset, adaptive_preset, preset_named
from engine.dsp.render import Renderer, chunk_bounds, chunk_count, render_chunk

__all__ = [
    "PRESETS",
    "Preset",
    "Renderer",
    "adaptive_preset",
    "chunk_bounds",
    "chunk_count",
    "preset_named",
    "render_chunk",
]
