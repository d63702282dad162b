"""A look-ahead true-peak limiter that is exact across chunk boundaries.

Why our own: pedalboard's `Limiter` is not a brickwall (it let +2 dBTP through at a -2.2 dB
threshold on loud masters). This one computes a gain curve that is provably at or below the
gain each frame needs, from a finite window of audio around it, so a chunk rendered with
warm-up and look-ahead gets exactly the gain a continuous render would.

How: the needed gain r[n] = min(1, ceiling / true_peak[n]) is reduced to a block-rate
minimum on an absolute 32-frame grid, then smoothed by stages of (running minimum over +-K
blocks, then running mean over +-K blocks). Each stage's minimum window covers its mean
window, so a stage never raises the gain above its input; linear interpolation between
block centres is a convex mix of two such values, so it stays below r too. Attack and
release are symmetric (look-ahead ramps), 5 ms then 30 ms.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.dsp.truepeak import Planar, true_peak_envelope

BLOCK_FRAMES = 32
STAGE_SECONDS = (0.005, 0.030)
MARGIN_DB = 0.15
"""Headroom between the fast true-peak estimate and the reference measurement."""
SLICE_FRAMES = 1 << 16
"""Frames whose gains are computed and applied at a time: a render's scratch stays small."""


def limiter_reach_frames(sample_rate: int) -> int:
    """How far (either side) a frame's gain depends on the audio: look-ahead needed."""
    blocks = 2 + sum(2 * _stage_blocks(seconds, sample_rate) for seconds in STAGE_SECONDS)
    return (blocks + 2) * BLOCK_FRAMES


def _stage_blocks(seconds: float, sample_rate: int) -> int:
    return max(1, round(seconds * sample_rate / BLOCK_FRAMES))


def limit_true_peak(
    planar: Planar, sample_rate: int, ceiling_db: float, origin_frame: int = 0
) -> Planar:
    """Scale `planar` in place so its true peak stays at or below `ceiling_db` dBTP, and
    return it (callers pass audio they own: no second chunk-sized array).

    `origin_frame` is the absolute position of the first frame in the track: the block grid
    is anchored to the track, not to the segment, so every render computes the same gains.
    """
    ceiling = 10 ** ((ceiling_db - MARGIN_DB) / 20)
    envelope = true_peak_envelope(planar, ceiling)
    if float(envelope.max(initial=0.0)) <= ceiling:
        return planar
    needed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    del envelope
    centres, block_gain = _smooth_block_gain(needed, sample_rate, origin_frame)
    frames = needed.shape[0]
    for first in range(0, frames, SLICE_FRAMES):
        last = min(first + SLICE_FRAMES, frames)
        smooth = np.interp(np.arange(first, last, dtype=np.float64), centres, block_gain)
        gain = np.minimum(smooth, needed[first:last])
        # Multiplied in float64 and rounded once, as a float64 product of the chunk would be.
        piece = planar[:, first:last]
        np.multiply(piece, gain[None, :], out=piece, casting="same_kind")
    return planar


def _smooth_block_gain(
    needed: npt.NDArray[np.float32], sample_rate: int, origin_frame: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(block centres in frames, smoothed gain at each): the curve the frames' gains are
    interpolated from."""
    frames = needed.shape[0]
    lead = origin_frame % BLOCK_FRAMES
    blocks = math.ceil((frames + lead) / BLOCK_FRAMES)
    grid = np.ones(blocks * BLOCK_FRAMES, dtype=np.float32)
    grid[lead : lead + frames] = needed
    block_gain = grid.reshape(blocks, BLOCK_FRAMES).min(axis=1).astype(np.float64)
    block_gain = _centred_windows(block_gain, 3).min(axis=1)
    for seconds in STAGE_SECONDS:
        width = 2 * _stage_blocks(seconds, sample_rate) + 1
        block_gain = _centred_windows(block_gain, width).min(axis=1)
        block_gain = _centred_windows(block_gain, width).mean(axis=1)
    centres = np.arange(blocks) * BLOCK_FRAMES + (BLOCK_FRAMES - 1) / 2 - lead
    return centres, block_gain


def _centred_windows(values: npt.NDArray[np.float64], width: int) -> npt.NDArray[np.float64]:
    """Each value's window of odd `width` centred on it, the ends repeated (scipy.ndimage's
    `mode="nearest"`): a moving minimum or mean over a few thousand blocks, in numpy
    because the feeder limits the original and must not wait for scipy to load."""
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, width)
