"""``Content-Digest`` (RFC 9530): compute and check the digest of message content.

The field is an RFC 9651 Dictionary whose keys are hash algorithm names and whose values are
Byte Sequences (RFC 9530 §2). We emit standard padded base64 (RFC 9651 §4.1.8).

Error codes (all :class:`~aauth.errors.SignatureError`, so they fit a ``Signature-Error``
answer):

* ``invalid_request`` — the field is not a Dictionary, a member for an accepted algorithm is
  not a Byte Sequence, or no accepted algorithm is present: the request is malformed for
  reasons other than the signature (signature-key-08 §"Signature-Error").
* ``invalid_signature`` — a digest does not match the content. The ``content-digest`` field is
  covered by the signature, so a mismatch means the body was changed after signing: the signed
  message as a whole does not verify (AAuth digest [AMBIG-28]: recompute and compare).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from . import sfv
from .errors import LocalError, SignatureError, StructuredFieldError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from collections.abc import Mapping

__all__ = ["DIGEST_ALGORITHMS", "content_digest", "verify_content_digest"]

_Hash = Callable[[bytes], "hashlib._Hash"]

#: Hash algorithms RFC 9530 §7.2 registers as "Active" and the engine supports.
#: The "Deprecated" ones (md5, sha, unixsum, unixcksum, adler, crc32c) are never used.
DIGEST_ALGORITHMS: Final[Mapping[str, _Hash]] = MappingProxyType(
    {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
)


def _check_algorithms(algorithms: Sequence[str], what: str) -> None:
    if isinstance(algorithms, str) or not algorithms:
        raise LocalError(f"{what} must be a non-empty sequence of algorithm names")
    for name in algorithms:
        if name not in DIGEST_ALGORITHMS:
            raise LocalError(
                f"unsupported digest algorithm {name!r} in {what} "
                f"(supported: {', '.join(DIGEST_ALGORITHMS)})"
            )


def content_digest(body: bytes, algorithms: Sequence[str] = ("sha-256",)) -> str:
    """The ``Content-Digest`` field value for ``body`` (RFC 9530 §2).

    One member per algorithm, in the given order, e.g. ``sha-256=:X48E9q...=:``.

    :raises LocalError: for an unsupported algorithm or a body that is not bytes.
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise LocalError("body must be bytes")
    _check_algorithms(algorithms, "algorithms")
    return ", ".join(
        f"{name}=:{base64.b64encode(DIGEST_ALGORITHMS[name](body).digest()).decode('ascii')}:"
        for name in algorithms
    )


def verify_content_digest(
    field_value: str,
    body: bytes,
    *,
    accepted: Sequence[str] = ("sha-256", "sha-512"),
) -> tuple[str, ...]:
    """Check a ``Content-Digest`` (or ``Repr-Digest``) field value against ``body``.

    Members for algorithms not in ``accepted`` are ignored (RFC 9530 §2: recipients ignore
    algorithms they do not support). Every accepted algorithm that is present must match.

    :returns: the accepted algorithms that were present and matched, in field order.
    :raises SignatureError: ``invalid_request`` if the field is malformed or carries no
        accepted algorithm; ``invalid_signature`` if a digest does not match ``body``.
    :raises LocalError: if ``accepted`` names an unsupported algorithm.
    """
    _check_algorithms(accepted, "accepted")
    if not isinstance(field_value, str):
        raise LocalError("field_value must be a str")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise LocalError("body must be bytes")
    try:
        # RFC 9530 §2: a Dictionary. A repeated key is refused rather than letting the last
        # occurrence win (RFC 9651 §4.2.2), so no digest hides behind another.
        members = sfv.parse_dictionary(field_value, allow_duplicate_keys=False)
    except StructuredFieldError as exc:
        raise SignatureError(
            f"Content-Digest is not a valid structured field dictionary: {exc.message}",
            code="invalid_request",
        ) from exc
    checked: list[str] = []
    for name, member in members.items():
        if name not in accepted:
            continue
        if not isinstance(member, sfv.Item) or type(member.value) is not bytes:
            raise SignatureError(
                f"Content-Digest member {name!r} is not a byte sequence",
                code="invalid_request",
            )
        expected = DIGEST_ALGORITHMS[name](body).digest()
        if not hmac.compare_digest(expected, member.value):
            raise SignatureError(
                f"Content-Digest {name} does not match the message content",
                code="invalid_signature",
            )
        checked.append(name)
    if not checked:
        raise SignatureError(
            "Content-Digest has no accepted algorithm "
            f"(accepted: {', '.join(accepted)}; present: {', '.join(members) or 'none'})",
            code="invalid_request",
        )
    return tuple(checked)
