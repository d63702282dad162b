"""Mastering DSP: what a chunk of audio goes through on its way into the buffer.

In order: a preset (data, `engine/presets/`) → `chain` (a preset's plugin chain, width and
dry/wet mix) → `limiter` with `truepeak` (the true-peak ceiling) → `render` (one chunk,
exactly as a continuous render has it). Loudness matching runs beside it: `loudness` (the
gated meter) → `calibration` (a track's sample windows) → `calibrations` (the gains every
render thread shares). `crossfade` is the switch's equal-power fade.
"""
