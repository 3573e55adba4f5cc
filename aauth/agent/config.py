"""The agent's limits: every bound of a flow, with argued defaults (design §3).

A flow never hangs and never loops: it stops with
:class:`~aauth.agent.errors.FlowLimitError` when it has handled ``max_steps`` events, when going
on would take it past ``max_total_wait`` seconds since it started, or when it has asked the
Person Server for ``max_token_requests`` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LocalError
from ..headers_http import DEFAULT_POLL_INTERVAL, SLOW_DOWN_INCREMENT

__all__ = ["AgentLimits"]


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LocalError(f"AgentLimits.{name} must be an int >= {minimum}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLimits:
    """Bounds and timings of every flow an :class:`~aauth.agent.agent.Agent` runs.

    :param max_steps: events one flow handles at most. 200: a poll costs two events (the
        sleep and the answer), so ``max_total_wait`` of polling every 5 s is 120 events, plus
        the metadata, person-token and auth-token steps; a peer answering ``Retry-After: 0``
        forever is stopped after 200 requests.
    :param max_total_wait: seconds from the flow's start after which it starts no new request,
        sleep or prompt (an answer already under way is still delivered). 300 s: a person
        approving on a phone fits; a pending URL that never completes does not hang the app.
    :param default_retry_after: the poll interval when ``Retry-After`` is absent or unreadable
        (AAuth -11 §"Polling with GET": 5 s).
    :param slow_down_increment: seconds added to the interval on each ``429`` (AAuth -11: 5 s).
    :param token_refresh_margin: a cached person or auth token is used only while more than
        this many seconds remain before its ``exp`` (60 s: the verifier's skew allowance, so a
        token never expires in flight).
    :param prefer_wait: when set, ``Prefer: wait=N`` (RFC 7240) goes on AAuth requests and
        polls (AAuth -11 §"Deferred Responses"); the driver's read timeout must exceed it.
    :param max_token_requests: PS token requests (person and auth) one flow makes at most; a
        resource that keeps stepping up ends the flow instead of looping.
    :param max_response_body: the most bytes of a body the engine reads (PS answers, ``202``
        bodies); 64 KiB is far above any token response.
    """

    max_steps: int = 200
    max_total_wait: int = 300
    default_retry_after: int = DEFAULT_POLL_INTERVAL
    slow_down_increment: int = SLOW_DOWN_INCREMENT
    token_refresh_margin: int = 60
    prefer_wait: int | None = None
    max_token_requests: int = 6
    max_response_body: int = 65_536

    def __post_init__(self) -> None:
        _check_int("max_steps", self.max_steps, minimum=1)
        _check_int("max_total_wait", self.max_total_wait, minimum=0)
        _check_int("default_retry_after", self.default_retry_after, minimum=0)
        _check_int("slow_down_increment", self.slow_down_increment, minimum=0)
        _check_int("token_refresh_margin", self.token_refresh_margin, minimum=0)
        if self.prefer_wait is not None:
            _check_int("prefer_wait", self.prefer_wait, minimum=0)
        _check_int("max_token_requests", self.max_token_requests, minimum=1)
        _check_int("max_response_body", self.max_response_body, minimum=1024)
