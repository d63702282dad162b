"""Tags and the library index: read once, kept on disk, probed again only when a file changes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import mutagen
import pytest
from mediafile import MediaFile
from mutagen.id3 import TPE1

from engine.library.index import LibraryIndex
from engine.library.scan import open_library
from engine.library.tags import Tags, read_tags
from tests.helpers.audio_files import write_tone

RATE = 44_100


def tag(path: Path, **fields: object) -> Path:
    found = MediaFile(str(path))
    for name, value in fields.items():
        setattr(found, name, value)
    found.save()
    return path


@pytest.mark.parametrize(
    ("suffix", "subtype"),
    [(".flac", "PCM_16"), (".ogg", "VORBIS"), (".mp3", "MPEG_LAYER_III"), (".wav", "PCM_16")],
)
def test_tags_read_alike_from_every_container(tmp_path: Path, suffix: str, subtype: str) -> None:
    path = write_tone(tmp_path / f"a{suffix}", seconds=0.5, subtype=subtype)
    tag(path, title="Awakening", artist="Nadia", album="Dawn", track=3, disc=2, albumartist="V.A.")
    tags = read_tags(path)
    assert (tags.title, tags.artist, tags.album, tags.album_artist) == (
        "Awakening",
        "Nadia",
        "Dawn",
        "V.A.",
    )
    assert (tags.track_number, tags.disc_number) == (3, 2)


@pytest.mark.parametrize(("suffix", "subtype"), [(".flac", "PCM_16"), (".mp3", "MPEG_LAYER_III")])
def test_every_value_of_a_multi_valued_tag_is_read(
    tmp_path: Path, suffix: str, subtype: str
) -> None:
    """Two artists are two values of one tag (Vorbis comments, ID3v2.4): both are shown."""
    path = tag(write_tone(tmp_path / f"a{suffix}", seconds=0.5, subtype=subtype), title="Duet")
    audio = mutagen.File(path)
    if suffix == ".mp3":
        audio.tags.setall("TPE1", [TPE1(encoding=3, text=["Nadia", "Ilya", "Nadia"])])
    else:
        audio.tags["ARTIST"] = ["Nadia", "Ilya", "Nadia"]
    audio.save()
    tags = read_tags(path)
    assert (tags.title, tags.artist) == ("Duet", "Nadia / Ilya")


def test_replaygain_tags_are_read(tmp_path: Path) -> None:
    path = tag(write_tone(tmp_path / "a.flac", seconds=0.5), rg_track_gain=-7.5, rg_album_gain=-6.0)
    tags = read_tags(path)
    assert tags.replaygain_track_db == pytest.approx(-7.5)
    assert tags.replaygain_album_db == pytest.approx(-6.0)


def test_an_untagged_or_unreadable_file_has_empty_tags(tmp_path: Path) -> None:
    assert read_tags(write_tone(tmp_path / "a.flac", seconds=0.5)) == Tags()
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio")
    assert read_tags(junk) == Tags()
    assert read_tags(tmp_path / "missing.flac") == Tags()


def test_a_track_is_titled_by_its_tags_else_by_its_file_name(tmp_path: Path) -> None:
    tag(write_tone(tmp_path / "01 x.flac", seconds=0.5), title="Awakening", artist="Nadia")
    write_tone(tmp_path / "02 y.flac", seconds=0.5)
    tracks, _ = open_library([tmp_path], RATE)
    assert [(t.title, t.artist) for t in tracks] == [("Awakening", "Nadia"), ("02 y", "")]
    assert tracks[0].tags.title == "Awakening"


def library(folder: Path, count: int = 3) -> list[Path]:
    folder.mkdir(exist_ok=True)
    return [
        tag(write_tone(folder / f"{k:02d}.flac", seconds=0.3), title=f"Song {k}", track=k + 1)
        for k in range(count)
    ]


def probes_counted(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files `open_library` probes (reads headers and tags of), in order."""
    from engine.library import scan

    probed: list[Path] = []
    real = scan.probe

    def counting(path: Path, sample_rate: int):  # type: ignore[no-untyped-def]
        probed.append(path)
        return real(path, sample_rate)

    monkeypatch.setattr(scan, "probe", counting)
    return probed


def test_reopening_probes_nothing_and_gives_the_same_tracks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = library(tmp_path / "music")
    first, _ = open_library([tmp_path / "music"], RATE, index=LibraryIndex(tmp_path / "i", RATE))
    probed = probes_counted(monkeypatch)
    again, _ = open_library([tmp_path / "music"], RATE, index=LibraryIndex(tmp_path / "i", RATE))
    assert probed == []
    assert again == first
    assert [t.path for t in again] == files


def test_a_changed_file_is_probed_again_and_a_removed_one_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = library(tmp_path / "music")
    index = LibraryIndex(tmp_path / "i", RATE)
    open_library([tmp_path / "music"], RATE, index=index)
    tag(files[0], title="Renamed")
    os.utime(files[0], ns=(1, 1))  # a tag edit in the same clock tick must still count
    files[2].unlink()
    probed = probes_counted(monkeypatch)
    tracks, _ = open_library([tmp_path / "music"], RATE, index=index)
    assert probed == [files[0]]
    assert [t.title for t in tracks] == ["Renamed", "Song 1"]
    assert str(files[2]) not in index.entries()


def test_unplayable_files_are_remembered_with_their_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "notes.mp3").write_text("not audio")
    index = LibraryIndex(tmp_path / "i", RATE)
    _, skipped = open_library([tmp_path / "music"], RATE, index=index)
    probed = probes_counted(monkeypatch)
    _, again = open_library([tmp_path / "music"], RATE, index=index)
    assert probed == []
    assert again == skipped and len(again) == 1


def test_a_damaged_index_is_set_aside_and_rebuilt(tmp_path: Path) -> None:
    library(tmp_path / "music")
    (tmp_path / "i").write_bytes(b"not a database" * 100)
    index = LibraryIndex(tmp_path / "i", RATE)
    tracks, _ = open_library([tmp_path / "music"], RATE, index=index)
    assert len(tracks) == 3
    warning = index.take_warning()
    assert warning is not None and "rebuilt" in warning
    assert index.take_warning() is None
    assert (tmp_path / "i.unusable").exists()
    assert len(LibraryIndex(tmp_path / "i", RATE).entries()) == 3


def test_an_index_of_another_version_is_rebuilt(tmp_path: Path) -> None:
    library(tmp_path / "music")
    db = sqlite3.connect(tmp_path / "i")
    db.execute("CREATE TABLE files (path TEXT PRIMARY KEY, whatever TEXT)")
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    tracks, _ = open_library([tmp_path / "music"], RATE, index=LibraryIndex(tmp_path / "i", RATE))
    assert len(tracks) == 3


def test_an_index_that_cannot_be_written_keeps_the_library_playing(tmp_path: Path) -> None:
    library(tmp_path / "music")
    (tmp_path / "a file").write_text("where the index folder should be")
    index = LibraryIndex(tmp_path / "a file" / "i", RATE)
    tracks, _ = open_library([tmp_path / "music"], RATE, index=index)
    assert len(tracks) == 3
    warning = index.take_warning()
    assert warning is not None and "in memory" in warning


def test_the_engine_keeps_its_index_in_the_cache_folder_and_shows_the_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_folders: dict[str, Path]
) -> None:
    from api.transport import track_info
    from engine import Engine, EngineConfig
    from engine.playback.sinks.output import NullSink

    music = tmp_path / "music"
    music.mkdir()
    tag(write_tone(music / "a.flac", seconds=0.5), title="Awakening", artist="Nadia", album="Dawn")
    for attempt in range(2):
        probed = probes_counted(monkeypatch) if attempt else []
        engine = Engine(EngineConfig(), sink=NullSink(speed=1.0))
        try:
            (track,) = engine.open([music])
        finally:
            engine.close()
        assert probed == []
    assert (private_folders["cache"] / "library.sqlite").exists()
    info = track_info(track, 44_100)
    assert (info["title"], info["artist"], info["album"]) == ("Awakening", "Nadia", "Dawn")
