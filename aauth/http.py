"""Neutral HTTP message types: what drivers convert to and from.

The engine never sees a socket or a framework object. A driver turns whatever its stack has
into an :class:`HttpRequest` / :class:`HttpResponse` (headers as ordered ``(name, value)``
pairs, exactly as on the wire) and back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .errors import LocalError

__all__ = ["Headers", "HttpRequest", "HttpResponse"]

Headers = tuple[tuple[str, str], ...]


def _freeze_headers(headers: Iterable[tuple[str, str]] | Sequence[Sequence[str]]) -> Headers:
    frozen: list[tuple[str, str]] = []
    for pair in headers:
        if isinstance(pair, (str, bytes)) or len(pair) != 2:
            raise LocalError("headers must be a sequence of (name, value) pairs")
        name, value = pair
        if not isinstance(name, str) or not isinstance(value, str):
            raise LocalError("header names and values must be str")
        frozen.append((name, value))
    return tuple(frozen)


def _values(headers: Headers, name: str) -> list[str]:
    wanted = name.lower()
    return [value for key, value in headers if key.lower() == wanted]


@dataclass(frozen=True, slots=True)
class _Message:
    headers: Headers

    def header_values(self, name: str) -> list[str]:
        """Every field line named ``name`` (case-insensitive), in order."""
        return _values(self.headers, name)

    def header(self, name: str) -> str | None:
        """The field value of ``name`` with multiple lines joined by ``", "``; ``None`` if absent.

        RFC 9110 §5.3 allows a recipient to combine field lines this way.
        """
        values = _values(self.headers, name)
        if not values:
            return None
        return ", ".join(value.strip(" \t") for value in values)

    def has_header(self, name: str) -> bool:
        """Whether at least one field line named ``name`` is present."""
        wanted = name.lower()
        return any(key.lower() == wanted for key, _ in self.headers)


@dataclass(frozen=True, slots=True, kw_only=False, init=False)
class HttpRequest(_Message):
    """A request: method, absolute target URL, ordered header pairs and body bytes."""

    method: str
    url: str
    body: bytes = field(default=b"")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] | Sequence[Sequence[str]] = (),
        body: bytes = b"",
    ) -> None:
        if not isinstance(method, str) or not method:
            raise LocalError("method must be a non-empty str")
        if not isinstance(url, str):
            raise LocalError("url must be a str")
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise LocalError("body must be bytes")
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "headers", _freeze_headers(headers))
        object.__setattr__(self, "body", bytes(body))

    def with_headers(self, extra: Iterable[tuple[str, str]]) -> HttpRequest:
        """A copy with ``extra`` appended after the existing headers."""
        return HttpRequest(self.method, self.url, (*self.headers, *extra), self.body)

    def without_headers(self, names: Iterable[str]) -> HttpRequest:
        """A copy without any field named in ``names`` (case-insensitive)."""
        drop = {name.lower() for name in names}
        kept = [(k, v) for k, v in self.headers if k.lower() not in drop]
        return HttpRequest(self.method, self.url, kept, self.body)


@dataclass(frozen=True, slots=True, init=False)
class HttpResponse(_Message):
    """A response: status code, ordered header pairs and body bytes."""

    status: int
    body: bytes = field(default=b"")

    def __init__(
        self,
        status: int,
        headers: Iterable[tuple[str, str]] | Sequence[Sequence[str]] = (),
        body: bytes = b"",
    ) -> None:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
            raise LocalError("status must be an int between 100 and 999")
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise LocalError("body must be bytes")
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "headers", _freeze_headers(headers))
        object.__setattr__(self, "body", bytes(body))

    def with_headers(self, extra: Iterable[tuple[str, str]]) -> HttpResponse:
        """A copy with ``extra`` appended after the existing headers."""
        return HttpResponse(self.status, (*self.headers, *extra), self.body)
