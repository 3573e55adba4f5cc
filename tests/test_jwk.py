"""JWK rules: RFC 7638 thumbprints, algorithm determination, member decoding, JWKS selection."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth._b64 import b64url_encode
from aauth.errors import JoseError
from aauth.jwk import (
    JWK_THUMBPRINT_URI_PREFIX,
    SUPPORTED_ALGS,
    decode_key_member,
    jwk_algorithm,
    jwk_thumbprint,
    jwk_thumbprint_uri,
    select_jwk,
)
from tests.vectors import load_vectors

JOSE = load_vectors("jose.json")
COMPUTED = load_vectors("aauth-computed.json")
JOSE_CASES = {case["id"]: case for case in JOSE["cases"]}

ED_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"  # RFC 8037 A.2
EC_X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"  # RFC 7515 A.3
EC_Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
ED_JWK = {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "alg": "Ed25519"}
EC_JWK = {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "alg": "ES256"}


def _raises(code: str) -> Any:
    return pytest.raises(JoseError, match=rf"^{code}: ")


# --------------------------------------------------------------------------- thumbprints

THUMBPRINT_CASES = [c for c in JOSE["cases"] if "thumbprint" in c] + [
    {"id": c["id"], "jwk": c["inputs"]["jwk"], **c["expected"]}
    for c in COMPUTED["cases"]
    if c["kind"] == "jwk-thumbprint"
]


@pytest.mark.parametrize("case", THUMBPRINT_CASES, ids=lambda c: c["id"])
def test_thumbprint_vectors(case: dict[str, Any]) -> None:
    assert jwk_thumbprint(case["jwk"]) == case["thumbprint"]
    # The published canonical JSON hashes to the published thumbprint (vector self-check) and
    # our thumbprint is that hash: the canonical input is the one of RFC 7638 §3.
    canonical = case["canonical_json"].encode()
    assert b64url_encode(hashlib.sha256(canonical).digest()) == case["thumbprint"]


def test_thumbprint_uri_matches_rfc8037_a3() -> None:
    case = JOSE_CASES["rfc8037-A.3-thumbprint"]
    assert jwk_thumbprint_uri(case["jwk"]) == case["jkt_uri"]
    assert case["jkt_uri"].startswith(JWK_THUMBPRINT_URI_PREFIX)


def test_thumbprint_of_private_jwk_equals_public() -> None:
    private = JOSE_CASES["rfc8037-A.1-private-key"]["jwk"]
    assert jwk_thumbprint(private) == JOSE_CASES["rfc8037-A.3-thumbprint"]["thumbprint"]


@pytest.mark.parametrize("jwk", [ED_JWK, EC_JWK], ids=["okp", "ec"])
def test_thumbprint_ignores_optional_members_and_order(jwk: dict[str, str]) -> None:
    base = jwk_thumbprint(jwk)
    extra = {**jwk, "kid": "key-1", "use": "sig", "key_ops": ["verify"], "alg": "other"}
    assert jwk_thumbprint(extra) == base
    without_alg = {k: v for k, v in jwk.items() if k != "alg"}
    assert jwk_thumbprint(without_alg) == base
    reordered = dict(reversed(list(jwk.items())))
    assert jwk_thumbprint(reordered) == base


def test_thumbprint_differs_between_keys() -> None:
    assert jwk_thumbprint(ED_JWK) != jwk_thumbprint({**ED_JWK, "x": EC_X})


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "OKP", "crv": "Ed25519"},  # no x
        {"kty": "EC", "crv": "P-256", "x": EC_X},  # no y
        {"kty": "RSA", "n": "AQAB"},  # no e
        {"kty": "OKP", "crv": "Ed25519", "x": 5},  # x not a string
        {"crv": "Ed25519", "x": ED_X},  # no kty
        {"kty": "oct", "k": "c2VjcmV0"},  # no thumbprint for symmetric keys here
        {"kty": "AKP", "pub": "AAAA"},
        {"kty": 1, "x": ED_X},
    ],
)
def test_thumbprint_refuses_incomplete_or_unknown_keys(jwk: dict[str, object]) -> None:
    with _raises("invalid_key"):
        jwk_thumbprint(jwk)


def test_thumbprint_refuses_non_mapping() -> None:
    with _raises("invalid_key"):
        jwk_thumbprint(["kty", "OKP"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- algorithm


def test_algorithm_of_good_keys() -> None:
    assert jwk_algorithm(ED_JWK) == "Ed25519"
    assert jwk_algorithm(EC_JWK) == "ES256"
    assert SUPPORTED_ALGS == ("Ed25519", "ES256")


ALGORITHM_NEGATIVES = [
    ("no-alg", {k: v for k, v in ED_JWK.items() if k != "alg"}, "unsupported_algorithm"),
    ("none", {**ED_JWK, "alg": "none"}, "unsupported_algorithm"),
    ("HS256", {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}, "unsupported_algorithm"),
    ("HS384", {"kty": "oct", "k": "c2VjcmV0", "alg": "HS384"}, "unsupported_algorithm"),
    ("HS512", {"kty": "oct", "k": "c2VjcmV0", "alg": "HS512"}, "unsupported_algorithm"),
    ("EdDSA", {**ED_JWK, "alg": "EdDSA"}, "unsupported_algorithm"),
    ("RS256", {"kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "RS256"}, "unsupported_algorithm"),
    ("ES384", {**EC_JWK, "crv": "P-384", "alg": "ES384"}, "unsupported_algorithm"),
    ("ML-DSA-44", {"kty": "AKP", "pub": "AAAA", "alg": "ML-DSA-44"}, "unsupported_algorithm"),
    ("lowercase", {**ED_JWK, "alg": "ed25519"}, "unsupported_algorithm"),
    ("alg-not-string", {**ED_JWK, "alg": 7}, "invalid_key"),
    ("ES256-with-P-384", {**EC_JWK, "crv": "P-384"}, "invalid_key"),
    ("Ed25519-with-kty-EC", {**ED_JWK, "kty": "EC"}, "invalid_key"),
    ("Ed25519-with-crv-X25519", {**ED_JWK, "crv": "X25519"}, "invalid_key"),
    ("Ed25519-with-oct", {"kty": "oct", "k": "c2VjcmV0", "alg": "Ed25519"}, "invalid_key"),
    ("ES256-with-kty-OKP", {**EC_JWK, "kty": "OKP"}, "invalid_key"),
    ("ES256-without-crv", {k: v for k, v in EC_JWK.items() if k != "crv"}, "invalid_key"),
]


@pytest.mark.parametrize(("name", "jwk", "code"), ALGORITHM_NEGATIVES, ids=str)
def test_algorithm_negatives(name: str, jwk: dict[str, object], code: str) -> None:
    with _raises(code):
        jwk_algorithm(jwk)


def test_algorithm_refuses_non_mapping() -> None:
    with _raises("invalid_key"):
        jwk_algorithm("Ed25519")  # type: ignore[arg-type]


def test_eddsa_only_with_compatibility_option_and_ed25519_curve() -> None:
    eddsa = {**ED_JWK, "alg": "EdDSA"}
    assert jwk_algorithm(eddsa, allow_eddsa=True) == "Ed25519"
    with _raises("unsupported_algorithm"):
        jwk_algorithm({**eddsa, "crv": "Ed448"}, allow_eddsa=True)
    with _raises("invalid_key"):  # EdDSA on Ed25519 but the wrong kty
        jwk_algorithm({**eddsa, "kty": "EC"}, allow_eddsa=True)
    with _raises("unsupported_algorithm"):  # Ed25519 itself not allowed
        jwk_algorithm(eddsa, allow_eddsa=True, allowed_algs=("ES256",))


def test_allowed_algs_restricts() -> None:
    with _raises("unsupported_algorithm"):
        jwk_algorithm(EC_JWK, allowed_algs=("Ed25519",))
    assert jwk_algorithm(EC_JWK, allowed_algs=("ES256",)) == "ES256"


# --------------------------------------------------------------------------- members


def test_decode_key_member() -> None:
    assert (
        decode_key_member(ED_JWK, "x", 32).hex() == JOSE_CASES["rfc8037-A.1-private-key"]["x_hex"]
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        ED_X + "=",  # padded
        ED_X[:-1],  # 31.x bytes: wrong length class
        ED_X[:-2],  # 31 bytes... not canonical / wrong length
        ED_X[:-1] + "p",  # non-zero trailing bits
        ED_X.replace("_", "/"),  # standard alphabet
        ED_X + "AAAA",  # 35 bytes
        " " + ED_X,
        "",
    ],
)
def test_decode_key_member_refuses(value: object) -> None:
    jwk = {**ED_JWK, "x": value}
    with _raises("invalid_key"):
        decode_key_member(jwk, "x", 32)


# --------------------------------------------------------------------------- JWKS


OTHER = {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"}  # no alg: unusable, ignored


def test_select_by_kid_ignores_other_members() -> None:
    ed = {**ED_JWK, "kid": "ed"}
    ec = {**EC_JWK, "kid": "ec"}
    jwks = {"keys": ["garbage", 17, None, OTHER, {"kid": "broken"}, ed, ec]}
    assert select_jwk(jwks, "ed") is ed
    assert select_jwk(jwks, "ec") is ec


def test_select_without_kid() -> None:
    ed = {**ED_JWK, "kid": "ed"}
    assert select_jwk({"keys": [ed]}, None) is ed
    assert select_jwk({"keys": [ed, "not-a-key"]}, None) is ed
    with _raises("unknown_key") as info:
        select_jwk({"keys": [ed, OTHER]}, None)
    assert info.value.retryable is False
    with _raises("unknown_key"):
        select_jwk({"keys": []}, None)


def test_select_unknown_kid_is_retryable() -> None:
    with _raises("unknown_key") as info:
        select_jwk({"keys": [{**ED_JWK, "kid": "a"}]}, "b")
    assert info.value.retryable is True


def test_select_duplicate_kid_breaks_tie_by_alg() -> None:
    ed = {**ED_JWK, "kid": "k"}
    ec = {**EC_JWK, "kid": "k"}
    jwks = {"keys": [ed, ec]}
    assert select_jwk(jwks, "k", alg="ES256") is ec
    assert select_jwk(jwks, "k", alg="Ed25519") is ed
    with _raises("unknown_key"):
        select_jwk(jwks, "k")
    with _raises("unknown_key"):
        select_jwk({"keys": [ed, dict(ed)]}, "k", alg="Ed25519")
    with _raises("unknown_key"):
        select_jwk(jwks, "k", alg="PS256")


@pytest.mark.parametrize(
    "jwks",
    [{}, {"keys": "abc"}, {"keys": b"abc"}, {"keys": {"kid": "a"}}, {"keys": None}, ["keys"]],
    ids=repr,
)
def test_select_refuses_non_jwks(jwks: object) -> None:
    with _raises("invalid_key"):
        select_jwk(jwks, "a")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

_MEMBER_NAMES = st.sampled_from(["kty", "crv", "x", "y", "alg", "d", "kid", "use", "n", "e"])
_MEMBER_VALUES = st.one_of(
    st.sampled_from(["OKP", "EC", "RSA", "oct", "Ed25519", "P-256", "ES256", "EdDSA", ED_X]),
    st.text(max_size=50),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
)


@given(st.dictionaries(_MEMBER_NAMES, _MEMBER_VALUES, max_size=8), st.booleans())
def test_jwk_functions_return_or_raise_jose_error(jwk: dict[str, object], eddsa: bool) -> None:
    kid = jwk.get("kid")
    for call in (
        lambda: jwk_thumbprint(jwk),
        lambda: jwk_algorithm(jwk, allow_eddsa=eddsa),
        lambda: decode_key_member(jwk, "x", 32),
        lambda: select_jwk({"keys": [jwk]}, kid if isinstance(kid, str) else None),
    ):
        try:
            call()
        except JoseError as exc:
            assert exc.code in {"invalid_key", "unsupported_algorithm", "unknown_key"}
