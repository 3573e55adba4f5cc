"""Signing and verifying keys: Ed25519 (PyNaCl) and ES256 (cryptography, lazily imported)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth._b64 import b64url_decode, b64url_encode
from aauth.errors import JoseError, LocalError
from aauth.jwk import jwk_thumbprint
from aauth.keys import (
    EcP256Key,
    EcP256PublicKey,
    Ed25519Key,
    Ed25519PublicKey,
    PrivateKey,
    PublicKey,
    public_key_from_jwk,
)
from tests.vectors import load_vectors

JOSE = {case["id"]: case for case in load_vectors("jose.json")["cases"]}
COMPUTED = load_vectors("aauth-computed.json")
RFC9421 = load_vectors("rfc9421.json")

# RFC 6979 §A.2.5: P-256 private key, its public point, and the SHA-256 signature of "sample".
RFC6979_D = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC6979_UX = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
RFC6979_UY = "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
RFC6979_R = "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
RFC6979_S = "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"

# RFC 9421 §B.1.3 test-key-ecc-p256 (private JWK with d, x, y; checked against its PEMs).
ECC_P256 = {k: v for k, v in RFC9421["keys"]["test-key-ecc-p256"]["jwk"].items() if k != "kid"}

# RFC 7515 §A.3.1: the ES256 example public key (thumbprint in digest §9.2).
RFC7515_A3 = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _raises(code: str) -> Any:
    return pytest.raises(JoseError, match=rf"^{code}: ")


def _public(jwk: dict[str, str], alg: str) -> dict[str, str]:
    return {**{k: v for k, v in jwk.items() if k not in ("d", "kid")}, "alg": alg}


# --------------------------------------------------------------------------- Ed25519 keys


@pytest.mark.parametrize("name", sorted(COMPUTED["keys"]))
def test_ed25519_key_from_jwk_and_seed_agree(name: str) -> None:
    entry = COMPUTED["keys"][name]
    from_jwk = Ed25519Key.from_jwk(entry["private_jwk"])
    from_seed = Ed25519Key.from_seed(bytes.fromhex(entry["seed_hex"]))
    assert from_jwk.public_jwk == from_seed.public_jwk == entry["public_jwk"]
    assert from_jwk.public_key.public_bytes.hex() == entry["public_hex"]
    assert from_jwk.private_jwk() == {**entry["private_jwk"], "alg": "Ed25519"}


def test_key_derivation_vector() -> None:
    (case,) = [c for c in COMPUTED["cases"] if c["kind"] == "key-derivation"]
    seed = hashlib.sha256(b"aauth-digest-test-ap-key").digest()
    assert seed.hex() == case["expected"]["seed_hex"]
    assert Ed25519Key.from_seed(seed).public_jwk["x"] == case["expected"]["x"]


@pytest.mark.parametrize("case", [c for c in COMPUTED["cases"] if c["kind"] == "jwk-thumbprint"])
def test_ed25519_thumbprints(case: dict[str, Any]) -> None:
    if case["inputs"]["jwk"]["kty"] != "OKP":
        return
    matching = [
        k for k in COMPUTED["keys"].values() if k["public_jwk"]["x"] == case["inputs"]["jwk"]["x"]
    ]
    key = Ed25519Key.from_jwk(matching[0]["private_jwk"])
    assert key.thumbprint == case["expected"]["thumbprint"]
    assert key.public_key.thumbprint == case["expected"]["thumbprint"]


def test_rfc8037_key_and_signature() -> None:
    a1 = JOSE["rfc8037-A.1-private-key"]
    key = Ed25519Key.from_jwk(a1["jwk"])
    assert key.public_key.public_bytes.hex() == a1["x_hex"]
    assert key.public_jwk["x"] == a1["jwk"]["x"]
    for case_id in ("rfc8037-A.4-jws-eddsa", "computed-jws-ed25519"):
        case = JOSE[case_id]
        signature = key.sign(case["signing_input"].encode())
        assert signature.hex() == case["signature_hex"]
        assert key.public_key.verify(case["signing_input"].encode(), signature)


def test_rfc9421_b26_ed25519_signature_reproduces() -> None:
    (case,) = [c for c in RFC9421["cases"] if c["id"] == "B.2.6"]
    key = Ed25519Key.from_seed(
        bytes.fromhex(RFC9421["keys"]["test-key-ed25519"]["raw"]["private_seed_hex"])
    )
    assert base64.b64encode(key.sign(case["signature_base"].encode())).decode() == case["signature"]


def test_ed25519_public_jwk_is_a_fresh_dict() -> None:
    key = Ed25519Key.generate(bytes(range(32)))
    jwk = key.public_jwk
    jwk["x"] = "tampered"
    jwk["kid"] = "x"
    assert key.public_jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url_encode(key.public_key.public_bytes),
        "alg": "Ed25519",
    }
    assert list(key.public_jwk) == ["kty", "crv", "x", "alg"]


def test_ed25519_generate_uses_caller_entropy() -> None:
    entropy = hashlib.sha256(b"entropy").digest()
    assert Ed25519Key.generate(entropy).public_jwk == Ed25519Key.from_seed(entropy).public_jwk
    assert Ed25519Key.generate(entropy).public_jwk != Ed25519Key.generate(bytes(32)).public_jwk


def test_ed25519_repr_hides_the_seed() -> None:
    entry = COMPUTED["keys"]["digest-ap-key"]
    key = Ed25519Key.from_jwk(entry["private_jwk"])
    text = repr(key)
    assert entry["private_jwk"]["d"] not in text
    assert entry["seed_hex"] not in text
    assert key.thumbprint in text
    assert "d" not in key.public_jwk


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "x" * 32, 32])
def test_ed25519_bad_seed(seed: Any) -> None:
    with pytest.raises(LocalError):
        Ed25519Key.from_seed(seed)
    with pytest.raises(LocalError):
        Ed25519Key.generate(seed)


A1 = JOSE["rfc8037-A.1-private-key"]["jwk"]


@pytest.mark.parametrize(
    "jwk",
    [
        "not a mapping",
        {**A1, "kty": "EC"},
        {**A1, "crv": "Ed448"},
        {k: v for k, v in A1.items() if k != "d"},
        {**A1, "d": 12},
        {**A1, "d": A1["d"] + "="},
        {**A1, "d": A1["d"][:-2]},
        {**A1, "x": JOSE["rfc8037-A.2-public-key"]["jwk"]["x"][::-1]},
        {**A1, "alg": "ES256"},
    ],
    ids=range(9),
)
def test_ed25519_from_jwk_refuses(jwk: Any) -> None:
    with pytest.raises(LocalError):
        Ed25519Key.from_jwk(jwk)


@pytest.mark.parametrize("alg", [None, "Ed25519", "EdDSA"])
def test_ed25519_from_jwk_alg_values(alg: str | None) -> None:
    jwk = dict(A1) if alg is None else {**A1, "alg": alg}
    assert Ed25519Key.from_jwk(jwk).alg == "Ed25519"
    assert (
        Ed25519Key.from_jwk({k: v for k, v in jwk.items() if k != "x"}).public_jwk["x"] == A1["x"]
    )


# --------------------------------------------------------------------------- ES256 keys


def test_es256_rfc6979_deterministic_signature() -> None:
    key = EcP256Key.from_private_value(RFC6979_D)
    jwk = key.public_jwk
    assert b64url_decode(jwk["x"]).hex().upper() == RFC6979_UX
    assert b64url_decode(jwk["y"]).hex().upper() == RFC6979_UY
    signature = key.sign(b"sample")
    assert signature.hex().upper() == RFC6979_R + RFC6979_S
    assert key.sign(b"sample") == signature  # deterministic: no RNG involved
    assert key.public_key.verify(b"sample", signature)
    assert not key.public_key.verify(b"sample!", signature)


def test_es256_from_rfc9421_jwk() -> None:
    key = EcP256Key.from_jwk(ECC_P256)
    assert key.public_jwk == _public(ECC_P256, "ES256")
    assert list(key.public_jwk) == ["kty", "crv", "x", "y", "alg"]
    assert key.private_jwk() == {**ECC_P256, "alg": "ES256"}
    assert EcP256Key.from_jwk(key.private_jwk()).public_jwk == key.public_jwk
    assert EcP256Key.from_jwk({**ECC_P256, "alg": "ES256"}).public_jwk == key.public_jwk
    bare = {k: v for k, v in ECC_P256.items() if k not in ("x", "y")}
    assert EcP256Key.from_jwk(bare).public_jwk == key.public_jwk
    assert key.thumbprint == jwk_thumbprint(ECC_P256)


def test_es256_public_key_thumbprint_digest_vector() -> None:
    key = public_key_from_jwk(_public(RFC7515_A3, "ES256"))
    assert key.thumbprint == "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"  # digest §9.2


def test_es256_generate_is_deterministic_in_its_entropy() -> None:
    one = EcP256Key.generate(bytes(32))
    assert EcP256Key.generate(bytes(32)).public_jwk == one.public_jwk
    assert EcP256Key.generate(b"\x01" + bytes(31)).public_jwk != one.public_jwk
    assert EcP256Key.generate(bytes(64)).public_jwk != one.public_jwk
    d = int.from_bytes(b64url_decode(one.private_jwk()["d"]), "big")
    assert 1 <= d < P256_ORDER
    data = b"payload"
    assert one.public_key.verify(data, one.sign(data))


@pytest.mark.parametrize("entropy", [b"", bytes(31), "x" * 32, None])
def test_es256_generate_needs_32_bytes(entropy: Any) -> None:
    with pytest.raises(LocalError):
        EcP256Key.generate(entropy)


@pytest.mark.parametrize("value", [0, P256_ORDER, P256_ORDER + 1, -1, True, 1.0, "1"])
def test_es256_private_value_range(value: Any) -> None:
    with pytest.raises(LocalError):
        EcP256Key.from_private_value(value)


def test_es256_extreme_private_values() -> None:
    for value in (1, P256_ORDER - 1):
        key = EcP256Key.from_private_value(value)
        assert key.public_key.verify(b"m", key.sign(b"m"))


@pytest.mark.parametrize(
    "jwk",
    [
        {**ECC_P256, "crv": "P-384"},
        {**ECC_P256, "kty": "OKP"},
        {k: v for k, v in ECC_P256.items() if k != "d"},
        {**ECC_P256, "d": "AA"},
        {**ECC_P256, "d": "!" * 43},
        {**ECC_P256, "x": ECC_P256["y"]},
        {**ECC_P256, "y": ECC_P256["x"]},
        {**ECC_P256, "alg": "Ed25519"},
        {**ECC_P256, "d": b64url_encode(bytes(32))},  # d = 0
        {**RFC7515_A3, "d": ECC_P256["d"]},  # a valid d for another point
    ],
    ids=range(10),
)
def test_es256_from_jwk_refuses(jwk: dict[str, str]) -> None:
    with pytest.raises(LocalError):
        EcP256Key.from_jwk(jwk)


def test_es256_without_deterministic_ecdsa_is_a_local_error() -> None:
    from cryptography.exceptions import UnsupportedAlgorithm

    class NoDeterministicEcdsa:
        def sign(self, data: bytes, algorithm: object) -> bytes:
            raise UnsupportedAlgorithm("no RFC 6979 here")

    key = EcP256Key.generate(bytes(32))
    key._key = NoDeterministicEcdsa()  # type: ignore[assignment]
    with pytest.raises(LocalError, match="RFC 6979"):
        key.sign(b"data")


def test_es256_repr_hides_the_private_value() -> None:
    key = EcP256Key.from_jwk(ECC_P256)
    assert ECC_P256["d"] not in repr(key)
    assert key.thumbprint in repr(key)


# --------------------------------------------------------------------------- verifying keys


SIGNATURE_CASES = [
    c for c in RFC9421["cases"] if c.get("algorithm") in ("ecdsa-p256-sha256", "ed25519")
]


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=lambda c: c["id"])
def test_rfc9421_signatures_verify_through_jwk(case: dict[str, Any]) -> None:
    jwk = RFC9421["keys"][case["key_id"]]["jwk"]
    alg = "ES256" if jwk["kty"] == "EC" else "Ed25519"
    key = public_key_from_jwk(_public(jwk, alg))
    signature = base64.b64decode(case["signature"])
    base = case["signature_base"].encode()
    assert key.verify(base, signature) is case["expect_valid"]
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert key.verify(base, flipped) is False


@pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
def test_verify_never_raises_on_bad_signatures(alg: str) -> None:
    key: PrivateKey = (
        Ed25519Key.generate(bytes(32)) if alg == "Ed25519" else EcP256Key.generate(bytes(32))
    )
    public = key.public_key
    good = key.sign(b"data")
    assert public.verify(b"data", good)
    for bad in (b"", good[:63], good + b"\x00", bytes(64), b"\xff" * 64, good[32:] + good[:32]):
        assert public.verify(b"data", bad) is False
    assert public.verify(b"other", good) is False


def test_public_key_from_jwk_builds_working_keys() -> None:
    ed = Ed25519Key.generate(bytes(range(32)))
    ec = EcP256Key.generate(bytes(range(32)))
    for private in (ed, ec):
        public = public_key_from_jwk({**private.public_jwk, "kid": "k", "use": "sig"})
        assert public == private.public_key
        assert hash(public) == hash(private.public_key)
        assert public.jwk == private.public_jwk
        assert public.thumbprint == private.thumbprint
        assert public.verify(b"m", private.sign(b"m"))
        assert public.alg == private.alg
        assert private.thumbprint in repr(public)
    assert isinstance(public_key_from_jwk(ed.public_jwk), Ed25519PublicKey)
    assert isinstance(public_key_from_jwk(ec.public_jwk), EcP256PublicKey)
    assert ed.public_key != ec.public_key
    assert ed.public_key != "key"
    assert public_key_from_jwk({**ed.public_jwk, "key_ops": ["verify"]}) == ed.public_key


def test_eddsa_public_key_reads_back_as_ed25519() -> None:
    jwk = {**JOSE["rfc8037-A.2-public-key"]["jwk"], "alg": "EdDSA"}
    with _raises("unsupported_algorithm"):
        public_key_from_jwk(jwk)
    key = public_key_from_jwk(jwk, allow_eddsa=True)
    assert key.alg == "Ed25519"
    assert key.jwk["alg"] == "Ed25519"


ED_PUBLIC = {**JOSE["rfc8037-A.2-public-key"]["jwk"], "alg": "Ed25519"}
EC_PUBLIC = _public(RFC7515_A3, "ES256")

PUBLIC_NEGATIVES = [
    ("no-alg", JOSE["rfc8037-A.2-public-key"]["jwk"], "unsupported_algorithm"),
    ("none", {**ED_PUBLIC, "alg": "none"}, "unsupported_algorithm"),
    ("HS256", {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}, "unsupported_algorithm"),
    ("EdDSA", {**ED_PUBLIC, "alg": "EdDSA"}, "unsupported_algorithm"),
    ("ES256-P-384", {**EC_PUBLIC, "crv": "P-384"}, "invalid_key"),
    ("Ed25519-kty-EC", {**ED_PUBLIC, "kty": "EC"}, "invalid_key"),
    ("private-d", {**ED_PUBLIC, "d": A1["d"]}, "invalid_key"),
    ("private-d-ec", {**EC_PUBLIC, "d": ECC_P256["d"]}, "invalid_key"),
    ("use-enc", {**ED_PUBLIC, "use": "enc"}, "invalid_key"),
    ("key-ops-sign-only", {**ED_PUBLIC, "key_ops": ["sign"]}, "invalid_key"),
    ("key-ops-string", {**ED_PUBLIC, "key_ops": "verify"}, "invalid_key"),
    ("x-missing", {k: v for k, v in ED_PUBLIC.items() if k != "x"}, "invalid_key"),
    ("x-short", {**ED_PUBLIC, "x": ED_PUBLIC["x"][:-4]}, "invalid_key"),
    ("x-padded", {**ED_PUBLIC, "x": ED_PUBLIC["x"] + "="}, "invalid_key"),
    ("x-std-alphabet", {**ED_PUBLIC, "x": "+" + ED_PUBLIC["x"][1:]}, "invalid_key"),
    ("ec-y-missing", {k: v for k, v in EC_PUBLIC.items() if k != "y"}, "invalid_key"),
    (
        "ec-x-33-bytes",
        {**EC_PUBLIC, "x": b64url_encode(b"\x00" + b64url_decode(EC_PUBLIC["x"]))},
        "invalid_key",
    ),
    ("ec-off-curve", {**EC_PUBLIC, "y": EC_PUBLIC["x"]}, "invalid_key"),
    (
        "ec-zero-point",
        {**EC_PUBLIC, "x": b64url_encode(bytes(32)), "y": b64url_encode(bytes(32))},
        "invalid_key",
    ),
    ("not-a-mapping", ["kty"], "invalid_key"),
]


@pytest.mark.parametrize(
    ("name", "jwk", "code"), PUBLIC_NEGATIVES, ids=[n[0] for n in PUBLIC_NEGATIVES]
)
def test_public_key_from_jwk_negatives(name: str, jwk: Any, code: str) -> None:
    with _raises(code):
        public_key_from_jwk(jwk)


def test_public_key_allowed_algs() -> None:
    with _raises("unsupported_algorithm"):
        public_key_from_jwk(EC_PUBLIC, allowed_algs=("Ed25519",))
    with _raises("unsupported_algorithm"):
        public_key_from_jwk(ED_PUBLIC, allowed_algs=("ES256",))


def test_public_key_constructors_check_lengths() -> None:
    with pytest.raises(LocalError):
        Ed25519PublicKey(bytes(31))
    with pytest.raises(LocalError):
        EcP256PublicKey(bytes(32), bytes(31))


def test_public_key_base_is_abstract() -> None:
    class Bare(PublicKey):
        __slots__ = ()
        alg = "X"

    bare = Bare()
    with pytest.raises(NotImplementedError):
        _ = bare.jwk
    with pytest.raises(NotImplementedError):
        _ = bare.public_bytes
    with pytest.raises(NotImplementedError):
        bare.verify(b"", b"")


def test_importing_keys_does_not_import_cryptography() -> None:
    code = (
        "import sys, json\n"
        "import aauth.keys, aauth.jwk, aauth.jws\n"
        "k = aauth.keys.Ed25519Key.generate(bytes(32))\n"
        "t = aauth.jws.encode_jwt({'typ': 't'}, {'exp': 10}, k)\n"
        "aauth.jws.decode_jwt(t, k.public_jwk, now=0, typ='t')\n"
        "before = 'cryptography' in sys.modules\n"
        "aauth.keys.EcP256Key.generate(bytes(32))\n"
        "print(json.dumps([before, 'cryptography' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) == [False, True]


# --------------------------------------------------------------------------- properties

_NAMES = st.sampled_from(["kty", "crv", "x", "y", "alg", "d", "use", "key_ops", "kid"])
_VALUES = st.one_of(
    st.sampled_from(
        ["OKP", "EC", "Ed25519", "P-256", "ES256", "EdDSA", "sig", ED_PUBLIC["x"], EC_PUBLIC["y"]]
    ),
    st.binary(min_size=30, max_size=34).map(b64url_encode),
    st.text(max_size=45),
    st.integers(),
    st.none(),
    st.lists(st.sampled_from(["verify", "sign"]), max_size=2),
)


@given(st.dictionaries(_NAMES, _VALUES, max_size=9), st.booleans())
def test_public_key_from_arbitrary_dicts(jwk: dict[str, object], eddsa: bool) -> None:
    try:
        key = public_key_from_jwk(jwk, allow_eddsa=eddsa)
    except JoseError as exc:
        assert exc.code in {"invalid_key", "unsupported_algorithm"}
    else:
        assert key.alg in {"Ed25519", "ES256"}
        assert key.verify(b"x", bytes(64)) is False
