"""Claim-by-claim checks shared by the validators and the signer (private).

Every function raises :class:`~aauth.tokens.errors.TokenError` through a :class:`Checker`,
which knows the token type and the error vocabulary, so each rejection names its claim and
carries both codes. :func:`aauth.tokens.build.sign_token` runs the same checks on the claims it
is about to sign and turns a rejection into :class:`~aauth.errors.LocalError`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Final, NamedTuple, NoReturn

from ..errors import JoseError
from ..identifiers import (
    AgentId,
    InvalidIdentifierError,
    parse_agent_id,
    validate_endpoint_url,
    validate_server_id,
)
from ..keys import PublicKey
from ..metadata import DWK_AGENT, DWK_PERSON, DWK_RESOURCE
from ..mission import MissionError, validate_mission_s256
from .errors import ENDPOINT_CODES, ErrorCodes, TokenError
from .models import (
    AUTH_TOKEN_DWKS,
    TYP_AGENT,
    TYP_AUTH,
    TYP_PERSON,
    TYP_RESOURCE,
    AgentToken,
    AuthToken,
    PersonToken,
    ResourceInteraction,
    ResourceToken,
    cached_public_key,
)

# RFC 6749 §3.3: scope = scope-token *( SP scope-token ); scope-token = 1*NQCHAR-without-SP
_SCOPE_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")
# RFC 7638 SHA-256 thumbprint: 32 bytes as canonical unpadded base64url (43 characters)
THUMBPRINT_RE: Final = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")

#: The ``dwk`` each type must carry (AAuth -11 §"Token Discovery"; digest §4.1 table).
EXPECTED_DWK: Final[Mapping[str, frozenset[str]]] = {
    TYP_AGENT: frozenset({DWK_AGENT}),
    TYP_PERSON: frozenset({DWK_PERSON}),
    TYP_RESOURCE: frozenset({DWK_RESOURCE}),
    TYP_AUTH: AUTH_TOKEN_DWKS,
}

#: Claims each model defines; everything else goes to ``extra``.
MODELLED_CLAIMS: Final[Mapping[str, frozenset[str]]] = {
    TYP_AGENT: frozenset({"iss", "dwk", "sub", "jti", "cnf", "iat", "exp", "ps", "parent_agent"}),
    TYP_PERSON: frozenset(
        {"iss", "dwk", "aud", "sub", "jti", "cnf", "iat", "exp", "mission_s256", "tenant"}
    ),
    TYP_RESOURCE: frozenset(
        {
            "iss",
            "dwk",
            "aud",
            "jti",
            "ps",
            "sub",
            "presented_jti",
            "person_token_jti",
            "agent_jkt",
            "iat",
            "exp",
            "scope",
            "account",
            "mission_s256",
            "tenant",
            "interaction",
        }
    ),
    TYP_AUTH: frozenset(
        {
            "iss",
            "dwk",
            "aud",
            "jti",
            "ps",
            "sub",
            "cnf",
            "iat",
            "exp",
            "scope",
            "account",
            "mission_s256",
            "tenant",
        }
    ),
}


_GENERIC_CODES: Final = ("invalid_request", "invalid_request")


class Checker:
    """One validation's context: the token type (``""`` when unknown), the error vocabulary,
    the dev switch."""

    __slots__ = ("dev", "error_codes", "typ")

    def __init__(self, typ: str, error_codes: ErrorCodes, dev: bool) -> None:
        self.typ = typ
        self.error_codes: ErrorCodes = error_codes
        self.dev = dev

    def fail(
        self,
        claim: str | None,
        detail: str,
        *,
        expired: bool = False,
        signature_code: str | None = None,
        endpoint_code: str | None = None,
        retryable: bool = False,
    ) -> NoReturn:
        """Raise the :class:`TokenError` for ``claim`` (``"header.kid"`` for a header member)."""
        invalid, expired_code = ENDPOINT_CODES.get(self.typ, _GENERIC_CODES)
        name = self.typ or "token"
        if claim is None:
            where = name
        elif claim.startswith("header."):
            where = f"{name} header '{claim[7:]}'"
        else:
            where = f"{name} claim '{claim}'"
        raise TokenError(
            f"{where}: {detail}",
            typ=self.typ or None,
            claim=claim,
            signature_code=signature_code or ("expired_jwt" if expired else "invalid_jwt"),
            endpoint_code=endpoint_code or (expired_code if expired else invalid),
            error_codes=self.error_codes,
            retryable=retryable or expired,
        )

    def fail_jose(self, claim: str | None, exc: JoseError) -> NoReturn:
        """Re-raise a JOSE-layer failure, keeping its ``Signature-Error`` code."""
        expired = exc.code == "expired_jwt"
        self.fail(
            claim,
            exc.message,
            expired=expired,
            signature_code=exc.code,
            retryable=exc.retryable,
        )


# --------------------------------------------------------------------------- scalars


def required_str(claims: Mapping[str, Any], name: str, chk: Checker) -> str:
    """A REQUIRED claim that is a non-empty string."""
    value = claims.get(name)
    if value is None:
        chk.fail(name, "is missing (REQUIRED)")
    if not isinstance(value, str) or not value:
        chk.fail(name, "is not a non-empty string")
    return value


def optional_str(claims: Mapping[str, Any], name: str, chk: Checker) -> str | None:
    """An OPTIONAL string claim; absent and JSON ``null`` both read as absent."""
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        chk.fail(name, "is not a non-empty string")
    return value


def _numeric_date(claims: Mapping[str, Any], name: str, chk: Checker, required: bool) -> int | None:
    value = claims.get(name)
    if value is None:
        if required:
            chk.fail(name, "is missing (REQUIRED)")
        return None
    # RFC 7519 §2 NumericDate, integers only (as aauth.jws): no bool, no 1.5, no 1e9
    if isinstance(value, bool) or not isinstance(value, int):
        chk.fail(name, "is not an integer NumericDate")
    return value


def server_id(claims: Mapping[str, Any], name: str, chk: Checker, *, required: bool) -> str | None:
    """A server identifier claim (``iss``, ``aud``, ``ps``): AAuth -11 §"Server Identifiers"."""
    value = required_str(claims, name, chk) if required else optional_str(claims, name, chk)
    if value is None:
        return None
    try:
        validate_server_id(value, allow_insecure_loopback_for_development=chk.dev)
    except InvalidIdentifierError as exc:
        chk.fail(name, exc.message)
    return value


def agent_id(
    claims: Mapping[str, Any], name: str, chk: Checker, *, required: bool
) -> AgentId | None:
    """An agent identifier claim (``sub`` of an agent token, ``parent_agent``)."""
    value = required_str(claims, name, chk) if required else optional_str(claims, name, chk)
    if value is None:
        return None
    try:
        return parse_agent_id(value, allow_insecure_loopback_for_development=chk.dev)
    except InvalidIdentifierError as exc:
        chk.fail(name, exc.message)


def scope_claim(claims: Mapping[str, Any], chk: Checker, *, required: bool) -> str | None:
    """``scope``: space-separated scope tokens (RFC 6749 §3.3, RFC 9068 §2.2.3)."""
    value = required_str(claims, "scope", chk) if required else optional_str(claims, "scope", chk)
    if value is not None and _SCOPE_RE.fullmatch(value) is None:
        chk.fail("scope", "is not a space-separated list of scope tokens (RFC 6749 §3.3)")
    return value


def mission_claim(claims: Mapping[str, Any], chk: Checker) -> str | None:
    """``mission_s256``: the mission's SHA-256 (AAuth -11 §"Mission Identifier")."""
    value = optional_str(claims, "mission_s256", chk)
    if value is not None:
        try:
            validate_mission_s256(value)
        except MissionError as exc:
            chk.fail("mission_s256", exc.message)
    return value


def thumbprint_claim(claims: Mapping[str, Any], name: str, chk: Checker) -> str:
    """A REQUIRED RFC 7638 SHA-256 thumbprint claim (``agent_jkt``; digest §3.5)."""
    value = required_str(claims, name, chk)
    if THUMBPRINT_RE.fullmatch(value) is None:
        chk.fail(name, "is not an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
    return value


# --------------------------------------------------------------------------- header


def check_header(
    header: Mapping[str, Any], chk: Checker, *, allowed_algs: Collection[str], allow_eddsa: bool
) -> str:
    """``typ`` FIRST, then ``alg`` and ``kid``; return ``kid``.

    AAuth -11 §"Token Type Check": implementations MUST check ``typ`` before acting on any
    AAuth JWT (a person token and a PS-issued auth token differ only by ``typ``).
    AAuth -11 §"JOSE Header": ``alg`` fully specified (``none``, ``EdDSA`` and symmetric
    algorithms MUST NOT be accepted); ``kid`` REQUIRED.
    """
    typ = header.get("typ")
    if typ != chk.typ:
        # RFC 7515 §4.1.9: compare case-insensitively; "application/" may be omitted
        normalised = typ.lower() if isinstance(typ, str) else None
        if normalised is not None and normalised.startswith("application/"):
            normalised = normalised[12:]
        if normalised != chk.typ:
            shown = repr(typ)[:60] if isinstance(typ, str) else "absent or not a string"
            chk.fail("header.typ", f"is {shown}, expected {chk.typ!r}")
    alg = header.get("alg")
    if not isinstance(alg, str) or not (alg in allowed_algs or (alg == "EdDSA" and allow_eddsa)):
        shown = repr(alg)[:40] if isinstance(alg, str) else "absent or not a string"
        chk.fail(
            "header.alg",
            f"is {shown}; only the fully-specified {', '.join(allowed_algs)} are accepted",
            signature_code="unsupported_algorithm",
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        chk.fail("header.kid", "is missing or not a non-empty string (REQUIRED)")
    return kid


# --------------------------------------------------------------------------- common claims


def check_dwk(claims: Mapping[str, Any], chk: Checker) -> str:
    """``dwk`` MUST equal the value expected for the token type (AAuth -11 §"Token Discovery")."""
    dwk = required_str(claims, "dwk", chk)
    expected = EXPECTED_DWK[chk.typ]
    if dwk not in expected:
        chk.fail("dwk", f"is {dwk[:60]!r}, expected {' or '.join(sorted(expected))}")
    return dwk


def check_iss(claims: Mapping[str, Any], chk: Checker, issuer: str | None) -> str:
    """``iss`` is a valid server identifier, and ``issuer`` exactly when one is expected."""
    iss = server_id(claims, "iss", chk, required=True)
    assert iss is not None
    if issuer is not None and iss != issuer:
        chk.fail("iss", f"is {iss!r}, expected {issuer!r}")
    return iss


def check_times(
    claims: Mapping[str, Any],
    chk: Checker,
    *,
    now: int | None,
    leeway: int,
    max_lifetime: int,
    not_after: int | None,
) -> tuple[int, int]:
    """``iat``/``exp`` (both REQUIRED), ``nbf``, the lifetime cap and ``not_after``.

    AAuth -11 §"Time Checks": ``exp`` in the future and ``iat`` not in the future, with
    ``leeway`` (digest [AMBIG-7], 60 s); §"Token Lifetimes": the per-type ceiling on
    ``exp - iat``; ``not_after`` is a bound the verifier knows (the agent token's ``exp``, the
    mission's ``expires_at``). ``now=None`` (signing) checks everything but the clock.
    """
    exp = _numeric_date(claims, "exp", chk, required=True)
    iat = _numeric_date(claims, "iat", chk, required=True)
    nbf = _numeric_date(claims, "nbf", chk, required=False)
    assert exp is not None and iat is not None
    if now is not None:
        if now >= exp + leeway:
            chk.fail(
                "exp", f"the token expired at {exp} (now {now}, leeway {leeway} s)", expired=True
            )
        if iat > now + leeway:
            chk.fail("iat", f"{iat} is in the future (now {now}, leeway {leeway} s)")
        if nbf is not None and nbf > now + leeway:
            chk.fail("nbf", f"the token is not valid before {nbf} (now {now}, leeway {leeway} s)")
    if exp <= iat:
        chk.fail("exp", f"{exp} is not after 'iat' {iat}")
    if exp - iat > max_lifetime:
        chk.fail("exp", f"lifetime {exp - iat} s exceeds the {max_lifetime} s cap for {chk.typ}")
    if not_after is not None and exp > not_after:
        chk.fail("exp", f"{exp} is later than the bound {not_after} (agent token or mission)")
    return iat, exp


def check_audience(claims: Mapping[str, Any], chk: Checker, audience: str | None) -> str:
    """``aud``: one server identifier, equal to the verifier's own when it is given.

    Reading: AAuth names a single recipient, so the RFC 7519 array form is not accepted.
    """
    value = claims.get("aud")
    if value is None:
        chk.fail("aud", "is missing (REQUIRED)")
    if not isinstance(value, str):
        chk.fail("aud", "is not a single string")
    aud = server_id(claims, "aud", chk, required=True)
    assert aud is not None
    if audience is not None and aud != audience:
        chk.fail("aud", f"is {aud!r}, not this verifier {audience!r}")
    return aud


def usable_key(
    jwk: Mapping[str, Any],
    chk: Checker,
    claim: str | None,
    *,
    allowed_algs: Collection[str],
    allow_eddsa: bool,
) -> PublicKey:
    """The verifying key of ``jwk``, whose ``alg`` must be present, fully specified and
    accepted (signature-key-08 §"Algorithm determination": never inferred; ``EdDSA`` refused
    unless ``allow_eddsa``), and whose members must agree with it and be complete."""
    alg = jwk.get("alg")
    if alg is None:
        chk.fail(
            claim,
            "has no 'alg'; a fully-specified algorithm is REQUIRED",
            signature_code="unsupported_algorithm",
        )
    if not isinstance(alg, str) or not (alg in allowed_algs or (alg == "EdDSA" and allow_eddsa)):
        shown = repr(alg)[:40] if isinstance(alg, str) else "not a string"
        chk.fail(
            claim,
            f"'alg' is {shown}; only the fully-specified {', '.join(allowed_algs)} are accepted",
            signature_code="unsupported_algorithm",
        )
    try:
        return cached_public_key(jwk)
    except JoseError as exc:
        chk.fail(claim, exc.message, signature_code=exc.code)


def check_cnf(
    claims: Mapping[str, Any], chk: Checker, *, allowed_algs: Collection[str], allow_eddsa: bool
) -> dict[str, Any]:
    """``cnf.jwk`` present, with a fully-specified ``alg``, structurally complete and usable.

    AAuth -11 §"Proof of Possession" and §"Auth Token" verification step 6; signature-key-08
    §"Algorithm determination" (``alg`` REQUIRED, never inferred; ``EdDSA`` refused).
    """
    cnf = claims.get("cnf")
    if cnf is None:
        chk.fail("cnf", "is missing (REQUIRED)")
    if not isinstance(cnf, dict):
        chk.fail("cnf", "is not a JSON object")
    jwk = cnf.get("jwk")
    if not isinstance(jwk, dict):
        chk.fail("cnf.jwk", "is missing or not a JSON object")
    usable_key(jwk, chk, "cnf.jwk", allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)
    return dict(jwk)


def _extra(claims: Mapping[str, Any], typ: str) -> dict[str, Any]:
    modelled = MODELLED_CLAIMS[typ]
    return {name: value for name, value in claims.items() if name not in modelled}


# --------------------------------------------------------------------------- per type


class Envelope(NamedTuple):
    """What the checks every type shares established: the header ``kid`` and the ``iss``,
    ``dwk``, ``iat`` and ``exp`` claims. The per-type functions copy it into the model."""

    kid: str
    iss: str
    dwk: str
    iat: int
    exp: int


def agent_token(
    claims: Mapping[str, Any],
    chk: Checker,
    env: Envelope,
    *,
    allowed_algs: Collection[str],
    allow_eddsa: bool,
    require_sub_domain_match: bool,
) -> AgentToken:
    """The agent-token claims (AAuth -11 §"Agent Token"; digest §4.2)."""
    sub = agent_id(claims, "sub", chk, required=True)
    assert sub is not None
    jti = required_str(claims, "jti", chk)
    cnf_jwk = check_cnf(claims, chk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)
    ps = server_id(claims, "ps", chk, required=False)
    parent = agent_id(claims, "parent_agent", chk, required=False)
    iss = env.iss
    if require_sub_domain_match and not sub.issued_by(iss):
        # digest [AMBIG-10]: the agent identifier's domain is the AP's domain
        chk.fail("sub", f"domain {sub.domain!r} is not the host of 'iss' {iss!r}")
    if parent is not None:
        if parent.value == sub.value:
            chk.fail("parent_agent", "names the agent itself")
        if require_sub_domain_match and not parent.issued_by(iss):
            chk.fail("parent_agent", f"domain {parent.domain!r} is not the host of 'iss' {iss!r}")
    return AgentToken(
        iss=env.iss,
        dwk=env.dwk,
        sub=sub.value,
        jti=jti,
        cnf_jwk=cnf_jwk,
        iat=env.iat,
        exp=env.exp,
        kid=env.kid,
        ps=ps,
        parent_agent=None if parent is None else parent.value,
        extra=_extra(claims, TYP_AGENT),
    )


def person_token(
    claims: Mapping[str, Any],
    chk: Checker,
    env: Envelope,
    *,
    audience: str | None,
    allowed_algs: Collection[str],
    allow_eddsa: bool,
) -> PersonToken:
    """The person-token claims (AAuth -11 §"Person Token"; digest §4.3)."""
    for forbidden in ("scope", "account"):
        if forbidden in claims:
            # AAuth -11 §"Person Token": scope and account MUST NOT appear
            chk.fail(forbidden, "MUST NOT appear in a person token")
    aud = check_audience(claims, chk, audience)
    sub = required_str(claims, "sub", chk)
    jti = required_str(claims, "jti", chk)
    cnf_jwk = check_cnf(claims, chk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)
    return PersonToken(
        iss=env.iss,
        dwk=env.dwk,
        aud=aud,
        sub=sub,
        jti=jti,
        cnf_jwk=cnf_jwk,
        iat=env.iat,
        exp=env.exp,
        kid=env.kid,
        mission_s256=mission_claim(claims, chk),
        tenant=optional_str(claims, "tenant", chk),
        extra=_extra(claims, TYP_PERSON),
    )


def _presented_jti(claims: Mapping[str, Any], chk: Checker) -> str:
    """``presented_jti``, or its legacy alias ``person_token_jti`` (accepted on input only)."""
    legacy = optional_str(claims, "person_token_jti", chk)
    if "presented_jti" not in claims and legacy is not None:
        return legacy
    presented = required_str(claims, "presented_jti", chk)
    if legacy is not None and legacy != presented:
        chk.fail("person_token_jti", "differs from 'presented_jti'")
    return presented


def _interaction(claims: Mapping[str, Any], chk: Checker) -> ResourceInteraction | None:
    value = claims.get("interaction")
    if value is None:
        return None
    if not isinstance(value, dict):
        chk.fail("interaction", "is not a JSON object")
    url = value.get("url")
    code = value.get("code")
    if not isinstance(url, str) or not isinstance(code, str) or not code:
        chk.fail("interaction", "needs string members 'url' and 'code'")
    try:
        # digest [AMBIG-19]: read as an endpoint URL (the agent appends ?code=...)
        validate_endpoint_url(url, allow_insecure_loopback_for_development=chk.dev)
    except InvalidIdentifierError as exc:
        chk.fail("interaction", f"url: {exc.message}")
    return ResourceInteraction(url=url, code=code)


def resource_token(
    claims: Mapping[str, Any],
    chk: Checker,
    env: Envelope,
    *,
    audience: str | None,
    require_scope: bool,
) -> ResourceToken:
    """The resource-token claims (AAuth -11 §"Resource Token"; digest §4.4)."""
    aud = check_audience(claims, chk, audience)
    jti = required_str(claims, "jti", chk)
    ps = server_id(claims, "ps", chk, required=True)
    assert ps is not None
    sub = required_str(claims, "sub", chk)
    presented_jti = _presented_jti(claims, chk)
    agent_jkt = thumbprint_claim(claims, "agent_jkt", chk)
    return ResourceToken(
        iss=env.iss,
        dwk=env.dwk,
        aud=aud,
        jti=jti,
        ps=ps,
        sub=sub,
        presented_jti=presented_jti,
        agent_jkt=agent_jkt,
        iat=env.iat,
        exp=env.exp,
        kid=env.kid,
        scope=scope_claim(claims, chk, required=require_scope),
        account=optional_str(claims, "account", chk),
        mission_s256=mission_claim(claims, chk),
        tenant=optional_str(claims, "tenant", chk),
        interaction=_interaction(claims, chk),
        extra=_extra(claims, TYP_RESOURCE),
    )


def auth_token(
    claims: Mapping[str, Any],
    chk: Checker,
    env: Envelope,
    *,
    audience: str | None,
    allowed_algs: Collection[str],
    allow_eddsa: bool,
    empty_scope_is_absent: bool,
) -> AuthToken:
    """The auth-token claims (AAuth -11 §"Auth Token"; digest §4.5).

    ``empty_scope_is_absent`` (validation) reads ``"scope": ""`` as no ``scope``: the claim
    is OPTIONAL, and deployed PSes (@hellocoop/mockin 2.0.0) send ``""`` when only identity
    scopes were granted. The signer passes ``False``, so we never emit ``""``.
    """
    aud = check_audience(claims, chk, audience)
    jti = required_str(claims, "jti", chk)
    ps = server_id(claims, "ps", chk, required=True)
    assert ps is not None
    if env.dwk == DWK_PERSON and ps != env.iss:
        # AAuth -11 §"Auth Token": ps equals iss when the PS issued the token
        chk.fail("ps", f"is {ps!r}, but a PS-issued auth token has ps equal to 'iss' {env.iss!r}")
    sub = required_str(claims, "sub", chk)
    cnf_jwk = check_cnf(claims, chk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)
    return AuthToken(
        iss=env.iss,
        dwk=env.dwk,
        aud=aud,
        jti=jti,
        ps=ps,
        sub=sub,
        cnf_jwk=cnf_jwk,
        iat=env.iat,
        exp=env.exp,
        kid=env.kid,
        scope=(
            None
            if empty_scope_is_absent and claims.get("scope") == ""
            else scope_claim(claims, chk, required=False)
        ),
        account=optional_str(claims, "account", chk),
        mission_s256=mission_claim(claims, chk),
        tenant=optional_str(claims, "tenant", chk),
        extra=_extra(claims, TYP_AUTH),
    )
