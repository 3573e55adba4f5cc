"""``AAuth-Access`` session tokens a resource issued (AAuth -11 §"AAuth-Access",
§"Resource-Managed Authorization"; digest §1.5, §5.2).

A session token is an opaque ``token68`` the resource hands out in ``AAuth-Access`` and the
agent presents as ``Authorization: AAuth <token>`` (covered by its signature). It is bound
to the agent identifier that obtained it. :class:`SessionStore` is the interface a shared
backend implements; :class:`MemorySessionStore` is the bounded in-process default.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from ..errors import LocalError

__all__ = ["MemorySessionStore", "SessionRecord", "SessionStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """One session token.

    :param token: the ``token68`` value.
    :param agent: the agent identifier it is bound to.
    :param scope: what the session grants (the route's scope when it was issued).
    :param issued_at: when it was issued (rotation counts from here).
    :param expires_at: when it stops working (shortened to the grace period once rotated).
    :param successor: the token that replaced it, once rotated.
    """

    token: str
    agent: str
    scope: str
    issued_at: int
    expires_at: int
    successor: str | None = None


class SessionStore(Protocol):
    """Session tokens by value."""

    def put(self, record: SessionRecord, *, now: int) -> None:
        """Store ``record`` (replacing any record of the same token) until its
        ``expires_at``."""

    def get(self, token: str, *, now: int) -> SessionRecord | None:
        """The live record of ``token`` at ``now``, or ``None``."""


class MemorySessionStore:
    """A bounded in-memory :class:`SessionStore`.

    :param max_entries: the most tokens held; when full, the least recently stored is
        dropped (its agent is granted a new session on its next call).
    """

    def __init__(self, *, max_entries: int = 100_000) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise LocalError("max_entries must be a positive int")
        self.max_entries = max_entries
        self._records: OrderedDict[str, SessionRecord] = OrderedDict()

    def __len__(self) -> int:
        """Tokens held (some may have expired)."""
        return len(self._records)

    def put(self, record: SessionRecord, *, now: int) -> None:
        """See :meth:`SessionStore.put`."""
        records = self._records
        records[record.token] = record
        records.move_to_end(record.token)
        while len(records) > self.max_entries:
            records.popitem(last=False)

    def get(self, token: str, *, now: int) -> SessionRecord | None:
        """See :meth:`SessionStore.get`."""
        record = self._records.get(token)
        if record is None:
            return None
        if now >= record.expires_at:
            del self._records[token]
            return None
        return record
