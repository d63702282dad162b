"""A preset's convolution stage: its linear-phase EQ and its room as one kernel.

Both are linear and time-invariant, so they combine into one kernel (the FIR convolved
with the room's response) and one partitioned convolution, and they run first, on the
source itself: the stage's input is then the same in every render, which is what makes
its output exact across chunks. A minimum-phase EQ commutes with the room just as well,
so a room with the plugins' EQ is the same chain in another order. The compressor and
width follow as before.
"""

from __future__ import annotations

import functools

import numpy as np

from engine.dsp.convolution import PartitionedKernel
from engine.dsp.fir import linear_phase_kernel
from engine.dsp.room import room_response
from engine.presets.model import EqBand, Preset, RoomSettings


def preset_kernel(preset: Preset, rate: int) -> PartitionedKernel | None:
    """The preset's convolution stage at `rate`, or None when it has none."""
    if not preset.convolves:
        return None
    linear = preset.eq if preset.phase == "linear" else ()
    return stage_kernel(linear, preset.room, rate)


@functools.lru_cache(maxsize=16)
def stage_kernel(
    linear_eq: tuple[EqBand, ...], room: RoomSettings | None, rate: int
) -> PartitionedKernel:
    """Designed once per (bands, room, rate): every render of the preset shares it."""
    fir = linear_phase_kernel(linear_eq, rate) if linear_eq else np.ones(1)
    centre = fir.size // 2
    if room is None:
        return PartitionedKernel.of(fir, centre)
    from scipy.signal import oaconvolve  # with the design, off the feeder's path

    response = room_response(room, rate)
    combined = oaconvolve(fir, response) if fir.size > 1 else response
    return PartitionedKernel.of(np.asarray(combined, dtype=np.float64), centre)
