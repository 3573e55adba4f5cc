"""The resource side of AAuth as an aiohttp.web middleware (issue 5).

:class:`AAuthMiddleware` is a binding of :class:`aauth.resource.ResourceServer`:
conversions (:mod:`aauth_aiohttp._server_convert`) plus one loop over the exchange's actions.
The engine decides everything (verified, challenged, refused, which document to fetch, what
the deferred form stores); the middleware owns the clock, the sockets and the application.

* ``Fetch``: a GET with aiohttp under egress admission (:mod:`aauth_aiohttp._fetch`).
* ``Respond``: the engine's answer, sent as it is.
* ``CallApp``: the rest of the middleware chain and the handler run with the identity in
  ``request["aauth"]`` (:func:`get_identity`); ``add_headers`` go onto the handler's answer,
  also a streamed one (through the ``on_response_prepare`` signal). With ``capture`` the
  answer (returned or streamed) is buffered and handed back to the engine, which adds its
  headers and stores it for the deferred form.
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import ClientSession, web
from aiohttp.typedefs import Handler

from aauth.errors import LocalError
from aauth.http import HttpResponse
from aauth.resource import Action, CallApp, Exchange, Fetch, ResourceServer, Verified

from ._fetch import FetchFailure, fetch
from ._server_convert import (
    BufferWriter,
    captured_response,
    held_request,
    to_http_request,
    to_web_response,
)

__all__ = ["DEFAULT_MAX_BODY", "IDENTITY_KEY", "AAuthMiddleware", "get_identity"]

logger = logging.getLogger(__name__)

#: Where the identity is kept: ``request["aauth"]`` (as ``scope["aauth"]`` for ASGI).
IDENTITY_KEY: Final = "aauth"
#: The largest request body read by default (aiohttp's own ``client_max_size`` default).
DEFAULT_MAX_BODY: Final = 1024**2
_PENDING_KEY: Final = "aauth_aiohttp.pending"
#: The answer stored for a held call whose handler failed or whose answer cannot be held.
_APP_FAILED: Final = HttpResponse(
    500, (("Content-Type", "text/plain; charset=utf-8"),), b"500: Internal Server Error"
)

# aiohttp >= 3.14 warns once per str key of a request; our two keys are documented names
_registered: set[str] = set()


def _put(request: web.BaseRequest, key: str, value: object) -> None:
    if key in _registered:
        request[key] = value
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        request[key] = value
    _registered.add(key)


@dataclass(slots=True)
class _Pending:
    """Headers the middleware still owes the application's answer."""

    headers: tuple[tuple[str, str], ...]
    applied: bool = False

    def apply(self, response: web.StreamResponse) -> None:
        for name, value in self.headers:
            response.headers.add(name, value)
        self.applied = True


def get_identity(request: web.BaseRequest) -> Verified | None:
    """The :class:`~aauth.resource.Verified` identity the middleware put on ``request``
    (``request["aauth"]``); ``None`` on a public path or without the middleware."""
    identity = request.get(IDENTITY_KEY)
    return identity if isinstance(identity, Verified) else None


class AAuthMiddleware:
    """An aiohttp.web middleware that puts a :class:`~aauth.resource.ResourceServer` in front
    of an application.

    ``AAuthMiddleware(server).install(app)`` (or ``web.Application(middlewares=[mw])`` plus
    ``app.on_response_prepare.append(mw.on_response_prepare)``). Install it on the root
    application, first in the chain of anything that needs the identity.

    :param server: the engine (verifier, policies, deferred and session state).
    :param clock: Unix time in seconds (``time.time``); ``now = int(clock())``.
    :param fetch_session: a :class:`~aiohttp.ClientSession` for the engine's discovery
        fetches (it must not use a proxy: the connection goes to the admitted address);
        default: a new one per fetch. Requests on it pass ``middlewares=()``.
    :param max_body: the largest request body read (``413`` beyond it; default 1 MiB).

    Per request: the body is read whole (bounded; the signature covers its digest), the
    engine decides, and the application sees the request with ``request["aauth"]`` set
    (:func:`get_identity`). ``read()``, ``text()``, ``json()`` and url-encoded ``post()``
    work in handlers; ``request.content`` (and so multipart parsing) is already consumed.
    ``Content-Digest`` covers the body as sent (RFC 9530 §2): serve with
    ``auto_decompress=False`` if agents send compressed bodies.
    """

    __middleware_version__: Final = 1  # aiohttp's mark of a new-style middleware

    def __init__(
        self,
        server: ResourceServer,
        *,
        clock: Callable[[], float] = time.time,
        fetch_session: ClientSession | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if not isinstance(server, ResourceServer):
            raise LocalError("server must be an aauth.resource.ResourceServer")
        if fetch_session is not None and not isinstance(fetch_session, ClientSession):
            raise LocalError("fetch_session must be an aiohttp.ClientSession")
        # aiohttp reads without a limit when client_max_size is 0: never hand it one
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise LocalError("max_body must be a positive int")
        self.server = server
        self.fetch_session = fetch_session
        self.max_body = max_body
        self._clock = clock

    def install(self, app: web.Application) -> None:
        """Add this middleware to ``app`` (after those already there) and its
        :meth:`on_response_prepare` hook (headers for answers the handler streams)."""
        app.middlewares.append(self)
        app.on_response_prepare.append(self.on_response_prepare)

    def _now(self) -> int:
        return int(self._clock())

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Run one exchange for ``request``."""
        reader, body = await self._read_body(request)
        exchange = self.server.receive(to_http_request(request, body), now=self._now())
        action = exchange.next_action()
        while True:
            if isinstance(action, Fetch):
                action = await self._fetch(exchange, action)
            elif isinstance(action, CallApp):
                target, run = await self._target(request, reader, handler, exchange, action)
                if not action.capture:
                    return await self._stream(target, run, action)
                answer = await self._capture(target, run)
                action = exchange.app_responded(answer, now=self._now())
            else:  # Respond, the last member of the closed union
                return to_web_response(action.response)

    async def on_response_prepare(
        self, request: web.BaseRequest, response: web.StreamResponse
    ) -> None:
        """The ``on_response_prepare`` signal handler: adds the engine's ``add_headers`` to
        an answer the handler prepares (streams) itself, before its headers are sent."""
        pending = request.get(_PENDING_KEY)
        if isinstance(pending, _Pending) and not pending.applied:
            pending.apply(response)

    # ------------------------------------------------------------------ steps

    async def _read_body(self, request: web.Request) -> tuple[web.Request, bytes]:
        """The whole body (``413`` beyond :attr:`max_body`) and the request the application
        reads it from again."""
        try:
            reader = request.clone(client_max_size=self.max_body)
        except RuntimeError:  # an earlier middleware read the body: aiohttp keeps it
            body = await request.read()
            if len(body) > self.max_body:
                raise web.HTTPRequestEntityTooLarge(self.max_body, len(body)) from None
            return request, body
        # aiohttp reads at most about max_body bytes, then raises HTTPRequestEntityTooLarge
        return reader, await reader.read()

    async def _fetch(self, exchange: Exchange, action: Fetch) -> Action:
        try:
            result = await fetch(action, self.fetch_session)
        except FetchFailure as exc:
            # the reason names no URL path, query or header value
            logger.info("aauth: discovery fetch (%s) failed: %s", action.purpose, exc.reason)
            return exchange.fetch_failed(action.url, now=self._now(), reason=exc.reason)
        return exchange.fetched(
            action.url, result.status, result.headers, result.body, now=self._now()
        )

    async def _target(
        self,
        request: web.Request,
        reader: web.Request,
        handler: Handler,
        exchange: Exchange,
        action: CallApp,
    ) -> tuple[web.Request | None, Handler]:
        """The request the application runs with and the handler chain that runs it: the
        request as read with the route's chain, or for a held call a copy carrying the held
        request, routed afresh (``None`` when it cannot be built). With ``capture`` the
        request writes into a :class:`BufferWriter`."""
        writer = BufferWriter() if action.capture else None
        if action.request is exchange.request and writer is None:
            target: web.Request | None = reader
            run = handler
        else:
            target = held_request(request, action.request, writer)
            run = await self._held_chain(request, target) if target is not None else handler
        _put(request, IDENTITY_KEY, action.identity)  # for the middlewares before this one
        if target is not None:
            _put(target, IDENTITY_KEY, action.identity)
            if action.add_headers and not action.capture:  # captured: the engine adds them
                _put(target, _PENDING_KEY, _Pending(action.add_headers))
        return target, run

    async def _held_chain(self, request: web.Request, held: web.Request) -> Handler:
        """The handler for ``held``'s own route, behind the middlewares that come after this
        one (as aiohttp would build the chain for it)."""
        root = request.match_info.apps[0]
        match_info = await root.router.resolve(held)
        match_info.add_app(root)
        match_info.freeze()
        held._match_info = match_info  # aiohttp sets this itself in Application._handle
        run: Handler = match_info.handler
        chain = [m for app in match_info.apps for m in app.middlewares]
        after = chain[chain.index(self) + 1 :] if self in chain else []
        for middleware in reversed(after):
            run = functools.partial(middleware, handler=run)
        return run

    async def _stream(
        self, target: web.Request | None, run: Handler, action: CallApp
    ) -> web.StreamResponse:
        """Run the application and pass its answer on (plus ``add_headers``)."""
        if target is None:
            logger.error("aauth: the held request cannot be rebuilt (body already read)")
            return to_web_response(_APP_FAILED)
        pending = target.get(_PENDING_KEY)
        try:
            response = await run(target)
        except web.HTTPException as exc:  # aiohttp sends it as the answer
            if isinstance(pending, _Pending) and not pending.applied:
                pending.apply(exc)
            raise
        if isinstance(pending, _Pending) and not pending.applied:
            if response.prepared:
                logger.warning(
                    "aauth: %s not added to a streamed answer: call install(app) or register "
                    "on_response_prepare",
                    ", ".join(name for name, _ in action.add_headers),
                )
            else:
                pending.apply(response)
        return response

    async def _capture(self, target: web.Request | None, run: Handler) -> HttpResponse:
        """Run the application and buffer its whole answer (returned or streamed into the
        request's :class:`BufferWriter`) for the engine."""
        if target is None:
            logger.error("aauth: the held request cannot be rebuilt (body already read)")
            return _APP_FAILED
        try:
            response: web.StreamResponse = await run(target)
        except web.HTTPException as exc:
            response = exc
        except Exception:
            logger.exception("aauth: the handler of a held call failed; stored a 500")
            return _APP_FAILED
        answer = await captured_response(response, target.writer)
        if answer is None:
            logger.error(
                "aauth: the answer to a held call (%s) cannot be buffered; stored a 500",
                type(response).__name__,
            )
            return _APP_FAILED
        return answer
