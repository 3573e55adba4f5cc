"""The aauth error family.

Two branches, as the design asks:

* :class:`LocalError` — the caller misused the API (a wrong argument type, a key that cannot
  sign, an impossible combination of options). Nothing a peer sent is involved; fix the code.
* :class:`RemoteError` — something a peer sent is wrong. It carries the protocol error
  ``code`` (for example ``invalid_signature`` or ``invalid_jwt``), a human-readable message
  that says what was wrong, and ``retryable``: whether sending again (with a fresh signature,
  another algorithm, after a re-fetch) can help.

Every parser and verifier in the engine raises a :class:`RemoteError` subclass for bad input
and never anything else (no ``ValueError``, ``KeyError``, ``IndexError`` escapes).

Messages never contain secrets: no private key, no full token. Evidence attached to an error
is limited to public, bounded values.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "SIGNATURE_ERROR_CODES",
    "AAuthError",
    "JoseError",
    "LocalError",
    "RemoteError",
    "SignatureError",
    "StructuredFieldError",
]

#: Every ``Signature-Error`` code of draft-hardt-httpbis-signature-key-08 §"Signature-Error".
SIGNATURE_ERROR_CODES: Final[frozenset[str]] = frozenset(
    {
        "unsupported_algorithm",
        "unsupported_scheme",
        "cache_miss",
        "invalid_signature",
        "invalid_input",
        "invalid_request",
        "invalid_key",
        "unknown_key",
        "issuer_missing",
        "issuer_mismatch",
        "invalid_jwt",
        "expired_jwt",
    }
)

_MAX_EVIDENCE_CHARS: Final = 200


def _bounded(text: str) -> str:
    """Cut evidence so an error message never echoes a huge or secret-bearing value."""
    if len(text) <= _MAX_EVIDENCE_CHARS:
        return text
    return text[:_MAX_EVIDENCE_CHARS] + f"...({len(text)} chars)"


class AAuthError(Exception):
    """Base class of every error aauth raises on purpose."""


class LocalError(AAuthError):
    """The caller used the API wrongly; nothing received from a peer is at fault."""


class RemoteError(AAuthError):
    """Something a peer sent is wrong.

    :param message: what was wrong, for humans; never includes secrets.
    :param code: the protocol error code (a ``Signature-Error`` code or an AAuth error code).
    :param retryable: whether a new attempt can succeed without a change by a human.
    """

    default_code: str = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        self.code: str = code if code is not None else self.default_code
        self.message: str = _bounded(message)
        self.retryable: bool = retryable
        super().__init__(f"{self.code}: {self.message}")


class StructuredFieldError(RemoteError):
    """A header is not a valid RFC 9651 Structured Field of the expected type."""

    default_code = "invalid_request"


class SignatureError(RemoteError):
    """An HTTP message signature (RFC 9421 + Signature-Key -08) failed.

    ``code`` is always one of :data:`SIGNATURE_ERROR_CODES`, the value to put in the
    ``Signature-Error`` response header. ``required_input`` is set for ``invalid_input``:
    the component identifiers the verifier needs covered.
    """

    default_code = "invalid_signature"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        required_input: tuple[str, ...] = (),
    ) -> None:
        chosen = code if code is not None else self.default_code
        if chosen not in SIGNATURE_ERROR_CODES:
            raise LocalError(f"{chosen!r} is not a Signature-Error code")
        super().__init__(message, code=chosen, retryable=retryable)
        self.required_input: tuple[str, ...] = required_input


class JoseError(SignatureError):
    """A JWK, JWS or JWT is malformed, uses a refused algorithm, or fails verification.

    Codes used: ``invalid_jwt`` (malformed or bad signature), ``expired_jwt`` (``exp`` or
    ``nbf``/``iat`` out of range), ``invalid_key`` (unusable or mismatched JWK),
    ``unsupported_algorithm`` (``none``, ``EdDSA``, HMAC or unknown ``alg``),
    ``unknown_key`` (no key with that ``kid``). All are ``Signature-Error`` codes, so a
    :class:`JoseError` raised while resolving a ``Signature-Key`` is already the right answer.
    """

    default_code = "invalid_jwt"
