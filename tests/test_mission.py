"""Missions: AAuth -11 §"Mission Approval", §"Mission Identifier" (digest §4.6, §9.2 C)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth.errors import LocalError
from aauth.identifiers import InvalidIdentifierError
from aauth.mission import (
    MISSION_S256_LENGTH,
    TERMINATION_REASONS,
    ApprovedTool,
    MissionBlob,
    MissionError,
    decode_mission,
    encode_mission,
    encode_mission_blob,
    mission_s256,
    mission_url,
    parse_mission_blob,
    validate_mission_s256,
    verify_mission,
)
from tests.vectors import load_vectors

MISSION_CASES = [
    c for c in load_vectors("aauth-computed.json")["cases"] if c["kind"] == "mission-hash"
]


def test_vector_present() -> None:
    assert len(MISSION_CASES) == 1


@pytest.mark.parametrize("case", MISSION_CASES, ids=[c["id"] for c in MISSION_CASES])
def test_mission_hash_vector(case: dict[str, Any]) -> None:
    blob = case["inputs"]["blob"].encode("utf-8")
    assert encode_mission(blob) == case["expected"]["mission"]
    assert mission_s256(blob) == case["expected"]["s256"]
    assert verify_mission(case["expected"]["mission"], case["expected"]["s256"]) == blob
    parsed = parse_mission_blob(blob)
    assert parsed.agent == "aauth:assistant-v2@agent.example"
    assert parsed.approver == "https://ps.example"
    assert parsed.approved_at_timestamp == 1775572200  # 2026-04-07T14:30:00Z
    assert parsed.expires_at_timestamp is None


def test_s256_is_over_exact_bytes() -> None:
    blob = b'{"a":1}'
    respaced = b'{"a": 1}'
    assert mission_s256(blob) != mission_s256(respaced)  # no canonicalisation
    expected = base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()
    assert mission_s256(blob) == expected
    assert len(mission_s256(blob)) == MISSION_S256_LENGTH


def test_spec_placeholder_hash_is_well_formed_but_not_the_blob() -> None:
    # digest §9.1: the spec's mission_s256 is the RFC 7636 verifier string, not a real digest
    placeholder = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert validate_mission_s256(placeholder) == placeholder
    blob = MISSION_CASES[0]["inputs"]["blob"].encode()
    with pytest.raises(MissionError, match="not the SHA-256"):
        verify_mission(encode_mission(blob), placeholder)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "zVJpWp9s5qMFd-K1P9qRjckSi7yd_MYbQJm80AXHjc",  # 42 chars
        "zVJpWp9s5qMFd-K1P9qRjckSi7yd_MYbQJm80AXHjcI=",  # padded
        "zVJpWp9s5qMFd-K1P9qRjckSi7yd_MYbQJm80AXHjcJ",  # non-zero trailing bits
        "zVJpWp9s5qMFd+K1P9qRjckSi7yd/MYbQJm80AXHjcI",  # standard alphabet
        "zVJpWp9s5qMFd-K1P9qRjckSi7yd_MYbQJm80AXHjcI\n",
        42,
    ],
)
def test_validate_mission_s256_rejects(value: Any) -> None:
    with pytest.raises(MissionError) as info:
        validate_mission_s256(value)
    assert info.value.code == "invalid_request"


@pytest.mark.parametrize(
    ("mission", "reason"),
    [
        ("eyJh=", "base64url"),
        ("eyJh+", "base64url"),
        ("e", "base64url"),
        ("eR", "canonical"),  # trailing bits set
        (None, "string"),
    ],
)
def test_decode_mission_rejects(mission: Any, reason: str) -> None:
    with pytest.raises(MissionError) as info:
        decode_mission(mission)
    assert info.value.code == "invalid_request"
    assert reason in info.value.message


def test_decode_mission_too_large() -> None:
    with pytest.raises(MissionError, match="too large"):
        decode_mission("A" * (2 * 1024 * 1024))


def test_verify_mission_rejects_bad_s256_first() -> None:
    with pytest.raises(MissionError, match="mission_s256"):
        verify_mission("eyJ9", "short")


@pytest.mark.parametrize("func", [mission_s256, encode_mission])
def test_caller_misuse(func: Any) -> None:
    with pytest.raises(LocalError):
        func("not bytes")


# --- the blob -----------------------------------------------------------------------------

FULL_BLOB: dict[str, Any] = {
    "approver": "https://ps.example",
    "agent": "aauth:assistant@agent.example",
    "approved_at": "2026-04-07T14:30:00Z",
    "expires_at": "2026-05-07T14:30:00Z",
    "description": "# Plan Japan Vacation\n\nPlan and book a trip to Japan.",
    "approved_tools": [
        {"name": "WebSearch", "description": "Search the web"},
        {"name": "Read", "description": "Read files and web pages"},
    ],
    "approved_resources": ["https://flights.example", "https://hotels.example"],
}


def test_spec_example_blob() -> None:
    blob = json.dumps(FULL_BLOB).encode()
    parsed = parse_mission_blob(blob)
    assert parsed.approved_tools == (
        ApprovedTool(name="WebSearch", description="Search the web"),
        ApprovedTool(name="Read", description="Read files and web pages"),
    )
    assert parsed.approved_resources == ("https://flights.example", "https://hotels.example")
    assert parsed.expires_at_timestamp == 1778164200
    assert parsed.expires_at_timestamp - parsed.approved_at_timestamp == 30 * 86400
    # unknown members are ignored, and the hash stays over the received bytes
    extended = json.dumps({**FULL_BLOB, "budget": {"usd": 5000}}).encode()
    assert parse_mission_blob(extended) == parsed
    assert mission_s256(extended) != mission_s256(blob)


def test_encode_blob_round_trip() -> None:
    parsed = parse_mission_blob(json.dumps(FULL_BLOB).encode())
    encoded = encode_mission_blob(parsed)
    assert json.loads(encoded) == FULL_BLOB
    assert parse_mission_blob(encoded) == parsed
    assert verify_mission(encode_mission(encoded), mission_s256(encoded)) == encoded


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"approver": None}, "approver"),
        ({"agent": None}, "agent"),
        ({"approved_at": None}, "approved_at"),
        ({"description": None}, "description"),
        ({"approver": "http://ps.example"}, "https"),
        ({"agent": "assistant@agent.example"}, "aauth:"),
        ({"agent": "aauth:Assistant@agent.example"}, "uppercase"),
        ({"approved_at": "yesterday"}, "date-time"),
        ({"approved_at": "2026-04-07"}, "date-time"),
        ({"approved_at": "2026-04-07T14:30:00"}, "date-time"),  # no offset
        ({"approved_at": "2026-02-30T14:30:00Z"}, "valid RFC 3339"),
        ({"approved_at": "2026-04-07T24:00:00Z"}, "valid RFC 3339"),
        ({"expires_at": "2026-04-07T14:30:00+25:00"}, "valid RFC 3339"),
        ({"expires_at": "2026-04-07T14:30:00+01:60"}, "valid RFC 3339"),
        ({"expires_at": "2026-13-07T14:30:00Z"}, "valid RFC 3339"),
        ({"expires_at": "2026-00-07T14:30:00Z"}, "valid RFC 3339"),
        ({"expires_at": "2026-04-00T14:30:00Z"}, "valid RFC 3339"),
        ({"expires_at": "2025-02-29T14:30:00Z"}, "valid RFC 3339"),  # not a leap year
        ({"expires_at": "0000-01-01T00:00:00Z"}, "valid RFC 3339"),
        ({"expires_at": "2026-04-07T14:60:00Z"}, "valid RFC 3339"),
        ({"expires_at": "2026-04-07T14:30:61Z"}, "valid RFC 3339"),
        ({"expires_at": "2026-04-07 14:30:00Z"}, "valid RFC 3339"),
        ({"expires_at": "2026-04-07T14:30:00.Z"}, "valid RFC 3339"),
        ({"expires_at": 1778164200}, "str"),
        ({"approved_tools": [{"name": "x"}]}, "description"),
        ({"approved_tools": "WebSearch"}, "array"),
        ({"approved_resources": ["https://flights.example/"]}, "trailing slash"),
        ({"approved_resources": [7]}, "str"),
    ],
)
def test_blob_rejects(change: dict[str, Any], reason: str) -> None:
    blob = {k: v for k, v in {**FULL_BLOB, **change}.items() if v is not None}
    with pytest.raises(MissionError) as info:
        parse_mission_blob(json.dumps(blob).encode())
    assert info.value.code == "invalid_request"
    assert reason in info.value.message


@pytest.mark.parametrize("body", [b"", b"[]", b"<html>", b"{", b'"x"', b"[" * 50_000])
def test_blob_malformed_json(body: bytes) -> None:
    with pytest.raises(MissionError):
        parse_mission_blob(body)


def test_blob_limits_and_misuse() -> None:
    with pytest.raises(MissionError, match="too large"):
        parse_mission_blob(b" " * (1024 * 1024 + 1))
    with pytest.raises(LocalError):
        parse_mission_blob("{}")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        encode_mission_blob({"approver": "x"})  # type: ignore[arg-type]
    bad = MissionBlob(
        approver="https://ps.example",
        agent="nope",
        approved_at="2026-04-07T14:30:00Z",
        description="d",
    )
    with pytest.raises(LocalError, match="aauth:"):
        encode_mission_blob(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2026-04-07T14:30:00Z", 1775572200),
        ("2026-04-07t14:30:00z", 1775572200),
        ("2026-04-07T14:30:00.5+01:00", 1775572200 - 3600),
        ("2026-04-07T14:30:00.123456789-02:30", 1775572200 + 9000),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59Z", -1),
        ("2024-02-29T00:00:00Z", 1709164800),  # leap day
        ("2016-12-31T23:59:60Z", 1483228800),  # leap second (RFC 3339 §5.7)
        ("0001-01-01T00:00:00Z", -62135596800),
        ("9999-12-31T23:59:59+23:59", 253402300799 - 86340),
    ],
)
def test_blob_timestamp_forms(text: str, seconds: int) -> None:
    blob = {**FULL_BLOB, "approved_at": text, "expires_at": text}
    parsed = parse_mission_blob(json.dumps(blob).encode())
    assert parsed.approved_at_timestamp == seconds
    assert parsed.expires_at_timestamp == seconds


def test_unvalidated_blob_timestamp_is_local_error() -> None:
    blob = MissionBlob(
        approver="https://ps.example",
        agent="aauth:a@b.example",
        approved_at="yesterday",
        description="d",
    )
    with pytest.raises(LocalError):
        _ = blob.approved_at_timestamp


def test_blob_development_loopback() -> None:
    blob = {
        **FULL_BLOB,
        "approver": "http://localhost:9000",
        "agent": "aauth:a@localhost:9000",
        "approved_resources": ["http://127.0.0.1:9001"],
    }
    body = json.dumps(blob).encode()
    with pytest.raises(MissionError):
        parse_mission_blob(body)
    parsed = parse_mission_blob(body, allow_insecure_loopback_for_development=True)
    assert parsed.agent == "aauth:a@localhost:9000"


# --- mission URL --------------------------------------------------------------------------


def test_mission_url() -> None:
    s256 = MISSION_CASES[0]["expected"]["s256"]
    assert mission_url("https://ps.example/mission", s256) == f"https://ps.example/mission/{s256}"
    with pytest.raises(MissionError):
        mission_url("https://ps.example/mission", "../x")
    with pytest.raises(InvalidIdentifierError):
        mission_url("https://ps.example/mission?x", s256)
    assert mission_url(
        "http://localhost:1/m", s256, allow_insecure_loopback_for_development=True
    ).startswith("http://localhost:1/m/")


def test_termination_reasons() -> None:
    assert {
        "completed",
        "revoked",
        "expired",
        "superseded",
        "administrative",
    } == TERMINATION_REASONS


# --- properties ---------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_round_trip_any_blob(blob: bytes) -> None:
    mission = encode_mission(blob)
    assert decode_mission(mission) == blob
    assert verify_mission(mission, mission_s256(blob)) == blob
    assert validate_mission_s256(mission_s256(blob))


@given(st.text(max_size=60), st.text(max_size=50))
def test_verify_value_or_our_error(mission: str, s256: str) -> None:
    try:
        verify_mission(mission, s256)
    except MissionError as exc:
        assert exc.code == "invalid_request"


@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_parse_blob_value_or_our_error(blob: bytes) -> None:
    try:
        parse_mission_blob(blob)
    except MissionError as exc:
        assert exc.code == "invalid_request"


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "approver": st.sampled_from(["https://ps.example", "x", ""]) | st.text(max_size=10),
            "agent": st.sampled_from(["aauth:a@b.example", "a@b"]) | st.text(max_size=10),
            "approved_at": st.sampled_from(["2026-04-07T14:30:00Z", "9999-99-99T99:99:99Z"])
            | st.text(max_size=25),
            "expires_at": st.text(max_size=25) | st.integers(),
            "description": st.text(max_size=10),
            "approved_tools": st.lists(
                st.dictionaries(st.sampled_from(["name", "description"]), st.text(max_size=5))
            ),
        },
    )
)
def test_parse_blob_structured_value_or_our_error(doc: dict[str, Any]) -> None:
    try:
        parsed = parse_mission_blob(json.dumps(doc).encode())
    except MissionError:
        return
    assert parsed.approved_at_timestamp == parsed.approved_at_timestamp  # converts
    assert parsed.expires_at_timestamp is None or isinstance(parsed.expires_at_timestamp, int)
