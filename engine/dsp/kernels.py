"""A preset's convolution stage: its linear-phase EQ and its room as one kernel.

Both are linear and time-invariant, so they combine into one kernel (the FIR convolved
with the room's response) and one partitioned convolution, and they run first, on the
source itself: the stage's input is then the same in every render, which is what makes
its output exact across chunks. A minimum-phase EQ commutes with the room just as well,
so a room with the plugins' EQ is the same chain in another order. The compressor and
width follow as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from engine.dsp.convolution import PartitionedKernel
from engine.dsp.fir import linear_phase_kernel
from engine.dsp.lru import Lru
from engine.dsp.room import room_response
from engine.presets.model import EqBand, Preset, RoomSettings

KEPT_KERNELS = 16
"""Designed kernels kept: an adaptive linear-phase preset has one per track."""

KernelKey = tuple[tuple[EqBand, ...], RoomSettings | None, int]


class _KernelCache:
    """Designed kernels by (linear EQ bands, room, rate), the least recently used let go
    past KEPT_KERNELS; any thread. A design runs outside the lock (two threads may both
    design one: the same kernel)."""

    def __init__(self) -> None:
        self._kernels: Lru[KernelKey, PartitionedKernel] = Lru(KEPT_KERNELS)
        self._lock = threading.Lock()

    def get(self, key: KernelKey, design: Callable[[], PartitionedKernel]) -> PartitionedKernel:
        with self._lock:
            kernel = self._kernels.get(key)
        if kernel is None:
            kernel = design()
            with self._lock:
                self._kernels.put(key, kernel)
        return kernel

    def has(self, key: KernelKey) -> bool:
        with self._lock:
            return key in self._kernels

    def clear(self) -> None:
        with self._lock:
            self._kernels.clear()


_KERNELS = _KernelCache()


def _key(preset: Preset, rate: int) -> KernelKey:
    return (preset.eq if preset.phase == "linear" else (), preset.room, rate)


def preset_kernel(preset: Preset, rate: int) -> PartitionedKernel | None:
    """The preset's convolution stage at `rate`, or None when it has none."""
    if not preset.convolves:
        return None
    return stage_kernel(*_key(preset, rate))


def kernel_designed(preset: Preset, rate: int) -> bool:
    """Whether `preset_kernel` returns at once: no stage, or its kernel designed and kept
    (a design takes 0.1-0.2 s, and 1.5 s while scipy first loads: never on the feeder)."""
    return not preset.convolves or _KERNELS.has(_key(preset, rate))


def clear_kernels() -> None:
    """Forget every designed kernel (benchmarks time a design)."""
    _KERNELS.clear()


def stage_kernel(
    linear_eq: tuple[EqBand, ...], room: RoomSettings | None, rate: int
) -> PartitionedKernel:
    """Designed once per (bands, room, rate) while kept: every render of the preset shares it."""
    return _KERNELS.get((linear_eq, room, rate), lambda: _design(linear_eq, room, rate))


def _design(
    linear_eq: tuple[EqBand, ...], room: RoomSettings | None, rate: int
) -> PartitionedKernel:
    fir = linear_phase_kernel(linear_eq, rate) if linear_eq else np.ones(1)
    centre = fir.size // 2
    if room is None:
        return PartitionedKernel.of(fir, centre)
    from scipy.signal import oaconvolve  # with the design, off the feeder's path

    response = room_response(room, rate)
    combined = oaconvolve(fir, response) if fir.size > 1 else response
    return PartitionedKernel.of(np.asarray(combined, dtype=np.float64), centre)
