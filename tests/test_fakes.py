"""The fakes themselves, proven against the engine's own signer and validators before the
agent engine and the drivers rely on them (tests/fakes)."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from aauth.aauth_headers import (
    ApprovalPending,
    AuthTokenRequired,
    InteractionRequired,
    build_authorization,
    read_aauth_access,
    read_aauth_requirement,
)
from aauth.http import HttpRequest, HttpResponse
from aauth.interaction import normalize_interaction_code
from aauth.jws import encode_jwt
from aauth.keys import EcP256Key, PrivateKey
from aauth.metadata import parse_agent_metadata, parse_person_metadata, parse_resource_metadata
from aauth.problems import parse_problem
from aauth.signature_headers import parse_accept_signature_alg, parse_signature_error
from aauth.signature_key import HwkKey
from aauth.signing import sign_request
from aauth.tokens import (
    validate_agent_token,
    validate_auth_token,
    validate_person_token,
    validate_resource_token,
)
from tests.fakes import (
    Defer,
    DropConnection,
    FakeAgentProvider,
    FakeClock,
    FakeNetworkError,
    FakePersonServer,
    FakeResource,
    FakeWorld,
    Fault,
    MemoryTransport,
    Route,
    TransportMap,
    make_world,
    serve,
    serve_many,
)

PS = "https://ps.example"
RS = "https://resource.example"
AP = "https://agent.example"

# --------------------------------------------------------------------------- helpers


@pytest.fixture
def world() -> FakeWorld:
    return make_world()


def signed(
    world: FakeWorld,
    method: str,
    url: str,
    token: str,
    *,
    body: object = None,
    headers: Sequence[tuple[str, str]] = (),
    key: PrivateKey | None = None,
    created: int | None = None,
    components: Sequence[str] | None = None,
) -> HttpRequest:
    """``url`` signed by the world's agent key (or ``key``) presenting ``token``."""
    all_headers = list(headers)
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if not any(name.lower() == "content-type" for name, _ in all_headers):
            all_headers.append(("Content-Type", "application/json"))
    request = HttpRequest(method, url, all_headers, data)
    return sign_request(
        request,
        key or world.agent_key,
        signature_key=token,
        created=world.clock.now() if created is None else created,
        components=components,
    )


def send(world: FakeWorld, request: HttpRequest) -> HttpResponse:
    return world.memory_transport()(request)


def body_of(response: HttpResponse) -> Any:
    return json.loads(response.body)


def error_of(response: HttpResponse) -> str:
    problem = parse_problem(
        response.body, content_type=response.header("content-type"), status=response.status
    )
    return problem.error


def signature_error(response: HttpResponse) -> str:
    assert response.status == 401
    text = response.header("signature-error")
    assert text is not None
    return parse_signature_error(text).code


def person_token(world: FakeWorld, agent_token: str, resource: str = RS) -> str:
    response = send(
        world, signed(world, "POST", f"{PS}/person-token", agent_token, body={"resource": resource})
    )
    assert response.status == 200, response.body
    token: str = body_of(response)["person_token"]
    return token


def resource_token(world: FakeWorld, person: str, path: str = "/auth/doc") -> str:
    response = send(world, signed(world, "GET", f"{RS}{path}", person))
    requirement = read_aauth_requirement(response)
    assert isinstance(requirement, AuthTokenRequired), response
    return requirement.resource_token


def auth_token(world: FakeWorld, agent_token: str, path: str = "/auth/doc") -> str:
    token = resource_token(world, person_token(world, agent_token), path)
    response = send(
        world, signed(world, "POST", f"{PS}/token", agent_token, body={"resource_token": token})
    )
    assert response.status == 200, response.body
    result: str = body_of(response)["auth_token"]
    return result


def poll(world: FakeWorld, location: str, token: str, **kwargs: Any) -> HttpResponse:
    url = location if location.startswith("https://") else PS + location
    return send(world, signed(world, "GET", url, token, **kwargs))


# --------------------------------------------------------------------------- clock


def test_clock_moves_only_forward_and_records_sleeps() -> None:
    clock = FakeClock(100)
    assert clock.now() == clock() == 100
    clock.advance(0.6)
    assert clock.now() == 100 and clock.exact == pytest.approx(100.6)
    clock.sleep(0.5)
    assert clock.now() == 101 and clock.slept == [0.5]
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="finite"):
        FakeClock(float("nan"))
    assert repr(clock) == "FakeClock(now=101)"


# --------------------------------------------------------------------------- agent provider


def test_agent_provider_serves_metadata_and_jwks(world: FakeWorld) -> None:
    ap = world.agent_provider
    response = ap.handle(HttpRequest("GET", f"{AP}/.well-known/aauth-agent.json"), 0)
    doc = parse_agent_metadata(response.body, expected_issuer=AP)
    assert doc.jwks_uri == f"{AP}/jwks.json"
    jwks = body_of(ap.handle(HttpRequest("GET", f"{AP}/jwks.json"), 0))
    assert jwks == ap.jwks and jwks["keys"][0]["kid"] == "ap-key-1"
    assert ap.handle(HttpRequest("GET", f"{AP}/nope"), 0).status == 404
    assert ap.handle(HttpRequest("POST", f"{AP}/jwks.json"), 0).status == 405
    assert len(ap.requests) == 4


def test_agent_provider_mints_tokens_that_validate(world: FakeWorld) -> None:
    ap = world.agent_provider
    now = world.clock.now()
    token = ap.mint(world.agent_key.public_key, now=now, lifetime=600)
    model = validate_agent_token(token, ap.jwks, now=now)
    assert model.sub == "aauth:assistant@agent.example"
    assert model.ps == PS and model.exp == now + 600
    assert model.cnf_thumbprint == world.agent_key.thumbprint
    other = ap.mint(world.agent_key, now=now, ps=None, agent_id="aauth:other@agent.example")
    second = validate_agent_token(other, ap.jwks, now=now)
    assert second.ps is None and second.sub == "aauth:other@agent.example"
    assert second.jti != model.jti and ap.minted == [token, other]
    assert ap.agent_key("a").thumbprint != ap.agent_key("b").thumbprint


# --------------------------------------------------------------------------- person server


def test_person_server_metadata_and_jwks(world: FakeWorld) -> None:
    ps = world.person_server
    response = ps.handle(HttpRequest("GET", f"{PS}/.well-known/aauth-person.json"), 0)
    doc = parse_person_metadata(response.body, expected_issuer=PS)
    assert doc.person_token_endpoint == f"{PS}/person-token"
    assert doc.auth_token_endpoint == f"{PS}/token"
    assert body_of(ps.handle(HttpRequest("GET", doc.jwks_uri), 0)) == ps.jwks
    ps.metadata_fault = Fault.HTML
    page = ps.handle(HttpRequest("GET", f"{PS}/.well-known/aauth-person.json"), 0)
    assert page.status == 200 and page.header("content-type") == "text/html; charset=utf-8"
    assert ps.handle(HttpRequest("GET", f"{PS}/person-token"), 0).status == 405
    assert ps.handle(HttpRequest("GET", f"{PS}/elsewhere"), 0).status == 404


def test_person_token_endpoint_issues_a_bound_token(world: FakeWorld) -> None:
    agent = world.agent_token(lifetime=1800)
    now = world.clock.now()
    response = send(
        world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS})
    )
    assert response.status == 200
    body = body_of(response)
    model = validate_person_token(
        body["person_token"], world.person_server.jwks, now=now, audience=RS
    )
    assert model.iss == PS and model.sub == world.person_server.subject_for(RS)
    assert model.cnf_thumbprint == world.agent_key.thumbprint
    # never beyond the agent token's exp
    assert model.exp == now + 1800 and body["expires_in"] == 1800
    assert model.jti in world.person_server.person_records


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"resource": 7}, "application/json"),
        ({}, "application/json"),
        ({"resource": "http://resource.example"}, "application/json"),
        (b"not json", "application/json"),
        (b"[1]", "application/json"),
        ({"resource": RS}, "text/plain"),
    ],
)
def test_person_token_endpoint_refuses_bad_bodies(
    world: FakeWorld, body: object, content_type: str
) -> None:
    request = signed(
        world,
        "POST",
        f"{PS}/person-token",
        world.agent_token(),
        body=body,
        headers=[("Content-Type", content_type)],
    )
    response = send(world, request)
    assert response.status == 400 and error_of(response) == "invalid_request"


def test_person_server_verifies_the_signature(world: FakeWorld) -> None:
    agent = world.agent_token()
    unsigned = HttpRequest("POST", f"{PS}/person-token", [("Content-Type", "application/json")])
    assert signature_error(send(world, unsigned)) == "invalid_request"
    # a body without content-digest covered (AAuth -11: MUST for PS bodies)
    bare = signed(
        world,
        "POST",
        f"{PS}/person-token",
        agent,
        body={"resource": RS},
        components=("@method", "@authority", "@path", "signature-key"),
    )
    response = send(world, bare)
    assert signature_error(response) == "invalid_input"
    required = parse_signature_error(response.header("signature-error") or "").required_input
    assert "content-digest" in required
    # an hwk key instead of an agent token
    hwk = HwkKey(label="sig", jwk=world.agent_key.public_jwk)
    plain = HttpRequest("POST", f"{PS}/token", [("Content-Type", "application/json")], b"{}")
    hwk_signed = sign_request(plain, world.agent_key, signature_key=hwk, created=world.clock.now())
    response = send(world, hwk_signed)
    assert signature_error(response) == "unsupported_scheme"
    assert response.header("accept-signature-scheme") == "jwt"
    # stale signature
    stale = signed(
        world,
        "POST",
        f"{PS}/person-token",
        agent,
        body={"resource": RS},
        created=world.clock.now() - 600,
    )
    assert signature_error(send(world, stale)) == "invalid_signature"


def test_person_server_checks_the_agent_token(world: FakeWorld) -> None:
    now = world.clock.now()
    ap = world.agent_provider

    def attempt(token: str) -> HttpResponse:
        return send(
            world, signed(world, "POST", f"{PS}/person-token", token, body={"resource": RS})
        )

    stranger = FakeAgentProvider("https://stranger.example", seed=5)
    cases = {
        "untrusted AP": stranger.mint(world.agent_key, now=now, ps=PS),
        "another PS": ap.mint(world.agent_key, now=now, ps="https://other-ps.example"),
        "no PS": ap.mint(world.agent_key, now=now, ps=None),
        "sub-agent": ap.mint(
            world.agent_key,
            now=now,
            agent_id="aauth:helper@agent.example",
            parent_agent="aauth:assistant@agent.example",
        ),
        "person token": person_token(world, world.agent_token()),
    }
    for name, token in cases.items():
        response = attempt(token)
        assert (response.status, error_of(response)) == (400, "invalid_agent_token"), name
    expired = ap.mint(world.agent_key, now=now - 7200, lifetime=3600)
    assert signature_error(attempt(expired)) == "expired_jwt"


def test_auth_token_endpoint_issues_for_a_valid_resource_token(world: FakeWorld) -> None:
    agent = world.agent_token()
    now = world.clock.now()
    person = person_token(world, agent)
    token = resource_token(world, person)
    response = send(
        world, signed(world, "POST", f"{PS}/token", agent, body={"resource_token": token})
    )
    assert response.status == 200
    body = body_of(response)
    model = validate_auth_token(body["auth_token"], world.person_server.jwks, now=now, audience=RS)
    assert model.iss == model.ps == PS and model.scope == "data.read"
    assert model.sub == world.person_server.subject_for(RS)
    assert model.cnf_thumbprint == world.agent_key.thumbprint
    assert body["expires_in"] == 3600 and world.person_server.auth_tokens == [body["auth_token"]]


def test_auth_token_endpoint_refuses_bad_resource_tokens(world: FakeWorld) -> None:
    agent = world.agent_token()
    token = resource_token(world, person_token(world, agent))

    def exchange(rt: object, key: PrivateKey | None = None, at: str = agent) -> HttpResponse:
        request = signed(world, "POST", f"{PS}/token", at, body={"resource_token": rt}, key=key)
        return send(world, request)

    assert error_of(exchange(None)) == "invalid_request"
    assert error_of(exchange("not-a-jwt")) == "invalid_resource_token"
    # resource token for another agent key: agent_jkt is not the signer
    other_key = world.agent_provider.agent_key("other")
    other_agent = world.agent_provider.mint(other_key, now=world.clock.now())
    response = exchange(token, key=other_key, at=other_agent)
    assert (response.status, error_of(response)) == (400, "invalid_resource_token")
    # a resource this PS does not trust
    stranger = FakeResource("https://stranger.example", person_servers=[world.person_server])
    stranger_person = person_token(world, agent, resource="https://stranger.example")
    stranger_challenge = stranger.handle(
        signed(world, "GET", "https://stranger.example/auth", stranger_person), world.clock.now()
    )
    stranger_rt = read_aauth_requirement(stranger_challenge)
    assert isinstance(stranger_rt, AuthTokenRequired)
    assert error_of(exchange(stranger_rt.resource_token)) == "invalid_resource_token"
    # presented_jti naming no person token this PS issued
    world.person_server.person_records.clear()
    assert error_of(exchange(token)) == "unknown_person_token"
    world.person_server.check_presented_jti = False
    assert exchange(token).status == 200
    # expired
    world.clock.advance(400)
    fresh = world.agent_token()
    assert error_of(exchange(token, at=fresh)) == "expired_resource_token"


def test_interaction_completes_after_approve(world: FakeWorld) -> None:
    ps = world.person_server
    ps.person_token_defer = Defer.INTERACTION
    agent = world.agent_token()
    first = send(world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}))
    assert first.status == 202
    requirement = read_aauth_requirement(first)
    assert isinstance(requirement, InteractionRequired)
    assert requirement.url == f"{PS}/interact"
    assert len(normalize_interaction_code(requirement.code)) == 8
    location = first.header("location") or ""
    pending = ps.last_pending
    assert location == pending.url == f"{PS}/pending/{pending.id}" and len(pending.id) == 32
    assert first.header("retry-after") == "0" and first.header("cache-control") == "no-store"
    assert body_of(first) == {"status": "pending"}

    waiting = poll(world, location, agent)
    assert waiting.status == 202 and isinstance(
        read_aauth_requirement(waiting), InteractionRequired
    )
    ps.visit(requirement.code)
    assert body_of(poll(world, location, agent)) == {"status": "interacting"}
    # codes compare case-insensitively, hyphens stripped (AAuth -11 §"Interaction Codes")
    ps.approve(requirement.code.replace("-", "").lower())
    done = poll(world, location, agent)
    assert done.status == 200 and "person_token" in body_of(done)
    assert pending.state == "done" and pending.polls == 3
    assert poll(world, location, agent).status == 410
    with pytest.raises(LookupError):
        ps.approve(requirement.code)
    with pytest.raises(LookupError):
        ps.approve("ZZZZ-ZZZZ")


def test_interaction_denied_then_gone(world: FakeWorld) -> None:
    ps = world.person_server
    ps.auth_token_defer = Defer.INTERACTION
    agent = world.agent_token()
    rt = resource_token(world, person_token(world, agent))
    first = send(world, signed(world, "POST", f"{PS}/token", agent, body={"resource_token": rt}))
    code = ps.last_pending.code or ""
    ps.deny(code)
    with pytest.raises(LookupError):
        ps.visit("no-such")
    denied = poll(world, first.header("location") or "", agent)
    assert (denied.status, error_of(denied)) == (403, "denied")
    assert poll(world, first.header("location") or "", agent).status == 410
    with pytest.raises(LookupError):
        ps.deny(code)


def test_polls_are_verified(world: FakeWorld) -> None:
    ps = world.person_server
    ps.person_token_defer = Defer.FOREVER
    agent = world.agent_token()
    first = send(world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}))
    location = first.header("location") or ""
    assert read_aauth_requirement(first) is None
    assert signature_error(send(world, HttpRequest("GET", location))) == "invalid_request"
    other_key = world.agent_provider.agent_key("intruder")
    intruder = world.agent_provider.mint(other_key, now=world.clock.now())
    assert poll(world, location, intruder, key=other_key).status == 403
    assert poll(world, f"{PS}/pending/{'0' * 32}", agent).status == 404
    assert send(world, signed(world, "PUT", location, agent)).status == 405
    for _ in range(20):
        assert poll(world, location, agent).status == 202  # never completes
    assert ps.last_pending.polls == 20


def test_approval_completes_on_the_nth_poll(world: FakeWorld) -> None:
    ps = world.person_server
    ps.auth_token_defer = Defer.APPROVAL
    ps.approval_polls = 3
    agent = world.agent_token()
    rt = resource_token(world, person_token(world, agent))
    first = send(world, signed(world, "POST", f"{PS}/token", agent, body={"resource_token": rt}))
    assert first.status == 202 and isinstance(read_aauth_requirement(first), ApprovalPending)
    location = first.header("location") or ""
    statuses = [poll(world, location, agent).status for _ in range(3)]
    assert statuses == [202, 202, 200]


def test_clarification_chat(world: FakeWorld) -> None:
    ps = world.person_server
    ps.auth_token_defer = Defer.CLARIFICATION
    ps.clarification_rounds = 2
    ps.clarification_options = ["work", "home"]
    ps.clarification_timeout = 120
    agent = world.agent_token()
    rt = resource_token(world, person_token(world, agent))
    first = send(world, signed(world, "POST", f"{PS}/token", agent, body={"resource_token": rt}))
    assert first.status == 202
    assert first.header("aauth-requirement") == "requirement=clarification"
    assert body_of(first) == {
        "status": "pending",
        "clarification": ps.clarification_question,
        "timeout": 120,
        "options": ["work", "home"],
    }
    location = first.header("location") or ""

    def post(body: object) -> HttpResponse:
        return send(world, signed(world, "POST", location, agent, body=body))

    assert post({}).status == 400
    assert post({"action": "dance"}).status == 400
    assert post({"action": "clarification_response"}).status == 400
    again = post({"action": "clarification_response", "clarification_response": "work"})
    assert again.status == 202 and "clarification" in body_of(again)  # second round
    assert poll(world, location, agent).status == 202
    last = post({"action": "clarification_response", "clarification_response": "the blue one"})
    assert last.status == 202 and "clarification" not in body_of(last)
    assert post({"action": "clarification_response", "clarification_response": "x"}).status == 400
    done = poll(world, location, agent)
    assert done.status == 200 and "auth_token" in body_of(done)
    assert ps.clarification_answers == ["work", "the blue one"]


def test_clarification_cancelled_with_delete(world: FakeWorld) -> None:
    ps = world.person_server
    ps.person_token_defer = Defer.CLARIFICATION
    agent = world.agent_token()
    first = send(world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}))
    location = first.header("location") or ""
    updated = send(
        world,
        signed(
            world,
            "POST",
            location,
            agent,
            body={"action": "updated_request", "resource_token": "x"},
        ),
    )
    assert updated.status == 400  # a person-token request has no resource token to replace
    assert send(world, signed(world, "DELETE", location, agent)).status == 204
    assert poll(world, location, agent).status == 410
    assert ps.last_pending.state == "cancelled"


def test_updated_request_replaces_the_resource_token(world: FakeWorld) -> None:
    ps = world.person_server
    agent = world.agent_token()
    person = person_token(world, agent)
    rt = resource_token(world, person)
    ps.auth_token_defer = Defer.CLARIFICATION
    first = send(world, signed(world, "POST", f"{PS}/token", agent, body={"resource_token": rt}))
    location = first.header("location") or ""
    wider = resource_token(world, person, "/admin")
    response = send(
        world,
        signed(
            world,
            "POST",
            location,
            agent,
            body={
                "action": "updated_request",
                "resource_token": wider,
                "justification": "need to edit",
            },
        ),
    )
    assert response.status == 202 and ps.last_pending.justifications == ["need to edit"]
    done = poll(world, location, agent)
    model = validate_auth_token(
        body_of(done)["auth_token"], ps.jwks, now=world.clock.now(), audience=RS
    )
    assert model.scope == "data.read data.write"


def test_poll_faults_are_consumed_in_order(world: FakeWorld) -> None:
    ps = world.person_server
    ps.person_token_defer = Defer.APPROVAL
    ps.approval_polls = 2
    ps.poll_faults = [Fault.SLOW_DOWN, Fault.UNKNOWN_STATUS, Fault.UNAVAILABLE]
    agent = world.agent_token()
    first = send(world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}))
    location = first.header("location") or ""
    slow = poll(world, location, agent)
    assert (slow.status, error_of(slow)) == (429, "slow_down")
    odd = poll(world, location, agent)
    assert odd.status == 202 and body_of(odd)["status"] == "thinking-about-it"
    assert odd.header("location") == location
    busy = poll(world, location, agent)
    assert busy.status == 503 and busy.header("retry-after") == "0"
    assert poll(world, location, agent).status == 200  # 4th poll >= approval_polls


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.DENIED, 403), (Fault.ABANDONED, 403), (Fault.EXPIRED, 408), (Fault.SERVER_ERROR, 500)],
)
def test_terminal_poll_faults_end_the_pending_request(
    world: FakeWorld, fault: Fault, status: int
) -> None:
    ps = world.person_server
    ps.person_token_defer = Defer.FOREVER
    ps.poll_faults = [fault]
    agent = world.agent_token()
    first = send(world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}))
    location = first.header("location") or ""
    response = poll(world, location, agent)
    assert (response.status, error_of(response)) == (status, fault.value)
    assert poll(world, location, agent).status == 410


def test_dropped_poll(world: FakeWorld) -> None:
    ps = world.person_server
    ps.person_token_defer = Defer.FOREVER
    agent = world.agent_token()
    first = send(world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}))
    ps.poll_faults = [Fault.DROP, Fault.DROP]
    request = signed(world, "GET", first.header("location") or "", agent)
    with pytest.raises(DropConnection):
        ps.handle(request, world.clock.now())
    assert ps.log[-1].response is None
    with pytest.raises(FakeNetworkError, match="without a response"):
        send(world, request)
    assert send(world, request).status == 202  # DROP is not terminal


@pytest.mark.parametrize(
    ("fault", "status", "content_type"),
    [
        (Fault.SERVER_ERROR, 500, "application/problem+json"),
        (Fault.HTML, 200, "text/html; charset=utf-8"),
        (Fault.HTML_ERROR, 502, "text/html; charset=utf-8"),
        (Fault.GARBAGE_JSON, 200, "application/json"),
        (Fault.EMPTY_JSON, 200, "application/json"),
        (Fault.DENIED, 403, "application/problem+json"),
        (Fault.USER_UNREACHABLE, 403, "application/problem+json"),
        (Fault.EXPIRED, 408, "application/problem+json"),
        (Fault.GONE, 410, "application/problem+json"),
        (Fault.SLOW_DOWN, 429, "application/problem+json"),
        (Fault.UNAVAILABLE, 503, "application/problem+json"),
        (Fault.UNKNOWN_STATUS, 202, "application/json"),
    ],
)
def test_token_endpoint_faults(
    world: FakeWorld, fault: Fault, status: int, content_type: str
) -> None:
    agent = world.agent_token()
    rt = resource_token(world, person_token(world, agent))
    world.person_server.auth_token_fault = fault
    world.person_server.person_token_fault = fault
    for request in (
        signed(world, "POST", f"{PS}/token", agent, body={"resource_token": rt}),
        signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}),
    ):
        response = send(world, request)
        assert response.status == status
        assert response.header("content-type") == content_type
    if fault is Fault.GARBAGE_JSON:
        with pytest.raises(ValueError):
            json.loads(response.body)
    if fault is Fault.UNKNOWN_STATUS:
        assert response.header("location") is None  # no pending URL: a malformed 202


def test_token_endpoint_drop(world: FakeWorld) -> None:
    world.person_server.person_token_fault = Fault.DROP
    agent = world.agent_token()
    with pytest.raises(FakeNetworkError):
        person_token(world, agent)


def test_location_and_retry_after_switches(world: FakeWorld) -> None:
    ps = world.person_server
    ps.person_token_defer = Defer.APPROVAL
    ps.relative_locations = True
    ps.retry_after = None
    agent = world.agent_token()
    first = send(world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}))
    assert first.header("location") == f"/pending/{ps.last_pending.id}"
    assert first.header("retry-after") is None
    assert poll(world, first.header("location") or "", agent).status == 200


def test_fakes_are_deterministic_by_seed() -> None:
    def run(seed: int) -> tuple[str, str, str]:
        world = make_world(seed=seed)
        world.person_server.person_token_defer = Defer.INTERACTION
        agent = world.agent_token()
        send(world, signed(world, "POST", f"{PS}/person-token", agent, body={"resource": RS}))
        pending = world.person_server.last_pending
        return agent, pending.id, pending.code or ""

    assert run(1) == run(1)
    first, second = run(1), run(2)
    assert all(a != b for a, b in zip(first, second, strict=True))


# --------------------------------------------------------------------------- resource


def test_resource_metadata_and_jwks(world: FakeWorld) -> None:
    rs = world.resource
    response = rs.handle(HttpRequest("GET", f"{RS}/.well-known/aauth-resource.json"), 0)
    doc = parse_resource_metadata(response.body, expected_issuer=RS)
    assert doc.access_mode == "auth-token" and doc.signature_window == 60
    assert body_of(rs.handle(HttpRequest("GET", f"{RS}/jwks.json"), 0)) == rs.jwks
    assert rs.url("/x") == f"{RS}/x"


@pytest.mark.parametrize(
    ("path", "requirement"),
    [
        ("/agent", "agent-token"),
        ("/agent/deeper/path", "agent-token"),
        ("/person", "person-token"),
        ("/auth", "person-token"),
        ("/deferred", "person-token"),
        ("/session", "agent-token"),
    ],
)
def test_unsigned_requests_are_challenged(world: FakeWorld, path: str, requirement: str) -> None:
    response = world.resource.handle(HttpRequest("GET", f"{RS}{path}"), world.clock.now())
    assert response.status == 401
    assert response.header("aauth-requirement") == f"requirement={requirement}"


def test_agent_token_mode(world: FakeWorld) -> None:
    rs = world.resource
    response = send(
        world,
        signed(
            world,
            "POST",
            f"{RS}/agent/echo",
            world.agent_token(),
            body=b"hi",
            headers=[("Content-Type", "text/plain")],
        ),
    )
    assert response.status == 200
    body = body_of(response)
    assert body["agent"] == "aauth:assistant@agent.example" and body["as"] == "agent"
    assert body["body"] == "hi" and body["call"] == 1
    assert rs.calls[0].path == "/agent/echo" and rs.requests[0].method == "POST"
    assert rs.log[0].response is response
    assert send(world, signed(world, "GET", f"{RS}/nowhere", world.agent_token())).status == 404


def test_person_token_mode(world: FakeWorld) -> None:
    agent = world.agent_token()
    challenged = send(world, signed(world, "GET", f"{RS}/person", agent))
    assert challenged.header("aauth-requirement") == "requirement=person-token"
    response = send(world, signed(world, "GET", f"{RS}/person", person_token(world, agent)))
    assert response.status == 200
    assert body_of(response)["sub"] == world.person_server.subject_for(RS)


def test_auth_token_challenge_carries_a_checkable_resource_token(world: FakeWorld) -> None:
    agent = world.agent_token()
    assert (
        send(world, signed(world, "GET", f"{RS}/auth", agent)).header("aauth-requirement")
        == "requirement=person-token"
    )
    person = person_token(world, agent)
    response = send(world, signed(world, "GET", f"{RS}/auth", person))
    assert response.status == 401
    requirement = read_aauth_requirement(response)
    assert isinstance(requirement, AuthTokenRequired)
    # the agent's checks (AAuth -11 §"Canonical flow" step 4)
    model = validate_resource_token(
        requirement.resource_token,
        world.resource.jwks,
        now=world.clock.now(),
        audience=PS,
        issuer=RS,
        ps=PS,
        subject=world.person_server.subject_for(RS),
    )
    assert model.agent_jkt == world.agent_key.thumbprint and model.scope == "data.read"
    assert model.exp - model.iat == 300


def test_auth_token_mode_and_step_up(world: FakeWorld) -> None:
    agent = world.agent_token()
    auth = auth_token(world, agent)
    ok = send(world, signed(world, "GET", f"{RS}/auth/doc", auth))
    assert ok.status == 200 and body_of(ok)["scope"] == "data.read"
    assert send(world, signed(world, "GET", f"{RS}/person", auth)).status == 200
    # step-up: a valid auth token, but not enough scope
    more = send(world, signed(world, "GET", f"{RS}/admin", auth))
    requirement = read_aauth_requirement(more)
    assert more.status == 401 and isinstance(requirement, AuthTokenRequired)
    model = validate_resource_token(
        requirement.resource_token, world.resource.jwks, now=world.clock.now(), audience=PS
    )
    assert model.scope == "data.read data.write"
    # a resource that never saw the person token cannot step up: back to person-token
    fresh = FakeResource(
        agent_providers=[world.agent_provider], person_servers=[world.person_server]
    )
    response = fresh.handle(signed(world, "GET", f"{RS}/admin", auth), world.clock.now())
    assert response.header("aauth-requirement") == "requirement=person-token"


def test_resource_refuses_bad_tokens(world: FakeWorld) -> None:
    agent = world.agent_token()
    now = world.clock.now()
    elsewhere = person_token(world, agent, resource="https://elsewhere.example")
    assert signature_error(send(world, signed(world, "GET", f"{RS}/person", elsewhere))) == (
        "invalid_jwt"
    )
    rogue_ps = FakePersonServer("https://rogue.example", agent_providers=[world.agent_provider])
    rogue = body_of(
        rogue_ps.handle(
            signed(
                world,
                "POST",
                "https://rogue.example/person-token",
                world.agent_provider.mint(world.agent_key, now=now, ps="https://rogue.example"),
                body={"resource": RS},
            ),
            now,
        )
    )["person_token"]
    assert (
        signature_error(send(world, signed(world, "GET", f"{RS}/person", rogue))) == "invalid_jwt"
    )
    stranger = FakeAgentProvider("https://stranger.example")
    foreign = stranger.mint(world.agent_key, now=now)
    assert (
        signature_error(send(world, signed(world, "GET", f"{RS}/agent", foreign))) == "invalid_jwt"
    )
    # a resource token cannot sign requests
    rt = resource_token(world, person_token(world, agent))
    assert signature_error(send(world, signed(world, "GET", f"{RS}/agent", rt))) == "invalid_jwt"


def test_signature_error_answers(world: FakeWorld) -> None:
    agent = world.agent_token()
    strict = send(world, signed(world, "GET", f"{RS}/strict?x=1", agent))
    assert signature_error(strict) == "invalid_input"
    required = parse_signature_error(strict.header("signature-error") or "").required_input
    assert '"@query"' in required or "@query" in required
    covered = ("@method", "@authority", "@path", "@query", "signature-key")
    assert (
        send(world, signed(world, "GET", f"{RS}/strict?x=1", agent, components=covered)).status
        == 200
    )

    es256 = send(world, signed(world, "GET", f"{RS}/es256", agent))
    assert signature_error(es256) == "unsupported_algorithm"
    assert parse_accept_signature_alg(es256.header("accept-signature-alg") or "") == ("ES256",)
    ec_key = EcP256Key.from_private_value(12345678901234567890)
    ec_agent = world.agent_provider.mint(ec_key, now=world.clock.now())
    assert send(world, signed(world, "GET", f"{RS}/es256", ec_agent, key=ec_key)).status == 200

    tampered = signed(world, "GET", f"{RS}/agent", agent)
    tampered = HttpRequest("GET", f"{RS}/agent/other", tampered.headers)
    assert signature_error(send(world, tampered)) == "invalid_signature"
    world.resource.signature_errors = ["unknown_key"]
    forced = send(world, signed(world, "GET", f"{RS}/agent", agent))
    assert signature_error(forced) == "unknown_key"
    assert send(world, signed(world, "GET", f"{RS}/agent", agent)).status == 200


def test_resource_faults(world: FakeWorld) -> None:
    world.resource.faults = [Fault.SERVER_ERROR, Fault.DROP]
    agent = world.agent_token()
    assert send(world, signed(world, "GET", f"{RS}/agent", agent)).status == 500
    with pytest.raises(FakeNetworkError):
        send(world, signed(world, "GET", f"{RS}/agent", agent))
    assert send(world, signed(world, "GET", f"{RS}/agent", agent)).status == 200


def test_deferred_auth_token_runs_the_held_call_once_and_replays(world: FakeWorld) -> None:
    rs = world.resource
    agent = world.agent_token()
    person = person_token(world, agent)
    first = send(world, signed(world, "POST", f"{RS}/deferred/job", person, body={"n": 1}))
    assert first.status == 202
    requirement = read_aauth_requirement(first)
    assert isinstance(requirement, AuthTokenRequired)
    location = first.header("location") or ""
    assert location == rs.last_pending.url and first.header("cache-control") == "no-store"
    assert body_of(first) == {"status": "pending"} and rs.calls == []
    # still pending while only the person token is presented
    assert send(world, signed(world, "GET", location, person)).status == 202
    exchange = send(
        world,
        signed(
            world, "POST", f"{PS}/token", agent, body={"resource_token": requirement.resource_token}
        ),
    )
    auth = body_of(exchange)["auth_token"]
    result = send(world, signed(world, "GET", location, auth))
    assert result.status == 200 and body_of(result)["path"] == "/deferred/job"
    assert body_of(result)["body"] == '{"n": 1}' and len(rs.calls) == 1
    world.clock.advance(30)
    replay = send(world, signed(world, "GET", location, auth))
    assert replay.body == result.body and len(rs.calls) == 1
    other_auth = auth_token(world, agent)
    assert send(world, signed(world, "GET", location, other_auth)).status == 410
    world.clock.advance(3600)
    late_agent = world.agent_token()
    assert send(world, signed(world, "GET", location, late_agent)).status == 410


def test_deferred_poll_checks(world: FakeWorld) -> None:
    rs = world.resource
    rs.relative_locations = True
    agent = world.agent_token()
    first = send(world, signed(world, "GET", f"{RS}/deferred", person_token(world, agent)))
    location = RS + (first.header("location") or "")
    assert send(world, HttpRequest("GET", location)).status == 401
    other_key = world.agent_provider.agent_key("other")
    other = world.agent_provider.mint(other_key, now=world.clock.now())
    assert send(world, signed(world, "GET", location, other, key=other_key)).status == 403
    assert send(world, signed(world, "POST", location, agent, body={})).status == 405
    assert send(world, signed(world, "GET", f"{RS}/pending/{'0' * 32}", agent)).status == 404
    assert send(world, signed(world, "DELETE", location, agent)).status == 204
    assert send(world, signed(world, "GET", location, agent)).status == 410


def test_session_token_flow_with_rotation(world: FakeWorld) -> None:
    rs = world.resource
    agent = world.agent_token()
    first = send(world, signed(world, "GET", f"{RS}/session/inbox", agent))
    assert first.status == 202
    requirement = read_aauth_requirement(first)
    assert isinstance(requirement, InteractionRequired) and requirement.url == f"{RS}/interact"
    location = first.header("location") or ""
    assert send(world, signed(world, "GET", location, agent)).status == 202
    rs.visit(requirement.code)
    assert body_of(send(world, signed(world, "GET", location, agent)))["status"] == "interacting"
    rs.approve(requirement.code)
    done = send(world, signed(world, "GET", location, agent))
    assert done.status == 200 and body_of(done)["path"] == "/session/inbox"
    session = read_aauth_access(done)
    assert session is not None and session in rs.sessions
    assert send(world, signed(world, "GET", location, agent)).status == 410
    with pytest.raises(LookupError):
        rs.approve(requirement.code)

    def call(token: str) -> HttpResponse:
        headers = [("Authorization", build_authorization(token))]
        return send(world, signed(world, "GET", f"{RS}/session/inbox", agent, headers=headers))

    again = call(session)
    assert again.status == 200 and body_of(again)["as"] == "session"
    assert read_aauth_access(again) is None
    rs.rotate_session = True
    rotated = call(session)
    new = read_aauth_access(rotated)
    assert rotated.status == 200 and new is not None and new != session
    assert call(new).status == 200
    assert call(session).status == 202  # the old token is gone: a new session is needed
    # Authorization: AAuth without `authorization` covered
    uncovered = signed(
        world,
        "GET",
        f"{RS}/session",
        agent,
        headers=[("Authorization", build_authorization(new))],
        components=("@method", "@authority", "@path", "signature-key"),
    )
    assert signature_error(send(world, uncovered)) == "invalid_input"
    bad = signed(world, "GET", f"{RS}/session", agent, headers=[("Authorization", "AAuth a b")])
    assert send(world, bad).status == 400


def test_session_interaction_denied(world: FakeWorld) -> None:
    rs = world.resource
    agent = world.agent_token()
    first = send(world, signed(world, "GET", f"{RS}/session", agent))
    rs.deny(rs.last_pending.id)
    denied = send(world, signed(world, "GET", first.header("location") or "", agent))
    assert (denied.status, error_of(denied)) == (403, "denied")
    assert send(world, signed(world, "GET", first.header("location") or "", agent)).status == 410
    with pytest.raises(LookupError):
        rs.deny(rs.last_pending.id)
    with pytest.raises(LookupError):
        rs.visit("nothing")


def test_session_without_interaction_and_custom_routes(world: FakeWorld) -> None:
    rs = world.resource
    rs.routes["/quick"] = Route("session-token", interaction=False)
    response = send(world, signed(world, "GET", f"{RS}/quick", world.agent_token()))
    assert response.status == 200 and read_aauth_access(response) in rs.sessions
    with pytest.raises(ValueError, match="access mode"):
        Route("per-call")
    with pytest.raises(LookupError):
        _ = FakeResource().last_pending
    with pytest.raises(LookupError):
        _ = FakePersonServer().last_pending


# --------------------------------------------------------------------------- transports


def test_memory_transport(world: FakeWorld) -> None:
    transport = MemoryTransport(world.handlers, world.clock)
    assert transport(HttpRequest("GET", f"{PS}/jwks.json")).status == 200
    with pytest.raises(FakeNetworkError, match="no fake"):
        transport(HttpRequest("GET", "https://nowhere.example/"))
    transport.fail_next = 1
    with pytest.raises(FakeNetworkError, match="injected"):
        transport(HttpRequest("GET", f"{PS}/jwks.json"))
    assert transport(HttpRequest("GET", f"{PS}/jwks.json")).status == 200
    assert len(transport.sent) == 4


def test_transport_map() -> None:
    tmap = TransportMap({PS: "http://127.0.0.1:1234"})
    assert dict(tmap) == {PS: "http://127.0.0.1:1234"} and len(tmap) == 1
    assert tmap.dial_url(f"{PS}/token?x=1") == "http://127.0.0.1:1234/token?x=1"
    assert tmap.dial_url(f"{RS}/x") == f"{RS}/x"
    assert tmap.identifier_url("http://127.0.0.1:1234/pending/ab") == f"{PS}/pending/ab"
    assert tmap.identifier_url("http://127.0.0.1:9/x") == "http://127.0.0.1:9/x"
    with pytest.raises(ValueError, match="origin"):
        tmap.add(f"{PS}/path", "http://127.0.0.1:1")
    assert "TransportMap" in repr(tmap)


@pytest.fixture
def served_world(world: FakeWorld) -> Iterator[tuple[FakeWorld, TransportMap]]:
    with serve_many(world.handlers, world.clock) as tmap:
        yield world, tmap


def test_serve_over_a_real_socket(served_world: tuple[FakeWorld, TransportMap]) -> None:
    world, tmap = served_world
    assert set(tmap) == {AP, PS, RS}
    metadata_url = tmap.dial_url(f"{PS}/.well-known/aauth-person.json")
    with urllib.request.urlopen(metadata_url, timeout=5) as reply:
        assert reply.status == 200
        parse_person_metadata(reply.read(), expected_issuer=PS)
    # a signed POST to the loopback authority the agent actually dials
    dial = tmap.dial_url(f"{PS}/person-token")
    request = signed(world, "POST", dial, world.agent_token(), body={"resource": RS})
    wire = urllib.request.Request(
        dial, data=request.body, method="POST", headers=dict(request.headers)
    )
    with urllib.request.urlopen(wire, timeout=5) as reply:
        assert reply.status == 200
        assert "person_token" in json.loads(reply.read())
    seen = world.person_server.requests[-1]
    assert seen.url == dial and seen.header("content-digest") == request.header("content-digest")
    # an error status comes through with its body
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(tmap.dial_url(f"{RS}/agent"), timeout=5)
    assert caught.value.code == 401
    assert caught.value.headers["AAuth-Requirement"] == "requirement=agent-token"


def test_serve_chunked_body_keep_alive_and_drop(world: FakeWorld) -> None:
    with serve(world.person_server.handle, world.clock) as served:
        url = served.url("/person-token")
        request = signed(world, "POST", url, world.agent_token(), body={"resource": RS})
        connection = http.client.HTTPConnection(served.host, served.port, timeout=5)
        try:
            headers = {k: v for k, v in request.headers}
            connection.request(
                "POST",
                "/person-token",
                body=iter([request.body[:5], request.body[5:]]),
                headers=headers,
                encode_chunked=True,
            )
            reply = connection.getresponse()
            assert reply.status == 200 and "person_token" in json.loads(reply.read())
            # same connection again (HTTP/1.1 keep-alive)
            connection.request("GET", "/jwks.json")
            reply = connection.getresponse()
            assert reply.status == 200 and json.loads(reply.read()) == world.person_server.jwks
            connection.request("DELETE", "/pending/none", headers={"Content-Length": "0"})
            reply = connection.getresponse()
            assert reply.status == 404
            reply.read()
        finally:
            connection.close()
        world.person_server.metadata_fault = Fault.DROP
        with pytest.raises(
            (http.client.RemoteDisconnected, urllib.error.URLError, ConnectionError)
        ):
            urllib.request.urlopen(served.url("/.well-known/aauth-person.json"), timeout=5)
        assert served.handled == 4 and served.errors == []


def test_serve_reports_a_crashing_fake() -> None:
    def broken(request: HttpRequest, now: int) -> HttpResponse:
        raise KeyError("bug")

    with (
        pytest.raises(AssertionError, match="served fake raised"),
        serve(broken, FakeClock()) as served,
    ):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(served.url("/"), timeout=5)
        assert caught.value.code == 500 and caught.value.read() == b"fake crashed: KeyError"
        assert len(served.errors) == 1
    with (
        serve(broken, FakeClock(), raise_errors=False) as served,
        pytest.raises(urllib.error.HTTPError),
    ):
        urllib.request.urlopen(served.url("/"), timeout=5)


def test_forged_tokens_and_late_trust(world: FakeWorld) -> None:
    now = world.clock.now()
    # same issuer name, another key: the signature over the token fails at the PS and resource
    impostor = FakeAgentProvider(seed=99)
    forged = impostor.mint(world.agent_key, now=now)
    response = send(
        world, signed(world, "POST", f"{PS}/person-token", forged, body={"resource": RS})
    )
    assert (response.status, error_of(response)) == (400, "invalid_agent_token")
    assert (
        signature_error(send(world, signed(world, "GET", f"{RS}/agent", forged))) == "invalid_jwt"
    )
    # a bound JWT that is no AAuth token at all
    claims = {"iss": AP, "exp": now + 60, "cnf": {"jwk": world.agent_key.public_jwk}}
    plain_jwt = encode_jwt({"typ": "JWT", "kid": "ap-key-1"}, claims, world.agent_provider.key)
    assert signature_error(send(world, signed(world, "GET", f"{RS}/agent", plain_jwt))) == (
        "invalid_jwt"
    )
    # trust added after construction
    late_ap = FakeAgentProvider("https://late.example", ps=PS, seed=3)
    late_token = late_ap.mint(world.agent_key, now=now)
    assert send(world, signed(world, "GET", f"{RS}/agent", late_token)).status == 401
    world.resource.trust_agent_provider(late_ap)
    world.person_server.trust_agent_provider(late_ap)
    assert send(world, signed(world, "GET", f"{RS}/agent", late_token)).status == 200
    assert person_token(world, late_token)
    late_ps = FakePersonServer("https://late-ps.example", agent_providers=[world.agent_provider])
    late_person = body_of(
        late_ps.handle(
            signed(
                world,
                "POST",
                "https://late-ps.example/person-token",
                world.agent_provider.mint(world.agent_key, now=now, ps="https://late-ps.example"),
                body={"resource": RS},
            ),
            now,
        )
    )["person_token"]
    assert send(world, signed(world, "GET", f"{RS}/person", late_person)).status == 401
    world.resource.trust_person_server(late_ps)
    assert send(world, signed(world, "GET", f"{RS}/person", late_person)).status == 200


def test_updated_request_must_keep_the_resource(world: FakeWorld) -> None:
    ps = world.person_server
    agent = world.agent_token()
    other = FakeResource(
        "https://other.example",
        agent_providers=[world.agent_provider],
        person_servers=[ps],
        seed=4,
    )
    ps.trust_resource(other)
    other_person = person_token(world, agent, resource="https://other.example")
    other_challenge = other.handle(
        signed(world, "GET", "https://other.example/auth", other_person), world.clock.now()
    )
    other_rt = read_aauth_requirement(other_challenge)
    assert isinstance(other_rt, AuthTokenRequired)
    rt = resource_token(world, person_token(world, agent))
    ps.auth_token_defer = Defer.APPROVAL
    ps.approval_polls = 5
    first = send(world, signed(world, "POST", f"{PS}/token", agent, body={"resource_token": rt}))
    location = first.header("location") or ""
    body = {"action": "updated_request", "resource_token": other_rt.resource_token}
    response = send(world, signed(world, "POST", location, agent, body=body))
    assert (response.status, error_of(response)) == (400, "invalid_resource_token")
    # an update without a question open is accepted (no justification given)
    body = {"action": "updated_request", "resource_token": rt}
    assert send(world, signed(world, "POST", location, agent, body=body)).status == 202
    assert ps.last_pending.justifications == [""] and ps.last_pending.answers == []


def test_resource_retry_after_can_be_omitted(world: FakeWorld) -> None:
    world.resource.retry_after = None
    agent = world.agent_token()
    first = send(world, signed(world, "GET", f"{RS}/session", agent))
    assert first.status == 202 and first.header("retry-after") is None


def _raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_serve_reads_raw_http(world: FakeWorld) -> None:
    with serve(world.resource.handle, world.clock) as served:
        bad_length = (
            b"POST /agent HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n"
        )
        assert _raw_exchange(served.port, bad_length).startswith(b"HTTP/1.1 400")
        bad_chunk = (
            b"POST /agent HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\nzz\r\n"
        )
        assert _raw_exchange(served.port, bad_chunk).startswith(b"HTTP/1.1 400")
        chunked = (
            b"POST /agent HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )
        reply = _raw_exchange(served.port, chunked)
        assert reply.startswith(b"HTTP/1.1 401") and b"requirement=agent-token" in reply
        assert world.resource.requests[-1].body == b"abc"
        assert world.resource.requests[-1].url == "http://x/agent"
        head = _raw_exchange(
            served.port, b"HEAD /jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
