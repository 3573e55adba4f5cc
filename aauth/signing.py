"""AAuth request signatures: RFC 9421 with the key named by ``Signature-Key``.

:func:`sign_request` is the signer side of the AAuth -11 profile (digest §2, §8 "Agent");
:func:`verify_request` is the verifier algorithm of the same section, steps 1-7, for the
schemes whose key travels in the request (``jwt``, ``jkt-jwt``, ``hwk``) and, through a
caller-supplied lookup, ``jwks_uri``. It proves that the request was signed by the key it
names; it does not yet trust that key's token (issuer, audience, ``typ``): that is the token
layer's job, which gets the raw token and the thumbprint from :class:`VerifiedRequest`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, NoReturn

from . import sfv
from ._slots import slot_setters
from .components import ComponentId, remember
from .digest import content_digest, verify_content_digest
from .errors import JoseError, LocalError, SignatureError
from .http import HttpRequest, combined_value
from .httpsig import (
    SignatureInput,
    Signer,
    read_signature_parts,
    scan_signature_input,
    sign_with_headers,
    verify_signature_parts,
)
from .httpsig_algorithms import HttpSigAlgorithm, get_algorithm, http_alg_from_jose
from .jwk import SUPPORTED_ALGS, jwk_thumbprint
from .jws import DEFAULT_MAX_TOKEN_LENGTH, ParsedJwt, check_time_claims, parse_jwt, verify_jwt
from .keys import PrivateKey, PublicKey, public_key_from_jwk
from .signature_key import (
    DEFAULT_MAX_SIGNATURE_KEY_LENGTH,
    HwkKey,
    JktJwtKey,
    JwksUriKey,
    JwtKey,
    SignatureKeyMember,
    build_signature_key,
    parse_signature_key,
    signature_key_member,
)

__all__ = [
    "AAUTH_REQUIRED_COMPONENTS",
    "BODY_COMPONENTS",
    "DEFAULT_MAX_SIGNATURE_HEADER_LENGTH",
    "DEFAULT_MAX_SKEW",
    "INLINE_SCHEMES",
    "JwksLookup",
    "VerifiedRequest",
    "default_components",
    "sign_request",
    "verify_request",
]

#: The components every AAuth request signature covers (AAuth -11 §"HTTP Message
#: Signatures Profile": MUST).
AAUTH_REQUIRED_COMPONENTS: Final = ("@method", "@authority", "@path", "signature-key")
#: Added for a request with a body to a PS or AS endpoint (AAuth -11: MUST).
BODY_COMPONENTS: Final = ("content-type", "content-digest")
#: Default window for ``created``, in seconds, both directions (AAuth -11 default 60 s;
#: digest [AMBIG-8]: |now - created| <= window).
DEFAULT_MAX_SKEW: Final = 60
#: Schemes whose key travels in the request itself.
INLINE_SCHEMES: Final = ("jwt", "jkt-jwt", "hwk")
#: Default bound on each of ``Signature-Input`` and ``Signature``, in characters.
DEFAULT_MAX_SIGNATURE_HEADER_LENGTH: Final = 8_192

_JKT_TYPES: Final[Mapping[str, tuple[str, str]]] = {
    # signature-key-08 §"jkt-jwt": typ -> (iss prefix, thumbprint hash)
    "jkt-s256+jwt": ("urn:jkt:sha-256:", "sha-256"),
    "jkt-s512+jwt": ("urn:jkt:sha-512:", "sha-512"),
}

#: Looks up the JWK (or JWKS) for a ``jwks_uri`` member in the caller's cache; ``None`` when
#: it is not known (the verifier then answers ``unknown_key``, retryable after a fetch).
JwksLookup = Callable[[JwksUriKey], Mapping[str, object] | None]


def _json_copy(value: Any) -> Any:
    """A deep copy of decoded JSON (objects, arrays, scalars)."""
    if type(value) is dict:
        return {key: _json_copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_json_copy(item) for item in value]
    return value


class _TokenSource:
    """A slot (not a dataclass field) for the memoised token parse that a
    :class:`VerifiedRequest` copies its ``token_header`` / ``token_claims`` from."""

    __slots__ = ("_source",)

    _source: ParsedJwt | None


_NEW_DICT: Final[Any] = object()  # default marker: a fresh dict for each instance


@dataclass(frozen=True, slots=True, init=False)
class VerifiedRequest(_TokenSource):
    """What :func:`verify_request` proved.

    :param label: the signature label that was verified.
    :param components: the covered component identifiers, serialised, in order.
    :param params: the signature parameters (``created``, ``expires``, ...).
    :param created: the ``created`` parameter.
    :param scheme: the ``Signature-Key`` scheme (``jwt``, ``jkt-jwt``, ``hwk``, ``jwks_uri``).
    :param public_key: the key that verified the signature.
    :param public_jwk: its public JWK, with ``alg``.
    :param thumbprint: its RFC 7638 SHA-256 thumbprint (the AAuth ``agent_jkt``).
    :param algorithm: the JOSE algorithm of the key (``Ed25519`` or ``ES256``).
    :param token: the compact JWT of a ``jwt`` / ``jkt-jwt`` member (not yet trusted for
        ``jwt``), else ``None``.
    :param token_header: its decoded JOSE header (empty when there is no token).
    :param token_claims: its decoded claims (empty when there is no token).
    :param signature_key: the ``Signature-Key`` member used.

    ``public_jwk``, ``token_header`` and ``token_claims`` of a result from
    :func:`verify_request` are built on first access (the JSON deep-copied from the memoised
    token parse, so changing them never affects another request).
    """

    label: str
    components: tuple[str, ...]
    params: dict[str, sfv.BareItem]
    created: int
    scheme: str
    public_key: PublicKey
    public_jwk: dict[str, str]
    thumbprint: str
    algorithm: str
    signature_key: SignatureKeyMember
    token: str | None = None
    token_header: dict[str, Any] = field(default_factory=dict)
    token_claims: dict[str, Any] = field(default_factory=dict)

    def __init__(  # noqa: PLR0917 - the dataclass's positional signature
        self,
        label: str,
        components: tuple[str, ...],
        params: dict[str, sfv.BareItem],
        created: int,
        scheme: str,
        public_key: PublicKey,
        public_jwk: dict[str, str],
        thumbprint: str,
        algorithm: str,
        signature_key: SignatureKeyMember,
        token: str | None = None,
        token_header: dict[str, Any] = _NEW_DICT,
        token_claims: dict[str, Any] = _NEW_DICT,
    ) -> None:
        _set_label(self, label)
        _set_components(self, components)
        _set_params(self, params)
        _set_created(self, created)
        _set_scheme(self, scheme)
        _set_public_key(self, public_key)
        _set_public_jwk(self, public_jwk)
        _set_thumbprint(self, thumbprint)
        _set_algorithm(self, algorithm)
        _set_signature_key(self, signature_key)
        _set_token(self, token)
        _set_token_header(self, {} if token_header is _NEW_DICT else token_header)
        _set_token_claims(self, {} if token_claims is _NEW_DICT else token_claims)
        _set_source(self, None)

    if not TYPE_CHECKING:  # pragma: no branch - hidden from type checkers (any name would do)

        def __getattr__(self, name: str) -> Any:
            # Reached only for a field that `_verified` left empty, on its first access.
            if name == "public_jwk":
                value = self.public_key.jwk
            elif name in ("token_header", "token_claims"):
                source = self._source
                if source is None:
                    value = {}
                else:
                    value = _json_copy(source.header if name == "token_header" else source.claims)
            else:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self
                )
            object.__setattr__(self, name, value)
            return value

    def covers(self, component: str) -> bool:
        """Whether the serialised identifier or bare name ``component`` was covered."""
        wanted = ComponentId.parse(component).serialized
        return wanted in self.components


(
    _set_label,
    _set_components,
    _set_params,
    _set_created,
    _set_scheme,
    _set_public_key,
    _set_public_jwk,
    _set_thumbprint,
    _set_algorithm,
    _set_signature_key,
    _set_token,
    _set_token_header,
    _set_token_claims,
    _set_source,
) = slot_setters(
    VerifiedRequest,
    "label",
    "components",
    "params",
    "created",
    "scheme",
    "public_key",
    "public_jwk",
    "thumbprint",
    "algorithm",
    "signature_key",
    "token",
    "token_header",
    "token_claims",
    "_source",
)


def _verified(
    *,
    label: str,
    components: tuple[str, ...],
    params: dict[str, sfv.BareItem],
    created: int,
    member: SignatureKeyMember,
    public_key: PublicKey,
    parsed: ParsedJwt | None,
) -> VerifiedRequest:
    """The result of :func:`verify_request`, with ``public_jwk``, ``token_header`` and
    ``token_claims`` left to be built on first access."""
    result: VerifiedRequest = object.__new__(VerifiedRequest)
    _set_label(result, label)
    _set_components(result, components)
    _set_params(result, params)
    _set_created(result, created)
    _set_scheme(result, member.scheme)
    _set_public_key(result, public_key)
    _set_thumbprint(result, public_key.thumbprint)
    _set_algorithm(result, public_key.alg)
    _set_signature_key(result, member)
    _set_token(result, getattr(member, "jwt", None))
    _set_source(result, parsed)
    return result


# --------------------------------------------------------------------------------- signing


def _has_aauth_authorization(index: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether a request (its header index) carries ``Authorization: AAuth ...``."""
    authorization = combined_value(index.get("authorization"))
    return authorization is not None and authorization[:6].lower() == "aauth "


def _components_for(
    has_body: bool, has_content_type: bool, aauth_authorization: bool
) -> tuple[str, ...]:
    components = list(AAUTH_REQUIRED_COMPONENTS)
    if has_body:
        # AAuth -11 §"Covered Components": a body is covered by `content-digest` (RFC 9530),
        # and its `content-type` whenever there is one (PS and AS requests MUST send one;
        # their verifiers demand it with `require_body_digest`).
        components[3:3] = BODY_COMPONENTS if has_content_type else ("content-digest",)
    if aauth_authorization:
        # AAuth -11: whenever `Authorization: AAuth` is sent, `authorization` MUST be covered.
        components.insert(-1, "authorization")
    return tuple(components)


_DEFAULT_COMPONENTS: Final = {
    (body, content_type, authorization): _components_for(body, content_type, authorization)
    for body in (False, True)
    for content_type in (False, True)
    for authorization in (False, True)
}


def default_components(request: HttpRequest) -> tuple[str, ...]:
    """The components AAuth covers on ``request`` (AAuth -11 §"Covered Components"):
    ``@method``, ``@authority``, ``@path``; with a body ``content-type`` (when present) and
    ``content-digest``; ``authorization`` when it carries the ``AAuth`` scheme; and
    ``signature-key`` last. :func:`sign_request` signs these unless told otherwise, and the
    agent engine adds a server's extra components before ``signature-key``."""
    index = request._header_index()
    has_body = bool(request.body)
    return _DEFAULT_COMPONENTS[
        has_body,
        has_body and "content-type" in index,
        _has_aauth_authorization(index),
    ]


@lru_cache(maxsize=256)
def _jwt_member_text(token: str, label: str) -> str:
    """The ``jwt`` member for ``token`` (memoised: an agent sends the same token until it
    expires, and checking its 500+ characters costs more than the lookup)."""
    return build_signature_key(JwtKey(label=label, jwt=token))


def _signature_key_text(signature_key: str | SignatureKeyMember, label: str) -> str:
    if isinstance(signature_key, str):
        return _jwt_member_text(signature_key, label)
    if signature_key.label != label:
        raise LocalError(
            f"the Signature-Key member is for label {signature_key.label!r}, not {label!r}"
        )
    return build_signature_key(signature_key)


def sign_request(
    request: HttpRequest,
    key: PrivateKey | Signer,
    *,
    signature_key: str | SignatureKeyMember,
    created: int,
    label: str = "sig",
    components: Sequence[str] | None = None,
    expires: int | None = None,
    digest_algorithm: str = "sha-256",
) -> HttpRequest:
    """Sign ``request`` for AAuth and return a copy with ``Signature-Key``,
    ``Signature-Input`` and ``Signature`` (and ``Content-Digest`` when needed).

    :param key: the private key whose public key is in the ``Signature-Key`` material (for
        the ``jwt`` scheme: the token's ``cnf.jwk``).
    :param signature_key: a compact JWT (the ``jwt`` scheme, what AAuth agents send) or a
        ``Signature-Key`` member (:class:`~aauth.signature_key.JwtKey`, ``HwkKey``, ...).
    :param created: the signature time, Unix seconds (the engine does not read the clock).
    :param components: the covered components. Default: ``@method @authority @path
        signature-key``, plus ``content-type content-digest`` when there is a body and
        ``authorization`` when an ``Authorization: AAuth`` header is present. An explicit
        list must still include ``signature-key`` (signature-key-08 §3: signers MUST cover it).
    :param expires: an optional ``expires`` parameter.
    :param digest_algorithm: the ``Content-Digest`` algorithm added when ``content-digest`` is
        covered and the request has none (RFC 9530: ``sha-256`` or ``sha-512``).

    The ``alg`` parameter is never sent (AAuth -11). Raises :class:`LocalError` when the
    request already has a ``Signature-Key`` header, the covered list lacks ``signature-key``,
    a covered field is absent (e.g. ``content-type`` with a body), or an existing
    ``Content-Digest`` does not match the body.
    """
    if isinstance(created, bool) or not isinstance(created, int) or created < 0:
        raise LocalError("created must be a non-negative int (Unix seconds)")
    covered = tuple(components) if components is not None else default_components(request)
    if "signature-key" not in covered:
        raise LocalError("an AAuth signature must cover signature-key (signature-key-08 §3)")
    if "signature-key" in request._header_index():
        raise LocalError("the request already has a Signature-Key header")
    added: tuple[tuple[str, str], ...] = ()
    if "content-digest" in covered:
        existing = request.header("content-digest")
        if existing is None:
            added = (("Content-Digest", content_digest(request.body, (digest_algorithm,))),)
        else:
            try:
                verify_content_digest(existing, request.body)
            except SignatureError as exc:
                raise LocalError(f"the request's Content-Digest is wrong: {exc.message}") from exc
    added += (("Signature-Key", _signature_key_text(signature_key, label)),)
    return sign_with_headers(
        request,
        added,  # both values are str built here
        key,
        label=label,
        components=covered,
        created=created,
        expires=expires,
    )


# ------------------------------------------------------------------------------- verifying


def _choose_label(labels: Sequence[str], signature_key_text: str, max_length: int) -> str:
    """AAuth -11 leaves open which label to verify (digest [AMBIG-22]). Our reading: the
    only label of ``Signature-Input``; with several, the only one that also has a
    ``Signature-Key`` member; anything else is ambiguous and refused. (The caller takes a
    sole label itself.)"""
    keyed = [
        label
        for label in labels
        if label in parse_signature_key(signature_key_text, max_length=max_length)
    ]
    if len(keyed) == 1:
        return keyed[0]
    raise SignatureError(
        f"the request carries {len(labels)} signatures and {len(keyed)} have a Signature-Key "
        "member; name the label to verify",
        code="invalid_request",
    )


def _check_created(parsed: SignatureInput, now: int, max_skew: int) -> int:
    created = parsed.created
    if created is None:
        # AAuth -11: `created` is REQUIRED.
        raise SignatureError("the signature has no 'created' parameter")
    if created > now + max_skew:
        raise SignatureError(
            f"'created' {created} is {created - now} s in the future (window {max_skew} s)",
            retryable=True,
        )
    if now - created > max_skew:
        raise SignatureError(
            f"'created' {created} is {now - created} s old (window {max_skew} s)", retryable=True
        )
    expires = parsed.expires
    if expires is not None and now > expires:
        # RFC 9421 §3.2.1; AAuth -11: if present the verifier MUST honour it.
        raise SignatureError(f"the signature expired at {expires}", retryable=True)
    return created


@lru_cache(maxsize=64)
def _serialized_cached(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple([ComponentId.parse(name).serialized for name in names])


def _serialized(names: tuple[str, ...]) -> tuple[str, ...]:
    """The serialised identifiers of component names (memoised per list)."""
    try:
        return _serialized_cached(names)
    except TypeError:  # an unhashable entry; ComponentId.parse refuses it
        return tuple([ComponentId.parse(name).serialized for name in names])


_COVERAGE: dict[tuple[int, tuple[str, ...]], tuple[tuple[ComponentId, ...], tuple[str, ...]]] = {}


def _covered(components: tuple[ComponentId, ...], required: tuple[str, ...]) -> tuple[str, ...]:
    """The serialised covered identifiers, once ``required`` is known to be among them.

    Memoised per (components tuple, required list): the parser hands out the same cached
    tuple for the same covered list, which the entry pins so that its id stays its own."""
    key = (id(components), required)
    try:
        entry = _COVERAGE.get(key)
    except TypeError:  # an unhashable required entry; ComponentId.parse refuses it below
        entry = None
    if entry is not None and entry[0] is components:
        return entry[1]
    covered = tuple([c.serialized for c in components])
    _check_components(covered, required)  # raises unless every entry is a str (hashable)
    remember(_COVERAGE, key, (components, covered))
    return covered


def _check_components(covered: tuple[str, ...], required: tuple[str, ...]) -> None:
    wanted = _serialized(required)
    for name in wanted:
        if name not in covered:
            missing = [name for name in wanted if name not in covered]
            raise SignatureError(
                f"the signature does not cover {', '.join(missing)}",
                code="invalid_input",
                required_input=required,
            )


@lru_cache(maxsize=512)
def _cnf_key(
    token: str, max_token_length: int, allowed_algs: tuple[str, ...], allow_eddsa: bool
) -> tuple[ParsedJwt, PublicKey]:
    """Parse a ``jwt`` member's token and build its ``cnf.jwk`` (memoised: an agent presents
    the same token on every request until it expires)."""
    parsed = parse_jwt(token, max_length=max_token_length)
    cnf = parsed.claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        # signature-key-08 §"jwt": the JWT MUST have cnf.jwk.
        raise JoseError("the JWT has no cnf.jwk", code="invalid_jwt")
    return parsed, public_key_from_jwk(jwk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)


def _jkt_key(
    token: str,
    *,
    now: int,
    leeway: int,
    max_token_length: int,
    allowed_algs: tuple[str, ...],
    allow_eddsa: bool,
    cache: bool,
) -> tuple[ParsedJwt, PublicKey]:
    """signature-key-08 §"jkt-jwt": self-issued delegation from the header ``jwk``."""
    parsed = parse_jwt(token, max_length=max_token_length)
    typ = parsed.header.get("typ")
    kind = _JKT_TYPES.get(typ) if isinstance(typ, str) else None
    if kind is None:
        raise JoseError(f"a jkt-jwt token must have typ jkt-s256+jwt, not {typ!r}")
    prefix, hash_name = kind
    identity_jwk = parsed.header.get("jwk")
    if not isinstance(identity_jwk, dict):
        raise JoseError("a jkt-jwt token must carry the identity key in its header 'jwk'")
    identity = public_key_from_jwk(identity_jwk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)
    expected_iss = prefix + jwk_thumbprint(identity_jwk, hash_name=hash_name)
    if parsed.claims.get("iss") != expected_iss:
        raise JoseError("the jkt-jwt 'iss' is not the thumbprint URN of its header 'jwk'")
    claims = verify_jwt(
        parsed,
        identity,
        now=now,
        typ=None,
        leeway=leeway,
        allowed_algs=allowed_algs,
        allow_eddsa=allow_eddsa,
    )
    if cache and not isinstance(claims.get("jti"), str):
        raise JoseError("a jkt-jwt member with 'cache' needs a 'jti' claim")
    _, key = _cnf_key(token, max_token_length, allowed_algs, allow_eddsa)
    return parsed, key


def _resolve_key(
    member: SignatureKeyMember,
    *,
    now: int,
    leeway: int,
    max_token_length: int,
    allowed_algs: tuple[str, ...],
    allow_eddsa: bool,
    jwks_lookup: JwksLookup | None,
) -> tuple[PublicKey, ParsedJwt | None]:
    if isinstance(member, JwtKey):
        parsed, key = _cnf_key(member.jwt, max_token_length, allowed_algs, allow_eddsa)
        # signature-key-08 §"jwt": the JWT MUST have `exp`, checked before use.
        check_time_claims(parsed.claims, now=now, leeway=leeway)
        return key, parsed
    if isinstance(member, JktJwtKey):
        parsed, key = _jkt_key(
            member.jwt,
            now=now,
            leeway=leeway,
            max_token_length=max_token_length,
            allowed_algs=allowed_algs,
            allow_eddsa=allow_eddsa,
            cache=member.cache,
        )
        return key, parsed
    if isinstance(member, HwkKey):
        return _hwk_key(tuple(member.jwk.items()), allowed_algs, allow_eddsa), None
    assert isinstance(member, JwksUriKey)
    found = jwks_lookup(member) if jwks_lookup is not None else None
    if found is None:
        raise SignatureError(
            f"no key {member.kid!r} is known for {member.id}", code="unknown_key", retryable=True
        )
    jwk: Mapping[str, object] = found
    keys = found.get("keys")
    if isinstance(keys, list):
        from .jwk import select_jwk  # noqa: PLC0415 - only the jwks_uri path needs it

        jwk = select_jwk(found, member.kid)
    return public_key_from_jwk(jwk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa), None


@lru_cache(maxsize=256)
def _hwk_key(
    items: tuple[tuple[str, str], ...], allowed_algs: tuple[str, ...], allow_eddsa: bool
) -> PublicKey:
    return public_key_from_jwk(dict(items), allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)


def verify_request(
    request: HttpRequest,
    *,
    now: int,
    max_skew: int = DEFAULT_MAX_SKEW,
    label: str | None = None,
    required_components: Sequence[str] = AAUTH_REQUIRED_COMPONENTS,
    require_body_digest: bool = False,
    schemes: Collection[str] = INLINE_SCHEMES,
    algorithms: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
    jwks_lookup: JwksLookup | None = None,
    accept_base64url_signature: bool = True,
    max_header_length: int = DEFAULT_MAX_SIGNATURE_HEADER_LENGTH,
    max_signature_key_length: int = DEFAULT_MAX_SIGNATURE_KEY_LENGTH,
    max_token_length: int = DEFAULT_MAX_TOKEN_LENGTH,
) -> VerifiedRequest:
    """Verify an AAuth request signature (AAuth -11 verifier algorithm, digest §2).

    Steps, each failing with :class:`SignatureError` and its ``Signature-Error`` code:

    1. ``Signature``, ``Signature-Input``, ``Signature-Key`` present and within size limits,
       else ``invalid_request``.
    2. The required components covered (``required_components``; with
       ``require_body_digest`` and a body, also ``content-type`` and ``content-digest``;
       with an ``Authorization: AAuth`` header, also ``authorization``), else
       ``invalid_input`` with ``required_input``.
    3. ``created`` present and ``|now - created| <= max_skew``; ``expires`` not past; else
       ``invalid_signature`` (retryable with a fresh signature).
    4. The ``Signature-Key`` member for the label, with a scheme in ``schemes``, else
       ``unsupported_scheme``.
    5. The key: ``cnf.jwk`` of a ``jwt`` token (whose ``exp`` is checked: ``expired_jwt``),
       a verified ``jkt-jwt`` delegation, an ``hwk`` inline key, or ``jwks_lookup`` for
       ``jwks_uri`` (``unknown_key``); malformed → ``invalid_key`` / ``invalid_jwt``.
    6. Its ``alg`` present, fully specified and in ``algorithms``, else
       ``unsupported_algorithm``; ``kty``/``crv`` agreeing, else ``invalid_key``.
    7. The RFC 9421 signature, else ``invalid_signature``; when ``content-digest`` is covered,
       the digest recomputed over the body (digest [AMBIG-28]), else ``invalid_signature``.

    ``label`` picks the signature; by default the only one, or the only one with a
    ``Signature-Key`` member. The ``alg`` and ``keyid`` signature parameters are ignored
    (AAuth -11: the key comes from ``Signature-Key``). The token of a ``jwt`` member is NOT
    trusted here: check it with the token layer using the returned ``token_claims``.
    """
    if isinstance(now, bool) or not isinstance(now, int):
        raise LocalError("now must be an int (Unix seconds)")
    # Step 1 (AAuth -11; digest [AMBIG-5]: missing headers are invalid_request).
    index = request._header_index()
    key_text = combined_value(index.get("signature-key"))
    input_text = combined_value(index.get("signature-input"))
    signature_text = combined_value(index.get("signature"))
    if (
        key_text is None
        or input_text is None
        or signature_text is None
        or len(key_text) > max_signature_key_length
        or len(input_text) > max_header_length
        or len(signature_text) > max_header_length
    ):
        _refuse_fields(
            (
                ("Signature-Key", key_text, max_signature_key_length),
                ("Signature-Input", input_text, max_header_length),
                ("Signature", signature_text, max_header_length),
            )
        )
    if label is None:
        labels, match, members = scan_signature_input(input_text)
        chosen = (
            labels[0]
            if len(labels) == 1
            else _choose_label(labels, key_text, max_signature_key_length)
        )
    else:
        chosen, match, members = label, None, None
    parsed_input, signature = read_signature_parts(
        input_text, signature_text, chosen, accept_base64url_signature, match, members
    )

    # Step 2.
    required = tuple(required_components)
    if require_body_digest and request.body:
        required += tuple([c for c in BODY_COMPONENTS if c not in required])
    if _has_aauth_authorization(index):
        required += ("authorization",)
    covered = _covered(parsed_input.components, required)

    # Step 3.
    created = _check_created(parsed_input, now, max_skew)

    # Step 4 (signature-key-08 §3: the same-named member; unknown scheme → unsupported).
    member = signature_key_member(key_text, chosen, max_length=max_signature_key_length)
    if member.scheme not in schemes:
        raise SignatureError(
            f"the Signature-Key scheme {member.scheme!r} is not accepted here",
            code="unsupported_scheme",
        )

    # Steps 5 and 6.
    public_key, parsed = _resolve_key(
        member,
        now=now,
        leeway=max_skew,
        max_token_length=max_token_length,
        allowed_algs=tuple(algorithms),
        allow_eddsa=allow_eddsa,
        jwks_lookup=jwks_lookup,
    )

    # Step 7.
    verify_signature_parts(  # components from the parser: already checked for repeats
        request,
        parsed_input,
        signature,
        public_key,
        _http_algorithm(public_key.alg),
    )
    for component in parsed_input.components:
        if component.name == "content-digest":
            digest_field = request.header("content-digest")
            assert digest_field is not None
            verify_content_digest(digest_field, request.body)
            break
    return _verified(
        label=chosen,
        components=covered,
        params=parsed_input.params,
        created=created,
        member=member,
        public_key=public_key,
        parsed=parsed,
    )


@lru_cache(maxsize=8)
def _http_algorithm(jose_alg: str) -> HttpSigAlgorithm:
    """The RFC 9421 algorithm for a key's JOSE ``alg``."""
    return get_algorithm(http_alg_from_jose(jose_alg))


def _refuse_fields(fields: Sequence[tuple[str, str | None, int]]) -> NoReturn:
    """Step 1's error for the first missing or oversized field."""
    for name, text, limit in fields:
        if text is None:
            raise SignatureError(f"the request has no {name} header", code="invalid_request")
        if len(text) > limit:
            raise SignatureError(
                f"{name} is {len(text)} characters, over the limit of {limit}",
                code="invalid_request",
            )
    raise AssertionError("unreachable: a field was missing or too long")  # pragma: no cover
