"""The listener's config folder: `keymap.toml` and `presets.toml` live there."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path

CONFIG_DIR_ENV = "TIERPLAY_CONFIG_DIR"
"""Overrides the platform's config folder (tests, or a portable set-up)."""


def config_dir() -> Path:
    """`$TIERPLAY_CONFIG_DIR`, or the platform's folder (`~/.config/tierplay` on Linux)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else user_config_path("tierplay")
