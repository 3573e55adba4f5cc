"""Session tokens through the resource server (digest §1.5, §5.2): granted automatically or
after a ``202 requirement=interaction`` the application approves, presented as
``Authorization: AAuth``, bound to the agent identifier, rotated with a grace period."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aauth.aauth_headers import InteractionRequired, read_aauth_requirement
from aauth.agent import AccessDenied, Fail, PromptInteraction, Purpose
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.interaction import normalize_interaction_code
from aauth.keys import Ed25519Key
from aauth.resource import (
    AccessMode,
    Exchange,
    Fetch,
    MemorySessionStore,
    ResourcePolicy,
    SessionRecord,
)
from tests.fakes import T0
from tests.test_resource_server import (
    RESOURCE,
    ServerWorld,
    default_policies,
    drive,
    make_agent,
    run_agent,
    signed,
)

INTERACT = RESOURCE + "/interact"


def session_world(**server_options: Any) -> ServerWorld:
    policies = {
        **default_policies(),
        "/session": ResourcePolicy(mode=AccessMode.SESSION_TOKEN, scope="inbox.read"),
        "/interactive": ResourcePolicy(
            mode=AccessMode.SESSION_TOKEN, scope="inbox.read", session_interaction=True
        ),
    }
    server_options.setdefault("interaction_url", INTERACT)
    return ServerWorld(policies=policies, server_options=server_options)


def call(
    world: ServerWorld,
    path: str,
    *,
    session: str | None = None,
    agent_id: str | None = None,
    key: Ed25519Key | None = None,
) -> HttpResponse:
    world.clock.advance(1)
    token = world.ap.mint(key or world.agent_key, now=world.now(), agent_id=agent_id)
    headers = () if session is None else (("Authorization", f"AAuth {session}"),)
    return world.handle(signed(world, token, path, headers=headers, key=key), world.now())


# --------------------------------------------------------------------------- automatic


def test_agent_gets_and_reuses_an_automatic_session() -> None:
    world = session_world()
    agent = make_agent(world)
    first = run_agent(world, agent, "/session/inbox")
    assert first.purposes == [Purpose.RESOURCE]
    token = first.response.header("aauth-access")
    assert token is not None and first.body["session"] == token
    assert agent.store.session_token(RESOURCE) == token
    again = run_agent(world, agent, "/session/inbox")
    assert again.body["session"] == token
    assert again.response.header("aauth-access") is None


def test_unknown_or_foreign_session_tokens_are_granted_anew() -> None:
    world = session_world()
    granted = call(world, "/session").header("aauth-access")
    assert granted is not None
    unknown = call(world, "/session", session="not-a-session-token")
    fresh = unknown.header("aauth-access")
    assert fresh not in (None, granted)
    # bound to the agent identifier: another agent presenting it gets its own
    other = call(world, "/session", session=granted, agent_id="aauth:other@agent.example")
    assert other.header("aauth-access") not in (None, granted)
    mine = call(world, "/session", session=granted)
    assert mine.status == 200 and mine.header("aauth-access") is None
    assert json.loads(mine.body)["session"] == granted


def test_session_tokens_expire() -> None:
    world = session_world(session_lifetime=30)
    granted = call(world, "/session").header("aauth-access")
    world.clock.advance(30)
    later = call(world, "/session", session=granted)
    assert later.header("aauth-access") not in (None, granted)


def test_rotation_with_a_grace_period() -> None:
    world = session_world(session_rotate_after=10, session_grace=5)
    old = call(world, "/session").header("aauth-access")
    assert old is not None
    assert call(world, "/session", session=old).header("aauth-access") is None  # young
    world.clock.advance(10)
    rotated = call(world, "/session", session=old)
    new = rotated.header("aauth-access")
    assert new not in (None, old)
    assert json.loads(rotated.body)["session"] == old  # this call still ran on the old one
    # within the grace period the old value still works and points at the new one
    again = call(world, "/session", session=old)
    assert again.status == 200 and again.header("aauth-access") == new
    assert call(world, "/session", session=new).header("aauth-access") is None
    world.clock.advance(5)
    after = call(world, "/session", session=old)
    assert after.header("aauth-access") not in (None, old, new)


def test_agent_follows_a_rotation() -> None:
    world = session_world(session_rotate_after=10)
    agent = make_agent(world)
    run_agent(world, agent, "/session/a")
    old = agent.store.session_token(RESOURCE)
    world.clock.advance(11)
    run_agent(world, agent, "/session/b")
    new = agent.store.session_token(RESOURCE)
    assert new not in (None, old)
    assert run_agent(world, agent, "/session/c").body["session"] == new


def test_memory_session_store_bounds_and_expiry() -> None:
    store = MemorySessionStore(max_entries=2)
    records = [
        SessionRecord(token=f"t{i}", agent="aauth:a@b", scope="", issued_at=T0, expires_at=T0 + 9)
        for i in range(3)
    ]
    for record in records:
        store.put(record, now=T0)
    assert len(store) == 2
    assert store.get("t0", now=T0) is None
    assert store.get("t2", now=T0) == records[2]
    assert store.get("t2", now=T0 + 9) is None and len(store) == 1
    with pytest.raises(LocalError):
        MemorySessionStore(max_entries=0)


def test_a_shared_session_store_can_be_plugged_in() -> None:
    store = MemorySessionStore()
    world = session_world(session_store=store)
    token = call(world, "/session").header("aauth-access")
    assert token is not None and store.get(token, now=world.now()) is not None


# --------------------------------------------------------------------------- interaction


def start_interaction(world: ServerWorld) -> tuple[str, InteractionRequired]:
    response = call(world, "/interactive/inbox")
    assert response.status == 202
    assert response.header("retry-after") == "1"
    assert response.header("cache-control") == "no-store"
    assert json.loads(response.body) == {"status": "pending"}
    requirement = read_aauth_requirement(response)
    assert isinstance(requirement, InteractionRequired)
    assert requirement.url == INTERACT
    location = response.header("location")
    assert location is not None
    return location, requirement


def poll(world: ServerWorld, location: str, **kwargs: Any) -> HttpResponse:
    return call(world, location, **kwargs)


def test_agent_completes_an_interaction_then_uses_the_session() -> None:
    world = session_world()
    agent = make_agent(world)

    def approve(prompt: PromptInteraction) -> None:
        assert prompt.url == INTERACT
        assert world.server.approve_interaction(prompt.code.lower(), now=world.now())

    run = run_agent(world, agent, "/interactive/inbox", on_interaction=approve)
    assert [type(p) for p in run.prompts] == [PromptInteraction]
    assert run.purposes == [Purpose.RESOURCE, Purpose.POLL]
    token = run.response.header("aauth-access")
    assert token is not None
    # the held call ran with the new session
    assert (run.body["path"], run.body["session"]) == ("/interactive/inbox", token)
    assert len(world.calls) == 1
    again = run_agent(world, agent, "/interactive/more")
    assert again.purposes == [Purpose.RESOURCE]
    assert again.body["session"] == token


def test_agent_sees_a_denial() -> None:
    world = session_world()
    run = run_agent(
        world,
        make_agent(world),
        "/interactive/inbox",
        on_interaction=lambda p: world.server.deny_interaction(p.code, now=world.now()),
    )
    assert isinstance(run.final, Fail) and isinstance(run.final.error, AccessDenied)
    assert world.calls == []


def test_status_answer_instead_of_running_the_call() -> None:
    world = session_world(interaction_runs_call=False)
    location, requirement = start_interaction(world)
    assert world.server.approve_interaction(requirement.code, now=world.now())
    response = poll(world, location)
    assert response.status == 200
    assert json.loads(response.body) == {"status": "authorized", "scope": "inbox.read"}
    token = response.header("aauth-access")
    assert token is not None
    assert world.calls == []
    assert json.loads(call(world, "/interactive", session=token).body)["session"] == token


def test_polls_before_approval_and_after_completion() -> None:
    world = session_world()
    location, requirement = start_interaction(world)
    pending = poll(world, location)
    assert pending.status == 202 and read_aauth_requirement(pending) == requirement
    assert world.server.approve_interaction(requirement.code, now=world.now())
    assert not world.server.approve_interaction(requirement.code, now=world.now())  # single use
    assert not world.server.deny_interaction(requirement.code, now=world.now())
    assert poll(world, location).status == 200
    assert poll(world, location).status == 410


def test_denied_interaction_answers_403_then_410() -> None:
    world = session_world()
    location, requirement = start_interaction(world)
    assert world.server.deny_interaction(normalize_interaction_code(requirement.code), now=T0)
    denied = poll(world, location)
    assert denied.status == 403 and json.loads(denied.body)["error"] == "denied"
    assert poll(world, location).status == 410


def test_codes_that_do_not_match() -> None:
    world = session_world()
    _, requirement = start_interaction(world)
    assert not world.server.approve_interaction("not a code!", now=T0)
    assert not world.server.approve_interaction("ZZZZ-ZZZZ", now=T0)
    assert world.server.approve_interaction(requirement.code.replace("-", ""), now=T0)
    with pytest.raises(LocalError):
        world.server.approve_interaction(requirement.code, now=1.5)  # type: ignore[arg-type]


def test_interaction_polls_are_bound_to_the_agent() -> None:
    world = session_world()
    location, requirement = start_interaction(world)
    world.server.approve_interaction(requirement.code, now=T0)
    intruder = Ed25519Key.from_seed(bytes(32))
    assert poll(world, location, key=intruder).status == 403
    # same key, another agent identifier (a token for another agent): refused too
    assert poll(world, location, agent_id="aauth:other@agent.example").status == 403
    unsigned = world.handle(HttpRequest("GET", RESOURCE + location), world.now())
    assert unsigned.status == 401
    assert unsigned.header("aauth-requirement") == "requirement=agent-token"
    assert poll(world, location).status == 200  # the owner still completes it


def test_interactions_expire() -> None:
    world = session_world(pending_lifetime=30)
    location, requirement = start_interaction(world)
    world.clock.advance(30)
    assert not world.server.approve_interaction(requirement.code, now=world.now())
    assert poll(world, location).status == 410


def test_no_room_for_an_interaction_is_503() -> None:
    world = session_world(max_held=1)
    start_interaction(world)
    busy = call(world, "/interactive")
    assert busy.status == 503 and busy.header("retry-after") is not None


def test_session_token_from_the_interaction_route_rotates_too() -> None:
    world = session_world(session_rotate_after=5)
    location, requirement = start_interaction(world)
    world.server.approve_interaction(requirement.code, now=world.now())
    token = poll(world, location).header("aauth-access")
    world.clock.advance(5)
    rotated = call(world, "/interactive", session=token)
    assert rotated.header("aauth-access") not in (None, token)


@pytest.mark.parametrize(
    "options",
    [
        {"interaction_url": None},
        {"interaction_url": "https://resource.example/interact?x=1"},
        {"interaction_url": "http://resource.example/interact"},
        {"session_lifetime": 0},
        {"session_rotate_after": 0},
        {"session_grace": -1},
    ],
)
def test_session_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(LocalError):
        session_world(**options)


def test_concurrent_polls_complete_an_interaction_once() -> None:
    world = session_world(pending_lifetime=7200)
    location, requirement = start_interaction(world)
    world.server.approve_interaction(requirement.code, now=world.now())
    world.clock.advance(3601)  # the agent provider's keys are stale: polls fetch them again

    def poll_exchange() -> Exchange:
        token = world.ap.mint(world.agent_key, now=world.now())
        return world.server.receive(signed(world, token, location), world.now())

    waiting = poll_exchange()
    assert isinstance(waiting.next_action(), Fetch)
    first = poll_exchange()
    assert drive(world, first, world.now()).status == 200
    assert drive(world, waiting, world.now()).status == 410
    assert len(world.calls) == 1
