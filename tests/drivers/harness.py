"""The driver-neutral harness the shared flow scenarios run through (issue 4 "Drivers").

A driver test implements :class:`DriverHarness` for its driver and runs every scenario of
:data:`tests.drivers.scenarios.SCENARIOS` with it::

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
    async def test_scenario(scenario: Scenario, anyio_backend: str) -> None:
        await scenario(MyHarness())

The scenarios are ``async`` so async drivers run them on their event loop; a sync driver's
:meth:`DriverClient.call` may simply block (the fakes answer from their own threads), and its
test runs the scenario with :func:`run_sync`.

:func:`live_world` serves the standard fakes (:func:`tests.fakes.make_world`) on 127.0.0.1 with
real time, and builds agents that dial them through the transport map while keeping the https
identifiers.

Interface (stable; other driver tests import it): :class:`HarnessResponse`,
:class:`DriverClient`, :class:`DriverHarness`, :data:`InteractionCallback`,
:data:`ClarificationCallback`, :data:`CALL_TIMEOUT`, :class:`LiveWorld`, :func:`live_world`,
:func:`run_sync`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

import anyio

from aauth.agent import (
    Agent,
    AgentLimits,
    PromptClarification,
    PromptInteraction,
    StaticAgentCredentials,
)
from tests.fakes import FakeWorld, Handler, ServedFake, TransportMap, make_world, serve

__all__ = [
    "CALL_TIMEOUT",
    "ClarificationCallback",
    "DriverClient",
    "DriverHarness",
    "HarnessResponse",
    "InteractionCallback",
    "LiveWorld",
    "live_world",
    "run_sync",
]

#: Seconds a harness lets one HTTP exchange take (connect, read) before the driver's stack
#: gives up: every wait in the driver tests is bounded.
CALL_TIMEOUT: Final = 10.0

#: What the application does with an interaction prompt (here: the test approves on the fake).
InteractionCallback = Callable[[PromptInteraction], None]
#: The application's answer to a clarification question; ``None`` declines it.
ClarificationCallback = Callable[[PromptClarification], str | None]


@dataclass(frozen=True)
class HarnessResponse:
    """What the application got back: status, header pairs as received, the whole body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), ``None`` if absent."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class DriverClient(Protocol):
    """One configured client of the driver under test (an ``httpx.Client`` with ``AAuth`` …)."""

    async def call(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HarnessResponse:
        """Send the application's request through the driver and read the whole answer.

        Raises what the driver raises: the engine's error for a failed flow
        (:class:`aauth.agent.AgentError` subclasses …), or one of
        :attr:`DriverHarness.transport_errors` when the network failed and the driver's
        stack reports that itself.
        """
        ...


class DriverHarness(Protocol):
    """How the scenarios reach one driver."""

    @property
    def name(self) -> str:
        """For test ids and messages (``httpx-sync``, ``aiohttp`` …)."""
        ...

    @property
    def transport_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions that mean "the connection failed" through this driver besides the
        engine's :class:`aauth.agent.TransportError` (``httpx.TransportError`` for httpx,
        whose auth flows never see send failures; ``()`` when the driver reports every
        failure to the engine)."""
        ...

    def client(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
    ) -> AbstractAsyncContextManager[DriverClient]:
        """A client of the driver for ``agent`` with the application's callbacks (sync
        callables; a driver that also takes async ones tests those itself). The client must
        bound every exchange by :data:`CALL_TIMEOUT` and must not follow redirects."""
        ...


@dataclass
class LiveWorld:
    """The standard fakes served on 127.0.0.1 (see :func:`live_world`)."""

    world: FakeWorld
    transport_map: TransportMap
    agents: list[Agent] = field(default_factory=list)

    @property
    def resource_issuer(self) -> str:
        """``https://resource.example``."""
        return self.world.resource.issuer

    def url(self, path: str) -> str:
        """The resource URL the application calls (its https identifier; the agent's
        transport map dials 127.0.0.1)."""
        return f"{self.world.resource.issuer}{path}"

    def agent(
        self,
        *,
        capabilities: Iterable[str] = ("interaction", "clarification"),
        limits: AgentLimits | None = None,
        token_lifetime: int = 3600,
    ) -> Agent:
        """A fresh agent (its own caches) with the world's agent key and a new agent token."""
        token = self.world.agent_provider.mint(
            self.world.agent_key, now=int(time.time()), lifetime=token_lifetime
        )
        agent = Agent(
            StaticAgentCredentials(self.world.agent_key, token),
            capabilities=capabilities,
            limits=limits,
            transport_map=self.transport_map,
        )
        self.agents.append(agent)
        return agent


def _close_all(servers: list[AbstractContextManager[ServedFake]]) -> None:
    """Leave every ``serve()`` context at once (each waits up to a poll interval to stop)."""
    errors: list[BaseException] = []

    def close(server: AbstractContextManager[ServedFake]) -> None:
        try:
            server.__exit__(None, None, None)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=close, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@contextmanager
def live_world(
    *,
    seed: int = 0,
    wrap: Mapping[str, Callable[[Handler], Handler]] | None = None,
) -> Iterator[LiveWorld]:
    """Serve the agent provider, person server and resource of a fresh
    :func:`~tests.fakes.make_world` on 127.0.0.1 with real time (``time.time``).

    :param wrap: ``{identifier: wrapper}``: serve ``wrapper(handle)`` instead of the fake's
        own ``handle`` (a scenario adds a route or a slow answer this way).

    On exit every server stops; an exception raised inside a fake fails the test.
    """
    world = make_world(seed=seed, start=int(time.time()))
    handlers: dict[str, Handler] = dict(world.handlers)
    for identifier, wrapper in (wrap or {}).items():
        handlers[identifier] = wrapper(handlers[identifier])
    servers: list[AbstractContextManager[ServedFake]] = []
    transport_map = TransportMap()
    try:
        for identifier, handler in handlers.items():
            server = serve(handler, time.time)
            served = server.__enter__()
            servers.append(server)
            transport_map.add(identifier, served.origin)
        yield LiveWorld(world=world, transport_map=transport_map)
    finally:
        _close_all(servers)


_T = TypeVar("_T")


def run_sync(scenario: Callable[[_T], Coroutine[Any, Any, None]], harness: _T) -> None:
    """Run an async ``scenario`` with a harness whose calls block (a sync driver)."""
    anyio.run(scenario, harness)
