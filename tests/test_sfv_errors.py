"""Malformed input and unrepresentable values: the exact error, its code, and its message."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from aauth.errors import RemoteError, StructuredFieldError
from aauth.sfv import (
    Date,
    DisplayString,
    InnerList,
    Item,
    Token,
    parse_dictionary,
    parse_item,
    parse_list,
    serialize_bare_item,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
    serialize_list,
    serialize_params,
)

PARSERS: dict[str, Callable[[str], Any]] = {
    "item": parse_item,
    "list": parse_list,
    "dictionary": parse_dictionary,
}

# (parser, field value, regex the message must match). Offsets count from 0 in the value.
PARSE_ERRORS: list[tuple[str, str, str]] = [
    # §4.2 top level
    ("item", "", r"expected a bare item at offset 0, found end of input"),
    ("item", "1 2", r"unexpected data after the item at offset 2, found '2'"),
    ("item", "1\t", r"unexpected data after the item at offset 1"),
    ("item", "f\u00fc", r"non-ASCII character at offset 1"),
    ("list", "a, \u2028", r"non-ASCII character at offset 3"),
    ("item", "!", r"expected a bare item at offset 0, found '!'"),
    # §4.2.4 numbers
    ("item", "-", r"expected a digit after '-' at offset 1, found end of input"),
    ("item", "-a", r"expected a digit after '-' at offset 1, found 'a'"),
    ("item", "1234567890123456", r"integer at offset 0 has more than 15 digits"),
    ("item", "-1234567890123456", r"integer at offset 0 has more than 15 digits"),
    ("item", "1234567890123.1", r"decimal at offset 0 has more than 12 integer digits"),
    ("item", "1.", r"decimal ends with '\.' at offset 2"),
    ("item", "1.1234", r"decimal at offset 0 has more than 3 fractional digits"),
    # §4.2.5 strings
    ("item", '"abc', r"string is not terminated at offset 4"),
    ("item", '"a\\"', r"string is not terminated at offset 4"),
    ("item", '"a\\x"', r"string has an invalid escape at offset 3, found 'x'"),
    ("item", '"a\\', r"string has an invalid escape at offset 3, found end of input"),
    ("item", '"a\x01b"', r"string holds a character outside %x20-7E at offset 2"),
    ("item", '"a\\"b\x7f"', r"string holds a character outside %x20-7E at offset 5"),
    # §4.2.7 byte sequences
    ("item", ":abc", r"byte sequence is not terminated at offset 4"),
    ("item", ":a!b:", r"byte sequence at offset 0 holds a character outside base64"),
    ("item", ":a=b=:", r"byte sequence at offset 0 holds a character outside base64"),
    ("item", ":_-Ah:", r"byte sequence at offset 0 holds a character outside base64"),
    ("item", ":a:", r"byte sequence at offset 0 has a bad base64 length"),
    ("item", ":a=:", r"byte sequence at offset 0 has a bad base64 length"),
    ("item", ":a==:", r"byte sequence at offset 0 has a bad base64 length"),
    ("item", ":abcde=:", r"byte sequence at offset 0 has a bad base64 length"),
    ("item", ":abcde==:", r"byte sequence at offset 0 has a bad base64 length"),
    # §4.2.8 booleans
    ("item", "?", r"expected '0' or '1' after '\?' at offset 1, found end of input"),
    ("item", "?2", r"expected '0' or '1' after '\?' at offset 1, found '2'"),
    # §4.2.9 dates
    ("item", "@", r"expected an integer after '@' at offset 1, found end of input"),
    ("item", "@x", r"expected an integer after '@' at offset 1, found 'x'"),
    ("item", "@1.5", r"date at offset 0 is not an integer"),
    ("item", "@-", r"expected a digit after '-' at offset 2"),
    ("item", "@1000000000000000", r"integer at offset 1 has more than 15 digits"),
    # §4.2.10 display strings
    ("item", "%", r"expected '\"' after '%' of a display string at offset 1"),
    ("item", "%x", r"expected '\"' after '%' of a display string at offset 1, found 'x'"),
    ("item", '%"a', r"display string is not terminated at offset 3"),
    ("item", '%"a%20', r"display string is not terminated at offset 6"),
    ("item", '%"%zz"', r"display string has an invalid %-escape at offset 2"),
    ("item", '%"%C3%BC"', r"display string has an invalid %-escape at offset 2"),
    ("item", '%"%4', r"display string has an invalid %-escape at offset 2"),
    ("item", '%"%c3"', r"display string at offset 0 is not valid UTF-8"),
    ("item", '%"%20\x01"', r"display string holds a character outside %x20-7E at offset 5"),
    # §4.2.3.2 parameters
    ("item", "1;", r"expected a parameter key at offset 2, found end of input"),
    ("item", "1;A", r"expected a parameter key at offset 2, found 'A'"),
    ("item", "1;  ", r"expected a parameter key at offset 4"),
    ("item", "1;a=", r"expected a bare item at offset 4, found end of input"),
    ("item", "1;a=!", r"expected a bare item at offset 4, found '!'"),
    ("item", "1 ;a", r"unexpected data after the item at offset 2, found ';'"),
    # §4.2.1 lists and §4.2.1.2 inner lists
    ("list", "1,", r"trailing ',' in a list at offset 2"),
    ("list", "1, \t", r"trailing ',' in a list at offset 4"),
    ("list", "1,,2", r"expected a bare item at offset 2, found ','"),
    ("list", "1 2", r"expected ',' after a list member at offset 2, found '2'"),
    ("list", "(1", r"inner list is not closed at offset 2"),
    ("list", "( ", r"inner list is not closed at offset 2"),
    ("list", '("a" "b"', r"inner list is not closed at offset 8"),
    ("list", "(1,2)", r"expected ' ' or '\)' after an inner list item at offset 2, found ','"),
    ("list", '("a""b")', r"expected ' ' or '\)' after an inner list item at offset 4"),
    ("list", "((1))", r"expected a bare item at offset 1, found '\('"),
    ("list", "(1);", r"expected a parameter key at offset 4"),
    # §4.2.2 dictionaries
    ("dictionary", "A=1", r"expected a dictionary key at offset 0, found 'A'"),
    ("dictionary", "a=1, 1b=2", r"expected a dictionary key at offset 5, found '1'"),
    ("dictionary", "a=1 b", r"expected ',' after a dictionary member at offset 4, found 'b'"),
    ("dictionary", "a =1", r"expected ',' after a dictionary member at offset 2, found '='"),
    ("dictionary", "a=", r"expected a bare item at offset 2, found end of input"),
    ("dictionary", "a=1,", r"trailing ',' in a dictionary at offset 4"),
    ("dictionary", "a=(1", r"inner list is not closed at offset 4"),
    ("dictionary", "a;b=?x", r"expected '0' or '1' after '\?' at offset 5, found 'x'"),
    ("dictionary", "a=?1;b=:a:", r"byte sequence at offset 7 has a bad base64 length"),
]


@pytest.mark.parametrize(
    ("kind", "text", "message"), PARSE_ERRORS, ids=[f"{k}:{t!r}" for k, t, _ in PARSE_ERRORS]
)
def test_parse_error(kind: str, text: str, message: str) -> None:
    with pytest.raises(StructuredFieldError) as info:
        PARSERS[kind](text)
    assert type(info.value) is StructuredFieldError
    assert isinstance(info.value, RemoteError)
    assert info.value.code == "invalid_request"
    assert info.value.retryable is False
    assert re.search(message, info.value.message), info.value.message


def test_messages_never_echo_the_field_value() -> None:
    secret = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
    for text in (f'jwt="{secret}\x01"', f"jwt={secret}\\", f'jwt="{secret}', f"(:{secret}:"):
        for parser in PARSERS.values():
            with pytest.raises(StructuredFieldError) as info:
                parser(text)
            assert secret not in str(info.value)
            assert secret[:10] not in info.value.message


def test_duplicate_dictionary_keys_override_by_default() -> None:
    parsed = parse_dictionary("a=1, b=2, a=3")
    assert list(parsed) == ["a", "b"]  # the first position is kept (§4.2.2)
    assert parsed["a"] == Item(3)


def test_duplicate_dictionary_keys_refused_on_request() -> None:
    with pytest.raises(StructuredFieldError, match=r"dictionary key 'a' repeated at offset 10"):
        parse_dictionary("a=1, b=2, a=3", allow_duplicate_keys=False)
    with pytest.raises(StructuredFieldError, match=r"dictionary key 'sig' repeated"):
        parse_dictionary("sig=:AAAA:, sig", allow_duplicate_keys=False)
    assert parse_dictionary("a=1, b=2", allow_duplicate_keys=False) == {
        "a": Item(1),
        "b": Item(2),
    }


def test_duplicate_params_override_by_default() -> None:
    assert parse_item("a;b=1;c=2;b=3") == Item(Token("a"), {"b": 3, "c": 2})
    assert list(parse_item("a;b=1;c=2;b=3").params) == ["b", "c"]


@pytest.mark.parametrize(
    ("kind", "text", "offset"),
    [
        ("item", "a;b=1;b=2", 6),
        ("item", "a;b;b", 4),
        ("list", "(1 2;x;x)", 7),
        ("list", "(1);x=1; x", 9),
        ("dictionary", 'k;p="1";p="2"', 8),
        ("dictionary", "k=1;p=1.5;p=?0", 10),
    ],
)
def test_duplicate_params_refused_on_request(kind: str, text: str, offset: int) -> None:
    PARSERS[kind](text)  # accepted by default
    with pytest.raises(StructuredFieldError, match=rf"parameter '\w' repeated at offset {offset}"):
        PARSERS[kind](text, allow_duplicate_params=False)  # type: ignore[call-arg]


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_max_length(kind: str) -> None:
    text = "a" * 64
    assert PARSERS[kind](text, max_length=64)  # type: ignore[call-arg]
    with pytest.raises(StructuredFieldError, match=r"64 characters, over the limit of 63"):
        PARSERS[kind](text, max_length=63)  # type: ignore[call-arg]


@pytest.mark.parametrize("value", [b"a=1", None, 1, ["a"]])
@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_non_str_input_is_refused(kind: str, value: object) -> None:
    with pytest.raises(StructuredFieldError, match=r"must be str, not"):
        PARSERS[kind](value)  # type: ignore[arg-type]


def test_str_subclass_input_is_accepted() -> None:
    class Header(str):
        pass

    parsed = parse_dictionary(Header("a=1"))
    assert parsed == {"a": Item(1)}


# --- serialisation --------------------------------------------------------------------------

SERIALISE_ERRORS: list[tuple[Callable[[Any], str], object, str]] = [
    # §4.1.4 integers
    (serialize_bare_item, 1_000_000_000_000_000, r"integer 1000000000000000 is outside"),
    (serialize_bare_item, -1_000_000_000_000_000, r"is outside"),
    (serialize_bare_item, Date(10**15), r"is outside"),
    # §4.1.5 decimals
    (serialize_bare_item, Decimal("1000000000000"), r"more than 12 integer digits"),
    (serialize_bare_item, Decimal("999999999999.9996"), r"12 integer digits after rounding"),
    (serialize_bare_item, Decimal("-999999999999.9995"), r"12 integer digits after rounding"),
    (serialize_bare_item, Decimal("NaN"), r"decimal NaN is not a finite number"),
    (serialize_bare_item, Decimal("-Infinity"), r"not a finite number"),
    # §4.1.6 strings
    (serialize_bare_item, "a\x00", r"string holds a character outside %x20-7E at offset 1"),
    (serialize_bare_item, "caf\u00e9", r"outside %x20-7E at offset 3.*DisplayString"),
    # §4.1.7 tokens
    (serialize_bare_item, Token("1abc"), r"token does not match"),
    (serialize_bare_item, Token(""), r"token does not match"),
    (serialize_bare_item, Token("a b"), r"token does not match"),
    # §4.1.11 display strings
    (serialize_bare_item, DisplayString("\ud800"), r"unpaired surrogate at offset 0"),
    # types outside the data model
    (serialize_bare_item, 1.5, r"float is not an RFC 9651 bare item type"),
    (serialize_bare_item, None, r"NoneType is not an RFC 9651 bare item type"),
    (serialize_bare_item, [1], r"list is not"),
    (serialize_item, 1.5, r"float is not"),
    (serialize_item, InnerList([]), r"an InnerList is not an Item"),
    (serialize_item, Item(1.5), r"float is not"),  # type: ignore[arg-type]
    # §4.1.1.3 keys and §4.1.1.2 parameters
    (serialize_params, {"A": 1}, r"'A' is not a valid key"),
    (serialize_params, {"": 1}, r"'' is not a valid key"),
    (serialize_params, {"a b": 1}, r"is not a valid key"),
    (serialize_params, {1: 1}, r"a key must be str, not int"),
    (serialize_params, [("a", 1)], r"parameters must be a dict, not list"),
    (serialize_params, {"a": None}, r"NoneType is not"),
    (serialize_item, Item(1, {"Q": 1}), r"'Q' is not a valid key"),
    # §4.1.1.1 inner lists
    (serialize_inner_list, [Item(1)], r"expected an InnerList, not list"),
    (serialize_inner_list, InnerList([1]), r"inner list members must be Item, not int"),  # type: ignore[list-item]
    (serialize_inner_list, InnerList([Item(1)], {"-": 1}), r"'-' is not a valid key"),
    # §4.1.1 lists and §4.1.2 dictionaries
    (serialize_list, (Item(1),), r"a List must be a list, not tuple"),
    (serialize_list, [1], r"must be Item or InnerList, not int"),
    (serialize_list, [Item(1), InnerList([Item("\x7f")])], r"outside %x20-7E"),
    (serialize_dictionary, [("a", Item(1))], r"a Dictionary must be a dict, not list"),
    (serialize_dictionary, {"a": 1}, r"must be Item or InnerList, not int"),
    (serialize_dictionary, {"a": True}, r"must be Item or InnerList, not bool"),
    (serialize_dictionary, {"B": Item(1)}, r"'B' is not a valid key"),
    (serialize_dictionary, {"b": Item(True, {"C": 1})}, r"'C' is not a valid key"),
    (serialize_dictionary, {None: Item(1)}, r"a key must be str, not NoneType"),
]


@pytest.mark.parametrize(
    ("serialiser", "value", "message"),
    SERIALISE_ERRORS,
    ids=[f"{f.__name__}:{v!r}" for f, v, _ in SERIALISE_ERRORS],
)
def test_serialise_error(serialiser: Callable[[Any], str], value: object, message: str) -> None:
    with pytest.raises(StructuredFieldError) as info:
        serialiser(value)
    assert type(info.value) is StructuredFieldError
    assert info.value.code == "invalid_request"
    assert re.search(message, info.value.message), info.value.message


# --- serialisation of edge values that must work ----------------------------------------------


class _Flag(int):
    pass


class _Name(str):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "?1"),
        (False, "?0"),
        (0, "0"),
        (-999_999_999_999_999, "-999999999999999"),
        (Date(-1), "@-1"),
        (Decimal("-0.0001"), "0.0"),  # rounds to -0.000, written without the sign
        (Decimal("-0"), "0.0"),
        (Decimal("0E+20"), "0.0"),
        (Decimal("1E+2"), "100.0"),
        (Decimal("1E-40"), "0.0"),
        (Decimal("0.0005"), "0.0"),  # half-even: down to 0.000
        (Decimal("0.0015"), "0.002"),  # half-even: up to 0.002
        (Decimal("-1.2345"), "-1.234"),
        (Decimal("999999999999.9994"), "999999999999.999"),
        ("", '""'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        (b"", "::"),
        (bytearray(b"\xff"), ":/w==:"),
        (Token("*"), "*"),
        (Token("a:b/c"), "a:b/c"),
        (DisplayString(""), '%""'),
        (DisplayString('100% "sure" \u00fc\n'), '%"100%25 %22sure%22 %c3%bc%0a"'),
        (_Flag(3), "3"),  # int subclass: an Integer
        (_Name("x"), '"x"'),  # str subclass: a String
    ],
    ids=repr,
)
def test_serialise_edge_values(value: Any, expected: str) -> None:
    assert serialize_bare_item(value) == expected
    assert serialize_item(value) == expected


def test_str_subclass_keys() -> None:
    assert serialize_params({_Name("zz-sub"): 1, _Name("zz-sub2"): True}) == ";zz-sub=1;zz-sub2"
    assert serialize_dictionary({_Name("zz-sub3"): Item(2)}) == "zz-sub3=2"
    with pytest.raises(StructuredFieldError, match="is not a valid key"):
        serialize_params({_Name("Zz"): 1})


def test_decimal_rounding_ignores_the_callers_context() -> None:
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 2
        ctx.rounding = decimal.ROUND_UP
        assert serialize_bare_item(Decimal("123.4565")) == "123.456"


def test_serialise_structures() -> None:
    assert serialize_list([]) == ""
    assert serialize_dictionary({}) == ""
    assert serialize_params({}) == ""
    assert serialize_inner_list(InnerList()) == "()"
    assert serialize_inner_list(InnerList([Item(1, {"a": True})], {"b": False})) == "(1;a);b=?0"
    members: dict[str, Item | InnerList] = {
        "a": Item(True),
        "b": Item(False),
        "c": InnerList([Item(Token("x"))], {"p": 1}),
    }
    assert serialize_dictionary(members) == "a, b=?0, c=(x);p=1"
    assert serialize_list([Item(Decimal("1.50"), {"q": Decimal("0.5")})]) == "1.5;q=0.5"


def test_parse_values_keep_their_types() -> None:
    parsed = parse_dictionary(
        'a=1, b=1.5, c="s", d=t, e=:AQ==:, f=?0, g=@5, h=%"%c3%bc", i, j=(1 "x");k'
    )
    kinds = {k: type(v.value).__name__ for k, v in parsed.items() if isinstance(v, Item)}
    assert kinds == {
        "a": "int",
        "b": "Decimal",
        "c": "str",
        "d": "Token",
        "e": "bytes",
        "f": "bool",
        "g": "Date",
        "h": "DisplayString",
        "i": "bool",
    }
    assert parsed["h"] == Item(DisplayString("\u00fc"))
    assert parsed["j"] == InnerList([Item(1), Item("x")], {"k": True})


def test_signature_input_shapes() -> None:
    """The inner-list fast path and the general path give the same structure."""
    fast = parse_dictionary('sig=("@method" "@path"  );created=1;keyid="k"')
    slow = parse_dictionary('sig=("@method" "@path";req  );created=1;keyid="k"')
    assert fast["sig"] == InnerList([Item("@method"), Item("@path")], {"created": 1, "keyid": "k"})
    assert slow["sig"] == InnerList(
        [Item("@method"), Item("@path", {"req": True})], {"created": 1, "keyid": "k"}
    )
    assert parse_list("()") == [InnerList()]
    assert parse_list('( "a" )') == [InnerList([Item("a")])]
