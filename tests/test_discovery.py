"""Key discovery as data: AAuth -11 §"JWKS Discovery and Caching", §"Metadata Documents";
signature-key-08 egress admission (digest §3.6, §4.1, §6.3, §9.2). No sockets, no sleeps:
time is an argument, and an in-memory server answers the cache's actions."""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aauth.discovery import (
    DEFAULT_DEFAULT_TTL,
    DEFAULT_FAILURE_BACKOFF_MAX,
    DEFAULT_MAX_TTL,
    DEFAULT_MIN_TTL,
    MIN_REFETCH_INTERVAL,
    DiscoveryCache,
    DiscoveryError,
    DiscoveryStep,
    EgressError,
    EgressPolicy,
    FetchNeeded,
    FetchPending,
    FetchPurpose,
    KeyFound,
    MetadataFound,
    check_egress,
    check_resolved_address,
)
from aauth.errors import LocalError, SignatureError
from aauth.headers_http import format_http_date
from aauth.http import HttpResponse
from aauth.jws import decode_jwt
from aauth.metadata import DWK_AGENT, DWK_PERSON, DWK_RESOURCE, AgentProviderMetadata
from tests.vectors import load_vectors

T0 = 1730217600
ISS = "https://agent.example"
META_URL = "https://agent.example/.well-known/aauth-agent.json"
JWKS_URL = "https://agent.example/.well-known/jwks.json"

_VECTORS = load_vectors("aauth-computed.json")
AP_JWK: dict[str, Any] = {**_VECTORS["keys"]["digest-ap-key"]["public_jwk"], "kid": "ap-key-1"}
AGENT_TOKEN: str = next(c for c in _VECTORS["cases"] if c["id"] == "digest-9.2/agent-token")[
    "expected"
]["jwt"]
OTHER_JWK: dict[str, Any] = {
    **_VECTORS["keys"]["rfc8037-a1"]["public_jwk"],
    "kid": "ap-key-2",
}


def metadata_body(issuer: str = ISS, jwks_uri: str | None = JWKS_URL, **extra: Any) -> bytes:
    doc: dict[str, Any] = {"issuer": issuer, **extra}
    if jwks_uri is not None:
        doc["jwks_uri"] = jwks_uri
    return json.dumps(doc).encode()


def jwks_body(*keys: Mapping[str, Any]) -> bytes:
    return json.dumps({"keys": list(keys)}).encode()


@dataclass
class FakeServer:
    """URL -> (status, headers, body); counts every fetch per URL."""

    routes: dict[str, tuple[int, list[tuple[str, str]], bytes]] = field(default_factory=dict)
    fetches: list[tuple[float, str]] = field(default_factory=list)

    def serve(self, url: str, body: bytes, *headers: tuple[str, str], status: int = 200) -> None:
        self.routes[url] = (status, list(headers), body)

    def count(self, url: str) -> int:
        return sum(1 for _, u in self.fetches if u == url)

    def answer(self, cache: DiscoveryCache, step: FetchNeeded, now: float) -> None:
        self.fetches.append((now, step.url))
        route = self.routes.get(step.url)
        if route is None:
            cache.on_fetch_failed(step.url, now=now, reason="connection refused")
        else:
            status, headers, body = route
            assert cache.on_fetched(step.url, status, headers, body, now=now)


def resolve(
    cache: DiscoveryCache,
    server: FakeServer,
    kid: str | None,
    now: float,
    *,
    issuer: str = ISS,
    dwk: str = DWK_AGENT,
) -> KeyFound:
    """A driver loop: answer FetchNeeded until the cache gives a key or raises."""
    for _ in range(5):
        step = cache.key(issuer, dwk, kid, now=now)
        if isinstance(step, KeyFound):
            return step
        assert isinstance(step, FetchNeeded), step
        server.answer(cache, step, now)
    raise AssertionError("the cache kept asking for fetches")


@pytest.fixture
def server() -> FakeServer:
    s = FakeServer()
    s.serve(META_URL, metadata_body())
    s.serve(JWKS_URL, jwks_body(AP_JWK), ("Cache-Control", "max-age=3600"))
    return s


# ---------------------------------------------------------------------------------------------
# The discovery path


def test_discovery_path_step_by_step(server: FakeServer) -> None:
    cache = DiscoveryCache()
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0)
    assert step == FetchNeeded(
        url=META_URL,  # {iss}/.well-known/{dwk}
        purpose=FetchPurpose.METADATA,
        issuer=ISS,
        dwk=DWK_AGENT,
        reason="missing",
        accept="application/json",
        max_body=256 * 1024,
    )
    server.answer(cache, step, T0)
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0)
    assert isinstance(step, FetchNeeded)
    assert (step.url, step.purpose, step.reason) == (JWKS_URL, FetchPurpose.JWKS, "missing")
    assert "application/jwk-set+json" in step.accept
    server.answer(cache, step, T0)
    found = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 1)
    assert isinstance(found, KeyFound)
    assert found.jwk == AP_JWK
    assert (found.issuer, found.dwk, found.kid, found.jwks_uri, found.stale) == (
        ISS,
        DWK_AGENT,
        "ap-key-1",
        JWKS_URL,
        False,
    )
    with pytest.raises(TypeError):
        found.jwk["x"] = "tampered"  # type: ignore[index]  # the cache hands out read-only views
    meta = cache.metadata(ISS, DWK_AGENT, now=T0 + 1)
    assert isinstance(meta, MetadataFound)
    assert isinstance(meta.metadata, AgentProviderMetadata)
    assert meta.jwks_uri == JWKS_URL
    assert len(cache) == 2


def test_found_key_verifies_the_digest_agent_token(server: FakeServer) -> None:
    # digest §9.2: the agent token is signed by the AP key, kid ap-key-1, iss agent.example
    cache = DiscoveryCache()
    found = resolve(cache, server, "ap-key-1", T0)
    claims = decode_jwt(AGENT_TOKEN, found.jwk, now=T0, typ="aa-agent+jwt")
    assert claims["iss"] == ISS
    assert claims["dwk"] == DWK_AGENT


def test_cached_key_needs_no_fetch(server: FakeServer) -> None:
    cache = DiscoveryCache()
    resolve(cache, server, "ap-key-1", T0)
    for t in range(T0, T0 + 3000, 100):
        assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=t), KeyFound)
    assert len(server.fetches) == 2


def test_on_response_accepts_an_http_response(server: FakeServer) -> None:
    cache = DiscoveryCache()
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0)
    assert isinstance(step, FetchNeeded)
    assert cache.on_response(step.url, HttpResponse(200, [], metadata_body()), now=T0)
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0)
    assert isinstance(step, FetchNeeded)
    assert cache.on_response(step.url, HttpResponse(200, [], jwks_body(AP_JWK)), now=T0)
    assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0), KeyFound)


# ---------------------------------------------------------------------------------------------
# Issuer checks (AAuth -11 §"Metadata Documents"; digest §9.2 negative checks)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (metadata_body(issuer="https://agent.example/"), "issuer_mismatch"),  # digest §9.2
        (metadata_body(issuer="https://Agent.example"), "issuer_mismatch"),
        (metadata_body(issuer="https://evil.example"), "issuer_mismatch"),
        (json.dumps({"jwks_uri": JWKS_URL}).encode(), "issuer_missing"),
        (json.dumps({"issuer": None, "jwks_uri": JWKS_URL}).encode(), "issuer_missing"),
        (metadata_body(jwks_uri=None), "invalid_key"),  # jwks_uri REQUIRED for an AP
        (metadata_body(jwks_uri="http://agent.example/jwks"), "invalid_key"),
        (b"<html>not json</html>", "invalid_key"),
        (b"[]", "invalid_key"),
    ],
)
def test_bad_metadata(server: FakeServer, body: bytes, code: str) -> None:
    server.serve(META_URL, body)
    cache = DiscoveryCache()
    with pytest.raises(DiscoveryError) as info:
        resolve(cache, server, "ap-key-1", T0)
    assert info.value.code == code
    assert isinstance(info.value, SignatureError)  # the code is a Signature-Error code
    assert server.count(JWKS_URL) == 0  # nothing fetched on the word of a bad document


def test_metadata_is_fetched_for_exactly_the_token_iss_and_dwk(server: FakeServer) -> None:
    cache = DiscoveryCache()
    step = cache.key("https://ps.example", DWK_PERSON, "k", now=T0)
    assert isinstance(step, FetchNeeded)
    assert step.url == "https://ps.example/.well-known/aauth-person.json"
    meta = cache.metadata("https://xn--nxasmq6b.example", "example-configuration", now=T0)
    assert isinstance(meta, FetchNeeded)
    assert meta.url == "https://xn--nxasmq6b.example/.well-known/example-configuration"


@pytest.mark.parametrize(
    ("issuer", "dwk"),
    [
        ("https://agent.example/", DWK_AGENT),
        ("http://agent.example", DWK_AGENT),
        ("https://agent.example:8443", DWK_AGENT),
        ("https://10.0.0.1", DWK_AGENT),
        (ISS, "../jwks"),
        (ISS, ""),
        (None, DWK_AGENT),
        (ISS, ["aauth-agent.json"]),
    ],
)
def test_invalid_issuer_or_dwk(issuer: Any, dwk: Any) -> None:
    with pytest.raises(DiscoveryError) as info:
        DiscoveryCache().key(issuer, dwk, "k", now=T0)
    assert info.value.code == "invalid_key"
    with pytest.raises(DiscoveryError) as info:
        DiscoveryCache().metadata(issuer, dwk, now=T0)
    assert info.value.code == "invalid_key"


@pytest.mark.parametrize(("kid", "alg"), [(["k"], None), (7, None), ("k", ["Ed25519"]), ("k", 1)])
def test_non_string_kid_or_alg_is_refused(kid: Any, alg: Any) -> None:
    cache = DiscoveryCache()
    with pytest.raises(DiscoveryError) as info:
        cache.key(ISS, DWK_AGENT, kid, now=T0, alg=alg)
    assert info.value.code == "invalid_key"
    assert cache.cached_key(ISS, DWK_AGENT, kid, now=T0, alg=alg) is None


def test_generic_dwk_documents(server: FakeServer) -> None:
    # signature-key-08 jwks_uri scheme: any dwk; issuer must equal id; jwks_uri https
    url = "https://agent.example/.well-known/example-configuration"
    cache = DiscoveryCache()
    server.serve(url, metadata_body(jwks_uri=JWKS_URL))
    found = resolve(cache, server, "ap-key-1", T0, dwk="example-configuration")
    assert found.jwk == AP_JWK
    meta = cache.metadata(ISS, "example-configuration", now=T0)
    assert isinstance(meta, MetadataFound)
    assert meta.metadata is None
    for body, code in [
        (metadata_body(issuer=ISS + "/"), "issuer_mismatch"),
        (json.dumps({"jwks_uri": JWKS_URL}).encode(), "issuer_missing"),
        (metadata_body(jwks_uri="ftp://agent.example/k"), "invalid_key"),
        (metadata_body(jwks_uri=None), "invalid_key"),
        (b"{", "invalid_key"),
    ]:
        fresh = DiscoveryCache()
        server.serve(url, body)
        with pytest.raises(DiscoveryError) as info:
            resolve(fresh, server, "ap-key-1", T0, dwk="example-configuration")
        assert info.value.code == code


def test_resource_without_jwks_uri(server: FakeServer) -> None:
    url = "https://resource.example/.well-known/aauth-resource.json"
    server.serve(url, metadata_body(issuer="https://resource.example", jwks_uri=None))
    cache = DiscoveryCache()
    step = cache.metadata("https://resource.example", DWK_RESOURCE, now=T0)
    assert isinstance(step, FetchNeeded)
    server.answer(cache, step, T0)
    meta = cache.metadata("https://resource.example", DWK_RESOURCE, now=T0)
    assert isinstance(meta, MetadataFound)
    assert meta.jwks_uri is None
    with pytest.raises(DiscoveryError) as info:
        cache.key("https://resource.example", DWK_RESOURCE, "k", now=T0)
    assert info.value.code == "invalid_key"
    assert "no jwks_uri" in info.value.message


# ---------------------------------------------------------------------------------------------
# JWKS content and key selection


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"keys": {}}', b'{"keys": "x"}', b"null", b"not json", b'{"keys": [1, 2'],
)
def test_malformed_jwks(server: FakeServer, body: bytes) -> None:
    server.serve(JWKS_URL, body)
    with pytest.raises(DiscoveryError) as info:
        resolve(DiscoveryCache(), server, "ap-key-1", T0)
    assert info.value.code == "invalid_key"


def test_selection_by_kid_ignores_other_members(server: FakeServer) -> None:
    # AAuth -11: never fail because an unselected member is unusable
    server.serve(
        JWKS_URL,
        jwks_body(
            {"kty": "ML-DSA", "alg": "ML-DSA-65", "kid": "pq-1", "pub": "..."},
            "not an object",  # type: ignore[arg-type]
            {"kid": 7},
            AP_JWK,
        ),
    )
    assert resolve(DiscoveryCache(), server, "ap-key-1", T0).jwk == AP_JWK


def test_duplicate_kids_and_missing_kid(server: FakeServer) -> None:
    es_twin = {"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "alg": "ES256", "kid": "ap-key-1"}
    server.serve(JWKS_URL, jwks_body(AP_JWK, es_twin))
    cache = DiscoveryCache()
    with pytest.raises(DiscoveryError) as info:
        resolve(cache, server, "ap-key-1", T0)  # ambiguous without alg: not a refetch case
    assert info.value.code == "unknown_key"
    assert not info.value.retryable
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0, alg="Ed25519")
    assert isinstance(step, KeyFound)
    assert step.jwk == AP_JWK
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0, alg="ES256")
    assert isinstance(step, KeyFound)
    assert step.jwk == es_twin
    # no kid: only a JWKS of exactly one key answers
    single = DiscoveryCache()
    server.serve(JWKS_URL, jwks_body(AP_JWK))
    assert resolve(single, server, None, T0).jwk == AP_JWK


def test_body_larger_than_max_body(server: FakeServer) -> None:
    cache = DiscoveryCache(max_body=100)
    server.serve(JWKS_URL, jwks_body(AP_JWK, OTHER_JWK))
    with pytest.raises(DiscoveryError) as info:
        resolve(cache, server, "ap-key-1", T0)
    assert info.value.code == "invalid_key"
    assert "more than 100 bytes" in info.value.message


@pytest.mark.parametrize("status", [201, 204, 301, 304, 404, 500, 503])
def test_non_200_is_a_retryable_unknown_key(server: FakeServer, status: int) -> None:
    server.serve(META_URL, metadata_body(), status=status)
    with pytest.raises(DiscoveryError) as info:
        resolve(DiscoveryCache(), server, "ap-key-1", T0)
    assert info.value.code == "unknown_key"
    assert info.value.retryable
    assert str(status) in info.value.message


def test_transport_failure(server: FakeServer) -> None:
    del server.routes[JWKS_URL]
    with pytest.raises(DiscoveryError) as info:
        resolve(DiscoveryCache(), server, "ap-key-1", T0)
    assert info.value.code == "unknown_key"
    assert "connection refused" in info.value.message


def test_unknown_urls_are_ignored() -> None:
    cache = DiscoveryCache()
    assert not cache.on_fetched("https://elsewhere.example/x", 200, [], b"{}", now=T0)
    assert not cache.on_fetch_failed("https://elsewhere.example/x", now=T0)
    assert len(cache) == 0
    with pytest.raises(LocalError):
        cache.on_fetched(META_URL, 200, [], "text", now=T0)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        cache.on_fetched(META_URL, "200", [], b"", now=T0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Lifetimes: Cache-Control / Expires within [floor, ceiling]


def _lifetime_of(server: FakeServer, *headers: tuple[str, str]) -> float:
    """Seconds the JWKS stays fresh when served with ``headers`` (binary search, a fresh
    cache per probe, since asking past the lifetime changes the state)."""
    server.serve(JWKS_URL, jwks_body(AP_JWK), *headers)
    server.serve(META_URL, metadata_body(), ("Cache-Control", "max-age=86400"))

    def fresh_at(offset: int) -> bool:
        cache = DiscoveryCache()
        resolve(cache, server, "ap-key-1", T0)
        return isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + offset), KeyFound)

    low, high = 0, DEFAULT_MAX_TTL + 10
    while low < high:
        mid = (low + high) // 2
        if fresh_at(mid):
            low = mid + 1
        else:
            high = mid
    return low


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((("Cache-Control", "max-age=600"),), 600),
        ((("Cache-Control", "public, max-age=7200"),), 7200),
        ((), DEFAULT_DEFAULT_TTL),  # nothing said: 1 h
        ((("Cache-Control", "max-age=0"),), DEFAULT_MIN_TTL),  # floor: 5 min
        ((("Cache-Control", "no-store"),), DEFAULT_MIN_TTL),
        ((("Cache-Control", "no-cache"),), DEFAULT_MIN_TTL),
        ((("Cache-Control", "max-age=banana"),), DEFAULT_MIN_TTL),
        ((("Cache-Control", "max-age=31536000"),), DEFAULT_MAX_TTL),  # ceiling: 24 h
        ((("Expires", format_http_date(T0 + 1800)),), 1800),
        ((("Expires", format_http_date(T0 + 10**7)),), DEFAULT_MAX_TTL),
        ((("Expires", "0"),), DEFAULT_MIN_TTL),
    ],
)
def test_lifetime_is_clamped(
    server: FakeServer, headers: tuple[tuple[str, str], ...], expected: int
) -> None:
    assert _lifetime_of(server, *headers) == expected


def test_expiry_refetch_and_custom_limits(server: FakeServer) -> None:
    server.serve(JWKS_URL, jwks_body(AP_JWK), ("Cache-Control", "max-age=10"))
    cache = DiscoveryCache(min_ttl=120, max_ttl=600, default_ttl=300)
    resolve(cache, server, "ap-key-1", T0)
    assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 119), KeyFound)
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 120)
    assert isinstance(step, FetchNeeded)
    assert (step.url, step.reason) == (JWKS_URL, "expired")


# ---------------------------------------------------------------------------------------------
# Unknown kid: refresh, at most once per minute


def test_unknown_kid_refetches_once_then_backs_off(server: FakeServer) -> None:
    cache = DiscoveryCache()
    resolve(cache, server, "ap-key-1", T0)
    # within the first minute after the fetch: no refetch, unknown_key at once
    with pytest.raises(DiscoveryError) as info:
        cache.key(ISS, DWK_AGENT, "ap-key-2", now=T0 + 30)
    assert info.value.code == "unknown_key"
    assert info.value.retryable
    # a minute later: one refetch
    step = cache.key(ISS, DWK_AGENT, "ap-key-2", now=T0 + 60)
    assert isinstance(step, FetchNeeded)
    assert (step.url, step.reason) == (JWKS_URL, "unknown_kid")
    server.answer(cache, step, T0 + 60)
    # still absent after the refetch: unknown_key, no further fetch
    for t in (T0 + 61, T0 + 90, T0 + 119):
        with pytest.raises(DiscoveryError) as info:
            cache.key(ISS, DWK_AGENT, "ap-key-2", now=t)
        assert info.value.code == "unknown_key"
    assert server.count(JWKS_URL) == 2
    # the known key never stopped working
    assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 90), KeyFound)


def test_key_rotation_is_picked_up(server: FakeServer) -> None:
    cache = DiscoveryCache()
    resolve(cache, server, "ap-key-1", T0)
    server.serve(JWKS_URL, jwks_body(OTHER_JWK))  # the issuer rotated
    found = resolve(cache, server, "ap-key-2", T0 + 60)
    assert found.jwk == OTHER_JWK
    # the JWKS was replaced: the old kid is gone now
    with pytest.raises(DiscoveryError):
        cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 61)


def test_an_attacker_cannot_force_a_fetch_per_request(server: FakeServer) -> None:
    cache = DiscoveryCache()
    resolve(cache, server, "ap-key-1", T0)
    fetched_at: list[float] = []
    for i in range(3000):  # a request every 0.2 s for 10 minutes, each with a fresh kid
        now = T0 + i * 0.2
        try:
            step = cache.key(ISS, DWK_AGENT, f"forged-{i}", now=now)
        except DiscoveryError as exc:
            assert exc.code == "unknown_key"
            continue
        assert isinstance(step, FetchNeeded)
        fetched_at.append(now)
        server.answer(cache, step, now)
    assert 9 <= len(fetched_at) <= 10
    assert all(b - a >= MIN_REFETCH_INTERVAL for a, b in itertools.pairwise(fetched_at))


def test_key_rejected_refreshes_once(server: FakeServer) -> None:
    cache = DiscoveryCache()
    assert cache.key_rejected(ISS, DWK_AGENT, "ap-key-1", now=T0) is None  # nothing cached
    resolve(cache, server, "ap-key-1", T0)
    assert cache.key_rejected(ISS, DWK_AGENT, "ap-key-1", now=T0 + 10) is None  # too soon
    step = cache.key_rejected(ISS, DWK_AGENT, "ap-key-1", now=T0 + 60)
    assert isinstance(step, FetchNeeded)
    assert (step.url, step.reason) == (JWKS_URL, "key_rejected")
    assert isinstance(cache.key_rejected(ISS, DWK_AGENT, "ap-key-1", now=T0 + 61), FetchPending)
    server.answer(cache, step, T0 + 61)
    assert cache.key_rejected(ISS, DWK_AGENT, "ap-key-1", now=T0 + 62) is None
    assert cache.key_rejected("https://other.example", DWK_AGENT, "k", now=T0) is None


# ---------------------------------------------------------------------------------------------
# Failures: negative caching, exponential backoff, stale copies


def test_failures_are_cached_with_exponential_backoff(server: FakeServer) -> None:
    server.serve(META_URL, metadata_body(issuer="https://agent.example/"))
    cache = DiscoveryCache()
    now = float(T0)
    fetch_times: list[float] = []
    while now < T0 + 7200:
        try:
            step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=now)
        except DiscoveryError as exc:
            assert exc.code == "issuer_mismatch"
        else:
            assert isinstance(step, FetchNeeded)
            fetch_times.append(now)
            server.answer(cache, step, now)
        now += 1
    gaps = [b - a for a, b in itertools.pairwise(fetch_times)]
    # 60 s, doubling, capped at failure_backoff_max
    assert gaps[:5] == [60, 120, 240, 480, DEFAULT_FAILURE_BACKOFF_MAX]
    assert set(gaps[4:]) == {DEFAULT_FAILURE_BACKOFF_MAX}
    # and a success resets the backoff
    server.serve(META_URL, metadata_body())
    later = fetch_times[-1] + DEFAULT_FAILURE_BACKOFF_MAX
    assert resolve(cache, server, "ap-key-1", later).jwk == AP_JWK


def test_stale_copy_is_used_while_refresh_fails(server: FakeServer) -> None:
    server.serve(JWKS_URL, jwks_body(AP_JWK), ("Cache-Control", "max-age=300"))
    server.serve(META_URL, metadata_body(), ("Cache-Control", "max-age=86400"))
    cache = DiscoveryCache()
    resolve(cache, server, "ap-key-1", T0)
    server.serve(JWKS_URL, b"", status=503)
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 300)
    assert isinstance(step, FetchNeeded)
    assert step.reason == "expired"
    server.answer(cache, step, T0 + 300)
    found = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 301)
    assert isinstance(found, KeyFound)
    assert found.stale
    # while the refresh is in flight the stale copy is served too
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 360)
    assert isinstance(step, FetchNeeded)
    pending = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 361)
    assert isinstance(pending, KeyFound)
    assert pending.stale
    server.answer(cache, step, T0 + 361)
    # never past 24 h after the last good fetch (AAuth -11: SHOULD discard after 24 h)
    assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 400), KeyFound)  # backoff
    late = T0 + DEFAULT_MAX_TTL
    with pytest.raises(DiscoveryError) as info:
        for _ in range(3):  # metadata (expired too, and still served), then the JWKS
            step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=late)
            assert isinstance(step, FetchNeeded)
            server.answer(cache, step, late)
    assert info.value.code == "unknown_key"
    assert "503" in info.value.message
    assert info.value.retryable
    assert cache.cached_key(ISS, DWK_AGENT, "ap-key-1", now=T0 + DEFAULT_MAX_TTL) is None


def test_stale_metadata_is_used_while_refresh_fails(server: FakeServer) -> None:
    server.serve(META_URL, metadata_body(), ("Cache-Control", "max-age=300"))
    server.serve(JWKS_URL, jwks_body(AP_JWK), ("Cache-Control", "max-age=86400"))
    cache = DiscoveryCache()
    resolve(cache, server, "ap-key-1", T0)
    server.serve(META_URL, metadata_body(issuer="https://evil.example"))
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 400)
    assert isinstance(step, FetchNeeded)
    assert step.url == META_URL
    server.answer(cache, step, T0 + 400)
    found = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 401)
    assert isinstance(found, KeyFound)
    assert found.stale
    meta = cache.metadata(ISS, DWK_AGENT, now=T0 + 401)
    assert isinstance(meta, MetadataFound)
    assert meta.stale


def test_concurrent_callers_wait_for_one_fetch(server: FakeServer) -> None:
    cache = DiscoveryCache()
    first = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0)
    assert isinstance(first, FetchNeeded)
    second = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 1)
    assert second == FetchPending(url=META_URL, purpose=FetchPurpose.METADATA)
    server.answer(cache, first, T0 + 2)
    assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 2), FetchNeeded)


def test_a_fetch_never_reported_counts_as_failed(server: FakeServer) -> None:
    cache = DiscoveryCache()
    assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0), FetchNeeded)
    assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 29), FetchPending)
    with pytest.raises(DiscoveryError) as info:
        cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 30)
    assert info.value.code == "unknown_key"
    assert "never reported" in info.value.message
    # the backoff then runs from the moment the loss was noticed
    with pytest.raises(DiscoveryError):
        cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 89)
    assert isinstance(cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 90), FetchNeeded)


def test_a_late_report_is_still_taken(server: FakeServer) -> None:
    cache = DiscoveryCache()
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0)
    assert isinstance(step, FetchNeeded)
    with pytest.raises(DiscoveryError):
        cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 40)
    server.answer(cache, step, T0 + 41)
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 42)
    assert isinstance(step, FetchNeeded)
    assert step.purpose is FetchPurpose.JWKS


# ---------------------------------------------------------------------------------------------
# Bounded size


def test_size_is_bounded_with_lru_eviction(server: FakeServer) -> None:
    cache = DiscoveryCache(max_entries=3)
    issuers = [f"https://ap{i}.example" for i in range(6)]
    for i, issuer in enumerate(issuers):
        server.serve(f"{issuer}/.well-known/aauth-agent.json", metadata_body(issuer=issuer))
        server.serve(f"{issuer}/.well-known/jwks.json", jwks_body(AP_JWK))
        # keep ap0 warm: it is used between every other issuer
        for iss in (issuer, issuers[0]):
            meta = cache.metadata(iss, DWK_AGENT, now=T0 + i)
            if isinstance(meta, FetchNeeded):
                server.answer(cache, meta, T0 + i)
        assert len(cache) <= 3
    # ap0 survived (most recently used), ap1 was evicted and is fetched again
    assert isinstance(cache.metadata(issuers[0], DWK_AGENT, now=T0 + 10), MetadataFound)
    assert isinstance(cache.metadata(issuers[1], DWK_AGENT, now=T0 + 10), FetchNeeded)
    # a report for an evicted URL is ignored
    assert not cache.on_fetched(
        f"{issuers[2]}/.well-known/aauth-agent.json", 200, [], b"{}", now=T0 + 11
    )


def test_jwks_map_is_bounded_too(server: FakeServer) -> None:
    cache = DiscoveryCache(max_entries=2)
    issuers = [f"https://ap{i}.example" for i in range(5)]
    for i, issuer in enumerate(issuers):
        server.serve(f"{issuer}/.well-known/aauth-agent.json", metadata_body(issuer, f"{issuer}/k"))
        server.serve(f"{issuer}/k", jwks_body(AP_JWK))
        assert resolve(cache, server, "ap-key-1", T0 + i, issuer=issuer).jwk == AP_JWK
        assert len(cache) <= 4  # two documents and two JWKS at most
    assert cache.cached_key(issuers[-1], DWK_AGENT, "ap-key-1", now=T0 + 5) == AP_JWK
    assert cache.cached_key(issuers[0], DWK_AGENT, "ap-key-1", now=T0 + 5) is None
    before = server.count(f"{issuers[0]}/k")
    resolve(cache, server, "ap-key-1", T0 + 6, issuer=issuers[0])
    assert server.count(f"{issuers[0]}/k") == before + 1


def test_many_kids_of_one_issuer(server: FakeServer) -> None:
    keys = [{**AP_JWK, "kid": f"k{i}"} for i in range(12)]
    server.serve(JWKS_URL, jwks_body(*keys))
    cache = DiscoveryCache(max_entries=1)
    for _ in range(2):  # the second round is served by the hot path, the memo stays bounded
        for key in keys:
            assert resolve(cache, server, str(key["kid"]), T0).jwk == key
    assert len(server.fetches) == 2


def test_issuer_url_memo_is_bounded() -> None:
    cache = DiscoveryCache(max_entries=1)
    for i in range(20):
        step = cache.metadata(f"https://ap{i}.example", DWK_AGENT, now=T0)
        assert isinstance(step, FetchNeeded)
        assert step.url == f"https://ap{i}.example/.well-known/aauth-agent.json"
    assert len(cache) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_ttl": -1},
        {"min_ttl": 600, "default_ttl": 300},
        {"default_ttl": 10**6},
        {"refetch_interval": 59},  # AAuth -11: not more than once per minute
        {"failure_backoff_max": 30},
        {"pending_timeout": 0},
        {"max_entries": 0},
        {"max_body": 0},
    ],
)
def test_constructor_refuses_bad_limits(kwargs: dict[str, int]) -> None:
    with pytest.raises(LocalError):
        DiscoveryCache(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# cached_key: a side-effect-free lookup for aauth.signing's JwksLookup


def test_cached_key(server: FakeServer) -> None:
    cache = DiscoveryCache()
    assert cache.cached_key(ISS, DWK_AGENT, "ap-key-1", now=T0) is None
    assert isinstance(cache.metadata(ISS, DWK_AGENT, now=T0 - 100), FetchNeeded)
    assert cache.cached_key(ISS, DWK_AGENT, "ap-key-1", now=T0) is None  # pending, no copy
    cache = DiscoveryCache()
    # it handed out nothing: the driver still gets the first fetch
    step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=T0)
    assert isinstance(step, FetchNeeded)
    assert step.url == META_URL
    server.answer(cache, step, T0)
    assert cache.cached_key(ISS, DWK_AGENT, "ap-key-1", now=T0) is None  # JWKS not yet
    resolve(cache, server, "ap-key-1", T0)
    assert cache.cached_key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 5) == AP_JWK
    assert cache.cached_key(ISS, DWK_AGENT, "nope", now=T0 + 5) is None
    assert cache.cached_key(ISS, DWK_AGENT, None, now=T0 + 5) == AP_JWK
    assert cache.cached_key(ISS, DWK_AGENT, ["x"], now=T0 + 5) is None  # type: ignore[arg-type]
    # stale but within 24 h: still usable
    assert cache.cached_key(ISS, DWK_AGENT, "ap-key-1", now=T0 + 7200) == AP_JWK


def test_cached_key_respects_refused_jwks_uri(server: FakeServer) -> None:
    server.serve(META_URL, metadata_body(jwks_uri="https://keys.example/jwks.json"))
    cache = DiscoveryCache()
    step = cache.metadata(ISS, DWK_AGENT, now=T0)
    assert isinstance(step, FetchNeeded)
    server.answer(cache, step, T0)
    assert cache.cached_key(ISS, DWK_AGENT, "ap-key-1", now=T0) is None


# ---------------------------------------------------------------------------------------------
# Egress admission (signature-key-08; digest §3.6)


def test_cross_host_jwks_uri_needs_admission(server: FakeServer) -> None:
    elsewhere = "https://keys.example/jwks.json"
    server.serve(META_URL, metadata_body(jwks_uri=elsewhere))
    server.serve(elsewhere, jwks_body(AP_JWK))
    with pytest.raises(EgressError) as info:
        resolve(DiscoveryCache(), server, "ap-key-1", T0)
    assert info.value.code == "invalid_key"
    assert "keys.example" in info.value.message
    assert server.count(elsewhere) == 0
    admitted = DiscoveryCache(egress=EgressPolicy(admitted_jwks_hosts=frozenset({"keys.example"})))
    assert resolve(admitted, server, "ap-key-1", T0).jwks_uri == elsewhere
    anywhere = DiscoveryCache(egress=EgressPolicy(allow_cross_host_jwks_uri=True))
    assert resolve(anywhere, server, "ap-key-1", T0).jwk == AP_JWK
    # a subdomain is another host
    sub = "https://keys.agent.example/jwks.json"
    server.serve(META_URL, metadata_body(jwks_uri=sub))
    with pytest.raises(EgressError):
        resolve(DiscoveryCache(), server, "ap-key-1", T0)
    # a port on the same host is the same host
    server.serve(META_URL, metadata_body(jwks_uri="https://agent.example:8443/jwks"))
    server.serve("https://agent.example:8443/jwks", jwks_body(AP_JWK))
    assert resolve(DiscoveryCache(), server, "ap-key-1", T0).jwk == AP_JWK


def test_jwks_uri_to_a_private_address_is_refused(server: FakeServer) -> None:
    server.serve(META_URL, metadata_body(jwks_uri="https://localhost/jwks.json"))
    with pytest.raises(EgressError) as info:
        resolve(
            DiscoveryCache(egress=EgressPolicy(allow_cross_host_jwks_uri=True)), server, "k", T0
        )
    assert "localhost" in info.value.message


def test_development_loopback_issuer(server: FakeServer) -> None:
    issuer = "http://127.0.0.1:8080"
    with pytest.raises(DiscoveryError):
        DiscoveryCache().key(issuer, DWK_AGENT, "ap-key-1", now=T0)
    dev = DiscoveryCache(egress=EgressPolicy(allow_insecure_loopback_for_development=True))
    server.serve(f"{issuer}/.well-known/aauth-agent.json", metadata_body(issuer, f"{issuer}/jwks"))
    server.serve(f"{issuer}/jwks", jwks_body(AP_JWK))
    assert resolve(dev, server, "ap-key-1", T0, issuer=issuer).jwk == AP_JWK
    with pytest.raises(EgressError):
        DiscoveryCache().metadata("https://localhost", DWK_AGENT, now=T0)


@pytest.mark.parametrize(
    "url",
    [
        "https://agent.example/.well-known/jwks.json",
        "https://AGENT.example/x",
        "https://8.8.8.8/jwks",
        "https://[2001:4860:4860::8888]/jwks",
        "https://agent.example:8443",
        "https://agent.example?q#f",
        "https://under_score.example/",
    ],
)
def test_egress_admits(url: str) -> None:
    host = check_egress(url)
    assert host == host.lower()
    assert host in url.lower()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://agent.example/jwks", "https only"),
        ("ftp://agent.example/jwks", "https only"),
        ("//agent.example/jwks", "absolute"),
        ("agent.example/jwks", "absolute"),
        ("https:///jwks", "no host"),
        ("https://user:pw@agent.example/", "userinfo"),
        ("https://agent.example@evil.example/", "userinfo"),
        ("https://127.0.0.1/", "loopback"),
        ("https://127.8.9.10/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://10.1.2.3/", "private"),
        ("https://172.16.0.1/", "private"),
        ("https://192.168.1.1/", "private"),
        ("https://[fd00::1]/", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),  # cloud metadata
        ("https://[fe80::1]/", "link-local"),
        ("https://100.64.0.1/", "not a globally routable"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://224.0.0.1/", "not a globally routable"),
        ("https://[2002:c0a8:101::]/", "private"),  # 6to4 of 192.168.1.1
        ("https://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 of 169.254.169.254
        ("https://127.1/", "non-canonical"),
        ("https://2130706433/", "non-canonical"),
        ("https://0x7f.0.0.1/", "non-canonical"),
        ("https://017700000001/", "non-canonical"),
        ("https://localhost/", "localhost"),
        ("https://api.localhost/", "localhost"),
        ("https://[1.2.3.4]/", "malformed IP literal"),
        ("https://[agent.example]/", "not an IPv6"),
        ("https://[::1/", "unterminated"),
        ("https://[::1]x/", "after an IP literal"),
        ("https://agent.example:0/", "invalid port"),
        ("https://agent.example:65536/", "invalid port"),
        ("https://agent.example:/", "invalid port"),
        ("https://agent.example:8o/", "invalid port"),
        ("https://agent.example:\u0661/", "invalid port"),
        ("https://agent.example:" + "1" * 5000 + "/", "invalid port"),
        ("https://b\u00fccher.example/", "outside [a-z0-9._-]"),
        ("https://%31%32%37.0.0.1/", "outside [a-z0-9._-]"),
        ("https://agent example/", "outside [a-z0-9._-]"),
    ],
)
def test_egress_refuses(url: str, fragment: str) -> None:
    with pytest.raises(EgressError) as info:
        check_egress(url)
    assert info.value.code == "invalid_key"
    assert fragment in info.value.message


def test_egress_options() -> None:
    dev = EgressPolicy(allow_insecure_loopback_for_development=True)
    for url in ("http://localhost:8080/jwks", "http://127.0.0.1:9000/", "https://[::1]:8443/"):
        check_egress(url, dev)
        with pytest.raises(EgressError):
            check_egress(url)
    with pytest.raises(EgressError):
        check_egress("http://agent.example/", dev)  # http only for loopback
    with pytest.raises(EgressError):
        check_egress("http://10.0.0.1/", dev)
    internal = EgressPolicy(admitted_networks=("10.0.0.0/8",))
    assert check_egress("https://10.9.8.7/x", internal) == "10.9.8.7"
    with pytest.raises(EgressError):
        check_egress("https://192.168.0.1/", internal)
    as_objects = EgressPolicy(admitted_networks=(ipaddress.ip_network("fd00::/8"),))
    assert check_egress("https://[fd12::1]/", as_objects) == "fd12::1"
    assert as_objects == EgressPolicy(admitted_networks=(ipaddress.ip_network("fd00::/8"),))
    with pytest.raises(LocalError):
        EgressPolicy(admitted_networks=("not a network",))
    with pytest.raises(LocalError):
        check_egress(b"https://agent.example/")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("192.168.10.10", "private"),
        ("172.31.255.255", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::abcd", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("100.100.100.200", "not a globally routable"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("239.255.255.250", "not a globally routable"),
        ("ff02::1", "not a globally routable"),
        ("192.0.2.1", "private"),  # documentation range
    ],
)
def test_check_resolved_address(address: str, refused: str | None) -> None:
    if refused is None:
        check_resolved_address(address)
        return
    with pytest.raises(EgressError) as info:
        check_resolved_address(address)
    assert refused in info.value.message
    assert info.value.code == "invalid_key"


def test_check_resolved_address_options() -> None:
    check_resolved_address("127.0.0.1", EgressPolicy(allow_insecure_loopback_for_development=True))
    check_resolved_address("::1", EgressPolicy(allow_insecure_loopback_for_development=True))
    with pytest.raises(EgressError):
        check_resolved_address(
            "10.0.0.1", EgressPolicy(allow_insecure_loopback_for_development=True)
        )
    check_resolved_address("10.0.0.1", EgressPolicy(admitted_networks=("10.0.0.0/24",)))
    with pytest.raises(LocalError):
        check_resolved_address("agent.example")


# ---------------------------------------------------------------------------------------------
# Arbitrary input and arbitrary schedules


_BODIES = st.one_of(
    st.binary(max_size=200),
    st.just(metadata_body()),
    st.just(metadata_body(issuer=ISS + "/")),
    st.just(jwks_body(AP_JWK)),
    st.just(jwks_body()),
    st.builds(
        lambda v: json.dumps(v).encode(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.sampled_from(["issuer", "jwks_uri", "keys", "kid"]), inner)
            ),
            max_leaves=8,
        ),
    ),
)
_HEADERS = st.lists(
    st.tuples(
        st.sampled_from(["Cache-Control", "Expires", "Date", "Content-Type"]),
        st.text(max_size=30) | st.sampled_from(["max-age=5", "no-store", "0", "max-age=99999999"]),
    ),
    max_size=3,
)


@given(st.lists(st.tuples(st.integers(100, 599), _HEADERS, _BODIES), min_size=1, max_size=6))
def test_any_response_gives_a_key_an_action_or_our_error(
    responses: list[tuple[int, list[tuple[str, str]], bytes]],
) -> None:
    cache = DiscoveryCache()
    now = float(T0)
    for status, headers, body in responses:
        try:
            step = cache.key(ISS, DWK_AGENT, "ap-key-1", now=now)
        except DiscoveryError as exc:
            assert isinstance(exc, SignatureError)
        else:
            if isinstance(step, FetchNeeded):
                cache.on_fetched(step.url, status, headers, body, now=now)
            else:
                assert isinstance(step, KeyFound | FetchPending)
        now += 61


@given(st.text(max_size=60) | st.from_regex(r"https?://[a-z0-9.:\[\]@%-]{0,30}/?", fullmatch=True))
def test_check_egress_returns_a_host_or_our_error(url: str) -> None:
    try:
        host = check_egress(url)
    except EgressError as exc:
        assert exc.code == "invalid_key"
        return
    assert host
    assert url.lower().startswith("https://")


@dataclass
class _Op:
    kind: str
    dt: float
    kid: str


_OPS = st.lists(
    st.builds(
        _Op,
        st.sampled_from(["key", "key", "rejected", "fail", "rotate"]),
        st.floats(0, 90),
        st.sampled_from(["ap-key-1", "ap-key-2", "x"]),
    ),
    max_size=60,
)


@settings(max_examples=150)
@given(_OPS)
def test_no_url_is_fetched_twice_within_a_minute(ops: list[_Op]) -> None:
    server = FakeServer()
    server.serve(META_URL, metadata_body(), ("Cache-Control", "max-age=0"))
    server.serve(JWKS_URL, jwks_body(AP_JWK), ("Cache-Control", "no-store"))
    cache = DiscoveryCache()
    now = float(T0)
    for op in ops:
        now += op.dt
        step: DiscoveryStep | FetchNeeded | FetchPending | None
        try:
            if op.kind == "rejected":
                step = cache.key_rejected(ISS, DWK_AGENT, op.kid, now=now)
            else:
                step = cache.key(ISS, DWK_AGENT, op.kid, now=now)
        except DiscoveryError:
            continue
        if op.kind == "rotate":
            server.serve(JWKS_URL, jwks_body(OTHER_JWK if op.kid == "x" else AP_JWK))
        if isinstance(step, FetchNeeded):
            if op.kind == "fail":
                server.fetches.append((now, step.url))
                cache.on_fetch_failed(step.url, now=now)
            else:
                server.answer(cache, step, now)
    for url in (META_URL, JWKS_URL):
        times = [t for t, u in server.fetches if u == url]
        assert all(b - a >= MIN_REFETCH_INTERVAL for a, b in itertools.pairwise(times))
