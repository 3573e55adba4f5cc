"""Hostile requests against the resource (issue 5, "Bad input").

ONE table, :data:`CASES`, run twice: through ``ResourceVerifier.check`` and through
``ResourceServer.receive(...).next_action()`` driven as a binding drives it (fetches after
the resolved-address egress check). Each row is a named hostile (or odd but valid) request
and the exact answer the resource owes it: the status, the code (``Signature-Error`` code,
``AAuth-Requirement`` value or problem code), the exact set of response headers, the problem
body where one is due, and that NOTHING ELSE CHANGED (:class:`Trace`): no replay-store entry
or attempt, no discovery cache entry, no person record, no resource token, no secret drawn
(pending ids, session tokens), no fetch on the attacker's behalf; a row names any exception
(the one JWKS refresh AAuth -11 §"JWKS Discovery and Caching" allows, a step-up resource
token, a cached discovery failure).

Rows whose request is accepted name the reading they test in their id (``accepted-...``):
the ``alg`` / ``keyid`` / ``nonce`` / ``tag`` signature parameters are ignored (digest §2), a
second signature without a ``Signature-Key`` member is not the one verified (digest
[AMBIG-22]), an uncovered query is not integrity-protected (digest §2), an unknown scheme on
an unselected member is ignored (signature-key-08 §3.1), safe methods are not replay-checked
by default (digest §2 "Freshness and replay": MAY, for state-changing requests).

:data:`POLLS` is the same for hostile polls of a deferred call's pending URL.

A Hypothesis test then mutates valid signed requests at random: the verifier answers only
:class:`Verified` / :class:`Challenge` / :class:`NeedFetch`, and :class:`Verified` only when
the signature and every covered component are unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from dataclasses import replace as replace_fields
from itertools import count
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aauth._b64 import b64url_encode
from aauth.components import component_value
from aauth.discovery import DiscoveryCache, EgressError, EgressPolicy, check_resolved_address
from aauth.http import HttpRequest, HttpResponse
from aauth.httpsig import read_signature, sign_message
from aauth.keys import EcP256Key, Ed25519Key, PrivateKey
from aauth.resource import (
    AccessMode,
    CallApp,
    Challenge,
    Fetch,
    MemoryPersonRecords,
    MemoryReplayStore,
    MemorySessionStore,
    NeedFetch,
    Outcome,
    PersonRecord,
    ResourcePolicy,
    ResourceServer,
    ResourceVerifier,
    Respond,
    Verified,
)
from aauth.signing import sign_request
from aauth.tokens import (
    AUTH_TOKEN_DWKS,
    build_auth_token,
    build_person_token,
    create_resource_token,
)
from tests.fakes import T0, FakeAgentProvider, FakePersonServer

RESOURCE: Final = "https://resource.example"
NOW: Final = T0
#: Past the discovery cache's once-per-minute floor after the warm-up fetches at NOW.
LATER: Final = NOW + 120
ROGUE_PS: Final = "https://rogue-ps.example"
OTHER_AP: Final = "https://other-ap.example"

POLICIES: Final = {
    "/agent": ResourcePolicy(mode=AccessMode.AGENT_TOKEN),
    "/person": ResourcePolicy(mode=AccessMode.PERSON_TOKEN),
    "/auth": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read"),
    "/session": ResourcePolicy(mode=AccessMode.SESSION_TOKEN),
    "/strict": ResourcePolicy(extra_components=("@query",), signature_window=10),
    "/body": ResourcePolicy(extra_components=("content-type", "content-digest")),
    "/picky-ap": ResourcePolicy(agent_providers=frozenset({OTHER_AP})),
    "/picky-ps": ResourcePolicy(
        mode=AccessMode.PERSON_TOKEN, person_servers=frozenset({"https://ps.example"})
    ),
    "/deferred": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read", deferred=True),
    "/session-i": ResourcePolicy(mode=AccessMode.SESSION_TOKEN, session_interaction=True),
}
INTERACTION_URL: Final = RESOURCE + "/interact"

#: Never on a 403 (digest §2 "Access denials"), nor on a requirement challenge.
SIGNATURE_ONLY: Final = ("Signature-Error", "Accept-Signature-Scheme", "Accept-Signature-Alg")
REQUIREMENTS: Final = frozenset({"agent-token", "person-token", "auth-token"})
ACCEPT_ALG: Final = "Ed25519, ES256"

#: P-256 group order (SEC 2 §2.4.2), for the ECDSA malleability row.
P256_N: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: Ed25519 group order L (RFC 8032 §5.1), for the non-canonical S row.
ED25519_L: Final = 2**252 + 27742317777372353535851937790883648493


# --------------------------------------------------------------------------- the world


class RecordingReplayStore(MemoryReplayStore):
    """The default store, recording every ``add`` the verifier makes."""

    def __init__(self) -> None:
        super().__init__(max_entries=1_000)
        self.adds: list[bytes] = []

    def add(self, key: bytes, *, expires_at: int, now: int) -> bool:
        self.adds.append(key)
        return super().add(key, expires_at=expires_at, now=now)


@dataclass(frozen=True)
class Trace:
    """Everything a refused request must leave as it was."""

    replay_adds: int
    replay_entries: int
    cache_entries: int
    cache_issuers: int
    person_records: int
    alice_record: PersonRecord | None
    issued: int
    secrets: int
    sessions: int
    held: int

    def but(self, **changes: int) -> Trace:
        """This trace with the named counters moved by the given amounts."""
        return replace_fields(self, **{k: getattr(self, k) + v for k, v in changes.items()})


class OddAgentProvider(FakeAgentProvider):
    """An Agent Provider whose metadata names the ``jwks_uri`` and ``issuer`` a row chooses
    (:data:`DROP`: left out), served as raw JSON (our serialiser refuses such documents)."""

    def __init__(self, issuer: str, jwks_uri: str | None = None, document_issuer: Any = "") -> None:
        super().__init__(issuer)
        self.odd_jwks_uri = jwks_uri or self.jwks_uri
        self.document_issuer = issuer if document_issuer == "" else document_issuer

    def handle(self, request: HttpRequest, now: int) -> HttpResponse:
        if request.url == self.issuer + "/.well-known/aauth-agent.json":
            document = {"issuer": self.document_issuer, "jwks_uri": self.odd_jwks_uri}
            document = {k: v for k, v in document.items() if v is not DROP}
            return HttpResponse(
                200, [("Content-Type", "application/json")], json.dumps(document).encode()
            )
        return super().handle(request, now)


#: Host -> the address the binding's resolver returns (the default: a public address).
PUBLIC_ADDRESS: Final = "93.184.216.34"
DNS: Final = {"internal.example": "10.1.2.3", "rebound.example": "169.254.169.254"}


@dataclass
class World:
    """An AP and a PS the resource trusts, a rogue PS, the verifier, the server on top of
    it, and their state."""

    ap: FakeAgentProvider = field(default_factory=FakeAgentProvider)
    ps: FakePersonServer = field(default_factory=FakePersonServer)
    rogue: FakePersonServer = field(default_factory=lambda: FakePersonServer(ROGUE_PS))
    odd_ip: OddAgentProvider = field(
        default_factory=lambda: OddAgentProvider("https://odd-ip.example", "https://10.0.0.1/k")
    )
    odd_name: OddAgentProvider = field(
        default_factory=lambda: OddAgentProvider(
            "https://odd-name.example", "https://odd-name.localhost/k"
        )
    )
    odd_host: OddAgentProvider = field(
        default_factory=lambda: OddAgentProvider(
            "https://odd-host.example", "https://cdn.example/k"
        )
    )
    odd_slash: OddAgentProvider = field(
        default_factory=lambda: OddAgentProvider(
            "https://odd-slash.example", document_issuer="https://odd-slash.example/"
        )
    )
    odd_none: OddAgentProvider = field(
        default_factory=lambda: OddAgentProvider("https://odd-none.example", document_issuer=DROP)
    )
    cache: DiscoveryCache = field(default_factory=DiscoveryCache)
    store: RecordingReplayStore = field(default_factory=RecordingReplayStore)
    resource_key: Ed25519Key = field(default_factory=lambda: Ed25519Key.from_seed(b"R" * 32))
    issued: list[str] = field(default_factory=list)
    drawn: list[str] = field(default_factory=list)
    #: ``ResourceVerifier(replay_safe_methods=...)``: also replay-check GETs
    strict_replay: bool = False
    #: values a row's builder hands to its ``then`` check
    notes: dict[str, str] = field(default_factory=dict)
    #: URLs actually fetched (connected to), and those the resolver check refused.
    fetches: list[str] = field(default_factory=list)
    refused_dials: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        ids: Iterator[int] = count()
        self.verifier = ResourceVerifier(
            RESOURCE,
            self.resource_key,
            "resource-key-1",
            POLICIES,
            self.cache,
            self.store,
            new_jti=lambda: self._issue(f"rt-{next(ids)}"),
            replay_safe_methods=self.strict_replay,
        )
        secrets_: Iterator[int] = count()
        self.server = ResourceServer(
            self.verifier,
            new_secret=lambda: self._draw(f"secret-{next(secrets_):016d}"),
            interaction_url=INTERACTION_URL,
        )
        self.agent_key = self.ap.agent_key()
        self.other_key = self.ap.agent_key("other")
        #: the agent token a row's request carries (one per world, so that a row building
        #: its request twice gets the same bytes twice)
        self.token = self.agent_token()

    def _issue(self, jti: str) -> str:
        self.issued.append(jti)
        return jti

    def _draw(self, secret: str) -> str:
        self.drawn.append(secret)
        return secret

    # -- tokens

    def agent_token(
        self, key: PrivateKey | None = None, *, now: int = NOW, lifetime: int = 3600
    ) -> str:
        return self.ap.mint(key or self.agent_key, now=now, lifetime=lifetime)

    def person_token(
        self,
        *,
        aud: str = RESOURCE,
        server: FakePersonServer | None = None,
        key: PrivateKey | None = None,
        jti: str = "pt-1",
    ) -> str:
        server = server or self.ps
        return build_person_token(
            server.key,
            kid=server.kid,
            now=NOW,
            jti=jti,
            iss=server.issuer,
            aud=aud,
            sub="person-alice",
            cnf_jwk=(key or self.agent_key).public_key,
        )

    def auth_token(
        self,
        *,
        scope: str = "data.read",
        aud: str = RESOURCE,
        sub: str = "person-alice",
        key: PrivateKey | None = None,
        jti: str = "at-1",
        now: int = NOW,
    ) -> str:
        return build_auth_token(
            self.ps.key,
            kid=self.ps.kid,
            now=now,
            jti=jti,
            iss=self.ps.issuer,
            dwk=sorted(AUTH_TOKEN_DWKS)[-1],
            aud=aud,
            ps=self.ps.issuer,
            sub=sub,
            cnf_jwk=(key or self.agent_key).public_key,
            scope=scope,
        )

    def url(self, name: str) -> str:
        """The URLs rows name in ``fetches`` / ``refused``."""
        return {
            "ap-jwks": self.ap.jwks_uri,
            "internal-metadata": "https://internal.example/.well-known/aauth-agent.json",
            "rebound-metadata": "https://rebound.example/.well-known/aauth-agent.json",
            "odd-ip-metadata": self.odd_ip.issuer + "/.well-known/aauth-agent.json",
            "odd-name-metadata": self.odd_name.issuer + "/.well-known/aauth-agent.json",
            "odd-host-metadata": self.odd_host.issuer + "/.well-known/aauth-agent.json",
            "odd-slash-metadata": self.odd_slash.issuer + "/.well-known/aauth-agent.json",
            "odd-none-metadata": self.odd_none.issuer + "/.well-known/aauth-agent.json",
        }[name]

    # -- the network, as a binding does it

    def fetch(self, url: str, egress: EgressPolicy, now: int) -> HttpResponse | None:
        """Resolve the host, refuse the address as the binding must (digest §3.6, contract:
        ``check_resolved_address`` before connecting), else serve ``url``. ``None``: the
        fetch failed without a response."""
        host = url.split("://", 1)[1].split("/", 1)[0]
        try:
            check_resolved_address(DNS.get(host, PUBLIC_ADDRESS), egress)
        except EgressError:
            self.refused_dials.append(url)
            return None
        self.fetches.append(url)
        for server in (
            self.ap,
            self.ps,
            self.rogue,
            self.odd_ip,
            self.odd_name,
            self.odd_host,
            self.odd_slash,
            self.odd_none,
        ):
            if url.startswith(server.issuer + "/"):
                return server.handle(HttpRequest("GET", url), now)
        return HttpResponse(404)

    def check(self, request: HttpRequest, now: int = NOW) -> Outcome:
        """The verifier's ``check``, doing every fetch it asks for (bounded)."""
        for _ in range(6):
            outcome = self.verifier.check(request, now)
            if not isinstance(outcome, NeedFetch):
                return outcome
            assert not outcome.pending, outcome
            response = self.fetch(outcome.url, self.cache.egress, now)
            if response is None:
                self.cache.on_fetch_failed(outcome.url, now=now, reason="egress refused")
            else:
                self.cache.on_response(outcome.url, response, now=now)
        raise AssertionError("the verifier kept asking for fetches")

    def warm(self) -> None:
        """As on a running server: each trusted issuer's documents already cached, a person
        record for alice (her person token was verified once)."""
        for request in (
            post(self, self.agent_token(), "/agent", created=NOW - 3),
            signed(self, self.person_token(), "/person", created=NOW - 2),
            signed(self, self.auth_token(), "/auth", created=NOW - 1),
        ):
            outcome = self.check(request)
            assert isinstance(outcome, Verified), outcome

    def trace(self) -> Trace:
        records = self.verifier.person_records
        sessions = self.server.session_store
        assert isinstance(records, MemoryPersonRecords)
        assert isinstance(sessions, MemorySessionStore)
        return Trace(
            replay_adds=len(self.store.adds),
            replay_entries=len(self.store),
            cache_entries=len(self.cache),
            cache_issuers=len(self.cache._urls),
            person_records=len(records),
            alice_record=records.lookup(self.ps.issuer, "person-alice", now=NOW),
            issued=len(self.issued),
            secrets=len(self.drawn),
            sessions=len(sessions),
            held=self.server.held_calls,
        )


# --------------------------------------------------------------------------- request builders


def signed(
    world: World,
    token: str,
    path: str = "/agent",
    *,
    key: PrivateKey | None = None,
    created: int = NOW,
    expires: int | None = None,
    method: str = "GET",
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
    label: str = "sig",
    components: tuple[str, ...] | None = None,
) -> HttpRequest:
    """An AAuth-signed request (``sign_request``: the jwt scheme, the default components)."""
    return sign_request(
        HttpRequest(method, RESOURCE + path, headers, body),
        key or world.agent_key,
        signature_key=token,
        created=created,
        expires=expires,
        label=label,
        components=components,
    )


FOUR: Final = ("@method", "@authority", "@path", "signature-key")


def raw_signed(
    world: World,
    key_text: str,
    path: str = "/agent",
    *,
    key: PrivateKey | None = None,
    created: int = NOW,
    label: str = "sig",
    components: tuple[str, ...] = FOUR,
    headers: tuple[tuple[str, str], ...] = (),
    **params: Any,
) -> HttpRequest:
    """``Signature-Key: key_text`` then a plain RFC 9421 signature over it with any
    signature parameters (``alg``, ``keyid``, ``nonce``, ``tag``), as a peer might send."""
    request = HttpRequest("GET", RESOURCE + path, (*headers, ("Signature-Key", key_text)))
    return sign_message(
        request,
        key or world.agent_key,
        label=label,
        components=components,
        created=created,
        **params,
    )


def jwt_member(token: str, label: str = "sig") -> str:
    return f'{label}=jwt;jwt="{token}"'


def replace(request: HttpRequest, name: str, value: str | None) -> HttpRequest:
    """Every ``name`` line replaced by one line ``value`` (removed when ``None``)."""
    stripped = request.without_headers([name])
    return stripped if value is None else stripped.with_headers([(name, value)])


def header_of(request: HttpRequest, name: str) -> str:
    value = request.header(name)
    assert value is not None, name
    return value


def signature_of(request: HttpRequest, label: str = "sig") -> bytes:
    return read_signature(request, label).signature


def with_signature(request: HttpRequest, raw: bytes, *, url_safe: bool = False) -> HttpRequest:
    encoded = (base64.urlsafe_b64encode if url_safe else base64.b64encode)(raw).decode()
    return replace(request, "Signature", f"sig=:{encoded}:")


#: In :func:`raw_token`'s overrides: leave the member out.
DROP: Final[Any] = object()


def raw_token(
    world: World,
    *,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    sign: Callable[[bytes], bytes] | None = None,
) -> str:
    """An agent-token-shaped JWT, header and claims overridable (:data:`DROP` removes a
    member), signed by the AP key over the exact bytes (or by ``sign``)."""
    iss = (claims or {}).get("iss", world.ap.issuer)
    base_claims = {
        "iss": iss,
        "dwk": "aauth-agent.json",
        "sub": world.ap.agent_id,
        "jti": "x",
        "iat": NOW,
        "exp": NOW + 600,
        "cnf": {"jwk": world.agent_key.public_jwk},
        "ps": world.ps.issuer,
    }
    head = {"alg": "Ed25519", "typ": "aa-agent+jwt", "kid": world.ap.kid, **(header or {})}
    body = {**base_claims, **(claims or {})}
    head = {k: v for k, v in head.items() if v is not DROP}
    body = {k: v for k, v in body.items() if v is not DROP}
    enc = [b64url_encode(json.dumps(p, separators=(",", ":")).encode()) for p in (head, body)]
    signing_input = ".".join(enc).encode()
    signature = (sign or world.ap.key.sign)(signing_input)
    return f"{signing_input.decode()}.{b64url_encode(signature)}"


def rogue_signed_token(world: World, kid: str) -> str:
    """An agent token naming the AP and ``kid`` but signed by a key not in its JWKS."""
    rogue = FakeAgentProvider(kid=kid)
    rogue.key = Ed25519Key.from_seed(b"r" * 32)
    return rogue.mint(world.agent_key, now=NOW)


def two_signatures(world: World, *, keyed: tuple[str, ...]) -> HttpRequest:
    """Two valid AAuth signatures ``sig1`` and ``sig2``; ``Signature-Key`` members only for
    the labels in ``keyed`` (a member ``sig3`` stands in when none is keyed)."""
    token = world.agent_token()
    members = [jwt_member(token, label) for label in keyed] or [jwt_member(token, "sig3")]
    key_text = ", ".join(members)
    request = HttpRequest("GET", RESOURCE + "/agent", (("Signature-Key", key_text),))
    for label in ("sig1", "sig2"):
        request = sign_message(request, world.agent_key, label=label, components=FOUR, created=NOW)
    return request


def second_unkeyed_signature(world: World) -> HttpRequest:
    """An AAuth signature ``sig`` plus an RFC 9421 signature ``proxy`` (no Signature-Key
    member, e.g. a gateway's) over the method and authority."""
    request = signed(world, world.agent_token())
    return sign_message(request, world.other_key, label="proxy", components=FOUR[:2], created=NOW)


#: RFC 9110 §9.2.1 safe methods: the verifier enters their signatures in the replay store
#: only when built with ``replay_safe_methods`` (digest §2 "Freshness and replay": a
#: verifier MAY reject duplicates of state-changing requests).
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def post(
    world: World, token: str, path: str, *, key: PrivateKey | None = None, created: int = NOW
) -> HttpRequest:
    """A state-changing signed request (a JSON body under ``content-digest``)."""
    return signed(
        world,
        token,
        path,
        key=key,
        created=created,
        method="POST",
        body=b'{"transfer":100}',
        headers=(("Content-Type", "application/json"),),
    )


def replayed(
    mutate: Callable[[HttpRequest], HttpRequest] | None = None,
) -> Callable[[World], HttpRequest]:
    """A POST accepted once (asserted), then sent again (after ``mutate``)."""

    def build(world: World) -> HttpRequest:
        request = post(world, world.agent_token(), "/agent/replay")
        first = world.check(request)
        assert isinstance(first, Verified), first  # the first use is accepted
        return mutate(request) if mutate else request

    return build


def replayed_get(world: World) -> HttpRequest:
    """A GET accepted once, then sent again."""
    request = signed(world, world.agent_token(), "/agent/replay")
    assert isinstance(world.check(request), Verified)
    return request


def ecdsa_replay(world: World) -> HttpRequest:
    """An ES256 agent POST, accepted once, replayed with ``s`` negated mod n: ECDSA's
    other valid signature for the same base (different bytes, same request)."""
    key = EcP256Key.from_private_value(int.from_bytes(hashlib.sha256(b"ec agent").digest()) >> 8)
    request = post(world, world.agent_token(key), "/agent/ec", key=key)
    first = world.check(request)
    assert isinstance(first, Verified), first
    raw = signature_of(request)
    r, s = raw[:32], int.from_bytes(raw[32:])
    return with_signature(request, r + (P256_N - s).to_bytes(32))


def ed25519_replay(world: World) -> HttpRequest:
    """An Ed25519 POST, accepted once, replayed with S + L (non-canonical S)."""
    request = post(world, world.agent_token(), "/agent/ed")
    first = world.check(request)
    assert isinstance(first, Verified), first
    raw = signature_of(request)
    s = int.from_bytes(raw[32:], "little") + ED25519_L
    return with_signature(request, raw[:32] + s.to_bytes(32, "little"))


def hs256_token(world: World) -> str:
    """HS256 keyed with the AP's public JWK ``x`` (the classic key-confusion forgery)."""
    secret = world.ap.key.public_jwk["x"].encode()
    return raw_token(
        world,
        header={"alg": "HS256"},
        sign=lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )


def with_body(world: World, path: str = "/agent", **kwargs: Any) -> HttpRequest:
    return signed(
        world,
        world.agent_token(),
        path,
        method="POST",
        body=b'{"amount":1}',
        headers=(("Content-Type", "application/json"),),
        **kwargs,
    )


def resource_token(world: World) -> str:
    """A real resource token of this resource (it has ``agent_jkt``, no ``cnf``)."""
    return create_resource_token(
        world.resource_key,
        kid="resource-key-1",
        now=NOW,
        jti="rt-x",
        iss=RESOURCE,
        aud=world.ps.issuer,
        agent_jkt=world.agent_key.public_key.thumbprint,
        scope="data.read",
        ps=world.ps.issuer,
        sub="person-alice",
        presented_jti="pt-1",
    )


def replayed_challenge(path: str) -> Callable[[World], HttpRequest]:
    """A person-token POST whose first use is answered with a resource token (``/auth``:
    401; ``/deferred``: 202, the call held), then sent again."""

    def build(world: World) -> HttpRequest:
        request = post(world, world.person_token(), path)
        response, runs = serve_call(world, request, NOW)
        assert (response.status, runs) in ((401, 0), (202, 0)), response
        assert (response.header("AAuth-Requirement") or "").startswith("requirement=auth-token")
        return request

    return build


def replayed_person_request(world: World) -> HttpRequest:
    """A person-token POST accepted once; then a newer person token (jti pt-2) is
    verified; then the first request is replayed: the resource's record must stay pt-2."""
    first = post(world, world.person_token(jti="pt-1"), "/person/a")
    assert isinstance(world.check(first), Verified)
    newer = post(world, world.person_token(jti="pt-2"), "/person/b")
    assert isinstance(world.check(newer), Verified)
    return first


def odd_issuer(name: str) -> Callable[[World], HttpRequest]:
    def build(world: World) -> HttpRequest:
        odd: OddAgentProvider = getattr(world, name)
        token = raw_token(
            world,
            header={"kid": odd.kid},
            claims={"iss": odd.issuer, "sub": odd.agent_id},
            sign=odd.key.sign,
        )
        return signed(world, token)

    return build


BODY: Final = b'{"amount":1}'
BODY_SHA256: Final = base64.b64encode(hashlib.sha256(BODY).digest()).decode()


def digest_post(content_digest: str, sent: bytes = BODY) -> Callable[[World], HttpRequest]:
    """A POST of :data:`BODY` whose signature covers the given ``Content-Digest`` text (as a
    peer's own serialiser wrote it); ``sent`` is the body that arrives."""

    def build(world: World) -> HttpRequest:
        headers = (
            ("Content-Type", "application/json"),
            ("Content-Digest", content_digest),
            ("Signature-Key", jwt_member(world.token)),
        )
        request = sign_message(
            HttpRequest("POST", RESOURCE + "/agent", headers, BODY),
            world.agent_key,
            label="sig",
            components=(*FOUR, "content-type", "content-digest"),
            created=NOW,
        )
        return HttpRequest("POST", request.url, request.headers, sent)

    return build


MALLORY: Final = "aauth:mallory@agent.example"


def others_session_token(world: World) -> HttpRequest:
    """Alice's agent is granted a session token; another agent (its own key and agent id)
    then presents it, signed and covered, on the same route."""
    first = signed(world, world.token, "/session/a")
    response, runs = serve_call(world, first, NOW - 1)
    granted = response.header("AAuth-Access")
    assert (runs, granted is not None) == (1, True), response
    assert granted is not None
    world.notes["granted"] = granted
    mallory = world.ap.mint(world.other_key, now=NOW, agent_id=MALLORY)
    headers = (("Authorization", f"AAuth {granted}"),)
    return signed(world, mallory, "/session/b", key=world.other_key, headers=headers)


def not_inherited(world: World, answer: Answer) -> None:
    """The other agent runs as itself, on a session of its own, never on alice's."""
    identity = answer.verified
    assert identity is not None
    assert identity.agent == MALLORY
    assert identity.session_token not in (None, world.notes["granted"])


def private_issuer(iss: str) -> Callable[[World], HttpRequest]:
    def build(world: World) -> HttpRequest:
        host = iss.split("://", 1)[1].strip("[]")
        token = raw_token(world, claims={"iss": iss, "sub": f"aauth:assistant@{host}"})
        return signed(world, token)

    return build


def oversized_token(world: World) -> str:
    """A well-formed agent token padded past the 16 384-character Signature-Key limit."""
    return raw_token(world, claims={"pad": "a" * 17_000})


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    """One hostile request and the exact answer.

    ``code`` is the ``Signature-Error`` code (401 with a problem body), the requirement
    (401 ``AAuth-Requirement``, no body) or the problem code (400/403/404); ``status`` None
    means the request is accepted (the app runs: :class:`Verified` / ``CallApp``). ``at`` is
    ``now``. ``fetches`` / ``refused`` name the URLs (see :meth:`World.url`) the binding may
    fetch / must refuse at the resolved-address check; none by default. ``changes``: the
    :class:`Trace` counters the row may move (an accepted row adds its replay entry).
    ``headers``: further response headers the row expects; ``only``: the one runner the row
    applies to (the server answers paths the bare verifier does not know);
    ``strict_replay``: the verifier replay-checks safe methods too; ``then``: a further check
    of the answer.
    """

    id: str
    build: Callable[[World], HttpRequest]
    status: int | None
    code: str | None = None
    at: int = NOW
    signature_error: str | None = None
    fetches: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    changes: tuple[tuple[str, int], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    only: str | None = None
    strict_replay: bool = False
    then: Callable[[World, Answer], None] | None = None


#: A replay is refused by the replay store itself: one add attempted, refused.
REPLAY_CHECKED: Final = (("replay_adds", 1),)
#: A discovery failure is cached (with backoff) so that the next request does not dial
#: again; the entry is bounded by the cache's LRU limit (digest §3.6).
NEW_ISSUER: Final = (("cache_entries", 1), ("cache_issuers", 1))


def accepted(id_: str, build: Callable[[World], HttpRequest]) -> Case:
    return Case(id_, build, None)


def sig(id_: str, build: Callable[[World], HttpRequest], code: str, **kwargs: Any) -> Case:
    return Case(id_, build, 401, code, **kwargs)


def _tok(w: World) -> str:
    return w.token


def required_input(*names: str) -> str:
    inner = " ".join(f'"{n}"' for n in names)
    return f"error=invalid_input, required_input=({inner})"


CASES: Final[list[Case]] = [
    # --- no signature / missing signature headers --------------------------------------
    Case(
        "no-signature-agent-route",
        lambda w: HttpRequest("GET", RESOURCE + "/agent"),
        401,
        "agent-token",
    ),
    Case(
        "no-signature-session-route",
        lambda w: HttpRequest("GET", RESOURCE + "/session"),
        401,
        "agent-token",
    ),
    Case(
        "no-signature-person-route",
        lambda w: HttpRequest("GET", RESOURCE + "/person"),
        401,
        "person-token",
    ),
    Case(
        "no-signature-auth-route",
        lambda w: HttpRequest("GET", RESOURCE + "/auth"),
        401,
        "person-token",
    ),
    Case("unknown-route", lambda w: signed(w, _tok(w), "/nowhere"), 404, "invalid_request"),
    sig(
        "signature-without-signature-input",
        lambda w: replace(signed(w, _tok(w)), "Signature-Input", None),
        "invalid_request",
    ),
    sig(
        "signature-input-without-signature",
        lambda w: replace(signed(w, _tok(w)), "Signature", None),
        "invalid_request",
    ),
    sig(
        "signature-key-alone",
        lambda w: HttpRequest(
            "GET", RESOURCE + "/agent", (("Signature-Key", jwt_member(_tok(w))),)
        ),
        "invalid_request",
    ),
    sig(
        "signature-and-input-without-signature-key",
        lambda w: replace(signed(w, _tok(w)), "Signature-Key", None),
        "invalid_request",
    ),
    # --- labels ------------------------------------------------------------------------
    sig(
        "two-signatures-both-keyed",
        lambda w: two_signatures(w, keyed=("sig1", "sig2")),
        "invalid_request",
    ),
    sig("two-signatures-neither-keyed", lambda w: two_signatures(w, keyed=()), "invalid_request"),
    accepted(
        "accepted-two-signatures-one-keyed-AMBIG-22", lambda w: two_signatures(w, keyed=("sig2",))
    ),
    accepted("accepted-unkeyed-proxy-signature-beside-ours-AMBIG-22", second_unkeyed_signature),
    sig(
        "signature-key-member-under-unknown-label",
        lambda w: replace(signed(w, _tok(w)), "Signature-Key", jwt_member(_tok(w), "other")),
        "invalid_request",
    ),
    sig(
        "signature-under-another-label-than-signature-input",
        lambda w: replace(
            signed(w, _tok(w)),
            "Signature",
            header_of(signed(w, _tok(w)), "Signature").replace("sig=", "zzz=", 1),
        ),
        "invalid_signature",
    ),
    sig(
        "duplicate-label-in-signature-input",
        lambda w: signed(w, _tok(w)).with_headers(
            [("Signature-Input", header_of(signed(w, _tok(w)), "Signature-Input"))]
        ),
        "invalid_signature",
    ),
    # --- signature parameters ----------------------------------------------------------
    accepted(
        "accepted-alg-param-ed25519-ignored-digest-2",
        lambda w: raw_signed(w, jwt_member(_tok(w)), alg="ed25519"),
    ),
    accepted(
        "accepted-alg-param-contradicting-key-ignored-digest-2",
        lambda w: raw_signed(w, jwt_member(_tok(w)), alg="hmac-sha256"),
    ),
    accepted(
        "accepted-keyid-param-naming-another-key-ignored-digest-2",
        lambda w: raw_signed(w, jwt_member(_tok(w)), keyid="someone-else"),
    ),
    accepted(
        "accepted-nonce-and-tag-params-ignored",
        lambda w: raw_signed(w, jwt_member(_tok(w)), nonce="n-1", tag="t"),
    ),
    sig(
        "created-missing",
        lambda w: replace(
            signed(w, _tok(w)),
            "Signature-Input",
            header_of(signed(w, _tok(w)), "Signature-Input").replace(f";created={NOW}", ""),
        ),
        "invalid_signature",
    ),
    sig(
        "created-61s-in-the-future",
        lambda w: signed(w, _tok(w), created=NOW + 61),
        "invalid_signature",
    ),
    sig(
        "created-an-hour-in-the-future",
        lambda w: signed(w, _tok(w), created=NOW + 3600),
        "invalid_signature",
    ),
    accepted(
        "accepted-created-60s-in-the-future-window-edge-AMBIG-8",
        lambda w: signed(w, _tok(w), created=NOW + 60),
    ),
    sig("created-61s-stale", lambda w: signed(w, _tok(w), created=NOW - 61), "invalid_signature"),
    accepted(
        "accepted-created-60s-old-window-edge", lambda w: signed(w, _tok(w), created=NOW - 60)
    ),
    sig(
        "created-11s-stale-on-a-10s-window-route",
        lambda w: signed(w, _tok(w), "/strict", created=NOW - 11, components=(*FOUR, "@query")),
        "invalid_signature",
    ),
    sig(
        "expires-passed",
        lambda w: signed(w, _tok(w), created=NOW - 5, expires=NOW - 1),
        "invalid_signature",
    ),
    sig(
        "expires-before-created",
        lambda w: signed(w, _tok(w), created=NOW, expires=NOW - 30),
        "invalid_signature",
    ),
    # --- replay ------------------------------------------------------------------------
    sig("replayed-signature", replayed(), "invalid_signature", changes=REPLAY_CHECKED),
    accepted("accepted-replayed-GET-safe-methods-not-replay-checked-digest-2", replayed_get),
    sig(
        "replayed-GET-with-replay_safe_methods",
        replayed_get,
        "invalid_signature",
        changes=REPLAY_CHECKED,
        strict_replay=True,
    ),
    sig(
        "replayed-signature-re-encoded-base64url",
        replayed(lambda r: with_signature(r, signature_of(r), url_safe=True)),
        "invalid_signature",
        changes=REPLAY_CHECKED,
    ),
    sig(
        "replayed-signature-with-uncovered-header-added",
        replayed(lambda r: r.with_headers([("X-Nonce", "fresh")])),
        "invalid_signature",
        changes=REPLAY_CHECKED,
    ),
    sig(
        "replayed-ecdsa-signature-with-s-negated",
        ecdsa_replay,
        "invalid_signature",
        changes=REPLAY_CHECKED,
    ),
    sig(
        "replayed-ed25519-signature-with-s-plus-l",
        ed25519_replay,
        "invalid_signature",
    ),
    sig(
        "replayed-person-token-request-after-a-newer-person-token",
        replayed_person_request,
        "invalid_signature",
        changes=REPLAY_CHECKED,
    ),
    # a replayed state-changing request is refused even when its first use was answered
    # with a challenge: no second resource token, no second held call
    sig(
        "replayed-person-token-POST-on-an-auth-token-route",
        replayed_challenge("/auth/x"),
        "invalid_signature",
        changes=REPLAY_CHECKED,
    ),
    sig(
        "replayed-person-token-POST-on-the-deferred-route",
        replayed_challenge("/deferred/x"),
        "invalid_signature",
        changes=REPLAY_CHECKED,
    ),
    # --- what the signature covers -----------------------------------------------------
    sig(
        "body-changed-under-content-digest",
        lambda w: HttpRequest("POST", RESOURCE + "/agent", with_body(w).headers, b'{"amount":9}'),
        "invalid_signature",
    ),
    sig(
        "content-digest-header-removed-while-covered",
        lambda w: replace(with_body(w), "Content-Digest", None),
        "invalid_signature",
    ),
    # RFC 9530: the digest is recomputed (digest [AMBIG-28]); every algorithm we know must
    # match, one we do not know is ignored, and only unknown ones leave the body unchecked
    sig(
        "content-digest-only-an-unknown-algorithm",
        digest_post("md5=:AAAA:"),
        "invalid_request",
    ),
    sig(
        "content-digest-a-second-known-algorithm-wrong",
        digest_post(f"sha-256=:{BODY_SHA256}:, sha-512=:AAAA:"),
        "invalid_signature",
    ),
    accepted(
        "accepted-content-digest-with-an-extra-unknown-algorithm-rfc9530",
        digest_post(f"sha-256=:{BODY_SHA256}:, md5=:AAAA:"),
    ),
    sig(
        "body-changed-under-a-digest-with-an-extra-unknown-algorithm",
        digest_post(f"sha-256=:{BODY_SHA256}:, md5=:AAAA:", b'{"amount":9}'),
        "invalid_signature",
    ),
    sig(
        "content-digest-not-covered-on-a-digest-route",
        lambda w: with_body(w, "/body", components=(*FOUR, "content-type")),
        "invalid_input",
        signature_error=required_input(*FOUR, "content-type", "content-digest"),
    ),
    sig(
        "query-not-covered-on-a-query-route",
        lambda w: signed(w, _tok(w), "/strict?q=1"),
        "invalid_input",
        signature_error=required_input(*FOUR, "@query"),
    ),
    sig(
        "authorization-aauth-not-covered",
        lambda w: raw_signed(
            w, jwt_member(_tok(w)), "/session", headers=(("Authorization", "AAuth st-1"),)
        ),
        "invalid_input",
        signature_error=required_input(*FOUR, "authorization"),
    ),
    sig(
        "method-changed",
        lambda w: HttpRequest("POST", RESOURCE + "/agent", signed(w, _tok(w)).headers),
        "invalid_signature",
    ),
    sig(
        "path-changed",
        lambda w: HttpRequest("GET", RESOURCE + "/agent/b", signed(w, _tok(w), "/agent/a").headers),
        "invalid_signature",
    ),
    sig(
        "authority-changed",
        lambda w: HttpRequest(
            "GET", "https://resource.example:8443/agent", signed(w, _tok(w)).headers
        ),
        "invalid_signature",
    ),
    sig(
        "covered-query-changed",
        lambda w: HttpRequest(
            "GET",
            RESOURCE + "/strict?q=2",
            signed(w, _tok(w), "/strict?q=1", components=(*FOUR, "@query")).headers,
        ),
        "invalid_signature",
    ),
    accepted(
        "accepted-uncovered-query-changed-digest-2",
        lambda w: HttpRequest(
            "GET", RESOURCE + "/agent?q=2", signed(w, _tok(w), "/agent?q=1").headers
        ),
    ),
    # --- schemes (AAuth -11 §"Keying material": jwt only) --------------------------------
    sig(
        "hwk-scheme",
        lambda w: raw_signed(
            w,
            'sig=hwk;kty="OKP";crv="Ed25519";alg="Ed25519";x="' + w.agent_key.public_jwk["x"] + '"',
        ),
        "unsupported_scheme",
    ),
    sig(
        "jwks-uri-scheme",
        lambda w: raw_signed(
            w, 'sig=jwks_uri;id="https://agent.example";dwk="aauth-agent.json";kid="ap-key-1"'
        ),
        "unsupported_scheme",
    ),
    sig(
        "jkt-jwt-scheme",
        lambda w: raw_signed(w, f'sig=jkt-jwt;jwt="{_tok(w)}"'),
        "unsupported_scheme",
    ),
    sig(
        "unknown-scheme", lambda w: raw_signed(w, 'sig=carrier-pigeon;id="x"'), "unsupported_scheme"
    ),
    accepted(
        "accepted-unknown-scheme-on-an-unselected-member-sk08-3.1",
        lambda w: raw_signed(w, f'{jwt_member(_tok(w))}, spare=carrier-pigeon;id="x"'),
    ),
    # --- oversized headers -------------------------------------------------------------
    sig("signature-key-over-16384", lambda w: signed(w, oversized_token(w)), "invalid_request"),
    sig(
        "signature-input-over-8192",
        lambda w: replace(
            signed(w, _tok(w)),
            "Signature-Input",
            header_of(signed(w, _tok(w)), "Signature-Input") + ';pad="' + "a" * 8192 + '"',
        ),
        "invalid_request",
    ),
    sig(
        "signature-over-8192",
        lambda w: replace(
            signed(w, _tok(w)),
            "Signature",
            header_of(signed(w, _tok(w)), "Signature") + ", pad=:" + "AAAA" * 2100 + ":",
        ),
        "invalid_request",
    ),
    sig(
        "signature-input-split-over-many-lines",
        lambda w: signed(w, _tok(w)).with_headers(
            [("Signature-Input", f"p{i}=();created={NOW}") for i in range(800)]
        ),
        "invalid_request",
    ),
    # --- malformed structured fields ---------------------------------------------------
    sig(
        "signature-input-unterminated-inner-list",
        lambda w: replace(
            signed(w, _tok(w)), "Signature-Input", f'sig=("@method" "@authority";created={NOW}'
        ),
        "invalid_signature",
    ),
    sig(
        "signature-input-created-a-string",
        lambda w: replace(
            signed(w, _tok(w)),
            "Signature-Input",
            header_of(signed(w, _tok(w)), "Signature-Input").replace(
                f"created={NOW}", f'created="{NOW}"'
            ),
        ),
        "invalid_signature",
    ),
    sig(
        "signature-input-not-a-dictionary",
        lambda w: replace(signed(w, _tok(w)), "Signature-Input", "((((("),
        "invalid_signature",
    ),
    sig(
        "signature-not-a-byte-sequence",
        lambda w: replace(signed(w, _tok(w)), "Signature", 'sig="AAAA"'),
        "invalid_signature",
    ),
    sig(
        "signature-bad-base64",
        lambda w: replace(signed(w, _tok(w)), "Signature", "sig=:!!!!:"),
        "invalid_signature",
    ),
    sig(
        "signature-truncated",
        lambda w: with_signature(signed(w, _tok(w)), signature_of(signed(w, _tok(w)))[:63]),
        "invalid_signature",
    ),
    sig(
        "signature-key-not-a-dictionary",
        lambda w: replace(signed(w, _tok(w)), "Signature-Key", "sig=jwt;;"),
        "invalid_request",
    ),
    sig(
        "signature-key-scheme-a-string",
        lambda w: replace(signed(w, _tok(w)), "Signature-Key", f'sig="jwt";jwt="{_tok(w)}"'),
        "invalid_request",
    ),
    sig("signature-key-jwt-param-missing", lambda w: raw_signed(w, "sig=jwt"), "invalid_key"),
    sig(
        "signature-key-jwt-not-a-jwt",
        lambda w: raw_signed(w, 'sig=jwt;jwt="not.a.jwt"'),
        "invalid_jwt",
    ),
    # --- the token: typ ----------------------------------------------------------------
    sig("resource-token-signs-a-request", lambda w: signed(w, resource_token(w)), "invalid_jwt"),
    sig(
        "resource-typ-on-agent-claims",
        lambda w: signed(w, raw_token(w, header={"typ": "aa-resource+jwt"})),
        "invalid_jwt",
    ),
    sig("unknown-typ-JWT", lambda w: signed(w, raw_token(w, header={"typ": "JWT"})), "invalid_jwt"),
    sig("no-typ", lambda w: signed(w, raw_token(w, header={"typ": DROP})), "invalid_jwt"),
    sig("typ-null", lambda w: signed(w, raw_token(w, header={"typ": None})), "invalid_jwt"),
    sig(
        "agent-claims-relabelled-person-typ",
        lambda w: signed(w, raw_token(w, header={"typ": "aa-person+jwt"}), "/person"),
        "invalid_jwt",
    ),
    Case(
        "agent-token-where-person-token-required",
        lambda w: signed(w, _tok(w), "/person"),
        401,
        "person-token",
    ),
    Case(
        "agent-token-where-auth-token-required",
        lambda w: signed(w, _tok(w), "/auth"),
        401,
        "person-token",
    ),
    Case(
        "person-token-where-agent-token-required",
        lambda w: signed(w, w.person_token(), "/agent"),
        401,
        "agent-token",
    ),
    # --- the token: JOSE alg -----------------------------------------------------------
    sig(
        "jose-alg-EdDSA",
        lambda w: signed(w, raw_token(w, header={"alg": "EdDSA"})),
        "unsupported_algorithm",
    ),
    sig(
        "jose-alg-none",
        lambda w: signed(w, raw_token(w, header={"alg": "none"}, sign=lambda d: b"")),
        "unsupported_algorithm",
    ),
    sig(
        "jose-alg-HS256-keyed-with-the-public-key",
        lambda w: signed(w, hs256_token(w)),
        "unsupported_algorithm",
    ),
    sig(
        "cnf-jwk-alg-EdDSA",
        lambda w: signed(
            w, raw_token(w, claims={"cnf": {"jwk": {**w.agent_key.public_jwk, "alg": "EdDSA"}}})
        ),
        "unsupported_algorithm",
    ),
    sig(
        "cnf-jwk-without-alg",
        lambda w: signed(
            w,
            raw_token(
                w,
                claims={
                    "cnf": {"jwk": {k: v for k, v in w.agent_key.public_jwk.items() if k != "alg"}}
                },
            ),
        ),
        "unsupported_algorithm",
    ),
    # --- the token: keys and issuers ---------------------------------------------------
    sig(
        "cnf-jwk-not-the-signing-key",
        lambda w: signed(w, _tok(w), key=w.other_key),
        "invalid_signature",
    ),
    sig(
        "auth-token-cnf-not-the-signing-key",
        lambda w: signed(w, w.auth_token(), "/auth", key=w.other_key),
        "invalid_signature",
    ),
    sig(
        "token-signed-by-a-key-not-in-the-jwks-refresh-not-yet-allowed",
        lambda w: signed(w, rogue_signed_token(w, w.ap.kid)),
        "invalid_jwt",
    ),
    sig(
        "token-signed-by-a-key-not-in-the-jwks-after-one-refresh",
        lambda w: signed(w, rogue_signed_token(w, w.ap.kid), created=LATER),
        "invalid_jwt",
        at=LATER,
        fetches=("ap-jwks",),
    ),
    sig(
        "token-kid-unknown-refresh-not-yet-allowed",
        lambda w: signed(w, rogue_signed_token(w, "no-such-kid")),
        "unknown_key",
    ),
    sig(
        "token-kid-unknown-after-one-refresh",
        lambda w: signed(w, rogue_signed_token(w, "no-such-kid"), created=LATER),
        "unknown_key",
        at=LATER,
        fetches=("ap-jwks",),
    ),
    sig(
        "token-signature-bit-flipped",
        lambda w: signed(w, _tok(w)[:-2] + ("A" if _tok(w)[-2] != "A" else "B") + _tok(w)[-1]),
        "invalid_jwt",
    ),
    sig(
        "agent-token-expired-an-hour-ago",
        lambda w: signed(w, w.agent_token(now=NOW - 7200)),
        "expired_jwt",
    ),
    sig(
        "agent-token-iat-in-the-future",
        lambda w: signed(w, raw_token(w, claims={"iat": NOW + 600, "exp": NOW + 1200})),
        "invalid_jwt",
    ),
    sig(
        "agent-token-from-an-untrusted-agent-provider",
        lambda w: signed(w, _tok(w), "/picky-ap"),
        "invalid_jwt",
    ),
    sig(
        "person-token-from-an-untrusted-person-server",
        lambda w: signed(w, w.person_token(server=w.rogue), "/picky-ps"),
        "invalid_jwt",
    ),
    sig(
        "person-token-for-another-audience",
        lambda w: signed(w, w.person_token(aud="https://elsewhere.example"), "/person"),
        "invalid_jwt",
    ),
    sig(
        "auth-token-for-another-audience",
        lambda w: signed(w, w.auth_token(aud="https://elsewhere.example"), "/auth"),
        "invalid_jwt",
    ),
    # step-up (AAuth -11 §"Auth Token Required"): with the resource's record of alice's
    # person token, a new resource token (the one state change this row makes); without a
    # record (bob), the person token is asked for and nothing is issued
    Case(
        "auth-token-scope-short-step-up-from-the-person-record",
        lambda w: signed(w, w.auth_token(scope="other"), "/auth"),
        401,
        "auth-token",
        changes=(("issued", 1),),
    ),
    Case(
        "auth-token-scope-short-no-person-record",
        lambda w: signed(w, w.auth_token(scope="other", sub="person-bob"), "/auth"),
        401,
        "person-token",
    ),
    # An IP-literal or http issuer is not a server identifier (AAuth -11 §"Server
    # identifiers": https, a DNS name): the token layer refuses it as invalid_jwt before
    # discovery, so egress admission never even sees it; no fetch either way.
    sig("issuer-ip-literal-private-10.0.0.1", private_issuer("https://10.0.0.1"), "invalid_jwt"),
    sig(
        "issuer-ip-literal-private-192.168.1.1",
        private_issuer("https://192.168.1.1"),
        "invalid_jwt",
    ),
    sig("issuer-ip-literal-loopback-127.0.0.1", private_issuer("https://127.0.0.1"), "invalid_jwt"),
    sig("issuer-ip-literal-loopback-ipv6", private_issuer("https://[::1]"), "invalid_jwt"),
    sig("issuer-ip-literal-numeric-127.1", private_issuer("https://127.1"), "invalid_jwt"),
    sig(
        "issuer-ip-literal-link-local-metadata-service",
        private_issuer("https://169.254.169.254"),
        "invalid_jwt",
    ),
    sig(
        "issuer-ip-literal-ipv4-mapped-private",
        private_issuer("https://[::ffff:10.0.0.1]"),
        "invalid_jwt",
    ),
    sig("issuer-http-scheme", private_issuer("http://agent.example"), "invalid_jwt"),
    # a DNS name that is loopback by definition (RFC 6761 §6.3): a valid identifier, refused
    # by egress admission (digest §3.6) before any fetch is handed out
    sig(
        "issuer-loopback-name-localhost-egress", private_issuer("https://localhost"), "invalid_key"
    ),
    sig(
        "issuer-loopback-name-ap.localhost-egress",
        private_issuer("https://ap.localhost"),
        "invalid_key",
    ),
    # a DNS name that resolves to a private / link-local address: the binding's
    # resolved-address check refuses it before connecting (the fetch fails, no connection)
    sig(
        "issuer-name-resolving-to-a-private-address",
        private_issuer("https://internal.example"),
        "unknown_key",
        refused=("internal-metadata",),
        changes=NEW_ISSUER,
    ),
    sig(
        "issuer-name-resolving-to-the-link-local-metadata-service",
        private_issuer("https://rebound.example"),
        "unknown_key",
        refused=("rebound-metadata",),
        changes=NEW_ISSUER,
    ),
    # the issuer's metadata names a jwks_uri at a private address: refused when the
    # document is read; the JWKS is never fetched
    sig(
        "issuer-metadata-jwks-uri-an-ip-literal",
        odd_issuer("odd_ip"),
        "invalid_key",
        fetches=("odd-ip-metadata",),
        changes=NEW_ISSUER,
    ),
    sig(
        "issuer-metadata-jwks-uri-a-loopback-name",
        odd_issuer("odd_name"),
        "invalid_key",
        fetches=("odd-name-metadata",),
        changes=NEW_ISSUER,
    ),
    # --- more header games ---------------------------------------------------------
    sig(
        "second-signature-key-line-from-an-intermediary",
        lambda w: signed(w, _tok(w)).with_headers([("Signature-Key", jwt_member(_tok(w)))]),
        "invalid_request",
    ),
    sig(
        "content-type-changed-under-coverage",
        lambda w: replace(with_body(w), "Content-Type", "text/plain"),
        "invalid_signature",
    ),
    sig(
        "covered-header-missing",
        lambda w: signed(
            w, _tok(w), headers=(("X-Req", "1"),), components=(*FOUR, "x-req")
        ).without_headers(["X-Req"]),
        "invalid_signature",
    ),
    sig(
        "cached-scheme-without-caching",
        lambda w: raw_signed(w, 'sig=cached;cid="c-1"'),
        "unsupported_scheme",
    ),
    accepted(
        "accepted-jwt-member-asking-for-cache-no-caching-here-sk08-3.4",
        lambda w: raw_signed(w, jwt_member(_tok(w)) + ";cache"),
    ),
    accepted(
        "accepted-signature-in-base64url-AMBIG-16",
        lambda w: with_signature(
            signed(w, _tok(w)), signature_of(signed(w, _tok(w))), url_safe=True
        ),
    ),
    accepted(
        "accepted-authority-in-upper-case-rfc9421-2.2.3",
        lambda w: HttpRequest("GET", "https://RESOURCE.example/agent", signed(w, _tok(w)).headers),
    ),
    sig(
        "agent-token-expired-61s-ago-beyond-leeway",
        lambda w: signed(w, w.agent_token(now=NOW - 3661)),
        "expired_jwt",
    ),
    # --- the server's own documents (server only) --------------------------------------
    Case(
        "well-known-metadata-by-post",
        lambda w: signed(w, _tok(w), "/.well-known/aauth-resource.json", method="POST"),
        405,
        "invalid_request",
        headers=(("Allow", "GET, HEAD"),),
        only="server",
    ),
    Case(
        "jwks-by-delete",
        lambda w: HttpRequest("DELETE", RESOURCE + "/jwks.json"),
        405,
        "invalid_request",
        headers=(("Allow", "GET, HEAD"),),
        only="server",
    ),
    sig(
        "issuer-metadata-jwks-uri-on-another-host-not-admitted",
        odd_issuer("odd_host"),
        "invalid_key",
        fetches=("odd-host-metadata",),
        changes=NEW_ISSUER,
    ),
    # AAuth -11 §"JWKS Discovery and Caching": the document's issuer equals iss byte for byte
    sig(
        "issuer-metadata-issuer-with-a-trailing-slash",
        odd_issuer("odd_slash"),
        "issuer_mismatch",
        fetches=("odd-slash-metadata",),
        changes=NEW_ISSUER,
    ),
    sig(
        "issuer-metadata-without-issuer",
        odd_issuer("odd_none"),
        "issuer_missing",
        fetches=("odd-none-metadata",),
        changes=NEW_ISSUER,
    ),
    # --- the token's own claims ------------------------------------------------------
    sig(
        "token-without-kid", lambda w: signed(w, raw_token(w, header={"kid": DROP})), "invalid_jwt"
    ),
    sig(
        "token-without-dwk", lambda w: signed(w, raw_token(w, claims={"dwk": DROP})), "invalid_jwt"
    ),
    sig(
        "token-dwk-of-another-type",
        lambda w: signed(w, raw_token(w, claims={"dwk": "aauth-person.json"})),
        "invalid_jwt",
    ),
    sig(
        "token-without-exp", lambda w: signed(w, raw_token(w, claims={"exp": DROP})), "invalid_jwt"
    ),
    sig(
        "token-without-cnf", lambda w: signed(w, raw_token(w, claims={"cnf": DROP})), "invalid_jwt"
    ),
    sig(
        "token-iss-with-a-trailing-slash",
        lambda w: signed(w, raw_token(w, claims={"iss": w.ap.issuer + "/"})),
        "invalid_jwt",
    ),
    sig(
        "token-sub-on-another-domain",
        lambda w: signed(w, raw_token(w, claims={"sub": "aauth:assistant@evil.example"})),
        "invalid_jwt",
    ),
    sig(
        "agent-token-lifetime-over-24h",
        lambda w: signed(w, raw_token(w, claims={"exp": NOW + 86_400 + 600})),
        "invalid_jwt",
    ),
    sig(
        "token-exp-a-string",
        lambda w: signed(w, raw_token(w, claims={"exp": str(NOW + 600)})),
        "invalid_jwt",
    ),
    # --- session-token mode ------------------------------------------------------------
    Case(
        "session-authorization-empty-credential",
        lambda w: signed(w, _tok(w), "/session", headers=(("Authorization", "AAuth "),)),
        400,
        "invalid_request",
    ),
    sig(
        "session-authorization-control-character-after-signing",
        lambda w: replace(
            signed(w, _tok(w), "/session", headers=(("Authorization", "AAuth ab"),)),
            "Authorization",
            "AAuth a\x01b",
        ),
        "invalid_signature",
    ),
    sig(
        "session-authorization-swapped-after-signing",
        lambda w: replace(
            signed(w, _tok(w), "/session", headers=(("Authorization", "AAuth st-1"),)),
            "Authorization",
            "AAuth st-2",
        ),
        "invalid_signature",
    ),
    # a session token is bound to the agent that obtained it (digest §1.5): another agent
    # presenting it is granted a session of its own (this route grants automatically)
    Case(
        "accepted-another-agents-session-token-not-inherited",
        others_session_token,
        None,
        changes=(("sessions", 1), ("secrets", 1)),
        only="server",
        then=not_inherited,
    ),
    sig(
        "authorization-aauth-in-lower-case-not-covered",
        lambda w: signed(w, _tok(w), "/session").with_headers([("Authorization", "aauth st-1")]),
        "invalid_input",
        signature_error=required_input(*FOUR, "authorization"),
    ),
    Case(
        "session-authorization-two-field-lines",
        lambda w: signed(
            w,
            _tok(w),
            "/session",
            headers=(("Authorization", "AAuth st-1"), ("Authorization", "Bearer x")),
        ),
        400,
        "invalid_request",
    ),
    Case(
        "session-authorization-tab-separated-and-not-covered",
        lambda w: signed(w, _tok(w), "/session").with_headers([("Authorization", "AAuth\tst-1")]),
        400,
        "invalid_request",
    ),
    Case(
        "session-authorization-two-credentials",
        lambda w: signed(w, _tok(w), "/session", headers=(("Authorization", "AAuth a b"),)),
        400,
        "invalid_request",
    ),
]


# --------------------------------------------------------------------------- the runners


@dataclass(frozen=True)
class Answer:
    """What the resource did: the identity it let through, or the response and its code."""

    verified: Verified | None
    response: HttpResponse | None
    code: str | None


def code_of(response: HttpResponse) -> str | None:
    """The code a response carries: ``Signature-Error``'s ``error``, else the
    ``AAuth-Requirement`` value, else the problem body's ``error``."""
    for name, key in (("Signature-Error", "error="), ("AAuth-Requirement", "requirement=")):
        value = response.header(name)
        if value is not None:
            assert value.startswith(key), value
            return value[len(key) :].split(",", 1)[0].split(";", 1)[0]
    if response.body:
        error = json.loads(response.body).get("error")
        return error if isinstance(error, str) else None
    return None


def run_verifier(world: World, request: HttpRequest, now: int) -> Answer:
    """``ResourceVerifier.check`` with every fetch done as a binding would."""
    outcome = world.check(request, now)
    if isinstance(outcome, Verified):
        return Answer(outcome, None, None)
    assert isinstance(outcome, Challenge), outcome
    response = outcome.to_response()
    assert code_of(response) == outcome.code, (code_of(response), outcome.code)
    return Answer(None, response, outcome.code)


def run_server(world: World, request: HttpRequest, now: int) -> Answer:
    """``ResourceServer.receive(...).next_action()`` driven to its end as a binding would
    (Fetch: resolve, refuse by ``check_resolved_address``, fetch, report)."""
    exchange = world.server.receive(request, now)
    action = exchange.next_action()
    for _ in range(12):
        if isinstance(action, Fetch):
            assert action.dial_url == action.url  # no transport map here
            response = world.fetch(action.url, action.egress, now)
            if response is None:
                action = exchange.fetch_failed(action.url, now=now, reason="egress refused")
            else:
                action = exchange.fetched(
                    action.url, response.status, response.headers, response.body, now=now
                )
            continue
        if isinstance(action, Respond):
            assert exchange.done
            return Answer(None, action.response, code_of(action.response))
        assert isinstance(action, CallApp), action
        assert action.identity is not None and not action.capture and action.request is request
        return Answer(action.identity, None, None)
    raise AssertionError("the exchange kept asking for fetches")


RUNNERS: Final = {"verifier": run_verifier, "server": run_server}


def expected_headers(case: Case) -> dict[str, str | None]:
    """The exact response headers (name -> value; ``None``: present, value checked apart)."""
    return {**_expected_headers(case), **dict(case.headers)}


def _expected_headers(case: Case) -> dict[str, str | None]:
    assert case.status is not None and case.code is not None
    if case.status == 202:
        # AAuth -11 §"Deferred Responses": Location, Retry-After, no-store, the requirement
        return {
            "AAuth-Requirement": None,
            "Location": None,
            "Retry-After": None,
            "Cache-Control": "no-store",
            "Content-Type": "application/json",
        }
    if case.code == "auth-token":
        return {"AAuth-Requirement": None, "Cache-Control": "no-store"}
    if case.code in REQUIREMENTS:
        return {"AAuth-Requirement": f"requirement={case.code}", "Cache-Control": "no-store"}
    if case.status == 401:
        out: dict[str, str | None] = {
            "Content-Type": "application/problem+json",
            "Signature-Error": case.signature_error or f"error={case.code}",
            "Cache-Control": "no-store",
        }
        if case.code == "unsupported_scheme":
            out["Accept-Signature-Scheme"] = "jwt"
        if case.code == "unsupported_algorithm":
            out["Accept-Signature-Alg"] = ACCEPT_ALG
        return out
    return {"Content-Type": "application/problem+json"}


def assert_answer(case: Case, world: World, answer: Answer) -> None:
    if case.status is None:
        assert answer.verified is not None, (answer.code, answer.response)
        return
    response = answer.response
    assert response is not None, f"accepted: {answer.verified}"
    body = response.body.decode("utf-8", "replace")
    assert (response.status, answer.code) == (case.status, case.code), body
    wanted = expected_headers(case)
    names = sorted(name.lower() for name, _ in response.headers)
    assert names == sorted(name.lower() for name in wanted), response.headers
    for name, value in wanted.items():
        if value is not None:
            assert response.header(name) == value, (name, response.header(name))
    if case.status != 401:
        # digest §2 "Access denials": a 403 (any non-401) never has the signature headers
        for name in SIGNATURE_ONLY:
            assert response.header(name) is None
    if case.code == "auth-token":
        requirement = response.header("AAuth-Requirement")
        assert requirement is not None
        assert requirement.startswith('requirement=auth-token;resource-token="'), requirement
    if case.status == 202:
        assert json.loads(response.body) == {"status": "pending"}
        return
    if case.code in REQUIREMENTS:
        assert response.body == b""
        return
    problem = json.loads(response.body)
    assert problem["error"] == case.code
    assert problem["status"] == case.status
    assert isinstance(problem.get("detail"), str) and problem["detail"]
    if case.status == 401:
        assert problem["type"] == f"urn:ietf:params:sig-error:{case.code}"
    else:
        assert "type" not in problem or "sig-error" not in problem["type"]
    # no secrets, no whole tokens echoed (project rules)
    assert len(response.body) < 2_000
    assert world.token not in body


RUNS: Final = [
    pytest.param(case, runner, id=f"{case.id}-{runner}")
    for case in CASES
    for runner in RUNNERS
    if case.only in (None, runner)
]


@pytest.mark.parametrize(("case", "runner"), RUNS)
def test_hostile_request(case: Case, runner: str) -> None:
    world = World(strict_replay=case.strict_replay)
    world.warm()
    request = case.build(world)  # may itself make a first, accepted use (replay rows)
    before = world.trace()
    fetched, refused = len(world.fetches), len(world.refused_dials)
    answer = RUNNERS[runner](world, request, case.at)
    assert_answer(case, world, answer)
    if case.then is not None:
        case.then(world, answer)
    # nothing else changed: no replay entry (not even an attempted add), no discovery
    # entry, no person record, no resource token, no secret drawn (pending ids, session
    # tokens, codes), no fetch, except what the row names
    changes = dict(case.changes)
    if case.status is None and (case.strict_replay or request.method not in SAFE_METHODS):
        changes = {"replay_adds": 1, "replay_entries": 1, **changes}
    assert world.trace() == before.but(**changes)
    assert tuple(world.fetches[fetched:]) == tuple(world.url(n) for n in case.fetches)
    assert tuple(world.refused_dials[refused:]) == tuple(world.url(n) for n in case.refused)


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_request_signed_for_another_resource_is_not_accepted(runner: str) -> None:
    """The covered ``@authority`` binds a signature to its target (digest §2). An agent
    token has no ``aud``, so a request the agent signed for another resource, arriving
    here with that resource's ``Host`` (virtual hosting, a shared proxy), must not verify
    as a request to this one. Only refusal and no trace are asserted, not the code."""
    world = World()
    world.warm()
    request = sign_request(
        HttpRequest("GET", "https://other-resource.example/agent"),
        world.agent_key,
        signature_key=world.token,
        created=NOW,
    )
    before = world.trace()
    answer = RUNNERS[runner](world, request, NOW)
    assert answer.verified is None, "accepted a request signed for another resource"
    assert answer.response is not None and answer.response.status in (400, 401, 403, 421)
    assert world.trace() == before


def test_case_ids_are_unique_and_the_table_is_large() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 90


def test_warm_world_is_as_a_running_server() -> None:
    # "nothing else changed" is measured against a populated state
    world = World()
    world.warm()
    trace = world.trace()
    assert (trace.replay_entries, trace.cache_entries, trace.cache_issuers) == (1, 4, 2)
    assert trace.alice_record is not None and trace.alice_record.presented_jti == "pt-1"
    assert (trace.issued, trace.secrets) == (0, 0)
    assert world.fetches == [
        world.ap.issuer + "/.well-known/aauth-agent.json",
        world.ap.jwks_uri,
        world.ps.issuer + "/.well-known/aauth-person.json",
        world.ps.issuer + "/jwks.json",
    ]


def test_code_of_reads_each_carrier() -> None:
    assert code_of(HttpResponse(401, [("Signature-Error", "error=a_b, x=1")])) == "a_b"
    assert code_of(HttpResponse(401, [("AAuth-Requirement", 'requirement=c;x="1"')])) == "c"
    assert code_of(HttpResponse(403, [], b'{"error":"d"}')) == "d"
    assert code_of(HttpResponse(403, [], b'{"error":1}')) is None
    assert code_of(HttpResponse(204)) is None


# --------------------------------------------------------------------------- pending URLs

#: What the application answers a held call with (the deferred form captures it).
APP_RESULT: Final = HttpResponse(200, (("Content-Type", "application/json"),), b'{"ok":true}')


def serve_call(world: World, request: HttpRequest, now: int) -> tuple[HttpResponse, int]:
    """The server's answer to ``request`` (fetches done, the app answering
    :data:`APP_RESULT`, captured when asked) and how many times the application ran."""
    exchange = world.server.receive(request, now)
    action = exchange.next_action()
    runs = 0
    for _ in range(12):
        if isinstance(action, Fetch):
            response = world.fetch(action.url, action.egress, now)
            assert response is not None
            action = exchange.fetched(
                action.url, response.status, response.headers, response.body, now=now
            )
        elif isinstance(action, CallApp):
            runs += 1
            if not action.capture:
                return APP_RESULT.with_headers(action.add_headers), runs
            action = exchange.app_responded(APP_RESULT, now=now)
        else:
            return action.response, runs
    raise AssertionError("the exchange did not end")


def _code_of_interaction(requirement: str) -> str:
    code = requirement.split('code="', 1)[1].split('"', 1)[0]
    assert code
    return code


@dataclass
class Held:
    """A call held behind a pending URL: ``deferred`` (the 202 auth-token form, run on the
    first poll with alice's auth token) or ``interaction`` (a session interaction, run on
    the first poll after the user approved ``code``)."""

    world: World
    kind: str
    url: str
    code: str | None

    def token(self) -> str:
        """What the rightful agent polls with."""
        w = self.world
        return w.auth_token() if self.kind == "deferred" else w.token

    def poll(
        self, token: str | None = None, *, key: PrivateKey | None = None, created: int = NOW
    ) -> HttpRequest:
        """A GET of the pending URL, signed with ``token`` (default: the rightful one)."""
        return sign_request(
            HttpRequest("GET", self.url),
            key or self.world.agent_key,
            signature_key=token if token is not None else self.token(),
            created=created,
        )

    def approve(self) -> None:
        if self.kind == "interaction":
            assert self.code is not None
            assert self.world.server.approve_interaction(self.code, now=NOW + 1)

    def complete(self) -> HttpRequest:
        """The rightful first poll (after approval), run: the held call executes once."""
        self.approve()
        poll = self.poll(created=NOW + 1)
        response, runs = serve_call(self.world, poll, NOW + 1)
        assert (response.status, runs) == (200, 1), response
        return poll


def hold(world: World, kind: str) -> Held:
    """Alice's agent calls the deferred route with her person token, or the session route
    that needs an interaction with its agent token: ``202`` + ``Location``."""
    if kind == "deferred":
        call = signed(world, world.person_token(), "/deferred/report", created=NOW - 4)
    else:
        call = signed(world, world.token, "/session-i/report", created=NOW - 4)
    response, runs = serve_call(world, call, NOW)
    assert (response.status, runs) == (202, 0), response
    location = response.header("Location")
    requirement = response.header("AAuth-Requirement")
    assert location is not None and location.startswith("/") and requirement is not None
    code = _code_of_interaction(requirement) if kind == "interaction" else None
    return Held(world, kind, RESOURCE + location, code)


@dataclass(frozen=True)
class PollCase:
    """A hostile poll of a pending URL: ``status``/``code``/``headers`` as in :class:`Case`;
    ``completed``: the rightful agent's first poll already ran the call. Afterwards nothing
    changed (:class:`Trace`, held calls) and the held call is as it was: still waiting (the
    rightful poll then runs it once, after approval for an interaction) or, completed,
    replaying its stored result to the same auth token (deferred) or gone (interaction)."""

    id: str
    build: Callable[[Held], HttpRequest]
    status: int
    code: str
    kind: str = "deferred"
    completed: bool = False
    headers: tuple[tuple[str, str], ...] = ()


def _other_agent(d: Held, *, same_agent_id: bool = False) -> HttpRequest:
    """A poll by another agent (another key; another agent id unless ``same_agent_id``)
    with its own valid token of the rightful kind."""
    w = d.world
    if d.kind == "deferred":
        token = w.auth_token(key=w.other_key, jti="at-other")
    else:
        agent_id = None if same_agent_id else "aauth:mallory@agent.example"
        token = w.ap.mint(w.other_key, now=NOW, agent_id=agent_id)
    return d.poll(token, key=w.other_key)


def _other_agent_person(d: Held) -> HttpRequest:
    w = d.world
    return d.poll(w.person_token(key=w.other_key, jti="pt-other"), key=w.other_key)


def _pending_path(d: Held, url: str) -> HttpRequest:
    return sign_request(
        HttpRequest("GET", url), d.world.agent_key, signature_key=d.token(), created=NOW
    )


def _after_completion(build: Callable[[Held], HttpRequest]) -> Callable[[Held], HttpRequest]:
    def run(d: Held) -> HttpRequest:
        d.complete()
        return build(d)

    return run


def _both(*cases: PollCase) -> list[PollCase]:
    """Each case for a deferred call and for a session interaction (``code`` per kind)."""
    return [
        replace_fields(case, id=f"{kind}-{case.id}", kind=kind)
        for case in cases
        for kind in ("deferred", "interaction")
    ]


POLLS: Final[list[PollCase]] = [
    PollCase("poll-unsigned", lambda d: HttpRequest("GET", d.url), 401, "person-token"),
    PollCase(
        "poll-unsigned",
        lambda d: HttpRequest("GET", d.url),
        401,
        "agent-token",
        kind="interaction",
    ),
    *_both(
        PollCase(
            "poll-unknown-id", lambda d: _pending_path(d, d.url + "x"), 410, "invalid_request"
        ),
        PollCase(
            "poll-bare-pending-prefix",
            lambda d: _pending_path(d, d.url.rsplit("/", 1)[0] + "/"),
            410,
            "invalid_request",
        ),
        PollCase(
            "poll-by-post",
            lambda d: HttpRequest("POST", d.url, d.poll().headers),
            405,
            "invalid_request",
            headers=(("Allow", "GET"),),
        ),
        PollCase(
            "poll-with-a-garbage-signature",
            lambda d: replace(d.poll(), "Signature", "sig=:AAAA:"),
            401,
            "invalid_signature",
        ),
        PollCase(
            "poll-stale-signature", lambda d: d.poll(created=NOW - 61), 401, "invalid_signature"
        ),
        # AAuth -11 §"Deferred Responses": the server MUST verify the agent on every poll;
        # a pending URL is bound to the key that made the call
        PollCase("poll-by-another-agent", _other_agent, 403, "invalid_request"),
        PollCase(
            "poll-by-another-key-of-the-same-agent-id",
            lambda d: _other_agent(d, same_agent_id=True),
            403,
            "invalid_request",
        ),
    ),
    # refused like another agent's auth-token poll: no resource token minted for it, no
    # person record rewritten, and not the held call's requirement (its resource token)
    PollCase(
        "deferred-poll-by-another-agent-with-its-person-token",
        _other_agent_person,
        403,
        "invalid_request",
    ),
    PollCase(
        "deferred-poll-by-another-agent-with-its-agent-token",
        lambda d: d.poll(d.world.agent_token(d.world.other_key), key=d.world.other_key),
        403,
        "invalid_request",
    ),
    PollCase(
        "poll-with-a-person-token",
        _other_agent_person,
        401,
        "agent-token",
        kind="interaction",
    ),
    PollCase(
        "poll-auth-token-for-another-audience",
        lambda d: d.poll(d.world.auth_token(aud="https://elsewhere.example")),
        401,
        "invalid_jwt",
    ),
    PollCase(
        "poll-expired-auth-token",
        lambda d: d.poll(d.world.auth_token(now=NOW - 7200)),
        401,
        "expired_jwt",
    ),
    PollCase(
        "poll-by-another-agent-after-completion",
        _after_completion(_other_agent),
        403,
        "invalid_request",
        completed=True,
    ),
    # a finished interaction is terminal: its pending URL is gone for everyone
    PollCase(
        "poll-by-another-agent-after-completion",
        _after_completion(_other_agent),
        410,
        "invalid_request",
        kind="interaction",
        completed=True,
    ),
    PollCase(
        "poll-with-another-auth-token-after-completion",
        _after_completion(lambda d: d.poll(d.world.auth_token(jti="at-2"), created=NOW + 2)),
        410,
        "invalid_request",
        completed=True,
    ),
    # the rightful agent's key with the wrong kind of token: still waiting
    PollCase(
        "poll-with-its-agent-token-instead-of-the-auth-token",
        lambda d: d.poll(d.world.token),
        202,
        "auth-token",
    ),
    PollCase(
        "poll-expired-agent-token",
        lambda d: d.poll(d.world.agent_token(now=NOW - 7200)),
        401,
        "expired_jwt",
        kind="interaction",
    ),
    PollCase(
        "poll-before-approval",
        lambda d: d.poll(),
        202,
        "interaction",
        kind="interaction",
    ),
    PollCase(
        "poll-by-the-same-agent-after-completion",
        _after_completion(lambda d: d.poll(created=NOW + 2)),
        410,
        "invalid_request",
        kind="interaction",
        completed=True,
    ),
]


def _named(case: PollCase) -> PollCase:
    return (
        case if case.id.startswith(case.kind) else replace_fields(case, id=f"{case.kind}-{case.id}")
    )


POLL_CASES: Final = [_named(case) for case in POLLS]


def _after(held: Held, case: PollCase, now: int) -> None:
    """The held call is as it was (see :class:`PollCase`)."""
    world = held.world
    if not case.completed:
        held.approve()
    response, runs = serve_call(world, held.poll(created=now), now)
    if case.completed and held.kind == "interaction":
        assert (response.status, runs) == (410, 0), response
        return
    assert (response.status, response.body, runs) == (
        200,
        APP_RESULT.body,
        0 if case.completed else 1,
    )


@pytest.mark.parametrize("case", POLL_CASES, ids=[case.id for case in POLL_CASES])
def test_hostile_poll(case: PollCase) -> None:
    world = World()
    world.warm()
    held = hold(world, case.kind)
    request = case.build(held)
    before = world.trace()
    now = NOW + 2
    response, runs = serve_call(world, request, now)
    row = Case(case.id, lambda w: request, case.status, case.code, headers=case.headers)
    assert_answer(row, world, Answer(None, response, code_of(response)))
    assert runs == 0
    # nothing changed: no replay entry, resource token, person record, session, held call
    # or secret
    assert world.trace() == before
    _after(held, case, now)


def test_poll_table_ids_are_unique() -> None:
    ids = [case.id for case in POLL_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 25


def test_interaction_codes_are_single_use_and_not_guessable_by_shape() -> None:
    world = World()
    world.warm()
    held = hold(world, "interaction")
    assert held.code is not None
    before = world.trace()
    server = world.server
    for guess in ("0000-0000", "", "not a code", held.code + "0", held.code[:-1]):
        assert not server.approve_interaction(guess, now=NOW + 1)
        assert not server.deny_interaction(guess, now=NOW + 1)
    assert world.trace() == before
    # AAuth -11 §"Interaction codes": case-insensitive, hyphens ignored, I/L -> 1, O -> 0
    typed = held.code.lower().replace("-", "")
    assert server.approve_interaction(typed, now=NOW + 1)
    assert not server.approve_interaction(held.code, now=NOW + 1)  # single use
    assert not server.deny_interaction(held.code, now=NOW + 1)
    response, runs = serve_call(world, held.poll(created=NOW + 2), NOW + 2)
    assert (response.status, runs) == (200, 1), response
    assert response.header("AAuth-Access") is not None


# --------------------------------------------------------------------------- properties


def _mutation_bases(world: World) -> list[tuple[HttpRequest, str]]:
    """Valid signed requests (and the label verified), one per kind of route."""
    token = world.agent_token()
    return [
        (signed(world, token, "/agent/items"), "sig"),
        (with_body(world, "/body"), "sig"),
        (signed(world, token, "/session", headers=(("Authorization", "AAuth st-1"),)), "sig"),
        (signed(world, world.person_token(), "/person/x"), "sig"),
        (signed(world, world.auth_token(), "/auth/y"), "sig"),
        (signed(world, token, "/strict?q=1", components=(*FOUR, "@query")), "sig"),
    ]


_PROPERTY_WORLD = World()
_PROPERTY_WORLD.warm()
BASES: Final = _mutation_bases(_PROPERTY_WORLD)

FIELD_CHAR = st.one_of(
    st.sampled_from('sig=():;,"*?-_./+ \t@AZaz09'),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(exclude_categories=()),
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[HttpRequest, int]:
    index = draw(st.integers(0, len(BASES) - 1))
    base, _ = BASES[index]
    headers = [list(pair) for pair in base.headers]
    method, url, body = base.method, base.url, base.body
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(["header", "header", "header", "url", "method", "body"]))
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "duplicate"]))
        char = draw(FIELD_CHAR)
        if target == "header":
            if not headers:
                continue
            row = draw(st.integers(0, len(headers) - 1))
            column = draw(st.sampled_from([1, 1, 1, 0]))
            text = headers[row][column]
        elif target == "url":
            text = url
        elif target == "method":
            text = method
        else:
            text = body.decode("latin-1")
        position = draw(st.integers(0, len(text)))
        if op == "replace" and position < len(text):
            text = text[:position] + char + text[position + 1 :]
        elif op == "insert":
            text = text[:position] + char + text[position:]
        elif op == "delete" and position < len(text):
            text = text[:position] + text[position + 1 :]
        elif op == "truncate":
            text = text[:position]
        elif op == "duplicate" and target == "header":
            headers.append(list(headers[row]))
        if target == "header":
            headers[row][column] = text
        elif target == "url":
            url = text
        elif target == "method":
            method = text or method  # HttpRequest refuses an empty method (caller misuse)
        else:
            body = text.encode("utf-8", "surrogatepass")
    return HttpRequest(method, url, [(n, v) for n, v in headers], body), index


def _covered_parts(request: HttpRequest, label: str) -> tuple[object, ...] | None:
    """The signature (bytes and parameters) and every covered component's value (the body
    too when ``content-digest`` is covered), or ``None`` when they cannot be read."""
    try:
        received = read_signature(request, label)
        components = received.input.components
        values = tuple(component_value(request, c) for c in components)
    except Exception:
        return None
    digested = any(c.name == "content-digest" for c in components)
    return (received.signature, received.input.value, values, request.body if digested else None)


BASE_PARTS: Final = [_covered_parts(r, label) for r, label in BASES]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated())
def test_mutated_requests_get_only_our_outcomes(case: tuple[HttpRequest, int]) -> None:
    request, index = case
    world = _PROPERTY_WORLD
    world.verifier.replay_store = MemoryReplayStore()  # each example is a first use
    try:
        outcome = world.verifier.check(request, NOW)
    except Exception as exc:
        raise AssertionError(f"check raised {type(exc).__name__}: {exc}") from exc
    # NeedFetch is a legal outcome in general, but never here: every base's issuer is
    # cached, and a token changed in any way no longer matches the signed Signature-Key,
    # so a mutation can never make the resource fetch on its behalf
    assert isinstance(outcome, (Verified, Challenge)), outcome
    if isinstance(outcome, Challenge):
        response = outcome.to_response()
        assert 400 <= response.status < 500
        if response.status != 401:
            for name in SIGNATURE_ONLY:
                assert response.header(name) is None
    else:
        _, label = BASES[index]
        assert _covered_parts(request, label) == BASE_PARTS[index], request


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated())
def test_mutated_requests_through_the_server(case: tuple[HttpRequest, int]) -> None:
    request, index = case
    world = _PROPERTY_WORLD
    world.verifier.replay_store = MemoryReplayStore()
    try:
        exchange = world.server.receive(request, NOW)
        action = exchange.next_action()
    except Exception as exc:
        raise AssertionError(f"the server raised {type(exc).__name__}: {exc}") from exc
    assert isinstance(action, (Respond, CallApp)), action  # no fetch, as above
    if isinstance(action, Respond):
        assert 400 <= action.response.status < 500
        assert action.response.status == 401 or all(
            action.response.header(name) is None for name in SIGNATURE_ONLY
        )
    else:
        assert action.identity is not None and action.request is request
        _, label = BASES[index]
        assert _covered_parts(request, label) == BASE_PARTS[index], request


def test_mutation_bases_verify() -> None:
    world = World()
    world.warm()
    for request, _ in _mutation_bases(world):
        assert isinstance(world.check(request), Verified), request


def test_a_full_held_store_falls_back_to_the_401_form_without_a_trace() -> None:
    """``max_held`` bounds what valid callers can make the server hold (AAuth -11: pending
    URLs cost state); past it the deferred route answers the ``401`` form and holds
    nothing (the pending id drawn before the store refused is discarded)."""
    world = World()
    world.warm()
    world.server = ResourceServer(
        world.verifier,
        new_secret=lambda: world._draw(f"bounded-{len(world.drawn):016d}"),
        interaction_url=INTERACTION_URL,
        max_held=1,
    )
    hold(world, "deferred")
    before = world.trace()
    second = post(world, world.person_token(), "/deferred/again")
    response, runs = serve_call(world, second, NOW)
    assert (response.status, runs, code_of(response)) == (401, 0, "auth-token")
    assert world.server.held_calls == 1
    # the 401 form's resource token, and the request that earned it is recorded against
    # replay (as every request answered with a resource token is)
    assert world.trace() == before.but(issued=1, secrets=1, replay_adds=1, replay_entries=1)
