"""aauth on trio: a small signed HTTP/1.1 client (h11, TLS through ``trio.SSLStream``) driven
by the sans-IO agent engine — the worked example of embedding aauth in a custom stack
(``docs/driver-guide.md``) — and the resource side, an HTTP/1.1 server driven by
:class:`aauth.resource.ResourceServer` (:class:`AAuthServer`).

    import trio
    from aauth.agent import Agent, StaticAgentCredentials
    from aauth_trio import AAuthClient

    async def main() -> None:
        client = AAuthClient(Agent(StaticAgentCredentials(key, agent_token)))
        response = await client.get("https://api.example/data")

    async def handler(request: HttpRequest, identity: Verified | None) -> HttpResponse: ...

    await AAuthServer(resource_server, handler).serve("127.0.0.1", 8080)

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
from .server import DEFAULT_MAX_REQUEST_BODY, AAuthServer, Handler

__all__ = [
    "DEFAULT_MAX_REQUEST_BODY",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "AAuthClient",
    "AAuthServer",
    "ClarificationCallback",
    "Handler",
    "InteractionCallback",
    "PromptTimeout",
    "Timeouts",
    "TransportFailure",
]
