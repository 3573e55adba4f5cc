"""Shared setup for running OUR agent engine, through each driver, against
``@hellocoop/mockin`` as the Person Server (``test_agent_mockin.py``).

The cast, all on 127.0.0.1 and all on the real clock (mockin checks ``created`` and token times
against its own):

* mockin (``https://ps.example``): the agent's Person Server; person and auth tokens, ``202``
  interaction / approval / clarification.
* a :class:`~tests.fakes.FakeResource` (``https://resource.example``) served with
  :func:`~tests.fakes.serve`: it trusts mockin's JWKS (fetched from mockin after start) for
  person and auth tokens and emits ``person_token_jti`` next to ``presented_jti`` in its
  resource tokens (mockin 2.0.0 reads only the old name).
* a :class:`~tests.fakes.FakeAgentProvider` (``https://agent.example``), not served: mockin gets
  its metadata and JWKS through ``PUT /mock/aauth`` ``trusted_servers`` (with the resource's),
  the resource gets its JWKS directly.

The agent's ``transport_map`` maps mockin's and the resource's https identifiers to their
loopback origins; every identifier, token claim and URL mockin publishes stays https.

:class:`DriverUnderTest` runs an async flow against one driver (httpx ``Client`` and
``AsyncClient``, the aiohttp middleware, the trio client), each built the way its own tests
build it; :data:`DRIVERS` lists them.

Test support code: it does IO (sockets, the clock).
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import aiohttp
import anyio
import httpx
from multidict import CIMultiDict

from aauth import HttpResponse, decode_jwt_unverified
from aauth.agent import (
    Agent,
    AgentLimits,
    PromptClarification,
    PromptInteraction,
    StaticAgentCredentials,
)
from aauth.keys import Ed25519Key
from aauth.metadata import parse_person_metadata, serialize_metadata
from aauth_aiohttp import AAuthClientMiddleware
from aauth_httpx import AAuth
from aauth_trio import AAuthClient, Timeouts
from tests.drivers.harness import CALL_TIMEOUT, HarnessResponse
from tests.fakes import FakeAgentProvider, FakeResource, Route, TransportMap, serve

from .harness import Mockin

__all__ = [
    "DRIVERS",
    "AgentCall",
    "ClarificationCallback",
    "DriverUnderTest",
    "Flow",
    "InteractionCallback",
    "MockinWorld",
    "Sleeper",
    "mockin_world",
]

RESOURCE: Final = "https://resource.example"
#: The resource's routes here: one per access mode mockin can serve.
ROUTES: Final = {
    "/person": Route("person-token"),
    "/auth": Route("auth-token", scope="data.read"),
    "/deferred": Route("auth-token", scope="data.read", deferred=True),
}
#: One TLS context for every httpx client (everything here is plain http on loopback).
_TLS: Final = ssl.create_default_context()

InteractionCallback = Callable[[PromptInteraction], None]
ClarificationCallback = Callable[[PromptClarification], str | None]
#: An async sleep a driver may take instead of its own (only aiohttp accepts one).
Sleeper = Callable[[float], Coroutine[Any, Any, None]]


@dataclass
class MockinWorld:
    """mockin as the PS of an agent calling a fake resource (see the module docstring)."""

    mockin: Mockin
    provider: FakeAgentProvider
    resource: FakeResource
    agent_key: Ed25519Key
    transport_map: TransportMap
    #: mockin's JWKS (its signing key is made at process start).
    ps_jwks: dict[str, Any]
    #: Every interaction prompt the world's approver saw.
    prompts: list[PromptInteraction] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        """mockin's identifier (``https://ps.example``)."""
        return self.mockin.issuer

    def url(self, path: str) -> str:
        """The resource URL the application calls (https identifier)."""
        return f"{self.resource.issuer}{path}"

    def agent(
        self,
        *,
        capabilities: Iterable[str] = ("interaction", "clarification"),
        limits: AgentLimits | None = None,
    ) -> Agent:
        """A fresh agent (own caches) whose agent token names mockin as its ``ps``."""
        token = self.provider.mint(self.agent_key, now=int(time.time()))
        return Agent(
            StaticAgentCredentials(self.agent_key, token),
            capabilities=capabilities,
            limits=limits,
            transport_map=self.transport_map,
        )

    def open_user_url(self, prompt: PromptInteraction) -> HttpResponse:
        """What the person's browser does with the prompt: ``GET user_url`` at mockin (its
        ``/aauth/consent?code=…``, unsigned; mockin then marks the pending request approved).
        """
        return self.mockin.call("GET", prompt.user_url)

    def approve(self, prompt: PromptInteraction) -> None:
        """An ``on_interaction`` callback: the person approves at once."""
        self.prompts.append(prompt)
        answer = self.open_user_url(prompt)
        if answer.status != 200:
            raise AssertionError(f"mockin's consent page answered {answer.status}: {answer.body!r}")

    def resource_statuses(self) -> list[int]:
        """The status of each answer the resource gave, in order."""
        return [exchange.response.status for exchange in self.resource.log if exchange.response]

    def resource_token_claims(self) -> list[dict[str, Any]]:
        """The payload of every resource token the resource issued."""
        return [decode_jwt_unverified(token)[1] for token in self.resource.resource_tokens]


def _entity(metadata: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
    """One ``trusted_servers`` entry: mockin uses both as given (nothing fetched)."""
    return {"metadata": json.loads(metadata), "jwks": jwks}


@contextmanager
def mockin_world(mockin: Mockin, *, seed: int = 0) -> Iterator[MockinWorld]:
    """Serve a fake resource next to a (reset) mockin and make each trust the other; mockin
    also trusts the fake AP. The resource stops on exit."""
    metadata = parse_person_metadata(
        mockin.call("GET", "/.well-known/aauth-person.json").body,
        expected_issuer=mockin.issuer,
    )
    ps_jwks: dict[str, Any] = json.loads(mockin.call("GET", metadata.jwks_uri).body)
    provider = FakeAgentProvider(ps=mockin.issuer, seed=seed)
    resource = FakeResource(
        RESOURCE,
        agent_providers=[provider],
        person_servers={mockin.issuer: ps_jwks},
        seed=seed,
        routes=dict(ROUTES),
        emit_legacy_person_token_jti=True,
    )
    config = mockin.configure(
        trusted_servers={
            provider.issuer: _entity(serialize_metadata(provider.metadata), provider.jwks),
            resource.issuer: _entity(serialize_metadata(resource.metadata), resource.jwks),
        }
    )
    assert set(config["trusted_servers"]) == {provider.issuer, resource.issuer}
    with serve(resource.handle, time.time) as served:
        yield MockinWorld(
            mockin=mockin,
            provider=provider,
            resource=resource,
            agent_key=provider.agent_key(),
            transport_map=TransportMap(
                {mockin.issuer: mockin.base_url, resource.issuer: served.origin}
            ),
            ps_jwks=ps_jwks,
        )


# ------------------------------------------------------------------------------- drivers


class AgentCall(Protocol):
    """One client of a driver: the application's request through the agent."""

    async def __call__(
        self, method: str, url: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> HarnessResponse: ...


#: What a test runs with a client: the application's calls.
Flow = Callable[[AgentCall], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class DriverUnderTest:
    """One driver: how to build a client for an agent, and which event loop runs it."""

    name: str
    #: anyio backend the flow runs on (a sync driver blocks inside it).
    backend: str
    client: Callable[
        [Agent, InteractionCallback | None, ClarificationCallback | None, Sleeper | None],
        AbstractAsyncContextManager[AgentCall],
    ]
    #: Whether the driver takes an injected sleep (``sleep=``).
    takes_sleep: bool = False

    def run(
        self,
        agent: Agent,
        flow: Flow,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
        sleep: Sleeper | None = None,
    ) -> None:
        """Run ``flow`` with a client of this driver for ``agent`` (bounded: 30 s)."""
        if sleep is not None and not self.takes_sleep:
            raise ValueError(f"{self.name} takes no injected sleep")

        async def main() -> None:
            with anyio.fail_after(30):
                async with self.client(agent, on_interaction, on_clarification, sleep) as call:
                    await flow(call)

        anyio.run(main, backend=self.backend)

    def __str__(self) -> str:
        return self.name


def _from_httpx(response: httpx.Response) -> HarnessResponse:
    return HarnessResponse(
        response.status_code, tuple(response.headers.multi_items()), response.content
    )


@asynccontextmanager
async def _httpx_sync(
    agent: Agent,
    on_interaction: InteractionCallback | None,
    on_clarification: ClarificationCallback | None,
    sleep: Sleeper | None,
) -> AsyncIterator[AgentCall]:
    auth = AAuth(agent, on_interaction=on_interaction, on_clarification=on_clarification)
    with httpx.Client(verify=_TLS, auth=auth, timeout=CALL_TIMEOUT) as client:

        async def call(
            method: str, url: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
        ) -> HarnessResponse:
            return _from_httpx(client.request(method, url, headers=list(headers), content=body))

        yield call


@asynccontextmanager
async def _httpx_async(
    agent: Agent,
    on_interaction: InteractionCallback | None,
    on_clarification: ClarificationCallback | None,
    sleep: Sleeper | None,
) -> AsyncIterator[AgentCall]:
    auth = AAuth(agent, on_interaction=on_interaction, on_clarification=on_clarification)
    async with httpx.AsyncClient(verify=_TLS, auth=auth, timeout=CALL_TIMEOUT) as client:

        async def call(
            method: str, url: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
        ) -> HarnessResponse:
            response = await client.request(method, url, headers=list(headers), content=body)
            return _from_httpx(response)

        yield call


@asynccontextmanager
async def _aiohttp(
    agent: Agent,
    on_interaction: InteractionCallback | None,
    on_clarification: ClarificationCallback | None,
    sleep: Sleeper | None,
) -> AsyncIterator[AgentCall]:
    options: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
    middleware = AAuthClientMiddleware(
        agent, on_interaction=on_interaction, on_clarification=on_clarification, **options
    )
    timeout = aiohttp.ClientTimeout(total=30, sock_connect=CALL_TIMEOUT, sock_read=CALL_TIMEOUT)
    async with aiohttp.ClientSession(middlewares=(middleware,), timeout=timeout) as session:

        async def call(
            method: str, url: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
        ) -> HarnessResponse:
            async with session.request(
                method, url, headers=CIMultiDict(headers), data=body or None, allow_redirects=False
            ) as response:
                got = await response.read()
                pairs = tuple((str(name), value) for name, value in response.headers.items())
                return HarnessResponse(response.status, pairs, got)

        yield call


@asynccontextmanager
async def _trio(
    agent: Agent,
    on_interaction: InteractionCallback | None,
    on_clarification: ClarificationCallback | None,
    sleep: Sleeper | None,
) -> AsyncIterator[AgentCall]:
    bound = Timeouts(
        connect=CALL_TIMEOUT, write=CALL_TIMEOUT, read=CALL_TIMEOUT, exchange=CALL_TIMEOUT
    )
    if on_clarification is None:
        client = AAuthClient(agent, on_interaction=on_interaction, timeouts=bound)
    else:
        client = AAuthClient(
            agent, on_interaction=on_interaction, on_clarification=on_clarification, timeouts=bound
        )

    async def call(
        method: str, url: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> HarnessResponse:
        response = await client.request(method, url, headers=headers, body=body)
        return HarnessResponse(response.status, tuple(response.headers), response.body)

    yield call


#: Every driver, and for httpx both clients (the async one on both anyio backends).
DRIVERS: Final = (
    DriverUnderTest("httpx-sync", "asyncio", _httpx_sync),
    DriverUnderTest("httpx-async-asyncio", "asyncio", _httpx_async),
    DriverUnderTest("httpx-async-trio", "trio", _httpx_async),
    DriverUnderTest("aiohttp", "asyncio", _aiohttp, takes_sleep=True),
    DriverUnderTest("trio", "trio", _trio),
)
