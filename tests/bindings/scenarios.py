"""The scenarios every resource binding runs (issue 5 "Done when": the agent from the agent
issue completes every access mode against each binding over 127.0.0.1).

Each scenario is ``def scenario(adapter: ResourceBindingAdapter) -> None``: it builds a
:func:`~tests.bindings.harness.binding_world` served through ``adapter``, calls the resource
with our agent (the sync httpx driver) or by hand, and asserts the status, the identity the
echo app reports, ``calls`` (how many times the app ran) and what the fakes saw.
:data:`SCENARIOS` lists them all; :func:`scenario_id` names them for
``pytest.mark.parametrize``.

A scenario that needs a feature the engine lacks fails saying so (never skipped).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import httpx
import pytest

from aauth.agent import AccessDenied, PromptInteraction, SignatureRejectedError
from aauth.http import HttpRequest
from aauth.keys import PrivateKey
from aauth.metadata import DWK_PERSON
from aauth.signing import sign_request
from aauth.tokens import build_auth_token
from tests.bindings.harness import (
    ACCESS_SERVER,
    INTERACTION_URL,
    PERSON_SERVER,
    RESOURCE,
    ROUTES,
    BindingWorld,
    ResourceBindingAdapter,
    binding_world,
)

__all__ = ["SCENARIOS", "Scenario", "scenario_id"]

Scenario = Callable[[ResourceBindingAdapter], None]

#: A hop of a flow as the application's client saw it: method, identifier URL, status.
Hop = tuple[str, str, int]

_WELL_KNOWN: Final = "/.well-known/aauth-resource.json"


# ------------------------------------------------------------------ helpers


def _echo(response: httpx.Response) -> dict[str, Any]:
    """The echo app's document (asserting it is one)."""
    assert response.status_code == 200, (response.status_code, response.text[:500])
    document = response.json()
    assert isinstance(document, dict) and "calls" in document, document
    return document


def _identity(response: httpx.Response) -> dict[str, Any]:
    """The identity the echo app reports (asserting there is one)."""
    identity = _echo(response)["identity"]
    assert isinstance(identity, dict), identity
    return identity


def _trail(world: BindingWorld, response: httpx.Response) -> list[Hop]:
    """Every exchange of the agent's flow that ended in ``response``, in order, with URLs
    as identifiers (``https://ps.example/token``; the query left out)."""
    hops: list[Hop] = []
    for answer in (*response.history, response):
        url = world.agent_map.identifier_url(str(answer.request.url)).split("?", 1)[0]
        hops.append((answer.request.method, url, answer.status_code))
    return hops


def _resource_hops(world: BindingWorld, response: httpx.Response) -> list[Hop]:
    """The hops of :func:`_trail` that went to the resource."""
    return [hop for hop in _trail(world, response) if hop[1].startswith(RESOURCE)]


def _history_answer(response: httpx.Response, status: int, path: str) -> httpx.Response:
    """The first answer of the flow with ``status`` to a request for ``path``."""
    for answer in (*response.history, response):
        if answer.status_code == status and answer.request.url.path.startswith(path):
            return answer
    raise AssertionError(f"no {status} answer for {path} in the flow")


def _requirement(response: httpx.Response) -> str:
    """The ``requirement`` member of ``AAuth-Requirement`` (``""`` when absent)."""
    value = response.headers.get("aauth-requirement") or ""
    for member in value.split(";"):
        name, _, word = member.strip().partition("=")
        if name == "requirement":
            return word
    return ""


def _paths(requests: Sequence[HttpRequest]) -> list[str]:
    """``METHOD /path`` of each request a fake saw."""
    return [f"{r.method} {httpx.URL(r.url).path}" for r in requests]


def _signed(
    world: BindingWorld,
    method: str,
    url: str,
    *,
    key: PrivateKey,
    token: str,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    components: Sequence[str] | None = None,
) -> httpx.Response:
    """One request signed by hand (no agent flow) and sent to the binding: ``url`` is a
    resource identifier URL or a dial URL; the signature covers the authority dialled."""
    dial = world.agent_map.dial_url(url)
    request = HttpRequest(method, dial, list(headers), body)
    signed = sign_request(
        request,
        key,
        signature_key=token,
        created=int(world.clock()),
        components=components,
    )
    with world.raw() as raw:
        return raw.request(method, dial, headers=list(signed.headers), content=body)


def _agent_token(world: BindingWorld, key_name: str = "agent") -> tuple[PrivateKey, str]:
    """An agent key of the trusted AP and a fresh agent token for it."""
    key = world.agent_provider.agent_key(key_name)
    return key, world.agent_provider.mint(key, now=int(world.clock()))


# ------------------------------------------------------------------ modes


def unsigned(adapter: ResourceBindingAdapter) -> None:
    """Unsigned requests get the least requirement of the route's mode (``401``, no
    ``Signature-Error``) and never reach the app; nothing is fetched."""
    with binding_world(adapter) as world:
        with world.raw() as raw:
            agent_route = raw.get(world.dial_url(f"{ROUTES.agent}/x"))
            person_route = raw.get(world.dial_url(ROUTES.person))
            auth_route = raw.post(world.dial_url(ROUTES.auth), content=b"{}")
            session_route = raw.get(world.dial_url(ROUTES.session))
        for answer, wanted in (
            (agent_route, "agent-token"),
            (person_route, "person-token"),
            (auth_route, "person-token"),
            (session_route, "agent-token"),
        ):
            assert answer.status_code == 401, answer.text
            assert _requirement(answer) == wanted, answer.headers
            assert "signature-error" not in answer.headers
        assert world.agent_provider.requests == []
        with world.client() as client:
            first = _echo(client.get(world.url(ROUTES.agent)))
        assert first["calls"] == 1  # the app ran for the signed call only


def agent_token(adapter: ResourceBindingAdapter) -> None:
    """``agent-token``: the agent signs with its agent token and the app sees the agent; the
    AP's metadata and JWKS are fetched once (cached for the next call)."""
    with binding_world(adapter) as world:
        agent = world.agent()
        with world.client(agent) as client:
            first = client.get(world.url(f"{ROUTES.agent}/items?page=2"))
            second = client.get(world.url(f"{ROUTES.agent}/items/7"))
        document = _echo(first)
        assert document["path"] == f"{ROUTES.agent}/items" and document["query"] == "page=2"
        assert document["method"] == "GET" and document["calls"] == 1
        identity = document["identity"]
        assert identity["mode"] == "agent-token"
        assert identity["token_type"] == "aa-agent+jwt"
        assert identity["agent"] == world.agent_provider.agent_id
        assert identity["ps"] == PERSON_SERVER
        assert identity["sub"] is None and identity["scope"] is None
        assert identity["session_token"] is False
        assert identity["thumbprint"] == world.agent_provider.agent_key().public_key.thumbprint
        assert _echo(second)["calls"] == 2
        assert _resource_hops(world, first) == [("GET", f"{RESOURCE}{ROUTES.agent}/items", 200)]
        assert _paths(world.agent_provider.requests) == [
            "GET /.well-known/aauth-agent.json",
            "GET /jwks.json",
        ]
        assert world.person_server.log == []


def person_token(adapter: ResourceBindingAdapter) -> None:
    """``person-token``: ``401 requirement=person-token`` -> the PS's person token -> retry;
    the app sees the person's directed ``sub``; the next call reuses the person token."""
    with binding_world(adapter) as world:
        ps = world.person_server
        with world.client() as client:
            first = client.get(world.url(ROUTES.person))
            asked = len(ps.log)
            second = client.get(world.url(f"{ROUTES.person}/again"))
        identity = _identity(first)
        assert identity["mode"] == "person-token"
        assert identity["token_type"] == "aa-person+jwt"
        assert identity["ps"] == PERSON_SERVER
        assert identity["sub"] == ps.subject_for(RESOURCE)
        assert identity["agent"] is None
        assert _resource_hops(world, first) == [
            ("GET", f"{RESOURCE}{ROUTES.person}", 401),
            ("GET", f"{RESOURCE}{ROUTES.person}", 200),
        ]
        assert _requirement(_history_answer(first, 401, ROUTES.person)) == "person-token"
        assert _echo(first)["calls"] == 1 and _echo(second)["calls"] == 2
        assert len(ps.person_tokens) == 1
        assert len(ps.log) == asked  # no new request to the PS for the second call
        assert _identity(second)["sub"] == identity["sub"]


def auth_token(adapter: ResourceBindingAdapter) -> None:
    """``auth-token``, ``401`` form: person token, then ``401 requirement=auth-token`` with a
    resource token for the PS -> auth token -> retry; the app sees scope and ``sub``."""
    with binding_world(adapter) as world:
        ps = world.person_server
        with world.client() as client:
            got = client.get(world.url(f"{ROUTES.auth}/data"))
            again = client.get(world.url(f"{ROUTES.auth}/more"))
        identity = _identity(got)
        assert identity["mode"] == "auth-token"
        assert identity["token_type"] == "aa-auth+jwt"
        assert identity["scope"] == "data.read"
        assert identity["ps"] == PERSON_SERVER and identity["issuer"] == PERSON_SERVER
        assert identity["sub"] == ps.subject_for(RESOURCE)
        challenged = [hop[2] for hop in _resource_hops(world, got)]
        assert challenged == [401, 401, 200]
        statuses = [_requirement(a) for a in got.history if a.status_code == 401]
        assert statuses == ["person-token", "auth-token"]
        assert len(ps.person_tokens) == 1 and len(ps.auth_tokens) == 1
        assert _echo(got)["calls"] == 1 and _echo(again)["calls"] == 2
        assert _resource_hops(world, again) == [("GET", f"{RESOURCE}{ROUTES.auth}/more", 200)]
        assert "POST /token" in _paths(ps.requests)


def deferred(adapter: ResourceBindingAdapter) -> None:
    """``auth-token``, deferred ``202`` form: the POST is held behind ``Location``, runs once
    on the first poll with the auth token (the app sees the HELD request), and the stored
    result is replayed for the same auth token without running the app again."""
    with binding_world(adapter) as world:
        world.require("deferred")
        agent = world.agent()
        with world.client(agent) as client:
            got = client.post(
                world.url(f"{ROUTES.deferred}/job?n=1"),
                headers={"Content-Type": "text/plain"},
                content=b"run it",
            )
        document = _echo(got)
        assert document["method"] == "POST" and document["path"] == f"{ROUTES.deferred}/job"
        assert document["query"] == "n=1" and document["body"] == "run it"
        assert document["calls"] == 1
        assert document["identity"]["mode"] == "auth-token"
        assert document["identity"]["scope"] == "data.read"
        held = _history_answer(got, 202, ROUTES.deferred)
        assert _requirement(held) == "auth-token"
        assert "resource-token=" in held.headers["aauth-requirement"]
        assert held.headers.get("retry-after") is not None
        assert held.json().get("status") == "pending"
        location = httpx.URL(world.url("/")).join(held.headers["location"])
        assert str(location).startswith(RESOURCE + "/"), location  # same origin
        assert world.agent_map.identifier_url(str(got.request.url)) == str(location)
        assert got.request.method == "GET"  # the answer came from a poll
        # the same auth token again: the stored result, the app does not run
        auth_token = world.person_server.auth_tokens[-1]
        key = world.agent_provider.agent_key()
        replay = _signed(
            world,
            "GET",
            str(location),
            key=key,
            token=auth_token,
            # a covered header the agent's poll did not have: not the same signature bytes
            headers=[("Accept", "application/json")],
            components=("@method", "@authority", "@path", "signature-key", "accept"),
        )
        assert replay.status_code == 200, replay.text
        assert replay.json() == document
        # another valid auth token of the same agent after completion: 410, the app not run
        other = build_auth_token(
            world.person_server.key,
            kid=world.person_server.kid,
            now=int(world.clock()),
            jti="at-another-one",
            iss=PERSON_SERVER,
            dwk=DWK_PERSON,
            aud=RESOURCE,
            ps=PERSON_SERVER,
            sub=world.person_server.subject_for(RESOURCE),
            cnf_jwk=key.public_key,
            scope="data.read",
        )
        gone = _signed(world, "GET", str(location), key=key, token=other)
        assert gone.status_code == 410, gone.text
        # an id nobody was given: nothing there either
        guessed = _signed(world, "GET", f"{str(location)[:-4]}abcd", key=key, token=auth_token)
        assert guessed.status_code in (404, 410), guessed.text
        with world.client(agent) as client:
            later = client.get(world.url(f"{ROUTES.auth}/after"))
        assert _echo(later)["calls"] == 2  # the held call ran exactly once


def step_up(adapter: ResourceBindingAdapter) -> None:
    """Step-up: holding a ``data.read`` auth token, a ``data.read data.write`` route answers
    ``401 requirement=auth-token`` with a NEW resource token built from the resource's record
    of the person token (no new person token is needed)."""
    with binding_world(adapter) as world:
        ps = world.person_server
        with world.client() as client:
            narrow = client.get(world.url(ROUTES.auth))
            wide = client.get(world.url(ROUTES.admin))
        assert _identity(narrow)["scope"] == "data.read"
        assert _identity(wide)["scope"] == "data.read data.write"
        assert _echo(wide)["calls"] == 2
        first = wide.history[0]
        assert first.status_code == 401 and first.request.url.path == ROUTES.admin
        assert _requirement(first) == "auth-token", first.headers
        assert len(ps.person_tokens) == 1
        assert len(ps.auth_tokens) == 2


def four_party(adapter: ResourceBindingAdapter) -> None:
    """Four-party: the resource token's ``aud`` is the Access Server; the PS federates to the
    AS, and the resource accepts the AS's auth token (fetching the AS's metadata and JWKS)."""
    with binding_world(adapter) as world:
        world.require("access_server")
        ps = world.person_server
        access = world.access_server
        with world.client() as client:
            got = client.get(world.url(f"{ROUTES.federated}/report"))
        identity = _identity(got)
        assert identity["mode"] == "auth-token"
        assert identity["issuer"] == ACCESS_SERVER
        assert identity["ps"] == PERSON_SERVER
        assert identity["sub"] == ps.subject_for(RESOURCE)
        assert identity["scope"] == "data.read"
        assert _echo(got)["calls"] == 1
        assert access.callers == [PERSON_SERVER]
        assert len(access.auth_tokens) == 1 and ps.federated == access.auth_tokens
        assert _paths(access.requests) == [
            "POST /token",
            "GET /.well-known/aauth-access.json",
            "GET /jwks.json",
        ]


def session_auto(adapter: ResourceBindingAdapter) -> None:
    """``session-token`` granted automatically: the first signed call gets ``AAuth-Access``;
    later calls present it (``Authorization: AAuth``, covered by the signature) and the app
    sees the session."""
    with binding_world(adapter) as world:
        with world.client() as client:
            first = client.get(world.url(f"{ROUTES.session}/a"))
            issued = first.headers.get("aauth-access")
            second = client.get(world.url(f"{ROUTES.session}/b"))
            third = client.get(world.url(f"{ROUTES.session}/c"))
        assert issued, first.headers
        assert _identity(first)["mode"] == "session-token"
        assert _identity(first)["agent"] == world.agent_provider.agent_id
        for later in (second, third):
            identity = _identity(later)
            assert identity["session_token"] is True
            assert identity["agent"] == world.agent_provider.agent_id
            sent = later.request.headers.get("authorization")
            assert sent == f"AAuth {issued}"
            assert '"authorization"' in later.request.headers["signature-input"]
        assert [_echo(r)["calls"] for r in (first, second, third)] == [1, 2, 3]
        assert world.person_server.log == []


def session_rotation(adapter: ResourceBindingAdapter) -> None:
    """``session-token`` rotation: once the session token is old enough the resource sends a
    new ``AAuth-Access``; the agent switches to it at once; the old value still identifies
    the session within the grace period (answered with its successor again), and after it
    is no session at all (a new grant); another agent's session token is not honoured."""
    options = {"session_rotate_after": 30, "session_grace": 20}
    with binding_world(adapter, server_options=options) as world:
        agent = world.agent()
        with world.client(agent) as client:
            first = client.get(world.url(f"{ROUTES.session}/a"))
            issued = first.headers["aauth-access"]
            world.clock.advance(40)  # past session_rotate_after, within every window
            second = client.get(world.url(f"{ROUTES.session}/b"))
            rotated = second.headers.get("aauth-access")
            third = client.get(world.url(f"{ROUTES.session}/c"))
        assert rotated and rotated != issued, second.headers
        assert second.request.headers["authorization"] == f"AAuth {issued}"
        assert third.request.headers["authorization"] == f"AAuth {rotated}"
        assert "aauth-access" not in third.headers  # the new token is not due yet
        assert _identity(third)["session_token"] is True

        def present(value: str, path: str, agent_id: str | None = None) -> httpx.Response:
            key = world.agent_provider.agent_key()
            token = world.agent_provider.mint(key, now=int(world.clock()), agent_id=agent_id)
            return _signed(
                world,
                "GET",
                world.url(f"{ROUTES.session}/{path}"),
                key=key,
                token=token,
                headers=[("Authorization", f"AAuth {value}")],
            )

        within = present(issued, "old")  # within the grace period
        assert _echo(within)["calls"] == 4
        assert within.headers.get("aauth-access") == rotated
        stranger = present(rotated, "stranger", agent_id="aauth:other@agent.example")
        assert _identity(stranger)["agent"] == "aauth:other@agent.example"
        assert stranger.headers.get("aauth-access") not in (None, issued, rotated)
        world.clock.advance(25)  # past the grace period
        after = present(issued, "expired")
        assert after.headers.get("aauth-access") not in (None, issued, rotated)
        assert _echo(after)["calls"] == 6


def session_interaction(adapter: ResourceBindingAdapter) -> None:
    """``session-token`` with interaction: ``202 requirement=interaction`` (url, code,
    ``Location``); the application approves through ``server.approve_interaction``; the poll
    runs the held call and answers with ``AAuth-Access``; the session is then used."""
    with binding_world(adapter) as world:
        world.require("session_interaction")
        prompts: list[PromptInteraction] = []

        def approve(prompt: PromptInteraction) -> None:
            prompts.append(prompt)
            assert world.server.approve_interaction(prompt.code, now=int(world.clock()))

        with world.client(on_interaction=approve) as client:
            first = client.post(
                world.url(f"{ROUTES.interactive}/start"),
                headers={"Content-Type": "application/json"},
                content=b'{"go":1}',
            )
            issued = first.headers.get("aauth-access")
            second = client.get(world.url(f"{ROUTES.interactive}/next"))
        document = _echo(first)
        assert document["method"] == "POST" and document["path"] == f"{ROUTES.interactive}/start"
        assert document["body"] == '{"go":1}' and document["calls"] == 1
        assert issued, first.headers
        held = _history_answer(first, 202, ROUTES.interactive)
        assert _requirement(held) == "interaction"
        assert held.headers.get("location") and held.headers.get("retry-after") is not None
        assert len(prompts) == 1 and prompts[0].code in held.headers["aauth-requirement"]
        assert prompts[0].url == INTERACTION_URL
        identity = _identity(second)
        assert identity["session_token"] is True and identity["mode"] == "session-token"
        assert second.request.headers["authorization"] == f"AAuth {issued}"
        assert _echo(second)["calls"] == 2
        assert world.person_server.log == []


def session_denied(adapter: ResourceBindingAdapter) -> None:
    """The user refuses the session interaction (``server.deny_interaction``): the poll
    answers ``403 denied`` (no signature headers), the agent fails with
    :class:`AccessDenied`, and the held call never runs."""
    with binding_world(adapter) as world:
        world.require("session_interaction")
        codes: list[str] = []

        def deny(prompt: PromptInteraction) -> None:
            codes.append(prompt.code)
            assert world.server.deny_interaction(prompt.code, now=int(world.clock()))

        with world.client(on_interaction=deny) as client, pytest.raises(AccessDenied) as caught:
            client.post(world.url(f"{ROUTES.interactive}/start"), content=b"x")
        assert caught.value.code == "denied" and caught.value.status == 403
        assert len(codes) == 1
        # the code is single-use: approving it now finds nothing
        assert not world.server.approve_interaction(codes[0], now=int(world.clock()))
        with world.client() as client:
            assert _echo(client.get(world.url(ROUTES.agent)))["calls"] == 1


def public_path(adapter: ResourceBindingAdapter) -> None:
    """A public path reaches the app with no identity, signed or not, and is never
    challenged."""
    with binding_world(adapter) as world:
        with world.raw() as raw:
            anonymous = raw.get(world.dial_url(f"{ROUTES.public}/page?x=1"))
        with world.client() as client:
            signed = client.post(world.url(f"{ROUTES.public}/form"), content=b"hello")
        document = _echo(anonymous)
        assert document["identity"] is None and document["query"] == "x=1"
        assert document["calls"] == 1
        posted = _echo(signed)
        assert posted["identity"] is None and posted["body"] == "hello"
        assert posted["calls"] == 2
        assert "aauth-requirement" not in anonymous.headers
        assert len(signed.history) == 0


def large_post(adapter: ResourceBindingAdapter) -> None:
    """A 512 KiB POST body crosses the binding whole (read, digest-checked, handed to the
    app), on a route requiring ``content-digest``."""
    payload = bytes(range(32, 127)) * (512 * 1024 // 95 + 1)
    payload = payload[: 512 * 1024]
    with binding_world(adapter) as world:
        with world.client() as client:
            got = client.post(
                world.url(f"{ROUTES.upload}/big"),
                headers={"Content-Type": "text/plain"},
                content=payload,
            )
        document = _echo(got)
        assert len(document["body"]) == len(payload)
        assert document["body"].encode() == payload


def post_with_digest(adapter: ResourceBindingAdapter) -> None:
    """A route requiring ``content-digest``: the agent's POST covers it and the app gets
    the body; a POST whose signature leaves it out is refused (``invalid_input``), and a
    body changed under a covered digest is refused (``invalid_signature``)."""
    with binding_world(adapter) as world:
        payload = json.dumps({"name": "x", "n": list(range(50))}).encode()
        with world.client() as client:
            got = client.post(
                world.url(f"{ROUTES.upload}/files"),
                headers={"Content-Type": "application/json"},
                content=payload,
            )
        document = _echo(got)
        assert document["method"] == "POST" and document["body"] == payload.decode()
        assert '"content-digest"' in got.request.headers["signature-input"]
        key, token = _agent_token(world)
        bare = _signed(
            world,
            "POST",
            world.url(f"{ROUTES.upload}/files"),
            key=key,
            token=token,
            body=b"abc",
            headers=[("Content-Type", "text/plain")],
            components=("@method", "@authority", "@path", "signature-key"),
        )
        assert bare.status_code == 401
        assert bare.headers["signature-error"].startswith("error=invalid_input")
        assert "content-digest" in bare.headers["signature-error"]
        # a body swapped under a signature that covers its digest
        dial = world.agent_map.dial_url(world.url(f"{ROUTES.upload}/files"))
        signed = sign_request(
            HttpRequest("POST", dial, [("Content-Type", "text/plain")], b"original"),
            key,
            signature_key=token,
            created=int(world.clock()),
        )
        with world.raw() as raw:
            swapped = raw.post(dial, headers=list(signed.headers), content=b"tampered")
        assert swapped.status_code == 401
        assert swapped.headers["signature-error"].startswith("error=invalid_signature")
        with world.client() as client:
            after = client.post(world.url(ROUTES.upload), content=b"ok")
        assert _echo(after)["calls"] == 2  # refused requests never reached the app


def query_covered(adapter: ResourceBindingAdapter) -> None:
    """A route requiring ``@query``: ``401 Signature-Error: invalid_input`` naming it; the
    agent signs again covering ``@query`` and gets through."""
    with binding_world(adapter) as world:
        with world.client() as client:
            got = client.get(world.url(f"{ROUTES.strict}/search?q=aauth&n=2"))
        document = _echo(got)
        assert document["query"] == "q=aauth&n=2" and document["calls"] == 1
        refusal = got.history[0]
        assert refusal.status_code == 401
        assert refusal.headers["signature-error"].startswith("error=invalid_input")
        assert "@query" in refusal.headers["signature-error"]
        assert '"@query"' in got.request.headers["signature-input"]


def repeated_get(adapter: ResourceBindingAdapter) -> None:
    """The same safe request twice within one second (a client re-reading a resource, an
    agent polling with ``Retry-After: 0``) is two calls, not a replay: Ed25519 signatures are
    deterministic and the profile has no nonce (digest §2 "nonce: not used"), so the two
    signatures are byte-identical, and digest §2 "Freshness and replay" allows a duplicate
    cache only for state-changing requests."""
    with binding_world(adapter) as world:
        with world.client() as plain, world.client() as authorized:
            plain.get(world.url(f"{ROUTES.agent}/first"))  # keys fetched: later calls are fast
            authorized.get(world.url(f"{ROUTES.auth}/first"))  # tokens in hand
            now = world.clock()
            time.sleep(1.02 - (now - int(now)))  # just after a second starts
            started = int(world.clock())
            answers = [plain.get(world.url(f"{ROUTES.agent}/same")) for _ in range(2)]
            auth = [authorized.get(world.url(f"{ROUTES.auth}/same")) for _ in range(2)]
            finished = int(world.clock())
        assert started == finished, "the calls took more than a second: nothing was shown"
        signatures = {r.request.headers["signature"] for r in answers}
        assert len(signatures) == 1  # byte-identical, as the docstring says
        assert [_echo(r)["calls"] for r in (*answers, *auth)] == [3, 4, 5, 6]


def mixed_modes(adapter: ResourceBindingAdapter) -> None:
    """One agent moves between the routes of one resource whose modes differ (digest §1.3:
    "A resource may use different modes on different endpoints"): once it holds a person or
    auth token for the resource, its calls to agent-token and session-token routes still go
    through."""
    with binding_world(adapter) as world:
        with world.client() as client:
            answers = [
                client.get(world.url(f"{ROUTES.agent}/1")),
                client.get(world.url(f"{ROUTES.auth}/2")),
                client.get(world.url(f"{ROUTES.agent}/3")),
                client.get(world.url(f"{ROUTES.person}/4")),
                client.get(world.url(f"{ROUTES.session}/5")),
                client.get(world.url(f"{ROUTES.agent}/6")),
            ]
        assert [_echo(r)["calls"] for r in answers] == [1, 2, 3, 4, 5, 6]
        modes = [_identity(r)["mode"] for r in answers]
        assert modes == [
            "agent-token",
            "auth-token",
            "agent-token",
            "person-token",
            "session-token",
            "agent-token",
        ]
        assert len(world.person_server.person_tokens) == 1


def concurrent_agents(adapter: ResourceBindingAdapter) -> None:
    """Six agents (distinct keys) call at once, from threads, a fresh resource: the first
    discovery fetches race, person and auth flows interleave, and every call comes back
    to its own agent with its own identity; the app runs once per call."""
    count = 6
    with binding_world(adapter) as world:
        agents = [world.agent(key_name=f"agent-{n}") for n in range(count)]

        def run(n: int) -> list[dict[str, Any]]:
            with world.client(agents[n]) as client:
                first = client.get(world.url(f"{ROUTES.agent}/{n}"))
                second = client.get(world.url(f"{ROUTES.auth}/{n}"))
            return [_echo(first), _echo(second)]

        with ThreadPoolExecutor(max_workers=count) as pool:
            results = list(pool.map(run, range(count)))
        calls: list[int] = []
        for n, (plain, authorized) in enumerate(results):
            thumbprint = world.agent_provider.agent_key(f"agent-{n}").public_key.thumbprint
            assert plain["path"] == f"{ROUTES.agent}/{n}"
            assert plain["identity"]["thumbprint"] == thumbprint
            assert authorized["path"] == f"{ROUTES.auth}/{n}"
            assert authorized["identity"]["thumbprint"] == thumbprint
            assert authorized["identity"]["scope"] == "data.read"
            calls += [plain["calls"], authorized["calls"]]
        assert sorted(calls) == list(range(1, 2 * count + 1))
        assert len(world.person_server.auth_tokens) == count
        fetched = _paths(world.agent_provider.requests).count("GET /jwks.json")
        assert 1 <= fetched <= count


def metadata_and_jwks(adapter: ResourceBindingAdapter) -> None:
    """``/.well-known/aauth-resource.json`` and the JWKS it names are served to anyone (the
    app never runs); an unknown path is ``404``."""
    with binding_world(adapter) as world:
        with world.raw() as raw:
            metadata = raw.get(world.dial_url(_WELL_KNOWN))
            assert metadata.status_code == 200
            document = metadata.json()
            jwks_uri = document["jwks_uri"]
            jwks = raw.get(world.agent_map.dial_url(jwks_uri))
            missing = raw.get(world.dial_url("/nowhere"))
        assert document["issuer"] == RESOURCE
        assert jwks_uri.startswith(RESOURCE + "/")
        assert metadata.headers["content-type"].startswith("application/json")
        assert jwks.status_code == 200
        keys = jwks.json()["keys"]
        public = world.resource_key.public_jwk
        assert [(k["kid"], k["x"]) for k in keys] == [("resource-key-1", public["x"])]
        assert "d" not in keys[0]
        assert missing.status_code == 404
        with world.client() as client:
            assert _echo(client.get(world.url(ROUTES.agent)))["calls"] == 1


def refused(adapter: ResourceBindingAdapter) -> None:
    """Refusals: an agent token from an untrusted AP is ``401 Signature-Error: invalid_jwt``
    (and the rogue AP is never fetched); the agent gives up with
    :class:`SignatureRejectedError`; a replayed POST is refused; none reach the app."""
    with binding_world(adapter) as world:
        rogue_agent = world.agent(provider=world.rogue_provider)
        with world.client(rogue_agent) as client, pytest.raises(SignatureRejectedError) as caught:
            client.get(world.url(ROUTES.agent))
        assert caught.value.code == "invalid_jwt"
        key = world.rogue_provider.agent_key()
        token = world.rogue_provider.mint(key, now=int(world.clock()))
        by_hand = _signed(world, "GET", world.url(ROUTES.agent), key=key, token=token)
        assert by_hand.status_code == 401
        assert by_hand.headers["signature-error"].startswith("error=invalid_jwt")
        assert by_hand.headers["content-type"].startswith("application/problem+json")
        assert by_hand.json()["error"] == "invalid_jwt"
        assert world.rogue_provider.requests == []
        # a replayed state-changing request (the same signed POST twice): digest §2
        # "Freshness and replay" lets a verifier refuse the duplicate
        good_key, good_token = _agent_token(world)
        dial = world.dial_url(ROUTES.agent)
        signed = sign_request(
            HttpRequest("POST", dial, [("Content-Type", "text/plain")], b"pay once"),
            good_key,
            signature_key=good_token,
            created=int(world.clock()),
        )
        with world.raw() as raw:
            accepted = raw.post(dial, headers=list(signed.headers), content=b"pay once")
            replayed = raw.post(dial, headers=list(signed.headers), content=b"pay once")
        assert _echo(accepted)["calls"] == 1
        assert replayed.status_code == 401
        assert replayed.headers["signature-error"].startswith("error=invalid_signature")
        assert _paths(world.agent_provider.requests).count("GET /jwks.json") == 1


#: Every scenario, in a stable order.
SCENARIOS: Final[tuple[Scenario, ...]] = (
    unsigned,
    agent_token,
    person_token,
    auth_token,
    deferred,
    step_up,
    four_party,
    session_auto,
    session_rotation,
    session_interaction,
    session_denied,
    public_path,
    post_with_digest,
    large_post,
    query_covered,
    repeated_get,
    mixed_modes,
    concurrent_agents,
    metadata_and_jwks,
    refused,
)


def scenario_id(scenario: object) -> str:
    """The scenario's name, for ``pytest.mark.parametrize(ids=…)``."""
    return str(getattr(scenario, "__name__", scenario))
