"""Structured Field Values for HTTP (RFC 9651).

Data model (Python values):

=================  ==========================================
RFC 9651 type      Python
=================  ==========================================
Integer            ``int`` (never ``bool``)
Decimal            ``decimal.Decimal``
String             ``str``
Token              :class:`Token` (a ``str`` subclass)
Byte Sequence      ``bytes``
Boolean            ``bool``
Date               :class:`Date` (an ``int`` subclass)
Display String     :class:`DisplayString` (a ``str`` subclass)
Parameters         ``dict[str, BareItem]`` (insertion order kept)
Item               :class:`Item` ``(value, params)``
Inner List         :class:`InnerList` ``(items, params)``
List               ``list[Item | InnerList]``
Dictionary         ``dict[str, Item | InnerList]``
=================  ==========================================

Parsers raise :class:`aauth.errors.StructuredFieldError` for any malformed input and nothing
else. Serialisers raise :class:`aauth.errors.StructuredFieldError` for values RFC 9651 cannot
represent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from .errors import StructuredFieldError

__all__ = [
    "BareItem",
    "Date",
    "Dictionary",
    "DisplayString",
    "InnerList",
    "Item",
    "List",
    "Member",
    "Params",
    "StructuredFieldError",
    "Token",
    "parse_dictionary",
    "parse_item",
    "parse_list",
    "serialize_bare_item",
    "serialize_dictionary",
    "serialize_inner_list",
    "serialize_item",
    "serialize_list",
    "serialize_params",
]


class Token(str):
    """An RFC 9651 Token (§3.3.4); compares equal to the plain ``str`` of the same text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Token({str.__repr__(self)})"


class DisplayString(str):
    """An RFC 9651 Display String (§3.3.8): Unicode text, percent-encoded on the wire."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"DisplayString({str.__repr__(self)})"


class Date(int):
    """An RFC 9651 Date (§3.3.7): integer seconds since the Unix epoch."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Date({int.__repr__(self)})"


BareItem: TypeAlias = int | Decimal | str | bytes | bool
Params: TypeAlias = dict[str, BareItem]


@dataclass(frozen=True, slots=True)
class Item:
    """A bare item with parameters (RFC 9651 §3.3)."""

    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InnerList:
    """An inner list with parameters (RFC 9651 §3.1.1)."""

    items: list[Item] = field(default_factory=list)
    params: Params = field(default_factory=dict)


Member: TypeAlias = Item | InnerList
List: TypeAlias = list[Member]
Dictionary: TypeAlias = dict[str, Member]


def parse_item(text: str) -> Item:
    """Parse a field value as an Item (RFC 9651 §4.2)."""
    raise NotImplementedError


def parse_list(text: str) -> List:
    """Parse a field value as a List (RFC 9651 §4.2)."""
    raise NotImplementedError


def parse_dictionary(text: str, *, allow_duplicate_keys: bool = True) -> Dictionary:
    """Parse a field value as a Dictionary (RFC 9651 §4.2).

    RFC 9651 §4.2.2 lets a later duplicate key override an earlier one (keeping the first
    position). Security-sensitive callers pass ``allow_duplicate_keys=False`` to refuse a
    dictionary with a repeated key instead.
    """
    raise NotImplementedError


def serialize_bare_item(value: BareItem) -> str:
    """Serialise one bare item (RFC 9651 §4.1.3)."""
    raise NotImplementedError


def serialize_params(params: Params) -> str:
    """Serialise parameters (RFC 9651 §4.1.1.2), including the leading ``;``."""
    raise NotImplementedError


def serialize_item(item: Item | BareItem) -> str:
    """Serialise an Item (RFC 9651 §4.1.3); a bare value is taken as an Item without params."""
    raise NotImplementedError


def serialize_inner_list(inner: InnerList) -> str:
    """Serialise an Inner List (RFC 9651 §4.1.1.1)."""
    raise NotImplementedError


def serialize_list(members: List) -> str:
    """Serialise a List (RFC 9651 §4.1.1)."""
    raise NotImplementedError


def serialize_dictionary(members: Dictionary) -> str:
    """Serialise a Dictionary (RFC 9651 §4.1.2). A member whose value is ``Item(True)``
    is written as the bare key, with its parameters."""
    raise NotImplementedError


_ = StructuredFieldError  # re-exported for callers that catch it from here
