"""`ReaderPool`: a few open readers kept between reads, shared by every track's source.

An open reader is worth keeping: FFmpeg builds an MP3's seek index by reading the file from
its start, once per open, and a track is read window after window. But a library is
thousands of tracks, and each open reader holds a file descriptor, FFmpeg's buffers and
that index (about 1 MB per hour of MP3): so only the last few used are kept, idle. A read
borrows one (two threads reading one track each get their own) and gives it back; a reader
whose read failed is closed instead, since a decoder that failed may fail its next seek.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from engine.library.decoders import SourceReader

IDLE_READERS = 4
"""Readers kept open while idle: the track playing, the next, and a couple rendering."""

ReaderKey = tuple[str, str]
"""(track id, fingerprint): a changed file never gets a reader of its old version."""


class ReaderPool:
    """Thread-safe; readers are only ever used by the thread that borrowed them."""

    def __init__(self, size: int = IDLE_READERS) -> None:
        self._size = max(1, size)
        self._idle: OrderedDict[tuple[ReaderKey, int], SourceReader] = OrderedDict()
        self._lock = threading.Lock()
        self._serial = 0

    def borrow(self, key: ReaderKey) -> SourceReader | None:
        """An idle reader of this track version (the last given back), or None."""
        with self._lock:
            for slot in reversed(self._idle):
                if slot[0] == key:
                    return self._idle.pop(slot)
        return None

    def give_back(self, key: ReaderKey, reader: SourceReader) -> None:
        """Keep `reader` for the next read; the least recently used one past the pool's
        size is closed."""
        with self._lock:
            self._serial += 1
            self._idle[(key, self._serial)] = reader
            evicted = []
            while len(self._idle) > self._size:
                evicted.append(self._idle.popitem(last=False)[1])
        for old in evicted:
            old.close()

    def forget(self, track_id: str) -> None:
        """Close the idle readers of a track the library no longer has (or that changed)."""
        with self._lock:
            doomed = [slot for slot in self._idle if slot[0][0] == track_id]
            readers = [self._idle.pop(slot) for slot in doomed]
        for reader in readers:
            reader.close()

    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)
