"""Conversions between ASGI messages and the engine's neutral messages (ASGI 3 HTTP
connection scope, https://asgi.readthedocs.io/en/latest/specs/www.html).

No framework is imported: the ASGI types are plain mappings and callables here, compatible
with Starlette's (``MutableMapping[str, Any]``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final, TypeAlias
from urllib.parse import quote, unquote, urlsplit

from aauth.http import HttpRequest, HttpResponse

__all__ = [
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "adding_headers",
    "app_scope",
    "content_length",
    "encode_headers",
    "held_http_scope",
    "refuse_websocket",
    "replaying",
    "request_url",
    "send_response",
    "to_http_request",
    "websocket_handshake",
]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@" (plus "/")
_PATH_SAFE: Final = "/!$&'()*+,;=:@"
# RFC 9110 §6.4.1, §15.3.5, §15.4.5: no content in these answers
_NO_CONTENT: Final = frozenset({204, 304})


class MissingHost(Exception):
    """The scope has neither a ``Host`` header nor a ``server`` address: the request URL
    (and so ``@authority``) cannot be known."""


def _authority(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"host":
            return bytes(value).decode("latin-1")
    server = scope.get("server")
    if not server:
        raise MissingHost("the request has no Host header and the server no address")
    host, port = server[0], server[1]
    if ":" in host:
        host = f"[{host}]"  # RFC 3986 §3.2.2: IPv6 literal in brackets
    if port is None or port == _DEFAULT_PORTS.get(scope.get("scheme") or "http"):
        return str(host)
    return f"{host}:{port}"


def _target_path(scope: Scope) -> str:
    """The path as on the wire (percent-encoded, as ``@path`` covers it: RFC 9421 §2.2.6),
    including ``root_path``. Servers put the mount point in ``path`` and ``raw_path`` too
    (uvicorn, hypercorn, Starlette mounts); an older server that does not is prefixed."""
    root = quote(scope.get("root_path") or "", safe=_PATH_SAFE)
    raw = scope.get("raw_path")
    if raw is not None:
        path = bytes(raw).decode("latin-1")
    else:  # decoded: encode it again ("%" included, RFC 3986 §2.4)
        path = quote(scope.get("path") or "/", safe=_PATH_SAFE)
    if root and not path.startswith(root):
        path = root + path
    return path


def request_url(scope: Scope) -> str:
    """The absolute request URL as the server sees it: ``scheme`` (what the server, or its
    proxy-headers middleware, set), the ``Host`` header (else ``server``), the full path and
    the raw query string."""
    scheme = scope.get("scheme") or "http"
    url = f"{scheme}://{_authority(scope)}{_target_path(scope)}"
    query = scope.get("query_string")
    if query:
        url = f"{url}?{bytes(query).decode('latin-1')}"
    return url


def to_http_request(scope: Scope, body: bytes) -> HttpRequest:
    """The neutral request for an HTTP ``scope`` and its whole ``body``: header pairs in
    wire order, decoded as Latin-1 (RFC 9110 §5.5).

    :raises MissingHost: see :class:`MissingHost`.
    """
    headers = [
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
        for name, value in scope.get("headers", ())
    ]
    return HttpRequest(scope["method"], request_url(scope), headers, body)


#: RFC 6455 §3: ``ws``/``wss`` URIs name the ``http``/``https`` resource of the handshake.
_HANDSHAKE_SCHEMES: Final = {"ws": "http", "wss": "https"}


def websocket_handshake(scope: Scope) -> HttpRequest:
    """The opening handshake of a ``websocket`` scope as the HTTP ``GET`` it is (RFC 6455
    §4.1), with the scope's headers and no body: what an agent signed.

    :raises MissingHost: see :class:`MissingHost`.
    """
    scheme = scope.get("scheme") or "ws"
    http_scope = {**scope, "scheme": _HANDSHAKE_SCHEMES.get(scheme, scheme), "method": "GET"}
    return to_http_request(http_scope, b"")


def held_http_scope(scope: Scope) -> Scope:
    """An ``http`` scope with the connection facts of a ``websocket`` scope, for running a
    held HTTP call that a handshake's poll released (its request then fills in the rest)."""
    scheme = scope.get("scheme") or "ws"
    child = {
        name: value
        for name, value in scope.items()
        if name not in ("subprotocols", "extensions", "type", "scheme")
    }
    child.update(type="http", scheme=_HANDSHAKE_SCHEMES.get(scheme, scheme), method="GET")
    child.setdefault("http_version", "1.1")
    return child


def content_length(scope: Scope) -> int | None:
    """The declared ``Content-Length``, or ``None`` (absent, several or not a number; the
    body read then enforces the limit)."""
    found: int | None = None
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            if found is not None or not bytes(value).isdigit():
                return None
            found = int(value)
    return found


def encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Header pairs for an ASGI message: names lowercased (ASGI: "header names must be
    lowercased"), both encoded as Latin-1."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def app_scope(scope: Scope, wire: HttpRequest, request: HttpRequest) -> Scope:
    """A copy of ``scope`` for the application to run ``request`` with.

    ``request`` is normally ``wire`` itself (the scope is copied unchanged). For a deferred
    poll it is the held original request: method, path, raw path, query string and headers
    come from it (``scheme``, ``server``, ``client``, ``root_path`` and the rest stay the
    poll's).
    """
    child = dict(scope)
    if request is wire:
        return child
    parts = urlsplit(request.url)
    raw_path = parts.path or "/"
    child["method"] = request.method
    child["path"] = unquote(raw_path)
    child["raw_path"] = raw_path.encode("latin-1")
    child["query_string"] = parts.query.encode("latin-1")
    child["headers"] = encode_headers(request.headers)
    return child


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that first hands the application ``body`` as one ``http.request``
    message, then passes on the server's messages (``http.disconnect`` for a streaming
    answer that watches the connection)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def adding_headers(
    send: Send, extra: Iterable[tuple[str, str]], head_message: str = "http.response.start"
) -> Send:
    """A ``send`` that appends ``extra`` to the application's ``head_message`` (the HTTP
    answer's start, or ``websocket.accept``: the handshake's ``101`` answer) and passes every
    message on as it comes (streaming answers stream)."""
    encoded = encode_headers(extra)
    if not encoded:
        return send

    async def send_with_headers(message: Message) -> None:
        if message["type"] == head_message:
            message = dict(message)
            message["headers"] = [*message.get("headers", ()), *encoded]
        await send(message)

    return send_with_headers


async def refuse_websocket(
    scope: Scope, receive: Receive, send: Send, response: HttpResponse
) -> None:
    """Refuse a WebSocket handshake with ``response``: sent as an HTTP answer where the
    server offers the ``websocket.http.response`` extension, else a close before accepting
    (the server answers ``403``). The client's ``websocket.connect`` is read first, as the
    ASGI protocol has it; a client already gone gets nothing."""
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    extensions = scope.get("extensions")
    if isinstance(extensions, Mapping) and "websocket.http.response" in extensions:
        headers = encode_headers(response.headers)
        if not response.has_header("content-length"):
            headers.append((b"content-length", str(len(response.body)).encode("ascii")))
        await send(
            {"type": "websocket.http.response.start", "status": response.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
        return
    # RFC 6455 §7.4.1: 1008, policy violation
    await send({"type": "websocket.close", "code": 1008})


async def send_response(send: Send, response: HttpResponse, *, head: bool = False) -> None:
    """Send a whole neutral response; adds ``Content-Length`` when it has none. ``head``: the
    answer to a ``HEAD`` request, sent without its content (RFC 9110 §9.3.2)."""
    headers = encode_headers(response.headers)
    if response.status not in _NO_CONTENT and not response.has_header("content-length"):
        headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})
