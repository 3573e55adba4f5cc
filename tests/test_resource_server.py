"""The sans-IO resource server (issue 5): the exchange protocol (fetch, respond, call the
app), metadata and JWKS, public paths, and our agent engine completing each access mode
against it in memory.

The harness here (:class:`ServerWorld`, :func:`drive`, :func:`run_agent`) is shared by the
other ``test_resource_server_*`` modules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from aauth.agent import (
    Agent,
    Deliver,
    Event,
    Fail,
    InteractionStarted,
    PromptInteraction,
    Purpose,
    ResponseReceived,
    SendRequest,
    Sleep,
    SleepCompleted,
    StaticAgentCredentials,
)
from aauth.discovery import DiscoveryCache, EgressPolicy, FetchPurpose
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import EcP256Key, Ed25519Key
from aauth.metadata import parse_resource_metadata
from aauth.resource import (
    AccessMode,
    CallApp,
    Exchange,
    Fetch,
    NeedFetch,
    ResourcePolicy,
    ResourceServer,
    ResourceVerifier,
    Respond,
    Verified,
)
from aauth.signing import sign_request
from tests.fakes import T0, FakeAgentProvider, FakeClock, FakePersonServer
from tests.fakes._common import origin_of, path_of

RESOURCE = "https://resource.example"


def default_policies() -> dict[str, ResourcePolicy]:
    return {
        "/agent": ResourcePolicy(mode=AccessMode.AGENT_TOKEN),
        "/person": ResourcePolicy(mode=AccessMode.PERSON_TOKEN),
        "/auth": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read"),
        "/admin": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read data.write"),
        "/strict": ResourcePolicy(extra_components=("@query",)),
        "/es256": ResourcePolicy(algorithms=("ES256",)),
    }


class Secrets:
    """Deterministic stand-in for ``secrets.token_urlsafe`` (distinct, URL-safe)."""

    def __init__(self, name: str = "s") -> None:
        self._n = count(1)
        self._name = name
        self.issued: list[str] = []

    def __call__(self) -> str:
        digest = hashlib.sha256(f"{self._name}:{next(self._n)}".encode()).hexdigest()[:32]
        self.issued.append(digest)
        return digest


@dataclass
class AppCall:
    request: HttpRequest
    identity: Verified | None


@dataclass
class ServerWorld:
    """An AP, a PS, and our ResourceServer at :data:`RESOURCE` with an echo app."""

    policies: dict[str, ResourcePolicy] = field(default_factory=default_policies)
    server_options: dict[str, Any] = field(default_factory=dict)
    verifier_options: dict[str, Any] = field(default_factory=dict)
    clock: FakeClock = field(default_factory=lambda: FakeClock(T0))
    ap: FakeAgentProvider = field(default_factory=FakeAgentProvider)
    secrets: Secrets = field(default_factory=Secrets)
    calls: list[AppCall] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)
    fetch_failures: set[str] = field(default_factory=set)
    app_status: int = 200
    egress: EgressPolicy | None = None

    def __post_init__(self) -> None:
        self.ps = FakePersonServer(agent_providers=[self.ap])
        self.resource_key = Ed25519Key.from_seed(hashlib.sha256(b"resource").digest())
        self.cache = DiscoveryCache() if self.egress is None else DiscoveryCache(egress=self.egress)
        self.verifier = ResourceVerifier(
            RESOURCE,
            self.resource_key,
            "resource-key-1",
            self.policies,
            self.cache,
            **self.verifier_options,
        )
        self.server = ResourceServer(self.verifier, new_secret=self.secrets, **self.server_options)
        self.ps.trust_resource(self)
        self.agent_key = self.ap.agent_key()
        self.handlers: dict[str, Callable[[HttpRequest, int], HttpResponse]] = {
            self.ap.issuer: self.ap.handle,
            self.ps.issuer: self.ps.handle,
            RESOURCE: self.handle,
        }

    # the PS's view of the resource (trust_resource reads these)
    @property
    def issuer(self) -> str:
        return RESOURCE

    @property
    def jwks(self) -> dict[str, Any]:
        response = self.handle(HttpRequest("GET", RESOURCE + "/jwks.json"), self.clock())
        value = json.loads(response.body)
        assert isinstance(value, dict)
        return value

    def now(self) -> int:
        return self.clock.now()

    def app(self, request: HttpRequest, identity: Verified | None) -> HttpResponse:
        self.calls.append(AppCall(request, identity))
        body = {
            "call": len(self.calls),
            "method": request.method,
            "path": path_of(request.url),
            "body": request.body.decode("utf-8", "replace"),
            "as": None if identity is None else identity.token_type,
            "agent": None if identity is None else identity.agent,
            "sub": None if identity is None else identity.sub,
            "scope": None if identity is None else identity.scope,
            "session": None if identity is None else identity.session_token,
        }
        return HttpResponse(
            self.app_status, [("Content-Type", "application/json")], json.dumps(body).encode()
        )

    def serve_fetch(self, action: Fetch, exchange: Exchange, now: int) -> Any:
        self.fetches.append(action)
        if action.url in self.fetch_failures:
            return exchange.fetch_failed(action.url, now=now, reason="injected")
        handler = self.handlers.get(origin_of(action.dial_url))
        assert handler is not None, action.dial_url
        answer = handler(HttpRequest("GET", action.dial_url), now)
        return exchange.fetched(action.url, answer.status, answer.headers, answer.body, now=now)

    def handle(self, request: HttpRequest, now: int) -> HttpResponse:
        """What a binding does: drive the exchange to its response."""
        exchange = self.server.receive(request, now)
        return drive(self, exchange, now)


def drive(world: ServerWorld, exchange: Exchange, now: int) -> HttpResponse:
    action = exchange.next_action()
    for _ in range(20):
        if isinstance(action, Fetch):
            action = world.serve_fetch(action, exchange, now)
        elif isinstance(action, Respond):
            assert exchange.done
            return action.response
        else:
            assert isinstance(action, CallApp)
            response = world.app(action.request, action.identity)
            if not action.capture:
                assert exchange.done
                return response.with_headers(action.add_headers)
            action = exchange.app_responded(response, now=now)
    raise AssertionError("the exchange did not finish")


def signed(
    world: ServerWorld,
    token: str,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
    key: Ed25519Key | EcP256Key | None = None,
    created: int | None = None,
    components: tuple[str, ...] | None = None,
) -> HttpRequest:
    request = HttpRequest(method, RESOURCE + path, headers, body)
    return sign_request(
        request,
        key or world.agent_key,
        signature_key=token,
        created=world.now() if created is None else created,
        components=components,
    )


# --------------------------------------------------------------------------- agent driver


@dataclass
class AgentRun:
    final: Deliver | Fail
    purposes: list[Purpose] = field(default_factory=list)
    prompts: list[PromptInteraction] = field(default_factory=list)

    @property
    def response(self) -> HttpResponse:
        assert isinstance(self.final, Deliver), self.final
        return self.final.response

    @property
    def body(self) -> dict[str, Any]:
        value = json.loads(self.response.body)
        assert isinstance(value, dict)
        return value


def make_agent(world: ServerWorld) -> Agent:
    token = world.ap.mint(world.agent_key, now=world.now())
    credentials = StaticAgentCredentials(world.agent_key, token)
    return Agent(credentials, capabilities=("interaction",))


def run_agent(
    world: ServerWorld,
    agent: Agent,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
    on_interaction: Callable[[PromptInteraction], object] | None = None,
) -> AgentRun:
    """Our agent engine against the fakes and our server, in memory, on the fake clock."""
    clock = world.clock
    flow = agent.start(HttpRequest(method, RESOURCE + path, headers, body), now=clock())
    action = flow.next(now=clock())
    run = AgentRun(final=Fail(error=AssertionError("unfinished")))  # type: ignore[arg-type]
    for _ in range(200):
        event: Event
        if isinstance(action, SendRequest):
            run.purposes.append(action.purpose)
            handler = world.handlers[origin_of(action.request.url)]
            event = ResponseReceived(response=handler(action.request, clock()))
        elif isinstance(action, Sleep):
            clock.sleep(action.seconds)
            event = SleepCompleted()
        elif isinstance(action, PromptInteraction):
            run.prompts.append(action)
            if on_interaction is not None:
                on_interaction(action)
            event = InteractionStarted()
        else:
            assert isinstance(action, (Deliver, Fail)), action
            run.final = action
            return run
        action = flow.handle(event, now=clock())
    raise AssertionError("the agent flow did not finish")


@pytest.fixture
def world() -> Iterator[ServerWorld]:
    yield ServerWorld()


# --------------------------------------------------------------------------- construction


def test_constructor_refuses_bad_options(world: ServerWorld) -> None:
    v = world.verifier
    bad: list[dict[str, Any]] = [
        {"fetch_timeout": 0},
        {"fetch_timeout": True},
        {"fetch_max_bytes": 0},
        {"max_fetches": 0},
        {"metadata_max_age": -1},
        {"public_paths": ("nope",)},
        {"jwks_path": "jwks.json"},
    ]
    for options in bad:
        with pytest.raises(LocalError):
            ResourceServer(v, new_secret=world.secrets, **options)
    with pytest.raises(LocalError):
        ResourceServer(object(), new_secret=world.secrets)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        ResourceServer(v, new_secret="not callable")  # type: ignore[arg-type]


def test_the_verifier_keeps_its_own_jti_source() -> None:
    jtis = Secrets("jti")
    world = ServerWorld(verifier_options={"new_jti": jtis})
    assert world.verifier.new_jti is jtis
    bare = ServerWorld()
    assert bare.verifier.new_jti is bare.secrets


def test_receive_checks_its_arguments(world: ServerWorld) -> None:
    with pytest.raises(LocalError):
        world.server.receive("GET /", T0)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        world.server.receive(HttpRequest("GET", RESOURCE + "/agent"), 1.5)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        world.server.receive(HttpRequest("GET", RESOURCE + "/agent"), True)


# --------------------------------------------------------------------------- metadata, JWKS


def test_metadata_document_is_served_and_parses(world: ServerWorld) -> None:
    response = world.handle(
        HttpRequest("GET", RESOURCE + "/.well-known/aauth-resource.json"), world.now()
    )
    assert response.status == 200
    assert response.header("cache-control") == "public, max-age=3600"
    doc = parse_resource_metadata(response.body, expected_issuer=RESOURCE)
    assert doc.jwks_uri == RESOURCE + "/jwks.json"
    assert doc.access_mode is None  # mixed modes: not declared
    assert doc.signature_window == 60
    assert doc.additional_signature_components is None
    assert doc.scope_descriptions is None
    assert world.calls == []


def test_metadata_options_and_derived_values() -> None:
    policies = {
        "/a": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN, scope="x", extra_components=("@query", "x-a")
        ),
        "/b": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN, scope="y", signature_window=30, extra_components=("@query",)
        ),
    }
    world = ServerWorld(policies=policies, server_options={"scope_descriptions": {"x": "Ex"}})
    doc = world.server.metadata
    assert doc.access_mode == "auth-token"
    assert doc.signature_window == 30
    assert doc.additional_signature_components == ("@query",)
    assert doc.scope_descriptions == {"x": "Ex"}
    explicit = ServerWorld(
        policies=policies,
        server_options={
            "access_mode": "session-token",
            "signature_window": 90,
            "additional_signature_components": ("content-digest",),
            "jwks_path": "/keys",
            "metadata_max_age": 60,
        },
    )
    doc = explicit.server.metadata
    assert (doc.access_mode, doc.signature_window, doc.jwks_uri) == (
        "session-token",
        90,
        RESOURCE + "/keys",
    )
    assert doc.additional_signature_components == ("content-digest",)
    keys = explicit.handle(HttpRequest("GET", RESOURCE + "/keys"), T0)
    assert keys.status == 200 and keys.header("cache-control") == "public, max-age=60"


def test_jwks_publishes_the_resource_token_key(world: ServerWorld) -> None:
    response = world.handle(HttpRequest("GET", RESOURCE + "/jwks.json"), world.now())
    assert response.status == 200
    assert response.header("content-type") == "application/jwk-set+json"
    (jwk,) = json.loads(response.body)["keys"]
    assert jwk["kid"] == "resource-key-1"
    assert jwk["alg"] == "Ed25519"
    assert jwk["x"] == world.resource_key.public_jwk["x"]
    assert "d" not in jwk


def test_well_known_refuses_unsafe_methods(world: ServerWorld) -> None:
    response = world.handle(HttpRequest("POST", RESOURCE + "/jwks.json"), world.now())
    assert response.status == 405 and response.header("allow") == "GET, HEAD"
    head = world.handle(HttpRequest("HEAD", RESOURCE + "/.well-known/aauth-resource.json"), T0)
    assert head.status == 200


# --------------------------------------------------------------------------- routing


def test_unknown_path_is_404_and_public_path_reaches_the_app() -> None:
    world = ServerWorld(server_options={"public_paths": ("/public", "/health")})
    assert world.handle(HttpRequest("GET", RESOURCE + "/nothing"), T0).status == 404
    response = world.handle(HttpRequest("GET", RESOURCE + "/public/page?x=1"), T0)
    assert response.status == 200
    assert json.loads(response.body)["as"] is None
    assert world.calls[-1].identity is None
    assert world.handle(HttpRequest("GET", "not a url"), T0).status == 404
    # a policy prefix wins over a public prefix
    both = ServerWorld(server_options={"public_paths": ("/",)})
    assert both.handle(HttpRequest("GET", RESOURCE + "/agent"), T0).status == 401
    assert both.handle(HttpRequest("GET", RESOURCE + "/elsewhere"), T0).status == 200


# --------------------------------------------------------------------------- the exchange


def test_agent_token_request_fetches_then_calls_the_app(world: ServerWorld) -> None:
    token = world.ap.mint(world.agent_key, now=T0)
    exchange = world.server.receive(signed(world, token, "/agent/hi"), T0)
    first = exchange.next_action()
    assert isinstance(first, Fetch)
    assert first.purpose is FetchPurpose.METADATA
    assert first.url == first.dial_url == "https://agent.example/.well-known/aauth-agent.json"
    assert (first.timeout, first.max_bytes) == (5.0, 262_144)
    assert first.accept == "application/json"
    assert exchange.next_action() is first  # stable until answered
    assert not exchange.done
    response = drive(world, exchange, T0)
    assert response.status == 200
    assert [f.purpose for f in world.fetches] == [FetchPurpose.METADATA, FetchPurpose.JWKS]
    assert world.fetches[1].accept.startswith("application/jwk-set+json")
    identity = world.calls[-1].identity
    assert identity is not None and identity.agent == world.ap.agent_id
    # the keys are cached now: the next request goes straight to the app
    again = world.server.receive(signed(world, token, "/agent/again"), T0)
    assert isinstance(again.next_action(), CallApp)


def test_out_of_order_calls_raise_local_error(world: ServerWorld) -> None:
    token = world.ap.mint(world.agent_key, now=T0)
    exchange = world.server.receive(signed(world, token, "/agent"), T0)
    with pytest.raises(LocalError):
        exchange.app_responded(HttpResponse(200), now=T0)
    fetch = exchange.next_action()
    assert isinstance(fetch, Fetch)
    with pytest.raises(LocalError):
        exchange.fetched("https://elsewhere.example/x", 200, (), b"", now=T0)
    with pytest.raises(LocalError):
        exchange.fetch_failed(fetch.url, now=1.5)  # type: ignore[arg-type]
    drive(world, exchange, T0)
    with pytest.raises(LocalError):
        exchange.fetched(fetch.url, 200, (), b"", now=T0)
    with pytest.raises(LocalError):
        exchange.app_responded(HttpResponse(200), now=T0)
    unsigned = world.server.receive(HttpRequest("GET", RESOURCE + "/agent"), T0)
    assert isinstance(unsigned.next_action(), Respond)
    with pytest.raises(LocalError):
        unsigned.fetch_failed("x", now=T0)


def test_failed_fetch_ends_in_unknown_key(world: ServerWorld) -> None:
    world.fetch_failures.add("https://agent.example/.well-known/aauth-agent.json")
    token = world.ap.mint(world.agent_key, now=T0)
    response = world.handle(signed(world, token, "/agent"), T0)
    assert response.status == 401
    assert response.header("signature-error") is not None
    assert "unknown_key" in (response.header("signature-error") or "")
    assert world.calls == []


def test_transport_map_sets_the_dial_url() -> None:
    world = ServerWorld(
        server_options={
            "transport_map": {"https://agent.example": "http://127.0.0.1:9"},
            "egress": EgressPolicy(allow_insecure_loopback_for_development=True),
            "fetch_timeout": 2,
            "fetch_max_bytes": 1000,
        }
    )
    token = world.ap.mint(world.agent_key, now=T0)
    action = world.server.receive(signed(world, token, "/agent"), T0).next_action()
    assert isinstance(action, Fetch)
    assert action.url == "https://agent.example/.well-known/aauth-agent.json"
    assert action.dial_url == "http://127.0.0.1:9/.well-known/aauth-agent.json"
    assert action.egress.allow_insecure_loopback_for_development
    assert (action.timeout, action.max_bytes) == (2.0, 1000)
    assert world.server.dial_url("https://ps.example/x") == "https://ps.example/x"


def test_pending_fetch_is_fetched_again_and_the_duplicate_answer_is_taken(
    world: ServerWorld,
) -> None:
    token = world.ap.mint(world.agent_key, now=T0)
    first = world.server.receive(signed(world, token, "/agent/1"), T0)
    second = world.server.receive(signed(world, token, "/agent/2"), T0)
    a, b = first.next_action(), second.next_action()
    assert isinstance(a, Fetch) and isinstance(b, Fetch) and a.url == b.url
    # the verifier told the second one the fetch was already in flight
    outcome = world.verifier.check(signed(world, token, "/agent/3"), T0)
    assert isinstance(outcome, NeedFetch) and outcome.pending
    # both answer; the cache accepts the second (duplicate) answer too
    assert drive(world, first, T0).status == 200
    assert drive(world, second, T0).status == 200
    assert len(world.calls) == 2


def test_discovery_that_never_settles_gives_up() -> None:
    world = ServerWorld(server_options={"max_fetches": 1})
    token = world.ap.mint(world.agent_key, now=T0)
    response = world.handle(signed(world, token, "/agent"), T0)
    assert response.status == 401
    assert "unknown_key" in (response.header("signature-error") or "")


def test_capture_app_responded_checks_the_response(world: ServerWorld) -> None:
    # app_responded with a non-response is caller misuse (reached through a held call
    # in the deferred tests; here only the type check before any state change)
    exchange = world.server.receive(HttpRequest("GET", RESOURCE + "/agent"), T0)
    with pytest.raises(LocalError):
        exchange.app_responded("nope", now=T0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- agent engine


def test_agent_completes_agent_token_mode(world: ServerWorld) -> None:
    run = run_agent(world, make_agent(world), "/agent/hello")
    assert run.purposes == [Purpose.RESOURCE]
    assert run.body["as"] == "aa-agent+jwt"


def test_agent_completes_person_token_mode(world: ServerWorld) -> None:
    agent = make_agent(world)
    run = run_agent(world, agent, "/person/me")
    assert run.purposes == [
        Purpose.RESOURCE,
        Purpose.PS_METADATA,
        Purpose.PERSON_TOKEN,
        Purpose.RESOURCE,
    ]
    assert run.body["as"] == "aa-person+jwt"
    assert run_agent(world, agent, "/person/again").purposes == [Purpose.RESOURCE]


def test_agent_completes_auth_token_mode(world: ServerWorld) -> None:
    agent = make_agent(world)
    run = run_agent(
        world,
        agent,
        "/auth/items",
        method="POST",
        body=b"{}",
        headers=(("Content-Type", "application/json"),),
    )
    assert run.purposes == [
        Purpose.RESOURCE,
        Purpose.PS_METADATA,
        Purpose.PERSON_TOKEN,
        Purpose.RESOURCE,
        Purpose.AUTH_TOKEN,
        Purpose.RESOURCE,
    ]
    assert run.body["as"] == "aa-auth+jwt" and run.body["scope"] == "data.read"
    assert run_agent(world, agent, "/auth/items").purposes == [Purpose.RESOURCE]


def test_agent_switches_algorithm_and_covers_query(world: ServerWorld) -> None:
    run = run_agent(world, make_agent(world), "/strict/x?q=1")
    assert run.response.status == 200
    assert run.purposes == [Purpose.RESOURCE, Purpose.RESOURCE]


# --------------------------------------------------------------------------- replay


def test_identical_safe_requests_are_not_replays_but_posts_are(world: ServerWorld) -> None:
    token = world.ap.mint(world.agent_key, now=T0)
    get = signed(world, token, "/agent/same")
    assert world.handle(get, T0).status == 200
    assert world.handle(get, T0).status == 200  # byte-identical GET in the same second
    post = signed(
        world,
        token,
        "/agent/same",
        method="POST",
        body=b"{}",
        headers=(("Content-Type", "application/json"),),
    )
    assert world.handle(post, T0).status == 200
    replay = world.handle(post, T0 + 1)
    assert replay.status == 401 and "invalid_signature" in (replay.header("signature-error") or "")
    assert len(world.calls) == 3


def test_strict_replay_of_safe_methods_on_request() -> None:
    world = ServerWorld(verifier_options={"replay_safe_methods": True})
    token = world.ap.mint(world.agent_key, now=T0)
    get = signed(world, token, "/agent/same")
    assert world.handle(get, T0).status == 200
    assert world.handle(get, T0).status == 401


# --------------------------------------------------------------------------- the docs


DOC = Path(__file__).resolve().parents[1] / "docs" / "resource-engine.md"


def _documented_handle(server: ResourceServer) -> Callable[..., HttpResponse]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    (loop,) = [b for b in blocks if "def handle(" in b]
    namespace: dict[str, Any] = {"Fetch": Fetch, "Respond": Respond, "server": server}
    exec(compile(loop, str(DOC), "exec"), namespace)
    handle: Callable[..., HttpResponse] = namespace["handle"]
    return handle


def test_the_documented_binding_loop_runs(world: ServerWorld) -> None:
    handle = _documented_handle(world.server)
    failing: set[str] = set()

    def http_get(action: Fetch) -> tuple[int, Any, bytes]:
        if action.url in failing:
            raise TimeoutError("injected")
        answer = world.handlers[origin_of(action.dial_url)](
            HttpRequest("GET", action.dial_url), world.now()
        )
        return answer.status, answer.headers, answer.body

    token = world.ap.mint(world.agent_key, now=T0)
    response = handle(signed(world, token, "/agent/doc"), world.app, http_get, world.clock)
    assert response.status == 200 and json.loads(response.body)["path"] == "/agent/doc"
    # the capture branch: a deferred call run on its poll
    deferred = ServerWorld(
        policies={
            "/d": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read", deferred=True)
        }
    )
    handle = _documented_handle(deferred.server)
    agent = make_agent(deferred)
    deferred.handlers[RESOURCE] = lambda request, now: handle(
        request, deferred.app, http_get, deferred.clock
    )
    world.handlers = deferred.handlers
    run = run_agent(deferred, agent, "/d/report")
    assert run.response.status == 200 and len(deferred.calls) == 1
    # a failed fetch
    other = ServerWorld()
    handle = _documented_handle(other.server)
    failing.add("https://agent.example/.well-known/aauth-agent.json")
    world.handlers = other.handlers
    token = other.ap.mint(other.agent_key, now=T0)
    refused = handle(signed(other, token, "/agent"), other.app, http_get, other.clock)
    assert refused.status == 401


# --------------------------------------------------------------------------- authority


def test_a_request_for_another_authority_is_misdirected(world: ServerWorld) -> None:
    token = world.ap.mint(world.agent_key, now=T0)
    elsewhere = sign_request(
        HttpRequest("GET", "https://other.example/agent"),
        world.agent_key,
        signature_key=token,
        created=T0,
    )
    response = world.handle(elsewhere, T0)
    assert response.status == 421 and response.header("signature-error") is None
    assert world.fetches == [] and world.calls == []
    # the default port and the case of the host do not matter (RFC 9421 §2.2.3)
    for url in ("https://resource.example:443/agent", "https://RESOURCE.example/agent"):
        request = sign_request(
            HttpRequest("GET", url), world.agent_key, signature_key=token, created=T0
        )
        assert world.handle(request, T0).status == 200


def test_extra_and_loopback_authorities() -> None:
    extra = ServerWorld(verifier_options={"authorities": ("API.example:8443", "alias.example:443")})
    assert extra.verifier.authorities == {"resource.example", "api.example:8443", "alias.example"}
    token = extra.ap.mint(extra.agent_key, now=T0)
    for url, status in (
        ("https://api.example:8443/agent", 200),
        ("https://alias.example/agent", 200),
        ("http://127.0.0.1:9999/agent", 421),
    ):
        request = sign_request(
            HttpRequest("GET", url), extra.agent_key, signature_key=token, created=T0
        )
        assert extra.handle(request, T0).status == status, url
    dev = ServerWorld(egress=EgressPolicy(allow_insecure_loopback_for_development=True))
    for url in ("http://127.0.0.1:9999/agent", "http://localhost/agent", "http://[::1]:1/agent"):
        request = sign_request(
            HttpRequest("GET", url), dev.agent_key, signature_key=token, created=T0
        )
        assert dev.handle(request, T0).status == 200, url
    with pytest.raises(LocalError):
        ServerWorld(verifier_options={"authorities": ("",)})
    with pytest.raises(LocalError):
        ResourceVerifier("not a url", dev.resource_key, "k", default_policies(), DiscoveryCache())


def test_a_malleated_ecdsa_replay_is_still_a_replay() -> None:
    world = ServerWorld()
    key = EcP256Key.from_private_value(12345678901234567890)
    token = world.ap.mint(key, now=T0)
    post = signed(
        world,
        token,
        "/agent",
        method="POST",
        body=b"{}",
        headers=(("Content-Type", "application/json"),),
        key=key,
    )
    assert world.handle(post, T0).status == 200
    label, value = post.header("signature").split("=", 1)  # type: ignore[union-attr]
    raw = base64.b64decode(value.strip(":"))
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    s = int.from_bytes(raw[32:], "big")
    twin = raw[:32] + (n - s).to_bytes(32, "big")
    replay = post.without_headers(["Signature"]).with_headers(
        [("Signature", f"{label}=:{base64.b64encode(twin).decode()}:")]
    )
    answer = world.handle(replay, T0)
    assert answer.status == 401 and "invalid_signature" in (answer.header("signature-error") or "")
    assert len(world.calls) == 1
