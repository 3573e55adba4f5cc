"""The driver loop printed in docs/agent-engine.md runs, as printed, against the fakes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aauth.agent
from aauth.agent import Agent, StaticAgentCredentials
from aauth.agent.errors import Declined
from aauth.http import HttpRequest
from tests.fakes import Defer, FakeNetworkError, make_world

DOC = Path(__file__).resolve().parents[1] / "docs" / "agent-engine.md"


def _driver() -> Any:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## A driver", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None
    namespace: dict[str, Any] = {name: getattr(aauth.agent, name) for name in aauth.agent.__all__}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)
    return namespace["call"]


class _App:
    def __init__(self, world: Any, answer: str | None = "work") -> None:
        self.world = world
        self.answer = answer
        self.shown: list[str] = []

    def show(self, url: str) -> None:
        self.shown.append(url)
        self.world.person_server.approve(self.world.person_server.last_pending.code)

    def ask(self, question: str, options: tuple[str, ...]) -> str | None:
        return self.answer


def _send(world: Any) -> Any:
    transport = world.memory_transport()

    def send(request: HttpRequest) -> Any:
        try:
            return transport(request)
        except FakeNetworkError as exc:
            raise ConnectionError(str(exc)) from exc

    return send


def test_the_documented_driver_runs_an_auth_token_flow_with_interaction() -> None:
    world = make_world()
    world.person_server.person_token_defer = Defer.INTERACTION
    agent = Agent(StaticAgentCredentials(world.agent_key, world.agent_token()))
    app = _App(world)
    request = HttpRequest("GET", world.resource.url("/auth/items"))
    response = _driver()(agent, request, _send(world), world.clock, world.clock.sleep, app)
    assert response.status == 200 and json.loads(response.body)["as"] == "auth"
    assert len(app.shown) == 1


def test_the_documented_driver_raises_the_flows_error() -> None:
    world = make_world()
    world.person_server.auth_token_defer = Defer.CLARIFICATION
    agent = Agent(StaticAgentCredentials(world.agent_key, world.agent_token()))
    request = HttpRequest("GET", world.resource.url("/auth/items"))
    try:
        _driver()(agent, request, _send(world), world.clock, world.clock.sleep, _App(world, None))
    except Declined as exc:
        assert exc.code == "declined"
    else:
        raise AssertionError("a declined clarification must raise")
