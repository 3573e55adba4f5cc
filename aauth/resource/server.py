"""The resource server engine: one :class:`Exchange` per incoming request (issue 5; digest
§1.3-§1.6, §5, §6.2 "Resource", §8 "Resource").

Sans-IO. :meth:`ResourceServer.receive` takes the request as the server sees it and ``now``
and returns an :class:`Exchange`; its :meth:`~Exchange.next_action` is a
:class:`~aauth.resource.Fetch` (a discovery document the verifier needs),
:class:`~aauth.resource.Respond` (the answer) or :class:`~aauth.resource.CallApp` (run the
application). The binding performs the action and reports back.

The server answers its own ``/.well-known/aauth-resource.json`` and JWKS, maps the
:class:`~aauth.resource.ResourceVerifier` outcomes to actions, and owns the stateful parts
of the protocol: calls held behind pending URLs (the ``202`` auth-token form, session
interactions) and ``AAuth-Access`` session tokens.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import msgspec

from ..aauth_headers import (
    InteractionRequired,
    Requirement,
    build_aauth_requirement,
)
from ..discovery import EgressPolicy, FetchPurpose
from ..errors import LocalError
from ..http import HttpRequest, HttpResponse
from ..identifiers import InvalidIdentifierError, validate_server_id
from ..interaction import (
    InteractionCodeError,
    generate_interaction_code,
    normalize_interaction_code,
)
from ..metadata import DWK_RESOURCE, ResourceMetadata, serialize_metadata
from ..tokens import PersonToken
from ._util import JSON_TYPE, NO_STORE, PENDING_BODY, check_now, problem, split_url
from .actions import Action, CallApp, Fetch, Respond
from .authorization import (
    AuthorizationRequest,
    AuthorizationRequestError,
    parse_authorization_request,
    scope_values,
)
from .exchange import Exchange
from .held import HeldCall, HeldCalls, HeldKind, HeldState
from .outcomes import Challenge, NeedFetch, Verified
from .policy import AccessMode, ResourcePolicy
from .sessions import MemorySessionStore, SessionRecord, SessionStore
from .verifier import ResourceVerifier

__all__ = ["METADATA_PATH", "Exchange", "ResourceServer"]  # Exchange re-exported

#: AAuth -11 §"Resource Metadata": the resource's well-known document.
METADATA_PATH: Final = f"/.well-known/{DWK_RESOURCE}"

_ACCEPT: Final[Mapping[FetchPurpose, str]] = {
    FetchPurpose.METADATA: "application/json",
    FetchPurpose.JWKS: "application/jwk-set+json, application/json",
}

#: What ``new_secret`` must return: RFC 3986 unreserved characters (safe in a path and a
#: token68), long enough to be unguessable (AAuth -11: pending URLs MUST be unguessable).
_SECRET_RE: Final = re.compile(r"[A-Za-z0-9_~.-]{16,512}")

_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})

#: Components a bodiless poll cannot cover: dropped from the route's policy for polls.
_BODY_COMPONENTS: Final = frozenset({"content-digest", "content-type", "content-length"})

#: digest §7: a JSON body is covered by content-type and content-digest.
_JSON_BODY_COMPONENTS: Final = ("content-type", "content-digest")

#: ``account_check(ps, sub, account)``: whether the person ``(ps, sub)`` holds ``account``.
AccountCheck = Callable[[str, str, str], bool]


def _under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it (the verifier's prefix rule)."""
    return prefix in ("/", path) or path.startswith(prefix.rstrip("/") + "/")


def _positive(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise LocalError(f"{name} must be a positive number")


def _int_at_least(value: int | None, name: str, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise LocalError(f"{name} must be an int >= {low}")


class ResourceServer:
    """The resource side of AAuth for one resource identifier.

    :param verifier: verifies requests (identifier, resource-token key, per-route policies,
        discovery cache, replay store, person-token records).
    :param new_secret: returns a fresh unguessable string of 16-512 RFC 3986 unreserved
        characters on each call (the binding's CSPRNG, e.g. ``secrets.token_urlsafe(24)``):
        resource-token ``jti`` (when the verifier has no ``new_jti``), pending ids, session
        tokens, interaction codes (hashed into Crockford base32).
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
    :param pending_prefix: path under which pending URLs live (``/`` at both ends).
    :param absolute_locations: ``Location`` as an absolute URL on the request's origin
        (default: the path alone, which RFC 9110 §10.2.2 resolves against the request URL:
        same origin by construction, also behind a transport map or a proxy).
    :param retry_after: ``Retry-After`` seconds on every ``202``.
    :param pending_lifetime: seconds a held call waits for its poll / approval.
    :param max_held: the most calls held at once; beyond it (and for a body larger than
        ``max_held_body``) a deferred route answers the ``401`` form instead.
    :param max_held_body: the largest request body held.
    :param max_held_bytes: the most body bytes held in all (held requests and stored
        deferred results); a result that does not fit is sent but not kept for replay.
    :param interaction_url: the https page (no query, no fragment) where the user completes
        a session interaction (``url`` of ``requirement=interaction``); REQUIRED when a
        route has ``session_interaction``.
    :param interaction_runs_call: once an interaction is approved, the first poll runs the
        held request (``CallApp`` with the new ``AAuth-Access``) -- the agent's original call
        completes; ``False``: it answers ``200 {"status":"authorized","scope":…}`` with
        ``AAuth-Access`` and the agent calls again.
    :param session_store: where session tokens live (default: a bounded in-memory store).
    :param session_lifetime: seconds a session token works.
    :param session_rotate_after: seconds after which a presented session token is replaced
        by a new ``AAuth-Access`` on the response (``None``: never rotated).
    :param session_grace: seconds a rotated token keeps working.
    :param authorization_path: where the server answers ``POST`` requests for resource
        tokens itself (digest §1.4 step 3(a), §7.1; e.g. ``/aauth/authorize``), advertised
        as ``authorization_endpoint`` (identifier + path); ``None``: no such endpoint. It
        wins over a route prefix that covers it.
    :param authorization_access_server: four-party: the Access Server the endpoint's
        resource tokens are for (``aud``); ``None``: the PS that issued the person token.
    :param account_check: ``account_check(ps, sub, account)`` says whether the person holds
        ``account`` in the resource's namespace; without it every ``account`` is refused
        (``400 invalid_account``: nothing can confirm it).
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
        pending_prefix: str = "/aauth/pending/",
        absolute_locations: bool = False,
        retry_after: int = 1,
        pending_lifetime: int = 600,
        max_held: int = 1_000,
        max_held_body: int = 1_048_576,
        max_held_bytes: int = 33_554_432,
        interaction_url: str | None = None,
        interaction_runs_call: bool = True,
        session_store: SessionStore | None = None,
        session_lifetime: int = 3_600,
        session_rotate_after: int | None = None,
        session_grace: int = 60,
        authorization_path: str | None = None,
        authorization_access_server: str | None = None,
        account_check: AccountCheck | None = None,
    ) -> None:
        if not isinstance(verifier, ResourceVerifier):
            raise LocalError("verifier must be a ResourceVerifier")
        if not callable(new_secret):
            raise LocalError("new_secret must be a callable returning a fresh secret str")
        _positive(fetch_timeout, "fetch_timeout")
        for value, name in (
            (fetch_max_bytes, "fetch_max_bytes"),
            (max_fetches, "max_fetches"),
            (metadata_max_age, "metadata_max_age"),
            (pending_lifetime, "pending_lifetime"),
            (max_held, "max_held"),
            (max_held_bytes, "max_held_bytes"),
            (session_lifetime, "session_lifetime"),
        ):
            _int_at_least(value, name)
        for value, name in (
            (retry_after, "retry_after"),
            (max_held_body, "max_held_body"),
            (session_grace, "session_grace"),
        ):
            _int_at_least(value, name, 0)
        if session_rotate_after is not None:
            _int_at_least(session_rotate_after, "session_rotate_after")
        publics = tuple(public_paths)
        if not all(isinstance(p, str) and p.startswith("/") for p in publics):
            raise LocalError("public_paths must be path prefixes ('/...')")
        if not isinstance(jwks_path, str) or not jwks_path.startswith("/"):
            raise LocalError("jwks_path must be a path ('/...')")
        if not isinstance(pending_prefix, str) or not (
            len(pending_prefix) > 2 and pending_prefix[0] == pending_prefix[-1] == "/"
        ):
            raise LocalError("pending_prefix must be a path starting and ending with '/'")
        self.verifier = verifier
        self.new_secret = new_secret
        if verifier.new_jti is None:
            verifier.new_jti = new_secret  # resource-token jti from the binding's randomness
        self.transport_map: dict[str, str] = dict(transport_map or {})
        self.egress: EgressPolicy = (
            egress if egress is not None else verifier.discovery_cache.egress
        )
        dev = self.egress.allow_insecure_loopback_for_development
        self._dev = dev
        self.fetch_timeout = float(fetch_timeout)
        self.fetch_max_bytes = fetch_max_bytes
        self.max_fetches = max_fetches
        self.public_paths = publics
        self.jwks_path = jwks_path
        self.pending_prefix = pending_prefix
        self.absolute_locations = bool(absolute_locations)
        self.retry_after = retry_after
        self.pending_lifetime = pending_lifetime
        self.interaction_runs_call = bool(interaction_runs_call)
        self.session_store: SessionStore = (
            session_store if session_store is not None else MemorySessionStore()
        )
        self.session_lifetime = session_lifetime
        self.session_rotate_after = session_rotate_after
        self.session_grace = session_grace
        self._held = HeldCalls(max_calls=max_held, max_body=max_held_body, max_bytes=max_held_bytes)
        policies = list(verifier.policies.values())
        if any(p.session_interaction for p in policies):
            if interaction_url is None:
                raise LocalError("a session_interaction route needs interaction_url")
            # validated once here (https, no query, no fragment), as every 202 will send it
            build_aauth_requirement(
                InteractionRequired(url=interaction_url, code="0000-0000"),
                allow_insecure_loopback_for_development=dev,
            )
        self.interaction_url = interaction_url
        self.authorization_path = _authorization_path(
            authorization_path, (METADATA_PATH, jwks_path), pending_prefix
        )
        if authorization_access_server is not None:
            try:
                validate_server_id(
                    authorization_access_server, allow_insecure_loopback_for_development=True
                )
            except InvalidIdentifierError as exc:
                raise LocalError(f"authorization_access_server: {exc.message}") from None
        self.authorization_access_server = authorization_access_server
        if account_check is not None and not callable(account_check):
            raise LocalError("account_check must be a callable (ps, sub, account) -> bool")
        self.account_check = account_check
        self.metadata = _metadata(
            verifier,
            policies,
            jwks_path=jwks_path,
            access_mode=access_mode,
            signature_window=signature_window,
            additional_signature_components=additional_signature_components,
            scope_descriptions=scope_descriptions,
            authorization_path=self.authorization_path,
        )
        # digest §4.4: only scopes in scope_descriptions (else those the routes require)
        self._known_scopes = frozenset(
            scope_descriptions
            if scope_descriptions
            else (value for p in policies for value in p.scopes)
        )
        self._authorization_policy = (
            None
            if self.authorization_path is None
            else _authorization_policy(policies, self.metadata)
        )
        cache = (("Cache-Control", f"public, max-age={metadata_max_age}"),)
        self._metadata_response = HttpResponse(
            200,
            (JSON_TYPE, *cache),
            serialize_metadata(self.metadata, allow_insecure_loopback_for_development=dev),
        )
        jwk = {**verifier.signing_key.public_jwk, "kid": verifier.kid, "use": "sig"}
        self._jwks_response = HttpResponse(
            200,
            (("Content-Type", "application/jwk-set+json"), *cache),
            msgspec.json.encode({"keys": [jwk]}),
        )

    # ------------------------------------------------------------------ entry points

    def receive(self, request: HttpRequest, now: int) -> Exchange:
        """Start the exchange for ``request`` (absolute URL as the server sees it) at
        ``now`` (int Unix seconds)."""
        if not isinstance(request, HttpRequest):
            raise LocalError("request must be an HttpRequest")
        check_now(now)
        return Exchange(self, request, now)

    def approve_interaction(self, code: str, *, now: int) -> bool:
        """The user completed the session interaction shown with ``code`` (as typed: case,
        hyphens and the ``I``/``L``/``O`` look-alikes do not matter). The next poll of its
        pending URL grants the session. ``False``: no open interaction has that code.

        The code only correlates the user's visit with the pending call; the application
        must authenticate the user and rate-limit code attempts (AAuth -11 §"Interaction
        codes": MUST) before calling this.
        """
        return self._settle(code, now, HeldState.APPROVED)

    def deny_interaction(self, code: str, *, now: int) -> bool:
        """The user refused: the next poll answers ``403 denied``. ``False``: no open
        interaction has that code."""
        return self._settle(code, now, HeldState.DENIED)

    @property
    def held_calls(self) -> int:
        """How many calls are held behind pending URLs (some may have expired)."""
        return len(self._held)

    # ------------------------------------------------------------------ helpers

    def public_path(self, path: str) -> bool:
        """Whether ``path`` is under one of :attr:`public_paths`."""
        return any(_under(path, prefix) for prefix in self.public_paths)

    def dial_url(self, url: str) -> str:
        """``url`` with its origin replaced per :attr:`transport_map`."""
        origin, _ = split_url(url)
        mapped = self.transport_map.get(origin)
        return url if mapped is None else mapped + url[len(origin) :]

    def _secret(self) -> str:
        value = self.new_secret()
        if not isinstance(value, str) or _SECRET_RE.fullmatch(value) is None:
            raise LocalError("new_secret must return 16-512 URL-safe characters")
        return value

    def _settle(self, code: str, now: int, state: HeldState) -> bool:
        check_now(now)
        try:
            key = normalize_interaction_code(code)
        except InteractionCodeError:
            return False
        held = self._held.by_code(key, now=now)
        if held is None or held.state is not HeldState.PENDING:
            return False
        self._held.forget_code(held)  # AAuth -11: single use
        held.state = state
        return True

    def _grant(self, request: HttpRequest, person: PersonToken) -> AuthorizationRequest | Challenge:
        """The authorization endpoint's body for a verified person token (digest §7.1):
        the request to issue a resource token for, or the ``400`` to send."""
        try:
            asked = parse_authorization_request(request)
        except AuthorizationRequestError as exc:
            return Challenge.denied("invalid_request", exc.message, status=400)
        values = scope_values(asked.scope)
        if values is None:
            return Challenge.denied(
                "invalid_scope", "scope is not a space-separated list of scope values", status=400
            )
        unknown = [value for value in values if value not in self._known_scopes]
        if unknown:
            shown = " ".join(unknown)[:200]
            return Challenge.denied("invalid_scope", f"unknown scope {shown}", status=400)
        account = asked.account
        if account is not None and not (
            self.account_check is not None
            and self.account_check(person.iss, person.sub, account) is True
        ):
            # digest §7.1: the account is not held by this person (or cannot be confirmed)
            return Challenge.denied(
                "invalid_account", "the account is not held by this person", status=400
            )
        return AuthorizationRequest(scope=" ".join(values), account=account)

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
                problem("invalid_request", "use GET", 405).with_headers((("Allow", "GET, HEAD"),))
            )
        return Respond(response)

    # ------------------------------------------------------------------ held calls

    def _hold(
        self,
        kind: HeldKind,
        *,
        request: HttpRequest,
        policy: ResourcePolicy,
        thumbprint: str,
        agent: str | None,
        requirement: Requirement | None,
        now: int,
    ) -> HeldCall | None:
        """Hold ``request`` behind a new pending URL; ``None`` when it does not fit."""
        code: str | None = None
        if requirement is None:
            # AAuth -11 §"Interaction codes": >= 40 bits from a CSPRNG, Crockford base32
            display = generate_interaction_code(hashlib.sha256(self._secret().encode()).digest())
            code = normalize_interaction_code(display)
            assert self.interaction_url is not None  # checked in __init__
            requirement = InteractionRequired(url=self.interaction_url, code=display)
        body_free = tuple(c for c in policy.extra_components if c not in _BODY_COMPONENTS)
        held = HeldCall(
            id=self._secret(),
            kind=kind,
            policy=dataclasses.replace(policy, extra_components=body_free),
            thumbprint=thumbprint,
            agent=agent,
            request=request,
            requirement=requirement,
            expires_at=now + self.pending_lifetime,
            code=code,
        )
        return held if self._held.add(held, now=now) else None

    def _pending_response(self, held: HeldCall, request: HttpRequest) -> Respond:
        """``202`` (AAuth -11 §"Deferred Responses"): ``Location`` (unguessable, same
        origin), ``Retry-After``, ``Cache-Control: no-store``, ``AAuth-Requirement`` and
        ``{"status":"pending"}``."""
        location = self.pending_prefix + held.id
        if self.absolute_locations:
            location = split_url(request.url)[0] + location
        requirement = build_aauth_requirement(
            held.requirement, allow_insecure_loopback_for_development=self._dev
        )
        headers = (
            ("AAuth-Requirement", requirement),
            ("Location", location),
            ("Retry-After", str(self.retry_after)),
            NO_STORE,
            JSON_TYPE,
        )
        return Respond(HttpResponse(202, headers, PENDING_BODY))

    # ------------------------------------------------------------------ sessions

    def _new_session(self, agent: str, scope: str, now: int) -> SessionRecord:
        record = SessionRecord(
            token=self._secret(),
            agent=agent,
            scope=scope,
            issued_at=now,
            expires_at=now + self.session_lifetime,
        )
        self.session_store.put(record, now=now)
        return record

    def _session_call(
        self, request: HttpRequest, identity: Verified, policy: ResourcePolicy, now: int
    ) -> Action | None:
        """``session-token`` mode (AAuth -11 §"AAuth-Access"; digest §1.5): a live session
        token bound to this agent runs the call (rotated when old enough); otherwise a new
        one is granted, at once or after an interaction (``None``: hold it)."""
        agent = identity.agent
        assert agent is not None  # session routes accept agent tokens only
        presented = identity.session_token
        record = None if presented is None else self.session_store.get(presented, now=now)
        if record is not None and record.agent == agent:
            add: tuple[tuple[str, str], ...] = ()
            successor = record.successor
            if successor is None and self._due(record, now):
                new = self._new_session(agent, record.scope, now)
                # the old value keeps working for the grace period (a response may be lost)
                expires_at = min(record.expires_at, now + self.session_grace)
                retired = dataclasses.replace(record, expires_at=expires_at, successor=new.token)
                self.session_store.put(retired, now=now)
                successor = new.token
            if successor is not None:
                add = (("AAuth-Access", successor),)
            return CallApp(request=request, identity=identity, add_headers=add)
        if policy.session_interaction:
            return None
        new = self._new_session(agent, policy.scope, now)
        granted = dataclasses.replace(identity, session_token=new.token)
        return CallApp(
            request=request, identity=granted, add_headers=(("AAuth-Access", new.token),)
        )

    def _due(self, record: SessionRecord, now: int) -> bool:
        after = self.session_rotate_after
        return after is not None and now - record.issued_at >= after


def _authorization_path(
    path: str | None, taken: tuple[str, ...], pending_prefix: str
) -> str | None:
    """``path`` checked: a path (``/...``, no query or fragment) that is not the
    metadata, the JWKS or under the pending prefix."""
    if path is None:
        return None
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or any(c in path for c in "?# ")
        or path in taken
        or _under(path, pending_prefix.rstrip("/"))
    ):
        raise LocalError(
            "authorization_path must be a path ('/...', no query or fragment) apart from "
            "the metadata, the JWKS and the pending URLs"
        )
    return path


def _authorization_policy(
    policies: list[ResourcePolicy], metadata: ResourceMetadata
) -> ResourcePolicy:
    """What the authorization endpoint accepts: the advertised window and components plus
    ``content-type`` and ``content-digest`` (a JSON body, digest §7), the algorithms of
    every route, and the Person Servers the person-token and auth-token routes trust (any,
    when one of them trusts any)."""
    personal = [p for p in policies if p.mode in (AccessMode.PERSON_TOKEN, AccessMode.AUTH_TOKEN)]
    if not personal:
        raise LocalError("authorization_path needs a person-token or auth-token route")
    person_servers: frozenset[str] | None = None
    if all(p.person_servers is not None for p in personal):
        person_servers = frozenset(s for p in personal for s in p.person_servers or ())
    extra = (*_JSON_BODY_COMPONENTS, *(metadata.additional_signature_components or ()))
    return ResourcePolicy(
        mode=AccessMode.PERSON_TOKEN,
        extra_components=tuple(dict.fromkeys(extra)),
        signature_window=metadata.signature_window,
        algorithms=tuple(dict.fromkeys(a for p in policies for a in p.algorithms)),
        person_servers=person_servers,
    )


def _metadata(
    verifier: ResourceVerifier,
    policies: list[ResourcePolicy],
    *,
    jwks_path: str,
    access_mode: str | None,
    signature_window: int | None,
    additional_signature_components: tuple[str, ...] | None,
    scope_descriptions: Mapping[str, str] | None,
    authorization_path: str | None,
) -> ResourceMetadata:
    """The ``aauth-resource.json`` document (digest §6.2 "Resource"), defaults derived
    from the routes."""
    modes = {p.mode.value for p in policies}
    if access_mode is None and len(modes) == 1:
        access_mode = modes.pop()
    if signature_window is None:
        signature_window = min(p.signature_window for p in policies)
    if additional_signature_components is None:
        first = policies[0].extra_components
        common = [c for c in first if all(c in p.extra_components for p in policies)]
        additional_signature_components = tuple(common) or None
    return ResourceMetadata(
        issuer=verifier.identifier,
        jwks_uri=verifier.identifier + jwks_path,
        authorization_endpoint=(
            None if authorization_path is None else verifier.identifier + authorization_path
        ),
        access_mode=access_mode,
        signature_window=signature_window,
        additional_signature_components=additional_signature_components,
        scope_descriptions=dict(scope_descriptions) if scope_descriptions else None,
    )
