"""``aauth_aiohttp`` server side: the shared binding scenarios through an aiohttp.web app
served by ``web.AppRunner`` on 127.0.0.1, and unit tests of the conversions, the body limit,
added headers (streamed answers too), held-call replay and the fetches."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import logging
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, ClientSession, web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from aiohttp.typedefs import Handler
from aiohttp.web_response import ContentCoding
from multidict import CIMultiDict, CIMultiDictProxy

from aauth.agent import Agent, StaticAgentCredentials
from aauth.discovery import DiscoveryCache, EgressPolicy, FetchPurpose
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import Ed25519Key
from aauth.resource import (
    AccessMode,
    CallApp,
    Exchange,
    Fetch,
    ResourcePolicy,
    ResourceServer,
    ResourceVerifier,
    Respond,
    Verified,
)
from aauth.signing import sign_request
from aauth_aiohttp import (
    IDENTITY_KEY,
    AAuthClientMiddleware,
    AAuthMiddleware,
    _fetch,
    get_identity,
)
from aauth_aiohttp._fetch import FetchFailure, fetch
from aauth_aiohttp._server_convert import (
    captured_response,
    held_request,
    request_url,
    to_http_request,
    to_web_response,
)
from tests.bindings.harness import Clock, EchoApp
from tests.bindings.scenarios import SCENARIOS, Scenario, scenario_id
from tests.fakes import FakeAgentProvider, serve
from tests.fakes._common import path_of


def echo_app(server: ResourceServer, clock: Clock, echo: EchoApp) -> web.Application:
    """The shared echo app as a native aiohttp.web application behind the middleware."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        answer = echo.respond(
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            body,
            get_identity(request),
        )
        return native(answer)

    app = web.Application()
    AAuthMiddleware(server, clock=clock).install(app)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def native(answer: HttpResponse) -> web.Response:
    """A neutral response as the handler's own ``web.Response``."""
    return web.Response(status=answer.status, headers=list(answer.headers), body=answer.body)


@contextmanager
def serve_app(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a port the OS picks) from an event loop in a background
    thread; yield ``http://127.0.0.1:PORT``; stop and join on exit."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    thread = threading.Thread(target=loop.run_forever, name="aiohttp-resource", daemon=True)
    thread.start()

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    try:
        base = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        yield base
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass
class AiohttpAdapter:
    """:class:`~tests.bindings.harness.ResourceBindingAdapter` for ``aauth_aiohttp``."""

    name: str = "aiohttp"

    @contextmanager
    def serve(self, server: ResourceServer, clock: Clock) -> Iterator[str]:
        """Serve the echo app behind :class:`AAuthMiddleware` on 127.0.0.1."""
        with serve_app(echo_app(server, clock, EchoApp())) as base:
            yield base


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario(scenario: Scenario) -> None:
    """The scenario passes through the aiohttp binding."""
    scenario(AiohttpAdapter())


# ============================================================================================
# unit tests


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio."""
    return "asyncio"


LOOPBACK = EgressPolicy(allow_insecure_loopback_for_development=True)
RESOURCE_AUTHORITY = "resource.example"
RESOURCE = f"https://{RESOURCE_AUTHORITY}"
AP = "https://agent.example"


# -- conversions -----------------------------------------------------------------------------


def test_request_url_keeps_the_target_as_received() -> None:
    request = make_mocked_request("GET", "/a%20b/c?q=1&r=%2F", headers={"Host": "api.test:8080"})
    assert request_url(request) == "http://api.test:8080/a%20b/c?q=1&r=%2F"
    secure = request.clone(scheme="https")  # what a forwarded-headers middleware does
    assert request_url(secure) == "https://api.test:8080/a%20b/c?q=1&r=%2F"
    absolute = make_mocked_request("GET", "http://api.test/x?y", headers={"Host": "api.test"})
    assert request_url(absolute) == "http://api.test/x?y"
    star = make_mocked_request("OPTIONS", "*", headers={"Host": "api.test"})
    assert request_url(star) == "http://api.test/"


def test_to_http_request_keeps_order_duplicates_and_bytes() -> None:
    headers = CIMultiDict(
        [("Host", "api.test"), ("X-A", "1"), ("x-b", "2"), ("X-A", "3"), ("X-U", "é")]
    )
    request = make_mocked_request("POST", "/p", headers=headers)
    converted = to_http_request(request, b"body")
    assert converted.method == "POST"
    assert converted.url == "http://api.test/p"
    assert converted.body == b"body"
    assert converted.headers == (
        ("Host", "api.test"),
        ("X-A", "1"),
        ("x-b", "2"),
        ("X-A", "3"),
        ("X-U", "Ã©"),  # the UTF-8 bytes on the wire, one Latin-1 character each
    )


def test_to_web_response_leaves_framing_to_aiohttp() -> None:
    neutral = HttpResponse(
        201,
        [("Content-Length", "99"), ("X-A", "1"), ("Transfer-Encoding", "chunked"), ("X-A", "2")],
        b"abc",
    )
    response = to_web_response(neutral)
    assert response.status == 201
    assert response.body == b"abc"
    assert response.headers.getall("X-A") == ["1", "2"]
    assert "Content-Length" not in response.headers
    assert "Transfer-Encoding" not in response.headers


async def test_captured_response_of_each_kind(anyio_backend: str) -> None:
    text = web.Response(text="hi", status=202, headers={"X-A": "1", "Content-Length": "2"})
    text.set_cookie("c", "v")
    answer = await captured_response(text)
    assert answer is not None
    assert (answer.status, answer.body) == (202, b"hi")
    assert answer.header("x-a") == "1"
    assert answer.header("content-type") == "text/plain; charset=utf-8"
    assert answer.header("content-length") is None
    assert answer.header_values("set-cookie") == ["c=v; Path=/"]
    empty = await captured_response(web.Response(status=204))
    assert empty is not None and (empty.status, empty.body) == (204, b"")
    payload = await captured_response(web.Response(body=io.BytesIO(b"from a file object")))
    assert payload is not None and payload.body == b"from a file object"
    raw = web.Response()
    raw.body = bytearray(b"ba")
    mutable = await captured_response(raw)
    assert mutable is not None and mutable.body == b"ba"
    assert await captured_response(web.StreamResponse()) is None
    assert await captured_response(web.FileResponse(__file__)) is None
    sent = web.Response(text="sent")
    await sent.prepare(make_mocked_request("GET", "/"))
    assert await captured_response(sent) is None


def test_held_request_carries_the_held_call() -> None:
    wire = make_mocked_request("GET", "/pending/1", headers={"Host": "api.test"})
    held = HttpRequest("POST", "http://api.test/data/x%20y?z=1", [("X-H", "1")], b"{}")
    copy = held_request(wire, held)
    assert copy is not None
    assert (copy.method, copy.raw_path, copy.headers["X-H"]) == ("POST", "/data/x%20y?z=1", "1")
    assert copy.host == "api.test" or copy.host  # the poll's connection
    odd = held_request(wire, HttpRequest("GET", "not a url"))
    assert odd is not None and odd.raw_path == "/"


async def test_held_request_refused_after_an_earlier_read(anyio_backend: str) -> None:
    protocol = mock.Mock(_reading_paused=False)
    payload = StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(b"wire body")
    payload.feed_eof()
    wire = make_mocked_request("POST", "/pending/1", headers={"Host": "a"}, payload=payload)
    assert await wire.read() == b"wire body"
    assert held_request(wire, HttpRequest("GET", "http://a/x")) is None


# -- fetches ---------------------------------------------------------------------------------


def fake_resolver(answers: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    async def resolve(host: str, port: int) -> list[str]:
        del port
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


def fetch_action(url: str, *, egress: EgressPolicy = LOOPBACK, **options: Any) -> Fetch:
    return Fetch(
        url="https://ap.test/doc",
        dial_url=url,
        purpose=FetchPurpose.METADATA,
        timeout=options.get("timeout", 5.0),
        max_bytes=options.get("max_bytes", 9),
        egress=egress,
    )


@asynccontextmanager
async def document_server() -> AsyncIterator[tuple[int, list[web.Request]]]:
    """A local document server (``/ok``, ``/big``, ``/gzip``, ``/slow``, ``/moved``);
    yields its port and the requests it got."""
    seen: list[web.Request] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        name = request.path
        if name == "/big":
            return web.Response(body=b"x" * 10)
        if name == "/gzip":
            return web.Response(body=b"..", headers={"Content-Encoding": "gzip"})
        if name == "/slow":
            await asyncio.sleep(5)
        if name == "/moved":
            return web.Response(status=302, headers={"Location": "/ok"})
        return web.Response(body=b"x" * 9, headers={"Cache-Control": "max-age=60"})

    app = web.Application()
    app.router.add_get("/{name}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        assert server.port is not None
        yield server.port, seen


async def test_fetch_pins_the_admitted_address(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fetch, "_getaddrinfo", fake_resolver({"ap.test": ["127.0.0.1"] * 2}))
    async with document_server() as (port, seen):
        result = await fetch(fetch_action(f"http://ap.test:{port}/ok"))
    assert (result.status, result.body) == (200, b"x" * 9)  # exactly the limit is fine
    assert ("Cache-Control", "max-age=60") in result.headers
    (request,) = seen
    assert request.headers["Host"] == f"ap.test:{port}"  # the name, dialled at its address
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Accept-Encoding"] == "identity"


async def test_fetch_refuses_a_private_address_before_connecting(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        _fetch, "_getaddrinfo", fake_resolver({"ap.test": ["127.0.0.1", "10.0.0.7"]})
    )
    async with document_server() as (port, seen):
        with pytest.raises(FetchFailure, match=r"^egress refused: .* a private address$") as info:
            await fetch(fetch_action(f"http://ap.test:{port}/ok"))
    assert "10.0.0.7" not in info.value.reason  # the reason may reach the peer
    assert seen == []


async def test_fetch_refuses_loopback_unless_development(anyio_backend: str) -> None:
    async with document_server() as (port, seen):
        with pytest.raises(FetchFailure, match="egress refused"):
            await fetch(fetch_action(f"http://127.0.0.1:{port}/ok", egress=EgressPolicy()))
        assert seen == []
        result = await fetch(fetch_action(f"http://127.0.0.1:{port}/ok"))
    assert result.status == 200


async def test_fetch_tries_the_next_address_when_connecting_fails(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing listens on 127.0.0.2 at that port; 127.0.0.1 answers
    monkeypatch.setattr(
        _fetch, "_getaddrinfo", fake_resolver({"ap.test": ["127.0.0.2", "127.0.0.1"]})
    )
    async with document_server() as (port, seen):
        result = await fetch(fetch_action(f"http://ap.test:{port}/ok"))
        assert result.status == 200 and len(seen) == 1
        monkeypatch.setattr(_fetch, "_getaddrinfo", fake_resolver({"ap.test": ["127.0.0.2"]}))
        with pytest.raises(FetchFailure, match="request failed: ClientConnectorError"):
            await fetch(fetch_action(f"http://ap.test:{port}/ok"))


async def test_fetch_uses_a_given_session_without_its_middlewares(anyio_backend: str) -> None:
    called: list[object] = []

    async def recorder(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        called.append(request)
        return await handler(request)

    async with document_server() as (port, seen), ClientSession(middlewares=(recorder,)) as session:
        await session.get(f"http://127.0.0.1:{port}/ok")
        assert len(called) == 1
        result = await fetch(fetch_action(f"http://127.0.0.1:{port}/moved"), session)
    assert result.status == 302  # redirects are answers, not followed
    assert ("Location", "/ok") in result.headers
    assert len(called) == 1 and len(seen) == 2


async def test_fetch_failures(anyio_backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        _fetch,
        "_getaddrinfo",
        fake_resolver(
            {
                "ap.test": ["127.0.0.1"],
                "none.test": [],
                "odd.test": ["fe80::1%eth0"],
                "junk.test": ["not-an-ip"],
            }
        ),
    )

    async def failing(path: str, **options: Any) -> str:
        with pytest.raises(FetchFailure) as info:
            await fetch(fetch_action(path.replace("PORT", str(port)), **options))
        return info.value.reason

    async with document_server() as (port, _):
        assert await failing("http://ap.test:PORT/big") == "answer larger than 9 bytes"
        assert "Content-Encoding 'gzip'" in await failing("http://ap.test:PORT/gzip")
        assert await failing("http://ap.test:PORT/slow", timeout=0.2) == "no answer within 0.2 s"
        assert "cannot resolve unknown.test" in await failing("http://unknown.test/x")
        assert await failing("http://none.test/x") == (
            "egress refused: the host resolves to no address"
        )
        assert "link-local" in await failing("http://odd.test/x")  # zone index dropped
        assert "not an IP address" in await failing("http://junk.test/x")
        assert await failing("ftp://ap.test/x") == "the fetch URL is not an absolute http(s) URL"
        assert await failing("http:///x") == "the fetch URL is not an absolute http(s) URL"
        assert await failing("http://[::1/x") == "the fetch URL is not valid"
        # TLS to a plain-HTTP server: the handshake fails, no answer
        assert "request failed" in await failing("https://ap.test:PORT/ok")


# -- the middleware, with our engine -----------------------------------------------------------


def resource_server(
    *, transport_map: dict[str, str] | None = None, egress: EgressPolicy = LOOPBACK
) -> ResourceServer:
    """Our engine at :data:`RESOURCE`: ``/agent`` (agent token), ``/public`` (open)."""
    verifier = ResourceVerifier(
        RESOURCE,
        Ed25519Key.from_seed(bytes(32)),
        "resource-key-1",
        {"/agent": ResourcePolicy(mode=AccessMode.AGENT_TOKEN)},
        DiscoveryCache(egress=egress),
    )
    return ResourceServer(
        verifier,
        new_secret=lambda: secrets.token_urlsafe(24),
        transport_map=transport_map,
        egress=egress,
        fetch_timeout=5.0,
        public_paths=("/public",),
    )


@dataclass
class Seen:
    """What the application's handlers saw."""

    requests: list[web.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    identities: list[Verified | None] = field(default_factory=list)


def application(
    middleware: AAuthMiddleware,
    seen: Seen,
    *,
    install: bool = True,
    before: Sequence[Any] = (),
    after: Sequence[Any] = (),
) -> web.Application:
    """An app with ``before`` + the middleware + ``after``; routes: ``/stream`` (prepares
    its answer in chunks), ``/raise`` (raises 404), ``/boom`` (raises RuntimeError),
    ``/file`` (a FileResponse), ``/zip`` (streams compressed), anything else echoes."""

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.requests.append(request)
        seen.bodies.append(await request.read())
        seen.identities.append(get_identity(request))
        if request.path.endswith("/stream"):
            response = web.StreamResponse(status=200, headers={"X-App": "1"})
            await response.prepare(request)
            await response.write(b"chunk 1, ")
            await response.write(b"chunk 2")
            await response.write_eof()
            return response
        if request.path.endswith("/raise"):
            raise web.HTTPNotFound(text="nothing here")
        if request.path.endswith("/boom"):
            raise RuntimeError("the application failed")
        if request.path.endswith("/file"):
            return web.FileResponse(__file__)
        if request.path.endswith("/zip"):
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            response.enable_compression(force=ContentCoding.gzip)
            await response.prepare(request)
            for _ in range(10):
                await response.write(b"plain text, ")
            return response  # aiohttp (or the binding) finishes it
        return web.Response(
            status=200, text=f"{request.method} {request.raw_path}", headers={"X-App": "1"}
        )

    app = web.Application(middlewares=[*before])
    if install:
        middleware.install(app)
    else:
        app.middlewares.append(middleware)
    app.middlewares.extend(after)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@asynccontextmanager
async def client_for(
    app: web.Application,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def agent_for(ap: FakeAgentProvider, origin: str) -> Agent:
    """An agent with an agent token of ``ap`` that reaches :data:`RESOURCE` at ``origin``."""
    key = ap.agent_key()
    token = ap.mint(key, now=int(time.time()))
    return Agent(StaticAgentCredentials(key, token), transport_map={RESOURCE: origin})


async def test_an_agent_is_verified_and_the_app_reads_the_body(anyio_backend: str) -> None:
    ap = FakeAgentProvider(AP)
    seen = Seen()
    outer: list[Verified | None] = []

    @web.middleware
    async def before(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        outer.append(get_identity(request))
        return response

    with serve(ap.handle, time.time) as served:
        middleware = AAuthMiddleware(resource_server(transport_map={AP: served.origin}))
        async with client_for(application(middleware, seen, before=[before])) as client:
            agent = agent_for(ap, str(client.make_url("")).rstrip("/"))
            signer = AAuthClientMiddleware(agent)
            async with ClientSession(middlewares=(signer,)) as session:
                first = await session.post(f"{RESOURCE}/agent/x?q=1", data=b"payload")
                second = await session.get(f"{RESOURCE}/agent/y")
                assert (first.status, await first.text()) == (200, "POST /agent/x?q=1")
                assert second.status == 200
    assert seen.bodies == [b"payload", b""]
    identity = seen.identities[0]
    assert identity is not None and identity.agent == ap.agent_id
    assert identity.mode is AccessMode.AGENT_TOKEN
    assert seen.requests[0][IDENTITY_KEY] is identity
    assert outer == seen.identities  # the middlewares before ours see it too
    # metadata and JWKS fetched once, with aiohttp, then cached by the engine
    assert [path_of(r.url) for r in ap.requests] == ["/.well-known/aauth-agent.json", "/jwks.json"]


async def test_the_engine_answers_unsigned_and_well_known_requests(anyio_backend: str) -> None:
    seen = Seen()
    async with client_for(application(AAuthMiddleware(resource_server()), seen)) as client:
        unsigned = await client.get("/agent/x")
        assert unsigned.status == 401
        assert "requirement=agent-token" in unsigned.headers["AAuth-Requirement"]
        metadata = await client.get("/.well-known/aauth-resource.json")
        assert metadata.status == 200
        assert (await metadata.json())["issuer"] == RESOURCE
        missing = await client.get("/nowhere")
        assert missing.status == 404
        public = await client.post("/public/p", data=b"open")
        assert (public.status, await public.text()) == (200, "POST /public/p")
    assert seen.bodies == [b"open"]
    assert seen.identities == [None]


async def test_request_bodies_over_the_limit_are_413(anyio_backend: str) -> None:
    seen = Seen()
    middleware = AAuthMiddleware(resource_server(), max_body=10)
    async with client_for(application(middleware, seen)) as client:
        exact = await client.post("/public/p", data=b"x" * 10)
        assert exact.status == 200
        over = await client.post("/public/p", data=b"x" * 11)
        assert over.status == 413

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"x" * 5

        chunked = await client.post("/public/p", data=chunks())
        assert chunked.status == 413
    assert seen.bodies == [b"x" * 10]


@web.middleware
async def reads_first(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An earlier middleware that reads the body itself."""
    await request.read()
    return await handler(request)


async def test_a_body_read_by_an_earlier_middleware(anyio_backend: str) -> None:
    seen = Seen()
    middleware = AAuthMiddleware(resource_server(), max_body=10)
    app = application(middleware, seen, before=[reads_first])
    async with client_for(app) as client:
        ok = await client.post("/public/p", data=b"early")
        assert (ok.status, await ok.text()) == (200, "POST /public/p")
        over = await client.post("/public/p", data=b"x" * 11)
        assert over.status == 413
    assert seen.bodies == [b"early"]
    assert seen.requests[0].get(IDENTITY_KEY, "unset") is None


async def test_a_refused_fetch_fails_the_request_and_logs_no_token(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    ap = FakeAgentProvider(AP)
    key = ap.agent_key()
    token = ap.mint(key, now=int(time.time()))
    seen = Seen()
    with serve(ap.handle, time.time) as served:
        # production egress: the AP's loopback address is refused before connecting
        server = resource_server(transport_map={AP: served.origin}, egress=EgressPolicy())
        async with client_for(application(AAuthMiddleware(server), seen)) as client:
            # signed for the resource's own authority (sent as Host), so only egress refuses
            request = sign_request(
                HttpRequest("GET", f"{RESOURCE}/agent", [("Host", RESOURCE_AUTHORITY)]),
                key,
                signature_key=token,
                created=int(time.time()),
            )
            with caplog.at_level(logging.DEBUG, logger="aauth_aiohttp"):
                response = await client.get("/agent", headers=list(request.headers))
            assert response.status == 401
            assert response.headers["Signature-Error"].startswith("error=")
    assert ap.requests == []
    assert seen.requests == []
    assert "egress refused" in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_constructor_checks_and_install() -> None:
    server = resource_server()
    with pytest.raises(LocalError, match="ResourceServer"):
        AAuthMiddleware(object())  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="ClientSession"):
        AAuthMiddleware(server, fetch_session=object())  # type: ignore[arg-type]
    for bad in (-1, 0, True, 1.5):
        with pytest.raises(LocalError, match="max_body"):
            AAuthMiddleware(server, max_body=bad)  # type: ignore[arg-type]
    middleware = AAuthMiddleware(server)
    app = web.Application()
    middleware.install(app)
    assert list(app.middlewares) == [middleware]
    assert middleware.on_response_prepare in app.on_response_prepare


def test_get_identity() -> None:
    request = make_mocked_request("GET", "/")
    assert get_identity(request) is None
    request[IDENTITY_KEY] = "not an identity"
    assert get_identity(request) is None


# -- held calls and added headers: a scripted exchange ---------------------------------------


class ScriptedExchange(Exchange):
    """Hands out ``actions`` in order and records what the middleware reports."""

    def __init__(self, request: HttpRequest, actions: list[Any], reports: list[Any]) -> None:
        self.request = request  # no engine state
        self.actions = actions
        self.reports = reports

    def next_action(self) -> Any:
        return self.actions.pop(0)

    def app_responded(self, response: HttpResponse, *, now: int) -> Any:
        self.reports.append(response)
        return self.actions.pop(0)


class ScriptedServer(ResourceServer):
    """A real :class:`ResourceServer` whose exchanges follow a script."""

    def __init__(self, script: Callable[[HttpRequest], list[Any]]) -> None:
        base = resource_server()
        super().__init__(base.verifier, new_secret=base.new_secret)
        self.script = script
        self.reports: list[Any] = []

    def receive(self, request: HttpRequest, now: int) -> Exchange:
        return ScriptedExchange(request, self.script(request), self.reports)


ACCESS = (("AAuth-Access", "session-token-value"),)
STORED = HttpResponse(201, [("X-Stored", "1")], b"stored answer")


def wire_call(*, add_headers: tuple[tuple[str, str], ...] = ACCESS) -> Callable[..., list[Any]]:
    def script(request: HttpRequest) -> list[Any]:
        return [CallApp(request=request, identity=None, add_headers=add_headers)]

    return script


def held_call(path: str, *after: Any, capture: bool = True) -> Callable[..., list[Any]]:
    def script(request: HttpRequest) -> list[Any]:
        origin = "/".join(request.url.split("/")[:3])
        held = HttpRequest(
            "POST",
            f"{origin}{path}?year=2026",
            [("Host", "held.test"), ("Content-Type", "application/json"), ("X-Held", "yes")],
            b'{"held":true}',
        )
        return [CallApp(request=held, identity=None, add_headers=ACCESS, capture=capture), *after]

    return script


async def run_script(
    script: Callable[..., list[Any]],
    path: str,
    *,
    install: bool = True,
    before: Sequence[Any] = (),
    after: Sequence[Any] = (),
    data: bytes = b"",
) -> tuple[int, CIMultiDictProxy[str], bytes, Seen, ScriptedServer]:
    server = ScriptedServer(script)
    seen = Seen()
    app = application(AAuthMiddleware(server), seen, install=install, before=before, after=after)
    async with client_for(app) as client:
        response = await client.post(path, data=data) if data else await client.get(path)
        body = await response.read()
    return response.status, response.headers, body, seen, server


async def test_added_headers_reach_a_returned_answer(anyio_backend: str) -> None:
    status, headers, body, _, _ = await run_script(wire_call(), "/x", install=False)
    assert (status, body) == (200, b"GET /x")
    assert headers.getall("AAuth-Access") == ["session-token-value"]
    status, headers, _, _, _ = await run_script(wire_call(add_headers=()), "/x")
    assert status == 200 and "AAuth-Access" not in headers


async def test_added_headers_reach_a_streamed_answer(anyio_backend: str) -> None:
    status, headers, body, _, _ = await run_script(wire_call(), "/stream")
    assert (status, body) == (200, b"chunk 1, chunk 2")
    assert headers.getall("AAuth-Access") == ["session-token-value"]
    assert headers["X-App"] == "1"


async def test_a_streamed_answer_without_install_is_logged(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aauth_aiohttp"):
        status, headers, body, _, _ = await run_script(wire_call(), "/stream", install=False)
    assert (status, body) == (200, b"chunk 1, chunk 2")
    assert "AAuth-Access" not in headers
    assert "AAuth-Access not added to a streamed answer" in caplog.text
    assert "session-token-value" not in caplog.text


async def test_added_headers_reach_a_raised_http_exception(anyio_backend: str) -> None:
    for install in (True, False):
        status, headers, body, _, _ = await run_script(wire_call(), "/raise", install=install)
        assert (status, body) == (404, b"nothing here")
        assert headers.getall("AAuth-Access") == ["session-token-value"]
    status, headers, _, _, _ = await run_script(wire_call(add_headers=()), "/raise")
    assert status == 404 and "AAuth-Access" not in headers


async def test_a_held_call_runs_the_original_request_buffered(anyio_backend: str) -> None:
    status, headers, body, seen, server = await run_script(
        held_call("/deferred/report", Respond(STORED)), "/pending/abc"
    )
    # the client gets what the engine answers ...
    assert (status, headers["X-Stored"], body) == (201, "1", b"stored answer")
    # ... after the application ran the held request, routed afresh
    (request,) = seen.requests
    assert (request.method, request.raw_path) == ("POST", "/deferred/report?year=2026")
    assert request.headers["X-Held"] == "yes" and request.headers["Host"] == "held.test"
    assert await request.json() == {"held": True}
    assert request.match_info["tail"] == "deferred/report"
    assert seen.bodies == [b'{"held":true}']
    # the engine got the application's whole answer, without the added headers (it adds them)
    (answer,) = server.reports
    assert (answer.status, answer.body) == (200, b"POST /deferred/report?year=2026")
    assert answer.header("x-app") == "1"
    assert answer.header("aauth-access") is None


async def test_a_held_call_runs_the_middlewares_after_ours(anyio_backend: str) -> None:
    paths: list[tuple[str, str]] = []

    def recording(name: str) -> Any:
        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            paths.append((name, request.raw_path))
            return await handler(request)

        return record

    status, _, _, _, _ = await run_script(
        held_call("/deferred/report", Respond(STORED)),
        "/pending/abc",
        before=[recording("before")],
        after=[recording("after")],
    )
    assert status == 201
    assert paths == [("before", "/pending/abc"), ("after", "/deferred/report?year=2026")]


async def test_a_held_call_in_a_sub_application(anyio_backend: str) -> None:
    # our middleware on a sub-application; the held route resolves at the root
    server = ScriptedServer(held_call("/elsewhere", Respond(STORED)))
    seen = Seen()
    sub = application(AAuthMiddleware(server), seen)
    root = web.Application()

    async def elsewhere(request: web.Request) -> web.Response:
        seen.requests.append(request)
        return web.Response(text="root handler")

    root.router.add_route("*", "/elsewhere", elsewhere)
    root.add_subapp("/sub/", sub)
    async with client_for(root) as client:
        response = await client.get("/sub/pending/abc")
        assert response.status == 201
    (answer,) = server.reports
    assert answer.body == b"root handler"


async def test_a_held_call_answer_that_cannot_be_held_is_stored_as_500(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="aauth_aiohttp"):
        for path, status in (("/h/raise", 404), ("/h/boom", 500), ("/h/file", 500)):
            got, _, body, _, server = await run_script(
                held_call(path, Respond(STORED)), "/pending/abc"
            )
            assert (got, body) == (201, b"stored answer")
            (answer,) = server.reports
            assert answer.status == status
    assert "the handler of a held call failed" in caplog.text
    assert "(FileResponse) cannot be buffered" in caplog.text
    assert "RuntimeError: the application failed" in caplog.text


async def test_a_held_call_answer_streamed_by_the_handler_is_buffered(anyio_backend: str) -> None:
    for install in (True, False):
        status, headers, body, _, server = await run_script(
            held_call("/h/stream", Respond(STORED)), "/pending/abc", install=install
        )
        # nothing the handler streamed reached the wire: the client gets the engine's answer
        assert (status, body) == (201, b"stored answer")
        assert "X-App" not in headers
        (answer,) = server.reports
        assert (answer.status, answer.body) == (200, b"chunk 1, chunk 2")
        assert answer.header("x-app") == "1"
        for sender in ("date", "server", "transfer-encoding", "content-length", "aauth-access"):
            assert answer.header(sender) is None


async def test_a_held_call_answer_compressed_by_the_handler_is_kept_plain(
    anyio_backend: str,
) -> None:
    status, _, _, _, server = await run_script(held_call("/h/zip", Respond(STORED)), "/pending/abc")
    assert status == 201
    (answer,) = server.reports
    assert (answer.status, answer.body) == (200, b"plain text, " * 10)
    assert answer.header("content-encoding") is None
    assert answer.header("content-type") == "text/plain"


async def test_a_held_call_after_an_earlier_read_of_the_poll_body(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="aauth_aiohttp"):
        status, _, body, seen, server = await run_script(
            held_call("/deferred/report", Respond(STORED)),
            "/pending/abc",
            before=[reads_first],
            data=b"a poll with a body",
        )
        assert (status, body) == (201, b"stored answer")
        assert server.reports[0].status == 500 and seen.requests == []
        status, _, _, _, _ = await run_script(
            held_call("/deferred/report", capture=False),
            "/pending/abc",
            before=[reads_first],
            data=b"a poll with a body",
        )
        assert status == 500
    assert "held request cannot be rebuilt" in caplog.text


async def test_a_held_call_streamed_through(anyio_backend: str) -> None:
    status, headers, body, seen, _ = await run_script(
        held_call("/deferred/stream", capture=False), "/pending/abc"
    )
    assert (status, body) == (200, b"chunk 1, chunk 2")
    assert headers["AAuth-Access"] == "session-token-value"
    assert seen.requests[0].method == "POST"


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "aiohttp_resource.py"


# -- the example -----------------------------------------------------------------------------


async def test_the_example_builds_an_app(anyio_backend: str) -> None:
    spec = importlib.util.spec_from_file_location("aiohttp_resource", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    app = example.make_app()
    assert any(isinstance(m, AAuthMiddleware) for m in app.middlewares)
    async with client_for(app) as client:
        metadata = await client.get("/.well-known/aauth-resource.json")
        assert metadata.status == 200
        unsigned = await client.get("/whoami")
        assert unsigned.status == 401
