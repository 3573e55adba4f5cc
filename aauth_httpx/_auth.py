"""``AAuth``: the agent side of AAuth as an :class:`httpx.Auth` (design §4).

One flow of the engine per application request, driven from httpx's auth-flow generators:
every :class:`~aauth.agent.SendRequest` (the resource, the Person Server's metadata, token
endpoints, pending URLs) is yielded to the same client, which sends it without re-entering any
auth flow; sleeps, prompts and the clock belong to the driver.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable, Mapping
from typing import Any, Final, TypeAlias

import anyio
import httpx

from aauth.agent import (
    Action,
    Agent,
    AgentCredentials,
    AgentFlow,
    AgentLimits,
    ClarificationAnswered,
    ClarificationDeclined,
    Deliver,
    Event,
    Fail,
    InteractionStarted,
    PromptClarification,
    PromptInteraction,
    Purpose,
    ResponseReceived,
    SendRequest,
    Sleep,
    SleepCompleted,
)
from aauth.errors import LocalError

from ._convert import (
    BodyTooLarge,
    CappedBody,
    cap_async_body,
    cap_sync_body,
    same_origin,
    to_aauth_request,
    to_aauth_response,
    to_httpx_request,
)

__all__ = [
    "AAuth",
    "ClarificationCallback",
    "InteractionCallback",
    "NoInteractionCallback",
    "RedirectRefused",
]

#: Shows the user ``prompt.user_url`` (or ``url`` and ``code``); may be ``async`` with an
#: ``AsyncClient``.
InteractionCallback: TypeAlias = Callable[[PromptInteraction], "Awaitable[None] | None"]
#: Answers ``prompt.question`` (Markdown) or returns ``None`` to decline; may be ``async``
#: with an ``AsyncClient``.
ClarificationCallback: TypeAlias = Callable[
    [PromptClarification], "Awaitable[str | None] | str | None"
]
Clock: TypeAlias = Callable[[], float]
_Cap: TypeAlias = Callable[[httpx.Response, int], "CappedBody | None"]

#: Extensions of the application's request that also apply to the engine's own requests.
_SHARED_EXTENSIONS: Final = ("timeout",)


class RedirectRefused(LocalError):
    """The client followed a redirect to another origin with a signed request.

    A signature covers one authority and path, and httpx re-sends the signature headers on
    every hop without asking the auth flow; build the client with ``follow_redirects=False``
    (httpx's default) and follow redirects in the application, where each new request is
    signed for its own URL.
    """


class NoInteractionCallback(LocalError):
    """The flow needs the user at an interaction URL and ``AAuth`` has no ``on_interaction``.

    ``prompt`` holds the URL and code; show them and call again, or pass ``on_interaction``.
    """

    def __init__(self, prompt: PromptInteraction) -> None:
        super().__init__(
            "the request needs the user to visit an interaction URL and AAuth was built "
            "without on_interaction (the prompt is on this error's .prompt)"
        )
        self.prompt: PromptInteraction = prompt


class _Run:
    """One flow and what the driver remembers between its steps (shared by both paths)."""

    def __init__(self, auth: AAuth, request: httpx.Request, cap: _Cap) -> None:
        self._clock = auth.clock
        self._cap = cap
        self.flow: AgentFlow = auth.agent.start(to_aauth_request(request), now=self.now())
        self._resource_extensions = dict(request.extensions)
        self._shared_extensions = {
            name: request.extensions[name]
            for name in _SHARED_EXTENSIONS
            if name in request.extensions
        }
        self.sent: httpx.Request | None = None
        self._previous: tuple[httpx.Response, SendRequest] | None = None
        self._delivered: object = None
        self._capped: CappedBody | None = None

    def now(self) -> int:
        return int(self._clock())

    def first(self) -> Action:
        return self.flow.next(now=self.now())

    def handle(self, event: Event) -> Action:
        return self.flow.handle(event, now=self.now())

    def outgoing(self, action: SendRequest) -> httpx.Request:
        """The httpx request for ``action`` (the engine already signed it)."""
        previous = self._previous
        if previous is not None:
            # httpx reads the previous answer into the flow's history: capped as well
            response, asked = previous
            self._cap(response, asked.max_body)
            self._previous = None
        self._capped = None
        extensions: Mapping[str, Any] = (
            self._resource_extensions
            if action.purpose is Purpose.RESOURCE
            else self._shared_extensions
        )
        self.sent = to_httpx_request(action.request, extensions)
        return self.sent

    def check_hop(self, response: httpx.Response) -> None:
        """design §4: refuse an answer that came from another origin through a redirect the
        client followed (the signature headers went along; nothing was re-signed)."""
        sent = self.sent
        hop = response.request
        if sent is not None and hop is not sent and not same_origin(sent.url, hop.url):
            raise RedirectRefused(
                f"the client followed a redirect from {sent.url.host} to another origin "
                f"({hop.url.host}) with a signed request; use follow_redirects=False with AAuth"
            )

    def cap(self, action: SendRequest, response: httpx.Response) -> None:
        """Cap the body of the answer to ``action`` before the driver reads it."""
        self._capped = self._cap(response, action.max_body)

    def answered(self, action: SendRequest, response: httpx.Response, body: bytes) -> Action:
        """Report the answer to ``action``; returns the next action."""
        converted = to_aauth_response(response, body)
        self._previous = (response, action)
        self._delivered = converted
        return self.handle(ResponseReceived(response=converted))

    def deliver(self, action: Deliver) -> None:
        """The engine's answer must be the httpx response last received: httpx hands the
        application the response its auth flow saw last."""
        if action.response is not self._delivered:
            raise LocalError("the engine delivered a response the driver did not receive")
        capped = self._capped
        if capped is not None and capped.truncated:
            raise BodyTooLarge(
                f"the resource's {action.response.status} answer is larger than the "
                f"{capped.limit} bytes the engine reads, and was cut"
            )


def _clarified(answer: object) -> Event:
    if answer is None:
        return ClarificationDeclined()
    if not isinstance(answer, str):
        raise LocalError("on_clarification must return a str or None")
    return ClarificationAnswered(text=answer)


def _sync_result(result: object, name: str) -> object:
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()  # a coroutine never awaited: close it quietly
        raise LocalError(f"an async {name} callback needs an httpx.AsyncClient")
    return result


class AAuth(httpx.Auth):
    """Sign every request of an httpx ``Client`` or ``AsyncClient`` as an AAuth agent and carry
    it through every challenge: agent, person and auth tokens, ``202`` deferrals, interaction,
    clarification, step-up, ``AAuth-Access`` sessions, ``Signature-Error`` retries.

    :param agent: the long-lived :class:`aauth.agent.Agent` (credentials, Person Server,
        capabilities, limits, caches). One ``AAuth`` may serve many clients and requests; the
        agent's caches are shared by all of them.
    :param on_interaction: shows the user an interaction URL (``prompt.user_url``) — e.g. opens
        a browser. Sync, or ``async`` with an ``AsyncClient``. Without it a flow that needs
        interaction raises :class:`NoInteractionCallback`.
    :param on_clarification: answers a clarification question (returns the text, or ``None``
        to decline and cancel the request). Sync, or ``async`` with an ``AsyncClient``. Without
        it every question is declined.
    :param clock: Unix time in seconds (``time.time``).

    Answers the engine does not need to read (a ``200`` from the resource …) reach the
    application unread, so ``client.stream(...)`` and ``iter_bytes()`` stream as usual. Answers
    the engine reads (Person Server answers, ``202`` bodies) are read up to the agent's
    ``max_response_body`` + 1 bytes, so the engine reports an oversized one; a delivered answer
    cut that way raises :class:`BodyTooLarge`. Waits use ``time.sleep`` with a ``Client`` and
    ``anyio.sleep`` with an ``AsyncClient`` (asyncio or trio).

    httpx specifics: every request of a flow counts against the client's ``max_redirects``
    (default 20; a long poll needs ``max_redirects=agent.limits.max_steps``) and its answer is
    kept in ``response.history`` (bodies cut as above). Keep ``follow_redirects=False``
    (httpx's default): a followed redirect to another origin raises :class:`RedirectRefused`.
    Network errors surface as httpx's own exceptions (httpx does not report send failures to an
    auth flow).
    """

    def __init__(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
        clock: Clock = time.time,
    ) -> None:
        if not isinstance(agent, Agent):
            raise LocalError("agent must be an aauth.agent.Agent (see AAuth.from_credentials)")
        for name, callback in (
            ("on_interaction", on_interaction),
            ("on_clarification", on_clarification),
        ):
            if callback is not None and not callable(callback):
                raise LocalError(f"{name} must be callable")
        if not callable(clock):
            raise LocalError("clock must be callable")
        self.agent: Agent = agent
        self.on_interaction: InteractionCallback | None = on_interaction
        self.on_clarification: ClarificationCallback | None = on_clarification
        self.clock: Clock = clock

    @classmethod
    def from_credentials(
        cls,
        credentials: AgentCredentials,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
        capabilities: Iterable[str] | None = None,
        person_server: str | None = None,
        limits: AgentLimits | None = None,
        clock: Clock = time.time,
        **agent_options: Any,
    ) -> AAuth:
        """Build the :class:`~aauth.agent.Agent` too. ``capabilities`` default to what the
        callbacks given can do (``interaction``, ``clarification``); ``agent_options`` go to
        :class:`~aauth.agent.Agent` (``transport_map``, ``callback_url`` …)."""
        if capabilities is None:
            capabilities = [
                name
                for name, callback in (
                    ("interaction", on_interaction),
                    ("clarification", on_clarification),
                )
                if callback is not None
            ]
        agent = Agent(
            credentials,
            person_server=person_server,
            capabilities=capabilities,
            limits=limits,
            **agent_options,
        )
        return cls(
            agent, on_interaction=on_interaction, on_clarification=on_clarification, clock=clock
        )

    # -- httpx.Client ---------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Drive one flow with a ``Client`` (see the class docstring)."""
        request.read()
        run = _Run(self, request, cap_sync_body)
        action = run.first()
        while True:
            match action:
                case SendRequest():
                    response = yield run.outgoing(action)
                    run.check_hop(response)
                    body = b""
                    if action.needs_body(response.status_code):
                        run.cap(action, response)
                        body = response.read()
                    action = run.answered(action, response, body)
                case Sleep(seconds=seconds):
                    time.sleep(seconds)
                    action = run.handle(SleepCompleted())
                case PromptInteraction():
                    if self.on_interaction is None:
                        raise NoInteractionCallback(action)
                    _sync_result(self.on_interaction(action), "on_interaction")
                    action = run.handle(InteractionStarted())
                case PromptClarification():
                    answer: object = None
                    if self.on_clarification is not None:
                        answer = _sync_result(self.on_clarification(action), "on_clarification")
                    action = run.handle(_clarified(answer))
                case Deliver():
                    run.deliver(action)
                    return
                case Fail(error=error):
                    raise error

    # -- httpx.AsyncClient ----------------------------------------------------------------

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Drive one flow with an ``AsyncClient`` on asyncio or trio (anyio only)."""
        await request.aread()
        run = _Run(self, request, cap_async_body)
        action = run.first()
        while True:
            match action:
                case SendRequest():
                    response = yield run.outgoing(action)
                    run.check_hop(response)
                    body = b""
                    if action.needs_body(response.status_code):
                        run.cap(action, response)
                        body = await response.aread()
                    action = run.answered(action, response, body)
                case Sleep(seconds=seconds):
                    await anyio.sleep(seconds)
                    action = run.handle(SleepCompleted())
                case PromptInteraction():
                    if self.on_interaction is None:
                        raise NoInteractionCallback(action)
                    shown = self.on_interaction(action)
                    if inspect.isawaitable(shown):
                        await shown
                    action = run.handle(InteractionStarted())
                case PromptClarification():
                    answer = None
                    if self.on_clarification is not None:
                        answer = self.on_clarification(action)
                        if inspect.isawaitable(answer):
                            answer = await answer
                    action = run.handle(_clarified(answer))
                case Deliver():
                    run.deliver(action)
                    return
                case Fail(error=error):
                    raise error
