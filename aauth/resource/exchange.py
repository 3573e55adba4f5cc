"""One request through the :class:`~aauth.resource.ResourceServer`: the :class:`Exchange`
state machine (issue 5; digest §1.3-§1.6, §8 "Resource").

An exchange starts with the request and ``now``; :meth:`Exchange.next_action` is what the
binding does next, and the binding reports each result back until the action ends the
exchange (:class:`~aauth.resource.Respond`, or ``CallApp(capture=False)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec

from ..aauth_headers import AuthTokenRequired, Requirement
from ..errors import LocalError, SignatureError
from ..http import HttpRequest, HttpResponse
from ..tokens import AuthToken
from ._util import JSON_TYPE, NO_STORE, check_now, gone, problem, split_url
from .actions import Action, CallApp, Fetch, Respond
from .held import HeldCall, HeldKind, HeldState
from .outcomes import Authorized, Challenge, NeedFetch, Verified
from .policy import AccessMode, ResourcePolicy

if TYPE_CHECKING:
    from .server import ResourceServer

__all__ = ["Exchange"]


class Exchange:
    """One request through the server: :meth:`next_action`, then report each action's
    result (:meth:`fetched` / :meth:`fetch_failed` after a :class:`Fetch`,
    :meth:`app_responded` after a ``CallApp(capture=True)``) until the action is a
    :class:`Respond` or a ``CallApp(capture=False)`` (:attr:`done`).

    Calling a reporting method that does not answer the current action raises
    :class:`~aauth.errors.LocalError`.
    """

    __slots__ = ("_action", "_authorizing", "_fetches", "_held", "_policy", "_server", "request")

    def __init__(self, server: ResourceServer, request: HttpRequest, now: int) -> None:
        self._server = server
        self.request = request
        self._fetches = 0
        self._policy: ResourcePolicy | None = None
        self._held: HeldCall | None = None
        self._authorizing = False
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
        :class:`Respond` to send. A deferred call's result is stored and replayed to polls
        with the same auth token until its ``exp`` (digest §1.4 "Deferred form")."""
        action = self._action
        if not isinstance(action, CallApp) or not action.capture:
            raise LocalError("app_responded answers a CallApp with capture=True only")
        if not isinstance(response, HttpResponse):
            raise LocalError("response must be an HttpResponse")
        check_now(now)
        response = response.with_headers(action.add_headers)
        held = self._held
        token = None if action.identity is None else action.identity.token
        # capture=True is asked only for a deferred call, run for a verified auth token
        assert held is not None and isinstance(token, AuthToken)
        # digest §1.4: kept until the auth token's exp, replayed to the same token
        self._server._held.store_result(
            held, response, jti=token.jti, expires_at=token.exp, now=now
        )
        self._action = Respond(response)
        return self._action

    # ------------------------------------------------------------------ steps

    def _expect_fetch(self, url: str, now: int) -> None:
        action = self._action
        if not isinstance(action, Fetch):
            raise LocalError("no fetch is outstanding in this exchange")
        if url != action.url:
            raise LocalError("report the fetch with the url of the Fetch action")
        check_now(now)

    def _after_fetch(self, now: int) -> Action:
        self._fetches += 1
        self._action = self._decide(now)
        return self._action

    def _start(self, now: int) -> Action:
        server = self._server
        request = self.request
        _, path = split_url(request.url)
        served = server._well_known(request, path)
        if served is not None:
            return served
        if path == server.authorization_path:
            return self._start_authorization(now)
        if path.startswith(server.pending_prefix):
            return self._start_poll(path[len(server.pending_prefix) :], now)
        policy = server.verifier.policy_for(path)
        if policy is None:
            if server.public_path(path):
                return CallApp(request=request, identity=None)
            return Respond(problem("invalid_request", "no such resource", 404))
        self._policy = policy
        return self._decide(now)

    def _start_authorization(self, now: int) -> Action:
        """``POST {authorization_endpoint}`` (digest §1.4 step 3(a), §7.1): answered here."""
        if self.request.method != "POST":
            allow = (("Allow", "POST"),)
            return Respond(problem("invalid_request", "use POST", 405).with_headers(allow))
        self._authorizing = True
        self._policy = self._server._authorization_policy
        return self._decide(now)

    def _start_poll(self, pending_id: str, now: int) -> Action:
        held = self._server._held.get(pending_id, now=now)
        if held is None:
            return Respond(gone())
        if self.request.method != "GET":
            # AAuth -11 §"Deferred Responses": polls are GETs (clarification's POST and
            # DELETE are not offered by this resource)
            allow = (("Allow", "GET"),)
            return Respond(problem("invalid_request", "poll with GET", 405).with_headers(allow))
        self._held = held
        self._policy = held.policy
        return self._decide(now)

    def _decide(self, now: int) -> Action:
        server = self._server
        policy = self._policy
        assert policy is not None
        held = self._held
        if held is not None and server._held.get(held.id, now=now) is not held:
            return Respond(gone())  # it expired (or finished) while this poll fetched keys
        outcome: Authorized | Challenge | NeedFetch | Verified
        if self._authorizing:
            outcome = server.verifier.authorize(
                self.request,
                now,
                policy=policy,
                grant=server._grant,
                aud=server.authorization_access_server,
            )
        else:
            bound_to = None if held is None else held.thumbprint
            outcome = server.verifier.check(self.request, now, policy=policy, bound_to=bound_to)
        if isinstance(outcome, NeedFetch):
            if self._fetches >= server.max_fetches:
                detail = "the issuer's keys could not be fetched"
                if self._authorizing:
                    # a person token whose keys cannot be had (see ResourceVerifier.authorize)
                    refusal = Challenge.denied(
                        "invalid_person_token", f"{detail} (unknown_key)", status=400
                    )
                    return Respond(refusal.to_response())
                error = SignatureError(detail, code="unknown_key")
                challenge = Challenge.signature(error, accepted_algs=policy.algorithms)
                return Respond(challenge.to_response())
            # a pending fetch (another exchange asked first) is fetched again: the cache
            # takes a duplicate answer like the first
            return server._fetch(outcome)
        if isinstance(outcome, Authorized):
            return Respond(outcome.to_response())
        if held is not None:
            return self._poll(held, outcome, now)
        if isinstance(outcome, Verified):
            if outcome.mode is AccessMode.SESSION_TOKEN:
                action = server._session_call(self.request, outcome, policy, now)
                if action is not None:
                    return action
                return self._hold_or(HeldKind.INTERACTION, outcome, None, now)
            return CallApp(request=self.request, identity=outcome)
        requirement = outcome.aauth_requirement
        if policy.deferred and isinstance(requirement, AuthTokenRequired):
            assert outcome.thumbprint is not None  # set with every resource token
            return self._hold_or(HeldKind.DEFERRED, outcome, requirement, now)
        return Respond(outcome.to_response())

    def _hold_or(
        self,
        kind: HeldKind,
        outcome: Verified | Challenge,
        requirement: Requirement | None,
        now: int,
    ) -> Action:
        """The ``202`` form for a newly held call, or, when it cannot be held, the ``401``
        form (deferred) or ``503`` (interaction)."""
        server = self._server
        policy = self._policy
        assert policy is not None and outcome.thumbprint is not None
        agent = outcome.agent if isinstance(outcome, Verified) else None
        held = server._hold(
            kind,
            request=self.request,
            policy=policy,
            thumbprint=outcome.thumbprint,
            agent=agent,
            requirement=requirement,
            now=now,
        )
        if held is not None:
            return server._pending_response(held, self.request)
        if isinstance(outcome, Challenge):
            return Respond(outcome.to_response())
        busy = problem("server_error", "too many pending requests", 503)
        return Respond(busy.with_headers((("Retry-After", str(server.pending_lifetime)),)))

    # ------------------------------------------------------------------ polls

    def _poll(self, held: HeldCall, outcome: Verified | Challenge, now: int) -> Action:
        """A signed ``GET`` of a pending URL, verified with the held route's policy (AAuth
        -11: the server MUST verify the agent's identity on every poll)."""
        server = self._server
        if isinstance(outcome, Challenge):
            requirement = outcome.aauth_requirement
            key = outcome.thumbprint  # set when the signature was valid
            if requirement is None or key is None or held.kind is HeldKind.INTERACTION:
                return Respond(outcome.to_response())
            if key != held.thumbprint:
                # another agent's token of a kind the route does not take
                return Respond(problem("invalid_request", "another agent's pending request", 403))
            if held.state is HeldState.DONE:
                return Respond(gone())  # another token after completion
            if isinstance(requirement, AuthTokenRequired):
                held.requirement = requirement  # a fresh resource token for the same key
            # not (yet) a valid auth token: still waiting for it
            return server._pending_response(held, self.request)
        assert outcome.thumbprint == held.thumbprint  # check(bound_to=...) refused others
        if held.kind is HeldKind.DEFERRED:
            return self._poll_deferred(held, outcome)
        return self._poll_interaction(held, outcome, now)

    def _poll_deferred(self, held: HeldCall, identity: Verified) -> Action:
        token = identity.token
        assert isinstance(token, AuthToken)  # auth-token routes verify auth tokens only
        if held.state is HeldState.DONE:
            # digest §1.4: replay the stored result for the same auth token until its exp
            if token.jti == held.result_jti and held.result is not None:
                return Respond(held.result)
            return Respond(gone())
        if held.state is HeldState.RUNNING:
            return self._server._pending_response(held, self.request)
        held.state = HeldState.RUNNING
        return CallApp(request=held.request, identity=identity, capture=True)

    def _poll_interaction(self, held: HeldCall, identity: Verified, now: int) -> Action:
        server = self._server
        if identity.agent != held.agent:
            return Respond(problem("invalid_request", "another agent's pending request", 403))
        state = held.state
        if state is HeldState.PENDING:
            return server._pending_response(held, self.request)
        # terminal: dropped, so later polls (and a concurrent one resuming after a fetch,
        # see _decide) get 410
        held.state = HeldState.DONE
        server._held.drop(held)
        if state is HeldState.DENIED:
            return Respond(problem("denied", "the user did not approve the session", 403))
        assert identity.agent is not None
        record = server._new_session(identity.agent, held.policy.scope, now)
        access = (("AAuth-Access", record.token),)
        if not server.interaction_runs_call:
            body = msgspec.json.encode({"status": "authorized", "scope": record.scope})
            return Respond(HttpResponse(200, (JSON_TYPE, NO_STORE, *access), body))
        granted = dataclasses.replace(identity, session_token=record.token)
        return CallApp(request=held.request, identity=granted, add_headers=access)
