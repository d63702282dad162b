"""`LibraryWatch`: the folders opened, followed on disk while the player runs.

A file added to an opened folder joins the library in its place (its folder's tag order);
a file removed leaves it (the one playing once it is no longer heard: `FileWatch` tells
and skips it first); a file changed is dropped from the caches and probed again through
`FileWatch`. The index keeps up, and the library panel shows the change at its next
reading. The queue keeps what the listener queued, less the files that are gone.

watchfiles (the Rust `notify` crate: inotify on Linux) reports changes on a thread of its
own, batched over `debounce_ms`; the maintenance loop applies each batch, so the playlist
changes on one thread at a time.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import watchfiles

from engine.library.decoders import AUDIO_EXTENSIONS
from engine.library.file_watch import FileWatch
from engine.library.index import LibraryIndex
from engine.library.order import sorted_by_tags
from engine.library.playlist import Playlist
from engine.library.scan import open_library
from engine.library.track_store import TrackStore
from engine.library.tracks import Track, fingerprint_file
from engine.observe.error_log import ErrorLog
from engine.playback.player import Player
from engine.vocabulary import plural

DEBOUNCE_MS = 1600
"""Changes within this long are one batch: a folder copied in is one line, not hundreds."""
STEP_MS = 250
"""How often the watching thread wakes (watchfiles' `step`): to look at its stop event, so
quitting waits at most this, and to see whether changes have stopped coming. At the
default 50 ms, and with a Rust timeout that brought it back to Python ten times a second,
an idle watch cost 0.09 s of CPU a minute."""

Batch = set[tuple[watchfiles.Change, str]]


class LibraryWatch:
    """`follow` from the thread that opens a library; `apply` on the maintenance thread."""

    def __init__(
        self,
        sample_rate: int,
        playlist: Playlist,
        store: TrackStore,
        index: LibraryIndex,
        files: FileWatch,
        errors: ErrorLog,
        log: Callable[[str], None],
        debounce_ms: int = DEBOUNCE_MS,
    ) -> None:
        self._rate = sample_rate
        self._playlist = playlist
        self._store = store
        self._index = index
        self._files = files
        self._errors = errors
        self._log = log
        self._debounce_ms = debounce_ms
        self._batches: queue.SimpleQueue[Batch | str] = queue.SimpleQueue()
        """Changes seen, or why watching stopped."""
        self._lock = threading.Lock()
        """Guards the watching thread and the folders it follows."""
        self._folders: tuple[Path, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._leaving: set[str] = set()
        """Paths removed on disk whose track was being heard: removed once it is not."""

    def follow(self, paths: Iterable[str | Path]) -> None:
        """Follow the folders among `paths` (a new library), and no others."""
        folders = tuple(Path(os.path.abspath(p)) for p in paths if Path(p).is_dir())
        with self._lock:
            self._stop_locked()
            self._folders = folders
            if not folders:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._watch, args=(folders, self._stop), name="library-watch", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._stop_locked()

    def apply(self, player: Player) -> None:
        """Put the batches seen into the library (the maintenance loop)."""
        changes: dict[str, watchfiles.Change] = {}
        while True:
            try:
                batch = self._batches.get_nowait()
            except queue.Empty:
                break
            if isinstance(batch, str):
                self._errors.report("library", "watch", batch)
                continue
            for change, path in sorted(batch, key=lambda item: item[1]):
                changes[path] = change
        if changes or self._leaving:
            self._update(changes, player)

    # -- on the maintenance thread ---------------------------------------------------------
    def _update(self, changes: dict[str, watchfiles.Change], player: Player) -> None:
        version = self._playlist.version
        tracks = self._playlist.tracks()
        by_path = {os.path.abspath(t.path): t for t in tracks}
        heard, _position = player.position()
        gone = self._leaving | {p for p, c in changes.items() if not os.path.exists(p)}
        gone &= by_path.keys()
        self._leaving = {p for p in gone if heard is not None and by_path[p].id == heard.id}
        gone -= self._leaving
        changed = [
            by_path[p]
            for p, change in changes.items()
            if p in by_path and p not in gone and change != watchfiles.Change.deleted
        ]
        # The playing and the next track are FileWatch's (checked every 2 s, its renders
        # dropped there); a file only read (its access time moved) is not a change.
        watched = self._files.watched(player)
        changed = [t for t in changed if t.id not in watched and _content_changed(t)]
        new = sorted(p for p in changes if p not in by_path and os.path.isfile(p))
        added: list[Track] = []
        if new:
            added, skipped = open_library([Path(p) for p in new], self._rate, None, self._index)
            for item in skipped:
                self._files.skip(item)
        self._index.forget(gone)
        for track in changed:
            self._files.refresh(track, player)
        if not (gone or added):
            return
        kept = [t for t in tracks if os.path.abspath(t.path) not in gone]
        updated = self._placed(kept, added)
        if self._playlist.set_if(version, updated):
            self._store.set_library(updated)
            for path in gone:
                self._files.removed(by_path[path])
            for track in added:
                self._files.returned(track)
            self._log(_told(len(added), len(gone)))

    def _placed(self, tracks: list[Track], added: list[Track]) -> list[Track]:
        """`tracks` with `added` in their folder's place: each opened folder's tracks are
        one run in the library's order, which is sorted again with them."""
        result = list(tracks)
        for folder in self._folders:
            root = os.path.join(folder, "")
            joining = [t for t in added if os.path.abspath(t.path).startswith(root)]
            if not joining:
                continue
            run = [i for i, t in enumerate(result) if os.path.abspath(t.path).startswith(root)]
            at = run[0] if run else len(result)
            members = [result[i] for i in run]
            for i in reversed(run):
                del result[i]
            result[at:at] = sorted_by_tags([*members, *joining])
        return result

    # -- on the watching thread --------------------------------------------------------------
    def _watch(self, folders: tuple[Path, ...], stop: threading.Event) -> None:
        try:
            for batch in watchfiles.watch(
                *folders,
                watch_filter=_audio_file,
                debounce=self._debounce_ms,
                step=STEP_MS,
                stop_event=stop,
                rust_timeout=0,  # no timeout: the stop event is looked at every step
                yield_on_timeout=False,
                raise_interrupt=False,
            ):
                self._batches.put(batch)
        except Exception as error:  # noqa: BLE001 - the player plays on without the watch
            where = ", ".join(folder.name for folder in folders)
            self._batches.put(f"not following {where} on disk any more ({error})")

    def _stop_locked(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None


def _content_changed(track: Track) -> bool:
    try:
        return fingerprint_file(track.path) != track.fingerprint
    except OSError:
        return True


def _audio_file(change: watchfiles.Change, path: str) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def _told(added: int, removed: int) -> str:
    parts = [f"{plural(added, 'track')} added"] if added else []
    if removed:
        parts.append(f"{plural(removed, 'track')} removed")
    return "library: " + ", ".join(parts) + " on disk"
