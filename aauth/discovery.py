"""Key discovery as data: issuer metadata, JWKS and the keys in them, with egress admission
(AAuth -11 §"JWKS Discovery and Caching", §"Metadata Documents"; signature-key-08 ``jwks_uri``
scheme and egress admission; digest §3.6, §4.1, §6.3).

The engine never fetches. :class:`DiscoveryCache` answers a question ("the key ``kid`` of
issuer ``iss`` under ``dwk``") with either the key or an *action*: :class:`FetchNeeded` (GET
this URL, then hand the response to :meth:`DiscoveryCache.on_fetched`) or
:class:`FetchPending` (a fetch of that URL is already under way: wait for it, then ask
again). Time is always the caller's ``now`` (Unix seconds). A driver loop is::

    while True:
        step = cache.key(iss, dwk, kid, now=clock())
        if isinstance(step, KeyFound):
            break
        if isinstance(step, FetchNeeded):
            response = http_get(step.url, egress=cache.egress)   # the driver's client
            cache.on_fetched(step.url, response.status, response.headers, response.body,
                             now=clock())
        else:
            await the fetch of step.url that is already in flight

Discovery path (AAuth -11 §"JWKS Discovery and Caching"): ``{iss}/.well-known/{dwk}`` →
the document's ``issuer`` MUST equal ``iss`` byte for byte (``issuer_missing`` /
``issuer_mismatch``) → its ``jwks_uri`` → the JWKS → the member whose ``kid`` matches
(other members are never judged). Every error is a :class:`DiscoveryError`, a
:class:`~aauth.errors.SignatureError` whose code is the ``Signature-Error`` to answer with.

Cache rules (each a constructor argument with an argued default, see ``docs/vocabulary.md``):

* lifetime from ``Cache-Control: max-age`` or ``Expires`` (RFC 9111), else
  ``default_ttl``; always clamped to ``[min_ttl, max_ttl]`` (5 min, 24 h), so a peer can
  neither force a fetch per request nor keep a removed key alive past 24 h (AAuth -11:
  SHOULD discard after 24 h);
* no URL is fetched more often than once per ``refetch_interval`` (60 s; AAuth -11: MUST NOT
  fetch an issuer's JWKS more than once per minute), whatever triggers it: expiry, an
  unknown ``kid`` (SHOULD refresh), a key that failed verification (SHOULD refresh once);
* failures are cached too, with exponential backoff (60 s doubling up to
  ``failure_backoff_max``); while backing off a stale copy younger than ``max_ttl`` is used
  (SHOULD use the cached JWKS), otherwise the recorded error is raised again;
* at most ``max_entries`` metadata documents and as many JWKS, least recently used evicted
  (cache entries are created by unauthenticated callers, digest §3.6).

Egress admission (signature-key-08, digest §3.6) is a pure check, :func:`check_egress`, run on
every URL before it is handed out, plus :func:`admit_addresses` for the driver to run on
what its resolver answered for the host, before connecting: it returns the addresses the
driver may connect to (and pins); :func:`check_resolved_address` judges one address. The
driver also owns response-size and timeout limits and refuses cross-host redirects.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeAlias

import msgspec

from .errors import JoseError, LocalError, SignatureError
from .headers_http import freshness_lifetime
from .http import HttpResponse
from .identifiers import InvalidIdentifierError, validate_https_url
from .jwk import select_jwk
from .metadata import METADATA_TYPES, Metadata, MetadataError, parse_metadata, well_known_url

__all__ = [
    "DEFAULT_DEFAULT_TTL",
    "DEFAULT_FAILURE_BACKOFF_MAX",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_TTL",
    "DEFAULT_MIN_TTL",
    "DEFAULT_PENDING_TIMEOUT",
    "MIN_REFETCH_INTERVAL",
    "DiscoveryCache",
    "DiscoveryError",
    "DiscoveryStep",
    "EgressError",
    "EgressPolicy",
    "FetchNeeded",
    "FetchPending",
    "FetchPurpose",
    "KeyFound",
    "MetadataFound",
    "admit_addresses",
    "check_egress",
    "check_resolved_address",
]

#: Floor of a cache entry's lifetime: 5 minutes. A peer sending ``max-age=0`` or
#: ``no-store`` still gets cached this long (AAuth -11: verifiers MUST cache JWKS).
DEFAULT_MIN_TTL: Final = 300
#: Ceiling: 24 hours (AAuth -11: SHOULD discard cached JWKS after 24 h at most). Also the
#: longest a stale copy is used while its refresh keeps failing.
DEFAULT_MAX_TTL: Final = 86_400
#: Lifetime when the response has no ``Cache-Control`` freshness or ``Expires``: 1 hour.
DEFAULT_DEFAULT_TTL: Final = 3_600
#: AAuth -11 §"JWKS Discovery and Caching": MUST NOT fetch an issuer's JWKS more than once
#: per minute. The constructor refuses a smaller ``refetch_interval``.
MIN_REFETCH_INTERVAL: Final = 60
#: Longest pause between retries of a failing URL (the backoff starts at
#: ``refetch_interval`` and doubles).
DEFAULT_FAILURE_BACKOFF_MAX: Final = 900
#: A fetch handed out and never reported back counts as failed after this many seconds.
DEFAULT_PENDING_TIMEOUT: Final = 30
#: Entries per map (metadata documents; JWKS).
DEFAULT_MAX_ENTRIES: Final = 1_000
#: Largest metadata or JWKS body accepted (the driver should stop reading there too).
DEFAULT_MAX_BODY: Final = 256 * 1024


class DiscoveryError(SignatureError):
    """The key for a token or ``Signature-Key`` member cannot be obtained.

    Codes (all ``Signature-Error`` codes): ``unknown_key`` (no such ``kid``, or the issuer's
    documents could not be fetched: ``retryable``), ``issuer_missing``, ``issuer_mismatch``
    (the metadata's ``issuer`` is absent or differs from ``iss`` by even one byte, e.g. a
    trailing slash), ``invalid_key`` (malformed metadata or JWKS, no ``jwks_uri``, a URL
    refused by egress admission).
    """

    default_code = "unknown_key"


class EgressError(DiscoveryError):
    """A URL or address is refused by egress admission (signature-key-08; digest §3.6)."""

    default_code = "invalid_key"


# ---------------------------------------------------------------------------------------------
# Egress admission


def _networks(
    values: Iterable[str | ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value))
        except (TypeError, ValueError) as exc:
            raise LocalError(f"admitted_networks: {value!r} is not a network ({exc})") from None
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class EgressPolicy:
    """Where discovery may send requests (signature-key-08 egress admission; digest §3.6).

    :param allow_insecure_loopback_for_development: also admit ``http``/``https`` to
        ``localhost``, ``127.0.0.0/8`` and ``::1`` (and identifiers with a port, as
        :mod:`aauth.identifiers` allows). Never enable outside local development.
    :param allow_cross_host_jwks_uri: admit a ``jwks_uri`` on any host other than its
        metadata's. Off by default: digest §3.6 requires explicit admission.
    :param admitted_jwks_hosts: hosts (lowercase, exact) admitted as a ``jwks_uri`` host
        whatever the metadata host; the finer-grained form of the switch above.
    :param admitted_networks: address ranges admitted even though they are not globally
        routable (a PS on an internal network, say); CIDR strings or network objects.
    """

    allow_insecure_loopback_for_development: bool = False
    allow_cross_host_jwks_uri: bool = False
    admitted_jwks_hosts: frozenset[str] = frozenset()
    admitted_networks: tuple[str | ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, default=(), repr=False, compare=False
    )
    """``admitted_networks`` parsed (filled in at construction)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "admitted_jwks_hosts", frozenset(self.admitted_jwks_hosts))
        object.__setattr__(self, "admitted_networks", tuple(self.admitted_networks))
        object.__setattr__(self, "networks", _networks(self.admitted_networks))


_URL_RE: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>[/?#].*)?", re.DOTALL
)
# inet_aton-style spellings resolvers accept as addresses: 127.1, 0x7f.1, 2130706433, 017.0.0.1
_NUMERIC_HOST_RE: Final = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?")
_HOST_CHARS_RE: Final = re.compile(r"[a-z0-9._-]+")
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")


def _split_authority(authority: str) -> tuple[str, str | None, bool]:
    """``(host, port, bracketed)`` of an authority without userinfo; brackets removed."""
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise EgressError("egress refused: the URL has an unterminated IP literal")
        host, after = authority[1:end], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise EgressError("egress refused: the URL has text after an IP literal")
        return host, after[1:] if after else None, True
    host, colon, port = authority.partition(":")
    return host, port if colon else None, False


def _address_refusal(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, policy: EgressPolicy
) -> str | None:
    """Why ``address`` may not be contacted, or ``None`` (digest §3.6)."""
    if isinstance(address, ipaddress.IPv6Address):
        # addresses that carry an IPv4 destination are judged by it: ::ffff:a.b.c.d
        # (IPv4-mapped), 2002:a.b.c.d::/48 (6to4) and 64:ff9b::a.b.c.d (NAT64, RFC 6052)
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _address_refusal(embedded, policy)
    if any(address in network for network in policy.networks):
        return None
    if address.is_loopback:
        if policy.allow_insecure_loopback_for_development:
            return None
        return "a loopback address"
    if address.is_global and not address.is_multicast:
        return None
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    return "not a globally routable unicast address"


def check_resolved_address(address: str, policy: EgressPolicy | None = None) -> None:
    """Refuse an address a driver resolved a discovery host to, before connecting.

    Digest §3.6: reject private, loopback and link-local destinations unless configured
    otherwise, and pin the resolved IP for the connection (DNS-rebinding defence). Anything
    not globally routable unicast is refused (RFC 1918, RFC 6598 shared space, link-local,
    unique-local, multicast, documentation, reserved, unspecified), with IPv4-mapped IPv6
    addresses judged as their IPv4 address. ``policy.admitted_networks`` and the development
    loopback switch open exceptions.

    :raises EgressError: code ``invalid_key``.
    :raises LocalError: ``address`` is not an IP address (the driver passes what it resolved).
    """
    chosen = policy if policy is not None else _DEFAULT_POLICY
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise LocalError(f"{address!r} is not an IP address") from None
    reason = _address_refusal(parsed, chosen)
    if reason is not None:
        raise EgressError(f"egress to {parsed} refused: {reason}")


_NOT_AN_ADDRESS: Final = "egress refused: the host resolves to something that is not an IP address"


def admit_addresses(resolved: Iterable[str], policy: EgressPolicy | None = None) -> tuple[str, ...]:
    """Egress admission of what a driver's resolver answered for a fetch's host, before any
    connection: the addresses the driver may connect to.

    Digest §3.6: every address is judged as :func:`check_resolved_address` does, and one
    refusal refuses the fetch (a name that also resolves somewhere internal is not reached
    at all, whichever address a connection would have picked); the driver then connects
    only to the addresses returned, trying them in order, and never resolves the name again
    (pin the resolved IP: DNS-rebinding defence). An IPv6 zone index (``fe80::1%eth0``) is
    dropped before judging.

    :param resolved: the address strings of the resolver's answer, in its order
        (``getaddrinfo``'s ``sockaddr[0]``).
    :returns: each admitted address once, in canonical form, in the resolver's order;
        never empty.
    :raises EgressError: code ``invalid_key``: an address is refused, an entry is not an IP
        address, or nothing resolved. The message names neither the host nor any address
        (it may reach the peer inside a ``Signature-Error`` description).
    """
    chosen = policy if policy is not None else _DEFAULT_POLICY
    admitted: dict[str, None] = {}  # insertion-ordered set
    for entry in resolved:
        # ip_address() would also take an int (getaddrinfo gives one for an IPv6 sockaddr
        # when Python lacks IPv6 support): strings only
        if not isinstance(entry, str):
            raise EgressError(_NOT_AN_ADDRESS)
        try:
            parsed = ipaddress.ip_address(entry.partition("%")[0])
        except ValueError:
            raise EgressError(_NOT_AN_ADDRESS) from None
        reason = _address_refusal(parsed, chosen)
        if reason is not None:
            raise EgressError(f"egress refused: an address the host resolves to is {reason}")
        admitted[str(parsed)] = None
    if not admitted:
        raise EgressError("egress refused: the host resolves to no address")
    return tuple(admitted)


def _is_loopback_name(host: str) -> bool:
    # RFC 6761 §6.3: localhost and names under it resolve to loopback
    return host == "localhost" or host.endswith(".localhost")


def check_egress(url: str, policy: EgressPolicy | None = None) -> str:
    """Admit or refuse ``url`` as a discovery fetch target; return its lowercase host.

    Digest §3.6 (signature-key-08): ``https`` only; no userinfo; a host is required; IP
    literals in private, loopback, link-local or other non-global ranges are refused, as are
    the numeric spellings resolvers turn into addresses (``127.1``, ``0x7f000001``) and
    ``localhost`` names. The development switch admits ``http``/``https`` to loopback.
    Host names are otherwise admitted here; the driver re-checks the resolved address with
    :func:`check_resolved_address`.

    :raises EgressError: code ``invalid_key``.
    """
    chosen = policy if policy is not None else _DEFAULT_POLICY
    if not isinstance(url, str):
        raise LocalError("url must be a str")
    m = _URL_RE.fullmatch(url)
    if m is None:
        raise EgressError("egress refused: not an absolute URL with an authority")
    scheme = m.group("scheme").lower()
    authority = m.group("authority")
    if "@" in authority:
        raise EgressError("egress refused: the URL has userinfo")
    host, port, bracketed = _split_authority(authority)
    host = host.lower()
    if not host:
        raise EgressError("egress refused: the URL has no host")
    if not bracketed and _HOST_CHARS_RE.fullmatch(host) is None:
        # non-ASCII must arrive as A-labels; '%' and the like have no place in a host here
        raise EgressError("egress refused: the host has characters outside [a-z0-9._-]")
    if port is not None and (
        not 0 < len(port) <= 5
        or not port.isdigit()
        or not port.isascii()
        or not 0 < int(port) < 65536
    ):
        raise EgressError("egress refused: the URL has an invalid port")
    loopback = _is_loopback_name(host)
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if bracketed:
            raise EgressError("egress refused: the bracketed host is not an IPv6 address") from None
        if _NUMERIC_HOST_RE.fullmatch(host) is not None:
            raise EgressError(
                "egress refused: the host is a numeric address in a non-canonical form"
            ) from None
    if address is not None:
        if bracketed != isinstance(address, ipaddress.IPv6Address):
            # RFC 3986 §3.2.2: IPv6 literals are bracketed, IPv4 ones are not
            raise EgressError("egress refused: malformed IP literal")
        reason = _address_refusal(address, chosen)
        if reason is not None:
            raise EgressError(f"egress refused: the host is {reason}")
        loopback = address.is_loopback or (
            isinstance(address, ipaddress.IPv6Address)
            and address.ipv4_mapped is not None
            and address.ipv4_mapped.is_loopback
        )
    elif loopback and not chosen.allow_insecure_loopback_for_development:
        raise EgressError("egress refused: 'localhost' names resolve to loopback")
    if scheme != "https" and not (
        scheme == "http" and loopback and chosen.allow_insecure_loopback_for_development
    ):
        raise EgressError("egress refused: discovery uses https only")
    return host


def _check_jwks_host(jwks_uri: str, metadata_host: str, policy: EgressPolicy) -> None:
    """Digest §3.6: a ``jwks_uri`` on another host than its metadata needs admission."""
    host = check_egress(jwks_uri, policy)
    if host == metadata_host or policy.allow_cross_host_jwks_uri:
        return
    if host in policy.admitted_jwks_hosts:
        return
    raise EgressError(
        f"jwks_uri host {host!r} differs from the metadata host {metadata_host!r} "
        "and is not admitted"
    )


_DEFAULT_POLICY: Final = EgressPolicy()


def _hashable(issuer: object, dwk: object, kid: object) -> bool:
    """Whether the lookup values are of the types a token can legitimately carry."""
    return (
        isinstance(issuer, str) and isinstance(dwk, str) and (kid is None or isinstance(kid, str))
    )


# ---------------------------------------------------------------------------------------------
# Actions and results


class FetchPurpose(StrEnum):
    """What a fetch is for."""

    METADATA = "metadata"
    JWKS = "jwks"


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchNeeded:
    """Action: GET ``url`` (after egress admission of the connection), then report the
    response with :meth:`DiscoveryCache.on_fetched` or a transport failure with
    :meth:`DiscoveryCache.on_fetch_failed`.

    ``reason`` is ``"missing"``, ``"expired"``, ``"unknown_kid"`` or ``"key_rejected"``.
    ``max_body`` is the most the cache will accept; stop reading beyond it.
    """

    url: str
    purpose: FetchPurpose
    issuer: str
    dwk: str
    reason: str
    accept: str
    max_body: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchPending:
    """Action: a fetch of ``url`` was handed out and not yet reported. Wait for it (drivers
    coalesce concurrent fetches of one URL), then ask again."""

    url: str
    purpose: FetchPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class MetadataFound:
    """The validated metadata document of ``issuer`` under ``dwk``.

    ``metadata`` is the typed model for the four AAuth documents and ``None`` for another
    ``dwk`` (the generic signature-key-08 ``jwks_uri`` scheme), whose ``issuer`` and
    ``jwks_uri`` are still checked. ``stale`` is set when the entry is past its lifetime and
    is served because its refresh is failing or in flight.
    """

    issuer: str
    dwk: str
    url: str
    jwks_uri: str | None
    metadata: Metadata | None
    stale: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyFound:
    """The JWK that ``kid`` names in the issuer's JWKS (not yet checked for ``alg``; the JOSE
    layer does that when it builds the verifying key)."""

    jwk: Mapping[str, object]
    issuer: str
    dwk: str
    kid: str | None
    jwks_uri: str
    stale: bool = False


DiscoveryStep: TypeAlias = KeyFound | FetchNeeded | FetchPending
_MetadataStep: TypeAlias = MetadataFound | FetchNeeded | FetchPending

_ACCEPT: Final[Mapping[FetchPurpose, str]] = {
    FetchPurpose.METADATA: "application/json",
    FetchPurpose.JWKS: "application/jwk-set+json, application/json",
}


# ---------------------------------------------------------------------------------------------
# Cache entries (internal, mutable)


@dataclass(frozen=True, slots=True)
class _Document:
    jwks_uri: str | None
    metadata: Metadata | None
    refusal: tuple[str, str] | None  # (code, message) when the jwks_uri is not admitted


@dataclass(frozen=True, slots=True)
class _Jwks:
    jwks: Mapping[str, object]
    by_kid: Mapping[str, Mapping[str, object]]  # kids that occur exactly once


@dataclass(slots=True)
class _Entry:
    url: str
    purpose: FetchPurpose
    issuer: str
    dwk: str
    value: _Document | _Jwks | None = None
    expires_at: float = 0.0  # fresh before this
    discard_at: float = 0.0  # never used at or after this (fetched_at + max_ttl)
    not_before: float = -math.inf  # no new fetch before this (rate limit and backoff)
    pending_since: float | None = None
    failures: int = 0
    error: tuple[str, str, bool] | None = None  # (code, message, retryable)


class _GenericDocument(msgspec.Struct):
    issuer: str | None = None
    jwks_uri: str | None = None


class _JwksBody(msgspec.Struct):
    keys: list[object]


# ---------------------------------------------------------------------------------------------
# The cache


class DiscoveryCache:
    """Metadata and JWKS cache with explicit time; says what to fetch, never fetches.

    Not thread-safe: a driver shares one per event loop, or guards it with its own lock.
    All limits are keyword arguments (see the module docstring and ``docs/vocabulary.md``).

    :raises LocalError: inconsistent limits, or ``refetch_interval`` under 60 s.
    """

    def __init__(
        self,
        *,
        egress: EgressPolicy | None = None,
        min_ttl: int = DEFAULT_MIN_TTL,
        max_ttl: int = DEFAULT_MAX_TTL,
        default_ttl: int = DEFAULT_DEFAULT_TTL,
        refetch_interval: int = MIN_REFETCH_INTERVAL,
        failure_backoff_max: int = DEFAULT_FAILURE_BACKOFF_MAX,
        pending_timeout: int = DEFAULT_PENDING_TIMEOUT,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if not 0 <= min_ttl <= default_ttl <= max_ttl:
            raise LocalError("need 0 <= min_ttl <= default_ttl <= max_ttl")
        if refetch_interval < MIN_REFETCH_INTERVAL:
            # AAuth -11 §"JWKS Discovery and Caching": at most one fetch per minute
            raise LocalError(f"refetch_interval must be at least {MIN_REFETCH_INTERVAL} s")
        if failure_backoff_max < refetch_interval:
            raise LocalError("failure_backoff_max must be at least refetch_interval")
        if pending_timeout <= 0 or max_entries < 1 or max_body < 1:
            raise LocalError("pending_timeout, max_entries and max_body must be positive")
        self.egress: EgressPolicy = egress if egress is not None else _DEFAULT_POLICY
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self.default_ttl = default_ttl
        self.refetch_interval = refetch_interval
        self.failure_backoff_max = failure_backoff_max
        self.pending_timeout = pending_timeout
        self.max_entries = max_entries
        self.max_body = max_body
        self._documents: OrderedDict[str, _Entry] = OrderedDict()
        self._jwks: OrderedDict[str, _Entry] = OrderedDict()
        # (issuer, dwk) -> metadata URL, after validation and egress admission
        self._urls: dict[tuple[str, str], str] = {}
        # (issuer, dwk, kid, alg) -> a fresh KeyFound and the entries and values it came from
        self._hits: dict[
            tuple[str, str, str | None, str | None],
            tuple[KeyFound, _Entry, _Document | _Jwks | None, _Entry, _Document | _Jwks | None],
        ] = {}

    def __len__(self) -> int:
        """Number of entries held (metadata documents plus JWKS)."""
        return len(self._documents) + len(self._jwks)

    # -- public queries ------------------------------------------------------------------------

    def metadata(self, issuer: str, dwk: str, *, now: float) -> _MetadataStep:
        """The metadata document of ``issuer`` under ``dwk``, or the fetch it needs.

        :raises DiscoveryError: the issuer or ``dwk`` is invalid, egress refuses the URL, or
            the document failed recently and no usable copy is cached.
        """
        if not _hashable(issuer, dwk, None):
            raise DiscoveryError("issuer and dwk must be strings", code="invalid_key")
        url = self._metadata_url(issuer, dwk)
        entry = self._touch(self._documents, url, FetchPurpose.METADATA, issuer, dwk)
        return self._document_step(entry, now)

    def key(
        self, issuer: str, dwk: str, kid: str | None, *, now: float, alg: str | None = None
    ) -> DiscoveryStep:
        """The JWK that ``kid`` names for ``issuer`` under ``dwk``, or the fetch it needs.

        AAuth -11 §"JWKS Discovery and Caching": selection is by ``kid`` only (``alg``, the
        JWS header algorithm, only breaks a tie between members sharing a ``kid``). An
        unknown ``kid`` triggers one refresh of the JWKS, at most once per
        ``refetch_interval``; after that it is ``unknown_key``.

        :raises DiscoveryError: as :meth:`metadata`, plus ``unknown_key`` (no such key, or
            the JWKS cannot be fetched now) and ``invalid_key`` (malformed JWKS, ``jwks_uri``
            missing or refused).
        """
        if not _hashable(issuer, dwk, kid) or not (alg is None or isinstance(alg, str)):
            raise DiscoveryError("issuer, dwk, kid and alg must be strings", code="invalid_key")
        hit = self._hits.get((issuer, dwk, kid, alg))
        if hit is not None:
            # hot path: the same fresh key again, as long as neither document was replaced
            found, document, document_value, jwks, jwks_value = hit
            if (
                now < document.expires_at
                and now < jwks.expires_at
                and document.value is document_value
                and jwks.value is jwks_value
            ):
                self._documents.move_to_end(document.url)
                self._jwks.move_to_end(jwks.url)
                return found
        step = self.metadata(issuer, dwk, now=now)
        if not isinstance(step, MetadataFound):
            return step
        entry = self._jwks_entry(step, issuer, dwk)
        value = entry.value
        stale = False
        if value is None or now >= entry.expires_at:
            action = self._next_fetch(entry, now, "missing" if value is None else "expired")
            usable = value is not None and now < entry.discard_at
            if action is not None and not (usable and isinstance(action, FetchPending)):
                return action
            if not usable:
                raise self._recorded_error(entry)
            stale = True
        assert isinstance(value, _Jwks)
        jwk = value.by_kid.get(kid) if kid is not None else None
        if jwk is None:
            try:
                jwk = select_jwk(value.jwks, kid, alg=alg)
            except JoseError as exc:
                if exc.code == "unknown_key" and exc.retryable:
                    # AAuth -11: on an unknown kid, SHOULD refresh, MUST NOT more than 1/min
                    action = self._next_fetch(entry, now, "unknown_kid")
                    if action is not None:
                        return action
                raise DiscoveryError(
                    f"{exc.message} of {issuer} (refreshed at most once per "
                    f"{self.refetch_interval} s)",
                    code=exc.code,
                    retryable=exc.retryable,
                ) from None
        found = KeyFound(
            jwk=jwk, issuer=issuer, dwk=dwk, kid=kid, jwks_uri=entry.url, stale=stale or step.stale
        )
        if not found.stale:
            if len(self._hits) >= 4 * self.max_entries:
                self._hits.clear()  # bounded: peers choose issuers and kids
            document = self._documents[step.url]
            self._hits[(issuer, dwk, kid, alg)] = (found, document, document.value, entry, value)
        return found

    def cached_key(
        self, issuer: str, dwk: str, kid: str | None, *, now: float, alg: str | None = None
    ) -> Mapping[str, object] | None:
        """The JWK if the cache holds a usable copy (fresh, or stale within ``max_ttl``), else
        ``None``. No fetch is handed out, no state changes, nothing is raised for peer data.

        Suits :data:`aauth.signing.JwksLookup`: ``lambda m: cache.cached_key(m.id, m.dwk,
        m.kid, now=now)``; on ``None`` the verifier answers ``unknown_key`` and the driver
        asks :meth:`key` for the fetch.
        """
        if not _hashable(issuer, dwk, kid) or not (alg is None or isinstance(alg, str)):
            return None
        url = self._urls.get((issuer, dwk))
        document = self._documents.get(url) if url is not None else None
        if document is None or not isinstance(document.value, _Document):
            return None
        jwks_uri = document.value.jwks_uri
        if now >= document.discard_at or jwks_uri is None or document.value.refusal is not None:
            return None
        entry = self._jwks.get(jwks_uri)
        if entry is None or not isinstance(entry.value, _Jwks) or now >= entry.discard_at:
            return None
        if kid is not None and kid in entry.value.by_kid:
            return entry.value.by_kid[kid]
        try:
            return select_jwk(entry.value.jwks, kid, alg=alg)
        except JoseError:
            return None

    def key_rejected(
        self, issuer: str, dwk: str, kid: str | None, *, now: float
    ) -> FetchNeeded | FetchPending | None:
        """A cached key failed signature verification: the fetch that refreshes its JWKS, or
        ``None`` when a refresh is not allowed yet (then answer ``invalid_jwt``).

        AAuth -11 §"JWKS Discovery and Caching": SHOULD refresh once and retry; the outcome
        is ``unknown_key`` if the key is then gone, ``invalid_jwt`` if it still fails; the
        once-per-minute floor applies, so forged tokens cannot force fetches.
        """
        url = self._urls.get((issuer, dwk))
        document = self._documents.get(url) if url is not None else None
        if document is None or not isinstance(document.value, _Document):
            return None
        jwks_uri = document.value.jwks_uri
        entry = self._jwks.get(jwks_uri) if jwks_uri is not None else None
        if entry is None or entry.value is None:
            return None
        return self._next_fetch(entry, now, "key_rejected")

    # -- fetched responses ---------------------------------------------------------------------

    def on_fetched(
        self,
        url: str,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        now: float,
    ) -> bool:
        """Take the response to a :class:`FetchNeeded` for ``url``.

        A ``200`` with a valid document replaces the entry: its lifetime is the response's
        freshness clamped to ``[min_ttl, max_ttl]``. Anything else (another status, a body
        over ``max_body``, malformed JSON, an ``issuer`` that is missing or not byte-equal to
        the issuer asked for, a ``jwks_uri`` egress refuses) is recorded as a failure with
        its code and backoff; the previous copy, if any, stays usable until its 24 h limit.
        Errors surface from the next :meth:`key` / :meth:`metadata` call, never from here.

        :returns: whether ``url`` matched an entry (an evicted or unknown URL is ignored).
        """
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise LocalError("body must be bytes")
        if isinstance(status, bool) or not isinstance(status, int):
            raise LocalError("status must be an int")
        used = False
        for entries in (self._documents, self._jwks):
            entry = entries.get(url)
            if entry is None:
                continue
            used = True
            entry.pending_since = None
            if status != 200:
                self._fail(entry, now, "unknown_key", f"{url} answered HTTP {status}", True)
                continue
            if len(body) > self.max_body:
                self._fail(entry, now, "invalid_key", f"{url} sent more than {self.max_body} bytes")
                continue
            try:
                value = self._parse(entry, bytes(body))
            except SignatureError as exc:
                self._fail(entry, now, exc.code, exc.message)
                continue
            self._store(entry, value, headers, now)
        return used

    def on_response(self, url: str, response: HttpResponse, *, now: float) -> bool:
        """:meth:`on_fetched` for an :class:`~aauth.http.HttpResponse`."""
        return self.on_fetched(url, response.status, response.headers, response.body, now=now)

    def on_fetch_failed(self, url: str, *, now: float, reason: str = "transport failure") -> bool:
        """A fetch of ``url`` failed without a response (timeout, refused connection, egress
        refusal of the resolved address). Recorded as ``unknown_key`` with backoff."""
        used = False
        for entries in (self._documents, self._jwks):
            entry = entries.get(url)
            if entry is not None:
                used = True
                entry.pending_since = None
                self._fail(entry, now, "unknown_key", f"fetching {url} failed: {reason}", True)
        return used

    # -- internals -----------------------------------------------------------------------------

    def _metadata_url(self, issuer: str, dwk: str) -> str:
        url = self._urls.get((issuer, dwk))
        if url is not None:
            return url
        try:
            url = well_known_url(
                issuer,
                dwk,
                allow_insecure_loopback_for_development=(
                    self.egress.allow_insecure_loopback_for_development
                ),
            )
        except InvalidIdentifierError as exc:
            raise DiscoveryError(exc.message, code="invalid_key") from None
        check_egress(url, self.egress)  # digest §3.6: before any fetch
        if len(self._urls) >= 4 * self.max_entries:
            self._urls.clear()  # bounded: peers choose the issuers
        self._urls[(issuer, dwk)] = url
        return url

    def _touch(
        self,
        entries: OrderedDict[str, _Entry],
        url: str,
        purpose: FetchPurpose,
        issuer: str,
        dwk: str,
    ) -> _Entry:
        entry = entries.get(url)
        if entry is not None:
            entries.move_to_end(url)
            return entry
        entry = _Entry(url=url, purpose=purpose, issuer=issuer, dwk=dwk)
        entries[url] = entry
        if len(entries) > self.max_entries:
            entries.popitem(last=False)  # least recently used
            self._hits.clear()  # it may point at the evicted entry
        return entry

    def _document_step(self, entry: _Entry, now: float) -> _MetadataStep:
        value = entry.value
        stale = False
        if value is None or now >= entry.expires_at:
            action = self._next_fetch(entry, now, "missing" if value is None else "expired")
            usable = value is not None and now < entry.discard_at
            if action is not None and not (usable and isinstance(action, FetchPending)):
                return action
            if not usable:
                raise self._recorded_error(entry)
            stale = True
        assert isinstance(value, _Document)
        return MetadataFound(
            issuer=entry.issuer,
            dwk=entry.dwk,
            url=entry.url,
            jwks_uri=value.jwks_uri,
            metadata=value.metadata,
            stale=stale,
        )

    def _jwks_entry(self, step: MetadataFound, issuer: str, dwk: str) -> _Entry:
        document = self._documents[step.url]
        assert isinstance(document.value, _Document)
        if document.value.refusal is not None:
            code, message = document.value.refusal
            raise EgressError(message, code=code)
        if step.jwks_uri is None:
            raise DiscoveryError(f"{step.url} has no jwks_uri", code="invalid_key")
        return self._touch(self._jwks, step.jwks_uri, FetchPurpose.JWKS, issuer, dwk)

    def _next_fetch(
        self, entry: _Entry, now: float, reason: str
    ) -> FetchNeeded | FetchPending | None:
        """The action to refresh ``entry`` now, or ``None`` when rate limit or backoff forbid."""
        if entry.pending_since is not None:
            if now - entry.pending_since < self.pending_timeout:
                return FetchPending(url=entry.url, purpose=entry.purpose)
            entry.pending_since = None
            self._fail(entry, now, "unknown_key", f"fetching {entry.url} was never reported", True)
        if now < entry.not_before:
            return None
        entry.pending_since = now
        # AAuth -11: not more than once per minute, counted from when the fetch is handed out
        entry.not_before = now + self.refetch_interval
        return FetchNeeded(
            url=entry.url,
            purpose=entry.purpose,
            issuer=entry.issuer,
            dwk=entry.dwk,
            reason=reason,
            accept=_ACCEPT[entry.purpose],
            max_body=self.max_body,
        )

    @staticmethod
    def _recorded_error(entry: _Entry) -> DiscoveryError:
        """The error to raise while ``entry`` has no usable copy and may not be fetched."""
        code, message, retryable = entry.error or (
            "unknown_key",
            f"no usable copy of {entry.url} and no fetch allowed yet",
            True,
        )
        return DiscoveryError(message, code=code, retryable=retryable)

    def _fail(
        self, entry: _Entry, now: float, code: str, message: str, retryable: bool = False
    ) -> None:
        entry.failures += 1
        # AAuth -11: SHOULD retry with exponential backoff; never faster than 1/min
        backoff = min(
            self.failure_backoff_max, self.refetch_interval * 2 ** min(entry.failures - 1, 30)
        )
        entry.not_before = max(entry.not_before, now + backoff)
        entry.error = (code, message, retryable)

    def _parse(self, entry: _Entry, body: bytes) -> _Document | _Jwks:
        if entry.purpose is FetchPurpose.METADATA:
            return self._parse_document(entry, body)
        return self._parse_jwks(entry, body)

    def _parse_document(self, entry: _Entry, body: bytes) -> _Document:
        dev = self.egress.allow_insecure_loopback_for_development
        metadata: Metadata | None = None
        if entry.dwk in METADATA_TYPES:
            # AAuth -11 §"Metadata Documents": issuer_missing / issuer_mismatch / invalid
            metadata = parse_metadata(
                entry.dwk,
                body,
                expected_issuer=entry.issuer,
                allow_insecure_loopback_for_development=dev,
                max_size=self.max_body,
            )
            jwks_uri = metadata.jwks_uri
        else:
            jwks_uri = self._parse_generic_document(entry, body, dev)
        refusal: tuple[str, str] | None = None
        if jwks_uri is not None:
            try:
                _check_jwks_host(jwks_uri, check_egress(entry.url, self.egress), self.egress)
            except EgressError as exc:
                refusal = (exc.code, exc.message)
        return _Document(jwks_uri=jwks_uri, metadata=metadata, refusal=refusal)

    @staticmethod
    def _parse_generic_document(entry: _Entry, body: bytes, dev: bool) -> str | None:
        """signature-key-08 ``jwks_uri`` scheme: ``issuer`` equal to ``id``, ``jwks_uri``."""
        try:
            doc = msgspec.json.decode(body, type=_GenericDocument)
        except (msgspec.MsgspecError, RecursionError) as exc:
            raise MetadataError(f"metadata document is malformed: {exc}") from None
        if doc.issuer is None:
            raise MetadataError("metadata document has no issuer", code="issuer_missing")
        if doc.issuer != entry.issuer:
            raise MetadataError(
                f"metadata issuer {doc.issuer!r} does not equal {entry.issuer!r}",
                code="issuer_mismatch",
            )
        if doc.jwks_uri is not None:
            try:
                validate_https_url(doc.jwks_uri, allow_insecure_loopback_for_development=dev)
            except InvalidIdentifierError as exc:
                raise MetadataError(f"jwks_uri: {exc.message}") from None
        return doc.jwks_uri

    @staticmethod
    def _parse_jwks(entry: _Entry, body: bytes) -> _Jwks:
        try:
            parsed = msgspec.json.decode(body, type=_JwksBody)
        except (msgspec.MsgspecError, RecursionError) as exc:
            raise DiscoveryError(
                f"JWKS at {entry.url} is malformed: {exc}", code="invalid_key"
            ) from None
        counts: dict[str, int] = {}
        members: dict[str, Mapping[str, object]] = {}
        # read-only views: a caller mutating a KeyFound.jwk must not change the cache
        keys = tuple(
            MappingProxyType(member) if isinstance(member, dict) else member
            for member in parsed.keys
        )
        for member in keys:
            if isinstance(member, MappingProxyType):
                kid = member.get("kid")
                if isinstance(kid, str):
                    counts[kid] = counts.get(kid, 0) + 1
                    members[kid] = member
        by_kid = {kid: jwk for kid, jwk in members.items() if counts[kid] == 1}
        return _Jwks(jwks=MappingProxyType({"keys": keys}), by_kid=by_kid)

    def _store(
        self,
        entry: _Entry,
        value: _Document | _Jwks,
        headers: Iterable[tuple[str, str]],
        now: float,
    ) -> None:
        lifetime = freshness_lifetime(headers, now=now)
        ttl = self.default_ttl if lifetime is None else lifetime
        ttl = min(max(ttl, self.min_ttl), self.max_ttl)
        entry.value = value
        entry.expires_at = now + ttl
        entry.discard_at = now + self.max_ttl
        entry.failures = 0
        entry.error = None
