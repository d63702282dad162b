"""Opening a library in a thread of its own, which the app follows with a progress bar.

The command line starts the first one before Textual is even imported, so the music
starts while the screen is still being built instead of after it. Nothing here imports
Textual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from engine.library.scan import ScanProgress, scan
from engine.library.tracks import Track


@dataclass(frozen=True)
class OpeningState:
    """Where an opening is: `done` of `total` files probed, and once `finished`, `count`
    tracks opened or the `error` that says why none were."""

    done: int = 0
    total: int = 0
    finished: bool = False
    count: int = 0
    error: str | None = None


Follower = Callable[[OpeningState], None]


class OpensLibraries(Protocol):
    """What an opening needs of `engine.Engine`."""

    def open(
        self, paths: Iterable[str | Path], progress: ScanProgress | None = None
    ) -> list[Track]: ...
    def tracks(self) -> list[Track]: ...
    def play(self) -> None: ...


class LibraryOpening:
    """`paths` opened into `engine` in a daemon thread, played at once when `play` and
    something opened. `follow` hands each change of state to a follower, starting with
    the state reached; it is called under the lock, in order, so it must be quick (the
    app's posts a message)."""

    def __init__(self, engine: OpensLibraries, paths: Sequence[Path], play: bool) -> None:
        self.engine = engine
        self.paths = tuple(paths)
        self.play = play
        self._lock = threading.Lock()
        self._state = OpeningState()
        self._follower: Follower | None = None
        self._thread = threading.Thread(target=self._run, name="library-open", daemon=True)
        self._thread.start()

    @property
    def state(self) -> OpeningState:
        with self._lock:
            return self._state

    def follow(self, follower: Follower) -> None:
        with self._lock:
            self._follower = follower
            follower(self._state)

    def wait(self, timeout: float | None = None) -> OpeningState:
        self._thread.join(timeout)
        return self.state

    def _run(self) -> None:
        try:
            count, error = self._open()
        except Exception as fault:  # noqa: BLE001 - a fault must reach the listener, not vanish
            count, error = 0, f"{describe_paths(self.paths)}: could not be opened ({fault})"
        if count and self.play:
            self.engine.play()
        self._update(finished=True, count=count, error=error)

    def _open(self) -> tuple[int, str | None]:
        what = describe_paths(self.paths)
        missing = [path for path in self.paths if not path.exists()]
        if missing:
            return 0, f"{missing[0]}: no such file or folder"
        found, _skipped = scan(self.paths)
        if not found:
            return 0, f"{what}: no audio files (wav, flac, ogg, opus, mp3, aiff)"
        previous = [track.path for track in self.engine.tracks()]

        def progress(done: int, total: int) -> None:
            self._update(done=done, total=total)

        tracks = self.engine.open(self.paths, progress)
        if not tracks:
            if previous:
                self.engine.open(previous)  # an unplayable folder must not leave silence
                return 0, f"{what}: nothing playable (see the event log); playlist unchanged"
            return 0, f"no playable audio files in {what}"
        return len(tracks), None

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]
            if self._follower is not None:
                self._follower(self._state)


def describe_paths(paths: Sequence[Path]) -> str:
    """One path as it is, several as the first and a count: what a one-line message names."""
    if len(paths) == 1:
        return str(paths[0])
    return f"{paths[0]} and {len(paths) - 1} more"
