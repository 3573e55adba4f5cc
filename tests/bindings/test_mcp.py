"""An MCP server (the MCP Python SDK's streamable HTTP app, ``examples/mcp_resource.py``)
behind ``aauth_asgi.AAuthMiddleware``, served by uvicorn on 127.0.0.1: the SDK's own client,
whose HTTP goes through our httpx agent driver (``aauth_httpx.AAuth``), calls a tool only
after the AAuth flow (person token, auth token), and the tool sees the identity; an unsigned
call is challenged and never reaches the MCP app."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from aauth.resource import ResourceServer
from aauth_asgi import AAuthMiddleware
from aauth_httpx import AAuth
from tests.bindings.harness import (
    CALL_TIMEOUT,
    PERSON_SERVER,
    RESOURCE,
    ROUTES,
    BindingWorld,
    Clock,
    binding_world,
)
from tests.bindings.test_asgi import serve_asgi

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """``examples/{name}.py`` as a module (the examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"aauth_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


asgi_resource = load_example("asgi_resource")
mcp_resource = load_example("mcp_resource")

#: The MCP endpoint: under the resource's ``auth-token`` route (scope ``data.read``).
MCP_PATH = f"{ROUTES.auth}/mcp"


@pytest.fixture
def anyio_backend() -> str:
    """The MCP SDK's client runs on asyncio here."""
    return "asyncio"


@dataclass
class McpAdapter:
    """Serves the example's MCP server at :data:`MCP_PATH` behind the middleware (a
    :class:`~tests.bindings.harness.ResourceBindingAdapter`); records the HTTP requests
    that reach the MCP app."""

    name: str = "mcp"
    reached: list[tuple[str, str]] = field(default_factory=list)

    @contextmanager
    def serve(self, server: ResourceServer, clock: Clock) -> Iterator[str]:
        """Serve the MCP app behind :class:`AAuthMiddleware` on 127.0.0.1."""
        inner = mcp_resource.mcp.streamable_http_app(streamable_http_path=MCP_PATH)

        async def counting(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.reached.append((scope["method"], scope["path"]))
            await inner(scope, receive, send)

        with serve_asgi(AAuthMiddleware(counting, server, clock=clock)) as base:
            yield base


class _Body(httpx2.AsyncByteStream):
    """An httpx response body, streamed, as an httpx2 body."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.response.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        await self.response.aclose()


#: Fields httpx derives from the URL and the content itself.
_DERIVED = frozenset({"host", "content-length", "transfer-encoding"})


@dataclass
class Exchange:
    """One request of the MCP client and what our driver's flow did for it."""

    method: str
    status: int
    content_type: str
    hops: list[tuple[str, int]]


class ThroughAAuth(httpx2.AsyncBaseTransport):
    """The MCP SDK's client speaks ``httpx2``; this transport sends each of its requests
    through an ``httpx.AsyncClient`` whose auth is our agent driver (so every MCP request
    runs one AAuth flow), streaming the answer back (SSE included)."""

    def __init__(self, client: httpx.AsyncClient, world: BindingWorld) -> None:
        self.client = client
        self.world = world
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _DERIVED]
        outgoing = self.client.build_request(
            request.method, str(request.url), headers=headers, content=await request.aread()
        )
        response = await self.client.send(outgoing, stream=True)
        hops = [
            (self.world.agent_map.identifier_url(str(answer.request.url)), answer.status_code)
            for answer in (*response.history, response)
        ]
        self.exchanges.append(
            Exchange(
                request.method,
                response.status_code,
                response.headers.get("content-type", ""),
                hops,
            )
        )
        return httpx2.Response(
            response.status_code, headers=response.headers.multi_items(), stream=_Body(response)
        )


async def test_a_tool_call_goes_through_only_after_the_aauth_flow(anyio_backend: str) -> None:
    adapter = McpAdapter()
    with binding_world(adapter) as world:
        agent = world.agent()
        ps = world.person_server
        auth = AAuth(agent, clock=world.clock)
        async with httpx.AsyncClient(
            auth=auth, timeout=CALL_TIMEOUT, max_redirects=agent.limits.max_steps
        ) as client:
            bridge = ThroughAAuth(client, world)
            async with (
                httpx2.AsyncClient(transport=bridge, timeout=CALL_TIMEOUT) as mcp_http,
                streamable_http_client(world.url(MCP_PATH), http_client=mcp_http) as streams,
                ClientSession(*streams) as session,
            ):
                await session.initialize()
                tools = await session.list_tools()
                result = await session.call_tool("whoami", {})
        assert [tool.name for tool in tools.tools] == ["whoami"]
        assert result.is_error is False
        # the tool saw the verified identity: the person, the scope, the agent's key
        assert result.structured_content == {
            "sub": ps.subject_for(RESOURCE),
            "scope": "data.read",
            "agent_jkt": world.agent_provider.agent_key().public_key.thumbprint,
        }
        # the first MCP request (initialize) went through the whole flow
        endpoint = world.url(MCP_PATH)
        first = bridge.exchanges[0]
        assert first.method == "POST"
        resource_hops = [hop for hop in first.hops if hop[0] == endpoint]
        assert resource_hops == [(endpoint, 401), (endpoint, 401), (endpoint, 200)]
        assert any(url.startswith(PERSON_SERVER) for url, _ in first.hops)
        # every later MCP request was signed with the cached auth token at once
        for later in bridge.exchanges[1:]:
            assert later.hops == [(endpoint, later.status)], later
        assert len(ps.person_tokens) == 1 and len(ps.auth_tokens) == 1
        # the tool call's answer was streamed through as Server-Sent Events
        calls = [e for e in bridge.exchanges if e.method == "POST" and e.status == 200]
        assert calls and all(e.content_type.startswith("text/event-stream") for e in calls)
        # the MCP app saw only verified requests: never the two challenged ones
        assert ("POST", MCP_PATH) in adapter.reached
        posts = [e for e in bridge.exchanges if e.method == "POST"]
        assert len([r for r in adapter.reached if r[0] == "POST"]) == len(posts)


async def test_an_unsigned_call_is_challenged_and_never_reaches_the_mcp_app(
    anyio_backend: str,
) -> None:
    adapter = McpAdapter()
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}},
    }
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    with binding_world(adapter) as world:
        async with httpx.AsyncClient(timeout=CALL_TIMEOUT) as raw:
            answer = await raw.post(
                world.dial_url(MCP_PATH), content=json.dumps(call), headers=headers
            )
            stream = await raw.get(
                world.dial_url(MCP_PATH), headers={"Accept": "text/event-stream"}
            )
    for response in (answer, stream):
        assert response.status_code == 401
        assert response.headers["aauth-requirement"] == "requirement=person-token"
        assert "signature-error" not in response.headers
    assert adapter.reached == []
    assert world.person_server.log == []


# -- the examples build and protect their routes ---------------------------------------------


async def test_the_examples_build_and_challenge(anyio_backend: str) -> None:
    starlette_server = asgi_resource.make_server("https://api.example")
    mcp_server = mcp_resource.make_server("https://mcp.example")
    api = asgi_resource.make_app(starlette_server)
    tools = mcp_resource.make_app(mcp_server)
    cases: list[tuple[Any, str, str, str]] = [
        (api, "https://api.example", "/whoami", "agent-token"),
        (api, "https://api.example", "/reports", "person-token"),
        (tools, "https://mcp.example", "/mcp", "person-token"),
    ]
    for app, identifier, path, requirement in cases:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            metadata = await client.get("/.well-known/aauth-resource.json")
            challenged = await client.post(path, content=b"{}")
        assert metadata.status_code == 200
        assert metadata.json()["issuer"] == identifier
        assert challenged.status_code == 401
        assert challenged.headers["aauth-requirement"] == f"requirement={requirement}"
