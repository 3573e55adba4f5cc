"""The resource's request verifier: signature, token, identity, policy (AAuth -11
§"Verifying Requests", §"Resource Access Modes", §"Auth Token Required"; digest §1.3-§1.5,
§2, §8 "Resource").

Sans-IO: :meth:`ResourceVerifier.check` takes the request and ``now`` and returns a
:class:`~aauth.resource.Verified`, a :class:`~aauth.resource.Challenge` to send, or a
:class:`~aauth.resource.NeedFetch` naming the metadata or JWKS document the caller must
fetch and hand to the discovery cache before calling ``check`` again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ..aauth_headers import (
    AgentTokenRequired,
    AuthTokenRequired,
    PersonTokenRequired,
    read_authorization,
)
from ..discovery import DiscoveryCache, FetchNeeded, FetchPending, KeyFound
from ..errors import LocalError, RemoteError, SignatureError
from ..http import HttpRequest
from ..httpsig import read_signature
from ..jws import ParsedJwt, decode_jwt_unverified
from ..keys import PrivateKey
from ..signature_key import JwtKey, parse_signature_key
from ..signing import AAUTH_REQUIRED_COMPONENTS, VerifiedRequest, verify_request
from ..tokens import (
    RESOURCE_TOKEN_MAX_LIFETIME,
    TYP_AGENT,
    TYP_AUTH,
    TYP_PERSON,
    AgentToken,
    AuthToken,
    PersonToken,
    TokenError,
    check_key_binding,
    create_resource_token,
    token_discovery,
    validate_agent_token,
    validate_auth_token,
    validate_person_token,
)
from .authorization import AuthorizationRequest
from .outcomes import Authorized, Challenge, NeedFetch, Outcome, Verified
from .policy import AccessMode, ResourcePolicy
from .records import MemoryPersonRecords, PersonRecord, PersonRecordStore
from .replay import MemoryReplayStore, ReplayStore

__all__ = ["ResourceVerifier"]

_SIGNATURE_FIELDS: Final = ("signature", "signature-input", "signature-key")

#: RFC 9110 §9.2.1 safe methods: their signatures are not entered in the replay store unless
#: asked (digest §2 "Freshness and replay": a verifier MAY reject duplicates of
#: state-changing requests; Ed25519 signatures are deterministic and the profile has no
#: nonce, so two polls signed within one second are byte-identical and both legitimate).
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

#: The token types that may sign a request on a route of each mode (AAuth -11 §"Resource
#: Access Modes"). A person token on an ``auth-token`` route starts the resource-token step.
_ACCEPTED: Final[Mapping[AccessMode, frozenset[str]]] = {
    AccessMode.AGENT_TOKEN: frozenset({TYP_AGENT}),
    AccessMode.SESSION_TOKEN: frozenset({TYP_AGENT}),
    AccessMode.PERSON_TOKEN: frozenset({TYP_PERSON, TYP_AUTH}),
    AccessMode.AUTH_TOKEN: frozenset({TYP_PERSON, TYP_AUTH}),
}

#: The authorization endpoint is signed with a person token only (digest §7.1).
_PERSON_ONLY: Final = frozenset({TYP_PERSON})

Token = AgentToken | PersonToken | AuthToken

#: What the authorization endpoint grants for a verified person token: the request to
#: issue a resource token for, or the refusal to send (nothing recorded yet).
Grant = Callable[[HttpRequest, PersonToken], AuthorizationRequest | Challenge]


#: Codes ``verify_request`` gives for the jwt-scheme token itself rather than the HTTP
#: signature: its ``exp`` (signature-key-08 §"jwt") and its claims (``cnf`` …).
_TOKEN_CODES: Final = frozenset({"expired_jwt", "invalid_jwt"})


def _presented_typ(request: HttpRequest) -> object:
    """The ``typ`` of the one ``jwt``-scheme token in ``Signature-Key``, unverified (only to
    word a refusal), or ``None``."""
    try:
        members = parse_signature_key(request.header("signature-key") or "")
        tokens = [m.jwt for m in members.values() if isinstance(m, JwtKey)]
        if len(tokens) != 1:
            return None
        header, _ = decode_jwt_unverified(tokens[0])
    except SignatureError:
        return None
    return header.get("typ")


@dataclass(frozen=True, slots=True)
class _Authorizing:
    """An ``authorization_endpoint`` request being checked: its grant and the ``aud``."""

    grant: Grant
    aud: str | None


@dataclass(frozen=True, slots=True)
class _Key:
    """The discovery answer a token was validated with, and how to ask for it again."""

    key: KeyFound
    alg: str | None

    @property
    def issuer(self) -> str:
        return self.key.issuer

    @property
    def dwk(self) -> str:
        return self.key.dwk

    @property
    def kid(self) -> str | None:
        return self.key.kid


#: RFC 3986 §3: scheme "://" authority, then the path up to "?" or "#".
_PATH_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^?#]*)")


def _path(url: str) -> str:
    """The path of an absolute URL ("/" when empty); "" for anything else."""
    m = _PATH_RE.match(url)
    if m is None:
        return ""
    return m.group(1) or "/"


#: OpenID Connect identity scopes and the claims that show one was granted (OIDC Core
#: §5.4). AAuth -11 §"Auth Token": OIDC claims appear "when identity scopes were granted",
#: and `scope` is optional; deployed PSes (@hellocoop/mockin 2.0) grant `email` as the
#: `email` claim and leave it out of `scope`. `openid` is the `sub` every auth token has.
_IDENTITY_SCOPE_CLAIMS: Final[Mapping[str, tuple[str, ...]]] = {
    "openid": (),
    "email": ("email",),
    "phone": ("phone_number",),
    "address": ("address",),
    "profile": (
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ),
}


def _ungranted(missing: frozenset[str], token: AuthToken) -> frozenset[str]:
    """The scope values of ``missing`` an auth token does not grant: an identity scope absent
    from ``scope`` still counts as granted when the token carries one of its claims."""
    if not missing:
        return missing
    claims = token.extra
    return frozenset(
        value
        for value in missing
        if (wanted := _IDENTITY_SCOPE_CLAIMS.get(value)) is None
        or (wanted and not any(claims.get(name) not in (None, "") for name in wanted))
    )


def _invalid_person_token(message: str, code: str) -> Challenge:
    """``400 invalid_person_token`` (digest §7.1: "malformed, expired, wrong aud, or bad
    signature"), the Signature-Error code it would have had in the detail."""
    return Challenge.denied("invalid_person_token", f"{message} ({code})", status=400)


def _unsigned_requirement(mode: AccessMode, thumbprint: str | None = None) -> Challenge:
    """The least the caller must present for ``mode`` (AAuth -11 §"Requirement Responses");
    ``thumbprint``: the key that signed, when the signature was valid."""
    if mode in (AccessMode.AGENT_TOKEN, AccessMode.SESSION_TOKEN):
        return Challenge.requirement(
            AgentTokenRequired(), detail="sign with an agent token", thumbprint=thumbprint
        )
    return Challenge.requirement(
        PersonTokenRequired(), detail="sign with a person token", thumbprint=thumbprint
    )


#: RFC 3986 §3.2: scheme "://" [userinfo "@"] host [":" port].
_AUTHORITY_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/?#@]*@)?([^/?#]*)")
_DEFAULT_PORTS: Final = {"https": ":443", "http": ":80"}
_LOOPBACK_RE: Final = re.compile(r"(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::\d*)?")


def _authority(url: str) -> str | None:
    """The authority of an absolute URL as RFC 9421 §2.2.3 covers it (lowercase, no
    default port), or ``None``."""
    m = _AUTHORITY_RE.match(url)
    if m is None:
        return None
    scheme, authority = m.group(1).lower(), m.group(2).lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is not None and authority.endswith(default):
        authority = authority[: -len(default)]
    return authority


#: P-256 group order (FIPS 186-4 D.1.2.3): ECDSA's (r, s) and (r, n - s) both verify.
_P256_N: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _replay_key(signature: bytes, algorithm: str) -> bytes:
    """The signature in a form every valid variant of it shares: ECDSA is malleable (``s``
    and ``n - s``), so ES256 keys on the low ``s``; Ed25519 signatures are canonical (RFC
    8032 §5.1.7 refuses ``S >= L``)."""
    if algorithm != "ES256" or len(signature) != 64:
        return signature
    s = int.from_bytes(signature[32:], "big")
    if s > _P256_N // 2:
        return signature[:32] + (_P256_N - s).to_bytes(32, "big")
    return signature


class ResourceVerifier:
    """Verifies requests for the resource ``identifier``.

    :param identifier: the resource's server identifier (``aud`` of person and auth tokens,
        ``iss`` of the resource tokens it issues).
    :param signing_key: signs resource tokens.
    :param kid: ``signing_key``'s ``kid`` in the resource's JWKS.
    :param policies: ``{path prefix: ResourcePolicy}``; a request takes the policy of the
        longest prefix that equals its path or is followed in it by ``/``.
    :param discovery_cache: issuer metadata and JWKS (the caller fetches what it asks for).
    :param replay_store: signatures already accepted (default: a bounded in-memory store).
    :param new_jti: returns a fresh unguessable ``jti`` for each resource token (the caller
        owns the randomness); without it, ``auth-token`` routes cannot issue resource
        tokens and :meth:`check` raises :class:`~aauth.errors.LocalError` when one is due.
    :param resource_token_lifetime: seconds, at most 300 (AAuth -11 §"Resource Token").
    :param token_memo_size: validated tokens remembered (an agent presents the same token on
        every call; a remembered token skips re-validation while discovery still hands out
        the same key and it has not expired). Cleared when full.
    :param person_records: the person tokens verified, by ``(ps, sub)``, for step-up
        resource tokens (default: a bounded in-memory store). A record lives until the
        person token's ``exp`` plus ``resource_token_lifetime``.
    :param emit_legacy_person_token_jti: resource tokens also carry the pre--11
        ``person_token_jti`` (for a PS that reads only that name, e.g. @hellocoop/mockin 2.0).
    :param replay_safe_methods: also refuse a repeated signature on ``GET`` / ``HEAD`` /
        ``OPTIONS`` / ``TRACE`` (default: only state-changing requests are checked; a strict
        setting refuses an agent's identical polls within one second).
    :param authorities: request authorities (``host[:port]``) accepted besides the
        identifier's. A signed request for any other authority is refused with ``421``:
        the covered ``@authority`` binds a signature to its target, and an agent token has
        no ``aud`` (digest §2). With the discovery cache's
        ``allow_insecure_loopback_for_development``, loopback authorities are accepted too.
    """

    def __init__(  # noqa: PLR0917 - the constructor the issue names
        self,
        identifier: str,
        signing_key: PrivateKey,
        kid: str,
        policies: Mapping[str, ResourcePolicy],
        discovery_cache: DiscoveryCache,
        replay_store: ReplayStore | None = None,
        *,
        new_jti: Callable[[], str] | None = None,
        resource_token_lifetime: int = RESOURCE_TOKEN_MAX_LIFETIME,
        token_memo_size: int = 4_096,
        person_records: PersonRecordStore | None = None,
        emit_legacy_person_token_jti: bool = False,
        replay_safe_methods: bool = False,
        authorities: Iterable[str] = (),
    ) -> None:
        if not isinstance(identifier, str) or not identifier:
            raise LocalError("identifier must be the resource's server identifier")
        if not policies or not all(
            isinstance(p, str) and p.startswith("/") and isinstance(v, ResourcePolicy)
            for p, v in policies.items()
        ):
            raise LocalError("policies must map path prefixes ('/...') to ResourcePolicy")
        if isinstance(token_memo_size, bool) or not isinstance(token_memo_size, int):
            raise LocalError("token_memo_size must be an int")
        if not 0 < resource_token_lifetime <= RESOURCE_TOKEN_MAX_LIFETIME:
            raise LocalError(f"resource_token_lifetime must be 1..{RESOURCE_TOKEN_MAX_LIFETIME}")
        self.identifier = identifier
        self.signing_key = signing_key
        self.kid = kid
        # fixed at construction (read-only): the routing table below is built from it
        self.policies: Mapping[str, ResourcePolicy] = MappingProxyType(dict(policies))
        # longest prefix first: the first match is the longest matching prefix
        self._routes: tuple[tuple[str, str, ResourcePolicy], ...] = tuple(
            (prefix, prefix.rstrip("/") + "/", policy)
            for prefix, policy in sorted(self.policies.items(), key=lambda kv: -len(kv[0]))
        )
        self.discovery_cache = discovery_cache
        self.replay_store: ReplayStore = (
            replay_store if replay_store is not None else MemoryReplayStore()
        )
        self.new_jti = new_jti
        self.resource_token_lifetime = resource_token_lifetime
        self.token_memo_size = max(token_memo_size, 1)
        self.person_records: PersonRecordStore = (
            person_records if person_records is not None else MemoryPersonRecords()
        )
        self.emit_legacy_person_token_jti = emit_legacy_person_token_jti
        self.replay_safe_methods = replay_safe_methods
        own = _authority(identifier)
        extra = tuple(authorities)
        if own is None or not all(isinstance(a, str) and a for a in extra):
            raise LocalError("authorities must be host[:port] strings")
        # host[:port] as @authority covers it: lowercase, no default https port
        self.authorities = frozenset({own, *(a.lower().removesuffix(":443") for a in extra)})
        self._own_prefixes = tuple(
            f"{scheme}://{a}{end}"
            for a in self.authorities
            for scheme in ("https", "http")
            for end in "/?#"
        )
        # (token, algorithms) -> (typ, discovery answer, validated model, validated at)
        self._memo: dict[tuple[str, tuple[str, ...]], tuple[str, _Key, Token, int]] = {}

    # ------------------------------------------------------------------ routing

    def policy_for(self, path: str) -> ResourcePolicy | None:
        """The policy of the longest matching prefix, or ``None``."""
        for prefix, below, policy in self._routes:
            if path.startswith(below) or prefix in (path, "/"):
                return policy
        return None

    # ------------------------------------------------------------------ the check

    def check(
        self,
        request: HttpRequest,
        now: int,
        *,
        policy: ResourcePolicy | None = None,
        bound_to: str | None = None,
    ) -> Outcome:
        """Decide on ``request`` at time ``now`` (Unix seconds).

        Order (digest §8 "Resource"): the RFC 9421 signature with the raw ``Signature-Key``
        (§2 steps 1-7), token ``typ``, ``dwk`` / ``iss`` / ``kid`` and issuer trust, issuer
        metadata and JWKS (may answer :class:`NeedFetch`), the token's signature, ``exp`` /
        ``iat``, ``aud``, key binding (``cnf.jwk`` = signing key), identity; then the route
        policy (scope), and finally the replay store.

        ``policy`` overrides the route lookup (for a binding that routes itself).
        ``bound_to``: the request must be signed by the key with this thumbprint (a poll of
        a held call); another key's valid request is refused with ``403`` before anything
        is recorded or issued for it.
        """
        if isinstance(now, bool) or not isinstance(now, int):
            raise LocalError("now must be an int (Unix seconds)")
        if policy is None:
            policy = self.policy_for(_path(request.url))
            if policy is None:
                return Challenge.denied("invalid_request", "no such resource", status=404)
        if not any(request.has_header(name) for name in _SIGNATURE_FIELDS):
            return _unsigned_requirement(policy.mode)
        try:
            verified = self._verify_signature(request, policy, now)
            refused = self._other_authority(request.url)
            if refused is not None:
                return refused
            outcome = self._after_signature(
                request, verified, policy, now, bound_to=bound_to, authorizing=None
            )
            assert not isinstance(outcome, Authorized)  # only authorize() grants
            return outcome
        except SignatureError as exc:
            return Challenge.signature(exc, accepted_algs=policy.algorithms)
        except TokenError as exc:
            return Challenge.signature(
                SignatureError(exc.message, code=exc.signature_code),
                accepted_algs=policy.algorithms,
            )

    def authorize(
        self,
        request: HttpRequest,
        now: int,
        *,
        policy: ResourcePolicy,
        grant: Grant,
        aud: str | None = None,
    ) -> Authorized | Challenge | NeedFetch:
        """Decide on a ``POST`` to the resource's ``authorization_endpoint`` (digest §1.4
        step 3(a), §7.1) at ``now``; :class:`NeedFetch` as for :meth:`check`.

        ``policy`` gives the signature window, algorithms, covered components and trusted
        Person Servers (its mode is not used: only a person token is accepted). After the
        signature and the person token verified, ``grant(request, person_token)`` reads the
        body and returns the :class:`~aauth.resource.authorization.AuthorizationRequest` to
        issue for or the refusal; then the replay store, the person-token record (for
        step-up) and the resource token (``aud``: ``aud`` if given, else the person token's
        ``iss``), answered as :class:`Authorized`.

        Answers: unsigned, or signed with an agent or auth token: ``401
        requirement=person-token``. An HTTP signature failure (``verify_request``: the
        signature, its components, the ``Signature-Key`` header and the token's parse into
        the key) or a replay: ``401 Signature-Error``. A person token that fails its own
        checks (issuer trust, discovery of its keys, JWT signature, ``exp``/``iat``,
        ``aud``, claims, ``cnf``): ``400 invalid_person_token`` (digest §7.1 table, more
        specific for this endpoint than the generic §3.3 rule), no signature headers.
        """
        if isinstance(now, bool) or not isinstance(now, int):
            raise LocalError("now must be an int (Unix seconds)")
        if not any(request.has_header(name) for name in _SIGNATURE_FIELDS):
            return _unsigned_requirement(AccessMode.PERSON_TOKEN)
        try:
            verified = self._verify_signature(request, policy, now)
        except SignatureError as exc:
            if exc.code in _TOKEN_CODES and _presented_typ(request) == TYP_PERSON:
                # an expired or malformed person token (digest §7.1), found while the key
                # was taken from it
                return _invalid_person_token(exc.message, exc.code)
            return Challenge.signature(exc, accepted_algs=policy.algorithms)
        refused = self._other_authority(request.url)
        if refused is not None:
            return refused
        authorizing = _Authorizing(grant, aud)
        try:
            outcome = self._after_signature(
                request, verified, policy, now, bound_to=None, authorizing=authorizing
            )
        except SignatureError as exc:
            if verified.token_header.get("typ") != TYP_PERSON:
                # an unknown typ (agent and auth tokens get the person-token requirement)
                return Challenge.signature(exc, accepted_algs=policy.algorithms)
            message, code = exc.message, exc.code
        except TokenError as exc:  # raised for person tokens only (typ checked first)
            message, code = exc.message, exc.signature_code
        else:
            assert not isinstance(outcome, Verified)  # the grant path answers Authorized
            return outcome
        return _invalid_person_token(message, code)

    @staticmethod
    def _verify_signature(
        request: HttpRequest, policy: ResourcePolicy, now: int
    ) -> VerifiedRequest:
        """The RFC 9421 signature with the route's window, covered components and
        algorithms (digest §2 steps 1-7)."""
        return verify_request(
            request,
            now=now,
            max_skew=policy.signature_window,
            required_components=AAUTH_REQUIRED_COMPONENTS + policy.extra_components,
            schemes=("jwt",),  # AAuth -11 §"Keying material": sig=jwt only
            algorithms=policy.algorithms,
        )

    def _other_authority(self, url: str) -> Challenge | None:
        """``421`` when a valid signature covers an authority that is not ours (virtual
        hosting, a shared proxy: RFC 9110 §15.5.20), before anything is fetched or recorded
        for the request; ``None`` for ours."""
        if self._our_authority(url):
            return None
        return Challenge.denied(
            "invalid_request", "the request is for another authority", status=421
        )

    def _our_authority(self, url: str) -> bool:
        if url.startswith(self._own_prefixes):
            return True  # the usual case, without parsing
        authority = _authority(url)
        if authority in self.authorities:
            return True
        return (
            authority is not None
            and self.discovery_cache.egress.allow_insecure_loopback_for_development
            and _LOOPBACK_RE.fullmatch(authority) is not None
        )

    def _after_signature(
        self,
        request: HttpRequest,
        verified: VerifiedRequest,
        policy: ResourcePolicy,
        now: int,
        *,
        bound_to: str | None,
        authorizing: _Authorizing | None,
    ) -> Outcome | Authorized:
        token = verified.token
        assert token is not None  # the jwt scheme always carries one
        accepted = _ACCEPTED[policy.mode] if authorizing is None else _PERSON_ONLY
        memo = self._memo.get((token, policy.algorithms))
        if memo is not None:
            typ, found, model, validated_at = memo
            # the same token, already validated with the key discovery still hands out:
            # only what can change is checked again (trust, route, time, key, binding)
            if typ not in accepted:
                return _unsigned_requirement(policy.mode, verified.thumbprint)
            if not self._trusted(policy, typ, model.iss):
                raise SignatureError(
                    f"tokens of {model.iss} are not trusted here", code="invalid_jwt"
                )
            step = self.discovery_cache.key(
                found.issuer, found.dwk, found.kid, now=now, alg=found.alg
            )
            if step is found.key and validated_at <= now < model.exp:
                check_key_binding(model, verified.thumbprint)
                return self._decide(
                    request,
                    verified,
                    model,
                    policy,
                    now,
                    bound_to=bound_to,
                    authorizing=authorizing,
                )
        return self._validate_token(
            request,
            verified,
            token,
            policy,
            now,
            accepted=accepted,
            bound_to=bound_to,
            authorizing=authorizing,
        )

    def _validate_token(
        self,
        request: HttpRequest,
        verified: VerifiedRequest,
        token: str,
        policy: ResourcePolicy,
        now: int,
        *,
        accepted: frozenset[str],
        bound_to: str | None,
        authorizing: _Authorizing | None,
    ) -> Outcome | Authorized:
        # digest §8 "Resource": typ first
        typ = verified.token_header.get("typ")
        if typ not in (TYP_AGENT, TYP_PERSON, TYP_AUTH):
            raise SignatureError(f"a {typ!r} token cannot sign requests", code="invalid_jwt")
        if typ not in accepted:
            # an agent token where a person is needed: ask for the person token
            return _unsigned_requirement(policy.mode, verified.thumbprint)
        # dwk, iss, kid (token layer), before any fetch on the issuer's behalf
        found = token_discovery(
            token,
            typ=typ,
            allowed_algs=policy.algorithms,
            allow_insecure_loopback_for_development=(
                self.discovery_cache.egress.allow_insecure_loopback_for_development
            ),
        )
        if not self._trusted(policy, typ, found.iss):
            raise SignatureError(f"tokens of {found.iss} are not trusted here", code="invalid_jwt")
        header_alg = found.parsed.header.get("alg")
        alg = header_alg if isinstance(header_alg, str) else None
        step = self.discovery_cache.key(found.iss, found.dwk, found.kid, now=now, alg=alg)
        if isinstance(step, (FetchNeeded, FetchPending)):
            return NeedFetch(
                url=step.url,
                purpose=step.purpose,
                issuer=found.iss,
                pending=isinstance(step, FetchPending),
            )
        model = self._validate(found.parsed, typ, step, policy, now)
        if isinstance(model, NeedFetch):
            return model
        # AAuth -11 §"Proof of Possession": cnf.jwk is the key that signed the request
        check_key_binding(model, verified.thumbprint)
        if len(self._memo) >= self.token_memo_size:
            self._memo.clear()  # bounded: tokens come from peers
        self._memo[token, policy.algorithms] = (typ, _Key(step, alg), model, now)
        return self._decide(
            request, verified, model, policy, now, bound_to=bound_to, authorizing=authorizing
        )

    def _trusted(self, policy: ResourcePolicy, typ: str, issuer: str) -> bool:
        if typ == TYP_AGENT:
            return policy.trusts_agent_provider(issuer)
        if typ == TYP_PERSON:
            return policy.trusts_person_server(issuer)
        return policy.trusts_auth_issuer(issuer)

    def _validate(
        self, token: ParsedJwt, typ: str, key: KeyFound, policy: ResourcePolicy, now: int
    ) -> Token | NeedFetch:
        """The type's validator with the discovered key: signature, times, ``aud``, claims
        (given the parse :func:`~aauth.tokens.token_discovery` made, so it is not redone)."""
        algs = policy.algorithms
        # identifiers (iss, aud, ps) may be loopback http only in the development mode the
        # discovery cache's egress policy names (AAuth -11 §"Server Identifiers")
        dev = self.discovery_cache.egress.allow_insecure_loopback_for_development
        try:
            if typ == TYP_AGENT:
                return validate_agent_token(
                    token,
                    key.jwk,
                    now=now,
                    allowed_algs=algs,
                    allow_insecure_loopback_for_development=dev,
                )
            if typ == TYP_PERSON:
                return validate_person_token(
                    token,
                    key.jwk,
                    now=now,
                    audience=self.identifier,
                    allowed_algs=algs,
                    allow_insecure_loopback_for_development=dev,
                )
            return validate_auth_token(
                token,
                key.jwk,
                now=now,
                audience=self.identifier,
                allowed_algs=algs,
                allow_insecure_loopback_for_development=dev,
            )
        except TokenError as exc:
            if exc.claim is None and exc.signature_code == "invalid_jwt" and not key.stale:
                # AAuth -11 §"JWKS Discovery and Caching": a key that fails verification
                # SHOULD trigger one JWKS refresh (rate-limited by the cache)
                refresh = self.discovery_cache.key_rejected(key.issuer, key.dwk, key.kid, now=now)
                if refresh is not None:
                    return NeedFetch(
                        url=refresh.url,
                        purpose=refresh.purpose,
                        issuer=key.issuer,
                        pending=isinstance(refresh, FetchPending),
                    )
            raise

    def _decide(
        self,
        request: HttpRequest,
        verified: VerifiedRequest,
        model: Token,
        policy: ResourcePolicy,
        now: int,
        *,
        bound_to: str | None,
        authorizing: _Authorizing | None = None,
    ) -> Outcome | Authorized:
        """Binding to a held call, identity and route policy, and the replay store before
        anything is recorded or issued (digest §8: ``(iss, sub)`` identity)."""
        if authorizing is not None:
            assert isinstance(model, PersonToken)  # _PERSON_ONLY: nothing else gets here
            return self._authorized(request, verified, model, policy, now, authorizing=authorizing)
        if bound_to is not None and verified.thumbprint != bound_to:
            # AAuth -11 §"Deferred Responses": a pending URL answers only the agent that
            # made the call; nothing is recorded or issued for another key
            return Challenge.denied("invalid_request", "another agent's pending request")
        if isinstance(model, AgentToken):
            session: str | None = None
            if policy.mode is AccessMode.SESSION_TOKEN:
                try:
                    # AAuth -11 §"AAuth-Access": token68 grammar; verify_request made the
                    # signature cover `authorization` whenever the AAuth scheme is present
                    session = read_authorization(request)
                except RemoteError as exc:
                    return Challenge.denied("invalid_request", exc.message, status=400)
            self._remember(request, verified, policy, now)
            return Verified(
                mode=policy.mode,
                token_type=TYP_AGENT,
                thumbprint=verified.thumbprint,
                token=model,
                agent=model.sub,
                ps=model.ps,
                session_token=session,
            )
        if isinstance(model, PersonToken):
            self._remember(request, verified, policy, now)
            # AAuth -11 §"Resource Token": presented_jti on step-up comes from this record
            record = PersonRecord.of(model, keep_for=self.resource_token_lifetime)
            self.person_records.remember(record, now=now)
            if policy.mode is AccessMode.AUTH_TOKEN:
                return self._resource_token(verified, record, policy.scope, policy, now)
            return Verified(
                mode=policy.mode,
                token_type=TYP_PERSON,
                thumbprint=verified.thumbprint,
                token=model,
                ps=model.iss,
                sub=model.sub,
            )
        missing = _ungranted(policy.scopes - model.scopes, model)
        if missing:
            return self._step_up(request, verified, model, missing=missing, policy=policy, now=now)
        self._remember(request, verified, policy, now)
        return Verified(
            mode=policy.mode,
            token_type=TYP_AUTH,
            thumbprint=verified.thumbprint,
            token=model,
            ps=model.ps,
            sub=model.sub,
            scope=model.scope,
        )

    def _authorized(
        self,
        request: HttpRequest,
        verified: VerifiedRequest,
        person: PersonToken,
        policy: ResourcePolicy,
        now: int,
        *,
        authorizing: _Authorizing,
    ) -> Authorized | Challenge:
        """The authorization endpoint after the person token verified: the grant (body,
        scope, account), then the replay store before anything is recorded or issued, the
        person-token record, and the resource token (digest §1.4 step 3, §4.4)."""
        granted = authorizing.grant(request, person)
        if isinstance(granted, Challenge):
            return granted
        try:
            self._remember(request, verified, policy, now)
        except SignatureError as exc:
            return Challenge.signature(exc, accepted_algs=policy.algorithms)
        record = PersonRecord.of(person, keep_for=self.resource_token_lifetime)
        self.person_records.remember(record, now=now)
        token = self._mint(
            verified,
            record,
            granted.scope,
            aud=authorizing.aud or record.ps,
            account=granted.account,
            now=now,
        )
        return Authorized(resource_token=token, thumbprint=verified.thumbprint)

    def _remember(
        self, request: HttpRequest, verified: VerifiedRequest, policy: ResourcePolicy, now: int
    ) -> None:
        """Refuse a signature already accepted within its window (AAuth -11 §"Freshness");
        state-changing requests only unless ``replay_safe_methods``."""
        if request.method in _SAFE_METHODS and not self.replay_safe_methods:
            return
        signature = _replay_key(
            read_signature(request, verified.label).signature, verified.algorithm
        )
        expires_at = verified.created + policy.signature_window + 1
        if not self.replay_store.add(signature, expires_at=expires_at, now=now):
            raise SignatureError("this signature was already accepted", code="invalid_signature")

    def _step_up(
        self,
        request: HttpRequest,
        verified: VerifiedRequest,
        auth: AuthToken,
        *,
        missing: frozenset[str],
        policy: ResourcePolicy,
        now: int,
    ) -> Challenge:
        """An auth token short of the route's scope (AAuth -11 §"Auth Token Required": a
        resource MAY answer ``401 requirement=auth-token`` with a new resource token at any
        time): a resource token for the scope the token had plus the route's, built from
        the record of the person's person token; without a record, ask for the person token
        (a resource token only after a verified person token, digest §8 "Resource")."""
        record = self.person_records.lookup(auth.ps, auth.sub, now=now)
        if record is None:
            return Challenge.requirement(
                PersonTokenRequired(),
                detail=f"the auth token lacks scope {' '.join(sorted(missing))}",
            )
        self._remember(request, verified, policy, now)  # a resource token is issued
        had = auth.scope.split() if auth.scope else []
        scope = " ".join([*had, *sorted(missing)])
        return self._resource_token(verified, record, scope, policy, now)

    def _resource_token(
        self,
        verified: VerifiedRequest,
        record: PersonRecord,
        scope: str,
        policy: ResourcePolicy,
        now: int,
    ) -> Challenge:
        """``401 requirement=auth-token`` with a resource token (AAuth -11 §"Auth Token
        Required"; digest §1.4 step 3, §4.4, §8 "Resource"): ``aud`` the route's Access Server
        (four-party) or the PS that issued the person token (three-party); ``ps``, ``sub``,
        ``presented_jti``, ``mission_s256`` and ``tenant`` from the person-token record."""
        resource_token = self._mint(
            verified, record, scope, aud=policy.access_server or record.ps, account=None, now=now
        )
        return Challenge.requirement(
            AuthTokenRequired(resource_token=resource_token), thumbprint=verified.thumbprint
        )

    def _mint(
        self,
        verified: VerifiedRequest,
        record: PersonRecord,
        scope: str,
        *,
        aud: str,
        account: str | None,
        now: int,
    ) -> str:
        """A signed resource token for ``record``'s person, bound to the signing key."""
        if self.new_jti is None:
            raise LocalError("auth-token routes need new_jti to issue resource tokens")
        resource_token = create_resource_token(
            self.signing_key,
            kid=self.kid,
            now=now,
            jti=self.new_jti(),
            iss=self.identifier,
            aud=aud,
            agent_jkt=verified.thumbprint,
            scope=scope,
            ps=record.ps,
            sub=record.sub,
            presented_jti=record.presented_jti,
            mission_s256=record.mission_s256,
            tenant=record.tenant,
            account=account,
            lifetime=self.resource_token_lifetime,
            emit_legacy_person_token_jti=self.emit_legacy_person_token_jti,
            allow_insecure_loopback_for_development=(
                self.discovery_cache.egress.allow_insecure_loopback_for_development
            ),
        )
        return resource_token
