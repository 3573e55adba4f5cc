"""aauth on trio: a small signed HTTP/1.1 client (h11, TLS through ``trio.SSLStream``) driven
by the sans-IO agent engine — the worked example of embedding aauth in a custom stack
(``docs/driver-guide.md``).

    import trio
    from aauth.agent import Agent, StaticAgentCredentials
    from aauth_trio import AAuthClient

    async def main() -> None:
        client = AAuthClient(Agent(StaticAgentCredentials(key, agent_token)))
        response = await client.get("https://api.example/data")

No asyncio anywhere: sleeps are ``trio.sleep``, every network step has a ``trio`` deadline.
"""

from ._http11 import Timeouts, TransportFailure
from .client import (
    DEFAULT_MAX_RESPONSE_SIZE,
    AAuthClient,
    ClarificationCallback,
    InteractionCallback,
    PromptTimeout,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "AAuthClient",
    "ClarificationCallback",
    "InteractionCallback",
    "PromptTimeout",
    "Timeouts",
    "TransportFailure",
]
