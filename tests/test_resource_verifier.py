"""The sans-IO resource verifier (issue 5): happy paths per access mode, and a table of
hostile requests each refused with the right status and code."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

import pytest

from aauth._b64 import b64url_encode
from aauth.discovery import DiscoveryCache, EgressPolicy, FetchPurpose
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import Ed25519Key
from aauth.resource import (
    AccessMode,
    Challenge,
    MemoryReplayStore,
    NeedFetch,
    Outcome,
    ResourcePolicy,
    ResourceVerifier,
    Verified,
)
from aauth.signing import sign_request
from aauth.tokens import (
    AUTH_TOKEN_DWKS,
    build_auth_token,
    build_person_token,
    validate_resource_token,
)
from tests.fakes import T0, FakeAgentProvider, FakePersonServer

RESOURCE = "https://resource.example"
NOW = T0

POLICIES = {
    "/agent": ResourcePolicy(mode=AccessMode.AGENT_TOKEN),
    "/person": ResourcePolicy(mode=AccessMode.PERSON_TOKEN),
    "/auth": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read"),
    "/session": ResourcePolicy(mode=AccessMode.SESSION_TOKEN),
    "/strict": ResourcePolicy(extra_components=("@query",), signature_window=10),
    "/picky": ResourcePolicy(agent_providers=frozenset({"https://other-ap.example"})),
}


@dataclass
class World:
    ap: FakeAgentProvider = field(default_factory=FakeAgentProvider)
    ps: FakePersonServer = field(default_factory=FakePersonServer)
    cache: DiscoveryCache = field(default_factory=DiscoveryCache)
    resource_key: Ed25519Key = field(default_factory=lambda: Ed25519Key.from_seed(bytes(range(32))))
    fetches: list[str] = field(default_factory=list)
    store: MemoryReplayStore = field(default_factory=lambda: MemoryReplayStore(max_entries=100))
    jtis: Callable[[], str] = field(default_factory=lambda: (f"rt-{i}" for i in count()).__next__)

    def __post_init__(self) -> None:
        self.verifier = ResourceVerifier(
            RESOURCE,
            self.resource_key,
            "resource-key-1",
            POLICIES,
            self.cache,
            self.store,
            new_jti=self.jtis,
            replay_safe_methods=True,  # GETs too: the tables below count store entries
        )
        self.agent_key = self.ap.agent_key()

    def agent_token(self, key: Ed25519Key | None = None, now: int = NOW) -> str:
        return self.ap.mint(key or self.agent_key, now=now)

    def person_token(self, *, aud: str = RESOURCE, key: Ed25519Key | None = None) -> str:
        return build_person_token(
            self.ps.key,
            kid=self.ps.kid,
            now=NOW,
            jti="pt-1",
            iss=self.ps.issuer,
            aud=aud,
            sub="person-alice",
            cnf_jwk=(key or self.agent_key).public_key,
        )

    def auth_token(self, scope: str = "data.read") -> str:
        return build_auth_token(
            self.ps.key,
            kid=self.ps.kid,
            now=NOW,
            jti="at-1",
            iss=self.ps.issuer,
            dwk=sorted(AUTH_TOKEN_DWKS)[-1],
            aud=RESOURCE,
            ps=self.ps.issuer,
            sub="person-alice",
            cnf_jwk=self.agent_key.public_key,
            scope=scope,
        )

    def serve(self, url: str, now: int) -> HttpResponse:
        for server in (self.ap, self.ps):
            if url.startswith(server.issuer + "/"):
                return server.handle(HttpRequest("GET", url), now)
        return HttpResponse(404)

    def check(self, request: HttpRequest, now: int = NOW) -> Outcome:
        """check(), answering every fetch the verifier asks for (bounded)."""
        for _ in range(6):
            outcome = self.verifier.check(request, now)
            if not isinstance(outcome, NeedFetch):
                return outcome
            assert not outcome.pending
            self.fetches.append(outcome.url)
            response = self.serve(outcome.url, now)
            self.cache.on_response(outcome.url, response, now=now)
        raise AssertionError("the verifier kept asking for fetches")


def signed(
    token: str,
    path: str = "/agent",
    *,
    key: Ed25519Key | None = None,
    world: World | None = None,
    created: int = NOW,
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
    method: str = "GET",
) -> HttpRequest:
    signer = key or (world.agent_key if world else FakeAgentProvider().agent_key())
    request = HttpRequest(method, RESOURCE + path, headers, body)
    return sign_request(request, signer, signature_key=token, created=created)


def header(outcome: Outcome, name: str) -> str | None:
    assert isinstance(outcome, Challenge)
    return outcome.to_response().header(name)


# --------------------------------------------------------------------------- happy paths


def test_agent_token_mode_verifies_and_reports_the_agent() -> None:
    world = World()
    outcome = world.check(signed(world.agent_token(), world=world))
    assert isinstance(outcome, Verified), outcome
    assert outcome.mode is AccessMode.AGENT_TOKEN
    assert outcome.agent == world.ap.agent_id
    assert outcome.ps == world.ap.ps
    assert outcome.sub is None
    assert outcome.thumbprint == world.agent_key.public_key.thumbprint
    assert outcome.claims["iss"] == world.ap.issuer
    # metadata then JWKS, each once; a second request needs no fetch
    assert world.fetches == [
        f"{world.ap.issuer}/.well-known/aauth-agent.json",
        world.ap.jwks_uri,
    ]
    again = world.check(signed(world.agent_token(), world=world, created=NOW + 1), NOW + 1)
    assert isinstance(again, Verified)
    assert len(world.fetches) == 2


def test_person_token_mode_reports_person_and_ps() -> None:
    world = World()
    outcome = world.check(signed(world.person_token(), "/person/items", world=world))
    assert isinstance(outcome, Verified), outcome
    assert outcome.mode is AccessMode.PERSON_TOKEN
    assert (outcome.ps, outcome.sub, outcome.agent) == (world.ps.issuer, "person-alice", None)
    assert outcome.token_type == "aa-person+jwt"


def test_agent_token_on_person_route_asks_for_person_token() -> None:
    world = World()
    outcome = world.check(signed(world.agent_token(), "/person", world=world))
    assert isinstance(outcome, Challenge)
    assert (outcome.status, outcome.code) == (401, "person-token")
    assert header(outcome, "AAuth-Requirement") == "requirement=person-token"
    assert header(outcome, "Signature-Error") is None


def test_person_token_on_auth_route_gets_a_resource_token() -> None:
    world = World()
    outcome = world.check(signed(world.person_token(), "/auth", world=world))
    assert isinstance(outcome, Challenge)
    assert (outcome.status, outcome.code) == (401, "auth-token")
    requirement = header(outcome, "AAuth-Requirement")
    assert requirement is not None and requirement.startswith("requirement=auth-token;")
    token = requirement.split('resource-token="', 1)[1].rstrip('"')
    rt = validate_resource_token(
        token,
        {"keys": [{**world.resource_key.public_jwk, "kid": "resource-key-1"}]},
        now=NOW,
        audience=world.ps.issuer,
        issuer=RESOURCE,
    )
    assert rt.aud == world.ps.issuer
    assert rt.agent_jkt == world.agent_key.public_key.thumbprint
    assert rt.presented_jti == "pt-1"
    assert rt.sub == "person-alice"
    assert rt.scope == "data.read"


def test_auth_token_mode_checks_scope() -> None:
    world = World()
    outcome = world.check(signed(world.auth_token(), "/auth", world=world))
    assert isinstance(outcome, Verified), outcome
    assert (outcome.scope, outcome.sub) == ("data.read", "person-alice")
    assert outcome.ps == world.ps.issuer
    narrow = world.check(signed(world.auth_token(scope="other"), "/auth", world=world))
    assert isinstance(narrow, Challenge)
    assert (narrow.status, narrow.code) == (401, "person-token")


def test_session_mode_passes_the_presented_session_token() -> None:
    world = World()
    request = signed(
        world.agent_token(), "/session", world=world, headers=(("Authorization", "AAuth st-1"),)
    )
    outcome = world.check(request)
    assert isinstance(outcome, Verified), outcome
    assert outcome.session_token == "st-1"
    assert outcome.agent == world.ap.agent_id
    plain = world.check(signed(world.agent_token(), "/session", world=world, created=NOW - 1))
    assert isinstance(plain, Verified) and plain.session_token is None


def test_session_mode_refuses_malformed_authorization_with_400() -> None:
    world = World()
    token = world.agent_token()
    request = signed(token, "/session", world=world, headers=(("Authorization", "AAuth a b"),))
    outcome = world.check(request)
    assert isinstance(outcome, Challenge)
    assert (outcome.status, outcome.code) == (400, "invalid_request")
    assert header(outcome, "Signature-Error") is None


def test_unsigned_requests_get_the_mode_requirement() -> None:
    world = World()
    for path, wanted in [
        ("/agent", "agent-token"),
        ("/session", "agent-token"),
        ("/person", "person-token"),
        ("/auth", "person-token"),
    ]:
        outcome = world.check(HttpRequest("GET", RESOURCE + path))
        assert isinstance(outcome, Challenge)
        assert (outcome.status, outcome.code) == (401, wanted)
        assert header(outcome, "AAuth-Requirement") == f"requirement={wanted}"
        assert header(outcome, "Signature-Error") is None
    assert world.fetches == []


def test_unknown_route_is_404_without_signature_headers() -> None:
    world = World()
    outcome = world.check(signed(world.agent_token(), "/nowhere", world=world))
    assert isinstance(outcome, Challenge)
    assert outcome.status == 404
    assert header(outcome, "Signature-Error") is None


def test_explicit_policy_overrides_routing() -> None:
    world = World()
    request = signed(world.agent_token(), "/nowhere", world=world)
    outcome = world.verifier.check(request, NOW, policy=POLICIES["/agent"])
    assert isinstance(outcome, NeedFetch)
    assert outcome.purpose is FetchPurpose.METADATA
    assert outcome.issuer == world.ap.issuer


def test_concurrent_fetch_is_reported_pending() -> None:
    world = World()
    request = signed(world.agent_token(), world=world)
    first = world.verifier.check(request, NOW)
    second = world.verifier.check(request, NOW)
    assert isinstance(first, NeedFetch) and not first.pending
    assert isinstance(second, NeedFetch) and second.pending and second.url == first.url


def test_denied_challenge_never_carries_signature_headers() -> None:
    denied = Challenge.denied("denied", "no")
    response = denied.to_response()
    assert response.status == 403
    for name in ("Signature-Error", "Accept-Signature-Scheme", "Accept-Signature-Alg"):
        assert response.header(name) is None
    assert json.loads(response.body)["error"] == "denied"


# --------------------------------------------------------------------------- hostile table


def _raw_token(
    world: World,
    *,
    typ: str = "aa-agent+jwt",
    cnf_alg: str = "Ed25519",
    alg: str = "Ed25519",
    iss: str | None = None,
) -> str:
    """An agent-token-shaped JWT signed by the AP key, with ``typ``, header ``alg``, ``iss``
    and ``cnf.jwk.alg`` chosen by the test."""
    issuer = iss or world.ap.issuer
    header = {"alg": alg, "typ": typ, "kid": world.ap.kid}
    jwk = {**world.agent_key.public_jwk, "alg": cnf_alg}
    claims = {
        "iss": issuer,
        "dwk": "aauth-agent.json",
        "sub": f"aauth:assistant@{issuer.split('://', 1)[1]}",
        "jti": "x",
        "iat": NOW,
        "exp": NOW + 600,
        "cnf": {"jwk": jwk},
    }
    enc = [b64url_encode(json.dumps(p).encode()) for p in (header, claims)]
    signing_input = ".".join(enc).encode()
    return f"{signing_input.decode()}.{b64url_encode(world.ap.key.sign(signing_input))}"


def _two_signatures(world: World) -> HttpRequest:
    first = signed(world.agent_token(), world=world)
    second = sign_request(
        HttpRequest("GET", RESOURCE + "/agent"),
        world.agent_key,
        signature_key=world.agent_token(),
        created=NOW,
        label="sig2",
    )
    names = ("Signature-Input", "Signature", "Signature-Key")
    return HttpRequest(
        "GET",
        RESOURCE + "/agent",
        [(n, f"{first.header(n)}, {second.header(n)}") for n in names],
    )


def _relabel(request: HttpRequest) -> HttpRequest:
    key = request.header("Signature-Key")
    assert key is not None
    return request.without_headers(["Signature-Key"]).with_headers(
        [("Signature-Key", "other" + key[3:])]
    )


def _rogue_token(world: World, kid: str) -> str:
    rogue = Ed25519Key.from_seed(b"r" * 32)
    ap = FakeAgentProvider(kid=kid)
    ap.key = rogue
    return ap.mint(world.agent_key, now=NOW)


def _hostile(world: World, case: str) -> HttpRequest:
    token = world.agent_token()
    if case == "created stale":
        return signed(token, world=world, created=NOW - 61)
    if case == "created future":
        return signed(token, world=world, created=NOW + 61)
    if case == "unknown label":
        return _relabel(signed(token, world=world))
    if case == "body changed under content-digest":
        request = signed(
            token,
            world=world,
            method="POST",
            body=b'{"a":1}',
            headers=(("Content-Type", "application/json"),),
        )
        return HttpRequest(request.method, request.url, request.headers, b'{"a":2}')
    if case == "token for another audience":
        return signed(world.person_token(aud="https://elsewhere.example"), "/person", world=world)
    if case == "unknown kid":
        return signed(_rogue_token(world, "no-such-kid"), world=world)
    if case == "key not in issuer JWKS":
        return signed(_rogue_token(world, world.ap.kid), world=world)
    if case == "EdDSA":
        return signed(_raw_token(world, cnf_alg="EdDSA"), world=world)
    if case == "cnf.jwk not the signing key":
        return signed(token, world=world, key=Ed25519Key.from_seed(b"o" * 32))
    if case == "oversized header":
        request = signed(token, world=world)
        return request.with_headers([("Signature-Input", "x=" + "a" * 9000)])
    if case == "missing Signature":
        return signed(token, world=world).without_headers(["Signature"])
    if case == "query not covered":
        return signed(token, "/strict?q=1", world=world)
    if case == "resource token signs":
        return signed(_raw_token(world, typ="aa-resource+jwt"), world=world)
    if case == "plain JWT signs":
        return signed(_raw_token(world, typ="JWT"), world=world)
    if case == "alg none":
        return signed(_raw_token(world, alg="none"), world=world)
    if case == "issuer at a loopback name":
        return signed(_raw_token(world, iss="https://ap.localhost"), world=world)
    if case == "http issuer":
        return signed(_raw_token(world, iss="http://agent.example"), world=world)
    if case == "two signatures":
        return _two_signatures(world)
    if case == "untrusted agent provider":
        return signed(token, "/picky", world=world)
    raise AssertionError(case)


HOSTILE = [
    ("created stale", "invalid_signature"),
    ("created future", "invalid_signature"),
    ("unknown label", "invalid_request"),
    ("body changed under content-digest", "invalid_signature"),
    ("token for another audience", "invalid_jwt"),
    ("unknown kid", "unknown_key"),
    ("key not in issuer JWKS", "invalid_jwt"),
    ("EdDSA", "unsupported_algorithm"),
    ("cnf.jwk not the signing key", "invalid_signature"),
    ("oversized header", "invalid_request"),
    ("missing Signature", "invalid_request"),
    ("query not covered", "invalid_input"),
    ("untrusted agent provider", "invalid_jwt"),
    ("resource token signs", "invalid_jwt"),
    ("plain JWT signs", "invalid_jwt"),
    ("alg none", "unsupported_algorithm"),
    ("issuer at a loopback name", "invalid_key"),
    ("http issuer", "invalid_jwt"),
    ("two signatures", "invalid_request"),
]


@pytest.mark.parametrize(("case", "code"), HOSTILE, ids=[c for c, _ in HOSTILE])
def test_hostile_request_is_refused(case: str, code: str) -> None:
    world = World()
    # the issuers' documents are cached already, as on a running server
    assert isinstance(world.check(signed(world.agent_token(), world=world)), Verified)
    assert isinstance(world.check(signed(world.person_token(), "/person", world=world)), Verified)
    fetches = list(world.fetches)
    outcome = world.check(_hostile(world, case), NOW)
    # nothing else changed: no fetch on the attacker's behalf, no signature remembered
    assert world.fetches == fetches
    assert len(world.store) == 2
    assert isinstance(outcome, Challenge), outcome
    assert (outcome.status, outcome.code) == (401, code), outcome.detail
    assert header(outcome, "Signature-Error") == f"error={code}" or code == "invalid_input"
    body = json.loads(outcome.body)
    assert body["error"] == code
    assert body["type"] == f"urn:ietf:params:sig-error:{code}"
    assert header(outcome, "Content-Type") == "application/problem+json"
    if code == "unsupported_algorithm":
        assert header(outcome, "Accept-Signature-Alg") == "Ed25519, ES256"


def test_replayed_signature_is_refused() -> None:
    world = World()
    request = signed(world.agent_token(), world=world)
    assert isinstance(world.check(request), Verified)
    replay = world.check(request, NOW + 5)
    assert isinstance(replay, Challenge)
    assert (replay.status, replay.code) == (401, "invalid_signature")
    assert "already" in (replay.detail or "")


def test_unsupported_scheme_advertises_jwt() -> None:
    world = World()
    request = signed(world.agent_token(), world=world)
    x = world.agent_key.public_jwk["x"]
    bogus = request.without_headers(["Signature-Key"]).with_headers(
        [("Signature-Key", f'sig=hwk;kty="OKP";crv="Ed25519";alg="Ed25519";x="{x}"')]
    )
    outcome = world.check(bogus)
    assert isinstance(outcome, Challenge)
    assert (outcome.status, outcome.code) == (401, "unsupported_scheme")
    assert header(outcome, "Accept-Signature-Scheme") == "jwt"
    assert world.fetches == []


def test_constructor_refuses_bad_configuration() -> None:
    world = World()
    with pytest.raises(LocalError):
        ResourceVerifier("", world.resource_key, "k", POLICIES, world.cache)
    with pytest.raises(LocalError):
        ResourceVerifier(RESOURCE, world.resource_key, "k", {}, world.cache)
    with pytest.raises(LocalError):
        ResourceVerifier(
            RESOURCE, world.resource_key, "k", POLICIES, world.cache, resource_token_lifetime=301
        )
    with pytest.raises(LocalError):
        ResourceVerifier(
            RESOURCE, world.resource_key, "k", POLICIES, world.cache, token_memo_size=True
        )
    with pytest.raises(LocalError):
        world.verifier.check(HttpRequest("GET", RESOURCE + "/agent"), now=1.5)  # type: ignore[arg-type]


def test_rejected_key_refreshes_the_jwks_once_then_refuses() -> None:
    world = World()
    assert isinstance(world.check(signed(world.agent_token(), world=world)), Verified)
    later = NOW + 120  # past the once-per-minute floor
    outcome = world.check(
        signed(_rogue_token(world, world.ap.kid), world=world, created=later), later
    )
    assert isinstance(outcome, Challenge)
    assert (outcome.status, outcome.code) == (401, "invalid_jwt")
    assert world.fetches.count(world.ap.jwks_uri) == 2  # the refresh, and no more


def test_auth_route_without_jti_source_is_a_local_error() -> None:
    world = World()
    verifier = ResourceVerifier(
        RESOURCE, world.resource_key, "resource-key-1", POLICIES, world.cache
    )
    world.verifier = verifier
    with pytest.raises(LocalError):
        world.check(signed(world.person_token(), "/auth", world=world))


@pytest.mark.parametrize("url", ["/agent", "resource.example/agent", "https://resource.example"])
def test_url_without_a_matching_path_finds_no_route(url: str) -> None:
    world = World()
    outcome = world.check(HttpRequest("GET", url))
    assert isinstance(outcome, Challenge)
    assert outcome.status == 404


def test_route_matching_takes_the_longest_prefix_and_ignores_query() -> None:
    world = World()
    verifier = world.verifier
    assert verifier.policy_for("/agent") is POLICIES["/agent"]
    assert verifier.policy_for("/agent/x/y") is POLICIES["/agent"]
    assert verifier.policy_for("/agentx") is None
    outcome = world.check(HttpRequest("GET", RESOURCE + "/person?x=/agent#frag"))
    assert isinstance(outcome, Challenge) and outcome.code == "person-token"


def test_a_remembered_token_is_still_judged_per_route_and_time() -> None:
    world = World()
    token = world.agent_token()
    assert isinstance(world.check(signed(token, world=world)), Verified)
    # same token, another route: the route's mode and trust still apply
    wrong_mode = world.check(signed(token, "/person", world=world))
    assert isinstance(wrong_mode, Challenge) and wrong_mode.code == "person-token"
    untrusted = world.check(signed(token, "/picky", world=world))
    assert isinstance(untrusted, Challenge) and untrusted.code == "invalid_jwt"
    # a clock behind the validation time revalidates rather than trusting the memo
    earlier = world.check(signed(token, "/agent/e", world=world, created=NOW - 1), NOW - 1)
    assert isinstance(earlier, Verified)
    # after a JWKS refresh the token is validated against the new answer
    later = NOW + 7200
    fresh = world.agent_token(now=later)
    assert isinstance(world.check(signed(fresh, world=world, created=later), later), Verified)
    expired = world.check(signed(token, "/agent/x", world=world, created=later), later)
    assert isinstance(expired, Challenge) and expired.code == "expired_jwt"
    assert world.fetches.count(world.ap.jwks_uri) == 2


def test_token_memo_is_bounded() -> None:
    world = World()
    world.verifier = ResourceVerifier(
        RESOURCE, world.resource_key, "k", POLICIES, world.cache, token_memo_size=0
    )
    for i in range(3):
        token = world.agent_token(now=NOW - i)
        assert isinstance(world.check(signed(token, world=world)), Verified)
        assert len(world.verifier._memo) == 1


@pytest.mark.parametrize("development", [True, False])
def test_a_loopback_resource_accepts_tokens_for_it_only_in_development_mode(
    development: bool,
) -> None:
    """A resource at ``http://127.0.0.1:PORT`` (local development): person tokens name it
    in ``aud``, which is an identifier only in the development mode of the discovery cache's
    egress policy (AAuth -11 §"Server Identifiers")."""
    loopback = "http://127.0.0.1:8443"
    world = World(
        cache=DiscoveryCache(
            egress=EgressPolicy(allow_insecure_loopback_for_development=development)
        )
    )
    world.verifier = ResourceVerifier(
        loopback, world.resource_key, "resource-key-1", POLICIES, world.cache, new_jti=world.jtis
    )
    request = sign_request(
        HttpRequest("GET", loopback + "/person"),
        world.agent_key,
        signature_key=build_person_token(
            world.ps.key,
            kid=world.ps.kid,
            now=NOW,
            jti="pt-1",
            iss=world.ps.issuer,
            aud=loopback,
            sub="person-alice",
            cnf_jwk=world.agent_key.public_key,
            allow_insecure_loopback_for_development=True,
        ),
        created=NOW,
    )
    outcome = world.check(request)
    if development:
        assert isinstance(outcome, Verified)
        assert (outcome.sub, outcome.ps) == ("person-alice", world.ps.issuer)
    else:
        assert isinstance(outcome, Challenge)
        assert (outcome.status, outcome.code) == (401, "invalid_jwt")
        assert "aud" in (outcome.detail or "")


@pytest.mark.parametrize(
    ("required", "claims", "granted"),
    [
        ("data.read email", {"email": "alice@example.com"}, True),
        ("data.read email", {}, False),
        ("data.read email", {"email": ""}, False),
        ("data.read profile", {"name": "Alice"}, True),
        ("data.read profile", {"email": "alice@example.com"}, False),
        ("data.read phone", {"phone_number": "+1 555 0100"}, True),
        ("data.read address", {"address": {"country": "NZ"}}, True),
        ("data.read openid", {}, True),  # openid is the sub every auth token carries
        ("data.read data.write", {"data.write": True}, False),  # not an identity scope
    ],
)
def test_an_identity_scope_is_granted_by_its_claims(
    required: str, claims: dict[str, object], granted: bool
) -> None:
    """AAuth -11 §"Auth Token": OIDC claims appear when identity scopes were granted, and
    a PS may leave the identity scope out of ``scope`` (@hellocoop/mockin 2.0 does)."""
    world = World()
    world.verifier = ResourceVerifier(
        RESOURCE,
        world.resource_key,
        "resource-key-1",
        {"/profile": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope=required)},
        world.cache,
        new_jti=world.jtis,
    )
    token = build_auth_token(
        world.ps.key,
        kid=world.ps.kid,
        now=NOW,
        jti="at-1",
        iss=world.ps.issuer,
        dwk=sorted(AUTH_TOKEN_DWKS)[-1],
        aud=RESOURCE,
        ps=world.ps.issuer,
        sub="person-alice",
        cnf_jwk=world.agent_key.public_key,
        scope="data.read",
        extra_claims=claims,
    )
    outcome = world.check(signed(token, "/profile", world=world))
    if granted:
        assert isinstance(outcome, Verified), outcome
        assert outcome.scope == "data.read"
    else:
        assert isinstance(outcome, Challenge)
        # no person-token record here: step-up starts from a person token
        assert (outcome.status, outcome.code) == (401, "person-token")
