"""A render's sound profile: band balance and crest, and when two renders sound the same."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from engine.dsp.distinctness import AUDIBLE_DB, BAND_FLOOR_DB, sound_profile

RATE = 44_100


def noise(seconds: float = 4.0, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(round(seconds * RATE)) * 0.1


def shelved(mono: np.ndarray, gain_db: float) -> np.ndarray:
    board = pedalboard.Pedalboard([pedalboard.HighShelfFilter(6000.0, gain_db, 0.7)])
    result: np.ndarray = board(mono.astype(np.float32)[None, :], RATE)[0]
    return result


def test_a_render_is_its_own_profile_and_loudness_does_not_count() -> None:
    mono = noise()
    profile = sound_profile([mono], RATE)
    assert profile.distance(sound_profile([mono * 3.0], RATE))[0] == pytest.approx(0.0, abs=1e-6)
    pieces = sound_profile([mono[: RATE * 2], mono[RATE * 2 :]], RATE)
    assert pieces.distance(profile)[0] < AUDIBLE_DB  # the same music, measured in two windows


def test_a_shelf_is_heard_in_its_band_and_a_tiny_one_is_not() -> None:
    mono = noise()
    flat = sound_profile([mono], RATE)
    # The balance moves: the top up, so every lower band down against the whole.
    assert flat.distance(sound_profile([shelved(mono, 6.0)], RATE))[0] > AUDIBLE_DB
    assert flat.distance(sound_profile([shelved(mono, 0.3)], RATE))[0] < AUDIBLE_DB


def test_an_empty_band_is_floored_not_counted() -> None:
    t = np.arange(4 * RATE) / RATE
    low = 0.5 * np.sin(2 * np.pi * 100 * t)  # nothing above a few hundred hertz
    profile = sound_profile([low], RATE)
    assert profile.bands_db[-1] == BAND_FLOOR_DB
    assert profile.distance(sound_profile([low + 1e-6 * noise()], RATE))[0] < AUDIBLE_DB


def test_compression_shows_in_the_crest_factor() -> None:
    mono = noise() * np.repeat(np.random.default_rng(2).uniform(0.05, 1.0, 40), RATE // 10)
    squashed = np.tanh(mono * 8.0) / 8.0
    distance, feature = sound_profile([mono], RATE).distance(sound_profile([squashed], RATE))
    assert distance > AUDIBLE_DB and feature == "crest"
