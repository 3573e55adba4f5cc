"""Missions: the blob, its transport form and its ``s256`` (AAuth -11 §"Mission"; digest §4.6).

The approval response carries ``mission`` (the blob bytes, base64url without padding) and
``s256`` (base64url without padding of SHA-256 over exactly those bytes). There is no
canonicalisation: the hash is over the bytes the PS persisted, never over a re-encoding, so
:func:`verify_mission` returns the decoded bytes and :func:`parse_mission_blob` reads them
without changing them.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
from typing import Final

import msgspec

from ._b64 import b64url_decode, b64url_encode
from .errors import LocalError, RemoteError
from .identifiers import (
    InvalidIdentifierError,
    parse_agent_id,
    validate_endpoint_url,
    validate_https_url,
    validate_server_id,
)

__all__ = [
    "MISSION_S256_LENGTH",
    "TERMINATION_REASONS",
    "ApprovedTool",
    "MissionBlob",
    "MissionError",
    "decode_mission",
    "encode_mission",
    "encode_mission_blob",
    "mission_s256",
    "mission_url",
    "parse_mission_blob",
    "validate_mission_s256",
    "verify_mission",
]

#: Length of an ``s256``: 32 bytes of SHA-256 as unpadded base64url.
MISSION_S256_LENGTH: Final = 43
#: ``termination_reason`` values AAuth -11 names (§"Mission Management"); the set is open.
TERMINATION_REASONS: Final = frozenset(
    {"completed", "revoked", "expired", "superseded", "administrative"}
)

_S256_RE: Final = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")  # canonical 256-bit tail
# RFC 3339 §5.6 date-time, the ISO 8601 profile every example uses
_DATETIME_RE: Final = re.compile(
    r"(?P<Y>[0-9]{4})-(?P<M>[0-9]{2})-(?P<D>[0-9]{2})[Tt]"
    r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
)
_MAX_BLOB: Final = 1024 * 1024


class MissionError(RemoteError):
    """A mission blob, its transport encoding or its ``s256`` is wrong."""

    default_code = "invalid_request"


def mission_s256(blob: bytes) -> str:
    """The mission identifier: unpadded base64url of SHA-256 over ``blob`` (AAuth -11 §"Mission
    Identifier"). ``blob`` is hashed exactly as given."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise LocalError("mission blob must be bytes")
    return b64url_encode(hashlib.sha256(blob).digest())


def encode_mission(blob: bytes) -> str:
    """The ``mission`` member: ``blob`` as unpadded base64url (AAuth -11 §"Mission Approval")."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise LocalError("mission blob must be bytes")
    return b64url_encode(bytes(blob))


def decode_mission(mission: str) -> bytes:
    """Decode a received ``mission`` member strictly (unpadded, canonical base64url).

    :raises MissionError: code ``invalid_request``.
    """
    if not isinstance(mission, str):
        raise MissionError("mission must be a string")
    if len(mission) > _MAX_BLOB * 4 // 3 + 4:
        raise MissionError("mission is too large")
    return b64url_decode(mission, error=MissionError, what="mission")


def validate_mission_s256(value: str) -> str:
    """Return ``value`` if it has the form of an ``s256`` (43 canonical base64url characters).

    Applies to the ``mission_s256`` claim and parameter and the ``{mission_s256}`` path
    segment (AAuth -11 §"Mission Endpoint Errors": a malformed segment is ``invalid_request``).

    :raises MissionError: code ``invalid_request``.
    """
    if not isinstance(value, str) or _S256_RE.fullmatch(value) is None:
        raise MissionError("mission_s256 is not an unpadded base64url SHA-256 digest")
    return value


def verify_mission(mission: str, s256: str) -> bytes:
    """Decode ``mission`` and check that its SHA-256 is ``s256``; return the blob bytes.

    AAuth -11 §"Mission Approval": the agent SHOULD verify ``s256`` before first use.

    :raises MissionError: code ``invalid_request`` if either is malformed or they disagree.
    """
    validate_mission_s256(s256)
    blob = decode_mission(mission)
    if not hmac.compare_digest(mission_s256(blob), s256):
        raise MissionError("s256 is not the SHA-256 of the mission blob")
    return blob


class ApprovedTool(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of ``approved_tools`` (``name`` and ``description``)."""

    name: str
    description: str


class MissionBlob(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The decoded mission blob (AAuth -11 §"Mission Approval"). Unknown members are ignored.

    Timestamps stay the strings the PS wrote; :attr:`expires_at_timestamp` converts.
    """

    approver: str
    agent: str
    approved_at: str
    description: str
    """Markdown; callers MUST sanitise before rendering."""
    expires_at: str | None = None
    approved_tools: tuple[ApprovedTool, ...] | None = None
    approved_resources: tuple[str, ...] | None = None

    @property
    def approved_at_timestamp(self) -> int:
        """``approved_at`` as Unix seconds (fraction dropped)."""
        return _timestamp(self.approved_at)

    @property
    def expires_at_timestamp(self) -> int | None:
        """``expires_at`` as Unix seconds, or ``None``. No token carrying this mission's
        ``mission_s256`` may have an ``exp`` later than this (AAuth -11 §"Mission Approval")."""
        return None if self.expires_at is None else _timestamp(self.expires_at)


def _parse_datetime(text: str) -> int | None:
    """Unix seconds for an RFC 3339 §5.6 date-time (fraction dropped), or None if invalid.

    Pure arithmetic (no clock): the engine never imports ``datetime``.
    """
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day = int(match["Y"]), int(match["M"]), int(match["D"])
    hour, minute, second = int(match["h"]), int(match["m"]), int(match["s"])
    # RFC 3339 §5.7 ranges; second 60 is a leap second
    if year < 1 or not 1 <= month <= 12:
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    offset = 0
    if match["sign"] is not None:
        off_hour, off_minute = int(match["oh"]), int(match["om"])
        if off_hour > 23 or off_minute > 59:
            return None
        offset = (off_hour * 60 + off_minute) * 60
        if match["sign"] == "-":
            offset = -offset
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset


def _timestamp(text: str) -> int:
    seconds = _parse_datetime(text)
    if seconds is None:  # a MissionBlob built by hand and never validated
        raise LocalError(f"{text!r} is not a valid RFC 3339 date-time")
    return seconds


def _check_datetime(field: str, text: str) -> None:
    if _parse_datetime(text) is None:
        raise InvalidIdentifierError(f"{field} is not a valid RFC 3339 / ISO 8601 date-time")


def _check_blob(blob: MissionBlob, *, dev: bool) -> None:
    validate_https_url(blob.approver, allow_insecure_loopback_for_development=dev)
    parse_agent_id(blob.agent, allow_insecure_loopback_for_development=dev)
    _check_datetime("approved_at", blob.approved_at)
    if blob.expires_at is not None:
        _check_datetime("expires_at", blob.expires_at)
    for resource in blob.approved_resources or ():
        validate_server_id(resource, allow_insecure_loopback_for_development=dev)


def parse_mission_blob(
    blob: bytes, *, allow_insecure_loopback_for_development: bool = False
) -> MissionBlob:
    """Parse the blob bytes (as returned by :func:`verify_mission`) and check its members.

    MUST members: ``approver`` (https URL), ``agent`` (agent identifier), ``approved_at``
    (date-time), ``description``. MAY: ``expires_at``, ``approved_tools``,
    ``approved_resources`` (server identifiers).

    :raises MissionError: code ``invalid_request``.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise LocalError("mission blob must be bytes")
    if len(blob) > _MAX_BLOB:
        raise MissionError("mission blob is too large")
    try:
        parsed = msgspec.json.decode(blob, type=MissionBlob)
    except (msgspec.MsgspecError, RecursionError) as exc:
        raise MissionError(f"mission blob is malformed: {exc}") from None
    try:
        _check_blob(parsed, dev=allow_insecure_loopback_for_development)
    except InvalidIdentifierError as exc:
        raise MissionError(f"mission blob: {exc.message}") from None
    return parsed


def encode_mission_blob(
    blob: MissionBlob, *, allow_insecure_loopback_for_development: bool = False
) -> bytes:
    """Validate and encode a blob as compact JSON: the bytes a PS persists and hashes.

    :raises LocalError: the blob breaks a rule.
    """
    if not isinstance(blob, MissionBlob):
        raise LocalError("encode_mission_blob expects a MissionBlob")
    try:
        _check_blob(blob, dev=allow_insecure_loopback_for_development)
    except InvalidIdentifierError as exc:
        raise LocalError(f"refusing to encode invalid mission blob: {exc.message}") from None
    return msgspec.json.encode(blob)


def mission_url(
    mission_endpoint: str, s256: str, *, allow_insecure_loopback_for_development: bool = False
) -> str:
    """``{mission_endpoint}/{mission_s256}``, a mission's own URL (AAuth -11 §"PS Metadata").

    :raises InvalidIdentifierError: ``mission_endpoint`` is not an endpoint URL.
    :raises MissionError: ``s256`` is malformed.
    """
    validate_endpoint_url(
        mission_endpoint,
        allow_insecure_loopback_for_development=allow_insecure_loopback_for_development,
    )
    return f"{mission_endpoint}/{validate_mission_s256(s256)}"
