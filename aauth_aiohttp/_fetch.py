"""The resource engine's fetches (issuer metadata, JWKS) with aiohttp, under egress admission
(signature-key-08 egress admission; digest §3.6).

Before connecting, the host of :attr:`~aauth.resource.Fetch.dial_url` is resolved and the
answer goes through :func:`aauth.discovery.admit_addresses`; the connection then goes to
an admitted address (the URL's host replaced by the address; ``Host`` and the TLS
server name kept), so the answer comes from the address that was admitted and not from a
second DNS answer (DNS-rebinding defence). Resolution, connection and answer are bounded by
the action's timeout together, the body by its ``max_bytes``. Every failure is a
:class:`FetchFailure` whose reason names no URL path, query or header value.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp import ClientConnectorError, ClientError, ClientSession
from yarl import URL

from aauth.discovery import EgressError, admit_addresses
from aauth.resource import Fetch

__all__ = ["FetchFailure", "FetchResult", "fetch"]

_READ_CHUNK: Final = 65_536


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


async def _getaddrinfo(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (the system resolver, as aiohttp's default)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _admitted_addresses(action: Fetch, host: str, port: int) -> tuple[str, ...]:
    """The addresses of ``host`` the action's egress policy admits (digest §3.6: one
    refused address refuses the fetch)."""
    try:
        return admit_addresses(await _getaddrinfo(host, port), action.egress)
    except OSError as exc:
        raise FetchFailure(f"cannot resolve {host}: {exc.strerror or type(exc).__name__}") from exc
    except EgressError as exc:
        raise FetchFailure(exc.message) from exc


async def _get(session: ClientSession, action: Fetch, url: URL, address: str) -> FetchResult:
    """GET ``url`` from ``address``; the body read up to ``max_bytes``."""
    headers = {
        "Accept": action.accept,
        "Accept-Encoding": "identity",
        "Host": url.host_port_subcomponent or address,
    }
    async with session.get(
        url.with_host(address),
        headers=headers,
        allow_redirects=False,
        raise_for_status=False,
        middlewares=(),  # never the agent's client middleware: these are plain GETs
        server_hostname=url.raw_host if url.scheme == "https" else None,
    ) as response:
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding != "identity":
            raise FetchFailure(f"answer with Content-Encoding {encoding!r} refused")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await response.content.read(_READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > action.max_bytes:
                raise FetchFailure(f"answer larger than {action.max_bytes} bytes")
            chunks.append(chunk)
        pairs = tuple((str(name), value) for name, value in response.headers.items())
        return FetchResult(response.status, pairs, b"".join(chunks))


async def _try_each(
    session: ClientSession, action: Fetch, url: URL, addresses: Sequence[str]
) -> FetchResult:
    """The first answer from the admitted addresses, in order, while connecting fails."""
    for address in addresses[:-1]:
        try:
            return await _get(session, action, url, address)
        except ClientConnectorError:
            continue  # the next admitted address
    return await _get(session, action, url, addresses[-1])


async def fetch(action: Fetch, session: ClientSession | None = None) -> FetchResult:
    """GET ``action.dial_url`` as the engine's :class:`~aauth.resource.Fetch` asks.

    ``session``: the application's :class:`~aiohttp.ClientSession` (it must not use a
    proxy: the connection goes to the admitted address); by default a new one per fetch
    (``trust_env=False``: no proxy from the environment). Redirects are not followed.

    :raises FetchFailure: timeout, resolution, egress refusal, connection or protocol error,
        an encoded or oversized body.
    """
    try:
        url = URL(action.dial_url)
    except (TypeError, ValueError) as exc:
        raise FetchFailure("the fetch URL is not valid") from exc
    host = url.raw_host
    if url.scheme not in ("http", "https") or not host or url.port is None:
        raise FetchFailure("the fetch URL is not an absolute http(s) URL")
    try:
        async with asyncio.timeout(action.timeout):
            addresses = await _admitted_addresses(action, host, url.port)
            if session is not None:
                return await _try_each(session, action, url, addresses)
            async with ClientSession(trust_env=False, auto_decompress=False) as own:
                return await _try_each(own, action, url, addresses)
    except TimeoutError as exc:
        raise FetchFailure(f"no answer within {action.timeout} s") from exc
    except (ClientError, OSError) as exc:
        raise FetchFailure(f"request failed: {type(exc).__name__}") from exc
