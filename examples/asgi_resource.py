"""Protect a Starlette (or FastAPI) application with AAuth.

Run: ``python examples/asgi_resource.py`` (uvicorn on http://127.0.0.1:8000).

``/whoami`` accepts any agent whose Agent Provider publishes its keys; ``/reports`` wants an
auth token with scope ``reports.read`` (the agent gets it from its Person Server after the
challenge). The middleware verifies each request (fetching issuers' metadata and JWKS as
needed), answers challenges itself, serves ``/.well-known/aauth-resource.json`` and the JWKS,
and hands the endpoint the verified identity. Deploy it behind TLS at the resource
identifier. With FastAPI the same ``add_middleware`` line applies.
"""

from __future__ import annotations

import os
import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth.discovery import DiscoveryCache
from aauth.keys import Ed25519Key
from aauth.resource import AccessMode, ResourcePolicy, ResourceServer, ResourceVerifier
from aauth_asgi import AAuthMiddleware, get_identity


async def whoami(request: Request) -> JSONResponse:
    identity = get_identity(request)  # aauth.resource.Verified
    assert identity is not None  # the middleware let the request through: it is verified
    return JSONResponse({"agent": identity.agent, "sub": identity.sub, "scope": identity.scope})


def make_server(identifier: str = "https://api.example") -> ResourceServer:
    """The resource engine: its identifier, its resource-token key, a policy per route."""
    verifier = ResourceVerifier(
        identifier,  # the resource identifier (aud of person and auth tokens)
        Ed25519Key.generate(os.urandom(32)),  # signs resource tokens; keep it across restarts
        "resource-key-1",
        {
            "/whoami": ResourcePolicy(mode=AccessMode.AGENT_TOKEN),
            "/reports": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="reports.read"),
        },
        DiscoveryCache(),
    )
    return ResourceServer(verifier, new_secret=lambda: secrets.token_urlsafe(24))


def make_app(server: ResourceServer) -> Starlette:
    app = Starlette(routes=[Route("/whoami", whoami), Route("/reports", whoami)])
    app.add_middleware(AAuthMiddleware, server=server)  # FastAPI: the same line
    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(make_app(make_server()), host="127.0.0.1", port=8000)
