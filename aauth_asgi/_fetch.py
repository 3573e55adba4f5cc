"""The engine's fetches (issuer metadata, JWKS) with httpx and anyio, under egress admission
(signature-key-08 egress admission; digest §3.6).

Before connecting, the host of the dial URL is resolved and the answer goes through
:func:`aauth.discovery.admit_addresses`. The connection then goes to an admitted address
and to no other: the fetch's transport never resolves the name again (digest §3.6:
pin the resolved IP; DNS-rebinding defence), while the URL keeps the host name, so ``Host``,
TLS SNI and the certificate check are about the name. Each fetch has its own connection
pool, so no connection made for one host serves another. The whole fetch (resolution,
connection, answer) is bounded by the action's timeout and its body by ``max_bytes``. Every
failure is a :class:`FetchFailure` whose reason names no URL path, query or header value.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import anyio
import httpcore
import httpx

from aauth.discovery import EgressError, EgressPolicy, admit_addresses
from aauth.errors import LocalError

__all__ = ["FetchFailure", "FetchResult", "PinnedBackend", "PinnedTransport", "fetch"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: What the fetch transport raises for a failed exchange (httpx's own, or httpcore's from
#: the pinned transport).
_FAILED: Final = (
    httpx.HTTPError,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
)
_TIMED_OUT: Final = (httpx.TimeoutException, httpcore.TimeoutException)


class FetchFailure(Exception):
    """A fetch ended without a usable answer; ``reason`` says why (for the engine)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FetchResult:
    """An answer: status, header pairs in order, the whole (capped) body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@cache
def _tls() -> ssl.SSLContext:
    """The default TLS context, built once (loading the CA store is slow)."""
    return ssl.create_default_context()


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects to ``addresses`` (already admitted), in
    order while connecting fails, whatever host name the connection pool asks for."""

    def __init__(self, addresses: Sequence[str]) -> None:
        if not addresses:
            raise LocalError("PinnedBackend needs at least one address")
        self.addresses = tuple(addresses)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first admitted address that accepts; ``host`` is not resolved."""
        del host  # resolved and admitted before: never looked up again (DNS rebinding)
        options = list(socket_options or ())
        for address in self.addresses[:-1]:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, options)
            except httpcore.ConnectError:
                continue  # the next admitted address
        return await self._inner.connect_tcp(
            self.addresses[-1], port, timeout, local_address, options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: fetches go to admitted IP addresses only."""
        raise httpcore.ConnectError("fetches do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        """Sleep (anyio), for the pool's retry pacing."""
        await self._inner.sleep(seconds)


class _CoreBody(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool of its own whose connections go to
    ``addresses`` only (:class:`PinnedBackend`); TLS with the default trust store unless
    ``ssl_context`` is given. httpcore's errors propagate as they are."""

    def __init__(self, addresses: Sequence[str], *, ssl_context: ssl.SSLContext | None = None):
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or _tls(), network_backend=PinnedBackend(addresses)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the pinned pool; the answer's body streams."""
        url = request.url
        core = httpcore.Request(
            request.method,
            httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_CoreBody(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the pool."""
        await self._pool.aclose()


async def _admitted_addresses(host: str, port: int, egress: EgressPolicy) -> tuple[str, ...]:
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return admit_addresses((str(info[4][0]) for info in infos), egress)
    except OSError as exc:
        raise FetchFailure(f"cannot resolve {host}: {exc.strerror or type(exc).__name__}") from exc
    except EgressError as exc:
        raise FetchFailure(exc.message) from exc


async def _get(
    client: httpx.AsyncClient, url: httpx.URL, *, timeout: float, max_bytes: int, accept: str
) -> FetchResult:
    headers = (("Accept", accept), ("Accept-Encoding", "identity"))
    request = client.build_request("GET", url, headers=headers, timeout=timeout)
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise FetchFailure(f"answer with Content-Encoding {encoding!r} refused")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailure(f"answer larger than {max_bytes} bytes")
            chunks.append(chunk)
    finally:
        await response.aclose()
    headers_out = tuple(response.headers.multi_items())
    return FetchResult(response.status_code, headers_out, b"".join(chunks))


async def fetch(
    dial_url: str,
    *,
    timeout: float,
    max_bytes: int,
    egress: EgressPolicy,
    accept: str = "application/json",
    client: httpx.AsyncClient | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> FetchResult:
    """GET ``dial_url`` as the engine's :class:`~aauth.resource.Fetch` asks.

    Every address the host resolves to must pass egress admission. By default the request
    goes out on a :class:`PinnedTransport` of its own (connections to the admitted
    addresses only, tried in order while connecting fails; no proxy). ``client``: an
    ``AsyncClient`` of the application's instead: the host is still resolved and admitted
    first, but the client connects by itself (its own resolution: no pinning) — for tests
    and for deployments whose client enforces egress itself. ``ssl_context``: the TLS trust
    of the pinned transport (default: the system store).

    :raises FetchFailure: timeout, resolution, egress refusal, connection or protocol error,
        an encoded or oversized body.
    """
    try:
        url = httpx.URL(dial_url)
    except httpx.InvalidURL as exc:
        raise FetchFailure("the fetch URL is not valid") from exc
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    if port is None or not url.host:
        raise FetchFailure("the fetch URL is not an absolute http(s) URL")
    options: dict[str, Any] = {"timeout": timeout, "max_bytes": max_bytes, "accept": accept}
    try:
        with anyio.fail_after(timeout):
            addresses = await _admitted_addresses(url.host, port, egress)
            if client is not None:
                return await _get(client, url, **options)
            transport = PinnedTransport(addresses, ssl_context=ssl_context)
            async with httpx.AsyncClient(transport=transport, trust_env=False) as own:
                return await _get(own, url, **options)
    except TimeoutError as exc:
        raise FetchFailure(f"no answer within {timeout} s") from exc
    except _TIMED_OUT as exc:
        raise FetchFailure(f"no answer within {timeout} s ({type(exc).__name__})") from exc
    except _FAILED as exc:
        raise FetchFailure(f"request failed: {type(exc).__name__}") from exc
