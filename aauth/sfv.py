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

Parsers take one ``str`` field value: a caller holding several field lines joins them with
``", "`` first (RFC 9651 §4.2). They raise :class:`aauth.errors.StructuredFieldError` for any
malformed input (non-ASCII characters included) and nothing else; the message names what was
wrong and the character offset, and never echoes the field value itself. Serialisers raise
:class:`aauth.errors.StructuredFieldError` for values RFC 9651 cannot represent and for values
of a Python type outside the data model (``float`` is refused: use ``Decimal``).

Byte Sequences are parsed leniently, as RFC 9651 §4.2.7 recommends: missing ``=`` padding and
non-zero pad bits are accepted. Wrong padding (too much, or in the middle) is refused.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, Final, TypeAlias

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


# ---------------------------------------------------------------------------------------------
# Grammar pieces (RFC 9651 §3 ABNF), precompiled. Input is checked to be ASCII before any of
# these run, so explicit character classes are exact.

_KEY: Final = r"[a-z*][a-z0-9_.*-]*"  # §3.1.2 key
_TCHAR: Final = r"!#$%&'*+.^_`|~0-9A-Za-z-"  # RFC 9110 §5.6.2 tchar
_TOKEN_RE: Final = re.compile(rf"[A-Za-z*][{_TCHAR}:/]*")  # §3.3.4
_KEY_RE: Final = re.compile(_KEY)
_NUMBER_RE: Final = re.compile(r"-?([0-9]+)(\.[0-9]*)?")  # §4.2.4, lengths checked after
_STRING_PLAIN_OUT_RE: Final = re.compile(r"[ !#-\[\]-~]*")  # §3.3.3 chars needing no escape
_PRINTABLE_RE: Final = re.compile(r"[ -~]*")  # §3.3.3 SP / VCHAR
_DISPLAY_PLAIN_RE: Final = re.compile(r'%"([ !#$&-~]*)"')  # §4.2.10 without %-escapes
_LC_HEX: Final = frozenset("0123456789abcdef")

# The fast path. One regex alternation recognises the common, unambiguous bare items; the
# number of the group that matched (``Match.lastindex``) says which. Anything else (strings
# with escapes, decimals, dates, display strings and every error) goes to the general parser.
# Groups, the same in all three patterns below: 1 key, 2 "=", then the value kinds.
_G_KEY, _G_EQ, _G_STRING, _G_TOKEN, _G_INTEGER, _G_BYTES, _G_BOOLEAN = range(1, 8)
_BARE_FAST: Final = (
    r'"([ !#-\[\]-~]*)"'  # 3: String without escapes (§4.2.5)
    rf"|([A-Za-z*][{_TCHAR}:/]*)"  # 4: Token (§4.2.6)
    r"|(-?[0-9]{1,15})(?![0-9.])"  # 5: Integer (§4.2.4), not the head of a Decimal
    r"|:([A-Za-z0-9+/]*={0,2}):"  # 6: Byte Sequence (§4.2.7), length checked after
    r"|\?([01])"  # 7: Boolean (§4.2.8)
)
# A bare item; the two empty groups keep the value groups at the same numbers.
_BARE_FAST_RE: Final = re.compile(rf"()()(?:{_BARE_FAST})")
# One parameter (§4.2.3.2): ";" *SP key ["=" bare-item]. Group 2 last: a value the fast path
# does not know follows the "=".
_PARAM_RE: Final = re.compile(rf";[ ]*({_KEY})(?:(=)(?:{_BARE_FAST})?)?")
# An inner list of Strings without escapes or parameters, as in Signature-Input (§4.2.1.2).
_INNER_PLAIN: Final = r'\((?:[ ]*"[ !#-\[\]-~]*"(?=[ )]))*[ ]*\)'
_INNER_PLAIN_RE: Final = re.compile(_INNER_PLAIN)
# The head of one dictionary member (§4.2.2): key ["=" (bare-item / plain inner list)].
_G_INNER_PLAIN: Final = 8
_MEMBER_RE: Final = re.compile(rf"({_KEY})(?:(=)(?:{_BARE_FAST}|({_INNER_PLAIN}))?)?")

_MAX_INTEGER: Final = 999_999_999_999_999  # §3.3.1
_OWS: Final = " \t"

# Item and InnerList are frozen dataclasses; building one through its slot descriptors skips
# the frozen ``__setattr__`` guard of the generated ``__init__`` and is about 40% faster.
# The result is the same object ``Item(value, params)`` would give.
_new_object: Final = object.__new__
_set_item_value: Final = Item.__dict__["value"].__set__
_set_item_params: Final = Item.__dict__["params"].__set__
_set_inner_items: Final = InnerList.__dict__["items"].__set__
_set_inner_params: Final = InnerList.__dict__["params"].__set__


def _item(value: BareItem, params: Params) -> Item:
    item: Item = _new_object(Item)
    _set_item_value(item, value)
    _set_item_params(item, params)
    return item


def _inner_list(items: list[Item], params: Params) -> InnerList:
    inner: InnerList = _new_object(InnerList)
    _set_inner_items(inner, items)
    _set_inner_params(inner, params)
    return inner


def _at(s: str, i: int) -> str:
    """Describe what sits at offset ``i``: one character (never more of the field value)."""
    return "end of input" if i >= len(s) else repr(s[i])


def _fail(what: str, s: str, i: int) -> StructuredFieldError:
    return StructuredFieldError(f"{what} at offset {i}, found {_at(s, i)}")


def _check_text(text: object, max_length: int | None) -> str:
    """§4.2 step 1: the field value must be ASCII text (and within the caller's limit)."""
    if type(text) is not str:
        if not isinstance(text, str):
            raise StructuredFieldError(
                f"a structured field value must be str, not {type(text).__name__}"
            )
        text = str.__str__(text)
    if max_length is not None and len(text) > max_length:
        raise StructuredFieldError(
            f"field value is {len(text)} characters, over the limit of {max_length}"
        )
    if not text.isascii():
        bad = next(i for i, c in enumerate(text) if c > "\x7f")
        raise StructuredFieldError(f"non-ASCII character at offset {bad}")
    return text


# ---------------------------------------------------------------------------------------------
# Parsing (RFC 9651 §4.2). Each helper takes the text and an offset and returns the parsed
# value with the offset just past it. ``strict`` refuses repeated parameter keys.


def _fast_value(m: re.Match[str], kind: int | None) -> BareItem:
    """The bare item a ``_BARE_FAST`` alternative matched; ``kind`` is its group number."""
    if kind == _G_STRING:
        return m.group(_G_STRING)
    if kind == _G_TOKEN:
        return Token(m.group(_G_TOKEN))
    if kind == _G_INTEGER:
        return int(m.group(_G_INTEGER))
    if kind == _G_BOOLEAN:
        return m.group(_G_BOOLEAN) == "1"
    return _decode_base64(m.group(_G_BYTES), m.start(_G_BYTES) - 1)


def _decode_base64(content: str, offset: int) -> bytes:
    """§4.2.7 steps 5-6 for content already limited to the base64 alphabet and ``={0,2}``.

    Missing padding is synthesised (all of it, or the last ``=`` of two) and non-zero pad
    bits are tolerated, as §4.2.7 recommends (SHOULD NOT fail); binascii's non-strict decoder
    ignores pad bits. Content that no amount of added padding makes valid fails.
    """
    extra = len(content) % 4
    if extra:
        # 1 left over: never valid. 2: "xx" needs "=="; "x=" cannot be completed.
        # 3: "xxx" or "xx=" need one more "="; "x==" cannot be completed.
        if extra == 1 or content.endswith("=" if extra == 2 else "=="):
            raise StructuredFieldError(f"byte sequence at offset {offset} has a bad base64 length")
        content += "==" if extra == 2 else "="
    return binascii.a2b_base64(content)


def _parse_number(s: str, i: int) -> tuple[int | Decimal, int]:
    """§4.2.4 Parsing an Integer or Decimal; ``s[i]`` is ``-`` or a digit."""
    m = _NUMBER_RE.match(s, i)
    if m is None:  # a lone "-": §4.2.4 step 5/6
        raise _fail("expected a digit after '-'", s, i + 1)
    digits, fraction = m.group(1, 2)
    if fraction is None:
        if len(digits) > 15:  # §4.2.4 step 7.5
            raise StructuredFieldError(f"integer at offset {i} has more than 15 digits")
        return int(m.group()), m.end()
    if len(digits) > 12:  # §4.2.4 step 7.3.1
        raise StructuredFieldError(f"decimal at offset {i} has more than 12 integer digits")
    if len(fraction) == 1:  # §4.2.4 step 9.1
        raise _fail("decimal ends with '.'", s, m.end())
    if len(fraction) > 4:  # §4.2.4 step 9.2
        raise StructuredFieldError(f"decimal at offset {i} has more than 3 fractional digits")
    return Decimal(m.group()), m.end()


def _parse_string(s: str, i: int) -> tuple[str, int]:
    """§4.2.5 Parsing a String with escapes, or a malformed one; ``s[i]`` is DQUOTE.

    Runs of plain characters are taken whole; only escapes step one at a time.
    """
    out: list[str] = []
    j = i + 1
    n = len(s)
    q = i  # the next DQUOTE at or after j, searched again only once j has passed it
    while j < n:
        k = s.find("\\", j)
        if k < 0:
            k = n
        if q < j:
            q = s.find('"', j)
            if q < 0:
                q = n
        stop = min(k, q)
        chunk = s[j:stop]
        if _PRINTABLE_RE.fullmatch(chunk) is None:  # §4.2.5 step 3.5
            bad = j + next(x for x, c in enumerate(chunk) if not " " <= c <= "~")
            raise _fail("string holds a character outside %x20-7E", s, bad)
        out.append(chunk)
        if stop == n:
            break
        if stop == q:  # §4.2.5 step 3.4
            return "".join(out), q + 1
        if k + 1 >= n or s[k + 1] not in '"\\':  # §4.2.5 steps 3.2.1-3.2.3
            raise _fail("string has an invalid escape", s, k + 1)
        out.append(s[k + 1])
        j = k + 2
    raise _fail("string is not terminated", s, n)


def _byte_sequence_error(s: str, i: int) -> StructuredFieldError:
    """§4.2.7: why the byte sequence at ``s[i]`` (which the fast path refused) is malformed."""
    if s.find(":", i + 1) < 0:  # §4.2.7 step 2
        return _fail("byte sequence is not terminated", s, len(s))
    return StructuredFieldError(  # §4.2.7 step 5
        f"byte sequence at offset {i} holds a character outside base64 or misplaced '='"
    )


def _parse_display_string(s: str, i: int) -> tuple[DisplayString, int]:
    """§4.2.10 Parsing a Display String; ``s[i]`` is '%'."""
    m = _DISPLAY_PLAIN_RE.match(s, i)
    if m is not None:  # fast path: no %-escapes
        return DisplayString(m.group(1)), m.end()
    if not s.startswith('"', i + 1):  # §4.2.10 step 2
        raise _fail("expected '\"' after '%' of a display string", s, i + 1)
    # Runs of plain characters are taken whole; only %-escapes step one at a time. A %-escape
    # never holds a DQUOTE, so the first DQUOTE found stays the end of the string.
    out = bytearray()
    j = i + 2
    n = len(s)
    q = s.find('"', j)
    if q < 0:
        q = n
    while True:
        p = s.find("%", j, q)
        stop = q if p < 0 else p
        chunk = s[j:stop]
        if _PRINTABLE_RE.fullmatch(chunk) is None:  # §4.2.10 step 6.2
            bad = j + next(x for x, c in enumerate(chunk) if not " " <= c <= "~")
            raise _fail("display string holds a character outside %x20-7E", s, bad)
        out += chunk.encode("ascii")  # §4.2.10 step 6.5
        if stop == n:
            break
        if stop == q:  # §4.2.10 step 6.4
            try:
                return DisplayString(out.decode("utf-8")), q + 1
            except UnicodeDecodeError as exc:
                raise StructuredFieldError(
                    f"display string at offset {i} is not valid UTF-8 (decoded byte {exc.start})"
                ) from None
        hex_digits = s[p + 1 : p + 3]  # §4.2.10 step 6.3
        if len(hex_digits) != 2 or not _LC_HEX.issuperset(hex_digits):
            raise _fail("display string has an invalid %-escape", s, p)
        out.append(int(hex_digits, 16))
        j = p + 3
    raise _fail("display string is not terminated", s, n)


def _parse_bare_item_slow(s: str, i: int) -> tuple[BareItem, int]:
    """§4.2.3.1 for what the fast path does not take: escaped strings, decimals, long or
    malformed numbers, dates, display strings, and errors."""
    if i >= len(s):
        raise _fail("expected a bare item", s, i)
    c = s[i]
    if c == '"':
        return _parse_string(s, i)
    if "0" <= c <= "9" or c == "-":
        return _parse_number(s, i)
    if c == "@":  # §4.2.9
        if not ("0" <= s[i + 1 : i + 2] <= "9" or s.startswith("-", i + 1)):
            raise _fail("expected an integer after '@'", s, i + 1)
        value, j = _parse_number(s, i + 1)
        if type(value) is not int:  # §4.2.9 step 3
            raise StructuredFieldError(f"date at offset {i} is not an integer")
        return Date(value), j
    if c == "%":
        return _parse_display_string(s, i)
    if c == ":":
        raise _byte_sequence_error(s, i)
    if c == "?":  # §4.2.8 steps 3-4
        raise _fail("expected '0' or '1' after '?'", s, i + 1)
    raise _fail("expected a bare item", s, i)  # §4.2.3.1 step 9


def _parse_params(s: str, i: int, strict: bool) -> tuple[Params, int]:
    """§4.2.3.2 Parsing Parameters; a later duplicate overrides unless ``strict``."""
    params: Params = {}
    while s.startswith(";", i):
        m = _PARAM_RE.match(s, i)
        if m is None:
            j = i + 1
            while s.startswith(" ", j):
                j += 1
            raise _fail("expected a parameter key", s, j)
        key = m.group(_G_KEY)
        kind = m.lastindex
        value: BareItem
        if kind == _G_STRING:
            value, i = m.group(_G_STRING), m.end()
        elif kind == _G_INTEGER:
            value, i = int(m.group(_G_INTEGER)), m.end()
        elif kind == _G_KEY:  # no "=": Boolean true (§4.2.3.2 step 2.5)
            value, i = True, m.end()
        elif kind == _G_EQ:
            value, i = _parse_bare_item_slow(s, m.end())
        else:
            value, i = _fast_value(m, kind), m.end()
        if strict and key in params:
            raise StructuredFieldError(f"parameter {key!r} repeated at offset {m.start(1)}")
        params[key] = value
    return params, i


def _parse_item(s: str, i: int, strict: bool) -> tuple[Item, int]:
    """§4.2.3 Parsing an Item."""
    m = _BARE_FAST_RE.match(s, i)
    if m is not None:
        value, i = _fast_value(m, m.lastindex), m.end()
    else:
        value, i = _parse_bare_item_slow(s, i)
    if s.startswith(";", i):
        params, i = _parse_params(s, i, strict)
        return _item(value, params), i
    return _item(value, {}), i


def _plain_inner_items(text: str) -> list[Item]:
    """The items of an inner list ``_INNER_PLAIN`` matched: Strings without escapes. They
    hold no DQUOTE, so splitting on it leaves them at the odd places."""
    items: list[Item] = []
    for value in text.split('"')[1::2]:
        item: Item = _new_object(Item)
        _set_item_value(item, value)
        _set_item_params(item, {})
        items.append(item)
    return items


def _parse_inner_list(s: str, i: int, strict: bool) -> tuple[InnerList, int]:
    """§4.2.1.2 Parsing an Inner List; ``s[i]`` is '('."""
    m = _INNER_PLAIN_RE.match(s, i)
    if m is not None:  # fast path: Strings without escapes or parameters
        items = _plain_inner_items(m.group())
        i = m.end()
    else:
        i += 1
        n = len(s)
        items = []
        while True:
            while s.startswith(" ", i):
                i += 1
            if i >= n:
                raise _fail("inner list is not closed", s, n)
            if s[i] == ")":
                i += 1
                break
            item, i = _parse_item(s, i, strict)
            items.append(item)
            if i < n and s[i] != " " and s[i] != ")":  # §4.2.1.2 step 2.6
                raise _fail("expected ' ' or ')' after an inner list item", s, i)
    if s.startswith(";", i):
        params, i = _parse_params(s, i, strict)
        return _inner_list(items, params), i
    return _inner_list(items, {}), i


def _skip_separator(s: str, i: int, what: str) -> int:
    """§4.2.1 steps 2.3-2.7: OWS "," OWS between members; returns -1 at the end of input."""
    n = len(s)
    while i < n and s[i] in _OWS:
        i += 1
    if i >= n:
        return -1
    if s[i] != ",":
        raise _fail(f"expected ',' after a {what} member", s, i)
    i += 1
    while i < n and s[i] in _OWS:
        i += 1
    if i >= n:
        raise _fail(f"trailing ',' in a {what}", s, i)
    return i


def _skip_leading_sp(s: str) -> int:
    return len(s) - len(s.lstrip(" "))  # §4.2 step 2 (SP only, not HTAB)


def parse_item(
    text: str, *, allow_duplicate_params: bool = True, max_length: int | None = None
) -> Item:
    """Parse a field value as an Item (RFC 9651 §4.2, §4.2.3).

    :param allow_duplicate_params: ``False`` refuses a repeated parameter key instead of
        letting the later value win (RFC 9651 §4.2.3.2).
    :param max_length: refuse a field value longer than this many characters; ``None`` (the
        default) applies only the limits of RFC 9651 itself.
    :raises StructuredFieldError: the value is not a valid Item.
    """
    s = _check_text(text, max_length)
    item, i = _parse_item(s, _skip_leading_sp(s), not allow_duplicate_params)
    n = len(s)
    while i < n and s[i] == " ":  # §4.2 step 4
        i += 1
    if i < n:  # §4.2 step 5
        raise _fail("unexpected data after the item", s, i)
    return item


def parse_list(
    text: str, *, allow_duplicate_params: bool = True, max_length: int | None = None
) -> List:
    """Parse a field value as a List (RFC 9651 §4.2, §4.2.1); ``""`` gives ``[]``.

    Options as for :func:`parse_item`.

    :raises StructuredFieldError: the value is not a valid List.
    """
    s = _check_text(text, max_length)
    strict = not allow_duplicate_params
    members: List = []
    i = _skip_leading_sp(s)
    n = len(s)
    while i < n:
        if s[i] == "(":  # §4.2.1.1
            member: Member
            member, i = _parse_inner_list(s, i, strict)
        else:
            member, i = _parse_item(s, i, strict)
        members.append(member)
        i = _skip_separator(s, i, "list")
        if i < 0:
            break
    return members


def parse_dictionary(
    text: str,
    *,
    allow_duplicate_keys: bool = True,
    allow_duplicate_params: bool = True,
    max_length: int | None = None,
) -> Dictionary:
    """Parse a field value as a Dictionary (RFC 9651 §4.2, §4.2.2); ``""`` gives ``{}``.

    RFC 9651 §4.2.2 lets a later duplicate key override an earlier one (keeping the first
    position). Security-sensitive callers pass ``allow_duplicate_keys=False`` to refuse a
    dictionary with a repeated key instead. A member without ``=`` is ``Item(True, params)``.
    Other options as for :func:`parse_item`.

    :raises StructuredFieldError: the value is not a valid Dictionary.
    """
    s = _check_text(text, max_length)
    strict = not allow_duplicate_params
    members: Dictionary = {}
    i = _skip_leading_sp(s)
    n = len(s)
    while i < n:
        m = _MEMBER_RE.match(s, i)
        if m is None:
            raise _fail("expected a dictionary key", s, i)
        key = m.group(_G_KEY)
        kind = m.lastindex
        member: Member
        value: BareItem
        if kind == _G_INNER_PLAIN:
            items = _plain_inner_items(m.group(_G_INNER_PLAIN))
            i = m.end()
            if s.startswith(";", i):
                params, i = _parse_params(s, i, strict)
                member = _inner_list(items, params)
            else:
                member = _inner_list(items, {})
        elif kind == _G_EQ:  # "=" and then an inner list or what the fast path does not know
            i = m.end()
            if s.startswith("(", i):
                member, i = _parse_inner_list(s, i, strict)
            else:
                member, i = _parse_item(s, i, strict)
        else:
            # §4.2.2 step 2.4: a bare key is Boolean true with parameters
            value = True if kind == _G_KEY else _fast_value(m, kind)
            i = m.end()
            if s.startswith(";", i):
                params, i = _parse_params(s, i, strict)
                member = _item(value, params)
            else:
                member = _item(value, {})
        if not allow_duplicate_keys and key in members:
            raise StructuredFieldError(f"dictionary key {key!r} repeated at offset {m.start()}")
        members[key] = member
        i = _skip_separator(s, i, "dictionary")
        if i < 0:
            break
    return members


# ---------------------------------------------------------------------------------------------
# Serialising (RFC 9651 §4.1)

_DISPLAY_PLAIN_OUT_RE: Final = re.compile(r"[ !#$&-~]*")
# §4.1.11 step 4: each octet as itself or as lowercase %-hex.
_DISPLAY_OCTETS: Final = tuple(
    chr(b) if " " <= chr(b) <= "~" and chr(b) not in '%"' else f"%{b:02x}" for b in range(256)
)
_THOUSANDTH: Final = Decimal("0.001")
_DECIMAL_LIMIT: Final = Decimal(10**12)
# A private context: rounding must not depend on the caller's decimal.getcontext().
_DECIMAL_CONTEXT: Final = Context(prec=40, rounding=ROUND_HALF_EVEN)
# Keys already checked against §4.1.1.3; bounded, so odd keys cannot grow it without limit.
_VALID_KEYS: Final[set[str]] = set()
_VALID_KEYS_MAX: Final = 512


def _serialize_key(key: object) -> str:
    """§4.1.1.3 Serializing a Key."""
    if key in _VALID_KEYS:
        return key  # narrowed to str: only exact str keys are ever added
    if type(key) is not str:
        if not isinstance(key, str):
            raise StructuredFieldError(f"a key must be str, not {type(key).__name__}")
        key = str.__str__(key)
    if _KEY_RE.fullmatch(key) is None:
        raise StructuredFieldError(f"{key!r} is not a valid key (lcalpha or '*' first)")
    if len(_VALID_KEYS) < _VALID_KEYS_MAX:
        _VALID_KEYS.add(key)
    return key


def _serialize_integer(value: int) -> str:
    """§4.1.4 Serializing an Integer (also the body of a Date, §4.1.10)."""
    if not -_MAX_INTEGER <= value <= _MAX_INTEGER:
        raise StructuredFieldError(f"integer {value} is outside ±999,999,999,999,999")
    return int.__repr__(value)


def _serialize_date(value: int) -> str:
    """§4.1.10 Serializing a Date."""
    return "@" + _serialize_integer(value)


def _serialize_boolean(value: bool) -> str:
    """§4.1.9 Serializing a Boolean."""
    return "?1" if value else "?0"


def _serialize_decimal(value: Decimal) -> str:
    """§4.1.5 Serializing a Decimal: round half-even to 3 places, at least one place."""
    if not value.is_finite():
        raise StructuredFieldError(f"decimal {value} is not a finite number")
    if not value.is_zero() and value.adjusted() >= 12:  # cheap early §4.1.5 step 3
        raise StructuredFieldError("decimal has more than 12 integer digits")
    rounded = value.quantize(_THOUSANDTH, context=_DECIMAL_CONTEXT)  # §4.1.5 step 2
    magnitude = rounded.copy_abs()  # copy_abs, unlike abs(), ignores the caller's context
    if magnitude >= _DECIMAL_LIMIT:  # rounding carried into a 13th digit (§4.1.5 step 3)
        raise StructuredFieldError("decimal has more than 12 integer digits after rounding")
    whole, _, fraction = format(magnitude, "f").partition(".")
    sign = "-" if rounded < 0 else ""  # §4.1.5 step 5: -0.000 is written without "-"
    return f"{sign}{whole}.{fraction.rstrip('0') or '0'}"  # §4.1.5 steps 6-9


def _serialize_string(value: str) -> str:
    """§4.1.6 Serializing a String."""
    if _STRING_PLAIN_OUT_RE.fullmatch(value) is not None:
        return f'"{value}"'
    if _PRINTABLE_RE.fullmatch(value) is None:  # §4.1.6 step 2
        bad = next(i for i, c in enumerate(value) if not " " <= c <= "~")
        raise StructuredFieldError(
            f"string holds a character outside %x20-7E at offset {bad}, which RFC 9651 "
            "Strings cannot carry (use a DisplayString)"
        )
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'  # §4.1.6 step 4


def _serialize_token(value: str) -> str:
    """§4.1.7 Serializing a Token."""
    if _TOKEN_RE.fullmatch(value) is None:
        raise StructuredFieldError("token does not match the RFC 9651 token grammar")
    return str.__str__(value)


def _serialize_byte_sequence(value: bytes | bytearray) -> str:
    """§4.1.8 Serializing a Byte Sequence (base64 with padding)."""
    return ":" + binascii.b2a_base64(value, newline=False).decode("ascii") + ":"


def _serialize_display_string(value: str) -> str:
    """§4.1.11 Serializing a Display String."""
    if _DISPLAY_PLAIN_OUT_RE.fullmatch(value) is not None:
        return f'%"{value}"'
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StructuredFieldError(
            f"display string holds an unpaired surrogate at offset {exc.start}"
        ) from None
    return '%"' + "".join([_DISPLAY_OCTETS[b] for b in raw]) + '"'


# Exact type -> serialiser. bool and Date are their own types here, never taken as int.
_BARE_SERIALIZERS: Final[dict[type, Callable[[Any], str]]] = {
    str: _serialize_string,
    Token: _serialize_token,
    int: _serialize_integer,
    bool: _serialize_boolean,
    bytes: _serialize_byte_sequence,
    Decimal: _serialize_decimal,
    Date: _serialize_date,
    DisplayString: _serialize_display_string,
}


def serialize_bare_item(value: BareItem) -> str:
    """Serialise one bare item (RFC 9651 §4.1.3.1).

    ``bool`` is a Boolean (never an Integer); :class:`Date`, :class:`Token` and
    :class:`DisplayString` are told apart from ``int`` and ``str`` by type.

    :raises StructuredFieldError: the value is out of range, not representable, or of a
        Python type outside the data model (``float`` included: use ``Decimal``).
    """
    serializer = _BARE_SERIALIZERS.get(type(value))
    if serializer is not None:
        return serializer(value)
    # Subclasses of the model types, most specific first (Date before int; Token and
    # DisplayString before str). bool cannot be subclassed.
    for base in (Date, Token, DisplayString, int, str, bytes, Decimal):
        if isinstance(value, base):
            return _BARE_SERIALIZERS[base](value)
    if isinstance(value, bytearray):
        return _serialize_byte_sequence(value)
    raise StructuredFieldError(f"{type(value).__name__} is not an RFC 9651 bare item type")


def serialize_params(params: Params) -> str:
    """Serialise parameters (RFC 9651 §4.1.1.2), including the leading ``;``.

    A parameter whose value is ``True`` is written as the bare key.
    """
    if not isinstance(params, dict):
        raise StructuredFieldError(f"parameters must be a dict, not {type(params).__name__}")
    parts: list[str] = []
    for key, value in params.items():
        name = key if key in _VALID_KEYS else _serialize_key(key)
        if value is True:  # §4.1.1.2 step 1.3
            parts.append(f";{name}")
        else:
            serializer = _BARE_SERIALIZERS.get(type(value))
            text = serializer(value) if serializer is not None else serialize_bare_item(value)
            parts.append(f";{name}={text}")
    return "".join(parts)


def _serialize_item(item: Item) -> str:
    """§4.1.3 Serializing an Item, for a value known to be an :class:`Item`."""
    value = item.value
    serializer = _BARE_SERIALIZERS.get(type(value))
    text = serializer(value) if serializer is not None else serialize_bare_item(value)
    params = item.params
    if params or type(params) is not dict:
        return text + serialize_params(params)
    return text


def serialize_item(item: Item | BareItem) -> str:
    """Serialise an Item (RFC 9651 §4.1.3); a bare value is taken as an Item without params."""
    if isinstance(item, Item):
        return _serialize_item(item)
    if isinstance(item, InnerList):
        raise StructuredFieldError("an InnerList is not an Item: use serialize_inner_list")
    return serialize_bare_item(item)


def serialize_inner_list(inner: InnerList) -> str:
    """Serialise an Inner List (RFC 9651 §4.1.1.1)."""
    if not isinstance(inner, InnerList):
        raise StructuredFieldError(f"expected an InnerList, not {type(inner).__name__}")
    parts: list[str] = []
    for item in inner.items:
        if not isinstance(item, Item):
            raise StructuredFieldError(
                f"inner list members must be Item, not {type(item).__name__}"
            )
        parts.append(_serialize_item(item))
    params = inner.params
    if params or type(params) is not dict:
        return "(" + " ".join(parts) + ")" + serialize_params(params)
    return "(" + " ".join(parts) + ")"


def _serialize_member(member: Member) -> str:
    """§4.1.1 step 1.1-1.2: an Item or an Inner List."""
    if isinstance(member, Item):
        return _serialize_item(member)
    if isinstance(member, InnerList):
        return serialize_inner_list(member)
    raise StructuredFieldError(
        f"a list or dictionary member must be Item or InnerList, not {type(member).__name__}"
    )


def serialize_list(members: List) -> str:
    """Serialise a List (RFC 9651 §4.1.1). An empty list gives ``""``: omit the field."""
    if not isinstance(members, list):
        raise StructuredFieldError(f"a List must be a list, not {type(members).__name__}")
    return ", ".join([_serialize_member(m) for m in members])


def serialize_dictionary(members: Dictionary) -> str:
    """Serialise a Dictionary (RFC 9651 §4.1.2). A member whose value is ``Item(True)``
    is written as the bare key, with its parameters. An empty dictionary gives ``""``:
    omit the field."""
    if not isinstance(members, dict):
        raise StructuredFieldError(f"a Dictionary must be a dict, not {type(members).__name__}")
    parts: list[str] = []
    for key, member in members.items():
        if isinstance(member, Item) and member.value is True:  # §4.1.2 step 1.2
            parts.append(_serialize_key(key) + serialize_params(member.params))
        else:
            parts.append(_serialize_key(key) + "=" + _serialize_member(member))
    return ", ".join(parts)
