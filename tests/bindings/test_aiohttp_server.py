"""``aauth_aiohttp`` server side: the shared binding scenarios through an aiohttp.web app
served by ``web.AppRunner`` on 127.0.0.1, and unit tests of the conversions, the body limit,
added headers (streamed answers too), held-call replay and the fetches."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from aiohttp import web

from aauth.http import HttpResponse
from aauth.resource import ResourceServer
from aauth_aiohttp import AAuthMiddleware, get_identity
from tests.bindings.harness import Clock, EchoApp
from tests.bindings.scenarios import SCENARIOS, Scenario, scenario_id


def echo_app(server: ResourceServer, clock: Clock, echo: EchoApp) -> web.Application:
    """The shared echo app as a native aiohttp.web application behind the middleware."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        answer = echo.respond(
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            body,
            get_identity(request),
        )
        return native(answer)

    app = web.Application()
    AAuthMiddleware(server, clock=clock).install(app)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def native(answer: HttpResponse) -> web.Response:
    """A neutral response as the handler's own ``web.Response``."""
    return web.Response(status=answer.status, headers=list(answer.headers), body=answer.body)


@contextmanager
def serve_app(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a port the OS picks) from an event loop in a background
    thread; yield ``http://127.0.0.1:PORT``; stop and join on exit."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    started = threading.Event()
    thread = threading.Thread(target=loop.run_forever, name="aiohttp-resource", daemon=True)
    thread.start()

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        started.set()
        return f"http://127.0.0.1:{port}"

    try:
        base = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        yield base
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass
class AiohttpAdapter:
    """:class:`~tests.bindings.harness.ResourceBindingAdapter` for ``aauth_aiohttp``."""

    name: str = "aiohttp"

    @contextmanager
    def serve(self, server: ResourceServer, clock: Clock) -> Iterator[str]:
        """Serve the echo app behind :class:`AAuthMiddleware` on 127.0.0.1."""
        with serve_app(echo_app(server, clock, EchoApp())) as base:
            yield base


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario(scenario: Scenario) -> None:
    """The scenario passes through the aiohttp binding."""
    scenario(AiohttpAdapter())
