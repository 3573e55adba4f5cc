"""Calls held behind a pending URL (AAuth -11 §"Deferred Responses"; digest §1.4 "Deferred
form", §1.5, §1.6): the ``202`` auth-token form and session interactions.

In-process state of one :class:`~aauth.resource.ResourceServer` (held requests and stored
results are whole HTTP messages). Bounded by count, by the body size of each request and by
the bytes of all held bodies and stored results together; a call that does not fit is not
held (the server falls back to the ``401`` form), a result that does not fit is sent but not
kept for replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..aauth_headers import Requirement
from ..http import HttpRequest, HttpResponse
from .policy import ResourcePolicy

__all__ = ["HeldCall", "HeldCalls", "HeldKind", "HeldState"]


class HeldKind(Enum):
    """Why a call is held."""

    DEFERRED = "deferred"
    """The ``202`` auth-token form: runs on the first poll with a valid auth token."""
    INTERACTION = "interaction"
    """A session interaction: completes once the application approves or denies it."""


class HeldState(Enum):
    """Where a held call is."""

    PENDING = "pending"
    RUNNING = "running"  # handed to the application, result not yet reported
    APPROVED = "approved"
    DENIED = "denied"
    DONE = "done"  # a deferred result, replayed for the same auth token


@dataclass(eq=False, slots=True, kw_only=True)
class HeldCall:
    """One held call (mutable: its state moves as polls and approvals arrive)."""

    id: str
    kind: HeldKind
    policy: ResourcePolicy
    """The policy polls are verified with (the route's, without body components)."""
    thumbprint: str
    """The key that made the call; every poll must be signed by it."""
    agent: str | None
    request: HttpRequest
    requirement: Requirement
    expires_at: int
    code: str | None = None
    """Interaction: the normalised code (single use)."""
    state: HeldState = HeldState.PENDING
    result: HttpResponse | None = None
    result_jti: str | None = None
    size: int = 0
    """Body bytes charged to the store (the held request's, then the stored result's)."""


class HeldCalls:
    """The held calls of one server, by pending id and by interaction code.

    :param max_calls: the most calls held at once (expired ones are dropped first).
    :param max_body: the largest request body held.
    :param max_bytes: the most body bytes held in all (requests and stored results).
    """

    def __init__(self, *, max_calls: int, max_body: int, max_bytes: int) -> None:
        self.max_calls = max_calls
        self.max_body = max_body
        self.max_bytes = max_bytes
        self.held_bytes = 0
        self._calls: dict[str, HeldCall] = {}
        self._codes: dict[str, str] = {}

    def __len__(self) -> int:
        """Calls held (some may have expired)."""
        return len(self._calls)

    def _room(self, calls: int, size: int, now: int) -> bool:
        """Whether ``calls`` more calls and ``size`` more bytes fit (expired calls are
        dropped first when they would not)."""
        for attempt in range(2):
            if len(self._calls) + calls <= self.max_calls and (
                self.held_bytes + size <= self.max_bytes
            ):
                return True
            if attempt == 0:
                for old in [c for c in self._calls.values() if now >= c.expires_at]:
                    self.drop(old)
        return False

    def add(self, call: HeldCall, *, now: int) -> bool:
        """Hold ``call``; ``False`` when its body is too large or no room is left."""
        size = len(call.request.body)
        if size > self.max_body or not self._room(1, size, now):
            return False
        call.size = size
        self.held_bytes += size
        self._calls[call.id] = call
        if call.code is not None:
            self._codes[call.code] = call.id
        return True

    def store_result(
        self, call: HeldCall, result: HttpResponse, *, jti: str, expires_at: int, now: int
    ) -> bool:
        """Keep a deferred call's ``result`` for replay to the auth token ``jti`` until
        ``expires_at`` (the held request is released); ``False`` when it does not fit, and
        the call is dropped (later polls get ``410``) or was dropped meanwhile (it expired
        while the application ran)."""
        if self._calls.get(call.id) is not call:
            return False
        request = call.request
        call.request = HttpRequest(request.method, request.url)  # the body is not needed now
        self.held_bytes -= call.size
        call.size = 0
        size = len(result.body)
        if not self._room(0, size, now):
            self.drop(call)
            return False
        call.size = size
        self.held_bytes += size
        call.result, call.result_jti, call.expires_at = result, jti, expires_at
        call.state = HeldState.DONE
        return True

    def get(self, pending_id: str, *, now: int) -> HeldCall | None:
        """The live call held under ``pending_id`` (an expired one is dropped)."""
        call = self._calls.get(pending_id)
        if call is not None and now >= call.expires_at:
            self.drop(call)
            return None
        return call

    def by_code(self, code: str, *, now: int) -> HeldCall | None:
        """The live call whose (normalised) interaction code is ``code``."""
        pending_id = self._codes.get(code)
        return None if pending_id is None else self.get(pending_id, now=now)

    def forget_code(self, call: HeldCall) -> None:
        """Make ``call``'s interaction code unusable (single use)."""
        if call.code is not None:
            self._codes.pop(call.code, None)
            call.code = None

    def drop(self, call: HeldCall) -> None:
        """Forget ``call`` (its pending URL is gone)."""
        self.forget_code(call)
        if self._calls.get(call.id) is call:
            del self._calls[call.id]
            self.held_bytes -= call.size
