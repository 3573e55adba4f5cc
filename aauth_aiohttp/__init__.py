"""aauth_aiohttp: AAuth for aiohttp.

* :class:`AAuthClientMiddleware` is the agent side as an aiohttp (>= 3.12) client middleware:
  every request of a session signed, every AAuth challenge answered, tokens fetched and
  cached, deferred answers polled, driven by the sans-IO engine in :mod:`aauth.agent`.
* :class:`AAuthMiddleware` is the resource side as an :mod:`aiohttp.web` middleware in front
  of an application, driven by :class:`aauth.resource.ResourceServer`;
  :func:`get_identity` reads the verified identity in a handler.
"""

from __future__ import annotations

from .client import AAuthClientMiddleware, ClarificationCallback, InteractionCallback
from .server import DEFAULT_MAX_BODY, IDENTITY_KEY, AAuthMiddleware, get_identity

__all__ = [
    "DEFAULT_MAX_BODY",
    "IDENTITY_KEY",
    "AAuthClientMiddleware",
    "AAuthMiddleware",
    "ClarificationCallback",
    "InteractionCallback",
    "get_identity",
]
