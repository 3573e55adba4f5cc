"""What :meth:`~aauth.resource.ResourceVerifier.check` returns: :class:`Verified`,
:class:`Challenge` or :class:`NeedFetch` (issue 5; digest §2, §5, §8 "Resource")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..aauth_headers import Requirement, build_aauth_requirement
from ..discovery import FetchPurpose
from ..errors import SignatureError
from ..http import HttpResponse
from ..problems import make_problem, problem_response
from ..signature_headers import signature_error_headers
from ..tokens import AgentToken, AuthToken, PersonToken
from .policy import AccessMode

__all__ = ["Authorized", "Challenge", "NeedFetch", "Outcome", "Verified"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Verified:
    """The request is signed by a trusted key and satisfies the route's policy.

    :param mode: the route's access mode.
    :param token_type: the ``typ`` of the token that signed (``aa-agent+jwt`` ...).
    :param thumbprint: RFC 7638 thumbprint of the signing key (``agent_jkt``).
    :param agent: the agent identifier (agent tokens), else ``None``.
    :param ps: the Person Server: the agent token's ``ps``, the person token's ``iss`` or
        the auth token's ``ps``.
    :param sub: the person's directed identifier (person and auth tokens).
    :param scope: the auth token's scope.
    :param token: the validated token model.
    :param session_token: ``session-token`` mode: the ``Authorization: AAuth`` token68 the
        agent presented (its grammar checked and covered by the signature), for the
        application's session store to look up; ``None`` when none was sent.
    """

    mode: AccessMode
    token_type: str
    thumbprint: str
    token: AgentToken | PersonToken | AuthToken
    agent: str | None = None
    ps: str | None = None
    sub: str | None = None
    scope: str | None = None
    session_token: str | None = None

    @property
    def claims(self) -> dict[str, Any]:
        """The token's claims as a JSON-like dict (a fresh copy)."""
        return self.token.claims()


@dataclass(frozen=True, slots=True)
class Challenge:
    """A refusal or challenge, ready to send: ``status``, ``headers``, ``body``.

    ``code`` is the error or requirement word it carries (``invalid_signature``,
    ``agent-token`` ...), for logs and tests. ``aauth_requirement`` is the requirement model of an
    ``AAuth-Requirement`` challenge, and ``thumbprint`` the signing key's thumbprint on a
    requirement challenge to a validly signed request (a resource token is bound to it; the
    server's deferred form holds the call for that key and refuses other keys' polls).
    """

    status: int
    code: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    detail: str | None = field(default=None, compare=False)
    aauth_requirement: Requirement | None = field(default=None, compare=False)
    thumbprint: str | None = field(default=None, compare=False)

    def to_response(self) -> HttpResponse:
        """This challenge as an :class:`~aauth.http.HttpResponse`."""
        return HttpResponse(self.status, self.headers, self.body)

    @classmethod
    def requirement(
        cls,
        requirement: Requirement,
        *,
        detail: str | None = None,
        thumbprint: str | None = None,
    ) -> Challenge:
        """``401`` with ``AAuth-Requirement`` (AAuth -11 §"Requirement Responses")."""
        return cls(
            401,
            requirement.value,
            (
                ("AAuth-Requirement", build_aauth_requirement(requirement)),
                ("Cache-Control", "no-store"),
            ),
            detail=detail,
            aauth_requirement=requirement,
            thumbprint=thumbprint,
        )

    @classmethod
    def signature(
        cls, error: SignatureError, *, accepted_algs: Iterable[str] = ("Ed25519", "ES256")
    ) -> Challenge:
        """``401`` with ``Signature-Error`` (plus ``Accept-Signature-Scheme`` / ``-Alg`` where
        they apply) and a problem body (AAuth -11: every signature failure is a 401)."""
        headers = signature_error_headers(
            error, accepted_schemes=("jwt",), accepted_algs=accepted_algs
        )
        problem = make_problem(error.code, detail=error.message, signature=True)
        response = problem_response(problem, headers=[*headers, ("Cache-Control", "no-store")])
        return cls(401, error.code, response.headers, response.body, detail=error.message)

    @classmethod
    def denied(cls, code: str, detail: str, *, status: int = 403) -> Challenge:
        """An access denial (``403`` by default): a problem body and never the signature
        headers (AAuth -11 §"Access denials")."""
        response = problem_response(make_problem(code, detail=detail, status=status))
        return cls(status, code, response.headers, response.body, detail=detail)


@dataclass(frozen=True, slots=True, kw_only=True)
class NeedFetch:
    """The verifier needs a document first: GET ``url`` (after egress admission), feed the
    answer to the discovery cache (``on_fetched`` / ``on_fetch_failed``), then call
    ``check`` again with the same request. ``pending``: a fetch of ``url`` is already in
    flight; wait for it rather than starting another."""

    url: str
    purpose: FetchPurpose
    issuer: str
    pending: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Authorized:
    """The ``authorization_endpoint`` issued a resource token (digest §1.4 step 3(a), §7.1):
    ``200 {"resource_token": …}``.

    :param resource_token: the signed ``aa-resource+jwt``.
    :param thumbprint: the signing key's thumbprint (the token's ``agent_jkt``).
    """

    resource_token: str
    thumbprint: str

    def to_response(self) -> HttpResponse:
        """``200`` JSON with ``Cache-Control: no-store`` (the body carries a token)."""
        body = msgspec.json.encode({"resource_token": self.resource_token})
        headers = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))
        return HttpResponse(200, headers, body)


Outcome = Verified | Challenge | NeedFetch
