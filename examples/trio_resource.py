"""An API protected by AAuth on trio (``aauth_trio.AAuthServer``).

Agents whose agent token verifies may call ``/whoami``; ``/data`` wants an auth token with
scope ``data.read``. Run ``python examples/trio_resource.py`` to serve it on
http://127.0.0.1:8080, and put it behind TLS as ``https://api.example`` (its identifier).
"""

from __future__ import annotations

import os
import secrets

import trio

from aauth.discovery import DiscoveryCache
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import Ed25519Key
from aauth.resource import AccessMode, ResourcePolicy, ResourceServer, ResourceVerifier, Verified
from aauth_trio import AAuthServer


async def handler(request: HttpRequest, identity: Verified | None) -> HttpResponse:
    """The application: runs only for requests the engine let through."""
    who = (identity.sub or identity.agent) if identity else "anyone"
    return HttpResponse(200, [("Content-Type", "text/plain")], f"hello {who}\n".encode())


def build(identifier: str = "https://api.example") -> AAuthServer:
    """The resource: its identifier, the key that signs its resource tokens, its routes."""
    verifier = ResourceVerifier(
        identifier,
        Ed25519Key.generate(os.urandom(32)),  # load a stored key in production
        "key-1",
        {
            "/whoami": ResourcePolicy(mode=AccessMode.AGENT_TOKEN),
            "/data": ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="data.read"),
        },
        DiscoveryCache(),
    )
    resource = ResourceServer(verifier, new_secret=lambda: secrets.token_urlsafe(24))
    return AAuthServer(resource, handler)


if __name__ == "__main__":
    trio.run(build().serve, "127.0.0.1", 8080)
