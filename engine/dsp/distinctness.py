"""How a render sounds, in eleven figures, and whether two renders sound different.

A `SoundProfile` is the octave-band balance (10 bands, 31.5 Hz - 16 kHz, each relative to
the whole, so it does not depend on loudness) and the crest factor (how far transients
stand above the body). Two presets a listener can tell apart differ by at least
`AUDIBLE_DB` in one of those figures; below it, a switch between them changes nothing
clear to hear on that music, and the player says so rather than let a key seem broken.
"""

from __future__ import annotations

import functools
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
SEGMENT_FRAMES = 8192
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


@dataclass(frozen=True)
class ProfilePart:
    """What one piece adds to a profile: pooled with the others by `profile_of`."""

    band_energy: npt.NDArray[np.float64]
    total: float
    crests: tuple[float, ...]


def sound_profile(pieces: Iterable[Mono], rate: int) -> SoundProfile:
    """The profile of one or more mono pieces (a sample's windows), their energy pooled."""
    return profile_of([profile_part(piece, rate) for piece in pieces])


def profile_part(piece: Mono, rate: int) -> ProfilePart:
    """One piece's band energies and crest factors (any thread: a calibration's windows are
    shared out).

    Band energies come from Hann-windowed FFTs of `SEGMENT_FRAMES` (5.4 Hz apart at
    44.1 kHz, four bins in the lowest band), all a piece's segments in one batch: a power
    of two is several times quicker than one transform of a whole window, and the
    calibration that measures this is on the way to a track's first switch."""
    mono = np.asarray(piece, dtype=np.float32)
    energy = np.zeros(len(BAND_CENTRES_HZ))
    total = 0.0
    count = mono.size // SEGMENT_FRAMES
    if count:
        segments = mono[: count * SEGMENT_FRAMES].reshape(count, SEGMENT_FRAMES) * _hann()
        spectrum = np.fft.rfft(segments, axis=1)
        power = np.square(spectrum.real).sum(axis=0, dtype=np.float64)
        power += np.square(spectrum.imag).sum(axis=0, dtype=np.float64)
        total = float(power[1:].sum())
        energy = _band_masks(rate) @ power
    return ProfilePart(energy, total, tuple(_frame_crests(mono, rate)))


def profile_of(parts: Iterable[ProfilePart]) -> SoundProfile:
    """The pieces' energy pooled; the crest factor is the median over all their 400 ms
    frames."""
    energy = np.zeros(len(BAND_CENTRES_HZ))
    total = 0.0
    crests: list[float] = []
    for part in parts:
        energy += part.band_energy
        total += part.total
        crests.extend(part.crests)
    whole = max(total, POWER_FLOOR)
    bands = tuple(
        max(BAND_FLOOR_DB, 10.0 * math.log10(max(float(e), POWER_FLOOR) / whole)) for e in energy
    )
    return SoundProfile(bands, float(np.median(crests)) if crests else 0.0)


@functools.cache
def _hann() -> npt.NDArray[np.float32]:
    window: npt.NDArray[np.float32] = np.hanning(SEGMENT_FRAMES).astype(np.float32)
    return window


@functools.cache
def _band_masks(rate: int) -> npt.NDArray[np.float64]:
    """One row per octave band: 1 where a segment's FFT bin falls in it."""
    frequencies = np.fft.rfftfreq(SEGMENT_FRAMES, 1.0 / rate)
    return np.array(
        [
            (frequencies >= centre / math.sqrt(2)) & (frequencies < centre * math.sqrt(2))
            for centre in BAND_CENTRES_HZ
        ],
        dtype=np.float64,
    )


def _frame_crests(mono: npt.NDArray[np.float32], rate: int) -> list[float]:
    """Peak over RMS of each sounding 400 ms frame, in dB."""
    size = round(CREST_FRAME_SECONDS * rate)
    count = mono.size // size
    frames = mono[: count * size].reshape(count, size) if count else mono.reshape(1, -1)
    peaks = np.max(np.abs(frames), axis=1)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    sounding = rms > 0
    return [float(x) for x in 20.0 * np.log10(peaks[sounding] / rms[sounding])]
