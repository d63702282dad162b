"""Long kernels by uniformly partitioned FFT convolution, exact across chunk boundaries.

A chunk is rendered from a window that starts anywhere in the track; an FFT convolution
of that window alone would round differently from a continuous render's, and its seams
would show in the last bits. So the partitions are anchored to the track, not the window:
input block p is always frames [pB, (p+1)B) of the track, its spectrum the same in every
render, and each output block sums the same products (kernel partition k times input
block q - k, for k = 0, 1, ... in that order) before the same inverse FFT. An output
frame far enough inside the window (`reach`) is therefore bit-for-bit the continuous
render's. Frames outside the window count as silence, as before the track's start and
after its end.

The kernel has a `centre`: output frame n is `sum h[k] x[n + centre - k]`, so a
symmetric FIR centred on its middle tap is zero-phase and a room response with its direct
sound at tap 0 is causal: neither delays the music.

Computed in float64 (error under -250 dB of full scale against direct convolution), a
slice of blocks at a time so a render's scratch stays a few MB whatever the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.frames import Planar

PARTITION_FRAMES = 4096
"""B: FFTs of 2B = 8192 per 4096 frames; a 23,000-tap kernel is six partitions. Larger
blocks mean fewer products but a longer reach (more warm-up rendered per chunk)."""
SLICE_BLOCKS = 16
"""Output blocks computed at a time (65,536 frames at B = 4096)."""


@dataclass(frozen=True, eq=False)
class PartitionedKernel:
    """A kernel's partition spectra, ready to convolve with; shared read-only by threads."""

    spectra: npt.NDArray[np.complex128]
    """(partitions, B + 1): rfft of each B-tap partition zero-padded to 2B."""
    centre: int
    taps: int
    block: int = PARTITION_FRAMES

    @classmethod
    def of(
        cls, kernel: npt.NDArray[np.float64], centre: int, block: int = PARTITION_FRAMES
    ) -> PartitionedKernel:
        """`kernel` cut into partitions of `block` taps; `centre` is its tap at lag 0."""
        count = -(-kernel.size // block)
        padded = np.zeros(count * block)
        padded[: kernel.size] = kernel
        spectra = np.fft.rfft(padded.reshape(count, block), n=2 * block, axis=1)
        spectra.flags.writeable = False
        return cls(spectra, centre, kernel.size, block)

    @property
    def partitions(self) -> int:
        return int(self.spectra.shape[0])

    @property
    def reach(self) -> tuple[int, int]:
        """(before, after): how far either side of an output frame the input must be the
        continuous render's for that frame to be too (the grid's rounding included)."""
        return (self.partitions + 1) * self.block - self.centre, self.centre + self.block


def convolve(planar: Planar, kernel: PartitionedKernel, origin_frame: int = 0) -> Planar:
    """`planar` (channels, frames) convolved with `kernel`, same length, float32; its first
    frame is frame `origin_frame` of the track, on whose grid the partitions lie."""
    out = np.empty_like(planar, dtype=np.float32)
    for channel in range(planar.shape[0]):
        _convolve_into(out[channel], planar[channel], kernel, origin_frame)
    return out


def _convolve_into(
    out: npt.NDArray[np.float32],
    signal: npt.NDArray[np.float32],
    kernel: PartitionedKernel,
    origin: int,
) -> None:
    """One channel, a slice of output blocks at a time, each rounded to float32 in `out`."""
    block, parts, frames = kernel.block, kernel.partitions, signal.shape[0]
    # z = the causal convolution on the track's grid; out[i] = z[origin + i + centre].
    first_block = origin // block
    lead = origin - first_block * block
    begin = lead + kernel.centre  # z's frame of out[0], counted from first_block's start
    wanted = range(begin // block, -(-(begin + frames) // block))
    for slice_start in range(wanted.start, wanted.stop, SLICE_BLOCKS):
        slice_stop = min(slice_start + SLICE_BLOCKS, wanted.stop)
        z = _output_blocks(signal, lead, slice_start, slice_stop, kernel, parts)
        low = max(begin, slice_start * block)
        high = min(begin + frames, slice_stop * block)
        out[low - begin : high - begin] = z[low - slice_start * block : high - slice_start * block]


def _output_blocks(
    signal: npt.NDArray[np.float32],
    lead: int,
    first: int,
    stop: int,
    kernel: PartitionedKernel,
    parts: int,
) -> npt.NDArray[np.float64]:
    """z over output blocks [first, stop) (block 0 starting where the signal's first block
    does, `lead` frames before the signal): needs input blocks first - parts to stop."""
    block = kernel.block
    low = first - parts  # input blocks [low, stop)
    count = stop - low
    blocks = np.zeros(count * block)
    start, end = low * block - lead, stop * block - lead  # in signal frames
    take_from, take_to = max(start, 0), min(end, signal.shape[0])
    if take_to > take_from:
        blocks[take_from - start : take_to - start] = signal[take_from:take_to]
    spectra = np.fft.rfft(blocks.reshape(count, block), n=2 * block, axis=1)
    # Y[q] = sum_k X[q - k] H_k, k ascending: the same order in every render.
    products = spectra[parts - 1 :] * kernel.spectra[0]
    for k in range(1, parts):
        products += spectra[parts - 1 - k : count - k] * kernel.spectra[k]
    halves = np.fft.irfft(products, n=2 * block, axis=1)  # Y for blocks low + parts - 1 ...
    z = halves[1:, :block] + halves[:-1, block:]  # block q: its head, q - 1's tail
    return z.reshape(-1)
