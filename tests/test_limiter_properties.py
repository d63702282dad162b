"""The true-peak limiter's promises on loud, music-like signals of any shape.

Its true peak (the reference measurement, scipy's 4x polyphase) stays at or below the
ceiling; a window rendered with the limiter's reach either side equals a continuous render
to the bit, wherever the window is cut; no frame's gain is above what its own true peak
needs; and audio far from any over comes out untouched, since the limiter only works where
its gain is below 1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dsp import limiter, truepeak
from engine.dsp.truepeak import Planar
from tests.helpers import truepeak_estimate

RATE = 44_100
CEILING_DB = -1.0
REACH = limiter.limiter_reach_frames(RATE)
SEEDS = st.integers(0, 2**32 - 1)
ORIGINS = st.integers(0, 10**7)
"""Where the audio starts in its track: the limiter's block grid is anchored there."""


def loud_music(frames: tuple[int, int], quietest_db: float = -2.0) -> dict[str, object]:
    """The strategies of `music_like`'s arguments and an origin, for `@given`."""
    return {
        "seed": SEEDS,
        "frames": st.integers(*frames),
        "peak_db": st.floats(quietest_db, 14.0),
        "origin": ORIGINS,
    }


def music_like(seed: int, frames: int, peak_db: float) -> Planar:
    """A few partials up to 18 kHz, band-limited noise and decaying hits, scaled to
    `peak_db` dBFS (music mastered hot, or a preset's gain pushing it over)."""
    rng = np.random.default_rng(seed)
    time = np.arange(frames) / RATE
    audio = np.zeros((2, frames))
    for _ in range(int(rng.integers(1, 6))):
        frequency, amplitude = rng.uniform(30.0, 18_000.0), rng.uniform(0.1, 1.0)
        for channel in audio:
            channel += amplitude * np.sin(2 * np.pi * frequency * time + rng.uniform(0, 7))
    noise = rng.normal(size=(2, frames + 3))
    audio += rng.uniform(0.0, 0.5) * (noise[:, 3:] + noise[:, 2:-1] + noise[:, 1:-2]) / 3
    hits = np.full(frames, 0.3)
    for start in rng.integers(0, frames, int(rng.integers(0, 5))):
        hits[start:] += np.exp(-np.arange(frames - start) / rng.uniform(200.0, 5000.0))
    audio *= hits
    peak = float(np.abs(audio).max())
    return (audio * (10 ** (peak_db / 20) / peak)).astype(np.float32)


def limited(audio: Planar, origin: int = 0) -> Planar:
    return limiter.limit_true_peak(audio.copy(), RATE, CEILING_DB, origin_frame=origin)


def window(audio: Planar, start: int, stop: int, origin: int) -> Planar:
    """Frames [start, stop) as a render gets them: limited from the reach before to the reach
    after (cut at the ends of the track), then trimmed."""
    first, last = max(0, start - REACH), min(audio.shape[1], stop + REACH)
    return limited(audio[:, first:last], origin + first)[:, start - first : stop - first]


@settings(max_examples=60, deadline=None)
@given(**loud_music((1, 20_000), quietest_db=-3.0))
def test_the_true_peak_stays_under_the_ceiling(
    seed: int, frames: int, peak_db: float, origin: int
) -> None:
    assert truepeak.true_peak_db(limited(music_like(seed, frames, peak_db), origin)) <= CEILING_DB


@settings(max_examples=40, deadline=None)
@given(
    **loud_music((2, 16_000)),
    cuts=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_windows_cut_anywhere_join_into_the_continuous_render(
    seed: int, frames: int, peak_db: float, origin: int, cuts: tuple[float, float, float]
) -> None:
    """[a, b) and [b, c) rendered apart equal [a, c) rendered whole and the whole track."""
    audio = music_like(seed, frames, peak_db)
    a, b, c = sorted(min(frames, round(cut * frames)) for cut in cuts)
    whole = limited(audio, origin)
    joined = np.concatenate([window(audio, a, b, origin), window(audio, b, c, origin)], axis=1)
    assert np.array_equal(joined, window(audio, a, c, origin))
    assert np.array_equal(joined, whole[:, a:c])


@settings(max_examples=40, deadline=None)
@given(**loud_music((1, 12_000)))
def test_no_frame_is_turned_down_more_than_it_lets_through(
    seed: int, frames: int, peak_db: float, origin: int
) -> None:
    """Each frame's gain (output over input, where the input is not silent) is at most 1
    and at most ceiling / its true peak, to the rounding of one float32 product."""
    audio = music_like(seed, frames, peak_db)
    ceiling = 10 ** ((CEILING_DB - limiter.MARGIN_DB) / 20)
    envelope = truepeak_estimate.envelope(audio, ceiling)
    needed = np.minimum(1.0, np.float32(ceiling) / np.maximum(envelope, np.float32(1e-12)))
    louder = np.abs(audio).argmax(axis=0)
    before = audio[louder, np.arange(frames)].astype(np.float64)
    after = limited(audio, origin)[louder, np.arange(frames)]
    sounding = before != 0.0
    gain = after[sounding] / before[sounding]
    assert np.all(gain <= needed[sounding] * (1 + 2.0**-22))


def burst_in_silence(seed: int, frames: int, at: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    audio = rng.normal(0.0, 0.05, (2, frames)).astype(np.float32)
    audio[:, at : at + 64] *= 60.0  # +10 dBFS or so: far over the ceiling
    return audio


@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    frames=st.integers(3 * REACH, 8 * REACH),
    place=st.floats(0.0, 1.0),
    origin=ORIGINS,
)
def test_audio_beyond_the_reach_of_an_over_is_untouched(
    seed: int, frames: int, place: float, origin: int
) -> None:
    at = round(place * (frames - 64))
    audio = burst_in_silence(seed, frames, at)
    got = limited(audio, origin)
    assert truepeak.true_peak_db(got) <= CEILING_DB
    assert not np.array_equal(got[:, at : at + 64], audio[:, at : at + 64])
    far = np.ones(frames, dtype=bool)
    far[max(0, at - REACH) : at + 64 + REACH] = False
    assert np.array_equal(got[:, far], audio[:, far])
