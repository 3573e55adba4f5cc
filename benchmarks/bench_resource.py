"""The resource side's per-request cost, as ratios to raw libsodium and to ``verify_request``.

A warmed resource ``https://resource.example`` (the agent provider's and the person server's
metadata and JWKS already in its discovery cache, fed once from the in-memory fakes of
``tests/fakes``: no network) receives ``GET /agent`` (``agent-token`` route, signed with an
agent token) and ``GET /auth`` (``auth-token`` route, scope ``data.read``, signed with an auth
token). Both are signed with the default AAuth components (``@method @authority @path
signature-key``) and the ``jwt`` ``Signature-Key`` scheme, for the resource's own authority.

Timed, in interleaved rounds (medians reported):

- ``raw verify``: libsodium's ``crypto_sign_open`` (PyNaCl bindings) of the agent-token
  request's signature base under the agent key: the floor no Python verifier goes under;
- ``verify_request``: the RFC 9421 + ``Signature-Key`` check alone (no token validation);
- ``check agent`` / ``check auth``: :meth:`ResourceVerifier.check` (signature, authority,
  token type, issuer trust, cached keys, token, key binding, route policy);
- ``receive agent`` / ``receive auth``: ``ResourceServer.receive(request, now).next_action()``,
  the ``CallApp`` a binding acts on;
- ``asgi agent`` / ``asgi auth``: ``aauth_asgi.AAuthMiddleware`` in process, called directly
  with a prepared scope (copied per call: the middleware writes the identity into it), a
  ``receive`` that hands over the empty body, a ``send`` that drops the messages and a
  trivial inner app that answers ``200``;
- ``aiohttp agent`` / ``aiohttp auth``: ``aauth_aiohttp.AAuthMiddleware`` with a request from
  ``aiohttp.test_utils.make_mocked_request`` over a stand-in TLS protocol with plain
  attributes (made once, outside the timing: parsing a request is aiohttp's per-request cost,
  not ours; the middleware clones it per call as it does on a server) and a handler that
  returns a ``200`` ``web.Response``.

The middlewares are coroutines that never wait on these paths (the body is at hand, the
cache is warm), so each call is driven by hand (``coroutine.send(None)`` until it returns)
instead of through an event loop: the figure is the middleware's own cost. A coroutine that
suspends on anything but a bare ``yield`` (a future: real IO) aborts the benchmark.

GET is a safe method, so the replay store does not record it (``replay_safe_methods`` is
off, the default): the same signed request is presented on every call. The same token is
also seen on every call, so ``check`` takes its validated-token memo (``token_memo_size``),
as a warmed resource does for an agent that keeps calling with one token.

Every operation is run once per round outside the timing and its result checked (verified,
the right token type, ``200`` from the middlewares with the identity seen by the app).

Run: ``python benchmarks/bench_resource.py [--rounds N] [--number N]``.
"""

from __future__ import annotations

import argparse
import base64
import ssl
import statistics
import sys
import timeit
from collections.abc import Callable, Coroutine, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.bindings
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aauth_aiohttp
import aauth_asgi
from aauth import sign_request, signature_base, verify_request
from aauth.discovery import DiscoveryCache
from aauth.http import HttpRequest
from aauth.keys import Ed25519Key
from aauth.resource import (
    AccessMode,
    CallApp,
    NeedFetch,
    ResourcePolicy,
    ResourceServer,
    ResourceVerifier,
    Verified,
)
from aauth.tokens import AUTH_TOKEN_DWKS, build_auth_token
from tests.fakes import T0, FakeAgentProvider, FakePersonServer

RESOURCE = "https://resource.example"
HOST = "resource.example"
NOW = T0
HEADERS = (("Accept", "application/json"), ("User-Agent", "bench/1"))
POLICIES = {
    "/agent": ResourcePolicy(mode=AccessMode.AGENT_TOKEN),
    "/auth": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read"),
}
RAW = "raw verify"
VERIFY = "verify_request"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


# ------------------------------------------------------------------------------ fixture


@dataclass(frozen=True)
class Fixture:
    """The warmed resource, its two signed requests and the bindings around it."""

    verifier: ResourceVerifier
    server: ResourceServer
    agent_key: Ed25519Key
    requests: dict[str, HttpRequest]  # "agent" / "auth"
    asgi: aauth_asgi.AAuthMiddleware
    aiohttp: aauth_aiohttp.AAuthMiddleware


def _secrets() -> Callable[[], str]:
    counter = iter(range(1, 1 << 62))
    return lambda: f"bench-secret-{next(counter):016d}"


def _warm(verifier: ResourceVerifier, request: HttpRequest, serve: Callable[[str], Any]) -> None:
    """Answer the fetches ``check`` asks for from the fakes until it decides."""
    for _ in range(6):
        outcome = verifier.check(request, NOW)
        if not isinstance(outcome, NeedFetch):
            assert isinstance(outcome, Verified), outcome
            return
        verifier.discovery_cache.on_response(outcome.url, serve(outcome.url), now=NOW)
    raise AssertionError("the verifier kept asking for fetches")


def build_fixture() -> Fixture:
    """The resource with its discovery cache filled, and an agent- and an auth-token GET."""
    ap = FakeAgentProvider()
    ps = FakePersonServer(agent_providers=[ap])
    agent_key = ap.agent_key()
    resource_key = Ed25519Key.from_seed(bytes(range(32)))
    verifier = ResourceVerifier(
        RESOURCE, resource_key, "resource-key-1", POLICIES, DiscoveryCache()
    )
    server = ResourceServer(verifier, new_secret=_secrets())
    agent_token = ap.mint(agent_key, now=NOW)
    auth_token = build_auth_token(
        ps.key,
        kid=ps.kid,
        now=NOW,
        jti="bench-auth-token",
        iss=ps.issuer,
        dwk=sorted(AUTH_TOKEN_DWKS)[-1],
        aud=RESOURCE,
        ps=ps.issuer,
        sub="person-alice",
        cnf_jwk=agent_key.public_key,
        scope="data.read",
    )
    requests = {
        kind: sign_request(
            HttpRequest("GET", f"{RESOURCE}/{kind}", list(HEADERS)),
            agent_key,
            signature_key=token,
            created=NOW,
        )
        for kind, token in (("agent", agent_token), ("auth", auth_token))
    }

    def serve(url: str) -> Any:
        for fake in (ap, ps):
            if url.startswith(fake.issuer + "/"):
                return fake.handle(HttpRequest("GET", url), NOW)
        raise AssertionError(f"no fake serves {url}")

    for request in requests.values():
        _warm(verifier, request, serve)
    return Fixture(
        verifier=verifier,
        server=server,
        agent_key=agent_key,
        requests=requests,
        asgi=aauth_asgi.AAuthMiddleware(_inner_app, server, clock=lambda: NOW),
        aiohttp=aauth_aiohttp.AAuthMiddleware(server, clock=lambda: NOW),
    )


# ------------------------------------------------------------------------ the bindings


def run_coroutine(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits on IO to its end, without an event loop."""
    try:
        while True:
            if coroutine.send(None) is not None:
                coroutine.close()
                raise AssertionError("the coroutine waited on a future (real IO)")
    except StopIteration as done:
        return done.value


async def _inner_app(scope: Scope, receive: Any, send: Any) -> None:
    """The protected ASGI application: ``200`` and the token type it was shown."""
    identity = aauth_asgi.get_identity(scope)
    kind = b"none" if identity is None else identity.token_type.encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-as", kind)]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Sent:
    """An ASGI ``send`` that keeps the last status and ``x-as`` header (for the checks)."""

    def __init__(self) -> None:
        self.status = 0
        self.kind = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.kind = dict(message["headers"]).get(b"x-as", b"")


def asgi_scope(request: HttpRequest) -> dict[str, Any]:
    """The HTTP scope a server (uvicorn) builds for ``request`` arriving over TLS."""
    path = request.url.removeprefix(RESOURCE)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", HOST.encode())]
        + [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in request.headers],
        "server": ("127.0.0.1", 443),
        "client": ("127.0.0.1", 50000),
    }


async def _handler(request: web.Request) -> web.StreamResponse:
    identity = aauth_aiohttp.get_identity(request)
    kind = "none" if identity is None else identity.token_type
    return web.Response(status=200, text="ok", headers={"X-As": kind})


class _Protocol:
    """What an aiohttp request reads of its connection's protocol (``clone`` reads it again
    for every copy): plain attributes instead of ``make_mocked_request``'s mocks, whose
    bookkeeping would be timed as the middleware's. A TLS connection (``ssl_context``)."""

    def __init__(self) -> None:
        self.max_field_size = 8190
        self.max_line_length = 8190
        self.max_headers = 128
        self.peername = ("127.0.0.1", 50000)
        self.sockname = ("127.0.0.1", 443)
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.transport: object = None
        self.writer: object = None


def aiohttp_request(request: HttpRequest) -> web.Request:
    """An aiohttp request for ``request`` over TLS, built without a socket."""
    headers = CIMultiDict([("Host", HOST), *request.headers])
    return make_mocked_request(
        request.method,
        request.url.removeprefix(RESOURCE),
        headers,
        protocol=_Protocol(),
        writer=object(),
        transport=None,
    )


# ------------------------------------------------------------------------ operations


@dataclass(frozen=True)
class Op:
    """One timed call and the check of what it returned."""

    name: str
    call: Callable[[], object]
    ok: Callable[[object], bool]


def operations(fx: Fixture) -> list[Op]:
    """Every timed operation, in the order they are interleaved."""
    agent = fx.requests["agent"]
    base = signature_base(agent, agent.header("signature-input") or "", "sig")
    d = fx.agent_key.private_jwk()["d"]
    public, secret = nacl.bindings.crypto_sign_seed_keypair(
        base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))
    )
    raw_signed = bytes(nacl.bindings.crypto_sign(base, secret))
    thumbprint = fx.agent_key.thumbprint
    ops = [
        Op(RAW, lambda: nacl.bindings.crypto_sign_open(raw_signed, public), lambda r: r == base),
        Op(
            VERIFY,
            lambda: verify_request(agent, now=NOW),
            lambda r: getattr(r, "thumbprint", None) == thumbprint,
        ),
    ]
    verifier, server = fx.verifier, fx.server
    for kind, token_type in (("agent", "aa-agent+jwt"), ("auth", "aa-auth+jwt")):
        request = fx.requests[kind]
        scope = asgi_scope(request)
        mocked = aiohttp_request(request)
        sent = _Sent()

        def verified(result: object, token_type: str = token_type) -> bool:
            return (
                isinstance(result, Verified)
                and result.thumbprint == thumbprint
                and result.token_type == token_type
            )

        def asgi(scope: dict[str, Any] = scope, sent: _Sent = sent) -> _Sent:
            sent.status = 0
            run_coroutine(fx.asgi(dict(scope), _receive, sent))
            return sent

        def aiohttp(mocked: web.Request = mocked) -> object:
            return run_coroutine(fx.aiohttp(mocked, _handler))

        def answered(result: object, token_type: str = token_type) -> bool:
            if isinstance(result, _Sent):
                return result.status == 200 and result.kind == token_type.encode()
            return (
                isinstance(result, web.Response)
                and result.status == 200
                and result.headers.get("X-As") == token_type
            )

        def check(request: HttpRequest = request) -> object:
            return verifier.check(request, NOW)

        def receive(request: HttpRequest = request) -> object:
            return server.receive(request, NOW).next_action()

        def runs_app(action: object, verified: Callable[[object], bool] = verified) -> bool:
            return isinstance(action, CallApp) and verified(action.identity)

        ops += [
            Op(f"check {kind}", check, verified),
            Op(f"receive {kind}", receive, runs_app),
            Op(f"asgi {kind}", asgi, answered),
            Op(f"aiohttp {kind}", aiohttp, answered),
        ]
    return ops


def run(rounds: int, number: int) -> dict[str, float]:
    """Median microseconds per call of each operation, rounds interleaved."""
    ops = operations(build_fixture())
    samples: dict[str, list[float]] = {op.name: [] for op in ops}
    for _ in range(rounds):
        for op in ops:
            assert op.ok(op.call()), f"{op.name}: the result did not check out"
            samples[op.name].append(timeit.timeit(op.call, number=number) / number * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25, help="interleaved rounds")
    parser.add_argument("--number", type=int, default=300, help="calls per timing")
    args = parser.parse_args(argv)
    medians = run(args.rounds, args.number)
    raw, verify = medians[RAW], medians[VERIFY]
    print(
        f"Resource side, warmed cache: medians of {args.rounds} interleaved rounds "
        f"x {args.number} calls"
    )
    print(f"{'operation':>16} {'µs':>8} {'x raw verify':>13} {'x verify_request':>17}")
    for name, value in medians.items():
        print(f"{name:>16} {value:8.1f} {value / raw:12.2f}x {value / verify:16.2f}x")
    print("middlewares: driven in process without an event loop; aiohttp: make_mocked_request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
