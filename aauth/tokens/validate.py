"""Validating AAuth tokens with the issuer's key already in hand (AAuth -11 §"Tokens";
digest §4, §8).

Each ``validate_*_token`` takes the compact JWT (or a :class:`~aauth.jws.ParsedJwt` from
:func:`token_discovery`), the issuer's key material (a :class:`~aauth.keys.PublicKey`, a
public JWK or a JWKS that the header ``kid`` selects from), and ``now``. Key discovery
(``{iss}/.well-known/{dwk}`` -> ``jwks_uri`` -> key by ``kid``) is done beforehand, as data,
by the discovery module; :func:`token_discovery` gives it the three inputs after the checks
that must come before any fetch.

Order of checks, each failure a :class:`~aauth.tokens.errors.TokenError` naming its claim:

1. structure (three base64url segments, JSON objects, size bound);
2. header ``typ`` FIRST (AAuth -11 §"Token Type Check"), then ``alg`` fully specified
   (``Ed25519``/``ES256``; never ``none``, ``EdDSA``, HMAC) and ``kid`` present;
3. ``dwk`` right for the type; ``iss`` a server identifier (and the expected issuer);
4. ``exp``/``iat`` (REQUIRED) with ``leeway``, ``nbf``, the lifetime cap, ``not_after``;
5. the signature, with the key the header ``kid`` names;
6. the claims of the type (audience, ``cnf.jwk``, ``sub``, ``scope`` ...).

Key binding (``cnf.jwk`` or ``agent_jkt`` against the key that signed the HTTP request) is
:func:`check_key_binding`; :func:`verify_token` does validation and binding in one call.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final, Literal, TypedDict, Unpack, overload

import msgspec

from ..errors import JoseError, LocalError
from ..jwk import SUPPORTED_ALGS, jwk_thumbprint, select_jwk
from ..jws import DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LENGTH, ParsedJwt, parse_jwt, verify_jwt
from ..keys import PublicKey
from . import _claims
from ._claims import Checker
from .errors import ErrorCodes
from .models import (
    AGENT_TOKEN_MAX_LIFETIME,
    AUTH_TOKEN_MAX_LIFETIME,
    PERSON_TOKEN_MAX_LIFETIME,
    RESOURCE_TOKEN_MAX_LIFETIME,
    TOKEN_TYPES,
    TYP_AGENT,
    TYP_AUTH,
    TYP_PERSON,
    TYP_RESOURCE,
    AgentToken,
    AuthToken,
    PersonToken,
    ResourceToken,
    Token,
)

__all__ = [
    "DEFAULT_ERROR_CODES",
    "Keys",
    "TokenDiscovery",
    "check_key_binding",
    "token_discovery",
    "validate_agent_token",
    "validate_auth_token",
    "validate_person_token",
    "validate_resource_token",
    "validate_token",
    "verify_token",
]

#: The issuer's key material: a verifying key, a public JWK, or a JWKS ``{"keys": [...]}``.
Keys = PublicKey | Mapping[str, object]

#: Default error vocabulary per type: where the token normally arrives. Agent, person and
#: auth tokens sign requests (``Signature-Key``, so ``Signature-Error`` codes); resource
#: tokens travel in token-endpoint bodies (endpoint codes). Pass ``error_codes`` to override,
#: e.g. ``"endpoint"`` for an agent token checked at a PS token endpoint.
DEFAULT_ERROR_CODES: Final[Mapping[str, ErrorCodes]] = {
    TYP_AGENT: "signature",
    TYP_PERSON: "signature",
    TYP_RESOURCE: "endpoint",
    TYP_AUTH: "signature",
}

# Signatures already verified: (signing input, signature, key). A pure function's memo, so
# the token an agent presents on every request costs one Ed25519 verification, not one per
# request. Only valid signatures by keys the caller trusts get in; bounded, cleared when full.
_VERIFIED_SIGNATURES: Final[dict[tuple[bytes, bytes, PublicKey], None]] = {}
_VERIFIED_SIGNATURES_MAX: Final = 1024

#: Lifetime ceilings the spec makes a MUST: a verifier may lower them, never raise them.
_HARD_CAPS: Final[Mapping[str, int]] = {
    TYP_PERSON: PERSON_TOKEN_MAX_LIFETIME,
    TYP_AUTH: AUTH_TOKEN_MAX_LIFETIME,
}


class TokenDiscovery(msgspec.Struct, frozen=True, kw_only=True):
    """What key discovery needs from a token whose ``typ``, ``alg``, ``kid``, ``dwk`` and
    ``iss`` passed their checks (nothing else is trusted yet).

    Fetch ``{iss}/.well-known/{dwk}``, check its ``issuer``, fetch ``jwks_uri``, select
    ``kid``; then pass ``parsed`` and the keys to the type's validator.
    """

    typ: str
    iss: str
    dwk: str
    kid: str
    parsed: ParsedJwt


def _check_args(now: int, leeway: int) -> None:
    if isinstance(now, bool) or not isinstance(now, int):
        raise LocalError("now must be an int (Unix seconds)")
    if isinstance(leeway, bool) or not isinstance(leeway, int) or leeway < 0:
        raise LocalError("leeway must be a non-negative int")


def _lifetime(typ: str, max_lifetime: int) -> int:
    if isinstance(max_lifetime, bool) or not isinstance(max_lifetime, int) or max_lifetime <= 0:
        raise LocalError("max_lifetime must be a positive int (seconds)")
    cap = _HARD_CAPS.get(typ)
    if cap is not None and max_lifetime > cap:
        raise LocalError(f"{typ} lifetime MUST NOT exceed {cap} s; max_lifetime {max_lifetime}")
    return max_lifetime


def _parse(token: str | ParsedJwt, chk: Checker, max_length: int) -> ParsedJwt:
    if isinstance(token, ParsedJwt):
        return token
    try:
        return parse_jwt(token, max_length=max_length)
    except JoseError as exc:
        chk.fail(None, exc.message)


def _discover(
    token: str | ParsedJwt,
    chk: Checker,
    *,
    issuer: str | None,
    allowed_algs: tuple[str, ...],
    allow_eddsa: bool,
    max_length: int,
) -> TokenDiscovery:
    parsed = _parse(token, chk, max_length)
    kid = _claims.check_header(
        parsed.header, chk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa
    )
    dwk = _claims.check_dwk(parsed.claims, chk)
    iss = _claims.check_iss(parsed.claims, chk, issuer)
    return TokenDiscovery(typ=chk.typ, iss=iss, dwk=dwk, kid=kid, parsed=parsed)


def token_discovery(
    token: str | ParsedJwt,
    *,
    typ: str,
    issuer: str | None = None,
    error_codes: ErrorCodes | None = None,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
    allow_insecure_loopback_for_development: bool = False,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
) -> TokenDiscovery:
    """Check what must hold before a token is acted on (fetching its issuer's keys counts):
    structure, ``typ`` (first), ``alg``, ``kid``, ``dwk``, ``iss``. Verifies nothing else.

    :raises TokenError: as the validators.
    """
    if typ not in TOKEN_TYPES:
        raise LocalError(f"typ {typ!r} is not an AAuth token type")
    chk = Checker(
        typ, error_codes or DEFAULT_ERROR_CODES[typ], allow_insecure_loopback_for_development
    )
    return _discover(
        token,
        chk,
        issuer=issuer,
        allowed_algs=tuple(allowed_algs),
        allow_eddsa=allow_eddsa,
        max_length=max_length,
    )


def _issuer_key(
    keys: Keys,
    kid: str,
    alg: str,
    chk: Checker,
    *,
    allowed_algs: tuple[str, ...],
    allow_eddsa: bool,
) -> PublicKey:
    """The issuer's key named by ``kid`` (signature-key-08 §"Algorithm determination": select
    by ``kid``; the JWK's own ``alg`` is REQUIRED, fully specified and accepted)."""
    if isinstance(keys, PublicKey):
        return keys
    if not isinstance(keys, Mapping):
        raise LocalError("keys must be a PublicKey, a JWK or a JWKS mapping")
    try:
        if "keys" in keys:  # a JWKS (RFC 7517 §5)
            jwk = select_jwk(keys, kid, alg=alg)
        else:
            jwk = keys
            if jwk.get("kid", kid) != kid:
                raise JoseError(f"no key {kid!r}: the given JWK is another", code="unknown_key")
    except JoseError as exc:
        chk.fail_jose("header.kid" if exc.code == "unknown_key" else None, exc)
    return _claims.usable_key(jwk, chk, None, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)


def _verified(
    token: str | ParsedJwt,
    keys: Keys,
    chk: Checker,
    *,
    now: int,
    leeway: int,
    issuer: str | None,
    max_lifetime: int,
    not_after: int | None,
    allowed_algs: tuple[str, ...],
    allow_eddsa: bool,
    max_length: int,
) -> tuple[dict[str, Any], _claims.Envelope]:
    """Steps 1-5: structure, header, ``dwk``, ``iss``, times, signature; the claims, and
    what these checks established."""
    _check_args(now, leeway)
    found = _discover(
        token,
        chk,
        issuer=issuer,
        allowed_algs=allowed_algs,
        allow_eddsa=allow_eddsa,
        max_length=max_length,
    )
    iat, exp = _claims.check_times(
        found.parsed.claims,
        chk,
        now=now,
        leeway=leeway,
        max_lifetime=_lifetime(chk.typ, max_lifetime),
        not_after=not_after,
    )
    header = found.parsed.header
    key = _issuer_key(
        keys, found.kid, header["alg"], chk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa
    )
    memo = (found.parsed.signing_input, found.parsed.signature, key)
    if memo not in _VERIFIED_SIGNATURES:
        try:
            # crit, alg/key agreement, signature; typ, alg and times were checked above
            verify_jwt(
                found.parsed,
                key,
                now=now,
                typ=None,
                leeway=leeway,
                allow_eddsa=allow_eddsa,
                allowed_algs=allowed_algs,
            )
        except JoseError as exc:
            chk.fail_jose(None, exc)
        if len(_VERIFIED_SIGNATURES) >= _VERIFIED_SIGNATURES_MAX:
            _VERIFIED_SIGNATURES.clear()
        _VERIFIED_SIGNATURES[memo] = None
    return found.parsed.claims, _claims.Envelope(found.kid, found.iss, found.dwk, iat, exp)


def _expect(chk: Checker, claim: str, actual: str | None, expected: str | None) -> None:
    if expected is not None and actual != expected:
        chk.fail(claim, f"is {actual!r}, expected {expected!r}")


def validate_agent_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    leeway: int = DEFAULT_LEEWAY,
    issuer: str | None = None,
    error_codes: ErrorCodes = "signature",
    max_lifetime: int = AGENT_TOKEN_MAX_LIFETIME,
    not_after: int | None = None,
    require_sub_domain_match: bool = True,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
    allow_insecure_loopback_for_development: bool = False,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
) -> AgentToken:
    """Validate an ``aa-agent+jwt`` (AAuth -11 §"Agent Token Verification"; digest §4.2).

    Beyond the common checks (module docstring): ``dwk`` is ``aauth-agent.json``; ``sub`` an
    agent identifier; ``jti`` present; ``cnf.jwk`` present with a fully-specified ``alg``;
    ``ps`` (if present) a server identifier; ``parent_agent`` (if present) an agent
    identifier other than ``sub``. With ``require_sub_domain_match`` (default, digest
    [AMBIG-10]) the domain of ``sub`` (and of ``parent_agent``) must be the host of ``iss``.
    ``max_lifetime`` defaults to the 24 h ceiling. Key binding is :func:`check_key_binding`.

    :raises TokenError: ``invalid_jwt``/``expired_jwt`` (or, with
        ``error_codes="endpoint"``, ``invalid_agent_token``/``expired_agent_token``).
    """
    chk = Checker(TYP_AGENT, error_codes, allow_insecure_loopback_for_development)
    algs = tuple(allowed_algs)
    claims, env = _verified(
        token,
        keys,
        chk,
        now=now,
        leeway=leeway,
        issuer=issuer,
        max_lifetime=max_lifetime,
        not_after=not_after,
        allowed_algs=algs,
        allow_eddsa=allow_eddsa,
        max_length=max_length,
    )
    return _claims.agent_token(
        claims,
        chk,
        env,
        allowed_algs=algs,
        allow_eddsa=allow_eddsa,
        require_sub_domain_match=require_sub_domain_match,
    )


def validate_person_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    audience: str,
    leeway: int = DEFAULT_LEEWAY,
    issuer: str | None = None,
    error_codes: ErrorCodes = "signature",
    max_lifetime: int = PERSON_TOKEN_MAX_LIFETIME,
    not_after: int | None = None,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
    allow_insecure_loopback_for_development: bool = False,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
) -> PersonToken:
    """Validate an ``aa-person+jwt`` at the resource ``audience`` (AAuth -11 §"Person Token
    Verification"; digest §4.3).

    ``dwk`` is ``aauth-person.json``; ``aud`` equals ``audience``; ``sub`` and ``jti`` present;
    ``cnf.jwk`` present with ``alg``; ``mission_s256`` well-formed; lifetime <= 1 h (and
    ``not_after``); ``scope`` or ``account`` present -> rejected.

    :raises TokenError: ``invalid_jwt``/``expired_jwt`` (``invalid_person_token`` with
        ``error_codes="endpoint"``).
    """
    if not isinstance(audience, str):
        raise LocalError("audience must be this resource's identifier (a string)")
    chk = Checker(TYP_PERSON, error_codes, allow_insecure_loopback_for_development)
    algs = tuple(allowed_algs)
    claims, env = _verified(
        token,
        keys,
        chk,
        now=now,
        leeway=leeway,
        issuer=issuer,
        max_lifetime=max_lifetime,
        not_after=not_after,
        allowed_algs=algs,
        allow_eddsa=allow_eddsa,
        max_length=max_length,
    )
    return _claims.person_token(
        claims,
        chk,
        env,
        audience=audience,
        allowed_algs=algs,
        allow_eddsa=allow_eddsa,
    )


def validate_resource_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    audience: str,
    leeway: int = DEFAULT_LEEWAY,
    issuer: str | None = None,
    ps: str | None = None,
    subject: str | None = None,
    require_scope: bool = True,
    error_codes: ErrorCodes = "endpoint",
    max_lifetime: int = RESOURCE_TOKEN_MAX_LIFETIME,
    not_after: int | None = None,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
    allow_insecure_loopback_for_development: bool = False,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
) -> ResourceToken:
    """Validate an ``aa-resource+jwt`` (AAuth -11 §"Resource Token Verification"; digest §4.4).

    ``audience`` is the PS or AS checking it. The agent checking a challenge's token passes
    its PS as ``audience`` and ``ps``, the resource it called as ``issuer`` and its person
    token's ``sub`` as ``subject``; an AS passes the calling PS as ``ps``.

    ``dwk`` is ``aauth-resource.json``; ``aud``, ``jti``, ``ps`` (server identifier), ``sub``,
    ``presented_jti`` (or the legacy alias ``person_token_jti``; both present must agree),
    ``agent_jkt`` (an RFC 7638 thumbprint) present; ``scope`` present (unless
    ``require_scope=False``, for a companion spec) and well-formed; ``mission_s256``
    well-formed; ``interaction`` an object with an endpoint ``url`` and a ``code``; lifetime
    <= 5 min by default. ``agent_jkt`` against the request signer is
    :func:`check_key_binding`; the PS's ``presented_jti`` record check is
    :func:`aauth.tokens.records.check_presented_jti`.

    :raises TokenError: ``invalid_resource_token``/``expired_resource_token`` (or
        ``invalid_jwt``/``expired_jwt`` with ``error_codes="signature"``).
    """
    if not isinstance(audience, str):
        raise LocalError("audience must be the verifier's identifier (a string)")
    chk = Checker(TYP_RESOURCE, error_codes, allow_insecure_loopback_for_development)
    claims, env = _verified(
        token,
        keys,
        chk,
        now=now,
        leeway=leeway,
        issuer=issuer,
        max_lifetime=max_lifetime,
        not_after=not_after,
        allowed_algs=tuple(allowed_algs),
        allow_eddsa=allow_eddsa,
        max_length=max_length,
    )
    model = _claims.resource_token(
        claims,
        chk,
        env,
        audience=audience,
        require_scope=require_scope,
    )
    _expect(chk, "ps", model.ps, ps)
    _expect(chk, "sub", model.sub, subject)
    return model


def validate_auth_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    audience: str,
    leeway: int = DEFAULT_LEEWAY,
    issuer: str | None = None,
    ps: str | None = None,
    subject: str | None = None,
    within_scope: str | Collection[str] | None = None,
    error_codes: ErrorCodes = "signature",
    max_lifetime: int = AUTH_TOKEN_MAX_LIFETIME,
    not_after: int | None = None,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
    allow_insecure_loopback_for_development: bool = False,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
) -> AuthToken:
    """Validate an ``aa-auth+jwt`` for the resource ``audience`` (AAuth -11 §"Auth Token
    Verification"; digest §4.5).

    ``dwk`` is ``aauth-access.json`` or ``aauth-person.json`` (then ``ps`` must equal
    ``iss``); ``aud`` equals ``audience``; ``jti``, ``ps`` (server identifier), ``sub``
    present; ``cnf.jwk`` present with ``alg`` and structurally complete; ``scope`` (if any;
    ``""`` reads as absent, as deployed PSes send it for identity-only grants)
    well-formed and, with ``within_scope`` (the resource token's scope, for a PS checking
    an AS-issued token), no broader than it; lifetime <= 1 h (and ``not_after``).
    A person token here fails the ``typ`` check (AAuth -11: MUST reject ``aa-person+jwt``
    where an auth token is required).

    :raises TokenError: ``invalid_jwt``/``expired_jwt`` (``invalid_request`` with
        ``error_codes="endpoint"``).
    """
    if not isinstance(audience, str):
        raise LocalError("audience must be this resource's identifier (a string)")
    chk = Checker(TYP_AUTH, error_codes, allow_insecure_loopback_for_development)
    algs = tuple(allowed_algs)
    claims, env = _verified(
        token,
        keys,
        chk,
        now=now,
        leeway=leeway,
        issuer=issuer,
        max_lifetime=max_lifetime,
        not_after=not_after,
        allowed_algs=algs,
        allow_eddsa=allow_eddsa,
        max_length=max_length,
    )
    model = _claims.auth_token(
        claims,
        chk,
        env,
        audience=audience,
        allowed_algs=algs,
        allow_eddsa=allow_eddsa,
        empty_scope_is_absent=True,
    )
    _expect(chk, "ps", model.ps, ps)
    _expect(chk, "sub", model.sub, subject)
    if within_scope is not None:
        allowed = (
            frozenset(within_scope.split(" "))
            if isinstance(within_scope, str)
            else frozenset(within_scope)
        )
        broader = model.scopes - allowed
        if broader:
            # AAuth -11 §"Auth Token": scope MUST NOT be broader than the resource token's
            chk.fail("scope", f"grants {' '.join(sorted(broader))[:120]} beyond the allowed scope")
    return model


# --------------------------------------------------------------------------- generic


class _GenericOptions(TypedDict, total=False):
    """The optional keywords of :func:`validate_token` and :func:`verify_token`, for their
    typing overloads (the implementations spell them out with their defaults)."""

    audience: str | None
    leeway: int
    issuer: str | None
    error_codes: ErrorCodes | None
    not_after: int | None
    allowed_algs: Collection[str]
    allow_eddsa: bool
    allow_insecure_loopback_for_development: bool
    max_length: int


@overload
def validate_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    typ: Literal["aa-agent+jwt"],
    **options: Unpack[_GenericOptions],
) -> AgentToken: ...
@overload
def validate_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    typ: Literal["aa-person+jwt"],
    **options: Unpack[_GenericOptions],
) -> PersonToken: ...
@overload
def validate_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    typ: Literal["aa-resource+jwt"],
    **options: Unpack[_GenericOptions],
) -> ResourceToken: ...
@overload
def validate_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    typ: Literal["aa-auth+jwt"],
    **options: Unpack[_GenericOptions],
) -> AuthToken: ...
@overload
def validate_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    typ: str,
    **options: Unpack[_GenericOptions],
) -> Token: ...
def validate_token(
    token: str | ParsedJwt,
    keys: Keys,
    *,
    now: int,
    typ: str,
    audience: str | None = None,
    leeway: int = DEFAULT_LEEWAY,
    issuer: str | None = None,
    error_codes: ErrorCodes | None = None,
    not_after: int | None = None,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
    allow_insecure_loopback_for_development: bool = False,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
) -> Token:
    """Validate a token of type ``typ`` with the type's validator and its defaults.

    ``audience`` is REQUIRED for person, resource and auth tokens (a :class:`LocalError`
    otherwise, so a verifier cannot forget the audience check) and ignored for agent tokens,
    which have no ``aud``. ``error_codes`` defaults to :data:`DEFAULT_ERROR_CODES`. For the
    type-specific options call the type's validator directly.
    """
    codes: ErrorCodes = error_codes or DEFAULT_ERROR_CODES.get(typ, "signature")
    common: dict[str, Any] = {
        "now": now,
        "leeway": leeway,
        "issuer": issuer,
        "error_codes": codes,
        "not_after": not_after,
        "allowed_algs": allowed_algs,
        "allow_eddsa": allow_eddsa,
        "allow_insecure_loopback_for_development": allow_insecure_loopback_for_development,
        "max_length": max_length,
    }
    if typ == TYP_AGENT:
        return validate_agent_token(token, keys, **common)
    if typ not in TOKEN_TYPES:
        raise LocalError(f"typ {typ!r} is not an AAuth token type")
    if audience is None:
        raise LocalError(f"{typ} requires an audience (the verifier's own identifier)")
    if typ == TYP_PERSON:
        return validate_person_token(token, keys, audience=audience, **common)
    if typ == TYP_RESOURCE:
        return validate_resource_token(token, keys, audience=audience, **common)
    return validate_auth_token(token, keys, audience=audience, **common)


def check_key_binding(
    token: Token | Mapping[str, Any],
    thumbprint: str,
    *,
    error_codes: ErrorCodes | None = None,
) -> None:
    """Check that ``token`` is bound to the key whose RFC 7638 thumbprint is ``thumbprint``.

    The Python form of the TypeScript ``verifyToken({jwt, httpSignatureThumbprint})``.
    ``thumbprint`` is the SHA-256 thumbprint of the key that signed the HTTP request
    (:attr:`aauth.signing.VerifiedRequest.thumbprint`), or of ``subagent_token.cnf.jwk``.
    The token's key is ``cnf.jwk`` (agent, person, auth tokens; AAuth -11 §"Proof of
    Possession") or ``agent_jkt`` (resource tokens; §"Resource Token Verification" step 5).
    Keys are compared by thumbprint, never as raw JSON (digest §3.5: member order and extra
    members such as ``alg`` would break a JSON comparison).

    ``token`` is a validated model, or a claims mapping (then ``cnf.jwk`` if present, else
    ``agent_jkt``).

    :raises TokenError: the key differs (or the claims carry no usable key), with the
        token type's ``invalid`` code.
    """
    if not isinstance(thumbprint, str):
        raise LocalError("thumbprint must be the RFC 7638 thumbprint string of the signing key")
    if isinstance(token, ResourceToken):
        typ, claim, bound = TYP_RESOURCE, "agent_jkt", token.agent_jkt
    elif isinstance(token, (AgentToken, PersonToken, AuthToken)):
        typ, claim, bound = token.TYP, "cnf.jwk", token.cnf_thumbprint
    elif isinstance(token, Mapping):
        typ, claim = "", "cnf.jwk"
        chk = Checker(typ, error_codes or "signature", False)
        cnf = token.get("cnf")
        if cnf is None and "agent_jkt" in token:
            claim = "agent_jkt"
            bound = _claims.thumbprint_claim(token, "agent_jkt", chk)
        else:
            jwk = cnf.get("jwk") if isinstance(cnf, Mapping) else None
            if not isinstance(jwk, Mapping):
                chk.fail("cnf.jwk", "is missing: the token is not bound to a key")
            try:
                bound = jwk_thumbprint(jwk)
            except JoseError as exc:
                chk.fail("cnf.jwk", exc.message, signature_code=exc.code)
    else:
        raise LocalError("token must be a token model or a claims mapping")
    if bound != thumbprint:
        Checker(typ, error_codes or DEFAULT_ERROR_CODES.get(typ, "signature"), False).fail(
            claim, "does not name the key that signed the request (RFC 7638 thumbprints differ)"
        )


@overload
def verify_token(
    jwt: str | ParsedJwt,
    *,
    keys: Keys,
    now: int,
    expected_typ: Literal["aa-agent+jwt"],
    http_signature_thumbprint: str,
    **options: Unpack[_GenericOptions],
) -> AgentToken: ...
@overload
def verify_token(
    jwt: str | ParsedJwt,
    *,
    keys: Keys,
    now: int,
    expected_typ: Literal["aa-person+jwt"],
    http_signature_thumbprint: str,
    **options: Unpack[_GenericOptions],
) -> PersonToken: ...
@overload
def verify_token(
    jwt: str | ParsedJwt,
    *,
    keys: Keys,
    now: int,
    expected_typ: Literal["aa-resource+jwt"],
    http_signature_thumbprint: str,
    **options: Unpack[_GenericOptions],
) -> ResourceToken: ...
@overload
def verify_token(
    jwt: str | ParsedJwt,
    *,
    keys: Keys,
    now: int,
    expected_typ: Literal["aa-auth+jwt"],
    http_signature_thumbprint: str,
    **options: Unpack[_GenericOptions],
) -> AuthToken: ...
@overload
def verify_token(
    jwt: str | ParsedJwt,
    *,
    keys: Keys,
    now: int,
    expected_typ: str,
    http_signature_thumbprint: str,
    **options: Unpack[_GenericOptions],
) -> Token: ...
def verify_token(
    jwt: str | ParsedJwt,
    *,
    keys: Keys,
    now: int,
    expected_typ: str,
    http_signature_thumbprint: str,
    audience: str | None = None,
    leeway: int = DEFAULT_LEEWAY,
    issuer: str | None = None,
    error_codes: ErrorCodes | None = None,
    not_after: int | None = None,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
    allow_insecure_loopback_for_development: bool = False,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
) -> Token:
    """:func:`validate_token` then :func:`check_key_binding`: the Python form of the
    TypeScript ``verifyToken({jwt, httpSignatureThumbprint})``.

    Typical resource use, after :func:`aauth.signing.verify_request`::

        verified = verify_request(request, now=now)
        token = verify_token(verified.token, keys=jwks, now=now, expected_typ="aa-auth+jwt",
                             http_signature_thumbprint=verified.thumbprint,
                             audience="https://resource.example")
    """
    model = validate_token(
        jwt,
        keys,
        now=now,
        typ=expected_typ,
        audience=audience,
        leeway=leeway,
        issuer=issuer,
        error_codes=error_codes,
        not_after=not_after,
        allowed_algs=allowed_algs,
        allow_eddsa=allow_eddsa,
        allow_insecure_loopback_for_development=allow_insecure_loopback_for_development,
        max_length=max_length,
    )
    check_key_binding(model, http_signature_thumbprint, error_codes=error_codes)
    return model
