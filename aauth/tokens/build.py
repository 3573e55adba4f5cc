"""Building and signing AAuth tokens (AAuth -11 §"Tokens"; digest §4, §8).

Strict in what we emit: :func:`sign_token` runs the validators' claim checks on the claims it
is about to sign (every MUST of the type, the lifetime cap, identifier syntax, ``cnf.jwk``
with ``alg``), and refuses with :class:`~aauth.errors.LocalError`. The header is
``{"alg", "typ", "kid"}``; ``alg`` comes from the signing key, so it is always a
fully-specified ``Ed25519`` or ``ES256``, never ``EdDSA``.

The builders take ``now`` and ``jti`` from the caller (the engine reads no clock and draws no
randomness), compute ``iat = now`` and ``exp = now + lifetime`` capped by the type's ceiling
and by ``not_after`` (the agent token's ``exp``, the mission's ``expires_at``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import LocalError
from ..jwk import SUPPORTED_ALGS
from ..jws import encode_jwt
from ..keys import PrivateKey, PublicKey
from ..metadata import DWK_AGENT, DWK_PERSON, DWK_RESOURCE
from . import _claims
from ._claims import MODELLED_CLAIMS, Checker
from .errors import TokenError
from .models import (
    AGENT_TOKEN_MAX_LIFETIME,
    AUTH_TOKEN_MAX_LIFETIME,
    PERSON_TOKEN_MAX_LIFETIME,
    RESOURCE_TOKEN_MAX_LIFETIME,
    TYP_AGENT,
    TYP_AUTH,
    TYP_PERSON,
    TYP_RESOURCE,
    AgentToken,
    AuthToken,
    PersonToken,
    ResourceInteraction,
    ResourceToken,
    Token,
)

__all__ = [
    "build_agent_token",
    "build_auth_token",
    "build_person_token",
    "create_resource_token",
    "sign_token",
]

_CAPS = {
    TYP_AGENT: AGENT_TOKEN_MAX_LIFETIME,
    TYP_PERSON: PERSON_TOKEN_MAX_LIFETIME,
    TYP_RESOURCE: RESOURCE_TOKEN_MAX_LIFETIME,
    TYP_AUTH: AUTH_TOKEN_MAX_LIFETIME,
}


def _check_model(token: Token, dev: bool, legacy_jti: bool) -> dict[str, Any]:
    """Run the validators' checks on ``token`` (no clock); return its claims."""
    typ = token.TYP
    clash = set(token.extra) & MODELLED_CLAIMS[typ]
    if clash:
        raise LocalError(f"extra claims {sorted(clash)} would shadow claims the model defines")
    if not isinstance(token.kid, str) or not token.kid:
        raise LocalError("kid must be a non-empty string (AAuth -11 §JOSE Header: REQUIRED)")
    if isinstance(token, ResourceToken):
        claims = token.claims(legacy_person_token_jti=legacy_jti)
    else:
        claims = token.claims()
    chk = Checker(typ, "signature", dev)
    dwk = _claims.check_dwk(claims, chk)
    iss = _claims.check_iss(claims, chk, None)
    iat, exp = _claims.check_times(
        claims, chk, now=None, leeway=0, max_lifetime=_CAPS[typ], not_after=None
    )
    env = _claims.Envelope(token.kid, iss, dwk, iat, exp)
    # cnf.jwk may name any supported algorithm, whatever the issuer signs with; never EdDSA
    if isinstance(token, AgentToken):
        _claims.agent_token(
            claims,
            chk,
            env,
            allowed_algs=SUPPORTED_ALGS,
            allow_eddsa=False,
            require_sub_domain_match=True,
        )
    elif isinstance(token, PersonToken):
        _claims.person_token(
            claims, chk, env, audience=None, allowed_algs=SUPPORTED_ALGS, allow_eddsa=False
        )
    elif isinstance(token, ResourceToken):
        _claims.resource_token(claims, chk, env, audience=None, require_scope=True)
    else:
        _claims.auth_token(
            claims,
            chk,
            env,
            audience=None,
            allowed_algs=SUPPORTED_ALGS,
            allow_eddsa=False,
            empty_scope_is_absent=False,  # never emit scope "": omit it (AAuth -11 §Auth Token)
        )
    return claims


def sign_token(
    token: Token,
    key: PrivateKey,
    *,
    emit_legacy_person_token_jti: bool = False,
    allow_insecure_loopback_for_development: bool = False,
) -> str:
    """Check ``token`` against every rule its validator enforces (except the clock and the
    verifier-specific expectations) and sign it with ``key``.

    Header ``{"alg": key.alg, "typ": token.TYP, "kid": token.kid}``; claims as
    ``token.claims()``, compact JSON in that order.

    ``emit_legacy_person_token_jti`` (resource tokens only; off by default) also writes the
    pre--11 name ``person_token_jti`` with the value of ``presented_jti``, for deployed
    servers that read only the old name. It cannot be set through ``extra``.

    :raises LocalError: the token breaks a rule (message names the claim) or cannot be
        encoded; ``emit_legacy_person_token_jti`` for a token that is not a resource token.
    """
    if not isinstance(token, (AgentToken, PersonToken, ResourceToken, AuthToken)):
        raise LocalError(
            "sign_token expects an AgentToken, PersonToken, ResourceToken or AuthToken"
        )
    if emit_legacy_person_token_jti and not isinstance(token, ResourceToken):
        raise LocalError("emit_legacy_person_token_jti applies to resource tokens only")
    try:
        claims = _check_model(
            token, allow_insecure_loopback_for_development, bool(emit_legacy_person_token_jti)
        )
    except TokenError as exc:
        raise LocalError(f"refusing to sign: {exc.message}") from None
    return encode_jwt({"typ": token.TYP, "kid": token.kid}, claims, key)


def _times(now: int, lifetime: int, cap: int, not_after: int | None) -> tuple[int, int]:
    for name, value in (("now", now), ("lifetime", lifetime)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise LocalError(f"{name} must be an int (seconds)")
    if lifetime <= 0:
        raise LocalError("lifetime must be positive")
    exp = now + min(lifetime, cap)
    if not_after is not None:
        if isinstance(not_after, bool) or not isinstance(not_after, int):
            raise LocalError("not_after must be an int (Unix seconds)")
        if not_after <= now:
            raise LocalError(f"not_after {not_after} is not after now {now}: nothing to issue")
        exp = min(exp, not_after)
    return now, exp


def _jwk(cnf_jwk: PublicKey | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(cnf_jwk, PublicKey):
        return cnf_jwk.jwk
    if not isinstance(cnf_jwk, Mapping):
        raise LocalError("cnf_jwk must be a PublicKey or a public JWK mapping")
    return dict(cnf_jwk)


def build_agent_token(
    key: PrivateKey,
    *,
    kid: str,
    now: int,
    jti: str,
    iss: str,
    sub: str,
    cnf_jwk: PublicKey | Mapping[str, Any],
    lifetime: int = 3600,
    not_after: int | None = None,
    ps: str | None = None,
    parent_agent: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    allow_insecure_loopback_for_development: bool = False,
) -> str:
    """Sign an ``aa-agent+jwt`` as the Agent Provider ``iss`` (AAuth -11 §"Agent Token").

    ``sub`` is the agent identifier (its domain the host of ``iss``), ``cnf_jwk`` the
    agent's signing key (a :class:`PublicKey` or a public JWK with ``alg``). ``lifetime``
    (typically 1 h) is capped at 24 h and at ``not_after``. ``parent_agent`` marks a
    sub-agent. ``extra_claims`` are AP-defined claims (attestation, posture).

    :raises LocalError: any rule broken.
    """
    iat, exp = _times(now, lifetime, AGENT_TOKEN_MAX_LIFETIME, not_after)
    token = AgentToken(
        iss=iss,
        dwk=DWK_AGENT,
        sub=sub,
        jti=jti,
        cnf_jwk=_jwk(cnf_jwk),
        iat=iat,
        exp=exp,
        kid=kid,
        ps=ps,
        parent_agent=parent_agent,
        extra=dict(extra_claims or {}),
    )
    return sign_token(
        token, key, allow_insecure_loopback_for_development=allow_insecure_loopback_for_development
    )


def build_person_token(
    key: PrivateKey,
    *,
    kid: str,
    now: int,
    jti: str,
    iss: str,
    aud: str,
    sub: str,
    cnf_jwk: PublicKey | Mapping[str, Any],
    lifetime: int = PERSON_TOKEN_MAX_LIFETIME,
    not_after: int | None = None,
    mission_s256: str | None = None,
    tenant: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    allow_insecure_loopback_for_development: bool = False,
) -> str:
    """Sign an ``aa-person+jwt`` as the Person Server ``iss`` (AAuth -11 §"Person Token").

    ``aud`` is the one resource requested; ``sub`` the directed user id for it; ``cnf_jwk``
    the agent's (or sub-agent's) key. The lifetime is capped at 1 h and at ``not_after``:
    pass the agent token's ``exp`` and, with a mission, its ``expires_at`` (the smaller).
    ``scope`` and ``account`` in ``extra_claims`` are refused (MUST NOT appear).

    :raises LocalError: any rule broken.
    """
    iat, exp = _times(now, lifetime, PERSON_TOKEN_MAX_LIFETIME, not_after)
    token = PersonToken(
        iss=iss,
        dwk=DWK_PERSON,
        aud=aud,
        sub=sub,
        jti=jti,
        cnf_jwk=_jwk(cnf_jwk),
        iat=iat,
        exp=exp,
        kid=kid,
        mission_s256=mission_s256,
        tenant=tenant,
        extra=dict(extra_claims or {}),
    )
    return sign_token(
        token, key, allow_insecure_loopback_for_development=allow_insecure_loopback_for_development
    )


def build_auth_token(
    key: PrivateKey,
    *,
    kid: str,
    now: int,
    jti: str,
    iss: str,
    dwk: str,
    aud: str,
    ps: str,
    sub: str,
    cnf_jwk: PublicKey | Mapping[str, Any],
    lifetime: int = AUTH_TOKEN_MAX_LIFETIME,
    not_after: int | None = None,
    scope: str | None = None,
    account: str | None = None,
    mission_s256: str | None = None,
    tenant: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    allow_insecure_loopback_for_development: bool = False,
) -> str:
    """Sign an ``aa-auth+jwt`` as the AS or PS ``iss`` (AAuth -11 §"Auth Token").

    ``dwk`` is ``aauth-access.json`` for an AS and ``aauth-person.json`` for a PS (then
    ``ps`` must equal ``iss``). ``aud`` is the resource; ``sub`` copied from the resource
    token; ``cnf_jwk`` the agent's (or sub-agent's) key. The lifetime is capped at 1 h and at
    ``not_after`` (the agent token's ``exp``, the mission's ``expires_at``). OIDC claims go in
    ``extra_claims``.

    :raises LocalError: any rule broken.
    """
    iat, exp = _times(now, lifetime, AUTH_TOKEN_MAX_LIFETIME, not_after)
    token = AuthToken(
        iss=iss,
        dwk=dwk,
        aud=aud,
        jti=jti,
        ps=ps,
        sub=sub,
        cnf_jwk=_jwk(cnf_jwk),
        iat=iat,
        exp=exp,
        kid=kid,
        scope=scope,
        account=account,
        mission_s256=mission_s256,
        tenant=tenant,
        extra=dict(extra_claims or {}),
    )
    return sign_token(
        token, key, allow_insecure_loopback_for_development=allow_insecure_loopback_for_development
    )


def _from_person_token(
    person_token: PersonToken | None, name: str, given: str | None, copied: str | None
) -> str | None:
    if person_token is None:
        return given
    if given is not None and given != copied:
        raise LocalError(f"{name} {given!r} contradicts the person token's {copied!r}")
    return copied


def create_resource_token(
    key: PrivateKey,
    *,
    kid: str,
    now: int,
    jti: str,
    iss: str,
    aud: str,
    agent_jkt: str,
    scope: str,
    person_token: PersonToken | None = None,
    ps: str | None = None,
    sub: str | None = None,
    presented_jti: str | None = None,
    mission_s256: str | None = None,
    tenant: str | None = None,
    account: str | None = None,
    interaction: ResourceInteraction | None = None,
    lifetime: int = RESOURCE_TOKEN_MAX_LIFETIME,
    expires_at: int | None = None,
    emit_legacy_person_token_jti: bool = False,
    allow_insecure_loopback_for_development: bool = False,
) -> str:
    """Sign an ``aa-resource+jwt`` as the resource ``iss``: the Python form of the TypeScript
    ``createResourceToken`` (AAuth -11 §"Resource Token"; digest §8 "Resource").

    * ``aud``: the PS (three-party) or AS (four-party) the agent will send it to.
    * From the person token the resource verified (pass it as ``person_token``): ``ps`` =
      its ``iss``, ``sub``, ``presented_jti`` = its ``jti``, ``mission_s256`` (MUST NOT be
      omitted) and ``tenant``. Explicit values must agree with it. Without ``person_token``
      (a step-up or per-call challenge answered from the resource's own record) ``ps``,
      ``sub`` and ``presented_jti`` are REQUIRED.
    * ``agent_jkt``: the RFC 7638 thumbprint of the key that signed the request
      (:attr:`aauth.signing.VerifiedRequest.thumbprint`).
    * ``scope``: space-separated, REQUIRED.
    * Lifetime: ``lifetime`` capped at 5 minutes and at ``expires_at`` (the mission's
      ``expires_at`` when ``mission_s256`` is set).

    Emits ``presented_jti`` (AAuth -11). ``emit_legacy_person_token_jti=True`` also writes
    the pre--11 name ``person_token_jti`` with the same value, for a PS that reads only that
    name (@hellocoop/mockin 2.0.0 requires it and ignores ``presented_jti``); our validator
    accepts either and refuses the two disagreeing. Off by default.

    :raises LocalError: a missing or malformed input (server identifiers, thumbprint
        format, scope syntax, ``mission_s256`` form ...).
    """
    ps = _from_person_token(person_token, "ps", ps, person_token.iss if person_token else None)
    sub = _from_person_token(person_token, "sub", sub, person_token.sub if person_token else None)
    presented_jti = _from_person_token(
        person_token, "presented_jti", presented_jti, person_token.jti if person_token else None
    )
    if person_token is not None:
        # AAuth -11 §"Resource Token": mission_s256 REQUIRED when the person token had one
        mission_s256 = _from_person_token(
            person_token, "mission_s256", mission_s256, person_token.mission_s256
        )
        tenant = _from_person_token(person_token, "tenant", tenant, person_token.tenant)
    for name, value in (("ps", ps), ("sub", sub), ("presented_jti", presented_jti)):
        if value is None:
            raise LocalError(f"{name} is REQUIRED: pass person_token or {name}")
    assert ps is not None and sub is not None and presented_jti is not None
    if interaction is not None and not isinstance(interaction, ResourceInteraction):
        raise LocalError("interaction must be a ResourceInteraction")
    iat, exp = _times(now, lifetime, RESOURCE_TOKEN_MAX_LIFETIME, expires_at)
    token = ResourceToken(
        iss=iss,
        dwk=DWK_RESOURCE,
        aud=aud,
        jti=jti,
        ps=ps,
        sub=sub,
        presented_jti=presented_jti,
        agent_jkt=agent_jkt,
        iat=iat,
        exp=exp,
        kid=kid,
        scope=scope,
        account=account,
        mission_s256=mission_s256,
        tenant=tenant,
        interaction=interaction,
    )
    return sign_token(
        token,
        key,
        emit_legacy_person_token_jti=emit_legacy_person_token_jti,
        allow_insecure_loopback_for_development=allow_insecure_loopback_for_development,
    )
