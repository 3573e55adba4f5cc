"""The flow scenarios every driver runs (issue 4 "Drivers": the same flow tests through all
three drivers, against the fakes served on 127.0.0.1).

Each scenario is ``async def scenario(harness: DriverHarness) -> None``: it serves a fresh world
(:func:`~tests.drivers.harness.live_world`), builds an agent, opens a client of the driver under
test with :meth:`DriverHarness.client`, calls the resource and asserts on the answer and on what
the fakes saw. :data:`SCENARIOS` lists them all; :func:`scenario_id` names them for
``pytest.mark.parametrize``.

The fakes answer ``Retry-After: 0`` unless a scenario says otherwise, so polling is fast; every
scenario that could wait forever is bounded by small :class:`~aauth.agent.AgentLimits`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from aauth.agent import (
    AccessDenied,
    AgentLimits,
    Declined,
    FlowLimitError,
    PendingGone,
    PromptClarification,
    PromptInteraction,
    SignatureRejectedError,
    TokenEndpointError,
    TransportError,
)
from aauth.http import HttpRequest, HttpResponse
from tests.drivers.harness import DriverHarness, LiveWorld, live_world
from tests.fakes import Defer, Fault, Handler

__all__ = ["BIG_BODY_SIZE", "SCENARIOS", "Scenario", "scenario_id"]

Scenario = Callable[[DriverHarness], Coroutine[Any, Any, None]]

#: Size of the body of the large-answer scenario (several socket reads, several chunks).
BIG_BODY_SIZE: Final = 3 * 1024 * 1024 + 17


@dataclass
class Approver:
    """The application's callbacks in these scenarios: interaction prompts are "shown" by
    approving at whichever fake issued the code; clarification questions get ``answer``
    (``None`` declines)."""

    live: LiveWorld
    answer: str | None = "the work calendar"
    deny: bool = False
    interactions: list[PromptInteraction] = field(default_factory=list)
    questions: list[PromptClarification] = field(default_factory=list)

    def on_interaction(self, prompt: PromptInteraction) -> None:
        """Approve (or deny) the interaction at the party that asked for it."""
        self.interactions.append(prompt)
        world = self.live.world
        fake = (
            world.resource
            if prompt.url.startswith(world.resource.interaction_url)
            else world.person_server
        )
        assert prompt.user_url.startswith(f"{prompt.url}?code=")
        fake.visit(prompt.code)
        if self.deny:
            fake.deny(prompt.code)
        else:
            fake.approve(prompt.code)

    def on_clarification(self, prompt: PromptClarification) -> str | None:
        """Answer (or decline) the clarification question."""
        self.questions.append(prompt)
        return self.answer


def _kinds(live: LiveWorld) -> list[str]:
    """Who the resource's app ran as, call by call (``agent``/``person``/``auth``/``session``)."""
    return [call.identity.kind for call in live.world.resource.calls]


# ------------------------------------------------------------------ identity modes


async def agent_token(harness: DriverHarness) -> None:
    """``/agent``: signed with the agent token, answered at once; a POST body is covered."""
    with live_world() as live:
        async with harness.client(live.agent()) as client:
            got = await client.call("GET", live.url("/agent/items?page=2"))
            assert got.status == 200
            assert got.json()["as"] == "agent"
            assert got.json()["path"] == "/agent/items"
            posted = await client.call(
                "POST",
                live.url("/agent/items"),
                [("Content-Type", "application/json")],
                b'{"name": "x"}',
            )
        assert posted.status == 200
        assert posted.json()["body"] == '{"name": "x"}'
        seen = live.world.resource.requests[-1]
        assert seen.header("content-digest") is not None
        assert "content-digest" in (seen.header("signature-input") or "")
        assert _kinds(live) == ["agent", "agent"]


async def person_token(harness: DriverHarness) -> None:
    """``/person``: ``401 requirement=person-token`` -> PS metadata -> person token -> retry;
    the next call reuses the cached person token without asking the PS."""
    with live_world() as live:
        ps = live.world.person_server
        async with harness.client(live.agent()) as client:
            first = await client.call("GET", live.url("/person"))
            asked = len(ps.requests)
            second = await client.call("GET", live.url("/person/again"))
        assert first.status == 200 and second.status == 200
        assert first.json()["as"] == "person"
        assert first.json()["sub"] == ps.subject_for(live.resource_issuer)
        assert asked == 2  # metadata, person token
        assert len(ps.requests) == asked
        assert len(ps.person_tokens) == 1
        assert _kinds(live) == ["person", "person"]


async def auth_token_401(harness: DriverHarness) -> None:
    """``/auth``: person token, then ``401 requirement=auth-token`` -> the resource token
    exchanged at the PS -> retry with the auth token."""
    with live_world() as live:
        async with harness.client(live.agent()) as client:
            got = await client.call("GET", live.url("/auth/data"))
        assert got.status == 200
        assert got.json()["as"] == "auth" and got.json()["scope"] == "data.read"
        assert len(live.world.resource.resource_tokens) == 1
        assert len(live.world.person_server.auth_tokens) == 1


async def auth_token_202(harness: DriverHarness) -> None:
    """``/deferred``: the ``202`` auth-token form holds the call; the agent exchanges the
    resource token and polls the held call with the auth token."""
    with live_world() as live:
        async with harness.client(live.agent()) as client:
            got = await client.call(
                "POST", live.url("/deferred/job"), [("Content-Type", "text/plain")], b"run it"
            )
        assert got.status == 200
        assert got.json()["as"] == "auth" and got.json()["body"] == "run it"
        held = live.world.resource.last_pending
        assert held.kind == "auth-token" and held.state == "done"
        assert len(live.world.resource.calls) == 1  # the held call ran once


async def step_up(harness: DriverHarness) -> None:
    """``/auth`` then ``/admin``: the wider scope is a new auth-token challenge while holding a
    valid auth token; the new token replaces it."""
    with live_world() as live:
        async with harness.client(live.agent()) as client:
            narrow = await client.call("GET", live.url("/auth"))
            wide = await client.call("GET", live.url("/admin"))
        assert narrow.json()["scope"] == "data.read"
        assert wide.json()["scope"] == "data.read data.write"
        assert len(live.world.person_server.auth_tokens) == 2


async def session_token(harness: DriverHarness) -> None:
    """``/session``: ``202 requirement=interaction`` at the resource -> prompt -> poll -> ``200``
    with ``AAuth-Access``; later calls send ``Authorization: AAuth``; a rotated
    ``AAuth-Access`` replaces the old token at once."""
    with live_world() as live:
        app = Approver(live)
        resource = live.world.resource
        async with harness.client(live.agent(), on_interaction=app.on_interaction) as client:
            first = await client.call("GET", live.url("/session/a"))
            issued = first.header("aauth-access")
            second = await client.call("GET", live.url("/session/b"))
            resource.rotate_session = True
            third = await client.call("GET", live.url("/session/c"))
            rotated = third.header("aauth-access")
            fourth = await client.call("GET", live.url("/session/d"))
        assert [r.status for r in (first, second, third, fourth)] == [200] * 4
        assert len(app.interactions) == 1
        assert issued is not None and rotated is not None and rotated != issued
        assert _kinds(live) == ["agent", "session", "session", "session"]
        sessions = [call.identity.session for call in resource.calls[1:]]
        assert sessions == [issued, issued, rotated]
        last = resource.requests[-1]
        assert (last.header("authorization") or "") == f"AAuth {rotated}"
        assert '"authorization"' in (last.header("signature-input") or "")


# ------------------------------------------------------------------ Person Server 202s


async def ps_interaction(harness: DriverHarness) -> None:
    """The person-token request is deferred with ``requirement=interaction``: the application
    is prompted (it approves on the fake), the agent polls and gets the token."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.INTERACTION
        app = Approver(live)
        async with harness.client(live.agent(), on_interaction=app.on_interaction) as client:
            got = await client.call("GET", live.url("/person"))
        assert got.status == 200 and got.json()["as"] == "person"
        assert [p.code for p in app.interactions] == [ps.last_pending.code]
        assert app.interactions[0].url == ps.interaction_url
        assert ps.last_pending.state == "done"


async def clarification(harness: DriverHarness) -> None:
    """The PS asks a clarification question: the application's answer is POSTed to the
    pending URL with ``action: clarification_response``, then the token arrives."""
    with live_world() as live:
        ps = live.world.person_server
        ps.auth_token_defer = Defer.CLARIFICATION
        ps.clarification_options = ["work", "home"]
        app = Approver(live, answer="work")
        async with harness.client(live.agent(), on_clarification=app.on_clarification) as client:
            got = await client.call("GET", live.url("/auth"))
        assert got.status == 200 and got.json()["as"] == "auth"
        assert [q.question for q in app.questions] == [ps.clarification_question]
        assert app.questions[0].options == ("work", "home")
        assert ps.clarification_answers == ["work"]


async def clarification_declined(harness: DriverHarness) -> None:
    """The application declines the question: the pending request is cancelled with
    ``DELETE`` and the call fails with :class:`Declined`."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.CLARIFICATION
        app = Approver(live, answer=None)
        async with harness.client(live.agent(), on_clarification=app.on_clarification) as client:
            with pytest.raises(Declined):
                await client.call("GET", live.url("/person"))
        assert len(app.questions) == 1
        assert ps.last_pending.state == "cancelled"
        assert ps.requests[-1].method == "DELETE"
        assert live.world.resource.calls == []


async def approval(harness: DriverHarness) -> None:
    """``requirement=approval``: the agent polls until the PS answers (third poll)."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.APPROVAL
        ps.approval_polls = 3
        async with harness.client(live.agent()) as client:
            got = await client.call("GET", live.url("/person"))
        assert got.status == 200
        assert ps.last_pending.polls == 3


async def retry_after_honoured(harness: DriverHarness) -> None:
    """``Retry-After: 1`` on the PS's ``202``: the driver really waits before polling."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.APPROVAL
        ps.retry_after = 1
        async with harness.client(live.agent()) as client:
            started = time.monotonic()
            got = await client.call("GET", live.url("/person"))
            elapsed = time.monotonic() - started
        assert got.status == 200
        assert elapsed >= 0.95, f"polled after {elapsed:.2f} s, Retry-After said 1 s"
        polls = [e for e in ps.log if e.request.url.split("/")[-2:-1] == ["pending"]]
        assert len(polls) == 1


# ------------------------------------------------------------------ failures


async def ps_server_error(harness: DriverHarness) -> None:
    """The person-token endpoint answers ``500`` problem: :class:`TokenEndpointError`."""
    with live_world() as live:
        live.world.person_server.person_token_fault = Fault.SERVER_ERROR
        async with harness.client(live.agent()) as client:
            with pytest.raises(TokenEndpointError) as caught:
                await client.call("GET", live.url("/person"))
        assert caught.value.status == 500
        assert caught.value.code == "server_error"


async def ps_html(harness: DriverHarness) -> None:
    """The auth-token endpoint answers ``200 text/html`` (or a ``502`` page): our error, naming
    what was wrong, not a JSON decoder's."""
    with live_world() as live:
        live.world.person_server.auth_token_fault = Fault.HTML
        async with harness.client(live.agent()) as client:
            with pytest.raises(TokenEndpointError) as caught:
                await client.call("GET", live.url("/auth"))
            assert caught.value.status == 200
            live.world.person_server.auth_token_fault = Fault.HTML_ERROR
            with pytest.raises(TokenEndpointError) as again:
                await client.call("GET", live.url("/auth"))
            assert again.value.status == 502


async def denied(harness: DriverHarness) -> None:
    """The person refuses at the interaction page: ``403 denied`` -> :class:`AccessDenied`."""
    with live_world() as live:
        live.world.person_server.person_token_defer = Defer.INTERACTION
        app = Approver(live, deny=True)
        async with harness.client(live.agent(), on_interaction=app.on_interaction) as client:
            with pytest.raises(AccessDenied) as caught:
                await client.call("GET", live.url("/person"))
        assert caught.value.code == "denied"
        assert caught.value.status == 403


async def connection_dropped(harness: DriverHarness) -> None:
    """The PS closes the connection without answering: a transport error, promptly."""
    with live_world() as live:
        live.world.person_server.person_token_fault = Fault.DROP
        async with harness.client(live.agent()) as client:
            started = time.monotonic()
            with pytest.raises((TransportError, *harness.transport_errors)):
                await client.call("GET", live.url("/person"))
        assert time.monotonic() - started < 5


async def pending_forever(harness: DriverHarness) -> None:
    """A pending URL that never completes ends at the flow's bound
    (:class:`FlowLimitError`), not in a hang."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.FOREVER
        limits = AgentLimits(max_steps=30, max_total_wait=5)
        async with harness.client(live.agent(limits=limits)) as client:
            started = time.monotonic()
            with pytest.raises(FlowLimitError):
                await client.call("GET", live.url("/person"))
        assert time.monotonic() - started < 8
        assert 5 <= ps.last_pending.polls <= 30


async def poll_faults(harness: DriverHarness) -> None:
    """``503`` and an unknown ``202`` status on polls are waited out and polling goes on;
    ``410`` on a poll ends the flow with :class:`PendingGone`."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.APPROVAL
        ps.approval_polls = 3
        ps.poll_faults = [Fault.UNAVAILABLE, Fault.UNKNOWN_STATUS]
        async with harness.client(live.agent()) as client:
            got = await client.call("GET", live.url("/person"))
            assert got.status == 200
            assert ps.last_pending.polls == 3
            ps.auth_token_defer = Defer.APPROVAL
            ps.poll_faults = [Fault.GONE]
            with pytest.raises(PendingGone) as caught:
                await client.call("GET", live.url("/auth"))
        assert caught.value.status == 410


async def signature_error_retry(harness: DriverHarness) -> None:
    """A ``401`` with ``Signature-Error: invalid_signature`` is retried once, freshly signed;
    a second one for the same reason ends the flow with :class:`SignatureRejectedError`."""
    with live_world() as live:
        resource = live.world.resource
        resource.signature_errors = ["invalid_signature"]
        async with harness.client(live.agent()) as client:
            got = await client.call("GET", live.url("/agent"))
            assert got.status == 200
            resource.signature_errors = ["invalid_signature", "invalid_signature"]
            with pytest.raises(SignatureRejectedError) as caught:
                await client.call("GET", live.url("/agent"))
        assert caught.value.code == "invalid_signature"
        assert len(resource.calls) == 1


async def plain_answers_delivered(harness: DriverHarness) -> None:
    """Answers that are the resource's own (a ``404``, a non-AAuth ``401``) reach the
    application unchanged, body included."""

    def wrap(handle: Handler) -> Handler:
        def handler(request: HttpRequest, now: int) -> HttpResponse:
            path = request.url.split("/", 3)[-1]
            if path == "plain401":
                return HttpResponse(
                    401, [("WWW-Authenticate", "Bearer"), ("Content-Type", "text/plain")], b"who?"
                )
            return handle(request, now)

        return handler

    with live_world(wrap={"https://resource.example": wrap}) as live:
        async with harness.client(live.agent()) as client:
            missing = await client.call("GET", live.url("/nowhere"))
            plain = await client.call("GET", live.url("/plain401"))
        assert missing.status == 404
        assert plain.status == 401 and plain.body == b"who?"
        assert plain.header("www-authenticate") == "Bearer"


async def large_answer(harness: DriverHarness) -> None:
    """A multi-megabyte ``200`` from the resource arrives whole (the driver does not cap or
    buffer the application's answer the way it caps token answers)."""
    big = bytes(range(256)) * (BIG_BODY_SIZE // 256) + b"x" * (BIG_BODY_SIZE % 256)

    def wrap(handle: Handler) -> Handler:
        def handler(request: HttpRequest, now: int) -> HttpResponse:
            answer = handle(request, now)
            if answer.status == 200 and request.url.endswith("/agent/big"):
                return HttpResponse(200, [("Content-Type", "application/octet-stream")], big)
            return answer

        return handler

    with live_world(wrap={"https://resource.example": wrap}) as live:
        async with harness.client(live.agent()) as client:
            got = await client.call("GET", live.url("/agent/big"))
        assert got.status == 200
        assert len(got.body) == BIG_BODY_SIZE and got.body == big


#: Every scenario, in a stable order.
SCENARIOS: Final[tuple[Scenario, ...]] = (
    agent_token,
    person_token,
    auth_token_401,
    auth_token_202,
    step_up,
    session_token,
    ps_interaction,
    clarification,
    clarification_declined,
    approval,
    retry_after_honoured,
    ps_server_error,
    ps_html,
    denied,
    connection_dropped,
    pending_forever,
    poll_faults,
    signature_error_retry,
    plain_answers_delivered,
    large_answer,
)


def scenario_id(scenario: object) -> str:
    """The scenario's name, for ``pytest.mark.parametrize(ids=…)``."""
    return str(getattr(scenario, "__name__", scenario))
