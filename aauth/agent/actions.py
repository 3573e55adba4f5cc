"""Actions: what an agent flow asks its driver to do (design §3: named as commands).

Every network need is a :class:`SendRequest` (with its :class:`Purpose`), every wait a
:class:`Sleep`, every human step a prompt; a flow ends with exactly one :class:`Deliver` or
:class:`Fail`. :data:`Action` is the closed union a driver dispatches with ``match``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from ..errors import AAuthError, LocalError
from ..http import HttpRequest, HttpResponse

__all__ = [
    "DEFERRED_STATUS",
    "Action",
    "Deliver",
    "Fail",
    "PromptClarification",
    "PromptInteraction",
    "Purpose",
    "SendRequest",
    "Sleep",
]

#: AAuth -11 §"Deferred Responses": the status of a pending answer.
DEFERRED_STATUS: Final = 202
#: AAuth -11 §"Polling Error Codes" read from a pending URL's problem body.
_POLL_ERROR_STATUSES: Final = frozenset({403, 408, 410})


class Purpose(StrEnum):
    """Why a request is sent (for logs, metrics and the driver's own policies)."""

    RESOURCE = "resource"
    """The application's request to the resource (first try or retry with a new credential)."""
    PS_METADATA = "ps_metadata"
    """``GET {ps}/.well-known/aauth-person.json`` (unsigned)."""
    PERSON_TOKEN = "person_token"  # noqa: S105 - a purpose, not a secret
    """Signed ``POST`` to the PS ``person_token_endpoint``."""
    AUTH_TOKEN = "auth_token"  # noqa: S105 - a purpose, not a secret
    """Signed ``POST`` to the PS ``auth_token_endpoint``."""
    POLL = "poll"
    """Signed ``GET`` of a pending URL (``Location`` of a ``202``)."""
    CLARIFICATION_RESPONSE = "clarification_response"
    """Signed ``POST`` of the application's answer to a pending URL."""
    CANCEL = "cancel"
    """Signed ``DELETE`` of a pending URL (the application declined)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """Send ``request`` exactly as given (already signed, except ``PS_METADATA``) and report
    the answer with :class:`~aauth.agent.events.ResponseReceived` or
    :class:`~aauth.agent.events.TransportFailed`.

    :param deliverable: the answer may be the resource's answer for the application. A
        driver that streams may then leave the body unread unless :meth:`needs_body`.
    :param max_body: the most body bytes the engine reads; a driver stops reading beyond it.
    """

    request: HttpRequest
    purpose: Purpose
    deliverable: bool = False
    max_body: int = 65_536

    def __post_init__(self) -> None:
        if not isinstance(self.request, HttpRequest):
            raise LocalError("SendRequest.request must be an aauth.http.HttpRequest")

    def needs_body(self, status: int) -> bool:
        """Whether the engine reads the body of an answer with ``status``.

        Always for Person Server answers (tokens, problems, metadata); for a deliverable answer
        only on ``202`` (a clarification question travels in the body) and, on a poll of the
        resource's pending URL, on ``403``/``408``/``410`` (the polling error code is in the
        problem body). So a driver can hand the application a streamed ``200`` untouched.
        """
        if not self.deliverable or status == DEFERRED_STATUS:
            return True
        return self.purpose is Purpose.POLL and status in _POLL_ERROR_STATUSES


@dataclass(frozen=True, slots=True, kw_only=True)
class Sleep:
    """Wait ``seconds`` (``Retry-After``, default 5 s, +5 s per ``429``), then report
    :class:`~aauth.agent.events.SleepCompleted`."""

    seconds: float

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)):
            raise LocalError("Sleep.seconds must be a number")
        if not self.seconds >= 0:
            raise LocalError("Sleep.seconds must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptInteraction:
    """Send the user to ``user_url`` (``{url}?code={code}[&callback=…]``), or show ``url`` and
    ``code`` (AAuth -11 §"Interaction Required"), then report
    :class:`~aauth.agent.events.InteractionStarted`. The flow then polls until the user is done.
    """

    url: str
    code: str
    user_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptClarification:
    """Ask the application (or its user) ``question`` (Markdown: sanitise before rendering),
    then report :class:`~aauth.agent.events.ClarificationAnswered` or
    :class:`~aauth.agent.events.ClarificationDeclined` (AAuth -11 §"Clarification Required").

    ``options`` are suggested answers (may be empty); ``timeout`` the seconds the server waits
    for the answer, when it said.
    """

    question: str
    options: tuple[str, ...] = ()
    timeout: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Deliver:
    """Final: ``response`` is the resource's answer to the application's request."""

    response: HttpResponse


@dataclass(frozen=True, slots=True, kw_only=True)
class Fail:
    """Final: the flow ended without the resource's answer; raise or report ``error``."""

    error: AAuthError


Action: TypeAlias = SendRequest | Sleep | PromptInteraction | PromptClarification | Deliver | Fail
