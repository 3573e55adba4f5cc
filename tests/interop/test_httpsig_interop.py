"""Wire-level interop with ``@hellocoop/httpsig`` 2.x, the TypeScript RFC 9421 +
signature-key-08 signer and verifier of the deployed AAuth fleet (run under Node through
``httpsig_bridge.mjs``).

Both directions: requests the package signs pass our :func:`aauth.verify_request`, and
requests our :func:`aauth.sign_request` makes pass its ``verify()``. Both sides run on the
same pinned clock (the bridge pins ``Date.now()``), so every result is deterministic.

Divergences found (each also noted where a test shows it):

1. ``@query`` (RFC 9421 §2.2.7): the package's value is the query WITHOUT the leading
   ``?`` (``url.search.substring(1)``); RFC 9421 and we include it. A signature covering
   ``@query`` therefore never verifies across the two. Its defaults never cover ``@query``
   and neither do ours, so default traffic is unaffected; the query is unprotected.
2. ``Content-Digest`` (RFC 9530): its verifier recomputes ``sha-256=:…:`` and compares the
   whole field value as a string, so a ``sha-512`` digest (or several members) is refused
   even when correct. We emit ``sha-256`` by default, which it accepts.
3. ``expires`` (RFC 9421 §2.3): its verifier ignores it; ours refuses an expired signature.
4. Base64 forms: its ``Signature`` parser takes only RFC 9651 Byte Sequences (standard
   padded base64); unpadded base64url (the pre-10 ``aauth-signing`` form) is refused. We
   emit the standard form and, tolerant on input, also accept base64url.
5. ``hwk`` parameter order: it writes ``alg`` first (``sig=hwk;alg="Ed25519";kty=…``), we
   write it last. Both are valid; each verifier signs over the field text as received.
6. Default covered components for a body: it appends ``content-digest`` AFTER
   ``signature-key``; we put ``content-type content-digest`` before it. Both valid.
7. A body whose digest does not match: it answers ``invalid_input``, we answer
   ``invalid_signature`` (digest [AMBIG-28]: the covered field is part of the signed message).

No divergence in ``created`` (both: an Integer, required, ``|now - created| <= 60``), in
``Signature-Key`` spacing (both emit the canonical RFC 9651 form, no space after ``;``; for
the ``jwt`` scheme the two signers' headers are byte-identical), or in ``alg`` (neither emits
the ``alg`` signature parameter; both take the algorithm from the key's JWK ``alg``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from aauth import (
    EcP256Key,
    Ed25519Key,
    HttpRequest,
    HwkKey,
    PrivateKey,
    SignatureError,
    sign_request,
    verify_request,
)
from aauth.tokens import build_agent_token, check_key_binding, validate_agent_token

from .harness import HTTPSIG, HttpsigBridge, pinned_versions

pytestmark = pytest.mark.interop

#: The pinned clock of both sides (2026-01-01T00:00:00Z).
T0 = 1_767_225_600


def _seed(name: str) -> bytes:
    return hashlib.sha256(name.encode("ascii")).digest()


AGENT_KEY = Ed25519Key.from_seed(_seed("interop agent key"))
AP_KEY = Ed25519Key.from_seed(_seed("interop agent-provider key"))
EC_KEY = EcP256Key.from_private_value(int.from_bytes(_seed("interop ec key"), "big") >> 8)

#: An agent token whose cnf.jwk is AGENT_KEY, issued by a self-hosted AP.
AGENT_TOKEN = build_agent_token(
    AP_KEY,
    kid="ap-key-1",
    now=T0 - 60,
    jti="interop-agent-token-1",
    iss="https://agent.example",
    sub="aauth:assistant@agent.example",
    cnf_jwk=AGENT_KEY.public_key,
    ps="https://ps.example",
)

JSON_BODY = b'{"resource":"https://resource.example","justification":"caf\xc3\xa9 \xe2\x82\xac"}'
JSON_TYPE = [("Content-Type", "application/json")]
GET_BASE = ("@method", "@authority", "@path", "signature-key")


def _b64(body: bytes | None) -> str | None:
    return None if body is None else base64.b64encode(body).decode("ascii")


# ------------------------------------------------------------- they sign, we verify


@dataclass(frozen=True)
class TheirCase:
    """A request for ``@hellocoop/httpsig`` to sign, and what it should cover."""

    method: str
    url: str
    covered: tuple[str, ...]
    key: Ed25519Key | EcP256Key = AGENT_KEY
    scheme: str = "hwk"
    headers: Sequence[tuple[str, str]] = ()
    body: bytes | None = None
    label: str | None = None
    components: Sequence[str] | None = None
    content_digest: str | None = None
    as_text: bool = False

    def bridge_case(self) -> dict[str, Any]:
        signature_key: dict[str, str] = {"type": self.scheme}
        if self.scheme == "jwt":
            signature_key["jwt"] = AGENT_TOKEN
        case: dict[str, Any] = {
            "op": "sign",
            "url": self.url,
            "method": self.method,
            "headers": [list(pair) for pair in self.headers],
            "body_b64": _b64(self.body),
            "signing_key": self.key.private_jwk(),
            "signature_key": signature_key,
            "created": T0,
        }
        for name, value in (
            ("label", self.label),
            ("components", None if self.components is None else list(self.components)),
            ("content_digest", self.content_digest),
            ("body_text", self.body.decode() if self.as_text and self.body else None),
        ):
            if value is not None:
                case[name] = value
        return case


# Its defaults: GET -> @method @authority @path signature-key; a body adds content-type
# before signature-key and (2.2.0 'auto') content-digest AFTER it (divergence 6).
THEIR_BODY_DEFAULT = (*GET_BASE[:3], "content-type", "signature-key", "content-digest")

THEIR_CASES: dict[str, TheirCase] = {
    "get-hwk": TheirCase("GET", "https://resource.example/api/documents", GET_BASE),
    # the query string is not covered: only @path is (divergence 1 explains why not @query)
    "get-hwk-query": TheirCase(
        "GET", "https://resource.example/api/search?q=caf%C3%A9&page=2", GET_BASE
    ),
    "post-hwk-json": TheirCase(
        "POST",
        "https://ps.example/aauth/token/person",
        THEIR_BODY_DEFAULT,
        headers=JSON_TYPE,
        body=JSON_BODY,
    ),
    # no Content-Type given, a string body: fetch semantics add text/plain;charset=UTF-8,
    # and the package covers it and digests the UTF-8 bytes
    "post-hwk-no-content-type": TheirCase(
        "POST",
        "https://resource.example/notes",
        THEIR_BODY_DEFAULT,
        body="plain text, caf\u00e9".encode(),
        as_text=True,
    ),
    "post-hwk-digest-omitted": TheirCase(
        "POST",
        "https://resource.example/notes",
        (*GET_BASE[:3], "content-type", "signature-key"),
        headers=JSON_TYPE,
        body=JSON_BODY,
        content_digest="omit",
    ),
    "get-jwt": TheirCase("GET", "https://resource.example/api/documents", GET_BASE, scheme="jwt"),
    "post-jwt": TheirCase(
        "POST",
        "https://ps.example/aauth/token/auth",
        THEIR_BODY_DEFAULT,
        scheme="jwt",
        headers=JSON_TYPE,
        body=JSON_BODY,
    ),
    "get-hwk-es256": TheirCase(
        "GET", "https://resource.example/api/documents", GET_BASE, key=EC_KEY
    ),
    "get-hwk-label": TheirCase(
        "GET", "https://resource.example/api/documents", GET_BASE, label="agent"
    ),
    # loopback transport: the authority keeps its port
    "get-hwk-loopback": TheirCase("GET", "http://127.0.0.1:8080/api/documents", GET_BASE),
    # the default port is dropped from @authority on both sides (RFC 9110 §4.2.3)
    "get-hwk-default-port": TheirCase(
        "GET", "https://Resource.Example:443/api/documents", GET_BASE
    ),
    # divergence 1: a signature that covers @query
    "get-hwk-covers-query": TheirCase(
        "GET",
        "https://resource.example/api/search?q=1",
        ("@method", "@authority", "@path", "@query", "signature-key"),
        components=("@method", "@authority", "@path", "@query", "signature-key"),
    ),
}


@pytest.fixture(scope="module")
def their_signed(httpsig: HttpsigBridge) -> dict[str, HttpRequest]:
    """Every THEIR_CASES request as the package signed it (one Node run for all)."""
    names = list(THEIR_CASES)
    results = httpsig.run([THEIR_CASES[name].bridge_case() for name in names])
    signed: dict[str, HttpRequest] = {}
    for name, result in zip(names, results, strict=True):
        assert result["ok"], f"{name}: httpsig could not sign: {result.get('error')}"
        pairs = [(str(k), str(v)) for k, v in result["headers"]]
        body = THEIR_CASES[name].body or b""
        signed[name] = HttpRequest(THEIR_CASES[name].method, result["url"], pairs, body)
    return signed


ACCEPTED = [name for name in THEIR_CASES if name != "get-hwk-covers-query"]


@pytest.mark.parametrize("name", ACCEPTED)
def test_we_verify_what_httpsig_signs(name: str, their_signed: dict[str, HttpRequest]) -> None:
    case = THEIR_CASES[name]
    request = their_signed[name]
    verified = verify_request(request, now=T0, schemes=("jwt", "hwk"))
    assert verified.label == (case.label or "sig")
    assert verified.scheme == case.scheme
    assert verified.created == T0
    assert verified.thumbprint == case.key.thumbprint
    assert verified.algorithm == case.key.alg
    assert verified.components == tuple(f'"{c}"' for c in case.covered)
    # neither signer sends the alg signature parameter (AAuth -11; RFC 9421 §3.3.7 JOSE path)
    assert set(verified.params) == {"created"}


def test_their_hwk_member_writes_alg_first(their_signed: dict[str, HttpRequest]) -> None:
    # divergence 5: a different (valid) parameter order from ours; no space after ';'
    x = AGENT_KEY.public_jwk["x"]
    assert their_signed["get-hwk"].header("signature-key") == (
        f'sig=hwk;alg="Ed25519";kty="OKP";crv="Ed25519";x="{x}"'
    )


def test_their_jwt_member_is_the_canonical_text(their_signed: dict[str, HttpRequest]) -> None:
    assert their_signed["get-jwt"].header("signature-key") == f'sig=jwt;jwt="{AGENT_TOKEN}"'


def test_their_agent_token_validates_and_binds(their_signed: dict[str, HttpRequest]) -> None:
    verified = verify_request(their_signed["post-jwt"], now=T0, require_body_digest=True)
    assert verified.token == AGENT_TOKEN
    agent = validate_agent_token(
        verified.token, {"keys": [{**AP_KEY.public_jwk, "kid": "ap-key-1"}]}, now=T0
    )
    assert agent.sub == "aauth:assistant@agent.example"
    check_key_binding(agent, verified.thumbprint)


def test_their_body_digest_is_sha256_and_covered(their_signed: dict[str, HttpRequest]) -> None:
    request = their_signed["post-hwk-json"]
    digest = base64.b64encode(hashlib.sha256(JSON_BODY).digest()).decode()
    assert request.header("content-digest") == f"sha-256=:{digest}:"
    assert request.header("content-type") == "application/json"
    verified = verify_request(request, now=T0, schemes=("hwk",), require_body_digest=True)
    assert verified.covers("content-digest")


def test_their_default_content_type_is_covered(their_signed: dict[str, HttpRequest]) -> None:
    request = their_signed["post-hwk-no-content-type"]
    assert request.header("content-type") == "text/plain;charset=UTF-8"
    assert verify_request(request, now=T0, schemes=("hwk",)).covers("content-type")


def test_their_omitted_digest_fails_a_body_digest_policy(
    their_signed: dict[str, HttpRequest],
) -> None:
    request = their_signed["post-hwk-digest-omitted"]
    assert request.header("content-digest") is None
    with pytest.raises(SignatureError) as raised:
        verify_request(request, now=T0, schemes=("hwk",), require_body_digest=True)
    assert raised.value.code == "invalid_input"


def test_their_query_is_unprotected(their_signed: dict[str, HttpRequest]) -> None:
    # The query is not covered, so changing it leaves the signature valid: a resource that
    # needs the query protected must ask for @query-param / extra components in metadata.
    request = their_signed["get-hwk-query"]
    assert request.url == "https://resource.example/api/search?q=caf%C3%A9&page=2"
    changed = HttpRequest(
        "GET", "https://resource.example/api/search?q=other", request.headers, request.body
    )
    assert not verify_request(changed, now=T0, schemes=("hwk",)).covers("@query")


def test_their_normalised_url_is_what_we_verify(their_signed: dict[str, HttpRequest]) -> None:
    # WHATWG URL parsing lowercases the host and drops the default port before signing;
    # our @authority does the same from the URL as written, so both forms verify.
    request = their_signed["get-hwk-default-port"]
    assert request.url == "https://resource.example/api/documents"
    as_written = HttpRequest("GET", "https://Resource.Example:443/api/documents", request.headers)
    assert verify_request(as_written, now=T0, schemes=("hwk",)).thumbprint == AGENT_KEY.thumbprint


def test_their_query_component_lacks_the_question_mark(
    their_signed: dict[str, HttpRequest],
) -> None:
    # divergence 1: their "@query" line is `q=1`, RFC 9421 §2.2.7 (and we) say `?q=1`
    with pytest.raises(SignatureError) as raised:
        verify_request(their_signed["get-hwk-covers-query"], now=T0, schemes=("hwk",))
    assert raised.value.code == "invalid_signature"


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("body", b'{"resource":"https://evil.example"}'),
        ("path", "/aauth/token/other"),
        ("method", "PUT"),
    ],
)
def test_we_refuse_their_tampered_request(
    change: str, value: Any, their_signed: dict[str, HttpRequest]
) -> None:
    request = their_signed["post-jwt"]
    method, url, body = request.method, request.url, request.body
    if change == "body":
        body = value
    elif change == "path":
        url = "https://ps.example" + value
    else:
        method = value
    with pytest.raises(SignatureError) as raised:
        verify_request(HttpRequest(method, url, request.headers, body), now=T0)
    assert raised.value.code == "invalid_signature"


@pytest.mark.parametrize(("now", "ok"), [(T0 + 60, True), (T0 - 60, True), (T0 + 61, False)])
def test_their_created_window_matches_ours(
    now: int, ok: bool, their_signed: dict[str, HttpRequest]
) -> None:
    request = their_signed["get-hwk"]
    if ok:
        assert verify_request(request, now=now, schemes=("hwk",)).created == T0
    else:
        with pytest.raises(SignatureError) as raised:
            verify_request(request, now=now, schemes=("hwk",))
        assert raised.value.code == "invalid_signature"
        assert raised.value.retryable


# ------------------------------------------------------------- we sign, they verify


def _authority(url: str) -> str:
    parts = urlsplit(url)
    assert parts.hostname is not None
    default = {"http": 80, "https": 443}[parts.scheme]
    if parts.port is None or parts.port == default:
        return parts.hostname
    return f"{parts.hostname}:{parts.port}"


def verify_case(
    request: HttpRequest, *, now: int = T0, options: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """A bridge ``verify`` case for ``request`` as the server would see it."""
    parts = urlsplit(request.url)
    return {
        "op": "verify",
        "method": request.method,
        "authority": _authority(request.url),
        "path": parts.path or "/",
        "query": parts.query or None,
        "headers": [list(pair) for pair in request.headers],
        "body_b64": _b64(request.body) if request.body else None,
        "now": now,
        "options": dict(options or {}),
    }


def _hwk(key: PrivateKey, label: str = "sig") -> HwkKey:
    return HwkKey(label=label, jwk=key.public_jwk)


def _ours(
    method: str,
    url: str,
    *,
    key: PrivateKey = AGENT_KEY,
    signature_key: str | HwkKey | None = None,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    **kwargs: Any,
) -> HttpRequest:
    return sign_request(
        HttpRequest(method, url, headers, body),
        key,
        signature_key=_hwk(key) if signature_key is None else signature_key,
        created=T0,
        **kwargs,
    )


@dataclass(frozen=True)
class OurCase:
    """A request we sign, how their verifier is called, and what it must answer."""

    request: HttpRequest
    verified: bool
    key_type: str = "hwk"
    now: int = T0
    options: Mapping[str, object] = field(default_factory=dict)
    error: str | None = None


def _rewrite_signature_base64url(request: HttpRequest) -> HttpRequest:
    value = request.header("signature")
    assert value is not None and value.startswith("sig=:") and value.endswith(":")
    raw = base64.b64decode(value[5:-1])
    url_form = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return request.without_headers(["signature"]).with_headers([("Signature", f"sig=:{url_form}:")])


def _our_cases() -> dict[str, OurCase]:
    post = _ours("POST", "https://ps.example/aauth/token/person", headers=JSON_TYPE, body=JSON_BODY)
    query = ("@method", "@authority", "@path", "@query", "signature-key")
    return {
        "get-hwk": OurCase(_ours("GET", "https://resource.example/api/documents"), True),
        "get-hwk-query": OurCase(
            _ours("GET", "https://resource.example/api/search?q=caf%C3%A9&page=2"), True
        ),
        "post-hwk-json": OurCase(post, True, options={"requireContentDigest": True}),
        "get-jwt": OurCase(
            _ours("GET", "https://resource.example/api/documents", signature_key=AGENT_TOKEN),
            True,
            key_type="jwt",
        ),
        "post-jwt": OurCase(
            _ours(
                "POST",
                "https://ps.example/aauth/token/auth",
                signature_key=AGENT_TOKEN,
                headers=JSON_TYPE,
                body=JSON_BODY,
            ),
            True,
            key_type="jwt",
            options={"requireContentDigest": True},
        ),
        "get-hwk-es256": OurCase(
            _ours("GET", "https://resource.example/api/documents", key=EC_KEY), True
        ),
        "get-hwk-label": OurCase(
            _ours(
                "GET",
                "https://resource.example/x",
                signature_key=_hwk(AGENT_KEY, "agent"),
                label="agent",
            ),
            True,
        ),
        "get-hwk-loopback": OurCase(_ours("GET", "http://127.0.0.1:8080/api/documents"), True),
        "get-hwk-skew": OurCase(_ours("GET", "https://resource.example/x"), True, now=T0 + 60),
        "get-hwk-stale": OurCase(
            _ours("GET", "https://resource.example/x"),
            False,
            now=T0 + 61,
            error="invalid_signature",
        ),
        "es256-refused-by-policy": OurCase(
            _ours("GET", "https://resource.example/x", key=EC_KEY),
            False,
            options={"supportedAlgorithms": ["Ed25519"]},
            error="unsupported_algorithm",
        ),
        # negative controls: the bridge really verifies
        "tampered-body": OurCase(
            HttpRequest(post.method, post.url, post.headers, b'{"resource":"https://x.example"}'),
            False,
            error="invalid_input",  # divergence 7: we say invalid_signature
        ),
        # a signature that just does not verify: verified false, NO error and NO
        # signatureError (mockin then answers 401 without a Signature-Error header)
        "tampered-path": OurCase(
            HttpRequest("POST", "https://ps.example/aauth/token/auth", post.headers, post.body),
            False,
        ),
        # divergence 3: expires is ignored by their verifier (ours refuses after it)
        "expired-signature": OurCase(
            _ours("GET", "https://resource.example/x", expires=T0 + 5), True, now=T0 + 30
        ),
        # divergence 2: a correct sha-512 Content-Digest is refused
        "sha512-digest": OurCase(
            _ours(
                "POST",
                "https://resource.example/notes",
                headers=JSON_TYPE,
                body=JSON_BODY,
                digest_algorithm="sha-512",
            ),
            False,
            error="invalid_input",
        ),
        # divergence 1: our @query line is `?q=1`, theirs `q=1` (a plain mismatch, no code)
        "covers-query": OurCase(
            _ours("GET", "https://resource.example/search?q=1", components=query), False
        ),
        # divergence 4: unpadded base64url in Signature is refused by their parser
        "base64url-signature": OurCase(
            _rewrite_signature_base64url(_ours("GET", "https://resource.example/x")),
            False,
            error="invalid_signature",
        ),
    }


OUR_CASES = _our_cases()


@pytest.fixture(scope="module")
def their_verdicts(httpsig: HttpsigBridge) -> dict[str, dict[str, Any]]:
    """httpsig's verify() result for every OUR_CASES request (one Node run for all)."""
    names = list(OUR_CASES)
    cases = [
        verify_case(OUR_CASES[n].request, now=OUR_CASES[n].now, options=OUR_CASES[n].options)
        for n in names
    ]
    results = httpsig.run(cases)
    for name, result in zip(names, results, strict=True):
        assert result["ok"], f"{name}: the bridge failed: {result.get('error')}"
    return dict(zip(names, results, strict=True))


@pytest.mark.parametrize("name", list(OUR_CASES))
def test_httpsig_verifies_what_we_sign(
    name: str, their_verdicts: dict[str, dict[str, Any]]
) -> None:
    case = OUR_CASES[name]
    verdict = their_verdicts[name]
    assert verdict["verified"] is case.verified, verdict.get("error")
    if case.verified:
        assert verdict["keyType"] == case.key_type
        assert verdict["created"] == T0
        signer = EC_KEY if "es256" in name else AGENT_KEY
        assert verdict["thumbprint"] == signer.thumbprint
    else:
        code = verdict.get("signatureError", {}).get("error")
        assert code == case.error, verdict.get("error")
        assert ("error" in verdict) is (case.error is not None)


def test_httpsig_reads_our_agent_token(their_verdicts: dict[str, dict[str, Any]]) -> None:
    payload = their_verdicts["post-jwt"]["jwtPayload"]
    assert payload["cnf"]["jwk"] == AGENT_KEY.public_jwk
    assert payload["sub"] == "aauth:assistant@agent.example"


def test_httpsig_names_the_algorithms_it_accepts(
    their_verdicts: dict[str, dict[str, Any]],
) -> None:
    assert their_verdicts["es256-refused-by-policy"]["acceptSignatureAlg"] == ["Ed25519"]


def test_we_refuse_what_httpsig_accepts_past_expires() -> None:
    # divergence 3, our side: RFC 9421 §2.3 / AAuth -11 'if present the verifier MUST honour'
    with pytest.raises(SignatureError) as raised:
        verify_request(OUR_CASES["expired-signature"].request, now=T0 + 30, schemes=("hwk",))
    assert raised.value.code == "invalid_signature"


def test_we_accept_our_own_divergent_forms() -> None:
    # the forms their verifier refuses are fine here: sha-512 digests, @query, base64url
    for name in ("sha512-digest", "covers-query", "base64url-signature"):
        request = OUR_CASES[name].request
        assert verify_request(request, now=T0, schemes=("hwk",)).thumbprint == AGENT_KEY.thumbprint


# ---------------------------------------------------------- byte-for-byte agreement


def test_same_request_same_bytes(httpsig: HttpsigBridge) -> None:
    """With the jwt scheme (the same Signature-Key text on both sides), the same covered
    components in the same order and the same clock, both signers emit identical
    Signature-Input, Signature (Ed25519 is deterministic) and Content-Digest fields."""
    get_components = list(GET_BASE)
    post_components = list(THEIR_BODY_DEFAULT)
    shapes = [
        ("GET", "https://resource.example/api/documents?page=2", [], None, get_components),
        ("POST", "https://ps.example/aauth/token/person", JSON_TYPE, JSON_BODY, post_components),
    ]
    cases = [
        {
            "op": "sign",
            "url": url,
            "method": method,
            "headers": [list(pair) for pair in headers],
            "body_b64": _b64(body),
            "signing_key": AGENT_KEY.private_jwk(),
            "signature_key": {"type": "jwt", "jwt": AGENT_TOKEN},
            "created": T0,
            "components": components,
        }
        for method, url, headers, body, components in shapes
    ]
    results = httpsig.run(cases)
    for (method, url, headers, body, components), result in zip(shapes, results, strict=True):
        assert result["ok"], result.get("error")
        theirs = dict(result["headers"])
        ours = sign_request(
            HttpRequest(method, url, headers, body or b""),
            AGENT_KEY,
            signature_key=AGENT_TOKEN,
            created=T0,
            components=components,
        )
        for name in ("signature-key", "signature-input", "signature", "content-digest"):
            assert ours.header(name) == theirs.get(name), name


def test_bridge_runs_the_pinned_package(httpsig: HttpsigBridge) -> None:
    # a malformed case is answered per case and never sinks the batch
    results = httpsig.run([{"op": "nonsense"}, {"op": "verify", "headers": [], "now": "x"}])
    assert results[0] == {"ok": False, "error": 'unknown op "nonsense"'}
    assert results[1]["ok"] is False
    assert httpsig.reported["httpsig"] == pinned_versions()[HTTPSIG] == "2.2.0"
