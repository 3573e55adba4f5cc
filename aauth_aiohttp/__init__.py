"""aauth_aiohttp: AAuth for aiohttp.

:class:`AAuthClientMiddleware` is the agent side as an aiohttp (>= 3.12) client middleware:
every request of a session signed, every AAuth challenge answered, tokens fetched and cached,
deferred answers polled, driven by the sans-IO engine in :mod:`aauth.agent`.
"""

from __future__ import annotations

from .client import AAuthClientMiddleware, ClarificationCallback, InteractionCallback

__all__ = ["AAuthClientMiddleware", "ClarificationCallback", "InteractionCallback"]
