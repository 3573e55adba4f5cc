"""Replay protection for request signatures (AAuth -11 §"Freshness and replay"; digest §2).

The ``created`` window is the main defence; within it a resource remembers the signatures
it accepted and refuses the same bytes again. :class:`ReplayStore` is the interface a
shared backend (Redis, a database) implements; :class:`MemoryReplayStore` is the bounded
in-process default.
"""

from __future__ import annotations

import heapq
from typing import Protocol

from ..errors import LocalError

__all__ = ["MemoryReplayStore", "ReplayStore"]


class ReplayStore(Protocol):
    """Remembers signature bytes until they can no longer pass the ``created`` window."""

    def add(self, key: bytes, *, expires_at: int, now: int) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it was already recorded and not
        yet expired at ``now`` (a replay). Must be atomic for a shared backend."""


class MemoryReplayStore:
    """A bounded in-memory :class:`ReplayStore` (one process, one event loop).

    :param max_entries: the most signatures held. When full, expired entries are dropped
        first; if all are live, the one expiring soonest is dropped (a flood of valid
        signatures from trusted keys can then shorten protection, never crash the server).
    """

    def __init__(self, *, max_entries: int = 100_000) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise LocalError("max_entries must be a positive int")
        self.max_entries = max_entries
        self._expiry: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        """Entries held (some may have expired but not yet been dropped)."""
        return len(self._expiry)

    def _drop_expired(self, now: int) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            del self._expiry[key]  # one heap entry per held key

    def add(self, key: bytes, *, expires_at: int, now: int) -> bool:
        """See :meth:`ReplayStore.add`."""
        self._drop_expired(now)
        if key in self._expiry:
            return False
        if len(self._expiry) >= self.max_entries:
            _, oldest = heapq.heappop(self._heap)
            del self._expiry[oldest]
        self._expiry[key] = expires_at
        heapq.heappush(self._heap, (expires_at, key))
        return True
