"""A fake Person Server (AAuth -11 §"Person Server", §"Deferred Responses"; digest §1.4, §1.6,
§7.2, §7.3, §7.5, §8 "PS").

``FakePersonServer.handle(request, now) -> response`` serves:

* ``GET /.well-known/aauth-person.json`` and ``GET /jwks.json``;
* ``POST /person-token`` (``person_token_endpoint``): ``{"resource": …}`` signed with the agent
  token -> ``200 {"person_token", "expires_in"}``;
* ``POST /token`` (``auth_token_endpoint``): ``{"resource_token": …}`` signed with the agent
  token; the resource token must be for this PS (``aud``, ``ps``), bound to the signer
  (``agent_jkt``) and name a person token this PS issued (``presented_jti``) ->
  ``200 {"auth_token", "expires_in"}``;
* ``/pending/<id>``: ``GET`` polls, ``POST`` answers (``action``), ``DELETE`` cancels.

Four-party: after :meth:`FakePersonServer.federate_with` an Access Server, a resource token
whose ``aud`` is that AS is checked as for this PS (``ps``, binding, ``presented_jti``) and
exchanged at the AS (digest §1.4 step 5): the PS signs ``POST {as}/token`` with
``{"resource_token", "agent_token"}`` as itself (``jwks_uri`` scheme), hands it to the AS's
``handle`` in process, checks the AS's auth token (digest §4.5 "PS verification of an
AS-issued token") and passes it on.

Every request to an endpoint or pending URL is verified (RFC 9421 signature, ``content-type``
and ``content-digest`` covered when there is a body, agent token from a trusted AP, bound to
the signing key, naming this PS). Switches are plain attributes a test sets between calls.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from aauth.aauth_headers import (
    ApprovalPending,
    ClarificationRequired,
    InteractionRequired,
    build_aauth_requirement,
)
from aauth.errors import SignatureError
from aauth.http import HttpRequest, HttpResponse
from aauth.identifiers import InvalidIdentifierError, validate_server_id
from aauth.metadata import DWK_PERSON, PersonServerMetadata, serialize_metadata
from aauth.problems import ENDPOINT_ERROR_STATUS
from aauth.signature_key import JwksUriKey
from aauth.signing import VerifiedRequest, sign_request, verify_request
from aauth.tokens import (
    AUTH_TOKEN_MAX_LIFETIME,
    PERSON_TOKEN_MAX_LIFETIME,
    TYP_AGENT,
    TYP_RESOURCE,
    AgentToken,
    PersonTokenRecord,
    ResourceToken,
    TokenError,
    build_auth_token,
    build_person_token,
    check_key_binding,
    check_presented_jti,
    token_discovery,
    validate_agent_token,
    validate_auth_token,
    validate_resource_token,
)

from ._common import (
    JSON,
    Exchange,
    Fault,
    Handler,
    Issuer,
    RecordingServer,
    Reject,
    Seeded,
    fault_response,
    json_response,
    jwks_of,
    path_of,
    problem,
    read_json_object,
    seeded_key,
    signature_problem,
    trust_map,
)

__all__ = ["Defer", "Exchange", "FakePersonServer", "PendingRequest"]


class Defer(enum.Enum):
    """How a token endpoint defers its answer (``202``, AAuth -11 §"Deferred Responses")."""

    INTERACTION = "interaction"
    """``requirement=interaction; url=…; code=…``: done after ``approve(code)``."""
    APPROVAL = "approval"
    """``requirement=approval``: done on the ``approval_polls``-th poll."""
    CLARIFICATION = "clarification"
    """``requirement=clarification`` with a question: done on the poll after
    ``clarification_rounds`` answers."""
    FOREVER = "forever"
    """``202 {"status": "pending"}`` on every poll: never completes."""


_FINISHED = frozenset({"done", "failed", "cancelled"})


@dataclass(eq=False)
class PendingRequest:
    """A deferred token request behind a pending URL (inspect it from tests).

    ``state``: ``pending`` -> (``interacting``) -> ``approved``/``denied`` -> ``done``/``failed``;
    ``cancelled`` after ``DELETE``. A finished request answers ``410``.
    """

    id: str
    url: str
    kind: str
    """``person_token`` or ``auth_token``."""
    defer: Defer
    agent_jkt: str
    code: str | None = None
    interaction_url: str | None = None
    resource: str | None = None
    resource_token: ResourceToken | None = None
    state: str = "pending"
    polls: int = 0
    questions: int = 0
    answers: list[str] = field(default_factory=list)
    justifications: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the pending URL now answers ``410``."""
        return self.state in _FINISHED

    @property
    def question_outstanding(self) -> bool:
        """Whether a clarification question waits for its answer."""
        return self.questions > len(self.answers)


def _token_problem(exc: TokenError) -> HttpResponse:
    """``400`` (or the table's status) problem for a token rejected at an endpoint."""
    status = None if exc.code in ENDPOINT_ERROR_STATUS else 400
    return problem(exc.code, status=status, detail=exc.message)


class AccessServerPeer(Issuer, Protocol):
    """What the PS needs of an Access Server it federates with (a
    :class:`~tests.fakes.access_server.FakeAccessServer`): identifier, JWKS, ``handle``."""

    @property
    def handle(self) -> Handler: ...


class FakePersonServer(RecordingServer[PendingRequest]):
    """A Person Server at ``issuer``.

    :param agent_providers: trusted APs: fakes (with ``issuer`` and ``jwks``) or
        ``{issuer: jwks}``. Agent tokens from anyone else are ``invalid_agent_token``.
    :param resources: trusted resources whose resource tokens it accepts (same forms; more
        with :meth:`trust_resource`). A real PS fetches their JWKS; the fake is told.
    :param seed: derives the PS key, token ids, pending ids and interaction codes.
    :param person: the person behind this PS (directed ``sub`` values derive from it).

    Switches (plain attributes; set them between calls):

    * ``person_token_defer`` / ``auth_token_defer``: a :class:`Defer` or ``None`` (answer
      ``200`` at once).
    * ``person_token_fault`` / ``auth_token_fault`` / ``metadata_fault``: a :class:`Fault`
      answered on every call to that endpoint instead of the normal answer (``None``: off).
    * ``poll_faults``: faults answered to the next polls, one per poll, in order; a terminal
      one finishes the pending request (later polls get ``410``).
    * ``approval_polls`` (default 1): the poll that completes an approval.
    * ``clarification_question``, ``clarification_options``, ``clarification_timeout``,
      ``clarification_rounds`` (default 1).
    * ``retry_after`` (default 0; ``None`` omits the header, to exercise the 5 s default).
    * ``relative_locations`` (default ``False``): ``Location: /pending/…`` instead of the
      absolute URL on the PS's identifier.
    * ``person_token_lifetime``, ``auth_token_lifetime`` (default 3600).
    * ``check_presented_jti`` (default ``True``): the resource token's ``presented_jti`` must
      name a person token this PS issued.
    """

    _pending_noun = "pending request"

    def __init__(
        self,
        issuer: str = "https://ps.example",
        *,
        agent_providers: list[Issuer] | dict[str, dict[str, Any]] | None = None,
        resources: list[Issuer] | dict[str, dict[str, Any]] | None = None,
        seed: int = 0,
        kid: str = "ps-key-1",
        person: str = "alice",
    ) -> None:
        self.issuer = issuer
        self.kid = kid
        self.person = person
        self.key = seeded_key(f"person-server:{issuer}", seed)
        self.agent_providers = trust_map(agent_providers)
        self.resources = trust_map(resources)
        self._ids = Seeded(seed, f"person-server:{issuer}")
        # switches
        self.person_token_defer: Defer | None = None
        self.auth_token_defer: Defer | None = None
        self.person_token_fault: Fault | None = None
        self.auth_token_fault: Fault | None = None
        self.metadata_fault: Fault | None = None
        self.poll_faults: list[Fault] = []
        self.approval_polls = 1
        self.clarification_question = "Which of your calendars should I use?"
        self.clarification_options: list[str] | None = None
        self.clarification_timeout: int | None = None
        self.clarification_rounds = 1
        self.retry_after: int | None = 0
        self.relative_locations = False
        self.person_token_lifetime = PERSON_TOKEN_MAX_LIFETIME
        self.auth_token_lifetime = AUTH_TOKEN_MAX_LIFETIME
        self.check_presented_jti = True
        # records
        self.log: list[Exchange] = []
        self.pending: dict[str, PendingRequest] = {}
        self.person_tokens: list[str] = []
        self.auth_tokens: list[str] = []
        self.person_records: dict[str, PersonTokenRecord] = {}
        self.clarification_answers: list[str] = []
        self.access_servers: dict[str, AccessServerPeer] = {}
        self.federated: list[str] = []
        # raw tokens by jti, for the request to an AS (the models keep only claims)
        self._agent_tokens: dict[str, str] = {}
        self._resource_tokens: dict[str, str] = {}

    # ------------------------------------------------------------------ configuration

    @property
    def jwks(self) -> dict[str, Any]:
        """The PS's public JWKS."""
        return jwks_of(self.key, self.kid)

    @property
    def metadata(self) -> PersonServerMetadata:
        """The ``aauth-person.json`` document (endpoints on the PS's identifier)."""
        return PersonServerMetadata(
            issuer=self.issuer,
            jwks_uri=f"{self.issuer}/jwks.json",
            person_token_endpoint=f"{self.issuer}/person-token",
            auth_token_endpoint=f"{self.issuer}/token",
            scopes_supported=("data.read", "data.write"),
        )

    @property
    def interaction_url(self) -> str:
        """Where the user goes (``{url}?code={code}``); https, no query (AAuth -11)."""
        return f"{self.issuer}/interact"

    def trust_agent_provider(self, provider: Issuer) -> None:
        """Accept agent tokens from ``provider``."""
        self.agent_providers[provider.issuer] = provider.jwks

    def trust_resource(self, resource: Issuer) -> None:
        """Accept resource tokens from ``resource``."""
        self.resources[resource.issuer] = resource.jwks

    def federate_with(self, access_server: AccessServerPeer) -> None:
        """Exchange resource tokens whose ``aud`` is ``access_server`` at that AS."""
        self.access_servers[access_server.issuer] = access_server

    def subject_for(self, resource: str) -> str:
        """The directed ``sub`` of this PS's person at ``resource`` (stable, pairwise)."""
        digest = hashlib.sha256(f"{self.person}|{resource}".encode()).hexdigest()
        return f"u-{digest[:16]}"

    # ------------------------------------------------------------------ test controls

    def approve(self, ref: str) -> None:
        """The person approves (``ref``: interaction code, pending id or URL); the next poll
        completes. Raises ``LookupError`` for an unknown or finished request."""
        pending = self._find(ref)
        if pending.finished:
            raise LookupError(f"the pending request for {ref!r} is finished")
        pending.state = "approved"

    def deny(self, ref: str) -> None:
        """The person refuses; the next poll answers ``403 denied``."""
        pending = self._find(ref)
        if pending.finished:
            raise LookupError(f"the pending request for {ref!r} is finished")
        pending.state = "denied"

    @property
    def last_pending(self) -> PendingRequest:
        """The most recently created pending request."""
        if not self.pending:
            raise LookupError("no pending request yet")
        return list(self.pending.values())[-1]

    # ------------------------------------------------------------------ HTTP

    def _route(self, request: HttpRequest, now: int) -> HttpResponse:
        path = path_of(request.url)
        method = request.method
        if path.startswith("/pending/"):
            return self._pending(request, now, path.removeprefix("/pending/"))
        endpoints = {
            "/.well-known/aauth-person.json": "GET",
            "/jwks.json": "GET",
            "/person-token": "POST",
            "/token": "POST",
        }
        wanted = endpoints.get(path)
        if wanted is None:
            return problem("invalid_request", status=404, detail=f"no such endpoint {path}")
        if method != wanted:
            return problem("invalid_request", status=405, detail=f"{path} takes {wanted}")
        if path == "/.well-known/aauth-person.json":
            if self.metadata_fault is not None:
                return fault_response(self.metadata_fault)
            return HttpResponse(200, [("Content-Type", JSON)], serialize_metadata(self.metadata))
        if path == "/jwks.json":
            return json_response(200, self.jwks)
        if path == "/person-token":
            return self._person_token(request, now)
        return self._auth_token(request, now)

    def _authenticate(self, request: HttpRequest, now: int) -> tuple[VerifiedRequest, AgentToken]:
        """AAuth -11 §8 "PS": verify the signature, then the agent token behind it."""
        try:
            # AAuth -11 §"Endpoint formats": bodies to a PS cover content-type, content-digest
            verified = verify_request(request, now=now, require_body_digest=True, schemes=("jwt",))
        except SignatureError as exc:
            raise Reject(signature_problem(exc)) from None
        if verified.token_header.get("typ") != TYP_AGENT:
            raise Reject(
                problem("invalid_agent_token", detail="PS requests are signed with an agent token")
            )
        issuer = verified.token_claims.get("iss")
        keys = self.agent_providers.get(issuer) if isinstance(issuer, str) else None
        if keys is None:
            raise Reject(problem("invalid_agent_token", detail="untrusted agent provider"))
        try:
            agent = validate_agent_token(
                verified.token or "", keys, now=now, error_codes="endpoint"
            )
            check_key_binding(agent, verified.thumbprint, error_codes="endpoint")
        except TokenError as exc:
            raise Reject(_token_problem(exc)) from None
        if agent.is_subagent:
            # AAuth -11 §8 "PS": reject requests signed by a sub-agent
            raise Reject(problem("invalid_agent_token", detail="sub-agents must not call the PS"))
        if agent.ps != self.issuer:
            raise Reject(problem("invalid_agent_token", detail="the agent token names another PS"))
        self._agent_tokens[agent.jti] = verified.token or ""
        return verified, agent

    def _check_resource_token(self, token: str, agent_jkt: str, now: int) -> ResourceToken:
        """AAuth -11 §"Resource Token Verification" as the PS: ``aud`` and ``ps`` are this PS,
        ``agent_jkt`` the signer, ``presented_jti`` a person token this PS issued."""
        try:
            found = token_discovery(token, typ=TYP_RESOURCE)
            keys = self.resources.get(found.iss)
            if keys is None:
                raise Reject(problem("invalid_resource_token", detail="untrusted resource"))
            audience = found.parsed.claims.get("aud")
            if not isinstance(audience, str) or audience not in self.access_servers:
                audience = self.issuer  # three-party: the token must be for this PS
            model = validate_resource_token(
                found.parsed, keys, now=now, audience=audience, ps=self.issuer
            )
            check_key_binding(model, agent_jkt, error_codes="endpoint")
            if self.check_presented_jti:
                check_presented_jti(model, self.person_records.get(model.presented_jti))
        except TokenError as exc:
            raise Reject(_token_problem(exc)) from None
        self._resource_tokens[model.jti] = token
        return model

    def _person_token(self, request: HttpRequest, now: int) -> HttpResponse:
        verified, agent = self._authenticate(request, now)
        body = read_json_object(request)
        resource = body.get("resource")
        if not isinstance(resource, str):
            return problem("invalid_request", detail="'resource' (a string) is REQUIRED")
        try:
            validate_server_id(resource)  # AAuth -11 §7.2: the PS MUST validate it
        except InvalidIdentifierError as exc:
            return problem("invalid_request", detail=f"resource: {exc.message}")
        if self.person_token_fault is not None:
            return fault_response(self.person_token_fault)
        if self.person_token_defer is not None:
            return self._defer(
                "person_token", self.person_token_defer, verified.thumbprint, resource=resource
            )
        return self._issue_person_token(agent, resource, now)

    def _auth_token(self, request: HttpRequest, now: int) -> HttpResponse:
        verified, agent = self._authenticate(request, now)
        body = read_json_object(request)
        token = body.get("resource_token")
        if not isinstance(token, str):
            return problem("invalid_request", detail="'resource_token' (a string) is REQUIRED")
        resource_token = self._check_resource_token(token, verified.thumbprint, now)
        if self.auth_token_fault is not None:
            return fault_response(self.auth_token_fault)
        if self.auth_token_defer is not None:
            return self._defer(
                "auth_token",
                self.auth_token_defer,
                verified.thumbprint,
                resource_token=resource_token,
            )
        return self._issue_auth_token(agent, resource_token, now)

    def _issue_person_token(self, agent: AgentToken, resource: str, now: int) -> HttpResponse:
        lifetime = min(self.person_token_lifetime, PERSON_TOKEN_MAX_LIFETIME)
        exp = min(now + lifetime, agent.exp)
        jti = f"pt-{self._ids.hex_id(64)}"
        sub = self.subject_for(resource)
        token = build_person_token(
            self.key,
            kid=self.kid,
            now=now,
            jti=jti,
            iss=self.issuer,
            aud=resource,
            sub=sub,
            cnf_jwk=agent.cnf_jwk,
            lifetime=lifetime,
            not_after=agent.exp,  # AAuth -11 §8 "PS": never beyond the agent token
        )
        self.person_tokens.append(token)
        self.person_records[jti] = PersonTokenRecord(jti=jti, ps=self.issuer, sub=sub, exp=exp)
        return json_response(200, {"person_token": token, "expires_in": exp - now})

    def _issue_auth_token(
        self, agent: AgentToken, resource_token: ResourceToken, now: int
    ) -> HttpResponse:
        peer = self.access_servers.get(resource_token.aud)
        if peer is not None:
            return self._federate(peer, agent, resource_token, now)
        lifetime = min(self.auth_token_lifetime, AUTH_TOKEN_MAX_LIFETIME)
        exp = min(now + lifetime, agent.exp)
        token = build_auth_token(
            self.key,
            kid=self.kid,
            now=now,
            jti=f"at-{self._ids.hex_id(64)}",
            iss=self.issuer,
            dwk=DWK_PERSON,  # three-party: the PS issues it itself
            aud=resource_token.iss,
            ps=self.issuer,
            sub=resource_token.sub,
            cnf_jwk=agent.cnf_jwk,
            lifetime=lifetime,
            not_after=agent.exp,
            scope=resource_token.scope,
            account=resource_token.account,
            mission_s256=resource_token.mission_s256,
            tenant=resource_token.tenant,
        )
        self.auth_tokens.append(token)
        return json_response(200, {"auth_token": token, "expires_in": exp - now})

    def _federate(
        self, peer: AccessServerPeer, agent: AgentToken, resource_token: ResourceToken, now: int
    ) -> HttpResponse:
        """Digest §1.4 step 5 (four-party): ask the AS, check its answer, pass it on."""
        body = json.dumps(
            {
                "resource_token": self._resource_tokens[resource_token.jti],
                "agent_token": self._agent_tokens[agent.jti],
            }
        ).encode()
        request = HttpRequest("POST", f"{peer.issuer}/token", [("Content-Type", JSON)], body)
        signed = sign_request(
            request,
            self.key,
            signature_key=JwksUriKey(label="sig", id=self.issuer, dwk=DWK_PERSON, kid=self.kid),
            created=now,
        )
        answer = peer.handle(signed, now)
        if answer.status != 200:
            return answer  # the AS's refusal, passed through
        try:
            token = json.loads(answer.body)["auth_token"]
            # digest §4.5 "PS verification of an AS-issued token"
            model = validate_auth_token(
                token,
                peer.jwks,
                now=now,
                audience=resource_token.iss,
                issuer=peer.issuer,
                subject=resource_token.sub,
                within_scope=resource_token.scope or "",
                error_codes="endpoint",
            )
            check_key_binding(model, agent.cnf_thumbprint, error_codes="endpoint")
        except (ValueError, KeyError, TypeError) as exc:
            return problem("server_error", status=502, detail=f"the AS answered badly: {exc}")
        except TokenError as exc:
            return problem("server_error", status=502, detail=f"the AS's token: {exc.message}")
        self.federated.append(token)
        self.auth_tokens.append(token)
        return json_response(200, {"auth_token": token, "expires_in": model.exp - now})

    # ------------------------------------------------------------------ deferred (202)

    def _defer(
        self,
        kind: str,
        defer: Defer,
        agent_jkt: str,
        *,
        resource: str | None = None,
        resource_token: ResourceToken | None = None,
    ) -> HttpResponse:
        pending_id = self._ids.hex_id()  # AAuth -11: pending URLs MUST be unguessable
        pending = PendingRequest(
            id=pending_id,
            url=f"{self.issuer}/pending/{pending_id}",
            kind=kind,
            defer=defer,
            agent_jkt=agent_jkt,
            resource=resource,
            resource_token=resource_token,
        )
        if defer is Defer.INTERACTION:
            pending.code = self._ids.interaction_code()
            pending.interaction_url = self.interaction_url
        if defer is Defer.CLARIFICATION:
            pending.questions = 1
        self.pending[pending_id] = pending
        return self._pending_response(pending)

    def _location(self, pending: PendingRequest) -> str:
        return f"/pending/{pending.id}" if self.relative_locations else pending.url

    def _pending_response(self, pending: PendingRequest) -> HttpResponse:
        """``202`` (AAuth -11 §"Deferred Responses"): Location, Retry-After, no-store, status."""
        headers: list[tuple[str, str]] = []
        if pending.defer is Defer.INTERACTION:
            assert pending.code is not None and pending.interaction_url is not None
            requirement = InteractionRequired(url=pending.interaction_url, code=pending.code)
            headers.append(("AAuth-Requirement", build_aauth_requirement(requirement)))
        elif pending.defer is Defer.APPROVAL:
            headers.append(("AAuth-Requirement", build_aauth_requirement(ApprovalPending())))
        elif pending.question_outstanding:
            headers.append(("AAuth-Requirement", build_aauth_requirement(ClarificationRequired())))
        headers.append(("Location", self._location(pending)))
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        headers.append(("Cache-Control", "no-store"))
        body: dict[str, Any] = {
            "status": "interacting" if pending.state == "interacting" else "pending"
        }
        if pending.question_outstanding:
            body["clarification"] = self.clarification_question
            if self.clarification_timeout is not None:
                body["timeout"] = self.clarification_timeout
            if self.clarification_options is not None:
                body["options"] = list(self.clarification_options)
        return json_response(202, body, headers)

    def _pending(self, request: HttpRequest, now: int, pending_id: str) -> HttpResponse:
        pending = self.pending.get(pending_id)
        if pending is None:
            return problem("invalid_request", status=404, detail="no such pending request")
        if pending.finished:
            # AAuth -11 §"Deferred Responses": after a terminal answer, 410 Gone
            return problem("invalid_request", status=410, detail="the pending request is over")
        if request.method not in ("GET", "POST", "DELETE"):
            return problem("invalid_request", status=405, detail="poll with GET")
        # AAuth -11: the server MUST verify the agent's identity on every poll
        verified, agent = self._authenticate(request, now)
        if verified.thumbprint != pending.agent_jkt:
            return problem("invalid_request", status=403, detail="another agent's request")
        if request.method == "DELETE":
            pending.state = "cancelled"
            return HttpResponse(204)
        if request.method == "POST":
            return self._pending_post(pending, request, verified, now)
        pending.polls += 1
        if self.poll_faults:
            fault = self.poll_faults.pop(0)
            if fault.terminal:
                pending.state = "failed"
            return fault_response(fault, location=self._location(pending))
        if pending.state == "denied":
            pending.state = "failed"
            return problem("denied", detail="the person said no")
        done = pending.state == "approved"
        if pending.defer is Defer.APPROVAL:
            done = done or pending.polls >= self.approval_polls
        elif pending.defer is Defer.CLARIFICATION:
            done = done or not pending.question_outstanding
        if not done:
            return self._pending_response(pending)
        pending.state = "done"
        if pending.kind == "person_token":
            assert pending.resource is not None
            return self._issue_person_token(agent, pending.resource, now)
        assert pending.resource_token is not None
        return self._issue_auth_token(agent, pending.resource_token, now)

    def _pending_post(
        self, pending: PendingRequest, request: HttpRequest, verified: VerifiedRequest, now: int
    ) -> HttpResponse:
        """AAuth -11 §"Clarification Chat" / digest §7.5: POST with an ``action``."""
        body = read_json_object(request)
        action = body.get("action")
        if action is None:
            return problem("invalid_request", detail="'action' is REQUIRED")
        if action == "clarification_response":
            text = body.get("clarification_response")
            if not isinstance(text, str):
                return problem("invalid_request", detail="'clarification_response' is REQUIRED")
            if not pending.question_outstanding:
                return problem("invalid_request", detail="no clarification question is open")
            pending.answers.append(text)
            self.clarification_answers.append(text)
            if len(pending.answers) < self.clarification_rounds:
                pending.questions += 1  # ask again
            return self._pending_response(pending)
        if action == "updated_request":
            token = body.get("resource_token")
            if pending.kind != "auth_token" or not isinstance(token, str):
                return problem("invalid_request", detail="an updated_request needs a token request")
            model = self._check_resource_token(token, verified.thumbprint, now)
            previous = pending.resource_token
            assert previous is not None
            # AAuth -11 §"Clarification Chat" (digest [AMBIG-4]): same iss and agent_jkt
            if model.iss != previous.iss or model.agent_jkt != previous.agent_jkt:
                return problem("invalid_resource_token", detail="not the same resource and agent")
            pending.resource_token = model
            justification = body.get("justification")
            pending.justifications.append(justification if isinstance(justification, str) else "")
            if pending.question_outstanding:
                pending.answers.append(pending.justifications[-1])
            return self._pending_response(pending)
        return problem("invalid_request", detail="unknown action")
