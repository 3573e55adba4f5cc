"""Protect an MCP server (the MCP Python SDK's streamable HTTP transport) with AAuth.

Run: ``python examples/mcp_resource.py`` (uvicorn on http://127.0.0.1:8000/mcp).

Every MCP request (``initialize``, ``tools/call``, the SSE stream) must be signed by an agent
holding an auth token with scope ``tools.call``; the agent's AAuth client (for instance
``aauth_httpx.AAuth``) answers the ``401`` challenges by fetching a person token and an auth
token from its Person Server. Tools read the verified identity from the HTTP request the SDK
hands them. Deploy it behind TLS at the resource identifier.
"""

from __future__ import annotations

import os
import secrets

from mcp.server.mcpserver import Context, MCPServer

from aauth.discovery import DiscoveryCache
from aauth.keys import Ed25519Key
from aauth.resource import AccessMode, ResourcePolicy, ResourceServer, ResourceVerifier
from aauth_asgi import AAuthMiddleware, get_identity

mcp = MCPServer("aauth-demo")


@mcp.tool()
def whoami(ctx: Context) -> dict[str, str | None]:
    """Who is calling: the person's directed identifier, the scope granted, the agent key."""
    identity = get_identity(ctx.request_context.request)  # aauth.resource.Verified
    assert identity is not None  # the middleware let the request through: it is verified
    return {"sub": identity.sub, "scope": identity.scope, "agent_jkt": identity.thumbprint}


def make_server(identifier: str = "https://mcp.example", path: str = "/mcp") -> ResourceServer:
    """The resource engine: an auth token with scope ``tools.call`` for everything under
    ``path``."""
    verifier = ResourceVerifier(
        identifier,  # the resource identifier (aud of person and auth tokens)
        Ed25519Key.generate(os.urandom(32)),  # signs resource tokens; keep it across restarts
        "resource-key-1",
        {path: ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="tools.call")},
        DiscoveryCache(),
    )
    return ResourceServer(verifier, new_secret=lambda: secrets.token_urlsafe(24))


def make_app(server: ResourceServer, path: str = "/mcp") -> AAuthMiddleware:
    """The SDK's streamable HTTP app (lifespan included) behind the middleware."""
    return AAuthMiddleware(mcp.streamable_http_app(streamable_http_path=path), server)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(make_app(make_server()), host="127.0.0.1", port=8000)
