"""One HTTP/1.1 exchange over a trio stream, framed by h11 (RFC 9112), TLS by ``trio.SSLStream``.

This is the network half of the trio driver: an :class:`~aauth.http.HttpRequest` goes out
exactly as the engine signed it (the ``Host`` field is derived from the URL, the very authority
the signature covers as ``@authority``; ``Content-Length`` from the body), one response comes
back as an :class:`~aauth.http.HttpResponse`. One connection per request (``Connection:
close``): no pool to get wrong, and every step of it is bounded in time and size.

Every failure to get an answer (refused, reset, TLS, timed out, a response that is not HTTP, a
body beyond its bound) is a :class:`TransportFailure` whose ``reason`` is safe to show: it never
carries the URL (pending URLs are capabilities, AAuth -11 §"Deferred Responses") or a header.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Final
from urllib.parse import urlsplit

import h11
import trio

from aauth.discovery import EgressError, EgressPolicy, admit_addresses
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "BodyLimit",
    "Exchange",
    "Timeouts",
    "TransportFailure",
    "exchange",
]

#: Largest response head (status line and fields) accepted, bytes.
DEFAULT_MAX_HEADER_BYTES: Final = 65_536
_READ_CHUNK: Final = 65_536
_MAX_QUOTED: Final = 120
_CLOSED_EARLY: Final = "the connection closed before a response arrived"
_CLOSED_IN_BODY: Final = "the connection closed in the middle of the response body"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# framing and routing fields this module sets itself (RFC 9112 §3.2, §6, §9.6)
_OWN_FIELDS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# methods whose requests carry a body by convention; they always get a Content-Length
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

#: ``status -> bytes``: how much of a body to read for a response with that status.
BodyLimit = Callable[[int], int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Seconds allowed for each network step of one exchange (all must be > 0).

    :param connect: DNS, TCP connect and the TLS handshake.
    :param write: sending the request.
    :param read: each wait for response bytes (the gap between two reads, so a slow but live
        server is not cut off; ``exchange`` bounds the whole).
    :param exchange: the whole exchange, connect to last body byte (a server dripping one
        byte per ``read`` seconds still ends here).
    """

    connect: float = 10.0
    write: float = 30.0
    read: float = 30.0
    exchange: float = 120.0

    def __post_init__(self) -> None:
        for name in ("connect", "write", "read", "exchange"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise LocalError(f"Timeouts.{name} must be a number of seconds > 0")


class TransportFailure(Exception):
    """The request got no usable answer; ``reason`` says why, without URL or headers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason: str = reason


@dataclass(frozen=True, slots=True)
class Exchange:
    """What one exchange brought back.

    ``truncated``: the body went past the limit for its status; ``response.body`` then holds
    the first ``limit + 1`` bytes (so a reader that checks ``len(body) > limit`` sees it) and
    the connection was closed without reading the rest.
    """

    response: HttpResponse
    truncated: bool


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str  # for connecting: no IPv6 brackets
    port: int
    authority: str  # for Host: brackets, default port omitted
    path: str  # request-target in origin-form (RFC 9112 §3.2.1)


def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise LocalError("the request URL has an invalid port or host") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise LocalError("the request URL must be an absolute http or https URL")
    shown = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS[scheme]:
        port = _DEFAULT_PORTS[scheme]
        authority = shown
    else:
        authority = f"{shown}:{port}"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(scheme, host, port, authority, path)


def _head(request: HttpRequest, target: _Target) -> list[tuple[str, str]]:
    fields = [("Host", target.authority)]
    fields.extend((k, v) for k, v in request.headers if k.lower() not in _OWN_FIELDS)
    if request.body or request.method.upper() in _BODY_METHODS:
        fields.append(("Content-Length", str(len(request.body))))
    fields.append(("Connection", "close"))
    return fields


async def _open_tcp(target: _Target, egress: EgressPolicy | None) -> trio.abc.Stream:
    if egress is None:
        return await trio.open_tcp_stream(target.host, target.port)
    # resolve once, admit the answer, then connect only to those very addresses: a second
    # lookup could answer differently (DNS rebinding; digest §3.6)
    found = await trio.socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    try:
        addresses = admit_addresses((str(info[4][0]) for info in found), egress)
    except EgressError as exc:
        raise TransportFailure(exc.message) from None
    for address in addresses[:-1]:  # in the resolver's order; the last one's error is reported
        with contextlib.suppress(OSError):
            return await trio.open_tcp_stream(address, target.port)
    return await trio.open_tcp_stream(addresses[-1], target.port)


@cache
def _system_tls() -> ssl.SSLContext:
    """The system-trust TLS context, built on first use and shared (loading the CA store is
    slow; a context is safe to share between connections)."""
    return ssl.create_default_context()


async def _connect(
    target: _Target,
    ssl_context: ssl.SSLContext | None,
    timeouts: Timeouts,
    egress: EgressPolicy | None = None,
) -> trio.abc.Stream:
    try:
        with trio.fail_after(timeouts.connect):
            stream = await _open_tcp(target, egress)
            if target.scheme == "https":
                context = ssl_context if ssl_context is not None else _system_tls()
                tls = trio.SSLStream(
                    stream, context, server_hostname=target.host, https_compatible=True
                )
                try:
                    await tls.do_handshake()
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
                stream = tls
            return stream
    except trio.TooSlowError:
        raise TransportFailure(f"connect timed out after {timeouts.connect:g} s") from None
    except (OSError, trio.BrokenResourceError) as exc:
        raise TransportFailure(f"connect failed: {_describe(exc)}") from None


def _bounded(exc: h11.RemoteProtocolError) -> str:
    """h11's own words, cut short: they may quote a piece of the peer's bytes."""
    text = str(exc)
    return text if len(text) <= _MAX_QUOTED else text[:_MAX_QUOTED] + "…"


def _describe(exc: BaseException, depth: int = 0) -> str:
    """A short reason for a socket or TLS failure, without the address (trio's own messages
    name host and port)."""
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
        return os.strerror(exc.errno)
    inner = exc.__cause__
    if isinstance(inner, BaseExceptionGroup) and inner.exceptions:
        inner = inner.exceptions[0]  # trio's open_tcp_stream: one error per address tried
    if inner is not None and depth < 3:
        return _describe(inner, depth + 1)
    return type(exc).__name__


async def _send(
    stream: trio.abc.Stream, connection: h11.Connection, events: list[h11.Event], timeout: float
) -> None:
    data = b"".join(connection.send(event) or b"" for event in events)
    try:
        with trio.fail_after(timeout):
            await stream.send_all(data)
    except trio.TooSlowError:
        raise TransportFailure(f"sending the request timed out after {timeout:g} s") from None


async def _next_event(
    stream: trio.abc.Stream, connection: h11.Connection, timeout: float, *, closed: str
) -> h11.Event | type[h11.PAUSED] | type[h11.NEED_DATA]:
    """The next h11 event, reading as needed; ``closed`` is the reason given when the peer
    closes the connection before the event is complete."""
    ended = False
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError:
            if ended:  # h11's words for an early close are about its own state machine
                raise TransportFailure(closed) from None
            raise
        if isinstance(event, h11.ConnectionClosed):
            raise TransportFailure(closed)
        if event is not h11.NEED_DATA:
            return event
        try:
            with trio.fail_after(timeout):
                data = await stream.receive_some(_READ_CHUNK)
        except trio.TooSlowError:
            raise TransportFailure(f"no response data for {timeout:g} s") from None
        ended = not data
        connection.receive_data(bytes(data))  # b"" is the end of the stream


async def _converse(
    stream: trio.abc.Stream,
    request: HttpRequest,
    target: _Target,
    *,
    timeouts: Timeouts,
    body_limit: BodyLimit,
    max_header_bytes: int,
) -> Exchange:
    connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_bytes)
    events: list[h11.Event] = [
        h11.Request(method=request.method, target=target.path, headers=_head(request, target))
    ]
    if request.body:
        events.append(h11.Data(data=request.body))
    events.append(h11.EndOfMessage())
    await _send(stream, connection, events, timeouts.write)
    while True:  # 1xx interim answers are skipped (RFC 9110 §15.2)
        event = await _next_event(stream, connection, timeouts.read, closed=_CLOSED_EARLY)
        if isinstance(event, h11.Response):
            break
        if not isinstance(event, h11.InformationalResponse):  # PAUSED: cannot happen here
            raise TransportFailure(_CLOSED_EARLY)
    status = event.status_code
    # field values as octets: latin-1 keeps every byte (RFC 9110 §5.5 obs-text)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()]
    limit = body_limit(status)
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await _next_event(stream, connection, timeouts.read, closed=_CLOSED_IN_BODY)
        if isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
            size += len(event.data)
            if size > limit:
                body = b"".join(chunks)[: limit + 1]
                return Exchange(HttpResponse(status, headers, body), truncated=True)
        elif isinstance(event, h11.EndOfMessage):
            return Exchange(HttpResponse(status, headers, b"".join(chunks)), truncated=False)
        else:  # PAUSED: cannot happen before EndOfMessage
            raise TransportFailure(_CLOSED_IN_BODY)


async def exchange(
    request: HttpRequest,
    *,
    timeouts: Timeouts,
    body_limit: BodyLimit,
    ssl_context: ssl.SSLContext | None = None,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    egress: EgressPolicy | None = None,
) -> Exchange:
    """Send ``request`` on a new connection to its URL's origin and read one response.

    :param timeouts: the bound of each step and of the whole exchange.
    :param body_limit: the most body bytes to read for a response of a given status.
    :param ssl_context: the TLS context for ``https`` URLs; default: the system trust (one
        context, built on first use and shared by every exchange).
    :param max_header_bytes: the largest response head accepted (h11 checks it while the head
        is incomplete, so a head may exceed it by at most one read of 64 KiB).
    :param egress: when given, the host is resolved first, the answer goes through
        :func:`aauth.discovery.admit_addresses` under this policy (a refusal fails the
        exchange before a connection is made, with the engine's reason, which names no
        address), and only the admitted addresses are dialled, in order (TLS still names
        the host).
    :raises TransportFailure: no usable answer.
    :raises LocalError: the request cannot be sent as given (not an http(s) URL, a field
        name or value HTTP/1.1 cannot carry).
    """
    target = _target(request.url)
    try:
        with trio.fail_after(timeouts.exchange):
            stream = await _connect(target, ssl_context, timeouts, egress)
            try:
                return await _converse(
                    stream,
                    request,
                    target,
                    timeouts=timeouts,
                    body_limit=body_limit,
                    max_header_bytes=max_header_bytes,
                )
            finally:
                await trio.aclose_forcefully(stream)
    except trio.TooSlowError:
        raise TransportFailure(f"no complete response within {timeouts.exchange:g} s") from None
    except h11.LocalProtocolError:
        # h11 quotes the offending field, which may hold a credential: say only what it was
        raise LocalError(
            "the request cannot be sent over HTTP/1.1: a method, field name or field value "
            "has characters RFC 9110 §5 does not allow"
        ) from None
    except h11.RemoteProtocolError as exc:
        raise TransportFailure(f"the response is not valid HTTP/1.1: {_bounded(exc)}") from None
    except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise TransportFailure(f"the connection failed: {_describe(exc)}") from None
