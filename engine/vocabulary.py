"""The engine's shared words, each with one home: preset and tier names, units.

Everything else imports them from here, so a name is never spelled out twice. Presets stay
plain strings: the six built-ins are named here in their order, while every preset's
definition (and any a listener adds) is data in engine/presets/.
"""

from __future__ import annotations

from enum import StrEnum

# No numpy here: the audio process loads this through the config (engine/frames.py has Audio).

BYPASS = "original"
"""The preset that plays the source untouched (apart from a hot master's plain gain)."""
PRESET_ORDER: tuple[str, ...] = (BYPASS, "adaptive", "gentle", "warm", "bright", "punchy")
"""The built-ins, in the order they are shown and bound to keys 1-6; a listener's own
presets follow them (the engine's `PresetBook` has the whole list)."""
PROCESSED_PRESETS: tuple[str, ...] = tuple(p for p in PRESET_ORDER if p != BYPASS)
"""The built-ins that are rendered (and so cached and calibrated)."""


class TierName(StrEnum):
    """The buffer's tiers, nearest the speaker first; their values are the JSON names."""

    L1 = "l1"
    L2 = "l2"
    L3 = "l3"


TIER_NAMES: tuple[str, ...] = tuple(tier.value for tier in TierName)


def format_clock(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` for long tracks (mixes, audiobooks)."""
    hours, rest = divmod(max(int(seconds), 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def plural(count: int, noun: str, many: str = "") -> str:
    """`1 track`, `2 tracks` (`many` when the plural is not the noun and an s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {many or noun + 's'}"


MB = 1_000_000
"""Bytes in a megabyte, as every figure and budget counts them (not MiB)."""
