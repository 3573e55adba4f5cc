"""Pieces every fake shares: responses, faults, trust lists, seeded keys and ids.

Test code, not engine code: the fakes may draw randomness, but always from a
``random.Random`` seeded by the test, so every run is the same.
"""

from __future__ import annotations

import enum
import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeAlias, TypeVar
from urllib.parse import urlsplit

from aauth.errors import RemoteError, SignatureError
from aauth.http import HttpRequest, HttpResponse
from aauth.interaction import generate_interaction_code, interaction_codes_match
from aauth.keys import Ed25519Key
from aauth.problems import make_problem, problem_response
from aauth.signature_headers import signature_error_headers
from aauth.tokens import TokenError

__all__ = [
    "JSON",
    "DropConnection",
    "Exchange",
    "Fault",
    "Handler",
    "Issuer",
    "PendingItem",
    "RecordingServer",
    "Reject",
    "Seeded",
    "fault_response",
    "html_response",
    "json_response",
    "jwks_of",
    "origin_of",
    "path_of",
    "problem",
    "read_json_object",
    "seeded_key",
    "signature_problem",
    "trust_map",
]

JSON = "application/json"

#: What every fake's ``handle`` looks like: a request and the current time in, a response out.
Handler: TypeAlias = "HandlerProtocol"


class HandlerProtocol(Protocol):
    """``handle(request, now) -> response``."""

    def __call__(self, request: HttpRequest, now: int) -> HttpResponse: ...


class Issuer(Protocol):
    """Anything with an issuer identifier and a public JWKS (the fakes themselves)."""

    @property
    def issuer(self) -> str: ...

    @property
    def jwks(self) -> dict[str, Any]: ...


def trust_map(
    issuers: Iterable[Issuer] | Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, Mapping[str, Any]]:
    """``{issuer: jwks}`` from fakes, or from a mapping given as is."""
    if issuers is None:
        return {}
    if isinstance(issuers, Mapping):
        return dict(issuers)
    return {item.issuer: item.jwks for item in issuers}


def seeded_key(name: str, seed: int) -> Ed25519Key:
    """A deterministic Ed25519 key for ``name`` under ``seed``."""
    return Ed25519Key.from_seed(hashlib.sha256(f"aauth-fakes:{name}:{seed}".encode()).digest())


def jwks_of(key: Ed25519Key, kid: str) -> dict[str, Any]:
    """The JWKS publishing ``key`` under ``kid`` (with its fully specified ``alg``)."""
    return {"keys": [{**key.public_jwk, "kid": kid, "use": "sig"}]}


class Seeded:
    """Unguessable-looking but reproducible values from one seeded ``random.Random``."""

    def __init__(self, seed: int, name: str) -> None:
        self._rng = random.Random(f"{name}:{seed}")

    def hex_id(self, bits: int = 128) -> str:
        """``bits`` random bits as lowercase hex (pending URLs: 128 bits)."""
        return f"{self._rng.getrandbits(bits):0{bits // 4}x}"

    def interaction_code(self) -> str:
        """An 8-symbol Crockford base32 code, hyphenated (``ABCD-EFGH``)."""
        return generate_interaction_code(self._rng.randbytes(5))


@dataclass(frozen=True)
class Exchange:
    """One request a fake saw, when, and what it answered (``None``: connection dropped)."""

    request: HttpRequest
    now: int
    response: HttpResponse | None


class Reject(Exception):
    """Raised inside a fake to answer with ``response`` at once."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class DropConnection(Exception):
    """A fake's way of saying "close the connection without answering".

    :func:`tests.fakes.server.serve` closes the socket; an in-memory transport turns it into
    a transport failure.
    """


class PendingItem(Protocol):
    """What a fake keeps behind a pending URL (:class:`~tests.fakes.person_server.PendingRequest`,
    :class:`~tests.fakes.resource.HeldCall`)."""

    id: str
    url: str
    code: str | None
    state: str

    @property
    def finished(self) -> bool: ...


PendingT = TypeVar("PendingT", bound=PendingItem)


class LoggingServer:
    """The part every fake server shares: every exchange goes to ``log`` (a :class:`Reject`
    raised while routing becomes the answer)."""

    log: list[Exchange]

    def handle(self, request: HttpRequest, now: int) -> HttpResponse:
        """Answer ``request`` at time ``now``."""
        self.log.append(Exchange(request, now, None))
        try:
            response = self._route(request, now)
        except Reject as reject:
            response = reject.response
        self.log[-1] = Exchange(request, now, response)
        return response

    def _route(self, request: HttpRequest, now: int) -> HttpResponse:
        raise NotImplementedError

    @property
    def requests(self) -> list[HttpRequest]:
        """Every request seen, in order."""
        return [exchange.request for exchange in self.log]


class RecordingServer(LoggingServer, Generic[PendingT]):
    """The part the PS and resource fakes share besides the log: the requests held behind
    pending URLs are in ``pending`` by id, for the test controls to find."""

    #: What the fake calls a held request, in ``LookupError`` messages.
    _pending_noun: ClassVar[str]
    pending: dict[str, PendingT]

    def _find(self, ref: str) -> PendingT:
        """The held request ``ref`` names: its id, its pending URL or its interaction code."""
        for item in self.pending.values():
            if ref in (item.id, item.url):
                return item
            if item.code is not None and interaction_codes_match(item.code, ref):
                return item
        raise LookupError(f"no {self._pending_noun} for {ref!r}")

    def visit(self, ref: str) -> None:
        """The user reached the interaction page: polls report ``"interacting"``."""
        item = self._find(ref)
        if not item.finished:
            item.state = "interacting"


def path_of(url: str) -> str:
    """The path of ``url`` (``/`` when empty)."""
    return urlsplit(url).path or "/"


def origin_of(url: str) -> str:
    """``scheme://authority`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def json_response(
    status: int, body: object, headers: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    """A JSON response (compact encoding)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return HttpResponse(status, [("Content-Type", JSON), *headers], data)


def html_response(status: int) -> HttpResponse:
    """An HTML page where JSON was expected (a proxy's error page, a login page)."""
    page = b"<!DOCTYPE html><html><head><title>Oops</title></head><body>Bad gateway</body></html>"
    return HttpResponse(status, [("Content-Type", "text/html; charset=utf-8")], page)


def problem(
    code: str,
    *,
    status: int | None = None,
    detail: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> HttpResponse:
    """An ``application/problem+json`` response (AAuth -11 §"Error Response Format")."""
    return problem_response(make_problem(code, status=status, detail=detail), headers=headers)


def signature_problem(
    exc: RemoteError, *, accepted_algs: Iterable[str] = ("Ed25519", "ES256")
) -> HttpResponse:
    """``401`` with ``Signature-Error`` (and ``Accept-Signature-*`` where they apply) for a
    signature or token failure in ``Signature-Key`` (signature-key-08 §3.3)."""
    if isinstance(exc, SignatureError):
        error = exc
    else:
        code = exc.signature_code if isinstance(exc, TokenError) else "invalid_jwt"
        error = SignatureError(exc.message, code=code, retryable=exc.retryable)
    headers = signature_error_headers(error, accepted_algs=accepted_algs)
    return problem_response(
        make_problem(error.code, detail=error.message, signature=True), headers=headers
    )


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`Reject` with ``400 invalid_request``."""
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise Reject(problem("invalid_request", detail="the body must be application/json"))
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise Reject(problem("invalid_request", detail="the body is not JSON")) from None
    if not isinstance(body, dict):
        raise Reject(problem("invalid_request", detail="the body must be a JSON object"))
    return body


class Fault(enum.Enum):
    """An answer a test can force instead of the normal one."""

    SERVER_ERROR = "server_error"
    """``500`` problem ``server_error`` (polling: "start over")."""
    HTML = "html"
    """``200`` ``text/html``: a page where JSON was expected."""
    HTML_ERROR = "html_error"
    """``502`` ``text/html``: a proxy's error page."""
    GARBAGE_JSON = "garbage_json"
    """``200`` ``application/json`` whose body is not JSON."""
    EMPTY_JSON = "empty_json"
    """``200`` ``{}``: JSON, but without the expected members."""
    DENIED = "denied"
    """``403`` ``denied``."""
    ABANDONED = "abandoned"
    """``403`` ``abandoned``."""
    USER_UNREACHABLE = "user_unreachable"
    """``403`` ``user_unreachable`` (terminal)."""
    EXPIRED = "expired"
    """``408`` ``expired``."""
    GONE = "gone"
    """``410``."""
    SLOW_DOWN = "slow_down"
    """``429`` ``slow_down`` (the agent adds 5 s to its interval)."""
    UNAVAILABLE = "unavailable"
    """``503`` with ``Retry-After: 0`` (back off per ``Retry-After``)."""
    UNKNOWN_STATUS = "unknown_status"
    """``202`` whose body ``status`` is unknown (to be treated as pending); ``Location`` is the
    pending URL when there is one."""
    DROP = "drop"
    """No response at all: the connection is closed (:class:`DropConnection`)."""

    @property
    def terminal(self) -> bool:
        """Whether a pending request is finished after this answer to a poll."""
        return self not in _NON_TERMINAL


_NON_TERMINAL = frozenset({Fault.SLOW_DOWN, Fault.UNAVAILABLE, Fault.UNKNOWN_STATUS, Fault.DROP})


def fault_response(fault: Fault, *, location: str | None = None) -> HttpResponse:
    """The response for ``fault`` (raises :class:`DropConnection` for :attr:`Fault.DROP`)."""
    if fault is Fault.DROP:
        raise DropConnection("fault injected: connection dropped")
    if fault is Fault.HTML:
        return html_response(200)
    if fault is Fault.HTML_ERROR:
        return html_response(502)
    if fault is Fault.GARBAGE_JSON:
        return HttpResponse(200, [("Content-Type", JSON)], b'{"auth_token": "eyJ, "expires_in": ')
    if fault is Fault.EMPTY_JSON:
        return json_response(200, {})
    if fault is Fault.GONE:
        return problem("invalid_request", status=410, detail="gone")
    if fault is Fault.UNAVAILABLE:
        return problem("server_error", status=503, headers=[("Retry-After", "0")])
    if fault is Fault.UNKNOWN_STATUS:
        headers = [("Retry-After", "0"), ("Cache-Control", "no-store")]
        if location is not None:
            headers.append(("Location", location))
        return json_response(202, {"status": "thinking-about-it"}, headers)
    return problem(fault.value)  # the code's own status from the AAuth tables
