"""Carrying fakes to an agent: over real sockets (:func:`serve`, :func:`serve_many`) for driver
tests, or in memory (:class:`MemoryTransport`) for engine tests.

AAuth -11 server identifiers are ``https://host`` without a port, so a loopback test gives each
fake its https identifier and maps only the transport: :class:`TransportMap` sends
``https://ps.example`` to ``http://127.0.0.1:PORT``. The agent signs the authority it actually
dials (``/work/shared/interop-notes.md``); a served fake sees ``http://127.0.0.1:PORT/…`` as the
request URL (built from the ``Host`` header) and verifies against that.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from aauth.http import HttpRequest, HttpResponse

from ._common import DropConnection, Handler, origin_of

__all__ = [
    "FakeNetworkError",
    "MemoryTransport",
    "ServedFake",
    "TransportMap",
    "serve",
    "serve_many",
]

#: Largest request body a served fake reads.
MAX_BODY: Final = 8 * 1024 * 1024
#: Seconds an idle connection may stay open before its handler thread gives up.
CONNECTION_TIMEOUT: Final = 10.0
_NO_BODY_STATUSES: Final = frozenset({204, 304})
_HOP_BY_HOP: Final = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class FakeNetworkError(ConnectionError):
    """What :class:`MemoryTransport` raises where a socket would fail."""


Clock = Callable[[], float]
_Request = socket.socket | tuple[bytes, socket.socket]


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close joins every handler thread
    block_on_close = True

    def __init__(self, handler: Handler, clock: Clock) -> None:
        self.fake = handler
        self.clock = clock
        self.lock = threading.Lock()  # one request at a time through the fake
        self.errors: list[BaseException] = []
        self.handled = 0
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def process_request(self, request: _Request, client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Request) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Wake every handler blocked on an idle keep-alive connection."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers
    timeout = CONNECTION_TIMEOUT
    # The head and the body of an answer go out in two sends; with Nagle's algorithm the body
    # waits for the client's delayed ACK (~40 ms per exchange). Real servers set TCP_NODELAY.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests assert on the fakes' own records."""

    def _read_body(self) -> bytes:
        encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in encoding:
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "unreadable body")
            return
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        target = self.path
        url = target if target.startswith(("http://", "https://")) else f"http://{host}{target}"
        request = HttpRequest(self.command, url, list(self.headers.items()), body)
        try:
            with self.server.lock:
                self.server.handled += 1
                response = self.server.fake(request, int(self.server.clock()))
        except DropConnection:
            self.close_connection = True  # answer nothing; finish() closes the socket
            return
        except Exception as exc:  # a bug in a fake: report it, and tell the client
            self.server.errors.append(exc)
            message = f"fake crashed: {type(exc).__name__}".encode()
            response = HttpResponse(500, [("Content-Type", "text/plain")], message)
        self._write(response)

    def _write(self, response: HttpResponse) -> None:
        self.send_response_only(response.status)
        for name, value in response.headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        has_body = response.status not in _NO_BODY_STATUSES and response.status >= 200
        if has_body:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if has_body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class ServedFake:
    """A fake listening on ``127.0.0.1:port`` (from :func:`serve`)."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.host = "127.0.0.1"
        self.port: int = server.server_address[1]
        self.origin = f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """``http://127.0.0.1:PORT{path}``."""
        return f"{self.origin}{path}"

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions the fake raised (each answered ``500``)."""
        return self._server.errors

    @property
    def handled(self) -> int:
        """How many requests reached the fake."""
        return self._server.handled


@contextmanager
def serve(handler: Handler, clock: Clock, *, raise_errors: bool = True) -> Iterator[ServedFake]:
    """Serve ``handler`` (any fake's ``handle``) on ``127.0.0.1``, port chosen by the OS.

    Each request becomes an :class:`HttpRequest` (URL ``http://{Host}{target}``, headers in
    wire order, body read fully, chunked or not) and is answered with what
    ``handler(request, int(clock()))`` returns; a :class:`DropConnection` closes the
    connection without an answer. Requests pass through the fake one at a time.

    On exit the server stops, open connections are shut down and every thread is joined.
    With ``raise_errors`` an exception raised by the fake fails the test at exit.
    """
    server = _Server(handler, clock)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-server"
    )
    thread.start()
    completed = False
    try:
        yield ServedFake(server)
        completed = True
    finally:
        server.shutdown()
        server.drop_connections()
        server.server_close()
        thread.join(timeout=CONNECTION_TIMEOUT)
    if completed and raise_errors and server.errors:
        raise AssertionError(f"a served fake raised {server.errors[0]!r}") from server.errors[0]


class TransportMap(Mapping[str, str]):
    """https identifier origin (``https://ps.example``) -> dial origin
    (``http://127.0.0.1:PORT``): the agent's ``transport_map``."""

    def __init__(self, entries: Mapping[str, str] | None = None) -> None:
        self._map: dict[str, str] = {}
        for identifier, origin in (entries or {}).items():
            self.add(identifier, origin)

    def add(self, identifier: str, origin: str) -> None:
        """Map ``identifier`` to ``origin`` (both ``scheme://authority``, nothing after)."""
        for value in (identifier, origin):
            if origin_of(value) != value:
                raise ValueError(f"{value!r} is not a bare origin")
        self._map[identifier] = origin

    def __getitem__(self, identifier: str) -> str:
        return self._map[identifier]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def dial_url(self, url: str) -> str:
        """``url`` with a mapped identifier origin replaced by its dial origin."""
        origin = origin_of(url)
        mapped = self._map.get(origin)
        return url if mapped is None else mapped + url[len(origin) :]

    def identifier_url(self, url: str) -> str:
        """The reverse of :meth:`dial_url`."""
        origin = origin_of(url)
        for identifier, mapped in self._map.items():
            if mapped == origin:
                return identifier + url[len(origin) :]
        return url

    def __repr__(self) -> str:
        return f"TransportMap({self._map!r})"


@contextmanager
def serve_many(
    handlers: Mapping[str, Handler], clock: Clock, *, raise_errors: bool = True
) -> Iterator[TransportMap]:
    """Serve each ``{identifier: handler}`` on its own port; yields the :class:`TransportMap`."""
    with ExitStack() as stack:
        transport_map = TransportMap()
        for identifier, handler in handlers.items():
            served = stack.enter_context(serve(handler, clock, raise_errors=raise_errors))
            transport_map.add(identifier, served.origin)
        yield transport_map


class MemoryTransport:
    """Send requests straight to fakes, by the origin of their URL (engine tests).

    ``transport(request) -> response`` at ``int(clock())``; an unknown origin or a
    :class:`DropConnection` raises :class:`FakeNetworkError`; ``fail_next`` makes the next
    sends fail that way (the connection drops before the fake sees anything). ``sent``
    records every request.
    """

    def __init__(self, handlers: Mapping[str, Handler], clock: Clock) -> None:
        self.handlers = dict(handlers)
        self.clock = clock
        self.fail_next = 0
        self.sent: list[HttpRequest] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise FakeNetworkError("connection refused (injected)")
        handler = self.handlers.get(origin_of(request.url))
        if handler is None:
            raise FakeNetworkError(f"no fake serves {origin_of(request.url)}")
        try:
            return handler(request, int(self.clock()))
        except DropConnection as exc:
            raise FakeNetworkError("connection closed without a response") from exc
