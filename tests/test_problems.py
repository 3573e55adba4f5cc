"""Problem bodies: AAuth -11 §"Error Responses" (digest §7.10, §3.3, §11 item 17)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth.errors import SIGNATURE_ERROR_CODES, LocalError, RemoteError
from aauth.problems import (
    ALL_ERROR_CODES,
    AUTHORIZATION_ENDPOINT_ERRORS,
    ENDPOINT_ERROR_STATUS,
    INTERACTION_ENDPOINT_ERRORS,
    MISSION_ENDPOINT_ERRORS,
    POLLING_ERRORS,
    PROBLEM_CONTENT_TYPE,
    RETRYABLE_ERROR_CODES,
    SIG_ERROR_TYPE_PREFIX,
    SIGNATURE_ERRORS,
    TOKEN_ENDPOINT_ERRORS,
    PeerProblemError,
    Problem,
    ProblemFormatError,
    encode_problem,
    error_status,
    make_problem,
    parse_problem,
    problem_response,
)

# Every row of the digest's tables, typed out independently of the module.
TABLE_ROWS = [
    # §7.10 token endpoints
    ("invalid_request", 400),
    ("invalid_agent_token", 400),
    ("expired_agent_token", 400),
    ("invalid_resource_token", 400),
    ("expired_resource_token", 400),
    ("unknown_person_token", 400),
    ("user_unreachable", 403),
    ("server_error", 500),
    # §7.10 polling
    ("denied", 403),
    ("abandoned", 403),
    ("expired", 408),
    ("invalid_code", 410),
    ("slow_down", 429),
    # §7.1 authorization endpoint
    ("invalid_signature", 401),
    ("invalid_person_token", 400),
    ("invalid_scope", 400),
    ("invalid_account", 400),
    # §7.6 mission endpoint
    ("mission_not_found", 404),
    ("mission_terminated", 403),
    # §7.9 interaction endpoint
    ("interaction_unavailable", 424),
]
SIG_CODES = [
    "unsupported_algorithm",
    "unsupported_scheme",
    "cache_miss",
    "invalid_signature",
    "invalid_input",
    "invalid_request",
    "invalid_key",
    "unknown_key",
    "issuer_missing",
    "issuer_mismatch",
    "invalid_jwt",
    "expired_jwt",
]


def test_tables_match_digest() -> None:
    assert dict(ENDPOINT_ERROR_STATUS) == dict(TABLE_ROWS)
    assert len(TOKEN_ENDPOINT_ERRORS) == 8
    assert len(POLLING_ERRORS) == 6
    assert len(AUTHORIZATION_ENDPOINT_ERRORS) == 6
    assert len(MISSION_ENDPOINT_ERRORS) == 3
    assert set(INTERACTION_ENDPOINT_ERRORS) == {"interaction_unavailable", "user_unreachable"}
    assert set(SIGNATURE_ERRORS) == set(SIG_CODES) == SIGNATURE_ERROR_CODES
    assert set(SIGNATURE_ERRORS.values()) == {401}
    assert {c for c, _ in TABLE_ROWS} | set(SIG_CODES) == ALL_ERROR_CODES
    assert RETRYABLE_ERROR_CODES <= ALL_ERROR_CODES


@pytest.mark.parametrize(("code", "status"), TABLE_ROWS)
def test_endpoint_problem_build_and_parse(code: str, status: int) -> None:
    assert error_status(code) == status
    problem = make_problem(code, detail="what went wrong")
    response = problem_response(problem)
    assert response.status == status
    assert response.header("Content-Type") == PROBLEM_CONTENT_TYPE
    body = json.loads(response.body)
    assert body["error"] == code
    assert body["detail"] == "what went wrong"
    assert body["status"] == status
    # AAuth defines no type URIs; only a 401 signature error gets the sig-error URN
    if status == 401 and code in SIGNATURE_ERROR_CODES:
        assert body["type"] == SIG_ERROR_TYPE_PREFIX + code
    else:
        assert "type" not in body
    parsed = parse_problem(response.body, content_type=PROBLEM_CONTENT_TYPE, status=status)
    assert parsed == problem


@pytest.mark.parametrize("code", SIG_CODES)
def test_signature_problem_build_and_parse(code: str) -> None:
    assert error_status(code, signature=True) == 401
    problem = make_problem(code, signature=True)
    response = problem_response(problem, headers=[("Signature-Error", f"error={code}")])
    assert response.status == 401
    assert response.headers == (
        ("Content-Type", PROBLEM_CONTENT_TYPE),
        ("Signature-Error", f"error={code}"),
    )
    body = json.loads(response.body)
    # digest §11 item 17: both the sig-error type and the AAuth error member
    assert body["type"] == f"urn:ietf:params:sig-error:{code}"
    assert body["error"] == code
    assert body["status"] == 401
    assert isinstance(body["title"], str) and body["title"]
    assert "detail" not in body
    assert parse_problem(response.body, content_type=PROBLEM_CONTENT_TYPE) == problem


def test_signature_only_codes_default_to_401() -> None:
    assert error_status("unknown_key") == 401
    assert error_status("invalid_request") == 400
    assert error_status("invalid_request", signature=True) == 401


def test_error_status_rejects_unknown() -> None:
    with pytest.raises(LocalError):
        error_status("made_up")
    with pytest.raises(LocalError):
        error_status("denied", signature=True)


def test_spec_error_examples() -> None:
    # AAuth -11 §"Token Endpoint Error Codes" and §"Polling Error Codes" examples
    body = (
        b'{"error":"expired_resource_token","detail":"The resource token expired; obtain a new '
        b'resource token from the resource and retry."}'
    )
    problem = parse_problem(body, content_type="application/problem+json", status=400)
    assert problem.error == "expired_resource_token"
    assert problem.status == 400
    assert problem.retryable
    denied = parse_problem(
        b'{"error":"denied","detail":"The user declined the request."}',
        content_type="application/problem+json",
        status=403,
    )
    assert denied.error == "denied"
    assert not denied.retryable
    # §"Mission Status Errors"
    terminated = parse_problem(
        b'{"error":"mission_terminated","mission_status":"terminated",'
        b'"termination_reason":"expired"}',
        content_type="application/problem+json",
        status=403,
    )
    assert terminated.mission_status == "terminated"
    assert terminated.termination_reason == "expired"
    # signature-key-08 example body (status 400 in that draft)
    sig = parse_problem(
        b'{"type":"urn:ietf:params:sig-error:unsupported_algorithm","title":"Unsupported '
        b'signature algorithm","status":400,"detail":"The server does not support RS256"}',
        content_type="application/problem+json",
    )
    assert sig.error == "unsupported_algorithm"  # taken from type: no error member
    assert sig.status == 400
    assert sig.title == "Unsupported signature algorithm"


def test_mission_terminated_builder() -> None:
    problem = make_problem("mission_terminated", termination_reason="revoked")
    assert json.loads(encode_problem(problem)) == {
        "error": "mission_terminated",
        "status": 403,
        "mission_status": "terminated",
        "termination_reason": "revoked",
    }
    with pytest.raises(LocalError):
        make_problem("denied", termination_reason="revoked")


def test_make_problem_explicit_status_for_extension_codes() -> None:
    problem = make_problem("payment_required_x", status=402, instance="/pending/1")
    assert problem.status == 402
    assert problem.instance == "/pending/1"
    with pytest.raises(LocalError):
        make_problem("payment_required_x")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("",), {}),
        (("has space",), {}),
        ((None,), {}),
        (("denied",), {"status": 200}),
        (("denied",), {"status": 600}),
        (("denied",), {"status": True}),
        (("denied",), {"status": "403"}),
        (("denied",), {"detail": 5}),
    ],
)
def test_make_problem_misuse(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalError):
        make_problem(*args, **kwargs)


def test_response_and_encode_misuse() -> None:
    with pytest.raises(LocalError):
        problem_response(Problem(error="denied"))
    with pytest.raises(LocalError):
        encode_problem({"error": "denied"})  # type: ignore[arg-type]


# --- reading peers' bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/problem+json",
        "application/problem+json; charset=utf-8",
        "Application/Problem+JSON",
        "application/json",  # tolerated
        " application/json ;charset=UTF-8",
    ],
)
def test_content_types_accepted(content_type: str) -> None:
    assert parse_problem(b'{"error":"denied"}', content_type=content_type).error == "denied"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "retryable"),
    [
        (b"<html><body>Bad Gateway</body></html>", "text/html", 502, True),
        (b'{"error":"denied"}', None, 403, False),
        (b'{"error":"denied"}', "text/plain", 403, False),
        (b'{"error":"denied"}', "application/problem+xml", None, False),
        (b"", PROBLEM_CONTENT_TYPE, 500, True),
        (b"{", PROBLEM_CONTENT_TYPE, 429, True),
        (b"\xff\xfe", PROBLEM_CONTENT_TYPE, 400, False),
        (b"[]", PROBLEM_CONTENT_TYPE, 400, False),
        (b'"denied"', PROBLEM_CONTENT_TYPE, 400, False),
        (b"{}", PROBLEM_CONTENT_TYPE, 400, False),
        (b'{"detail":"no code"}', PROBLEM_CONTENT_TYPE, 400, False),
        (b'{"error":null}', PROBLEM_CONTENT_TYPE, 400, False),
        (b'{"error":7}', PROBLEM_CONTENT_TYPE, 400, False),
        (b'{"error":""}', PROBLEM_CONTENT_TYPE, 400, False),
        (b'{"error":"two words"}', PROBLEM_CONTENT_TYPE, 400, False),
        (b'{"error":"' + b"x" * 101 + b'"}', PROBLEM_CONTENT_TYPE, 400, False),
        (b'{"type":"about:blank"}', PROBLEM_CONTENT_TYPE, 400, False),
        (b'{"type":"urn:ietf:params:sig-error:"}', PROBLEM_CONTENT_TYPE, 401, False),
        (b'{"error":' + b"[" * 100_000, PROBLEM_CONTENT_TYPE, 400, False),
        (
            b'{"error":"denied","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            PROBLEM_CONTENT_TYPE,
            403,
            False,
        ),
    ],
)
def test_unreadable_bodies(
    body: bytes, content_type: str | None, status: int | None, retryable: bool
) -> None:
    with pytest.raises(ProblemFormatError) as info:
        parse_problem(body, content_type=content_type, status=status)
    assert info.value.code == "server_error"
    assert info.value.retryable is retryable


def test_size_limit() -> None:
    body = json.dumps({"error": "denied", "detail": "x" * 2000}).encode()
    with pytest.raises(ProblemFormatError, match="larger than"):
        parse_problem(body, content_type=PROBLEM_CONTENT_TYPE, max_size=1000)
    assert parse_problem(body, content_type=PROBLEM_CONTENT_TYPE).detail == "x" * 2000


def test_tolerances() -> None:
    legacy = parse_problem(
        b'{"error":"invalid_request","error_description":"old style"}',
        content_type="application/json",
    )
    assert legacy.detail == "old style"
    both = parse_problem(
        b'{"error":"invalid_request","detail":"new","error_description":"old"}',
        content_type=PROBLEM_CONTENT_TYPE,
    )
    assert both.detail == "new"
    # wrongly typed optional members are ignored, unknown members dropped
    odd = parse_problem(
        b'{"error":"denied","detail":5,"title":[],"status":"403","instance":{},"extra":1}',
        content_type=PROBLEM_CONTENT_TYPE,
    )
    assert odd == Problem(error="denied")
    # the HTTP status wins over the body's advisory member
    assert (
        parse_problem(
            b'{"error":"denied","status":500}', content_type=PROBLEM_CONTENT_TYPE, status=403
        ).status
        == 403
    )
    for bad_status in (b"true", b"99", b"600", b"4.0e2"):
        assert (
            parse_problem(
                b'{"error":"denied","status":' + bad_status + b"}",
                content_type=PROBLEM_CONTENT_TYPE,
            ).status
            is None
        )
    # the error member wins over the type URN
    mixed = parse_problem(
        b'{"type":"urn:ietf:params:sig-error:invalid_key","error":"invalid_jwt"}',
        content_type=PROBLEM_CONTENT_TYPE,
    )
    assert mixed.error == "invalid_jwt"
    # unknown codes are kept for the caller to decide
    assert parse_problem(b'{"error":"new_code"}', content_type=PROBLEM_CONTENT_TYPE).error == (
        "new_code"
    )


def test_to_error() -> None:
    problem = parse_problem(
        b'{"error":"slow_down","detail":"poll less"}',
        content_type=PROBLEM_CONTENT_TYPE,
        status=429,
    )
    error = problem.to_error()
    assert isinstance(error, PeerProblemError)
    assert isinstance(error, RemoteError)
    assert error.code == "slow_down"
    assert error.retryable
    assert error.problem is problem
    assert "poll less" in error.message
    quiet = Problem(error="denied").to_error()
    assert quiet.message == "peer reported denied"
    assert not quiet.retryable


def test_parse_misuse() -> None:
    with pytest.raises(LocalError):
        parse_problem("{}", content_type=PROBLEM_CONTENT_TYPE)  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------


@given(
    st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    st.none()
    | st.sampled_from([PROBLEM_CONTENT_TYPE, "application/json", "text/html"])
    | st.text(max_size=30),
    st.none() | st.integers(100, 599),
)
def test_parse_value_or_our_error(
    body: bytes, content_type: str | None, status: int | None
) -> None:
    try:
        problem = parse_problem(body, content_type=content_type, status=status)
    except ProblemFormatError as exc:
        assert exc.code == "server_error"
        return
    assert problem.error


_MEMBER = st.none() | st.booleans() | st.integers() | st.text(max_size=15) | st.lists(st.integers())


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "error",
                "detail",
                "type",
                "title",
                "status",
                "instance",
                "mission_status",
                "termination_reason",
                "error_description",
                "x",
            ]
        ),
        _MEMBER | st.sampled_from(["denied", "urn:ietf:params:sig-error:invalid_jwt"]),
    )
)
def test_parse_objects_value_or_our_error(obj: dict[str, Any]) -> None:
    try:
        problem = parse_problem(json.dumps(obj).encode(), content_type=PROBLEM_CONTENT_TYPE)
    except ProblemFormatError:
        return
    # whatever parsed re-encodes and parses to the same value
    assert parse_problem(encode_problem(problem), content_type=PROBLEM_CONTENT_TYPE) == problem
