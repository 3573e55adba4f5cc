"""Protect an aiohttp.web application with AAuth.

Run: ``python examples/aiohttp_resource.py`` (serves http://127.0.0.1:8080).

``/whoami`` accepts any agent whose Agent Provider publishes its keys; the middleware
verifies each request (fetching the issuer's metadata and JWKS as needed) and hands the
handler the verified identity. Deploy it behind TLS at the resource identifier.
"""

from __future__ import annotations

import os
import secrets

from aiohttp import web

from aauth.discovery import DiscoveryCache
from aauth.keys import Ed25519Key
from aauth.resource import AccessMode, ResourcePolicy, ResourceServer, ResourceVerifier
from aauth_aiohttp import AAuthMiddleware, get_identity


async def whoami(request: web.Request) -> web.Response:
    identity = get_identity(request)
    assert identity is not None  # the middleware let the request through: it is verified
    return web.json_response({"agent": identity.agent, "thumbprint": identity.thumbprint})


def make_app() -> web.Application:
    verifier = ResourceVerifier(
        "https://api.example",  # the resource identifier (aud of person and auth tokens)
        Ed25519Key.generate(os.urandom(32)),  # signs resource tokens; keep it across restarts
        "resource-key-1",
        {"/whoami": ResourcePolicy(mode=AccessMode.AGENT_TOKEN)},
        DiscoveryCache(),
    )
    server = ResourceServer(verifier, new_secret=lambda: secrets.token_urlsafe(24))
    app = web.Application()
    AAuthMiddleware(server).install(app)
    app.router.add_get("/whoami", whoami)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=8080)
