"""OUR agent engine, through each driver, against ``@hellocoop/mockin`` 2.0.0 as the Person
Server (issue 4 "Interop with code no one here wrote").

Every test runs through every driver of :data:`tests.interop.agent_world.DRIVERS`: httpx
``Client``, httpx ``AsyncClient`` on asyncio and on trio, the aiohttp middleware, the trio
client. The resource is our :class:`~tests.fakes.FakeResource` (trusting mockin's JWKS); the
Person Server is mockin, untouched, on 127.0.0.1 with the identifier ``https://ps.example``
(setup: :mod:`tests.interop.agent_world`).

Flows:

1. person token: ``401 requirement=person-token`` -> mockin's metadata -> signed POST to its
   ``person_token_endpoint`` -> retry with the person token -> ``200``; the next call reuses it.
2. auth token: ``401`` (and the ``202`` held form) ``requirement=auth-token`` with a resource
   token whose ``aud`` is mockin -> signed POST to its ``auth_token_endpoint`` -> retry (or
   poll the held call) with the auth token -> ``200``.
3. ``202`` at mockin with ``requirement=interaction`` (person and auth token endpoints,
   ``auto_approve: false``): the driver's ``on_interaction`` opens the prompt's ``user_url``
   (mockin's ``GET /aauth/consent?code=…``), then polling completes; ``requirement=approval``
   completes on the first poll; mockin's ``Retry-After: 5`` on later polls is honoured.
4. ``202`` at mockin with ``requirement=clarification``: ``on_clarification`` answers, the
   answer is POSTed to the pending URL, the next poll brings the auth token; declining DELETEs
   the pending request.

Plus mockin's refusals (``403 denied``, ``403 user_unreachable``) ending the flow typed.

Divergences met (details in ``/work/notes/mockin.md`` §9) and how they are handled here:

* mockin requires ``person_token_jti`` in resource tokens: the fake resource emits it next to
  ``presented_jti`` (``FakeResource(emit_legacy_person_token_jti=True)``, which passes
  :func:`aauth.tokens.create_resource_token`'s switch on).
* mockin's interaction codes are 8 random ``[A-Za-z0-9]``, not Crockford base32: the engine
  takes them verbatim (``user_url`` carries the code unchanged); ~1 run in 4 exercises a code
  with ``U``/``u``.
* mockin answers the clarification POST with ``202 {"status": "pending"}`` and no
  ``Retry-After``: the engine then waits its default 5 s (AAuth -11 §"Polling with GET");
  the clarification tests give the agent ``default_retry_after=0`` to stay fast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from aauth.agent import (
    AccessDenied,
    AgentLimits,
    Declined,
    PromptClarification,
    PromptInteraction,
    TokenEndpointError,
)
from aauth.tokens import AuthToken, PersonToken, check_key_binding
from tests.drivers.harness import HarnessResponse

from .agent_world import DRIVERS, AgentCall, DriverUnderTest, Flow, MockinWorld, mockin_world
from .conftest import MOCKIN_ISSUER
from .harness import Mockin

pytestmark = pytest.mark.interop

#: mockin's consent page (the ``url`` of its ``requirement=interaction``).
CONSENT = f"{MOCKIN_ISSUER}/aauth/consent"
#: Agent limits for flows where mockin sends no ``Retry-After`` (its clarification POST answer).
NO_DEFAULT_WAIT = AgentLimits(default_retry_after=0)


@pytest.fixture(params=DRIVERS, ids=str)
def driver(request: pytest.FixtureRequest) -> DriverUnderTest:
    """Each driver in turn."""
    chosen: DriverUnderTest = request.param
    return chosen


@pytest.fixture
def world(mockin: Mockin) -> Iterator[MockinWorld]:
    """A reset mockin, the fake resource served and both trusting each other."""
    with mockin_world(mockin) as served:
        yield served


def _get(world: MockinWorld, *paths: str) -> tuple[list[HarnessResponse], Flow]:
    """A flow GETting ``paths`` in order; the answers land in the returned list."""
    got: list[HarnessResponse] = []

    async def flow(call: AgentCall) -> None:
        for path in paths:
            got.append(await call("GET", world.url(path)))

    return got, flow


def _requirements(world: MockinWorld) -> list[str | None]:
    """The ``AAuth-Requirement`` of each answer of the resource, in order."""
    return [
        exchange.response.header("aauth-requirement") if exchange.response else None
        for exchange in world.resource.log
    ]


def _person_token_of(world: MockinWorld, call: int = 0) -> PersonToken:
    token = world.resource.calls[call].identity.token
    assert isinstance(token, PersonToken)
    return token


def _auth_token_of(world: MockinWorld, call: int = 0) -> AuthToken:
    token = world.resource.calls[call].identity.token
    assert isinstance(token, AuthToken)
    return token


def _check_mockin_token(world: MockinWorld, token: PersonToken | AuthToken) -> None:
    """Issued by mockin (its key, its identifier) for the resource, bound to our agent key."""
    assert token.iss == MOCKIN_ISSUER
    assert token.aud == world.resource.issuer
    assert token.kid in {key["kid"] for key in world.ps_jwks["keys"]}
    check_key_binding(token, world.agent_key.thumbprint)


# ------------------------------------------------------------------ 1. person token


def test_person_token(world: MockinWorld, driver: DriverUnderTest) -> None:
    got, flow = _get(world, "/person/items", "/person/again")
    driver.run(world.agent(), flow)

    assert [answer.status for answer in got] == [200, 200]
    body = got[0].json()
    assert (body["as"], body["ps"], body["path"]) == ("person", MOCKIN_ISSUER, "/person/items")
    # agent token -> 401 person-token; person token -> 200; the cached one reused -> 200
    assert world.resource_statuses() == [401, 200, 200]
    assert _requirements(world)[0] == "requirement=person-token"
    person = _person_token_of(world)
    _check_mockin_token(world, person)
    assert person.dwk == "aauth-person.json"
    assert _person_token_of(world, 1).jti == person.jti  # reused, not asked for again


# ------------------------------------------------------------------ 2. auth token


@pytest.mark.parametrize(
    ("path", "statuses"),
    [("/auth", [401, 401, 200]), ("/deferred", [401, 202, 200])],
    ids=["401-form", "202-form"],
)
def test_auth_token(
    world: MockinWorld, driver: DriverUnderTest, path: str, statuses: list[int]
) -> None:
    got, flow = _get(world, f"{path}/items")
    driver.run(world.agent(), flow)

    assert got[0].status == 200
    assert (got[0].json()["as"], got[0].json()["scope"]) == ("auth", "data.read")
    # agent token -> person-token challenge; person token -> auth-token challenge (401, or 202
    # holding the call); auth token -> the call runs (retried, or on the poll of Location)
    assert world.resource_statuses() == statuses
    challenge = _requirements(world)[1]
    assert challenge is not None and challenge.startswith("requirement=auth-token;")
    person = world.resource.person_tokens[MOCKIN_ISSUER, _auth_token_of(world).sub]
    [claims] = world.resource_token_claims()
    assert claims["aud"] == MOCKIN_ISSUER and claims["ps"] == MOCKIN_ISSUER
    # the -11 name and the alias mockin 2.0.0 reads, both naming mockin's person token
    assert claims["presented_jti"] == claims["person_token_jti"] == person.jti
    auth = _auth_token_of(world)
    _check_mockin_token(world, auth)
    assert (auth.ps, auth.sub, auth.scope) == (MOCKIN_ISSUER, person.sub, "data.read")


def test_without_the_legacy_alias_mockin_refuses_the_resource_token(
    world: MockinWorld, driver: DriverUnderTest
) -> None:
    """The divergence the alias works around: a resource token with ``presented_jti`` only
    (AAuth -11) is refused by mockin 2.0.0, and the flow ends with a typed error."""
    world.resource.emit_legacy_person_token_jti = False
    _got, flow = _get(world, "/auth")
    with pytest.raises(TokenEndpointError) as caught:
        driver.run(world.agent(), flow)
    assert (caught.value.code, caught.value.status) == ("invalid_resource_token", 400)
    assert "person_token_jti" in str(caught.value)
    [claims] = world.resource_token_claims()
    assert "person_token_jti" not in claims and "presented_jti" in claims


# ------------------------------------------------------------------ 3. interaction, approval


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [("person", "/person"), ("auth", "/auth")],
    ids=["person-token-endpoint", "auth-token-endpoint"],
)
def test_interaction(world: MockinWorld, driver: DriverUnderTest, endpoint: str, path: str) -> None:
    setting = "person_requirement" if endpoint == "person" else "requirement"
    world.mockin.configure(**{setting: "interaction", "auto_approve": False})
    got, flow = _get(world, path)
    driver.run(world.agent(), flow, on_interaction=world.approve)

    assert got[0].status == 200
    assert got[0].json()["as"] == endpoint
    [prompt] = world.prompts
    assert prompt.url == CONSENT
    assert len(prompt.code) == 8 and prompt.code.isalnum()  # mockin's codes, taken verbatim
    assert prompt.user_url == f"{CONSENT}?code={quote(prompt.code, safe='')}"


def test_approval(world: MockinWorld, driver: DriverUnderTest) -> None:
    world.mockin.configure(person_requirement="approval")
    got, flow = _get(world, "/person")
    driver.run(world.agent(), flow, on_interaction=world.approve)

    assert got[0].status == 200
    assert world.prompts == []  # approval happens out of band: nothing for the application
    _check_mockin_token(world, _person_token_of(world))


def test_retry_after_is_honoured_with_an_injected_sleep(world: MockinWorld) -> None:
    """The person approves while the agent waits: the first poll (``Retry-After: 0``) finds
    it pending and says ``Retry-After: 5``; the driver sleeps exactly that, then polls."""
    [aiohttp_driver] = [d for d in DRIVERS if d.takes_sleep]
    world.mockin.configure(person_requirement="interaction", auto_approve=False)
    shown: list[PromptInteraction] = []
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        # the person approves during the wait
        assert world.open_user_url(shown[-1]).status == 200

    got, flow = _get(world, "/person")
    aiohttp_driver.run(world.agent(), flow, on_interaction=shown.append, sleep=sleep)
    assert got[0].status == 200
    assert len(shown) == 1
    assert slept == [5]


def test_clarification_answer_without_retry_after_waits_the_default(world: MockinWorld) -> None:
    """mockin answers the clarification POST with a bare ``202 {"status": "pending"}`` (no
    ``Retry-After``): the engine waits its default 5 s (AAuth -11 §"Polling with GET") before
    the poll that brings the auth token."""
    [aiohttp_driver] = [d for d in DRIVERS if d.takes_sleep]
    world.mockin.configure(requirement="clarification", clarification="Which repository?")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    got, flow = _get(world, "/auth")
    aiohttp_driver.run(world.agent(), flow, on_clarification=lambda _: "aauth", sleep=sleep)
    assert got[0].status == 200
    assert slept == [5]


#: Drivers that sleep for real (``time.sleep``, ``anyio.sleep`` on asyncio and on trio,
#: ``trio.sleep``).
REAL_SLEEPERS = [d for d in DRIVERS if not d.takes_sleep]
#: When the person approves, after the prompt: long after the immediate first poll.
APPROVE_AFTER = 1.5


def _late_run(world: MockinWorld, driver: DriverUnderTest) -> tuple[int, float]:
    """One flow through ``driver`` whose person approves :data:`APPROVE_AFTER` s after the
    prompt; the final status and the seconds from the prompt to the answer."""
    prompted_at: list[float] = []
    timers: list[threading.Timer] = []

    def on_interaction(prompt: PromptInteraction) -> None:
        prompted_at.append(time.monotonic())
        timer = threading.Timer(APPROVE_AFTER, world.approve, args=(prompt,))
        timers.append(timer)
        timer.start()

    got, flow = _get(world, "/person")
    try:
        driver.run(world.agent(), flow, on_interaction=on_interaction)
    finally:
        for timer in timers:
            timer.cancel()
            timer.join(timeout=5)
    assert len(prompted_at) == 1
    return got[0].status, time.monotonic() - prompted_at[0]


def test_retry_after_is_honoured_in_real_time(world: MockinWorld) -> None:
    """As above with each driver's own sleep, the four flows side by side (one thread each,
    so the file waits 5 s once): the immediate first poll answers ``202 Retry-After: 5``,
    the person approves 1.5 s later, and each flow ends only after its driver waited 5 s."""
    world.mockin.configure(person_requirement="interaction", auto_approve=False)
    with ThreadPoolExecutor(max_workers=len(REAL_SLEEPERS)) as pool:
        runs = {d.name: pool.submit(_late_run, world, d) for d in REAL_SLEEPERS}
        outcomes = {name: run.result(timeout=40) for name, run in runs.items()}
    for name, (status, waited) in outcomes.items():
        assert status == 200, name
        assert 5.0 <= waited < 9.0, (name, waited)
    # each prompt approved once, each by its own code
    assert len({prompt.code for prompt in world.prompts}) == len(REAL_SLEEPERS)


# ------------------------------------------------------------------ 4. clarification


def test_clarification(world: MockinWorld, driver: DriverUnderTest) -> None:
    world.mockin.configure(requirement="clarification", clarification="Which repository?")
    questions: list[PromptClarification] = []

    def on_clarification(prompt: PromptClarification) -> str:
        questions.append(prompt)
        return "The aauth repo"

    got, flow = _get(world, "/auth")
    driver.run(world.agent(limits=NO_DEFAULT_WAIT), flow, on_clarification=on_clarification)

    assert got[0].status == 200
    assert got[0].json()["as"] == "auth"
    # asked once (mockin's poll would repeat its default question; the answer ends it first)
    assert [(q.question, q.timeout) for q in questions] == [("Which repository?", 120)]
    _check_mockin_token(world, _auth_token_of(world))


def test_clarification_declined(world: MockinWorld, driver: DriverUnderTest) -> None:
    world.mockin.configure(requirement="clarification", clarification="Which repository?")
    questions: list[PromptClarification] = []

    def decline(prompt: PromptClarification) -> None:
        questions.append(prompt)

    _got, flow = _get(world, "/auth")
    with pytest.raises(Declined) as caught:
        driver.run(world.agent(), flow, on_clarification=decline)
    assert caught.value.status == 204  # mockin's answer to the DELETE of its pending URL
    assert len(questions) == 1
    assert world.resource.calls == []


# ------------------------------------------------------------------ refusals


def test_denied(world: MockinWorld, driver: DriverUnderTest) -> None:
    world.mockin.configure(error="denied", error_endpoint="token")
    _got, flow = _get(world, "/auth")
    with pytest.raises(AccessDenied) as caught:
        driver.run(world.agent(), flow)
    assert (caught.value.code, caught.value.status) == ("denied", 403)
    assert world.resource.calls == []


def test_interaction_without_the_capability_is_user_unreachable(
    world: MockinWorld, driver: DriverUnderTest
) -> None:
    world.mockin.configure(person_requirement="interaction", auto_approve=False)
    _got, flow = _get(world, "/person")
    with pytest.raises(AccessDenied) as caught:
        driver.run(world.agent(capabilities=("clarification",)), flow)
    assert (caught.value.code, caught.value.status) == ("user_unreachable", 403)
    assert world.prompts == []
