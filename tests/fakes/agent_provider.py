"""A fake Agent Provider: one Ed25519 key, its JWKS, ``aauth-agent.json``, and agent tokens
(``aa-agent+jwt``) minted for whatever agent key a test hands it (AAuth -11 §"Agent Token",
§"Agent Provider Metadata"; digest §4.2, §6.2)."""

from __future__ import annotations

from typing import Any

from aauth.http import HttpRequest, HttpResponse
from aauth.keys import Ed25519Key, PrivateKey, PublicKey
from aauth.metadata import AgentProviderMetadata, serialize_metadata
from aauth.tokens import build_agent_token

from ._common import JSON, json_response, jwks_of, path_of, problem, seeded_key

__all__ = ["FakeAgentProvider"]

_UNSET: Any = object()


class FakeAgentProvider:
    """An Agent Provider at ``issuer``.

    :param issuer: its server identifier (``https://agent.example``).
    :param ps: the ``ps`` claim put in minted tokens unless ``mint`` says otherwise.
    :param seed: derives the AP key (and the agent keys of :meth:`agent_key`).
    :param kid: the key's ``kid`` in the JWKS and in token headers.

    Serves ``GET /.well-known/aauth-agent.json`` and ``GET /jwks.json``; everything else 404.
    """

    def __init__(
        self,
        issuer: str = "https://agent.example",
        *,
        ps: str | None = "https://ps.example",
        seed: int = 0,
        kid: str = "ap-key-1",
        agent_name: str = "assistant",
    ) -> None:
        self.issuer = issuer
        self.ps = ps
        self.seed = seed
        self.kid = kid
        self.agent_name = agent_name
        self.key = seeded_key(f"agent-provider:{issuer}", seed)
        self.minted: list[str] = []
        self.requests: list[HttpRequest] = []

    @property
    def jwks(self) -> dict[str, Any]:
        """The public JWKS (``{"keys": [...]}``, each key with ``kid`` and ``alg``)."""
        return jwks_of(self.key, self.kid)

    @property
    def jwks_uri(self) -> str:
        """Where the JWKS is served."""
        return f"{self.issuer}/jwks.json"

    @property
    def metadata(self) -> AgentProviderMetadata:
        """The ``aauth-agent.json`` document."""
        return AgentProviderMetadata(issuer=self.issuer, jwks_uri=self.jwks_uri)

    @property
    def agent_id(self) -> str:
        """The default agent identifier, ``aauth:{agent_name}@{host}``."""
        host = self.issuer.split("://", 1)[1]
        return f"aauth:{self.agent_name}@{host}"

    def agent_key(self, name: str = "agent") -> Ed25519Key:
        """A deterministic agent signing key (the agent's own key, not the AP's)."""
        return seeded_key(f"agent-key:{name}", self.seed)

    def mint(
        self,
        agent_key: PrivateKey | PublicKey,
        *,
        now: int,
        lifetime: int = 3600,
        agent_id: str | None = None,
        ps: str | None = _UNSET,
        parent_agent: str | None = None,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """An agent token binding ``agent_key`` (``cnf.jwk``), valid from ``now`` for
        ``lifetime`` seconds, with ``ps`` (default: the constructor's)."""
        public = agent_key if isinstance(agent_key, PublicKey) else agent_key.public_key
        token = build_agent_token(
            self.key,
            kid=self.kid,
            now=now,
            jti=f"agent-token-{len(self.minted) + 1}",
            iss=self.issuer,
            sub=agent_id or self.agent_id,
            cnf_jwk=public,
            lifetime=lifetime,
            ps=self.ps if ps is _UNSET else ps,
            parent_agent=parent_agent,
            extra_claims=extra_claims,
        )
        self.minted.append(token)
        return token

    def handle(self, request: HttpRequest, now: int) -> HttpResponse:
        """Serve the metadata document and the JWKS."""
        del now  # static documents
        self.requests.append(request)
        path = path_of(request.url)
        if request.method != "GET":
            return problem("invalid_request", status=405, detail="only GET is served here")
        if path == "/.well-known/aauth-agent.json":
            body = serialize_metadata(self.metadata)
            return HttpResponse(200, [("Content-Type", JSON)], body)
        if path == "/jwks.json":
            return json_response(200, self.jwks)
        return problem("invalid_request", status=404, detail=f"no such document {path}")
