"""The binding-neutral harness the shared resource scenarios run through (issue 5 "Bindings":
the agent from the agent issue completes every access mode against each binding over
127.0.0.1).

A binding test module implements :class:`ResourceBindingAdapter` (serve one
:class:`~aauth.resource.ResourceServer` in front of the shared echo app, on 127.0.0.1, in a
background thread) and runs every scenario of :data:`tests.bindings.scenarios.SCENARIOS`::

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
    def test_scenario(scenario: Scenario) -> None:
        scenario(MyAdapter())

The echo app each binding writes natively answers with :func:`echo_response` (or keeps its
count with :class:`EchoApp`): ``200`` JSON of the call as the app saw it, the identity the
binding handed it, and ``calls``, how many times the app ran.

:func:`binding_world` serves a Person Server, an Agent Provider, an Access Server and a rogue
Agent Provider (the fakes of :mod:`tests.fakes`) on 127.0.0.1, builds the
:class:`~aauth.resource.ResourceServer` of ``https://resource.example`` with one route per
mode (:data:`ROUTES`), has the adapter serve it, and builds agents (the sync httpx driver)
that reach every https identifier through their transport map.

Interface (stable; the binding test modules import it): :class:`ResourceBindingAdapter`,
:func:`echo_response`, :class:`EchoApp`, :data:`Clock`, :class:`MovableClock`,
:data:`CALL_TIMEOUT`, :data:`FETCH_TIMEOUT`, :data:`RESOURCE`, :data:`INTERACTION_URL`,
:data:`ROUTES` (:class:`Routes`), :class:`BindingWorld`, :func:`binding_world`,
:func:`build_server`, :func:`build_policies`, :func:`identity_facts`.

Server settings for every binding: development loopback egress, ``retry_after=0``,
``interaction_url``, ``public_paths=("/public",)``; a scenario adds its own
(``binding_world(adapter, server_options={...})``, e.g. ``session_rotate_after``).
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx

from aauth.agent import Agent, AgentLimits, PromptInteraction, StaticAgentCredentials
from aauth.discovery import DiscoveryCache, EgressPolicy
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import Ed25519Key
from aauth.resource import AccessMode, ResourcePolicy, ResourceServer, ResourceVerifier, Verified
from aauth_httpx import AAuth
from tests.fakes import FakeAccessServer, FakeAgentProvider, FakePersonServer, TransportMap, serve
from tests.fakes._common import jwks_of, seeded_key

__all__ = [
    "ACCESS_SERVER",
    "AGENT_PROVIDER",
    "CALL_TIMEOUT",
    "FETCH_TIMEOUT",
    "INTERACTION_URL",
    "PERSON_SERVER",
    "RESOURCE",
    "RESOURCE_KID",
    "ROGUE_AGENT_PROVIDER",
    "ROUTES",
    "BindingWorld",
    "Clock",
    "EchoApp",
    "MovableClock",
    "ResourceBindingAdapter",
    "Routes",
    "binding_world",
    "build_policies",
    "build_server",
    "echo_response",
    "identity_facts",
]

#: The resource every binding serves (``aud`` of person and auth tokens).
RESOURCE: Final = "https://resource.example"
RESOURCE_KID: Final = "resource-key-1"
AGENT_PROVIDER: Final = "https://agent.example"
PERSON_SERVER: Final = "https://ps.example"
ACCESS_SERVER: Final = "https://as.example"
#: Where the resource sends the user to approve a session (``requirement=interaction``).
INTERACTION_URL: Final = f"{RESOURCE}/interact"
#: An Agent Provider the resource does not trust (its tokens are refused).
ROGUE_AGENT_PROVIDER: Final = "https://rogue.example"

#: Seconds one HTTP exchange of a test client may take.
CALL_TIMEOUT: Final = 10.0
#: Seconds a binding's discovery fetch may take (given to the ResourceServer).
FETCH_TIMEOUT: Final = 5.0

#: A binding's clock: Unix seconds as a float.
Clock = Callable[[], float]

_TLS: Final = ssl.create_default_context()  # built once: loading the CA store is slow


class MovableClock:
    """``time.time()`` plus an offset a scenario can move (:meth:`advance`). Everything in a
    :class:`BindingWorld` (fakes, binding, agent) reads this one clock, so moving it keeps
    signatures, tokens and the server's records consistent."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        with self._lock:
            self._offset += seconds


# ------------------------------------------------------------------ the echo app


def identity_facts(identity: Verified | None) -> dict[str, Any] | None:
    """What the echo app reports of the identity a binding handed it (``None`` on a public
    path): mode, token type, the token's issuer, agent, PS, ``sub``, scope, thumbprint, and
    whether a session token was presented (never the token itself)."""
    if identity is None:
        return None
    return {
        "mode": str(identity.mode),
        "token_type": identity.token_type,
        "issuer": identity.token.iss,
        "agent": identity.agent,
        "ps": identity.ps,
        "sub": identity.sub,
        "scope": identity.scope,
        "thumbprint": identity.thumbprint,
        "session_token": identity.session_token is not None,
    }


def echo_response(  # noqa: PLR0917 - the shared signature every binding calls
    method: str,
    path: str,
    query: str,
    body: bytes,
    identity: Verified | None,
    calls: int,
) -> HttpResponse:
    """The shared echo app's answer: ``200`` JSON ``{"calls", "method", "path", "query",
    "body", "identity"}`` (``body`` decoded as UTF-8 with replacement; ``identity`` from
    :func:`identity_facts`). ``calls``: how many times the app has run, this call included."""
    document = {
        "calls": calls,
        "method": method,
        "path": path,
        "query": query,
        "body": body.decode("utf-8", "replace"),
        "identity": identity_facts(identity),
    }
    data = json.dumps(document, separators=(",", ":")).encode()
    return HttpResponse(200, [("Content-Type", "application/json")], data)


class EchoApp:
    """The echo app with its call counter (thread-safe): a binding's native app calls
    :meth:`respond` (or :meth:`for_request`) once per run."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def respond(
        self, method: str, path: str, query: str, body: bytes, identity: Verified | None
    ) -> HttpResponse:
        """Count this run and answer with :func:`echo_response`."""
        with self._lock:
            self.calls += 1
            calls = self.calls
        return echo_response(method, path, query, body, identity, calls)

    def for_request(self, request: HttpRequest, identity: Verified | None) -> HttpResponse:
        """:meth:`respond` for a neutral request (path and query split from its URL)."""
        parts = urlsplit(request.url)
        return self.respond(request.method, parts.path or "/", parts.query, request.body, identity)


class ResourceBindingAdapter(Protocol):
    """How the scenarios reach one binding."""

    @property
    def name(self) -> str:
        """For test ids and messages (``reference``, ``asgi``, ``aiohttp``, ``trio``)."""
        ...

    def serve(self, server: ResourceServer, clock: Clock) -> AbstractContextManager[str]:
        """Serve the shared echo app behind this binding on 127.0.0.1 (in a background
        thread); yield its base URL ``http://127.0.0.1:PORT``. The binding reads time from
        ``clock`` (``now = int(clock())``), does the fetches the exchange asks for with
        timeouts and egress admission, and stops everything on exit."""
        ...


# ------------------------------------------------------------------ routes


@dataclass(frozen=True)
class Routes:
    """The resource's routes, one per mode (paths; a route also covers everything below)."""

    agent: str = "/agent"
    """``agent-token``."""
    person: str = "/person"
    """``person-token``."""
    auth: str = "/auth"
    """``auth-token`` (``401`` form), scope ``data.read``."""
    deferred: str = "/deferred"
    """``auth-token``, deferred ``202`` form, scope ``data.read``."""
    admin: str = "/admin"
    """``auth-token``, scope ``data.read data.write`` (step-up from :attr:`auth`)."""
    federated: str = "/federated"
    """``auth-token`` through the Access Server (four-party), scope ``data.read``."""
    session: str = "/session"
    """``session-token``, granted automatically on the first signed call."""
    interactive: str = "/interactive"
    """``session-token``, granted after a ``202 requirement=interaction`` the app approves."""
    strict: str = "/strict"
    """``agent-token``; the signature must also cover ``@query``."""
    upload: str = "/upload"
    """``agent-token``; the signature must also cover ``content-digest`` (POST with a body)."""
    public: str = "/public"
    """No policy: a public path (the app runs with no identity)."""


#: The paths of the resource's routes.
ROUTES: Final = Routes()


#: ResourcePolicy options a route of :data:`ROUTES` needs beyond the verifier's basics,
#: by route attribute (the engine may not have all yet: see :func:`build_policies`).
_ROUTE_OPTIONS: Final[dict[str, dict[str, Any]]] = {
    "deferred": {"deferred": True},
    "federated": {"access_server": ACCESS_SERVER},
    "interactive": {"session_interaction": True},
}


def _policy(options: dict[str, Any], missing: set[str]) -> ResourcePolicy:
    """``ResourcePolicy(**options)``, leaving out (and naming in ``missing``) the options this
    engine does not have, so the other routes still work and the scenario that needs the
    option fails saying why."""
    wanted = dict(options)
    while True:
        try:
            return ResourcePolicy(**wanted)
        except TypeError as exc:
            unknown = [name for name in wanted if f"'{name}'" in str(exc)]
            if not unknown:
                raise
            for name in unknown:
                missing.add(name)
                del wanted[name]


def build_policies() -> tuple[dict[str, ResourcePolicy], frozenset[str]]:
    """One :class:`ResourcePolicy` per route of :data:`ROUTES`, and the names of the
    policy options the engine lacks (their routes fall back to the plain mode)."""
    agents = frozenset({AGENT_PROVIDER})
    people = frozenset({PERSON_SERVER})
    agent = {"mode": AccessMode.AGENT_TOKEN, "agent_providers": agents}
    auth = {"mode": AccessMode.AUTH_TOKEN, "scope": "data.read", "person_servers": people}
    session = {"mode": AccessMode.SESSION_TOKEN, "agent_providers": agents}
    table: dict[str, dict[str, Any]] = {
        ROUTES.agent: agent,
        ROUTES.person: {"mode": AccessMode.PERSON_TOKEN, "person_servers": people},
        ROUTES.auth: auth,
        ROUTES.deferred: {**auth, **_ROUTE_OPTIONS["deferred"]},
        ROUTES.admin: {**auth, "scope": "data.read data.write"},
        ROUTES.federated: {**auth, **_ROUTE_OPTIONS["federated"]},
        ROUTES.session: session,
        ROUTES.interactive: {**session, **_ROUTE_OPTIONS["interactive"]},
        ROUTES.strict: {**agent, "extra_components": ("@query",)},
        ROUTES.upload: {**agent, "extra_components": ("content-digest",)},
    }
    missing: set[str] = set()
    policies = {path: _policy(options, missing) for path, options in table.items()}
    return policies, frozenset(missing)


# ------------------------------------------------------------------ the world


@dataclass
class BindingWorld:
    """The fakes, the resource server, the binding serving it, and agents to call it."""

    clock: MovableClock
    agent_provider: FakeAgentProvider
    rogue_provider: FakeAgentProvider
    person_server: FakePersonServer
    access_server: FakeAccessServer
    resource_key: Ed25519Key
    verifier: ResourceVerifier
    server: ResourceServer
    fakes_map: TransportMap
    """https identifier of each fake -> ``http://127.0.0.1:PORT`` (the server's map)."""
    base_url: str
    """The binding: ``http://127.0.0.1:PORT``."""
    agent_map: TransportMap
    """The fakes plus :data:`RESOURCE` -> :attr:`base_url` (the agents' map)."""
    missing_options: frozenset[str] = frozenset()
    """``ResourcePolicy`` options this engine lacks (see :meth:`require`)."""
    agents: list[Agent] = field(default_factory=list)

    def require(self, *options: str) -> None:
        """Fail now, saying so, when the engine lacks a policy option a scenario needs."""
        lacking = sorted(set(options) & self.missing_options)
        assert not lacking, f"the engine's ResourcePolicy has no option {', '.join(lacking)}"

    @property
    def resource_jwks(self) -> dict[str, Any]:
        """The resource's public JWKS (what its JWKS endpoint must serve)."""
        return jwks_of(self.resource_key, RESOURCE_KID)

    def url(self, path: str) -> str:
        """``https://resource.example{path}``: what the application asks the agent for."""
        return f"{RESOURCE}{path}"

    def dial_url(self, path: str) -> str:
        """``http://127.0.0.1:PORT{path}``: the binding itself (for unsigned requests)."""
        return f"{self.base_url}{path}"

    def agent(
        self,
        *,
        provider: FakeAgentProvider | None = None,
        limits: AgentLimits | None = None,
        key_name: str = "agent",
    ) -> Agent:
        """A fresh agent (its own caches) with a new agent token from ``provider`` (default
        the trusted AP) for the AP's agent key ``key_name``."""
        issuer = provider or self.agent_provider
        key = issuer.agent_key(key_name)
        token = issuer.mint(key, now=int(self.clock()), lifetime=3600)
        agent = Agent(
            StaticAgentCredentials(key, token),
            capabilities=("interaction", "clarification"),
            limits=limits or AgentLimits(max_steps=30, max_total_wait=20),
            transport_map=self.agent_map,
        )
        self.agents.append(agent)
        return agent

    @contextmanager
    def client(
        self,
        agent: Agent | None = None,
        *,
        on_interaction: Callable[[PromptInteraction], None] | None = None,
    ) -> Iterator[httpx.Client]:
        """An ``httpx.Client`` with the sync ``aauth_httpx.AAuth`` driver for ``agent``
        (default: a new :meth:`agent`), on this world's clock, bounded by
        :data:`CALL_TIMEOUT`, not following redirects."""
        chosen = agent or self.agent()
        auth = AAuth(chosen, on_interaction=on_interaction, clock=self.clock)
        with httpx.Client(
            verify=_TLS,
            auth=auth,
            timeout=CALL_TIMEOUT,
            max_redirects=chosen.limits.max_steps,
        ) as client:
            yield client

    @contextmanager
    def raw(self) -> Iterator[httpx.Client]:
        """A plain ``httpx.Client`` (no AAuth) for unsigned or hand-signed requests to
        :attr:`base_url`."""
        with httpx.Client(verify=_TLS, timeout=CALL_TIMEOUT) as client:
            yield client


def build_server(
    *,
    resource_key: Ed25519Key,
    transport_map: Mapping[str, str],
    new_secret: Callable[[], str] | None = None,
    **options: Any,
) -> tuple[ResourceVerifier, ResourceServer, frozenset[str]]:
    """The resource's verifier (routes of :data:`ROUTES`) and server, and the policy options
    the engine lacks. Server settings: development loopback egress, :data:`FETCH_TIMEOUT`,
    :data:`INTERACTION_URL`, ``retry_after=0``, ``public_paths`` :attr:`Routes.public`;
    ``options`` add to or override them."""
    policies, missing = build_policies()
    egress = EgressPolicy(allow_insecure_loopback_for_development=True)
    secret = new_secret or (lambda: secrets.token_urlsafe(24))
    verifier = ResourceVerifier(
        RESOURCE,
        resource_key,
        RESOURCE_KID,
        policies,
        DiscoveryCache(egress=egress),
        new_jti=secret,
    )
    settings: dict[str, Any] = {
        "transport_map": transport_map,
        "egress": egress,
        "fetch_timeout": FETCH_TIMEOUT,
        "interaction_url": INTERACTION_URL,
        "retry_after": 0,  # polls at once: the scenarios stay fast
        "public_paths": (ROUTES.public,),
        **options,
    }
    server = ResourceServer(verifier, new_secret=secret, **settings)
    return verifier, server, missing


@contextmanager
def binding_world(
    adapter: ResourceBindingAdapter,
    *,
    seed: int = 0,
    clock: MovableClock | None = None,
    server_options: Mapping[str, Any] | None = None,
) -> Iterator[BindingWorld]:
    """Serve the fakes (AP, rogue AP, PS federating with the AS, AS) on 127.0.0.1, build the
    resource server (``server_options`` go to ``ResourceServer``), serve it through
    ``adapter`` and yield the world. Everything stops on exit; an exception raised inside a
    fake fails the test."""
    moving = clock or MovableClock()
    resource_key = seeded_key(f"resource:{RESOURCE}", seed)
    resource_jwks = jwks_of(resource_key, RESOURCE_KID)
    provider = FakeAgentProvider(AGENT_PROVIDER, ps=PERSON_SERVER, seed=seed)
    rogue = FakeAgentProvider(ROGUE_AGENT_PROVIDER, ps=PERSON_SERVER, seed=seed + 1)
    person_server = FakePersonServer(
        PERSON_SERVER,
        agent_providers=[provider, rogue],
        resources={RESOURCE: resource_jwks},
        seed=seed,
    )
    access_server = FakeAccessServer(
        ACCESS_SERVER,
        person_servers=[person_server],
        agent_providers=[provider],
        resources={RESOURCE: resource_jwks},
        seed=seed,
    )
    person_server.federate_with(access_server)
    with ExitStack() as stack:
        fakes_map = TransportMap()
        for fake in (provider, rogue, person_server, access_server):
            served = stack.enter_context(serve(fake.handle, moving))
            fakes_map.add(fake.issuer, served.origin)
        verifier, server, missing = build_server(
            resource_key=resource_key,
            transport_map=fakes_map,
            **dict(server_options or {}),
        )
        base_url = stack.enter_context(adapter.serve(server, moving))
        agent_map = TransportMap(dict(fakes_map))
        agent_map.add(RESOURCE, base_url)
        yield BindingWorld(
            clock=moving,
            agent_provider=provider,
            rogue_provider=rogue,
            person_server=person_server,
            access_server=access_server,
            resource_key=resource_key,
            verifier=verifier,
            server=server,
            fakes_map=fakes_map,
            base_url=base_url,
            agent_map=agent_map,
            missing_options=missing,
        )
