"""`FileWatch`: keeps the playlist true to the files on disk, so stale audio is never served.

A file modified or deleted while it plays (or is next) has its renders, calibrations and
decoded blocks dropped and is probed again; a file that decodes shorter than its header
said takes the length that decodes, so playback moves on at its real end; a file that
cannot be played is skipped with its one-line reason, told once.
"""

from __future__ import annotations

import queue
from dataclasses import replace

from engine.cache.buffer import MultiTierBuffer
from engine.cache.worker import RenderWorkerPool
from engine.dsp.calibrations import LoudnessCalibrations
from engine.errors import TrackError
from engine.library.playlist import Playlist
from engine.library.scan import SkippedFile, probe
from engine.library.track_store import TrackStore
from engine.library.tracks import Track, fingerprint_file
from engine.observe.error_log import ErrorLog
from engine.observe.journal import Journal
from engine.playback.player import Player
from engine.playback.queue import PlayQueue

UNTOLD_SHORTFALL_SECONDS = 0.5
"""A file shorter than its header by less than this is corrected without a word: Ogg
headers often promise a few frames more than decode."""


class FileWatch:
    """`check` and `follow_track_ends` run on the maintenance thread; `track_failed` (the
    feeder) and `track_ended` (a decoder) hand their news over through queues."""

    def __init__(
        self,
        sample_rate: int,
        playlist: Playlist,
        order: PlayQueue,
        store: TrackStore,
        buffer: MultiTierBuffer,
        workers: RenderWorkerPool,
        calibrations: LoudnessCalibrations,
        errors: ErrorLog,
        journal: Journal,
    ) -> None:
        self._rate = sample_rate
        self._playlist = playlist
        self._order = order
        self._store = store
        self._buffer = buffer
        self._workers = workers
        self._calibrations = calibrations
        self._errors = errors
        self._journal = journal
        self._failed_reads: queue.SimpleQueue[Track] = queue.SimpleQueue()
        """Tracks the player could not read: checked on disk at the next `check` even if
        playback has moved past them."""
        self._ended: queue.SimpleQueue[tuple[Track, int, str]] = queue.SimpleQueue()
        self._gone: set[str] = set()

    def skip(self, item: SkippedFile, message: str | None = None) -> None:
        """A file that cannot be played: counted in the error log, listed once."""
        text = message or f"skipped {item.path.name}: {item.reason}"
        if self._errors.report("track", str(item.path), text):
            self._playlist.add_skipped(item)

    def track_failed(self, track: Track, error: Exception) -> None:
        reason = error.reason if isinstance(error, TrackError) else f"playback failed ({error})"
        self.skip(SkippedFile(track.path, reason))
        self._failed_reads.put(track)

    def track_ended(self, track: Track, frames: int, why: str) -> None:
        """A decoder reached the file's real end at `frames`, before its header's."""
        self._ended.put((track, frames, why))

    def watched(self, player: Player) -> set[str]:
        """The ids of the tracks this watches on disk: the one playing and the next."""
        playing, _position = player.position()
        if playing is None:
            return set()
        following = self._order.following(playing)
        return {playing.id} | ({following.id} if following is not None else set())

    def check(self, player: Player) -> None:
        """The playing track, the next one and any that failed to read: a file modified or
        deleted has its renders dropped and is probed again."""
        watched = self.watched(player)
        while True:  # a file the player skipped may be behind the playhead by now
            try:
                watched.add(self._failed_reads.get_nowait().id)
            except queue.Empty:
                break
        for item in [t for t in self._playlist.tracks() if t.id in watched]:
            try:
                current = fingerprint_file(item.path)
            except OSError:
                current = ""
            if current != item.fingerprint:
                self._drop(item)
                self._reload(item, player)
        for gone in list(self._gone):  # a render or read that was running may have landed
            self._buffer.invalidate_track(gone)
            self._store.forget(gone)

    def removed(self, item: Track) -> None:
        """`item`'s file is gone and it left the library (the library's watch): its
        renders, calibrations and source are dropped now, and dropped again if a render in
        flight lands later. It may have left before `check` saw it."""
        self._drop(item)
        self._gone.add(item.id)

    def returned(self, item: Track) -> None:
        """A file that was gone is back in the library (the same path): its renders stay."""
        self._gone.discard(item.id)

    def refresh(self, item: Track, player: Player) -> None:
        """`item`'s file changed on disk (the library's watch saw it): its renders are
        dropped and it is probed again, as `check` does for the playing track."""
        self._drop(item)
        self._reload(item, player)

    def follow_track_ends(self, player: Player) -> None:
        """A file that decodes shorter than its header said: its length becomes what
        decodes; told once per file."""
        while True:
            try:
                track, frames, why = self._ended.get_nowait()
            except queue.Empty:
                return
            stale = self._playlist.find(track.id)
            if stale is None or stale.fingerprint != track.fingerprint or stale.frames <= frames:
                continue
            note = (
                f"truncated: {frames / self._rate:.1f} s of {stale.duration_seconds:.1f} s playable"
            )
            fresh = replace(
                stale,
                frames=frames,
                duration_seconds=frames / self._rate,
                warnings=(*stale.warnings, f"{note} ({why})"),
            )
            self._put_in_place(stale, fresh, player)
            if stale.frames - frames > UNTOLD_SHORTFALL_SECONDS * self._rate:
                self._errors.report("track", str(stale.path), f"{stale.path.name}: {note} ({why})")

    def _drop(self, item: Track) -> None:
        dropped = self._buffer.invalidate_track(item.id, item.fingerprint)
        self._journal.invalidated(item.id, "file changed on disk", dropped)
        self._workers.cancel_track(item.id)
        self._calibrations.forget_track(item.fingerprint)
        self._store.forget(item.id)

    def _reload(self, stale: Track, player: Player) -> None:
        """Put the file's new version in place of the old one (same id, new fingerprint),
        so playback goes on with fresh renders; a file that is gone is reported once."""
        try:
            fresh = probe(stale.path, self._rate)
        except TrackError as error:
            if stale.id not in self._gone:
                self._gone.add(stale.id)
                self.skip(
                    SkippedFile(stale.path, error.reason),
                    f"{stale.path.name} is no longer playable ({error.reason}); skipped",
                )
            return
        self._put_in_place(stale, fresh, player)
        self._gone.discard(stale.id)
        self._journal.log(f"{stale.path.name} changed on disk: its cached renders were dropped")

    def _put_in_place(self, stale: Track, fresh: Track, player: Player) -> None:
        self._playlist.replace(fresh)
        self._store.register([fresh])
        player.replace_track(stale, fresh)
