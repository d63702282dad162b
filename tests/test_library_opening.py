"""The opening the command line starts before the screen exists: it plays what it opened,
and whoever follows it later still learns every step, in order, and how it ended."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine, EngineConfig
from tui.library_opening import LibraryOpening, OpeningState, describe_paths

TIMEOUT = 60.0


@pytest.fixture
def engine(tmp_path: Path):
    engine = Engine(EngineConfig(state_dir=tmp_path / "state"), sink="null")
    yield engine
    engine.close()


def test_an_opening_plays_what_it_opened_and_a_late_follower_learns_the_end(
    engine: Engine, tone_library: Path
) -> None:
    opening = LibraryOpening(engine, [tone_library], play=True)
    ended = opening.wait(TIMEOUT)
    assert ended.finished and ended.count == 3 and ended.error is None
    assert ended.done == ended.total == 4  # the garbage file was probed too
    assert engine.snapshot().playing
    seen: list[OpeningState] = []
    opening.follow(seen.append)
    assert seen == [ended]


def test_a_follower_sees_progress_in_order_then_the_end(engine: Engine, tone_library: Path) -> None:
    seen: list[OpeningState] = []
    opening = LibraryOpening(engine, [tone_library], play=False)
    opening.follow(seen.append)
    opening.wait(TIMEOUT)
    assert seen[-1].finished and seen[-1].count == 3
    assert not any(state.finished for state in seen[:-1])
    done = [state.done for state in seen]
    assert done == sorted(done)
    assert not engine.snapshot().playing


def test_nothing_playable_keeps_what_was_open_and_says_why(
    engine: Engine, tone_library: Path, tmp_path: Path
) -> None:
    LibraryOpening(engine, [tone_library], play=False).wait(TIMEOUT)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "noise.flac").write_bytes(b"not audio at all" * 64)
    ended = LibraryOpening(engine, [garbage], play=True).wait(TIMEOUT)
    assert ended.count == 0
    assert ended.error == f"{garbage}: nothing playable (see the event log); playlist unchanged"
    assert len(engine.tracks()) == 3
    assert not engine.snapshot().playing


def test_a_missing_path_is_named(engine: Engine, tmp_path: Path) -> None:
    ended = LibraryOpening(engine, [tmp_path / "gone"], play=True).wait(TIMEOUT)
    assert ended.finished and ended.error == f"{tmp_path / 'gone'}: no such file or folder"


def test_several_paths_are_named_by_the_first_and_a_count() -> None:
    assert describe_paths([Path("a"), Path("b"), Path("c")]) == "a and 2 more"
    assert describe_paths([Path("a")]) == "a"
