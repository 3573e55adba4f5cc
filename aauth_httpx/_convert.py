"""Conversions between httpx messages and the engine's neutral messages, and the capped body
read the engine's answers need (``SendRequest.max_body``).

httpx derives ``Host`` from the URL and ``Content-Length`` / ``Transfer-Encoding`` from the
content, so they are not carried into the neutral request: the engine may dial another origin
(its transport map) and always sends the body as bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Final

import httpx

from aauth.agent import TransportError
from aauth.http import HttpRequest, HttpResponse

__all__ = [
    "BodyTooLarge",
    "CappedBody",
    "cap_async_body",
    "cap_sync_body",
    "same_origin",
    "to_aauth_request",
    "to_aauth_response",
    "to_httpx_request",
]

#: Header fields httpx computes from the URL and the content itself.
_DERIVED: Final = frozenset({"host", "content-length", "transfer-encoding"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class BodyTooLarge(TransportError):
    """The engine delivered an answer whose body it had read and the driver had cut at the
    engine's ``max_body`` (a ``202`` …): the application would otherwise get a truncated
    body. ``retryable`` is false."""


def to_aauth_request(request: httpx.Request) -> HttpRequest:
    """The application's request (its content already read) as a neutral request."""
    headers = [
        (name, value)
        for name, value in request.headers.multi_items()
        if name.lower() not in _DERIVED
    ]
    return HttpRequest(request.method, str(request.url), headers, request.content)


def to_httpx_request(request: HttpRequest, extensions: Mapping[str, Any]) -> httpx.Request:
    """A neutral request (signed by the engine) as an httpx request with ``extensions``
    (the client's timeout …)."""
    return httpx.Request(
        request.method,
        request.url,
        headers=list(request.headers),
        content=request.body,
        extensions=dict(extensions),
    )


def to_aauth_response(response: httpx.Response, body: bytes) -> HttpResponse:
    """An httpx response as a neutral response with ``body`` (``b""`` when the engine does not
    read it; the application then gets the httpx response itself, unread)."""
    return HttpResponse(response.status_code, response.headers.multi_items(), body)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    scheme = url.scheme.lower()
    return scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(scheme)


def same_origin(first: httpx.URL, second: httpx.URL) -> bool:
    """Whether two URLs share scheme, host and port (RFC 6454 §4)."""
    return _origin(first) == _origin(second)


class CappedBody:
    """Reads at most ``limit + 1`` bytes of a body, then stops (``truncated``: the body is
    larger than ``limit``, enough for the engine to report it with that request's error)."""

    truncated: bool = False

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._left = limit + 1

    def _take(self, chunk: bytes) -> bytes:
        kept = chunk[: self._left]
        self._left -= len(kept)
        self.truncated = self._left == 0
        return kept


class _CappedSyncStream(httpx.SyncByteStream, CappedBody):
    def __init__(self, inner: httpx.SyncByteStream, limit: int) -> None:
        CappedBody.__init__(self, limit)
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            kept = self._take(chunk)
            if kept:
                yield kept
            if self.truncated:
                return

    def close(self) -> None:
        self._inner.close()


class _CappedAsyncStream(httpx.AsyncByteStream, CappedBody):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        CappedBody.__init__(self, limit)
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            kept = self._take(chunk)
            if kept:
                yield kept
            if self.truncated:
                return

    async def aclose(self) -> None:
        await self._inner.aclose()


def _unread(response: httpx.Response) -> bool:
    return not response.is_stream_consumed and not response.is_closed


def cap_sync_body(response: httpx.Response, limit: int) -> CappedBody | None:
    """Make whoever reads ``response``'s body (the driver for the engine, or httpx keeping
    the answer in a flow's history) stop after ``limit + 1`` bytes. ``None``: already read."""
    stream = response.stream
    if _unread(response) and isinstance(stream, httpx.SyncByteStream):
        capped = _CappedSyncStream(stream, limit)
        response.stream = capped
        return capped
    return None


def cap_async_body(response: httpx.Response, limit: int) -> CappedBody | None:
    """:func:`cap_sync_body` for an ``AsyncClient`` response."""
    stream = response.stream
    if _unread(response) and isinstance(stream, httpx.AsyncByteStream):
        capped = _CappedAsyncStream(stream, limit)
        response.stream = capped
        return capped
    return None
