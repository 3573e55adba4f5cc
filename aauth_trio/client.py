"""A small signed HTTP/1.1 client for trio, driven by the aauth agent engine.

:class:`AAuthClient` is the reference driver: it converts nothing but bytes (the engine already
speaks :class:`~aauth.http.HttpRequest` / :class:`~aauth.http.HttpResponse`, which
:mod:`aauth_trio._http11` puts on and takes off the wire with h11) and runs the one loop every
driver runs (``docs/driver-guide.md``)::

    client = AAuthClient(agent, on_interaction=show_url)
    response = await client.get("https://api.example/data")

What the driver owns: the clock (``time.time``), the sleeps (``trio.sleep``), the sockets and
their time limits, and the calls into the application's callbacks. Everything AAuth decides —
which token to present, what a challenge means, when to poll, when to give up — the engine
decides. The body limits come from the engine's :class:`~aauth.agent.SendRequest` where the
engine reads the body, and from ``max_response_size`` where only the application does.
"""

from __future__ import annotations

import inspect
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Final, assert_never

import trio

from aauth.agent import (
    Agent,
    ClarificationAnswered,
    ClarificationDeclined,
    Deliver,
    Event,
    Fail,
    InteractionStarted,
    PromptClarification,
    PromptInteraction,
    ResponseReceived,
    SendRequest,
    Sleep,
    SleepCompleted,
    TransportFailed,
)
from aauth.errors import LocalError
from aauth.http import HttpRequest, HttpResponse

from ._http11 import DEFAULT_MAX_HEADER_BYTES, Timeouts, TransportFailure, exchange

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "AAuthClient",
    "ClarificationCallback",
    "InteractionCallback",
    "PromptTimeout",
]

#: The most body bytes of a response handed to the application (10 MiB).
DEFAULT_MAX_RESPONSE_SIZE: Final = 10 * 1024 * 1024

#: Shows the user ``prompt.user_url`` (or ``url`` and ``code``); may be a coroutine function.
InteractionCallback = Callable[[PromptInteraction], Awaitable[None] | None]
#: Answers ``prompt.question`` (Markdown) or returns ``None`` to decline; may be async.
ClarificationCallback = Callable[[PromptClarification], Awaitable[str | None] | str | None]


class PromptTimeout(LocalError):
    """The application's ``on_interaction`` callback did not return within
    ``prompt_timeout`` seconds (a callback should show the URL and return, not wait for the
    user: the engine polls for the outcome)."""


def _decline(prompt: PromptClarification) -> None:
    """The default clarification callback: decline (the request is cancelled)."""
    return None


class AAuthClient:
    """Send requests as an AAuth agent over HTTP/1.1 on trio (h11; TLS for ``https``).

    Each call runs one engine flow: the request is signed, every challenge answered, every
    deferred answer polled, and the resource's final answer returned. A flow that ends without
    it raises the engine's error (:class:`~aauth.agent.AgentError` and subclasses, or a
    :class:`~aauth.errors.LocalError` for misuse).

    :param agent: the long-lived :class:`~aauth.agent.Agent` (credentials, limits, caches).
    :param on_interaction: called with each :class:`~aauth.agent.PromptInteraction`; without
        it a flow that needs the user fails with :class:`~aauth.errors.LocalError`.
    :param on_clarification: called with each :class:`~aauth.agent.PromptClarification`;
        returns the answer, or ``None`` to decline (the default declines).
    :param timeouts: per-step and per-exchange network time limits. When the agent sends
        ``Prefer: wait=N`` the read limit is raised to ``N + 5`` s so the server may hold the
        answer that long.
    :param max_response_size: the most body bytes of an answer the application receives;
        beyond it the request counts as failed (``TransportError``).
    :param prompt_timeout: the most seconds a callback may take (a clarification left
        unanswered that long is declined); default: the agent's ``max_total_wait``.
    :param ssl_context: the TLS context for ``https`` (default: system trust, made on first use).
    :param clock: Unix time in seconds (the engine's ``now``).
    """

    def __init__(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback = _decline,
        timeouts: Timeouts | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        prompt_timeout: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(agent, Agent):
            raise LocalError("agent must be an aauth.agent.Agent")
        if isinstance(max_response_size, bool) or not isinstance(max_response_size, int):
            raise LocalError("max_response_size must be an int")
        if max_response_size < 0:
            raise LocalError("max_response_size must be >= 0")
        timeouts = timeouts if timeouts is not None else Timeouts()
        wait = agent.limits.prefer_wait
        if wait is not None and timeouts.read < wait + 5:
            timeouts = Timeouts(
                connect=timeouts.connect,
                write=timeouts.write,
                read=wait + 5,
                exchange=max(timeouts.exchange, wait + 5 + timeouts.connect),
            )
        self.agent: Agent = agent
        self.timeouts: Timeouts = timeouts
        self.max_response_size: int = max_response_size
        self.prompt_timeout: float = (
            float(agent.limits.max_total_wait) if prompt_timeout is None else prompt_timeout
        )
        self._on_interaction = on_interaction
        self._on_clarification = on_clarification
        self._ssl_context = ssl_context
        self._max_header_bytes = max_header_bytes
        self._clock = clock

    # -- the application's side ---------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HttpResponse:
        """Send ``method url`` as the agent; the resource's final answer (any status)."""
        return await self.send(HttpRequest(method, url, list(headers), body))

    async def get(self, url: str, *, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
        """``GET url`` as the agent."""
        return await self.request("GET", url, headers=headers)

    async def post(
        self, url: str, *, body: bytes, headers: Iterable[tuple[str, str]] = ()
    ) -> HttpResponse:
        """``POST url`` with ``body`` as the agent (give a ``Content-Type``)."""
        return await self.request("POST", url, headers=headers, body=body)

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Run one engine flow for ``request``: the driver loop.

        :raises aauth.agent.AgentError: the flow failed (what the engine's ``Fail`` carried).
        :raises LocalError: misuse (a request that cannot be sent, a missing callback).
        """
        flow = self.agent.start(request, now=self._now())
        action = flow.next(now=self._now())
        while True:
            event: Event
            match action:
                case SendRequest():
                    event = await self._send(action)
                case Sleep(seconds=seconds):
                    await trio.sleep(seconds)
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
                case Deliver(response=response):
                    return response
                case Fail(error=error):
                    raise error
                case _:
                    assert_never(action)
            action = flow.handle(event, now=self._now())

    # -- the driver's own steps ---------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    async def _send(self, action: SendRequest) -> ResponseReceived | TransportFailed:
        def limit(status: int) -> int:
            return action.max_body if action.needs_body(status) else self.max_response_size

        try:
            result = await exchange(
                action.request,
                timeouts=self.timeouts,
                body_limit=limit,
                ssl_context=self._ssl_context,
                max_header_bytes=self._max_header_bytes,
            )
        except TransportFailure as exc:
            return TransportFailed(reason=exc.reason)
        response = result.response
        if result.truncated and not action.needs_body(response.status):
            return TransportFailed(
                reason=f"the response body is larger than {self.max_response_size} bytes "
                "(max_response_size)"
            )
        # a body the engine reads arrives cut at max_body + 1 bytes: the engine sees it is
        # too large and says so with the error of the request's purpose
        return ResponseReceived(response=response)

    async def _interact(self, prompt: PromptInteraction) -> None:
        callback = self._on_interaction
        if callback is None:
            raise LocalError(
                "the server asks for user interaction and the AAuthClient has no on_interaction "
                "callback"
            )
        with trio.move_on_after(self.prompt_timeout) as scope:
            result = callback(prompt)
            if inspect.isawaitable(result):
                await result
        if scope.cancelled_caught:
            raise PromptTimeout(f"on_interaction did not return within {self.prompt_timeout:g} s")

    async def _clarify(self, prompt: PromptClarification) -> str | None:
        answer: str | None = None
        with trio.move_on_after(self.prompt_timeout):
            result = self._on_clarification(prompt)
            answer = await result if inspect.isawaitable(result) else result
        if answer is not None and not isinstance(answer, str):
            raise LocalError("on_clarification must return a str or None")
        return answer
