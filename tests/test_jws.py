"""Compact JWS / JWT: vectors both ways, the refusal table, and "value or our error" properties."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth._b64 import b64url_decode, b64url_encode
from aauth.errors import JoseError, LocalError
from aauth.jws import (
    DEFAULT_MAX_TOKEN_LENGTH,
    ParsedJwt,
    decode_jws,
    decode_jwt,
    decode_jwt_unverified,
    encode_jws,
    encode_jwt,
    parse_jwt,
    verify_jwt,
)
from aauth.keys import EcP256Key, Ed25519Key, PrivateKey, public_key_from_jwk
from tests.vectors import load_vectors

JOSE = {case["id"]: case for case in load_vectors("jose.json")["cases"]}
COMPUTED = load_vectors("aauth-computed.json")
JWT_CASES = [c for c in COMPUTED["cases"] if c["kind"] == "jwt"]

A1_KEY = Ed25519Key.from_jwk(JOSE["rfc8037-A.1-private-key"]["jwk"])
A2_JWK = JOSE["rfc8037-A.2-public-key"]["jwk"]  # no alg, as printed in RFC 8037
AP_KEY = Ed25519Key.from_jwk(COMPUTED["keys"]["digest-ap-key"]["private_jwk"])
OTHER_KEY = Ed25519Key.generate(bytes(range(32)))
EC_KEY = EcP256Key.generate(bytes(range(1, 33)))

NOW = 1_730_217_000
TYP = "aa-agent+jwt"
CLAIMS = {"iss": "https://agent.example", "iat": NOW, "exp": NOW + 3600}


def _raises(code: str) -> Any:
    return pytest.raises(JoseError, match=rf"^{code}: ")


def _b64json(obj: object) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def _token(
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    key: PrivateKey = AP_KEY,
) -> str:
    return encode_jwt(
        {"typ": TYP, "kid": "ap-key-1"} if header is None else header,
        CLAIMS if claims is None else claims,
        key,
    )


def _raw_token(header_json: bytes, payload_json: bytes, key: PrivateKey = AP_KEY) -> str:
    """Sign arbitrary header bytes (encode_jws refuses a header whose alg is not the key's)."""
    signing_input = b64url_encode(header_json) + "." + b64url_encode(payload_json)
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode()))


# --------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("case", JWT_CASES, ids=lambda c: c["id"])
def test_jwt_vectors_reproduce_byte_for_byte(case: dict[str, Any]) -> None:
    inputs = case["inputs"]
    key = Ed25519Key.from_jwk(COMPUTED["keys"][inputs["signing_key"]]["private_jwk"])
    expected = case["expected"]["jwt"]
    assert (
        encode_jws(inputs["header_json"].encode(), inputs["payload_json"].encode(), key) == expected
    )
    assert encode_jwt(inputs["header"], inputs["payload"], key) == expected
    header_without_alg = {k: v for k, v in inputs["header"].items() if k != "alg"}
    assert encode_jwt(header_without_alg, inputs["payload"], key) == expected  # alg put first


@pytest.mark.parametrize("case", JWT_CASES, ids=lambda c: c["id"])
def test_jwt_vectors_verify(case: dict[str, Any]) -> None:
    inputs = case["inputs"]
    public_jwk = COMPUTED["keys"][inputs["signing_key"]]["public_jwk"]
    token = case["expected"]["jwt"]
    now = inputs["payload"]["iat"]
    jwks = {"keys": [{**OTHER_KEY.public_jwk, "kid": "other"}, {**public_jwk, "kid": "ap-key-1"}]}
    for keys in (public_jwk, public_key_from_jwk(public_jwk), jwks):
        assert decode_jwt(token, keys, now=now, typ="aa-agent+jwt") == inputs["payload"]
    header, claims = decode_jwt_unverified(token)
    assert header == inputs["header"]
    assert claims == inputs["payload"]
    assert list(header) == ["alg", "typ", "kid"]


def test_computed_jws_ed25519_reproduces_and_verifies() -> None:
    case = JOSE["computed-jws-ed25519"]
    token = encode_jws(case["protected_header"].encode(), case["payload"].encode(), A1_KEY)
    assert token == case["compact_jws"]
    header, payload = decode_jws(token, {**A2_JWK, "alg": "Ed25519"})
    assert header == {"alg": "Ed25519"}
    assert payload == case["payload"].encode()
    # The payload is not JSON: as a JWT it is refused.
    with _raises("invalid_jwt"):
        decode_jwt(token, {**A2_JWK, "alg": "Ed25519"}, now=0, typ=None)


def test_rfc8037_eddsa_jws_only_with_compatibility_option() -> None:
    case = JOSE["rfc8037-A.4-jws-eddsa"]
    token = case["compact_jws"]
    for alg in ("Ed25519", "EdDSA"):
        jwk = {**A2_JWK, "alg": alg}
        with _raises("unsupported_algorithm"):
            decode_jws(token, jwk)
        header, payload = decode_jws(token, jwk, allow_eddsa=True)
        assert header == {"alg": "EdDSA"}
        assert payload == case["payload"].encode()
    # The signature really is checked under allow_eddsa.
    with _raises("invalid_jwt"):
        decode_jws(token, OTHER_KEY.public_key, allow_eddsa=True)
    # A JWK without alg stays refused even in compatibility mode.
    with _raises("unsupported_algorithm"):
        decode_jws(token, A2_JWK, allow_eddsa=True)


RFC7515_A3_TOKEN = (
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)
RFC7515_A3_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "alg": "ES256",
}


def test_rfc7515_a3_es256_jwt_verifies() -> None:
    # The payload has CRLF whitespace: this also takes the slow duplicate-member scan.
    claims = decode_jwt(RFC7515_A3_TOKEN, RFC7515_A3_JWK, now=1_300_819_300, typ=None)
    assert claims == {"iss": "joe", "exp": 1_300_819_380, "http://example.com/is_root": True}
    with _raises("expired_jwt"):
        decode_jwt(RFC7515_A3_TOKEN, RFC7515_A3_JWK, now=1_300_819_440, typ=None)
    with _raises("invalid_key"):  # an Ed25519 key for an ES256 token
        decode_jwt(RFC7515_A3_TOKEN, AP_KEY.public_jwk, now=1_300_819_300, typ=None)
    with _raises("unsupported_algorithm"):
        decode_jwt(
            RFC7515_A3_TOKEN,
            RFC7515_A3_JWK,
            now=1_300_819_300,
            typ=None,
            allowed_algs=("Ed25519",),
        )


def test_es256_round_trip() -> None:
    token = _token(claims=CLAIMS, key=EC_KEY)
    assert json.loads(b64url_decode(token.split(".")[0])) == {
        "alg": "ES256",
        "typ": TYP,
        "kid": "ap-key-1",
    }
    assert decode_jwt(token, EC_KEY.public_jwk, now=NOW, typ=TYP) == CLAIMS
    assert decode_jwt(token, EC_KEY.public_key, now=NOW, typ=TYP) == CLAIMS
    assert token == _token(claims=CLAIMS, key=EC_KEY)  # deterministic ECDSA


def test_parse_then_verify_equals_decode() -> None:
    token = _token()
    parsed = parse_jwt(token)
    assert isinstance(parsed, ParsedJwt)
    assert parsed.header["kid"] == "ap-key-1"
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode()
    assert len(parsed.signature) == 64
    assert verify_jwt(parsed, AP_KEY.public_key, now=NOW, typ=TYP) == CLAIMS
    assert decode_jwt(token, AP_KEY.public_key, now=NOW, typ=TYP) == CLAIMS
    text = repr(parsed)
    assert "https://agent.example" not in text
    assert "3 claims" in text


# --------------------------------------------------------------------------- encoding


def test_encode_jwt_alg_handling() -> None:
    token = encode_jwt({"typ": TYP}, CLAIMS, AP_KEY)
    assert list(decode_jwt_unverified(token)[0]) == ["alg", "typ"]
    token = encode_jwt({"typ": TYP, "alg": "Ed25519"}, CLAIMS, AP_KEY)
    assert list(decode_jwt_unverified(token)[0]) == ["typ", "alg"]  # order as given
    with pytest.raises(LocalError):
        encode_jwt({"alg": "ES256"}, CLAIMS, AP_KEY)
    with pytest.raises(LocalError):
        encode_jwt({"alg": "EdDSA"}, CLAIMS, AP_KEY)


def test_encode_jwt_accepts_mappings_and_refuses_non_json() -> None:
    token = encode_jwt(MappingProxyType({"typ": TYP}), MappingProxyType(CLAIMS), AP_KEY)
    assert decode_jwt(token, AP_KEY.public_key, now=NOW, typ=TYP) == CLAIMS
    with pytest.raises(LocalError):
        encode_jwt({}, {"exp": object()}, AP_KEY)
    with pytest.raises(LocalError):
        encode_jwt({"x": object()}, CLAIMS, AP_KEY)


def test_encode_jwt_output_is_compact() -> None:
    token = encode_jwt({"typ": TYP}, {"a": [1, 2], "b": {"c": "é"}}, AP_KEY)
    assert b64url_decode(token.split(".")[1]) == '{"a":[1,2],"b":{"c":"é"}}'.encode()


def test_encode_jws_checks_header() -> None:
    with pytest.raises(LocalError):
        encode_jws(b'{"alg":"ES256"}', b"{}", AP_KEY)
    with pytest.raises(LocalError):
        encode_jws(b'{"typ":"x"}', b"{}", AP_KEY)
    with pytest.raises(LocalError):
        encode_jws(b"not json", b"{}", AP_KEY)
    with pytest.raises(LocalError):
        encode_jws(b'["alg"]', b"{}", AP_KEY)


# --------------------------------------------------------------------------- refusals


def _resign(token: str, key: PrivateKey = AP_KEY) -> str:
    head, payload, _ = token.split(".")
    return f"{head}.{payload}." + b64url_encode(key.sign(f"{head}.{payload}".encode()))


GOOD = _token()
H, P, S = GOOD.split(".")
HEADER_JSON = b64url_decode(H)
PAYLOAD_JSON = b64url_decode(P)


def _with_header(header: dict[str, Any]) -> str:
    return _raw_token(json.dumps(header, separators=(",", ":")).encode(), PAYLOAD_JSON)


def _with_claims(claims: dict[str, Any]) -> str:
    return _raw_token(HEADER_JSON, json.dumps(claims, separators=(",", ":")).encode())


P384_JWK = {**EC_KEY.public_jwk, "crv": "P-384"}
EC_AS_ED = {**AP_KEY.public_jwk, "kty": "EC"}
NO_ALG_JWK = {k: v for k, v in AP_KEY.public_jwk.items() if k != "alg"}
AP_PUBLIC = AP_KEY.public_key

# (name, token, keys, extra kwargs, code)
NEGATIVES: list[tuple[str, str, Any, dict[str, Any], str]] = [
    (
        "alg-none",
        f"{_b64json({'alg': 'none', 'typ': TYP})}.{P}.",
        AP_PUBLIC,
        {},
        "unsupported_algorithm",
    ),
    (
        "alg-none-signed",
        _with_header({"alg": "none", "typ": TYP}),
        AP_PUBLIC,
        {},
        "unsupported_algorithm",
    ),
    (
        "alg-HS256",
        _with_header({"alg": "HS256", "typ": TYP}),
        AP_PUBLIC,
        {},
        "unsupported_algorithm",
    ),
    (
        "alg-HS384",
        _with_header({"alg": "HS384", "typ": TYP}),
        AP_PUBLIC,
        {},
        "unsupported_algorithm",
    ),
    (
        "alg-HS512",
        _with_header({"alg": "HS512", "typ": TYP}),
        AP_PUBLIC,
        {},
        "unsupported_algorithm",
    ),
    (
        "alg-EdDSA",
        _with_header({"alg": "EdDSA", "typ": TYP}),
        AP_PUBLIC,
        {},
        "unsupported_algorithm",
    ),
    (
        "alg-RS256",
        _with_header({"alg": "RS256", "typ": TYP}),
        AP_PUBLIC,
        {},
        "unsupported_algorithm",
    ),
    (
        "alg-lowercase",
        _with_header({"alg": "ed25519", "typ": TYP}),
        AP_PUBLIC,
        {},
        "unsupported_algorithm",
    ),
    ("alg-missing", _with_header({"typ": TYP}), AP_PUBLIC, {}, "invalid_jwt"),
    (
        "alg-not-string",
        _with_header({"alg": ["Ed25519"], "typ": TYP}),
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    ("alg-ES256-ed-key", _with_header({"alg": "ES256", "typ": TYP}), AP_PUBLIC, {}, "invalid_key"),
    ("jwk-ES256-P-384", _token(key=EC_KEY), P384_JWK, {}, "invalid_key"),
    ("jwk-Ed25519-kty-EC", GOOD, EC_AS_ED, {}, "invalid_key"),
    ("jwk-alg-less", GOOD, NO_ALG_JWK, {}, "unsupported_algorithm"),
    ("jwk-EdDSA", GOOD, {**AP_KEY.public_jwk, "alg": "EdDSA"}, {}, "unsupported_algorithm"),
    ("jwk-private", GOOD, AP_KEY.private_jwk(), {}, "invalid_key"),
    (
        "crit",
        _with_header({"alg": "Ed25519", "typ": TYP, "crit": ["exp"], "exp": 1}),
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    ("typ-wrong", _token({"typ": "aa-person+jwt"}), AP_PUBLIC, {}, "invalid_jwt"),
    ("typ-missing", _token({}), AP_PUBLIC, {}, "invalid_jwt"),
    ("typ-not-string", _with_header({"alg": "Ed25519", "typ": 1}), AP_PUBLIC, {}, "invalid_jwt"),
    ("typ-other-type", _token({"typ": "text/aa-agent+jwt"}), AP_PUBLIC, {}, "invalid_jwt"),
    (
        "kid-not-string",
        _with_header({"alg": "Ed25519", "typ": TYP, "kid": 1}),
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    ("expired", _token(claims={"exp": NOW - 61}), AP_PUBLIC, {}, "expired_jwt"),
    ("expired-exact-edge", _token(claims={"exp": NOW - 60}), AP_PUBLIC, {}, "expired_jwt"),
    ("expired-no-leeway", _token(claims={"exp": NOW}), AP_PUBLIC, {"leeway": 0}, "expired_jwt"),
    ("exp-missing", _token(claims={"iat": NOW}), AP_PUBLIC, {}, "invalid_jwt"),
    ("exp-float", _token(claims={"exp": float(NOW + 100)}), AP_PUBLIC, {}, "invalid_jwt"),
    ("exp-bool", _token(claims={"exp": True}), AP_PUBLIC, {}, "invalid_jwt"),
    ("exp-string", _token(claims={"exp": str(NOW + 100)}), AP_PUBLIC, {}, "invalid_jwt"),
    ("exp-null", _token(claims={"exp": None}), AP_PUBLIC, {}, "invalid_jwt"),
    ("exp-exponent", _with_claims({"exp": 1.7e9}), AP_PUBLIC, {}, "invalid_jwt"),
    (
        "iat-future",
        _token(claims={"exp": NOW + 600, "iat": NOW + 61}),
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    (
        "iat-float",
        _token(claims={"exp": NOW + 600, "iat": NOW + 0.5}),
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    (
        "nbf-future",
        _token(claims={"exp": NOW + 600, "nbf": NOW + 61}),
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    ("wrong-signature", _token(key=OTHER_KEY), AP_PUBLIC, {}, "invalid_jwt"),
    (
        "tampered-payload",
        f"{H}.{_b64json({**CLAIMS, 'iss': 'x'})}.{S}",
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    ("truncated-signature", f"{H}.{P}.{S[:-2]}", AP_PUBLIC, {}, "invalid_jwt"),
    (
        "signature-63-bytes",
        f"{H}.{P}.{b64url_encode(b64url_decode(S)[:63])}",
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    (
        "signature-65-bytes",
        f"{H}.{P}.{b64url_encode(b64url_decode(S) + b'0')}",
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    ("signature-empty", f"{H}.{P}.", AP_PUBLIC, {}, "invalid_jwt"),
    ("unknown-kid", GOOD, {"keys": [{**AP_KEY.public_jwk, "kid": "other"}]}, {}, "unknown_key"),
    (
        "no-kid-two-keys",
        _token({"typ": TYP}),
        {"keys": [{**AP_KEY.public_jwk, "kid": "a"}, {**OTHER_KEY.public_jwk, "kid": "b"}]},
        {},
        "unknown_key",
    ),
    ("kid-mismatch-single-jwk", GOOD, {**AP_KEY.public_jwk, "kid": "other"}, {}, "unknown_key"),
    ("jwks-without-keys-array", GOOD, {"keys": {"kid": "ap-key-1"}}, {}, "invalid_key"),
    (
        "selected-jwks-entry-unusable",
        GOOD,
        {"keys": [NO_ALG_JWK | {"kid": "ap-key-1"}]},
        {},
        "unsupported_algorithm",
    ),
    (
        "algorithms-restricted",
        GOOD,
        AP_PUBLIC,
        {"allowed_algs": ("ES256",)},
        "unsupported_algorithm",
    ),
    (
        "oversized",
        _token(claims={**CLAIMS, "pad": "x" * DEFAULT_MAX_TOKEN_LENGTH}),
        AP_PUBLIC,
        {},
        "invalid_jwt",
    ),
    ("oversized-custom-limit", GOOD, AP_PUBLIC, {"max_length": 100}, "invalid_jwt"),
]


@pytest.mark.parametrize(
    ("name", "token", "keys", "kwargs", "code"), NEGATIVES, ids=[n[0] for n in NEGATIVES]
)
def test_refusals(name: str, token: str, keys: Any, kwargs: dict[str, Any], code: str) -> None:
    options: dict[str, Any] = {"now": NOW, "typ": TYP, **kwargs}
    with _raises(code) as info:
        decode_jwt(token, keys, **options)
    assert isinstance(info.value, JoseError)
    assert info.value.code == code
    assert token not in str(info.value)  # never echo the token
    assert info.value.retryable is (code == "expired_jwt" or name == "unknown-kid")


def test_oversized_message_names_the_limit() -> None:
    with _raises("invalid_jwt") as info:
        decode_jwt(GOOD, AP_PUBLIC, now=NOW, typ=TYP, max_length=100)
    assert "100" in info.value.message


# Malformed structure: each segment, each kind of defect.
def _segments(h: str = H, p: str = P, s: str = S) -> str:
    return f"{h}.{p}.{s}"


NOT_OBJECT = b64url_encode(b"[1,2]")
NOT_JSON = b64url_encode(b"{not json")
NOT_UTF8 = b64url_encode(b'{"a":"\xff"}')
MALFORMED = [
    ("two-segments", f"{H}.{P}"),
    ("four-segments", f"{H}.{P}.{S}.{S}"),
    ("empty", ""),
    ("dots-only", ".."),
    ("header-bad-char", _segments(h="*" + H[1:])),
    ("header-padding", _segments(h=H + "=")),
    ("header-std-alphabet", _segments(h=H.replace("J", "+", 1))),
    ("header-bad-length", _segments(h=H + "A")),
    ("header-whitespace", _segments(h=" " + H)),
    ("header-non-ascii", _segments(h="é" + H)),
    ("header-not-json", _segments(h=NOT_JSON)),
    ("header-not-utf8", _segments(h=NOT_UTF8)),
    ("header-array", _segments(h=NOT_OBJECT)),
    ("header-string", _segments(h=b64url_encode(b'"Ed25519"'))),
    ("header-empty", _segments(h="")),
    ("header-duplicate", _segments(h=b64url_encode(b'{"alg":"Ed25519","alg":"none"}'))),
    ("header-duplicate-spaced", _segments(h=b64url_encode(b'{"alg": "none", "alg": "Ed25519"}'))),
    ("payload-bad-char", _segments(p=P[:10] + "!" + P[11:])),
    ("payload-padding", _segments(p=P + "==")),
    ("payload-noncanonical", _segments(p=b64url_encode(b"{}")[:-1] + "1")),
    ("payload-not-json", _segments(p=NOT_JSON)),
    ("payload-array", _segments(p=NOT_OBJECT)),
    ("payload-number", _segments(p=b64url_encode(b"1730217000"))),
    ("payload-nan", _segments(p=b64url_encode(b'{"exp":NaN}'))),
    ("payload-duplicate", _segments(p=b64url_encode(b'{"exp":1,"exp":2}'))),
    ("payload-duplicate-nested", _segments(p=b64url_encode(b'{"cnf":{"jwk":{"x":"a","x":"b"}}}'))),
    ("payload-trailing-garbage", _segments(p=b64url_encode(b'{"exp":1}x'))),
    ("signature-bad-char", _segments(s=S[:5] + "." + S[6:])),
    ("signature-padding", _segments(s=S + "==")),
    ("signature-noncanonical", _segments(s=S[:-1] + "B")),
    ("signature-std-alphabet", _segments(s="/" + S[1:])),
]


@pytest.mark.parametrize(("name", "token"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_tokens(name: str, token: str) -> None:
    for call in (
        lambda: decode_jwt(token, AP_PUBLIC, now=NOW, typ=TYP),
        lambda: decode_jwt_unverified(token),
    ):
        with _raises("invalid_jwt"):
            call()


def test_non_string_token() -> None:
    for bad in (None, b"a.b.c", 12, ["a", "b", "c"]):
        with _raises("invalid_jwt"):
            decode_jwt(bad, AP_PUBLIC, now=NOW, typ=TYP)  # type: ignore[arg-type]


def test_duplicates_refused_whatever_the_spacing() -> None:
    # The slow path (non-compact JSON) accepts a legitimate object...
    spaced = _raw_token(b'{ "alg" : "Ed25519", "typ": "aa-agent+jwt" }', b'{"exp": 1730220600}')
    assert decode_jwt(spaced, AP_PUBLIC, now=NOW, typ=TYP) == {"exp": 1_730_220_600}
    escaped = _raw_token(HEADER_JSON, b'{"\\u0065xp":1730220600,"exp":1730220600}')
    with _raises("invalid_jwt"):  # "\u0065xp" is "exp": a duplicate in disguise
        decode_jwt(escaped, AP_PUBLIC, now=NOW, typ=TYP)


def test_json_deeper_than_the_parsers_allow() -> None:
    for depth in (200, 1500, 5000):
        nested = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
        token = _raw_token(HEADER_JSON, nested)
        try:
            decode_jwt_unverified(token)
        except JoseError as exc:
            assert exc.code == "invalid_jwt"


def test_stdlib_rejection_after_msgspec_acceptance(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise RecursionError

    monkeypatch.setattr(json, "loads", refuse)
    spaced = _raw_token(HEADER_JSON, b'{"exp": 1}')
    with _raises("invalid_jwt"):
        decode_jwt_unverified(spaced)


# --------------------------------------------------------------------------- accepted variants


def test_time_claim_edges() -> None:
    ok: list[tuple[str, dict[str, Any]]] = [
        (_token(claims={"exp": NOW - 59}), {}),
        (_token(claims={"exp": NOW + 1}), {"leeway": 0}),
        (_token(claims={"exp": NOW + 600, "iat": NOW + 60}), {}),
        (_token(claims={"exp": NOW + 600, "nbf": NOW + 60}), {}),
        (_token(claims={"iat": NOW}), {"require_exp": False}),
        (_token(claims={"exp": 2**70}), {}),
    ]
    for token, kwargs in ok:
        options: dict[str, Any] = {"now": NOW, "typ": TYP, **kwargs}
        assert decode_jwt(token, AP_PUBLIC, **options) == parse_jwt(token).claims


def test_typ_comparison_follows_rfc7515() -> None:
    for typ in (
        "aa-agent+jwt",
        "application/aa-agent+jwt",
        "AA-Agent+JWT",
        "Application/aa-agent+JWT",
    ):
        token = _token({"typ": typ})
        assert decode_jwt(token, AP_PUBLIC, now=NOW, typ=TYP) == CLAIMS
        assert decode_jwt(token, AP_PUBLIC, now=NOW, typ="application/aa-agent+jwt") == CLAIMS
    assert decode_jwt(_token({}), AP_PUBLIC, now=NOW, typ=None) == CLAIMS  # check skipped


def test_jwks_selection_never_fails_because_of_other_members() -> None:
    jwks = {
        "keys": [
            "garbage",
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {**NO_ALG_JWK, "kid": "alg-less"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
            {**AP_KEY.public_jwk, "kid": "ap-key-1"},
        ]
    }
    assert decode_jwt(GOOD, jwks, now=NOW, typ=TYP) == CLAIMS
    single = {"keys": [AP_KEY.public_jwk]}
    assert decode_jwt(_token({"typ": TYP}), single, now=NOW, typ=TYP) == CLAIMS
    # A single JWK with no kid is used whatever the header kid.
    assert decode_jwt(GOOD, AP_KEY.public_jwk, now=NOW, typ=TYP) == CLAIMS


def test_eddsa_header_jwt_with_compatibility_option() -> None:
    token = _with_header({"alg": "EdDSA", "typ": TYP})
    with _raises("unsupported_algorithm"):
        decode_jwt(token, AP_PUBLIC, now=NOW, typ=TYP)
    assert decode_jwt(token, AP_PUBLIC, now=NOW, typ=TYP, allow_eddsa=True) == CLAIMS
    with _raises("invalid_key"):
        decode_jwt(token, EC_KEY.public_key, now=NOW, typ=TYP, allow_eddsa=True)


@pytest.mark.parametrize(
    ("keys", "kwargs"),
    [
        ("not keys", {}),
        (None, {}),
        (AP_PUBLIC, {"now": float(NOW)}),
        (AP_PUBLIC, {"now": True}),
        (AP_PUBLIC, {"leeway": -1}),
        (AP_PUBLIC, {"leeway": 1.5}),
    ],
)
def test_caller_misuse_is_local_error(keys: Any, kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"now": NOW, "typ": TYP, **kwargs}
    with pytest.raises(LocalError):
        decode_jwt(GOOD, keys, **options)


def test_decode_jwt_unverified_does_not_verify() -> None:
    forged = _token(key=OTHER_KEY)
    header, claims = decode_jwt_unverified(forged)
    assert header["kid"] == "ap-key-1"
    assert claims == CLAIMS


# --------------------------------------------------------------------------- properties


def _decode_or_our_error(call: Callable[[], object]) -> None:
    try:
        call()
    except JoseError as exc:
        assert exc.code in {
            "invalid_jwt",
            "expired_jwt",
            "invalid_key",
            "unsupported_algorithm",
            "unknown_key",
        }


@given(st.text(max_size=300))
def test_arbitrary_text(token: str) -> None:
    _decode_or_our_error(lambda: decode_jwt(token, AP_PUBLIC, now=NOW, typ=TYP))
    _decode_or_our_error(lambda: decode_jws(token, AP_KEY.public_jwk))


@given(st.binary(max_size=80), st.binary(max_size=80), st.binary(max_size=70))
def test_arbitrary_segments(header: bytes, payload: bytes, signature: bytes) -> None:
    token = ".".join(b64url_encode(part) for part in (header, payload, signature))
    _decode_or_our_error(lambda: decode_jwt(token, AP_PUBLIC, now=NOW, typ=TYP))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
_HEADER_VALUES = st.one_of(
    st.sampled_from(["Ed25519", "EdDSA", "ES256", "none", "HS256", TYP, "ap-key-1"]), _JSON
)


@given(
    st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit", "jwk"]), _HEADER_VALUES),
    st.dictionaries(st.sampled_from(["exp", "iat", "nbf", "iss", "cnf"]), _JSON),
    st.booleans(),
)
def test_arbitrary_signed_json(header: dict[str, Any], claims: dict[str, Any], eddsa: bool) -> None:
    token = _raw_token(json.dumps(header).encode(), json.dumps(claims).encode())
    jwks = {"keys": [{**AP_KEY.public_jwk, "kid": "ap-key-1"}, {**EC_KEY.public_jwk, "kid": "ec"}]}
    _decode_or_our_error(lambda: decode_jwt(token, AP_PUBLIC, now=NOW, typ=TYP, allow_eddsa=eddsa))
    _decode_or_our_error(lambda: decode_jwt(token, jwks, now=NOW, typ=TYP, allow_eddsa=eddsa))
