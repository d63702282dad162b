"""The background analysis pass: whole-track results, an urgent track first, and a close
that ends its thread even when it comes in the middle of a chunk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.frames import Audio
from engine.library import analysis_pass
from engine.library.analysis import analyse
from engine.library.analysis_pass import AnalysisPass
from engine.library.scan import probe
from engine.library.source import TrackSource
from tests.helpers.audio_files import write_tone
from tests.helpers.polling import wait_for

RATE = 44_100
CHUNK = RATE * 2


class HeldSource(TrackSource):
    """A real track whose reads after the first wait for the test: a chunk caught midway."""

    def __init__(self, path: Path) -> None:
        super().__init__(probe(path, RATE), RATE)
        self.reading, self.release = threading.Event(), threading.Event()
        self.reads = 0

    def read(self, start: int, stop: int, keep: bool = True) -> Audio:
        self.reads += 1
        if self.reads > 1:
            self.reading.set()
            self.release.wait(10)
        return super().read(start, stop, keep)


@pytest.fixture
def analyses() -> Iterator[AnalysisPass]:
    found = AnalysisPass(RATE, CHUNK)
    yield found
    found.close()


def test_a_track_is_read_to_its_end_one_chunk_at_a_time(
    tmp_path: Path, analyses: AnalysisPass
) -> None:
    source = TrackSource(probe(write_tone(tmp_path / "t.wav", seconds=7.0), RATE), RATE)
    analyses.request(source, urgent=True)  # the playing track's pace
    wait_for(lambda: analyses.whole_loudness(source.content_key) is not None, timeout=30)
    result = analyses.result(source.content_key)
    assert result is not None and result.complete
    assert len(result.chunk_features) == 4  # 2 + 2 + 2 + 1 seconds
    assert -30 < result.loudness_lufs < 0 and 0 < result.peak <= 1
    for index, features in enumerate(result.chunk_features):  # each chunk as if alone
        window = source.read(index * CHUNK, (index + 1) * CHUNK)
        assert features == analyse(window, RATE, len(window)).features


def test_a_close_in_the_middle_of_a_chunk_ends_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pause after a chunk (here made endless) must not outlast a close that came
    while the chunk was read: a thread left behind may be in an FFT when the process ends."""
    monkeypatch.setattr(analysis_pass, "STEP_FINISH_SECONDS", 5.0)
    source = HeldSource(write_tone(tmp_path / "t.wav", seconds=30.0))
    analyses = AnalysisPass(RATE, CHUNK)
    analyses.request(source)
    wait_for(source.reading.is_set, timeout=30)  # the second chunk is being read
    monkeypatch.setattr(analysis_pass, "IDLE_PER_BUSY", 1e6)  # its pause: endless
    closing = threading.Thread(target=analyses.close)
    closing.start()
    wait_for(lambda: analyses._stop, timeout=10)
    source.release.set()
    closing.join()
    assert not analyses._thread.is_alive()
    assert source.reads == 2


def test_the_playing_track_is_read_before_a_neighbour_begun_earlier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, analyses: AnalysisPass
) -> None:
    """The playing track's analysis feeds its switches now: it goes before a neighbour's,
    which resumes where it was left. The neighbour's second read waits until the playing
    track is asked for, and its third until the test has looked, so nothing races the
    pass."""
    monkeypatch.setattr(analysis_pass, "IDLE_PER_BUSY", 0.0)
    neighbour = TrackSource(probe(write_tone(tmp_path / "n.wav", seconds=60.0), RATE), RATE)
    short = write_tone(tmp_path / "p.wav", seconds=6.0, frequency=330)
    playing = TrackSource(probe(short, RATE), RATE)
    asked, looked, reads = threading.Event(), threading.Event(), []
    read_window = neighbour.read

    def held_read(start: int, stop: int, keep: bool = True) -> Audio:
        reads.append(start)
        if len(reads) == 2:
            asked.wait(30)
        elif len(reads) == 3:
            looked.wait(30)
        return read_window(start, stop, keep)

    monkeypatch.setattr(neighbour, "read", held_read)
    analyses.request(neighbour)
    wait_for(lambda: len(reads) >= 2, timeout=30)
    analyses.request(playing, urgent=True)
    asked.set()
    wait_for(lambda: analyses.whole_loudness(playing.content_key) is not None, timeout=30)
    read = analyses.result(neighbour.content_key)
    looked.set()
    assert read is not None and not read.complete and len(read.chunk_features) == 2
    wait_for(lambda: analyses.whole_loudness(neighbour.content_key) is not None, timeout=60)
    done = analyses.result(neighbour.content_key)
    assert done is not None and len(done.chunk_features) == 30
