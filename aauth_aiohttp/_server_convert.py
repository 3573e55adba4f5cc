"""Conversions between aiohttp.web messages and the engine's neutral ones (the server side).

* :func:`to_http_request`: a :class:`aiohttp.web.BaseRequest` and its body as an
  :class:`~aauth.http.HttpRequest` (absolute URL as the server sees it, header pairs in wire
  order with duplicates, decoded as Latin-1);
* :func:`to_web_response`: an :class:`~aauth.http.HttpResponse` as a
  :class:`aiohttp.web.Response`;
* :func:`captured_response`: an application's unsent :class:`aiohttp.web.Response` as an
  :class:`~aauth.http.HttpResponse` (the deferred form stores it);
* :func:`held_request`: a copy of the wire request carrying a held request's method, target,
  headers and body, for the application to run.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web
from multidict import CIMultiDict

from aauth.http import HttpRequest, HttpResponse

__all__ = [
    "captured_response",
    "held_request",
    "request_url",
    "to_http_request",
    "to_web_response",
]

#: Computed by aiohttp from the body it sends (RFC 9112 §6): never copied across.
_FRAMING: Final = frozenset({"content-length", "transfer-encoding"})
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


async def captured_response(response: web.StreamResponse) -> HttpResponse | None:
    """An application's answer as a neutral response: status, headers (framing fields
    dropped, cookies as ``Set-Cookie``), the whole body. ``None`` when it cannot be buffered:
    already sent (streamed by the handler) or not a :class:`aiohttp.web.Response` (a
    :class:`~aiohttp.web.FileResponse` or another response that writes itself)."""
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


def held_request(request: web.Request, held: HttpRequest) -> web.Request | None:
    """A copy of ``request`` (same connection, app, scheme and host; the deferred form's
    pending URL is same-origin) with ``held``'s method, target, headers and body.

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
    return copy
