"""The cache key: which audio a chunk holds."""

from __future__ import annotations

from typing import NamedTuple


class ChunkKey(NamedTuple):
    """(track, preset, intensity bucket, chunk index): one rendered chunk of audio.

    The intensity is a bucket index (see `EngineConfig.intensity_bucket`), never a float,
    so the same setting always finds the same entry.
    """

    track_id: str
    preset: str
    intensity_bucket: int
    chunk_index: int

    def describe(self) -> str:
        """`chunk 3 in punchy`: how a log line names it (chunks count from 1 for people)."""
        return f"chunk {self.chunk_index + 1} in {self.preset}"
