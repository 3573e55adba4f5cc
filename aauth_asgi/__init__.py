"""AAuth for ASGI applications (issue 5): :class:`AAuthMiddleware` puts the sans-IO resource
engine (:mod:`aauth.resource`) in front of any ASGI app. Being written."""

from __future__ import annotations

__all__: list[str] = []
