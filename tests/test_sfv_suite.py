"""The official httpwg Structured Field test suite (RFC 9651), every case.

Parse cases: the ``raw`` field lines are joined with ``", "`` (RFC 9651 §4.2: field lines of
one name combine into one comma-separated value) and parsed as ``header_type``. ``must_fail``
cases must raise :class:`StructuredFieldError`; ``can_fail`` cases may raise it or must give
the expected value. A successful parse must equal ``expected`` (types included: a Token is
not a String, a Boolean is not an Integer), and both the parsed value and the value built from
``expected`` must serialise to ``canonical`` (or to ``raw`` when there is no ``canonical``).

Serialisation cases (``serialisation-tests/``): the value built from ``expected`` must
serialise to ``canonical``, or raise :class:`StructuredFieldError` when ``must_fail``.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest

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
from tests.vectors import VECTORS_DIR

SUITE_DIR = VECTORS_DIR / "structured-field-tests"
PARSE_TOTAL = 1591  # top-level files (shared/vectors/README.md §1)
SERIALISE_TOTAL = 544  # serialisation-tests/


def _load(sub: str) -> list[tuple[str, dict[str, Any]]]:
    """Every case of every JSON file in ``sub``, with a ``file:name`` id; floats as Decimal."""
    cases: list[tuple[str, dict[str, Any]]] = []
    for path in sorted((SUITE_DIR / sub).glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal):
            cases.append((f"{sub}{path.stem}: {case['name']}", case))
    return cases


PARSE_CASES = _load("")
SERIALISE_CASES = _load("serialisation-tests/")


# --- expected JSON -> data model ------------------------------------------------------------


def _bare_from_json(value: Any) -> BareItem:
    if isinstance(value, dict):
        kind, inner = value["__type"], value["value"]
        if kind == "token":
            return Token(inner)
        if kind == "binary":
            return base64.b32decode(inner)
        if kind == "date":
            return Date(inner)
        assert kind == "displaystring", kind
        return DisplayString(inner)
    assert isinstance(value, (bool, int, Decimal, str)), value
    return value


def _params_from_json(pairs: list[list[Any]]) -> Params:
    return {key: _bare_from_json(value) for key, value in pairs}


def _member_from_json(value: list[Any]) -> Member:
    first, params = value
    if isinstance(first, list):  # an inner list: [[items...], params]
        return InnerList(
            [Item(_bare_from_json(v), _params_from_json(p)) for v, p in first],
            _params_from_json(params),
        )
    return Item(_bare_from_json(first), _params_from_json(params))


def _model_from_json(header_type: str, expected: Any) -> Item | List | Dictionary:
    if header_type == "item":
        member = _member_from_json(expected)
        assert isinstance(member, Item)
        return member
    if header_type == "list":
        return [_member_from_json(m) for m in expected]
    assert header_type == "dictionary", header_type
    return {key: _member_from_json(m) for key, m in expected}


# --- data model -> type-tagged comparable form ----------------------------------------------


def tagged(value: object) -> object:
    """A form of any sfv value where ``==`` also compares the RFC 9651 type of every item."""
    if isinstance(value, Item):
        return ("item", tagged(value.value), tagged(value.params))
    if isinstance(value, InnerList):
        return ("inner", [tagged(i) for i in value.items], tagged(value.params))
    if isinstance(value, list):
        return [tagged(m) for m in value]
    if isinstance(value, dict):
        return [(k, type(k).__name__, tagged(v)) for k, v in value.items()]
    return (type(value).__name__, value)


# --- running one case -----------------------------------------------------------------------


def _parse(header_type: str, text: str) -> Item | List | Dictionary:
    if header_type == "item":
        return parse_item(text)
    if header_type == "list":
        return parse_list(text)
    return parse_dictionary(text)


def _serialise(header_type: str, value: Item | List | Dictionary) -> str:
    if header_type == "item":
        assert isinstance(value, Item)
        return serialize_item(value)
    if header_type == "list":
        assert isinstance(value, list)
        return serialize_list(value)
    assert isinstance(value, dict)
    return serialize_dictionary(value)


def run_parse_case(case: dict[str, Any]) -> None:
    """Check one parse case; raises AssertionError when the implementation disagrees."""
    header_type = case["header_type"]
    text = ", ".join(case["raw"])
    try:
        parsed = _parse(header_type, text)
    except StructuredFieldError:
        assert case.get("must_fail") or case.get("can_fail"), f"refused valid {text!r}"
        return
    assert not case.get("must_fail"), f"accepted invalid {text!r} as {parsed!r}"
    expected = _model_from_json(header_type, case["expected"])
    assert tagged(parsed) == tagged(expected), f"{text!r}: {parsed!r} != {expected!r}"
    canonical = ", ".join(case["canonical"] if "canonical" in case else case["raw"])
    assert _serialise(header_type, parsed) == canonical
    assert _serialise(header_type, expected) == canonical


def run_serialise_case(case: dict[str, Any]) -> None:
    """Check one serialisation-only case."""
    header_type = case["header_type"]
    value = _model_from_json(header_type, case["expected"])
    if case.get("must_fail"):
        with pytest.raises(StructuredFieldError):
            _serialise(header_type, value)
        return
    out = _serialise(header_type, value)
    assert out == ", ".join(case["canonical"]), f"{value!r} gave {out!r}"
    # the canonical form is itself canonical: it parses and serialises to itself
    assert _serialise(header_type, _parse(header_type, out)) == out


@pytest.mark.parametrize("case", [c for _, c in PARSE_CASES], ids=[i for i, _ in PARSE_CASES])
def test_parse_case(case: dict[str, Any]) -> None:
    run_parse_case(case)


@pytest.mark.parametrize(
    "case", [c for _, c in SERIALISE_CASES], ids=[i for i, _ in SERIALISE_CASES]
)
def test_serialise_case(case: dict[str, Any]) -> None:
    run_serialise_case(case)


def _count_passes(cases: list[tuple[str, dict[str, Any]]], runner: Any) -> tuple[int, list[str]]:
    passed = 0
    failed: list[str] = []
    for case_id, case in cases:
        try:
            runner(case)
        except AssertionError:
            failed.append(case_id)
        else:
            passed += 1
    return passed, failed


def test_whole_suite_passes() -> None:
    parse_passed, parse_failed = _count_passes(PARSE_CASES, run_parse_case)
    ser_passed, ser_failed = _count_passes(SERIALISE_CASES, run_serialise_case)
    total = len(PARSE_CASES) + len(SERIALISE_CASES)
    summary = (
        f"parse {parse_passed}/{len(PARSE_CASES)}, serialisation {ser_passed}/"
        f"{len(SERIALISE_CASES)}, total {parse_passed + ser_passed}/{total}; "
        f"failing: {(parse_failed + ser_failed)[:10]}"
    )
    assert len(PARSE_CASES) == PARSE_TOTAL, summary
    assert len(SERIALISE_CASES) == SERIALISE_TOTAL, summary
    assert parse_passed + ser_passed == total, summary
    print(summary)
