"""Property tests for aauth.sfv (RFC 9651): robustness and round trips, with Hypothesis."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aauth.errors import StructuredFieldError
from aauth.sfv import (
    BareItem,
    Date,
    Dictionary,
    DisplayString,
    InnerList,
    Item,
    List,
    Member,
    Params,
    Token,
    parse_dictionary,
    parse_item,
    parse_list,
    serialize_dictionary,
    serialize_item,
    serialize_list,
)
from tests.test_sfv_suite import PARSE_CASES, _model_from_json, tagged

SETTINGS = settings(max_examples=400, deadline=None)
ROUND_TRIP = settings(max_examples=300, deadline=None)  # nested structures cost more

# --- valid structures -----------------------------------------------------------------------

MAX_INT = 999_999_999_999_999
LCALPHA = "abcdefghijklmnopqrstuvwxyz"
ALPHA = LCALPHA + LCALPHA.upper()
DIGITS = "0123456789"
B64 = ALPHA[26:] + ALPHA[:26] + DIGITS + "+/"  # RFC 4648 Table 1 order: A-Z, a-z, 0-9, +, /


def _word(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    """A grammar word: one character of ``first``, then up to ``max_size`` of ``rest``."""
    return st.builds(
        str.__add__, st.sampled_from(first), st.text(st.sampled_from(rest), max_size=max_size)
    )


keys = _word(LCALPHA + "*", LCALPHA + DIGITS + "_-.*", 6)  # RFC 9651 §3.1.2
tokens = _word(ALPHA + "*", ALPHA + DIGITS + "!#$%&'*+-.^_`|~:/", 10).map(Token)  # §3.3.4
printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
strings = st.text(printable, max_size=16)
integers = st.integers(-MAX_INT, MAX_INT)
# Decimals with at most 12 integer and 3 fractional digits serialise without rounding.
decimals = st.integers(-MAX_INT, MAX_INT).map(lambda k: Decimal(k).scaleb(-3))
display_strings = st.text(st.characters(codec="utf-8"), max_size=10).map(DisplayString)
bare_items: st.SearchStrategy[BareItem] = st.one_of(
    integers,
    decimals,
    strings,
    tokens,
    st.binary(max_size=20),
    st.booleans(),
    integers.map(Date),
    display_strings,
)
params: st.SearchStrategy[Params] = st.dictionaries(keys, bare_items, max_size=2)
items: st.SearchStrategy[Item] = st.builds(Item, bare_items, params)
inner_lists: st.SearchStrategy[InnerList] = st.builds(
    InnerList, st.lists(items, max_size=3), params
)
members: st.SearchStrategy[Member] = st.one_of(items, inner_lists)
lists: st.SearchStrategy[List] = st.lists(members, max_size=3)
dictionaries: st.SearchStrategy[Dictionary] = st.dictionaries(keys, members, max_size=3)

PARSERS: dict[str, Callable[[str], Any]] = {
    "item": parse_item,
    "list": parse_list,
    "dictionary": parse_dictionary,
}
SERIALISERS: dict[str, Callable[[Any], str]] = {
    "item": serialize_item,
    "list": serialize_list,
    "dictionary": serialize_dictionary,
}

# --- arbitrary and near-valid text ----------------------------------------------------------

# Every character the grammar cares about, plus controls and non-ASCII.
GRAMMAR_CHARS = ' \t,;=()"\\:?@%*-._/!#~abczAZ0159+=\x00\x1f\x7f\u00e9\u2028'
grammar_text = st.text(st.sampled_from(GRAMMAR_CHARS), max_size=40)
any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # surrogates too


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """A valid serialisation, as is or with one random edit: an insert, a deletion or a swap."""
    kind = draw(st.sampled_from(sorted(SERIALISERS)))
    value = draw({"item": items, "list": lists, "dictionary": dictionaries}[kind])
    text = SERIALISERS[kind](value)
    pos = draw(st.integers(0, len(text)))
    edit = draw(st.sampled_from(["none", "insert", "delete", "replace"]))
    if edit == "none":
        return text
    char = draw(st.sampled_from(GRAMMAR_CHARS))
    if edit == "insert":
        return text[:pos] + char + text[pos:]
    if edit == "delete":
        return text[:pos] + text[pos + 1 :]
    return text[:pos] + char + text[pos + 1 :]


inputs = st.one_of(any_text, grammar_text, near_valid())


def _parse_or_none(kind: str, text: str) -> Any:
    """Parse; ``None`` when refused. Anything but StructuredFieldError propagates."""
    try:
        return PARSERS[kind](text)
    except StructuredFieldError as exc:
        assert exc.code == "invalid_request"
        assert exc.message
        return None


# --- properties -----------------------------------------------------------------------------


@SETTINGS
@given(text=inputs, kind=st.sampled_from(sorted(PARSERS)))
def test_parsers_return_or_raise_structured_field_error(text: str, kind: str) -> None:
    result = _parse_or_none(kind, text)
    if result is not None:
        expected_type = {"item": Item, "list": list, "dictionary": dict}[kind]
        assert isinstance(result, expected_type)


@SETTINGS
@given(text=inputs)
def test_strict_options_return_or_raise_structured_field_error(text: str) -> None:
    try:
        result = parse_dictionary(
            text, allow_duplicate_keys=False, allow_duplicate_params=False, max_length=30
        )
    except StructuredFieldError:
        return
    assert isinstance(result, dict)
    assert len(text) <= 30


@SETTINGS
@given(item=items)
def test_item_round_trip(item: Item) -> None:
    assert tagged(parse_item(serialize_item(item))) == tagged(item)


@ROUND_TRIP
@given(value=lists)
def test_list_round_trip(value: List) -> None:
    assert tagged(parse_list(serialize_list(value))) == tagged(value)


@ROUND_TRIP
@given(value=dictionaries)
def test_dictionary_round_trip(value: Dictionary) -> None:
    text = serialize_dictionary(value)
    parsed = parse_dictionary(text, allow_duplicate_keys=False, allow_duplicate_params=False)
    assert tagged(parsed) == tagged(value)


@SETTINGS
@given(value=bare_items)
def test_types_survive_a_round_trip(value: BareItem) -> None:
    parsed = parse_item(serialize_item(value)).value
    assert type(parsed) is type(value)
    assert parsed == value


@SETTINGS
@given(text=inputs, kind=st.sampled_from(sorted(PARSERS)))
def test_reserialising_a_parse_is_stable(text: str, kind: str) -> None:
    first = _parse_or_none(kind, text)
    if first is None:
        return
    canonical = SERIALISERS[kind](first)
    again = PARSERS[kind](canonical)
    assert tagged(again) == tagged(first)
    assert SERIALISERS[kind](again) == canonical


# --- a literal transcription of RFC 9651 §4.2, one character at a time ----------------------
# Slow and simple on purpose: the parser under test takes regex fast paths, and this checks
# that they accept and refuse exactly what the RFC's own algorithm does.


class _RefError(Exception):
    pass


class _Ref:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self) -> str:
        c = self.peek()
        if not c:
            raise _RefError("end of input")
        self.i += 1
        return c

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.i += 1

    def top(self, kind: str) -> Any:  # §4.2
        if not self.s.isascii():
            raise _RefError("not ASCII")
        self.skip(" ")
        value = {"item": self.item, "list": self.list_, "dictionary": self.dictionary}[kind]()
        self.skip(" ")
        if self.peek():
            raise _RefError("trailing data")
        return value

    def list_(self) -> List:  # §4.2.1
        members: List = []
        while self.peek():
            members.append(self.item_or_inner_list())
            self.skip(" \t")
            if not self.peek():
                return members
            if self.take() != ",":
                raise _RefError("no comma")
            self.skip(" \t")
            if not self.peek():
                raise _RefError("trailing comma")
        return members

    def item_or_inner_list(self) -> Member:  # §4.2.1.1
        return self.inner_list() if self.peek() == "(" else self.item()

    def inner_list(self) -> InnerList:  # §4.2.1.2
        self.take()
        items: list[Item] = []
        while self.peek():
            self.skip(" ")
            if self.peek() == ")":
                self.take()
                return InnerList(items, self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise _RefError("bad inner list separator")
        raise _RefError("inner list not closed")

    def dictionary(self) -> Dictionary:  # §4.2.2
        members: Dictionary = {}
        while self.peek():
            key = self.key()
            if self.peek() == "=":
                self.take()
                members[key] = self.item_or_inner_list()
            else:
                members[key] = Item(True, self.params())
            self.skip(" \t")
            if not self.peek():
                return members
            if self.take() != ",":
                raise _RefError("no comma")
            self.skip(" \t")
            if not self.peek():
                raise _RefError("trailing comma")
        return members

    def item(self) -> Item:  # §4.2.3
        value = self.bare_item()
        return Item(value, self.params())

    def bare_item(self) -> BareItem:  # §4.2.3.1
        c = self.peek()
        if c == "-" or c.isdigit():
            return self.number()
        if c == '"':
            return self.string()
        if c == "*" or c.isalpha():
            return self.token()
        if c == ":":
            return self.byte_sequence()
        if c == "?":
            self.take()
            b = self.take()
            if b not in "01":
                raise _RefError("bad boolean")
            return b == "1"
        if c == "@":
            self.take()
            n = self.number()
            if isinstance(n, Decimal):
                raise _RefError("decimal date")
            return Date(n)
        if c == "%":
            return self.display_string()
        raise _RefError("no bare item")

    def params(self) -> Params:  # §4.2.3.2
        params: Params = {}
        while self.peek() == ";":
            self.take()
            self.skip(" ")
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.take()
                value = self.bare_item()
            params[key] = value
        return params

    def key(self) -> str:  # §4.2.3.3
        c = self.peek()
        if not c or c not in LCALPHA + "*":
            raise _RefError("bad key")
        out = ""
        while self.peek() and self.peek() in LCALPHA + DIGITS + "_-.*":
            out += self.take()
        return out

    def number(self) -> int | Decimal:  # §4.2.4
        is_decimal, sign, digits = False, 1, ""
        if self.peek() == "-":
            self.take()
            sign = -1
        if not self.peek() or not self.peek().isdigit():
            raise _RefError("no digit")
        while self.peek():
            c = self.take()
            if c.isdigit():
                digits += c
            elif not is_decimal and c == ".":
                if len(digits) > 12:
                    raise _RefError("too many integer digits")
                digits += c
                is_decimal = True
            else:
                self.i -= 1
                break
            if not is_decimal and len(digits) > 15:
                raise _RefError("integer too long")
            if is_decimal and len(digits) > 16:
                raise _RefError("decimal too long")
        if not is_decimal:
            return int(digits) * sign
        if digits.endswith(".") or len(digits.split(".")[1]) > 3:
            raise _RefError("bad fraction")
        return Decimal(digits) * sign

    def string(self) -> str:  # §4.2.5
        self.take()
        out = ""
        while self.peek():
            c = self.take()
            if c == "\\":
                nxt = self.take()
                if nxt not in '"\\':
                    raise _RefError("bad escape")
                out += nxt
            elif c == '"':
                return out
            elif not " " <= c <= "~":
                raise _RefError("bad string char")
            else:
                out += c
        raise _RefError("string not closed")

    def token(self) -> Token:  # §4.2.6
        out = ""
        while self.peek() and self.peek() in ALPHA + DIGITS + "!#$%&'*+-.^_`|~:/":
            out += self.take()
        return Token(out)

    def byte_sequence(self) -> bytes:  # §4.2.7
        self.take()
        end = self.s.find(":", self.i)
        if end < 0:
            raise _RefError("no end")
        content = self.s[self.i : end]
        self.i = end + 1
        if any(c not in B64 + "=" for c in content):
            raise _RefError("bad base64 char")
        # RFC 4648 §4, after synthesising padding: whole quanta; "=" only as "xx==" or
        # "xxx=" in the last one. Pad bits are ignored (RFC 9651 §4.2.7: SHOULD NOT fail).
        padded = content + "=" * (-len(content) % 4)
        out = bytearray()
        for q in range(0, len(padded), 4):
            quantum = padded[q : q + 4]
            data = quantum.rstrip("=")
            if "=" in data or len(data) < 2 or (len(data) < 4 and q + 4 != len(padded)):
                raise _RefError("bad base64")
            bits = "".join(f"{B64.index(c):06b}" for c in data)
            size = len(data) - 1  # 2, 3 or 4 characters carry 1, 2 or 3 octets
            out += int(bits[: 8 * size], 2).to_bytes(size, "big")
        return bytes(out)

    def display_string(self) -> DisplayString:  # §4.2.10
        self.take()
        if self.take() != '"':
            raise _RefError("no quote")
        out = b""
        while self.peek():
            c = self.take()
            if not " " <= c <= "~":
                raise _RefError("bad char")
            if c == "%":
                hex_digits = self.s[self.i : self.i + 2]
                self.i += 2
                if len(hex_digits) < 2 or any(h not in "0123456789abcdef" for h in hex_digits):
                    raise _RefError("bad escape")
                out += bytes.fromhex(hex_digits)
            elif c == '"':
                try:
                    return DisplayString(out.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise _RefError("bad utf-8") from exc
            else:
                out += c.encode("ascii")
        raise _RefError("not closed")


def _reference(kind: str, text: str) -> Any:
    try:
        return _Ref(text).top(kind)
    except _RefError:
        return None


@settings(max_examples=500, deadline=None)
@given(text=inputs, kind=st.sampled_from(sorted(PARSERS)))
def test_parsers_agree_with_the_rfc_algorithm(text: str, kind: str) -> None:
    ours = _parse_or_none(kind, text)
    reference = _reference(kind, text)
    assert (ours is None) == (reference is None), (ours, reference)
    if ours is not None:
        assert tagged(ours) == tagged(reference)


def test_reference_transcription_passes_the_official_suite() -> None:
    """The reference is only worth comparing against if it is right: check it on the suite."""
    agree = 0
    for _, case in PARSE_CASES:
        text = ", ".join(case["raw"])
        result = _reference(case["header_type"], text)
        if case.get("must_fail"):
            assert result is None, text
        elif result is not None or not case.get("can_fail"):
            assert result is not None, text
            assert tagged(result) == tagged(
                _model_from_json(case["header_type"], case["expected"])
            ), text
        agree += 1
    assert agree == len(PARSE_CASES)


def test_byte_sequence_padding_agrees_with_the_rfc_algorithm() -> None:
    """Every base64 content of up to 7 characters over a small alphabet, padding included."""
    alphabet = "AQ/="
    checked = accepted = 0
    contents = [""]
    for _ in range(7):
        contents = [c + a for c in contents for a in alphabet]
        for content in contents:
            text = f":{content}:"
            ours = _parse_or_none("item", text)
            reference = _reference("item", text)
            assert (ours is None) == (reference is None), text
            if ours is not None:
                assert ours.value == reference.value, text
                accepted += 1
            checked += 1
    assert checked == sum(4**n for n in range(1, 8))
    assert 0 < accepted < checked
