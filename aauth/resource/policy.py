"""Per-route resource policy (AAuth -11 §"Resource Access Modes"; digest §1.3, §2).

A :class:`ResourcePolicy` says what one route of a resource accepts: the access mode, the
scope an auth token must carry, the components the signature must cover beyond the AAuth
four, the ``created`` window, the algorithms, and whose tokens are trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ..errors import LocalError
from ..identifiers import InvalidIdentifierError, validate_server_id
from ..jwk import SUPPORTED_ALGS
from ..signing import DEFAULT_MAX_SKEW

__all__ = ["AccessMode", "ResourcePolicy"]


class AccessMode(StrEnum):
    """The ``access_mode`` values a route can require (AAuth -11 §"Resource Access Modes")."""

    AGENT_TOKEN = "agent-token"  # noqa: S105 - a mode name
    PERSON_TOKEN = "person-token"  # noqa: S105 - a mode name
    AUTH_TOKEN = "auth-token"  # noqa: S105 - a mode name
    SESSION_TOKEN = "session-token"  # noqa: S105 - a mode name


_MAX_WINDOW: Final = 3_600


def _issuers(value: frozenset[str] | None, name: str, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, frozenset) or not all(isinstance(v, str) for v in value):
        raise LocalError(f"{name} must be a frozenset of issuer identifiers")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourcePolicy:
    """What one route accepts.

    :param mode: the access mode (:class:`AccessMode`).
    :param scope: ``auth-token``: the space-separated scope an auth token must carry, and
        the scope requested in the resource token issued after a person token.
    :param extra_components: components the signature must cover beyond ``@method``,
        ``@authority``, ``@path``, ``signature-key`` (the resource's
        ``additional_signature_components``, or a route's own, e.g. ``@query``).
    :param signature_window: seconds ``created`` may differ from ``now`` (digest [AMBIG-8]:
        symmetric); default 60.
    :param algorithms: signature algorithms accepted (JOSE names; never ``EdDSA``).
    :param agent_providers: issuers whose agent tokens are trusted; ``None`` trusts any
        issuer whose metadata and JWKS discovery succeeds.
    :param person_servers: issuers whose person and auth tokens are trusted (``None``: any).
    :param access_servers: further issuers of auth tokens (four-party), trusted besides
        ``person_servers``.
    :param access_server: ``auth-token``, four-party: the Access Server of this route.
        Resource tokens are issued with ``aud`` = this AS (digest §1.4 step 3) and its auth
        tokens are trusted here; ``None``: three-party, ``aud`` = the PS.
    :param deferred: ``auth-token`` only: answer with the ``202`` form (the call is held
        behind a pending URL and runs on the first poll with a valid auth token) instead
        of the ``401`` (digest §1.4 "Deferred form").
    :param session_interaction: ``session-token`` only: grant the first ``AAuth-Access``
        after a ``202 requirement=interaction`` the user completes (the application calls
        ``ResourceServer.approve_interaction``); ``False`` (default): the first call signed
        with an agent token runs and its response carries the new token (digest §1.5).
    """

    mode: AccessMode = AccessMode.AGENT_TOKEN
    scope: str = ""
    extra_components: tuple[str, ...] = ()
    signature_window: int = DEFAULT_MAX_SKEW
    algorithms: tuple[str, ...] = SUPPORTED_ALGS
    agent_providers: frozenset[str] | None = None
    person_servers: frozenset[str] | None = None
    access_servers: frozenset[str] = frozenset()
    access_server: str | None = None
    deferred: bool = False
    session_interaction: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.mode, AccessMode):
            raise LocalError(f"mode must be an AccessMode, not {self.mode!r}")
        if not isinstance(self.scope, str):
            raise LocalError("scope must be a space-separated str")
        window = self.signature_window
        if isinstance(window, bool) or not isinstance(window, int) or not 0 < window <= _MAX_WINDOW:
            raise LocalError(f"signature_window must be an int in 1..{_MAX_WINDOW} seconds")
        if "EdDSA" in self.algorithms or not self.algorithms:
            # AAuth -11 §"Algorithms": EdDSA is polymorphic and MUST NOT be used
            raise LocalError("algorithms must be non-empty and fully specified (no EdDSA)")
        _issuers(self.agent_providers, "agent_providers")
        _issuers(self.person_servers, "person_servers")
        _issuers(self.access_servers, "access_servers", optional=False)
        if self.access_server is not None:
            try:
                validate_server_id(self.access_server, allow_insecure_loopback_for_development=True)
            except InvalidIdentifierError as exc:
                raise LocalError(f"access_server: {exc.message}") from None
            if self.mode is not AccessMode.AUTH_TOKEN:
                raise LocalError("access_server belongs to auth-token routes")
        if not isinstance(self.deferred, bool):
            raise LocalError("deferred must be a bool")
        if self.deferred and self.mode is not AccessMode.AUTH_TOKEN:
            raise LocalError("deferred (the 202 form) belongs to auth-token routes")
        if not isinstance(self.session_interaction, bool):
            raise LocalError("session_interaction must be a bool")
        if self.session_interaction and self.mode is not AccessMode.SESSION_TOKEN:
            raise LocalError("session_interaction belongs to session-token routes")

    @property
    def scopes(self) -> frozenset[str]:
        """The required scope values."""
        return frozenset(self.scope.split())

    def trusts_agent_provider(self, issuer: str) -> bool:
        """Whether agent tokens of ``issuer`` are accepted here."""
        return self.agent_providers is None or issuer in self.agent_providers

    def trusts_person_server(self, issuer: str) -> bool:
        """Whether person tokens of ``issuer`` are accepted here."""
        return self.person_servers is None or issuer in self.person_servers

    def trusts_auth_issuer(self, issuer: str) -> bool:
        """Whether auth tokens of ``issuer`` (a PS or an AS) are accepted here."""
        return (
            issuer == self.access_server
            or issuer in self.access_servers
            or self.trusts_person_server(issuer)
        )
