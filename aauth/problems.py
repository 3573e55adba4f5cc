"""Error bodies: RFC 9457 problem details with the AAuth ``error`` member.

AAuth -11 §"Error Response Format" (digest §7): error bodies are
``application/problem+json`` with ``error`` (REQUIRED, the code) and ``detail`` (OPTIONAL);
``type`` has no AAuth meaning and receivers MUST NOT rely on it. signature-key-08
§"Signature-Error" (digest §3.3): a problem body for a signature error has
``type = urn:ietf:params:sig-error:<code>``. Following digest §11 item 17 we emit both on a
``401`` signature error. The ``Signature-Error`` *header* stays authoritative and is built
elsewhere; this module only builds and reads bodies.

The code tables (AAuth -11 §"Token Endpoint Error Codes", §"Polling Error Codes",
§"Authorization Endpoint Error Responses", §"Mission Endpoint Errors",
§"Interaction Endpoint Errors"; digest §7.10, §7.1, §7.6, §7.9) give the HTTP status of every
code. They agree wherever a code appears twice, so one status per code holds, except that
AAuth sends every Signature-Error code with ``401`` (digest §3.3), including
``invalid_request``; ask for that with ``signature=True``.

Reading a peer's body (:func:`parse_problem`) never crashes: HTML, malformed JSON, a wrong
media type or a missing ``error`` raise :class:`ProblemFormatError`. Tolerances, each for
deployed peers: ``application/json`` is accepted as well; a legacy ``error_description`` fills
``detail`` when ``detail`` is absent (replaced in -09); a body without ``error`` whose ``type``
is ``urn:ietf:params:sig-error:<code>`` yields that code (a plain signature-key peer);
members of the wrong JSON type other than ``error`` are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import msgspec

from .errors import SIGNATURE_ERROR_CODES, LocalError, RemoteError
from .http import HttpResponse

__all__ = [
    "ALL_ERROR_CODES",
    "AUTHORIZATION_ENDPOINT_ERRORS",
    "ENDPOINT_ERROR_STATUS",
    "INTERACTION_ENDPOINT_ERRORS",
    "MISSION_ENDPOINT_ERRORS",
    "POLLING_ERRORS",
    "PROBLEM_CONTENT_TYPE",
    "RETRYABLE_ERROR_CODES",
    "SIGNATURE_ERRORS",
    "SIG_ERROR_TYPE_PREFIX",
    "TOKEN_ENDPOINT_ERRORS",
    "PeerProblemError",
    "Problem",
    "ProblemFormatError",
    "encode_problem",
    "error_status",
    "make_problem",
    "parse_problem",
    "problem_response",
]

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
#: signature-key-08 §"Signature-Error": problem ``type`` for a signature error code.
SIG_ERROR_TYPE_PREFIX: Final = "urn:ietf:params:sig-error:"

#: AAuth -11 §"Token Endpoint Error Codes" (PS and AS token endpoints, person token endpoint).
TOKEN_ENDPOINT_ERRORS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "invalid_request": 400,
        "invalid_agent_token": 400,
        "expired_agent_token": 400,
        "invalid_resource_token": 400,
        "expired_resource_token": 400,
        "unknown_person_token": 400,
        "user_unreachable": 403,
        "server_error": 500,
    }
)
#: AAuth -11 §"Polling Error Codes".
POLLING_ERRORS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "denied": 403,
        "abandoned": 403,
        "expired": 408,
        "invalid_code": 410,
        "slow_down": 429,
        "server_error": 500,
    }
)
#: AAuth -11 §"Authorization Endpoint Error Responses" (resource ``authorization_endpoint``).
AUTHORIZATION_ENDPOINT_ERRORS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "invalid_request": 400,
        "invalid_signature": 401,
        "invalid_person_token": 400,
        "invalid_scope": 400,
        "invalid_account": 400,
        "server_error": 500,
    }
)
#: AAuth -11 §"Mission Endpoint Errors" and §"Mission Status Errors" (any PS endpoint).
MISSION_ENDPOINT_ERRORS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "invalid_request": 400,
        "mission_not_found": 404,
        "mission_terminated": 403,
    }
)
#: AAuth -11 §"Interaction Endpoint Errors" (plus ``user_unreachable`` from the token table).
INTERACTION_ENDPOINT_ERRORS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "interaction_unavailable": 424,
        "user_unreachable": 403,
    }
)
#: signature-key-08 §"Signature-Error" codes; AAuth sends every one with 401.
SIGNATURE_ERRORS: Final[Mapping[str, int]] = MappingProxyType(
    dict.fromkeys(sorted(SIGNATURE_ERROR_CODES), 401)
)


def _merge(*tables: Mapping[str, int]) -> Mapping[str, int]:
    merged: dict[str, int] = {}
    for table in tables:
        for code, status in table.items():
            if merged.setdefault(code, status) != status:  # pragma: no cover - tables agree
                raise AssertionError(f"conflicting status for {code}")
    return MappingProxyType(merged)


#: The status of every AAuth endpoint error code (the five endpoint tables merged).
ENDPOINT_ERROR_STATUS: Final[Mapping[str, int]] = _merge(
    TOKEN_ENDPOINT_ERRORS,
    POLLING_ERRORS,
    AUTHORIZATION_ENDPOINT_ERRORS,
    MISSION_ENDPOINT_ERRORS,
    INTERACTION_ENDPOINT_ERRORS,
)
#: Every error code this module knows.
ALL_ERROR_CODES: Final = frozenset(ENDPOINT_ERROR_STATUS) | SIGNATURE_ERROR_CODES
#: Codes after which an automatic new attempt can succeed with no human involved: a later
#: poll or retry, a re-signed request, a renewed token, or a re-sent full assertion.
RETRYABLE_ERROR_CODES: Final = frozenset(
    {
        "server_error",
        "slow_down",
        "cache_miss",
        "expired_jwt",
        "expired_agent_token",
        "expired_resource_token",
        "interaction_unavailable",
    }
)

_SIG_TITLES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "unsupported_algorithm": "Signature algorithm not accepted",
        "unsupported_scheme": "Signature-Key scheme not accepted",
        "cache_miss": "Cached key reference not found",
        "invalid_signature": "HTTP message signature is invalid",
        "invalid_input": "Required components are not covered",
        "invalid_request": "Request is malformed",
        "invalid_key": "Signing key is unusable or untrusted",
        "unknown_key": "Signing key not found",
        "issuer_missing": "Issuer metadata has no issuer",
        "issuer_mismatch": "Issuer metadata names another issuer",
        "invalid_jwt": "JWT is malformed or does not verify",
        "expired_jwt": "JWT has expired",
    }
)

# the error members we emit and accept: a code word, never free text
_CODE_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_MAX_BODY: Final = 64 * 1024


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem body with the AAuth members (unknown members are dropped)."""

    error: str
    """The AAuth error code: what a receiver acts on."""
    detail: str | None = None
    type: str | None = None
    title: str | None = None
    status: int | None = None
    instance: str | None = None
    mission_status: str | None = None
    """``terminated`` with ``mission_terminated`` (AAuth -11 §"Mission Status Errors")."""
    termination_reason: str | None = None

    @property
    def retryable(self) -> bool:
        """Whether :data:`RETRYABLE_ERROR_CODES` holds :attr:`error`."""
        return self.error in RETRYABLE_ERROR_CODES

    def to_error(self) -> PeerProblemError:
        """This problem as an exception to raise, carrying the code and the problem."""
        return PeerProblemError(self)


class PeerProblemError(RemoteError):
    """A peer answered with a readable problem body; ``code`` is its ``error`` member."""

    def __init__(self, problem: Problem) -> None:
        message = f"peer reported {problem.error}"
        if problem.detail:
            message += f": {problem.detail}"
        super().__init__(message, code=problem.error, retryable=problem.retryable)
        self.problem: Problem = problem


class ProblemFormatError(RemoteError):
    """A peer's error response has no readable problem body.

    Code ``server_error``: the peer failed to say what went wrong. ``retryable`` is true
    when the HTTP status was 5xx or 429.
    """

    default_code = "server_error"


def error_status(code: str, *, signature: bool = False) -> int:
    """The HTTP status AAuth assigns to ``code``.

    :param signature: ``code`` is a ``Signature-Error`` code (always 401 in AAuth).
    :raises LocalError: ``code`` is not in the relevant table.
    """
    if signature:
        if code not in SIGNATURE_ERROR_CODES:
            raise LocalError(f"{code!r} is not a Signature-Error code")
        return 401
    status = ENDPOINT_ERROR_STATUS.get(code)
    if status is None:
        if code in SIGNATURE_ERROR_CODES:
            return 401
        raise LocalError(f"{code!r} is not an AAuth error code; pass status= explicitly")
    return status


def make_problem(
    code: str,
    *,
    detail: str | None = None,
    signature: bool = False,
    status: int | None = None,
    instance: str | None = None,
    termination_reason: str | None = None,
) -> Problem:
    """Build the problem body for ``code``.

    ``status`` comes from the tables (:func:`error_status`) unless given, which is needed only
    for a code outside them. A 401 carrying a Signature-Error code also gets
    ``type = urn:ietf:params:sig-error:<code>`` and a ``title`` (digest §11 item 17).
    ``mission_terminated`` gets ``mission_status = "terminated"`` and the optional
    ``termination_reason``.

    :raises LocalError: an unknown code without ``status``, a status outside 400-599, a
        malformed code, or ``termination_reason`` with another code.
    """
    if not isinstance(code, str) or _CODE_RE.fullmatch(code) is None:
        raise LocalError("error code must be a short code word such as 'invalid_request'")
    if status is None:
        status = error_status(code, signature=signature)
    elif isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise LocalError("an error status must be an int between 400 and 599")
    if detail is not None and not isinstance(detail, str):
        raise LocalError("detail must be a str")
    problem_type: str | None = None
    title: str | None = None
    if status == 401 and code in SIGNATURE_ERROR_CODES:
        problem_type = SIG_ERROR_TYPE_PREFIX + code
        title = _SIG_TITLES[code]
    mission_status: str | None = None
    if code == "mission_terminated":
        mission_status = "terminated"
    elif termination_reason is not None:
        raise LocalError("termination_reason belongs only to mission_terminated")
    return Problem(
        error=code,
        detail=detail,
        type=problem_type,
        title=title,
        status=status,
        instance=instance,
        mission_status=mission_status,
        termination_reason=termination_reason,
    )


def encode_problem(problem: Problem) -> bytes:
    """Compact JSON for ``problem`` (absent members omitted)."""
    if not isinstance(problem, Problem):
        raise LocalError("encode_problem expects a Problem")
    return msgspec.json.encode(problem)


def problem_response(problem: Problem, *, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    """An :class:`~aauth.http.HttpResponse` carrying ``problem``.

    Status is ``problem.status``; ``Content-Type: application/problem+json`` comes first, then
    ``headers`` (for example ``Signature-Error``, built by the header layer).

    :raises LocalError: ``problem.status`` is not set.
    """
    if not isinstance(problem, Problem) or problem.status is None:
        raise LocalError("problem_response needs a Problem with a status (use make_problem)")
    return HttpResponse(
        problem.status,
        [("Content-Type", PROBLEM_CONTENT_TYPE), *headers],
        encode_problem(problem),
    )


def _str_member(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) else None


def parse_problem(
    body: bytes,
    *,
    content_type: str | None,
    status: int | None = None,
    max_size: int = _MAX_BODY,
) -> Problem:
    """Read a peer's error body.

    :param content_type: the response's ``Content-Type`` (``None`` when absent).
    :param status: the HTTP status; it replaces the body's advisory ``status`` member and
        decides :class:`ProblemFormatError`'s ``retryable``.
    :raises ProblemFormatError: code ``server_error``; the body is not a problem body.
    """
    retryable = status is not None and (status >= 500 or status == 429)
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise LocalError("body must be bytes")
    media = "" if content_type is None else content_type.partition(";")[0].strip().lower()
    if media not in (PROBLEM_CONTENT_TYPE, "application/json"):
        shown = "no Content-Type" if content_type is None else f"Content-Type {content_type!r}"
        raise ProblemFormatError(
            f"error response has {shown}, not {PROBLEM_CONTENT_TYPE}", retryable=retryable
        )
    if len(body) > max_size:
        raise ProblemFormatError(
            f"problem body is larger than {max_size} bytes", retryable=retryable
        )
    try:
        obj = msgspec.json.decode(body)
    except (msgspec.MsgspecError, RecursionError) as exc:
        raise ProblemFormatError(f"problem body is not JSON: {exc}", retryable=retryable) from None
    if not isinstance(obj, dict):
        raise ProblemFormatError("problem body is not a JSON object", retryable=retryable)
    error = obj.get("error")
    problem_type = _str_member(obj, "type")
    if (
        error is None
        and problem_type is not None
        and problem_type.startswith(SIG_ERROR_TYPE_PREFIX)
    ):
        error = problem_type[len(SIG_ERROR_TYPE_PREFIX) :]  # digest §11 item 17
    if not isinstance(error, str) or _CODE_RE.fullmatch(error) is None:
        raise ProblemFormatError("problem body has no usable 'error' member", retryable=retryable)
    detail = _str_member(obj, "detail")
    if detail is None:
        detail = _str_member(obj, "error_description")  # pre -09 peers
    body_status = obj.get("status")
    if (
        status is None
        and isinstance(body_status, int)
        and not isinstance(body_status, bool)
        and 100 <= body_status <= 599
    ):
        status = body_status
    return Problem(
        error=error,
        detail=detail,
        type=problem_type,
        title=_str_member(obj, "title"),
        status=status,
        instance=_str_member(obj, "instance"),
        mission_status=_str_member(obj, "mission_status"),
        termination_reason=_str_member(obj, "termination_reason"),
    )
