"""Streaming sources: windows equal the whole file's resampling to the sample, a file's
length is what decodes, and a long track costs no more memory than a short one."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import TrackInvalid, TrackMissing
from engine.library import tracks
from engine.library.scan import probe
from engine.library.source import BlockCache, BlockKey, TrackSource
from engine.library.tracks import Track

RATE = 44_100
SEAM_TOLERANCE = 6e-8
"""One float32 step at full scale."""
NATIVE_RATES = [22_050, 44_100, 48_000, 96_000]


def noise_file(folder: Path, rate: int, seconds: float = 6.0, name: str = "") -> Path:
    rng = np.random.default_rng(rate)
    data = (0.2 * rng.standard_normal((round(seconds * rate), 2))).astype(np.float32)
    path = folder / (name or f"noise-{rate}.flac")
    sf.write(path, data, rate, subtype="PCM_24")
    return path


def whole_file_at_engine_rate(path: Path, source: TrackSource) -> np.ndarray:
    """The reference: the whole file decoded and resampled in one go (float64 until the
    end, as `load_track` does)."""
    info = sf.info(str(path))
    if info.samplerate == RATE:
        return sf.read(path, dtype="float32", always_2d=True)[0]
    raw = sf.read(path, dtype="float64", always_2d=True)[0]
    return tracks.resampled(raw, source._up, source._down).astype(np.float32)[: source.frames]


@pytest.fixture(scope="module", params=NATIVE_RATES)
def resampled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    path = noise_file(tmp_path_factory.mktemp("src"), request.param)
    source = TrackSource(probe(path, RATE), RATE)
    return source, whole_file_at_engine_rate(path, source)


@settings(max_examples=40, deadline=None)
@given(start=st.integers(0, 6 * RATE), length=st.integers(1, 3 * RATE))
def test_any_window_equals_the_whole_file_resampled(
    resampled: tuple[TrackSource, np.ndarray], start: int, length: int
) -> None:
    source, whole = resampled
    window = source.read(start, start + length)
    expected = whole[start : min(start + length, source.frames)]
    assert window.dtype == np.float32 and window.shape == expected.shape
    # Equal to float rounding: one float32 step at most (below -150 dB), never a seam.
    np.testing.assert_allclose(window, expected, rtol=0, atol=SEAM_TOLERANCE)


def test_cached_blocks_give_the_same_frames_as_direct_reads(tmp_path: Path) -> None:
    path = noise_file(tmp_path, 48_000)
    track = probe(path, RATE)
    cached = TrackSource(track, RATE, BlockCache(2_000_000))
    direct = TrackSource(track, RATE)
    for start in range(0, cached.frames, 10_007):
        np.testing.assert_array_equal(
            cached.read(start, start + 1024), direct.read(start, start + 1024)
        )


def test_the_decode_a_read_would_cost_counts_only_blocks_not_cached(tmp_path: Path) -> None:
    """A render where nothing was played yet decodes its window first; where the blocks
    are cached it does not. The cost per frame is what this track's decodes measured."""
    path = noise_file(tmp_path, 48_000, seconds=12.0)
    source = TrackSource(probe(path, RATE), RATE, BlockCache(64 << 20))
    assert source.decode_seconds(0, 4 * RATE) == 0.0  # nothing measured yet
    source.read(0, 2 * RATE)  # decodes and keeps the first block
    assert source.decode_seconds(0, 2 * RATE) == 0.0
    cold = source.decode_seconds(6 * RATE, 8 * RATE)
    assert cold > 0.0
    assert source.decode_seconds(RATE, 3 * RATE) == pytest.approx(cold / 2)  # half cached


def test_a_render_window_is_read_from_blocks_the_next_read_shares(tmp_path: Path) -> None:
    """The presets of one chunk decode its window once, and the next chunk's window decodes
    only what its warm-up and look-ahead do not share with it."""
    path = noise_file(tmp_path, 48_000, seconds=30.0)
    track = probe(path, RATE)
    cache = BlockCache(20_000_000)
    cached, direct = TrackSource(track, RATE, cache), TrackSource(track, RATE)
    window = cached.read_planar(8 * RATE, 22 * RATE)
    assert window.shape == (2, 14 * RATE) and window.flags.c_contiguous and window.flags.writeable
    np.testing.assert_array_equal(window, direct.read(8 * RATE, 22 * RATE).T)
    decoded = cache.misses
    assert decoded == 7  # blocks 4 to 10 (8 s to 22 s)
    window[:] = 0  # the caller's own copy, not the cached blocks
    np.testing.assert_array_equal(
        cached.read_planar(8 * RATE, 22 * RATE), direct.read(8 * RATE, 22 * RATE).T
    )
    assert cache.misses == decoded
    cached.read_planar(18 * RATE, 30 * RATE)
    assert cache.misses == decoded + 4  # 22 s to 30 s
    assert cache.reuse == cache.hits / (cache.hits + cache.misses) == 9 / 20


class HeldDecode(TrackSource):
    """A source whose first decode waits for the test (or fails once released, with
    `fail`): a render thread caught decoding a window."""

    def __init__(self, track: Track, cache: BlockCache, fail: bool = False) -> None:
        super().__init__(track, RATE, cache)
        self.decoding, self.release = threading.Event(), threading.Event()
        self.fail = fail
        self.decodes = 0

    def _decode(self, start: int, stop: int) -> np.ndarray:
        self.decodes += 1
        if self.decodes == 1:
            self.decoding.set()
            assert self.release.wait(10)
            if self.fail:
                raise TrackInvalid(self.track.path, "held decode failed")
        return super()._decode(start, stop)


def window_in_thread(source: TrackSource) -> tuple[threading.Thread, list[object]]:
    got: list[object] = []

    def read() -> None:
        try:
            got.append(source.read_planar(8 * RATE, 22 * RATE))
        except TrackInvalid as error:
            got.append(error)

    thread = threading.Thread(target=read)
    thread.start()
    return thread, got


class WatchedCache(BlockCache):
    """Tells when a second read has claimed (and found everything in flight)."""

    def __init__(self) -> None:
        super().__init__(20_000_000)
        self.claims, self.second_claim = 0, threading.Event()

    def claim(self, keys: list[BlockKey]) -> tuple[set[BlockKey], dict[BlockKey, threading.Event]]:
        claimed = super().claim(keys)
        self.claims += 1
        if self.claims == 2:
            self.second_claim.set()
        return claimed


def test_two_renders_of_one_window_decode_it_once(tmp_path: Path) -> None:
    """The second waits for the blocks the first is decoding; the feeder never waits."""
    track = probe(noise_file(tmp_path, 48_000, seconds=30.0), RATE)
    cache = WatchedCache()
    source = HeldDecode(track, cache)
    first, got_first = window_in_thread(source)
    assert source.decoding.wait(10)
    second, got_second = window_in_thread(source)
    assert cache.second_claim.wait(10)
    feeder = source.read(8 * RATE, 9 * RATE)  # in flight elsewhere: decoded here, no wait
    assert feeder.shape[0] == RATE and source.decodes == 2
    source.release.set()
    first.join(10)
    second.join(10)
    expected = TrackSource(track, RATE).read(8 * RATE, 22 * RATE).T
    for got in (got_first, got_second):
        np.testing.assert_array_equal(got[0], expected)  # type: ignore[arg-type]
    assert source.decodes == 2  # the held window once, the feeder's block once


def test_a_failed_decode_lets_the_waiting_render_decode_for_itself(tmp_path: Path) -> None:
    track = probe(noise_file(tmp_path, 48_000, seconds=30.0), RATE)
    cache = WatchedCache()
    source = HeldDecode(track, cache, fail=True)
    first, got_first = window_in_thread(source)
    assert source.decoding.wait(10)
    second, got_second = window_in_thread(source)
    assert cache.second_claim.wait(10)  # the second waits for the first's blocks
    source.release.set()
    first.join(10)
    second.join(10)
    assert isinstance(got_first[0], TrackInvalid)
    expected = TrackSource(track, RATE).read(8 * RATE, 22 * RATE).T
    np.testing.assert_array_equal(got_second[0], expected)  # type: ignore[arg-type]


def test_passes_that_read_each_frame_once_keep_no_blocks(tmp_path: Path) -> None:
    path = noise_file(tmp_path, RATE, seconds=12.0)
    cache = BlockCache(20_000_000)
    source = TrackSource(probe(path, RATE), RATE, cache)
    source.read(0, 10 * RATE, keep=False)
    assert cache.size_bytes == 0 and cache.misses == 0
    source.read(0, 10 * RATE)
    assert cache.size_bytes == 5 * 2 * RATE * 2 * 4


def test_a_deleted_file_does_not_play_on_from_cached_blocks(tmp_path: Path) -> None:
    path = noise_file(tmp_path, RATE)
    cache = BlockCache(2_000_000)
    source = TrackSource(probe(path, RATE), RATE, cache)
    source.read(0, 1024)
    assert cache.size_bytes > 0
    path.unlink()
    with pytest.raises(TrackMissing):
        source.read(0, 1024)
    assert cache.size_bytes == 0


def cut_flac(folder: Path, fraction: float) -> Path:
    path = noise_file(folder, RATE, seconds=4.0, name="whole.flac")
    data = path.read_bytes()
    cut = folder / "cut.flac"
    cut.write_bytes(data[: int(len(data) * fraction)])
    return cut


def test_a_truncated_file_ends_where_its_audio_ends_and_says_so_once(tmp_path: Path) -> None:
    path = cut_flac(tmp_path, 0.5)
    track = probe(path, RATE)
    ends: list[tuple[Track, int, str]] = []
    source = TrackSource(track, RATE, on_end=lambda t, frames, why: ends.append((t, frames, why)))
    assert source.frames == track.frames  # the header promises the whole file
    tail = source.read(track.frames - RATE, track.frames)
    assert tail.shape[0] == 0
    assert len(ends) == 1 and ends[0][0] == track
    real_end = ends[0][1]
    assert 1.5 * RATE < real_end < 2.5 * RATE
    assert source.frames == real_end
    assert source.read(real_end - 100, real_end + 100).shape[0] == 100
    source.read(0, track.frames)
    assert len(ends) == 1  # told once


def test_nan_samples_are_silence(tmp_path: Path) -> None:
    data = np.full((RATE, 2), 0.25, dtype=np.float32)
    data[100:110] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, data, RATE, subtype="FLOAT")
    audio = TrackSource(probe(path, RATE), RATE).read(0, RATE)
    assert np.isfinite(audio).all() and (audio[100:110] == 0).all()


LONG_MINUTES = 32


@pytest.fixture(scope="module")
def long_track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """A 32-minute generated track (8 kHz mono, so the file stays small): at the engine
    rate, whole, it would take 677 MB."""
    rate = 8_000
    path = tmp_path_factory.mktemp("long") / "long-mix.flac"
    seconds = np.arange(LONG_MINUTES * 60 * rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * (220 + 20 * np.sin(seconds / 60)) * seconds)
    sf.write(path, tone.astype(np.float32), rate, subtype="PCM_16")
    return probe(path, RATE)


def test_a_long_track_is_read_window_by_window(long_track: Track) -> None:
    whole_bytes = long_track.frames * 2 * 4
    tracemalloc.start()
    try:
        source = TrackSource(long_track, RATE, BlockCache(4_000_000))
        late = long_track.frames - 5 * RATE
        for start in (0, long_track.frames // 2, late):
            assert source.read(start, start + 12 * RATE).shape[0] == min(
                12 * RATE, long_track.frames - start
            )
        for start in range(late, late + 4 * RATE, 1024):
            source.read(start, start + 1024)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert whole_bytes > 600_000_000
    assert peak < 40_000_000  # a 12 s window and its resampling, never the track
