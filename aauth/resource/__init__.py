"""The resource side of AAuth as a sans-IO engine (issue 5; digest §1.3-§1.6, §2, §5, §8
"Resource").

* :class:`ResourceServer`: ``receive(request, now)`` -> :class:`Exchange`, whose
  ``next_action()`` is a :class:`Fetch`, :class:`Respond` or :class:`CallApp` (the sans-IO
  server the bindings drive).
* :class:`ResourceVerifier`: ``check(request, now)`` →
  :class:`Verified` | :class:`Challenge` | :class:`NeedFetch`.
* :class:`ResourcePolicy` / :class:`AccessMode`: what each route accepts.
* :class:`ReplayStore` / :class:`MemoryReplayStore`: signatures already accepted.
* :class:`PersonRecordStore` / :class:`MemoryPersonRecords`: verified person tokens by
  ``(ps, sub)``, for step-up resource tokens.
* :class:`SessionStore` / :class:`MemorySessionStore`: ``AAuth-Access`` session tokens.
* :class:`AuthorizationRequest` / :class:`Authorized`: the ``authorization_endpoint``'s body
  and answer (``ResourceServer(authorization_path=...)``, ``ResourceVerifier.authorize``).
"""

from __future__ import annotations

from .actions import Action, CallApp, Fetch, Respond
from .authorization import AuthorizationRequest, AuthorizationRequestError
from .exchange import Exchange
from .outcomes import Authorized, Challenge, NeedFetch, Outcome, Verified
from .policy import AccessMode, ResourcePolicy
from .records import MemoryPersonRecords, PersonRecord, PersonRecordStore
from .replay import MemoryReplayStore, ReplayStore
from .server import METADATA_PATH, ResourceServer
from .sessions import MemorySessionStore, SessionRecord, SessionStore
from .verifier import ResourceVerifier

__all__ = [
    "METADATA_PATH",
    "AccessMode",
    "Action",
    "AuthorizationRequest",
    "AuthorizationRequestError",
    "Authorized",
    "CallApp",
    "Challenge",
    "Exchange",
    "Fetch",
    "MemoryPersonRecords",
    "MemoryReplayStore",
    "MemorySessionStore",
    "NeedFetch",
    "Outcome",
    "PersonRecord",
    "PersonRecordStore",
    "ReplayStore",
    "ResourcePolicy",
    "ResourceServer",
    "ResourceVerifier",
    "Respond",
    "SessionRecord",
    "SessionStore",
    "Verified",
]
