"""The AAuth agent as an aiohttp client middleware (aiohttp >= 3.12).

:class:`AAuthClientMiddleware` is the driver of :mod:`aauth.agent`: conversions (see
:mod:`aauth_aiohttp._convert`) plus one loop over the engine's actions. The engine decides
everything (which credential, which challenge means what, when to poll, when to give up); the
middleware owns the clock, the sleeps and the sockets.

* aiohttp runs a session's middlewares once per redirect hop and once per retry of a stale
  pooled connection, so every hop is signed afresh for its own origin (design §4).
* The application's request goes down the rest of the middleware chain (``handler``), once per
  credential the engine tries. Everything else the flow sends (Person Server metadata, token
  requests, polls, clarification answers, cancellations) goes out on the session with
  ``middlewares=()``, ``allow_redirects=False`` and ``raise_for_status=False``, so it is never
  signed twice or re-entered, and the engine sees every answer as it came.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias

from aiohttp import ClientError, ClientHandlerType, ClientRequest, ClientResponse, ClientSession
from multidict import CIMultiDict
from yarl import URL

from aauth.agent import (
    Agent,
    ClarificationAnswered,
    ClarificationDeclined,
    Deliver,
    InteractionStarted,
    PromptClarification,
    PromptInteraction,
    Purpose,
    ResponseReceived,
    SendRequest,
    Sleep,
    SleepCompleted,
    TransportFailed,
)
from aauth.agent.events import Event
from aauth.errors import LocalError
from aauth.http import HttpResponse

from ._convert import (
    apply_signed_request,
    read_body,
    to_aauth_request,
    to_aauth_response,
    transport_reason,
)

__all__ = [
    "AAuthClientMiddleware",
    "ClarificationCallback",
    "InteractionCallback",
]

InteractionCallback: TypeAlias = Callable[[PromptInteraction], Awaitable[object] | object]
"""Shows the user ``prompt.user_url`` (or ``url`` and ``code``); sync or async."""
ClarificationCallback: TypeAlias = Callable[
    [PromptClarification], Awaitable[str | None] | str | None
]
"""Answers ``prompt.question`` (Markdown), or ``None`` to decline; sync or async."""

#: What a failed send raises: aiohttp's errors and the OS's (``TimeoutError`` included).
_TRANSPORT_ERRORS = (ClientError, OSError)


@dataclass(slots=True)
class _Answer:
    """A response in hand: ``whole`` is false when its body was cut at the engine's limit."""

    response: ClientResponse
    whole: bool = True


class AAuthClientMiddleware:
    """An aiohttp client middleware that makes every request of a session an AAuth request.

    ``ClientSession(middlewares=(AAuthClientMiddleware(agent, ...),))``, or per request with
    ``session.get(url, middlewares=(...))``. Each request signed, every challenge answered,
    tokens fetched and cached in ``agent.store``, deferred answers polled; the application
    gets the resource's :class:`~aiohttp.ClientResponse` (a ``200`` body left unread, so it
    streams), or the flow's error raised (an :class:`~aauth.errors.AAuthError`).

    :param agent: the long-lived :class:`~aauth.agent.Agent` (credentials, PS, limits, caches).
    :param on_interaction: shows the user where to go when a server needs them (AAuth -11
        §"Interaction Required"); sync or async. Without it, a flow that needs the user fails
        with :class:`~aauth.errors.LocalError`.
    :param on_clarification: answers a clarification question (AAuth -11 §"Clarification
        Required"); returns the answer or ``None`` to decline; sync or async. Without it,
        every question is declined.
    :param session: the session for the flow's own requests (Person Server, polls); default:
        the application request's session. Its default headers go along on those requests
        too, so give a separate session when they must not reach the Person Server.
    :param clock: Unix time in seconds (``time.time``); tests may pass their own.
    :param sleep: the async sleep between polls (``asyncio.sleep``).

    Request bodies must be in memory (``bytes``, ``str``, ``json=``, url-encoded forms): the
    signature covers their digest. The session's ``timeout`` bounds the whole flow (polls and
    user interaction included): keep it above ``agent.limits.max_total_wait``.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
        session: ClientSession | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not isinstance(agent, Agent):
            raise LocalError("agent must be an aauth.agent.Agent")
        self.agent = agent
        self.on_interaction = on_interaction
        self.on_clarification = on_clarification
        self.session = session
        self._clock = clock
        self._sleep = sleep

    def _now(self) -> int:
        return int(self._clock())

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Run one AAuth flow for ``request``; return the resource's answer."""
        original_url, original_headers = request.url, request.headers
        try:
            return await self._run(request, handler)
        finally:
            # a retry of this request object (stale connection) starts from the app's request
            request.url, request.headers = original_url, original_headers

    async def _run(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        flow = self.agent.start(await to_aauth_request(request), now=self._now())
        action = flow.next(now=self._now())
        held: _Answer | None = None  # the last answer, released unless delivered
        failure: BaseException | None = None  # why the last send got no answer
        failed = Purpose.RESOURCE  # and which send that was
        try:
            while True:
                event: Event
                match action:
                    case SendRequest():
                        if held is not None:
                            held.response.release()
                            held = None
                        try:
                            held, response = await self._send(request, handler, action)
                        except _TRANSPORT_ERRORS as exc:
                            failure, failed = exc, action.purpose
                            event = TransportFailed(reason=transport_reason(exc))
                        else:
                            failure = None
                            event = ResponseReceived(response=response)
                    case Sleep(seconds=seconds):
                        await self._sleep(seconds)
                        event = SleepCompleted()
                    case PromptInteraction():
                        await self._interact(action)
                        event = InteractionStarted()
                    case PromptClarification():
                        answer = await self._clarify(action)
                        event = (
                            ClarificationDeclined()
                            if answer is None
                            else ClarificationAnswered(text=answer)
                        )
                    case Deliver():
                        assert held is not None  # Deliver carries the last answer
                        delivered, held = held, None
                        if not delivered.whole:
                            # its body was cut at the engine's limit: reading it must fail
                            # rather than hand the application a truncated body
                            delivered.response.close()
                        return delivered.response
                    case _:  # Fail, the last member of the closed union
                        error = action.error
                        if failure is not None and failed is Purpose.RESOURCE:
                            # the application's own request got no answer: raise what aiohttp
                            # raises, so the session may retry a stale pooled connection
                            # (running this middleware again) as it does without us
                            raise failure
                        raise error from failure
                action = flow.handle(event, now=self._now())
        finally:
            if held is not None:
                held.response.close()

    async def _send(
        self, request: ClientRequest, handler: ClientHandlerType, action: SendRequest
    ) -> tuple[_Answer, HttpResponse]:
        """Send ``action.request``; read the body only if the engine needs it."""
        signed = action.request
        if action.purpose is Purpose.RESOURCE:
            # the application's request, signed: down the rest of the middleware chain
            apply_signed_request(request, signed)
            response = await handler(request)
        else:
            session = self.session if self.session is not None else request.session
            response = await session.request(
                signed.method,
                URL(signed.url, encoded=True),
                headers=CIMultiDict(signed.headers),
                data=signed.body or None,
                middlewares=(),
                allow_redirects=False,
                raise_for_status=False,
            )
        answer = _Answer(response)
        try:
            body = b""
            if action.needs_body(response.status):
                body, answer.whole = await read_body(response, action.max_body)
            return answer, to_aauth_response(response, body)
        except BaseException:
            response.close()
            raise

    async def _interact(self, prompt: PromptInteraction) -> None:
        callback = self.on_interaction
        if callback is None:
            raise LocalError(
                "the server needs the user (interaction required) and this "
                "AAuthClientMiddleware has no on_interaction callback to show them "
                f"{prompt.url}"
            )
        result = callback(prompt)
        if inspect.isawaitable(result):
            await result

    async def _clarify(self, prompt: PromptClarification) -> str | None:
        callback = self.on_clarification
        if callback is None:
            return None
        answer = callback(prompt)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer is not None and not isinstance(answer, str):
            raise LocalError("on_clarification must return a str or None")
        return answer
