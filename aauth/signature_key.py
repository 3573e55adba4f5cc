"""The ``Signature-Key`` request header (draft-hardt-httpbis-signature-key-08 §3).

``Signature-Key`` is an RFC 9651 Dictionary keyed by signature label; each member is a Token
naming the key scheme, with the scheme's inputs as parameters::

    Signature-Key: sig=jwt;jwt="eyJ..."

This module parses a header into typed members and builds headers. Resolving a member to a
public key (decoding a JWT's ``cnf.jwk``, fetching a JWKS) happens elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeAlias

from . import sfv
from .errors import LocalError, SignatureError, StructuredFieldError

__all__ = [
    "KNOWN_SCHEMES",
    "SUPPORTED_SCHEMES",
    "HwkKey",
    "JktJwtKey",
    "JwksUriKey",
    "JwtKey",
    "MalformedKey",
    "SignatureKeyMember",
    "UnsupportedSchemeKey",
    "build_signature_key",
    "parse_signature_key",
    "signature_key_member",
]

#: Every scheme of the signature-key-08 registry (§3.1 of the digest).
KNOWN_SCHEMES: Final = frozenset(
    {"hwk", "jkt-jwt", "jwks_uri", "jwks", "jwt", "self-jwt", "x509", "cached"}
)
#: The schemes this module parses into typed members.
SUPPORTED_SCHEMES: Final = frozenset({"hwk", "jkt-jwt", "jwks_uri", "jwt"})

#: Default bound on the ``Signature-Key`` field value, in characters (a person or auth
#: token in a ``jwt`` member is typically 600-1500 characters).
DEFAULT_MAX_SIGNATURE_KEY_LENGTH: Final = 16_384

_HWK_MEMBERS: Final = ("kty", "crv", "x", "y", "n", "e", "alg")
_HWK_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "OKP": ("crv", "x"),
    "EC": ("crv", "x", "y"),
    "RSA": ("n", "e"),
}

# RFC 9651 §3.2 key grammar, used for signature labels.
_LABEL: Final = re.compile(r"[a-z*][a-z0-9_\-.*]*")
# A compact JWS: three base64url segments. Used for a fast build and the fast parse path.
_JWT_CHARS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# The form every AAuth agent sends: `<label>=jwt;jwt="<compact JWT>"` (one member, no other
# parameters). Anything else takes the general RFC 9651 path.
_FAST_JWT_MEMBER: Final = re.compile(
    r'([a-z*][a-z0-9_\-.*]*)=jwt;jwt="([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)"'
)


@dataclass(frozen=True, slots=True)
class HwkKey:
    """``hwk``: the public key inline, as JWK members (signature-key-08 §"hwk")."""

    label: str
    jwk: dict[str, str]
    scheme: str = "hwk"


@dataclass(frozen=True, slots=True)
class JwtKey:
    """``jwt``: a JWT whose ``cnf.jwk`` is the signing key (the scheme AAuth uses)."""

    label: str
    jwt: str
    cache: bool = False
    scheme: str = "jwt"


@dataclass(frozen=True, slots=True)
class JktJwtKey:
    """``jkt-jwt``: a JWT self-signed by the key in its header ``jwk``, delegating to
    ``cnf.jwk`` (signature-key-08 §"jkt-jwt")."""

    label: str
    jwt: str
    cache: bool = False
    scheme: str = "jkt-jwt"


@dataclass(frozen=True, slots=True)
class JwksUriKey:
    """``jwks_uri``: the key is found at ``{id}/.well-known/{dwk}`` → ``jwks_uri`` → ``kid``."""

    label: str
    id: str
    dwk: str
    kid: str
    scheme: str = "jwks_uri"


@dataclass(frozen=True, slots=True)
class UnsupportedSchemeKey:
    """A member whose scheme this implementation does not resolve (``x509``, ``cached``,
    ``jwks``, ``self-jwt`` or an unknown name). Selecting it for verification fails with
    ``unsupported_scheme``; its mere presence for another label is not an error."""

    label: str
    scheme: str
    params: dict[str, sfv.BareItem]


@dataclass(frozen=True, slots=True)
class MalformedKey:
    """A member that could not be understood (wrong parameter types, missing parameters).

    Kept rather than raised so that a broken member for *another* label does not fail the
    verification of this one; selecting it raises its error."""

    label: str
    code: str
    message: str
    scheme: str = "\x00malformed"


SignatureKeyMember: TypeAlias = (
    HwkKey | JwtKey | JktJwtKey | JwksUriKey | UnsupportedSchemeKey | MalformedKey
)


def _fail(message: str, code: str = "invalid_key") -> SignatureError:
    return SignatureError(f"Signature-Key: {message}", code=code)


def _string_param(params: sfv.Params, name: str, scheme: str, *, required: bool = True) -> str:
    value = params.get(name)
    if value is None:
        if required:
            raise _fail(f"scheme {scheme!r} requires the parameter {name!r}")
        return ""
    # signature-key-08 §3: the scheme parameters are Strings.
    if not isinstance(value, str) or isinstance(value, (sfv.Token, sfv.DisplayString)):
        raise _fail(f"parameter {name!r} of scheme {scheme!r} must be a String")
    return value


def _cache_flag(params: sfv.Params, scheme: str) -> bool:
    value = params.get("cache", False)
    if not isinstance(value, bool):
        raise _fail(f"parameter 'cache' of scheme {scheme!r} must be a Boolean")
    return value


def _hwk(label: str, params: sfv.Params) -> HwkKey:
    # signature-key-08 §"hwk": `kid` MUST NOT appear.
    if "kid" in params:
        raise _fail("the hwk scheme must not carry 'kid'")
    kty = _string_param(params, "kty", "hwk")
    required = _HWK_REQUIRED.get(kty)
    if required is None:
        raise _fail(f"hwk key type {kty!r} is not supported", code="unsupported_algorithm")
    jwk = {"kty": kty}
    for name in required:
        jwk[name] = _string_param(params, name, "hwk")
    if "alg" not in params:
        # signature-key-08 §"Algorithm determination": an absent `alg` is never inferred from
        # kty/crv; it is unsupported_algorithm (so the signer can learn Accept-Signature-Alg).
        raise _fail("the hwk member has no 'alg' parameter", code="unsupported_algorithm")
    jwk["alg"] = _string_param(params, "alg", "hwk")
    # Optional members of other key types are ignored, not copied: the JWK is exactly the
    # members its type defines plus `alg` (-08: REQUIRED, fully specified).
    return HwkKey(label=label, jwk=jwk)


def _member(label: str, member: sfv.Member) -> SignatureKeyMember:
    if not isinstance(member, sfv.Item) or not isinstance(member.value, sfv.Token):
        raise _fail(f"member {label!r} must be a Token naming the scheme", code="invalid_request")
    scheme = str(member.value)
    params = member.params
    if scheme == "jwt":
        token = _string_param(params, "jwt", scheme)
        return JwtKey(label=label, jwt=token, cache=_cache_flag(params, scheme))
    if scheme == "jkt-jwt":
        token = _string_param(params, "jwt", scheme)
        return JktJwtKey(label=label, jwt=token, cache=_cache_flag(params, scheme))
    if scheme == "hwk":
        return _hwk(label, params)
    if scheme == "jwks_uri":
        return JwksUriKey(
            label=label,
            id=_string_param(params, "id", scheme),
            dwk=_string_param(params, "dwk", scheme),
            kid=_string_param(params, "kid", scheme),
        )
    return UnsupportedSchemeKey(label=label, scheme=scheme, params=dict(params))


@lru_cache(maxsize=1024)
def _parse_cached(text: str) -> tuple[tuple[str, SignatureKeyMember], ...]:
    fast = _FAST_JWT_MEMBER.fullmatch(text)
    if fast is not None:
        label = fast.group(1)
        return ((label, JwtKey(label=label, jwt=fast.group(2))),)
    try:
        parsed = sfv.parse_dictionary(text, allow_duplicate_keys=False)
    except StructuredFieldError as exc:
        raise _fail(
            f"not a valid structured-field dictionary ({exc.message})", "invalid_request"
        ) from exc
    # Unknown parameters are ignored (signature-key-08 §3); members for other labels are
    # parsed but only an error in the *selected* member fails verification (see
    # `signature_key_member`), so a bad member is kept as its error.
    return tuple((label, _member_or_malformed(label, m)) for label, m in parsed.items())


def _member_or_malformed(label: str, member: sfv.Member) -> SignatureKeyMember:
    try:
        return _member(label, member)
    except SignatureError as exc:
        # Defer the failure: it matters only if this label is the one being verified.
        return MalformedKey(label=label, code=exc.code, message=exc.message)


def parse_signature_key(
    text: str, *, max_length: int = DEFAULT_MAX_SIGNATURE_KEY_LENGTH
) -> dict[str, SignatureKeyMember]:
    """Parse a ``Signature-Key`` field value into its members, keyed by label.

    Raises :class:`SignatureError` (``invalid_request``) if the value is not a Dictionary,
    repeats a label, or exceeds ``max_length`` characters. A malformed member raises only
    when it is selected with :func:`signature_key_member`.
    """
    _check_length(text, max_length)
    return {label: _fresh(member) for label, member in _parse_cached(text)}


def _check_length(text: str, max_length: int) -> None:
    if len(text) > max_length:
        raise _fail(
            f"field is {len(text)} characters, over the limit of {max_length}", "invalid_request"
        )


def _fresh(member: SignatureKeyMember) -> SignatureKeyMember:
    """``member`` as memoised, or a copy of it when it holds a dict (so that a caller who
    changes it does not change the memoised parse other requests see)."""
    if isinstance(member, HwkKey):
        return HwkKey(label=member.label, jwk=dict(member.jwk))
    if isinstance(member, UnsupportedSchemeKey):
        return UnsupportedSchemeKey(
            label=member.label, scheme=member.scheme, params=dict(member.params)
        )
    return member


def signature_key_member(
    text: str, label: str, *, max_length: int = DEFAULT_MAX_SIGNATURE_KEY_LENGTH
) -> SignatureKeyMember:
    """The member of ``Signature-Key`` for ``label``, validated.

    signature-key-08 §3: the same-named member MUST exist; an unknown scheme on the selected
    member gives ``unsupported_scheme``; members for other labels are not examined.
    """
    if len(text) > max_length:
        _check_length(text, max_length)
    found: SignatureKeyMember | None = None
    for member_label, member in _parse_cached(text):
        if member_label == label:
            found = member
            break
    if found is None:
        raise _fail(f"no member for the signature label {label!r}", "invalid_request")
    member = found
    if type(member) is JwtKey:
        return member  # immutable: safe to hand out as memoised
    if isinstance(member, MalformedKey):
        raise SignatureError(member.message, code=member.code)
    if isinstance(member, UnsupportedSchemeKey):
        raise _fail(f"scheme {member.scheme!r} is not supported", "unsupported_scheme")
    return _fresh(member)


def build_signature_key(member: SignatureKeyMember) -> str:
    """Serialise one member as a ``Signature-Key`` field value (``label=scheme;...``).

    Raises :class:`LocalError` for a member that cannot be written (a label that is not an
    RFC 9651 key, a JWT that is not compact JWS).
    """
    if isinstance(member, (JwtKey, JktJwtKey)):
        if _JWT_CHARS.fullmatch(member.jwt) is None:
            raise LocalError("the jwt of a Signature-Key member must be a compact JWS")
        if not member.cache and _LABEL.fullmatch(member.label):
            return f'{member.label}={member.scheme};jwt="{member.jwt}"'
        params: sfv.Params = {"jwt": member.jwt}
        if member.cache:
            params["cache"] = True
        return _serialize(member.label, member.scheme, params)
    if isinstance(member, MalformedKey):
        raise LocalError(f"cannot serialise a malformed member: {member.message}")
    if isinstance(member, HwkKey):
        hwk_params: sfv.Params = {k: member.jwk[k] for k in _HWK_MEMBERS if k in member.jwk}
        return _serialize(member.label, "hwk", hwk_params)
    if isinstance(member, JwksUriKey):
        return _serialize(
            member.label, "jwks_uri", {"id": member.id, "dwk": member.dwk, "kid": member.kid}
        )
    return _serialize(member.label, member.scheme, dict(member.params))


def _serialize(label: str, scheme: str, params: sfv.Params) -> str:
    try:
        return sfv.serialize_dictionary({label: sfv.Item(sfv.Token(scheme), params)})
    except StructuredFieldError as exc:
        raise LocalError(f"cannot serialise Signature-Key member: {exc.message}") from exc
