"""The agent flow's errors: one typed error per way a flow can end without the resource's answer.

Two families, as :mod:`aauth.errors` asks:

* :class:`FlowError` and :class:`CredentialsError` are :class:`~aauth.errors.LocalError`: the
  caller fed an event the flow does not expect, or the agent's own credentials (key, agent
  token, Person Server) cannot be used. Fix the code or the configuration.
* :class:`AgentError` and its subclasses are :class:`~aauth.errors.RemoteError`: a peer (the
  resource, the Person Server, the network between) answered in a way the flow cannot turn into
  the resource's answer. Each names what happened; ``code`` is the protocol code when the peer
  sent one (``denied``, ``invalid_scope``, a ``Signature-Error`` code …) or one of the agent's
  own codes below; ``status`` is the HTTP status of the answer at fault, when there was one.

Messages never carry a token, a key or a pending URL (pending URLs are unguessable capability
URLs, AAuth -11 §"Deferred Responses"): they name the purpose and the origin instead.
"""

from __future__ import annotations

from typing import Final

from ..errors import LocalError, RemoteError
from ..problems import Problem

__all__ = [
    "CODE_DECLINED",
    "CODE_FLOW_LIMIT",
    "CODE_INVALID_RESPONSE",
    "CODE_TRANSPORT",
    "AccessDenied",
    "AgentError",
    "ChallengeError",
    "CredentialsError",
    "Declined",
    "FlowError",
    "FlowLimitError",
    "MalformedResponseError",
    "MetadataFetchError",
    "PendingError",
    "PendingExpired",
    "PendingGone",
    "SignatureRejectedError",
    "TokenEndpointError",
    "TokenRejectedError",
    "TransportError",
]

#: The request never got an answer (connection refused, reset, timed out …).
CODE_TRANSPORT: Final = "transport_failure"
#: A bound of :class:`~aauth.agent.config.AgentLimits` was reached.
CODE_FLOW_LIMIT: Final = "flow_limit_exceeded"
#: The application declined a clarification question; the pending request was cancelled.
CODE_DECLINED: Final = "declined"
#: A response broke the protocol in a way no retry repairs (a ``202`` without ``Location`` …).
CODE_INVALID_RESPONSE: Final = "invalid_response"


class FlowError(LocalError):
    """An event the flow's transition table does not allow in its current state.

    The flow moves to :attr:`~aauth.agent.states.FlowState.ERROR` and refuses every later
    event. ``state`` and ``event`` name the offending pair.
    """

    def __init__(self, message: str, *, state: str, event: str) -> None:
        super().__init__(message)
        self.state: str = state
        self.event: str = event


class CredentialsError(LocalError):
    """The agent's own credentials cannot be used: the agent token expired and cannot be
    renewed, the token source failed or returned a token for another key, or a Person Server
    is needed and none is known."""


class AgentError(RemoteError):
    """The flow ended without the resource's answer because of what a peer did.

    :param status: the HTTP status of the answer at fault, if any.
    """

    default_code = CODE_INVALID_RESPONSE

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, retryable=retryable)
        self.status: int | None = status


class TransportError(AgentError):
    """A request got no answer (the driver reported
    :class:`~aauth.agent.events.TransportFailed`)."""

    default_code = CODE_TRANSPORT


class MalformedResponseError(AgentError):
    """An answer breaks the protocol: a ``202`` without ``Location``, a ``Location`` on another
    origin (AAuth -11 §"Deferred Responses": MUST be same-origin), a clarification without its
    question."""

    default_code = CODE_INVALID_RESPONSE


class ChallengeError(AgentError):
    """An ``AAuth-Requirement`` the agent cannot act on: malformed, a value AAuth -11 does not
    define (``unsupported_requirement``; AAuth -11: MUST NOT be treated as satisfiable), sent by
    a party that may not send it, or asking again for the credential just presented."""

    default_code = "invalid_request"


class TokenRejectedError(AgentError):
    """A token a peer handed us fails the agent's checks before use (AAuth -11 §"Resource Token"
    agent-side checks, §"Auth Token" agent checks).

    ``typ`` is the token type (``aa-resource+jwt`` …) and ``claim`` the claim at fault
    (``agent_jkt``, ``aud`` …; ``None`` for the token as a whole). ``code`` is
    ``invalid_resource_token``, ``invalid_person_token`` or ``invalid_auth_token``.
    """

    def __init__(
        self, message: str, *, typ: str, claim: str | None, code: str, status: int | None = None
    ) -> None:
        shown = f"{typ} {claim}" if claim else typ
        super().__init__(f"{shown}: {message}", code=code, status=status)
        self.typ: str = typ
        self.claim: str | None = claim


class MetadataFetchError(AgentError):
    """The Person Server's ``aauth-person.json`` could not be fetched or is not valid
    (``issuer_missing``, ``issuer_mismatch``, ``invalid_key``, or the HTTP status)."""


class TokenEndpointError(AgentError):
    """A Person Server endpoint answered with an error or with something that is not a token:
    HTML, malformed JSON, a ``5xx``, a problem body (``code`` is then its ``error`` member and
    ``problem`` the parsed body)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        status: int | None = None,
        problem: Problem | None = None,
    ) -> None:
        super().__init__(message, code=code, retryable=retryable, status=status)
        self.problem: Problem | None = problem


class PendingError(AgentError):
    """A deferred request ended without success (AAuth -11 §"Polling Error Codes")."""

    default_code = "server_error"


class AccessDenied(PendingError):
    """``403``: ``denied``, ``abandoned``, ``user_unreachable`` … The answer is final."""

    default_code = "denied"


class PendingExpired(PendingError):
    """``408``: ``expired``. The agent MAY start a fresh request (``retryable``)."""

    default_code = "expired"


class PendingGone(PendingError):
    """``410``: the pending request is gone (``invalid_code``, cancelled). MUST NOT retry."""

    default_code = "gone"


class SignatureRejectedError(AgentError):
    """A ``401`` with ``Signature-Error`` that no retry can fix (or that came back after the one
    retry that could). ``code`` is the ``Signature-Error`` code."""

    default_code = "invalid_signature"


class FlowLimitError(AgentError):
    """The flow reached ``max_steps``, ``max_total_wait`` or ``max_token_requests``: a pending
    URL that never completes, or a peer that keeps challenging, ends here instead of looping."""

    default_code = CODE_FLOW_LIMIT


class Declined(AgentError):
    """The application declined a clarification question; the pending request was cancelled
    with ``DELETE`` (AAuth -11 §"Clarification Required")."""

    default_code = CODE_DECLINED
