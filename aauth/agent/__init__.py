"""The AAuth agent as a sans-IO engine (AAuth -11 §"Resource Access Modes" through
§"Deferred Responses"; digest §1.3-§1.8, §7, §8 "Agent").

A long-lived :class:`Agent` (credentials, Person Server, capabilities, limits, caches) starts one
:class:`AgentFlow` per application request. A flow turns events (facts: a response arrived, a
sleep ended, the user was shown a URL) into actions (commands: send this signed request, sleep,
prompt, deliver, fail), following the single transition table in :mod:`aauth.agent.states`.
A driver is conversions plus this loop (see ``docs/agent-engine.md``)::

    flow = agent.start(request, now=clock())
    action = flow.next(now=clock())
    while True:
        match action:
            case SendRequest(request=req):
                try:
                    response = send(req)
                except OSError as exc:
                    action = flow.handle(TransportFailed(reason=str(exc)), now=clock())
                    continue
                action = flow.handle(ResponseReceived(response=response), now=clock())
            case Sleep(seconds=s):
                sleep(s)
                action = flow.handle(SleepCompleted(), now=clock())
            case PromptInteraction():
                show_user(action.user_url)
                action = flow.handle(InteractionStarted(), now=clock())
            case PromptClarification():
                action = flow.handle(ClarificationAnswered(text=ask(action.question)), now=clock())
            case Deliver(response=response):
                return response
            case Fail(error=error):
                raise error
"""

from __future__ import annotations

from .actions import (
    Action,
    Deliver,
    Fail,
    PromptClarification,
    PromptInteraction,
    Purpose,
    SendRequest,
    Sleep,
)
from .agent import Agent
from .checks import ResourceTokenFacts, check_auth_token, check_person_token, check_resource_token
from .config import AgentLimits
from .credentials import (
    AgentCredential,
    AgentCredentials,
    RefreshingAgentCredentials,
    SelfSignedAgentCredentials,
    StaticAgentCredentials,
)
from .errors import (
    AccessDenied,
    AgentError,
    ChallengeError,
    CredentialsError,
    Declined,
    FlowError,
    FlowLimitError,
    MalformedResponseError,
    MetadataFetchError,
    PendingError,
    PendingExpired,
    PendingGone,
    SignatureRejectedError,
    TokenEndpointError,
    TokenRejectedError,
    TransportError,
)
from .events import (
    EVENT_TYPES,
    ClarificationAnswered,
    ClarificationDeclined,
    Event,
    InteractionStarted,
    ResponseReceived,
    SleepCompleted,
    Started,
    TransportFailed,
)
from .flow import AgentFlow
from .states import FINAL_STATES, TRANSITIONS, FlowState, Transition
from .store import AgentStore, CachedToken

__all__ = [
    "EVENT_TYPES",
    "FINAL_STATES",
    "TRANSITIONS",
    "AccessDenied",
    "Action",
    "Agent",
    "AgentCredential",
    "AgentCredentials",
    "AgentError",
    "AgentFlow",
    "AgentLimits",
    "AgentStore",
    "CachedToken",
    "ChallengeError",
    "ClarificationAnswered",
    "ClarificationDeclined",
    "CredentialsError",
    "Declined",
    "Deliver",
    "Event",
    "Fail",
    "FlowError",
    "FlowLimitError",
    "FlowState",
    "InteractionStarted",
    "MalformedResponseError",
    "MetadataFetchError",
    "PendingError",
    "PendingExpired",
    "PendingGone",
    "PromptClarification",
    "PromptInteraction",
    "Purpose",
    "RefreshingAgentCredentials",
    "ResourceTokenFacts",
    "ResponseReceived",
    "SelfSignedAgentCredentials",
    "SendRequest",
    "SignatureRejectedError",
    "Sleep",
    "SleepCompleted",
    "Started",
    "StaticAgentCredentials",
    "TokenEndpointError",
    "TokenRejectedError",
    "Transition",
    "TransportError",
    "TransportFailed",
    "check_auth_token",
    "check_person_token",
    "check_resource_token",
]
