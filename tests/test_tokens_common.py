"""Shared keys and token factories for the token tests (plus a few sanity tests of them).

Tokens are built here with the low-level JOSE encoder, NOT with aauth.tokens' builders, so
a negative test can craft exactly the defect it needs and the builders are tested against an
independent construction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import pytest

from aauth._b64 import b64url_encode
from aauth.jws import encode_jwt
from aauth.keys import EcP256Key, Ed25519Key, PrivateKey
from aauth.tokens import TokenError
from tests.vectors import load_vectors

COMPUTED: Final = load_vectors("aauth-computed.json")
KEYS: Final = COMPUTED["keys"]

AP_KEY: Final = Ed25519Key.from_jwk(KEYS["digest-ap-key"]["private_jwk"])
AGENT_KEY: Final = Ed25519Key.from_jwk(KEYS["rfc9421-test-key-ed25519"]["private_jwk"])
OTHER_AGENT_KEY: Final = Ed25519Key.from_jwk(KEYS["rfc8037-a1"]["private_jwk"])
PS_KEY: Final = Ed25519Key.from_seed(hashlib.sha256(b"aauth tokens test ps").digest())
AS_KEY: Final = EcP256Key.generate(hashlib.sha256(b"aauth tokens test as").digest())
RESOURCE_KEY: Final = Ed25519Key.from_seed(hashlib.sha256(b"aauth tokens test resource").digest())
EC_AGENT_KEY: Final = EcP256Key.generate(hashlib.sha256(b"aauth tokens test ec agent").digest())

NOW: Final = 1_730_217_600
AP: Final = "https://agent.example"
PS: Final = "https://ps.example"
AS: Final = "https://as.resource.example"
RESOURCE: Final = "https://resource.example"
MISSION: Final = "zVJpWp9s5qMFd-K1P9qRjckSi7yd_MYbQJm80AXHjcI"  # digest §9.2 vector C

#: Marker for "remove this claim / header member".
DROP: Final = object()

ISSUER_KEY: Final[Mapping[str, PrivateKey]] = {
    "aa-agent+jwt": AP_KEY,
    "aa-person+jwt": PS_KEY,
    "aa-resource+jwt": RESOURCE_KEY,
    "aa-auth+jwt": AS_KEY,
}
KID: Final[Mapping[str, str]] = {
    "aa-agent+jwt": "ap-key-1",
    "aa-person+jwt": "ps-key-1",
    "aa-resource+jwt": "res-key-1",
    "aa-auth+jwt": "as-key-1",
}
TYPES: Final = tuple(ISSUER_KEY)


def _apply(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in overrides.items():
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def base_claims(typ: str) -> dict[str, Any]:
    """Valid claims of each type at :data:`NOW`, bound to :data:`AGENT_KEY`."""
    cnf = {"jwk": AGENT_KEY.public_jwk}
    if typ == "aa-agent+jwt":
        return {
            "iss": AP,
            "dwk": "aauth-agent.json",
            "sub": "aauth:assistant-v2@agent.example",
            "jti": "at-0001",
            "cnf": cnf,
            "iat": NOW,
            "exp": NOW + 3600,
            "ps": PS,
        }
    if typ == "aa-person+jwt":
        return {
            "iss": PS,
            "dwk": "aauth-person.json",
            "aud": RESOURCE,
            "sub": "8f14e45fceea167a5a36dedd4bea2543",
            "cnf": cnf,
            "mission_s256": MISSION,
            "jti": "pt-3ab910",
            "iat": NOW,
            "exp": NOW + 3600,
        }
    if typ == "aa-resource+jwt":
        return {
            "iss": RESOURCE,
            "dwk": "aauth-resource.json",
            "aud": PS,
            "jti": "rt-1",
            "ps": PS,
            "sub": "8f14e45fceea167a5a36dedd4bea2543",
            "presented_jti": "pt-3ab910",
            "agent_jkt": AGENT_KEY.thumbprint,
            "iat": NOW,
            "exp": NOW + 300,
            "scope": "data.read data.write",
            "mission_s256": MISSION,
        }
    assert typ == "aa-auth+jwt"
    return {
        "iss": AS,
        "dwk": "aauth-access.json",
        "aud": RESOURCE,
        "jti": "auth-1",
        "ps": PS,
        "sub": "8f14e45fceea167a5a36dedd4bea2543",
        "cnf": cnf,
        "iat": NOW,
        "exp": NOW + 3600,
        "scope": "data.read",
        "email": "user@example.com",
    }


def make_token(
    typ: str,
    key: PrivateKey | None = None,
    header: Mapping[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A token of ``typ`` with claim overrides (``DROP`` removes); ``header`` overrides the
    JOSE header. ``alg`` other than the key's is written by hand and signed anyway."""
    signer = key or ISSUER_KEY[typ]
    head = _apply({"alg": signer.alg, "typ": typ, "kid": KID[typ]}, header or {})
    body = _apply(base_claims(typ), claims)
    if head.get("alg") == signer.alg:
        return encode_jwt(head, body, signer)
    return raw_token(head, body, signer)


def raw_token(header: Mapping[str, Any], claims: Mapping[str, Any], key: PrivateKey) -> str:
    """Sign any header (even one whose ``alg`` lies about the key)."""
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode()))


def issuer_jwks(typ: str) -> dict[str, Any]:
    """The issuer's JWKS: a decoy key first, then the real one under its ``kid``."""
    decoy = {**OTHER_AGENT_KEY.public_jwk, "kid": "decoy"}
    return {"keys": [decoy, {**ISSUER_KEY[typ].public_jwk, "kid": KID[typ]}]}


def rejects(code: str, claim: str | None = None) -> Any:
    """``pytest.raises`` for a :class:`TokenError` with ``code`` (and ``claim``)."""
    return _Rejects(code, claim)


class _Rejects:
    def __init__(self, code: str, claim: str | None) -> None:
        self.code = code
        self.claim = claim
        self._ctx = pytest.raises(TokenError)

    def __enter__(self) -> Any:
        self.info = self._ctx.__enter__()
        return self.info

    def __exit__(self, *exc: Any) -> bool:
        handled = self._ctx.__exit__(*exc)
        error = self.info.value
        assert error.code == self.code, f"expected {self.code}, got {error.code}: {error}"
        if self.claim is not None:
            assert error.claim == self.claim, f"expected claim {self.claim}, got {error.claim}"
            if not self.claim.startswith("header."):
                assert f"'{self.claim}'" in error.message
        return bool(handled)


@pytest.mark.parametrize("typ", TYPES)
def test_factory_tokens_carry_the_issuer_header(typ: str) -> None:
    from aauth.jws import decode_jwt_unverified

    header, claims = decode_jwt_unverified(make_token(typ))
    assert header == {"alg": ISSUER_KEY[typ].alg, "typ": typ, "kid": KID[typ]}
    assert claims == base_claims(typ)


def test_factory_drop_and_hand_signed_alg() -> None:
    from aauth.jws import decode_jwt_unverified

    header, claims = decode_jwt_unverified(
        make_token("aa-agent+jwt", header={"alg": "EdDSA", "kid": DROP}, ps=DROP)
    )
    assert header == {"alg": "EdDSA", "typ": "aa-agent+jwt"}
    assert "ps" not in claims
