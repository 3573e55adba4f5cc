"""Hostile input: one table, each row naming the exact error class and code (issue 2, "Bad
input"), plus property tests that ``verify_request`` answers anything with a
:class:`VerifiedRequest` or a :class:`SignatureError` and nothing else.

Only public functions are used, so the table holds across refactors of the internals.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aauth import sfv
from aauth.errors import JoseError, RemoteError, SignatureError, StructuredFieldError
from aauth.http import HttpRequest
from aauth.jws import decode_jwt, encode_jwt
from aauth.keys import Ed25519Key, public_key_from_jwk
from aauth.signature_key import HwkKey, JktJwtKey, JwksUriKey
from aauth.signing import (
    DEFAULT_MAX_SIGNATURE_HEADER_LENGTH,
    VerifiedRequest,
    sign_request,
    verify_request,
)
from tests.helpers_signing import (
    AGENT_KEY,
    AP_KEY,
    T0,
    agent_claims,
    agent_token,
    b64url,
    get_request,
    post_request,
    raw_jwt,
    replace_header,
    seed,
    sign_over_key_text,
    signature_bytes,
    signed_get,
)

IDENTITY_KEY = Ed25519Key.from_seed(seed("bad-input identity"))
EPHEMERAL_KEY = Ed25519Key.from_seed(seed("bad-input ephemeral"))

BASE = signed_get()
TOKEN = agent_token()


def _header(request: HttpRequest, name: str) -> str:
    value = request.header(name)
    assert value is not None
    return value


SI = _header(BASE, "signature-input")
SIG = _header(BASE, "signature")
SK = _header(BASE, "signature-key")
SIG_BYTES = signature_bytes(BASE)
JWKS_MEMBER = JwksUriKey(label="sig", id="https://agent.example", dwk="aauth-agent.json", kid="k1")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _with(name: str, value: str | None, request: HttpRequest = BASE) -> HttpRequest:
    return replace_header(request, name, value)


def _with_signature(data: bytes) -> HttpRequest:
    return _with("Signature", f"sig=:{_b64(data)}:")


def _flip(index: int) -> bytes:
    out = bytearray(SIG_BYTES)
    out[index] ^= 0x01
    return bytes(out)


def _with_token(token: str) -> HttpRequest:
    return _with("Signature-Key", f'sig=jwt;jwt="{token}"')


def _jkt_request(header: Mapping[str, object], *, sign: bool) -> HttpRequest:
    """A request whose jkt-jwt token has the given JOSE header (signed by the identity key
    over the exact bytes when ``sign``, else with a junk signature)."""
    claims = {
        "iss": "urn:jkt:sha-256:" + IDENTITY_KEY.thumbprint,
        "cnf": {"jwk": EPHEMERAL_KEY.public_jwk},
        "iat": T0 - 60,
        "exp": T0 + 3600,
    }
    token = raw_jwt(header, claims, b"")
    if sign:
        signing_input = token.rsplit(".", 1)[0]
        token = signing_input + "." + b64url(IDENTITY_KEY.sign(signing_input.encode("ascii")))
    return signed_get(EPHEMERAL_KEY, signature_key=JktJwtKey(label="sig", jwt=token))


def _jkt_header(alg: str) -> dict[str, object]:
    return {"alg": alg, "typ": "jkt-s256+jwt", "jwk": IDENTITY_KEY.public_jwk}


def _eddsa_token() -> str:
    """A correctly signed Ed25519 JWT whose header says the polymorphic ``EdDSA``."""
    unsigned = raw_jwt({"alg": "EdDSA", "typ": "aa-agent+jwt"}, agent_claims(), b"")
    signing_input = unsigned.rsplit(".", 1)[0]
    return signing_input + "." + b64url(AP_KEY.sign(signing_input.encode("ascii")))


def _token_segments(header: bytes, payload: bytes) -> str:
    return f"{b64url(header)}.{b64url(payload)}.{b64url(b'x' * 64)}"


BIG_TOKEN = encode_jwt({"typ": "aa-agent+jwt"}, {**agent_claims(), "pad": "a" * 17_000}, AP_KEY)
BIG_TOKEN_REQUEST = signed_get(signature_key=BIG_TOKEN)


def _verify(request: HttpRequest, **kwargs: Any) -> Callable[[], object]:
    kwargs.setdefault("now", T0)
    return lambda: verify_request(request, **kwargs)


def _call(function: Callable[..., object], *args: object, **kwargs: object) -> Callable[[], object]:
    return lambda: function(*args, **kwargs)


@dataclass(frozen=True)
class Case:
    """One hostile input: ``run`` must raise exactly ``error`` with ``code``; ``error`` None
    means the input is odd but valid and must be accepted."""

    id: str
    run: Callable[[], object]
    error: type[RemoteError] | None
    code: str | None = None
    retryable: bool | None = None


OK: None = None

CASES = [
    # --- sizes: limits are arguments with defaults -------------------------------------------
    Case(
        "signature-input-over-default-limit",
        _verify(
            _with(
                "Signature-Input", SI + ';pad="' + "a" * DEFAULT_MAX_SIGNATURE_HEADER_LENGTH + '"'
            )
        ),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-input-over-custom-limit",
        _verify(BASE, max_header_length=len(SI) - 1),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-over-default-limit",
        _verify(_with("Signature", SIG + ", pad=:" + "AAAA" * 2100 + ":")),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-over-custom-limit",
        _verify(BASE, max_header_length=len(SIG) - 1),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-headers-at-custom-limit",
        _verify(BASE, max_header_length=max(len(SI), len(SIG))),
        OK,
    ),
    Case(
        "signature-key-over-default-limit",
        _verify(_with("Signature-Key", SK + ';pad="' + "a" * 16_400 + '"')),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-key-over-custom-limit",
        _verify(BASE, max_signature_key_length=len(SK) - 1),
        SignatureError,
        "invalid_request",
    ),
    Case("signature-key-at-custom-limit", _verify(BASE, max_signature_key_length=len(SK)), OK),
    Case(
        "token-over-default-limit",
        _verify(BIG_TOKEN_REQUEST, max_signature_key_length=100_000),
        JoseError,
        "invalid_jwt",
    ),
    Case(
        "token-within-raised-limit",
        _verify(BIG_TOKEN_REQUEST, max_signature_key_length=100_000, max_token_length=100_000),
        OK,
    ),
    Case(
        "token-over-custom-limit",
        _verify(BASE, max_token_length=len(TOKEN) - 1),
        JoseError,
        "invalid_jwt",
    ),
    Case("token-at-custom-limit", _verify(BASE, max_token_length=len(TOKEN)), OK),
    # --- duplicate dictionary keys -----------------------------------------------------------
    Case(
        "signature-input-duplicate-label",
        _verify(_with("Signature-Input", f"{SI}, {SI}")),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-input-duplicate-label-two-lines",
        _verify(BASE.with_headers([("Signature-Input", SI)])),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-duplicate-label",
        _verify(_with("Signature", f"{SIG}, {SIG}")),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-duplicate-label-base64url",
        _verify(_with("Signature", f"sig=:{b64url(SIG_BYTES)}:, sig=:{b64url(SIG_BYTES)}:")),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-key-duplicate-label",
        _verify(_with("Signature-Key", f"{SK}, {SK}")),
        SignatureError,
        "invalid_request",
    ),
    # --- non-ASCII ---------------------------------------------------------------------------
    Case(
        "signature-input-non-ascii",
        _verify(_with("Signature-Input", SI.replace("@path", "@päth"))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-input-non-ascii-in-param",
        _verify(_with("Signature-Input", SI + ';nonce="nö"')),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-non-ascii",
        _verify(_with("Signature", SIG[:-3] + "é=:")),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-key-non-ascii",
        _verify(_with("Signature-Key", SK[:-1] + 'é"')),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-key-non-ascii-param",
        _verify(_with("Signature-Key", SK + ';x="ü"')),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-key-lone-surrogate",
        _verify(_with("Signature-Key", SK + ';x="\udc80"')),
        SignatureError,
        "invalid_request",
    ),
    # --- wrong structured-field types ---------------------------------------------------------
    Case(
        "signature-member-string",
        _verify(_with("Signature", f'sig="{_b64(SIG_BYTES)}"')),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-member-token",
        _verify(_with("Signature", "sig=abc")),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-member-inner-list",
        _verify(_with("Signature", f"sig=(:{_b64(SIG_BYTES)}:)")),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-input-member-item",
        _verify(_with("Signature-Input", f'sig="@method";created={T0}')),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-input-component-not-string",
        _verify(_with("Signature-Input", SI.replace('"@path"', "path"))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "created-string",
        _verify(_with("Signature-Input", SI.replace(f"created={T0}", f'created="{T0}"'))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "created-decimal",
        _verify(_with("Signature-Input", SI.replace(f"created={T0}", f"created={T0 // 1000}.5"))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "created-negative",
        _verify(_with("Signature-Input", SI.replace(f"created={T0}", "created=-1"))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "created-boolean",
        _verify(_with("Signature-Input", SI.replace(f"created={T0}", "created=?1"))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "created-sixteen-digits",
        _verify(_with("Signature-Input", SI.replace(f"created={T0}", "created=1" + "0" * 15))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "expires-string",
        _verify(_with("Signature-Input", SI + ';expires="soon"')),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-key-member-inner-list",
        _verify(_with("Signature-Key", f'sig=(jwt);jwt="{TOKEN}"')),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-key-member-string",
        _verify(_with("Signature-Key", f'sig="jwt";jwt="{TOKEN}"')),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-key-member-boolean",
        _verify(_with("Signature-Key", f'sig;jwt="{TOKEN}"')),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-key-jwt-param-token",
        _verify(_with("Signature-Key", "sig=jwt;jwt=abc")),
        SignatureError,
        "invalid_key",
    ),
    Case(
        "signature-key-jwt-param-bytes",
        _verify(_with("Signature-Key", f"sig=jwt;jwt=:{_b64(TOKEN.encode())}:")),
        SignatureError,
        "invalid_key",
    ),
    Case(
        "signature-key-jwt-param-missing",
        _verify(_with("Signature-Key", "sig=jwt")),
        SignatureError,
        "invalid_key",
    ),
    Case(
        "signature-key-cache-not-boolean",
        _verify(_with("Signature-Key", SK + ";cache=1")),
        SignatureError,
        "invalid_key",
    ),
    Case(
        "signature-key-hwk-x-bytes",
        _verify(_with("Signature-Key", 'sig=hwk;kty="OKP";crv="Ed25519";x=:AAAA:;alg="Ed25519"')),
        SignatureError,
        "invalid_key",
    ),
    Case(
        "signature-key-hwk-x-short",
        _verify(_with("Signature-Key", 'sig=hwk;kty="OKP";crv="Ed25519";x="AAAA";alg="Ed25519"')),
        JoseError,
        "invalid_key",
    ),
    Case(
        "signature-key-not-a-dictionary",
        _verify(_with("Signature-Key", "sig=jwt;;")),
        SignatureError,
        "invalid_request",
    ),
    # --- the signature bytes ------------------------------------------------------------------
    Case(
        "signature-truncated-63-bytes",
        _verify(_with_signature(SIG_BYTES[:63])),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-truncated-32-bytes",
        _verify(_with_signature(SIG_BYTES[:32])),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-truncated-text",
        _verify(_with("Signature", SIG[:40])),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-empty",
        _verify(_with("Signature", "sig=::")),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-65-bytes",
        _verify(_with_signature(SIG_BYTES + b"\x00")),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-128-bytes",
        _verify(_with_signature(SIG_BYTES * 2)),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-first-byte-flipped",
        _verify(_with_signature(_flip(0))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-last-byte-flipped",
        _verify(_with_signature(_flip(63))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-all-zero",
        _verify(_with_signature(bytes(64))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "signature-bad-base64-length",
        _verify(_with("Signature", "sig=:" + _b64(SIG_BYTES)[:-3] + ":")),
        SignatureError,
        "invalid_signature",
    ),
    # --- created window -----------------------------------------------------------------------
    Case(
        "created-61s-in-future",
        _verify(BASE, now=T0 - 61),
        SignatureError,
        "invalid_signature",
        True,
    ),
    Case("created-60s-in-future", _verify(BASE, now=T0 - 60), OK),
    Case("created-61s-old", _verify(BASE, now=T0 + 61), SignatureError, "invalid_signature", True),
    Case("created-60s-old", _verify(BASE, now=T0 + 60), OK),
    Case(
        "created-a-day-old",
        _verify(BASE, now=T0 + 86_400),
        SignatureError,
        "invalid_signature",
        True,
    ),
    # --- missing headers ----------------------------------------------------------------------
    Case(
        "missing-signature-key",
        _verify(_with("Signature-Key", None)),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "missing-signature-input",
        _verify(_with("Signature-Input", None)),
        SignatureError,
        "invalid_request",
    ),
    Case("missing-signature", _verify(_with("Signature", None)), SignatureError, "invalid_request"),
    Case(
        "missing-all-three",
        _verify(BASE.without_headers(["Signature", "Signature-Input", "Signature-Key"])),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "signature-key-empty",
        _verify(_with("Signature-Key", "")),
        SignatureError,
        "invalid_request",
    ),
    # --- labels -------------------------------------------------------------------------------
    Case(
        "label-in-input-not-in-signature",
        _verify(_with("Signature", SIG.replace("sig=", "other=", 1))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "label-in-signature-not-in-input",
        _verify(_with("Signature-Input", SI.replace("sig=", "other=", 1))),
        SignatureError,
        "invalid_signature",
    ),
    Case(
        "label-not-in-signature-key",
        _verify(_with("Signature-Key", SK.replace("sig=", "other=", 1))),
        SignatureError,
        "invalid_request",
    ),
    Case(
        "label-argument-unknown", _verify(BASE, label="nope"), SignatureError, "invalid_signature"
    ),
    # --- alg / keyid parameters are ignored (AAuth -11) ---------------------------------------
    Case(
        "alg-param-matching-ignored",
        _verify(sign_over_key_text(get_request(), AGENT_KEY, SK, alg="ed25519")),
        OK,
    ),
    Case(
        "alg-param-wrong-ignored",
        _verify(sign_over_key_text(get_request(), AGENT_KEY, SK, alg="hmac-sha256")),
        OK,
    ),
    Case(
        "keyid-param-ignored",
        _verify(sign_over_key_text(get_request(), AGENT_KEY, SK, keyid="some-other-key")),
        OK,
    ),
    # --- refused token algorithms -------------------------------------------------------------
    Case(
        "jkt-token-alg-none",
        _verify(_jkt_request(_jkt_header("none"), sign=False)),
        JoseError,
        "unsupported_algorithm",
    ),
    Case(
        "jkt-token-alg-HS256",
        _verify(_jkt_request(_jkt_header("HS256"), sign=False)),
        JoseError,
        "unsupported_algorithm",
    ),
    Case(
        "jkt-token-alg-EdDSA",
        _verify(_jkt_request(_jkt_header("EdDSA"), sign=True)),
        JoseError,
        "unsupported_algorithm",
    ),
    Case("jkt-token-alg-Ed25519", _verify(_jkt_request(_jkt_header("Ed25519"), sign=True)), OK),
    Case(
        "jkt-token-no-alg",
        _verify(_jkt_request({"typ": "jkt-s256+jwt", "jwk": IDENTITY_KEY.public_jwk}, sign=True)),
        JoseError,
        "invalid_jwt",
    ),
    Case(
        "jwt-alg-none",
        _call(
            decode_jwt,
            raw_jwt({"alg": "none"}, agent_claims(), b""),
            AP_KEY.public_key,
            now=T0,
            typ=None,
        ),
        JoseError,
        "unsupported_algorithm",
    ),
    Case(
        "jwt-alg-HS256",
        _call(
            decode_jwt,
            raw_jwt({"alg": "HS256"}, agent_claims(), b"k" * 32),
            AP_KEY.public_jwk,
            now=T0,
            typ=None,
        ),
        JoseError,
        "unsupported_algorithm",
    ),
    Case(
        "jwt-alg-EdDSA",
        _call(decode_jwt, _eddsa_token(), AP_KEY.public_key, now=T0, typ=None),
        JoseError,
        "unsupported_algorithm",
    ),
    Case(
        "jwt-alg-EdDSA-allowed",
        _call(decode_jwt, _eddsa_token(), AP_KEY.public_key, now=T0, typ=None, allow_eddsa=True),
        OK,
    ),
    # --- malformed tokens in a jwt member -----------------------------------------------------
    Case("token-bad-base64", _verify(_with_token("e$J.e30.AAAA")), JoseError, "invalid_jwt"),
    Case(
        "token-base64-padding",
        _verify(_with_token(b64url(b"{}") + "==.e30.AAAA")),
        JoseError,
        "invalid_jwt",
    ),
    Case(
        "token-header-not-json",
        _verify(_with_token(_token_segments(b"not json", b"{}"))),
        JoseError,
        "invalid_jwt",
    ),
    Case(
        "token-payload-not-json",
        _verify(_with_token(_token_segments(b'{"alg":"Ed25519"}', b"\xff\xfe"))),
        JoseError,
        "invalid_jwt",
    ),
    Case(
        "token-payload-array",
        _verify(_with_token(_token_segments(b'{"alg":"Ed25519"}', b"[1,2]"))),
        JoseError,
        "invalid_jwt",
    ),
    Case(
        "token-payload-string",
        _verify(_with_token(_token_segments(b'{"alg":"Ed25519"}', b'"cnf"'))),
        JoseError,
        "invalid_jwt",
    ),
    Case(
        "token-payload-duplicate-member",
        _verify(_with_token(_token_segments(b'{"alg":"Ed25519"}', b'{"exp":1, "exp":2}'))),
        JoseError,
        "invalid_jwt",
    ),
    Case("token-two-segments", _verify(_with_token("e30.e30")), JoseError, "invalid_jwt"),
    Case(
        "token-four-segments", _verify(_with_token("e30.e30.AAAA.AAAA")), JoseError, "invalid_jwt"
    ),
    Case("token-empty", _verify(_with_token("")), JoseError, "invalid_jwt"),
    Case(
        "token-exp-not-integer",
        _verify(
            signed_get(signature_key=encode_jwt({}, {**agent_claims(), "exp": "never"}, AP_KEY))
        ),
        JoseError,
        "invalid_jwt",
    ),
    Case(
        "token-deep-nesting",
        _verify(
            _with_token(
                _token_segments(b'{"alg":"Ed25519"}', b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")
            )
        ),
        JoseError,
        "invalid_jwt",
    ),
    # --- JWKs carrying a private key ----------------------------------------------------------
    Case(
        "cnf-jwk-with-private-d",
        _verify(
            signed_get(
                signature_key=encode_jwt({}, agent_claims(cnf_jwk=AGENT_KEY.private_jwk()), AP_KEY)
            )
        ),
        JoseError,
        "invalid_key",
    ),
    Case(
        "jwks-entry-with-private-d",
        _verify(
            signed_get(signature_key=JWKS_MEMBER),
            schemes=("jwks_uri",),
            jwks_lookup=lambda member: {"keys": [{**AGENT_KEY.private_jwk(), "kid": "k1"}]},
        ),
        JoseError,
        "invalid_key",
    ),
    Case(
        "jwk-with-private-d",
        _call(public_key_from_jwk, AGENT_KEY.private_jwk()),
        JoseError,
        "invalid_key",
    ),
    Case(
        "hwk-public-jwk-ok",
        _verify(signed_get(signature_key=HwkKey(label="sig", jwk=AGENT_KEY.public_jwk))),
        OK,
    ),
    # --- body digest --------------------------------------------------------------------------
    Case(
        "content-digest-malformed",
        _verify(
            replace_header(
                sign_request(post_request(), AGENT_KEY, signature_key=TOKEN, created=T0),
                "Content-Digest",
                "sha-256=abc",
            )
        ),
        SignatureError,
        "invalid_signature",
    ),
    # --- RFC 9651 parsers ---------------------------------------------------------------------
    Case(
        "sfv-item-non-ascii",
        _call(sfv.parse_item, '"caf\u00e9"'),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-list-non-ascii",
        _call(sfv.parse_list, "a, b\u00e9"),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-dictionary-non-ascii",
        _call(sfv.parse_dictionary, "a=1, b=\u00e9"),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-item-unterminated-string",
        _call(sfv.parse_item, '"abc'),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-list-unterminated-string",
        _call(sfv.parse_list, '"a", "b'),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-dictionary-unterminated-string",
        _call(sfv.parse_dictionary, 'a="x", b="y'),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-item-integer-16-digits",
        _call(sfv.parse_item, "1234567890123456"),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-item-lone-minus", _call(sfv.parse_item, "-"), StructuredFieldError, "invalid_request"
    ),
    Case(
        "sfv-item-integer-trailing-letter",
        _call(sfv.parse_item, "12a"),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-list-bad-integer",
        _call(sfv.parse_list, "1, --2"),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-dictionary-bad-integer",
        _call(sfv.parse_dictionary, "a=1234567890123456"),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-dictionary-duplicate-key",
        _call(sfv.parse_dictionary, "a=1, a=2", allow_duplicate_keys=False),
        StructuredFieldError,
        "invalid_request",
    ),
    Case(
        "sfv-dictionary-over-limit",
        _call(sfv.parse_dictionary, "a=1", max_length=2),
        StructuredFieldError,
        "invalid_request",
    ),
    Case("sfv-item-not-str", _call(sfv.parse_item, b"1"), StructuredFieldError, "invalid_request"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(case: Case) -> None:
    if case.error is None:
        case.run()
        return
    with pytest.raises(RemoteError) as caught:
        case.run()
    assert type(caught.value) is case.error, repr(caught.value)
    assert caught.value.code == case.code, caught.value
    assert caught.value.message
    if case.retryable is not None:
        assert caught.value.retryable is case.retryable


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_errors_do_not_echo_huge_inputs() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_request(_with("Signature-Key", SK + ';pad="' + "a" * 16_400 + '"'), now=T0)
    assert len(str(caught.value)) < 400
    assert TOKEN not in str(caught.value)


# ------------------------------------------------------------------------- property tests

SIGNATURE_HEADERS = ("Signature-Input", "Signature", "Signature-Key")

ANY_CHAR = st.characters(exclude_categories=())  # includes lone surrogates
FIELD_CHAR = st.one_of(
    st.sampled_from('sig=():;,"*?-_./+ \t@'),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    ANY_CHAR,
)
FIELD_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=120),
    st.text(FIELD_CHAR, max_size=160),
    st.sampled_from([SI, SIG, SK, ""]).flatmap(
        lambda base: st.text(FIELD_CHAR, max_size=20).map(lambda tail: base + tail)
    ),
)


def _outcome(request: HttpRequest, **kwargs: Any) -> None:
    try:
        result = verify_request(request, now=T0, **kwargs)
    except SignatureError as exc:
        assert exc.code  # a Signature-Error code, checked by the constructor
        return
    assert isinstance(result, VerifiedRequest)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.fixed_dictionaries({name: st.none() | FIELD_TEXT for name in SIGNATURE_HEADERS}),
    label=st.none() | st.sampled_from(["sig", "a", "other"]),
)
def test_arbitrary_signature_headers(values: dict[str, str | None], label: str | None) -> None:
    headers = [(name, value) for name, value in values.items() if value is not None]
    _outcome(HttpRequest("GET", "https://resource.example/api/documents", headers), label=label)


def _bases() -> list[HttpRequest]:
    identity = Ed25519Key.from_seed(seed("mutation identity"))
    ephemeral = Ed25519Key.from_seed(seed("mutation ephemeral"))
    jkt = encode_jwt(
        {"typ": "jkt-s256+jwt", "jwk": identity.public_jwk},
        {
            "iss": "urn:jkt:sha-256:" + identity.thumbprint,
            "cnf": {"jwk": ephemeral.public_jwk},
            "exp": T0 + 3600,
        },
        identity,
    )
    return [
        BASE,
        sign_request(post_request(), AGENT_KEY, signature_key=TOKEN, created=T0),
        sign_request(
            get_request([("Authorization", "AAuth abc")]),
            AGENT_KEY,
            signature_key=TOKEN,
            created=T0,
        ),
        signed_get(signature_key=HwkKey(label="sig", jwk=AGENT_KEY.public_jwk)),
        signed_get(ephemeral, signature_key=JktJwtKey(label="sig", jwt=jkt)),
    ]


MUTATION_BASES = _bases()


@st.composite
def _mutated(draw: st.DrawFn) -> HttpRequest:
    base = draw(st.sampled_from(MUTATION_BASES))
    headers = [list(pair) for pair in base.headers]
    for _ in range(draw(st.integers(1, 4))):
        row = draw(st.integers(0, len(headers) - 1))
        column = draw(st.sampled_from([1, 1, 1, 0]))  # mostly values, sometimes names
        text = headers[row][column]
        position = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "duplicate"]))
        char = draw(FIELD_CHAR)
        if op == "replace" and position < len(text):
            text = text[:position] + char + text[position + 1 :]
        elif op == "insert":
            text = text[:position] + char + text[position:]
        elif op == "delete" and position < len(text):
            text = text[:position] + text[position + 1 :]
        elif op == "truncate":
            text = text[:position]
        elif op == "duplicate":
            headers.append(list(headers[row]))
        headers[row][column] = text
    body = base.body
    if body and draw(st.booleans()):
        body = draw(st.binary(max_size=60))
    return HttpRequest(base.method, base.url, [(n, v) for n, v in headers], body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=_mutated())
def test_mutated_signed_requests(request: HttpRequest) -> None:
    _outcome(request)
    _outcome(request, accept_base64url_signature=False, require_body_digest=True)


def test_mutation_bases_verify() -> None:
    # The property test starts from requests that are valid: each base verifies untouched.
    for request in MUTATION_BASES:
        assert isinstance(verify_request(request, now=T0), VerifiedRequest)
