"""Mutation fuzzing of valid files, 2,000 cases: flipped bits, overwritten bytes, truncation,
insertions and deletions (biased to the header) in WAV, FLAC, Ogg Vorbis, Ogg Opus and MP3
(when this libsndfile can write MP3). Each damaged
file is probed as a library scan does, then decoded as playback does: it either loads as
valid audio or raises a `TrackError` with one line naming the file. Nothing else escapes.

A longer run: TIERPLAY_FUZZ_EXAMPLES=50000 .venv/bin/python -m pytest tests/test_chaos_fuzz.py"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import TrackError
from engine.library.scan import probe
from engine.library.tracks import load_track

from .test_tracks import (
    RATE,
    assert_one_line,
    assert_valid,
    encode,
    mp3_supported,
    mutate,
    sine,
)

SEED_FORMATS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "opus": ("OGG", "OPUS"),
    **({"mp3": ("MP3", "MPEG_LAYER_III")} if mp3_supported() else {}),
}
SEED_RATE = 8_000
EXAMPLES = int(os.environ.get("TIERPLAY_FUZZ_EXAMPLES", "2000"))


@cache
def seed_file(kind: str) -> bytes:
    """A valid 0.2 s file to mutate (small, so 2,000 cases decode in seconds)."""
    fmt, subtype = SEED_FORMATS[kind]
    return encode(sine(0.2, SEED_RATE, freq=440.0), SEED_RATE, fmt=fmt, subtype=subtype)


@st.composite
def mutated_file(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(SEED_FORMATS)))
    data = bytearray(seed_file(kind))
    where = st.integers(0, 128) | st.integers(0, len(data) - 1)  # headers matter most
    steps = draw(st.integers(1, 6))
    extremes = st.sampled_from([0x00, 0x7F, 0x80, 0xFF]) | st.integers(0, 255)
    return kind, mutate(draw, data, steps, where, extremes)


@pytest.mark.timeout(120 + EXAMPLES // 50)  # the suite's 120 s fits 2,000; a longer run more
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases each run: a CI failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutated=mutated_file())
def test_mutated_files_probe_and_load_or_raise_one_line(
    tmp_path: Path, mutated: tuple[str, bytes]
) -> None:
    kind, data = mutated
    path = tmp_path / f"mutated.{kind}"
    path.write_bytes(data)
    try:
        probe(path, RATE)
        decoded = load_track(path, RATE)
    except TrackError as error:
        assert_one_line(error, path)
        return
    assert_valid(decoded)
