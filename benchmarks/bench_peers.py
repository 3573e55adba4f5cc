"""AAuth request signing and verification beside the Python peers, as ratios to raw libsodium.

The work is the one of ``bench_sign_verify.py``: ``GET https://resource.example/api/documents``
signed with Ed25519 over ``@method @authority @path signature-key``, the ``jwt``
``Signature-Key`` scheme carrying the agent token of the computed vectors (digest §9.2, 540
characters). Several peers read the clock themselves and refuse an expired token, so the
token is re-signed with the same AP key and the same claims, ``iat``/``exp`` moved to now
(same length; with no shift it reproduces the vector byte for byte, which is asserted).

Four groups, each against its own libsodium floor (PyNaCl's ``crypto_sign`` /
``crypto_sign_open`` over the same bytes):

- sign: build the request's signature headers (raw: one ``crypto_sign`` of the base);
- verify: check the request signature only (raw: one ``crypto_sign_open``);
- verify + token: check the agent token against the AP key and the request signature against
  its ``cnf.jwk``, what a resource does (raw: two ``crypto_sign_open``);
- jwt: decode and verify the agent token (raw: one ``crypto_sign_open``).

Peers (installed by ``run-peers.sh`` in their own virtual environment; one that does not
import is reported as skipped with the reason): ``http-message-signatures`` 3.x (generic RFC
9421; it cannot express ``Signature-Key``, so the header is signed as a plain covered field, and
its verifier needs a ``keyid``), ``aauth-signing`` (the AAuth signer behind PyPI ``aauth``),
PyJWT and joserfc (JWT only), and ``regent-httpsig``, which pins
``http-message-signatures<2.1`` and so runs in a second environment and process (``--worker
regent``) with its own raw and ours measured there.

The verify+token group also has a row for our resource engine, ``ResourceVerifier.check``
(‡): the whole decision a resource makes on the request (signature, authority, token type,
issuer trust, the agent provider's metadata and JWKS from its discovery cache, filled once
from in-memory documents before the timing, the token, key binding, route policy). It
remembers validated tokens, and the token layer verified token signatures; to validate the
token on every call, as the peers do, its memo holds one token, the calls alternate between
two equivalent route policies (the memo is keyed by the policy's algorithms), and the
signature memo is emptied before each call. A warmed resource hits both memos and verifies
one signature per request: ``bench_resource.py`` measures that path.

Every operation is called once per round outside the timing and its result checked (the
signature verifies, the claims are the token's), and every verifier is shown a tampered
request once and must refuse it. Rounds are interleaved; medians are reported.

Run: ``benchmarks/run-peers.sh [--rounds N] [--number N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import importlib.metadata
import itertools
import json
import platform
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import nacl.bindings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sign_verify import _fixture

from aauth import (
    Ed25519Key,
    Ed25519PublicKey,
    HttpRequest,
    decode_jwt,
    encode_jws,
    sign_request,
    signature_base,
    verify_request,
)
from aauth.discovery import DiscoveryCache
from aauth.resource import (
    AccessMode,
    Challenge,
    NeedFetch,
    ResourcePolicy,
    ResourceVerifier,
    Verified,
)
from aauth.tokens import validate as token_validation
from tests.vectors import load_vectors

ROOT = Path(__file__).resolve().parents[1]
URL = "https://resource.example/api/documents"
TAMPERED_URL = "https://resource.example/api/other"
HEADERS = (("Accept", "application/json"), ("User-Agent", "bench/1"))
COMPONENTS = ("@method", "@authority", "@path", "signature-key")
AGENT_TYP = "aa-agent+jwt"
REGENT_VENV = ROOT / "benchmarks" / ".venv-peers" / "regent"

GROUPS = {
    "sign": "sign the request (raw: crypto_sign of the signature base)",
    "verify": "verify the request signature (raw: crypto_sign_open of the base)",
    "verify+token": (
        "verify agent token and request signature (raw: crypto_sign_open of base and token)"
    ),
    "jwt": "decode and verify the agent token (raw: crypto_sign_open of the JWS)",
}
OURS = "aauth (ours)"
CHECK = "aauth ResourceVerifier.check ‡"
RAW = "raw libsodium"
RESOURCE = "https://resource.example"


# ------------------------------------------------------------------------------ fixture


@dataclass(frozen=True)
class Fixture:
    """The shared inputs: keys, the fresh agent token, the request."""

    agent: Ed25519Key
    agent_seed: bytes
    ap_public: Ed25519PublicKey
    ap_jwks: dict[str, list[dict[str, str]]]
    ap_public_raw: bytes
    token: str
    claims_sub: str
    agent_x: str


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def build_fixture(now: int) -> Fixture:
    """Keys and token of the digest §9.2 vectors, the token's iat/exp moved to ``now``."""
    agent, vector_token, created = _fixture()
    vectors = load_vectors("aauth-computed.json")
    ap_entry = vectors["keys"]["digest-ap-key"]
    ap_seed = bytes.fromhex(ap_entry["seed_hex"])
    ap = Ed25519Key.from_seed(ap_seed)
    case = next(c for c in vectors["cases"] if c["id"] == "digest-9.2/agent-token")
    header_json: str = case["inputs"]["header_json"]
    payload_json: str = case["inputs"]["payload_json"]
    iat, exp = case["inputs"]["payload"]["iat"], case["inputs"]["payload"]["exp"]
    assert encode_jws(header_json.encode(), payload_json.encode(), ap) == vector_token
    shift = now - created
    moved = payload_json.replace(f'"iat":{iat}', f'"iat":{iat + shift}').replace(
        f'"exp":{exp}', f'"exp":{exp + shift}'
    )
    token = encode_jws(header_json.encode(), moved.encode(), ap)
    assert len(token) == len(vector_token), "the fresh token differs in length"
    public_jwk = dict(ap_entry["public_jwk"], kid=ap_entry["kid"])
    return Fixture(
        agent=agent,
        agent_seed=_b64url_decode(agent.private_jwk()["d"]),
        ap_public=Ed25519PublicKey(bytes.fromhex(ap_entry["public_hex"])),
        ap_jwks={"keys": [public_jwk]},
        ap_public_raw=bytes.fromhex(ap_entry["public_hex"]),
        token=token,
        claims_sub=case["inputs"]["payload"]["sub"],
        agent_x=agent.public_jwk["x"],
    )


def _now() -> int:
    return int(time.time())


def _tampered_token(token: str) -> str:
    """The token with the first character of its signature changed."""
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{'B' if signature[0] != 'B' else 'C'}{signature[1:]}"


# ------------------------------------------------------------------------ operations


@dataclass
class Op:
    """One timed call: ``call`` does the work; ``ok`` checks what it returned."""

    group: str
    impl: str
    call: Callable[[], object]
    ok: Callable[[object], bool]


@dataclass
class Peer:
    """A peer's operations, what it could not do, and its interop outcomes."""

    name: str
    ops: list[Op] = field(default_factory=list)
    refresh: Callable[[], None] = lambda: None
    notes: list[str] = field(default_factory=list)
    interop: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """A peer that could not be measured, and why."""

    name: str
    reason: str


def _refuses(call: Callable[[], object]) -> bool:
    """True when ``call`` raises or returns something falsy (a verifier's refusal)."""
    try:
        return not call()
    except Exception:
        return True


def _outcome(call: Callable[[], object]) -> str:
    try:
        result = call()
    except Exception as exc:
        return f"refused ({type(exc).__name__}: {str(exc)[:110]})"
    return "accepted" if result else "refused (returned a false value)"


def _ours_request(headers: Sequence[tuple[str, str]], url: str = URL) -> HttpRequest:
    return HttpRequest("GET", url, list(headers))


def _ours_full(fx: Fixture, request: HttpRequest) -> dict[str, Any]:
    """What a resource does with ours: request signature, then the token it carried."""
    now = _now()
    verified = verify_request(request, now=now)
    assert verified.token is not None
    claims = decode_jwt(verified.token, fx.ap_public, now=now, typ=AGENT_TYP)
    assert claims["cnf"]["jwk"]["x"] == verified.public_jwk["x"]
    return claims


def raw_and_ours(fx: Fixture) -> tuple[Peer, Peer, bytes]:
    """Raw libsodium floors and our operations; also the signature base they share."""
    request = _ours_request(HEADERS)
    signed = sign_request(request, fx.agent, signature_key=fx.token, created=_now())
    base = signature_base(signed, signed.header("signature-input") or "", "sig")
    public, secret = nacl.bindings.crypto_sign_seed_keypair(fx.agent_seed)
    raw_signature = bytes(nacl.bindings.crypto_sign(base, secret)[:64])
    head, payload, jws_signature = fx.token.split(".")
    token_input = f"{head}.{payload}".encode()
    token_signed = _b64url_decode(jws_signature) + token_input

    def raw_both() -> bool:
        nacl.bindings.crypto_sign_open(raw_signature + base, public)
        nacl.bindings.crypto_sign_open(token_signed, fx.ap_public_raw)
        return True

    raw = Peer(RAW)
    raw.ops = [
        Op(
            "sign",
            RAW,
            lambda: nacl.bindings.crypto_sign(base, secret),
            lambda r: isinstance(r, bytes) and r[:64] == raw_signature,
        ),
        Op(
            "verify",
            RAW,
            lambda: nacl.bindings.crypto_sign_open(raw_signature + base, public),
            lambda r: r == base,
        ),
        Op("verify+token", RAW, raw_both, lambda r: r is True),
        Op(
            "jwt",
            RAW,
            lambda: nacl.bindings.crypto_sign_open(token_signed, fx.ap_public_raw),
            lambda r: r == token_input,
        ),
    ]

    state: dict[str, HttpRequest] = {}

    def refresh() -> None:
        state["signed"] = sign_request(request, fx.agent, signature_key=fx.token, created=_now())

    refresh()
    ours = Peer(OURS, refresh=refresh)
    ours.ops = [
        Op(
            "sign",
            OURS,
            lambda: sign_request(request, fx.agent, signature_key=fx.token, created=_now()),
            lambda r: (
                isinstance(r, HttpRequest)
                and verify_request(r, now=_now()).thumbprint == fx.agent.thumbprint
            ),
        ),
        Op(
            "verify",
            OURS,
            lambda: verify_request(state["signed"], now=_now()),
            lambda r: getattr(r, "thumbprint", None) == fx.agent.thumbprint,
        ),
        Op(
            "verify+token",
            OURS,
            lambda: _ours_full(fx, state["signed"]),
            lambda r: isinstance(r, dict) and r["sub"] == fx.claims_sub,
        ),
        Op(
            "jwt",
            OURS,
            lambda: decode_jwt(fx.token, fx.ap_public, now=_now(), typ=AGENT_TYP),
            lambda r: isinstance(r, dict) and r["cnf"]["jwk"]["x"] == fx.agent_x,
        ),
    ]
    ours.ops.append(resource_check(fx, lambda: state["signed"]))
    tampered = _ours_request(state["signed"].headers, TAMPERED_URL)
    assert _refuses(lambda: verify_request(tampered, now=_now()))
    assert _refuses(
        lambda: decode_jwt(_tampered_token(fx.token), fx.ap_public, now=_now(), typ=AGENT_TYP)
    )
    return raw, ours, base


def resource_check(fx: Fixture, signed: Callable[[], HttpRequest]) -> Op:
    """``ResourceVerifier.check`` of the signed request at ``RESOURCE`` (``/api``: agent-token
    route), its discovery cache filled first; the token is validated on every call."""
    issuer = "https://agent.example"
    documents = {
        f"{issuer}/.well-known/aauth-agent.json": {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/jwks.json",
        },
        f"{issuer}/jwks.json": fx.ap_jwks,
    }
    cache = DiscoveryCache()
    route = ResourcePolicy(mode=AccessMode.AGENT_TOKEN)
    verifier = ResourceVerifier(
        RESOURCE,
        Ed25519Key.from_seed(bytes(32)),
        "resource-key-1",
        {"/api": route},
        cache,
        token_memo_size=1,
    )
    now = _now()
    outcome = verifier.check(signed(), now)
    for _ in range(4):  # the AP's metadata, then its JWKS, from memory
        if not isinstance(outcome, NeedFetch):
            break
        body = json.dumps(documents[outcome.url]).encode()
        cache.on_fetched(outcome.url, 200, [("Content-Type", "application/json")], body, now=now)
        outcome = verifier.check(signed(), now)
    assert isinstance(outcome, Verified), outcome
    tampered = _ours_request(signed().headers, TAMPERED_URL)
    assert isinstance(verifier.check(tampered, now), Challenge)
    # Like the peers, validate the token on every call. The verifier remembers validated
    # tokens by (token, policy algorithms): its memo holds one, and the calls alternate
    # between two equivalent policies (the token is signed with Ed25519). The token layer
    # also remembers verified token signatures, process-wide, with no public switch: that
    # dict is emptied before each call (it must exist: a rename fails here, not silently).
    policies = itertools.cycle((route, replace(route, algorithms=("Ed25519",))))
    verified_signatures: dict[Any, None] = token_validation._VERIFIED_SIGNATURES

    def check() -> object:
        verified_signatures.clear()
        return verifier.check(signed(), _now(), policy=next(policies))

    return Op(
        "verify+token",
        CHECK,
        check,
        lambda r: isinstance(r, Verified) and r.agent == fx.claims_sub,
    )


# --------------------------------------------------------------------- peers in-process


def _import(name: str) -> ModuleType:
    return importlib.import_module(name)


class _Message:
    """The request shape http-message-signatures reads: method, url, a headers mapping."""

    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method = method
        self.url = url
        self.headers = headers


def peer_http_message_signatures(fx: Fixture, ours_signed: Callable[[], HttpRequest]) -> Peer:
    """http-message-signatures 3.x: generic RFC 9421 with a keyid-resolved key."""
    hms = _import("http_message_signatures")
    ed25519 = _import("cryptography.hazmat.primitives.asymmetric.ed25519")
    private = ed25519.Ed25519PrivateKey.from_private_bytes(fx.agent_seed)
    keyid = fx.agent.thumbprint
    resolver = hms.MappingKeyResolver(
        public_keys={keyid: private.public_key()}, private_keys={keyid: private}
    )
    signer = hms.HTTPMessageSigner(
        signature_algorithm=hms.algorithms.ED25519, key_resolver=resolver
    )
    verifier = hms.HTTPMessageVerifier(
        signature_algorithm=hms.algorithms.ED25519, key_resolver=resolver
    )

    def sign() -> _Message:
        # It has no Signature-Key support: the caller writes the header and covers it.
        message = _Message(
            "GET", URL, {**dict(HEADERS), "Signature-Key": f'sig=jwt;jwt="{fx.token}"'}
        )
        signer.sign(
            message,
            key_id=keyid,
            label="sig",
            include_alg=False,
            covered_component_ids=COMPONENTS,
        )
        return message

    def verify(message: _Message) -> Any:
        return verifier.verify(message, require_components=COMPONENTS)

    def verified(result: object) -> bool:
        return isinstance(result, list) and len(result) == 1 and result[0].label == "sig"

    state: dict[str, _Message] = {}

    def refresh() -> None:
        state["signed"] = sign()

    refresh()
    peer = Peer("http-message-signatures", refresh=refresh)
    peer.ops = [
        Op("sign", peer.name, sign, lambda r: isinstance(r, _Message) and verified(verify(r))),
        Op("verify", peer.name, lambda: verify(state["signed"]), verified),
    ]
    signed = state["signed"]
    tampered = _Message("GET", TAMPERED_URL, dict(signed.headers))
    assert _refuses(lambda: verify(tampered))
    peer.notes = [
        "no Signature-Key support: the header is written by the caller and signed as a plain "
        "covered field",
        "always emits keyid (set to the agent key's JWK thumbprint) and its verifier requires "
        "it; the key comes from a keyid map, so its verify parses no token (less work than "
        "ours, which reads cnf.jwk from the token)",
        "no token layer: not in the verify+token group",
    ]
    ours = ours_signed()
    peer.interop = [
        "ours verifies its signature: "
        + _outcome(lambda: verify_request(_ours_request(list(signed.headers.items())), now=_now())),
        "it verifies ours: " + _outcome(lambda: verify(_Message("GET", URL, dict(ours.headers)))),
    ]
    return peer


def peer_aauth_signing(fx: Fixture, ours_signed: Callable[[], HttpRequest]) -> Peer:
    """aauth-signing: the AAuth signer/verifier behind PyPI ``aauth`` (jwt scheme)."""
    lib = _import("aauth_signing")
    agent_token = _import("aauth_signing.tokens.agent_token")
    ed25519 = _import("cryptography.hazmat.primitives.asymmetric.ed25519")
    private = ed25519.Ed25519PrivateKey.from_private_bytes(fx.agent_seed)

    def fetch_jwks(issuer: str, dwk: str, kid: str | None = None) -> dict[str, Any]:
        # Stands in for a cache of the AP's JWKS: no network in the timing.
        return fx.ap_jwks

    def sign() -> dict[str, str]:
        return dict(
            lib.sign_request(
                "GET", URL, dict(HEADERS), None, private, sig_scheme="jwt", jwt=fx.token
            )
        )

    def verify(headers: dict[str, str], url: str = URL) -> bool:
        return bool(
            lib.verify_signature(
                "GET",
                url,
                {**dict(HEADERS), **headers},
                None,
                headers["Signature-Input"],
                headers["Signature"],
                headers["Signature-Key"],
                jwks_fetcher=fetch_jwks,
            )
        )

    state: dict[str, dict[str, str]] = {}

    def refresh() -> None:
        state["signed"] = sign()

    refresh()
    peer = Peer("aauth-signing", refresh=refresh)
    peer.ops = [
        Op("sign", peer.name, sign, lambda r: isinstance(r, dict) and verify(r)),
        Op("verify+token", peer.name, lambda: verify(state["signed"]), lambda r: r is True),
        Op(
            "jwt",
            peer.name,
            lambda: agent_token.verify_agent_token(fx.token, fetch_jwks),
            lambda r: isinstance(r, dict) and r["cnf"]["jwk"]["x"] == fx.agent_x,
        ),
    ]
    signed = state["signed"]
    assert _refuses(lambda: verify(signed, TAMPERED_URL))
    peer.notes = [
        "sign_request reads the clock for created (no created argument)",
        "its verifier always verifies the token of the jwt scheme (issuer JWKS from a "
        "callback), so its request verify is in the verify+token group only",
        "jwt group: tokens.agent_token.verify_agent_token (also checks typ, dwk, iss/sub "
        "syntax, jti)",
        "Signature is written as unpadded base64url, not an RFC 8941 byte sequence, and its "
        "parser accepts only that form",
    ]
    ours = ours_signed()
    ours_headers = dict(ours.headers)
    their_request = _ours_request(list({**dict(HEADERS), **signed}.items()))
    peer.interop = [
        "ours verifies its signature (default, accept_base64url_signature=True): "
        + _outcome(lambda: verify_request(their_request, now=_now())),
        "ours verifies its signature (strict, accept_base64url_signature=False): "
        + _outcome(
            lambda: verify_request(their_request, now=_now(), accept_base64url_signature=False)
        ),
        "it verifies ours: " + _outcome(lambda: verify(ours_headers)),
    ]
    return peer


def peer_pyjwt(fx: Fixture) -> Peer:
    """PyJWT: jwt.decode with Ed25519 (registered: PyJWT knows only the polymorphic EdDSA)."""
    jwt = _import("jwt")
    okp = _import("jwt.algorithms").OKPAlgorithm
    with contextlib.suppress(ValueError):  # already registered
        jwt.register_algorithm("Ed25519", okp())
    ed25519 = _import("cryptography.hazmat.primitives.asymmetric.ed25519")
    key = ed25519.Ed25519PublicKey.from_public_bytes(fx.ap_public_raw)

    def decode(token: str) -> Any:
        return jwt.decode(token, key, algorithms=["Ed25519"], options={"require": ["exp"]})

    assert _refuses(lambda: decode(_tampered_token(fx.token)))
    peer = Peer("PyJWT")
    peer.ops = [
        Op(
            "jwt",
            peer.name,
            lambda: decode(fx.token),
            lambda r: isinstance(r, dict) and r["cnf"]["jwk"]["x"] == fx.agent_x,
        )
    ]
    peer.notes = [
        "'Ed25519' (RFC 9864) registered as OKPAlgorithm: PyJWT ships only 'EdDSA'",
        "checks exp/iat/nbf; typ not checked (ours checks it)",
    ]
    return peer


def peer_joserfc(fx: Fixture) -> Peer:
    """joserfc: jwt.decode (signature) plus JWTClaimsRegistry (exp)."""
    jwt = _import("joserfc.jwt")
    key = _import("joserfc.jwk").OKPKey.import_key(fx.ap_jwks["keys"][0])
    claims_registry = jwt.JWTClaimsRegistry(exp={"essential": True})

    def decode(token: str) -> Any:
        decoded = jwt.decode(token, key, algorithms=["Ed25519"])
        claims_registry.validate(decoded.claims)
        return decoded.claims

    assert _refuses(lambda: decode(_tampered_token(fx.token)))
    peer = Peer("joserfc")
    peer.ops = [
        Op(
            "jwt",
            peer.name,
            lambda: decode(fx.token),
            lambda r: isinstance(r, dict) and r["cnf"]["jwk"]["x"] == fx.agent_x,
        )
    ]
    peer.notes = ["claims checked with JWTClaimsRegistry(exp essential); typ not checked"]
    return peer


# -------------------------------------------------------------------------- timing


def measure(
    ops: Sequence[Op], refreshers: Sequence[Callable[[], None]], rounds: int, number: int
) -> dict[tuple[str, str], float]:
    """Median µs per call of each op, rounds interleaved; each op checked every round."""
    samples: dict[tuple[str, str], list[float]] = {(op.group, op.impl): [] for op in ops}
    for _ in range(rounds):
        for refresh in refreshers:
            refresh()  # fresh created, outside the timing: verifiers keep a 60 s window
        for op in ops:
            result = op.call()
            assert op.ok(result), f"{op.impl} {op.group}: the result did not check out"
            samples[(op.group, op.impl)].append(
                timeit.timeit(op.call, number=number) / number * 1e6
            )
    return {key: statistics.median(values) for key, values in samples.items()}


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


# -------------------------------------------------------------------------- regent


def regent_worker(rounds: int, number: int) -> dict[str, Any]:
    """Run inside regent-httpsig's own venv: raw, ours and regent, interleaved here."""
    fx = build_fixture(_now())
    raw, ours, _ = raw_and_ours(fx)
    regent = _import("regent_httpsig")
    httpx = _import("httpx")
    seed = base64.urlsafe_b64encode(fx.agent_seed).decode().rstrip("=")
    signer = regent.EgressSigner(seed=seed, signature_agent="https://agent.example")
    metadata = {"issuer": "https://agent.example", "jwks_uri": "https://agent.example/jwks.json"}

    def serve(request: Any) -> Any:
        # The AP's metadata and JWKS, fetched once and then held in the verifier's cache.
        documents = {"/.well-known/aauth-agent.json": metadata, "/jwks.json": fx.ap_jwks}
        path = request.url.path
        return (
            httpx.Response(200, json=documents[path]) if path in documents else httpx.Response(404)
        )

    client = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    verifier = regent.HttpsigVerifier(
        regent.HttpsigConfig(insecure_hosts=frozenset({"agent.example"})), http_client=client
    )
    loop = asyncio.new_event_loop()

    def sign() -> dict[str, str]:
        return dict(signer.sign_aauth("GET", URL, dict(HEADERS), token=fx.token))

    def verify(headers: dict[str, str], url: str = URL) -> Any:
        return loop.run_until_complete(verifier.verify("GET", url, headers))

    def verified(result: object) -> bool:
        return getattr(result, "sub", None) == fx.claims_sub

    state: dict[str, dict[str, str]] = {}

    def refresh() -> None:
        state["signed"] = sign()

    refresh()
    name = "regent-httpsig"
    ops = [
        *(op for op in raw.ops + ours.ops if op.group in ("sign", "verify+token")),
        Op("sign", name, sign, lambda r: isinstance(r, dict) and verified(verify(r))),
        Op("verify+token", name, lambda: verify(state["signed"]), verified),
    ]
    assert _refuses(lambda: verify(state["signed"], TAMPERED_URL))
    ours_signed = sign_request(
        _ours_request(HEADERS), fx.agent, signature_key=fx.token, created=_now()
    )
    their_request = _ours_request(list(state["signed"].items()))
    interop = [
        "ours verifies its signature: "
        + _outcome(lambda: verify_request(their_request, now=_now())),
        "it verifies ours: " + _outcome(lambda: verified(verify(dict(ours_signed.headers)))),
    ]
    medians = measure(ops, [ours.refresh, refresh], rounds, number)
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    return {
        "version": _version("regent-httpsig"),
        "hms_version": _version("http-message-signatures"),
        "medians": [[group, impl, value] for (group, impl), value in medians.items()],
        "interop": interop,
    }


def run_regent(python: Path, rounds: int, number: int) -> tuple[dict[str, Any] | None, str]:
    """Results of the regent worker, or None and why not."""
    if not python.exists():
        return None, (
            f"no interpreter at {python}: it pins http-message-signatures<2.1 (3.x is measured "
            "here), so it needs its own venv; run-peers.sh creates it"
        )
    command = [
        str(python),
        str(Path(__file__).resolve()),
        "--worker",
        "regent",
        "--rounds",
        str(rounds),
        "--number",
        str(number),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"its worker failed: {tail[:200]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result, ""


# -------------------------------------------------------------------------- report


def _versus(ours: float, theirs: float) -> str:
    ratio = theirs / ours
    return f"ours is {ratio:.2f}x faster" if ratio >= 1 else f"ours is {1 / ratio:.2f}x slower"


def report(
    *,
    medians: dict[tuple[str, str], float],
    regent: dict[str, Any] | None,
    peers: Sequence[Peer],
    skipped: Sequence[Skipped],
    rounds: int,
    number: int,
) -> None:
    """Print the table, the notes, the skipped peers and the interop outcomes."""
    regent_medians: dict[tuple[str, str], float] = {}
    if regent is not None:
        regent_medians = {(g, i): float(v) for g, i, v in regent["medians"]}
    print(
        "AAuth sign/verify beside Python peers: "
        f"medians of {rounds} interleaved rounds x {number} calls"
    )
    print(
        f"Python {platform.python_version()} on {platform.machine()}, PyNaCl {_version('pynacl')}"
    )
    width = 34
    print(f"\n{'implementation':<{width}} {'µs':>8} {'x raw':>7}  ours vs it")
    for group, title in GROUPS.items():
        print(f"\n{group}: {title}")
        rows = [(impl, value) for (g, impl), value in medians.items() if g == group]
        raw, ours = medians[(group, RAW)], medians[(group, OURS)]
        for impl, value in rows:
            versus = "" if impl in (RAW, OURS, CHECK) else _versus(ours, value)
            print(f"  {impl:<{width - 2}} {value:8.1f} {value / raw:6.2f}x  {versus}")
        own = {impl: value for (g, impl), value in regent_medians.items() if g == group}
        if regent is not None and "regent-httpsig" in own:
            value, own_ours = own["regent-httpsig"], own[OURS]
            label = f"regent-httpsig {regent['version']} †"
            versus = _versus(own_ours, value)
            print(f"  {label:<{width - 2}} {value:8.1f} {value / own[RAW]:6.2f}x  {versus}")
    if regent is not None:
        print(
            "\n† its own venv (http-message-signatures "
            f"{regent['hms_version']}) and process; x raw and ours-vs-it use the raw and ours "
            "measured there:"
        )
        for group in ("sign", "verify+token"):
            own_raw, own_ours = regent_medians[(group, RAW)], regent_medians[(group, OURS)]
            print(
                f"  {group}: raw {own_raw:.1f} µs, ours {own_ours:.1f} µs "
                f"({own_ours / own_raw:.2f}x raw)"
            )
        own_check = regent_medians.get(("verify+token", CHECK))
        own_regent = regent_medians.get(("verify+token", "regent-httpsig"))
        if own_check is not None and own_regent is not None:
            own_raw = regent_medians[("verify+token", RAW)]
            print(
                f"  verify+token: ResourceVerifier.check {own_check:.1f} µs "
                f"({own_check / own_raw:.2f}x raw); beside regent-httpsig's verifier: "
                f"{_versus(own_check, own_regent)}"
            )
    if any(impl == CHECK for _, impl in medians):
        print(
            "\n‡ our resource engine's whole decision on the request (signature, authority, "
            "agent token against\n  the AP's cached metadata and JWKS, key binding, route "
            "policy), the token validated on every call\n  (its memos of validated tokens "
            "and token signatures, which a warmed resource hits, are defeated:\n  see "
            "bench_resource.py for that path)"
        )
        check = medians[("verify+token", CHECK)]
        for (group, impl), value in medians.items():
            if group == "verify+token" and impl not in (RAW, OURS, CHECK):
                print(f"  beside {impl}: {_versus(check, value)}")
    print("\nWhat each peer could and could not do:")
    for peer in peers:
        for note in peer.notes:
            print(f"  {peer.name}: {note}")
    if regent is not None:
        print("  regent-httpsig: async verifier only (timed through run_until_complete; it hands")
        print(
            "    the RFC 9421 check to a thread); AP metadata and JWKS via an httpx mock transport,"
        )
        print("    cached by the verifier after the first call")
    print("\nInterop (each signer's output shown to the other verifier):")
    for peer in peers:
        for line in peer.interop:
            print(f"  {peer.name}: {line}")
    if regent is not None:
        for line in regent["interop"]:
            print(f"  regent-httpsig: {line}")
    print("\nSkipped:" if skipped else "\nSkipped: none")
    for skip in skipped:
        print(f"  {skip.name}: {skip.reason}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25, help="interleaved rounds")
    parser.add_argument("--number", type=int, default=300, help="calls per timing")
    parser.add_argument(
        "--regent-python",
        type=Path,
        default=REGENT_VENV / "bin" / "python",
        help="interpreter of regent-httpsig's own venv",
    )
    parser.add_argument("--worker", choices=["regent"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "regent":
        print(json.dumps(regent_worker(args.rounds, args.number)))
        return 0

    fx = build_fixture(_now())
    raw, ours, _ = raw_and_ours(fx)

    def ours_signed() -> HttpRequest:
        return sign_request(
            _ours_request(HEADERS), fx.agent, signature_key=fx.token, created=_now()
        )

    peers: list[Peer] = []
    skipped = [
        Skipped(
            "aauth (PyPI)",
            "not installed: its import name 'aauth' is ours too and would replace our package "
            "in the venv; its aauth.signing and aauth.tokens.agent_token (0.5.0) only re-export "
            "aauth-signing, measured below",
        )
    ]
    builders: list[tuple[str, Callable[[], Peer]]] = [
        ("http-message-signatures", lambda: peer_http_message_signatures(fx, ours_signed)),
        ("aauth-signing", lambda: peer_aauth_signing(fx, ours_signed)),
        ("PyJWT", lambda: peer_pyjwt(fx)),
        ("joserfc", lambda: peer_joserfc(fx)),
    ]
    for name, build in builders:
        try:
            peer = build()
        except ImportError as exc:
            skipped.append(Skipped(name, f"does not import ({type(exc).__name__}: {exc})"))
            continue
        peer.name = f"{name} {_version(name)}"
        for op in peer.ops:
            op.impl = peer.name
        peers.append(peer)
    regent, reason = run_regent(args.regent_python, args.rounds, args.number)
    if regent is None:
        skipped.append(Skipped("regent-httpsig", reason))

    ops = raw.ops + ours.ops + [op for peer in peers for op in peer.ops]
    ops.sort(key=lambda op: list(GROUPS).index(op.group))
    medians = measure(ops, [ours.refresh, *(p.refresh for p in peers)], args.rounds, args.number)
    report(
        medians=medians,
        regent=regent,
        peers=peers,
        skipped=skipped,
        rounds=args.rounds,
        number=args.number,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
