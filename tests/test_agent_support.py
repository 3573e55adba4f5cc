"""Shared helpers for the agent engine tests (no tests of its own).

Scripted fakes: a test lists the requests it expects, in order, each with the answer to give
(:class:`Step`); :func:`drive` runs a flow against that script the way a driver would (no
sockets, no sleeps: a virtual clock advances on :class:`~aauth.agent.Sleep`). Every signed
request is verified with :func:`aauth.signing.verify_request`, so a test can assert which
token a request presented and which components it covered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aauth.aauth_headers import (
    AuthTokenRequired,
    InteractionRequired,
    Requirement,
    build_aauth_requirement,
)
from aauth.agent import (
    Action,
    Agent,
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
    StaticAgentCredentials,
    TransportFailed,
)
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import EcP256Key, Ed25519Key, PrivateKey
from aauth.metadata import PersonServerMetadata, serialize_metadata
from aauth.signing import VerifiedRequest, verify_request
from aauth.tokens import (
    build_agent_token,
    build_auth_token,
    build_person_token,
    create_resource_token,
)

T0: Final = 1_767_225_600  # 2026-01-01T00:00:00Z
AP: Final = "https://agent.example"
PS: Final = "https://ps.example"
RESOURCE: Final = "https://resource.example"
AGENT_ID: Final = "aauth:assistant@agent.example"
SUB: Final = "user-7f3c"
PERSON_ENDPOINT: Final = f"{PS}/token/person"
AUTH_ENDPOINT: Final = f"{PS}/token/auth"
METADATA_URL: Final = f"{PS}/.well-known/aauth-person.json"
API_URL: Final = f"{RESOURCE}/api/items?limit=2"


def _seed(name: str) -> bytes:
    return hashlib.sha256(f"aauth agent tests {name}".encode()).digest()


AGENT_KEY: Final = Ed25519Key.from_seed(_seed("agent"))
OTHER_KEY: Final = Ed25519Key.from_seed(_seed("other"))
EC_AGENT_KEY: Final = EcP256Key.generate(_seed("ec agent"))
AP_KEY: Final = Ed25519Key.from_seed(_seed("ap"))
PS_KEY: Final = Ed25519Key.from_seed(_seed("ps"))
RESOURCE_KEY: Final = Ed25519Key.from_seed(_seed("resource"))


def agent_token(
    key: PrivateKey = AGENT_KEY,
    *,
    now: int = T0 - 60,
    lifetime: int = 3600,
    ps: str | None = PS,
    jti: str = "at-1",
) -> str:
    """An agent token for ``key`` from the AP ``https://agent.example``."""
    return build_agent_token(
        AP_KEY,
        kid="ap-1",
        now=now,
        jti=jti,
        iss=AP,
        sub=AGENT_ID,
        cnf_jwk=key.public_key,
        lifetime=lifetime,
        ps=ps,
    )


def person_token(
    *,
    now: int = T0,
    key: PrivateKey = AGENT_KEY,
    aud: str = RESOURCE,
    sub: str = SUB,
    iss: str = PS,
    lifetime: int = 3600,
    jti: str = "pt-1",
) -> str:
    """A person token from the PS for ``aud``, bound to ``key``."""
    return build_person_token(
        PS_KEY,
        kid="ps-1",
        now=now,
        jti=jti,
        iss=iss,
        aud=aud,
        sub=sub,
        cnf_jwk=key.public_key,
        lifetime=lifetime,
    )


def resource_token(
    *,
    now: int = T0,
    key: PrivateKey = AGENT_KEY,
    iss: str = RESOURCE,
    aud: str = PS,
    ps: str = PS,
    sub: str = SUB,
    scope: str = "data.read",
    lifetime: int = 300,
) -> str:
    """A resource token from the resource for the PS, naming ``key``'s thumbprint."""
    return create_resource_token(
        RESOURCE_KEY,
        kid="res-1",
        now=now,
        jti="rt-1",
        iss=iss,
        aud=aud,
        agent_jkt=key.thumbprint,
        scope=scope,
        ps=ps,
        sub=sub,
        presented_jti="pt-1",
        lifetime=lifetime,
    )


def auth_token(
    *,
    now: int = T0,
    key: PrivateKey = AGENT_KEY,
    aud: str = RESOURCE,
    iss: str = PS,
    sub: str = SUB,
    lifetime: int = 3600,
    scope: str = "data.read",
    jti: str = "au-1",
) -> str:
    """An auth token issued by the PS (``dwk`` ``aauth-person.json``), bound to ``key``."""
    return build_auth_token(
        PS_KEY,
        kid="ps-1",
        now=now,
        jti=jti,
        iss=iss,
        dwk="aauth-person.json",
        aud=aud,
        ps=iss,
        sub=sub,
        cnf_jwk=key.public_key,
        lifetime=lifetime,
        scope=scope,
    )


PS_METADATA: Final = serialize_metadata(
    PersonServerMetadata(
        issuer=PS,
        jwks_uri=f"{PS}/jwks.json",
        person_token_endpoint=PERSON_ENDPOINT,
        auth_token_endpoint=AUTH_ENDPOINT,
    )
)


def response(
    status: int, headers: Iterable[tuple[str, str]] = (), body: bytes | Any = b""
) -> HttpResponse:
    """An answer; a non-bytes ``body`` is sent as JSON."""
    pairs = list(headers)
    if not isinstance(body, bytes):
        pairs.append(("Content-Type", "application/json"))
        body = json.dumps(body).encode()
    return HttpResponse(status, pairs, body)


def challenge(requirement: Requirement, status: int = 401, *extra: tuple[str, str]) -> HttpResponse:
    """A response carrying ``AAuth-Requirement``."""
    return response(status, [("AAuth-Requirement", build_aauth_requirement(requirement)), *extra])


def auth_challenge(
    token: str | None = None, *, status: int = 401, location: str = ""
) -> HttpResponse:
    headers = [("Location", location)] if location else []
    return challenge(AuthTokenRequired(resource_token=token or resource_token()), status, *headers)


def deferred(
    location: str,
    requirement: Requirement | None = None,
    *,
    retry_after: str | None = "0",
    body: Any = None,
) -> HttpResponse:
    """A ``202`` with ``Location`` (and ``Retry-After`` unless ``None``)."""
    headers = [("Location", location), ("Cache-Control", "no-store")]
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    if requirement is not None:
        headers.append(("AAuth-Requirement", build_aauth_requirement(requirement)))
    return response(202, headers, body if body is not None else {"status": "pending"})


def interaction(location: str, code: str = "A1B2-C3D4", url: str = f"{PS}/consent") -> HttpResponse:
    return deferred(location, InteractionRequired(url=url, code=code))


def problem(status: int, error: str, detail: str | None = None) -> HttpResponse:
    body: dict[str, Any] = {"error": error}
    if detail is not None:
        body["detail"] = detail
    return HttpResponse(
        status, [("Content-Type", "application/problem+json")], json.dumps(body).encode()
    )


def ok(body: Any = None, *headers: tuple[str, str]) -> HttpResponse:
    return response(200, headers, body if body is not None else {"ok": True})


# ------------------------------------------------------------------------------------ scripts

Responder = Callable[[HttpRequest, int], HttpResponse | Exception]


@dataclass
class Step:
    """One request the script expects (its purpose, and optionally method and URL), and the
    answer: an :class:`HttpResponse`, an exception (a transport failure), or a callable of
    ``(request, now)`` returning either."""

    purpose: Purpose
    answer: HttpResponse | Exception | Responder
    url: str | None = None
    method: str | None = None


@dataclass
class Run:
    """What :func:`drive` saw."""

    final: Deliver | Fail
    actions: list[Action] = field(default_factory=list)
    sent: list[SendRequest] = field(default_factory=list)
    verified: list[VerifiedRequest | None] = field(default_factory=list)
    flow: AgentFlow | None = None
    now: int = T0

    @property
    def error(self) -> Any:
        assert isinstance(self.final, Fail), f"expected a failure, got {self.final!r}"
        return self.final.error

    @property
    def response(self) -> HttpResponse:
        assert isinstance(self.final, Deliver), f"expected a delivery, got {self.final!r}"
        return self.final.response

    @property
    def purposes(self) -> list[Purpose]:
        return [s.purpose for s in self.sent]

    def presented(self) -> list[str | None]:
        """The ``typ`` of the token each request presented (``None`` for unsigned ones)."""
        return [None if v is None else v.token_header.get("typ") for v in self.verified]

    @property
    def slept(self) -> list[float]:
        return [a.seconds for a in self.actions if isinstance(a, Sleep)]


def verify(request: HttpRequest, now: int) -> VerifiedRequest | None:
    """The verified signature of ``request`` (``None`` when it carries none)."""
    if not request.has_header("signature-input"):
        return None
    # PS requests with a body must cover content-type and content-digest (AAuth -11)
    return verify_request(request, now=now, require_body_digest=request.has_header("content-type"))


def make_agent(
    *,
    key: PrivateKey = AGENT_KEY,
    token: str | None = None,
    limits: AgentLimits | None = None,
    **kwargs: Any,
) -> Agent:
    credentials = kwargs.pop("credentials", None) or StaticAgentCredentials(
        key, token or agent_token(key)
    )
    return Agent(credentials, limits=limits, **kwargs)


Answerer = Callable[[PromptClarification], str | None]


def drive(
    agent: Agent,
    steps: Sequence[Step],
    *,
    request: HttpRequest | None = None,
    now: int = T0,
    answer: Answerer = lambda prompt: "because",
    prompt_delay: int = 0,
    max_events: int = 500,
    allow_unused: bool = False,
) -> Run:
    """Run one flow of ``agent`` for ``request`` against ``steps``, like a driver.

    Every step must be used, in order; a ``Sleep`` advances the virtual clock; prompts are
    answered at once (``answer`` returning ``None`` declines) after ``prompt_delay`` seconds.
    With ``allow_unused`` the flow may finish before the script does.
    """
    queue = list(steps)
    flow = agent.start(request or HttpRequest("GET", API_URL), now=now)
    run = Run(final=Fail(error=AssertionError("never finished")), flow=flow)  # type: ignore[arg-type]
    action = flow.next(now=now)
    for _ in range(max_events):
        run.actions.append(action)
        event: Event
        if isinstance(action, SendRequest):
            assert queue, (
                f"unexpected {action.purpose} {action.request.method} {action.request.url}"
            )
            step = queue.pop(0)
            assert action.purpose is step.purpose, (
                action.purpose,
                step.purpose,
                action.request.url,
            )
            if step.url is not None:
                assert action.request.url == step.url, (action.request.url, step.url)
            if step.method is not None:
                assert action.request.method == step.method
            run.sent.append(action)
            run.verified.append(verify(action.request, now))
            answer_ = step.answer
            result = answer_(action.request, now) if callable(answer_) else answer_
            if isinstance(result, Exception):
                event = TransportFailed(reason=str(result))
            else:
                event = ResponseReceived(response=result)
        elif isinstance(action, Sleep):
            now += int(action.seconds)
            event = SleepCompleted()
        elif isinstance(action, PromptInteraction):
            now += prompt_delay
            event = InteractionStarted()
        elif isinstance(action, PromptClarification):
            now += prompt_delay
            text = answer(action)
            event = ClarificationDeclined() if text is None else ClarificationAnswered(text=text)
        else:
            assert isinstance(action, (Deliver, Fail))
            assert allow_unused or not queue, (
                f"{len(queue)} scripted steps unused; first: {queue[0].purpose}"
            )
            run.final = action
            run.now = now
            return run
        action = flow.handle(event, now=now)
    raise AssertionError(f"the flow did not finish within {max_events} events")


def body_of(request: HttpRequest) -> Any:
    return json.loads(request.body)


def repeat(step: Step, times: int) -> list[Step]:
    return [step] * times
