"""The engine's fetches (issuer metadata, JWKS) with httpx and anyio, under egress admission
(signature-key-08 egress admission; digest §3.6).

Before connecting, the host of the dial URL is resolved and every address is checked with
:func:`aauth.discovery.check_resolved_address`; the connection then goes to a checked
address (the URL's host replaced by the address, ``Host`` and TLS SNI kept: the answer comes
from the address that was admitted, not from a second DNS answer — DNS-rebinding defence).
The whole fetch (resolution, connection, answer) is bounded by the action's timeout and its
body by ``max_bytes``. Every failure is a :class:`FetchFailure` whose reason names no URL
path, query or header value.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Final

import anyio
import httpx

from aauth.discovery import EgressError, EgressPolicy, check_resolved_address
from aauth.errors import LocalError

__all__ = ["FetchFailure", "FetchResult", "fetch"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


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


async def _admitted_addresses(host: str, port: int, egress: EgressPolicy) -> list[str]:
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchFailure(f"cannot resolve {host}: {exc.strerror or type(exc).__name__}") from exc
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0]).partition("%")[0]  # drop an IPv6 zone index
        try:
            check_resolved_address(address, egress)
        except EgressError as exc:
            raise FetchFailure(f"egress refused: {exc.message}") from exc
        except LocalError as exc:
            raise FetchFailure(f"{host} resolved to something not an address") from exc
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchFailure(f"{host} resolved to no address")
    return addresses


async def _get(
    client: httpx.AsyncClient,
    url: httpx.URL,
    address: str,
    *,
    timeout: float,
    max_bytes: int,
    accept: str,
) -> FetchResult:
    headers = [
        ("Host", url.netloc.decode("ascii")),
        ("Accept", accept),
        ("Accept-Encoding", "identity"),
    ]
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    request = client.build_request(
        "GET",
        url.copy_with(host=address),
        headers=headers,
        timeout=timeout,
        extensions=extensions,
    )
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
    return FetchResult(
        response.status_code, tuple(response.headers.multi_items()), b"".join(chunks)
    )


async def fetch(
    dial_url: str,
    *,
    timeout: float,
    max_bytes: int,
    egress: EgressPolicy,
    accept: str = "application/json",
    client: httpx.AsyncClient | None = None,
) -> FetchResult:
    """GET ``dial_url`` as the engine's :class:`~aauth.resource.Fetch` asks.

    Every address the host resolves to must pass egress admission; the addresses are tried
    in order while connecting fails. ``client``: the application's ``AsyncClient`` (it must
    not use a proxy: the connection goes to the admitted address); by default a new one per
    fetch, ignoring the environment's proxy settings.

    :raises FetchFailure: timeout, resolution, egress refusal, connection or protocol error,
        an encoded or oversized body.
    """
    try:
        url = httpx.URL(dial_url)
    except httpx.InvalidURL as exc:
        raise FetchFailure("the fetch URL is not valid") from exc
    options: dict[str, Any] = {"timeout": timeout, "max_bytes": max_bytes, "accept": accept}
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    if port is None or not url.host:
        raise FetchFailure("the fetch URL is not an absolute http(s) URL")
    try:
        with anyio.fail_after(timeout):
            addresses = await _admitted_addresses(url.host, port, egress)
            if client is not None:
                return await _try_each(client, url, addresses, **options)
            async with httpx.AsyncClient(trust_env=False) as own:
                return await _try_each(own, url, addresses, **options)
    except TimeoutError as exc:
        raise FetchFailure(f"no answer within {timeout} s") from exc
    except httpx.TimeoutException as exc:
        raise FetchFailure(f"no answer within {timeout} s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise FetchFailure(f"request failed: {type(exc).__name__}") from exc


async def _try_each(
    client: httpx.AsyncClient,
    url: httpx.URL,
    addresses: list[str],
    **options: Any,
) -> FetchResult:
    for address in addresses[:-1]:
        try:
            return await _get(client, url, address, **options)
        except httpx.ConnectError:
            continue  # the next admitted address
    return await _get(client, url, addresses[-1], **options)
