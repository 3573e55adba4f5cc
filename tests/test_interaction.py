"""Interaction codes: AAuth -11 §"User Interaction" (digest §1.6, §9.2 negative checks)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth.errors import LocalError
from aauth.identifiers import InvalidIdentifierError
from aauth.interaction import (
    CALLBACK_ERRORS,
    CALLBACK_TO_POLLING_ERROR,
    CROCKFORD_ALPHABET,
    MAX_CODE_SYMBOLS,
    MIN_CODE_SYMBOLS,
    InteractionCodeError,
    callback_error_to_polling_error,
    format_interaction_code,
    generate_interaction_code,
    interaction_codes_match,
    interaction_user_url,
    normalize_interaction_code,
)


def test_alphabet_is_crockford() -> None:
    assert len(CROCKFORD_ALPHABET) == 32
    assert len(set(CROCKFORD_ALPHABET)) == 32
    assert not set("ILOU") & set(CROCKFORD_ALPHABET)
    assert MIN_CODE_SYMBOLS * 5 >= 40


# --- digest §9.2 negative checks -----------------------------------------------------------


@pytest.mark.parametrize("typed", ["a1b2-c3d4", "A1B2C3D4", "A1B2-C3D4", "a1b2c3d4", "A1-B2-C3-D4"])
def test_spec_codes_match(typed: str) -> None:
    assert interaction_codes_match("A1B2-C3D4", typed)


def test_oil0_normalises() -> None:
    assert normalize_interaction_code("OIL0") == "0110"
    assert normalize_interaction_code("oil0") == "0110"


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("A1B2-C3D4", "A1B2C3D4"),
        ("x7k2-m9p4", "X7K2M9P4"),
        ("--ab--", "AB"),
        ("0123456789abcdefghjkmnpqrstvwxyz", "0123456789ABCDEFGHJKMNPQRSTVWXYZ"),
        ("I1l1L1", "111111"),
        ("oO0", "000"),
    ],
)
def test_normalise(typed: str, canonical: str) -> None:
    assert normalize_interaction_code(typed) == canonical


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("----", "empty"),
        ("A1B2-C3DU", "outside"),  # U is excluded
        ("a1b2-c3du", "outside"),
        ("A1B2 C3D4", "outside"),  # spaces are not stripped
        ("A1B2_C3D4", "outside"),
        ("A1B2-C3D4\n", "outside"),
        ("Ä1B2", "outside"),
        ("A" * (MAX_CODE_SYMBOLS + 1), "too long"),
        ("-" * 500, "too long"),
        (None, "string"),
    ],
)
def test_normalise_rejects(typed: object, reason: str) -> None:
    with pytest.raises(InteractionCodeError) as info:
        normalize_interaction_code(typed)  # type: ignore[arg-type]
    assert info.value.code == "invalid_code"
    assert reason in info.value.message


@pytest.mark.parametrize(
    "typed", ["A1B2-C3D5", "A1B2-C3D", "A1B2-C3D44", "", "A1B2-C3DU", "Z1B2-C3D4", "A1B2 C3D4"]
)
def test_codes_do_not_match(typed: str) -> None:
    assert not interaction_codes_match("A1B2-C3D4", typed)


def test_match_rejects_invalid_expected() -> None:
    with pytest.raises(LocalError):
        interaction_codes_match("NOT-VALID-U", "A1B2")


# --- generation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("random_bytes", "kwargs", "code"),
    [
        (b"\x00\x00\x00\x00\x00", {}, "0000-0000"),
        (b"\xff\xff\xff\xff\xff", {}, "ZZZZ-ZZZZ"),
        # 0x0842108421 = 00001 00001 ... -> eight '1'
        (bytes.fromhex("0842108421"), {}, "1111-1111"),
        # 00000 00001 00010 00011 00100 00101 00110 00111
        (bytes.fromhex("00443214c7"), {"group": 0}, "01234567"),
        (bytes.fromhex("00443214c7ff"), {"group": 0}, "01234567"),  # extra bytes unused
        (b"\xff" * 10, {"symbols": 16, "group": 4}, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"),
        (b"\x00" * 7, {"symbols": 10, "group": 5}, "00000-00000"),
        (b"\x00" * 7, {"symbols": 10, "group": 3}, "000-000-000-0"),
    ],
)
def test_generate(random_bytes: bytes, kwargs: dict[str, int], code: str) -> None:
    assert generate_interaction_code(random_bytes, **kwargs) == code


@pytest.mark.parametrize(
    ("random_bytes", "kwargs"),
    [
        (b"\x00" * 4, {}),  # 32 bits < 40
        (b"\x00" * 10, {"symbols": 7}),  # under 40 bits of entropy
        (b"\x00" * 100, {"symbols": MAX_CODE_SYMBOLS + 1}),
        (b"\x00" * 9, {"symbols": 16}),
        ("00000", {}),
    ],
)
def test_generate_rejects(random_bytes: bytes, kwargs: dict[str, int]) -> None:
    with pytest.raises(LocalError):
        generate_interaction_code(random_bytes, **kwargs)


def test_format() -> None:
    assert format_interaction_code("A1B2C3D4") == "A1B2-C3D4"
    assert format_interaction_code("A1B2C3D4", group=0) == "A1B2C3D4"
    assert format_interaction_code("A1B", group=4) == "A1B"
    with pytest.raises(LocalError):
        format_interaction_code("A1B2", group=-1)


@given(st.binary(min_size=5, max_size=40), st.integers(0, 8))
def test_generated_codes_round_trip(random_bytes: bytes, group: int) -> None:
    symbols = min(len(random_bytes) * 8 // 5, MAX_CODE_SYMBOLS)
    code = generate_interaction_code(random_bytes, symbols=symbols, group=group)
    canonical = normalize_interaction_code(code)
    assert len(canonical) == symbols
    assert set(canonical) <= set(CROCKFORD_ALPHABET)
    assert interaction_codes_match(code, code.lower())
    assert interaction_codes_match(code, canonical)
    # the leading 5*symbols bits of the input are exactly what the code encodes
    value = 0
    for char in canonical:
        value = value * 32 + CROCKFORD_ALPHABET.index(char)
    assert value == int.from_bytes(random_bytes, "big") >> (len(random_bytes) * 8 - 5 * symbols)


@given(st.text(max_size=80))
def test_normalise_value_or_our_error(text: str) -> None:
    try:
        canonical = normalize_interaction_code(text)
    except InteractionCodeError as exc:
        assert exc.code == "invalid_code"
        return
    assert set(canonical) <= set(CROCKFORD_ALPHABET)
    assert normalize_interaction_code(canonical) == canonical


@given(st.text(max_size=40) | st.sampled_from(["a1b2-c3d4", "A-1-B-2-C-3-D-4", "a\u0131b2c3d4"]))
def test_match_never_raises_on_user_input(text: str) -> None:
    assert interaction_codes_match("A1B2-C3D4", text) is (
        text.isascii()
        and text.upper().replace("-", "").translate(str.maketrans("OIL", "011")) == "A1B2C3D4"
    )


# --- user URL and callbacks ---------------------------------------------------------------


def test_user_url() -> None:
    assert (
        interaction_user_url("https://resource.example/interaction", "A1B2-C3D4")
        == "https://resource.example/interaction?code=A1B2-C3D4"
    )
    assert interaction_user_url(
        "https://ps.example/interaction", "X7K2-M9P4", callback="https://agent.example/callback"
    ) == (
        "https://ps.example/interaction?code=X7K2-M9P4"
        "&callback=https%3A%2F%2Fagent.example%2Fcallback"
    )
    assert interaction_user_url(
        "https://ps.example/i",
        "A1B2-C3D4",
        callback="http://127.0.0.1:5000/cb",
        localhost_callback_allowed=True,
    ).endswith("&callback=http%3A%2F%2F127.0.0.1%3A5000%2Fcb")
    assert (
        interaction_user_url(
            "http://localhost:8080/i", "A1B2-C3D4", allow_insecure_loopback_for_development=True
        )
        == "http://localhost:8080/i?code=A1B2-C3D4"
    )


@pytest.mark.parametrize(
    ("url", "code", "callback", "error"),
    [
        ("https://r.example/i?x=1", "A1B2-C3D4", None, InvalidIdentifierError),  # no query
        ("https://r.example/i#f", "A1B2-C3D4", None, InvalidIdentifierError),  # no fragment
        ("http://r.example/i", "A1B2-C3D4", None, InvalidIdentifierError),  # https
        ("https://r.example/i", "A1B2&x=1", None, InteractionCodeError),
        ("https://r.example/i", "A1B2-C3D4", "http://127.0.0.1:5000/cb", InvalidIdentifierError),
        ("https://r.example/i", "A1B2-C3D4", "https://a.example/cb?s=1", InvalidIdentifierError),
    ],
)
def test_user_url_rejects(
    url: str, code: str, callback: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        interaction_user_url(url, code, callback=callback)


def test_callback_errors() -> None:
    assert set(CALLBACK_TO_POLLING_ERROR) == CALLBACK_ERRORS
    assert callback_error_to_polling_error("access_denied") == "denied"
    assert callback_error_to_polling_error("user_abandoned") == "abandoned"
    assert callback_error_to_polling_error("interaction_expired") == "expired"
    assert callback_error_to_polling_error("server_error") == "server_error"
    assert callback_error_to_polling_error("temporarily_unavailable") == "server_error"
    assert callback_error_to_polling_error("made_up") == "server_error"
