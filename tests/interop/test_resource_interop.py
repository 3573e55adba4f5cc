"""OUR resource (issue 5) against code no one here wrote: requests signed by
``@hellocoop/httpsig`` 2.2.0 and tokens issued by ``@hellocoop/mockin`` 2.0.0.

Results, counts and divergences: ``tests/interop/RESOURCE-RESULTS.md``.

The resource runs in-process. Each engine of :data:`ENGINES` is driven by its own loop:
``ResourceVerifier.check`` (``NeedFetch`` → fetch → discovery cache → ``check`` again; the
app on ``Verified``) and ``ResourceServer.receive`` (the exchange loop of the contract:
``Fetch`` / ``CallApp`` / ``Respond``). Fetches for the agent token's issuer are answered by
a :class:`~tests.fakes.FakeAgentProvider` in-process; fetches for mockin's identifier go to
the real mockin over loopback HTTP (after :func:`aauth.discovery.check_resolved_address`).

1. httpsig signs (clock pinned to :data:`T0`), our resource verifies at :data:`T0`:
   ``sig=jwt`` with an agent token, with and without a body (``content-digest``), with a
   query string it leaves uncovered; ``sig=hwk`` refused by the resource (``401
   Signature-Error: error=unsupported_scheme`` + ``Accept-Signature-Scheme: jwt``) while
   :func:`aauth.verify_request` alone accepts it. The resource's challenges are parsed
   with the parsers httpsig exports (``httpsig_headers_bridge.mjs``).
2. OUR agent (``aauth_httpx.AAuth`` over an httpx transport that hands resource requests to
   the in-process resource and mockin requests to mockin) gets a person token from mockin
   and calls a person-token route; then the three-party auth-token flow (see the tests).
   Last, the same flow with our ResourceServer served on a socket under a loopback http
   identifier (development mode) that mockin discovers for real: no ``trusted_servers``
   entry for it, every party on a real socket.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from aauth import HttpRequest, HttpResponse, decode_jwt_unverified, verify_request
from aauth.aauth_headers import AuthTokenRequired, parse_aauth_requirement
from aauth.agent import (
    Agent,
    StaticAgentCredentials,
    TokenEndpointError,
)
from aauth.discovery import DiscoveryCache, EgressPolicy, check_resolved_address
from aauth.keys import EcP256Key, Ed25519Key
from aauth.metadata import ResourceMetadata, parse_person_metadata, serialize_metadata
from aauth.resource import (
    AccessMode,
    CallApp,
    Challenge,
    Fetch,
    NeedFetch,
    ResourcePolicy,
    ResourceServer,
    ResourceVerifier,
    Respond,
    Verified,
)
from aauth.resource.server import METADATA_PATH
from aauth.tokens import (
    TYP_AGENT,
    AuthToken,
    PersonToken,
    validate_auth_token,
    validate_person_token,
    validate_resource_token,
)
from aauth_httpx import AAuth
from tests.fakes import FakeAgentProvider, serve

from .conftest import MOCKIN_ISSUER
from .harness import HEADERS_BRIDGE, HTTP_TIMEOUT, HttpsigBridge, Mockin, http_call

pytestmark = pytest.mark.interop

#: The pinned clock of the httpsig half (2026-01-01T00:00:00Z).
T0: Final = 1_767_225_600
#: Our resource's identifier.
RESOURCE: Final = "https://resource.example"
RESOURCE_KID: Final = "rs-key-1"
RESOURCE_KEY: Final = Ed25519Key.from_seed(hashlib.sha256(b"interop resource key").digest())
#: The AP of the agent tokens (served in-process by the fake).
PROVIDER: Final = FakeAgentProvider(ps=MOCKIN_ISSUER, seed=5)
AGENT_KEY: Final = PROVIDER.agent_key()
EC_KEY: Final = EcP256Key.from_private_value(
    int.from_bytes(hashlib.sha256(b"interop resource ec key").digest(), "big") >> 8
)
#: Loopback is where every test peer lives; only the transport, never an identifier.
DEV_EGRESS: Final = EgressPolicy(allow_insecure_loopback_for_development=True)

JSON_TYPE: Final = (("Content-Type", "application/json"),)
JSON_BODY: Final = b'{"note":"caf\xc3\xa9 \xe2\x82\xac","n":1}'
BODY_COVERAGE: Final = ("content-type", "content-digest")


def _routes() -> dict[str, ResourcePolicy]:
    """Our resource's routes: one per access mode, plus coverage variants."""
    providers = frozenset({PROVIDER.issuer})
    ps = frozenset({MOCKIN_ISSUER})
    return {
        "/api": ResourcePolicy(mode=AccessMode.AGENT_TOKEN, agent_providers=providers),
        # a body route that insists on content-type + content-digest being signed
        "/notes": ResourcePolicy(
            mode=AccessMode.AGENT_TOKEN, agent_providers=providers, extra_components=BODY_COVERAGE
        ),
        # a route that insists on the query being signed (httpsig never covers @query)
        "/strict": ResourcePolicy(
            mode=AccessMode.AGENT_TOKEN, agent_providers=providers, extra_components=("@query",)
        ),
        "/ed25519": ResourcePolicy(
            mode=AccessMode.AGENT_TOKEN, agent_providers=providers, algorithms=("Ed25519",)
        ),
        "/person": ResourcePolicy(
            mode=AccessMode.PERSON_TOKEN, agent_providers=providers, person_servers=ps
        ),
        "/auth": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN,
            agent_providers=providers,
            person_servers=ps,
            scope="data.read",
        ),
        "/admin": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN,
            agent_providers=providers,
            person_servers=ps,
            scope="data.read data.write",
        ),
        # an identity scope besides a resource scope (mockin turns identity scopes into
        # OIDC claims and drops them from the auth token's scope)
        "/profile": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN,
            agent_providers=providers,
            person_servers=ps,
            scope="data.read email",
        ),
        "/deferred": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN,
            agent_providers=providers,
            person_servers=ps,
            scope="data.read",
            deferred=True,
        ),
    }


# ----------------------------------------------------------------------------- the app


def identity_facts(identity: Verified | None) -> dict[str, Any] | None:
    """What the app learns about the caller (JSON-able)."""
    if identity is None:
        return None
    return {
        "mode": str(identity.mode),
        "token_type": identity.token_type,
        "thumbprint": identity.thumbprint,
        "agent": identity.agent,
        "ps": identity.ps,
        "sub": identity.sub,
        "scope": identity.scope,
        "iss": identity.token.iss,
    }


def echo_app(request: HttpRequest, identity: Verified | None) -> HttpResponse:
    """The protected application: 200 JSON with the call facts and the caller."""
    parts = urlsplit(request.url)
    facts = {
        "method": request.method,
        "path": parts.path,
        "query": parts.query,
        "body_sha256": hashlib.sha256(request.body).hexdigest(),
        "identity": identity_facts(identity),
    }
    return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(facts).encode())


# ---------------------------------------------------------------------------- upstreams


@dataclass
class Upstreams:
    """Answers the resource's discovery fetches.

    ``local``: identifier origin → in-process handler (the fake AP); ``transport``:
    identifier origin → ``http://127.0.0.1:PORT`` (mockin), dialled for real after the
    resolved-address egress check.
    """

    local: Mapping[str, Callable[[HttpRequest, int], HttpResponse]] = field(default_factory=dict)
    transport: Mapping[str, str] = field(default_factory=dict)
    #: Every ``(url, dial_url)`` fetched, in order.
    log: list[tuple[str, str]] = field(default_factory=list)

    def dial_url(self, url: str) -> str:
        """``url`` on its transport (unchanged for in-process and unknown origins)."""
        for origin, base in self.transport.items():
            if url == origin or url.startswith(origin + "/"):
                return base + url[len(origin) :]
        return url

    def fetch(
        self,
        url: str,
        dial_url: str,
        *,
        now: int,
        egress: EgressPolicy,
        timeout: float,
        accept: str = "application/json",
    ) -> HttpResponse | None:
        """GET ``dial_url``; ``None`` for a failed fetch."""
        self.log.append((url, dial_url))
        parts = urlsplit(dial_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        request = HttpRequest("GET", dial_url, [("Accept", accept)])
        if origin in self.local:
            return self.local[origin](request, now)
        if parts.hostname != "127.0.0.1":
            return None  # nothing else exists in the test world
        check_resolved_address(parts.hostname, egress)  # the contract: before connecting
        try:
            return http_call(request, timeout=timeout)
        except OSError:
            return None


def provider_upstreams(provider: FakeAgentProvider = PROVIDER) -> Upstreams:
    """Only the AP, in-process."""
    return Upstreams(local={provider.issuer: provider.handle})


# ------------------------------------------------------------------------------ engines


@dataclass
class AppCall:
    """One run of the application."""

    request: HttpRequest
    identity: Verified | None


class OurResource(Protocol):
    """Our resource, one engine, driven in-process."""

    upstreams: Upstreams
    verifier: ResourceVerifier
    #: Every request received, in order.
    requests: list[HttpRequest]
    calls: list[AppCall]
    #: Every response sent, in order.
    responses: list[HttpResponse]

    def handle(self, request: HttpRequest, now: int) -> HttpResponse:
        """The response to ``request`` at ``now`` (fetches done on the way)."""
        ...

    def documents(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The resource's metadata document and JWKS, as a PS would fetch them."""
        ...


class VerifierResource:
    """``ResourceVerifier.check`` in the loop its docs show."""

    name = "verifier"

    def __init__(
        self,
        upstreams: Upstreams,
        *,
        identifier: str = RESOURCE,
        routes: Mapping[str, ResourcePolicy] | None = None,
        new_jti: Callable[[], str] | None = None,
        legacy_jti: bool = False,
    ) -> None:
        self.upstreams = upstreams
        self.verifier = ResourceVerifier(
            identifier,
            RESOURCE_KEY,
            RESOURCE_KID,
            dict(routes or _routes()),
            DiscoveryCache(),
            new_jti=new_jti or _counter("rt"),
            emit_legacy_person_token_jti=legacy_jti,
        )
        self.requests: list[HttpRequest] = []
        self.calls: list[AppCall] = []
        self.responses: list[HttpResponse] = []

    def documents(self) -> tuple[dict[str, Any], dict[str, Any]]:
        # the verifier serves nothing: what a binding of it would publish
        identifier = self.verifier.identifier
        metadata = ResourceMetadata(issuer=identifier, jwks_uri=f"{identifier}/jwks.json")
        jwks = {"keys": [{**RESOURCE_KEY.public_jwk, "kid": RESOURCE_KID}]}
        return json.loads(serialize_metadata(metadata)), jwks

    def handle(self, request: HttpRequest, now: int) -> HttpResponse:
        self.requests.append(request)
        response = self._handle(request, now)
        self.responses.append(response)
        return response

    def _handle(self, request: HttpRequest, now: int) -> HttpResponse:
        cache = self.verifier.discovery_cache
        for _ in range(8):  # metadata, JWKS, one refresh: never more than a few rounds
            outcome = self.verifier.check(request, now)
            if isinstance(outcome, Challenge):
                return outcome.to_response()
            if isinstance(outcome, Verified):
                self.calls.append(AppCall(request, outcome))
                return echo_app(request, outcome)
            assert isinstance(outcome, NeedFetch)
            assert not outcome.pending, "single-threaded: nothing else is fetching"
            dial = self.upstreams.dial_url(outcome.url)
            got = self.upstreams.fetch(
                outcome.url, dial, now=now, egress=DEV_EGRESS, timeout=HTTP_TIMEOUT
            )
            if got is None:
                cache.on_fetch_failed(outcome.url, now=now)
            else:
                cache.on_response(outcome.url, got, now=now)
        raise AssertionError(f"no verdict after 8 rounds; fetched {self.upstreams.log}")


def _counter(prefix: str) -> Callable[[], str]:
    """Fresh, distinct values (the binding's randomness, made reproducible)."""
    count = 0

    def new() -> str:
        nonlocal count
        count += 1
        return f"{prefix}-{count:04d}-" + base64.urlsafe_b64encode(
            hashlib.sha256(f"{prefix}{count}".encode()).digest()[:12]
        ).decode("ascii")

    return new


class ServerResource:
    """``ResourceServer.receive`` in the exchange loop of the contract."""

    name = "server"

    def __init__(
        self,
        upstreams: Upstreams,
        *,
        identifier: str = RESOURCE,
        routes: Mapping[str, ResourcePolicy] | None = None,
        new_jti: Callable[[], str] | None = None,
        legacy_jti: bool = False,
        dev: bool = False,
        **options: Any,
    ) -> None:
        self.upstreams = upstreams
        # dev: the verifier's discovery cache in development mode, which is what lets it
        # validate tokens whose identifiers (``aud`` = a loopback ``identifier``) are http
        self.verifier = verifier = ResourceVerifier(
            identifier,
            RESOURCE_KEY,
            RESOURCE_KID,
            dict(routes or _routes()),
            DiscoveryCache(egress=DEV_EGRESS) if dev else DiscoveryCache(),
            new_jti=new_jti,
            emit_legacy_person_token_jti=legacy_jti,
        )
        self.server = ResourceServer(
            verifier,
            new_secret=_counter("secret"),
            transport_map=dict(upstreams.transport),
            egress=DEV_EGRESS,
            **options,
        )
        self.requests: list[HttpRequest] = []
        self.calls: list[AppCall] = []
        self.responses: list[HttpResponse] = []
        #: Every Fetch action, in order.
        self.fetches: list[Fetch] = []

    def documents(self) -> tuple[dict[str, Any], dict[str, Any]]:
        identifier = self.server.verifier.identifier
        now = int(time.time())
        metadata = self._handle(HttpRequest("GET", f"{identifier}{METADATA_PATH}"), now)
        assert metadata.status == 200, metadata
        document = json.loads(metadata.body)
        jwks = self._handle(HttpRequest("GET", document["jwks_uri"]), now)
        assert jwks.status == 200, jwks
        return document, json.loads(jwks.body)

    def handle(self, request: HttpRequest, now: int) -> HttpResponse:
        self.requests.append(request)
        response = self._handle(request, now)
        self.responses.append(response)
        return response

    def _handle(self, request: HttpRequest, now: int) -> HttpResponse:
        exchange = self.server.receive(request, now)
        action = exchange.next_action()
        for _ in range(16):
            if isinstance(action, Respond):
                return action.response
            if isinstance(action, CallApp):
                self.calls.append(AppCall(action.request, action.identity))
                answer = echo_app(action.request, action.identity)
                if not action.capture:
                    return answer.with_headers(action.add_headers)
                action = exchange.app_responded(answer, now=now)
                continue
            assert isinstance(action, Fetch)
            self.fetches.append(action)
            # the server's transport map and ours agree on where to dial
            assert action.dial_url == self.upstreams.dial_url(action.url)
            got = self.upstreams.fetch(
                action.url,
                action.dial_url,
                now=now,
                egress=action.egress,
                timeout=action.timeout,
                accept=action.accept,
            )
            if got is None or len(got.body) > action.max_bytes:
                action = exchange.fetch_failed(action.url, now=now, reason="no answer")
            else:
                action = exchange.fetched(action.url, got.status, got.headers, got.body, now=now)
        raise AssertionError(f"no response after 16 actions; fetched {self.upstreams.log}")


EngineFactory = Callable[..., OurResource]
ENGINES: Final[dict[str, EngineFactory]] = {
    "verifier": VerifierResource,
    "server": ServerResource,
}


@pytest.fixture(params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> EngineFactory:
    """Each engine in turn (a factory: ``engine(upstreams, ...)``)."""
    factory: EngineFactory = ENGINES[request.param]
    return factory


# ================================================================= 1. httpsig signs


#: The agent token httpsig's jwt-scheme requests carry (cnf.jwk = AGENT_KEY).
AGENT_TOKEN: Final = PROVIDER.mint(AGENT_KEY, now=T0 - 60)
#: The same for an ES256 agent key.
EC_AGENT_TOKEN: Final = PROVIDER.mint(EC_KEY, now=T0 - 60)


@dataclass(frozen=True)
class Signed:
    """A request for httpsig to sign (``sig=jwt`` unless ``scheme`` says otherwise)."""

    method: str
    url: str
    headers: Sequence[tuple[str, str]] = ()
    body: bytes | None = None
    scheme: str = "jwt"
    key: Ed25519Key | EcP256Key = AGENT_KEY
    components: Sequence[str] | None = None
    content_digest: str | None = None

    def bridge_case(self) -> dict[str, Any]:
        signature_key: dict[str, str] = {"type": self.scheme}
        if self.scheme == "jwt":
            signature_key["jwt"] = AGENT_TOKEN if self.key is AGENT_KEY else EC_AGENT_TOKEN
        case: dict[str, Any] = {
            "op": "sign",
            "url": self.url,
            "method": self.method,
            "headers": [list(pair) for pair in self.headers],
            "body_b64": None if self.body is None else base64.b64encode(self.body).decode(),
            "signing_key": self.key.private_jwk(),
            "signature_key": signature_key,
            "created": T0,
        }
        if self.components is not None:
            case["components"] = list(self.components)
        if self.content_digest is not None:
            case["content_digest"] = self.content_digest
        return case


SIGNED: Final[dict[str, Signed]] = {
    "get": Signed("GET", f"{RESOURCE}/api/documents"),
    "post-json": Signed("POST", f"{RESOURCE}/notes", JSON_TYPE, JSON_BODY),
    "post-json-api": Signed("POST", f"{RESOURCE}/api/notes", JSON_TYPE, JSON_BODY),
    "post-no-digest": Signed(
        "POST", f"{RESOURCE}/notes", JSON_TYPE, JSON_BODY, content_digest="omit"
    ),
    "get-query": Signed("GET", f"{RESOURCE}/api/search?q=caf%C3%A9&page=2"),
    "strict-query": Signed("GET", f"{RESOURCE}/strict/search?q=1"),
    "strict-covers-query": Signed(
        "GET",
        f"{RESOURCE}/strict/search?q=1",
        components=("@method", "@authority", "@path", "@query", "signature-key"),
    ),
    "get-es256": Signed("GET", f"{RESOURCE}/ed25519/documents", key=EC_KEY),
    "get-hwk": Signed("GET", f"{RESOURCE}/api/documents", scheme="hwk"),
    "post-hwk": Signed("POST", f"{RESOURCE}/notes", JSON_TYPE, JSON_BODY, scheme="hwk"),
    "person-route": Signed("GET", f"{RESOURCE}/person/me"),
    "auth-route": Signed("GET", f"{RESOURCE}/auth/data"),
}


@pytest.fixture(scope="module")
def signed(httpsig: HttpsigBridge) -> dict[str, HttpRequest]:
    """Every :data:`SIGNED` request as httpsig signed it (one Node run)."""
    names = list(SIGNED)
    results = httpsig.run([SIGNED[name].bridge_case() for name in names])
    out: dict[str, HttpRequest] = {}
    for name, result in zip(names, results, strict=True):
        assert result["ok"], f"{name}: httpsig could not sign: {result.get('error')}"
        headers = [(str(k), str(v)) for k, v in result["headers"]]
        out[name] = HttpRequest(
            SIGNED[name].method, result["url"], headers, SIGNED[name].body or b""
        )
    return out


def _json(response: HttpResponse) -> Any:
    return json.loads(response.body)


def _assert_agent_call(response: HttpResponse, thumbprint: str = AGENT_KEY.thumbprint) -> None:
    assert response.status == 200, (response.status, response.headers, response.body)
    who = _json(response)["identity"]
    assert who["mode"] == "agent-token"
    assert who["token_type"] == TYP_AGENT
    assert who["agent"] == PROVIDER.agent_id
    assert who["iss"] == PROVIDER.issuer
    assert who["ps"] == MOCKIN_ISSUER
    assert who["thumbprint"] == thumbprint


AP_DOCUMENTS: Final = [
    f"{PROVIDER.issuer}/.well-known/aauth-agent.json",
    PROVIDER.jwks_uri,
]


@pytest.mark.parametrize("name", ["get", "post-json", "post-json-api", "get-query"])
def test_their_jwt_request_passes_our_resource(
    name: str, engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    resource = engine(provider_upstreams())
    request = signed[name]
    assert request.header("signature-key") == f'sig=jwt;jwt="{AGENT_TOKEN}"'
    response = resource.handle(request, T0)

    _assert_agent_call(response)
    facts = _json(response)
    assert (facts["method"], facts["path"]) == (request.method, urlsplit(request.url).path)
    assert facts["body_sha256"] == hashlib.sha256(SIGNED[name].body or b"").hexdigest()
    # the agent token's issuer was discovered (metadata, then JWKS), once
    assert [url for url, _ in resource.upstreams.log] == AP_DOCUMENTS
    assert len(resource.calls) == 1


def test_their_body_digest_is_checked_by_our_resource(
    engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    """``/notes`` wants ``content-type`` + ``content-digest`` signed: httpsig's default body
    signature covers both; our resource recomputes the digest."""
    resource = engine(provider_upstreams())
    request = signed["post-json"]
    digest = base64.b64encode(hashlib.sha256(JSON_BODY).digest()).decode()
    assert request.header("content-digest") == f"sha-256=:{digest}:"
    _assert_agent_call(resource.handle(request, T0))

    # the body changed under the digest (a fresh copy, so no replay verdict interferes)
    tampered = HttpRequest(request.method, request.url, request.headers, b'{"note":"other"}')
    refused = engine(provider_upstreams()).handle(tampered, T0)
    assert refused.status == 401
    # divergence 7 of test_httpsig_interop: httpsig would say invalid_input
    assert refused.header("signature-error") == "error=invalid_signature"


def test_their_body_without_digest_is_refused_where_required(
    engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    resource = engine(provider_upstreams())
    request = signed["post-no-digest"]
    assert request.header("content-digest") is None
    response = resource.handle(request, T0)
    assert response.status == 401
    error = response.header("signature-error")
    assert error is not None and error.startswith("error=invalid_input")
    assert '"content-digest"' in error
    assert resource.calls == []
    assert resource.upstreams.log == []  # refused before any fetch


def test_their_uncovered_query_passes_and_stays_unprotected(
    engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    request = signed["get-query"]
    assert request.url == f"{RESOURCE}/api/search?q=caf%C3%A9&page=2"
    resource = engine(provider_upstreams())
    response = resource.handle(request, T0)
    _assert_agent_call(response)
    assert _json(response)["query"] == "q=caf%C3%A9&page=2"

    # the query is not covered: the same signature passes with another query (on a fresh
    # resource, so the replay store has not seen it)
    changed = HttpRequest("GET", f"{RESOURCE}/api/search?q=other", request.headers)
    other = engine(provider_upstreams()).handle(changed, T0)
    _assert_agent_call(other)
    assert _json(other)["query"] == "q=other"


def test_a_route_that_wants_the_query_signed_refuses_theirs(
    engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    resource = engine(provider_upstreams())
    response = resource.handle(signed["strict-query"], T0)
    assert response.status == 401
    # required_input names every component the route needs, @query among them
    assert response.header("signature-error") == (
        'error=invalid_input, required_input=("@method" "@authority" "@path" "signature-key" '
        '"@query")'
    )
    # and httpsig covering @query does not help: its @query line lacks the "?"
    covered = resource.handle(signed["strict-covers-query"], T0)
    assert covered.status == 401
    assert covered.header("signature-error") == "error=invalid_signature"
    assert resource.calls == []


def test_their_replayed_post_is_refused(
    engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    """The replay store holds state-changing requests (digest §2: duplicates MAY be
    refused); a repeated GET is let through by default (``replay_safe_methods=False``)."""
    resource = engine(provider_upstreams())
    _assert_agent_call(resource.handle(signed["post-json"], T0))
    again = resource.handle(signed["post-json"], T0 + 1)
    assert again.status == 401
    assert again.header("signature-error") == "error=invalid_signature"
    assert len(resource.calls) == 1
    _assert_agent_call(resource.handle(signed["get"], T0))
    _assert_agent_call(resource.handle(signed["get"], T0 + 1))
    assert len(resource.calls) == 3


@pytest.mark.parametrize(("now", "ok"), [(T0 - 60, True), (T0 + 60, True), (T0 + 61, False)])
def test_their_created_meets_our_window(
    now: int, ok: bool, engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    response = engine(provider_upstreams()).handle(signed["get"], now)
    if ok:
        _assert_agent_call(response)
    else:
        assert response.status == 401
        assert response.header("signature-error") == "error=invalid_signature"


def test_their_es256_signature_on_an_ed25519_route(
    engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    response = engine(provider_upstreams()).handle(signed["get-es256"], T0)
    assert response.status == 401
    assert response.header("signature-error") == "error=unsupported_algorithm"
    assert response.header("accept-signature-alg") == "Ed25519"
    # the signature itself is good (ES256 with the agent token's cnf.jwk)
    assert verify_request(signed["get-es256"], now=T0).thumbprint == EC_KEY.thumbprint


@pytest.mark.parametrize("name", ["get-hwk", "post-hwk"])
def test_their_hwk_request_is_refused_by_the_resource(
    name: str, engine: EngineFactory, signed: dict[str, HttpRequest]
) -> None:
    request = signed[name]
    assert (request.header("signature-key") or "").startswith("sig=hwk;")
    # the signature itself is good: the wire layer alone accepts it
    verified = verify_request(request, now=T0, schemes=("jwt", "hwk"), require_body_digest=True)
    assert (verified.scheme, verified.thumbprint) == ("hwk", AGENT_KEY.thumbprint)

    resource = engine(provider_upstreams())
    response = resource.handle(request, T0)
    assert response.status == 401
    assert response.header("signature-error") == "error=unsupported_scheme"
    assert response.header("accept-signature-scheme") == "jwt"  # AAuth -11: sig=jwt only
    assert response.header("aauth-requirement") is None
    problem = _json(response)
    assert problem["type"] == "urn:ietf:params:sig-error:unsupported_scheme"
    assert resource.calls == []
    assert resource.upstreams.log == []


# ------------------------------------------------- our challenges, httpsig's parsers

#: The challenge fields of a response and the httpsig export that reads each (the bridge
#: uses ``parseDictionary`` for ``AAuth-Requirement``, as the package documents).
CHALLENGE_FIELDS: Final = (
    "signature-error",
    "accept-signature",
    "accept-signature-scheme",
    "accept-signature-alg",
    "aauth-requirement",
)


def their_parse(
    httpsig: HttpsigBridge, responses: Mapping[str, HttpResponse]
) -> dict[str, dict[str, Any]]:
    """``{name: {field: what httpsig parsed}}`` for every challenge field of every response
    (one Node run); a parser that throws fails the test with its message."""
    keys: list[tuple[str, str]] = []
    cases: list[dict[str, str]] = []
    for name, response in responses.items():
        for field_name in CHALLENGE_FIELDS:
            value = response.header(field_name)
            if value is not None:
                keys.append((name, field_name))
                cases.append({"op": "parse", "field": field_name, "value": value})
    results = httpsig.run(cases, script=HEADERS_BRIDGE)
    parsed: dict[str, dict[str, Any]] = {name: {} for name in responses}
    for (name, field_name), result in zip(keys, results, strict=True):
        assert result["ok"], f"{name} {field_name}: httpsig refused it: {result['error']}"
        parsed[name][field_name] = result["parsed"]
    return parsed


def _requirement(value: str, **params: str) -> dict[str, Any]:
    """httpsig's ``parseDictionary`` view of ``requirement=<value>; k="v"...``."""
    return {
        "requirement": {
            "value": value,
            "type": "token",
            "params": {k: {"value": v, "type": "string"} for k, v in params.items()},
        }
    }


def test_httpsig_parses_our_challenges(
    engine: EngineFactory, signed: dict[str, HttpRequest], httpsig: HttpsigBridge
) -> None:
    resource = engine(provider_upstreams())
    responses = {
        "unsigned": resource.handle(HttpRequest("GET", f"{RESOURCE}/api/documents"), T0),
        "unsigned-person": resource.handle(HttpRequest("GET", f"{RESOURCE}/person/me"), T0),
        "agent-on-person": resource.handle(signed["person-route"], T0),
        "agent-on-auth": resource.handle(signed["auth-route"], T0),
        "hwk": resource.handle(signed["get-hwk"], T0),
        "query-required": resource.handle(signed["strict-query"], T0),
        "digest-required": resource.handle(signed["post-no-digest"], T0),
        "es256": resource.handle(signed["get-es256"], T0),
        "stale": resource.handle(signed["get"], T0 + 61),
    }
    assert {name: r.status for name, r in responses.items()} == dict.fromkeys(responses, 401)
    parsed = their_parse(httpsig, responses)

    assert parsed["unsigned"] == {"aauth-requirement": _requirement("agent-token")}
    assert parsed["unsigned-person"] == {"aauth-requirement": _requirement("person-token")}
    assert parsed["agent-on-person"] == {"aauth-requirement": _requirement("person-token")}
    assert parsed["agent-on-auth"] == {"aauth-requirement": _requirement("person-token")}
    assert parsed["hwk"] == {
        "signature-error": {"error": "unsupported_scheme"},
        "accept-signature-scheme": ["jwt"],
    }
    base = ["@method", "@authority", "@path", "signature-key"]
    assert parsed["query-required"] == {
        "signature-error": {"error": "invalid_input", "required_input": [*base, "@query"]}
    }
    assert parsed["digest-required"] == {
        "signature-error": {"error": "invalid_input", "required_input": [*base, *BODY_COVERAGE]}
    }
    assert parsed["es256"] == {
        "signature-error": {"error": "unsupported_algorithm"},
        "accept-signature-alg": ["Ed25519"],
    }
    assert parsed["stale"] == {"signature-error": {"error": "invalid_signature"}}


# ================================================================= 2. mockin issues


class ResourceTransport(httpx.BaseTransport):
    """The agent's network: requests for the resource's identifier go to the in-process resource
    (on the real clock: mockin checks times against its own), everything else (mockin on
    127.0.0.1, after the agent's transport map) to a real HTTP transport."""

    def __init__(self, resource: OurResource) -> None:
        self.resource = resource
        self.network = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        if origin != self.resource.verifier.identifier:
            return self.network.handle_request(request)
        ours = HttpRequest(
            request.method, str(request.url), list(request.headers.multi_items()), request.read()
        )
        answer = self.resource.handle(ours, int(time.time()))
        return httpx.Response(answer.status, headers=list(answer.headers), content=answer.body)

    def close(self) -> None:
        self.network.close()


@dataclass
class MockinWorld:
    """mockin as the PS, our resource in-process, our agent with httpx."""

    mockin: Mockin
    resource: OurResource
    ps_jwks: dict[str, Any]

    def agent(self, *, dev: bool = False) -> Agent:
        """A fresh agent (own caches) with an agent token minted now (``ps`` = mockin);
        ``dev``: it accepts a loopback http resource identifier."""
        token = PROVIDER.mint(AGENT_KEY, now=int(time.time()))
        return Agent(
            StaticAgentCredentials(AGENT_KEY, token),
            capabilities=("interaction", "clarification"),
            transport_map={self.mockin.issuer: self.mockin.base_url},
            allow_insecure_loopback_for_development=dev,
        )

    def get(self, *paths: str, agent: Agent | None = None) -> list[httpx.Response]:
        """GET each path of the resource in turn through one agent."""
        transport = ResourceTransport(self.resource)
        auth = AAuth(agent or self.agent())
        base = self.resource.verifier.identifier
        with httpx.Client(transport=transport, auth=auth, timeout=HTTP_TIMEOUT) as client:
            return [client.get(base + path) for path in paths]

    def statuses(self) -> list[int]:
        """Our resource's answers, in order."""
        return [response.status for response in self.resource.responses]

    def requirements(self) -> list[str | None]:
        """The ``AAuth-Requirement`` of each of our resource's answers."""
        return [response.header("aauth-requirement") for response in self.resource.responses]

    def trust(self, resource_documents: tuple[dict[str, Any], dict[str, Any]] | None) -> None:
        """mockin trusts the fake AP and, given its documents, our resource."""
        servers = {PROVIDER.issuer: _entity(serialize_metadata(PROVIDER.metadata), PROVIDER.jwks)}
        if resource_documents is not None:
            metadata, jwks = resource_documents
            servers[metadata["issuer"]] = {"metadata": metadata, "jwks": jwks}
        config = self.mockin.configure(trusted_servers=servers)
        assert set(config["trusted_servers"]) == set(servers)


def _entity(metadata: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": json.loads(metadata), "jwks": jwks}


def mockin_upstreams(mockin: Mockin) -> Upstreams:
    """The AP in-process, mockin over loopback."""
    return Upstreams(
        local={PROVIDER.issuer: PROVIDER.handle}, transport={mockin.issuer: mockin.base_url}
    )


def make_world(mockin: Mockin, factory: EngineFactory) -> MockinWorld:
    """A (reset) mockin trusting the fake AP, and a fresh resource from ``factory``."""
    metadata = parse_person_metadata(
        mockin.call("GET", "/.well-known/aauth-person.json").body,
        expected_issuer=mockin.issuer,
    )
    ps_jwks: dict[str, Any] = json.loads(mockin.call("GET", metadata.jwks_uri).body)
    # mockin 2.0.0 reads only person_token_jti: our resource also writes it
    built = MockinWorld(mockin, factory(mockin_upstreams(mockin), legacy_jti=True), ps_jwks)
    built.trust(None)
    return built


@pytest.fixture
def world(mockin: Mockin, engine: EngineFactory) -> MockinWorld:
    """:func:`make_world` with each engine."""
    return make_world(mockin, engine)


@pytest.fixture
def server_world(mockin: Mockin) -> MockinWorld:
    """:func:`make_world` with the ResourceServer (what only the server does)."""
    return make_world(mockin, ServerResource)


MOCKIN_DOCUMENTS: Final = [
    f"{MOCKIN_ISSUER}/.well-known/aauth-person.json",
    f"{MOCKIN_ISSUER}/aauth/jwks.json",
]


def test_mockin_person_token_verifies_at_our_resource(world: MockinWorld) -> None:
    [first, again] = world.get("/person/me", "/person/again")

    assert (first.status_code, again.status_code) == (200, 200)
    # agent token -> 401 person-token; mockin's person token -> 200; reused -> 200
    assert world.statuses() == [401, 200, 200]
    assert world.requirements()[0] == "requirement=person-token"
    [call, call_again] = world.resource.calls
    assert call.identity is not None and call_again.identity is not None
    who = identity_facts(call.identity)
    assert who is not None
    assert (who["mode"], who["token_type"]) == ("person-token", "aa-person+jwt")
    assert (who["iss"], who["ps"]) == (MOCKIN_ISSUER, MOCKIN_ISSUER)
    assert who["thumbprint"] == AGENT_KEY.thumbprint
    assert who["sub"] and who["agent"] is None
    token = call.identity.token
    assert isinstance(token, PersonToken)
    assert token.aud == RESOURCE
    assert token.kid in {key["kid"] for key in world.ps_jwks["keys"]}
    assert call_again.identity.token.jti == token.jti  # the agent reused it
    assert json.loads(first.content)["identity"] == who
    # our resource discovered mockin's keys over the loopback transport, once
    base = world.mockin.base_url
    assert world.resource.upstreams.log == [
        (url, base + url[len(MOCKIN_ISSUER) :]) for url in MOCKIN_DOCUMENTS
    ]


def _resource_token_claims(world: MockinWorld) -> list[dict[str, Any]]:
    """The payload of every resource token our resource put in a challenge."""
    claims: list[dict[str, Any]] = []
    for response in world.resource.responses:
        requirement = response.header("aauth-requirement")
        if requirement is None or not requirement.startswith("requirement=auth-token"):
            continue
        parsed = parse_aauth_requirement(requirement)
        assert isinstance(parsed, AuthTokenRequired)
        claims.append(decode_jwt_unverified(parsed.resource_token)[1])
    return claims


def test_mockin_refuses_our_resource_token_without_the_legacy_alias(
    world: MockinWorld,
) -> None:
    """mockin 2.0.0 reads only ``person_token_jti``; a resource token that names the person
    token as AAuth -11 does (``presented_jti``) is refused, and the agent's flow ends typed."""
    world.resource.verifier.emit_legacy_person_token_jti = False
    world.trust(world.resource.documents())
    with pytest.raises(TokenEndpointError) as caught:
        world.get("/auth/data")
    assert (caught.value.code, caught.value.status) == ("invalid_resource_token", 400)
    assert "resource_token missing person_token_jti" in str(caught.value)
    # agent token -> person-token; person token -> auth-token with a resource token for mockin
    assert world.statuses() == [401, 401]
    [claims] = _resource_token_claims(world)
    assert (claims["iss"], claims["aud"], claims["ps"]) == (RESOURCE, MOCKIN_ISSUER, MOCKIN_ISSUER)
    assert claims["agent_jkt"] == AGENT_KEY.thumbprint
    assert claims["scope"] == "data.read"
    assert "presented_jti" in claims and "person_token_jti" not in claims
    assert world.resource.calls == []


def _token_of(request: HttpRequest) -> str:
    """The JWT in a request's ``Signature-Key: sig=jwt;jwt="…"``."""
    member = request.header("signature-key") or ""
    assert member.startswith('sig=jwt;jwt="') and member.endswith('"'), member
    return member[len('sig=jwt;jwt="') : -1]


def test_three_party_flow_with_mockin(world: MockinWorld, httpsig: HttpsigBridge) -> None:
    """agent token → ``401 person-token`` → mockin's person token → ``401 auth-token`` with
    our resource token (``aud`` = mockin) → mockin verifies it with our JWKS and issues an
    auth token → our resource verifies it with mockin's JWKS → ``200``."""
    world.trust(world.resource.documents())
    [answer] = world.get("/auth/data")

    assert answer.status_code == 200, answer.content
    assert world.statuses() == [401, 401, 200]
    requirements = world.requirements()
    assert requirements[0] == "requirement=person-token"
    assert (requirements[1] or "").startswith("requirement=auth-token;")
    # what the agent signed with at each step
    agent_jwt, person_jwt, auth_jwt = (_token_of(r) for r in world.resource.requests)
    assert decode_jwt_unverified(agent_jwt)[0]["typ"] == "aa-agent+jwt"
    person_header, person = decode_jwt_unverified(person_jwt)
    assert (person_header["typ"], person["iss"], person["aud"]) == (
        "aa-person+jwt",
        MOCKIN_ISSUER,
        RESOURCE,
    )
    # our resource token: for mockin, naming mockin's person token under both names
    [claims] = _resource_token_claims(world)
    assert (claims["iss"], claims["aud"], claims["ps"]) == (RESOURCE, MOCKIN_ISSUER, MOCKIN_ISSUER)
    assert claims["presented_jti"] == claims["person_token_jti"] == person["jti"]
    assert (claims["sub"], claims["agent_jkt"]) == (person["sub"], AGENT_KEY.thumbprint)
    assert claims["scope"] == "data.read"
    assert claims["exp"] - claims["iat"] <= 300  # AAuth -11 §"Resource Token"
    # mockin's auth token, as our resource verified it
    auth_header, auth = decode_jwt_unverified(auth_jwt)
    assert auth_header["typ"] == "aa-auth+jwt"
    assert auth_header["kid"] in {key["kid"] for key in world.ps_jwks["keys"]}
    [call] = world.resource.calls
    assert call.identity is not None
    assert isinstance(call.identity.token, AuthToken)
    who = identity_facts(call.identity)
    assert who == {
        "mode": "auth-token",
        "token_type": "aa-auth+jwt",
        "thumbprint": AGENT_KEY.thumbprint,
        "agent": None,
        "ps": MOCKIN_ISSUER,
        "sub": person["sub"],
        "scope": "data.read",
        "iss": MOCKIN_ISSUER,
    }
    assert (auth["aud"], auth["cnf"]["jwk"]) == (RESOURCE, AGENT_KEY.public_jwk)
    assert json.loads(answer.content)["identity"] == who
    # mockin's metadata and JWKS were fetched once, over loopback, for both tokens
    assert [url for url, _ in world.resource.upstreams.log] == MOCKIN_DOCUMENTS
    # httpsig's parseDictionary reads the auth-token challenge the agent acted on
    challenges = dict(zip(("person", "auth"), world.resource.responses[:2], strict=True))
    parsed = their_parse(httpsig, challenges)
    resource_token = parse_aauth_requirement(requirements[1] or "")
    assert isinstance(resource_token, AuthTokenRequired)
    assert parsed == {
        "person": {"aauth-requirement": _requirement("person-token")},
        "auth": {
            "aauth-requirement": _requirement(
                "auth-token", **{"resource-token": resource_token.resource_token}
            )
        },
    }


def test_step_up_with_mockin(world: MockinWorld) -> None:
    """An auth token short of a route's scope: our resource answers ``401 auth-token`` with
    a NEW resource token built from its record of mockin's person token (``presented_jti``
    / ``person_token_jti``, ``sub``), which mockin accepts (it still holds that person
    token), and the wider auth token passes."""
    world.trust(world.resource.documents())
    [read, admin] = world.get("/auth/data", "/admin/settings")

    assert (read.status_code, admin.status_code) == (200, 200), admin.content
    # /auth: agent -> person-token, person -> auth-token, auth -> 200;
    # /admin: the data.read auth token -> auth-token (step-up), wider auth token -> 200
    assert world.statuses() == [401, 401, 200, 401, 200]
    first, second = _resource_token_claims(world)
    assert first["scope"] == "data.read"
    assert second["scope"] == "data.read data.write"
    for key in ("presented_jti", "person_token_jti", "sub", "ps", "aud"):
        assert second[key] == first[key], key
    assert second["jti"] != first["jti"]
    step_up_request = world.resource.requests[3]
    assert decode_jwt_unverified(_token_of(step_up_request))[1]["scope"] == "data.read"
    scopes = [c.identity.scope for c in world.resource.calls if c.identity is not None]
    assert scopes == ["data.read", "data.read data.write"]


def test_mockin_checks_our_resource_token_signature(world: MockinWorld) -> None:
    """Negative control: mockin given another key as our JWKS refuses the resource token,
    so the three-party pass above really verified our signature with our JWKS."""
    metadata, _jwks = world.resource.documents()
    impostor = Ed25519Key.from_seed(hashlib.sha256(b"not the resource key").digest())
    world.trust((metadata, {"keys": [{**impostor.public_jwk, "kid": RESOURCE_KID}]}))
    with pytest.raises(TokenEndpointError) as caught:
        world.get("/auth/data")
    assert (caught.value.code, caught.value.status) == ("invalid_resource_token", 400)
    assert "resource_token signature" in str(caught.value)
    assert world.resource.calls == []


class RecordingTransport(httpx.BaseTransport):
    """The agent's real network (every peer on a loopback socket), recording each request
    the agent sent: ``(method, url, body)``."""

    def __init__(self) -> None:
        self.network = httpx.HTTPTransport()
        self.sent: list[tuple[str, str, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, str(request.url), request.read()))
        return self.network.handle_request(request)

    def close(self) -> None:
        self.network.close()


@dataclass(frozen=True)
class ServedCase:
    """One auth-token route called on the served resource, and what our server answers."""

    path: str
    #: our server's answer to the agent token, then to mockin's person token
    challenges: tuple[int, int]


SERVED_CASES: Final = {
    "immediate": ServedCase("/auth/data", (401, 401)),
    "deferred": ServedCase("/deferred/data?page=2", (401, 202)),
}


@pytest.mark.parametrize("case", list(SERVED_CASES))
def test_mockin_discovers_our_served_resource_in_the_full_flow(case: str, mockin: Mockin) -> None:
    """The three-party flow with NO ``trusted_servers`` entry for our resource: mockin
    discovers it for real. Our ResourceServer is served on a socket under the only identifier
    mockin can reach, ``http://127.0.0.1:PORT`` (development mode: loopback http identifiers,
    AAuth -11 §"Server Identifiers"), and our agent talks to it over that socket:

    agent token → ``401 person-token`` → mockin's person token (``aud`` = the http
    identifier) → ``401 auth-token`` (or ``202`` + ``Location``) with a resource token OUR
    SERVER signed → the agent sends it to mockin, which ``GET``s our
    ``/.well-known/aauth-resource.json`` (issuer byte-equal) and the ``jwks_uri`` it names,
    verifies the token and issues an auth token → our server verifies that (the call, or the
    poll of ``Location`` running the held call) → ``200`` from the app."""
    spec = SERVED_CASES[case]
    ps_jwks: dict[str, Any] = json.loads(mockin.call("GET", "/aauth/jwks.json").body)
    holder: list[ServerResource] = []

    def handle(request: HttpRequest, now: int) -> HttpResponse:
        return holder[0].handle(request, now)

    network = RecordingTransport()
    with serve(handle, time.time) as served:
        identifier = served.origin
        resource = ServerResource(
            mockin_upstreams(mockin),
            identifier=identifier,
            new_jti=_counter("served-rt"),
            legacy_jti=True,  # mockin 2.0.0 reads only person_token_jti (M1)
            dev=True,
        )
        holder.append(resource)
        world = MockinWorld(mockin, resource, ps_jwks)
        world.trust(None)  # the AP only, NOT our resource
        trusted = mockin.json_call("GET", "/mock/aauth")["trusted_servers"]
        assert set(trusted) == {PROVIDER.issuer}
        auth = AAuth(world.agent(dev=True))
        with httpx.Client(transport=network, auth=auth, timeout=HTTP_TIMEOUT) as client:
            answer = client.get(identifier + spec.path)

    assert answer.status_code == 200, answer.content
    call_url = identifier + spec.path
    metadata_url, jwks_url = f"{identifier}{METADATA_PATH}", f"{identifier}/jwks.json"
    # everything our server received, in order: the agent's call twice, mockin's discovery
    # while it held the agent's auth-token request, then the agent's call (or poll) again
    [first, second, metadata_get, jwks_get, last] = resource.requests
    assert world.statuses() == [*spec.challenges, 200, 200, 200]
    assert [(r.method, r.url) for r in (first, second, metadata_get, jwks_get)] == [
        ("GET", call_url),
        ("GET", call_url),
        ("GET", metadata_url),
        ("GET", jwks_url),
    ]
    # mockin's fetches are plain, unsigned GETs; the agent's requests are signed
    assert metadata_get.header("signature") is None and jwks_get.header("signature") is None
    assert all(r.header("signature-key") for r in (first, second, last))
    # what our server published, as mockin read it
    document = json.loads(resource.responses[2].body)
    assert (document["issuer"], document["jwks_uri"]) == (identifier, jwks_url)
    served_jwks = json.loads(resource.responses[3].body)
    assert served_jwks == {"keys": [{**RESOURCE_KEY.public_jwk, "kid": RESOURCE_KID, "use": "sig"}]}

    # the agent's tokens at each step
    agent_jwt, person_jwt, auth_jwt = (_token_of(r) for r in (first, second, last))
    assert decode_jwt_unverified(agent_jwt)[0]["typ"] == "aa-agent+jwt"
    person = validate_person_token(
        person_jwt,
        ps_jwks,
        now=int(time.time()),
        audience=identifier,
        issuer=MOCKIN_ISSUER,
        allow_insecure_loopback_for_development=True,
    )

    # the resource token: in our server's challenge, signed with the key it serves, its
    # jti from the server's generator; and exactly what the agent took to mockin
    challenge = resource.responses[1]
    if spec.challenges[1] == 202:
        # the call is held behind Location (relative, on our origin); the agent polls it
        last_url = urljoin(call_url, challenge.header("location") or "")
        assert last_url.startswith(identifier + "/") and last_url != call_url
        assert json.loads(challenge.body)["status"] == "pending"
    else:
        last_url = call_url
    assert (last.method, last.url) == ("GET", last_url)
    requirement = parse_aauth_requirement(challenge.header("aauth-requirement") or "")
    assert isinstance(requirement, AuthTokenRequired)
    resource_token = requirement.resource_token
    claims = validate_resource_token(
        resource_token,
        served_jwks,
        now=int(time.time()),
        audience=MOCKIN_ISSUER,
        issuer=identifier,
        ps=MOCKIN_ISSUER,
        subject=person.sub,
        allow_insecure_loopback_for_development=True,
    )
    assert claims.agent_jkt == AGENT_KEY.thumbprint
    assert claims.scope == "data.read"
    raw = decode_jwt_unverified(resource_token)[1]
    assert raw["jti"].startswith("served-rt-0001-")
    assert raw["presented_jti"] == raw["person_token_jti"] == person.jti
    # everything the agent sent, in order, over real sockets: our server's challenge
    # answered at mockin each time; the auth-token request carried our server's token
    ps = mockin.base_url
    assert [(method, url) for method, url, _ in network.sent] == [
        ("GET", call_url),
        ("GET", f"{ps}/.well-known/aauth-person.json"),
        ("POST", f"{ps}/aauth/token/person"),
        ("GET", call_url),
        ("POST", f"{ps}/aauth/token/auth"),
        ("GET", last_url),
    ]
    assert json.loads(network.sent[2][2])["resource"] == identifier
    assert json.loads(network.sent[4][2])["resource_token"] == resource_token

    # mockin's auth token, verified by our server: what the app saw
    auth_token = validate_auth_token(
        auth_jwt,
        ps_jwks,
        now=int(time.time()),
        audience=identifier,
        issuer=MOCKIN_ISSUER,
        ps=MOCKIN_ISSUER,
        subject=person.sub,
        allow_insecure_loopback_for_development=True,
    )
    assert auth_token.cnf_thumbprint == AGENT_KEY.thumbprint
    # the app ran once, with the original request (for 202: the held call, query and all)
    [app_call] = resource.calls
    assert app_call.request.url == call_url
    who = identity_facts(app_call.identity)
    assert who == {
        "mode": "auth-token",
        "token_type": "aa-auth+jwt",
        "thumbprint": AGENT_KEY.thumbprint,
        "agent": None,
        "ps": MOCKIN_ISSUER,
        "sub": person.sub,
        "scope": "data.read",
        "iss": MOCKIN_ISSUER,
    }
    answered = json.loads(answer.content)
    assert answered["identity"] == who
    assert answered["query"] == urlsplit(call_url).query
    # our server discovered mockin's metadata and JWKS once, over loopback
    assert [url for url, _ in resource.upstreams.log] == MOCKIN_DOCUMENTS


def test_an_identity_scope_is_granted_by_mockins_claims(world: MockinWorld) -> None:
    """Divergence M2: mockin grants identity scopes (``email``, ``profile``, ``openid`` …) as
    OIDC claims and removes them from ``scope`` (AAuth -11 lists OIDC claims "when identity
    scopes were granted" and leaves ``scope`` OPTIONAL). Our resource counts an identity
    scope as granted when the auth token carries its claims, so the route requiring
    ``data.read email`` is satisfied by mockin's ``scope: data.read`` plus ``email``."""
    world.trust(world.resource.documents())
    [answer] = world.get("/profile/me")
    assert answer.status_code == 200, answer.content
    assert world.statuses() == [401, 401, 200]
    # the resource token asked for both scopes
    assert {c["scope"] for c in _resource_token_claims(world)} == {"data.read email"}
    # mockin's auth token: email dropped from scope, granted as claims
    auth = decode_jwt_unverified(_token_of(world.resource.requests[-1]))[1]
    assert auth["scope"] == "data.read"
    assert auth["email"] and auth["email_verified"] is True
    assert len(world.resource.calls) == 1


def test_deferred_three_party_flow_with_mockin(server_world: MockinWorld) -> None:
    """The ``202`` form: our server holds the call behind ``Location`` with the resource
    token for mockin; the agent gets mockin's auth token and polls; the first poll runs the
    HELD call."""
    world = server_world
    world.trust(world.resource.documents())
    [answer] = world.get("/deferred/data?page=2")

    assert answer.status_code == 200, answer.content
    assert world.statuses() == [401, 202, 200]
    pending = world.resource.responses[1]
    assert (pending.header("aauth-requirement") or "").startswith("requirement=auth-token;")
    location = urljoin(f"{RESOURCE}/deferred/data", pending.header("location") or "")
    assert location.startswith(RESOURCE + "/") and location != f"{RESOURCE}/deferred/data"
    assert json.loads(pending.body)["status"] == "pending"
    # the poll went to Location, signed with mockin's auth token
    poll = world.resource.requests[2]
    assert (poll.method, poll.url) == ("GET", location)
    assert decode_jwt_unverified(_token_of(poll))[0]["typ"] == "aa-auth+jwt"
    # the app ran once, with the held request
    [call] = world.resource.calls
    assert call.request.url == f"{RESOURCE}/deferred/data?page=2"
    assert call.identity is not None and call.identity.scope == "data.read"
    assert json.loads(answer.content)["query"] == "page=2"
    [claims] = _resource_token_claims(world)
    assert claims["aud"] == MOCKIN_ISSUER and "person_token_jti" in claims
