"""The trio driver (``aauth_trio``): every shared flow scenario through :class:`AAuthClient`,
then what only this driver has: its own HTTP/1.1 layer on h11 (framing, chunked answers, 1xx,
TLS through ``trio.SSLStream``), its time and size bounds, its callbacks.

Every server is on 127.0.0.1: the fakes on their threads (:func:`live_world`), and small trio
servers in the test's own nursery for the wire-level cases. Every test runs on trio through the
anyio pytest plugin; no asyncio anywhere.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import h11
import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import aauth_trio
from aauth.agent import (
    Agent,
    AgentLimits,
    Declined,
    MetadataFetchError,
    PromptClarification,
    PromptInteraction,
    StaticAgentCredentials,
    TransportError,
)
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth_trio import AAuthClient, PromptTimeout, Timeouts, TransportFailure
from aauth_trio._http11 import Exchange, exchange
from tests.drivers.harness import (
    CALL_TIMEOUT,
    ClarificationCallback,
    DriverClient,
    HarnessResponse,
    InteractionCallback,
    LiveWorld,
    live_world,
)
from tests.drivers.scenarios import SCENARIOS, Scenario, scenario_id
from tests.fakes import Defer, DropConnection, Handler

pytestmark = pytest.mark.anyio

RESOURCE = "https://resource.example"
PS = "https://ps.example"
AP = "https://agent.example"


@pytest.fixture
def anyio_backend() -> str:
    """This driver is trio only."""
    return "trio"


# ------------------------------------------------------------------ the harness


class TrioClient:
    """:class:`DriverClient` over one :class:`AAuthClient`."""

    def __init__(self, client: AAuthClient) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HarnessResponse:
        response = await self.client.request(method, url, headers=headers, body=body)
        return HarnessResponse(response.status, response.headers, response.body)


class TrioHarness:
    """:class:`~tests.drivers.harness.DriverHarness` for ``aauth_trio``."""

    name = "trio"
    #: every failure reaches the engine as TransportFailed: the engine's TransportError only
    transport_errors: tuple[type[BaseException], ...] = ()

    @asynccontextmanager
    async def client(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
    ) -> AsyncIterator[DriverClient]:
        bound = Timeouts(
            connect=CALL_TIMEOUT, write=CALL_TIMEOUT, read=CALL_TIMEOUT, exchange=CALL_TIMEOUT
        )
        if on_clarification is None:
            client = AAuthClient(agent, on_interaction=on_interaction, timeouts=bound)
        else:
            client = AAuthClient(
                agent,
                on_interaction=on_interaction,
                on_clarification=on_clarification,
                timeouts=bound,
            )
        yield TrioClient(client)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
async def test_scenario(scenario: Scenario) -> None:
    with trio.fail_after(30):
        await scenario(TrioHarness())


# ------------------------------------------------------------------ small trio servers

StreamHandler = Callable[[trio.abc.Stream], Awaitable[None]]


@asynccontextmanager
async def trio_server(
    handler: StreamHandler, *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """Serve ``handler`` on 127.0.0.1 (TLS with ``tls``) in a nursery; yields the port."""

    async def guarded(stream: trio.abc.Stream) -> None:
        try:
            await handler(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            pass  # the client went away (as some tests make it do)
        finally:
            await trio.aclose_forcefully(stream)

    async with trio.open_nursery() as nursery:
        if tls is None:
            listeners = await nursery.start(partial(trio.serve_tcp, host="127.0.0.1"), guarded, 0)
        else:
            serve = partial(trio.serve_ssl_over_tcp, host="127.0.0.1", https_compatible=True)
            listeners = await nursery.start(serve, guarded, 0, tls)
        listener = listeners[0]
        if isinstance(listener, trio.SSLListener):
            listener = listener.transport_listener
        yield int(listener.socket.getsockname()[1])
        nursery.cancel_scope.cancel()


async def read_request(
    stream: trio.abc.Stream, connection: h11.Connection
) -> tuple[h11.Request, bytes]:
    """One whole request from ``stream``."""
    request: h11.Request | None = None
    body = b""
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, body
        else:
            raise AssertionError(f"unexpected {event!r}")


def fake_over_h11(fake: Handler, *, scheme: str, chunk: int = 7) -> StreamHandler:
    """A stream handler serving a fake, its answers sent chunked in ``chunk``-byte pieces."""

    async def handle(stream: trio.abc.Stream) -> None:
        connection = h11.Connection(h11.SERVER)
        wire, body = await read_request(stream, connection)
        fields = [(k.decode(), v.decode()) for k, v in wire.headers.raw_items()]
        host = dict((k.lower(), v) for k, v in fields)["host"]
        url = f"{scheme}://{host}{wire.target.decode()}"
        request = HttpRequest(wire.method.decode(), url, fields, body)
        try:
            answer = fake(request, int(time.time()))
        except DropConnection:
            return
        headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
        headers.append(("Transfer-Encoding", "chunked"))
        out = connection.send(h11.Response(status_code=answer.status, headers=headers)) or b""
        for start in range(0, len(answer.body), chunk):
            out += connection.send(h11.Data(data=answer.body[start : start + chunk])) or b""
        out += connection.send(h11.EndOfMessage()) or b""
        await stream.send_all(out)

    return handle


def scripted(reply: bytes, *, then: float = 0.0, read: bool = True) -> StreamHandler:
    """A server that reads the request head, sends ``reply`` raw, waits ``then`` s, closes."""

    async def handle(stream: trio.abc.Stream) -> None:
        if read:
            seen = b""
            while b"\r\n\r\n" not in seen:
                seen += bytes(await stream.receive_some(65536))
        await stream.send_all(reply)
        await trio.sleep(then)

    return handle


# ------------------------------------------------------------------ TLS material


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A self-signed certificate for IP 127.0.0.1: (cert file, key file, PEM text)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aauth-trio test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
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


@pytest.fixture
def server_tls(certificate: tuple[Path, Path, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate[0], certificate[1])
    return context


@pytest.fixture
def client_tls(certificate: tuple[Path, Path, str]) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=certificate[2])


def agent_for(live: LiveWorld, dial: dict[str, str], **limits: Any) -> Agent:
    """An agent of the live world whose transport map is the world's, overridden by ``dial``."""
    token = live.world.agent_provider.mint(live.world.agent_key, now=int(time.time()))
    transport = {**dict(live.transport_map), **dial}
    return Agent(
        StaticAgentCredentials(live.world.agent_key, token),
        capabilities=("interaction", "clarification"),
        limits=AgentLimits(**limits) if limits else None,
        transport_map=transport,
    )


FAST = Timeouts(connect=5, write=5, read=5, exchange=10)


def whole(status: int) -> int:
    return 1 << 20


# ------------------------------------------------------------------ flows over TLS and chunked


async def test_auth_token_flow_over_tls_with_chunked_answers(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with live_world() as live:
        resource = fake_over_h11(live.world.resource.handle, scheme="https")
        async with trio_server(resource, tls=server_tls) as port:
            agent = agent_for(live, {RESOURCE: f"https://127.0.0.1:{port}"})
            client = AAuthClient(agent, ssl_context=client_tls, timeouts=FAST)
            first = await client.get(f"{RESOURCE}/auth/data?x=1")
            again = await client.get(f"{RESOURCE}/auth/more")
        assert first.status == 200 and again.status == 200
        assert [c.identity.kind for c in live.world.resource.calls] == ["auth", "auth"]
        assert len(live.world.person_server.auth_tokens) == 1  # the second call reused it
        seen = live.world.resource.requests[-1]
        assert seen.url == f"https://127.0.0.1:{port}/auth/more"
        # the fields as received; the body de-chunked
        assert first.header("transfer-encoding") == "chunked"
        assert json.loads(first.body)["path"] == "/auth/data"


async def test_untrusted_certificate_is_a_transport_error(server_tls: ssl.SSLContext) -> None:
    with live_world() as live:
        resource = fake_over_h11(live.world.resource.handle, scheme="https")
        async with trio_server(resource, tls=server_tls) as port:
            agent = agent_for(live, {RESOURCE: f"https://127.0.0.1:{port}"})
            client = AAuthClient(agent, timeouts=FAST)  # system trust: no such CA
            with pytest.raises(TransportError) as caught:
                await client.get(f"{RESOURCE}/agent/secret-path")
        message = caught.value.message
        assert "connect failed: TLS error: CERTIFICATE_VERIFY_FAILED" in message
        assert "secret-path" not in message
        assert live.world.resource.calls == []


# ------------------------------------------------------------------ the HTTP/1.1 layer


async def test_exchange_puts_the_signed_request_on_the_wire_as_is() -> None:
    seen: list[tuple[h11.Request, bytes]] = []

    async def handle(stream: trio.abc.Stream) -> None:
        connection = h11.Connection(h11.SERVER)
        seen.append(await read_request(stream, connection))
        await stream.send_all(
            (connection.send(h11.Response(status_code=204, headers=[])) or b"")
            + (connection.send(h11.EndOfMessage()) or b"")
        )

    async with trio_server(handle) as port:
        request = HttpRequest(
            "POST",
            f"http://127.0.0.1:{port}/p/a%20th?q=1&r",
            [
                ("X-Two", "a"),
                ("Host", "evil.example"),
                ("x-two", "b"),
                ("Content-Length", "999"),
                ("Transfer-Encoding", "chunked"),
                ("Connection", "keep-alive"),
            ],
            b"hello",
        )
        got = await exchange(request, timeouts=FAST, body_limit=whole)
        empty_post = HttpRequest("POST", f"http://127.0.0.1:{port}/", [])
        await exchange(empty_post, timeouts=FAST, body_limit=whole)
        bare_get = HttpRequest("GET", f"http://127.0.0.1:{port}", [])
        await exchange(bare_get, timeouts=FAST, body_limit=whole)
    assert got == Exchange(HttpResponse(204, [("Connection", "close")], b""), truncated=False)
    wire, body = seen[0]
    assert wire.target == b"/p/a%20th?q=1&r" and body == b"hello"
    assert list(wire.headers.raw_items()) == [
        (b"Host", f"127.0.0.1:{port}".encode()),
        (b"X-Two", b"a"),
        (b"x-two", b"b"),
        (b"Content-Length", b"5"),
        (b"Connection", b"close"),
    ]
    assert (b"content-length", b"0") in list(seen[1][0].headers)
    assert seen[2][0].target == b"/"
    assert not any(name == b"content-length" for name, _ in seen[2][0].headers)


async def test_exchange_reads_chunked_bodies_skips_1xx_and_keeps_field_order() -> None:
    reply = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nx-a: 2\r\n"
        b"Set-Thing: caf\xe9\r\n\r\n"
        b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n"
    )
    async with trio_server(scripted(reply)) as port:
        got = await exchange(
            HttpRequest("GET", f"http://127.0.0.1:{port}/"), timeouts=FAST, body_limit=whole
        )
    response = got.response
    assert response.status == 200 and response.body == b"hello world"
    assert response.header_values("x-a") == ["1", "2"]
    assert response.header("set-thing") == "caf\xe9"


async def test_exchange_reads_until_close_without_framing_and_head_without_body() -> None:
    async with trio_server(scripted(b"HTTP/1.0 200 OK\r\n\r\nall of it")) as port:
        got = await exchange(
            HttpRequest("GET", f"http://127.0.0.1:{port}/"), timeouts=FAST, body_limit=whole
        )
    assert got.response.body == b"all of it"
    async with trio_server(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")) as port:
        head = await exchange(
            HttpRequest("HEAD", f"http://127.0.0.1:{port}/"), timeouts=FAST, body_limit=whole
        )
    assert head.response.status == 200 and head.response.body == b""


async def test_exchange_cuts_a_body_past_its_limit() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"z" * 100_000
    limits: list[int] = []

    def limit(status: int) -> int:
        limits.append(status)
        return 1000

    async with trio_server(scripted(reply)) as port:
        got = await exchange(
            HttpRequest("GET", f"http://127.0.0.1:{port}/"), timeouts=FAST, body_limit=limit
        )
    assert got.truncated and got.response.body == b"z" * 1001
    assert limits == [200]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"", "closed before a response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "middle of the response body"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not valid HTTP/1.1"),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", "not valid HTTP/1.1"),
    ],
    ids=["closed", "short-body", "not-http", "huge-head"],
)
async def test_exchange_reports_broken_answers(reply: bytes, reason: str) -> None:
    async with trio_server(scripted(reply)) as port:
        with pytest.raises(TransportFailure, match=reason) as caught:
            await exchange(
                HttpRequest("GET", f"http://127.0.0.1:{port}/cap-xyz"),
                timeouts=FAST,
                body_limit=whole,
            )
    assert "cap-xyz" not in caught.value.reason and "127.0.0.1" not in caught.value.reason


async def test_exchange_bounds_every_step_in_time() -> None:
    async def silent(stream: trio.abc.Stream) -> None:
        await trio.sleep_forever()

    async def drip(stream: trio.abc.Stream) -> None:
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        while True:
            await stream.send_all(b"x")
            await trio.sleep(0.05)

    request = HttpRequest("GET", "http://127.0.0.1:1/")
    async with trio_server(silent) as port:
        started = trio.current_time()
        with pytest.raises(TransportFailure, match=r"no response data for 0\.2 s"):
            await exchange(
                HttpRequest("GET", f"http://127.0.0.1:{port}/"),
                timeouts=Timeouts(read=0.2),
                body_limit=whole,
            )
        assert trio.current_time() - started < 2
        # nothing read on the other side: the request cannot all be written
        big = HttpRequest("POST", f"http://127.0.0.1:{port}/", [], b"x" * (64 << 20))
        with pytest.raises(TransportFailure, match=r"sending the request timed out"):
            await exchange(big, timeouts=Timeouts(write=0.3), body_limit=whole)
    async with trio_server(drip) as port:
        with pytest.raises(TransportFailure, match=r"no complete response within 0\.4 s"):
            await exchange(
                HttpRequest("GET", f"http://127.0.0.1:{port}/"),
                timeouts=Timeouts(read=1, exchange=0.4),
                body_limit=whole,
            )
    with pytest.raises(TransportFailure, match=r"^connect failed: Connection refused$"):
        await exchange(request, timeouts=FAST, body_limit=whole)


async def test_exchange_bounds_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(host: str, port: int) -> trio.SocketStream:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    monkeypatch.setattr(trio, "open_tcp_stream", never)
    with pytest.raises(TransportFailure, match=r"connect timed out after 0\.1 s"):
        await exchange(
            HttpRequest("GET", "https://127.0.0.1:9/"),
            timeouts=Timeouts(connect=0.1),
            body_limit=whole,
        )


async def test_exchange_refuses_what_http11_cannot_carry() -> None:
    with pytest.raises(LocalError, match="absolute http or https"):
        await exchange(HttpRequest("GET", "ftp://127.0.0.1/x"), timeouts=FAST, body_limit=whole)
    with pytest.raises(LocalError, match="invalid port"):
        await exchange(
            HttpRequest("GET", "http://127.0.0.1:99999/"), timeouts=FAST, body_limit=whole
        )
    async with trio_server(scripted(b"")) as port:
        bad = HttpRequest("GET", f"http://127.0.0.1:{port}/", [("X-Token", "secret\r\nX: y")])
        with pytest.raises(LocalError, match="RFC 9110") as caught:
            await exchange(bad, timeouts=FAST, body_limit=whole)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    "value", [{"connect": 0}, {"read": -1.0}, {"write": True}, {"exchange": "5"}], ids=str
)
def test_timeouts_must_be_positive_seconds(value: dict[str, Any]) -> None:
    with pytest.raises(LocalError, match="Timeouts"):
        Timeouts(**value)


# ------------------------------------------------------------------ the client: bounds


async def test_an_answer_beyond_max_response_size_fails_the_call() -> None:
    with live_world() as live:
        client = AAuthClient(live.agent(), max_response_size=10, timeouts=FAST)
        with pytest.raises(TransportError, match=r"larger than 10 bytes \(max_response_size\)"):
            await client.get(live.url("/agent/x"))
        assert len(live.world.resource.calls) == 1


async def test_a_token_answer_beyond_the_engine_limit_is_the_engine_error() -> None:
    huge = b'{"issuer": "' + b"p" * 70_000 + b'"}'
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    with live_world() as live:
        async with trio_server(scripted(reply % len(huge) + huge)) as port:
            agent = agent_for(live, {PS: f"http://127.0.0.1:{port}"})
            client = AAuthClient(agent, timeouts=FAST)
            with pytest.raises(MetadataFetchError, match="65536"):
                await client.get(live.url("/person"))


def test_prefer_wait_raises_the_read_timeout() -> None:
    with live_world() as live:
        waiting = live.agent(limits=AgentLimits(prefer_wait=60))
        client = AAuthClient(waiting, timeouts=Timeouts(connect=3, read=10, exchange=20))
        assert client.timeouts == Timeouts(connect=3, read=65, exchange=68)
        patient = AAuthClient(waiting, timeouts=Timeouts(read=100, exchange=200))
        assert patient.timeouts == Timeouts(read=100, exchange=200)
        assert AAuthClient(live.agent()).timeouts == Timeouts()
        assert AAuthClient(live.agent()).prompt_timeout == 300


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"agent": object()}, "Agent"),
        ({"max_response_size": True}, "int"),
        ({"max_response_size": -1}, ">= 0"),
    ],
    ids=["agent", "size-bool", "size-negative"],
)
def test_client_arguments_are_checked(kwargs: dict[str, Any], match: str) -> None:
    with live_world() as live:
        arguments: dict[str, Any] = {"agent": live.agent(), **kwargs}
        with pytest.raises(LocalError, match=match):
            AAuthClient(**arguments)


# ------------------------------------------------------------------ the client: callbacks


async def test_async_callbacks_are_awaited() -> None:
    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.INTERACTION
        ps.auth_token_defer = Defer.CLARIFICATION
        shown: list[PromptInteraction] = []
        asked: list[PromptClarification] = []

        async def on_interaction(prompt: PromptInteraction) -> None:
            await trio.sleep(0)
            shown.append(prompt)
            ps.approve(prompt.code)

        async def on_clarification(prompt: PromptClarification) -> str:
            await trio.sleep(0)
            asked.append(prompt)
            return "the work one"

        client = AAuthClient(
            live.agent(),
            on_interaction=on_interaction,
            on_clarification=on_clarification,
            timeouts=FAST,
        )
        got = await client.get(live.url("/auth"))
        assert got.status == 200
        assert len(shown) == 1 and len(asked) == 1
        assert ps.clarification_answers == ["the work one"]


async def test_interaction_without_a_callback_is_a_local_error() -> None:
    with live_world() as live:
        live.world.person_server.person_token_defer = Defer.INTERACTION
        client = AAuthClient(live.agent(), timeouts=FAST)
        with pytest.raises(LocalError, match="no on_interaction callback"):
            await client.get(live.url("/person"))


async def test_a_callback_that_never_returns_is_bounded() -> None:
    async def forever(prompt: object) -> None:
        await trio.sleep_forever()

    with live_world() as live:
        ps = live.world.person_server
        ps.person_token_defer = Defer.INTERACTION
        client = AAuthClient(live.agent(), on_interaction=forever, prompt_timeout=0.2)
        with pytest.raises(PromptTimeout, match=r"0\.2 s"):
            await client.get(live.url("/person"))
        ps.person_token_defer = Defer.CLARIFICATION
        slow = AAuthClient(live.agent(), on_clarification=forever, prompt_timeout=0.2)
        with pytest.raises(Declined):  # unanswered in time: declined, the request cancelled
            await slow.get(live.url("/person"))
        assert ps.last_pending.state == "cancelled"


async def test_the_default_clarification_callback_declines() -> None:
    with live_world() as live:
        live.world.person_server.person_token_defer = Defer.CLARIFICATION
        with pytest.raises(Declined):
            await AAuthClient(live.agent(), timeouts=FAST).get(live.url("/person"))


async def test_a_clarification_answer_must_be_text() -> None:
    with live_world() as live:
        live.world.person_server.person_token_defer = Defer.CLARIFICATION
        client = AAuthClient(
            live.agent(),
            on_clarification=lambda prompt: 42,  # type: ignore[arg-type,return-value]
            timeouts=FAST,
        )
        with pytest.raises(LocalError, match="str or None"):
            await client.get(live.url("/person"))


async def test_post_and_request_helpers() -> None:
    with live_world() as live:
        client = AAuthClient(live.agent(), timeouts=FAST)
        posted = await client.post(
            live.url("/agent/items"), body=b"{}", headers=[("Content-Type", "application/json")]
        )
        put = await client.request("PUT", live.url("/agent/items/1"), body=b"x")
        assert posted.status == 200 and put.status == 200
        calls = live.world.resource.calls
        assert [(c.method, c.body) for c in calls] == [("POST", b"{}"), ("PUT", b"x")]


def test_package_exports() -> None:
    assert set(aauth_trio.__all__) == {
        "DEFAULT_MAX_REQUEST_BODY",
        "DEFAULT_MAX_RESPONSE_SIZE",
        "AAuthClient",
        "AAuthServer",
        "Handler",
        "ClarificationCallback",
        "InteractionCallback",
        "PromptTimeout",
        "Timeouts",
        "TransportFailure",
    }
    assert issubclass(PromptTimeout, LocalError)
