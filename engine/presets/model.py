"""A mastering preset as data: EQ bands, compressor, stereo width, intensity, loudness target.

The chain in `engine/dsp/chain.py` only turns a `Preset` into plugins. Presets come from
TOML (`engine/presets/toml_file.py`): the built-ins shipped with the package and the
listener's own `presets.toml`, in one format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from engine.vocabulary import BYPASS

FilterKind = Literal["low_shelf", "high_shelf", "peak", "highpass", "lowpass"]
FILTER_KINDS: tuple[str, ...] = get_args(FilterKind)
Phase = Literal["minimum", "linear"]
PHASES: tuple[str, ...] = get_args(Phase)
PASS_FILTERS = ("highpass", "lowpass")
"""First-order filters: a cut-off and nothing else (no gain, no Q)."""


@dataclass(frozen=True)
class EqBand:
    kind: FilterKind
    frequency_hz: float
    gain_db: float = 0.0
    q: float = 0.707


@dataclass(frozen=True)
class CompressorSettings:
    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float


@dataclass(frozen=True)
class RoomSettings:
    """A generated room: its impulse response is made from these, the same at every load
    (`engine/dsp/room.py`), so no audio file ships with a preset."""

    decay_ms: float
    """RT60: how long the tail takes to fall 60 dB (and how long the response is)."""
    level_db: float
    """The reflections' and tail's energy against the direct sound's."""
    seed: int = 0
    """Chooses the reflections and the tail's noise: another seed, another room."""


@dataclass(frozen=True)
class Preset:
    """One mastering preset. `original` has no stages at all: it is the untouched source."""

    name: str
    description: str
    eq: tuple[EqBand, ...] = ()
    compressor: CompressorSettings | None = None
    width: float = 1.0
    """Side-channel gain: 1.0 keeps the stereo image, >1 widens, <1 narrows."""
    target_lufs: float | None = None
    """Used only in `targets` loudness mode; `matched` mode follows the original."""
    key: str | None = None
    """The listener's own key for it, besides the number of its place (1-9)."""
    intensity: float = 1.0
    """The intensity it starts at when chosen (0 is the source, 1 the whole chain)."""
    adaptive: bool = False
    """EQ and compressor derived from each track's analysis (`adaptive_preset`)."""
    phase: Phase = "minimum"
    """`linear`: the EQ's magnitude response as a zero-phase FIR (no phase shift, no
    latency) instead of the plugins' minimum-phase filters."""
    room: RoomSettings | None = None
    """A generated room response convolved with the music, before the compressor."""

    @property
    def is_bypass(self) -> bool:
        return self.name == BYPASS

    @property
    def convolves(self) -> bool:
        """Has a convolution stage: a linear-phase EQ or a room (the heavy chains)."""
        return (self.phase == "linear" and bool(self.eq)) or self.room is not None

    @property
    def is_adaptive(self) -> bool:
        """Computed per track from its analysis, not fixed."""
        return self.adaptive


PLACES_WITH_KEYS = 9
"""Keys 1-9 choose the presets in the first nine places of the list."""


def preset_keys(place: int, preset: Preset) -> list[str]:
    """The keys that choose the preset in `place` (1-based): its place's, and its own."""
    keys = [str(place)] if place <= PLACES_WITH_KEYS else []
    return keys + ([preset.key] if preset.key is not None else [])
