"""The agent's checks on tokens handed to it, before it uses them.

* Resource token from a challenge (AAuth -11 §"Resource Token", agent-side steps 3-6): ``typ``,
  ``iss`` is the resource called, ``agent_jkt`` is the thumbprint of the agent's own key, ``ps``
  is the agent's PS, ``sub`` is its person token's ``sub`` (when it holds one), ``exp`` in the
  future. A token for another agent key is refused here, never forwarded to the PS.
* Person token from the PS: ``typ``, ``iss`` is the PS asked, ``aud`` the resource, ``cnf.jwk``
  the agent's key, ``exp`` in the future.
* Auth token from the PS (§"Auth Token", agent checks): ``typ`` (a person token is never used
  where an auth token is required), ``aud`` the resource, ``cnf.jwk`` the agent's key, ``iss`` the
  resource token's ``aud``, ``sub`` the resource token's ``sub``, ``exp`` in the future.

Reading taken: the agent does not verify these JWT signatures. The resource token's signature
is verified by the PS it is sent to, and the person and auth tokens' by the resource they are
presented to; the agent would need extra metadata and JWKS fetches for each. What the agent
must get right is what only it knows: its key, its PS, the resource it called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from ..errors import JoseError
from ..jwk import jwk_thumbprint
from ..jws import parse_jwt
from ..tokens import TYP_AUTH, TYP_PERSON, TYP_RESOURCE
from .errors import TokenRejectedError
from .store import CachedToken

__all__ = [
    "ResourceTokenFacts",
    "check_auth_token",
    "check_person_token",
    "check_resource_token",
]

_CODES = {
    TYP_RESOURCE: "invalid_resource_token",
    TYP_PERSON: "invalid_person_token",
    TYP_AUTH: "invalid_auth_token",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceTokenFacts:
    """What the agent read from a resource token it accepted."""

    token: str
    audience: str
    subject: str
    expires_at: int
    scope: str | None


class _Claims:
    """A token's claims with failures named after the token type."""

    __slots__ = ("claims", "typ")

    def __init__(self, token: object, typ: str) -> None:
        self.typ = typ
        if not isinstance(token, str):
            self.fail(None, "is not a string")
        try:
            parsed = parse_jwt(token)
        except JoseError as exc:
            self.fail(None, f"is not a compact JWT ({exc.message})")
        if parsed.header.get("typ") != typ:
            # AAuth -11 §"Token Type Check": MUST check typ before acting on the token
            self.fail("header.typ", f"is {str(parsed.header.get('typ'))[:40]!r}, not {typ!r}")
        self.claims: dict[str, Any] = parsed.claims

    def fail(self, claim: str | None, message: str) -> NoReturn:
        raise TokenRejectedError(message, typ=self.typ, claim=claim, code=_CODES[self.typ])

    def string(self, name: str) -> str:
        value = self.claims.get(name)
        if not isinstance(value, str) or not value:
            self.fail(name, "is missing")
        return value

    def equal(self, name: str, expected: str) -> str:
        value = self.string(name)
        if value != expected:
            self.fail(name, f"is {value[:120]!r}, expected {expected[:120]!r}")
        return value

    def expires_at(self, now: int) -> int:
        exp = self.claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int):
            self.fail("exp", "is missing or not an integer")
        if exp <= now:
            self.fail("exp", f"{exp} is not in the future (now {now})")
        return exp

    def bound_to(self, thumbprint: str) -> None:
        cnf = self.claims.get("cnf")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        if not isinstance(jwk, dict):
            self.fail("cnf.jwk", "is missing")
        try:
            bound = jwk_thumbprint(jwk)
        except JoseError as exc:
            self.fail("cnf.jwk", f"is unusable ({exc.message})")
        if bound != thumbprint:
            self.fail("cnf.jwk", "is not the agent's signing key (RFC 7638 thumbprints differ)")


def check_resource_token(
    token: str, *, resource: str, ps: str, thumbprint: str, now: int, subject: str | None
) -> ResourceTokenFacts:
    """Check a challenge's resource token before sending it to the PS.

    :param resource: the resource identifier the agent called (``iss`` must equal it).
    :param ps: the agent's Person Server (``ps`` must equal it).
    :param thumbprint: the RFC 7638 thumbprint of the agent's signing key (``agent_jkt``).
    :param subject: the ``sub`` of the person token the agent holds for the resource, if any.
    :raises TokenRejectedError: code ``invalid_resource_token``, naming the claim.
    """
    claims = _Claims(token, TYP_RESOURCE)
    claims.equal("iss", resource)
    claims.equal("agent_jkt", thumbprint)
    claims.equal("ps", ps)
    sub = claims.string("sub") if subject is None else claims.equal("sub", subject)
    audience = claims.string("aud")
    expires_at = claims.expires_at(now)
    scope = claims.claims.get("scope")
    return ResourceTokenFacts(
        token=token,
        audience=audience,
        subject=sub,
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) else None,
    )


def check_person_token(
    token: object, *, resource: str, ps: str, thumbprint: str, now: int
) -> CachedToken:
    """Check a person token the PS issued for ``resource``.

    :raises TokenRejectedError: code ``invalid_person_token``, naming the claim.
    """
    claims = _Claims(token, TYP_PERSON)
    claims.equal("iss", ps)
    claims.equal("aud", resource)
    claims.bound_to(thumbprint)
    subject = claims.string("sub")
    expires_at = claims.expires_at(now)
    assert isinstance(token, str)
    return CachedToken(token=token, expires_at=expires_at, thumbprint=thumbprint, subject=subject)


def check_auth_token(
    token: object,
    *,
    resource: str,
    thumbprint: str,
    now: int,
    resource_token: ResourceTokenFacts,
) -> CachedToken:
    """Check an auth token the PS returned for ``resource_token``.

    :raises TokenRejectedError: code ``invalid_auth_token``, naming the claim.
    """
    claims = _Claims(token, TYP_AUTH)
    claims.equal("aud", resource)
    claims.bound_to(thumbprint)
    claims.equal("iss", resource_token.audience)
    subject = claims.equal("sub", resource_token.subject)
    expires_at = claims.expires_at(now)
    assert isinstance(token, str)
    return CachedToken(token=token, expires_at=expires_at, thumbprint=thumbprint, subject=subject)
