"""How a render sounds, in eleven figures, and whether two renders sound different.

A `SoundProfile` is the octave-band balance (10 bands, 31.5 Hz - 16 kHz, each relative to
the whole, so it does not depend on loudness) and the crest factor (how far transients
stand above the body). Two presets a listener can tell apart differ by at least
`AUDIBLE_DB` in one of those figures; below it, a switch between them changes nothing
clear to hear on that music, and the player says so rather than let a key seem broken.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BAND_CENTRES_HZ = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
BAND_NAMES = ("31.5 Hz", "63 Hz", "125 Hz", "250 Hz", "500 Hz",
              "1 kHz", "2 kHz", "4 kHz", "8 kHz", "16 kHz")  # fmt: skip
FEATURE_NAMES = (*BAND_NAMES, "crest")
AUDIBLE_DB = 1.5
"""The smallest difference in one octave band or in the crest factor that is clear to hear."""
BAND_FLOOR_DB = -60.0
"""Band levels count from here up: a band 60 dB under the whole is inaudible, and on a
band-limited source (a 22 kHz MP3 has nothing above 11 kHz) the empty top band's -150 dB
would otherwise make any two renders look far apart."""
CREST_FRAME_SECONDS = 0.4
POWER_FLOOR = 1e-30
"""Keeps an empty band (or silence) finite in dB."""

Mono = npt.NDArray[np.floating]


@dataclass(frozen=True)
class SoundProfile:
    bands_db: tuple[float, ...]
    crest_db: float

    @property
    def features(self) -> tuple[float, ...]:
        return (*self.bands_db, self.crest_db)

    def distance(self, other: SoundProfile) -> tuple[float, str]:
        """The largest difference in dB, and the figure it is in: two renders are only as
        distinct as their most different figure lets a listener hear."""
        gaps = [abs(a - b) for a, b in zip(self.features, other.features, strict=True)]
        index = max(range(len(gaps)), key=gaps.__getitem__)
        return gaps[index], FEATURE_NAMES[index]


def sound_profile(pieces: Iterable[Mono], rate: int) -> SoundProfile:
    """The profile of one or more mono pieces (a sample's windows), their energy pooled.

    Each piece gets one Hann-windowed FFT (a 5 s piece resolves 0.2 Hz, plenty for the
    22-45 Hz lowest band); the crest factor is the median over 400 ms frames of them all."""
    energy = np.zeros(len(BAND_CENTRES_HZ))
    total = 0.0
    crests: list[float] = []
    for piece in pieces:
        mono = np.asarray(piece, dtype=np.float64)
        if mono.size < 2:
            continue
        power = np.abs(np.fft.rfft(mono * np.hanning(mono.size))) ** 2
        power[1 : mono.size // 2 + (mono.size % 2)] *= 2.0  # one-sided spectrum
        frequencies = np.fft.rfftfreq(mono.size, 1.0 / rate)
        total += float(power.sum())
        for index, centre in enumerate(BAND_CENTRES_HZ):
            band = (frequencies >= centre / math.sqrt(2)) & (frequencies < centre * math.sqrt(2))
            energy[index] += float(power[band].sum())
        crests.extend(_frame_crests(mono, rate))
    whole = max(total, POWER_FLOOR)
    bands = tuple(
        max(BAND_FLOOR_DB, 10.0 * math.log10(max(e, POWER_FLOOR) / whole)) for e in energy
    )
    return SoundProfile(bands, float(np.median(crests)) if crests else 0.0)


def _frame_crests(mono: npt.NDArray[np.float64], rate: int) -> list[float]:
    """Peak over RMS of each sounding 400 ms frame, in dB."""
    size = round(CREST_FRAME_SECONDS * rate)
    count = mono.size // size
    frames = mono[: count * size].reshape(count, size) if count else mono.reshape(1, -1)
    peaks = np.max(np.abs(frames), axis=1)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    sounding = rms > 0
    return [float(x) for x in 20.0 * np.log10(peaks[sounding] / rms[sounding])]
