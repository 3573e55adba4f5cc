"""A fake resource with one access mode per path prefix (AAuth -11 §"Resource Access Modes",
§"Auth Token Required", §"Deferred Responses", §"AAuth-Access"; digest §1.3-§1.6, §5, §8
"Resource").

``FakeResource.handle(request, now) -> response``. Default routes (:data:`DEFAULT_ROUTES`;
a route matches its prefix and everything below it):

* ``/agent``: agent token (``401 requirement=agent-token`` when unsigned);
* ``/person``: person token from a trusted PS (``401 requirement=person-token`` otherwise);
* ``/auth``: auth token with scope ``data.read``; after a verified person token
  ``401 requirement=auth-token; resource-token="…"``;
* ``/deferred``: as ``/auth`` but the ``202`` form: the call is held behind ``Location`` and
  runs on the first poll signed with a valid auth token; the result is replayed for the same
  token until its ``exp``;
* ``/admin``: auth token with scope ``data.read data.write`` (step-up from ``/auth``);
* ``/session``: ``202 requirement=interaction`` then ``200`` with ``AAuth-Access``; later
  ``Authorization: AAuth <token>`` (``authorization`` covered) is accepted; rotates on demand;
* ``/strict``: agent token, and the signature must also cover ``@query`` (else ``401
  Signature-Error: invalid_input`` with ``required_input``);
* ``/es256``: agent token, ``ES256`` signatures only (``unsupported_algorithm`` with
  ``Accept-Signature-Alg: ES256`` otherwise).

``/.well-known/aauth-resource.json`` and ``/jwks.json`` are served to anyone. A successful
call answers ``200`` JSON describing the call (``call`` counts the times the app ran).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from aauth.aauth_headers import (
    AgentTokenRequired,
    AuthTokenRequired,
    InteractionRequired,
    PersonTokenRequired,
    Requirement,
    build_aauth_access,
    build_aauth_requirement,
    read_authorization,
)
from aauth.errors import SignatureError
from aauth.headers_http import HeaderError
from aauth.http import HttpRequest, HttpResponse
from aauth.jwk import SUPPORTED_ALGS
from aauth.metadata import ResourceMetadata, serialize_metadata
from aauth.signing import AAUTH_REQUIRED_COMPONENTS, VerifiedRequest, verify_request
from aauth.tokens import (
    RESOURCE_TOKEN_MAX_LIFETIME,
    TYP_AGENT,
    TYP_AUTH,
    TYP_PERSON,
    AgentToken,
    AuthToken,
    PersonToken,
    TokenError,
    check_key_binding,
    create_resource_token,
    validate_agent_token,
    validate_auth_token,
    validate_person_token,
)

from ._common import (
    JSON,
    Exchange,
    Fault,
    Issuer,
    RecordingServer,
    Reject,
    Seeded,
    fault_response,
    json_response,
    jwks_of,
    path_of,
    problem,
    seeded_key,
    signature_problem,
    trust_map,
)

__all__ = ["DEFAULT_ROUTES", "Call", "FakeResource", "HeldCall", "Identity", "Route", "Session"]

AGENT_TOKEN: Final = "agent-token"
PERSON_TOKEN: Final = "person-token"
AUTH_TOKEN: Final = "auth-token"
SESSION_TOKEN: Final = "session-token"
_MODES: Final = frozenset({AGENT_TOKEN, PERSON_TOKEN, AUTH_TOKEN, SESSION_TOKEN})


@dataclass(frozen=True)
class Route:
    """The policy of a path prefix.

    :param mode: ``agent-token``, ``person-token``, ``auth-token`` or ``session-token``.
    :param scope: the scope an auth token must carry (``auth-token``; space-separated).
    :param deferred: ``auth-token``: answer with the ``202`` form and hold the call.
    :param interaction: ``session-token``: ``202 requirement=interaction`` before the first
        session (``False``: issue the session token on the first signed call).
    :param extra_components: components the signature must cover beyond the AAuth four.
    :param algorithms: signature algorithms accepted.
    """

    mode: str
    scope: str = "data.read"
    deferred: bool = False
    interaction: bool = True
    extra_components: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = SUPPORTED_ALGS

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(f"unknown access mode {self.mode!r}")


#: The routes a :class:`FakeResource` has unless told otherwise.
DEFAULT_ROUTES: Final[dict[str, Route]] = {
    "/agent": Route(AGENT_TOKEN),
    "/person": Route(PERSON_TOKEN),
    "/auth": Route(AUTH_TOKEN, scope="data.read"),
    "/deferred": Route(AUTH_TOKEN, scope="data.read", deferred=True),
    "/admin": Route(AUTH_TOKEN, scope="data.read data.write"),
    "/session": Route(SESSION_TOKEN),
    "/strict": Route(AGENT_TOKEN, extra_components=("@query",)),
    "/es256": Route(AGENT_TOKEN, algorithms=("ES256",)),
}


@dataclass(frozen=True)
class Identity:
    """Who signed a request, as the resource verified it.

    ``kind``: ``agent``, ``person`` or ``auth`` (the token in ``Signature-Key``), or
    ``session`` (an ``Authorization: AAuth`` session token on top of it).
    """

    kind: str
    thumbprint: str
    agent: str | None = None
    ps: str | None = None
    sub: str | None = None
    scope: str | None = None
    token: AgentToken | PersonToken | AuthToken | None = None
    session: str | None = None


@dataclass(frozen=True)
class Call:
    """One run of the protected app (held calls count when they finally run)."""

    method: str
    path: str
    body: bytes
    mode: str
    identity: Identity
    now: int


@dataclass(eq=False)
class HeldCall:
    """A call held behind a pending URL: the ``202`` auth-token form (``kind="auth-token"``)
    or a session interaction (``kind="session"``)."""

    id: str
    url: str
    kind: str
    route: Route
    agent_jkt: str
    method: str
    path: str
    body: bytes
    requirement: Requirement
    code: str | None = None
    state: str = "pending"
    polls: int = 0
    result: HttpResponse | None = None
    result_jti: str | None = None
    result_exp: int = 0

    @property
    def finished(self) -> bool:
        """Whether the pending URL is over (a deferred result may still be replayed)."""
        return self.state in ("done", "failed", "cancelled")


@dataclass
class Session:
    """An ``AAuth-Access`` session token and what it is bound to."""

    token: str
    agent_jkt: str
    exp: int
    agent: str | None


def _challenge(requirement: Requirement) -> HttpResponse:
    """``401`` with ``AAuth-Requirement`` (AAuth -11 §"Requirement Responses")."""
    return HttpResponse(
        401,
        [
            ("AAuth-Requirement", build_aauth_requirement(requirement)),
            ("Cache-Control", "no-store"),
        ],
    )


class FakeResource(RecordingServer[HeldCall]):
    """A resource at ``issuer``.

    :param agent_providers: trusted APs (fakes or ``{issuer: jwks}``).
    :param person_servers: trusted PSes (and ASes) for person and auth tokens.
    :param seed: derives the resource key, token ids, pending ids, codes, session tokens.
    :param routes: ``{prefix: Route}``; default :data:`DEFAULT_ROUTES` (the dict is the
        fake's own: tests may add or replace routes).

    Switches (plain attributes):

    * ``faults``: :class:`Fault` answers for the next requests to non-metadata paths, one
      per request, in order.
    * ``signature_errors``: ``Signature-Error`` codes forced on the next such requests
      (``401`` with a problem body), one per request.
    * ``rotate_session``: the next successful session call gets a new ``AAuth-Access`` and
      the old token stops working (one-shot).
    * ``retry_after`` (default 0; ``None`` omits it), ``relative_locations`` (default
      ``False``), ``session_lifetime`` (3600), ``resource_token_lifetime`` (300),
      ``signature_window`` (60), ``access_mode`` (metadata; default ``auth-token``),
      ``additional_signature_components`` (metadata; default none).

    ``emit_legacy_person_token_jti`` (keyword, default ``False``): resource tokens also carry
    the pre--11 ``person_token_jti`` next to ``presented_jti`` (for a PS that reads only the
    old name: ``@hellocoop/mockin`` 2.0.0 requires it).

    Records: ``log`` (every request, time and answer), ``calls`` (app runs),
    ``resource_tokens`` issued, ``sessions``, ``pending``.
    """

    _pending_noun = "pending call"

    def __init__(
        self,
        issuer: str = "https://resource.example",
        *,
        agent_providers: list[Issuer] | dict[str, dict[str, Any]] | None = None,
        person_servers: list[Issuer] | dict[str, dict[str, Any]] | None = None,
        seed: int = 0,
        kid: str = "resource-key-1",
        routes: dict[str, Route] | None = None,
        emit_legacy_person_token_jti: bool = False,
    ) -> None:
        self.issuer = issuer
        self.emit_legacy_person_token_jti = emit_legacy_person_token_jti
        self.kid = kid
        self.key = seeded_key(f"resource:{issuer}", seed)
        self.agent_providers = trust_map(agent_providers)
        self.person_servers = trust_map(person_servers)
        self.routes: dict[str, Route] = dict(DEFAULT_ROUTES if routes is None else routes)
        self._ids = Seeded(seed, f"resource:{issuer}")
        # switches
        self.faults: list[Fault] = []
        self.signature_errors: list[str] = []
        self.rotate_session = False
        self.retry_after: int | None = 0
        self.relative_locations = False
        self.session_lifetime = 3600
        self.resource_token_lifetime = RESOURCE_TOKEN_MAX_LIFETIME
        self.signature_window = 60
        self.access_mode: str | None = AUTH_TOKEN
        self.additional_signature_components: tuple[str, ...] | None = None
        # records
        self.log: list[Exchange] = []
        self.calls: list[Call] = []
        self.resource_tokens: list[str] = []
        self.sessions: dict[str, Session] = {}
        self.pending: dict[str, HeldCall] = {}
        # (ps, sub) -> the person token verified last: what step-up needs (presented_jti)
        self.person_tokens: dict[tuple[str, str], PersonToken] = {}

    # ------------------------------------------------------------------ configuration

    @property
    def jwks(self) -> dict[str, Any]:
        """The resource's public JWKS (it signs resource tokens)."""
        return jwks_of(self.key, self.kid)

    @property
    def metadata(self) -> ResourceMetadata:
        """The ``aauth-resource.json`` document."""
        return ResourceMetadata(
            issuer=self.issuer,
            jwks_uri=f"{self.issuer}/jwks.json",
            access_mode=self.access_mode,
            signature_window=self.signature_window,
            additional_signature_components=self.additional_signature_components,
            scope_descriptions={"data.read": "Read your data", "data.write": "Change your data"},
        )

    @property
    def interaction_url(self) -> str:
        """Where the user goes to set up a session (https, no query)."""
        return f"{self.issuer}/interact"

    def trust_agent_provider(self, provider: Issuer) -> None:
        """Accept agent tokens from ``provider``."""
        self.agent_providers[provider.issuer] = provider.jwks

    def trust_person_server(self, server: Issuer) -> None:
        """Accept person and auth tokens from ``server``."""
        self.person_servers[server.issuer] = server.jwks

    def url(self, path: str) -> str:
        """``{issuer}{path}``."""
        return f"{self.issuer}{path}"

    # ------------------------------------------------------------------ test controls

    def approve(self, ref: str) -> None:
        """The user completed the session interaction (``ref``: code, pending id or URL)."""
        held = self._find(ref)
        if held.finished or held.kind != "session":
            raise LookupError(f"no open session interaction for {ref!r}")
        held.state = "approved"

    def deny(self, ref: str) -> None:
        """The user refused: the next poll answers ``403 denied``."""
        held = self._find(ref)
        if held.finished or held.kind != "session":
            raise LookupError(f"no open session interaction for {ref!r}")
        held.state = "denied"

    @property
    def last_pending(self) -> HeldCall:
        """The most recently held call."""
        if not self.pending:
            raise LookupError("no held call yet")
        return list(self.pending.values())[-1]

    # ------------------------------------------------------------------ HTTP

    def _route_for(self, path: str) -> Route | None:
        best: str | None = None
        for prefix in self.routes:
            matches = path == prefix or path.startswith(prefix.rstrip("/") + "/")
            if matches and (best is None or len(prefix) > len(best)):
                best = prefix
        return None if best is None else self.routes[best]

    def _route(self, request: HttpRequest, now: int) -> HttpResponse:
        path = path_of(request.url)
        if path == "/.well-known/aauth-resource.json":
            return HttpResponse(200, [("Content-Type", JSON)], serialize_metadata(self.metadata))
        if path == "/jwks.json":
            return json_response(200, self.jwks)
        if self.faults:
            return fault_response(self.faults.pop(0))
        if self.signature_errors:
            code = self.signature_errors.pop(0)
            return signature_problem(SignatureError("refused on request of the test", code=code))
        if path.startswith("/pending/"):
            return self._poll(request, now, path.removeprefix("/pending/"))
        route = self._route_for(path)
        if route is None:
            return problem("invalid_request", status=404, detail=f"nothing at {path}")
        verified = self._verify(request, now, route)
        if verified is None:
            # unsigned: ask for the least that identifies the caller for this mode
            if route.mode in (AGENT_TOKEN, SESSION_TOKEN):
                return _challenge(AgentTokenRequired())
            return _challenge(PersonTokenRequired())
        identity = self._identify(verified, now)
        if route.mode == AGENT_TOKEN:
            return self._run(request, route, identity, now)
        if route.mode == PERSON_TOKEN:
            if identity.kind in ("person", "auth"):
                return self._run(request, route, identity, now)
            return _challenge(PersonTokenRequired())
        if route.mode == AUTH_TOKEN:
            return self._auth_token(request, route, identity, now)
        return self._session(request, route, identity, now)

    # ------------------------------------------------------------------ verification

    def _verify(self, request: HttpRequest, now: int, route: Route) -> VerifiedRequest | None:
        """The AAuth §2 algorithm; ``None`` for a request with no signature at all."""
        if not any(
            request.has_header(h) for h in ("signature", "signature-input", "signature-key")
        ):
            return None
        try:
            return verify_request(
                request,
                now=now,
                max_skew=self.signature_window,
                required_components=AAUTH_REQUIRED_COMPONENTS + route.extra_components,
                schemes=("jwt",),  # AAuth -11 §8 "Agent": sig=jwt only
                algorithms=route.algorithms,
            )
        except SignatureError as exc:
            raise Reject(signature_problem(exc, accepted_algs=route.algorithms)) from None

    def _identify(self, verified: VerifiedRequest, now: int) -> Identity:
        """AAuth -11 §8 "Resource": ``typ`` first, trusted issuer, times, ``aud``, binding."""
        typ = verified.token_header.get("typ")
        issuer = verified.token_claims.get("iss")
        token = verified.token or ""
        jkt = verified.thumbprint
        try:
            if typ == TYP_AGENT:
                keys = self.agent_providers.get(issuer) if isinstance(issuer, str) else None
                if keys is None:
                    raise SignatureError("agent token from an untrusted AP", code="invalid_jwt")
                agent = validate_agent_token(token, keys, now=now)
                check_key_binding(agent, jkt)
                return Identity("agent", jkt, agent=agent.sub, ps=agent.ps, token=agent)
            keys = self.person_servers.get(issuer) if isinstance(issuer, str) else None
            if typ == TYP_PERSON:
                if keys is None:
                    raise SignatureError("person token from an untrusted PS", code="invalid_jwt")
                person = validate_person_token(token, keys, now=now, audience=self.issuer)
                check_key_binding(person, jkt)
                self.person_tokens[person.iss, person.sub] = person
                return Identity("person", jkt, ps=person.iss, sub=person.sub, token=person)
            if typ == TYP_AUTH:
                if keys is None:
                    raise SignatureError("auth token from an untrusted issuer", code="invalid_jwt")
                auth = validate_auth_token(token, keys, now=now, audience=self.issuer)
                check_key_binding(auth, jkt)
                return Identity("auth", jkt, ps=auth.ps, sub=auth.sub, scope=auth.scope, token=auth)
            raise SignatureError(f"a {typ!r} token cannot sign requests here", code="invalid_jwt")
        except (SignatureError, TokenError) as exc:
            raise Reject(signature_problem(exc)) from None

    # ------------------------------------------------------------------ modes

    def _run(
        self, request: HttpRequest, route: Route, identity: Identity, now: int
    ) -> HttpResponse:
        return self._run_call(
            request.method,
            path_of(request.url),
            request.body,
            route=route,
            identity=identity,
            now=now,
        )

    def _run_call(
        self, method: str, path: str, body: bytes, *, route: Route, identity: Identity, now: int
    ) -> HttpResponse:
        """The protected app: records the call and describes it."""
        self.calls.append(Call(method, path, body, route.mode, identity, now))
        return json_response(
            200,
            {
                "ok": True,
                "call": len(self.calls),
                "method": method,
                "path": path,
                "mode": route.mode,
                "as": identity.kind,
                "agent": identity.agent,
                "ps": identity.ps,
                "sub": identity.sub,
                "scope": identity.scope,
                "body": body.decode("utf-8", "replace"),
            },
        )

    def _auth_token(
        self, request: HttpRequest, route: Route, identity: Identity, now: int
    ) -> HttpResponse:
        if identity.kind == "auth" and isinstance(identity.token, AuthToken):
            if frozenset(route.scope.split()) <= identity.token.scopes:
                return self._run(request, route, identity, now)
            # AAuth -11 §"Auth Token Required": step-up with a new resource token at any time
        elif identity.kind != "person":
            return _challenge(PersonTokenRequired())
        person = self.person_tokens.get((identity.ps or "", identity.sub or ""))
        if person is None:
            # AAuth -11 §8 "Resource": a resource token only after a verified person token
            return _challenge(PersonTokenRequired())
        resource_token = create_resource_token(
            self.key,
            kid=self.kid,
            now=now,
            jti=f"rt-{self._ids.hex_id(64)}",
            iss=self.issuer,
            aud=person.iss,  # three-party: the PS that issued the person token
            agent_jkt=identity.thumbprint,
            scope=route.scope,
            person_token=person,
            lifetime=self.resource_token_lifetime,
            emit_legacy_person_token_jti=self.emit_legacy_person_token_jti,
        )
        self.resource_tokens.append(resource_token)
        requirement = AuthTokenRequired(resource_token=resource_token)
        if not route.deferred:
            return _challenge(requirement)
        held = self._hold("auth-token", request, route, identity, requirement)
        return self._held_response(held)

    def _session(
        self, request: HttpRequest, route: Route, identity: Identity, now: int
    ) -> HttpResponse:
        try:
            presented = read_authorization(request)
        except HeaderError as exc:
            return problem("invalid_request", detail=exc.message)
        session = self.sessions.get(presented) if presented is not None else None
        if session is not None and session.agent_jkt == identity.thumbprint and now < session.exp:
            headers: list[tuple[str, str]] = []
            if self.rotate_session:
                # AAuth -11 §"AAuth-Access": the resource MAY rotate on any response
                self.rotate_session = False
                del self.sessions[session.token]
                headers.append(("AAuth-Access", self._new_session(identity, now)))
            as_session = replace(identity, kind="session", session=session.token)
            return self._run(request, route, as_session, now).with_headers(headers)
        if not route.interaction:
            token = self._new_session(identity, now)
            return self._run(request, route, identity, now).with_headers([("AAuth-Access", token)])
        code = self._ids.interaction_code()
        requirement = InteractionRequired(url=self.interaction_url, code=code)
        held = self._hold("session", request, route, identity, requirement)
        held.code = code
        return self._held_response(held)

    def _new_session(self, identity: Identity, now: int) -> str:
        token = build_aauth_access(f"st-{self._ids.hex_id()}")
        self.sessions[token] = Session(
            token=token,
            agent_jkt=identity.thumbprint,
            exp=now + self.session_lifetime,
            agent=identity.agent,
        )
        return token

    # ------------------------------------------------------------------ held calls (202)

    def _hold(
        self,
        kind: str,
        request: HttpRequest,
        route: Route,
        identity: Identity,
        requirement: Requirement,
    ) -> HeldCall:
        pending_id = self._ids.hex_id()  # AAuth -11: unguessable pending URL
        held = HeldCall(
            id=pending_id,
            url=f"{self.issuer}/pending/{pending_id}",
            kind=kind,
            route=route,
            agent_jkt=identity.thumbprint,
            method=request.method,
            path=path_of(request.url),
            body=request.body,
            requirement=requirement,
        )
        self.pending[pending_id] = held
        return held

    def _held_response(self, held: HeldCall) -> HttpResponse:
        headers = [
            ("AAuth-Requirement", build_aauth_requirement(held.requirement)),
            ("Location", f"/pending/{held.id}" if self.relative_locations else held.url),
        ]
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        headers.append(("Cache-Control", "no-store"))
        status = "interacting" if held.state == "interacting" else "pending"
        return json_response(202, {"status": status}, headers)

    def _poll(self, request: HttpRequest, now: int, pending_id: str) -> HttpResponse:
        held = self.pending.get(pending_id)
        if held is None:
            return problem("invalid_request", status=404, detail="no such pending call")
        if held.finished and held.result is None:
            return problem("invalid_request", status=410, detail="the pending call is over")
        # AAuth -11: re-verify the agent on every poll
        verified = self._verify(request, now, held.route)
        if verified is None:
            return _challenge(AgentTokenRequired())
        identity = self._identify(verified, now)
        if identity.thumbprint != held.agent_jkt:
            return problem("invalid_request", status=403, detail="another agent's call")
        if held.result is not None:
            # AAuth -11 §"Deferred form": replay the stored result for the same auth token
            token = identity.token
            if (
                isinstance(token, AuthToken)
                and token.jti == held.result_jti
                and now < held.result_exp
            ):
                return held.result
            return problem("invalid_request", status=410, detail="the pending call is over")
        if request.method == "DELETE":
            held.state = "cancelled"
            return HttpResponse(204)
        if request.method != "GET":
            return problem("invalid_request", status=405, detail="poll with GET")
        held.polls += 1
        if held.kind == "auth-token":
            return self._poll_deferred(held, identity, now)
        if held.state == "denied":
            held.state = "failed"
            return problem("denied", detail="the user said no")
        if held.state != "approved":
            return self._held_response(held)
        held.state = "done"
        session = self._new_session(identity, now)
        response = self._run_call(
            held.method, held.path, held.body, route=held.route, identity=identity, now=now
        )
        return response.with_headers([("AAuth-Access", session)])

    def _poll_deferred(self, held: HeldCall, identity: Identity, now: int) -> HttpResponse:
        token = identity.token
        wanted = frozenset(held.route.scope.split())
        if not isinstance(token, AuthToken) or not wanted <= token.scopes:
            return self._held_response(held)  # still waiting for the auth token
        result = self._run_call(
            held.method, held.path, held.body, route=held.route, identity=identity, now=now
        )
        held.state = "done"
        held.result, held.result_jti, held.result_exp = result, token.jti, token.exp
        return result
