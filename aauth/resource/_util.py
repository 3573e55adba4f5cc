"""Small pieces the resource server and its exchanges share (issue 5)."""

from __future__ import annotations

import re
from typing import Final

from ..errors import LocalError
from ..http import HttpResponse
from .outcomes import Challenge

#: RFC 3986 §3: scheme "://" authority; then the path up to "?" or "#".
_ORIGIN_PATH_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)([^?#]*)")

JSON_TYPE: Final = ("Content-Type", "application/json")
NO_STORE: Final = ("Cache-Control", "no-store")
PENDING_BODY: Final = b'{"status":"pending"}'


def split_url(url: str) -> tuple[str, str]:
    """``(origin, path)`` of an absolute URL (path ``/`` when empty); ``("", "")`` else."""
    m = _ORIGIN_PATH_RE.match(url)
    if m is None:
        return "", ""
    return m.group(1), m.group(2) or "/"


def check_now(now: int) -> None:
    """``now`` must be int Unix seconds."""
    if isinstance(now, bool) or not isinstance(now, int):
        raise LocalError("now must be an int (Unix seconds)")


def problem(code: str, detail: str, status: int) -> HttpResponse:
    """A problem response without signature headers."""
    return Challenge.denied(code, detail, status=status).to_response()


def gone() -> HttpResponse:
    """``410`` for a pending URL that is over (AAuth -11 §"Deferred Responses": after a
    terminal answer the pending URL returns 410); unknown and expired ids answer the same,
    so ids cannot be probed."""
    return problem("invalid_request", "no such pending request (finished or expired)", 410)
