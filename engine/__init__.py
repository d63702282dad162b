"""Tierplay's engine: tracks, rendering, the multi-tier buffer and playback. No UI here."""

from engine.config import PRESET_ORDER, EngineConfig
from engine.engine import Engine
from engine.snapshot import EngineSnapshot

__all__ = ["PRESET_ORDER", "Engine", "EngineConfig", "EngineSnapshot"]
