"""JWK rules: algorithm determination, member decoding, RFC 7638 thumbprints, JWKS selection.

This module works on JWKs as plain JSON objects (``Mapping[str, object]``). It builds no key
objects; :mod:`aauth.keys` turns a checked JWK into a verifying key.

Algorithm determination follows signature-key-08 §"Algorithm determination" and AAuth -11
§"HTTP Message Signatures Profile": ``alg`` is REQUIRED and fully specified, never inferred
from ``kty``/``crv``; ``none``, ``EdDSA`` (polymorphic), HMAC and unknown algorithms are
refused with ``unsupported_algorithm``; a ``kty``/``crv`` that disagrees with ``alg`` is
``invalid_key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final

import msgspec

from ._b64 import b64url_decode, b64url_encode
from .errors import JoseError, LocalError

__all__ = [
    "JWK_THUMBPRINT_URI_PREFIX",
    "SUPPORTED_ALGS",
    "decode_key_member",
    "jwk_algorithm",
    "jwk_thumbprint",
    "jwk_thumbprint_uri",
    "select_jwk",
]

#: The fully-specified JOSE algorithms this package implements (RFC 9864 ``Ed25519``,
#: RFC 7518 ``ES256``), in order of preference. Suitable for ``Accept-Signature-Alg``.
SUPPORTED_ALGS: Final[tuple[str, ...]] = ("Ed25519", "ES256")

#: RFC 9278 prefix of a JWK thumbprint URI (SHA-256).
JWK_THUMBPRINT_URI_PREFIX: Final = "urn:ietf:params:oauth:jwk-thumbprint:sha-256:"

# alg -> the (kty, crv) it requires. AAuth -11 §"HTTP Message Signatures Profile": a key whose
# kty or crv disagrees with its alg is invalid_key.
_ALG_KEY_TYPE: Final[Mapping[str, tuple[str, str]]] = {
    "Ed25519": ("OKP", "Ed25519"),
    "ES256": ("EC", "P-256"),
}

# RFC 7638 §3.2 (EC, RSA, oct) and RFC 8037 §2 (OKP): the required members, already in
# lexicographic order.
_THUMBPRINT_MEMBERS: Final[Mapping[str, tuple[str, ...]]] = {
    "OKP": ("crv", "kty", "x"),
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
}

_encode_json = msgspec.json.Encoder().encode


_THUMBPRINT_HASHES: Final[Mapping[str, Callable[[bytes], Any]]] = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}


def jwk_thumbprint(jwk: Mapping[str, object], *, hash_name: str = "sha-256") -> str:
    """RFC 7638 JWK thumbprint (SHA-256 unless ``hash_name`` is ``"sha-512"``), base64url
    without padding.

    Only the required members of the key type enter the hash (OKP ``crv,kty,x``; EC
    ``crv,kty,x,y``; RSA ``e,kty,n``), in lexicographic order with no whitespace, so the
    result does not depend on member order or on optional members such as ``alg``, ``kid``
    or ``use``. Raises :class:`JoseError` ``invalid_key`` when the key type is unknown or a
    required member is missing or not a string.
    """
    if not isinstance(jwk, Mapping):
        raise JoseError("JWK is not a JSON object", code="invalid_key")
    kty = jwk.get("kty")
    names = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if names is None:
        raise JoseError(f"no RFC 7638 thumbprint is defined for kty {kty!r}", code="invalid_key")
    canonical: dict[str, str] = {}
    for name in names:
        value = jwk.get(name)
        if not isinstance(value, str):
            # RFC 7638 §3.2: every required member must be present.
            raise JoseError(f"JWK member {name!r} is missing or not a string", code="invalid_key")
        canonical[name] = value
    hash_function = _THUMBPRINT_HASHES.get(hash_name)
    if hash_function is None:
        raise LocalError(f"thumbprint hash {hash_name!r} is not sha-256 or sha-512")
    return b64url_encode(hash_function(_encode_json(canonical)).digest())


def jwk_thumbprint_uri(jwk: Mapping[str, object]) -> str:
    """The RFC 9278 thumbprint URI ``urn:ietf:params:oauth:jwk-thumbprint:sha-256:<tp>``."""
    return JWK_THUMBPRINT_URI_PREFIX + jwk_thumbprint(jwk)


def jwk_algorithm(
    jwk: Mapping[str, object],
    *,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
) -> str:
    """Determine and check the algorithm of a public JWK; return ``"Ed25519"`` or ``"ES256"``.

    signature-key-08 §"Algorithm determination": ``alg`` MUST be present and fully specified
    and is never inferred. An absent, polymorphic, refused or unimplemented ``alg``, or one
    outside ``allowed_algs``, raises :class:`JoseError` ``unsupported_algorithm``. A ``kty``
    or ``crv`` that disagrees with ``alg`` raises ``invalid_key``.

    ``allow_eddsa=True`` is a compatibility option for pre-10 peers: ``alg: "EdDSA"`` is then
    read as ``Ed25519`` when ``crv`` is ``Ed25519`` (any other curve stays unsupported).
    """
    if not isinstance(jwk, Mapping):
        raise JoseError("JWK is not a JSON object", code="invalid_key")
    alg = jwk.get("alg")
    if alg is None:
        # signature-key-08 §"Algorithm determination": a key without alg is rejected.
        raise JoseError("JWK has no 'alg'", code="unsupported_algorithm")
    if not isinstance(alg, str):
        raise JoseError("JWK 'alg' is not a string", code="invalid_key")
    if alg == "EdDSA":
        # AAuth -11 §4.1 and §"HTTP Message Signatures Profile": EdDSA MUST NOT be used.
        if not allow_eddsa:
            raise JoseError(
                "JWK 'alg' EdDSA is polymorphic and refused; use Ed25519",
                code="unsupported_algorithm",
            )
        if jwk.get("crv") != "Ed25519":
            raise JoseError(
                "JWK 'alg' EdDSA is accepted only with crv Ed25519", code="unsupported_algorithm"
            )
        alg = "Ed25519"
    expected = _ALG_KEY_TYPE.get(alg)
    if expected is None or alg not in allowed_algs:
        # none, HS256/384/512, RSA, ML-DSA and anything unknown: not accepted here.
        raise JoseError(f"JWK 'alg' {alg!r} is not accepted", code="unsupported_algorithm")
    kty, crv = expected
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        # AAuth -11 §"HTTP Message Signatures Profile": kty/crv must agree with alg.
        raise JoseError(
            f"JWK kty/crv {jwk.get('kty')!r}/{jwk.get('crv')!r} do not match alg {alg}",
            code="invalid_key",
        )
    return alg


def decode_key_member(jwk: Mapping[str, object], name: str, length: int) -> bytes:
    """Decode the base64url member ``name`` of a JWK, which must decode to ``length`` bytes.

    RFC 8037 §2 (OKP ``x``: the full public key) and RFC 7518 §6.2.1.2-3 (EC ``x``/``y``: the
    full coordinate size). Raises :class:`JoseError` ``invalid_key`` on any defect.
    """
    value = jwk.get(name)
    if not isinstance(value, str):
        raise JoseError(f"JWK member {name!r} is missing or not a string", code="invalid_key")
    raw = b64url_decode(value, error=JoseError, code="invalid_key", what=f"JWK member {name!r}")
    if len(raw) != length:
        raise JoseError(
            f"JWK member {name!r} is {len(raw)} bytes, expected {length}", code="invalid_key"
        )
    return raw


def select_jwk(
    jwks: Mapping[str, object], kid: str | None, *, alg: str | None = None
) -> Mapping[str, object]:
    """Pick the member of a JWKS (RFC 7517 §5) that a JWS header ``kid`` names.

    signature-key-08 §"Algorithm determination": select by ``kid`` and never fail because of
    *other* members, so entries that are not objects or are unusable are skipped, not judged.
    Without a ``kid`` a JWKS of exactly one key yields that key. If several members share the
    ``kid``, ``alg`` (the JWS header algorithm) breaks the tie.

    Raises :class:`JoseError` ``invalid_key`` when ``jwks`` has no ``keys`` array, and
    ``unknown_key`` when no single member matches (``retryable`` when the ``kid`` is simply
    absent from the JWKS: signature-key-08 says re-fetch once before giving up).
    """
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, Sequence) or isinstance(keys, (str, bytes)):
        raise JoseError("JWKS has no 'keys' array", code="invalid_key")
    entries = [entry for entry in keys if isinstance(entry, Mapping)]
    if kid is None:
        if len(entries) == 1:
            return entries[0]
        raise JoseError(
            f"token has no 'kid' and the JWKS holds {len(entries)} keys", code="unknown_key"
        )
    matches = [entry for entry in entries if entry.get("kid") == kid]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise JoseError(f"no key with kid {kid!r} in the JWKS", code="unknown_key", retryable=True)
    if alg is not None:
        by_alg = [entry for entry in matches if entry.get("alg") == alg]
        if len(by_alg) == 1:
            return by_alg[0]
    raise JoseError(
        f"{len(matches)} keys with kid {kid!r} in the JWKS and no single one for alg {alg!r}",
        code="unknown_key",
    )
