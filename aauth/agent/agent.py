"""The long-lived agent: credentials, Person Server, capabilities, limits, caches.

One :class:`Agent` lives as long as the application; :meth:`Agent.start` makes one
:class:`~aauth.agent.flow.AgentFlow` per application request. The agent holds what flows share:
the credentials provider, the :class:`~aauth.agent.store.AgentStore` (PS metadata, person, auth
and session tokens), and the configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..aauth_headers import build_aauth_capabilities
from ..errors import LocalError
from ..http import HttpRequest
from ..identifiers import InvalidIdentifierError, validate_endpoint_url, validate_server_id
from ._urls import origin_of
from .config import AgentLimits
from .credentials import AgentCredentials
from .store import AgentStore

if TYPE_CHECKING:
    from .flow import AgentFlow

__all__ = ["Agent"]


def _check_transport_map(transport_map: Mapping[str, str] | None) -> Mapping[str, str]:
    if transport_map is None:
        return MappingProxyType({})
    if not isinstance(transport_map, Mapping):
        raise LocalError("transport_map must map origins to origins")
    checked: dict[str, str] = {}
    for source, target in transport_map.items():
        if not isinstance(source, str) or not isinstance(target, str):
            raise LocalError("transport_map must map origin strings to origin strings")
        if origin_of(source) != source or origin_of(target) != target:
            raise LocalError(
                f"transport_map entries must be bare origins (scheme://host[:port]): "
                f"{source!r} -> {target!r}"
            )
        checked[source] = target
    return MappingProxyType(checked)


class Agent:
    """An AAuth agent: signs every request and answers every challenge, one flow per request.

    :param credentials: where the signing key and agent token come from
        (:class:`~aauth.agent.credentials.StaticAgentCredentials`,
        :class:`~aauth.agent.credentials.RefreshingAgentCredentials`,
        :class:`~aauth.agent.credentials.SelfSignedAgentCredentials`, or your own).
    :param person_server: the agent's Person Server identifier; default: the agent token's
        ``ps`` claim. Needed for ``person-token`` and ``auth-token`` challenges.
    :param capabilities: what the application can do (``interaction``, ``clarification``,
        ``payment``), sent to resources as ``AAuth-Capabilities`` and to the PS as the
        ``capabilities`` body member (AAuth -11 §"AAuth-Capabilities Request Header").
    :param limits: bounds and timings of every flow.
    :param transport_map: identifier origin -> origin actually dialled (loopback tests:
        ``{"https://ps.example": "http://127.0.0.1:8123"}``); applied before signing.
    :param callback_url: the agent's ``callback_endpoint``, added to interaction URLs
        (``&callback=``) when the application can receive the user back.
    :param store: the caches (a fresh :class:`~aauth.agent.store.AgentStore` by default).
    :param allow_insecure_loopback_for_development: admit ``http`` loopback identifiers and
        interaction URLs (local development only; AAuth -11 has no such mode).
    :raises LocalError: a parameter is malformed.
    """

    def __init__(
        self,
        credentials: AgentCredentials,
        *,
        person_server: str | None = None,
        capabilities: Iterable[str] = (),
        limits: AgentLimits | None = None,
        transport_map: Mapping[str, str] | None = None,
        callback_url: str | None = None,
        store: AgentStore | None = None,
        allow_insecure_loopback_for_development: bool = False,
    ) -> None:
        dev = allow_insecure_loopback_for_development
        if not hasattr(credentials, "current") or not hasattr(credentials, "algorithms"):
            raise LocalError("credentials must be an AgentCredentials provider")
        try:
            if person_server is not None:
                validate_server_id(person_server, allow_insecure_loopback_for_development=dev)
            if callback_url is not None:
                validate_endpoint_url(
                    callback_url,
                    localhost_callback_allowed=True,
                    allow_insecure_loopback_for_development=dev,
                )
        except InvalidIdentifierError as exc:
            raise LocalError(exc.message) from None
        if limits is not None and not isinstance(limits, AgentLimits):
            raise LocalError("limits must be an AgentLimits")
        if store is not None and not isinstance(store, AgentStore):
            raise LocalError("store must be an AgentStore")
        self.credentials: AgentCredentials = credentials
        self.person_server: str | None = person_server
        self.capabilities: tuple[str, ...] = tuple(dict.fromkeys(capabilities))
        self.capabilities_header: str = build_aauth_capabilities(self.capabilities)
        self.limits: AgentLimits = limits if limits is not None else AgentLimits()
        self.transport_map: Mapping[str, str] = _check_transport_map(transport_map)
        self.callback_url: str | None = callback_url
        self.store: AgentStore = store if store is not None else AgentStore()
        self.allow_insecure_loopback_for_development: bool = dev

    def start(self, request: HttpRequest, *, now: float) -> AgentFlow:
        """A new flow for the application's ``request`` (absolute http(s) URL; any
        ``Signature``, ``Signature-Input`` and ``Signature-Key`` headers are replaced).

        Call :meth:`AgentFlow.next` for its first action.

        :raises LocalError: ``request`` is not an :class:`~aauth.http.HttpRequest` with an
            absolute http(s) URL, or ``now`` is not a time.
        """
        from .flow import AgentFlow  # noqa: PLC0415 - flow imports this module

        return AgentFlow(self, request, now=now)
