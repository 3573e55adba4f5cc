"""The aiohttp driver (:class:`aauth_aiohttp.AAuthClientMiddleware`): every shared flow
scenario through an aiohttp ``ClientSession``, then what is particular to aiohttp (the
middleware chain, redirects, retries, request bodies, async callbacks, streamed and chunked
answers). All servers listen on 127.0.0.1; asyncio only (aiohttp is asyncio-only).
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from aauth.agent import (
    Agent,
    AgentLimits,
    Declined,
    PromptClarification,
    PromptInteraction,
    StaticAgentCredentials,
    TransportError,
)
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth_aiohttp import AAuthClientMiddleware
from aauth_aiohttp._convert import read_body, to_aauth_request, transport_reason
from tests.drivers.harness import (
    CALL_TIMEOUT,
    ClarificationCallback,
    HarnessResponse,
    InteractionCallback,
    live_world,
)
from tests.drivers.scenarios import SCENARIOS, Scenario, scenario_id
from tests.fakes import Defer, Fault, Handler, make_world

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"


def _timeout() -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=60, sock_connect=CALL_TIMEOUT, sock_read=CALL_TIMEOUT)


async def _read(response: ClientResponse) -> HarnessResponse:
    body = await response.read()
    headers = tuple((str(name), value) for name, value in response.headers.items())
    return HarnessResponse(response.status, headers, body)


class AiohttpClient:
    """:class:`tests.drivers.harness.DriverClient` over a ``ClientSession`` whose middleware
    is the driver."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HarnessResponse:
        """The application's request through the session; the whole answer read."""
        async with self.session.request(
            method,
            url,
            headers=CIMultiDict(headers),
            data=body or None,
            allow_redirects=False,
        ) as response:
            return await _read(response)


class AiohttpHarness:
    """:class:`tests.drivers.harness.DriverHarness` for the aiohttp middleware."""

    name = "aiohttp"
    #: the application's own request failing is reported the aiohttp way (so aiohttp may
    #: retry a stale pooled connection); the flow's other requests fail with TransportError
    transport_errors: tuple[type[BaseException], ...] = (aiohttp.ClientError,)

    @asynccontextmanager
    async def client(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
    ) -> AsyncIterator[AiohttpClient]:
        """A session with the middleware for ``agent``, every exchange bounded."""
        middleware = AAuthClientMiddleware(
            agent, on_interaction=on_interaction, on_clarification=on_clarification
        )
        async with aiohttp.ClientSession(middlewares=(middleware,), timeout=_timeout()) as session:
            yield AiohttpClient(session)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
async def test_scenario(scenario: Scenario) -> None:
    """Every shared flow scenario through the aiohttp driver."""
    await scenario(AiohttpHarness())


# ------------------------------------------------------------------ helpers for the rest


def _middleware(agent: Agent, **kwargs: Any) -> AAuthClientMiddleware:
    return AAuthClientMiddleware(agent, **kwargs)


class Recorder:
    """A plain middleware that records what passes through it (method, URL, headers)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, CIMultiDict[str]]] = []
        self.after: list[CIMultiDict[str]] = []

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        self.seen.append((request.method, str(request.url), CIMultiDict(request.headers)))
        response = await handler(request)
        self.after.append(CIMultiDict(request.headers))
        return response


def _wrap_paths(routes: dict[str, Callable[[HttpRequest], HttpResponse]]) -> Any:
    """A resource wrapper answering some paths itself (``routes``: path -> answer)."""

    def wrap(handle: Handler) -> Handler:
        def handler(request: HttpRequest, now: int) -> HttpResponse:
            path = "/" + request.url.split("/", 3)[-1].split("?")[0]
            answer = routes.get(path)
            return handle(request, now) if answer is None else answer(request)

        return handler

    return {"https://resource.example": wrap}


# ------------------------------------------------------------------ the middleware chain


async def test_flow_requests_bypass_the_chain() -> None:
    """Only the application's request goes down the chain (once per credential tried); the
    metadata and token requests go out with ``middlewares=()``, so a middleware after ours
    sees resource requests only, already signed, and one before ours sees one call."""
    with live_world() as live:
        outer, inner = Recorder(), Recorder()
        chain = (outer, _middleware(live.agent()), inner)
        async with (
            aiohttp.ClientSession(middlewares=chain, timeout=_timeout()) as session,
            session.get(live.url("/auth/data")) as response,
        ):
            assert response.status == 200
            assert (await response.json())["as"] == "auth"
        assert [url for _, url, _ in outer.seen] == [live.url("/auth/data")]
        dial = live.transport_map.dial_url(live.url("/auth/data"))
        # agent token (401 person-token), person token (401 auth-token), auth token (200)
        assert [url for _, url, _ in inner.seen] == [dial, dial, dial]
        assert all("Signature" in headers for _, _, headers in inner.seen)
        assert len({headers["Signature-Key"] for _, _, headers in inner.seen}) == 3
        # the application's request object is handed back as it came
        assert "Signature" not in outer.after[0]
        assert len(live.world.person_server.requests) == 3  # metadata, person, auth


async def test_per_request_middlewares() -> None:
    """The middleware also works per request (``middlewares=`` on one call)."""
    with live_world() as live:
        middleware = _middleware(live.agent())
        async with (
            aiohttp.ClientSession(timeout=_timeout()) as session,
            session.get(live.url("/agent"), middlewares=(middleware,)) as response,
        ):
            assert (await response.json())["as"] == "agent"


async def test_redirect_hops_are_signed_each() -> None:
    """aiohttp follows a redirect by running the middleware again: each hop is a new flow
    signed for its own URL."""
    routes = {
        "/moved": lambda request: HttpResponse(
            302, [("Location", "https://resource.example/agent/new")]
        )
    }
    with live_world(wrap=_wrap_paths(routes)) as live:
        recorder = Recorder()
        chain = (_middleware(live.agent()), recorder)
        async with (
            aiohttp.ClientSession(middlewares=chain, timeout=_timeout()) as session,
            session.get(live.url("/moved")) as response,
        ):
            assert response.status == 200
            assert (await response.json())["path"] == "/agent/new"
            assert len(response.history) == 1
        paths = [url.split("/", 3)[-1] for _, url, _ in recorder.seen]
        assert paths == ["moved", "agent/new"]
        assert all("Signature" in headers for _, _, headers in recorder.seen)


async def test_stale_connection_retry_reenters() -> None:
    """The application's own request dropped without an answer: aiohttp's error reaches the
    application, after aiohttp retried the idempotent request once (the middleware running
    again from the application's request)."""
    with live_world() as live:
        resource = live.world.resource
        resource.faults = [Fault.DROP, Fault.DROP]
        recorder = Recorder()
        chain = (recorder, _middleware(live.agent()))
        async with aiohttp.ClientSession(middlewares=chain, timeout=_timeout()) as session:
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await session.get(live.url("/agent"))
            assert len(recorder.seen) == 2
            resource.faults = [Fault.DROP]
            async with session.get(live.url("/agent")) as response:
                assert response.status == 200  # the retry got through
        assert len(resource.calls) == 1


async def test_transport_error_on_poll_is_the_engines() -> None:
    """A flow request other than the application's failing is the engine's
    :class:`TransportError`, with the aiohttp error as its cause and no URL path in it."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.APPROVAL
        ps.poll_faults = [Fault.DROP, Fault.DROP]  # aiohttp retries an idempotent GET once
        async with aiohttp.ClientSession(
            middlewares=(_middleware(live.agent()),), timeout=_timeout()
        ) as session:
            with pytest.raises(TransportError) as caught:
                await session.get(live.url("/person"))
        assert isinstance(caught.value.__cause__, aiohttp.ClientError)
        assert "/pending" not in caught.value.message


# ------------------------------------------------------------------ request bodies


async def test_bodies_in_memory_are_signed() -> None:
    """``bytes``, ``bytearray``, ``str``, ``json=`` and url-encoded forms are signed with
    their ``Content-Digest``; the resource verifies and sees the same bytes."""
    with live_world() as live:
        async with aiohttp.ClientSession(
            middlewares=(_middleware(live.agent()),), timeout=_timeout()
        ) as session:
            bodies: list[tuple[dict[str, Any], str]] = [
                ({"data": b"raw bytes"}, "raw bytes"),
                ({"data": bytearray(b"array")}, "array"),
                ({"data": "text \u00e9"}, "text \u00e9"),
                ({"json": {"a": 1}}, '{"a": 1}'),
                ({"data": {"k": "v w"}}, "k=v+w"),
            ]
            for kwargs, expected in bodies:
                async with session.post(live.url("/auth/items"), **kwargs) as response:
                    assert response.status == 200, await response.text()
                    assert (await response.json())["body"] == expected
        for request in live.world.resource.requests[-len(bodies) :]:
            assert "content-digest" in (request.header("signature-input") or "")


async def test_streaming_body_refused() -> None:
    """A body that is not in memory cannot be signed: a clear :class:`LocalError` before
    anything is sent."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"

    with live_world() as live:
        async with aiohttp.ClientSession(
            middlewares=(_middleware(live.agent()),), timeout=_timeout()
        ) as session:
            with pytest.raises(LocalError, match="BytesIOPayload body cannot be signed"):
                await session.post(live.url("/agent"), data=io.BytesIO(b"file"))
            with pytest.raises(LocalError, match="in memory"):
                await session.post(live.url("/agent"), data=chunks())
            with pytest.raises(LocalError, match="compress"):
                await session.post(live.url("/agent"), data=b"x" * 100, compress="deflate")
        assert live.world.resource.requests == []


# ------------------------------------------------------------------ callbacks, clock, sleep


async def test_async_callbacks() -> None:
    """``on_interaction`` and ``on_clarification`` may be coroutines."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.INTERACTION
        ps.auth_token_defer = Defer.CLARIFICATION
        shown: list[PromptInteraction] = []
        asked: list[PromptClarification] = []

        async def interact(prompt: PromptInteraction) -> None:
            await asyncio.sleep(0)
            shown.append(prompt)
            ps.approve(prompt.code)

        async def clarify(prompt: PromptClarification) -> str:
            await asyncio.sleep(0)
            asked.append(prompt)
            return "the blue one"

        middleware = _middleware(live.agent(), on_interaction=interact, on_clarification=clarify)
        async with (
            aiohttp.ClientSession(middlewares=(middleware,), timeout=_timeout()) as s,
            s.get(live.url("/auth")) as response,
        ):
            assert response.status == 200
        assert len(shown) == 1 and len(asked) == 1
        assert ps.clarification_answers == ["the blue one"]


async def test_without_callbacks() -> None:
    """No ``on_clarification``: the question is declined (the request cancelled). No
    ``on_interaction``: the flow stops with a :class:`LocalError` saying what is missing."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.CLARIFICATION
        async with aiohttp.ClientSession(
            middlewares=(_middleware(live.agent()),), timeout=_timeout()
        ) as session:
            with pytest.raises(Declined):
                await session.get(live.url("/person"))
            assert ps.last_pending.state == "cancelled"
            ps.person_token_defer = Defer.INTERACTION
            with pytest.raises(LocalError, match="on_interaction"):
                await session.get(live.url("/person"))


async def test_bad_clarification_answer() -> None:
    """A callback that answers something other than text is the application's mistake."""
    with live_world() as live:
        live.world.person_server.person_token_defer = Defer.CLARIFICATION
        middleware = _middleware(live.agent(), on_clarification=lambda prompt: 42)
        async with aiohttp.ClientSession(middlewares=(middleware,), timeout=_timeout()) as s:
            with pytest.raises(LocalError, match="str or None"):
                await s.get(live.url("/person"))


async def test_injected_clock_and_sleep() -> None:
    """The driver sleeps what the engine says (``Retry-After``, default 5 s when absent) with
    the sleep it was given, and reads time from its clock."""
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.APPROVAL
        ps.approval_polls = 2
        ps.retry_after = None  # -> the 5 s default
        slept: list[float] = []
        offset = [0.0]

        def clock() -> float:
            return time.time() + offset[0]

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            offset[0] += seconds

        middleware = _middleware(live.agent(), clock=clock, sleep=sleep)
        async with (
            aiohttp.ClientSession(middlewares=(middleware,), timeout=_timeout()) as s,
            s.get(live.url("/person")) as response,
        ):
            assert response.status == 200
        assert slept == [5, 5]


async def test_separate_session_for_flow_requests() -> None:
    """``session=``: the flow's own requests use that session, so the application session's
    default headers stay off the Person Server requests; without it they go along."""
    with live_world() as live:
        ps = live.world.person_server
        headers = {"X-App-Key": "for the resource only"}
        async with aiohttp.ClientSession(timeout=_timeout()) as flow_session:
            middleware = _middleware(live.agent(), session=flow_session)
            async with (
                aiohttp.ClientSession(
                    middlewares=(middleware,), headers=headers, timeout=_timeout()
                ) as session,
                session.get(live.url("/person")) as response,
            ):
                assert response.status == 200
            assert ps.requests and all(not r.has_header("x-app-key") for r in ps.requests)
            assert live.world.resource.requests[-1].has_header("x-app-key")
        async with (
            aiohttp.ClientSession(
                middlewares=(_middleware(live.agent()),), headers=headers, timeout=_timeout()
            ) as session,
            session.get(live.url("/person")) as response,
        ):
            assert response.status == 200
        assert ps.requests[-1].has_header("x-app-key")


def test_agent_required() -> None:
    """The middleware takes an :class:`~aauth.agent.Agent`."""
    with pytest.raises(LocalError, match="Agent"):
        AAuthClientMiddleware(object())  # type: ignore[arg-type]


# ------------------------------------------------------------------ answers and bodies


async def test_deliverable_200_is_streamed() -> None:
    """The resource's ``200`` is handed over unread: the application streams it, however
    large (the engine's body limit applies to bodies the engine reads)."""
    size = 200_000
    routes = {"/agent/stream": lambda request: HttpResponse(200, [], b"s" * size)}
    with live_world(wrap=_wrap_paths(routes)) as live:
        limits = AgentLimits(max_response_body=1024)
        async with (
            aiohttp.ClientSession(
                middlewares=(_middleware(live.agent(limits=limits)),), timeout=_timeout()
            ) as session,
            session.get(live.url("/agent/stream")) as response,
        ):
            got = 0
            async for chunk in response.content.iter_chunked(4096):
                got += len(chunk)
        assert got == size


async def test_plain_202_body_readable_again() -> None:
    """A ``202`` without AAuth is the resource's own answer: the engine read its body, and the
    application can still read it."""
    routes = {
        "/agent/queued": lambda request: HttpResponse(
            202, [("Content-Type", "application/json")], b'{"job": 7}'
        )
    }
    with live_world(wrap=_wrap_paths(routes)) as live:
        async with (
            aiohttp.ClientSession(
                middlewares=(_middleware(live.agent()),), timeout=_timeout()
            ) as session,
            session.get(live.url("/agent/queued")) as response,
        ):
            assert response.status == 202
            assert await response.json() == {"job": 7}


async def test_oversized_token_answer() -> None:
    """A token answer larger than the engine's limit is cut there and refused by the engine
    (the driver never reads it all)."""
    big = json.dumps({"person_token": "x" * 5000}).encode()

    def wrap(handle: Handler) -> Handler:
        def handler(request: HttpRequest, now: int) -> HttpResponse:
            if request.url.endswith("/person-token"):
                return HttpResponse(200, [("Content-Type", "application/json")], big)
            return handle(request, now)

        return handler

    with live_world(wrap={"https://ps.example": wrap}) as live:
        limits = AgentLimits(max_response_body=1024)
        async with aiohttp.ClientSession(
            middlewares=(_middleware(live.agent(limits=limits)),), timeout=_timeout()
        ) as session:
            with pytest.raises(Exception, match="larger than 1024 bytes"):
                await session.get(live.url("/person"))


# ------------------------------------------------------------------ conversions


async def _aiohttp_server(
    answer: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> tuple[TestServer, Callable[[], Awaitable[None]]]:
    """An aiohttp server on 127.0.0.1 answering every request with ``answer``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, server.close


async def _chunked_server(
    body: bytes, status: int = 202
) -> tuple[TestServer, Callable[[], Awaitable[None]]]:
    """A server answering every request with a chunked ``body``."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 700):
            await response.write(body[start : start + 700])
        await response.write_eof()
        return response

    return await _aiohttp_server(answer)


def _loopback_agent(**limits: int) -> Agent:
    """An agent for a resource on an ``http://127.0.0.1`` origin (development mode)."""
    world = make_world(start=int(time.time()))
    return Agent(
        StaticAgentCredentials(world.agent_key, world.agent_token()),
        limits=AgentLimits(**limits),
        allow_insecure_loopback_for_development=True,
    )


async def test_read_body_chunked() -> None:
    """Without ``Content-Length``: read up to the limit; a whole body stays readable, a longer
    one is cut at ``limit + 1`` bytes."""
    server, close = await _chunked_server(b"a" * 3000)
    try:
        async with aiohttp.ClientSession(timeout=_timeout()) as session:
            async with session.get(server.make_url("/")) as response:
                assert response.content_length is None
                body, whole = await read_body(response, 4096)
                assert whole and body == b"a" * 3000
                assert await response.read() == body
            async with session.get(server.make_url("/")) as response:
                body, whole = await read_body(response, 1024)
                assert not whole and len(body) == 1025
    finally:
        await close()


async def test_oversized_deliverable_is_closed() -> None:
    """A deliverable ``202`` whose body the engine cut at its limit: the application gets the
    response closed, so reading fails instead of returning a truncated body."""
    server, close = await _chunked_server(b"b" * 5000)
    agent = _loopback_agent(max_response_body=1024)
    try:
        async with aiohttp.ClientSession(
            middlewares=(_middleware(agent),), timeout=_timeout()
        ) as session:
            response = await session.get(server.make_url("/"))
            assert response.status == 202
            with pytest.raises(aiohttp.ClientConnectionError):
                await response.read()
    finally:
        await close()


async def test_body_cut_short() -> None:
    """The connection closes in the middle of a body the engine reads: the application gets
    aiohttp's payload error (its own request failed), and the response is closed."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=202)
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b"x" * 10)
        assert request.transport is not None
        request.transport.close()
        return response

    server, close = await _aiohttp_server(answer)
    try:
        async with aiohttp.ClientSession(
            middlewares=(_middleware(_loopback_agent()),), timeout=_timeout()
        ) as session:
            with pytest.raises(aiohttp.ClientPayloadError):
                await session.get(server.make_url("/"))
    finally:
        await close()


async def test_to_aauth_request_drops_host() -> None:
    """The conversion keeps the headers in order without ``Host`` (derived from the URL)."""
    captured: list[HttpRequest] = []

    async def capture(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        captured.append(await to_aauth_request(request))
        return await handler(request)

    server, close = await _chunked_server(b"", status=200)
    url = str(server.make_url("/p?q=1"))
    try:
        async with aiohttp.ClientSession(middlewares=(capture,), timeout=_timeout()) as session:
            headers = [("X-One", "1"), ("X-Two", "2"), ("X-One", "3")]
            async with session.post(url, headers=CIMultiDict(headers), data="hé") as response:
                assert response.status == 200
    finally:
        await close()
    request = captured[0]
    assert request.method == "POST"
    assert request.url == url
    assert not request.has_header("host")
    assert request.header_values("x-one") == ["1", "3"]
    assert request.body == "hé".encode()


def test_transport_reason() -> None:
    """Transport reasons name the failure, keep URLs to their origin, and stay short."""
    reason = transport_reason(
        aiohttp.ClientConnectionError("Connection timeout to host https://ps.example/pending/abc")
    )
    assert reason == "ClientConnectionError: Connection timeout to host https://ps.example"
    assert transport_reason(TimeoutError()) == "TimeoutError"
    assert len(transport_reason(OSError("x" * 500))) == 200
