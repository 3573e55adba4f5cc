"""A whole AAuth agent driver on the standard library (http.client, synchronous).

docs/driver-guide.md walks through it; tests/test_driver_guide.py runs it against the fakes.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from urllib.parse import urlsplit

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
from aauth.http import HttpRequest, HttpResponse

MAX_BODY = 10 * 1024 * 1024  # the most bytes of a response body we read
TIMEOUT = 30.0  # seconds any one socket operation may take


def send(request: HttpRequest) -> HttpResponse:
    """One exchange on a new connection: aauth's request out, aauth's response back."""
    url = urlsplit(request.url)
    https = url.scheme == "https"
    connection_type = http.client.HTTPSConnection if https else http.client.HTTPConnection
    connection = connection_type(url.netloc, timeout=TIMEOUT)
    try:
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        connection.putrequest(request.method, target, skip_accept_encoding=True)
        for name, value in request.headers:  # exactly as signed, in order
            connection.putheader(name, value)
        if request.body:
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body or None)
        reply = connection.getresponse()
        body = reply.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise OSError(f"response body larger than {MAX_BODY} bytes")
        return HttpResponse(reply.status, reply.getheaders(), body)
    finally:
        connection.close()


def fetch(
    agent: Agent,
    request: HttpRequest,
    on_interaction: Callable[[PromptInteraction], object] = lambda p: print(p.user_url),
    on_clarification: Callable[[PromptClarification], str | None] = lambda p: None,
) -> HttpResponse:
    """Send ``request`` as ``agent``: the engine decides, this loop does what it says."""
    flow = agent.start(request, now=int(time.time()))
    action = flow.next(now=int(time.time()))
    while True:
        event: Event
        match action:
            case SendRequest(request=outgoing):
                try:
                    event = ResponseReceived(response=send(outgoing))
                except (OSError, http.client.HTTPException) as exc:
                    event = TransportFailed(reason=str(exc) or type(exc).__name__)
            case Sleep(seconds=seconds):
                time.sleep(seconds)
                event = SleepCompleted()
            case PromptInteraction():
                on_interaction(action)
                event = InteractionStarted()
            case PromptClarification():
                answer = on_clarification(action)
                if answer is None:
                    event = ClarificationDeclined()
                else:
                    event = ClarificationAnswered(text=answer)
            case Deliver(response=response):
                return response
            case Fail(error=error):
                raise error
        action = flow.handle(event, now=int(time.time()))
