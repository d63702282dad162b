"""`Tier`: a byte-bounded, thread-safe store of encoded chunks.

The budget is a hard bound on the real encoded bytes: an insert first makes room by evicting
the least valuable entries, and refuses instead when making room would evict something
worth more than what comes in. Eviction, insertion and budget changes all happen under one
lock, so the tier never holds more than its budget, at any instant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from engine.cache.codecs import Codec, EncodedChunk
from engine.cache.keys import ChunkKey
from engine.frames import Audio

MEGABYTE = 1_000_000


@dataclass
class TierEntry:
    """One stored chunk and what the placement plan thinks it is worth."""

    key: ChunkKey
    chunk: EncodedChunk
    fingerprint: str
    value: float
    probability: float
    access_count: int = 0

    @property
    def size_bytes(self) -> int:
        return self.chunk.size_bytes


@dataclass(frozen=True)
class TierStats:
    name: str
    count: int
    size_bytes: int
    budget_bytes: int


class Tier:
    """One level of the buffer (L1, L2 or L3) with its codec and byte budget."""

    def __init__(self, name: str, codec: Codec, budget_bytes: int) -> None:
        self.name = name
        self.codec = codec
        self._budget = max(0, int(budget_bytes))
        self._entries: dict[ChunkKey, TierEntry] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    # -- reading --------------------------------------------------------------------------
    @property
    def budget_bytes(self) -> int:
        return self._budget

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def stats(self) -> TierStats:
        with self._lock:
            return TierStats(self.name, len(self._entries), self._bytes, self._budget)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def keys(self) -> list[ChunkKey]:
        with self._lock:
            return list(self._entries)

    def entries(self) -> list[TierEntry]:
        """A copy of the entries, for views; the audio itself is shared and read-only."""
        with self._lock:
            return [
                TierEntry(e.key, e.chunk, e.fingerprint, e.value, e.probability, e.access_count)
                for e in self._entries.values()
            ]

    def fetch(self, key: ChunkKey, fingerprint: str) -> EncodedChunk | None:
        """The stored chunk, or None. An entry of an older file version is dropped, not served."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.fingerprint != fingerprint:
                self._drop(key)
                return None
            entry.access_count += 1
            return entry.chunk

    def decode(self, chunk: EncodedChunk) -> Audio:
        return self.codec.decode(chunk)

    # -- writing --------------------------------------------------------------------------
    def put(
        self,
        key: ChunkKey,
        chunk: EncodedChunk,
        fingerprint: str,
        value: float,
        probability: float = 0.0,
    ) -> bool:
        """Store `chunk` if it fits without evicting anything worth more; True if stored."""
        return self.admit(TierEntry(key, chunk, fingerprint, value, probability)) is not None

    def admit(self, entry: TierEntry) -> list[TierEntry] | None:
        """`put`, giving the entries it evicted to make room (a buffer moves them down a
        tier instead of losing renders the plan still wants); None if refused."""
        key = entry.key
        with self._lock:
            previous = self._entries.get(key)
            freed_by_replace = previous.size_bytes if previous is not None else 0
            victims = self._victims_for(entry.size_bytes - freed_by_replace, entry.value, key)
            if victims is None:
                return None
            evicted = [self._entries[victim] for victim in victims]
            for victim in victims:
                self._drop(victim)
            if previous is not None:
                self._drop(key)
            self._entries[key] = entry
            self._bytes += entry.size_bytes
            return evicted

    def _victims_for(self, needed: int, value: float, exclude: ChunkKey) -> list[ChunkKey] | None:
        """Cheapest entries whose removal frees `needed` bytes, or None if that costs value."""
        free = self._budget - self._bytes
        if needed <= free:
            return []
        if needed > self._budget:
            return None
        victims: list[ChunkKey] = []
        candidates = sorted(
            (e for e in self._entries.values() if e.key != exclude), key=lambda e: e.value
        )
        for entry in candidates:
            if entry.value > value:
                return None
            victims.append(entry.key)
            free += entry.size_bytes
            if free >= needed:
                return victims
        return None

    def remove(self, key: ChunkKey) -> EncodedChunk | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._drop(key)
            return entry.chunk

    def remove_if_holding(self, key: ChunkKey, chunk: EncodedChunk) -> bool:
        """Remove `key` only if it still holds this very chunk (not a newer one, not gone)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.chunk is not chunk:
                return False
            self._drop(key)
            return True

    def holds(self, key: ChunkKey, chunk: EncodedChunk) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.chunk is chunk

    def remove_where(self, predicate: Callable[[ChunkKey], bool]) -> int:
        with self._lock:
            doomed = [key for key in self._entries if predicate(key)]
            for key in doomed:
                self._drop(key)
            return len(doomed)

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._bytes = 0
            return count

    def set_values(self, values: dict[ChunkKey, tuple[float, float]]) -> None:
        """Re-value every entry from the plan: (value, probability); unplanned ones get 0."""
        with self._lock:
            for key, entry in self._entries.items():
                entry.value, entry.probability = values.get(key, (0.0, 0.0))

    def resize(self, budget_bytes: int) -> int:
        """Change the budget, evicting the least valuable entries first; returns evictions."""
        with self._lock:
            budget = max(0, int(budget_bytes))
            evicted = 0
            for entry in sorted(self._entries.values(), key=lambda e: e.value):
                if self._bytes <= budget:
                    break
                self._drop(entry.key)
                evicted += 1
            self._budget = budget
            return evicted

    def _drop(self, key: ChunkKey) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size_bytes
