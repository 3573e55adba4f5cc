"""The deferred (``202``) auth-token form through the resource server (digest §1.4 "Deferred
form", §1.6): the call is held behind an unguessable pending URL, runs once on the first
poll with a valid auth token bound to the same key, and its result is replayed for that
token until its ``exp``; anything else after completion is ``410``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aauth.aauth_headers import AuthTokenRequired, read_aauth_requirement
from aauth.agent import Purpose
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import Ed25519Key
from aauth.resource import AccessMode, CallApp, Fetch, ResourcePolicy, Respond
from aauth.tokens import build_auth_token, build_person_token
from tests.fakes import T0
from tests.fakes._common import origin_of
from tests.test_resource_server import (
    RESOURCE,
    ServerWorld,
    default_policies,
    drive,
    make_agent,
    run_agent,
    signed,
)

JSON_BODY = (("Content-Type", "application/json"),)


def deferred_world(**server_options: Any) -> ServerWorld:
    policies = {
        **default_policies(),
        "/deferred": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read", deferred=True),
        "/digest": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN,
            scope="data.read",
            deferred=True,
            extra_components=("content-digest", "@query"),
        ),
    }
    return ServerWorld(policies=policies, server_options=server_options)


def person_token(world: ServerWorld, key: Ed25519Key | None = None) -> str:
    return build_person_token(
        world.ps.key,
        kid=world.ps.kid,
        now=world.now(),
        jti="pt-1",
        iss=world.ps.issuer,
        aud=RESOURCE,
        sub="person-alice",
        cnf_jwk=(key or world.agent_key).public_key,
    )


def auth_token(
    world: ServerWorld,
    *,
    jti: str = "at-1",
    scope: str = "data.read",
    key: Ed25519Key | None = None,
    lifetime: int = 3600,
) -> str:
    return build_auth_token(
        world.ps.key,
        kid=world.ps.kid,
        now=world.now(),
        jti=jti,
        iss=world.ps.issuer,
        dwk="aauth-person.json",
        aud=RESOURCE,
        ps=world.ps.issuer,
        sub="person-alice",
        cnf_jwk=(key or world.agent_key).public_key,
        scope=scope,
        lifetime=lifetime,
    )


def hold(world: ServerWorld, path: str = "/deferred/report", **kwargs: Any) -> HttpResponse:
    kwargs.setdefault("method", "POST")
    kwargs.setdefault("body", b'{"n":1}')
    kwargs.setdefault("headers", JSON_BODY)
    response = world.handle(signed(world, person_token(world), path, **kwargs), world.now())
    assert response.status == 202, response
    return response


def poll(world: ServerWorld, location: str, token: str, **kwargs: Any) -> HttpResponse:
    world.clock.advance(1)
    return world.handle(signed(world, token, location, **kwargs), world.now())


def test_agent_completes_the_deferred_form() -> None:
    world = deferred_world()
    run = run_agent(
        world, make_agent(world), "/deferred/report", method="POST", body=b"{}", headers=JSON_BODY
    )
    assert run.purposes[-2:] == [Purpose.AUTH_TOKEN, Purpose.POLL]
    assert run.body["as"] == "aa-auth+jwt"
    assert (run.body["method"], run.body["path"], run.body["body"]) == (
        "POST",
        "/deferred/report",
        "{}",
    )
    assert len(world.calls) == 1
    assert world.server.held_calls == 1  # the result is kept for replay


def test_the_202_form_carries_location_retry_after_and_the_resource_token() -> None:
    world = deferred_world(retry_after=3)
    response = hold(world)
    location = response.header("location")
    assert location is not None and location.startswith("/aauth/pending/")
    assert len(location) > len("/aauth/pending/") + 16
    assert response.header("retry-after") == "3"
    assert response.header("cache-control") == "no-store"
    assert json.loads(response.body) == {"status": "pending"}
    requirement = read_aauth_requirement(response)
    assert isinstance(requirement, AuthTokenRequired)
    assert world.calls == []


def test_absolute_locations_and_another_prefix() -> None:
    world = deferred_world(absolute_locations=True, pending_prefix="/p/")
    location = hold(world).header("location")
    assert location is not None and location.startswith(RESOURCE + "/p/")


def test_first_poll_runs_the_held_call_then_replays_for_the_same_token() -> None:
    world = deferred_world()
    location = hold(world).header("location")
    assert location is not None
    token = auth_token(world)
    first = poll(world, location, token)
    assert first.status == 200
    body = json.loads(first.body)
    assert (body["method"], body["path"], body["body"]) == ("POST", "/deferred/report", '{"n":1}')
    again = poll(world, location, token)
    assert (again.status, again.body) == (200, first.body)
    assert len(world.calls) == 1
    # another auth token after completion: gone
    other = poll(world, location, auth_token(world, jti="at-2"))
    assert other.status == 410
    # a person token after completion: gone as well
    assert poll(world, location, person_token(world)).status == 410


def test_result_is_kept_until_the_auth_token_expires() -> None:
    world = deferred_world()
    location = hold(world).header("location")
    assert location is not None
    token = auth_token(world, lifetime=120)
    assert poll(world, location, token).status == 200
    world.clock.advance(200)
    expired = world.handle(signed(world, auth_token(world), location), world.now())
    assert expired.status == 410
    assert world.server.held_calls == 0


def test_polls_before_the_auth_token_get_the_202_again() -> None:
    world = deferred_world()
    response = hold(world)
    location = response.header("location")
    assert location is not None
    first_rt = read_aauth_requirement(response)
    # a person token: a fresh resource token for the same key, same Location
    again = poll(world, location, person_token(world))
    assert again.status == 202 and again.header("location") == location
    fresh = read_aauth_requirement(again)
    assert isinstance(fresh, AuthTokenRequired) and fresh != first_rt
    # an auth token short of scope: the step-up resource token becomes the held one
    short = poll(world, location, auth_token(world, scope="other"))
    assert short.status == 202
    stepped = read_aauth_requirement(short)
    assert isinstance(stepped, AuthTokenRequired) and stepped != fresh
    # the agent token: 202 (its requirement is person-token; the held one is repeated)
    agent_token = world.ap.mint(world.agent_key, now=world.now())
    held = poll(world, location, agent_token)
    assert held.status == 202
    assert read_aauth_requirement(held) == stepped
    assert world.calls == []


def test_unsigned_and_badly_signed_polls_get_the_challenge() -> None:
    world = deferred_world()
    location = hold(world).header("location")
    assert location is not None
    unsigned = world.handle(HttpRequest("GET", RESOURCE + location), world.now())
    assert unsigned.status == 401 and unsigned.header("signature-error") is None
    stale = poll(world, location, auth_token(world), created=T0 - 1000)
    assert stale.status == 401 and stale.header("signature-error") is not None
    assert world.calls == []


def test_another_key_cannot_collect_the_held_call() -> None:
    world = deferred_world()
    location = hold(world).header("location")
    assert location is not None
    owner_rt = read_aauth_requirement(poll(world, location, person_token(world)))
    intruder = Ed25519Key.from_seed(bytes(32))
    issued = len(world.secrets.issued)
    for token in (
        auth_token(world, key=intruder),
        person_token(world, intruder),  # no resource token minted for it
        world.ap.mint(intruder, now=world.now()),  # a kind the route does not take
    ):
        response = poll(world, location, token, key=intruder)
        assert response.status == 403
        assert response.header("signature-error") is None
    assert len(world.secrets.issued) == issued
    # the owner's held requirement is unchanged and the call still runs for the owner
    again = poll(world, location, world.ap.mint(world.agent_key, now=world.now()))
    assert read_aauth_requirement(again) == owner_rt
    assert poll(world, location, auth_token(world)).status == 200
    assert len(world.calls) == 1


def test_unknown_ids_and_other_methods() -> None:
    world = deferred_world()
    assert poll(world, "/aauth/pending/nope-not-a-real-id", auth_token(world)).status == 410
    location = hold(world).header("location")
    assert location is not None
    response = poll(world, location, auth_token(world), method="DELETE")
    assert response.status == 405 and response.header("allow") == "GET"


def test_poll_while_the_app_runs_is_pending() -> None:
    world = deferred_world()
    location = hold(world).header("location")
    assert location is not None
    token = auth_token(world)
    world.clock.advance(1)
    exchange = world.server.receive(signed(world, token, location), world.now())
    call = exchange.next_action()
    while not isinstance(call, CallApp):
        call = world.serve_fetch(call, exchange, world.now())  # type: ignore[arg-type]
    assert call.capture and call.request.method == "POST"
    # meanwhile another poll: still pending
    assert poll(world, location, token).status == 202
    with pytest.raises(LocalError):
        exchange.app_responded("made", now=world.now())  # type: ignore[arg-type]
    result = exchange.app_responded(HttpResponse(201, body=b"made"), now=world.now())
    assert isinstance(result, Respond) and result.response.status == 201
    assert exchange.done
    assert poll(world, location, token).body == b"made"


def test_polls_need_not_cover_body_components() -> None:
    world = deferred_world()
    everything = ("@method", "@authority", "@path", "@query", "signature-key")
    location = hold(
        world,
        "/digest/x?y=1",
        components=(*everything, "content-type", "content-digest"),
    ).header("location")
    assert location is not None
    # a poll has no body: content-digest is not required of it; @query still is
    response = poll(world, location, auth_token(world), components=everything)
    assert response.status == 200
    assert json.loads(response.body)["path"] == "/digest/x"


def test_too_big_or_too_many_fall_back_to_the_401_form() -> None:
    world = deferred_world(max_held=1, max_held_body=10)
    big = world.handle(
        signed(
            world,
            person_token(world),
            "/deferred",
            method="POST",
            body=b"x" * 11,
            headers=JSON_BODY,
        ),
        world.now(),
    )
    assert big.status == 401
    assert isinstance(read_aauth_requirement(big), AuthTokenRequired)
    hold(world, body=b"{}")
    world.clock.advance(1)
    full = world.handle(signed(world, person_token(world), "/deferred"), world.now())
    assert full.status == 401
    # once the held call expires there is room again
    world.clock.advance(600)
    assert hold(world, body=b"{}").status == 202


def test_agent_completes_with_absolute_locations() -> None:
    world = deferred_world(absolute_locations=True)
    run = run_agent(world, make_agent(world), "/deferred/x")
    assert run.response.status == 200


@pytest.mark.parametrize(
    "options",
    [
        {"pending_prefix": "aauth/"},
        {"pending_prefix": "/"},
        {"retry_after": -1},
        {"pending_lifetime": 0},
        {"max_held": 0},
        {"max_held_body": -1},
    ],
)
def test_deferred_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(LocalError):
        deferred_world(**options)


def test_new_secret_must_look_unguessable() -> None:
    world = deferred_world()
    world.server.new_secret = lambda: "short"
    with pytest.raises(LocalError):
        world.handle(signed(world, person_token(world), "/deferred"), world.now())


def test_exchange_drives_to_respond_for_a_replayed_result() -> None:
    world = deferred_world()
    location = hold(world).header("location")
    assert location is not None
    token = auth_token(world)
    poll(world, location, token)
    world.clock.advance(1)
    exchange = world.server.receive(signed(world, token, location), world.now())
    assert drive(world, exchange, world.now()).status == 200


def test_total_held_bytes_are_bounded() -> None:
    world = deferred_world(max_held_bytes=20)
    hold(world, body=b"x" * 15)
    world.clock.advance(1)
    over = world.handle(
        signed(
            world,
            person_token(world),
            "/deferred",
            method="POST",
            body=b"y" * 10,
            headers=JSON_BODY,
        ),
        world.now(),
    )
    assert over.status == 401  # no room: the 401 form
    world.clock.advance(600)  # the first held call expires: room again
    hold(world, body=b"y" * 10)
    assert world.server._held.held_bytes == 10


def test_a_result_too_big_to_keep_is_sent_but_not_replayed() -> None:
    world = deferred_world(max_held_bytes=100)
    location = hold(world, body=b"{}").header("location")
    assert location is not None
    token = auth_token(world)
    first = poll(world, location, token)
    assert first.status == 200 and len(first.body) > 100
    assert poll(world, location, token).status == 410
    assert world.server.held_calls == 0 and world.server._held.held_bytes == 0


def test_a_kept_result_is_charged_instead_of_the_request() -> None:
    world = deferred_world()
    location = hold(world, body=b"z" * 50).header("location")
    assert location is not None
    assert world.server._held.held_bytes == 50
    response = poll(world, location, auth_token(world))
    assert world.server._held.held_bytes == len(response.body)


def test_a_call_that_expires_while_the_app_runs_is_not_kept() -> None:
    world = deferred_world(pending_lifetime=30)
    location = hold(world).header("location")
    assert location is not None
    token = auth_token(world)
    world.clock.advance(1)
    running = world.server.receive(signed(world, token, location), world.now())
    call = running.next_action()
    while not isinstance(call, CallApp):
        call = world.serve_fetch(call, running, world.now())  # type: ignore[arg-type]
    world.clock.advance(30)
    assert poll(world, location, token).status == 410  # expired meanwhile: dropped
    done = running.app_responded(HttpResponse(200, body=b"late"), now=world.now())
    assert isinstance(done, Respond) and done.response.body == b"late"
    assert world.server.held_calls == 0 and world.server._held.held_bytes == 0


def test_a_poll_resuming_after_its_call_expired_is_gone() -> None:
    world = deferred_world(pending_lifetime=7200)
    location = hold(world).header("location")
    assert location is not None
    world.clock.advance(3601)  # keys stale: the poll fetches first
    waiting = world.server.receive(signed(world, auth_token(world), location), world.now())
    fetch = waiting.next_action()
    assert isinstance(fetch, Fetch)
    later = world.now() + 3600
    answer = world.handlers[origin_of(fetch.dial_url)](HttpRequest("GET", fetch.dial_url), later)
    after = waiting.fetched(fetch.url, answer.status, answer.headers, answer.body, now=later)
    assert isinstance(after, Respond) and after.response.status == 410
    assert world.calls == []


def test_held_calls_store_drops_only_what_it_holds() -> None:
    from aauth.resource.held import HeldCall, HeldCalls, HeldKind

    store = HeldCalls(max_calls=2, max_body=10, max_bytes=10)
    call = HeldCall(
        id="a" * 16,
        kind=HeldKind.DEFERRED,
        policy=ResourcePolicy(mode=AccessMode.AUTH_TOKEN),
        thumbprint="t",
        agent=None,
        request=HttpRequest("POST", RESOURCE + "/x", body=b"12345"),
        requirement=AuthTokenRequired(resource_token="rt"),
        expires_at=T0 + 10,
    )
    assert store.add(call, now=T0) and store.held_bytes == 5
    store.drop(call)
    store.drop(call)  # twice: nothing more to release
    assert store.held_bytes == 0 and len(store) == 0
    assert not store.store_result(call, HttpResponse(200), jti="j", expires_at=T0, now=T0)
