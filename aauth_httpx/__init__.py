"""aauth_httpx: the AAuth agent as an :class:`httpx.Auth` for ``Client`` and ``AsyncClient``.

::

    import httpx
    from aauth.agent import Agent, StaticAgentCredentials
    from aauth_httpx import AAuth

    auth = AAuth(Agent(StaticAgentCredentials(key, agent_token)))
    with httpx.Client(auth=auth) as client:
        response = client.get("https://api.example/data")

See :class:`AAuth` and ``docs/drivers.md`` ("httpx").
"""

from __future__ import annotations

from ._auth import (
    AAuth,
    ClarificationCallback,
    InteractionCallback,
    NoInteractionCallback,
    RedirectRefused,
)
from ._convert import BodyTooLarge

__all__ = [
    "AAuth",
    "BodyTooLarge",
    "ClarificationCallback",
    "InteractionCallback",
    "NoInteractionCallback",
    "RedirectRefused",
]
