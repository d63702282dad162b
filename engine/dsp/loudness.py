"""ITU-R BS.1770 loudness, measured in a stream: no whole track in memory.

`LoudnessMeter` K-weights the audio with filter state carried from one piece to the next,
keeps one mean square per 100 ms step, and gates 400 ms blocks (75 % overlap) at the end,
exactly as a measurement of the whole signal at once does. A three-hour mix keeps 108,000
numbers. `segment()` starts a new stretch (filters reset, no block spans the gap), so
windows sampled from several places in a track are measured together without seams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pedalboard

SILENCE_LUFS = -70.0
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
STEP_SECONDS = 0.1
STEPS_PER_BLOCK = 4
"""400 ms gating blocks with 75 % overlap: four 100 ms steps each, one step apart."""
OFFSET_DB = -0.691

FloatArray = npt.NDArray[np.float64]
SHELF_HZ, SHELF_DB, SHELF_Q = 1500.0, 4.0, 1 / math.sqrt(2)
HIGH_PASS_HZ = 38.0
FILTER_BLOCK = 8192
"""pedalboard's block: its plugins are prepared for the largest block seen so far, and a
larger one prepares them again, state lost. A new chain is primed with a block of silence
of this size (its state stays at rest) and fed in blocks no larger."""


def k_weighting() -> pedalboard.Pedalboard:
    """BS.1770's pre-filter (a +4 dB shelf at 1.5 kHz) and RLB high pass (38 Hz, Q 0.5) for
    one channel, in the RBJ forms (JUCE's, float32), for any rate.

    The high pass's Q of 0.5 puts both its poles at its frequency, so it is exactly two
    first-order high passes there (pedalboard's has no Q). The engine loads pedalboard for
    its chains anyway; scipy's `sosfilt` cost 76 MB of libraries for this alone."""
    return pedalboard.Pedalboard(
        [
            pedalboard.HighShelfFilter(SHELF_HZ, SHELF_DB, SHELF_Q),
            pedalboard.HighpassFilter(HIGH_PASS_HZ),
            pedalboard.HighpassFilter(HIGH_PASS_HZ),
        ]
    )


def _primed_k_weighting(rate: int) -> pedalboard.Pedalboard:
    filters = k_weighting()
    filters.process(np.zeros(FILTER_BLOCK, np.float32), rate, FILTER_BLOCK, reset=False)
    return filters


class LoudnessMeter:
    """Integrated loudness of audio fed piece by piece, (frames, channels) float arrays."""

    def __init__(self, rate: int, channels: int = 2) -> None:
        self.rate = rate
        self.channels = channels
        self._step = max(1, round(STEP_SECONDS * rate))
        self._segments: list[list[float]] = []
        self._partial_frames = 0
        self.segment()

    def segment(self) -> None:
        """Start a new stretch: filters from rest, and no block reaches across the gap
        (a stretch nothing was fed to is reused, so stretches match what was fed)."""
        self._filters: list[pedalboard.Pedalboard] = []
        if not self._segments or self._segments[-1] or self._partial_frames:
            self._steps: list[float] = []
            self._segments.append(self._steps)
        self._partial = np.zeros(0, dtype=np.float32)
        self._partial_frames = 0

    @classmethod
    def joined(cls, rate: int, meters: Sequence[LoudnessMeter]) -> LoudnessMeter:
        """One meter with the stretches of `meters` in order: windows measured apart (on
        other threads) gated together as if one meter had been fed them all."""
        return cls._of_stretches(rate, [list(s) for meter in meters for s in meter._segments])

    def scaled(self, gain: float) -> LoudnessMeter:
        """A meter of the same audio made `gain` times louder: the K-weighting is linear,
        so every step's mean square takes the square of the gain (no filtering again)."""
        power = gain * gain
        stretches = [[step * power for step in steps] for steps in self._segments]
        return LoudnessMeter._of_stretches(self.rate, stretches)

    @classmethod
    def _of_stretches(cls, rate: int, stretches: list[list[float]]) -> LoudnessMeter:
        meter = cls(rate)
        if stretches:
            meter._segments = stretches
            meter._steps = stretches[-1]
        return meter

    def reset_steps(self) -> None:
        """Forget what this stretch measured so far, keeping the filters' state: the audio
        fed until now only settled them."""
        self._steps.clear()
        self._partial = np.zeros(0, dtype=np.float32)
        self._partial_frames = 0

    def feed(self, audio: npt.NDArray[np.floating]) -> None:
        """More audio of the current stretch, (frames, channels)."""
        if audio.shape[0] == 0:
            return
        if len(self._filters) != audio.shape[1]:  # filters from rest, one per channel
            self._filters = [_primed_k_weighting(self.rate) for _ in range(audio.shape[1])]
        # Filtered in float32 (a channel at a time: a 2-D array's layout pedalboard would
        # guess), the powers summed in float64. One channel-summed power per frame (BS.1770
        # weights L and R by 1).
        power = np.zeros(audio.shape[0], dtype=np.float32)
        for channel, filters in enumerate(self._filters):
            mono = np.ascontiguousarray(audio[:, channel], dtype=np.float32)
            weighted = filters.process(mono, self.rate, FILTER_BLOCK, reset=False)
            power += np.square(weighted)
        if self._partial_frames:
            power = np.concatenate([self._partial, power])
        whole = (power.shape[0] // self._step) * self._step
        if whole:
            steps = power[:whole].reshape(-1, self._step)
            sums = steps.sum(axis=1, dtype=np.float64) / self._step
            self._steps.extend(sums.tolist())
        self._partial = power[whole:]
        self._partial_frames = self._partial.shape[0]

    def block_powers(self) -> FloatArray:
        """The mean power of every complete 400 ms block, stretch by stretch."""
        blocks = [_blocks(steps) for steps in self._segments]
        return np.concatenate(blocks) if blocks else np.zeros(0)

    def stretch_loudness(self) -> list[float]:
        """Gated loudness of each stretch alone (SILENCE_LUFS under 400 ms), in order."""
        return [gated_loudness(_blocks(steps)) for steps in self._segments]

    def integrated(self) -> float:
        """Gated integrated loudness in LUFS; -70 for silence or less than 400 ms."""
        return gated_loudness(self.block_powers())


def _blocks(steps: list[float]) -> FloatArray:
    """Mean powers of the 400 ms blocks (75% overlapped) of one stretch's 100 ms steps."""
    if len(steps) < STEPS_PER_BLOCK:
        return np.zeros(0)
    window = np.lib.stride_tricks.sliding_window_view(np.asarray(steps), STEPS_PER_BLOCK)
    blocks: FloatArray = window.mean(axis=1)
    return blocks


def gated_loudness(blocks: FloatArray) -> float:
    """BS.1770 gating over block powers: absolute at -70 LUFS, relative at -10 LU."""
    if blocks.size == 0:
        return SILENCE_LUFS
    with np.errstate(divide="ignore"):
        levels = OFFSET_DB + 10 * np.log10(blocks)
    above = blocks[levels > ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return SILENCE_LUFS
    relative = OFFSET_DB + 10 * math.log10(float(above.mean())) + RELATIVE_GATE_LU
    gated = blocks[(levels > ABSOLUTE_GATE_LUFS) & (levels > relative)]
    if gated.size == 0:
        return SILENCE_LUFS
    value = OFFSET_DB + 10 * math.log10(float(gated.mean()))
    return value if math.isfinite(value) and value > SILENCE_LUFS else SILENCE_LUFS


def integrated_loudness(audio: npt.NDArray[np.floating], rate: int) -> float:
    """BS.1770 integrated loudness of (frames, channels) audio held in memory."""
    meter = LoudnessMeter(rate, audio.shape[1] if audio.ndim == 2 else 1)
    meter.feed(audio if audio.ndim == 2 else audio[:, None])
    return meter.integrated()
