"""The trio resource server (``aauth_trio.AAuthServer``): every shared binding scenario over
127.0.0.1, then what only this binding has: its h11 connection loop (keep-alive, pipelining,
framing, malformed and oversized requests, slow clients), the engine's actions (held calls
captured, add_headers), and the engine's fetches (egress admission of resolved addresses,
time and size bounds, failures).

The unit tests drive the server with a scripted stand-in engine (:class:`ScriptedServer`) whose
actions are the engine's own classes; the scenarios run the real engine.
"""

from __future__ import annotations

import importlib.util
import json
import queue
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import h11
import pytest
import trio

import aauth_trio
from aauth.discovery import EgressPolicy, FetchPurpose
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.resource import Action, CallApp, Fetch, ResourceServer, Respond, Verified
from aauth_trio import AAuthServer
from tests.bindings.harness import ROUTES, Clock, EchoApp, binding_world
from tests.bindings.scenarios import SCENARIOS, Scenario, scenario_id
from tests.drivers.test_trio_driver import certificate, client_tls, server_tls

__all__ = ["certificate", "client_tls", "server_tls"]  # fixtures shared with the client tests

pytestmark = pytest.mark.anyio

LOOPBACK_DEV = EgressPolicy(allow_insecure_loopback_for_development=True)


@pytest.fixture
def anyio_backend() -> str:
    """This binding is trio only."""
    return "trio"


# ------------------------------------------------------------------ the shared scenarios


class TrioAdapter:
    """:class:`~tests.bindings.harness.ResourceBindingAdapter`: the echo app as an
    :class:`AAuthServer` handler, served by ``trio.run`` in a background thread."""

    name = "trio"

    @contextmanager
    def serve(self, server: ResourceServer, clock: Clock) -> Iterator[str]:
        """Serve the echo app behind ``server`` on 127.0.0.1; yield the base URL."""
        app = EchoApp()

        async def handler(request: HttpRequest, identity: Verified | None) -> HttpResponse:
            return app.for_request(request, identity)

        resource = AAuthServer(server, handler, clock=clock)
        ready: queue.Queue[tuple[trio.lowlevel.TrioToken, trio.CancelScope, int]] = queue.Queue()

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(resource.serve, "127.0.0.1", 0)
                port = listeners[0].socket.getsockname()[1]
                ready.put((trio.lowlevel.current_trio_token(), nursery.cancel_scope, port))

        thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
        thread.start()
        token, scope, port = ready.get(timeout=10)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            trio.from_thread.run_sync(scope.cancel, trio_token=token)
            thread.join(10)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario(scenario: Scenario) -> None:
    """The scenario passes through the trio server."""
    scenario(TrioAdapter())


def test_the_trio_client_completes_its_flows_against_the_trio_server() -> None:
    """Both ends on trio and h11: the agent (``AAuthClient``) through the agent-token,
    auth-token (person token, resource token, auth token) and deferred flows."""
    with binding_world(TrioAdapter()) as world:
        client = aauth_trio.AAuthClient(world.agent(), clock=world.clock)

        async def calls() -> list[HttpResponse]:
            return [
                await client.get(world.url(f"{ROUTES.agent}/t")),
                await client.post(
                    world.url(f"{ROUTES.auth}/t"),
                    body=b'{"n": 1}',
                    headers=[("Content-Type", "application/json")],
                ),
                await client.get(world.url(f"{ROUTES.deferred}/t")),
            ]

        answers = trio.run(calls)
    facts = [json.loads(answer.body) for answer in answers]
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert [f["identity"]["mode"] for f in facts] == ["agent-token", "auth-token", "auth-token"]
    assert facts[1]["method"] == "POST"
    assert facts[1]["body"] == '{"n": 1}'
    assert facts[2]["path"] == f"{ROUTES.deferred}/t"  # the held call ran on the poll
    assert [f["calls"] for f in facts] == [1, 2, 3]


# ------------------------------------------------------------------ a scripted engine


@dataclass
class ScriptedExchange:
    """One request's actions: ``first`` from the script, then a ``Respond`` reporting what
    the server fed back (fetch results, the captured app response)."""

    request: HttpRequest
    script: Callable[[HttpRequest], Action]
    fed: list[tuple[str, Any]] = field(default_factory=list)

    def next_action(self) -> Action:
        return self.script(self.request)

    def fetched(
        self,
        url: str,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        now: int,
    ) -> Action:
        self.fed.append(("fetched", (url, status, tuple(headers), body, now)))
        return Respond(HttpResponse(200, [], b"fetched"))

    def fetch_failed(self, url: str, *, now: int, reason: str) -> Action:
        self.fed.append(("fetch_failed", (url, now, reason)))
        return Respond(HttpResponse(502, [], reason.encode()))

    def app_responded(self, response: HttpResponse, *, now: int) -> Action:
        self.fed.append(("app_responded", (response, now)))
        return Respond(HttpResponse(200, [("X-Stored", "yes")], response.body))


class ScriptedServer:
    """Stands in for :class:`~aauth.resource.ResourceServer`: ``receive`` records the
    request and returns a :class:`ScriptedExchange` running ``script``."""

    def __init__(self, script: Callable[[HttpRequest], Action] | None = None) -> None:
        self.script = script or (lambda request: CallApp(request=request, identity=None))
        self.exchanges: list[ScriptedExchange] = []

    def receive(self, request: HttpRequest, now: int) -> ScriptedExchange:
        exchange = ScriptedExchange(request, self.script)
        self.exchanges.append(exchange)
        return exchange


def engine(script: Callable[[HttpRequest], Action] | None = None) -> Any:
    """A :class:`ScriptedServer`, typed as the engine the server takes."""
    return ScriptedServer(script)


async def echo(request: HttpRequest, identity: Verified | None) -> HttpResponse:
    """Answers JSON with what it was called with."""
    facts = {
        "method": request.method,
        "url": request.url,
        "headers": [list(pair) for pair in request.headers],
        "body": request.body.decode("latin-1"),
        "identity": repr(identity),
    }
    return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(facts).encode())


@asynccontextmanager
async def running(server: AAuthServer) -> AsyncIterator[int]:
    """``server`` on 127.0.0.1 in a nursery of its own; yields the port."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, "127.0.0.1", 0)
        yield listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()


async def talk(port: int, data: bytes, *, pause: float = 0.0) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it."""
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(data)
            if pause:
                await trio.sleep(pause)
            received = b""
            while chunk := await stream.receive_some(65_536):
                received += chunk
            return received


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    interim: list[int]

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(found) if found else None

    def json(self) -> Any:
        return json.loads(self.body)


def parse(data: bytes, methods: Sequence[str] = ("GET",)) -> list[Reply]:
    """The responses in ``data``, answering requests with ``methods`` in order."""
    client = h11.Connection(h11.CLIENT)
    client.receive_data(data)
    client.receive_data(b"")
    replies: list[Reply] = []
    for method in methods:
        if client.our_state is h11.DONE:
            client.start_next_cycle()
        client.send(h11.Request(method=method, target="/", headers=[("Host", "t")]))
        client.send(h11.EndOfMessage())
        interim: list[int] = []
        body = b""
        while True:
            event = client.next_event()
            if isinstance(event, h11.InformationalResponse):
                interim.append(event.status_code)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = [(k.decode(), v.decode("latin-1")) for k, v in event.headers.raw_items()]
            elif isinstance(event, h11.Data):
                body += event.data
            else:
                assert isinstance(event, h11.EndOfMessage), event
                break
        replies.append(Reply(status, headers, body, interim))
    return replies


def one(data: bytes, method: str = "GET") -> Reply:
    (reply,) = parse(data, (method,))
    return reply


GET = b"GET /data?x=1 HTTP/1.1\r\nHost: api.test\r\nX-One: a\r\nX-One: b\r\n\r\n"
GET_CLOSE = b"GET /last HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n"


# ------------------------------------------------------------------ the connection loop


async def test_a_request_reaches_the_handler_as_the_engine_saw_it() -> None:
    scripted = engine()
    async with running(AAuthServer(scripted, echo, clock=lambda: 1234.9)) as port:
        first, last = parse(await talk(port, GET + GET_CLOSE), ("GET", "GET"))
    facts = first.json()
    assert first.status == 200
    assert facts["url"] == "http://api.test/data?x=1"
    assert facts["headers"] == [["Host", "api.test"], ["X-One", "a"], ["X-One", "b"]]
    assert facts["identity"] == "None"
    assert last.json()["url"] == "http://api.test/last"
    assert last.header("Connection") == "close"
    assert [e.request.url for e in scripted.exchanges] == [
        "http://api.test/data?x=1",
        "http://api.test/last",
    ]


async def test_keep_alive_serves_requests_one_after_another() -> None:
    async with (
        running(AAuthServer(engine(), echo)) as port,
        await trio.open_tcp_stream("127.0.0.1", port) as stream,
    ):
        for number in range(3):
            await stream.send_all(f"GET /n{number} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
            client = h11.Connection(h11.CLIENT)
            client.send(h11.Request(method="GET", target="/", headers=[("Host", "t")]))
            client.send(h11.EndOfMessage())
            body = b""
            while True:
                event = client.next_event()
                if event is h11.NEED_DATA:
                    client.receive_data(await stream.receive_some(65_536))
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            assert json.loads(body)["url"] == f"http://h/n{number}"


async def test_bodies_by_length_and_chunked_and_expect_continue() -> None:
    requests = (
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    async with running(AAuthServer(engine(), echo, max_body=5)) as port:
        a, b = parse(await talk(port, requests + GET_CLOSE), ("POST", "POST", "GET"))[:2]
        continued = b"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
        with trio.fail_after(10):
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await stream.send_all(continued + b"Connection: close\r\n\r\n")
                interim = await stream.receive_some(65_536)
                assert interim.startswith(b"HTTP/1.1 100 ")
                await stream.send_all(b"xyz")
                rest = b""
                while chunk := await stream.receive_some(65_536):
                    rest += chunk
    assert a.json()["body"] == "hello"
    assert b.json()["body"] == "abcde"
    c = one(interim + rest, "POST")
    assert c.interim == [100]
    assert c.json()["body"] == "xyz"


async def test_pipelined_requests_are_answered_in_order() -> None:
    burst = b"".join(f"GET /p{n} HTTP/1.1\r\nHost: h\r\n\r\n".encode() for n in range(3))
    async with running(AAuthServer(engine(), echo)) as port:
        replies = parse(await talk(port, burst + GET_CLOSE), ["GET"] * 4)
    assert [r.json()["url"] for r in replies] == [
        "http://h/p0",
        "http://h/p1",
        "http://h/p2",
        "http://api.test/last",
    ]


async def test_many_clients_at_once_each_get_their_own_answers() -> None:
    async def slow_echo(request: HttpRequest, identity: Verified | None) -> HttpResponse:
        await trio.sleep(0.01)  # let the connections interleave
        return await echo(request, identity)

    results: dict[int, list[str]] = {}

    async def client(number: int) -> None:
        burst = b"".join(
            f"GET /c{number}/r{n} HTTP/1.1\r\nHost: h\r\n\r\n".encode() for n in range(4)
        )
        replies = parse(await talk(port, burst + GET_CLOSE), ["GET"] * 5)
        results[number] = [reply.json()["url"] for reply in replies]

    async with running(AAuthServer(engine(), slow_echo)) as port:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for number in range(25):
                    nursery.start_soon(client, number)
    assert results == {
        number: [*(f"http://h/c{number}/r{n}" for n in range(4)), "http://api.test/last"]
        for number in range(25)
    }


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host (h11)
        (b"GET / HTTP/1.0\r\n\r\n", 400),  # no Host (here)
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        (b"GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),  # absolute-form
        (b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 200_000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n", 413),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n",
            413,
        ),
    ],
)
async def test_bad_requests_are_refused_and_the_connection_closed(
    request_bytes: bytes, status: int
) -> None:
    scripted = engine()
    async with running(AAuthServer(scripted, echo, max_body=8)) as port:
        reply = one(await talk(port, request_bytes + GET))  # the GET after is never read
        after = one(await talk(port, GET_CLOSE))  # the server goes on
    assert reply.status == status
    assert reply.header("Connection") == "close"
    assert reply.header("Content-Type") == "text/plain; charset=utf-8"
    assert after.status == 200
    assert [e.request.url for e in scripted.exchanges] == ["http://api.test/last"]


async def test_idle_partial_and_dripping_clients_are_cut_off() -> None:
    server = AAuthServer(engine(), echo, idle_timeout=0.2, read_timeout=0.3, request_timeout=0.6)
    async with running(server) as port:
        with trio.fail_after(5):
            assert await talk(port, b"", pause=0) == b""  # idle: closed, nothing said
            partial_head = one(await talk(port, b"GET / HTTP/1.1\r\nHost:"))
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                # one byte every 0.1 s: each read is quick, the whole request is too slow
                dripped = b""
                for byte in GET:
                    try:
                        await stream.send_all(bytes([byte]))
                    except trio.BrokenResourceError:
                        break
                    await trio.sleep(0.1)
                while chunk := await stream.receive_some(65_536):
                    dripped += chunk
            idle_after_one = one(await talk(port, GET, pause=0.5))  # kept alive, then idle
    assert partial_head.status == 408
    assert one(dripped).status == 408
    assert idle_after_one.status == 200


async def test_clients_leaving_early_do_not_hurt_the_server() -> None:
    async with running(AAuthServer(engine(), echo)) as port:
        with trio.fail_after(5):
            for data in (
                b"GET / HTTP/1.1\r\nHo",
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
            ):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(data)
                await stream.aclose()
            half = await trio.open_tcp_stream("127.0.0.1", port)
            await half.send_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
            await half.send_eof()
            cut = b""
            while chunk := await half.receive_some(65_536):
                cut += chunk
            await half.aclose()
            after = one(await talk(port, GET_CLOSE))
    assert one(cut).status == 400
    assert after.status == 200


async def test_a_refused_client_that_keeps_sending_is_drained_then_dropped() -> None:
    done = trio.Event()
    server = AAuthServer(engine(), echo, max_body=8)
    original = server.handle_connection

    async def tracked(stream: trio.abc.Stream) -> None:
        await original(stream)
        done.set()

    server.handle_connection = tracked  # type: ignore[method-assign]
    async with running(server) as port:
        with trio.fail_after(5):
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await stream.send_all(
                    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9000000\r\n\r\n"
                )
                reply = await stream.receive_some(65_536)
                try:
                    while not done.is_set():  # far more than the server drains
                        await stream.send_all(b"x" * 65_536)
                except trio.BrokenResourceError:
                    pass
                await done.wait()
    assert reply.startswith(b"HTTP/1.1 413 ")


async def test_connections_beyond_the_limit_are_told_to_come_back() -> None:
    async with running(AAuthServer(engine(), echo, max_connections=1)) as port:
        with trio.fail_after(5):
            async with await trio.open_tcp_stream("127.0.0.1", port) as held:
                await held.send_all(GET)  # served, and kept alive
                assert (await held.receive_some(65_536)).startswith(b"HTTP/1.1 200 ")
                # (sending nothing: a request the server never reads may turn its close
                # into a reset before the 503 is read)
                busy = one(await talk(port, b""))
            served = b""
            while not served:  # once the held connection's task has ended
                await trio.sleep(0.05)
                served = await talk(port, GET_CLOSE)
    assert (busy.status, busy.header("Retry-After")) == (503, "1")
    assert one(served).status == 200


async def test_a_client_that_does_not_read_is_bounded_by_the_write_timeout() -> None:
    async def big(request: HttpRequest, identity: Verified | None) -> HttpResponse:
        return HttpResponse(200, [], b"x" * 20_000_000)

    done = trio.Event()
    server = AAuthServer(engine(), big, write_timeout=0.3)
    original = server.handle_connection

    async def tracked(stream: trio.abc.Stream) -> None:
        await original(stream)
        done.set()

    server.handle_connection = tracked  # type: ignore[method-assign]
    async with running(server) as port:
        with trio.fail_after(5):
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await stream.send_all(GET)
                await done.wait()  # the server gave up on us without our reading a byte


# ------------------------------------------------------------------ answers


async def answers(handler: aauth_trio.Handler, request: bytes = GET_CLOSE) -> Reply:
    async with running(AAuthServer(engine(), handler)) as port:
        method = request.split(b" ", 1)[0].decode()
        return one(await talk(port, request), method)


def fixed(response: HttpResponse | object) -> aauth_trio.Handler:
    async def handler(request: HttpRequest, identity: Verified | None) -> HttpResponse:
        return cast(HttpResponse, response)

    return handler


async def test_framing_fields_of_the_app_are_replaced() -> None:
    reply = await answers(
        fixed(
            HttpResponse(
                201,
                [
                    ("Content-Length", "999"),
                    ("Transfer-Encoding", "chunked"),
                    ("Connection", "keep-alive"),
                    ("X-App", "é"),
                ],
                b"made",
            )
        )
    )
    assert reply.status == 201
    assert reply.body == b"made"
    assert reply.headers == [("X-App", "é"), ("Content-Length", "4"), ("Connection", "close")]


async def test_no_body_for_head_204_and_304_and_any_status_code_goes() -> None:
    head = await answers(
        fixed(HttpResponse(200, [], b"abc")),
        b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    assert (head.status, head.header("Content-Length"), head.body) == (200, "3", b"")
    for status in (204, 304):
        reply = await answers(fixed(HttpResponse(status, [], b"ignored")))
        assert (reply.status, reply.header("Content-Length"), reply.body) == (status, None, b"")
    unnamed = await answers(fixed(HttpResponse(299, [], b"ok")))
    assert (unnamed.status, unnamed.body) == (299, b"ok")


async def failing(request: HttpRequest, identity: Verified | None) -> HttpResponse:
    raise RuntimeError("application bug")


@pytest.mark.parametrize(
    "handler",
    [
        failing,
        fixed("not a response"),
        fixed(HttpResponse(200, [("X-Bad", "a\nb")], b"")),
        fixed(HttpResponse(200, [("X-Wide", "\u2603")], b"")),
        fixed(HttpResponse(101, [], b"")),
    ],
    ids=["raises", "not-a-response", "newline-in-value", "not-latin-1", "1xx"],
)
async def test_an_application_failure_is_a_500(
    handler: aauth_trio.Handler, caplog: pytest.LogCaptureFixture
) -> None:
    reply = await answers(handler)
    assert reply.status == 500
    assert reply.body == b"the server could not answer this request\n"
    assert "a\nb" not in caplog.text


def broken(request: HttpRequest) -> Action:
    raise KeyError("engine bug")


@pytest.mark.parametrize(
    "script", [broken, lambda request: cast(Action, "not an action")], ids=["raises", "unknown"]
)
async def test_an_engine_failure_is_a_500(script: Callable[[HttpRequest], Action]) -> None:
    async with running(AAuthServer(engine(script), echo)) as port:
        reply = one(await talk(port, GET_CLOSE))
    assert reply.status == 500


async def test_unexpected_errors_close_only_that_connection(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = AAuthServer(engine(), echo)

    def explode(*args: object) -> HttpRequest:
        raise RuntimeError("bug in the loop")

    async with running(server) as port:
        with monkeypatch.context() as patch:
            patch.setattr("aauth_trio.server._convert", explode)
            assert await talk(port, GET_CLOSE) == b""
        with monkeypatch.context() as patch:
            patch.setattr(server, "_send", partial(_raise, h11.LocalProtocolError("bad state")))
            assert await talk(port, GET_CLOSE) == b""
        assert one(await talk(port, GET_CLOSE)).status == 200
    assert "connection handling failed" in caplog.text


async def _raise(error: Exception, *args: object, **kwargs: object) -> None:
    raise error


# ------------------------------------------------------------------ the engine's actions


async def test_call_app_adds_the_engine_headers_and_passes_the_identity() -> None:
    identity = object()

    def script(request: HttpRequest) -> Action:
        return CallApp(
            request=request,
            identity=cast(Verified, identity),
            add_headers=(("AAuth-Access", "tok"),),
        )

    async with running(AAuthServer(engine(script), echo)) as port:
        reply = one(await talk(port, GET_CLOSE))
    assert reply.header("AAuth-Access") == "tok"
    assert reply.json()["identity"] == repr(identity)


async def test_a_captured_call_runs_the_held_request_and_sends_the_stored_answer() -> None:
    held = HttpRequest("POST", "https://api.test/deferred", [("X-Held", "1")], b"payload")

    def script(request: HttpRequest) -> Action:
        return CallApp(request=held, identity=None, add_headers=(("X-Extra", "e"),), capture=True)

    scripted = engine(script)
    async with running(AAuthServer(scripted, echo, clock=lambda: 77.5)) as port:
        reply = one(await talk(port, GET_CLOSE))
    ((kind, (captured, now)),) = scripted.exchanges[0].fed
    assert (kind, now) == ("app_responded", 77)
    assert json.loads(captured.body)["url"] == "https://api.test/deferred"
    assert json.loads(captured.body)["body"] == "payload"
    assert captured.header("X-Extra") is None  # the engine adds its headers to what it stores
    assert reply.header("X-Stored") == "yes"
    assert reply.body == captured.body


async def test_a_captured_call_whose_app_fails_stores_a_500() -> None:
    scripted = engine(lambda request: CallApp(request=request, identity=None, capture=True))
    async with running(AAuthServer(scripted, failing)) as port:
        one(await talk(port, GET_CLOSE))
    ((_, (captured, _now)),) = scripted.exchanges[0].fed
    assert captured.status == 500


# ------------------------------------------------------------------ fetches


@dataclass
class Upstream:
    """A plain HTTP server answering ``reply`` to every request it reads; ``seen`` holds
    the heads it read."""

    reply: bytes
    seen: list[bytes] = field(default_factory=list)
    stall: bool = False

    async def __call__(self, stream: trio.abc.Stream) -> None:
        data = b""
        with trio.move_on_after(5):
            while b"\r\n\r\n" not in data:
                chunk = await stream.receive_some(65_536)
                if not chunk:
                    return
                data += chunk
            self.seen.append(data)
            if self.stall:
                await trio.sleep_forever()
            await stream.send_all(self.reply)
        await stream.aclose()


@asynccontextmanager
async def upstream(handler: Callable[[trio.abc.Stream], Awaitable[None]]) -> AsyncIterator[int]:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, host="127.0.0.1"), handler, 0)
        yield listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()


def fetch(dial_url: str, *, egress: EgressPolicy = LOOPBACK_DEV, **kw: Any) -> Fetch:
    options: dict[str, Any] = {"timeout": 2.0, "max_bytes": 1000, **kw}
    return Fetch(
        url="https://ap.test/.well-known/aauth-agent.json",
        dial_url=dial_url,
        purpose=FetchPurpose.METADATA,
        egress=egress,
        **options,
    )


async def fetched_via(action: Fetch, **server_options: Any) -> tuple[str, Any]:
    """Run one request whose engine asks for ``action``; what the server fed back."""
    scripted = engine(lambda request: action)
    async with running(AAuthServer(scripted, echo, clock=lambda: 50.0, **server_options)) as port:
        one(await talk(port, GET_CLOSE))
    ((kind, what),) = scripted.exchanges[0].fed
    return kind, what


OK_JSON = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def test_a_fetch_dials_the_mapped_url_and_reports_the_answer() -> None:
    server = Upstream(OK_JSON)
    async with upstream(server) as port:
        kind, (url, status, headers, body, now) = await fetched_via(
            fetch(f"http://127.0.0.1:{port}/.well-known/aauth-agent.json")
        )
    assert kind == "fetched"
    assert url == "https://ap.test/.well-known/aauth-agent.json"
    assert (status, body, now) == (200, b"{}", 50)
    assert ("Content-Type", "application/json") in headers
    assert server.seen[0].startswith(b"GET /.well-known/aauth-agent.json HTTP/1.1\r\n")


async def test_a_fetch_to_a_refused_address_never_connects() -> None:
    server = Upstream(OK_JSON)
    async with upstream(server) as port:
        kind, (_url, _now, reason) = await fetched_via(
            fetch(f"http://127.0.0.1:{port}/", egress=EgressPolicy())
        )
    assert kind == "fetch_failed"
    assert reason == "egress refused: an address the host resolves to is a loopback address"
    assert "127.0.0.1" not in reason
    assert server.seen == []


class Resolver(trio.abc.HostnameResolver):
    """Answers every name with ``addresses``."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = addresses

    async def getaddrinfo(  # noqa: PLR0917 - trio's signature
        self,
        host: bytes | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in self.addresses
        ]

    async def getnameinfo(
        self, sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int
    ) -> tuple[str, str]:
        raise NotImplementedError


async def test_every_resolved_address_is_admitted_before_any_connection() -> None:
    server = Upstream(OK_JSON)
    async with upstream(server) as port:
        trio.socket.set_custom_hostname_resolver(Resolver(["127.0.0.1", "10.0.0.1"]))
        mixed = await fetched_via(fetch(f"http://ap.test:{port}/"))
        trio.socket.set_custom_hostname_resolver(Resolver([]))
        nothing = await fetched_via(fetch(f"http://ap.test:{port}/"))
        # the first address refuses the connection, the second answers
        trio.socket.set_custom_hostname_resolver(Resolver(["127.0.0.2", "127.0.0.1"]))
        second = await fetched_via(fetch(f"http://ap.test:{port}/"))
        trio.socket.set_custom_hostname_resolver(None)
    assert mixed[0] == "fetch_failed"
    assert mixed[1][2] == "egress refused: an address the host resolves to is a private address"
    assert nothing[0] == "fetch_failed"
    assert nothing[1][2] == "egress refused: the host resolves to no address"
    assert second[0] == "fetched"
    assert len(server.seen) == 1
    assert server.seen[0].startswith(b"GET / HTTP/1.1\r\nHost: ap.test:")


async def test_fetch_failures_reach_the_engine() -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000
    async with (
        upstream(Upstream(big)) as big_port,
        upstream(Upstream(OK_JSON, stall=True)) as stall_port,
    ):
        too_big = await fetched_via(fetch(f"http://127.0.0.1:{big_port}/"))
        too_slow = await fetched_via(fetch(f"http://127.0.0.1:{stall_port}/", timeout=0.3))
    async with upstream(trio.abc.AsyncResource.aclose) as closing_port:
        tls_to_plain = await fetched_via(fetch(f"https://127.0.0.1:{closing_port}/"))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused = await fetched_via(fetch(f"http://127.0.0.1:{closed.getsockname()[1]}/"))
    closed.close()
    not_http = await fetched_via(fetch("ftp://127.0.0.1/x"))
    reasons = {
        name: what[2]
        for name, (kind, what) in {
            "too_big": too_big,
            "too_slow": too_slow,
            "tls": tls_to_plain,
            "refused": refused,
            "not_http": not_http,
        }.items()
        if kind == "fetch_failed"
    }
    assert reasons["too_big"] == "the response body is larger than 1000 bytes"
    assert "0.3 s" in reasons["too_slow"]
    assert reasons["tls"].startswith("connect failed: TLS error")
    assert reasons["refused"].startswith("connect failed")
    assert reasons["not_http"] == "the URL cannot be fetched over HTTP/1.1"


async def test_a_given_tls_context_is_used_for_https_fetches(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    async def tls_upstream(stream: trio.abc.Stream) -> None:
        await Upstream(OK_JSON)(trio.SSLStream(stream, server_tls, server_side=True))

    async with upstream(tls_upstream) as port:
        kind, what = await fetched_via(fetch(f"https://127.0.0.1:{port}/"), ssl_context=client_tls)
    assert (kind, what[1], what[3]) == ("fetched", 200, b"{}")


async def test_a_resolved_value_that_is_not_an_address_is_refused() -> None:
    server = Upstream(OK_JSON)
    async with upstream(server) as port:
        trio.socket.set_custom_hostname_resolver(Resolver(["not-an-address"]))
        try:
            kind, (_url, _now, reason) = await fetched_via(fetch(f"http://ap.test:{port}/"))
        finally:
            trio.socket.set_custom_hostname_resolver(None)
    assert kind == "fetch_failed"
    assert reason == "egress refused: the host resolves to something that is not an IP address"
    assert server.seen == []


# ------------------------------------------------------------------ TLS, construction


async def test_over_tls_the_engine_sees_https_urls(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = AAuthServer(engine(), echo)
    async with trio.open_nursery() as nursery:
        tcp = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = tcp[0].socket.getsockname()[1]
        tls = [trio.SSLListener(listener, server_tls, https_compatible=True) for listener in tcp]
        await nursery.start(server.serve_listeners, tls)
        with trio.fail_after(10):
            raw = await trio.open_tcp_stream("127.0.0.1", port)
            async with trio.SSLStream(
                raw, client_tls, server_hostname="127.0.0.1", https_compatible=True
            ) as stream:
                await stream.send_all(GET_CLOSE)
                received = b""
                while chunk := await stream.receive_some(65_536):
                    received += chunk
        nursery.cancel_scope.cancel()
    assert one(received).json()["url"] == "https://api.test/last"


async def test_a_refusal_over_tls_is_read_by_the_client(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = AAuthServer(engine(), echo)
    async with trio.open_nursery() as nursery:
        tcp = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = tcp[0].socket.getsockname()[1]
        tls = [trio.SSLListener(listener, server_tls, https_compatible=True) for listener in tcp]
        await nursery.start(server.serve_listeners, tls)
        with trio.fail_after(10):
            raw = await trio.open_tcp_stream("127.0.0.1", port)
            async with trio.SSLStream(
                raw, client_tls, server_hostname="127.0.0.1", https_compatible=True
            ) as stream:
                await stream.send_all(b"GARBAGE\r\n\r\n")
                received = b""
                while chunk := await stream.receive_some(65_536):
                    received += chunk
        nursery.cancel_scope.cancel()
    assert one(received).status == 400


async def test_a_fixed_scheme_wins() -> None:
    async with running(AAuthServer(engine(), echo, scheme="https")) as port:
        assert one(await talk(port, GET_CLOSE)).json()["url"] == "https://api.test/last"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"scheme": "ftp"}, "scheme"),
        ({"max_body": -1}, "max_body"),
        ({"max_header_bytes": True}, "max_header_bytes"),
        ({"idle_timeout": 0}, "idle_timeout"),
        ({"write_timeout": "1"}, "write_timeout"),
        ({"read_timeout": False}, "read_timeout"),
        ({"max_connections": 0}, "max_connections"),
    ],
)
def test_server_arguments_are_checked(options: dict[str, Any], match: str) -> None:
    with pytest.raises(LocalError, match=match):
        AAuthServer(engine(), echo, **options)


def test_package_exports_the_server_and_keeps_the_client() -> None:
    assert aauth_trio.AAuthServer is AAuthServer
    assert aauth_trio.AAuthClient.__name__ == "AAuthClient"
    assert aauth_trio.DEFAULT_MAX_REQUEST_BODY == 1_048_576
    assert ResourceServer is not None


# ------------------------------------------------------------------ the example


def load_example() -> Any:
    path = Path(__file__).resolve().parents[2] / "examples" / "trio_resource.py"
    spec = importlib.util.spec_from_file_location("trio_resource_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_builds_and_serves() -> None:
    example = load_example()
    server = example.build()
    assert isinstance(server, AAuthServer)
    metadata_request = b"GET /.well-known/aauth-resource.json HTTP/1.1\r\nHost: api.example\r\n\r\n"
    async with running(server) as port:
        metadata, unsigned = parse(
            await talk(
                port,
                metadata_request + b"GET /whoami HTTP/1.1\r\nHost: api.example\r\n"
                b"Connection: close\r\n\r\n",
            ),
            ("GET", "GET"),
        )
    assert metadata.status == 200
    assert metadata.json()["issuer"] == "https://api.example"
    assert unsigned.status == 401
    assert unsigned.header("AAuth-Requirement") == "requirement=agent-token"
    verified = cast(Verified, type("V", (), {"sub": None, "agent": "aauth:bot@agent.example"})())
    hello = await example.handler(HttpRequest("GET", "https://api.example/whoami"), verified)
    assert hello.body == b"hello aauth:bot@agent.example\n"
    anyone = await example.handler(HttpRequest("GET", "https://api.example/"), None)
    assert anyone.body == b"hello anyone\n"
