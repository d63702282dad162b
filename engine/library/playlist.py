"""`Playlist`: the tracks opened, in the library's order, and the files skipped.

The order they play in is `PlayQueue`'s (`engine/playback/queue.py`), read from here.

`open` replaces it whole on the caller's thread; the maintenance thread replaces one track
when its file changes or decodes shorter than its header said; the UI, the API and the
planner read it. One lock guards both lists, and every reader gets a copy.
"""

from __future__ import annotations

import threading

from engine.library.scan import SkippedFile
from engine.library.tracks import Track


class Playlist:
    """The tracks in order and the skipped files; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tracks: list[Track] = []
        self._skipped: list[SkippedFile] = []
        self._version = 0

    @property
    def version(self) -> int:
        """Changes whenever a track is added, removed or replaced."""
        return self._version

    def set(self, tracks: list[Track]) -> None:
        with self._lock:
            self._tracks = list(tracks)
            self._version += 1

    def set_if(self, version: int, tracks: list[Track]) -> bool:
        """Set `tracks` if the list is still at `version` (a whole library opened meanwhile
        wins); returns whether it was set."""
        with self._lock:
            if self._version != version:
                return False
            self._tracks = list(tracks)
            self._version += 1
            return True

    def tracks(self) -> list[Track]:
        with self._lock:
            return list(self._tracks)

    def find(self, track_id: str) -> Track | None:
        with self._lock:
            return next((t for t in self._tracks if t.id == track_id), None)

    def index_of(self, track_id: str) -> int | None:
        with self._lock:
            return next((i for i, t in enumerate(self._tracks) if t.id == track_id), None)

    def place(self, track: Track | None) -> tuple[int, int]:
        """The track's index (0 when it is not in the list) and the number of tracks."""
        with self._lock:
            index = self._tracks.index(track) if track in self._tracks else 0
            return index, len(self._tracks)

    def replace(self, fresh: Track) -> None:
        """Put `fresh` where the track with its id is (a file's new version)."""
        with self._lock:
            self._tracks = [fresh if t.id == fresh.id else t for t in self._tracks]
            self._version += 1

    def add_skipped(self, item: SkippedFile) -> None:
        with self._lock:
            self._skipped.append(item)

    def skipped(self) -> tuple[SkippedFile, ...]:
        with self._lock:
            return tuple(self._skipped)
