"""URL helpers of the agent flow: origins, same-origin checks, the transport map.

A loopback test gives every party an https identifier (``https://ps.example``) and maps only the
transport to ``http://127.0.0.1:PORT``; the agent signs the authority it actually dials, so the
mapping is applied before signing (``../shared/interop-notes.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

__all__ = ["dial_url", "origin_of", "resolve"]

_DEFAULT_PORTS = {"https": 443, "http": 80}


@lru_cache(maxsize=1024)
def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL (scheme and host lowercased, default
    port omitted), or ``None`` when ``url`` is not one. Memoised: an agent calls the same few
    URLs again and again."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number in range, a bad IPv6 literal
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def dial_url(url: str, transport_map: Mapping[str, str]) -> str:
    """``url`` with its origin replaced by the transport map's entry for it, if any."""
    if not transport_map:
        return url
    origin = origin_of(url)
    target = transport_map.get(origin) if origin is not None else None
    return url if target is None else target + _path_and_query(url)


def resolve(base: str, reference: str) -> str | None:
    """``reference`` (a ``Location`` value) resolved against ``base`` (RFC 9110 §10.2.2), or
    ``None`` when the result is not an absolute http(s) URL."""
    try:
        resolved = urljoin(base, reference.strip(" \t"))
    except ValueError:
        return None
    return resolved if origin_of(resolved) is not None else None
