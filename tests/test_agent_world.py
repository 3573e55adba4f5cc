"""The agent engine against the in-memory fakes of ``tests/fakes`` (a PS, a resource and an AP
that verify everything the agent sends): every access mode end to end, deferred answers,
interaction, clarification, step-up, sessions, signature-error recovery, and faults. The fakes
were written from the spec by someone else, so passing here is a cross-check of our reading."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from aauth.agent import (
    Action,
    Agent,
    AgentLimits,
    ClarificationAnswered,
    ClarificationDeclined,
    Deliver,
    Event,
    Fail,
    InteractionStarted,
    PromptClarification,
    PromptInteraction,
    Purpose,
    ResponseReceived,
    SendRequest,
    Sleep,
    SleepCompleted,
    StaticAgentCredentials,
    TransportFailed,
)
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import EcP256Key
from tests.fakes import Defer, FakeNetworkError, FakeWorld, Fault, make_world


@dataclass
class Outcome:
    final: Deliver | Fail
    purposes: list[Purpose] = field(default_factory=list)
    prompts: list[Action] = field(default_factory=list)

    @property
    def body(self) -> dict[str, object]:
        assert isinstance(self.final, Deliver), self.final
        value = json.loads(self.final.response.body)
        assert isinstance(value, dict)
        return value

    @property
    def error(self) -> Exception:
        assert isinstance(self.final, Fail), self.final
        return self.final.error


def _agent(world: FakeWorld, **kwargs: object) -> Agent:
    credentials = kwargs.pop("credentials", None) or StaticAgentCredentials(
        world.agent_key, world.agent_token()
    )
    return Agent(credentials, capabilities=("interaction", "clarification"), **kwargs)  # type: ignore[arg-type]


def run(
    world: FakeWorld,
    agent: Agent,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
    on_interaction: Callable[[PromptInteraction], None] | None = None,
    answer: Callable[[PromptClarification], str | None] = lambda prompt: "the work calendar",
) -> Outcome:
    """A driver loop over the in-memory transport and the fake clock."""
    transport = world.memory_transport()
    clock = world.clock
    request = HttpRequest(method, world.resource.url(path), headers, body)
    flow = agent.start(request, now=clock())
    action = flow.next(now=clock())
    outcome = Outcome(final=Fail(error=AssertionError("unfinished")))  # type: ignore[arg-type]
    for _ in range(1000):
        event: Event
        if isinstance(action, SendRequest):
            outcome.purposes.append(action.purpose)
            try:
                response: HttpResponse = transport(action.request)
            except FakeNetworkError as exc:
                event = TransportFailed(reason=str(exc))
            else:
                event = ResponseReceived(response=response)
        elif isinstance(action, Sleep):
            clock.sleep(action.seconds)
            event = SleepCompleted()
        elif isinstance(action, PromptInteraction):
            outcome.prompts.append(action)
            if on_interaction is not None:
                on_interaction(action)
            event = InteractionStarted()
        elif isinstance(action, PromptClarification):
            outcome.prompts.append(action)
            text = answer(action)
            event = ClarificationDeclined() if text is None else ClarificationAnswered(text=text)
        else:
            assert isinstance(action, (Deliver, Fail))
            outcome.final = action
            return outcome
        action = flow.handle(event, now=clock())
    raise AssertionError("the flow did not finish")


@pytest.fixture
def world() -> FakeWorld:
    return make_world()


def _identity(outcome: Outcome) -> str:
    """How the resource saw the caller (``agent``, ``person``, ``auth``, ``session``)."""
    kind = outcome.body.get("as")
    assert isinstance(kind, str)
    return kind


def test_agent_token_mode(world: FakeWorld) -> None:
    outcome = run(world, _agent(world), "/agent/hello")
    assert outcome.purposes == [Purpose.RESOURCE]
    assert _identity(outcome) == "agent"


def test_person_token_mode(world: FakeWorld) -> None:
    agent = _agent(world)
    outcome = run(world, agent, "/person/me")
    assert outcome.purposes == [
        Purpose.RESOURCE,
        Purpose.PS_METADATA,
        Purpose.PERSON_TOKEN,
        Purpose.RESOURCE,
    ]
    assert _identity(outcome) == "person"
    # cached: the next call presents the person token at once
    assert run(world, agent, "/person/again").purposes == [Purpose.RESOURCE]


def test_auth_token_mode_then_reuse_then_step_up(world: FakeWorld) -> None:
    agent = _agent(world)
    outcome = run(world, agent, "/auth/items")
    assert outcome.purposes == [
        Purpose.RESOURCE,
        Purpose.PS_METADATA,
        Purpose.PERSON_TOKEN,
        Purpose.RESOURCE,
        Purpose.AUTH_TOKEN,
        Purpose.RESOURCE,
    ]
    assert _identity(outcome) == "auth"
    assert run(world, agent, "/auth/items").purposes == [Purpose.RESOURCE]
    # /admin needs data.write: the resource steps up with a new resource token
    stepped = run(world, agent, "/admin/settings")
    assert stepped.purposes == [Purpose.RESOURCE, Purpose.AUTH_TOKEN, Purpose.RESOURCE]
    assert _identity(stepped) == "auth"


def test_deferred_auth_token_form(world: FakeWorld) -> None:
    outcome = run(
        world,
        _agent(world),
        "/deferred/report",
        method="POST",
        body=b"{}",
        headers=(("Content-Type", "application/json"),),
    )
    assert outcome.purposes[-2:] == [Purpose.AUTH_TOKEN, Purpose.POLL]
    assert _identity(outcome) == "auth"
    assert len(world.resource.calls) == 1


def test_session_mode_with_interaction_and_rolling_tokens(world: FakeWorld) -> None:
    agent = _agent(world)
    outcome = run(
        world, agent, "/session/inbox", on_interaction=lambda p: world.resource.approve(p.code)
    )
    assert [type(p) for p in outcome.prompts] == [PromptInteraction]
    assert outcome.purposes == [Purpose.RESOURCE, Purpose.POLL]
    assert agent.store.session_token(world.resource.issuer) is not None
    again = run(world, agent, "/session/inbox")
    assert again.purposes == [Purpose.RESOURCE] and _identity(again) == "session"
    world.resource.rotate_session = True
    old = agent.store.session_token(world.resource.issuer)
    run(world, agent, "/session/inbox")
    assert agent.store.session_token(world.resource.issuer) not in (None, old)
    assert _identity(run(world, agent, "/session/inbox")) == "session"


@pytest.mark.parametrize("relative", [False, True])
def test_ps_interaction_for_the_person_token(world: FakeWorld, relative: bool) -> None:
    world.person_server.person_token_defer = Defer.INTERACTION
    world.person_server.relative_locations = relative
    world.person_server.retry_after = None  # the 5 s default
    outcome = run(
        world,
        _agent(world),
        "/person/me",
        on_interaction=lambda p: world.person_server.approve(p.code),
    )
    prompt = outcome.prompts[0]
    assert isinstance(prompt, PromptInteraction)
    assert prompt.user_url.startswith(f"{world.person_server.interaction_url}?code=")
    assert _identity(outcome) == "person"
    assert world.clock.slept == [5]


def test_ps_approval_after_several_polls(world: FakeWorld) -> None:
    world.person_server.auth_token_defer = Defer.APPROVAL
    world.person_server.approval_polls = 3
    world.person_server.retry_after = 2
    outcome = run(world, _agent(world), "/auth/items")
    assert outcome.purposes.count(Purpose.POLL) == 3
    assert world.clock.slept == [2, 2, 2]


def test_ps_clarification_two_rounds(world: FakeWorld) -> None:
    world.person_server.auth_token_defer = Defer.CLARIFICATION
    world.person_server.clarification_rounds = 2
    world.person_server.clarification_options = ["work", "home"]
    outcome = run(world, _agent(world), "/auth/items")
    questions = [p for p in outcome.prompts if isinstance(p, PromptClarification)]
    assert len(questions) == 2 and questions[0].options == ("work", "home")
    assert world.person_server.clarification_answers == ["the work calendar"] * 2
    assert _identity(outcome) == "auth"


def test_ps_clarification_declined(world: FakeWorld) -> None:
    world.person_server.person_token_defer = Defer.CLARIFICATION
    outcome = run(world, _agent(world), "/person/me", answer=lambda prompt: None)
    assert getattr(outcome.error, "code", None) == "declined"
    assert world.person_server.last_pending.state == "cancelled"


def test_ps_denial(world: FakeWorld) -> None:
    world.person_server.person_token_defer = Defer.INTERACTION
    outcome = run(
        world,
        _agent(world),
        "/person/me",
        on_interaction=lambda p: world.person_server.deny(p.code),
    )
    assert getattr(outcome.error, "code", None) == "denied"


def test_pending_forever_ends_at_max_total_wait(world: FakeWorld) -> None:
    world.person_server.person_token_defer = Defer.FOREVER
    world.person_server.retry_after = 7
    outcome = run(world, _agent(world, limits=AgentLimits(max_total_wait=60)), "/person/me")
    assert getattr(outcome.error, "code", None) == "flow_limit_exceeded"
    assert world.clock.now() - 1_767_225_600 <= 60


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.HTML, "invalid_response"),
        (Fault.HTML_ERROR, "server_error"),
        (Fault.GARBAGE_JSON, "invalid_response"),
        (Fault.EMPTY_JSON, "invalid_response"),
        (Fault.SERVER_ERROR, "server_error"),
        (Fault.USER_UNREACHABLE, "user_unreachable"),
        (Fault.DROP, "transport_failure"),
    ],
)
def test_token_endpoint_faults(world: FakeWorld, fault: Fault, code: str) -> None:
    world.person_server.auth_token_fault = fault
    outcome = run(world, _agent(world), "/auth/items")
    assert getattr(outcome.error, "code", None) == code


@pytest.mark.parametrize(
    ("faults", "code"),
    [
        ([Fault.SLOW_DOWN, Fault.UNAVAILABLE, Fault.UNKNOWN_STATUS], None),
        ([Fault.EXPIRED], "expired"),
        ([Fault.GONE], "invalid_request"),
        ([Fault.ABANDONED], "abandoned"),
        ([Fault.DROP], "transport_failure"),
    ],
)
def test_poll_faults(world: FakeWorld, faults: list[Fault], code: str | None) -> None:
    world.person_server.auth_token_defer = Defer.APPROVAL
    world.person_server.approval_polls = 1
    world.person_server.poll_faults = list(faults)
    outcome = run(world, _agent(world), "/auth/items")
    if code is None:
        assert _identity(outcome) == "auth"
        # 429 adds 5 s to every later wait; 503 and the unknown status wait Retry-After 0
        assert world.clock.slept == [10, 5, 5]
    else:
        assert getattr(outcome.error, "code", None) == code


def test_metadata_fault(world: FakeWorld) -> None:
    world.person_server.metadata_fault = Fault.HTML
    outcome = run(world, _agent(world), "/person/me")
    assert getattr(outcome.error, "code", None) == "invalid_key"


def test_strict_route_asks_for_query_coverage(world: FakeWorld) -> None:
    agent = _agent(world)
    outcome = run(world, agent, "/strict/search?q=1")
    assert outcome.purposes == [Purpose.RESOURCE, Purpose.RESOURCE]
    assert _identity(outcome) == "agent"
    assert run(world, agent, "/strict/search?q=2").purposes == [Purpose.RESOURCE]


def test_es256_route_switches_to_an_es256_credential(world: FakeWorld) -> None:
    ec_key = EcP256Key.generate(b"\x07" * 32)
    credentials = StaticAgentCredentials(
        world.agent_key,
        world.agent_token(),
        alternates=[(ec_key, world.agent_provider.mint(ec_key, now=world.clock()))],
    )
    outcome = run(world, _agent(world, credentials=credentials), "/es256/x")
    assert outcome.purposes == [Purpose.RESOURCE, Purpose.RESOURCE]
    assert _identity(outcome) == "agent"


def test_es256_route_without_an_es256_credential_fails_clearly(world: FakeWorld) -> None:
    outcome = run(world, _agent(world), "/es256/x")
    assert getattr(outcome.error, "code", None) == "unsupported_algorithm"


@pytest.mark.parametrize(
    ("code", "recovers"), [("invalid_signature", True), ("unknown_key", False)]
)
def test_forced_signature_errors(world: FakeWorld, code: str, recovers: bool) -> None:
    world.resource.signature_errors = [code]
    outcome = run(world, _agent(world), "/agent/x")
    if recovers:
        assert _identity(outcome) == "agent"
    else:
        assert getattr(outcome.error, "code", None) == code


def test_transport_map_over_the_in_memory_transport(world: FakeWorld) -> None:
    # identifiers stay https; the fakes are reached through mapped origins
    mapped = {
        world.resource.issuer: "http://127.0.0.1:9001",
        world.person_server.issuer: "http://127.0.0.1:9002",
    }
    agent = _agent(world, transport_map=mapped)
    transport = world.memory_transport()
    # the fakes verify the authority the agent dialled and signed, and route on the path
    transport.handlers = {
        "http://127.0.0.1:9001": world.resource.handle,
        "http://127.0.0.1:9002": world.person_server.handle,
    }
    flow = agent.start(HttpRequest("GET", world.resource.url("/auth/items")), now=world.clock())
    action = flow.next(now=world.clock())
    while isinstance(action, SendRequest):
        action = flow.handle(
            ResponseReceived(response=transport(action.request)), now=world.clock()
        )
    assert isinstance(action, Deliver), action
    assert action.response.status == 200
