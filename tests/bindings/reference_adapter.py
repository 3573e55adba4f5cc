"""A reference binding of :class:`~aauth.resource.ResourceServer` on the standard library, so
the shared scenarios are proven before (and independently of) the real bindings.

The conversions are :func:`tests.fakes.serve`'s (a ``ThreadingHTTPServer`` on 127.0.0.1 that
turns each request into an :class:`~aauth.http.HttpRequest` with the URL
``http://{Host}{target}`` and sends back an :class:`~aauth.http.HttpResponse`; it passes one
request at a time, which also keeps the engine's discovery cache single-threaded). What this
module adds is the binding's one loop over the exchange's actions (:func:`run_exchange`) and
the fetches it asks for (:func:`fetch`: egress admission of every resolved address, urllib
with a timeout, no redirects, the body capped).
"""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from aauth.discovery import EgressError, admit_addresses
from aauth.http import HttpRequest, HttpResponse
from aauth.resource import CallApp, Fetch, ResourceServer, Respond, Verified
from tests.bindings.harness import Clock, EchoApp
from tests.fakes import serve

__all__ = ["FetchFailed", "ReferenceAdapter", "fetch", "run_exchange"]

App = Callable[[HttpRequest, Verified | None], HttpResponse]

_READ_CHUNK: Final = 65_536


class FetchFailed(Exception):
    """A discovery fetch got no usable answer (the reason goes to ``fetch_failed``)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Discovery fetches do not follow redirects: a 3xx is the answer."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirects())


def _read_capped(stream: object, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``; :class:`FetchFailed` if there are more."""
    read = getattr(stream, "read")  # noqa: B009 - urllib's response and HTTPError alike
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = read(min(_READ_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise FetchFailed(f"the document is larger than {limit} bytes")


def fetch(action: Fetch) -> tuple[int, list[tuple[str, str]], bytes]:
    """GET ``action.dial_url`` as the engine asked: the addresses the host resolves to go
    through :func:`~aauth.discovery.admit_addresses` first (digest §3.6), then one request
    with ``action.timeout``, no redirects, the body capped at ``action.max_bytes``. (urllib
    resolves the name again to connect: this test-only reference does not pin the admitted
    address as the real bindings do.)

    :raises FetchFailed: egress refusal, resolution or connection failure, timeout, over-size.
    """
    parts = urlsplit(action.dial_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        admit_addresses((str(info[4][0]) for info in infos), action.egress)
    except EgressError as exc:
        raise FetchFailed(exc.message) from None
    except OSError as exc:
        raise FetchFailed(f"cannot resolve {host}: {exc}") from None
    request = urllib.request.Request(
        action.dial_url, headers={"Accept": action.accept}, method="GET"
    )
    try:
        with _OPENER.open(request, timeout=action.timeout) as answer:
            body = _read_capped(answer, action.max_bytes)
            return answer.status, list(answer.headers.items()), body
    except urllib.error.HTTPError as exc:  # 3xx/4xx/5xx: still an answer for the cache
        with exc:
            body = _read_capped(exc, action.max_bytes)
            return exc.code, list(exc.headers.items()), body
    except (OSError, urllib.error.URLError) as exc:
        raise FetchFailed(f"fetch failed: {exc}") from None


def run_exchange(
    server: ResourceServer, request: HttpRequest, clock: Clock, app: App
) -> HttpResponse:
    """The binding's one loop: receive ``request``, do what each action says, and return
    the response to send."""
    exchange = server.receive(request, int(clock()))
    action = exchange.next_action()
    while True:
        if isinstance(action, Fetch):
            try:
                status, headers, body = fetch(action)
            except FetchFailed as exc:
                action = exchange.fetch_failed(action.url, now=int(clock()), reason=str(exc))
            else:
                action = exchange.fetched(action.url, status, headers, body, now=int(clock()))
        elif isinstance(action, Respond):
            return action.response
        elif isinstance(action, CallApp):
            answer = app(action.request, action.identity)
            if not action.capture:
                return answer.with_headers(action.add_headers)
            action = exchange.app_responded(answer, now=int(clock()))
        else:  # pragma: no cover - the Action union is closed
            raise TypeError(f"unknown action {action!r}")


@dataclass
class ReferenceAdapter:
    """:class:`~tests.bindings.harness.ResourceBindingAdapter` on the standard library."""

    name: str = "reference"

    @contextmanager
    def serve(self, server: ResourceServer, clock: Clock) -> Iterator[str]:
        """Serve the echo app behind ``server`` on 127.0.0.1; yield the base URL."""
        app = EchoApp()
        # the engine is not thread-safe and http.server answers each connection in its own
        # thread: one exchange at a time (an event-loop binding needs no lock)
        engine_lock = threading.Lock()

        def handle(request: HttpRequest, now: int) -> HttpResponse:
            del now  # the loop reads the clock at each step
            with engine_lock:
                return run_exchange(server, request, clock, app.for_request)

        with serve(handle, clock) as served:
            yield served.origin
