"""One application request, carried through every AAuth challenge: the agent's state machine.

:class:`AgentFlow` takes events (facts from the driver) and returns actions (commands for the
driver). Which events it accepts in which state, and where each may lead, is the table in
:mod:`aauth.agent.states`; this module holds the handlers the table names.

Behaviour (AAuth -11 §"Resource Access Modes", §"Canonical Authorization Flow", §"Deferred
Responses", §"HTTP Message Signatures Profile"; digest §1.3-§1.7, §7, §8 "Agent"):

* Every request is signed (``created`` = now; ``@method @authority @path signature-key``, plus
  ``content-type content-digest`` with a body, ``authorization`` with ``Authorization: AAuth``,
  plus what the server asked for with ``invalid_input``). A request to the resource presents the
  best credential held for it: a fresh auth token, else a person token, else the agent token;
  Person Server requests present the agent token. The newest ``AAuth-Access`` the resource sent
  goes along as ``Authorization: AAuth``.
* ``401 requirement=agent-token`` retries with the agent token; ``requirement=person-token``
  gets a person token from the PS ``person_token_endpoint`` and retries; ``requirement=auth-token``
  (``401``, ``402`` or the ``202`` held-invocation form) checks the resource token, exchanges it
  at the PS ``auth_token_endpoint`` and retries (or polls the held invocation with the auth
  token). Step-up is the same path at any time.
* ``202`` from anyone: ``Location`` (same origin), ``Retry-After`` (default 5 s; each ``429``
  adds 5 s for the rest of the flow), interaction (prompt, then poll), clarification (prompt,
  POST the answer with ``action: clarification_response``, or DELETE when declined), approval
  (poll); an unknown body ``status`` or an unknown requirement on a ``202`` keeps polling.
  ``403``/``408``/``410`` end the flow with :class:`~aauth.agent.errors.AccessDenied`,
  :class:`~aauth.agent.errors.PendingExpired`, :class:`~aauth.agent.errors.PendingGone`.
* ``Signature-Error``: ``unsupported_algorithm`` switches to an algorithm of
  ``Accept-Signature-Alg`` the credentials can sign with; ``invalid_input`` covers the required
  components; ``invalid_signature`` re-signs; ``expired_jwt`` renews the token presented. Each
  code is retried once per flow; anything else is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Final

import msgspec

from ..aauth_headers import (
    AgentTokenRequired,
    ApprovalPending,
    AuthTokenRequired,
    ClarificationRequired,
    InteractionRequired,
    PersonTokenRequired,
    Requirement,
    build_authorization,
    read_aauth_access,
)
from ..components import ComponentId
from ..errors import AAuthError, LocalError, RemoteError
from ..headers_http import HeaderError, build_prefer_wait, freshness_lifetime
from ..http import HttpRequest, HttpResponse
from ..metadata import DWK_PERSON, MetadataError, PersonServerMetadata, parse_person_metadata
from ..metadata import well_known_url as _well_known_url
from ..signature_headers import SignatureErrorInfo
from ..signing import default_components, sign_request
from ._urls import dial_url, origin_of
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
from .challenges import (
    accepted_algorithms,
    clarification_prompt,
    endpoint_error,
    json_object,
    location,
    pending_error,
    read_requirement,
    read_signature_error,
    retry_after,
    user_url,
)
from .checks import ResourceTokenFacts, check_auth_token, check_person_token, check_resource_token
from .credentials import AgentCredential
from .errors import (
    ChallengeError,
    CredentialsError,
    Declined,
    FlowError,
    FlowLimitError,
    MalformedResponseError,
    MetadataFetchError,
    SignatureRejectedError,
    TokenEndpointError,
    TransportError,
)
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
from .states import FINAL_STATES, TRANSITIONS, FlowState
from .store import CachedToken

if TYPE_CHECKING:
    from .agent import Agent

__all__ = ["AgentFlow"]

#: PS metadata lifetime bounds and default, seconds (the same floor and ceiling as key
#: discovery: a peer can neither force a fetch per request nor pin a document past 24 h).
METADATA_MIN_TTL: Final = 300
METADATA_MAX_TTL: Final = 86_400
METADATA_DEFAULT_TTL: Final = 3_600

_SIGNATURE_FIELDS: Final = frozenset({"signature", "signature-input", "signature-key"})
# not carried from the application's request to a poll of the resource's pending URL (a GET
# without the original body)
_NOT_ON_POLLS: Final = _SIGNATURE_FIELDS | {
    "content-type",
    "content-length",
    "content-digest",
    "content-encoding",
    "transfer-encoding",
    "host",
}
_JSON: Final = (("Content-Type", "application/json"), ("Accept", "application/json"))
_ACCEPT_JSON: Final = (("Accept", "application/json"),)
_AWAIT: Final = {
    Purpose.RESOURCE: FlowState.AWAIT_RESOURCE,
    Purpose.PS_METADATA: FlowState.AWAIT_METADATA,
    Purpose.PERSON_TOKEN: FlowState.AWAIT_PERSON_TOKEN,
    Purpose.AUTH_TOKEN: FlowState.AWAIT_AUTH_TOKEN,
    Purpose.POLL: FlowState.AWAIT_PENDING,
    Purpose.CLARIFICATION_RESPONSE: FlowState.AWAIT_PENDING,
    Purpose.CANCEL: FlowState.AWAIT_CANCEL,
}
_encode = msgspec.json.encode
#: How a 202 with a requirement AAuth -11 does not define is handled: poll, as for approval.
_POLL_ONLY: Final = ApprovalPending()


class _Kind(Enum):
    """The credential a request presented."""

    AGENT = "agent token"
    PERSON = "person token"
    AUTH = "auth token"


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A request the flow sends (and may send again, re-signed). ``url`` is the logical URL in
    identifier space; ``base`` the unsigned request as dialled (after the transport map)."""

    purpose: Purpose
    url: str
    base: HttpRequest
    to_resource: bool = False


@dataclass(slots=True)
class _Pending:
    """A deferred request being polled (AAuth -11 §"Deferred Responses")."""

    url: str
    at_resource: bool
    interval: int
    prompted: tuple[str, str] | None = None  # the interaction (url, code) already shown
    question: PromptClarification | None = None  # the clarification awaiting an answer
    answered: str | None = None  # the last question answered


@dataclass(frozen=True, slots=True)
class _Need:
    """The token the flow is getting from the PS."""

    kind: _Kind
    ps: str
    resource_token: ResourceTokenFacts | None = None


def _check_now(now: object) -> int:
    if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
        raise LocalError("now must be Unix seconds (an int)")
    return int(now)


def _origin(url: str) -> str:
    """The origin of a URL the flow itself accepted (the application's, a checked Location, a
    validated metadata endpoint): always an absolute http(s) URL."""
    origin = origin_of(url)
    assert origin is not None, "the flow only sends to absolute http(s) URLs"
    return origin


class AgentFlow:
    """One application request carried through AAuth (see the module docstring).

    Made by :meth:`Agent.start`. Call :meth:`next` once for the first action, then
    :meth:`handle` with each event until the action is :class:`~aauth.agent.actions.Deliver`
    or :class:`~aauth.agent.actions.Fail`. Not thread-safe: one driver task owns a flow.
    """

    __slots__ = (
        "_after_sleep",
        "_agent",
        "_agent_only",
        "_agent_retried",
        "_alg",
        "_credential",
        "_dev",
        "_fresh",
        "_limits",
        "_need",
        "_now",
        "_outgoing",
        "_pending",
        "_presented",
        "_request",
        "_resource",
        "_resume_pending",
        "_sig_retried",
        "_slowdown",
        "_started_at",
        "_state",
        "_steps",
        "_store",
        "_token_requests",
    )

    def __init__(self, agent: Agent, request: HttpRequest, *, now: float) -> None:
        if not isinstance(request, HttpRequest):
            raise LocalError("the request must be an aauth.http.HttpRequest")
        resource = origin_of(request.url)
        if resource is None:
            raise LocalError("the request URL must be an absolute http(s) URL")
        self._agent = agent
        self._limits = agent.limits
        self._store = agent.store
        self._dev = agent.allow_insecure_loopback_for_development
        self._resource = resource
        if any(request.has_header(name) for name in _SIGNATURE_FIELDS):
            request = request.without_headers(_SIGNATURE_FIELDS)
        self._request = request
        self._started_at = _check_now(now)
        self._now = self._started_at
        self._state = FlowState.START
        self._steps = 0
        self._alg: str | None = self._store.algorithm(resource)
        self._credential: AgentCredential | None = None
        self._outgoing = self._resource_outgoing()
        self._after_sleep: _Outgoing | None = None
        self._pending: _Pending | None = None
        self._resume_pending: _Pending | None = None
        self._need: _Need | None = None
        self._fresh: dict[_Kind, CachedToken] = {}
        self._presented: tuple[_Kind, bool] = (_Kind.AGENT, False)
        self._sig_retried: set[str] = set()
        self._agent_retried = False
        # a route asked for the agent token: the retry presents it, whatever is cached
        self._agent_only = False
        self._token_requests = 0
        self._slowdown = 0

    # -- public surface ----------------------------------------------------------------------

    @property
    def state(self) -> FlowState:
        """Where the flow is."""
        return self._state

    @property
    def steps(self) -> int:
        """Events handled so far (bounded by ``max_steps``)."""
        return self._steps

    @property
    def resource(self) -> str:
        """The resource identifier (origin of the application's request URL)."""
        return self._resource

    def next(self, *, now: float) -> Action:
        """The first action: the application's request, signed, for the resource."""
        return self.handle(Started(), now=now)

    def handle(self, event: Event, *, now: float) -> Action:
        """Feed one event; get the next action.

        :raises FlowError: ``event`` is not allowed in the current state (the table in
            :mod:`aauth.agent.states`); the flow moves to ``ERROR`` and refuses everything.
        :raises LocalError: ``now`` is not a time. A float is floored to whole seconds.
        """
        moment = _check_now(now)
        state = self._state
        transition = TRANSITIONS.get((state, type(event)))
        if transition is None:
            self._state = FlowState.ERROR
            ended = " (the flow has ended)" if state in FINAL_STATES else ""
            raise FlowError(
                f"{type(event).__name__} is not allowed in state {state.name}{ended}",
                state=state.name,
                event=type(event).__name__,
            )
        self._now = moment
        self._steps += 1
        action: Action
        if self._steps > self._limits.max_steps:
            action = self._fail(
                FlowLimitError(
                    f"no answer for {self._resource} after {self._limits.max_steps} steps "
                    "(max_steps)"
                )
            )
        else:
            handler = getattr(self, transition.handler)
            action = handler(event)
        if self._state not in transition.targets:
            landed = self._state
            self._state = FlowState.ERROR
            raise FlowError(
                f"internal error: {transition.handler} left the flow in {landed.name}",
                state=state.name,
                event=type(event).__name__,
            )
        return action

    # -- handlers named by the transition table ------------------------------------------------

    def _on_start(self, event: Started) -> Action:
        return self._send(self._outgoing)

    def _on_transport_failed(self, event: TransportFailed) -> Action:
        out = self._outgoing
        return self._fail(
            TransportError(
                f"the {out.purpose} request to {origin_of(out.url)} got no answer: {event.reason}",
                retryable=True,
            )
        )

    def _on_resource_response(self, event: ResponseReceived) -> Action:
        return self._resource_answer(event.response, None)

    def _on_metadata_response(self, event: ResponseReceived) -> Action:
        response = event.response
        need = self._need
        assert need is not None
        ps = need.ps
        if response.status != 200:
            return self._fail(
                MetadataFetchError(
                    f"the Person Server metadata of {ps} answered {response.status}",
                    code="server_error" if response.status >= 500 else "invalid_request",
                    retryable=response.status >= 500,
                    status=response.status,
                )
            )
        try:
            metadata = parse_person_metadata(
                response.body,
                expected_issuer=ps,
                allow_insecure_loopback_for_development=self._dev,
                max_size=self._limits.max_response_body,
            )
        except MetadataError as exc:
            return self._fail(
                MetadataFetchError(
                    f"the Person Server metadata of {ps} is unusable: {exc.message}",
                    code=exc.code,
                    status=response.status,
                )
            )
        lifetime = freshness_lifetime(response.headers, now=self._now)
        ttl = METADATA_DEFAULT_TTL if lifetime is None else lifetime
        ttl = min(max(ttl, METADATA_MIN_TTL), METADATA_MAX_TTL)
        self._store.put_ps_metadata(ps, metadata, expires_at=self._now + ttl)
        return self._send_token_request(metadata)

    def _on_token_response(self, event: ResponseReceived) -> Action:
        return self._ps_answer(event.response, polling=False)

    def _on_pending_response(self, event: ResponseReceived) -> Action:
        pending = self._pending
        assert pending is not None
        if pending.at_resource:
            return self._resource_answer(event.response, pending)
        return self._ps_answer(event.response, polling=True)

    def _on_sleep_completed(self, event: SleepCompleted) -> Action:
        out = self._after_sleep
        assert out is not None
        self._after_sleep = None
        return self._send(out)

    def _on_interaction_started(self, event: InteractionStarted) -> Action:
        pending = self._pending
        assert pending is not None
        return self._sleep_then(self._poll_outgoing(pending), pending.interval + self._slowdown)

    def _on_clarification_answered(self, event: ClarificationAnswered) -> Action:
        pending = self._pending
        assert pending is not None and pending.question is not None
        pending.answered = pending.question.question
        pending.question = None
        # AAuth -11 §"Clarification Required": POST to the pending URL with the action member
        body = _encode({"action": "clarification_response", "clarification_response": event.text})
        return self._send(
            self._out(
                Purpose.CLARIFICATION_RESPONSE,
                "POST",
                pending.url,
                _JSON,
                body,
                to_resource=pending.at_resource,
            )
        )

    def _on_clarification_declined(self, event: ClarificationDeclined) -> Action:
        pending = self._pending
        assert pending is not None
        # AAuth -11 §"Clarification Required": DELETE the pending URL; afterwards it is 410
        return self._send(
            self._out(Purpose.CANCEL, "DELETE", pending.url, (), to_resource=pending.at_resource),
            check_deadline=False,
        )

    def _on_cancel_answered(self, event: ResponseReceived | TransportFailed) -> Action:
        status = event.response.status if isinstance(event, ResponseReceived) else None
        return self._fail(
            Declined(
                "the application declined the clarification question; the pending request "
                f"at {origin_of(self._outgoing.url)} was cancelled",
                status=status,
            )
        )

    # -- answers -------------------------------------------------------------------------------

    def _resource_answer(self, response: HttpResponse, pending: _Pending | None) -> Action:
        """An answer from the resource: to the application's request (``pending is None``) or
        to a poll of the resource's pending URL."""
        self._note_session(response)
        status = response.status
        try:
            if status == 401:
                info = read_signature_error(response)
                if info is not None:
                    return self._signature_error(info, response)
            requirement: Requirement | None = None
            if status in (202, 401, 402):
                requirement = self._requirement(response)
            if isinstance(requirement, AgentTokenRequired):
                return self._agent_token_challenge()
            if isinstance(requirement, PersonTokenRequired):
                self._resume_pending = pending
                return self._person_token_challenge()
            if isinstance(requirement, AuthTokenRequired):
                # the 202 form holds the invocation: poll its Location with the auth token
                self._resume_pending = (
                    self._new_pending(response, at_resource=True) if status == 202 else pending
                )
                return self._auth_token_challenge(requirement.resource_token)
            if requirement is not None and not isinstance(
                requirement, (InteractionRequired, ApprovalPending, ClarificationRequired)
            ):
                raise ChallengeError(
                    f"requirement={requirement.value} is sent by an Access Server to a Person "
                    "Server, never to an agent",
                    status=status,
                )
            if status == 202 and (requirement is not None or pending is not None):
                if pending is None:
                    pending = self._new_pending(response, at_resource=True)
                return self._pending_answer(response, pending, requirement)
            if pending is not None:
                if status in (429, 503):
                    return self._retry_later(response, slow_down=status == 429)
                if status in (403, 408, 410):
                    return self._fail(
                        pending_error(response, what=f"pending request at {self._resource}")
                    )
        except AAuthError as exc:
            return self._fail(exc)
        # anything else is the resource's own answer (including a 401/402 without an AAuth
        # challenge, and a 202 without AAuth-Requirement to the first request)
        self._state = FlowState.DONE
        return Deliver(response=response)

    def _ps_answer(self, response: HttpResponse, *, polling: bool) -> Action:
        """An answer from the Person Server: to a token request or to a poll of its pending
        URL."""
        need = self._need
        assert need is not None
        what = f"{need.kind.value} request to {need.ps}"
        status = response.status
        try:
            if status == 200:
                return self._accept_token(response, need)
            if status == 202:
                requirement = self._requirement(response)
                if requirement is not None and not isinstance(
                    requirement, (InteractionRequired, ApprovalPending, ClarificationRequired)
                ):
                    raise ChallengeError(
                        f"the Person Server sent requirement={requirement.value}, which it "
                        "never sends to an agent",
                        status=status,
                    )
                pending = self._pending
                if not polling or pending is None:
                    pending = self._new_pending(response, at_resource=False)
                return self._pending_answer(response, pending, requirement)
            if status == 401:
                info = read_signature_error(response)
                if info is not None:
                    return self._signature_error(info, response)
            if status in (429, 503):
                return self._retry_later(response, slow_down=status == 429)
            if status in (403, 408, 410):
                return self._fail(pending_error(response, what=what))
            return self._fail(endpoint_error(response, what=what))
        except AAuthError as exc:
            return self._fail(exc)

    def _requirement(self, response: HttpResponse) -> Requirement | None:
        try:
            return read_requirement(response, dev=self._dev)
        except ChallengeError as exc:
            # AAuth -11 §"Requirement Values": an unknown value MUST NOT be treated as
            # satisfiable; on a 202 the agent MAY keep polling, which it does, as for approval
            if response.status == 202 and exc.code == "unsupported_requirement":
                return _POLL_ONLY
            raise

    def _new_pending(self, response: HttpResponse, *, at_resource: bool) -> _Pending:
        url = location(response, base=self._outgoing.url)
        if url is None:
            raise MalformedResponseError(
                f"a 202 from {origin_of(self._outgoing.url)} has no Location "
                "(AAuth -11: REQUIRED on every deferred answer)",
                status=response.status,
            )
        return _Pending(url=url, at_resource=at_resource, interval=self._limits.default_retry_after)

    def _pending_answer(
        self, response: HttpResponse, pending: _Pending, requirement: Requirement | None
    ) -> Action:
        """A ``202``: remember where and how often to poll, prompt if needed, then wait."""
        self._pending = pending
        url = location(response, base=self._outgoing.url)
        if url is not None:
            pending.url = url
        pending.interval = retry_after(
            response, now=self._now, default=self._limits.default_retry_after
        )
        if isinstance(requirement, InteractionRequired):
            shown = (requirement.url, requirement.code)
            if pending.prompted != shown:
                pending.prompted = shown
                try:
                    shown_url = user_url(
                        requirement.url,
                        requirement.code,
                        callback=self._agent.callback_url,
                        dev=self._dev,
                    )
                except RemoteError as exc:
                    raise ChallengeError(
                        f"the interaction cannot be shown: {exc.message}", status=response.status
                    ) from None
                return self._prompt(
                    PromptInteraction(
                        url=requirement.url, code=requirement.code, user_url=shown_url
                    ),
                    FlowState.AWAIT_INTERACTION,
                )
        elif requirement is None or isinstance(requirement, ClarificationRequired):
            question = clarification_prompt(response, max_body=self._limits.max_response_body)
            if question is None and requirement is not None:
                raise MalformedResponseError(
                    "requirement=clarification without a clarification question in the body",
                    status=response.status,
                )
            # requirement=clarification asks (again, even the same words: another round);
            # mockin repeats an open question on polls without the header, so a bare body
            # question is answered unless it is the one just answered
            if question is not None and (
                requirement is not None or question.question != pending.answered
            ):
                pending.question = question
                return self._prompt(question, FlowState.AWAIT_CLARIFICATION)
        return self._sleep_then(self._poll_outgoing(pending), pending.interval + self._slowdown)

    def _retry_later(self, response: HttpResponse, *, slow_down: bool) -> Action:
        """``429`` (AAuth -11: add 5 s to the interval, for the rest of the flow) or ``503``
        (back off per ``Retry-After``): send the same request again after the wait."""
        if slow_down:
            self._slowdown += self._limits.slow_down_increment
        wait = retry_after(response, now=self._now, default=self._limits.default_retry_after)
        return self._sleep_then(self._outgoing, wait + self._slowdown)

    def _accept_token(self, response: HttpResponse, need: _Need) -> Action:
        what = f"{need.kind.value} request to {need.ps}"
        body = json_object(response, what=what, max_body=self._limits.max_response_body)
        credential = self._current_credential()
        member = "person_token" if need.kind is _Kind.PERSON else "auth_token"
        token = body.get(member)
        if not isinstance(token, str) or not token:
            raise TokenEndpointError(
                f"the {what} answered 200 without a {member!r} string",
                code="invalid_response",
                status=response.status,
            )
        if need.kind is _Kind.PERSON:
            cached = check_person_token(
                token,
                resource=self._resource,
                ps=need.ps,
                thumbprint=credential.thumbprint,
                now=self._now,
            )
        else:
            assert need.resource_token is not None
            cached = check_auth_token(
                token,
                resource=self._resource,
                thumbprint=credential.thumbprint,
                now=self._now,
                resource_token=need.resource_token,
            )
        expires_in = body.get("expires_in")
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0:
            # the earlier of exp and expires_in (AAuth -11 §"Token Endpoint" response)
            limit = self._now + expires_in
            if limit < cached.expires_at:
                cached = CachedToken(
                    token=cached.token,
                    expires_at=limit,
                    thumbprint=cached.thumbprint,
                    subject=cached.subject,
                )
        if need.kind is _Kind.PERSON:
            self._store.put_person_token(self._resource, cached)
        else:
            self._store.put_auth_token(self._resource, cached)
        self._fresh[need.kind] = cached
        self._need = None
        return self._resume()

    def _resume(self) -> Action:
        """With the token in hand: poll the resource's pending URL again (the held invocation
        or the poll that was challenged) or resend the application's request."""
        held = self._resume_pending
        self._resume_pending = None
        self._pending = held
        if held is not None:
            return self._send(self._poll_outgoing(held))
        return self._send(self._resource_outgoing())

    # -- challenges ----------------------------------------------------------------------------

    def _agent_token_challenge(self) -> Action:
        """AAuth -11 §"Agent Token Required": retry signed with the agent token."""
        kind, sent_session = self._presented
        if self._agent_retried or (kind is _Kind.AGENT and not sent_session):
            raise ChallengeError(
                f"{self._resource} asked for an agent token although the request presented one",
                status=401,
            )
        self._agent_retried = True
        # the route wants the agent's own identity: present the agent token, keeping the
        # person and auth tokens, which the resource's other routes may still want
        self._agent_only = True
        if sent_session:
            self._store.drop_session_token(self._resource)
        return self._send(self._outgoing)

    def _person_token_challenge(self) -> Action:
        """AAuth -11 §"Person Token Required": a person token from the PS, then retry."""
        kind, _ = self._presented
        if kind is _Kind.PERSON and _Kind.PERSON in self._fresh:
            raise ChallengeError(
                f"{self._resource} asked for a person token again after refusing the one just "
                "obtained",
                status=401,
            )
        self._agent_only = False
        self._forget(_Kind.PERSON)
        self._forget(_Kind.AUTH)
        return self._request_token(_Kind.PERSON, None)

    def _auth_token_challenge(self, resource_token: str) -> Action:
        """AAuth -11 §"Auth Token Required" and step-up: check the resource token, exchange it
        at the PS, retry."""
        credential = self._current_credential()
        ps = self._person_server(credential)
        fresh_person = self._fresh.get(_Kind.PERSON)
        subject = (
            fresh_person.subject
            if fresh_person is not None
            else self._store.subject(self._resource)
        )
        facts = check_resource_token(
            resource_token,
            resource=self._resource,
            ps=ps,
            thumbprint=credential.thumbprint,
            now=self._now,
            subject=subject,
        )
        self._agent_only = False
        self._forget(_Kind.AUTH)
        return self._request_token(_Kind.AUTH, facts)

    def _forget(self, kind: _Kind) -> None:
        """Drop the person or auth token (the agent token is never forgotten)."""
        self._fresh.pop(kind, None)
        if kind is _Kind.PERSON:
            self._store.drop_person_token(self._resource)
        else:
            self._store.drop_auth_token(self._resource)

    def _person_server(self, credential: AgentCredential) -> str:
        ps = self._agent.person_server or credential.person_server
        if ps is None:
            raise CredentialsError(
                f"{self._resource} requires a person or auth token, and the agent has no Person "
                "Server (none configured, no 'ps' claim in the agent token)"
            )
        return ps

    def _request_token(self, kind: _Kind, resource_token: ResourceTokenFacts | None) -> Action:
        ps = self._person_server(self._current_credential())
        if self._token_requests >= self._limits.max_token_requests:
            raise FlowLimitError(
                f"{self._resource} still challenges after {self._token_requests} token requests "
                "(max_token_requests)"
            )
        self._need = _Need(kind, ps, resource_token)
        metadata = self._store.ps_metadata(ps, now=self._now)
        if metadata is not None:
            return self._send_token_request(metadata)
        url = _well_known_url(ps, DWK_PERSON, allow_insecure_loopback_for_development=self._dev)
        return self._send(self._out(Purpose.PS_METADATA, "GET", url, _ACCEPT_JSON))

    def _send_token_request(self, metadata: PersonServerMetadata) -> Action:
        need = self._need
        assert need is not None
        self._token_requests += 1
        body: dict[str, object]
        if need.kind is _Kind.PERSON:
            # AAuth -11 §"Person Token Endpoint": resource REQUIRED
            purpose, url = Purpose.PERSON_TOKEN, metadata.person_token_endpoint
            body = {"resource": self._resource}
        else:
            # AAuth -11 §"Auth Token Endpoint": resource_token REQUIRED
            assert need.resource_token is not None
            purpose, url = Purpose.AUTH_TOKEN, metadata.auth_token_endpoint
            body = {"resource_token": need.resource_token.token}
        if self._agent.capabilities:
            # AAuth -11: on PS endpoints capabilities travel in the body, not the header
            body["capabilities"] = list(self._agent.capabilities)
        return self._send(self._out(purpose, "POST", url, _JSON, _encode(body)))

    def _signature_error(self, info: SignatureErrorInfo, response: HttpResponse) -> Action:
        """signature-key-08 §3.3: retry once per code where a retry can help."""
        out = self._outgoing
        origin = _origin(out.url)
        code = info.code[:64]
        if code in self._sig_retried:
            raise SignatureRejectedError(
                f"{origin} refused the {out.purpose} signature again ({code}) after a retry",
                code=code,
                status=response.status,
            )
        self._sig_retried.add(code)
        credential = self._current_credential()
        if code == "unsupported_algorithm":
            accepted = accepted_algorithms(response)
            usable = [
                alg
                for alg in accepted
                if alg != credential.algorithm and alg in self._agent.credentials.algorithms
            ]
            if not usable:
                named = ", ".join(accepted)[:120] or "none named"
                raise SignatureRejectedError(
                    f"{origin} does not accept {credential.algorithm} signatures (it accepts: "
                    f"{named}) and the agent has no credential for those",
                    code=code,
                    status=response.status,
                )
            self._alg = usable[0]
            self._store.put_algorithm(self._resource, usable[0])
            self._fresh.clear()  # bound to the previous key
        elif code == "invalid_input":
            required = self._required_components(info, origin, response)
            known = self._store.components(origin)
            self._store.put_components(origin, tuple(dict.fromkeys((*known, *required))))
        elif code == "expired_jwt":
            kind = self._presented[0] if out.to_resource else _Kind.AGENT
            if kind is _Kind.AGENT:
                self._agent.credentials.renew()
            else:
                self._forget(kind)
        elif code != "invalid_signature":
            raise SignatureRejectedError(
                f"{origin} refused the {out.purpose} signature: {code}",
                code=code,
                status=response.status,
            )
        return self._send(out)

    @staticmethod
    def _required_components(
        info: SignatureErrorInfo, origin: str, response: HttpResponse
    ) -> tuple[str, ...]:
        if not info.required_input:
            raise SignatureRejectedError(
                f"{origin} answered invalid_input without naming the required components",
                code="invalid_input",
                status=response.status,
            )
        try:
            return tuple(ComponentId.parse(c).serialized for c in info.required_input)
        except LocalError:
            raise SignatureRejectedError(
                f"{origin} asked to cover something that is not a component identifier",
                code="invalid_input",
                status=response.status,
            ) from None

    # -- sending -------------------------------------------------------------------------------

    def _out(
        self,
        purpose: Purpose,
        method: str,
        url: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes = b"",
        *,
        to_resource: bool = False,
    ) -> _Outgoing:
        dialled = dial_url(url, self._agent.transport_map)
        return _Outgoing(purpose, url, HttpRequest(method, dialled, headers, body), to_resource)

    def _resource_outgoing(self) -> _Outgoing:
        request = self._request
        dialled = dial_url(request.url, self._agent.transport_map)
        if dialled != request.url:
            request = HttpRequest(request.method, dialled, request.headers, request.body)
        return _Outgoing(Purpose.RESOURCE, self._request.url, request, to_resource=True)

    def _poll_outgoing(self, pending: _Pending) -> _Outgoing:
        if pending.at_resource:
            headers = tuple(
                (k, v) for k, v in self._request.headers if k.lower() not in _NOT_ON_POLLS
            )
        else:
            headers = _ACCEPT_JSON
        return self._out(Purpose.POLL, "GET", pending.url, headers, to_resource=pending.at_resource)

    def _elapsed(self) -> int:
        return self._now - self._started_at

    def _deadline_error(self, what: str) -> FlowLimitError:
        return FlowLimitError(
            f"{what} would go past max_total_wait ({self._limits.max_total_wait} s) for "
            f"{self._resource}; waited {self._elapsed()} s"
        )

    def _send(self, out: _Outgoing, *, check_deadline: bool = True) -> Action:
        if check_deadline and self._elapsed() > self._limits.max_total_wait:
            return self._fail(self._deadline_error(f"another {out.purpose} request"))
        self._outgoing = out
        try:
            request = self._build(out)
        except AAuthError as exc:
            return self._fail(exc)
        self._state = _AWAIT[out.purpose]
        return SendRequest(
            request=request,
            purpose=out.purpose,
            deliverable=out.to_resource and out.purpose is not Purpose.CANCEL,
            max_body=self._limits.max_response_body,
        )

    def _sleep_then(self, out: _Outgoing, seconds: int) -> Action:
        if seconds <= 0:
            return self._send(out)
        if self._elapsed() + seconds > self._limits.max_total_wait:
            return self._fail(self._deadline_error(f"waiting {seconds} s before the {out.purpose}"))
        self._after_sleep = out
        self._state = FlowState.SLEEPING
        return Sleep(seconds=seconds)

    def _prompt(self, action: PromptInteraction | PromptClarification, state: FlowState) -> Action:
        if self._elapsed() > self._limits.max_total_wait:
            return self._fail(self._deadline_error("a prompt to the application"))
        self._state = state
        return action

    def _fail(self, error: AAuthError) -> Action:
        self._state = FlowState.FAILED
        return Fail(error=error)

    def _current_credential(self) -> AgentCredential:
        credential = self._agent.credentials.current(now=self._now, algorithm=self._alg)
        self._credential = credential
        return credential

    def _resource_credential(self, credential: AgentCredential) -> tuple[_Kind, str]:
        """The best credential for the resource: auth token, person token, agent token."""
        if self._agent_only:
            return _Kind.AGENT, credential.token
        margin = self._limits.token_refresh_margin
        for kind in (_Kind.AUTH, _Kind.PERSON):
            fresh = self._fresh.get(kind)
            if (
                fresh is not None
                and fresh.thumbprint == credential.thumbprint
                and self._now < fresh.expires_at
            ):
                # obtained in this flow: used even inside the refresh margin, or the flow
                # would ask for it again and again
                return kind, fresh.token
            lookup = self._store.auth_token if kind is _Kind.AUTH else self._store.person_token
            cached = lookup(
                self._resource, thumbprint=credential.thumbprint, now=self._now, margin=margin
            )
            if cached is not None:
                return kind, cached.token
        return _Kind.AGENT, credential.token

    def _build(self, out: _Outgoing) -> HttpRequest:
        """The request to send: transport-mapped, with AAuth headers, signed."""
        base = out.base
        if out.purpose is Purpose.PS_METADATA:
            return base
        credential = self._current_credential()
        added: list[tuple[str, str]] = []
        if out.to_resource:
            kind, token = self._resource_credential(credential)
            session = self._store.session_token(self._resource)
            sent_session = False
            if session is not None and not base.has_header("authorization"):
                # AAuth -11 §"AAuth-Access": later calls send Authorization: AAuth <token>
                added.append(("Authorization", build_authorization(session)))
                sent_session = True
            if self._agent.capabilities and not base.has_header("aauth-capabilities"):
                added.append(("AAuth-Capabilities", self._agent.capabilities_header))
            self._presented = (kind, sent_session)
        else:
            token = credential.token
        wait = self._limits.prefer_wait
        if wait is not None and out.purpose is not Purpose.CANCEL and not base.has_header("prefer"):
            added.append(("Prefer", build_prefer_wait(wait)))
        request = base.with_headers(added) if added else base
        return sign_request(
            request,
            credential.key,
            signature_key=token,
            created=self._now,
            components=self._components(request, _origin(out.url)),
        )

    def _components(self, request: HttpRequest, origin: str) -> tuple[str, ...]:
        """AAuth -11 §"Covered Components" for this request (the one rule in
        :func:`~aauth.signing.default_components`), plus the server's extras before
        ``signature-key``."""
        covered = default_components(request)
        extras = self._store.components(origin)
        if not extras:
            return covered
        base = list(covered[:-1])  # signature-key goes last
        seen = {ComponentId.parse(name).serialized for name in covered}
        for extra in extras:
            component = ComponentId.parse(extra)
            if component.serialized in seen:
                continue
            if not component.is_derived and not request.has_header(component.name):
                raise SignatureRejectedError(
                    f"{origin} requires {component.serialized} to be covered and the "
                    "request has no such field",
                    code="invalid_input",
                )
            seen.add(component.serialized)
            base.append(component.name if not component.params else extra)
        base.append("signature-key")
        return tuple(base)

    def _note_session(self, response: HttpResponse) -> None:
        """AAuth -11 §"AAuth-Access": the newest value replaces the old one. A malformed value
        is not used (recipients MUST reject it) and does not fail the answer it came with."""
        try:
            token = read_aauth_access(response)
        except HeaderError:
            return
        if token is not None:
            self._store.put_session_token(self._resource, token)
