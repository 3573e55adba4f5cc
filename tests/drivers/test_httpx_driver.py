"""``aauth_httpx.AAuth`` through ``httpx.Client`` and ``httpx.AsyncClient`` (asyncio and trio):
the shared scenarios, streaming, callbacks, redirects, body caps, and the auth flow's own
requests staying out of new auth flows. Everything against fakes served on 127.0.0.1.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx
import pytest

from aauth.agent import (
    Agent,
    AgentFlow,
    AgentLimits,
    Declined,
    Deliver,
    PromptClarification,
    PromptInteraction,
    SignatureRejectedError,
    StaticAgentCredentials,
    TokenEndpointError,
)
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth_httpx import AAuth, BodyTooLarge, NoInteractionCallback, RedirectRefused
from tests.drivers.harness import (
    CALL_TIMEOUT,
    ClarificationCallback,
    DriverClient,
    HarnessResponse,
    InteractionCallback,
    LiveWorld,
    live_world,
    run_sync,
)
from tests.drivers.scenarios import BIG_BODY_SIZE, SCENARIOS, Scenario, scenario_id
from tests.fakes import Defer, Handler

RESOURCE = "https://resource.example"
PS = "https://ps.example"
#: One TLS context for every client (the fakes are plain http; building a context per client
#: loads the CA store each time).
TLS = ssl.create_default_context()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on asyncio and on trio."""
    return str(request.param)


def sync_client(auth: AAuth, **options: Any) -> httpx.Client:
    """A ``Client`` with ``auth``, bounded by :data:`CALL_TIMEOUT`."""
    return httpx.Client(verify=TLS, auth=auth, timeout=CALL_TIMEOUT, **options)


def async_client(auth: AAuth, **options: Any) -> httpx.AsyncClient:
    """An ``AsyncClient`` with ``auth``, bounded by :data:`CALL_TIMEOUT`."""
    return httpx.AsyncClient(verify=TLS, auth=auth, timeout=CALL_TIMEOUT, **options)


def sync_get(auth: AAuth, url: str, **options: Any) -> httpx.Response:
    """One ``GET`` through a fresh ``Client`` with ``auth``."""
    with sync_client(auth, **options) as client:
        return client.get(url)


def _harness_response(response: httpx.Response) -> HarnessResponse:
    return HarnessResponse(
        response.status_code, tuple(response.headers.multi_items()), response.content
    )


# ------------------------------------------------------------------ harnesses


class _SyncClient:
    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    async def call(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HarnessResponse:
        return _harness_response(
            self._client.request(method, url, headers=list(headers), content=body)
        )


class SyncHarness:
    """``httpx.Client`` with ``AAuth`` (its calls block; run with ``run_sync``)."""

    name = "httpx-sync"
    transport_errors: tuple[type[BaseException], ...] = (httpx.TransportError,)

    @asynccontextmanager
    async def client(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
    ) -> AsyncIterator[DriverClient]:
        auth = AAuth(agent, on_interaction=on_interaction, on_clarification=on_clarification)
        with httpx.Client(
            verify=TLS, auth=auth, timeout=CALL_TIMEOUT, max_redirects=agent.limits.max_steps
        ) as client:
            yield _SyncClient(client)


class _AsyncClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def call(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HarnessResponse:
        response = await self._client.request(method, url, headers=list(headers), content=body)
        return _harness_response(response)


class AsyncHarness:
    """``httpx.AsyncClient`` with ``AAuth`` on the running anyio backend."""

    name = "httpx-async"
    transport_errors: tuple[type[BaseException], ...] = (httpx.TransportError,)

    @asynccontextmanager
    async def client(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
    ) -> AsyncIterator[DriverClient]:
        auth = AAuth(agent, on_interaction=on_interaction, on_clarification=on_clarification)
        async with httpx.AsyncClient(
            verify=TLS, auth=auth, timeout=CALL_TIMEOUT, max_redirects=agent.limits.max_steps
        ) as client:
            yield _AsyncClient(client)


# ------------------------------------------------------------------ the shared scenarios


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario_sync_client(scenario: Scenario) -> None:
    run_sync(scenario, SyncHarness())


@pytest.mark.anyio
@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
async def test_scenario_async_client(scenario: Scenario, anyio_backend: str) -> None:
    await scenario(AsyncHarness())


# ------------------------------------------------------------------ streaming


def _big(handle: Handler) -> Handler:
    """Serve a large body at ``…/big`` once the fake let the call through."""
    data = b"0123456789abcdef" * (BIG_BODY_SIZE // 16)

    def handler(request: HttpRequest, now: int) -> HttpResponse:
        answer = handle(request, now)
        if answer.status == 200 and request.url.endswith("/big"):
            return HttpResponse(200, [("Content-Type", "application/octet-stream")], data)
        return answer

    return handler


def test_a_large_answer_streams_with_a_sync_client() -> None:
    with live_world(wrap={RESOURCE: _big}) as live:
        auth = AAuth(live.agent())
        with (
            sync_client(auth) as client,
            client.stream("GET", live.url("/person/big")) as response,
        ):
            # the person-token challenge went through the flow; the 200 is still unread
            assert response.status_code == 200
            assert not response.is_stream_consumed
            assert [r.status_code for r in response.history] == [401, 200, 200]
            sizes = [len(chunk) for chunk in response.iter_bytes()]
        assert sum(sizes) == BIG_BODY_SIZE - BIG_BODY_SIZE % 16
        assert len(sizes) > 1
        assert live.world.resource.calls[-1].identity.kind == "person"


@pytest.mark.anyio
async def test_a_large_answer_streams_with_an_async_client(anyio_backend: str) -> None:
    with live_world(wrap={RESOURCE: _big}) as live:
        auth = AAuth(live.agent())
        async with (
            async_client(auth) as client,
            client.stream("GET", live.url("/auth/big")) as response,
        ):
            assert response.status_code == 200
            assert not response.is_stream_consumed
            sizes = [len(chunk) async for chunk in response.aiter_bytes()]
        assert sum(sizes) == BIG_BODY_SIZE - BIG_BODY_SIZE % 16
        assert len(sizes) > 1


# ------------------------------------------------------------------ one flow per request


class CountingAgent(Agent):
    """An agent that counts the flows it starts."""

    started = 0

    def start(self, request: HttpRequest, *, now: float) -> AgentFlow:
        self.started += 1
        return super().start(request, now=now)


def _counting_agent(live: LiveWorld, **options: Any) -> CountingAgent:
    token = live.world.agent_provider.mint(live.world.agent_key, now=int(time.time()))
    return CountingAgent(
        StaticAgentCredentials(live.world.agent_key, token),
        capabilities=("interaction", "clarification"),
        transport_map=live.transport_map,
        **options,
    )


def test_flow_requests_are_not_re_entered_into_new_auth_flows() -> None:
    with live_world() as live:
        agent = _counting_agent(live)
        with sync_client(AAuth(agent)) as client:
            response = client.get(live.url("/auth"))
        assert response.status_code == 200
        # resource, metadata, person token, resource, auth token, resource: one flow
        assert len(response.history) == 5
        assert agent.started == 1
        # the client's timeout went with the engine's own requests too
        for earlier in response.history:
            assert earlier.request.extensions["timeout"]["read"] == CALL_TIMEOUT
        # httpx derives Host from the dialled URL, not the application's identifier
        assert response.request.headers["host"] == live.transport_map[RESOURCE][7:]


@pytest.mark.anyio
async def test_async_flow_requests_are_not_re_entered(anyio_backend: str) -> None:
    with live_world() as live:
        agent = _counting_agent(live)
        async with async_client(AAuth(agent)) as client:
            first = await client.get(live.url("/person"))
            second = await client.get(live.url("/person"))
        assert (first.status_code, second.status_code) == (200, 200)
        assert agent.started == 2
        assert len(second.history) == 0  # the person token was cached


def test_httpx_counts_a_flows_requests_against_max_redirects() -> None:
    # httpx keeps every answer of one auth flow in a history bounded by max_redirects
    # (default 20): a long poll needs a client with max_redirects >= the agent's max_steps
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.APPROVAL
        ps.approval_polls = 25
        with pytest.raises(httpx.TooManyRedirects):
            sync_get(AAuth(live.agent()), live.url("/person"))
        agent = live.agent()
        response = sync_get(AAuth(agent), live.url("/person"), max_redirects=agent.limits.max_steps)
        assert response.status_code == 200
        assert len(response.history) == 3 + 25


def test_a_streamed_request_body_is_read_and_signed() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"part one, "
        yield b"part two"

    with live_world() as live:
        with sync_client(AAuth(live.agent())) as client:
            response = client.post(live.url("/agent/upload"), content=chunks())
        assert response.status_code == 200
        assert response.json()["body"] == "part one, part two"
        seen = live.world.resource.requests[-1]
        assert seen.header("transfer-encoding") is None
        assert seen.header("content-length") == str(len(b"part one, part two"))


@pytest.mark.anyio
async def test_a_cancelled_call_stops_its_sleep(anyio_backend: str) -> None:
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.APPROVAL
        ps.retry_after = 30
        async with async_client(AAuth(live.agent())) as client:
            started = time.monotonic()
            with anyio.move_on_after(0.5) as scope:
                await client.get(live.url("/person"))
        assert scope.cancelled_caught
        assert time.monotonic() - started < 3
        assert ps.last_pending.polls == 0


# ------------------------------------------------------------------ callbacks


@pytest.mark.anyio
async def test_async_callbacks_are_awaited(anyio_backend: str) -> None:
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.INTERACTION
        ps.auth_token_defer = Defer.CLARIFICATION
        seen: list[str] = []

        async def show(prompt: PromptInteraction) -> None:
            seen.append(prompt.code)
            ps.approve(prompt.code)

        async def answer(prompt: PromptClarification) -> str:
            seen.append(prompt.question)
            return "async answer"

        auth = AAuth(live.agent(), on_interaction=show, on_clarification=answer)
        async with async_client(auth) as client:
            response = await client.get(live.url("/auth"))
        assert response.status_code == 200
        assert seen == [ps.pending[next(iter(ps.pending))].code, ps.clarification_question]
        assert ps.clarification_answers == ["async answer"]


def test_async_callbacks_with_a_sync_client_are_refused() -> None:
    async def show(prompt: PromptInteraction) -> None:
        raise AssertionError("never awaited")

    async def answer(prompt: PromptClarification) -> str:
        raise AssertionError("never awaited")

    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.INTERACTION
        with pytest.raises(LocalError, match="async on_interaction"):
            sync_get(AAuth(live.agent(), on_interaction=show), live.url("/person"))
        ps.person_token_defer = Defer.CLARIFICATION
        with pytest.raises(LocalError, match="async on_clarification"):
            sync_get(AAuth(live.agent(), on_clarification=answer), live.url("/person"))


def test_without_on_interaction_the_prompt_is_raised() -> None:
    with live_world() as live:
        live.world.person_server.person_token_defer = Defer.INTERACTION
        with pytest.raises(NoInteractionCallback) as caught:
            sync_get(AAuth(live.agent()), live.url("/person"))
        assert caught.value.prompt.code == live.world.person_server.last_pending.code


@pytest.mark.anyio
async def test_without_callbacks_async(anyio_backend: str) -> None:
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.INTERACTION
        async with async_client(AAuth(live.agent())) as client:
            with pytest.raises(NoInteractionCallback):
                await client.get(live.url("/person"))
            # no on_clarification: the question is declined and the request cancelled
            ps.person_token_defer = Defer.CLARIFICATION
            with pytest.raises(Declined):
                await client.get(live.url("/person"))
        assert ps.last_pending.state == "cancelled"


def test_without_on_clarification_the_question_is_declined_sync() -> None:
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.CLARIFICATION
        with pytest.raises(Declined):
            sync_get(AAuth(live.agent()), live.url("/person"))
        assert ps.last_pending.state == "cancelled"


@pytest.mark.parametrize("answer", [42, b"bytes"])
def test_a_clarification_answer_that_is_not_text_is_refused(answer: object) -> None:
    with live_world() as live:
        live.world.person_server.person_token_defer = Defer.CLARIFICATION
        auth = AAuth(live.agent(), on_clarification=lambda prompt: answer)  # type: ignore[arg-type,return-value]
        with pytest.raises(LocalError, match="str or None"):
            sync_get(auth, live.url("/person"))


# ------------------------------------------------------------------ redirects


@contextmanager
def _redirecting_world() -> Iterator[LiveWorld]:
    """``/agent/away`` redirects to the agent provider's origin, ``/agent/here`` to
    ``/agent/there`` on the resource itself."""
    target: dict[str, str] = {}

    def wrap(handle: Handler) -> Handler:
        def handler(request: HttpRequest, now: int) -> HttpResponse:
            if request.url.endswith("/agent/away"):
                return HttpResponse(302, [("Location", f"{target['away']}/elsewhere")])
            if request.url.endswith("/agent/here"):
                return HttpResponse(307, [("Location", "/agent/there")])
            return handle(request, now)

        return handler

    with live_world(wrap={RESOURCE: wrap}) as live:
        target["away"] = live.transport_map["https://agent.example"]
        yield live


def test_redirects_are_not_followed_by_default_and_reach_the_application() -> None:
    with _redirecting_world() as live:
        with sync_client(AAuth(live.agent())) as client:
            response = client.get(live.url("/agent/away"))
        assert response.status_code == 302
        assert response.next_request is not None
        assert live.world.agent_provider.requests == []  # the other origin saw nothing


def test_a_followed_cross_origin_redirect_is_refused() -> None:
    with _redirecting_world() as live:
        auth = AAuth(live.agent())
        with sync_client(auth, follow_redirects=True) as client:
            with pytest.raises(RedirectRefused, match="follow_redirects=False"):
                client.get(live.url("/agent/away"))
            # refused after the fact: httpx sent the hop without asking the auth flow
            assert [r.url.endswith("/elsewhere") for r in live.world.agent_provider.requests] == [
                True
            ]
            # a same-origin hop reaches the engine, but the hop's signature covers the old
            # path: the resource refuses it, the engine re-signs once, then reports it
            with pytest.raises(SignatureRejectedError, match="again"):
                client.get(live.url("/agent/here"))
        assert [c.path for c in live.world.resource.calls] == []


@pytest.mark.anyio
async def test_a_followed_cross_origin_redirect_is_refused_async(anyio_backend: str) -> None:
    with _redirecting_world() as live:
        auth = AAuth(live.agent())
        async with async_client(auth, follow_redirects=True) as client:
            with pytest.raises(RedirectRefused):
                await client.get(live.url("/agent/away"))


# ------------------------------------------------------------------ body caps


def _huge_ps_answer(handle: Handler) -> Handler:
    def handler(request: HttpRequest, now: int) -> HttpResponse:
        answer = handle(request, now)
        if request.url.endswith("/person-token"):
            return HttpResponse(200, [("Content-Type", "application/json")], b" " * 5000)
        return answer

    return handler


def _huge_challenge(handle: Handler) -> Handler:
    def handler(request: HttpRequest, now: int) -> HttpResponse:
        answer = handle(request, now)
        if answer.status == 401:
            return HttpResponse(401, [*answer.headers, ("Content-Type", "text/plain")], b"x" * 5000)
        return answer

    return handler


def _plain_202(size: int) -> Callable[[Handler], Handler]:
    """``/agent/job`` answers a plain ``202`` (no AAuth requirement) with a ``size`` body."""

    def wrap(handle: Handler) -> Handler:
        def handler(request: HttpRequest, now: int) -> HttpResponse:
            answer = handle(request, now)
            if answer.status == 200 and request.url.endswith("/agent/job"):
                return HttpResponse(202, [("Content-Type", "text/plain")], b"j" * size)
            return answer

        return handler

    return wrap


LIMITS = AgentLimits(max_response_body=1024)


def test_token_answers_are_read_up_to_max_response_body() -> None:
    # the driver stops after max_body + 1 bytes; the engine reports the oversized answer
    with (
        live_world(wrap={PS: _huge_ps_answer}) as live,
        pytest.raises(TokenEndpointError, match="larger than 1024 bytes"),
    ):
        sync_get(AAuth(live.agent(limits=LIMITS)), live.url("/person"))


def test_challenge_bodies_kept_in_the_history_are_capped_too() -> None:
    with live_world(wrap={RESOURCE: _huge_challenge}) as live:
        response = sync_get(AAuth(live.agent(limits=LIMITS)), live.url("/person"))
        assert response.status_code == 200
        # httpx reads every answer a flow continues past into the history: cut at 1025 bytes
        assert response.history[0].content == b"x" * 1025
        whole = sync_get(AAuth(live.agent()), live.url("/person"))
        assert whole.history[0].content == b"x" * 5000


def test_a_delivered_answer_the_engine_read_is_whole_or_refused() -> None:
    with live_world(wrap={RESOURCE: _plain_202(1024)}) as live:
        response = sync_get(AAuth(live.agent(limits=LIMITS)), live.url("/agent/job"))
        assert response.status_code == 202 and response.content == b"j" * 1024
    with (
        live_world(wrap={RESOURCE: _plain_202(1025)}) as live,
        pytest.raises(BodyTooLarge, match="202 answer is larger than the 1024 bytes"),
    ):
        sync_get(AAuth(live.agent(limits=LIMITS)), live.url("/agent/job"))


@pytest.mark.anyio
async def test_body_caps_async(anyio_backend: str) -> None:
    with live_world(wrap={PS: _huge_ps_answer}) as live:
        async with async_client(AAuth(live.agent(limits=LIMITS))) as client:
            with pytest.raises(TokenEndpointError, match="larger than 1024 bytes"):
                await client.get(live.url("/person"))
    with live_world(wrap={RESOURCE: _huge_challenge}) as live:
        async with async_client(AAuth(live.agent(limits=LIMITS))) as client:
            response = await client.get(live.url("/person"))
        assert response.history[0].content == b"x" * 1025
    with live_world(wrap={RESOURCE: _plain_202(5000)}) as live:
        async with async_client(AAuth(live.agent(limits=LIMITS))) as client:
            with pytest.raises(BodyTooLarge):
                await client.get(live.url("/agent/job"))


# ------------------------------------------------------------------ construction


def test_constructor_checks_its_arguments() -> None:
    with live_world() as live:
        agent = live.agent()
    with pytest.raises(LocalError, match="Agent"):
        AAuth("not an agent")  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="on_interaction must be callable"):
        AAuth(agent, on_interaction="open")  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="on_clarification must be callable"):
        AAuth(agent, on_clarification=1)  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="clock"):
        AAuth(agent, clock=0)  # type: ignore[arg-type]


def test_from_credentials_derives_capabilities_from_the_callbacks() -> None:
    with live_world() as live:
        token = live.world.agent_token()
        credentials = StaticAgentCredentials(live.world.agent_key, token)

        def show(prompt: PromptInteraction) -> None:
            live.world.person_server.approve(prompt.code)

        auth = AAuth.from_credentials(
            credentials, on_interaction=show, transport_map=live.transport_map
        )
        assert auth.agent.capabilities == ("interaction",)
        assert AAuth.from_credentials(credentials).agent.capabilities == ()
        explicit = AAuth.from_credentials(credentials, capabilities=["payment"])
        assert explicit.agent.capabilities == ("payment",)
        live.world.person_server.person_token_defer = Defer.INTERACTION
        with sync_client(auth) as client:
            response = client.get(live.url("/person"))
        assert response.status_code == 200
        person_post = next(r for r in live.world.person_server.requests if r.method == "POST")
        assert b'"capabilities":["interaction"]' in person_post.body


def test_the_driver_clock_signs_created() -> None:
    fixed = float(int(time.time()) - 7)
    with live_world() as live:
        auth = AAuth(live.agent(), clock=lambda: fixed)
        with sync_client(auth) as client:
            response = client.get(live.url("/agent"))
        assert response.status_code == 200
        assert f"created={int(fixed)}" in response.request.headers["signature-input"]


def test_a_delivered_response_must_be_the_last_one_received() -> None:
    from aauth_httpx._auth import _Run
    from aauth_httpx._convert import cap_sync_body

    with live_world() as live:
        auth = AAuth(live.agent())
        run = _Run(auth, httpx.Request("GET", live.url("/agent")), cap_sync_body)
        with pytest.raises(LocalError, match="did not receive"):
            run.deliver(Deliver(response=HttpResponse(200)))
