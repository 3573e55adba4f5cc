"""The agent engine's parts: the Agent's arguments, limits, events and actions checked when
built, the store, the token checks and the URL helpers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from aauth.agent import (
    Agent,
    AgentLimits,
    AgentStore,
    CachedToken,
    ClarificationAnswered,
    Fail,
    PromptClarification,
    Purpose,
    ResponseReceived,
    SendRequest,
    Sleep,
    StaticAgentCredentials,
    TokenRejectedError,
    TransportFailed,
    check_auth_token,
    check_person_token,
    check_resource_token,
)
from aauth.agent._urls import dial_url, origin_of, resolve
from aauth.agent.challenges import accepted_algorithms, clarification_prompt, location
from aauth.agent.errors import MalformedResponseError
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse
from aauth.jws import encode_jwt
from aauth.metadata import parse_person_metadata
from tests.test_agent_support import (
    AGENT_KEY,
    API_URL,
    OTHER_KEY,
    PS,
    PS_KEY,
    PS_METADATA,
    RESOURCE,
    SUB,
    T0,
    agent_token,
    auth_token,
    make_agent,
    person_token,
    resource_token,
)

# ---------------------------------------------------------------------------------- Agent


def _credentials() -> StaticAgentCredentials:
    return StaticAgentCredentials(AGENT_KEY, agent_token())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"person_server": "http://ps.example"},
        {"person_server": "https://PS.example"},
        {"callback_url": "https://agent.example/cb?x=1"},
        {"limits": {"max_steps": 1}},
        {"store": {}},
        {"transport_map": [("a", "b")]},
        {"transport_map": {RESOURCE: 8080}},
        {"transport_map": {f"{RESOURCE}/path": "http://127.0.0.1:1"}},
        {"transport_map": {RESOURCE: "http://127.0.0.1:1/x"}},
        {"capabilities": ("two words",)},
    ],
)
def test_agent_refuses_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalError):
        Agent(_credentials(), **kwargs)


def test_agent_refuses_something_that_is_not_a_credentials_provider() -> None:
    with pytest.raises(LocalError):
        Agent(object())  # type: ignore[arg-type]


def test_agent_defaults_and_normalised_options() -> None:
    agent = Agent(
        _credentials(),
        capabilities=["interaction", "interaction", "payment"],
        callback_url="http://localhost:8765/callback",
        transport_map={RESOURCE: "http://127.0.0.1:8001"},
    )
    assert agent.capabilities == ("interaction", "payment")
    assert agent.capabilities_header == "interaction, payment"
    assert agent.limits == AgentLimits()
    assert isinstance(agent.store, AgentStore)
    assert dict(agent.transport_map) == {RESOURCE: "http://127.0.0.1:8001"}


@pytest.mark.parametrize(
    "url", ["/relative", "ftp://resource.example/x", "https://:443/x", "https://h:99999/"]
)
def test_start_needs_an_absolute_http_url(url: str) -> None:
    with pytest.raises(LocalError):
        make_agent().start(HttpRequest("GET", url), now=T0)


def test_start_needs_a_request() -> None:
    with pytest.raises(LocalError):
        make_agent().start("GET /", now=T0)  # type: ignore[arg-type]


@pytest.mark.parametrize("now", [True, "1", math.nan, math.inf, None])
def test_now_must_be_a_time(now: Any) -> None:
    with pytest.raises(LocalError):
        make_agent().start(HttpRequest("GET", API_URL), now=now)
    flow = make_agent().start(HttpRequest("GET", API_URL), now=T0)
    with pytest.raises(LocalError):
        flow.next(now=now)


def test_a_float_now_is_floored() -> None:
    flow = make_agent().start(HttpRequest("GET", API_URL), now=T0)
    action = flow.next(now=T0 + 0.9)
    assert isinstance(action, SendRequest)
    assert f"created={T0}" in (action.request.header("signature-input") or "")


# --------------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_steps": 0},
        {"max_steps": True},
        {"max_total_wait": -1},
        {"default_retry_after": 1.5},
        {"slow_down_increment": -5},
        {"token_refresh_margin": "60"},
        {"prefer_wait": -1},
        {"max_token_requests": 0},
        {"max_response_body": 10},
    ],
)
def test_limits_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalError):
        AgentLimits(**kwargs)


# ------------------------------------------------------------------------ events, actions

BAD: Any = object()


@pytest.mark.parametrize(
    "build",
    [
        lambda: ResponseReceived(response=BAD),
        lambda: TransportFailed(reason=BAD),
        lambda: ClarificationAnswered(text=BAD),
        lambda: SendRequest(request=BAD, purpose=Purpose.RESOURCE),
        lambda: Sleep(seconds=-1),
        lambda: Sleep(seconds=True),
        lambda: Sleep(seconds=BAD),
        lambda: Sleep(seconds=math.nan),
    ],
)
def test_events_and_actions_are_checked_when_built(build: Any) -> None:
    with pytest.raises(LocalError):
        build()


def test_actions_are_frozen_values() -> None:
    assert Sleep(seconds=5) == Sleep(seconds=5)
    assert PromptClarification(question="q") == PromptClarification(question="q", options=())
    fail = Fail(error=LocalError("x"))
    with pytest.raises(AttributeError):
        fail.error = LocalError("y")  # type: ignore[misc]


# ---------------------------------------------------------------------------------- store


def _cached(exp: int = T0 + 600, thumbprint: str = AGENT_KEY.thumbprint) -> CachedToken:
    return CachedToken(token="t", expires_at=exp, thumbprint=thumbprint, subject=SUB)


def test_store_tokens_are_bound_to_the_key_and_expire() -> None:
    store = AgentStore()
    store.put_auth_token(RESOURCE, _cached())
    lookup = {"thumbprint": AGENT_KEY.thumbprint, "margin": 60}
    assert store.auth_token(RESOURCE, now=T0 + 539, **lookup) is not None  # type: ignore[arg-type]
    assert store.auth_token(RESOURCE, now=T0 + 540, **lookup) is None  # type: ignore[arg-type]
    assert store.auth_token(RESOURCE, now=T0, thumbprint=OTHER_KEY.thumbprint, margin=60) is None
    assert store.auth_token(RESOURCE, now=T0 + 600, **lookup) is None  # type: ignore[arg-type]
    # past exp the entry is gone for good
    assert store.auth_token(RESOURCE, now=T0, **lookup) is None  # type: ignore[arg-type]
    store.put_person_token(RESOURCE, _cached())
    assert store.subject(RESOURCE) == SUB and store.subject(PS) is None
    store.drop_person_token(RESOURCE)
    assert store.person_token(RESOURCE, now=T0, **lookup) is None  # type: ignore[arg-type]


def test_store_metadata_expires() -> None:
    store = AgentStore()
    metadata = parse_person_metadata(PS_METADATA, expected_issuer=PS)
    store.put_ps_metadata(PS, metadata, expires_at=T0 + 10)
    assert store.ps_metadata(PS, now=T0 + 9) is metadata
    assert store.ps_metadata(PS, now=T0 + 10) is None
    assert store.ps_metadata(PS, now=T0) is None


def test_store_is_bounded_least_recently_used_first() -> None:
    store = AgentStore(max_entries=2)
    store.put_session_token("https://a.example", "a")
    store.put_session_token("https://b.example", "b")
    assert store.session_token("https://a.example") == "a"  # a is now the most recent
    store.put_session_token("https://c.example", "c")
    assert store.session_token("https://b.example") is None
    assert store.session_token("https://a.example") == "a"
    store.drop_session_token("https://a.example")
    assert store.session_token("https://a.example") is None


def test_store_signing_preferences() -> None:
    store = AgentStore()
    assert store.components(RESOURCE) == () and store.algorithm(RESOURCE) is None
    store.put_components(RESOURCE, ("@query",))
    store.put_algorithm(RESOURCE, "ES256")
    assert store.components(RESOURCE) == ("@query",) and store.algorithm(RESOURCE) == "ES256"


@pytest.mark.parametrize("size", [0, True, "5"])
def test_store_size_is_checked(size: Any) -> None:
    with pytest.raises(LocalError):
        AgentStore(max_entries=size)


# --------------------------------------------------------------------------------- checks


def test_check_resource_token_returns_its_facts() -> None:
    facts = check_resource_token(
        resource_token(),
        resource=RESOURCE,
        ps=PS,
        thumbprint=AGENT_KEY.thumbprint,
        now=T0,
        subject=None,
    )
    assert facts.audience == PS and facts.subject == SUB and facts.scope == "data.read"
    assert facts.expires_at == T0 + 300


def _forged(typ: str, **claims: Any) -> str:
    return encode_jwt({"typ": typ, "kid": "k"}, claims, PS_KEY)


@pytest.mark.parametrize(
    ("token", "claim"),
    [
        (
            _forged(
                "aa-resource+jwt",
                iss=RESOURCE,
                agent_jkt=AGENT_KEY.thumbprint,
                ps=PS,
                sub=SUB,
                exp=T0 + 60,
            ),
            "aud",
        ),
        (
            _forged(
                "aa-resource+jwt",
                iss=RESOURCE,
                agent_jkt=AGENT_KEY.thumbprint,
                ps=PS,
                sub=SUB,
                aud=PS,
            ),
            "exp",
        ),
        (
            _forged(
                "aa-resource+jwt",
                iss=RESOURCE,
                agent_jkt=AGENT_KEY.thumbprint,
                ps=PS,
                aud=PS,
                exp=T0 + 1,
            ),
            "sub",
        ),
        (_forged("aa-resource+jwt", iss=5), "iss"),
    ],
)
def test_check_resource_token_missing_claims(token: str, claim: str) -> None:
    with pytest.raises(TokenRejectedError) as caught:
        check_resource_token(
            token, resource=RESOURCE, ps=PS, thumbprint=AGENT_KEY.thumbprint, now=T0, subject=None
        )
    assert caught.value.claim == claim


@pytest.mark.parametrize(
    ("claims", "claim"),
    [
        ({"iss": PS, "aud": RESOURCE}, "cnf.jwk"),
        ({"iss": PS, "aud": RESOURCE, "cnf": {"jwk": {"kty": "EC"}}}, "cnf.jwk"),
        ({"iss": PS, "aud": RESOURCE, "cnf": {"jwk": AGENT_KEY.public_jwk}}, "sub"),
        (
            {
                "iss": PS,
                "aud": RESOURCE,
                "cnf": {"jwk": AGENT_KEY.public_jwk},
                "sub": SUB,
                "exp": True,
            },
            "exp",
        ),
    ],
)
def test_check_person_token_claims(claims: dict[str, Any], claim: str) -> None:
    with pytest.raises(TokenRejectedError) as caught:
        check_person_token(
            _forged("aa-person+jwt", **claims),
            resource=RESOURCE,
            ps=PS,
            thumbprint=AGENT_KEY.thumbprint,
            now=T0,
        )
    assert caught.value.claim == claim and caught.value.code == "invalid_person_token"


def test_check_person_token_refuses_a_non_string() -> None:
    with pytest.raises(TokenRejectedError, match="not a string"):
        check_person_token(None, resource=RESOURCE, ps=PS, thumbprint="x", now=T0)


def test_check_auth_token_accepts_the_right_one() -> None:
    facts = check_resource_token(
        resource_token(),
        resource=RESOURCE,
        ps=PS,
        thumbprint=AGENT_KEY.thumbprint,
        now=T0,
        subject=SUB,
    )
    cached = check_auth_token(
        auth_token(),
        resource=RESOURCE,
        thumbprint=AGENT_KEY.thumbprint,
        now=T0,
        resource_token=facts,
    )
    assert cached.subject == SUB and cached.expires_at == T0 + 3600
    assert cached.usable(thumbprint=AGENT_KEY.thumbprint, now=T0, margin=60)


def test_check_person_token_accepts_the_right_one() -> None:
    cached = check_person_token(
        person_token(), resource=RESOURCE, ps=PS, thumbprint=AGENT_KEY.thumbprint, now=T0
    )
    assert cached.token == person_token() and cached.subject == SUB


# ------------------------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Resource.Example/x", "https://resource.example"),
        ("https://resource.example:443/x", "https://resource.example"),
        ("http://127.0.0.1:8080/x?y", "http://127.0.0.1:8080"),
        ("http://[::1]:80/", "http://[::1]"),
        ("https://user@host.example:8443", "https://host.example:8443"),
        ("ftp://x.example/", None),
        ("https:///nohost", None),
        ("https://h:port/", None),
        ("not a url", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_dial_url_maps_only_known_origins() -> None:
    mapping = {RESOURCE: "http://127.0.0.1:8001"}
    assert dial_url(f"{RESOURCE}/a/b?c=1#frag", mapping) == "http://127.0.0.1:8001/a/b?c=1"
    assert dial_url(RESOURCE, mapping) == "http://127.0.0.1:8001/"
    assert dial_url(f"{PS}/x", mapping) == f"{PS}/x"
    assert dial_url("weird", mapping) == "weird"
    assert dial_url(f"{RESOURCE}/x", {}) == f"{RESOURCE}/x"


def test_resolve_location() -> None:
    assert resolve(f"{RESOURCE}/a/b", "../p/1") == f"{RESOURCE}/p/1"
    assert resolve(f"{RESOURCE}/a", " https://x.example/p ") == "https://x.example/p"
    assert resolve(f"{RESOURCE}/a", "mailto:x@y") is None
    assert resolve(f"{RESOURCE}/a", "http://[::1") is None


def test_location_helper() -> None:
    assert location(HttpResponse(202), base=API_URL) is None
    with pytest.raises(MalformedResponseError):
        location(HttpResponse(202, [("Location", "https://x.example/p")]), base=API_URL)


def test_clarification_prompt_tolerates_odd_members() -> None:
    def prompt(body: bytes) -> PromptClarification | None:
        return clarification_prompt(HttpResponse(202, [], body), max_body=100)

    assert prompt(b'{"clarification": "Q", "options": "a", "timeout": -1}') == PromptClarification(
        question="Q"
    )
    assert prompt(b'{"clarification": "Q", "timeout": true}') == PromptClarification(question="Q")
    assert prompt(b"x" * 200) is None
    assert prompt(b"{") is None
    assert prompt(b"[]") is None
    assert prompt(b"") is None


def test_accepted_algorithms_is_advisory() -> None:
    assert accepted_algorithms(HttpResponse(401, [("Accept-Signature-Alg", "ES256, Ed25519")])) == (
        "ES256",
        "Ed25519",
    )
    assert accepted_algorithms(HttpResponse(401, [("Accept-Signature-Alg", "((")])) == ()
    assert accepted_algorithms(HttpResponse(401)) == ()
