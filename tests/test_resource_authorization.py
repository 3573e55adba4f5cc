"""The resource's ``authorization_endpoint`` (digest §1.4 step 3(a), §6.2 "Resource", §7.1,
§7.10): ``POST {path}`` signed with a person token -> ``200 {"resource_token": …}``, and
every refusal with nothing recorded or issued."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from aauth._b64 import b64url_decode, b64url_encode
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import Ed25519Key
from aauth.metadata import parse_resource_metadata
from aauth.resource import (
    AccessMode,
    Authorized,
    MemoryPersonRecords,
    MemoryReplayStore,
    ResourcePolicy,
    ResourceServer,
    ResourceVerifier,
)
from aauth.resource.authorization import (
    MAX_AUTHORIZATION_BODY,
    AuthorizationRequestError,
    parse_authorization_request,
    scope_values,
)
from aauth.signing import sign_request
from aauth.tokens import ResourceToken, build_person_token, validate_resource_token
from tests.fakes import T0
from tests.fakes.access_server import FakeAccessServer
from tests.test_resource_server import RESOURCE, ServerWorld, default_policies, signed
from tests.test_resource_server_auth import auth_token, person_token

PATH = "/aauth/authorize"
URL = RESOURCE + PATH
AS = "https://as.example"
JSON_CT = ("Content-Type", "application/json")


def make_world(**server_options: Any) -> ServerWorld:
    return ServerWorld(server_options={"authorization_path": PATH, **server_options})


def post(
    world: ServerWorld,
    token: str,
    body: dict[str, Any] | bytes,
    *,
    content_type: str = "application/json",
    created: int | None = None,
    components: tuple[str, ...] | None = None,
    key: Ed25519Key | None = None,
    url: str = URL,
) -> HttpRequest:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = HttpRequest("POST", url, (("Content-Type", content_type),), data)
    return sign_request(
        request,
        key or world.agent_key,
        signature_key=token,
        created=world.now() if created is None else created,
        components=components,
    )


def ps_post(world: ServerWorld, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A signed POST to the fake PS with the agent token; its JSON answer."""
    request = HttpRequest("POST", world.ps.issuer + path, (JSON_CT,), json.dumps(body).encode())
    agent_token = world.ap.mint(world.agent_key, now=world.now())
    response = world.ps.handle(
        sign_request(request, world.agent_key, signature_key=agent_token, created=world.now()),
        world.now(),
    )
    assert response.status == 200, response.body
    value = json.loads(response.body)
    assert isinstance(value, dict)
    return value


def issued_person_token(world: ServerWorld) -> str:
    """A person token from the fake PS's person_token_endpoint (the PS keeps its record)."""
    token = ps_post(world, "/person-token", {"resource": RESOURCE})["person_token"]
    assert isinstance(token, str)
    return token


def resource_token(world: ServerWorld, response: HttpResponse, *, aud: str) -> ResourceToken:
    assert response.status == 200, response.body
    assert response.header("content-type") == "application/json"
    assert response.header("cache-control") == "no-store"
    body = json.loads(response.body)
    assert set(body) == {"resource_token"}
    return validate_resource_token(
        body["resource_token"], world.jwks, now=world.now(), audience=aud, issuer=RESOURCE
    )


class Snapshot:
    """What a refused request must leave unchanged: the person records, the ids minted
    (each resource token's ``jti`` comes from ``new_secret``), the replay store, the
    application's calls."""

    def __init__(self, world: ServerWorld) -> None:
        self.world = world
        self.state = self._state()

    def _state(self) -> tuple[object, ...]:
        world = self.world
        records = world.verifier.person_records
        replay = world.verifier.replay_store
        assert isinstance(records, MemoryPersonRecords)
        assert isinstance(replay, MemoryReplayStore)
        return (
            tuple(records._records.items()),
            tuple(world.secrets.issued),
            len(replay),
            len(world.calls),
        )

    def unchanged(self) -> bool:
        return self._state() == self.state


def assert_refused(
    response: HttpResponse,
    status: int,
    code: str,
    *,
    signature: bool = False,
) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.header("content-type") == "application/problem+json"
    body = json.loads(response.body)
    assert body["error"] == code
    if signature:
        assert response.header("signature-error") is not None
        assert (response.header("signature-error") or "").startswith(f"error={code}")
    else:
        assert response.header("signature-error") is None
        assert response.header("accept-signature-scheme") is None
        assert response.header("aauth-requirement") is None
    assert isinstance(body, dict)
    return body


# --------------------------------------------------------------------------- happy path


def test_person_token_to_resource_token_to_auth_token_to_the_route() -> None:
    world = make_world()
    person = issued_person_token(world)
    response = world.handle(post(world, person, {"scope": "data.read"}), T0)
    token = resource_token(world, response, aud=world.ps.issuer)
    sub = world.ps.subject_for(RESOURCE)
    assert (token.ps, token.sub) == (world.ps.issuer, sub)
    assert token.presented_jti == next(iter(world.ps.person_records))
    assert token.agent_jkt == world.agent_key.thumbprint
    assert token.scope == "data.read"
    assert token.account is None and token.mission_s256 is None
    # the person record is kept for step-up, as on auth-token routes
    record = world.verifier.person_records.lookup(world.ps.issuer, sub, now=T0)
    assert record is not None and record.presented_jti == token.presented_jti
    assert world.calls == []  # answered by the server itself

    raw = json.loads(response.body)["resource_token"]
    auth = ps_post(world, "/token", {"resource_token": raw})["auth_token"]
    assert isinstance(auth, str)
    called = world.handle(signed(world, auth, "/auth/items"), T0)
    assert called.status == 200, called.body
    assert json.loads(called.body)["scope"] == "data.read"
    assert json.loads(called.body)["sub"] == sub
    # step-up on /admin works from the record the endpoint kept
    stepped = world.handle(signed(world, auth, "/admin"), T0)
    assert (stepped.header("aauth-requirement") or "").startswith("requirement=auth-token")


def test_scope_is_normalised_and_mission_tenant_and_account_are_carried() -> None:
    seen: list[tuple[str, str, str]] = []

    def check(ps: str, sub: str, account: str) -> bool:
        seen.append((ps, sub, account))
        return True

    world = make_world(account_check=check)
    person = person_token(world, mission_s256="A" * 42 + "E", tenant="acme")
    body = {"scope": "data.write data.read data.write", "account": "acct-7", "extra": [1]}
    token = resource_token(world, world.handle(post(world, person, body), T0), aud=world.ps.issuer)
    assert token.scope == "data.write data.read"  # order kept, repeats dropped
    assert token.account == "acct-7"
    assert (token.mission_s256, token.tenant, token.presented_jti) == (
        "A" * 42 + "E",
        "acme",
        "pt-1",
    )
    assert seen == [(world.ps.issuer, "person-alice", "acct-7")]


def test_null_account_is_no_account() -> None:
    world = make_world()
    response = world.handle(
        post(world, person_token(world), {"scope": "data.read", "account": None}), T0
    )
    assert resource_token(world, response, aud=world.ps.issuer).account is None


def test_four_party_resource_token_goes_to_the_access_server() -> None:
    policies = {
        **default_policies(),
        "/federated": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN, scope="data.read", access_server=AS
        ),
    }
    world = ServerWorld(
        policies=policies,
        server_options={"authorization_path": PATH, "authorization_access_server": AS},
    )
    access = FakeAccessServer(
        AS, person_servers=[world.ps], agent_providers=[world.ap], resources=[world]
    )
    world.ps.federate_with(access)
    world.handlers[AS] = access.handle
    person = issued_person_token(world)
    response = world.handle(post(world, person, {"scope": "data.read"}), T0)
    token = resource_token(world, response, aud=AS)
    assert token.ps == world.ps.issuer
    raw = json.loads(response.body)["resource_token"]
    auth = ps_post(world, "/token", {"resource_token": raw})["auth_token"]
    called = world.handle(signed(world, auth, "/federated/x"), T0)
    assert called.status == 200, called.body
    assert access.callers == [world.ps.issuer]


def test_scope_descriptions_decide_the_known_scopes() -> None:
    world = make_world(scope_descriptions={"reports.read": "Read your reports"})
    person = person_token(world)
    ok = world.handle(post(world, person, {"scope": "reports.read"}), T0)
    assert resource_token(world, ok, aud=world.ps.issuer).scope == "reports.read"
    before = Snapshot(world)
    # a route's scope is not enough once scope_descriptions are configured
    refused = world.handle(post(world, person, {"scope": "data.read"}, created=T0 - 1), T0)
    assert_refused(refused, 400, "invalid_scope")
    assert before.unchanged()


def test_the_endpoint_wins_over_a_route_prefix_that_covers_it() -> None:
    policies = {**default_policies(), "/": ResourcePolicy(mode=AccessMode.AGENT_TOKEN)}
    world = ServerWorld(policies=policies, server_options={"authorization_path": PATH})
    response = world.handle(post(world, person_token(world), {"scope": "data.read"}), T0)
    assert resource_token(world, response, aud=world.ps.issuer).scope == "data.read"


def test_a_person_token_already_seen_on_a_route_needs_no_new_fetch() -> None:
    world = make_world()
    person = person_token(world)
    assert world.handle(signed(world, person, "/person"), T0).status == 200
    fetches = len(world.fetches)
    response = world.handle(post(world, person, {"scope": "data.read"}), T0)
    resource_token(world, response, aud=world.ps.issuer)
    assert len(world.fetches) == fetches


# --------------------------------------------------------------------------- metadata


def test_metadata_advertises_the_endpoint_only_when_configured() -> None:
    world = make_world()
    doc = world.handle(HttpRequest("GET", RESOURCE + "/.well-known/aauth-resource.json"), T0)
    parsed = parse_resource_metadata(doc.body, expected_issuer=RESOURCE)
    assert parsed.authorization_endpoint == URL
    plain = ServerWorld()
    doc = plain.handle(HttpRequest("GET", RESOURCE + "/.well-known/aauth-resource.json"), T0)
    assert "authorization_endpoint" not in json.loads(doc.body)
    # without the option the path is just a path: no route, so 404
    response = plain.handle(post(plain, person_token(plain), {"scope": "data.read"}), T0)
    assert_refused(response, 404, "invalid_request")


def test_the_endpoint_policy_follows_the_routes_and_metadata() -> None:
    restricted = frozenset({"https://ps.example"})
    policies = {
        "/person": ResourcePolicy(
            mode=AccessMode.PERSON_TOKEN,
            person_servers=restricted,
            extra_components=("@query",),
            signature_window=30,
        ),
        "/auth": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN,
            scope="data.read",
            person_servers=frozenset({"https://ps2.example"}),
            extra_components=("@query",),
            algorithms=("ES256",),
        ),
        "/agent": ResourcePolicy(extra_components=("@query",)),
    }
    world = ServerWorld(policies=policies, server_options={"authorization_path": PATH})
    policy = world.server._authorization_policy
    assert policy is not None
    assert policy.extra_components == ("content-type", "content-digest", "@query")
    assert policy.signature_window == 30
    assert policy.person_servers == restricted | {"https://ps2.example"}
    assert set(policy.algorithms) == {"Ed25519", "ES256"}
    # any route trusting any PS makes the endpoint trust any PS
    assert make_world().server._authorization_policy.person_servers is None  # type: ignore[union-attr]
    assert ServerWorld().server._authorization_policy is None


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_other_methods_are_405(method: str) -> None:
    world = make_world()
    before = Snapshot(world)
    response = world.handle(HttpRequest(method, URL), T0)
    assert_refused(response, 405, "invalid_request")
    assert response.header("allow") == "POST"
    assert before.unchanged()


def test_unsigned_request_asks_for_a_person_token() -> None:
    world = make_world()
    before = Snapshot(world)
    request = HttpRequest("POST", URL, (JSON_CT,), b'{"scope":"data.read"}')
    response = world.handle(request, T0)
    assert response.status == 401
    assert response.header("aauth-requirement") == "requirement=person-token"
    assert response.header("signature-error") is None
    assert before.unchanged()


@pytest.mark.parametrize("kind", ["agent", "auth"])
def test_agent_and_auth_tokens_are_asked_for_a_person_token(kind: str) -> None:
    world = make_world()
    if kind == "agent":
        token = world.ap.mint(world.agent_key, now=T0)
    else:
        token = auth_token(world, "data.read")
    for created in (T0, T0 - 1):  # the second time from the token memo
        before = Snapshot(world)
        response = world.handle(post(world, token, {"scope": "data.read"}, created=created), T0)
        assert response.status == 401
        assert response.header("aauth-requirement") == "requirement=person-token"
        assert response.header("signature-error") is None
        assert before.unchanged()


def _raw_person_shaped(world: ServerWorld, typ: str) -> str:
    """A JWT with ``typ`` and the agent key as ``cnf.jwk``, signed by the PS key."""
    header = {"alg": "Ed25519", "typ": typ, "kid": world.ps.kid}
    claims = {
        "iss": world.ps.issuer,
        "dwk": "aauth-person.json",
        "aud": RESOURCE,
        "sub": "person-alice",
        "jti": "x",
        "iat": T0,
        "exp": T0 + 600,
        "cnf": {"jwk": world.agent_key.public_jwk},
    }
    enc = [b64url_encode(json.dumps(p).encode()) for p in (header, claims)]
    signing_input = ".".join(enc).encode()
    return f"{signing_input.decode()}.{b64url_encode(world.ps.key.sign(signing_input))}"


def _tampered(request: HttpRequest) -> HttpRequest:
    return HttpRequest(request.method, request.url, request.headers, b'{"scope":"data.write"}')


SIGNATURE_CASES: dict[str, tuple[Callable[[ServerWorld], HttpRequest], str]] = {
    "body changed under content-digest": (
        lambda w: _tampered(post(w, person_token(w), {"scope": "data.read"})),
        "invalid_signature",
    ),
    "content-digest not covered": (
        lambda w: post(
            w,
            person_token(w),
            {"scope": "data.read"},
            components=("@method", "@authority", "@path", "signature-key"),
        ),
        "invalid_input",
    ),
    "created stale": (
        lambda w: post(w, person_token(w), {"scope": "data.read"}, created=T0 - 61),
        "invalid_signature",
    ),
    "signed by another key than cnf.jwk": (
        lambda w: post(
            w, person_token(w), {"scope": "data.read"}, key=Ed25519Key.from_seed(b"o" * 32)
        ),
        "invalid_signature",
    ),
    "a typ that cannot sign requests": (
        lambda w: post(w, _raw_person_shaped(w, "aa-resource+jwt"), {"scope": "data.read"}),
        "invalid_jwt",
    ),
}


@pytest.mark.parametrize("case", sorted(SIGNATURE_CASES))
def test_signature_failures_are_401_signature_error(case: str) -> None:
    world = make_world()
    make, code = SIGNATURE_CASES[case]
    request = make(world)
    before = Snapshot(world)
    response = world.handle(request, T0)
    body = assert_refused(response, 401, code, signature=True)
    assert body["type"] == f"urn:ietf:params:sig-error:{code}"
    assert before.unchanged()


def test_a_request_for_another_authority_is_421() -> None:
    world = make_world()
    request = post(
        world, person_token(world), {"scope": "data.read"}, url="https://other.example" + PATH
    )
    before = Snapshot(world)
    assert_refused(world.handle(request, T0), 421, "invalid_request")
    assert before.unchanged()


def _signed_by_another_key(world: ServerWorld) -> str:
    """A person token under the PS's ``kid`` signed by a key that is not the PS's (the
    resource refreshes the JWKS once, then refuses)."""
    return build_person_token(
        Ed25519Key.from_seed(b"p" * 32),
        kid=world.ps.kid,
        now=T0,
        jti="pt-rogue",
        iss=world.ps.issuer,
        aud=RESOURCE,
        sub="person-alice",
        cnf_jwk=world.agent_key.public_key,
    )


PERSON_CASES: dict[str, Callable[[ServerWorld], str]] = {
    "expired": lambda w: person_token(w, lifetime=60),
    "wrong aud": lambda w: _person_for(w, aud="https://elsewhere.example"),
    "bad JWT signature": _signed_by_another_key,
    "unknown kid": lambda w: _person_for(w, kid="ps-key-9"),
}


def _person_for(world: ServerWorld, *, aud: str = RESOURCE, kid: str | None = None) -> str:
    return build_person_token(
        world.ps.key,
        kid=kid or world.ps.kid,
        now=T0,
        jti="pt-9",
        iss=world.ps.issuer,
        aud=aud,
        sub="person-alice",
        cnf_jwk=world.agent_key.public_key,
    )


@pytest.mark.parametrize("case", sorted(PERSON_CASES))
def test_a_person_token_that_fails_validation_is_400_invalid_person_token(case: str) -> None:
    world = make_world()
    token = PERSON_CASES[case](world)
    now = T0 + 200 if case == "expired" else T0
    if case == "expired":
        world.clock.advance(200)
    before = Snapshot(world)
    response = world.handle(post(world, token, {"scope": "data.read"}), now)
    body = assert_refused(response, 400, "invalid_person_token")
    assert "type" not in body
    assert before.unchanged()


def test_an_untrusted_person_server_is_invalid_person_token() -> None:
    other = frozenset({"https://ps2.example"})
    policies = {
        "/person": ResourcePolicy(mode=AccessMode.PERSON_TOKEN, person_servers=other),
        "/auth": ResourcePolicy(
            mode=AccessMode.AUTH_TOKEN, scope="data.read", person_servers=other
        ),
    }
    world = ServerWorld(policies=policies, server_options={"authorization_path": PATH})
    before = Snapshot(world)
    response = world.handle(post(world, person_token(world), {"scope": "data.read"}), T0)
    assert "not trusted" in assert_refused(response, 400, "invalid_person_token")["detail"]
    assert before.unchanged()
    assert world.fetches == []  # refused before any fetch on the issuer's behalf


def test_person_server_keys_that_cannot_be_fetched_are_invalid_person_token() -> None:
    world = make_world()
    world.fetch_failures.add(world.ps.issuer + "/.well-known/aauth-person.json")
    before = Snapshot(world)
    response = world.handle(post(world, person_token(world), {"scope": "data.read"}), T0)
    assert "unknown_key" in assert_refused(response, 400, "invalid_person_token")["detail"]
    assert before.unchanged()


def test_discovery_that_never_settles_is_invalid_person_token() -> None:
    world = make_world(max_fetches=1)  # the PS needs metadata and JWKS: two fetches
    before = Snapshot(world)
    response = world.handle(post(world, person_token(world), {"scope": "data.read"}), T0)
    assert "unknown_key" in assert_refused(response, 400, "invalid_person_token")["detail"]
    assert before.unchanged()
    # a route still answers 401 Signature-Error there
    fresh = make_world(max_fetches=1)
    refused = fresh.handle(signed(fresh, person_token(fresh), "/person"), T0)
    assert refused.status == 401 and refused.header("signature-error") == "error=unknown_key"


BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "not JSON": (b"scope=data.read", "application/json"),
    "a JSON array": (b'["data.read"]', "application/json"),
    "no scope": (b'{"account":"a"}', "application/json"),
    "scope not a string": (b'{"scope":["data.read"]}', "application/json"),
    "account not a string": (b'{"scope":"data.read","account":7}', "application/json"),
    "empty account": (b'{"scope":"data.read","account":""}', "application/json"),
    "duplicate member": (b'{"scope":"data.read","scope":"data.write"}', "application/json"),
    "duplicate nested member": (b'{"scope":"data.read","x":{"a":1,"a":2}}', "application/json"),
    "invalid UTF-8": (b'{"scope":"data.read\xff"}', "application/json"),
    "huge integer": (b'{"scope":"data.read","x":' + b"9" * 5000 + b"}", "application/json"),
    "too large": (
        b'{"scope":"data.read","x":"' + b"a" * MAX_AUTHORIZATION_BODY + b'"}',
        "application/json",
    ),
    "not application/json": (b'{"scope":"data.read"}', "text/plain"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_a_malformed_body_is_400_invalid_request(case: str) -> None:
    world = make_world()
    body, content_type = BAD_BODIES[case]
    request = post(world, person_token(world), body, content_type=content_type)
    before = Snapshot(world)
    response = world.handle(request, T0)
    assert_refused(response, 400, "invalid_request")
    assert before.unchanged()


@pytest.mark.parametrize(
    "scope",
    ["data.delete", "data.read data.delete", "", " data.read", "data.read  data.write", 'a"b'],
)
def test_an_unknown_or_malformed_scope_is_400_invalid_scope(scope: str) -> None:
    world = make_world()
    before = Snapshot(world)
    response = world.handle(post(world, person_token(world), {"scope": scope}), T0)
    assert_refused(response, 400, "invalid_scope")
    assert before.unchanged()


@pytest.mark.parametrize("check", [None, lambda ps, sub, account: False, lambda *a: "yes"])
def test_an_account_the_application_cannot_confirm_is_400_invalid_account(
    check: Callable[[str, str, str], Any] | None,
) -> None:
    world = make_world(account_check=check)
    before = Snapshot(world)
    body = {"scope": "data.read", "account": "acct-7"}
    response = world.handle(post(world, person_token(world), body), T0)
    assert_refused(response, 400, "invalid_account")
    assert before.unchanged()


def test_a_replayed_post_is_refused_before_anything_is_issued() -> None:
    world = make_world()
    request = post(world, person_token(world), {"scope": "data.read"})
    resource_token(world, world.handle(request, T0), aud=world.ps.issuer)
    minted = len(world.secrets.issued)
    world.verifier.person_records = MemoryPersonRecords()  # a replay must not record again
    response = world.handle(request, T0)
    body = assert_refused(response, 401, "invalid_signature", signature=True)
    assert "already accepted" in body["detail"]
    assert len(world.secrets.issued) == minted
    assert len(world.verifier.person_records) == 0


# --------------------------------------------------------------------------- configuration


def test_constructor_refuses_bad_authorization_options() -> None:
    world = ServerWorld()
    verifier = world.verifier
    for path in (
        "aauth",
        "/a?b",
        "/a#b",
        "/a b",
        "/.well-known/aauth-resource.json",
        "/jwks.json",
        "/aauth/pending",
        "/aauth/pending/x",
        7,
    ):
        with pytest.raises(LocalError, match="authorization_path"):
            ResourceServer(verifier, new_secret=world.secrets, authorization_path=path)  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="authorization_access_server"):
        ResourceServer(
            verifier,
            new_secret=world.secrets,
            authorization_path=PATH,
            authorization_access_server="http://as.example",
        )
    with pytest.raises(LocalError, match="account_check"):
        ResourceServer(
            verifier,
            new_secret=world.secrets,
            authorization_path=PATH,
            account_check="yes",  # type: ignore[arg-type]
        )
    agent_only = ResourceVerifier(
        RESOURCE,
        world.resource_key,
        "k",
        {"/": ResourcePolicy()},
        world.cache,
    )
    with pytest.raises(LocalError, match="person-token or auth-token route"):
        ResourceServer(agent_only, new_secret=world.secrets, authorization_path=PATH)


def test_authorize_checks_now() -> None:
    world = make_world()
    policy = world.server._authorization_policy
    assert policy is not None
    with pytest.raises(LocalError):
        world.verifier.authorize(
            HttpRequest("POST", URL),
            True,
            policy=policy,
            grant=world.server._grant,
        )


def test_authorized_outcome_renders_the_200() -> None:
    response = Authorized(resource_token="a.b.c", thumbprint="t").to_response()
    assert (response.status, json.loads(response.body)) == (200, {"resource_token": "a.b.c"})


# --------------------------------------------------------------------------- the parser


def _req(body: bytes, content_type: str | None = "application/json") -> HttpRequest:
    headers = () if content_type is None else (("Content-Type", content_type),)
    return HttpRequest("POST", URL, headers, body)


def test_parser_reads_the_members_and_ignores_unknown_ones() -> None:
    parsed = parse_authorization_request(
        _req(
            b'{"scope": "a b",\n "account": "x", "other": {"y": 1}}',
            "Application/JSON; charset=utf-8",
        )
    )
    assert (parsed.scope, parsed.account) == ("a b", "x")
    with pytest.raises(AuthorizationRequestError) as caught:
        parse_authorization_request(_req(b'{"scope":"a"}', None))
    assert caught.value.code == "invalid_request"


def test_scope_values() -> None:
    assert scope_values("a b a") == ("a", "b")
    for bad in ("", " a", "a ", "a  b", "a\tb", "é"):
        assert scope_values(bad) is None


def _person_shaped_without_cnf(world: ServerWorld) -> str:
    token = _raw_person_shaped(world, "aa-person+jwt")
    header, claims, _ = token.split(".")
    payload = json.loads(b64url_decode(claims))
    del payload["cnf"]
    signing_input = f"{header}.{b64url_encode(json.dumps(payload).encode())}".encode()
    return f"{signing_input.decode()}.{b64url_encode(world.ps.key.sign(signing_input))}"


def _two_jwt_members(world: ServerWorld) -> HttpRequest:
    token = person_token(world, lifetime=60)
    world.clock.advance(200)
    request = post(world, token, {"scope": "data.read"})
    key = request.header("signature-key")
    return request.without_headers(["Signature-Key"]).with_headers(
        [("Signature-Key", f'{key}, other=jwt;jwt="a.b.c"')]
    )


TOKEN_IN_KEY_CASES: dict[str, tuple[Callable[[ServerWorld], HttpRequest], int, str]] = {
    "a person token without cnf": (
        lambda w: post(w, _person_shaped_without_cnf(w), {"scope": "data.read"}),
        400,
        "invalid_person_token",
    ),
    "not a JWT": (
        lambda w: post(w, "a.b.c", {"scope": "data.read"}),
        401,
        "invalid_jwt",
    ),
    "an expired token beside another jwt member": (_two_jwt_members, 401, "expired_jwt"),
}


@pytest.mark.parametrize("case", sorted(TOKEN_IN_KEY_CASES))
def test_token_failures_found_while_taking_the_key(case: str) -> None:
    world = make_world()
    make, status, code = TOKEN_IN_KEY_CASES[case]
    request = make(world)
    before = Snapshot(world)
    response = world.handle(request, world.now())
    assert_refused(response, status, code, signature=status == 401)
    assert before.unchanged()
