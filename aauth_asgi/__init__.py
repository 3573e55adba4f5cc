"""aauth_asgi: AAuth for ASGI applications (issue 5) — :class:`AAuthMiddleware` puts the
sans-IO resource engine (:class:`aauth.resource.ResourceServer`) in front of any ASGI app
(Starlette, FastAPI, the MCP Python SDK's streamable HTTP app …); no framework is imported.

::

    from aauth_asgi import AAuthMiddleware, get_identity

    app = AAuthMiddleware(starlette_app, server)


    async def whoami(request):  # a Starlette endpoint behind the middleware
        identity = get_identity(request)  # aauth.resource.Verified, or None on a public path
        return JSONResponse({"agent": identity.agent if identity else None})

The identity is in ``scope["aauth"]`` (:data:`SCOPE_KEY`). WebSocket and lifespan scopes pass
through untouched (WebSockets unauthenticated: see :class:`AAuthMiddleware`).
"""

from __future__ import annotations

from ._middleware import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CAPTURED_BODY,
    SCOPE_KEY,
    AAuthMiddleware,
    get_identity,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CAPTURED_BODY",
    "SCOPE_KEY",
    "AAuthMiddleware",
    "get_identity",
]
