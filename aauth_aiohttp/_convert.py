"""Conversions between aiohttp's client messages and the engine's neutral ones.

:class:`aiohttp.ClientRequest` -> :class:`aauth.HttpRequest` (the body must be in memory: the
signature covers its digest), :class:`aiohttp.ClientResponse` -> :class:`aauth.HttpResponse`
(the body read only when the engine needs it, and never more than it reads), and the engine's
signed headers back onto a :class:`aiohttp.ClientRequest`.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import ClientRequest, ClientResponse, payload
from multidict import CIMultiDict
from yarl import URL

from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse

__all__ = [
    "apply_signed_request",
    "read_body",
    "request_body",
    "to_aauth_request",
    "to_aauth_response",
    "transport_reason",
]

#: Derived from the URL on every hop (RFC 9110 §7.2); the signature covers ``@authority``.
_HOST: Final = "host"
_REASON_MAX: Final = 200
# a URL in an exception message, kept down to its origin (no path, query or token in logs)
_URL_TAIL: Final = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s?#]*)[^\s]*")


async def request_body(request: ClientRequest) -> bytes:
    """The body of ``request`` as bytes: empty, or an in-memory payload (``bytes``,
    ``bytearray``, ``memoryview``, ``str``, ``json=``, a url-encoded form).

    :raises LocalError: a streaming body (file, async iterator, multipart, stream reader),
        whose bytes cannot be known before it is sent, or a request aiohttp would compress
        on the wire (the ``Content-Digest`` would not match the bytes sent; RFC 9530 §2).
    """
    if request.compress:
        raise LocalError(
            "aauth cannot sign a request that aiohttp compresses on the wire (compress=): "
            "compress the body yourself and set Content-Encoding"
        )
    body = request.body
    if isinstance(body, payload.BytesPayload):
        return bytes(await body.as_bytes())
    if isinstance(body, payload.Payload):
        raise LocalError(
            f"aauth signs the request body, so it must be in memory (bytes or str); "
            f"a streaming {type(body).__name__} body cannot be signed"
        )
    return bytes(body)


async def to_aauth_request(request: ClientRequest) -> HttpRequest:
    """``request`` as the engine's :class:`~aauth.http.HttpRequest`: method, URL, headers in
    order (without ``Host``, which aiohttp derives from the URL), body bytes.

    :raises LocalError: the body cannot be signed (see :func:`request_body`).
    """
    body = await request_body(request)
    headers = [
        (str(name), value) for name, value in request.headers.items() if name.lower() != _HOST
    ]
    return HttpRequest(request.method, str(request.url), headers, body)


def apply_signed_request(request: ClientRequest, signed: HttpRequest) -> None:
    """Put the engine's signed version of the application's request onto ``request``: its
    headers (a new mapping: earlier ``request_info`` snapshots keep theirs) with ``Host`` for
    its URL, and its URL when the agent's transport map changed it."""
    if signed.url != str(request.url):
        request.url = URL(signed.url, encoded=True)
    # the engine sends absolute http(s) URLs only, which always have an authority
    headers = CIMultiDict([("Host", request.url.host_port_subcomponent or "")])
    for name, value in signed.headers:
        headers.add(name, value)
    request.headers = headers


async def read_body(response: ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most ``limit + 1`` bytes of ``response``'s body (decoded as aiohttp decodes it), and
    whether that is the whole body.

    A whole body stays readable by the application (``read()``, ``text()``, ``json()``); a
    longer one is cut (the engine then refuses it as too large), and the rest is unread.
    """
    length = response.content_length
    if length is not None and length <= limit:
        return await response.read(), True
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await response.content.read(limit + 1 - size)
        if not chunk:
            body = b"".join(chunks)
            # aiohttp keeps a read body here; set it so the application can read it again
            response._body = body
            return body, True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def to_aauth_response(response: ClientResponse, body: bytes = b"") -> HttpResponse:
    """``response`` (status, headers in order) with ``body`` as the engine's
    :class:`~aauth.http.HttpResponse`."""
    headers = [(str(name), value) for name, value in response.headers.items()]
    return HttpResponse(response.status, headers, body)


def transport_reason(exc: BaseException) -> str:
    """A short, log-safe description of a transport failure: the exception type and message,
    URLs cut to their origin, at most 200 characters."""
    text = _URL_TAIL.sub(r"\1", str(exc)).strip()
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return reason[:_REASON_MAX]
