"""A look-ahead true-peak limiter that is exact across chunk boundaries.

Why our own: pedalboard's `Limiter` is not a brickwall (it let +2 dBTP through at a -2.2 dB
threshold on loud masters). This one computes a gain curve that is provably at or below the
gain each frame needs, from a finite window of audio around it, so a chunk rendered with
warm-up and look-ahead gets exactly the gain a continuous render would.

How: the needed gain r[n] = min(1, ceiling / true_peak[n]) is reduced to a block-rate
minimum on an absolute 32-frame grid, then smoothed by stages of (running minimum over +-K
blocks, then running mean over +-K blocks). Each stage's minimum window covers its mean
window, so a stage never raises the gain above its input; between block centres the gain is
a linear ramp, a convex mix of two such values, and no frame's gain is above its r[n] in any
case. Attack and release are symmetric (look-ahead ramps), 5 ms then 30 ms.

Cost: r[n] is below 1 only where the envelope is over the ceiling, a few frames in a
thousand even on a loud master, so only those frames are found (`true_peak_over`), and only
the stretches where the smoothed gain is below 1 are ramped and multiplied; the rest of the
chunk is left as it is. Every step computes a frame's or a block's value from its neighbours
in the same order wherever it lies, so renders of any window agree to the bit.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.dsp.truepeak import Frames, true_peak_over
from engine.frames import Planar

BLOCK_FRAMES = 32
STAGE_SECONDS = (0.005, 0.030)
MARGIN_DB = 0.15
"""Headroom between the fast true-peak estimate and the reference measurement."""
SLICE_FRAMES = 1 << 16
"""Frames whose gains are computed and applied at a time: a render's scratch stays small."""
RAMP: npt.NDArray[np.float32] = ((np.arange(BLOCK_FRAMES) + 0.5) / BLOCK_FRAMES).astype(np.float32)
"""How far along from one block centre to the next each of the frames between them sits."""

Gains = npt.NDArray[np.float64]
"""One gain per block of the absolute grid."""


def limiter_reach_frames(sample_rate: int) -> int:
    """How far (either side) a frame's gain depends on the audio: look-ahead needed."""
    blocks = 2 + sum(2 * _stage_blocks(seconds, sample_rate) for seconds in STAGE_SECONDS)
    return (blocks + 2) * BLOCK_FRAMES


def limiter_threshold(ceiling_db: float) -> float:
    """The linear true peak above which the limiter acts: audio whose true peak is at or
    under it comes out untouched, to the bit."""
    return float(10 ** ((ceiling_db - MARGIN_DB) / 20))


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
    ceiling = limiter_threshold(ceiling_db)
    frames, peaks = true_peak_over(planar, ceiling)
    if not frames.size:
        return planar
    needed: npt.NDArray[np.float32] = np.float32(ceiling) / peaks
    lead = origin_frame % BLOCK_FRAMES
    block_gain = _block_needs(frames, needed, planar.shape[1], lead)
    _apply_gain(planar, _smooth(block_gain, sample_rate), frames, needed, lead)
    return planar


def _block_needs(frames: Frames, needed: npt.NDArray[np.float32], count: int, lead: int) -> Gains:
    """Each block's smallest needed gain (1 where no frame of it is over the ceiling)."""
    blocks = (frames + lead) // BLOCK_FRAMES
    gains = np.ones(math.ceil((count + lead) / BLOCK_FRAMES))
    firsts = np.flatnonzero(np.diff(blocks, prepend=-1))
    gains[blocks[firsts]] = np.minimum.reduceat(needed, firsts)
    return gains


def _smooth(block_gain: Gains, sample_rate: int) -> Gains:
    """The block gains the frames' gains are ramped between: a minimum over +-1 block, then
    each stage's running minimum and running mean."""
    gains = _centred(block_gain, 3, np.minimum)
    for seconds in STAGE_SECONDS:
        width = 2 * _stage_blocks(seconds, sample_rate) + 1
        gains = _centred(gains, width, np.minimum)
        gains = _centred(gains, width, np.add) / width
    return gains


def _centred(values: Gains, width: int, combine: np.ufunc) -> Gains:
    """`combine` over each value's window of odd `width` centred on it, the ends repeated
    (scipy.ndimage's `mode="nearest"`; numpy, since the feeder must not wait for scipy).

    Windows of 2, 4, 8... values are built by doubling and each window is put together from
    them in the same order wherever it lies, so a sum rounds alike in every render; a few
    passes over a few thousand blocks, whatever the width."""
    count = values.size
    padded = np.pad(values, width // 2, mode="edge")
    spans = [padded]  # spans[j][i] combines padded[i : i + 2**j]
    while 2 ** len(spans) <= width:
        part, size = spans[-1], 2 ** (len(spans) - 1)
        spans.append(combine(part[:-size], part[size:]))
    result: Gains | None = None
    offset = 0
    for level in reversed(range(len(spans))):  # the binary digits of `width`, largest first
        size = 2**level
        if width & size:
            piece = spans[level][offset : offset + count]
            result = piece.copy() if result is None else combine(result, piece, out=result)
            offset += size
    assert result is not None
    return result


def _apply_gain(
    planar: Planar,
    block_gain: Gains,
    frames: Frames,
    needed: npt.NDArray[np.float32],
    lead: int,
) -> None:
    """Multiply each frame by the ramp between its two block centres, or by what it needs
    where that is less, slice by slice, skipping the stretches where the gain is 1.

    Segment j runs from block j - 1's centre to block j's (the ends repeated), so frame f is
    in segment (f + lead + 16) // 32 at (f + lead + 16) % 32 of the way through it."""
    ends = np.concatenate([block_gain[:1], block_gain, block_gain[-1:]]).astype(np.float32)
    steps: npt.NDArray[np.float32] = ends[1:] - ends[:-1]
    active = (ends[:-1] < 1.0) | (ends[1:] < 1.0)
    shift = lead + BLOCK_FRAMES // 2
    active[(frames + shift) // BLOCK_FRAMES] = True
    per_slice = SLICE_FRAMES // BLOCK_FRAMES
    for base in range(0, active.size, per_slice):
        used = np.flatnonzero(active[base : base + per_slice])
        if used.size:
            first, last = base + int(used[0]), base + int(used[-1]) + 1
            ramp = ends[first:last, None] + steps[first:last, None] * RAMP
            _scale(planar, ramp.ravel(), first * BLOCK_FRAMES - shift, frames, needed)


def _scale(
    planar: Planar,
    gain: npt.NDArray[np.float32],
    start: int,
    frames: Frames,
    needed: npt.NDArray[np.float32],
) -> None:
    """Multiply frames [start, start + len(gain)) of `planar` (clipped to it) by `gain`,
    lowered to `needed` at the over frames among them."""
    low, high = max(start, 0), min(start + gain.size, planar.shape[1])
    if high <= low:  # the ramp after the last block's centre, past the last frame
        return
    gain = gain[low - start : high - start]
    first, last = np.searchsorted(frames, (low, high))
    at = frames[first:last] - low
    gain[at] = np.minimum(gain[at], needed[first:last])
    piece = planar[:, low:high]
    np.multiply(piece, gain, out=piece)
