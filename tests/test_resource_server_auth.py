"""Auth-token routes through the resource server: step-up from the resource's record of the
person token (digest §1.4 step 7, §4.4 ``presented_jti``) and four-party resource tokens
(``aud`` = the route's Access Server, its auth tokens trusted)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aauth._b64 import b64url_decode
from aauth.aauth_headers import AuthTokenRequired, read_aauth_requirement
from aauth.agent import Purpose
from aauth.errors import LocalError
from aauth.http import HttpResponse
from aauth.resource import (
    AccessMode,
    Challenge,
    MemoryPersonRecords,
    PersonRecord,
    ResourcePolicy,
)
from aauth.tokens import (
    ResourceToken,
    build_auth_token,
    build_person_token,
    validate_resource_token,
)
from tests.fakes import T0
from tests.fakes.access_server import FakeAccessServer
from tests.test_resource_server import (
    RESOURCE,
    ServerWorld,
    default_policies,
    make_agent,
    run_agent,
    signed,
)

MISSION = "A" * 42 + "E"


def resource_token_of(world: ServerWorld, response: HttpResponse, *, aud: str) -> ResourceToken:
    requirement = read_aauth_requirement(response)
    assert isinstance(requirement, AuthTokenRequired), requirement
    return validate_resource_token(
        requirement.resource_token, world.jwks, now=world.now(), audience=aud, issuer=RESOURCE
    )


def person_token(world: ServerWorld, **claims: Any) -> str:
    return build_person_token(
        world.ps.key,
        kid=world.ps.kid,
        now=world.now(),
        jti=claims.pop("jti", "pt-1"),
        iss=world.ps.issuer,
        aud=RESOURCE,
        sub="person-alice",
        cnf_jwk=world.agent_key.public_key,
        **claims,
    )


def auth_token(world: ServerWorld, scope: str, *, sub: str = "person-alice") -> str:
    return build_auth_token(
        world.ps.key,
        kid=world.ps.kid,
        now=world.now(),
        jti="at-1",
        iss=world.ps.issuer,
        dwk="aauth-person.json",
        aud=RESOURCE,
        ps=world.ps.issuer,
        sub=sub,
        cnf_jwk=world.agent_key.public_key,
        scope=scope,
    )


# --------------------------------------------------------------------------- step-up


def test_agent_steps_up_from_auth_to_admin() -> None:
    world = ServerWorld()
    agent = make_agent(world)
    assert run_agent(world, agent, "/auth/items").body["scope"] == "data.read"
    stepped = run_agent(world, agent, "/admin/settings")
    assert stepped.purposes == [Purpose.RESOURCE, Purpose.AUTH_TOKEN, Purpose.RESOURCE]
    assert stepped.body["as"] == "aa-auth+jwt"
    assert set(stepped.body["scope"].split()) == {"data.read", "data.write"}


def test_step_up_resource_token_is_built_from_the_person_record() -> None:
    world = ServerWorld()
    first = world.handle(
        signed(world, person_token(world, mission_s256=MISSION, tenant="acme"), "/auth"), T0
    )
    assert first.status == 401
    response = world.handle(signed(world, auth_token(world, "data.read"), "/admin/x"), T0)
    assert response.status == 401
    assert response.header("cache-control") == "no-store"
    token = resource_token_of(world, response, aud=world.ps.issuer)
    assert token.scope == "data.read data.write"  # what the token had, then what is missing
    assert (token.presented_jti, token.ps, token.sub) == ("pt-1", world.ps.issuer, "person-alice")
    assert (token.mission_s256, token.tenant) == (MISSION, "acme")
    assert token.agent_jkt == world.agent_key.thumbprint
    assert world.calls == []


def test_step_up_without_a_record_asks_for_the_person_token() -> None:
    world = ServerWorld()
    response = world.handle(signed(world, auth_token(world, "data.read"), "/admin"), T0)
    assert response.status == 401
    assert response.header("aauth-requirement") == "requirement=person-token"
    # another person's record does not count
    world.handle(signed(world, person_token(world), "/person", created=T0 - 1), T0)
    other = world.handle(signed(world, auth_token(world, "data.read", sub="bob"), "/admin"), T0)
    assert other.header("aauth-requirement") == "requirement=person-token"
    # a person-token route records too: alice can step up now
    mine = world.handle(signed(world, auth_token(world, "data.read"), "/admin"), T0)
    assert (mine.header("aauth-requirement") or "").startswith("requirement=auth-token")


def test_step_up_with_an_empty_scope_token() -> None:
    world = ServerWorld()
    world.handle(signed(world, person_token(world), "/person"), T0)
    token = build_auth_token(
        world.ps.key,
        kid=world.ps.kid,
        now=T0,
        jti="at-2",
        iss=world.ps.issuer,
        dwk="aauth-person.json",
        aud=RESOURCE,
        ps=world.ps.issuer,
        sub="person-alice",
        cnf_jwk=world.agent_key.public_key,
    )
    response = world.handle(signed(world, token, "/auth"), T0)
    assert resource_token_of(world, response, aud=world.ps.issuer).scope == "data.read"


def test_person_records_expire_and_are_bounded() -> None:
    world = ServerWorld(verifier_options={"resource_token_lifetime": 100})
    world.handle(signed(world, person_token(world, lifetime=600), "/person"), T0)
    later = T0 + 600 + 100
    world.clock.advance(700)
    response = world.handle(signed(world, auth_token(world, "data.read"), "/admin"), later)
    assert response.header("aauth-requirement") == "requirement=person-token"

    store = MemoryPersonRecords(max_entries=2)
    records = [
        PersonRecord(
            ps="https://ps.example",
            sub=f"u{i}",
            presented_jti=f"j{i}",
            mission_s256=None,
            tenant=None,
            expires_at=T0 + 10,
        )
        for i in range(3)
    ]
    for record in records:
        store.remember(record, now=T0)
    store.remember(records[2], now=T0)  # the same record again changes nothing
    assert len(store) == 2
    assert store.lookup("https://ps.example", "u0", now=T0) is None
    assert store.lookup("https://ps.example", "u2", now=T0) == records[2]
    assert store.lookup("https://ps.example", "u2", now=T0 + 10) is None
    assert len(store) == 1
    with pytest.raises(LocalError):
        MemoryPersonRecords(max_entries=0)


def test_a_shared_record_store_can_be_plugged_in() -> None:
    store = MemoryPersonRecords()
    world = ServerWorld(verifier_options={"person_records": store})
    world.handle(signed(world, person_token(world), "/person"), T0)
    assert store.lookup(world.ps.issuer, "person-alice", now=T0) is not None


def test_legacy_person_token_jti_on_request() -> None:
    world = ServerWorld(verifier_options={"emit_legacy_person_token_jti": True})
    response = world.handle(signed(world, person_token(world), "/auth"), T0)
    requirement = read_aauth_requirement(response)
    assert isinstance(requirement, AuthTokenRequired)
    payload = requirement.resource_token.split(".")[1]
    claims = json.loads(b64url_decode(payload))
    assert claims["person_token_jti"] == claims["presented_jti"] == "pt-1"


# --------------------------------------------------------------------------- four-party


AS = "https://as.example"


def four_party_world() -> tuple[ServerWorld, FakeAccessServer]:
    policies = {
        **default_policies(),
        "/federated": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN,
            scope="data.read",
            access_server=AS,
            person_servers=frozenset({"https://ps.example"}),
        ),
    }
    world = ServerWorld(policies=policies)
    access = FakeAccessServer(
        AS, person_servers=[world.ps], agent_providers=[world.ap], resources=[world]
    )
    world.ps.federate_with(access)
    world.handlers[AS] = access.handle
    return world, access


def test_four_party_resource_token_is_for_the_access_server() -> None:
    world, _ = four_party_world()
    response = world.handle(signed(world, person_token(world), "/federated"), T0)
    token = resource_token_of(world, response, aud=AS)
    assert token.aud == AS and token.ps == world.ps.issuer


def test_agent_completes_the_four_party_flow() -> None:
    world, access = four_party_world()
    run = run_agent(world, make_agent(world), "/federated/report")
    assert run.purposes[-2:] == [Purpose.AUTH_TOKEN, Purpose.RESOURCE]
    assert run.body["as"] == "aa-auth+jwt"
    assert len(access.auth_tokens) == 1
    identity = world.calls[-1].identity
    assert identity is not None and identity.token.iss == AS
    assert identity.ps == world.ps.issuer


def test_access_server_tokens_only_where_the_route_names_it() -> None:
    policy = ResourcePolicy(mode=AccessMode.AUTH_TOKEN, access_server=AS)
    assert policy.trusts_auth_issuer(AS)
    closed = ResourcePolicy(
        mode=AccessMode.AUTH_TOKEN, access_server=AS, person_servers=frozenset({"https://ps"})
    )
    assert closed.trusts_auth_issuer(AS)
    assert not closed.trusts_auth_issuer("https://other-as.example")
    assert not closed.trusts_person_server(AS)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": AccessMode.AUTH_TOKEN, "access_server": "not a url"},
        {"mode": AccessMode.AGENT_TOKEN, "access_server": AS},
        {"mode": AccessMode.AGENT_TOKEN, "deferred": True},
        {"mode": AccessMode.AUTH_TOKEN, "deferred": 1},
        {"mode": AccessMode.AUTH_TOKEN, "session_interaction": True},
        {"mode": AccessMode.SESSION_TOKEN, "session_interaction": "yes"},
    ],
)
def test_policy_refuses_misplaced_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalError):
        ResourcePolicy(**kwargs)


def test_challenge_carries_requirement_and_thumbprint() -> None:
    world = ServerWorld()
    world.handle(signed(world, person_token(world), "/person", created=T0 - 1), T0)  # warm keys
    outcome = world.verifier.check(signed(world, person_token(world), "/auth"), T0)
    assert isinstance(outcome, Challenge)
    assert isinstance(outcome.aauth_requirement, AuthTokenRequired)
    assert outcome.thumbprint == world.agent_key.thumbprint
