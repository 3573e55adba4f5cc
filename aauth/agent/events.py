"""Events: the facts a driver reports to an agent flow (design §3: named as facts).

Frozen, slotted, keyword-only dataclasses, checked when built (a wrong type is the caller's
mistake: :class:`~aauth.errors.LocalError`). :data:`Event` is the closed union the flow's
transition table is keyed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..errors import LocalError
from ..http import HttpResponse

__all__ = [
    "ClarificationAnswered",
    "ClarificationDeclined",
    "Event",
    "InteractionStarted",
    "ResponseReceived",
    "SleepCompleted",
    "Started",
    "TransportFailed",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """The flow was asked for its first action (:meth:`AgentFlow.next`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived:
    """The answer to the last :class:`~aauth.agent.actions.SendRequest` arrived.

    The body may be left empty when :meth:`SendRequest.needs_body` said the engine does not
    need it (a response handed back with :class:`~aauth.agent.actions.Deliver` is then the
    driver's own streamed response).
    """

    response: HttpResponse

    def __post_init__(self) -> None:
        if not isinstance(self.response, HttpResponse):
            raise LocalError("ResponseReceived.response must be an aauth.http.HttpResponse")


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportFailed:
    """The last request got no answer (refused, reset, timed out, TLS failure …).

    ``reason`` is for humans (it ends up, bounded, in the error message): never put a token or
    a full URL in it.
    """

    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str):
            raise LocalError("TransportFailed.reason must be a str")


@dataclass(frozen=True, slots=True, kw_only=True)
class SleepCompleted:
    """The :class:`~aauth.agent.actions.Sleep` asked for is over."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionStarted:
    """The application showed the user the interaction URL and code (or opened a browser)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClarificationAnswered:
    """The application's answer (Markdown) to a clarification question."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise LocalError("ClarificationAnswered.text must be a str")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClarificationDeclined:
    """The application will not answer the clarification question: cancel the request."""


Event: TypeAlias = (
    Started
    | ResponseReceived
    | TransportFailed
    | SleepCompleted
    | InteractionStarted
    | ClarificationAnswered
    | ClarificationDeclined
)

#: Every event type, in a fixed order (for the property tests and the diagram).
EVENT_TYPES: tuple[type[Event], ...] = (
    Started,
    ResponseReceived,
    TransportFailed,
    SleepCompleted,
    InteractionStarted,
    ClarificationAnswered,
    ClarificationDeclined,
)
