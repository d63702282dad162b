"""Typed errors with one-line messages the UI and CLI can show as they are."""

from __future__ import annotations

from pathlib import Path


class TierplayError(Exception):
    """Base of every error the engine raises on purpose; `str()` is one clear line."""


class TrackError(TierplayError):
    """A file that cannot be played. `reason` is short enough for a status line."""

    kind = "unplayable"

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


class TrackMissing(TrackError):
    kind = "missing"


class TrackUnreadable(TrackError):
    """Not audio, or audio in a form libsndfile cannot decode."""

    kind = "unreadable"


class TrackEmpty(TrackError):
    """A file with no audio frames at all."""

    kind = "empty"


class TrackInvalid(TrackError):
    """Decodes, but its content is unusable (absurd rate or level, mostly NaN)."""

    kind = "invalid"


class UnknownPreset(TierplayError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown preset {name!r}; choose one of {', '.join(known)}")
