"""Fake AAuth servers for the agent engine tests and the driver tests (test code).

* :class:`FakeAgentProvider`: an AP key, its JWKS, ``aauth-agent.json``, agent tokens.
* :class:`FakePersonServer`: metadata, JWKS, person and auth token endpoints, ``202``
  interaction / approval / clarification, faults on demand.
* :class:`FakeAccessServer`: ``aauth-access.json``, JWKS, and the AS token endpoint a PS
  federates to (four-party; :meth:`FakePersonServer.federate_with`).
* :class:`FakeResource`: one access mode per path prefix, challenges, the ``202`` auth-token
  form, session tokens, step-up, ``Signature-Error`` answers.
* :class:`FakeClock`; :func:`serve` / :func:`serve_many` / :class:`TransportMap` (real
  sockets on 127.0.0.1); :class:`MemoryTransport` (in memory).
* :func:`make_world`: the three fakes wired to trust each other, an agent key and a clock.

Each fake's ``handle(request, now) -> response`` is deterministic for a given ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aauth.keys import Ed25519Key

from ._common import DropConnection, Exchange, Fault, Handler
from .access_server import FakeAccessServer
from .agent_provider import FakeAgentProvider
from .clock import T0, FakeClock
from .person_server import Defer, FakePersonServer, PendingRequest
from .resource import DEFAULT_ROUTES, FakeResource, HeldCall, Identity, Route
from .server import (
    FakeNetworkError,
    MemoryTransport,
    ServedFake,
    TransportMap,
    serve,
    serve_many,
)

__all__ = [
    "DEFAULT_ROUTES",
    "T0",
    "Defer",
    "DropConnection",
    "Exchange",
    "FakeAccessServer",
    "FakeAgentProvider",
    "FakeClock",
    "FakeNetworkError",
    "FakePersonServer",
    "FakeResource",
    "FakeWorld",
    "Fault",
    "Handler",
    "HeldCall",
    "Identity",
    "MemoryTransport",
    "PendingRequest",
    "Route",
    "ServedFake",
    "TransportMap",
    "make_world",
    "serve",
    "serve_many",
]


@dataclass
class FakeWorld:
    """An AP, a PS and a resource that trust each other, an agent key, and a clock."""

    clock: FakeClock
    agent_provider: FakeAgentProvider
    person_server: FakePersonServer
    resource: FakeResource
    agent_key: Ed25519Key

    def agent_token(self, *, lifetime: int = 3600, **kwargs: Any) -> str:
        """An agent token for :attr:`agent_key`, minted now (``kwargs`` go to ``mint``)."""
        return self.agent_provider.mint(
            self.agent_key, now=self.clock.now(), lifetime=lifetime, **kwargs
        )

    @property
    def handlers(self) -> dict[str, Handler]:
        """``{identifier: handle}`` for :func:`serve_many` or :class:`MemoryTransport`."""
        return {
            self.agent_provider.issuer: self.agent_provider.handle,
            self.person_server.issuer: self.person_server.handle,
            self.resource.issuer: self.resource.handle,
        }

    def memory_transport(self) -> MemoryTransport:
        """An in-memory transport to the three fakes on :attr:`clock`."""
        return MemoryTransport(self.handlers, self.clock)


def make_world(*, seed: int = 0, start: int = T0) -> FakeWorld:
    """The standard cast: ``https://agent.example``, ``https://ps.example``,
    ``https://resource.example``, all on a :class:`FakeClock` at ``start``."""
    clock = FakeClock(start)
    provider = FakeAgentProvider(seed=seed)
    person_server = FakePersonServer(agent_providers=[provider], seed=seed)
    resource = FakeResource(agent_providers=[provider], person_servers=[person_server], seed=seed)
    person_server.trust_resource(resource)
    return FakeWorld(
        clock=clock,
        agent_provider=provider,
        person_server=person_server,
        resource=resource,
        agent_key=provider.agent_key(),
    )
