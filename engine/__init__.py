"""Tierplay's engine: tracks, rendering, the multi-tier buffer and playback. No UI here.

The names below load on first use (PEP 562): the audio process imports `engine.playback.rings`
and `engine.playback.sinks.audio_child` through this package, and must not pay for `engine.engine`
(numpy, pedalboard and the rest) just to copy frames in its callback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.config import EngineConfig
    from engine.engine import Engine
    from engine.observe.snapshot import EngineSnapshot
    from engine.vocabulary import PRESET_ORDER

__all__ = ["PRESET_ORDER", "Engine", "EngineConfig", "EngineSnapshot"]

_HOMES = {
    "PRESET_ORDER": "engine.vocabulary",
    "Engine": "engine.engine",
    "EngineConfig": "engine.config",
    "EngineSnapshot": "engine.observe.snapshot",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups find it without coming here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
