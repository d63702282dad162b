"""The state file: round trips, atomic replacement under write failures, unusable files set
aside with their content intact, and disks that refuse writes without stopping anything."""

from __future__ import annotations

import errno
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest

from engine.persist.state import STATE_VERSION, StateStore, default_state_dir

SECTIONS: dict[str, Any] = {
    "predictor": {"learned_switches": 3, "experts": {"markov": [[0.5, 0.5], [0.1, 0.9]]}},
    "settings": {"preset": "warm", "intensity": 0.65, "volume": 1.0, "muted": False},
}
FIXED_TIME = datetime(2024, 5, 17, 8, 30, 0, tzinfo=UTC)


def store_in(directory: Path) -> StateStore:
    return StateStore(directory, clock=lambda: FIXED_TIME)


def fail_with(code: int) -> Any:
    def fail(*args: object, **kwargs: object) -> NoReturn:
        raise OSError(code, os.strerror(code))

    return fail


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name != "state.json")


def test_round_trip(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    assert store.save(SECTIONS) is None
    loaded = store_in(tmp_path).load()
    assert loaded.data == SECTIONS
    assert loaded.warning is None
    document = json.loads((tmp_path / "state.json").read_text())
    assert document["version"] == STATE_VERSION
    assert document["saved_at"] == FIXED_TIME.isoformat()
    assert leftovers(tmp_path) == []


def test_a_save_killed_while_writing_leaves_no_temp_file_behind_for_good(
    tmp_path: Path,
) -> None:
    """A process killed mid-save leaves its temp file; the next load removes it once it is
    old enough that no other player can still be writing it, and keeps anything else."""
    store = store_in(tmp_path)
    assert store.save(SECTIONS) is None
    stale, writing, other = (
        tmp_path / ".state.json.k1ll3d.tmp",
        tmp_path / ".state.json.wr1t1ng.tmp",
        tmp_path / ".other.json.k1ll3d.tmp",
    )
    for path in (stale, writing, other):
        path.write_text("{")
    hour_ago = time.time() - 3600
    for path in (stale, other):
        os.utime(path, (hour_ago, hour_ago))
    assert store_in(tmp_path).load().data == SECTIONS
    assert leftovers(tmp_path) == sorted([writing.name, other.name])


def test_a_missing_file_is_a_quiet_fresh_start(tmp_path: Path) -> None:
    loaded = store_in(tmp_path / "nowhere").load()
    assert (loaded.data, loaded.warning) == (None, None)


def test_the_directory_is_created(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "state"
    assert store_in(directory).save(SECTIONS) is None
    assert store_in(directory).load().data == SECTIONS


def test_the_default_directory_is_the_platform_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIERPLAY_STATE_DIR", raising=False)
    assert StateStore().directory == default_state_dir()
    assert default_state_dir().name == "tierplay"


def test_the_environment_can_point_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERPLAY_STATE_DIR", str(tmp_path))
    assert StateStore().directory == tmp_path


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    store = store_in(tmp_path)
    assert store.save(SECTIONS) is None
    before = (tmp_path / "state.json").read_bytes()
    monkeypatch.setattr(os, failing, fail_with(errno.ENOSPC))
    error = store.save({"settings": {"preset": "bright"}})
    monkeypatch.undo()
    assert error is not None
    assert "No space left on device" in error
    assert "\n" not in error
    assert (tmp_path / "state.json").read_bytes() == before
    assert leftovers(tmp_path) == []
    assert store.load().data == SECTIONS


def test_a_read_only_file_system_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "mkstemp", fail_with(errno.EROFS))
    error = store_in(tmp_path).save(SECTIONS)
    assert error is not None
    assert "Read-only file system" in error


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions"
)
def test_a_read_only_directory_is_reported(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    assert store.save(SECTIONS) is None
    tmp_path.chmod(0o500)
    try:
        error = store.save({"settings": {}})
    finally:
        tmp_path.chmod(0o700)
    assert error is not None
    assert store.load().data == SECTIONS


def test_nan_is_refused(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    assert store.save(SECTIONS) is None
    error = store.save({"settings": {"intensity": float("nan")}})
    assert error is not None
    assert "not plain JSON" in error
    assert store.load().data == SECTIONS


def test_non_json_values_are_refused(tmp_path: Path) -> None:
    assert store_in(tmp_path).save({"settings": {"path": Path("/x")}}) is not None
    assert not (tmp_path / "state.json").exists()


def test_envelope_names_are_reserved(tmp_path: Path) -> None:
    assert store_in(tmp_path).save({"version": {}}) is not None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "is not valid JSON"),
        (b"", "is not valid JSON"),
        (b"\xff\xfe garbage", "is not valid JSON"),
        (b'{"version": 1, "x": NaN}', "is not valid JSON"),
        (b"[1, 2, 3]", "is not a JSON object"),
        (b'{"predictor": {}}', "has no valid version number"),
        (b'{"version": "1"}', "has no valid version number"),
        (b'{"version": true}', "has no valid version number"),
        (b'{"version": 0}', "has no valid version number"),
    ],
)
def test_an_unusable_file_is_set_aside(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "state.json").write_bytes(content)
    store = store_in(tmp_path)
    loaded = store.load()
    assert loaded.data is None
    assert loaded.warning is not None
    assert reason in loaded.warning
    aside = tmp_path / "state.json.bad-20240517T083000Z"
    assert aside.name in loaded.warning
    assert aside.read_bytes() == content
    assert not (tmp_path / "state.json").exists()
    assert store.save(SECTIONS) is None
    assert store.load() == store_in(tmp_path).load()


def test_a_newer_version_is_set_aside_by_version(tmp_path: Path) -> None:
    content = json.dumps({"version": STATE_VERSION + 1, "predictor": {"new": True}}).encode()
    (tmp_path / "state.json").write_bytes(content)
    loaded = store_in(tmp_path).load()
    assert loaded.data is None
    assert loaded.warning is not None
    assert "newer Tierplay" in loaded.warning
    aside = tmp_path / f"state.json.newer-v{STATE_VERSION + 1}-20240517T083000Z"
    assert aside.read_bytes() == content


def test_set_aside_files_do_not_overwrite_each_other(tmp_path: Path) -> None:
    for content in (b"first", b"second"):
        (tmp_path / "state.json").write_bytes(content)
        assert store_in(tmp_path).load().warning is not None
    contents = sorted((tmp_path / name).read_bytes() for name in leftovers(tmp_path))
    assert contents == [b"first", b"second"]


def test_a_newer_file_that_cannot_be_moved_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = json.dumps({"version": STATE_VERSION + 1}).encode()
    (tmp_path / "state.json").write_bytes(content)
    store = store_in(tmp_path)
    monkeypatch.setattr(Path, "rename", fail_with(errno.EACCES))
    loaded = store.load()
    monkeypatch.undo()
    assert loaded.data is None
    assert loaded.warning is not None
    assert "could not move it aside" in loaded.warning
    assert store.save(SECTIONS) is not None
    assert (tmp_path / "state.json").read_bytes() == content


def test_an_unreadable_path_is_a_warning_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").mkdir()
    loaded = store_in(tmp_path).load()
    assert loaded.data is None
    assert loaded.warning is not None
    assert "could not be read" in loaded.warning
