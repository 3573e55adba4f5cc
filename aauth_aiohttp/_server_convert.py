"""Conversions between aiohttp.web messages and the engine's neutral ones (the server side).

* :func:`to_http_request`: a :class:`aiohttp.web.BaseRequest` and its body as an
  :class:`~aauth.http.HttpRequest` (absolute URL as the server sees it, header pairs in wire
  order with duplicates, decoded as Latin-1);
* :func:`to_web_response`: an :class:`~aauth.http.HttpResponse` as a
  :class:`aiohttp.web.Response`;
* :func:`captured_response`: an application's answer to a held call as an
  :class:`~aauth.http.HttpResponse` (the deferred form stores it): a returned
  :class:`aiohttp.web.Response`, or what a handler streamed into a :class:`BufferWriter`;
* :func:`held_request`: a copy of the wire request carrying a held request's method, target,
  headers and body, for the application to run.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict

from aauth.http import HttpRequest, HttpResponse

__all__ = [
    "BufferWriter",
    "captured_response",
    "held_request",
    "request_url",
    "to_http_request",
    "to_web_response",
]

#: Computed by aiohttp from the body it sends (RFC 9112 §6): never copied across.
_FRAMING: Final = frozenset({"content-length", "transfer-encoding"})
#: What aiohttp adds to every answer it sends itself: dropped from a buffered stream, since
#: the stored answer is sent again later (with its own).
_SENDER: Final = frozenset({"connection", "date", "server", *_FRAMING})
#: RFC 3986 §3: scheme "://" authority, then the path and query (the target).
_TARGET_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^#]*)")


def request_url(request: web.BaseRequest) -> str:
    """The absolute request URL as the server sees it: ``request.scheme`` (what the server,
    or a forwarded-headers middleware's ``clone(scheme=...)``, says), ``request.host`` (the
    ``Host`` header) and the request target exactly as received (``raw_path``: percent-
    encoding kept, as ``@path`` and ``@query`` cover it; RFC 9421 §2.2.6, §2.2.7)."""
    target = request.raw_path
    if target.startswith("/"):
        return f"{request.scheme}://{request.host}{target}"
    if "://" in target:  # absolute-form (RFC 9112 §3.2.2)
        return target
    return f"{request.scheme}://{request.host}/"  # asterisk-form (OPTIONS *)


def to_http_request(request: web.BaseRequest, body: bytes) -> HttpRequest:
    """The neutral request for ``request`` and its whole ``body``: header pairs in wire
    order, repeated fields kept, names and values decoded as Latin-1 (RFC 9110 §5.5)."""
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers
    ]
    return HttpRequest(request.method, request_url(request), headers, body)


def to_web_response(response: HttpResponse) -> web.Response:
    """``response`` as an :class:`aiohttp.web.Response` (its framing fields left to aiohttp,
    which computes them from the body)."""
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in response.headers:
        if name.lower() not in _FRAMING:
            headers.add(name, value)
    return web.Response(status=response.status, headers=headers, body=response.body)


class BufferWriter(AbstractStreamWriter):
    """The payload writer of a held call's request: what a handler streams
    (``StreamResponse.prepare`` / ``write`` / ``write_eof``) is kept here instead of going to
    the wire, so the engine can store the whole answer. The body is kept as written (no
    chunked framing, no compression)."""

    def __init__(self) -> None:
        self.headers: CIMultiDict[str] | None = None
        self.compressed = False
        self._chunks: list[bytes] = []

    @property
    def body(self) -> bytes:
        """Everything written so far."""
        return b"".join(self._chunks)

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Keep ``chunk``."""
        self._chunks.append(bytes(chunk))
        self.output_size += len(chunk)

    async def write_eof(self, chunk: bytes = b"") -> None:
        """Keep the last ``chunk``."""
        await self.write(chunk)

    async def drain(self) -> None:
        """Nothing to flush."""

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        """Noted: the body is kept uncompressed, so the ``Content-Encoding`` aiohttp set for
        it is dropped from the answer."""
        self.compressed = True

    def enable_chunking(self) -> None:
        """No framing here: the body is kept whole."""

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        """Keep a copy of the answer's header fields."""
        self.headers = CIMultiDict(headers)


async def captured_response(
    response: web.StreamResponse, writer: AbstractStreamWriter | None = None
) -> HttpResponse | None:
    """An application's answer as a neutral response: status, headers (framing fields
    dropped, cookies as ``Set-Cookie``), the whole body. A handler that streamed its answer
    into ``writer`` gets that answer (finished first). ``None`` when it cannot be buffered:
    prepared on another writer, or not a :class:`aiohttp.web.Response` (a
    :class:`~aiohttp.web.FileResponse` or another response that writes itself)."""
    if isinstance(writer, BufferWriter) and writer.headers is not None:
        await response.write_eof()  # a no-op when the handler finished it
        drop = _SENDER | {"content-encoding"} if writer.compressed else _SENDER
        pairs = [(str(k), v) for k, v in writer.headers.items() if k.lower() not in drop]
        return HttpResponse(response.status, pairs, writer.body)
    if response.prepared or not isinstance(response, web.Response):
        return None
    body = response.body
    if body is None:
        data = b""
    elif isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    else:  # a Payload (e.g. ``web.Response(body=io.BytesIO(...))``)
        data = await body.as_bytes()
    headers = [
        (str(name), value)
        for name, value in response.headers.items()
        if name.lower() not in _FRAMING
    ]
    for cookie in response.cookies.values():
        headers.append(("Set-Cookie", cookie.output(header="").lstrip()))
    return HttpResponse(response.status, headers, data)


def held_request(
    request: web.Request, held: HttpRequest, writer: BufferWriter | None = None
) -> web.Request | None:
    """A copy of ``request`` (same connection, app, scheme and host; the deferred form's
    pending URL is same-origin) with ``held``'s method, target, headers and body; with
    ``writer``, what the application streams goes there instead of to the wire.

    ``None`` when aiohttp refuses to copy ``request`` because an earlier middleware read its
    non-empty body.
    """
    m = _TARGET_RE.match(held.url)
    target = (m.group(1) if m is not None else "") or "/"
    try:
        copy = request.clone(method=held.method, rel_url=target, headers=CIMultiDict(held.headers))
    except RuntimeError:  # "Cannot clone request after reading its content"
        return None
    # aiohttp's cache of read(): read(), text(), json() and post() (url-encoded) return the
    # held body instead of reading the poll's (already consumed) stream
    copy._read_bytes = held.body
    if writer is not None:
        copy._payload_writer = writer  # what StreamResponse.prepare() writes to
    return copy
