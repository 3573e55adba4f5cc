"""The resource server engine: one :class:`Exchange` per incoming request (issue 5; digest
§1.3-§1.6, §5, §6.2 "Resource", §8 "Resource").

Sans-IO. :meth:`ResourceServer.receive` takes the request as the server sees it and ``now``
and returns an :class:`Exchange`; its :meth:`~Exchange.next_action` is a
:class:`~aauth.resource.Fetch` (a discovery document the verifier needs),
:class:`~aauth.resource.Respond` (the answer) or :class:`~aauth.resource.CallApp` (run the
application). The binding performs the action and reports back.

The server answers its own ``/.well-known/aauth-resource.json`` and JWKS, maps the
:class:`~aauth.resource.ResourceVerifier` outcomes to actions, and owns the stateful parts
of the protocol.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import msgspec

from ..discovery import EgressPolicy, FetchPurpose
from ..errors import LocalError, SignatureError
from ..http import HttpRequest, HttpResponse
from ..metadata import DWK_RESOURCE, ResourceMetadata, serialize_metadata
from .actions import Action, CallApp, Fetch, Respond
from .outcomes import Challenge, NeedFetch, Verified
from .policy import ResourcePolicy
from .verifier import ResourceVerifier

__all__ = ["Exchange", "ResourceServer"]

#: AAuth -11 §"Resource Metadata": the resource's well-known document.
METADATA_PATH: Final = f"/.well-known/{DWK_RESOURCE}"

_ACCEPT: Final[Mapping[FetchPurpose, str]] = {
    FetchPurpose.METADATA: "application/json",
    FetchPurpose.JWKS: "application/jwk-set+json, application/json",
}

#: RFC 3986 §3: scheme "://" authority; then the path up to "?" or "#".
_ORIGIN_PATH_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)([^?#]*)")

_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})


def _split(url: str) -> tuple[str, str]:
    """``(origin, path)`` of an absolute URL (path ``/`` when empty); ``("", "")`` else."""
    m = _ORIGIN_PATH_RE.match(url)
    if m is None:
        return "", ""
    return m.group(1), m.group(2) or "/"


def _under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it (the verifier's prefix rule)."""
    return prefix in ("/", path) or path.startswith(prefix.rstrip("/") + "/")


def _positive(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise LocalError(f"{name} must be a positive number")


def _positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LocalError(f"{name} must be a positive int")


class ResourceServer:
    """The resource side of AAuth for one resource identifier.

    :param verifier: verifies requests (identifier, resource-token key, per-route policies,
        discovery cache, replay store).
    :param new_secret: returns a fresh unguessable URL-safe string on each call (the
        binding's CSPRNG, e.g. ``secrets.token_urlsafe(24)``): resource-token ``jti`` (when the
        verifier has no ``new_jti``), pending ids, session tokens, interaction codes.
    :param transport_map: ``{origin: origin}`` applied to fetch URLs to make
        :attr:`Fetch.dial_url` (tests: ``https://ap.test`` -> ``http://127.0.0.1:1234``).
    :param egress: the policy the binding checks resolved addresses against before a fetch;
        default: the discovery cache's.
    :param fetch_timeout: seconds allowed for one fetch.
    :param fetch_max_bytes: the most bytes of one fetched document.
    :param max_fetches: fetches one exchange may ask for before it gives up with ``401
        Signature-Error: unknown_key`` (a discovery that never settles).
    :param public_paths: path prefixes without a policy that go to the application
        unauthenticated (``CallApp`` with ``identity=None``); any other path without a
        policy answers ``404``. A policy prefix always wins over a public one.
    :param jwks_path: where the JWKS is served (``jwks_uri`` = identifier + this path).
    :param access_mode: metadata ``access_mode``; default: the routes' mode when they all
        share one, else omitted (digest §6.2: advisory).
    :param signature_window: metadata ``signature_window``; default: the smallest window of
        the routes.
    :param additional_signature_components: metadata; default: the extra components every
        route requires (omitted when none).
    :param scope_descriptions: metadata ``scope_descriptions`` (scope -> Markdown).
    :param metadata_max_age: ``Cache-Control: max-age`` of the metadata and JWKS.
    """

    def __init__(
        self,
        verifier: ResourceVerifier,
        *,
        new_secret: Callable[[], str],
        transport_map: Mapping[str, str] | None = None,
        egress: EgressPolicy | None = None,
        fetch_timeout: float = 5.0,
        fetch_max_bytes: int = 262_144,
        max_fetches: int = 6,
        public_paths: Iterable[str] = (),
        jwks_path: str = "/jwks.json",
        access_mode: str | None = None,
        signature_window: int | None = None,
        additional_signature_components: tuple[str, ...] | None = None,
        scope_descriptions: Mapping[str, str] | None = None,
        metadata_max_age: int = 3_600,
    ) -> None:
        if not isinstance(verifier, ResourceVerifier):
            raise LocalError("verifier must be a ResourceVerifier")
        if not callable(new_secret):
            raise LocalError("new_secret must be a callable returning a fresh secret str")
        _positive(fetch_timeout, "fetch_timeout")
        _positive_int(fetch_max_bytes, "fetch_max_bytes")
        _positive_int(max_fetches, "max_fetches")
        _positive_int(metadata_max_age, "metadata_max_age")
        publics = tuple(public_paths)
        if not all(isinstance(p, str) and p.startswith("/") for p in publics):
            raise LocalError("public_paths must be path prefixes ('/...')")
        if not isinstance(jwks_path, str) or not jwks_path.startswith("/"):
            raise LocalError("jwks_path must be a path ('/...')")
        self.verifier = verifier
        self.new_secret = new_secret
        if verifier.new_jti is None:
            verifier.new_jti = new_secret  # resource-token jti from the binding's randomness
        self.transport_map: dict[str, str] = dict(transport_map or {})
        self.egress: EgressPolicy = (
            egress if egress is not None else verifier.discovery_cache.egress
        )
        self.fetch_timeout = float(fetch_timeout)
        self.fetch_max_bytes = fetch_max_bytes
        self.max_fetches = max_fetches
        self.public_paths = publics
        self.jwks_path = jwks_path
        policies = list(verifier.policies.values())
        modes = {p.mode.value for p in policies}
        if access_mode is None and len(modes) == 1:
            access_mode = modes.pop()
        if signature_window is None:
            signature_window = min(p.signature_window for p in policies)
        if additional_signature_components is None:
            common = [
                c
                for c in policies[0].extra_components
                if all(c in p.extra_components for p in policies)
            ]
            additional_signature_components = tuple(common) or None
        self.metadata = ResourceMetadata(
            issuer=verifier.identifier,
            jwks_uri=verifier.identifier + jwks_path,
            access_mode=access_mode,
            signature_window=signature_window,
            additional_signature_components=additional_signature_components,
            scope_descriptions=dict(scope_descriptions) if scope_descriptions else None,
        )
        dev = self.egress.allow_insecure_loopback_for_development
        cache = (("Cache-Control", f"public, max-age={metadata_max_age}"),)
        self._metadata_response = HttpResponse(
            200,
            (("Content-Type", "application/json"), *cache),
            serialize_metadata(self.metadata, allow_insecure_loopback_for_development=dev),
        )
        jwk = {**verifier.signing_key.public_jwk, "kid": verifier.kid, "use": "sig"}
        self._jwks_response = HttpResponse(
            200,
            (("Content-Type", "application/jwk-set+json"), *cache),
            msgspec.json.encode({"keys": [jwk]}),
        )

    # ------------------------------------------------------------------ entry point

    def receive(self, request: HttpRequest, now: int) -> Exchange:
        """Start the exchange for ``request`` (absolute URL as the server sees it) at
        ``now`` (int Unix seconds)."""
        if not isinstance(request, HttpRequest):
            raise LocalError("request must be an HttpRequest")
        if isinstance(now, bool) or not isinstance(now, int):
            raise LocalError("now must be an int (Unix seconds)")
        return Exchange(self, request, now)

    # ------------------------------------------------------------------ helpers

    def public_path(self, path: str) -> bool:
        """Whether ``path`` is under one of :attr:`public_paths`."""
        return any(_under(path, prefix) for prefix in self.public_paths)

    def dial_url(self, url: str) -> str:
        """``url`` with its origin replaced per :attr:`transport_map`."""
        origin, _ = _split(url)
        mapped = self.transport_map.get(origin)
        return url if mapped is None else mapped + url[len(origin) :]

    def _fetch(self, need: NeedFetch) -> Fetch:
        return Fetch(
            url=need.url,
            dial_url=self.dial_url(need.url),
            purpose=need.purpose,
            timeout=self.fetch_timeout,
            max_bytes=self.fetch_max_bytes,
            egress=self.egress,
            accept=_ACCEPT[need.purpose],
        )

    def _well_known(self, request: HttpRequest, path: str) -> Respond | None:
        """The metadata document or the JWKS, to anyone (digest §6.1), or ``None``."""
        if path == METADATA_PATH:
            response = self._metadata_response
        elif path == self.jwks_path:
            response = self._jwks_response
        else:
            return None
        if request.method not in _SAFE_METHODS:
            return Respond(
                Challenge.denied("invalid_request", "use GET", status=405)
                .to_response()
                .with_headers((("Allow", "GET, HEAD"),))
            )
        return Respond(response)


class Exchange:
    """One request through the server: :meth:`next_action`, then report each action's
    result (:meth:`fetched` / :meth:`fetch_failed` after a :class:`Fetch`,
    :meth:`app_responded` after a ``CallApp(capture=True)``) until the action is a
    :class:`Respond` or a ``CallApp(capture=False)``.

    Calling a reporting method that does not answer the current action raises
    :class:`~aauth.errors.LocalError`.
    """

    __slots__ = ("_action", "_fetches", "_policy", "_server", "request")

    def __init__(self, server: ResourceServer, request: HttpRequest, now: int) -> None:
        self._server = server
        self.request = request
        self._fetches = 0
        self._policy: ResourcePolicy | None = None
        self._action: Action = self._start(now)

    # ------------------------------------------------------------------ public

    def next_action(self) -> Action:
        """The current action (the same one until it is reported on)."""
        return self._action

    @property
    def done(self) -> bool:
        """Whether the current action ends the exchange."""
        action = self._action
        return isinstance(action, Respond) or (isinstance(action, CallApp) and not action.capture)

    def fetched(
        self,
        url: str,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        now: int,
    ) -> Action:
        """The answer to the current :class:`Fetch` of ``url``; returns the next action."""
        self._expect_fetch(url, now)
        self._server.verifier.discovery_cache.on_fetched(url, status, headers, body, now=now)
        return self._after_fetch(now)

    def fetch_failed(self, url: str, *, now: int, reason: str = "transport failure") -> Action:
        """The current :class:`Fetch` of ``url`` failed without an answer (timeout,
        connection error, over-size body, egress refusal); returns the next action."""
        self._expect_fetch(url, now)
        self._server.verifier.discovery_cache.on_fetch_failed(url, now=now, reason=reason)
        return self._after_fetch(now)

    def app_responded(self, response: HttpResponse, *, now: int) -> Action:
        """The application's full response to a ``CallApp(capture=True)``; returns the
        :class:`Respond` to send."""
        action = self._action
        if not isinstance(action, CallApp) or not action.capture:
            raise LocalError("app_responded answers a CallApp with capture=True only")
        if not isinstance(response, HttpResponse):
            raise LocalError("response must be an HttpResponse")
        _check_now(now)
        self._action = Respond(response.with_headers(action.add_headers))
        return self._action

    # ------------------------------------------------------------------ steps

    def _expect_fetch(self, url: str, now: int) -> None:
        action = self._action
        if not isinstance(action, Fetch):
            raise LocalError("no fetch is outstanding in this exchange")
        if url != action.url:
            raise LocalError("report the fetch with the url of the Fetch action")
        _check_now(now)

    def _after_fetch(self, now: int) -> Action:
        self._fetches += 1
        self._action = self._decide(now)
        return self._action

    def _start(self, now: int) -> Action:
        server = self._server
        request = self.request
        _, path = _split(request.url)
        served = server._well_known(request, path)
        if served is not None:
            return served
        policy = server.verifier.policy_for(path)
        if policy is None:
            if server.public_path(path):
                return CallApp(request=request, identity=None)
            return Respond(
                Challenge.denied("invalid_request", "no such resource", status=404).to_response()
            )
        self._policy = policy
        return self._decide(now)

    def _decide(self, now: int) -> Action:
        server = self._server
        policy = self._policy
        assert policy is not None
        outcome = server.verifier.check(self.request, now, policy=policy)
        if isinstance(outcome, NeedFetch):
            if self._fetches >= server.max_fetches:
                error = SignatureError("the issuer's keys could not be fetched", code="unknown_key")
                return Respond(
                    Challenge.signature(error, accepted_algs=policy.algorithms).to_response()
                )
            # a pending fetch (another exchange asked first) is fetched again: the cache
            # takes a duplicate answer like the first
            return server._fetch(outcome)
        if isinstance(outcome, Verified):
            return CallApp(request=self.request, identity=outcome)
        return Respond(outcome.to_response())


def _check_now(now: int) -> None:
    if isinstance(now, bool) or not isinstance(now, int):
        raise LocalError("now must be an int (Unix seconds)")
