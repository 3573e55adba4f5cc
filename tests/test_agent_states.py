"""The agent flow's transition table, driven over every (state, event) pair (design §3, like h2's
``test_state_machines``): a pair in the table is a legal transition to one of its targets; any
other pair raises our :class:`FlowError` and leaves the flow in ``ERROR``, which refuses
everything after. Nothing else may happen, whatever the event carries. A random walk shows a
flow always ends (``Deliver`` or ``Fail``) within its limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aauth.agent.flow as flow_module
from aauth.aauth_headers import (
    ApprovalPending,
    ClarificationRequired,
    InteractionRequired,
    PersonTokenRequired,
    build_aauth_requirement,
)
from aauth.agent import (
    EVENT_TYPES,
    FINAL_STATES,
    TRANSITIONS,
    Action,
    AgentFlow,
    AgentLimits,
    ClarificationAnswered,
    ClarificationDeclined,
    Deliver,
    Event,
    Fail,
    FlowError,
    FlowState,
    InteractionStarted,
    PromptClarification,
    PromptInteraction,
    ResponseReceived,
    SendRequest,
    Sleep,
    SleepCompleted,
    Started,
    Transition,
    TransportFailed,
)
from aauth.http import HttpRequest, HttpResponse
from tests.test_agent_support import (
    API_URL,
    PS,
    PS_METADATA,
    RESOURCE,
    T0,
    auth_challenge,
    auth_token,
    challenge,
    deferred,
    interaction,
    make_agent,
    ok,
    person_token,
    problem,
    resource_token,
    response,
)

PENDING_RES = f"{RESOURCE}/pending/r1"
PENDING_PS = f"{PS}/pending/p1"
ACTION_TYPES = (SendRequest, Sleep, PromptInteraction, PromptClarification, Deliver, Fail)
STATE_OF_ACTION: dict[type, frozenset[FlowState]] = {
    Deliver: frozenset({FlowState.DONE}),
    Fail: frozenset({FlowState.FAILED}),
    Sleep: frozenset({FlowState.SLEEPING}),
    PromptInteraction: frozenset({FlowState.AWAIT_INTERACTION}),
    PromptClarification: frozenset({FlowState.AWAIT_CLARIFICATION}),
    SendRequest: frozenset(
        {
            FlowState.AWAIT_RESOURCE,
            FlowState.AWAIT_METADATA,
            FlowState.AWAIT_PERSON_TOKEN,
            FlowState.AWAIT_AUTH_TOKEN,
            FlowState.AWAIT_PENDING,
            FlowState.AWAIT_CANCEL,
        }
    ),
}


def _r(answer: HttpResponse) -> ResponseReceived:
    return ResponseReceived(response=answer)


METADATA = _r(response(200, [], PS_METADATA))
CLARIFY = _r(deferred(PENDING_RES, ClarificationRequired(), body={"clarification": "Why?"}))


@dataclass(frozen=True)
class Recipe:
    """Events that bring a fresh flow to ``state`` (``None``: do not even call ``next``)."""

    name: str
    state: FlowState
    events: tuple[Event, ...] | None

    def build(self) -> AgentFlow:
        flow = make_agent(capabilities=("interaction", "clarification")).start(
            HttpRequest("GET", API_URL), now=T0
        )
        if self.events is None:
            return flow
        flow.next(now=T0)
        for event in self.events:
            try:
                flow.handle(event, now=T0)
            except FlowError:
                break
        assert flow.state is self.state, (self.name, flow.state)
        return flow


RECIPES = (
    Recipe("fresh", FlowState.START, None),
    Recipe("sent", FlowState.AWAIT_RESOURCE, ()),
    Recipe("metadata", FlowState.AWAIT_METADATA, (_r(challenge(PersonTokenRequired())),)),
    Recipe(
        "person token",
        FlowState.AWAIT_PERSON_TOKEN,
        (_r(challenge(PersonTokenRequired())), METADATA),
    ),
    Recipe("auth token", FlowState.AWAIT_AUTH_TOKEN, (_r(auth_challenge()), METADATA)),
    Recipe(
        "held auth token",
        FlowState.AWAIT_AUTH_TOKEN,
        (_r(auth_challenge(status=202, location=PENDING_RES)), METADATA),
    ),
    Recipe(
        "resource poll", FlowState.AWAIT_PENDING, (_r(deferred(PENDING_RES, ApprovalPending())),)
    ),
    Recipe(
        "ps poll",
        FlowState.AWAIT_PENDING,
        (_r(challenge(PersonTokenRequired())), METADATA, _r(deferred(PENDING_PS))),
    ),
    Recipe(
        "clarification answer",
        FlowState.AWAIT_PENDING,
        (CLARIFY, ClarificationAnswered(text="because")),
    ),
    Recipe(
        "sleeping",
        FlowState.SLEEPING,
        (_r(deferred(PENDING_RES, ApprovalPending(), retry_after="5")),),
    ),
    Recipe("interaction", FlowState.AWAIT_INTERACTION, (_r(interaction(PENDING_RES)),)),
    Recipe("clarification", FlowState.AWAIT_CLARIFICATION, (CLARIFY,)),
    Recipe("cancel", FlowState.AWAIT_CANCEL, (CLARIFY, ClarificationDeclined())),
    Recipe("done", FlowState.DONE, (_r(ok()),)),
    Recipe("failed", FlowState.FAILED, (TransportFailed(reason="reset"),)),
    Recipe("error", FlowState.ERROR, (SleepCompleted(),)),
)

# ------------------------------------------------------------------------------ strategies

_REQUIREMENTS = [
    build_aauth_requirement(PersonTokenRequired()),
    "requirement=agent-token",
    f'requirement=auth-token;resource-token="{resource_token()}"',
    'requirement=auth-token;resource-token="x.y.z"',
    build_aauth_requirement(InteractionRequired(url=f"{RESOURCE}/consent", code="A1B2-C3D4")),
    "requirement=approval",
    "requirement=clarification",
    "requirement=claims",
    "requirement=future-thing",
    "requirement=auth-token",
    "((",
]
_HEADERS = st.one_of(
    st.tuples(st.just("AAuth-Requirement"), st.sampled_from(_REQUIREMENTS)),
    st.tuples(
        st.just("Location"),
        st.sampled_from([PENDING_RES, PENDING_PS, "/pending/rel", "https://evil.example/p", "::"]),
    ),
    st.tuples(st.just("Retry-After"), st.sampled_from(["0", "3", "99999", "soon", ""])),
    st.tuples(
        st.just("Signature-Error"),
        st.sampled_from(
            [
                "error=invalid_signature",
                "error=unsupported_algorithm",
                "error=invalid_input",
                'error=invalid_input, required_input=("@query")',
                "error=expired_jwt",
                "error=unknown_key",
                "garbage((",
            ]
        ),
    ),
    st.tuples(st.just("Accept-Signature-Alg"), st.sampled_from(["ES256", "Ed25519", "(("])),
    st.tuples(st.just("AAuth-Access"), st.sampled_from(["sess-1", "bad value", ""])),
    st.tuples(
        st.just("Content-Type"),
        st.sampled_from(["application/json", "application/problem+json", "text/html"]),
    ),
    st.tuples(st.text(max_size=10), st.text(max_size=20)),
)
_BODIES = st.one_of(
    st.sampled_from(
        [
            b"",
            PS_METADATA,
            json.dumps({"person_token": person_token()}).encode(),
            json.dumps({"auth_token": auth_token(), "expires_in": 10}).encode(),
            json.dumps({"auth_token": person_token()}).encode(),
            json.dumps({"error": "denied", "detail": "no"}).encode(),
            json.dumps({"status": "pending", "clarification": "Why?", "options": ["a"]}).encode(),
            b"<html>oops</html>",
            b"[1,2,3]",
            b"{",
        ]
    ),
    st.binary(max_size=64),
)
_STATUSES = st.one_of(
    st.sampled_from([200, 202, 204, 401, 402, 403, 404, 408, 410, 429, 500, 503]),
    st.integers(min_value=100, max_value=999),
)
_RANDOM_RESPONSES = st.builds(
    HttpResponse,
    _STATUSES,
    st.lists(_HEADERS, max_size=5).map(
        lambda pairs: [(k, v) for k, v in pairs if k and "\n" not in k]
    ),
    _BODIES,
)
# AAuth-shaped answers: a status that carries a requirement, with the requirement, a Location
# and a Retry-After most of the time, so the interesting branches are reached often
_AAUTH_RESPONSES = st.builds(
    lambda status, requirement, rest, body: HttpResponse(
        status, [("AAuth-Requirement", requirement), *rest], body
    ),
    st.sampled_from([401, 202, 402]),
    st.sampled_from(_REQUIREMENTS),
    st.lists(_HEADERS, max_size=3),
    _BODIES,
)
RESPONSES = st.one_of(_RANDOM_RESPONSES, _AAUTH_RESPONSES)


def _event(kind: type[Any]) -> st.SearchStrategy[Event]:
    if kind is ResponseReceived:
        return st.builds(ResponseReceived, response=RESPONSES)
    if kind is TransportFailed:
        return st.builds(TransportFailed, reason=st.text(max_size=50))
    if kind is ClarificationAnswered:
        return st.builds(ClarificationAnswered, text=st.text(max_size=50))
    return st.just(kind())


EVENTS = st.sampled_from(EVENT_TYPES).flatmap(_event)


def _check_transition(flow: AgentFlow, event: Event, now: int) -> None:
    state = flow.state
    transition = TRANSITIONS.get((state, type(event)))
    if transition is None:
        with pytest.raises(FlowError) as caught:
            flow.handle(event, now=now)
        assert caught.value.state == state.name and caught.value.event == type(event).__name__
        assert flow.state is FlowState.ERROR
        with pytest.raises(FlowError):  # ERROR refuses everything after
            flow.handle(Started(), now=now)
        assert flow.state is FlowState.ERROR
        return
    action = flow.handle(event, now=now)
    assert isinstance(action, ACTION_TYPES)
    assert flow.state in transition.targets, (state, type(event).__name__, flow.state)
    assert flow.state in STATE_OF_ACTION[type(action)], (type(action).__name__, flow.state)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe=st.sampled_from(RECIPES), event=EVENTS, delay=st.integers(0, 400))
def test_every_state_and_event_is_a_transition_or_a_flow_error(
    recipe: Recipe, event: Event, delay: int
) -> None:
    _check_transition(recipe.build(), event, T0 + delay)


_PLAIN_EVENTS: dict[type[Any], Event] = {
    Started: Started(),
    ResponseReceived: ResponseReceived(response=ok()),
    TransportFailed: TransportFailed(reason="reset"),
    SleepCompleted: SleepCompleted(),
    InteractionStarted: InteractionStarted(),
    ClarificationAnswered: ClarificationAnswered(text="x"),
    ClarificationDeclined: ClarificationDeclined(),
}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda k: k.__name__)
def test_each_pair_exhaustively(recipe: Recipe, kind: type[Any]) -> None:
    _check_transition(recipe.build(), _PLAIN_EVENTS[kind], T0)


def test_every_state_is_reached_by_some_recipe() -> None:
    assert {r.state for r in RECIPES} == set(FlowState)


# ------------------------------------------------------------------------------- the table


def test_table_handlers_exist_and_final_states_accept_nothing() -> None:
    for (state, kind), transition in TRANSITIONS.items():
        assert callable(getattr(AgentFlow, transition.handler)), transition.handler
        assert state not in FINAL_STATES
        assert kind in EVENT_TYPES
        assert FlowState.FAILED in transition.targets
        assert FlowState.ERROR not in transition.targets
    waiting = {state for state, _ in TRANSITIONS}
    assert waiting == set(FlowState) - FINAL_STATES


def test_every_state_but_error_is_reachable_in_the_table() -> None:
    reached = {FlowState.START}
    frontier = [FlowState.START]
    while frontier:
        state = frontier.pop()
        for (source, _), transition in TRANSITIONS.items():
            if source is state:
                for target in transition.targets - reached:
                    reached.add(target)
                    frontier.append(target)
    assert reached == set(FlowState) - {FlowState.ERROR}


def test_a_handler_landing_outside_its_targets_is_an_internal_flow_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = dict(TRANSITIONS)
    table[(FlowState.START, Started)] = Transition("_on_start", frozenset({FlowState.FAILED}))
    monkeypatch.setattr(flow_module, "TRANSITIONS", table)
    flow = make_agent().start(HttpRequest("GET", API_URL), now=T0)
    with pytest.raises(FlowError, match="internal error"):
        flow.next(now=T0)
    assert flow.state is FlowState.ERROR


def test_a_non_event_is_refused_like_an_unexpected_event() -> None:
    flow = make_agent().start(HttpRequest("GET", API_URL), now=T0)
    with pytest.raises(FlowError):
        flow.handle("ResponseReceived", now=T0)  # type: ignore[arg-type]
    assert flow.state is FlowState.ERROR


# --------------------------------------------------------------------------- random walks


def _answer_for(action: Action, data: st.DataObject) -> Event:
    if isinstance(action, SendRequest):
        if data.draw(st.booleans().map(lambda b: b and data.draw(st.integers(0, 9)) == 0)):
            return TransportFailed(reason="reset")
        return ResponseReceived(response=data.draw(_USEFUL_RESPONSES))
    if isinstance(action, Sleep):
        return SleepCompleted()
    if isinstance(action, PromptInteraction):
        return InteractionStarted()
    assert isinstance(action, PromptClarification)
    return data.draw(
        st.one_of(
            st.builds(ClarificationAnswered, text=st.text(max_size=10)),
            st.just(ClarificationDeclined()),
        )
    )


_USEFUL_RESPONSES = st.one_of(
    RESPONSES,
    st.sampled_from(
        [
            challenge(PersonTokenRequired()),
            auth_challenge(),
            auth_challenge(status=202, location=PENDING_RES),
            response(200, [], PS_METADATA),
            ok({"person_token": person_token()}),
            ok({"auth_token": auth_token()}),
            deferred(PENDING_RES, ApprovalPending()),
            deferred(PENDING_PS),
            interaction(PENDING_RES),
            deferred(PENDING_RES, ClarificationRequired(), body={"clarification": "Q?"}),
            problem(429, "slow_down"),
            problem(403, "denied"),
            ok(),
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), max_steps=st.integers(1, 40), max_wait=st.integers(0, 120))
def test_random_walks_always_end_within_the_limits(
    data: st.DataObject, max_steps: int, max_wait: int
) -> None:
    agent = make_agent(limits=AgentLimits(max_steps=max_steps, max_total_wait=max_wait))
    now = T0
    flow = agent.start(HttpRequest("GET", API_URL), now=now)
    action = flow.next(now=now)
    for _ in range(max_steps + 1):
        if isinstance(action, (Deliver, Fail)):
            assert flow.state in (FlowState.DONE, FlowState.FAILED)
            assert flow.steps <= max_steps + 1
            return
        if isinstance(action, Sleep):
            now += int(action.seconds)
        now += data.draw(st.integers(0, 3))
        action = flow.handle(_answer_for(action, data), now=now)
    raise AssertionError(f"no Deliver or Fail after {max_steps + 1} events: {action!r}")


def test_max_total_wait_bounds_the_time_of_any_walk() -> None:
    # a peer that always says "try again in 5 s": the flow stops before 5 minutes pass
    agent = make_agent()
    now = T0
    flow = agent.start(HttpRequest("GET", API_URL), now=now)
    action = flow.next(now=now)
    answer = deferred(PENDING_RES, ApprovalPending(), retry_after="5")
    while not isinstance(action, (Deliver, Fail)):
        if isinstance(action, Sleep):
            now += int(action.seconds)
            action = flow.handle(SleepCompleted(), now=now)
        else:
            action = flow.handle(ResponseReceived(response=answer), now=now)
    assert isinstance(action, Fail)
    assert now - T0 <= agent.limits.max_total_wait


Builder = Callable[[], AgentFlow]
