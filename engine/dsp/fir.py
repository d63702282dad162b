"""A linear-phase EQ: the bands' magnitude response as a symmetric FIR kernel.

The target is what the minimum-phase chain realises, measured rather than re-derived: an
impulse through the same pedalboard filters, its spectrum's magnitude. So `phase =
"linear"` changes the phase (none: the kernel is centred, zero-phase) and nothing of the
tone, and no formula can drift from the plugins' own.

The length: the shortest of 1025, 2049, ... 32769 taps whose response stays within
`TOLERANCE_DB` of the target from 20 Hz to 20 kHz. A window's frequency resolution is
about rate / taps, so it is the lowest band that sets it: a 25 Hz high-pass takes 8193
taps at 44.1 kHz, a chain whose lowest band is at 100 Hz 2049. Measured, not guessed,
because a shelf's slope and a high-pass's order matter as much as its frequency.

scipy loads here, in the render thread that first needs a kernel, never at import: the
feeder and the audio process never import it.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
import pedalboard

from engine.dsp.eq import eq_plugin
from engine.presets.model import EqBand

TOLERANCE_DB = 0.25
"""Largest difference from the minimum-phase magnitude, 20 Hz - 20 kHz, where the target
is above -40 dB (below it a relative error is inaudible and ill-defined)."""
CHECK_FROM_HZ, CHECK_TO_HZ = 20.0, 20_000.0
TARGET_FLOOR = 0.01
MIN_TAPS_LOG2, MAX_TAPS_LOG2 = 10, 15
"""1025 to 32769 taps: 23 ms to 0.74 s at 44.1 kHz."""
MEASURE_SECONDS = 6.0
"""Impulse response measured this long: a Q 10 peak at 10 Hz (the narrowest, lowest band
the format allows) has decayed below -150 dB by then."""
KAISER_BETA = 8.0
"""Side lobes near -80 dB: the truncated response's ripple stays far below the tolerance."""

Kernel = npt.NDArray[np.float64]


def measured_magnitude(
    bands: tuple[EqBand, ...], rate: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(frequencies in Hz, |H|) of the bands as the minimum-phase plugins realise them."""
    length = 1 << int(np.ceil(np.log2(MEASURE_SECONDS * rate)))
    impulse = np.zeros((1, length), dtype=np.float32)
    impulse[0, 0] = 1.0
    board = pedalboard.Pedalboard([eq_plugin(band) for band in bands])
    response = board(impulse, rate, reset=True)[0].astype(np.float64)
    magnitude: npt.NDArray[np.float64] = np.abs(np.fft.rfft(response))
    return np.fft.rfftfreq(length, 1.0 / rate).astype(np.float64), magnitude


@functools.lru_cache(maxsize=16)
def linear_phase_kernel(bands: tuple[EqBand, ...], rate: int) -> Kernel:
    """The symmetric FIR (odd length, centre at `len // 2`) for `bands` at `rate`; cached
    per (bands, rate): a design takes tens of milliseconds and each render needs it."""
    from scipy.signal import firwin2  # loaded here, off the feeder's and player's path

    frequencies, target = measured_magnitude(bands, rate)
    checked = (frequencies >= CHECK_FROM_HZ) & (frequencies <= min(CHECK_TO_HZ, rate / 2))
    checked &= target >= TARGET_FLOOR
    kernel: Kernel = np.zeros(1)
    for log2 in range(MIN_TAPS_LOG2, MAX_TAPS_LOG2 + 1):
        taps = (1 << log2) + 1
        window = ("kaiser", KAISER_BETA)
        kernel = firwin2(taps, frequencies, target, nfreqs=frequencies.size, window=window, fs=rate)
        if response_error_db(kernel, frequencies, target, checked) <= TOLERANCE_DB:
            break
    # firwin2's taps are symmetric to rounding; exactly so, the phase is exactly zero.
    symmetric: Kernel = (kernel + kernel[::-1]) / 2
    return symmetric


def response_error_db(
    kernel: Kernel,
    frequencies: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    checked: npt.NDArray[np.bool_],
) -> float:
    """Largest |20 log10(|K| / target)| over the `checked` frequencies."""
    realised = np.abs(np.fft.rfft(kernel, 2 * (frequencies.size - 1)))
    ratio = realised[checked] / target[checked]
    return float(np.max(np.abs(20 * np.log10(np.maximum(ratio, 1e-12))), initial=0.0))
