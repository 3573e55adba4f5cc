"""The resource side of AAuth as a sans-IO engine (issue 5; digest §1.3-§1.6, §2, §5, §8
"Resource").

* :class:`ResourceVerifier`: ``check(request, now)`` →
  :class:`Verified` | :class:`Challenge` | :class:`NeedFetch`.
* :class:`ResourcePolicy` / :class:`AccessMode`: what each route accepts.
* :class:`ReplayStore` / :class:`MemoryReplayStore`: signatures already accepted.
"""

from __future__ import annotations

from .outcomes import Challenge, NeedFetch, Outcome, Verified
from .policy import AccessMode, ResourcePolicy
from .replay import MemoryReplayStore, ReplayStore
from .verifier import ResourceVerifier

__all__ = [
    "AccessMode",
    "Challenge",
    "MemoryReplayStore",
    "NeedFetch",
    "Outcome",
    "ReplayStore",
    "ResourcePolicy",
    "ResourceVerifier",
    "Verified",
]
