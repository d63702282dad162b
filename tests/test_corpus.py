"""bench/corpus.py's helpers, which other benchmarks use to find the real-music corpus."""

from __future__ import annotations

from pathlib import Path

from bench.corpus import corpus_dir, corpus_tracks


def test_a_missing_corpus_is_no_tracks(tmp_path: Path) -> None:
    assert corpus_tracks(tmp_path / "absent") == []


def test_only_audio_files_are_tracks(tmp_path: Path) -> None:
    for name in ("b.opus", "a.ogg", "corpus.json", "c.flac.part"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in corpus_tracks(tmp_path)] == ["a.ogg", "b.opus"]


def test_the_corpus_lives_in_the_user_cache() -> None:
    assert corpus_dir().parts[-2:] == ("tierplay", "corpus")
