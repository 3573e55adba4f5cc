"""A fake Access Server: the resource side's policy engine of the four-party flow (AAuth -11
§"Access Server", §"AS auth_token_endpoint"; digest §1.3, §1.4 step 5, §4.5, §7.4).

``FakeAccessServer.handle(request, now) -> response`` serves:

* ``GET /.well-known/aauth-access.json`` and ``GET /jwks.json``;
* ``POST /token`` (``auth_token_endpoint``): ``{"resource_token": …, "agent_token": …}``
  signed *as a Person Server* (``Signature-Key: sig=jwks_uri;id=<ps>;dwk=aauth-person.json;
  kid=…``, digest [AMBIG-2]: the spec prints ``jwks_uri`` without profiling it). The signer
  must be a trusted PS; the resource token must be for this AS (``aud``), from a trusted
  resource, name the calling PS in ``ps`` (digest §4.4 "AS") and be bound (``agent_jkt``) to
  the agent token's key -> ``200 {"auth_token", "expires_in"}``, an auth token with
  ``iss`` = this AS, ``dwk`` = ``aauth-access.json``, ``ps`` = the person's PS.

A PS reaches it through :meth:`FakePersonServer.federate_with
<tests.fakes.person_server.FakePersonServer.federate_with>` (in process: the PS calls
``handle`` with the signed request it built).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aauth.errors import SignatureError
from aauth.http import HttpRequest, HttpResponse
from aauth.metadata import DWK_ACCESS, DWK_PERSON, AccessServerMetadata, serialize_metadata
from aauth.signature_key import JwksUriKey
from aauth.signing import verify_request
from aauth.tokens import (
    AUTH_TOKEN_MAX_LIFETIME,
    TYP_RESOURCE,
    TokenError,
    build_auth_token,
    token_discovery,
    validate_agent_token,
    validate_resource_token,
)

from ._common import (
    JSON,
    Exchange,
    Fault,
    Issuer,
    LoggingServer,
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

__all__ = ["FakeAccessServer"]


class FakeAccessServer(LoggingServer):
    """An Access Server at ``issuer``.

    :param person_servers: PSes allowed to call ``/token`` (fakes or ``{issuer: jwks}``).
    :param agent_providers: APs whose agent tokens it accepts in the request body.
    :param resources: resources whose resource tokens it accepts (:meth:`trust_resource`).
    :param seed: derives the AS key and token ids.

    Switches: ``token_fault`` (a :class:`Fault` answered by ``/token`` instead of the token),
    ``auth_token_lifetime`` (3600). Records: ``log``, ``auth_tokens``, ``callers`` (the PS
    identifier of each accepted ``/token`` call).
    """

    def __init__(
        self,
        issuer: str = "https://as.example",
        *,
        person_servers: list[Issuer] | dict[str, dict[str, Any]] | None = None,
        agent_providers: list[Issuer] | dict[str, dict[str, Any]] | None = None,
        resources: list[Issuer] | dict[str, dict[str, Any]] | None = None,
        seed: int = 0,
        kid: str = "as-key-1",
    ) -> None:
        self.issuer = issuer
        self.kid = kid
        self.key = seeded_key(f"access-server:{issuer}", seed)
        self.person_servers = trust_map(person_servers)
        self.agent_providers = trust_map(agent_providers)
        self.resources = trust_map(resources)
        self._ids = Seeded(seed, f"access-server:{issuer}")
        self.token_fault: Fault | None = None
        self.auth_token_lifetime = AUTH_TOKEN_MAX_LIFETIME
        self.log: list[Exchange] = []
        self.auth_tokens: list[str] = []
        self.callers: list[str] = []

    # ------------------------------------------------------------------ configuration

    @property
    def jwks(self) -> dict[str, Any]:
        """The AS's public JWKS."""
        return jwks_of(self.key, self.kid)

    @property
    def metadata(self) -> AccessServerMetadata:
        """The ``aauth-access.json`` document."""
        return AccessServerMetadata(
            issuer=self.issuer,
            jwks_uri=f"{self.issuer}/jwks.json",
            auth_token_endpoint=f"{self.issuer}/token",
        )

    def trust_person_server(self, server: Issuer) -> None:
        """Accept ``/token`` calls signed by ``server``."""
        self.person_servers[server.issuer] = server.jwks

    def trust_resource(self, resource: Issuer | tuple[str, dict[str, Any]]) -> None:
        """Accept resource tokens of ``resource`` (a fake, or ``(issuer, jwks)``)."""
        if isinstance(resource, tuple):
            self.resources[resource[0]] = resource[1]
        else:
            self.resources[resource.issuer] = resource.jwks

    # ------------------------------------------------------------------ HTTP

    def _route(self, request: HttpRequest, now: int) -> HttpResponse:
        path = path_of(request.url)
        if path == "/.well-known/aauth-access.json" and request.method == "GET":
            return HttpResponse(200, [("Content-Type", JSON)], serialize_metadata(self.metadata))
        if path == "/jwks.json" and request.method == "GET":
            return json_response(200, self.jwks)
        if path == "/token" and request.method == "POST":
            return self._token(request, now)
        return problem("invalid_request", status=404, detail=f"no such endpoint {path}")

    def _lookup(self, member: JwksUriKey) -> Mapping[str, Any] | None:
        """The calling PS's JWKS, if it is trusted (the fake is told, a real AS fetches)."""
        if member.dwk != DWK_PERSON:
            return None
        return self.person_servers.get(member.id)

    def _token(self, request: HttpRequest, now: int) -> HttpResponse:
        """AAuth -11 §"AS auth_token_endpoint" (digest §7.4, §4.4 "AS")."""
        try:
            verified = verify_request(
                request,
                now=now,
                require_body_digest=True,  # digest §2: bodies to a PS or AS
                schemes=("jwks_uri",),
                jwks_lookup=self._lookup,
            )
        except SignatureError as exc:
            raise Reject(signature_problem(exc)) from None
        member = verified.signature_key
        caller = member.id if isinstance(member, JwksUriKey) else ""
        body = read_json_object(request)
        resource_token = body.get("resource_token")
        agent_token = body.get("agent_token")
        if not isinstance(resource_token, str) or not isinstance(agent_token, str):
            return problem("invalid_request", detail="resource_token and agent_token are REQUIRED")
        if self.token_fault is not None:
            return fault_response(self.token_fault)
        try:
            found = token_discovery(resource_token, typ=TYP_RESOURCE)
            keys = self.resources.get(found.iss)
            if keys is None:
                return problem("invalid_resource_token", detail="untrusted resource")
            # digest §4.4 "AS": aud is this AS, ps names the PS that sent the request
            model = validate_resource_token(
                found.parsed, keys, now=now, audience=self.issuer, ps=caller
            )
            agent_issuer = token_discovery(agent_token, typ="aa-agent+jwt").iss
            agent_keys = self.agent_providers.get(agent_issuer)
            if agent_keys is None:
                return problem("invalid_agent_token", detail="untrusted agent provider")
            agent = validate_agent_token(agent_token, agent_keys, now=now, error_codes="endpoint")
        except TokenError as exc:
            return problem(exc.code, status=400, detail=exc.message)
        if agent.cnf_thumbprint != model.agent_jkt:
            return problem("invalid_resource_token", detail="agent_jkt is not the agent's key")
        lifetime = min(self.auth_token_lifetime, AUTH_TOKEN_MAX_LIFETIME)
        exp = min(now + lifetime, agent.exp)
        token = build_auth_token(
            self.key,
            kid=self.kid,
            now=now,
            jti=f"as-at-{self._ids.hex_id(64)}",
            iss=self.issuer,
            dwk=DWK_ACCESS,  # four-party: the AS issues it
            aud=model.iss,
            ps=model.ps,
            sub=model.sub,
            cnf_jwk=agent.cnf_jwk,
            lifetime=lifetime,
            not_after=agent.exp,
            scope=model.scope,
            account=model.account,
            mission_s256=model.mission_s256,
            tenant=model.tenant,
        )
        self.auth_tokens.append(token)
        self.callers.append(caller)
        return json_response(200, {"auth_token": token, "expires_in": exp - now})
