"""An AAuth resource server on trio: h11 frames the HTTP/1.1 messages, the sans-IO
:class:`~aauth.resource.ResourceServer` decides everything AAuth, an application handler
answers the calls it lets through.

    async def handler(request: HttpRequest, identity: Verified | None) -> HttpResponse:
        return HttpResponse(200, [("Content-Type", "text/plain")], b"hello " + ...)

    await AAuthServer(resource_server, handler).serve("0.0.0.0", 8080)

Per connection, one loop: read a request (bounded in size and time), convert it to an
:class:`~aauth.http.HttpRequest`, run the engine's actions (``Fetch`` through this package's
HTTP client after egress admission of every resolved address, ``CallApp`` through the handler,
``Respond`` on the wire), keep the connection alive when both sides allow it. Nothing a client
sends can end the server: bad HTTP is a ``400``, an oversized head ``431``, an oversized body
``413``, a request that does not arrive in time ``408`` (each of these closes the connection,
after a short drain so the client reads the answer); an application or engine failure is a
logged ``500``; a connection beyond ``max_connections`` gets ``503``. TLS: serve
``trio.SSLListener`` listeners with :meth:`AAuthServer.serve_listeners` (the engine then sees
``https`` URLs), or terminate TLS in front and pass ``scheme="https"``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Final, NoReturn, TypeVar, assert_never, cast

import h11
import trio

from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.resource import Action, CallApp, Exchange, Fetch, ResourceServer, Respond, Verified

from ._http11 import DEFAULT_MAX_HEADER_BYTES, Timeouts, TransportFailure, exchange

__all__ = [
    "DEFAULT_MAX_REQUEST_BODY",
    "AAuthServer",
    "Handler",
]

#: The largest request body read by default (1 MiB); beyond it the answer is ``413``.
DEFAULT_MAX_REQUEST_BODY: Final = 1_048_576

#: The application: called with the request to answer (for a deferred poll, the held
#: original request) and the verified identity (``None`` on a public path).
Handler = Callable[[HttpRequest, Verified | None], Awaitable[HttpResponse]]

_log = logging.getLogger(__name__)
_ListenerT = TypeVar("_ListenerT", bound=trio.abc.Listener[trio.abc.Stream])

_READ_CHUNK: Final = 65_536
# framing fields this module sets itself on a response (RFC 9112 §6, §9.6)
_OWN_FIELDS: Final = frozenset({b"content-length", b"transfer-encoding", b"connection"})
# RFC 9110 §7.2: the Host field value is uri-host [ ":" port ]
_HOST_RE: Final = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::[0-9]*)?")
_NO_BODY_STATUSES: Final = frozenset({204, 304})
_UNAVAILABLE: Final = b"the server could not answer this request\n"


def _plain(status: int, text: bytes) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "text/plain; charset=utf-8")], text)


class _Refused(Exception):
    """The request cannot be served: answer ``response`` and close the connection."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class _Gone(Exception):
    """The client went away, or stayed silent between requests: close without answering."""


class AAuthServer:
    """Serve an application behind a :class:`~aauth.resource.ResourceServer` over HTTP/1.1.

    :param server: the engine (routes, keys, policies, stores).
    :param handler: ``async (request, identity) -> HttpResponse``; its answer is sent with
        the engine's extra headers (``AAuth-Access``); framing fields it sets
        (``Content-Length``, ``Transfer-Encoding``, ``Connection``) are replaced.
    :param clock: Unix time in seconds (the engine's ``now``).
    :param scheme: the scheme of the URL the engine sees (``https`` behind a TLS terminator);
        default: ``https`` on a TLS stream, else ``http``.
    :param max_body: the largest request body accepted (``413`` beyond it).
    :param max_header_bytes: the largest request head accepted (``431`` beyond it; h11 checks
        it while the head is incomplete, so one read of 64 KiB may pass it).
    :param idle_timeout: seconds a kept-alive connection may wait for its next request.
    :param read_timeout: seconds each wait for request bytes may take once a request began.
    :param request_timeout: seconds a whole request (head and body) may take to arrive.
    :param write_timeout: seconds sending one response may take.
    :param max_connections: connections served at once; more are answered ``503``.
    :param ssl_context: TLS context for the engine's ``https`` fetches (system trust).
    """

    def __init__(
        self,
        server: ResourceServer,
        handler: Handler,
        *,
        clock: Callable[[], float] = time.time,
        scheme: str | None = None,
        max_body: int = DEFAULT_MAX_REQUEST_BODY,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        idle_timeout: float = 15.0,
        read_timeout: float = 30.0,
        request_timeout: float = 60.0,
        write_timeout: float = 30.0,
        max_connections: int = 1_000,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if scheme not in (None, "http", "https"):
            raise LocalError("scheme must be 'http', 'https' or None")
        for name, value, least in (
            ("max_body", max_body, 0),
            ("max_header_bytes", max_header_bytes, 0),
            ("max_connections", max_connections, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise LocalError(f"{name} must be an int >= {least}")
        for name, seconds in (
            ("idle_timeout", idle_timeout),
            ("read_timeout", read_timeout),
            ("request_timeout", request_timeout),
            ("write_timeout", write_timeout),
        ):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise LocalError(f"{name} must be a number of seconds > 0")
        self.server: ResourceServer = server
        self.handler: Handler = handler
        self.scheme = scheme
        self.max_body = max_body
        self.max_header_bytes = max_header_bytes
        self.idle_timeout = float(idle_timeout)
        self.read_timeout = float(read_timeout)
        self.request_timeout = float(request_timeout)
        self.write_timeout = float(write_timeout)
        self.max_connections = max_connections
        self._active = 0
        self._clock = clock
        self._ssl_context = ssl_context

    # -- serving ------------------------------------------------------------------------------

    async def serve(
        self,
        host: str | None,
        port: int,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Listen on ``host:port`` (``port=0``: any free port) and serve until cancelled;
        ``nursery.start`` returns the listeners (their sockets tell the port)."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        await self.serve_listeners(listeners, task_status=task_status)

    async def serve_listeners(
        self,
        listeners: Sequence[_ListenerT],
        *,
        task_status: trio.TaskStatus[list[_ListenerT]] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Serve every connection of ``listeners`` (TCP, or ``trio.SSLListener`` for TLS)
        until cancelled."""
        await trio.serve_listeners(self.handle_connection, list(listeners), task_status=task_status)

    async def handle_connection(self, stream: trio.abc.Stream) -> None:
        """Serve one client connection: requests one after another while it stays alive.
        Never raises (except cancellation); always closes ``stream``. Beyond
        ``max_connections`` open ones, a new connection is answered ``503`` and closed."""
        if self._active >= self.max_connections:
            try:
                with trio.move_on_after(_CLOSE_SECONDS), contextlib.suppress(*_CLOSE_ERRORS):
                    await stream.send_all(_BUSY)
            finally:
                await trio.aclose_forcefully(stream)
            return
        self._active += 1
        try:
            await self._serve_connection(stream)
        finally:
            self._active -= 1

    async def _serve_connection(self, stream: trio.abc.Stream) -> None:
        scheme = self.scheme or ("https" if isinstance(stream, trio.SSLStream) else "http")
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=self.max_header_bytes)
        try:
            while True:
                try:
                    request = await self._receive(stream, connection, scheme)
                except _Refused as refused:
                    await self._send(stream, connection, refused.response, close=True)
                    await _linger(stream)
                    return
                response = await self.answer(request)
                await self._send(stream, connection, response, head=request.method == "HEAD")
                if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                    return
                connection.start_next_cycle()
        except (_Gone, trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client left or stalled; nothing more can be said to it
        except h11.ProtocolError:
            _log.debug("HTTP/1.1 framing failed on a connection; closed")
        except Exception:
            _log.exception("connection handling failed; closed")
        finally:
            # a graceful close (TLS close_notify), bounded; on timeout trio closes forcefully
            with trio.move_on_after(_CLOSE_SECONDS), contextlib.suppress(*_CLOSE_ERRORS):
                await stream.aclose()

    # -- one request through the engine --------------------------------------------------------

    async def answer(self, request: HttpRequest) -> HttpResponse:
        """Run the engine (and the handler, when it lets the call through) for ``request``;
        the response to send. A failure inside is logged and answered ``500``."""
        try:
            exchange_ = self.server.receive(request, now=self._now())
            action = exchange_.next_action()
            while True:
                match action:
                    case Fetch():
                        action = await self._fetch(exchange_, action)
                    case Respond(response=response):
                        return response
                    case CallApp(add_headers=extra, capture=False):
                        response = await self._call_app(action)
                        return response.with_headers(extra) if extra else response
                    case CallApp():
                        # the deferred form: the engine stores the whole answer (adding its
                        # headers itself) and says what to send
                        response = await self._call_app(action)
                        action = exchange_.app_responded(response, now=self._now())
                    case _:
                        assert_never(action)
        except Exception:
            _log.exception("the resource engine failed on a request")
            return _plain(500, _UNAVAILABLE)

    async def _call_app(self, action: CallApp) -> HttpResponse:
        # the held original request on a deferred poll (AAuth -11 §"Deferred Responses")
        try:
            response = await self.handler(action.request, action.identity)
            if not isinstance(response, HttpResponse):
                raise TypeError(f"the handler returned {type(response).__name__}")
        except Exception:
            _log.exception("the application handler failed")
            response = _plain(500, _UNAVAILABLE)
        return response

    async def _fetch(self, exchange_: Exchange, action: Fetch) -> Action:
        seconds = action.timeout
        limit = action.max_bytes
        try:
            result = await exchange(
                HttpRequest("GET", action.dial_url, (("Accept", action.accept),)),
                timeouts=Timeouts(connect=seconds, write=seconds, read=seconds, exchange=seconds),
                body_limit=lambda _status: limit,
                ssl_context=self._ssl_context,
                egress=action.egress,
            )
        except TransportFailure as failure:
            reason = failure.reason
        except LocalError:
            reason = "the URL cannot be fetched over HTTP/1.1"
        else:
            if not result.truncated:
                answer = result.response
                return exchange_.fetched(
                    action.url, answer.status, answer.headers, answer.body, now=self._now()
                )
            reason = f"the response body is larger than {limit} bytes"
        return exchange_.fetch_failed(action.url, now=self._now(), reason=reason)

    def _now(self) -> int:
        return int(self._clock())

    # -- the wire -------------------------------------------------------------------------------

    async def _receive(
        self, stream: trio.abc.Stream, connection: h11.Connection, scheme: str
    ) -> HttpRequest:
        """The next whole request. :class:`_Refused` when it must be answered with an error,
        :class:`_Gone` when the client closed or idled out before starting one."""
        cycle = _Cycle(started=bool(connection.trailing_data[0]))  # pipelined bytes: begun
        with cycle.scope:
            if cycle.started:
                cycle.scope.deadline = trio.current_time() + self.request_timeout
            try:
                head = await self._event(stream, connection, cycle)
                if not isinstance(head, h11.Request):  # ConnectionClosed before a request
                    raise _Gone
                method, url, headers = _convert(head, scheme)
                declared = _content_length(head)
                if declared is not None and declared > self.max_body:
                    raise _Refused(_too_large(self.max_body))
                if connection.they_are_waiting_for_100_continue:  # RFC 9110 §10.1.1
                    await self._write(stream, connection.send(_CONTINUE) or b"")
                chunks: list[bytes] = []
                size = 0
                while True:
                    event = await self._event(stream, connection, cycle)
                    if isinstance(event, h11.EndOfMessage):
                        return HttpRequest(method, url, headers, b"".join(chunks))
                    # the only other event h11 gives before EndOfMessage is Data
                    data = bytes(cast(h11.Data, event).data)
                    size += len(data)
                    if size > self.max_body:
                        raise _Refused(_too_large(self.max_body))
                    chunks.append(data)
            except h11.RemoteProtocolError as exc:
                # RFC 9112 §2.2 / §5: malformed; h11 hints 431 for an oversized head
                status = exc.error_status_hint
                text = b"request header fields too large\n" if status == 431 else _MALFORMED
                raise _Refused(_plain(status, text)) from None
        # the scope's deadline passed: the request began but did not arrive in time
        raise _Refused(_plain(408, _LATE))

    async def _event(
        self, stream: trio.abc.Stream, connection: h11.Connection, cycle: _Cycle
    ) -> h11.Event:
        while True:
            event = connection.next_event()
            if event is not h11.NEED_DATA:
                # PAUSED comes only after a whole request, which this loop never reads past
                return cast(h11.Event, event)
            limit = self.read_timeout if cycle.started else self.idle_timeout
            with trio.move_on_after(limit) as waited:
                data = await stream.receive_some(_READ_CHUNK)
            if waited.cancelled_caught:
                if not cycle.started:
                    raise _Gone
                raise _Refused(_plain(408, _LATE))
            if data and not cycle.started:
                cycle.started = True
                cycle.scope.deadline = trio.current_time() + self.request_timeout
            connection.receive_data(bytes(data))  # b"": the client closed its side

    async def _send(
        self,
        stream: trio.abc.Stream,
        connection: h11.Connection,
        response: HttpResponse,
        *,
        head: bool = False,
        close: bool = False,
    ) -> None:
        try:
            start = _response_head(response, close)
        except (h11.LocalProtocolError, UnicodeEncodeError):
            # a status, field name or value HTTP/1.1 cannot carry (RFC 9110 §5, §15)
            _log.error("the application's response cannot be sent over HTTP/1.1; sent 500")
            response = _plain(500, _UNAVAILABLE)
            start = _response_head(response, close)
        data = connection.send(start) or b""
        if response.body and not head and response.status not in _NO_BODY_STATUSES:
            data += connection.send(h11.Data(data=response.body)) or b""
        data += connection.send(h11.EndOfMessage()) or b""
        await self._write(stream, data)

    async def _write(self, stream: trio.abc.Stream, data: bytes) -> None:
        with trio.fail_after(self.write_timeout):
            await stream.send_all(data)


class _Cycle:
    """The reading state of one request: whether its first byte arrived, and the scope
    bounding the whole request from then on."""

    __slots__ = ("scope", "started")

    def __init__(self, *, started: bool) -> None:
        self.started = started
        self.scope = trio.CancelScope()


_CLOSE_SECONDS: Final = 2.0
_CLOSE_ERRORS: Final = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
_LINGER_SECONDS: Final = 2.0
_LINGER_BYTES: Final = 262_144
_BUSY: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n"
)
_CONTINUE: Final = h11.InformationalResponse(status_code=100, headers=[])
_MALFORMED: Final = b"malformed HTTP/1.1 request\n"
_LATE: Final = b"the request did not arrive in time\n"


async def _linger(stream: trio.abc.Stream) -> None:
    """Close our side, then read and drop what the client still sends for a while, so the
    refusal just sent is not lost to a reset (RFC 9112 §9.6: close in stages)."""
    with trio.move_on_after(_LINGER_SECONDS):
        if isinstance(stream, trio.abc.HalfCloseableStream):
            await stream.send_eof()
        drained = 0
        while drained < _LINGER_BYTES:
            chunk = await stream.receive_some(_READ_CHUNK)
            if not chunk:
                return
            drained += len(chunk)


def _too_large(limit: int) -> HttpResponse:
    return _plain(413, f"the request body is larger than {limit} bytes\n".encode())


def _content_length(head: h11.Request) -> int | None:
    for name, value in head.headers:
        if name == b"content-length":
            return int(value)  # h11 checked it is digits
    return None


def _convert(head: h11.Request, scheme: str) -> tuple[str, str, list[tuple[str, str]]]:
    """Method, absolute URL and fields of a request head, as the engine takes them."""
    target = bytes(head.target)
    # RFC 9112 §3.2.1: origin-form only (absolute-form is for proxies, "*" for OPTIONS)
    if not target.startswith(b"/") or not target.isascii():
        raise _Refused(_plain(400, b"the request target must be a path (origin-form)\n"))
    hosts = [value for name, value in head.headers if name == b"host"]
    # RFC 9112 §3.2: exactly one Host field, a valid uri-host [":" port]
    if len(hosts) != 1 or not _HOST_RE.fullmatch(hosts[0]):
        raise _Refused(_plain(400, b"the request needs exactly one valid Host field\n"))
    url = f"{scheme}://{hosts[0].decode('ascii')}{target.decode('ascii')}"
    # field values as octets: latin-1 keeps every byte (RFC 9110 §5.5 obs-text)
    fields = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers.raw_items()]
    return head.method.decode("ascii"), url, fields


def _response_head(response: HttpResponse, close: bool) -> h11.Response:
    status = response.status
    fields = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
    fields = [(name, value) for name, value in fields if name.lower() not in _OWN_FIELDS]
    if status not in _NO_BODY_STATUSES:
        fields.append((b"Content-Length", str(len(response.body)).encode("ascii")))
    if close:
        fields.append((b"Connection", b"close"))
    try:
        reason = HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        reason = b""
    return h11.Response(status_code=status, headers=fields, reason=reason)
