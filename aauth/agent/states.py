"""The agent flow's states and its ONE transition table (design §3).

:data:`TRANSITIONS` maps ``(state, event type)`` to the :class:`Transition` that handles it: the
name of the :class:`~aauth.agent.flow.AgentFlow` method that does the work and the states it may
leave the flow in. The flow looks the pair up *before* doing any work; a pair that is not in the
table raises :class:`~aauth.agent.errors.FlowError` and moves the flow to
:attr:`FlowState.ERROR`, which refuses everything after. A handler that lands in a state outside
its ``targets`` is a bug and is treated the same way. ``docs/agent-states.md`` is generated from
this table by ``scripts/gen_agent_diagram.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

from .events import (
    ClarificationAnswered,
    ClarificationDeclined,
    Event,
    InteractionStarted,
    ResponseReceived,
    SleepCompleted,
    Started,
    TransportFailed,
)

__all__ = ["FINAL_STATES", "TRANSITIONS", "FlowState", "Transition"]


class FlowState(Enum):
    """Where a flow is. Every non-final state but ``START`` waits for one kind of event."""

    START = "start"
    """Created; :meth:`AgentFlow.next` gives the first request."""
    AWAIT_RESOURCE = "await_resource"
    """The application's request went to the resource, signed with the best credential."""
    AWAIT_METADATA = "await_metadata"
    """The PS metadata document was asked for (a token is needed and it is not cached)."""
    AWAIT_PERSON_TOKEN = "await_person_token"  # noqa: S105 - a state name, not a secret
    """A signed POST went to the PS ``person_token_endpoint``."""
    AWAIT_AUTH_TOKEN = "await_auth_token"  # noqa: S105 - a state name, not a secret
    """A signed POST with the resource token went to the PS ``auth_token_endpoint``."""
    AWAIT_PENDING = "await_pending"
    """A pending URL was polled, or a clarification answer POSTed to it."""
    SLEEPING = "sleeping"
    """Waiting ``Retry-After`` before the next poll or retry."""
    AWAIT_INTERACTION = "await_interaction"
    """The application was asked to send the user to an interaction URL."""
    AWAIT_CLARIFICATION = "await_clarification"
    """The application was asked a clarification question."""
    AWAIT_CANCEL = "await_cancel"
    """The pending URL is being cancelled with DELETE (the application declined)."""
    DONE = "done"
    """Final: the resource's answer was delivered."""
    FAILED = "failed"
    """Final: the flow failed with a typed error (:class:`~aauth.agent.actions.Fail`)."""
    ERROR = "error"
    """Final: the flow was fed an event it does not expect; it refuses everything."""


#: States after which no event is accepted.
FINAL_STATES: Final = frozenset({FlowState.DONE, FlowState.FAILED, FlowState.ERROR})


@dataclass(frozen=True, slots=True)
class Transition:
    """What handles one ``(state, event type)`` pair: the flow method ``handler`` and the
    states it may leave the flow in."""

    handler: str
    targets: frozenset[FlowState]


def _t(handler: str, *targets: FlowState) -> Transition:
    # FAILED is a legal outcome of every transition: any step can end in a typed error.
    return Transition(handler, frozenset((*targets, FlowState.FAILED)))


S = FlowState
_TO_TOKEN = (S.AWAIT_METADATA, S.AWAIT_PERSON_TOKEN, S.AWAIT_AUTH_TOKEN)
_TO_PENDING = (S.AWAIT_PENDING, S.SLEEPING, S.AWAIT_INTERACTION, S.AWAIT_CLARIFICATION)
_RESUME = (S.AWAIT_RESOURCE, S.AWAIT_PENDING)

#: THE transition table: ``(state, event type) -> Transition``.
TRANSITIONS: Final[Mapping[tuple[FlowState, type[Event]], Transition]] = MappingProxyType(
    {
        (S.START, Started): _t("_on_start", S.AWAIT_RESOURCE),
        # the resource answered: deliver, retry with another credential, get a token, or wait
        (S.AWAIT_RESOURCE, ResponseReceived): _t(
            "_on_resource_response", S.DONE, S.AWAIT_RESOURCE, *_TO_TOKEN, *_TO_PENDING
        ),
        (S.AWAIT_RESOURCE, TransportFailed): _t("_on_transport_failed"),
        (S.AWAIT_METADATA, ResponseReceived): _t(
            "_on_metadata_response", S.AWAIT_PERSON_TOKEN, S.AWAIT_AUTH_TOKEN
        ),
        (S.AWAIT_METADATA, TransportFailed): _t("_on_transport_failed"),
        # a token (then resume), a retry of the POST, or a deferred answer
        (S.AWAIT_PERSON_TOKEN, ResponseReceived): _t(
            "_on_token_response", *_RESUME, S.AWAIT_PERSON_TOKEN, *_TO_PENDING
        ),
        (S.AWAIT_PERSON_TOKEN, TransportFailed): _t("_on_transport_failed"),
        (S.AWAIT_AUTH_TOKEN, ResponseReceived): _t(
            "_on_token_response", *_RESUME, S.AWAIT_AUTH_TOKEN, *_TO_PENDING
        ),
        (S.AWAIT_AUTH_TOKEN, TransportFailed): _t("_on_transport_failed"),
        # a poll (or clarification answer) was answered: done, still pending, or a challenge
        (S.AWAIT_PENDING, ResponseReceived): _t(
            "_on_pending_response", S.DONE, S.AWAIT_RESOURCE, *_TO_TOKEN, *_TO_PENDING
        ),
        (S.AWAIT_PENDING, TransportFailed): _t("_on_transport_failed"),
        (S.SLEEPING, SleepCompleted): _t(
            "_on_sleep_completed",
            S.AWAIT_PERSON_TOKEN,
            S.AWAIT_AUTH_TOKEN,
            S.AWAIT_PENDING,
        ),
        (S.AWAIT_INTERACTION, InteractionStarted): _t(
            "_on_interaction_started", S.SLEEPING, S.AWAIT_PENDING
        ),
        (S.AWAIT_CLARIFICATION, ClarificationAnswered): _t(
            "_on_clarification_answered", S.AWAIT_PENDING
        ),
        (S.AWAIT_CLARIFICATION, ClarificationDeclined): _t(
            "_on_clarification_declined", S.AWAIT_CANCEL
        ),
        (S.AWAIT_CANCEL, ResponseReceived): _t("_on_cancel_answered"),
        (S.AWAIT_CANCEL, TransportFailed): _t("_on_cancel_answered"),
    }
)
del S
