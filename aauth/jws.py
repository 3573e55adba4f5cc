"""Compact JWS (RFC 7515) and JWT (RFC 7519) under the AAuth algorithm rules.

Signing: :func:`encode_jwt` serialises header and claims as compact JSON in the order given
(so a token can be reproduced byte for byte) and :func:`encode_jws` signs exact JSON bytes.

Verifying: :func:`decode_jwt` = :func:`parse_jwt` (structure only) + :func:`verify_jwt`
(algorithm, ``typ``, key, signature, time claims). Layers that must read ``kid``, ``iss`` or
``cnf`` before they hold the issuer's key parse once with :func:`parse_jwt`, fetch, then call
:func:`verify_jwt` on the same :class:`ParsedJwt`.

Refused, whatever the key says: ``none``, HMAC (``HS256/384/512``), ``EdDSA`` (unless
``allow_eddsa``) and any algorithm not implemented (AAuth -11 §4.1). The JOSE header's own
key hints (``jwk``, ``jku``, ``x5u``, ``x5c``) are never used to find a key.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, Final

import msgspec

from ._b64 import b64url_decode, b64url_encode
from .errors import JoseError, LocalError
from .jwk import SUPPORTED_ALGS, select_jwk
from .keys import PrivateKey, PublicKey, public_key_from_jwk

__all__ = [
    "DEFAULT_LEEWAY",
    "DEFAULT_MAX_TOKEN_LENGTH",
    "ParsedJwt",
    "check_time_claims",
    "decode_jws",
    "decode_jwt",
    "decode_jwt_unverified",
    "encode_jws",
    "encode_jwt",
    "parse_jwt",
    "verify_jwt",
]

#: Default clock skew for ``exp``/``iat``/``nbf`` in seconds (AAuth -11 leaves it open,
#: [AMBIG-7]; the TypeScript implementations use 60 s).
DEFAULT_LEEWAY: Final = 60

#: Default maximum token length in characters. An agent token is ~600 characters and a
#: person or auth token a few kilobytes; 16 KiB leaves room while bounding the work a peer
#: can make a verifier do.
DEFAULT_MAX_TOKEN_LENGTH: Final = 16384

_encode_json = msgspec.json.Encoder().encode
_decode_object = msgspec.json.Decoder(dict[str, Any]).decode
_ALG_IS_SUPPORTED: Final = frozenset(SUPPORTED_ALGS)


class ParsedJwt:
    """A compact JWS split and decoded, but NOT verified.

    ``header`` and ``claims`` are the decoded JSON objects, ``signing_input`` the ASCII bytes
    ``BASE64URL(header) || '.' || BASE64URL(payload)`` (RFC 7515 §5.1) and ``signature`` the
    decoded signature bytes. Nothing in it may be trusted before :func:`verify_jwt`.
    """

    __slots__ = ("claims", "header", "signature", "signing_input")

    def __init__(
        self,
        header: dict[str, Any],
        claims: dict[str, Any],
        signing_input: bytes,
        signature: bytes,
    ) -> None:
        self.header = header
        self.claims = claims
        self.signing_input = signing_input
        self.signature = signature

    def __repr__(self) -> str:
        return f"ParsedJwt(header={self.header!r}, claims=<{len(self.claims)} claims>)"


# --------------------------------------------------------------------------- JSON


class _DuplicateMemberError(Exception):
    pass


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateMemberError
    return obj


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Decode a JSON object, refusing duplicate member names (RFC 7515 §5.2 step 4,
    RFC 7519 §4).

    Fast path: msgspec decodes, and if re-encoding gives back the exact input there can be
    no duplicate (a duplicate would have been dropped from the re-encoding). Only input that
    is not in msgspec's compact form goes through the slower duplicate scan.
    """
    try:
        obj = _decode_object(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise JoseError(f"{what} is not a JSON object") from exc
    if _encode_json(obj) != raw:
        try:
            json.loads(raw.decode("utf-8"), object_pairs_hook=_pairs_without_duplicates)
        except _DuplicateMemberError:
            raise JoseError(f"{what} has a duplicate member name") from None
        except (ValueError, RecursionError) as exc:
            # msgspec accepted the text but the stdlib parser did not (an integer past the
            # interpreter's digit limit, nesting past the recursion limit): refuse it.
            raise JoseError(f"{what} is not a JSON object") from exc
    return obj


# --------------------------------------------------------------------------- encoding


def _sign_compact(header_json: bytes, payload_json: bytes, key: PrivateKey) -> str:
    signing_input = b64url_encode(header_json) + "." + b64url_encode(payload_json)
    signature = key.sign(signing_input.encode("ascii"))  # RFC 7515 §5.1 steps 5-6
    return signing_input + "." + b64url_encode(signature)


def encode_jws(header_json: bytes, payload_json: bytes, key: PrivateKey) -> str:
    """Compact JWS over the exact bytes ``header_json`` and ``payload_json`` (RFC 7515 §7.1).

    The header must be a JSON object whose ``alg`` is the key's algorithm, else
    :class:`LocalError`.
    """
    try:
        header = _decode_object(header_json)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise LocalError("header_json is not a JSON object") from exc
    if header.get("alg") != key.alg:
        raise LocalError(f"header 'alg' {header.get('alg')!r} is not the key's {key.alg}")
    return _sign_compact(header_json, payload_json, key)


def encode_jwt(header: Mapping[str, object], claims: Mapping[str, object], key: PrivateKey) -> str:
    """Sign ``claims`` as a compact JWT with ``key``.

    Header and claims are serialised as compact JSON (no whitespace) in the member order
    given. ``alg`` is taken from the key: if ``header`` has no ``alg`` it is put first; if it
    has one it must equal the key's, else :class:`LocalError`. Values that JSON cannot
    represent raise :class:`LocalError`.
    """
    alg = header.get("alg")
    if alg is None:
        header = {"alg": key.alg, **header}
    elif alg != key.alg:
        raise LocalError(f"header 'alg' {alg!r} is not the key's {key.alg}")
    try:
        header_json = _encode_json(header if isinstance(header, dict) else dict(header))
        payload_json = _encode_json(claims if isinstance(claims, dict) else dict(claims))
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise LocalError(f"JWT header or claims cannot be encoded as JSON: {exc}") from exc
    return _sign_compact(header_json, payload_json, key)


# --------------------------------------------------------------------------- decoding


def _split(token: str, max_length: int) -> tuple[dict[str, Any], str, bytes, bytes]:
    """Header object, payload segment, signing input and signature of a compact JWS."""
    if not isinstance(token, str):
        raise JoseError("JWS is not a string")
    if len(token) > max_length:
        raise JoseError(f"JWS is {len(token)} characters, over the limit of {max_length}")
    parts = token.split(".")
    if len(parts) != 3:
        raise JoseError(f"JWS has {len(parts)} segments, expected 3 (RFC 7515 §7.1)")
    header_b64, payload_b64, signature_b64 = parts
    header = _json_object(
        b64url_decode(header_b64, error=JoseError, code="invalid_jwt", what="JWS header"),
        "JWS header",
    )
    signature = b64url_decode(
        signature_b64, error=JoseError, code="invalid_jwt", what="JWS signature"
    )
    signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
    return header, payload_b64, signing_input, signature


def parse_jwt(token: str, *, max_length: int = DEFAULT_MAX_TOKEN_LENGTH) -> ParsedJwt:
    """Split and decode a compact JWT WITHOUT verifying it.

    Checks: a string of at most ``max_length`` characters; three segments (RFC 7515 §7.1);
    each strict unpadded base64url; header and payload JSON objects without duplicate member
    names (RFC 7515 §5.2, RFC 7519 §4). Raises :class:`JoseError` ``invalid_jwt`` otherwise.
    """
    header, payload_b64, signing_input, signature = _split(token, max_length)
    claims = _json_object(
        b64url_decode(payload_b64, error=JoseError, code="invalid_jwt", what="JWT payload"),
        "JWT payload",
    )
    return ParsedJwt(header, claims, signing_input, signature)


def decode_jwt_unverified(
    token: str, *, max_length: int = DEFAULT_MAX_TOKEN_LENGTH
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, claims)`` of a compact JWT. DOES NOT VERIFY the signature or any claim.

    For layers that must read ``kid``, ``iss``, ``dwk`` or ``cnf`` to find the verification
    key; they must then verify (prefer :func:`parse_jwt` + :func:`verify_jwt` to avoid parsing
    twice). Raises :class:`JoseError` ``invalid_jwt`` on malformed input.
    """
    parsed = parse_jwt(token, max_length=max_length)
    return parsed.header, parsed.claims


def _normalise_typ(value: str) -> str:
    # RFC 7515 §4.1.9: media types are case-insensitive and "application/" may be omitted.
    value = value.lower()
    return value[12:] if value.startswith("application/") else value


def _resolve_key(
    keys: PublicKey | Mapping[str, object],
    kid: str | None,
    alg: str,
    *,
    allowed_algs: Collection[str],
    allow_eddsa: bool,
) -> PublicKey:
    if isinstance(keys, PublicKey):
        return keys
    if not isinstance(keys, Mapping):
        raise LocalError("keys must be a PublicKey, a JWK or a JWKS mapping")
    if "keys" in keys:  # a JWKS (RFC 7517 §5)
        jwk = select_jwk(keys, kid, alg=alg)
    else:
        jwk_kid = keys.get("kid")
        if kid is not None and jwk_kid is not None and jwk_kid != kid:
            raise JoseError(f"JWT 'kid' {kid!r} does not name the given key", code="unknown_key")
        jwk = keys
    return public_key_from_jwk(jwk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)


_ABSENT: Final = object()


def _numeric_date(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name, _ABSENT)
    if value is _ABSENT:
        return None
    # RFC 7519 §2 NumericDate; we accept integers only (no bool, no 1.0, no 1e9).
    if isinstance(value, bool) or not isinstance(value, int):
        raise JoseError(f"JWT claim {name!r} is not an integer NumericDate")
    return value


def _check_signature(
    header: Mapping[str, Any],
    signing_input: bytes,
    signature: bytes,
    keys: PublicKey | Mapping[str, object],
    *,
    typ: str | None,
    allow_eddsa: bool,
    allowed_algs: Collection[str],
) -> None:
    """The JOSE-header and signature checks shared by JWS and JWT verification."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise JoseError("JWS header has no 'alg'")  # RFC 7515 §4.1.1: REQUIRED
    effective_alg = "Ed25519" if alg == "EdDSA" and allow_eddsa else alg
    if effective_alg not in _ALG_IS_SUPPORTED or effective_alg not in allowed_algs:
        # AAuth -11 §4.1: none, EdDSA and symmetric algorithms MUST NOT be accepted.
        raise JoseError(f"JWS 'alg' {alg!r} is not accepted", code="unsupported_algorithm")
    if "crit" in header:
        # RFC 7515 §4.1.11: we understand no extension, so any 'crit' makes the JWS invalid.
        raise JoseError("JWS header has 'crit'; no critical extension is supported")
    if typ is not None:
        actual = header.get("typ")
        if actual != typ and (
            not isinstance(actual, str) or _normalise_typ(actual) != _normalise_typ(typ)
        ):
            # AAuth -11 §4.1: typ MUST be checked before acting on any AAuth JWT.
            raise JoseError(f"JWS 'typ' is {actual!r}, expected {typ!r}")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise JoseError("JWS header 'kid' is not a string")
    key = _resolve_key(keys, kid, alg, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)
    if key.alg != effective_alg:
        # AAuth -11 §"HTTP Message Signatures Profile": kty/crv must agree with alg.
        raise JoseError(f"the key is for {key.alg} but the JWS uses {alg}", code="invalid_key")
    if not key.verify(signing_input, signature):
        raise JoseError("JWS signature does not verify")


def decode_jws(
    token: str,
    keys: PublicKey | Mapping[str, object],
    *,
    typ: str | None = None,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
    allow_eddsa: bool = False,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
) -> tuple[dict[str, Any], bytes]:
    """Verify a compact JWS with any payload; return ``(header, payload bytes)``.

    The same structure, algorithm, ``typ``, key and signature checks as :func:`decode_jwt`,
    but the payload need not be JSON and no claim is looked at.
    """
    header, payload_b64, signing_input, signature = _split(token, max_length)
    payload = b64url_decode(payload_b64, error=JoseError, code="invalid_jwt", what="JWS payload")
    _check_signature(
        header,
        signing_input,
        signature,
        keys,
        typ=typ,
        allow_eddsa=allow_eddsa,
        allowed_algs=allowed_algs,
    )
    return header, payload


def check_time_claims(
    claims: Mapping[str, Any], *, now: int, leeway: int = DEFAULT_LEEWAY, require_exp: bool = True
) -> None:
    """Check ``exp``, ``iat`` and ``nbf`` of ``claims`` against ``now`` with ``leeway``.

    For layers that check a token's lifetime before (or without) verifying its signature.
    Raises :class:`JoseError` ``expired_jwt`` (retryable) past ``exp`` + leeway, and
    ``invalid_jwt`` for a missing ``exp`` (when required), a non-integer time claim, or an
    ``iat``/``nbf`` in the future.
    """
    # RFC 7519 §4.1.4-6, with leeway. (An int is taken as it is; anything else, including
    # an absent claim, is decided by _numeric_date.)
    exp = claims.get("exp")
    if type(exp) is not int:
        exp = _numeric_date(claims, "exp")
    if exp is None:
        if require_exp:
            raise JoseError("JWT has no 'exp'")
    elif now >= exp + leeway:
        raise JoseError(
            f"JWT expired at {exp} (now {now}, leeway {leeway} s)",
            code="expired_jwt",
            retryable=True,
        )
    iat = claims.get("iat")
    if type(iat) is not int:
        iat = _numeric_date(claims, "iat")
    if iat is not None and iat > now + leeway:
        raise JoseError(f"JWT 'iat' {iat} is in the future (now {now}, leeway {leeway} s)")
    nbf = claims.get("nbf")
    if type(nbf) is not int:
        nbf = _numeric_date(claims, "nbf")
    if nbf is not None and nbf > now + leeway:
        raise JoseError(f"JWT is not valid before {nbf} (now {now}, leeway {leeway} s)")


def verify_jwt(
    parsed: ParsedJwt,
    keys: PublicKey | Mapping[str, object],
    *,
    now: int,
    typ: str | None,
    leeway: int = DEFAULT_LEEWAY,
    allow_eddsa: bool = False,
    require_exp: bool = True,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
) -> dict[str, Any]:
    """Verify a :class:`ParsedJwt` and return its claims.

    :param keys: a :class:`PublicKey`; a public JWK; or a JWKS ``{"keys": [...]}`` from which
        the header ``kid`` selects (signature-key-08 §"Algorithm determination").
    :param now: the current Unix time (the engine does not read the clock).
    :param typ: the expected ``typ`` header (compared per RFC 7515 §4.1.9), or ``None`` to
        skip the check. AAuth -11 §4.1: implementations MUST check ``typ``.
    :param leeway: clock skew allowed on ``exp``, ``iat`` and ``nbf``, in seconds.
    :param allow_eddsa: accept ``alg`` ``EdDSA`` as Ed25519 (compatibility with pre-10 peers).
    :param require_exp: refuse a token without ``exp``.
    :param allowed_algs: the accepted fully-specified algorithms.

    Raises :class:`JoseError` with code ``unsupported_algorithm`` (``none``, HMAC, ``EdDSA``,
    unknown), ``invalid_key`` (key unusable or not of the header's algorithm),
    ``unknown_key`` (no key for ``kid``), ``expired_jwt`` (past ``exp`` + leeway; retryable
    with a fresh token) or ``invalid_jwt`` (anything else: ``crit``, ``typ``, signature,
    ``iat``/``nbf`` in the future, non-integer time claims, missing ``exp``).
    """
    if isinstance(now, bool) or not isinstance(now, int):
        raise LocalError("now must be an int (Unix seconds)")
    if isinstance(leeway, bool) or not isinstance(leeway, int) or leeway < 0:
        raise LocalError("leeway must be a non-negative int")
    _check_signature(
        parsed.header,
        parsed.signing_input,
        parsed.signature,
        keys,
        typ=typ,
        allow_eddsa=allow_eddsa,
        allowed_algs=allowed_algs,
    )
    check_time_claims(parsed.claims, now=now, leeway=leeway, require_exp=require_exp)
    return parsed.claims


def decode_jwt(
    token: str,
    keys: PublicKey | Mapping[str, object],
    *,
    now: int,
    typ: str | None,
    leeway: int = DEFAULT_LEEWAY,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
    allow_eddsa: bool = False,
    require_exp: bool = True,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
) -> dict[str, Any]:
    """Parse and verify a compact JWT; return its claims.

    :func:`parse_jwt` then :func:`verify_jwt`; see both for the checks and error codes.
    """
    return verify_jwt(
        parse_jwt(token, max_length=max_length),
        keys,
        now=now,
        typ=typ,
        leeway=leeway,
        allow_eddsa=allow_eddsa,
        require_exp=require_exp,
        allowed_algs=allowed_algs,
    )
