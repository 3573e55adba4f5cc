"""What an :class:`~aauth.resource.Exchange` asks its binding to do next (issue 5).

The engine performs no IO: each step of an exchange is one of these actions, and the binding
reports the result back (``fetched`` / ``fetch_failed`` / ``app_responded``).

* :class:`Fetch`: GET a discovery document (issuer metadata or JWKS) for the verifier.
* :class:`Respond`: send this response; the exchange is over.
* :class:`CallApp`: run the application with this request and identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..discovery import EgressPolicy, FetchPurpose
from ..http import HttpRequest, HttpResponse
from .outcomes import Verified

__all__ = ["Action", "CallApp", "Fetch", "Respond"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetch:
    """GET ``dial_url`` and report the answer with ``Exchange.fetched(url, ...)`` (or
    ``Exchange.fetch_failed(url, ...)``).

    :param url: the document's URL (the discovery cache's key; report with this one).
    :param dial_url: ``url`` after the server's ``transport_map`` (tests only); what to dial.
    :param purpose: issuer metadata or JWKS.
    :param timeout: seconds for the whole fetch.
    :param max_bytes: the most body bytes to read; more is a failed fetch.
    :param egress: before connecting, every resolved address must pass
        :func:`aauth.discovery.check_resolved_address` with this policy (digest §3.6);
        a refusal is a failed fetch.
    :param accept: the ``Accept`` header to send.
    """

    url: str
    dial_url: str
    purpose: FetchPurpose
    timeout: float
    max_bytes: int
    egress: EgressPolicy
    accept: str = "application/json"


@dataclass(frozen=True, slots=True)
class Respond:
    """Send ``response`` as it is; the exchange is over."""

    response: HttpResponse


@dataclass(frozen=True, slots=True, kw_only=True)
class CallApp:
    """Run the application.

    :param request: what the application sees: the incoming request, or for a held call
        (a deferred poll, a session interaction) the ORIGINAL request that was held, whose
        method, URL, headers and body differ from the poll on the wire.
    :param identity: who the request verified as; ``None`` on a public path.
    :param add_headers: headers to add to the application's response (``AAuth-Access``).
    :param capture: ``True``: buffer the whole response and hand it to
        ``Exchange.app_responded``, which answers with the :class:`Respond` to send (the
        deferred form stores it for replay). ``False``: stream the application's response
        (plus ``add_headers``); the exchange is over.
    """

    request: HttpRequest
    identity: Verified | None
    add_headers: tuple[tuple[str, str], ...] = ()
    capture: bool = False


Action: TypeAlias = Fetch | Respond | CallApp
"""One step of an :class:`~aauth.resource.Exchange`."""
