"""``aauth_asgi``: conversions, fetches, the middleware loop (unit), and the shared binding
scenarios through a Starlette app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import datetime
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpcore
import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from aauth.agent import Agent, StaticAgentCredentials
from aauth.discovery import DiscoveryCache, EgressPolicy
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import Ed25519Key
from aauth.resource import (
    AccessMode,
    CallApp,
    Exchange,
    ResourcePolicy,
    ResourceServer,
    ResourceVerifier,
    Respond,
    Verified,
)
from aauth.signing import sign_request
from aauth_asgi import AAuthMiddleware, get_identity
from aauth_asgi._convert import (
    MissingHost,
    adding_headers,
    app_scope,
    content_length,
    encode_headers,
    replaying,
    request_url,
    send_response,
    to_http_request,
)
from aauth_asgi._fetch import FetchFailure, PinnedBackend, fetch
from aauth_httpx import AAuth
from tests.bindings.harness import CALL_TIMEOUT, Clock, EchoApp
from tests.bindings.scenarios import SCENARIOS, Scenario, scenario_id
from tests.fakes import FakeAgentProvider, serve
from tests.fakes._common import path_of

LOOPBACK = EgressPolicy(allow_insecure_loopback_for_development=True)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on asyncio and on trio."""
    return str(request.param)


def http_scope(
    path: str = "/x",
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An HTTP scope as uvicorn builds it (``raw_path`` and ``path`` include ``root_path``)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"api.test:8080")] if headers is None else headers,
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
    }
    scope.update(extra)
    return scope


class Sent:
    """A ``send`` that records messages."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: Any) -> None:
        self.messages.append(dict(message))

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


# -- conversions -----------------------------------------------------------------------------


def test_request_url_from_the_host_header_raw_path_and_query() -> None:
    scope = http_scope(
        "/a b/c",
        raw_path=b"/a%20b/c",
        query_string=b"q=1&r=%2F",
        scheme="https",
    )
    assert request_url(scope) == "https://api.test:8080/a%20b/c?q=1&r=%2F"


def test_request_url_keeps_root_path_once() -> None:
    # uvicorn --root-path: path and raw_path already include it
    scope = http_scope("/api/items", root_path="/api")
    assert request_url(scope) == "http://api.test:8080/api/items"
    # an older server: the mount point only in root_path
    older = http_scope("/items", root_path="/api")
    assert request_url(older) == "http://api.test:8080/api/items"


def test_request_url_without_raw_path_encodes_the_decoded_path() -> None:
    scope = http_scope("/x")
    del scope["raw_path"]
    scope["path"] = "/a b/%41"
    scope["root_path"] = "/r t"
    assert request_url(scope) == "http://api.test:8080/r%20t/a%20b/%2541"
    scope["path"] = ""
    scope["root_path"] = ""
    assert request_url(scope) == "http://api.test:8080/"


def test_request_url_from_the_server_address_without_host() -> None:
    assert request_url(http_scope(headers=[(b"x-host", b"h")])) == "http://127.0.0.1:8080/x"
    assert request_url(http_scope(headers=[], server=("10.0.0.1", 80))) == "http://10.0.0.1/x"
    assert (
        request_url(http_scope(headers=[], scheme="https", server=("::1", 443)))
        == "https://[::1]/x"
    )
    assert request_url(http_scope(headers=[], server=("sock", None))) == "http://sock/x"
    with pytest.raises(MissingHost):
        request_url(http_scope(headers=[], server=None))


def test_to_http_request_keeps_header_order_and_latin1() -> None:
    scope = http_scope(
        method="POST",
        headers=[
            (b"host", b"api.test"),
            (b"x-b", b"2"),
            (b"x-a", b"caf\xe9"),
            (b"x-b", b"1"),
        ],
    )
    request = to_http_request(scope, b"body")
    assert request.method == "POST"
    assert request.url == "http://api.test/x"
    assert request.headers == (("host", "api.test"), ("x-b", "2"), ("x-a", "café"), ("x-b", "1"))
    assert request.body == b"body"


def test_content_length() -> None:
    assert content_length(http_scope(headers=[(b"content-length", b"12")])) == 12
    assert content_length(http_scope(headers=[])) is None
    assert content_length(http_scope(headers=[(b"content-length", b"-1")])) is None
    twice = [(b"content-length", b"1"), (b"content-length", b"1")]
    assert content_length(http_scope(headers=twice)) is None


def test_app_scope_is_a_copy_for_the_wire_request() -> None:
    scope = http_scope()
    wire = to_http_request(scope, b"")
    child = app_scope(scope, wire, wire)
    assert child == scope
    assert child is not scope


def test_app_scope_for_a_held_request() -> None:
    scope = http_scope("/pending/abc", extensions={})
    wire = to_http_request(scope, b"")
    held = HttpRequest(
        "POST",
        "http://api.test:8080/data/a%2Fb%20c?x=1&y=%20",
        [("Host", "api.test:8080"), ("Content-Type", "application/json")],
        b"{}",
    )
    child = app_scope(scope, wire, held)
    assert child["method"] == "POST"
    assert child["path"] == "/data/a/b c"
    assert child["raw_path"] == b"/data/a%2Fb%20c"
    assert child["query_string"] == b"x=1&y=%20"
    assert child["headers"] == [(b"host", b"api.test:8080"), (b"content-type", b"application/json")]
    assert child["server"] == scope["server"]
    assert scope["method"] == "GET"  # the original is unchanged
    bare = app_scope(scope, wire, HttpRequest("GET", "http://api.test"))
    assert bare["path"] == "/"
    assert bare["raw_path"] == b"/"


async def test_replaying_hands_the_body_then_the_server_messages(anyio_backend: str) -> None:
    async def server_receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    receive = replaying(b"abc", server_receive)
    assert await receive() == {"type": "http.request", "body": b"abc", "more_body": False}
    assert await receive() == {"type": "http.disconnect"}


async def test_adding_headers_only_to_the_start_message(anyio_backend: str) -> None:
    sent = Sent()
    send = adding_headers(sent, [("AAuth-Access", "tok")])
    start = {"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]}
    await send(start)
    await send({"type": "http.response.body", "body": b"x", "more_body": True})
    await send({"type": "http.response.start", "status": 200})  # headers missing: allowed
    assert sent.messages[0]["headers"] == [(b"a", b"1"), (b"aauth-access", b"tok")]
    assert start["headers"] == [(b"a", b"1")]  # the app's message is not changed
    assert sent.messages[1] == {"type": "http.response.body", "body": b"x", "more_body": True}
    assert sent.messages[2]["headers"] == [(b"aauth-access", b"tok")]
    assert adding_headers(sent, []) is sent


async def test_send_response_adds_content_length(anyio_backend: str) -> None:
    sent = Sent()
    await send_response(sent, HttpResponse(401, [("AAuth-Requirement", "x")], b"abc"))
    assert sent.status == 401
    assert sent.headers == {b"aauth-requirement": b"x", b"content-length": b"3"}
    assert sent.body == b"abc"
    kept = Sent()
    await send_response(kept, HttpResponse(200, [("Content-Length", "3")], b"abc"), head=True)
    assert kept.messages[0]["headers"] == [(b"content-length", b"3")]
    assert kept.body == b""
    empty = Sent()
    await send_response(empty, HttpResponse(204))
    assert empty.messages[0]["headers"] == []


# -- fetches ---------------------------------------------------------------------------------

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


def mock_client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def fake_resolver(
    answers: dict[str, list[str]],
) -> Callable[..., Awaitable[list[tuple[Any, ...]]]]:
    async def getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    return getaddrinfo


async def test_fetch_with_a_given_client_admits_the_addresses_first(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        anyio, "getaddrinfo", fake_resolver({"ap.test": ["93.184.215.14", "93.184.215.14"]})
    )
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, headers={"Cache-Control": "max-age=60"}, stream=httpx.ByteStream(b'{"a":1}')
        )

    async with mock_client(handler) as client:
        result = await fetch(
            "https://ap.test/.well-known/aauth-agent.json",
            timeout=5,
            max_bytes=100,
            egress=EgressPolicy(),
            accept="application/jwk-set+json",
            client=client,
        )
    assert result.status == 200
    assert result.body == b'{"a":1}'
    assert ("cache-control", "max-age=60") in result.headers
    (request,) = seen
    assert request.url == "https://ap.test/.well-known/aauth-agent.json"
    assert request.headers["accept"] == "application/jwk-set+json"
    assert request.headers["accept-encoding"] == "identity"


async def test_fetch_refuses_a_private_address_before_connecting(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        anyio, "getaddrinfo", fake_resolver({"ap.test": ["93.184.215.14", "10.0.0.7"]})
    )
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with mock_client(handler) as client:
        with pytest.raises(FetchFailure, match="egress refused"):
            await fetch(
                "https://ap.test/x", timeout=5, max_bytes=9, egress=EgressPolicy(), client=client
            )
    assert seen == []


async def test_fetch_refuses_loopback_unless_development(anyio_backend: str) -> None:
    with serve(lambda request, now: HttpResponse(200, [], b"{}"), time.time) as served:
        with pytest.raises(FetchFailure, match="egress refused"):
            await fetch(served.url("/m"), timeout=5, max_bytes=9, egress=EgressPolicy())
        result = await fetch(served.url("/m"), timeout=5, max_bytes=9, egress=LOOPBACK)
    assert (result.status, result.body) == (200, b"{}")


async def test_fetch_connects_to_the_admitted_addresses_only(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pinned transport never resolves the name itself: it dials the admitted addresses
    in order (127.0.0.2 refuses: nothing listens there) with the name in ``Host``."""
    hosts: list[str | None] = []

    def document(request: HttpRequest, now: int) -> HttpResponse:
        hosts.append(request.header("host"))
        return HttpResponse(404, [], b"nope")

    with serve(document, time.time) as served:
        url = f"http://ap.test:{served.port}/x"
        monkeypatch.setattr(
            anyio, "getaddrinfo", fake_resolver({"ap.test": ["127.0.0.2", "127.0.0.1"]})
        )
        result = await fetch(url, timeout=5, max_bytes=9, egress=LOOPBACK)
        monkeypatch.setattr(anyio, "getaddrinfo", fake_resolver({"ap.test": ["127.0.0.2"]}))
        with pytest.raises(FetchFailure, match="request failed: ConnectError"):
            await fetch(url, timeout=5, max_bytes=9, egress=LOOPBACK)
    assert (result.status, result.body) == (404, b"nope")
    assert hosts == [f"ap.test:{served.port}"]


async def test_the_pinned_backend_refuses_the_rest(anyio_backend: str) -> None:
    backend = PinnedBackend(["127.0.0.1"])
    with pytest.raises(httpcore.ConnectError, match="unix sockets"):
        await backend.connect_unix_socket("/tmp/socket")
    await backend.sleep(0)
    with pytest.raises(LocalError, match="at least one address"):
        PinnedBackend([])


async def test_fetch_failures(anyio_backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        anyio,
        "getaddrinfo",
        fake_resolver(
            {"ap.test": ["93.184.215.14"], "none.test": [], "odd.test": ["fe80::1%eth0x"]}
        ),
    )

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big":
            return httpx.Response(200, stream=httpx.ByteStream(b"x" * 10))
        if request.url.path == "/gzip":
            return httpx.Response(
                200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"..")
            )
        if request.url.path == "/slow":
            await anyio.sleep(5)
        if request.url.path == "/read-timeout":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, stream=httpx.ByteStream(b"x" * 9))

    async def failing(url: str, **options: Any) -> str:
        async with mock_client(answer) as client:
            with pytest.raises(FetchFailure) as info:
                await fetch(
                    url,
                    timeout=options.get("timeout", 5),
                    max_bytes=9,
                    egress=EgressPolicy(),
                    client=client,
                )
        return info.value.reason

    assert await failing("https://ap.test/big") == "answer larger than 9 bytes"
    assert "Content-Encoding 'gzip'" in await failing("https://ap.test/gzip")
    assert await failing("https://ap.test/slow", timeout=0.2) == "no answer within 0.2 s"
    assert "ReadTimeout" in await failing("https://ap.test/read-timeout")
    assert "cannot resolve unknown.test" in await failing("https://unknown.test/x")
    assert await failing("https://none.test/x") == (
        "egress refused: the host resolves to no address"
    )
    assert "egress refused" in await failing("https://odd.test/x")
    assert await failing("ftp://ap.test/x") == "the fetch URL is not an absolute http(s) URL"
    assert await failing("https:///x") == "the fetch URL is not an absolute http(s) URL"
    assert await failing("https://[::1/x") == "the fetch URL is not valid"
    async with mock_client(answer) as client:
        ok = await fetch(
            "https://ap.test/ok", timeout=5, max_bytes=9, egress=EgressPolicy(), client=client
        )
    assert ok.body == b"x" * 9  # exactly the limit is fine


async def test_fetch_reports_a_resolved_value_that_is_not_an_address(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anyio, "getaddrinfo", fake_resolver({"ap.test": ["not-an-ip"]}))
    with pytest.raises(FetchFailure, match="resolves to something that is not an IP address"):
        await fetch("https://ap.test/x", timeout=5, max_bytes=9, egress=EgressPolicy())


# -- the middleware, in process --------------------------------------------------------------

RESOURCE = "https://resource.example"
AP = "https://agent.example"


def resource_server(
    *,
    transport_map: dict[str, str] | None = None,
    egress: EgressPolicy = LOOPBACK,
    public_paths: tuple[str, ...] = ("/public",),
) -> ResourceServer:
    """Our engine at :data:`RESOURCE`: ``/agent`` (agent token), ``/public`` (open). The
    in-process tests dial ``resource.test``, which it accepts as its authority too."""
    verifier = ResourceVerifier(
        RESOURCE,
        Ed25519Key.from_seed(bytes(32)),
        "resource-key-1",
        {"/agent": ResourcePolicy(mode=AccessMode.AGENT_TOKEN)},
        DiscoveryCache(egress=egress),
        authorities=("resource.test",),
    )
    return ResourceServer(
        verifier,
        new_secret=lambda: secrets.token_urlsafe(24),
        transport_map=transport_map,
        egress=egress,
        fetch_timeout=5.0,
        public_paths=public_paths,
    )


class Recorder:
    """An ASGI app that records what it got and answers in several body messages."""

    def __init__(self, *, chunks: tuple[bytes, ...] = (b"he", b"llo"), status: int = 200) -> None:
        self.chunks = chunks
        self.status = status
        self.scopes: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))
        if scope["type"] != "http":
            return
        message = await receive()
        self.bodies.append(message["body"])
        assert message["more_body"] is False
        await send(
            {"type": "http.response.start", "status": self.status, "headers": [(b"x-app", b"1")]}
        )
        for index, chunk in enumerate(self.chunks):
            more = index < len(self.chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})


def receiver(*messages: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A ``receive`` handing out ``messages``, then ``http.disconnect`` forever."""
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return receive


def body_messages(*chunks: bytes) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]


async def call(
    middleware: AAuthMiddleware, scope: dict[str, Any], *messages: dict[str, Any]
) -> Sent:
    """Run ``middleware`` for ``scope`` with ``messages`` (default: an empty body)."""
    sent = Sent()
    await middleware(scope, receiver(*(messages or body_messages(b""))), sent)
    return sent


async def test_lifespan_passes_through_untouched(anyio_backend: str) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    middleware = AAuthMiddleware(app, resource_server())
    scope = {"type": "lifespan"}
    receive = receiver()
    sent = Sent()
    await middleware(scope, receive, sent)
    assert seen == [(scope, receive, sent)]
    assert "aauth" not in scope
    assert sent.messages == []


async def test_the_engine_answers_metadata_and_unknown_paths(anyio_backend: str) -> None:
    app = Recorder()
    middleware = AAuthMiddleware(app, resource_server())
    metadata = await call(middleware, http_scope("/.well-known/aauth-resource.json"))
    assert metadata.status == 200
    assert json.loads(metadata.body)["issuer"] == RESOURCE
    assert metadata.headers[b"content-length"] == str(len(metadata.body)).encode()
    head = await call(middleware, http_scope("/jwks.json", method="HEAD"))
    assert head.status == 200
    assert head.body == b""
    assert int(head.headers[b"content-length"]) > 0
    missing = await call(middleware, http_scope("/nowhere"))
    assert missing.status == 404
    assert app.scopes == []


async def test_an_unsigned_request_is_challenged_without_running_the_app(
    anyio_backend: str,
) -> None:
    app = Recorder()
    middleware = AAuthMiddleware(app, resource_server())
    sent = await call(middleware, http_scope("/agent"), *body_messages(b""))
    assert sent.status == 401
    assert sent.headers[b"aauth-requirement"] == b"requirement=agent-token"
    assert app.scopes == []


async def test_a_public_path_gets_the_body_replayed_and_streams(anyio_backend: str) -> None:
    app = Recorder(chunks=(b"a", b"b", b"c"))
    middleware = AAuthMiddleware(app, resource_server())
    scope = http_scope("/public/x", method="POST", aauth="forged")
    sent = await call(middleware, scope, *body_messages(b"one ", b"two"))
    assert app.bodies == [b"one two"]
    (seen,) = app.scopes
    assert seen["aauth"] is None
    assert get_identity(seen) is None
    assert scope["aauth"] is None  # for the middlewares around ours; nothing forged stays
    assert [m["type"] for m in sent.messages] == [
        "http.response.start",
        "http.response.body",
        "http.response.body",
        "http.response.body",
    ]
    assert sent.body == b"abc"
    assert sent.headers == {b"x-app": b"1"}


async def test_request_body_limits(anyio_backend: str) -> None:
    app = Recorder()
    middleware = AAuthMiddleware(app, resource_server(), max_body=5)
    declared = http_scope("/public", method="POST", headers=[(b"content-length", b"6")])
    never: list[bool] = []

    async def untouched() -> dict[str, Any]:
        never.append(True)
        return {"type": "http.disconnect"}

    sent = Sent()
    await middleware(declared, untouched, sent)
    assert sent.status == 413
    assert never == []
    streamed = await call(
        middleware, http_scope("/public", method="POST"), *body_messages(b"abc", b"def")
    )
    assert streamed.status == 413
    head = await call(middleware, http_scope("/public", method="HEAD"), *body_messages(b"abcdef"))
    assert (head.status, head.body) == (413, b"")
    exact = await call(
        middleware, http_scope("/public", method="POST"), *body_messages(b"abc", b"de")
    )
    assert exact.status == 200
    assert app.bodies == [b"abcde"]


async def test_a_client_gone_before_the_body_ends_gets_nothing(anyio_backend: str) -> None:
    app = Recorder()
    middleware = AAuthMiddleware(app, resource_server())
    first = {"type": "http.request", "body": b"abc", "more_body": True}
    sent = await call(middleware, http_scope("/public", method="POST"), first)
    assert sent.messages == []
    assert app.scopes == []


async def test_no_host_and_no_server_is_a_bad_request(anyio_backend: str) -> None:
    middleware = AAuthMiddleware(Recorder(), resource_server())
    sent = await call(
        middleware, http_scope("/public", headers=[], server=None), *body_messages(b"")
    )
    assert sent.status == 400


def test_constructor_checks() -> None:
    server = resource_server()
    with pytest.raises(LocalError, match="app"):
        AAuthMiddleware(object(), server)  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="server"):
        AAuthMiddleware(Recorder(), object())  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="clock"):
        AAuthMiddleware(Recorder(), server, clock=1.0)  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="fetch_client"):
        AAuthMiddleware(Recorder(), server, fetch_client=object())  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="fetch_ssl_context"):
        AAuthMiddleware(Recorder(), server, fetch_ssl_context="ca.pem")  # type: ignore[arg-type]
    for bad in (-1, True, 1.5):
        with pytest.raises(LocalError, match="max_body"):
            AAuthMiddleware(Recorder(), server, max_body=bad)  # type: ignore[arg-type]
        with pytest.raises(LocalError, match="max_captured_body"):
            AAuthMiddleware(Recorder(), server, max_captured_body=bad)  # type: ignore[arg-type]


def test_get_identity_reads_requests_and_scopes() -> None:
    identity = Verified(
        mode=AccessMode.AGENT_TOKEN,
        token_type="aa-agent+jwt",
        thumbprint="t",
        token=None,  # type: ignore[arg-type]
    )
    scope = http_scope(aauth=identity)
    assert get_identity(scope) is identity
    assert get_identity(Request(scope)) is identity
    assert get_identity(SimpleNamespace(scope=scope)) is identity
    assert get_identity(http_scope()) is None
    assert get_identity(http_scope(aauth="not an identity")) is None
    with pytest.raises(LocalError, match="scope"):
        get_identity(object())


def agent_for(ap: FakeAgentProvider) -> Agent:
    """An agent with an agent token of ``ap`` that reaches :data:`RESOURCE` in process."""
    key = ap.agent_key()
    token = ap.mint(key, now=int(time.time()))
    return Agent(
        StaticAgentCredentials(key, token), transport_map={RESOURCE: "http://resource.test"}
    )


async def test_an_agent_is_verified_in_process(anyio_backend: str) -> None:
    ap = FakeAgentProvider(AP)
    with serve(ap.handle, time.time) as served:
        app = Recorder()
        middleware = AAuthMiddleware(app, resource_server(transport_map={AP: served.origin}))
        outer: list[Verified | None] = []

        async def around(scope: Any, receive: Any, send: Any) -> None:
            await middleware(scope, receive, send)
            outer.append(get_identity(scope))

        transport = httpx.ASGITransport(app=around)
        async with httpx.AsyncClient(transport=transport, auth=AAuth(agent_for(ap))) as client:
            first = await client.post(f"{RESOURCE}/agent/x?q=1", content=b"payload")
            second = await client.get(f"{RESOURCE}/agent/y")
    assert (first.status_code, first.content) == (200, b"hello")
    assert outer == [get_identity(seen) for seen in app.scopes]  # a middleware around ours
    assert all(identity is not None for identity in outer)
    assert second.status_code == 200
    assert app.bodies == [b"payload", b""]
    identity = get_identity(app.scopes[0])
    assert identity is not None
    assert identity.agent == ap.agent_id
    assert identity.mode is AccessMode.AGENT_TOKEN
    assert identity.thumbprint == ap.agent_key().public_key.thumbprint
    # metadata and JWKS fetched once, through httpx, then cached by the engine
    assert [path_of(r.url) for r in ap.requests] == ["/.well-known/aauth-agent.json", "/jwks.json"]
    assert ap.requests[0].header("accept") == "application/json"


async def test_a_refused_fetch_fails_the_request(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    ap = FakeAgentProvider(AP)
    key = ap.agent_key()
    token = ap.mint(key, now=int(time.time()))
    request = sign_request(
        HttpRequest("GET", "http://resource.test/agent"),
        key,
        signature_key=token,
        created=int(time.time()),
    )
    with serve(ap.handle, time.time) as served:
        # production egress: the AP's loopback address is refused before connecting
        server = resource_server(transport_map={AP: served.origin}, egress=EgressPolicy())
        app = Recorder()
        transport = httpx.ASGITransport(app=AAuthMiddleware(app, server))
        with caplog.at_level(logging.DEBUG, logger="aauth_asgi"):
            async with httpx.AsyncClient(transport=transport) as client:
                response = await client.get(request.url, headers=list(request.headers))
    assert response.status_code == 401
    assert response.headers["signature-error"].startswith("error=")
    assert ap.requests == []
    assert app.scopes == []
    assert "egress refused" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


# -- held calls, added headers: a scripted exchange ------------------------------------------


class ScriptedExchange(Exchange):
    """Hands out ``actions`` in order and records what the middleware reports."""

    def __init__(self, actions: list[Any], reports: list[Any]) -> None:  # no engine state
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
        return ScriptedExchange(self.script(request), self.reports)


HELD = HttpRequest(
    "POST",
    "http://resource.test/deferred/report?year=2026",
    [("Host", "resource.test"), ("Content-Type", "application/json"), ("X-Held", "yes")],
    b'{"held":true}',
)


def held_then(*after: Any) -> Callable[[HttpRequest], list[Any]]:
    def script(request: HttpRequest) -> list[Any]:
        del request
        return [CallApp(request=HELD, identity=None, capture=True), *after]

    return script


async def test_a_held_call_runs_the_original_request_buffered(anyio_backend: str) -> None:
    app = Recorder(chunks=(b"held ", b"answer"), status=201)
    stored = HttpResponse(201, [("x-stored", "1")], b"stored")
    server = ScriptedServer(held_then(Respond(stored)))
    middleware = AAuthMiddleware(app, server)
    extensions: dict[str, Any] = {
        "http.response.trailers": {},
        "http.response.pathsend": {},
        "http.response.zerocopy": {},
        "tls": {},
    }
    sent = await call(middleware, http_scope("/pending/abc", extensions=extensions))
    (seen,) = app.scopes
    assert (seen["method"], seen["path"], seen["query_string"]) == (
        "POST",
        "/deferred/report",
        b"year=2026",
    )
    assert (b"x-held", b"yes") in seen["headers"]
    assert seen["extensions"] == {"tls": {}}  # stored as bytes: no trailers, no file sends
    assert app.bodies == [b'{"held":true}']
    (captured,) = server.reports
    assert captured.status == 201
    assert captured.body == b"held answer"
    assert captured.headers == (("x-app", "1"),)
    assert (sent.status, sent.body) == (201, b"stored")


def raising(exc: BaseException) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise exc

    return app


async def test_a_held_call_that_fails_is_recorded_as_500(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})

    async def swallowing(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await send({"type": "http.response.body", "body": b"x" * 11})
        except Exception:
            await send({"type": "http.response.start", "status": 500, "headers": []})

    cases = [
        (raising(RuntimeError("boom")), "the application failed"),
        (silent, "the application sent no complete answer"),
        (swallowing, "the deferred answer is larger than this resource keeps"),
        (Recorder(chunks=(b"x" * 6, b"x" * 5)), "the deferred answer is larger"),
    ]
    for app, text in cases:
        server = ScriptedServer(held_then(Respond(HttpResponse(200))))
        middleware = AAuthMiddleware(app, server, max_captured_body=10)
        with caplog.at_level(logging.ERROR, logger="aauth_asgi"):
            await call(middleware, http_scope("/pending/abc"))
        (captured,) = server.reports
        assert captured.status == 500
        assert text in captured.body.decode()
    assert "the application failed on a deferred call" in caplog.text
    ok = ScriptedServer(held_then(Respond(HttpResponse(200))))
    await call(
        AAuthMiddleware(Recorder(chunks=(b"x" * 10,)), ok, max_captured_body=10), http_scope()
    )
    assert ok.reports[0].body == b"x" * 10  # exactly the limit is kept


async def test_a_held_call_keeps_only_the_answer(anyio_backend: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert "extensions" not in scope
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        await send({"type": "http.response.body", "body": b"done"})
        await send({"type": "http.response.body", "body": b"late"})  # after the end: ignored
        await send({"type": "http.response.trailers", "headers": [(b"x-t", b"1")]})

    server = ScriptedServer(held_then(Respond(HttpResponse(204))))
    sent = await call(AAuthMiddleware(app, server), http_scope())
    assert sent.status == 204
    (captured,) = server.reports
    assert (captured.status, captured.headers, captured.body) == (200, (), b"done")


async def test_added_headers_reach_a_streamed_answer(anyio_backend: str) -> None:
    def script(request: HttpRequest) -> list[Any]:
        return [CallApp(request=request, identity=None, add_headers=(("AAuth-Access", "s1"),))]

    app = Recorder(chunks=(b"a", b"b"))
    sent = await call(AAuthMiddleware(app, ScriptedServer(script)), http_scope("/session"))
    assert sent.headers == {b"x-app": b"1", b"aauth-access": b"s1"}
    assert sent.body == b"ab"
    assert app.scopes[0]["path"] == "/session"


async def test_an_unknown_action_is_a_local_error(anyio_backend: str) -> None:
    middleware = AAuthMiddleware(Recorder(), ScriptedServer(lambda request: ["nonsense"]))
    with pytest.raises(LocalError, match="unknown action"):
        await call(middleware, http_scope())


# -- the shared scenarios: a Starlette app under uvicorn -------------------------------------

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def echo_app(echo: EchoApp) -> Starlette:
    """The shared echo app as a native Starlette application (one catch-all route)."""

    async def endpoint(request: Request) -> Response:
        answer = echo.respond(
            request.method,
            request.scope["raw_path"].decode("latin-1"),
            request.scope["query_string"].decode("latin-1"),
            await request.body(),
            get_identity(request),
        )
        return Response(answer.body, answer.status, headers=dict(answer.headers))

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=ALL_METHODS)])


@contextmanager
def serve_asgi(app: Any, **options: Any) -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn on 127.0.0.1 (a port the OS picks) in a
    background thread; yield ``http://127.0.0.1:PORT``; stop and join on exit. ``options``
    go to ``uvicorn.Config`` (``ssl_certfile`` ...)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="auto", timeout_graceful_shutdown=2, **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-resource", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@dataclass
class AsgiAdapter:
    """:class:`~tests.bindings.harness.ResourceBindingAdapter` for ``aauth_asgi``: the echo
    app as a Starlette app behind :class:`AAuthMiddleware`, under uvicorn."""

    name: str = "asgi"

    @contextmanager
    def serve(self, server: ResourceServer, clock: Clock) -> Iterator[str]:
        """Serve the echo app behind the middleware on 127.0.0.1."""
        app = AAuthMiddleware(echo_app(EchoApp()), server, clock=clock)
        with serve_asgi(app) as base:
            yield base


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario(scenario: Scenario) -> None:
    """The scenario passes through the ASGI binding."""
    scenario(AsgiAdapter())


def test_answers_stream_through_under_uvicorn() -> None:
    """The app's first chunk reaches the client while the app is still running (it waits
    for the client to have read it); a declared oversized body is refused up front."""
    read_first = threading.Event()

    async def events() -> AsyncIterator[bytes]:
        yield b"data: one\n\n"
        await anyio.to_thread.run_sync(read_first.wait, 10)
        yield b"data: two\n\n"

    async def stream(request: Request) -> StreamingResponse:
        assert get_identity(request) is None
        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/public/events", stream, methods=["GET", "POST"])])
    middleware = AAuthMiddleware(app, resource_server(), max_body=10)
    with serve_asgi(middleware) as base, httpx.Client(timeout=CALL_TIMEOUT) as client:
        with client.stream("GET", f"{base}/public/events") as response:
            chunks = response.iter_raw()
            first = next(chunks)
            read_first.set()
            rest = b"".join(chunks)
        too_big = client.post(f"{base}/public/events", content=b"x" * 11)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert first == b"data: one\n\n"
    assert rest == b"data: two\n\n"
    assert too_big.status_code == 413


def certificate_for(host: str, folder: Path) -> tuple[Path, Path, str]:
    """A self-signed certificate for the DNS name ``host``: (cert file, key file, PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem", pem.decode()


async def test_an_https_fetch_goes_to_the_admitted_address_with_the_name_verified(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """TLS to the pinned address: SNI and certificate check use the URL's host name, the
    TCP connection the address that passed egress admission (no second DNS lookup)."""
    cert, key, pem = certificate_for("ap.test", tmp_path)
    hosts: list[str] = []

    async def document(request: Request) -> Response:
        hosts.append(request.headers["host"])
        return Response(b'{"ok":true}', media_type="application/json")

    app = Starlette(routes=[Route("/doc", document)])
    resolved = {"ap.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    monkeypatch.setattr(anyio, "getaddrinfo", fake_resolver(resolved))
    trusted = ssl.create_default_context(cadata=pem)
    options: dict[str, Any] = {"timeout": 5, "max_bytes": 99, "egress": LOOPBACK}
    with serve_asgi(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as base:
        port = base.rsplit(":", 1)[1]
        result = await fetch(f"https://ap.test:{port}/doc", ssl_context=trusted, **options)
        with pytest.raises(FetchFailure, match="ConnectError"):  # the name is checked
            await fetch(f"https://other.test:{port}/doc", ssl_context=trusted, **options)
        with pytest.raises(FetchFailure, match="ConnectError"):  # not a public CA
            await fetch(f"https://ap.test:{port}/doc", **options)
    assert (result.status, result.body) == (200, b'{"ok":true}')
    assert hosts == [f"ap.test:{port}"]


# -- WebSocket handshakes: verified as the GET they are (RFC 6455 §4.1) ----------------------


def websocket_scope(
    path: str = "/agent/feed",
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``websocket`` scope as uvicorn builds it for ``ws://resource.test{path}``."""
    scope = http_scope(
        path, headers=headers if headers is not None else [(b"host", b"resource.test")]
    )
    del scope["method"]
    scope.update(type="websocket", scheme="ws", subprotocols=[])
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


class SocketApp:
    """A WebSocket app that accepts, says hello and closes; records the scopes it got."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept", "headers": [(b"x-app", b"1")]})
        await send({"type": "websocket.send", "text": "hello"})
        await send({"type": "websocket.close", "code": 1000})


def signed_handshake(ap: FakeAgentProvider, path: str = "/agent/feed") -> list[tuple[bytes, bytes]]:
    """The headers of a handshake an agent of ``ap`` signed for ``ws://resource.test{path}``
    (the signature covers the ``http`` URL of the handshake's GET)."""
    key = ap.agent_key()
    request = sign_request(
        HttpRequest("GET", f"http://resource.test{path}", [("Host", "resource.test")]),
        key,
        signature_key=ap.mint(key, now=int(time.time())),
        created=int(time.time()),
    )
    return encode_headers(request.headers)


async def test_an_unsigned_websocket_handshake_is_refused_before_the_app(
    anyio_backend: str,
) -> None:
    app = SocketApp()
    middleware = AAuthMiddleware(app, resource_server())
    sent = await call(middleware, websocket_scope(), {"type": "websocket.connect"})
    # no websocket.http.response extension: a close before accepting (the server sends 403)
    assert sent.messages == [{"type": "websocket.close", "code": 1008}]
    assert app.scopes == []


async def test_a_refused_handshake_gets_the_engines_answer_with_the_extension(
    anyio_backend: str,
) -> None:
    app = SocketApp()
    middleware = AAuthMiddleware(app, resource_server())
    scope = websocket_scope(extensions={"websocket.http.response": {}})
    sent = await call(middleware, scope, {"type": "websocket.connect"})
    start, body = sent.messages
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 401)
    headers = dict(start["headers"])
    assert headers[b"aauth-requirement"] == b"requirement=agent-token"
    assert headers[b"content-length"] == str(len(body["body"])).encode()
    assert body["type"] == "websocket.http.response.body"
    assert app.scopes == []
    # a client gone before its connect message gets nothing
    gone = await call(middleware, websocket_scope(), {"type": "websocket.disconnect"})
    assert gone.messages == []
    # no Host and no server address: refused as a bad handshake
    no_host = websocket_scope(headers=[])
    del no_host["server"]
    bad = await call(middleware, no_host, {"type": "websocket.connect"})
    assert bad.messages == [{"type": "websocket.close", "code": 1008}]


async def test_a_signed_websocket_handshake_reaches_the_app_with_the_identity(
    anyio_backend: str,
) -> None:
    ap = FakeAgentProvider(AP)
    with serve(ap.handle, time.time) as served:
        app = SocketApp()
        middleware = AAuthMiddleware(app, resource_server(transport_map={AP: served.origin}))
        scope = websocket_scope(headers=signed_handshake(ap))
        sent = await call(middleware, scope, {"type": "websocket.connect"})
    assert [m["type"] for m in sent.messages] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    [seen] = app.scopes
    identity = get_identity(seen)
    assert identity is not None and identity.agent == ap.agent_id
    assert identity.mode is AccessMode.AGENT_TOKEN
    assert get_identity(scope) is identity  # for the middlewares around this one
    # the AP's documents were fetched for the handshake, as for any request
    assert [path_of(r.url) for r in ap.requests] == ["/.well-known/aauth-agent.json", "/jwks.json"]


async def test_engine_headers_go_on_the_websocket_accept(anyio_backend: str) -> None:
    grant = CallApp(
        request=HttpRequest("GET", "http://resource.test/agent/feed"),
        identity=None,
        add_headers=(("AAuth-Access", "session-1"),),
    )
    middleware = AAuthMiddleware(SocketApp(), ScriptedServer(lambda request: [grant]))
    sent = await call(middleware, websocket_scope(), {"type": "websocket.connect"})
    accept = sent.messages[0]
    assert accept["type"] == "websocket.accept"
    assert accept["headers"] == [(b"x-app", b"1"), (b"aauth-access", b"session-1")]
    plain = CallApp(request=HttpRequest("GET", "http://resource.test/agent/feed"), identity=None)
    bare = AAuthMiddleware(SocketApp(), ScriptedServer(lambda request: [plain]))
    unchanged = await call(bare, websocket_scope(), {"type": "websocket.connect"})
    assert unchanged.messages[0]["headers"] == [(b"x-app", b"1")]


async def test_a_handshake_that_releases_a_held_call_runs_it_as_http(anyio_backend: str) -> None:
    """A poll of a deferred call's pending URL made as a WebSocket handshake: the held HTTP
    call runs (its answer is what the engine stores), and the handshake gets the answer."""
    app = Recorder(chunks=(b"held ", b"answer"), status=201)
    stored = HttpResponse(201, [("x-stored", "1"), ("Content-Length", "6")], b"stored")
    server = ScriptedServer(held_then(Respond(stored)))
    middleware = AAuthMiddleware(app, server)
    scope = websocket_scope("/pending/abc", extensions={"websocket.http.response": {}})
    sent = await call(middleware, scope, {"type": "websocket.connect"})
    [held] = app.scopes
    assert (held["type"], held["scheme"], held["method"]) == ("http", "http", "POST")
    assert held["path"] == "/deferred/report"
    assert "subprotocols" not in held and "extensions" not in held
    assert app.bodies == [b'{"held":true}']
    [captured] = server.reports
    assert (captured.status, captured.body) == (201, b"held answer")
    start, body = sent.messages
    assert (start["status"], body["body"]) == (201, b"stored")
    assert start["headers"] == [(b"x-stored", b"1"), (b"content-length", b"6")]  # not twice


async def test_a_held_call_from_a_handshake_does_not_see_the_socket(anyio_backend: str) -> None:
    """After its body the held call's ``receive`` waits (no ``http.disconnect``, no
    WebSocket message), so a streaming answer is stored whole."""
    waited: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        with anyio.move_on_after(0.05) as scope_:
            await receive()
        waited.append(scope_.cancelled_caught)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    server = ScriptedServer(held_then(Respond(HttpResponse(200, (), b"ok"))))
    middleware = AAuthMiddleware(app, server)
    sent = await call(middleware, websocket_scope("/pending/abc"), {"type": "websocket.connect"})
    assert waited == [True]
    assert [r.body for r in server.reports] == [b"done"]
    assert sent.messages == [{"type": "websocket.close", "code": 1008}]


async def test_an_unknown_action_on_a_handshake_is_a_local_error(anyio_backend: str) -> None:
    middleware = AAuthMiddleware(SocketApp(), ScriptedServer(lambda request: ["nonsense"]))
    with pytest.raises(LocalError, match="unknown action"):
        await call(middleware, websocket_scope(), {"type": "websocket.connect"})
