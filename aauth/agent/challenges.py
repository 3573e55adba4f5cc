"""Reading the parts of an answer the agent flow acts on, each failure a typed
:class:`~aauth.agent.errors.AgentError` (never a parser's exception).

``AAuth-Requirement`` (AAuth -11 §"Requirement Responses"), ``Location`` and ``Retry-After``
(§"Deferred Responses"), ``202`` bodies (``clarification``, ``options``, ``timeout``), problem
bodies (§"Error Response Format") and ``Signature-Error`` / ``Accept-Signature-Alg``
(signature-key-08 §3.2, §3.3).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec

from ..aauth_headers import Requirement, RequirementError, read_aauth_requirement
from ..errors import StructuredFieldError
from ..headers_http import HeaderError, parse_retry_after
from ..http import HttpResponse
from ..interaction import InteractionCodeError, interaction_user_url
from ..problems import Problem, ProblemFormatError, parse_problem
from ..signature_headers import (
    SignatureErrorInfo,
    parse_accept_signature_alg,
    parse_signature_error,
)
from ._urls import origin_of, resolve
from .actions import PromptClarification
from .errors import (
    AccessDenied,
    ChallengeError,
    MalformedResponseError,
    PendingError,
    PendingExpired,
    PendingGone,
    SignatureRejectedError,
    TokenEndpointError,
)

__all__ = [
    "accepted_algorithms",
    "clarification_prompt",
    "endpoint_error",
    "json_object",
    "location",
    "pending_error",
    "read_requirement",
    "read_signature_error",
    "retry_after",
    "user_url",
]

_decode = msgspec.json.Decoder().decode
_MAX_OPTIONS = 32


def read_requirement(response: HttpResponse, *, dev: bool = False) -> Requirement | None:
    """The response's ``AAuth-Requirement``, checked against its status; ``None`` if absent.

    :raises ChallengeError: malformed (``invalid_request``) or undefined by AAuth -11
        (``unsupported_requirement``; on a ``202`` the caller MAY keep polling).
    """
    try:
        return read_aauth_requirement(
            response, check_status=True, allow_insecure_loopback_for_development=dev
        )
    except RequirementError as exc:
        raise ChallengeError(exc.message, code=exc.code, status=response.status) from None


def user_url(url: str, code: str, *, callback: str | None, dev: bool) -> str:
    """``{url}?code={code}[&callback=…]`` (AAuth -11 §"User Interaction"), also for a code
    outside Crockford base32, which :func:`~aauth.aauth_headers.parse_aauth_requirement`
    tolerates on input (mockin 2.0.0 sends 8 random ``[A-Za-z0-9]``): percent-encoded the same
    way and passed on verbatim.

    :raises InvalidIdentifierError: ``url`` or ``callback`` is not acceptable.
    """
    try:
        return interaction_user_url(
            url,
            code,
            callback=callback,
            localhost_callback_allowed=True,
            allow_insecure_loopback_for_development=dev,
        )
    except InteractionCodeError:
        target = f"{url}?code={quote(code, safe='')}"
        if callback is not None:
            target += f"&callback={quote(callback, safe='')}"
        return target


def retry_after(response: HttpResponse, *, now: int, default: int) -> int:
    """Seconds to wait from ``Retry-After``; ``default`` when absent or unreadable (AAuth -11
    §"Polling with GET": absent means 5 s; a broken value is read the same way)."""
    text = response.header("retry-after")
    if text is None:
        return default
    try:
        return parse_retry_after(text, now=now)
    except HeaderError:
        return default


def location(response: HttpResponse, *, base: str) -> str | None:
    """The absolute pending URL of ``Location``, resolved against the request URL ``base``;
    ``None`` when absent.

    :raises MalformedResponseError: not a URL, or on another origin than ``base`` (AAuth -11
        §"Deferred Responses": the pending URL MUST be same-origin with the responder).
    """
    text = response.header("location")
    if text is None:
        return None
    resolved = resolve(base, text)
    if resolved is None:
        raise MalformedResponseError(
            "the Location of the deferred answer is not an http(s) URL", status=response.status
        )
    if origin_of(resolved) != origin_of(base):
        raise MalformedResponseError(
            f"the Location of the answer from {origin_of(base)} points to another origin "
            "(AAuth -11: the pending URL MUST be same-origin with the responder)",
            status=response.status,
        )
    return resolved


def json_object(response: HttpResponse, *, what: str, max_body: int) -> dict[str, Any]:
    """The response body as a JSON object.

    :raises TokenEndpointError: too large, not JSON (HTML, garbage) or not an object.
    """
    content_type = response.header("content-type")
    shown = "no Content-Type" if content_type is None else f"Content-Type {content_type[:60]!r}"
    if len(response.body) > max_body:
        raise TokenEndpointError(
            f"the {what} answer is larger than {max_body} bytes", status=response.status
        )
    try:
        value = _decode(response.body)
    except (msgspec.DecodeError, RecursionError):
        raise TokenEndpointError(
            f"the {what} answer ({response.status}, {shown}) is not JSON", status=response.status
        ) from None
    if not isinstance(value, dict):
        raise TokenEndpointError(
            f"the {what} answer ({response.status}) is not a JSON object", status=response.status
        )
    return value


def _optional_object(response: HttpResponse, max_body: int) -> dict[str, Any] | None:
    if not response.body or len(response.body) > max_body:
        return None
    try:
        value = _decode(response.body)
    except (msgspec.DecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def clarification_prompt(response: HttpResponse, *, max_body: int) -> PromptClarification | None:
    """The clarification question of a ``202`` body (AAuth -11 §"Clarification Required":
    ``clarification`` REQUIRED Markdown, ``options`` and ``timeout`` optional), or ``None`` when
    the body carries none. Malformed optional members are ignored."""
    body = _optional_object(response, max_body)
    if body is None:
        return None
    question = body.get("clarification")
    if not isinstance(question, str) or not question.strip():
        return None
    raw_options = body.get("options")
    options: tuple[str, ...] = ()
    if isinstance(raw_options, list):
        options = tuple(o for o in raw_options if isinstance(o, str))[:_MAX_OPTIONS]
    timeout = body.get("timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        timeout = None
    return PromptClarification(question=question, options=options, timeout=timeout)


def _problem(response: HttpResponse) -> Problem | None:
    try:
        return parse_problem(
            response.body, content_type=response.header("content-type"), status=response.status
        )
    except ProblemFormatError:
        return None


def endpoint_error(response: HttpResponse, *, what: str) -> TokenEndpointError:
    """The error for a PS answer that is neither a token nor a deferral: its problem body's
    ``error`` (AAuth -11 §"Error Response Format") or ``server_error`` when it has none."""
    problem = _problem(response)
    status = response.status
    if problem is None:
        return TokenEndpointError(
            f"the {what} answered {status} without a problem body",
            code="server_error",
            retryable=status >= 500,
            status=status,
        )
    detail = f": {problem.detail}" if problem.detail else ""
    return TokenEndpointError(
        f"the {what} answered {status} {problem.error}{detail}",
        code=problem.error,
        retryable=problem.retryable or status >= 500,
        status=status,
        problem=problem,
    )


def pending_error(response: HttpResponse, *, what: str) -> PendingError:
    """The typed outcome of a ``403``, ``408`` or ``410`` (AAuth -11 §"Polling Error Codes"),
    with the problem body's ``error`` as ``code`` when there is one."""
    problem = _problem(response)
    status = response.status
    cls: type[PendingError]
    if status == 403:
        cls, meaning = AccessDenied, "denied"
    elif status == 408:
        cls, meaning = PendingExpired, "expired"
    else:
        cls, meaning = PendingGone, "gone"
    code = problem.error if problem is not None else None
    detail = f": {problem.detail}" if problem is not None and problem.detail else ""
    return cls(
        f"the {what} ended {meaning} ({status} {code or cls.default_code}){detail}",
        code=code,
        retryable=status == 408,  # AAuth -11: the agent MAY start a fresh request
        status=status,
    )


def read_signature_error(response: HttpResponse) -> SignatureErrorInfo | None:
    """The ``Signature-Error`` of a response, or ``None`` when absent.

    :raises SignatureRejectedError: the header is not a Dictionary with a Token ``error``.
    """
    text = response.header("signature-error")
    if text is None:
        return None
    try:
        return parse_signature_error(text)
    except StructuredFieldError as exc:
        raise SignatureRejectedError(
            f"the Signature-Error header is malformed: {exc.message}",
            code="invalid_request",
            status=response.status,
        ) from None


def accepted_algorithms(response: HttpResponse) -> tuple[str, ...]:
    """The ``Accept-Signature-Alg`` list (signature-key-08 §3.2); empty when absent or
    malformed (the header is advisory)."""
    text = response.header("accept-signature-alg")
    if text is None:
        return ()
    try:
        return parse_accept_signature_alg(text)
    except StructuredFieldError:
        return ()
