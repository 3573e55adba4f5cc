"""The Person Server's person-token records and the ``presented_jti`` check (AAuth -11
§"Person Token Issuance", §"Resource Token Verification" step 6; digest §4.3, §4.4).

A PS keeps ``{jti, ps, sub, mission_s256, tenant, exp}`` for every person token it issues,
for at least ``exp`` plus the longest resource-token lifetime it accepts. When a resource
token comes back, ``presented_jti`` finds the record and ``ps``, ``sub``, ``mission_s256`` and
``tenant`` must match it exactly: a mismatch or an omission means the resource (or someone
between) altered the binding, e.g. stripped the mission.
"""

from __future__ import annotations

import msgspec

from ..errors import LocalError
from ._claims import Checker
from .errors import ErrorCodes
from .models import RESOURCE_TOKEN_MAX_LIFETIME, TYP_RESOURCE, PersonToken, ResourceToken

__all__ = ["PersonTokenRecord", "check_presented_jti"]


class PersonTokenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What a PS retains about a person token it issued."""

    jti: str
    ps: str
    """The PS's own identifier (the token's ``iss``)."""
    sub: str
    exp: int
    mission_s256: str | None = None
    tenant: str | None = None

    @classmethod
    def from_token(cls, token: PersonToken) -> PersonTokenRecord:
        """The record for a person token (built or validated)."""
        if not isinstance(token, PersonToken):
            raise LocalError("from_token expects a PersonToken")
        return cls(
            jti=token.jti,
            ps=token.iss,
            sub=token.sub,
            exp=token.exp,
            mission_s256=token.mission_s256,
            tenant=token.tenant,
        )

    def retain_until(self, max_resource_token_lifetime: int = RESOURCE_TOKEN_MAX_LIFETIME) -> int:
        """The earliest time the record may be dropped: ``exp`` + the longest resource-token
        lifetime the PS accepts."""
        return self.exp + max_resource_token_lifetime


def check_presented_jti(
    token: ResourceToken,
    record: PersonTokenRecord | None,
    *,
    error_codes: ErrorCodes = "endpoint",
) -> None:
    """Check a validated resource token against the PS's record for its ``presented_jti``.

    :param record: the record found under ``token.presented_jti``, or ``None``.
    :raises TokenError: ``unknown_person_token`` without a record (or one for another
        ``jti``); ``invalid_resource_token`` when ``ps``, ``sub``, ``mission_s256`` or
        ``tenant`` differs from the record or is omitted (operators SHOULD be alerted: it
        indicates mission stripping).
    """
    if not isinstance(token, ResourceToken):
        raise LocalError("check_presented_jti expects a validated ResourceToken")
    chk = Checker(TYP_RESOURCE, error_codes, False)
    if record is None or record.jti != token.presented_jti:
        chk.fail(
            "presented_jti",
            "names no person token this PS issued",
            endpoint_code="unknown_person_token",
        )
    for claim in ("ps", "sub", "mission_s256", "tenant"):
        actual, expected = getattr(token, claim), getattr(record, claim)
        if actual != expected:
            what = "is omitted" if actual is None else f"is {actual!r}"
            chk.fail(claim, f"{what}, but the person token had {expected!r}")
