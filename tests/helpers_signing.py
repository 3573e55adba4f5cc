"""Shared fixtures for tests/test_signing.py and tests/test_bad_input.py.

Everything here goes through public functions only (``sign_request``, ``sign_message``,
``encode_jwt``, ``HttpRequest``), so a refactor of the signing internals cannot break it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aauth.http import HttpRequest
from aauth.httpsig import sign_message
from aauth.jws import encode_jwt
from aauth.keys import EcP256Key, Ed25519Key, PrivateKey
from aauth.signature_key import SignatureKeyMember
from aauth.signing import sign_request

#: A fixed signing time for the hand-built cases (2026-01-01T00:00:00Z).
T0 = 1_767_225_600


def seed(name: str) -> bytes:
    """A deterministic 32-byte seed derived from ``name``."""
    return hashlib.sha256(name.encode("ascii")).digest()


AGENT_KEY = Ed25519Key.from_seed(seed("aauth-tests agent key"))
OTHER_KEY = Ed25519Key.from_seed(seed("aauth-tests other key"))
AP_KEY = Ed25519Key.from_seed(seed("aauth-tests agent-provider key"))
EC_KEY = EcP256Key.from_private_value(int.from_bytes(seed("aauth-tests ec key"), "big") >> 8)

GET_URL = "https://resource.example/api/documents"
POST_URL = "https://ps.example/person"
BODY = b'{"resource":"https://resource.example"}'


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def agent_claims(
    key: PrivateKey = AGENT_KEY,
    *,
    iat: int = T0 - 600,
    exp: int = T0 + 3600,
    jti: str = "at-0001",
    cnf_jwk: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """Claims of an agent token (shape of digest §9.2) whose ``cnf.jwk`` is ``key``'s."""
    return {
        "iss": "https://agent.example",
        "dwk": "aauth-agent.json",
        "sub": "aauth:assistant-v2@agent.example",
        "jti": jti,
        "cnf": {"jwk": dict(cnf_jwk) if cnf_jwk is not None else key.public_jwk},
        "iat": iat,
        "exp": exp,
        "ps": "https://ps.example",
    }


def agent_token(key: PrivateKey = AGENT_KEY, **kwargs: Any) -> str:
    """An agent token signed by the AP key; ``kwargs`` go to :func:`agent_claims`."""
    return encode_jwt(
        {"typ": "aa-agent+jwt", "kid": "ap-key-1"}, agent_claims(key, **kwargs), AP_KEY
    )


def raw_jwt(header: Mapping[str, object], claims: object, signature: bytes = b"x" * 64) -> str:
    """A compact JWS assembled by hand (for algorithms or payloads encode_jwt refuses)."""
    header_b64 = b64url(json.dumps(header, separators=(",", ":")).encode())
    payload_b64 = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header_b64}.{payload_b64}.{b64url(signature)}"


def get_request(headers: Sequence[tuple[str, str]] = ()) -> HttpRequest:
    """An unsigned GET to a resource."""
    return HttpRequest("GET", GET_URL, headers)


def post_request(
    body: bytes = BODY, headers: Sequence[tuple[str, str]] = (("Content-Type", "application/json"),)
) -> HttpRequest:
    """An unsigned POST with a JSON body."""
    return HttpRequest("POST", POST_URL, headers, body)


def signed_get(
    key: PrivateKey = AGENT_KEY,
    *,
    signature_key: str | SignatureKeyMember | None = None,
    created: int = T0,
    **kwargs: Any,
) -> HttpRequest:
    """A GET signed by ``key`` with an agent token for it (or ``signature_key``)."""
    return sign_request(
        get_request(),
        key,
        signature_key=signature_key if signature_key is not None else agent_token(key),
        created=created,
        **kwargs,
    )


def sign_over_key_text(
    request: HttpRequest,
    key: PrivateKey,
    key_text: str,
    *,
    label: str = "sig",
    components: Sequence[str] = ("@method", "@authority", "@path", "signature-key"),
    created: int = T0,
    header_name: str = "Signature-Key",
    **kwargs: Any,
) -> HttpRequest:
    """Add a ``Signature-Key`` header with exactly ``key_text`` and sign over it with the
    plain RFC 9421 signer (no AAuth checks), as a peer with its own serialiser would."""
    return sign_message(
        request.with_headers([(header_name, key_text)]),
        key,
        label=label,
        components=components,
        created=created,
        **kwargs,
    )


def replace_header(request: HttpRequest, name: str, value: str | None) -> HttpRequest:
    """A copy with every ``name`` field line replaced by one line ``value`` (removed if
    ``None``), at the end of the header list."""
    stripped = request.without_headers([name])
    return stripped if value is None else stripped.with_headers([(name, value)])


def signature_bytes(request: HttpRequest, label: str = "sig") -> bytes:
    """The signature bytes of ``label`` read from a strict ``Signature`` header."""
    value = request.header("signature")
    assert value is not None
    for member in value.split(","):
        name, _, rest = member.strip().partition("=")
        if name == label:
            assert rest.startswith(":") and rest.endswith(":")
            return base64.b64decode(rest[1:-1], validate=True)
    raise AssertionError(f"no signature labelled {label!r}")
