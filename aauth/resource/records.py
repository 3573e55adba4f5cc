"""What the resource keeps of the person tokens it verified, for step-up (AAuth -11
§"Resource Token", §"Auth Token Required"; digest §1.4 step 7, §4.4 ``presented_jti``).

A resource may only issue a resource token after it verified a person token; on a step-up
(an auth token short of the scope a route needs) the agent presents the auth token, not the
person token, so the resource fills ``presented_jti``, ``mission_s256`` and ``tenant`` from
its own record of the person token for ``(ps, sub)``. :class:`PersonRecordStore` is the
interface a shared backend implements; :class:`MemoryPersonRecords` is the bounded default.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from ..errors import LocalError
from ..tokens import PersonToken

__all__ = ["MemoryPersonRecords", "PersonRecord", "PersonRecordStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonRecord:
    """The resource's record of a verified person token.

    :param ps: the person token's ``iss``.
    :param sub: its ``sub``.
    :param presented_jti: its ``jti`` (the resource token's ``presented_jti``).
    :param mission_s256: copied unchanged (AAuth -11: MUST NOT be omitted when present).
    :param tenant: copied.
    :param expires_at: when the record may be dropped.
    """

    ps: str
    sub: str
    presented_jti: str
    mission_s256: str | None
    tenant: str | None
    expires_at: int

    @classmethod
    def of(cls, token: PersonToken, *, keep_for: int) -> PersonRecord:
        """The record of ``token``, kept until its ``exp`` plus ``keep_for`` seconds."""
        return cls(
            ps=token.iss,
            sub=token.sub,
            presented_jti=token.jti,
            mission_s256=token.mission_s256,
            tenant=token.tenant,
            expires_at=token.exp + keep_for,
        )


class PersonRecordStore(Protocol):
    """Person-token records by ``(ps, sub)``; the newest record replaces an older one."""

    def remember(self, record: PersonRecord, *, now: int) -> None:
        """Keep ``record`` until its ``expires_at``."""

    def lookup(self, ps: str, sub: str, *, now: int) -> PersonRecord | None:
        """The live record for ``(ps, sub)`` at ``now``, or ``None``."""


class MemoryPersonRecords:
    """A bounded in-memory :class:`PersonRecordStore`.

    :param max_entries: the most records held; when full the least recently remembered is
        dropped (its person must then present a person token again: ``401 person-token``).
    """

    def __init__(self, *, max_entries: int = 10_000) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise LocalError("max_entries must be a positive int")
        self.max_entries = max_entries
        self._records: OrderedDict[tuple[str, str], PersonRecord] = OrderedDict()

    def __len__(self) -> int:
        """Records held (some may have expired)."""
        return len(self._records)

    def remember(self, record: PersonRecord, *, now: int) -> None:
        """See :meth:`PersonRecordStore.remember`."""
        key = (record.ps, record.sub)
        records = self._records
        if records.get(key) == record:
            return  # the same token again: the hot path of a person-token route
        records[key] = record
        records.move_to_end(key)
        while len(records) > self.max_entries:
            records.popitem(last=False)

    def lookup(self, ps: str, sub: str, *, now: int) -> PersonRecord | None:
        """See :meth:`PersonRecordStore.lookup`."""
        record = self._records.get((ps, sub))
        if record is None:
            return None
        if now >= record.expires_at:
            del self._records[ps, sub]
            return None
        return record
