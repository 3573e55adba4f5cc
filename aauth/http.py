"""Neutral HTTP message types: what drivers convert to and from.

The engine never sees a socket or a framework object. A driver turns whatever its stack has
into an :class:`HttpRequest` / :class:`HttpResponse` (headers as ordered ``(name, value)``
pairs, exactly as on the wire) and back.

Speed: a message builds a lowercase-name index of its headers on the first lookup and keeps
it (messages are immutable), so repeated lookups do not rescan the header list. Copies made
with ``with_headers`` validate only the added pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from ._slots import slot_setters
from .errors import LocalError

__all__ = ["Headers", "HttpRequest", "HttpResponse"]

Headers = tuple[tuple[str, str], ...]
# Lowercase field name -> its field line values, in order. Tuples, so sharing is safe.
_Index: TypeAlias = dict[str, tuple[str, ...]]


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


def combined_value(values: tuple[str, ...] | None) -> str | None:
    """Field lines (from a message's header index) as one value: each stripped of
    surrounding spaces and tabs, joined with ``", "`` (RFC 9110 §5.3); ``None`` if absent."""
    if values is None:
        return None
    if len(values) == 1:
        return values[0].strip(" \t")
    return ", ".join([value.strip(" \t") for value in values])


def _add_to_index(index: _Index, headers: Headers) -> _Index:
    for name, value in headers:
        key = name.lower()
        found = index.get(key)
        index[key] = (value,) if found is None else (*found, value)
    return index


class _Indexed:
    """Holds the lazily built header index in a slot that is not a dataclass field, so it is
    no part of a message's value (fields, equality, hash, repr, pickling)."""

    __slots__ = ("_index",)

    _index: _Index | None


@dataclass(frozen=True, slots=True)
class _Message(_Indexed):
    headers: Headers

    def _header_index(self) -> _Index:
        """The lowercase-name index of the headers (built once; do not mutate)."""
        try:
            index = self._index
        except AttributeError:  # made by copy/pickle, which restore the fields only
            index = None
        if index is None:
            index = _add_to_index({}, self.headers)
            object.__setattr__(self, "_index", index)
        return index

    def _index_with(self, extra: Headers) -> _Index:
        """The header index as if ``extra`` were appended (a copy when there is any)."""
        index = self._header_index()
        return _add_to_index(dict(index), extra) if extra else index

    def _extended_index(self, extra: Headers) -> _Index | None:
        """This message's index plus ``extra``, if the index was already built."""
        index = getattr(self, "_index", None)
        return None if index is None else _add_to_index(dict(index), extra)

    def header_values(self, name: str) -> list[str]:
        """Every field line named ``name`` (case-insensitive), in order."""
        return list(self._header_index().get(name.lower(), ()))

    def header(self, name: str) -> str | None:
        """The field value of ``name`` with multiple lines joined by ``", "``; ``None`` if absent.

        RFC 9110 §5.3 allows a recipient to combine field lines this way.
        """
        return combined_value(self._header_index().get(name.lower()))

    def has_header(self, name: str) -> bool:
        """Whether at least one field line named ``name`` is present."""
        return name.lower() in self._header_index()


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
        _set_method(self, method)
        _set_url(self, url)
        _set_headers(self, _freeze_headers(headers))
        _set_body(self, bytes(body))
        _set_index(self, None)

    def _appended(self, extra: Headers, keep_index: bool = True) -> HttpRequest:
        """A copy with ``extra`` (pairs of str, already checked) appended, not re-validated.
        With ``keep_index``, an already built header index is extended for the copy."""
        copy = _new(HttpRequest)
        _set_method(copy, self.method)
        _set_url(copy, self.url)
        _set_headers(copy, self.headers + extra)
        _set_body(copy, self.body)
        _set_index(copy, self._extended_index(extra) if keep_index else None)
        return copy

    def with_headers(self, extra: Iterable[tuple[str, str]]) -> HttpRequest:
        """A copy with ``extra`` appended after the existing headers."""
        return self._appended(_freeze_headers(extra))

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
        _set_status(self, status)
        _set_headers(self, _freeze_headers(headers))
        _set_response_body(self, bytes(body))
        _set_index(self, None)

    def _appended(self, extra: Headers, keep_index: bool = True) -> HttpResponse:
        """A copy with ``extra`` (pairs of str, already checked) appended, not re-validated.
        With ``keep_index``, an already built header index is extended for the copy."""
        copy = _new(HttpResponse)
        _set_status(copy, self.status)
        _set_headers(copy, self.headers + extra)
        _set_response_body(copy, self.body)
        _set_index(copy, self._extended_index(extra) if keep_index else None)
        return copy

    def with_headers(self, extra: Iterable[tuple[str, str]]) -> HttpResponse:
        """A copy with ``extra`` appended after the existing headers."""
        return self._appended(_freeze_headers(extra))


_new = object.__new__
_set_headers, _set_index = slot_setters(_Message, "headers", "_index")
_set_method, _set_url, _set_body = slot_setters(HttpRequest, "method", "url", "body")
_set_status, _set_response_body = slot_setters(HttpResponse, "status", "body")
