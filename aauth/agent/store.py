"""What an agent remembers between flows, as plain data with explicit time.

One :class:`AgentStore` per :class:`~aauth.agent.agent.Agent`:

* the Person Server's metadata, per PS, until its freshness lifetime ends (AAuth -11
  §"Metadata Documents"; RFC 9111 lifetime clamped to [5 min, 24 h]);
* person tokens per resource (AAuth -11 §"Person Token": the agent SHOULD cache one per
  resource until it expires) and auth tokens per resource (reused on later calls, §"Canonical
  Authorization Flow" step 6), each usable until ``margin`` seconds before ``exp`` and only
  with the key it is bound to (a key rotation invalidates them, §"No Refresh Tokens");
* the newest ``AAuth-Access`` session token per resource (§"AAuth-Access": a new value
  replaces the old one);
* per server: extra covered components a ``Signature-Error: invalid_input`` asked for, and the
  algorithm an ``unsupported_algorithm`` answer switched the agent to.

Every table is bounded (least recently used entries go first). Not thread-safe: share one
store per event loop, or guard it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from ..errors import LocalError
from ..metadata import PersonServerMetadata

__all__ = ["DEFAULT_MAX_ENTRIES", "AgentStore", "CachedToken"]

#: Entries per table.
DEFAULT_MAX_ENTRIES: Final = 1_000

_V = TypeVar("_V")


class _Table(Generic[_V]):
    """A bounded LRU mapping."""

    __slots__ = ("_items", "_max")

    def __init__(self, max_entries: int) -> None:
        self._items: OrderedDict[str, _V] = OrderedDict()
        self._max = max_entries

    def get(self, key: str) -> _V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: _V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedToken:
    """A person or auth token the agent obtained and checked.

    ``thumbprint`` is the key it is bound to (``cnf.jwk``), ``expires_at`` its ``exp``,
    ``subject`` its ``sub``.
    """

    token: str
    expires_at: int
    thumbprint: str
    subject: str

    def usable(self, *, thumbprint: str, now: int, margin: int) -> bool:
        """Bound to ``thumbprint`` and more than ``margin`` seconds from ``exp``."""
        return self.thumbprint == thumbprint and now < self.expires_at - margin


@dataclass(frozen=True, slots=True)
class _Metadata:
    metadata: PersonServerMetadata
    expires_at: int


class AgentStore:
    """The caches an agent keeps across flows (see the module docstring)."""

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise LocalError("max_entries must be a positive int")
        self._metadata: _Table[_Metadata] = _Table(max_entries)
        self._person: _Table[CachedToken] = _Table(max_entries)
        self._auth: _Table[CachedToken] = _Table(max_entries)
        self._session: _Table[str] = _Table(max_entries)
        self._components: _Table[tuple[str, ...]] = _Table(max_entries)
        self._algorithms: _Table[str] = _Table(max_entries)

    # -- PS metadata -------------------------------------------------------------------------

    def ps_metadata(self, ps: str, *, now: int) -> PersonServerMetadata | None:
        """The cached metadata of ``ps`` while fresh, else ``None``."""
        entry = self._metadata.get(ps)
        if entry is None:
            return None
        if now >= entry.expires_at:
            self._metadata.drop(ps)
            return None
        return entry.metadata

    def put_ps_metadata(self, ps: str, metadata: PersonServerMetadata, *, expires_at: int) -> None:
        """Remember ``ps``'s validated metadata until ``expires_at``."""
        self._metadata.put(ps, _Metadata(metadata, expires_at))

    # -- person and auth tokens ----------------------------------------------------------------

    def person_token(
        self, resource: str, *, thumbprint: str, now: int, margin: int
    ) -> CachedToken | None:
        """The person token for ``resource`` if bound to ``thumbprint`` and not near ``exp``."""
        return self._usable(self._person, resource, thumbprint, now, margin)

    def put_person_token(self, resource: str, token: CachedToken) -> None:
        """Remember a checked person token for ``resource``."""
        self._person.put(resource, token)

    def drop_person_token(self, resource: str) -> None:
        """Forget the person token for ``resource``."""
        self._person.drop(resource)

    def auth_token(
        self, resource: str, *, thumbprint: str, now: int, margin: int
    ) -> CachedToken | None:
        """The auth token for ``resource`` if bound to ``thumbprint`` and not near ``exp``."""
        return self._usable(self._auth, resource, thumbprint, now, margin)

    def put_auth_token(self, resource: str, token: CachedToken) -> None:
        """Remember a checked auth token for ``resource``."""
        self._auth.put(resource, token)

    def drop_auth_token(self, resource: str) -> None:
        """Forget the auth token for ``resource``."""
        self._auth.drop(resource)

    @staticmethod
    def _usable(
        table: _Table[CachedToken], resource: str, thumbprint: str, now: int, margin: int
    ) -> CachedToken | None:
        cached = table.get(resource)
        if cached is None:
            return None
        if now >= cached.expires_at:
            table.drop(resource)
            return None
        return cached if cached.usable(thumbprint=thumbprint, now=now, margin=margin) else None

    def subject(self, resource: str) -> str | None:
        """The ``sub`` of the person token held for ``resource`` (fresh or not)."""
        cached = self._person.get(resource)
        return None if cached is None else cached.subject

    # -- session tokens ------------------------------------------------------------------------

    def session_token(self, resource: str) -> str | None:
        """The newest ``AAuth-Access`` value ``resource`` sent, if any."""
        return self._session.get(resource)

    def put_session_token(self, resource: str, token: str) -> None:
        """Replace the session token for ``resource`` (AAuth -11: the newest value wins)."""
        self._session.put(resource, token)

    def drop_session_token(self, resource: str) -> None:
        """Forget the session token for ``resource``."""
        self._session.drop(resource)

    # -- per-server signing preferences --------------------------------------------------------

    def components(self, origin: str) -> tuple[str, ...]:
        """Extra components ``origin`` asked to have covered (``invalid_input``)."""
        return self._components.get(origin) or ()

    def put_components(self, origin: str, components: tuple[str, ...]) -> None:
        """Remember the components ``origin`` requires."""
        self._components.put(origin, components)

    def algorithm(self, resource: str) -> str | None:
        """The algorithm the agent switched to for ``resource``, if any."""
        return self._algorithms.get(resource)

    def put_algorithm(self, resource: str, algorithm: str) -> None:
        """Sign for ``resource`` with ``algorithm`` from now on."""
        self._algorithms.put(resource, algorithm)
