"""The four AAuth token types as typed values (AAuth -11 §"Tokens"; digest §4).

Each model is a frozen :class:`msgspec.Struct` holding the claims the spec defines for its
type, plus the JOSE header ``kid`` and ``extra``: every other claim, as received (AP-defined
attestation claims in agent tokens, OIDC claims such as ``email`` in auth tokens). Unknown
claims are kept, never interpreted (AAuth -11: "PS and AS ignore unknown claims").

A model says nothing about trust by itself: the validators in :mod:`aauth.tokens.validate`
return one only after every check passed, and :func:`aauth.tokens.build.sign_token` checks one
before signing it. :meth:`claims` gives the JSON claims in a fixed order, so a token built from
the same values is the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar, Final, TypeAlias

import msgspec

from ..jwk import SUPPORTED_ALGS
from ..keys import PublicKey, public_key_from_jwk
from ..metadata import DWK_ACCESS, DWK_AGENT, DWK_PERSON, DWK_RESOURCE

__all__ = [
    "AGENT_TOKEN_MAX_LIFETIME",
    "AUTH_TOKEN_DWKS",
    "AUTH_TOKEN_MAX_LIFETIME",
    "PERSON_TOKEN_MAX_LIFETIME",
    "RESOURCE_TOKEN_MAX_LIFETIME",
    "TOKEN_TYPES",
    "TYP_AGENT",
    "TYP_AUTH",
    "TYP_PERSON",
    "TYP_RESOURCE",
    "AgentToken",
    "AuthToken",
    "PersonToken",
    "ResourceInteraction",
    "ResourceToken",
    "Token",
]

#: JWT ``typ`` values (AAuth -11 §"Media Types": the short form of ``application/aa-*+jwt``).
TYP_AGENT: Final = "aa-agent+jwt"
TYP_PERSON: Final = "aa-person+jwt"
TYP_RESOURCE: Final = "aa-resource+jwt"
TYP_AUTH: Final = "aa-auth+jwt"

#: Lifetime ceilings in seconds (AAuth -11 §"Token Lifetimes"; digest §4.1). Person and auth
#: tokens MUST NOT exceed 1 h; resource tokens SHOULD NOT exceed 5 min (we enforce it); agent
#: tokens SHOULD NOT exceed 24 h, the Bootstrap draft's ceiling (digest §1.7).
AGENT_TOKEN_MAX_LIFETIME: Final = 24 * 3600
PERSON_TOKEN_MAX_LIFETIME: Final = 3600
RESOURCE_TOKEN_MAX_LIFETIME: Final = 300
AUTH_TOKEN_MAX_LIFETIME: Final = 3600

#: ``dwk`` values an auth token may carry: an AS issued it, or a PS did (AAuth -11 §"Auth Token").
AUTH_TOKEN_DWKS: Final = frozenset({DWK_ACCESS, DWK_PERSON})


@lru_cache(maxsize=512)
def _cached_key(items: tuple[tuple[str, Any], ...]) -> PublicKey:
    return public_key_from_jwk(dict(items), allowed_algs=SUPPORTED_ALGS, allow_eddsa=True)


def cached_public_key(jwk: Mapping[str, Any]) -> PublicKey:
    """The verifying key of a JWK (memoised: the same few keys arrive on every request).

    ``EdDSA`` is admitted here only because a validator with ``allow_eddsa`` may have let it
    through; the validators check ``alg`` against the accepted set first, this only builds
    the key (and still refuses what :func:`~aauth.keys.public_key_from_jwk` refuses).
    """
    items = tuple(jwk.items())
    try:
        hash(items)
    except TypeError:  # a member holds a list or an object (key_ops ...): build uncached
        return public_key_from_jwk(jwk, allowed_algs=SUPPORTED_ALGS, allow_eddsa=True)
    return _cached_key(items)


class _Bound(msgspec.Struct, frozen=True, kw_only=True):
    """Claims shared by the three key-bound tokens (``cnf``, RFC 7800)."""

    cnf_jwk: dict[str, Any]
    """``cnf.jwk``: the public key the HTTP request must be signed with (with ``alg``)."""

    @property
    def cnf_key(self) -> PublicKey:
        """``cnf.jwk`` as a verifying key."""
        return cached_public_key(self.cnf_jwk)

    @property
    def cnf_thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of ``cnf.jwk`` (digest §3.5)."""
        return self.cnf_key.thumbprint


class AgentToken(_Bound, frozen=True, kw_only=True):
    """``aa-agent+jwt``, issued by an Agent Provider (AAuth -11 §"Agent Token"; digest §4.2)."""

    TYP: ClassVar[str] = TYP_AGENT

    iss: str
    """The AP's server identifier."""
    sub: str
    """The agent identifier ``aauth:local@domain``."""
    jti: str
    iat: int
    exp: int
    kid: str
    """JOSE header ``kid``: the AP's key in its JWKS."""
    dwk: str = DWK_AGENT
    ps: str | None = None
    """The agent's Person Server, if any (needed for three- and four-party flows)."""
    parent_agent: str | None = None
    """For a sub-agent: the parent's agent identifier (authoritative; digest §1.8)."""
    extra: dict[str, Any] = {}
    """Claims this model does not define, as received."""

    @property
    def is_subagent(self) -> bool:
        """Whether the token has ``parent_agent`` (a PS MUST reject token requests it signs)."""
        return self.parent_agent is not None

    def claims(self) -> dict[str, Any]:
        """The JWT claims, in the order of digest §9.2."""
        claims: dict[str, Any] = {
            "iss": self.iss,
            "dwk": self.dwk,
            "sub": self.sub,
            "jti": self.jti,
            "cnf": {"jwk": self.cnf_jwk},
            "iat": self.iat,
            "exp": self.exp,
        }
        if self.ps is not None:
            claims["ps"] = self.ps
        if self.parent_agent is not None:
            claims["parent_agent"] = self.parent_agent
        return {**claims, **self.extra}


class PersonToken(_Bound, frozen=True, kw_only=True):
    """``aa-person+jwt``, issued by a Person Server (AAuth -11 §"Person Token"; digest §4.3).

    It never carries ``scope`` or ``account``. Identity is ``(iss, sub)``; ``sub`` is directed
    (pairwise) and opaque.
    """

    TYP: ClassVar[str] = TYP_PERSON

    iss: str
    aud: str
    """The one resource the token was requested for."""
    sub: str
    jti: str
    iat: int
    exp: int
    kid: str
    dwk: str = DWK_PERSON
    mission_s256: str | None = None
    tenant: str | None = None
    extra: dict[str, Any] = {}

    def claims(self) -> dict[str, Any]:
        """The JWT claims, in the order of the AAuth -11 example."""
        claims: dict[str, Any] = {
            "iss": self.iss,
            "dwk": self.dwk,
            "aud": self.aud,
            "sub": self.sub,
            "cnf": {"jwk": self.cnf_jwk},
        }
        if self.mission_s256 is not None:
            claims["mission_s256"] = self.mission_s256
        if self.tenant is not None:
            claims["tenant"] = self.tenant
        claims.update(jti=self.jti, iat=self.iat, exp=self.exp)
        return {**claims, **self.extra}


class ResourceInteraction(msgspec.Struct, frozen=True, kw_only=True):
    """A resource token's ``interaction``: a resource step before the PS can issue."""

    url: str
    code: str


class ResourceToken(msgspec.Struct, frozen=True, kw_only=True):
    """``aa-resource+jwt``, issued by a resource (AAuth -11 §"Resource Token"; digest §4.4).

    Not key-bound by ``cnf``: ``agent_jkt`` names the agent's key by thumbprint.
    ``presented_jti`` is read from ``person_token_jti`` when only that alias is present; it
    is emitted as ``presented_jti``, plus the legacy ``person_token_jti`` with the same value
    only when a caller asks for it (:meth:`claims`, ``legacy_person_token_jti``).
    """

    TYP: ClassVar[str] = TYP_RESOURCE

    iss: str
    aud: str
    """The PS (three-party) or AS (four-party) the token is for."""
    jti: str
    ps: str
    """The ``iss`` of the person token the resource verified."""
    sub: str
    presented_jti: str
    agent_jkt: str
    iat: int
    exp: int
    kid: str
    scope: str | None = None
    """Space-separated scopes (REQUIRED unless a companion spec replaces it)."""
    dwk: str = DWK_RESOURCE
    account: str | None = None
    mission_s256: str | None = None
    tenant: str | None = None
    interaction: ResourceInteraction | None = None
    extra: dict[str, Any] = {}

    @property
    def scopes(self) -> frozenset[str]:
        """``scope`` split on spaces."""
        return frozenset(self.scope.split(" ")) if self.scope else frozenset()

    def claims(self, *, legacy_person_token_jti: bool = False) -> dict[str, Any]:
        """The JWT claims: ``presented_jti`` (AAuth -11), and with ``legacy_person_token_jti``
        also its pre--11 name ``person_token_jti`` with the same value, right after it, for
        deployed servers that read only the old name (e.g. @hellocoop/mockin 2.0.0)."""
        claims: dict[str, Any] = {
            "iss": self.iss,
            "dwk": self.dwk,
            "aud": self.aud,
            "jti": self.jti,
            "ps": self.ps,
            "sub": self.sub,
            "presented_jti": self.presented_jti,
        }
        if legacy_person_token_jti:
            claims["person_token_jti"] = self.presented_jti
        claims.update(agent_jkt=self.agent_jkt, iat=self.iat, exp=self.exp)
        for name in ("scope", "account", "mission_s256", "tenant"):
            value = getattr(self, name)
            if value is not None:
                claims[name] = value
        if self.interaction is not None:
            claims["interaction"] = {"url": self.interaction.url, "code": self.interaction.code}
        return {**claims, **self.extra}


class AuthToken(_Bound, frozen=True, kw_only=True):
    """``aa-auth+jwt``, issued by an AS or a PS (AAuth -11 §"Auth Token"; digest §4.5).

    ``dwk`` says which: ``aauth-access.json`` (AS) or ``aauth-person.json`` (PS, then
    ``ps == iss``). OIDC claims (``email``, ``name`` ...) are in ``extra``.
    """

    TYP: ClassVar[str] = TYP_AUTH

    iss: str
    dwk: str
    aud: str
    """The resource the token is for."""
    jti: str
    ps: str
    sub: str
    iat: int
    exp: int
    kid: str
    scope: str | None = None
    account: str | None = None
    mission_s256: str | None = None
    tenant: str | None = None
    extra: dict[str, Any] = {}

    @property
    def scopes(self) -> frozenset[str]:
        """``scope`` split on spaces (empty when absent)."""
        return frozenset(self.scope.split(" ")) if self.scope else frozenset()

    def claims(self) -> dict[str, Any]:
        """The JWT claims."""
        claims: dict[str, Any] = {
            "iss": self.iss,
            "dwk": self.dwk,
            "aud": self.aud,
            "jti": self.jti,
            "ps": self.ps,
            "sub": self.sub,
            "cnf": {"jwk": self.cnf_jwk},
            "iat": self.iat,
            "exp": self.exp,
        }
        for name in ("scope", "account", "mission_s256", "tenant"):
            value = getattr(self, name)
            if value is not None:
                claims[name] = value
        return {**claims, **self.extra}


#: Any of the four token models.
Token: TypeAlias = AgentToken | PersonToken | ResourceToken | AuthToken

#: ``typ`` -> model.
TOKEN_TYPES: Final[Mapping[str, type[Token]]] = {
    TYP_AGENT: AgentToken,
    TYP_PERSON: PersonToken,
    TYP_RESOURCE: ResourceToken,
    TYP_AUTH: AuthToken,
}
