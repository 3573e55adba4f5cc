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
from tests.test_sfv_suite import tagged

SETTINGS = settings(max_examples=400, deadline=None)

# --- valid structures -----------------------------------------------------------------------

MAX_INT = 999_999_999_999_999
LCALPHA = "abcdefghijklmnopqrstuvwxyz"
ALPHA = LCALPHA + LCALPHA.upper()
DIGITS = "0123456789"


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
    """A valid serialisation with one random edit: an insert, a deletion or a swap."""
    kind = draw(st.sampled_from(sorted(SERIALISERS)))
    value = draw({"item": items, "list": lists, "dictionary": dictionaries}[kind])
    text = SERIALISERS[kind](value)
    pos = draw(st.integers(0, len(text)))
    edit = draw(st.sampled_from(["insert", "delete", "replace"]))
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


@SETTINGS
@given(value=lists)
def test_list_round_trip(value: List) -> None:
    assert tagged(parse_list(serialize_list(value))) == tagged(value)


@SETTINGS
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
