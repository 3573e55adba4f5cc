"""``AAuthMiddleware``: the resource engine (:class:`aauth.resource.ResourceServer`) in front
of any ASGI application — conversions plus one loop over the exchange's actions.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import anyio
import httpx

from aauth.errors import LocalError
from aauth.http import HttpResponse
from aauth.resource import (
    Action,
    CallApp,
    Exchange,
    Fetch,
    ResourceServer,
    Respond,
    Verified,
)

from ._convert import (
    ASGIApp,
    Message,
    MissingHost,
    Receive,
    Scope,
    Send,
    adding_headers,
    app_scope,
    content_length,
    held_http_scope,
    refuse_websocket,
    replaying,
    send_response,
    to_http_request,
    websocket_handshake,
)
from ._fetch import FetchFailure, fetch

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CAPTURED_BODY",
    "SCOPE_KEY",
    "AAuthMiddleware",
    "get_identity",
]

#: Where the middleware puts the :class:`~aauth.resource.Verified` identity (or ``None`` on
#: a public path) in the application's ASGI scope.
SCOPE_KEY: Final = "aauth"
#: Largest request body read (the signature covers its digest, so it is read whole): 1 MiB.
DEFAULT_MAX_BODY: Final = 1024 * 1024
#: Largest application answer held for a deferred call (it is stored and replayed): 1 MiB.
DEFAULT_MAX_CAPTURED_BODY: Final = 1024 * 1024

_log = logging.getLogger("aauth_asgi")

_CAPTURE_EXTENSIONS: Final = (
    "http.response.trailers",
    "http.response.pathsend",
    "http.response.zerocopy",
)


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(
        status,
        (("content-type", "text/plain; charset=utf-8"), ("cache-control", "no-store")),
        text.encode("utf-8"),
    )


def _held_body(body: bytes) -> Receive:
    """``receive`` for a held call run from a WebSocket handshake: the held body, then
    nothing until the run ends (no ``http.disconnect``: the answer is being stored)."""
    pending = True

    async def receive() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover - sleep_forever never returns

    return receive


class _BodyTooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected  # http.disconnect: the client left
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Capture:
    """A ``send`` that keeps the application's whole answer (up to ``limit`` body bytes)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False
        self.overflowed = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if self.overflowed:
            raise _BodyTooLarge
        if kind == "http.response.start":
            self.status = int(message["status"])
            self.headers = [
                (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                for name, value in message.get("headers", ())
            ]
        elif kind == "http.response.body" and not self.complete:
            chunk = bytes(message.get("body", b""))
            self.size += len(chunk)
            if self.size > self.limit:
                self.overflowed = True
                raise _BodyTooLarge
            self.chunks.append(chunk)
            self.complete = not message.get("more_body", False)

    def response(self) -> HttpResponse | None:
        if self.status is None or not self.complete:
            return None
        return HttpResponse(self.status, self.headers, b"".join(self.chunks))


class AAuthMiddleware:
    """Protect an ASGI application with AAuth (issue 5; digest §8 "Resource").

    ::

        app = AAuthMiddleware(starlette_app, server)   # server: aauth.resource.ResourceServer

    For each HTTP request the middleware reads the whole body (the signature covers its
    digest), converts the request (``scheme``, ``Host`` header or ``server``, the raw path
    with ``root_path``, the raw query string, the headers in wire order) and lets the
    engine decide: answer itself (a challenge, a refusal, a ``202``, a held result, the
    resource metadata or JWKS), fetch an issuer's metadata or JWKS first, or run the
    application. The application then gets the body replayed through ``receive`` and the
    :class:`~aauth.resource.Verified` identity (``None`` on a public path) in
    ``scope["aauth"]``, which :func:`get_identity` reads. The identity is also put in the
    server's scope, for middlewares around this one (access logs ...). The application's
    answer streams through unchanged (Server-Sent Events included) except for the headers
    the engine adds (``AAuth-Access``). For a deferred call the engine holds the original
    request; the first valid poll runs the application with *that* request (method, path,
    query, headers and body) and a buffered answer, which the engine stores and replays.

    ``websocket`` scopes are verified too: the opening handshake is an HTTP ``GET`` (RFC
    6455 §4.1) that the agent signs like any request, so the engine decides on it as on a
    ``GET`` of the same URL (``ws``/``wss`` read as ``http``/``https``). Verified: the
    application gets the scope with the identity, and headers the engine adds
    (``AAuth-Access``) go on its ``websocket.accept``. Anything else is refused before the
    application sees the connection: with the engine's HTTP answer where the server offers
    the ``websocket.http.response`` extension, else with a close before accepting (the
    server answers ``403``). A handshake that polls a held call runs that HTTP call (its
    answer is stored for the HTTP polls) and is refused. ``lifespan`` scopes pass through
    untouched.

    :param app: the ASGI application.
    :param server: the resource engine (identifier, keys, routes, stores).
    :param clock: Unix time in seconds; ``int(clock())`` is the engine's ``now``.
    :param fetch_client: an ``httpx.AsyncClient`` of your own for the engine's fetches
        (tests, or a client that enforces egress itself). The host is still resolved and
        its addresses admitted first, but the client then connects by itself, without
        pinning the admitted address. By default each fetch has a transport of its own that
        connects only to the admitted addresses (no proxy, no second lookup). The middleware
        never closes a given client.
    :param fetch_ssl_context: TLS trust for the default fetch transport (default: the
        system store).
    :param max_body: largest request body read; a larger one (by ``Content-Length`` or by
        what arrives) is answered ``413`` before the engine sees the request.
    :param max_captured_body: largest application answer buffered for a deferred call; a
        larger one is recorded as a ``500``.

    Fetches follow the engine's :class:`~aauth.resource.Fetch`: ``dial_url`` with
    ``timeout`` for the whole fetch, at most ``max_bytes`` of body, no redirects, and
    before connecting every address of the host admitted by
    :func:`aauth.discovery.admit_addresses` under ``egress`` (digest §3.6); the
    connection goes to an admitted address while ``Host``, SNI and the certificate check
    keep the name. Any failure goes back as ``exchange.fetch_failed``. Nothing secret is
    logged: the ``aauth_asgi`` logger records fetch failures (their reason) and exceptions
    of a deferred application run.
    """

    def __init__(
        self,
        app: ASGIApp,
        server: ResourceServer,
        *,
        clock: Callable[[], float] = time.time,
        fetch_client: httpx.AsyncClient | None = None,
        fetch_ssl_context: ssl.SSLContext | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_captured_body: int = DEFAULT_MAX_CAPTURED_BODY,
    ) -> None:
        if not callable(app):
            raise LocalError("app must be an ASGI application")
        if not isinstance(server, ResourceServer):
            raise LocalError("server must be an aauth.resource.ResourceServer")
        if not callable(clock):
            raise LocalError("clock must be callable")
        if fetch_client is not None and not isinstance(fetch_client, httpx.AsyncClient):
            raise LocalError("fetch_client must be an httpx.AsyncClient")
        if fetch_ssl_context is not None and not isinstance(fetch_ssl_context, ssl.SSLContext):
            raise LocalError("fetch_ssl_context must be an ssl.SSLContext")
        for name, value in (("max_body", max_body), ("max_captured_body", max_captured_body)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LocalError(f"{name} must be an int >= 0")
        self.app = app
        self.server = server
        self.clock = clock
        self.fetch_client = fetch_client
        self.fetch_ssl_context = fetch_ssl_context
        self.max_body = max_body
        self.max_captured_body = max_captured_body

    def _now(self) -> int:
        return int(self.clock())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan: untouched
            return
        head = scope.get("method") == "HEAD"
        declared = content_length(scope)
        if declared is not None and declared > self.max_body:
            await send_response(send, _plain(413, "request body too large"), head=head)
            return
        try:
            body = await _read_body(receive, self.max_body)
        except _BodyTooLarge:
            await send_response(send, _plain(413, "request body too large"), head=head)
            return
        except _Disconnected:
            return  # the client left before sending the whole body: nobody to answer
        try:
            wire = to_http_request(scope, body)
        except MissingHost:
            await send_response(send, _plain(400, "missing Host header"), head=head)
            return
        exchange = self.server.receive(wire, self._now())
        action = exchange.next_action()
        while True:
            match action:
                case Fetch():
                    action = await self._fetch(exchange, action)
                case Respond(response=response):
                    await send_response(send, response, head=head)
                    return
                case CallApp(request=request, identity=identity, add_headers=extra):
                    scope[SCOPE_KEY] = identity  # also for the middlewares around this one
                    child = app_scope(scope, wire, request)
                    child_receive = replaying(request.body, receive)
                    if not action.capture:
                        await self.app(child, child_receive, adding_headers(send, extra))
                        return
                    captured = await self._capture(child, child_receive)
                    action = exchange.app_responded(captured, now=self._now())
                case _:
                    raise LocalError(f"the engine asked for an unknown action {action!r}")

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake, verified as the ``GET`` it is (RFC 6455 §4.1)."""
        try:
            wire = websocket_handshake(scope)
        except MissingHost:
            await refuse_websocket(scope, receive, send, _plain(400, "missing Host header"))
            return
        exchange = self.server.receive(wire, self._now())
        action = exchange.next_action()
        while True:
            match action:
                case Fetch():
                    action = await self._fetch(exchange, action)
                case Respond(response=response):
                    await refuse_websocket(scope, receive, send, response)
                    return
                case CallApp(request=request, identity=identity, add_headers=extra):
                    if action.capture:
                        # a poll that released a held HTTP call: run it as HTTP, store its
                        # answer for the HTTP polls, and answer the handshake with it
                        child = app_scope(held_http_scope(scope), wire, request)
                        child[SCOPE_KEY] = identity
                        captured = await self._capture(child, _held_body(request.body))
                        action = exchange.app_responded(captured, now=self._now())
                        continue
                    scope[SCOPE_KEY] = identity  # also for the middlewares around this one
                    accepting = adding_headers(send, extra, "websocket.accept")
                    await self.app(dict(scope), receive, accepting)
                    return
                case _:
                    raise LocalError(f"the engine asked for an unknown action {action!r}")

    async def _fetch(self, exchange: Exchange, action: Fetch) -> Action:
        try:
            result = await fetch(
                action.dial_url,
                timeout=action.timeout,
                max_bytes=action.max_bytes,
                egress=action.egress,
                accept=action.accept,
                client=self.fetch_client,
                ssl_context=self.fetch_ssl_context,
            )
        except FetchFailure as failure:
            _log.info("aauth fetch (%s) failed: %s", action.purpose, failure.reason)
            return exchange.fetch_failed(action.url, now=self._now(), reason=failure.reason)
        return exchange.fetched(
            action.url, result.status, result.headers, result.body, now=self._now()
        )

    async def _capture(self, scope: Scope, receive: Receive) -> HttpResponse:
        extensions = scope.get("extensions")
        if isinstance(extensions, Mapping):
            # the answer is stored as bytes: no trailers, no file sends (pathsend, zerocopy)
            scope["extensions"] = {
                name: value for name, value in extensions.items() if name not in _CAPTURE_EXTENSIONS
            }
        capture = _Capture(self.max_captured_body)
        try:
            await self.app(scope, receive, capture)
        except Exception:
            if not capture.overflowed:
                _log.exception("the application failed on a deferred call")
                return _plain(500, "the application failed")
        if capture.overflowed:
            return _plain(500, "the deferred answer is larger than this resource keeps")
        response = capture.response()
        if response is None:
            return _plain(500, "the application sent no complete answer")
        return response


def get_identity(request_or_scope: Any) -> Verified | None:
    """The :class:`~aauth.resource.Verified` identity :class:`AAuthMiddleware` put in the
    ASGI scope, or ``None`` (a public path, or no middleware in front).

    Takes a Starlette / FastAPI ``Request`` or ``WebSocket``, anything else with a
    ``scope`` mapping, or the scope itself.
    """
    scope = request_or_scope
    if not isinstance(scope, Mapping):
        scope = getattr(request_or_scope, "scope", None)
        if not isinstance(scope, Mapping):
            raise LocalError("get_identity takes an ASGI scope or an object with a .scope")
    identity = scope.get(SCOPE_KEY)
    return identity if isinstance(identity, Verified) else None
