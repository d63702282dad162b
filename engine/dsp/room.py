"""A small room's impulse response, generated: no audio file ships with a preset.

Direct sound at frame 0 (so the room adds no latency: the music stays aligned with the
source and the other presets), a handful of early reflections, then a diffuse tail of
noise under an exponential decay that reaches -60 dB at `decay_ms` (where the response
ends), darker as it goes as air and walls take the highs. The reflections and tail
together carry `level_db` of the direct sound's energy; the whole has unit energy, so
broadband music keeps its level before the calibration matches it anyway.

Deterministic: the noise is PCG64's raw stream from the preset's seed, turned into
numbers here rather than by a `Generator` method (whose algorithms numpy may change
between versions; a bit generator's stream it does not), so a room sounds the same on
every machine and every load, and a render is repeatable bit for bit.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from engine.presets.model import RoomSettings

REFLECTIONS = 10
FIRST_REFLECTION_MS, LAST_REFLECTION_MS = 3.0, 35.0
"""A small room: walls 1 to 6 m away."""
REFLECTION_GAIN = 4.0
"""An early reflection's height against the tail's noise at its time: 2 to 4 times, so
each is a distinct echo over the diffuse part."""
TAIL_ONSET_MS = 8.0
"""The diffuse tail fades in over this: echoes grow dense after the first few."""
DAMPING_HZ_AT_START, DAMPING_HZ_AT_END = 12_000.0, 2_500.0
"""The tail's brightness, falling over its length (a one-pole low-pass per segment)."""
DAMPING_SEGMENTS = 16

Response = npt.NDArray[np.float64]


def uniform(seed: int, count: int) -> Response:
    """`count` numbers in [-1, 1) from PCG64's raw 64-bit stream: stable across versions."""
    raw = np.random.PCG64(seed).random_raw(count)
    return (raw >> np.uint64(11)).astype(np.float64) * (2.0 / (1 << 53)) - 1.0


@functools.lru_cache(maxsize=8)
def room_response(room: RoomSettings, rate: int) -> Response:
    """The room's impulse response at `rate`: causal, unit energy, largest at frame 0."""
    length = max(2, math.ceil(room.decay_ms / 1000 * rate))
    time = np.arange(length) / rate
    envelope = np.power(10.0, -3.0 * time / (room.decay_ms / 1000))  # -60 dB at the end
    noise = uniform(room.seed, length + 2 * REFLECTIONS)
    tail = noise[:length] * envelope
    tail *= np.minimum(1.0, time / (TAIL_ONSET_MS / 1000))
    tail = _darken(tail, rate)
    picks = (noise[length:] + 1.0) / 2.0  # [0, 1): reflection times, then their gains
    span = LAST_REFLECTION_MS - FIRST_REFLECTION_MS
    delays = np.round((FIRST_REFLECTION_MS + span * picks[:REFLECTIONS]) / 1000 * rate)
    gains = REFLECTION_GAIN * (0.5 + 0.5 * np.abs(2 * picks[REFLECTIONS:] - 1))
    signs = np.where(picks[REFLECTIONS:] >= 0.5, 1.0, -1.0)
    for delay, gain in zip(delays.astype(int), gains * signs, strict=True):
        if delay < length:
            tail[delay] += gain * envelope[delay]
    tail[0] = 0.0
    energy = float(np.sum(tail**2))
    response = np.zeros(length)
    if energy > 0:
        response[:] = tail * math.sqrt(10 ** (room.level_db / 10) / energy)
    response[0] = 1.0
    return response / math.sqrt(float(np.sum(response**2)))


def _darken(tail: Response, rate: int) -> Response:
    """Low-pass the tail, more as it goes: a one-pole filter per segment, the cut-off
    falling from `DAMPING_HZ_AT_START` to `DAMPING_HZ_AT_END` (geometrically)."""
    from scipy.signal import lfilter  # loaded with the room's design, never at import

    out = np.empty_like(tail)
    bounds = np.linspace(0, tail.size, DAMPING_SEGMENTS + 1).astype(int)
    cutoffs = np.geomspace(DAMPING_HZ_AT_START, DAMPING_HZ_AT_END, DAMPING_SEGMENTS)
    state = np.zeros(1)
    for first, last, cutoff in zip(bounds[:-1], bounds[1:], cutoffs, strict=True):
        pole = math.exp(-2 * math.pi * min(cutoff, 0.45 * rate) / rate)
        out[first:last], state = lfilter([1 - pole], [1.0, -pole], tail[first:last], zi=state)
    return out
