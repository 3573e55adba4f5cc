"""Interaction codes and the user-facing interaction URL (AAuth -11 §"User Interaction";
digest §1.6).

Codes use the Crockford base32 alphabet ``0123456789ABCDEFGHJKMNPQRSTVWXYZ`` (no ``I``, ``L``,
``O``, ``U``) and carry at least 40 bits, i.e. at least 8 symbols. The engine draws no
randomness: :func:`generate_interaction_code` formats random bytes the caller supplies.

On input (:func:`normalize_interaction_code`): every ``-`` is dropped, case is folded, and the
look-alikes ``O`` -> ``0`` and ``I``/``L`` -> ``1`` are mapped. ``U`` is not in the alphabet and
is rejected, as is any other character (including spaces). Comparison
(:func:`interaction_codes_match`) runs in time independent of where the codes differ.
"""

from __future__ import annotations

import hmac
import re
from typing import Final
from urllib.parse import quote

from .errors import LocalError, RemoteError
from .identifiers import validate_endpoint_url

__all__ = [
    "CALLBACK_ERRORS",
    "CALLBACK_TO_POLLING_ERROR",
    "CROCKFORD_ALPHABET",
    "MAX_CODE_SYMBOLS",
    "MIN_CODE_SYMBOLS",
    "InteractionCodeError",
    "callback_error_to_polling_error",
    "format_interaction_code",
    "generate_interaction_code",
    "interaction_codes_match",
    "interaction_user_url",
    "normalize_interaction_code",
]

#: Crockford base32 (AAuth -11 §"User Interaction").
CROCKFORD_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: 8 symbols x 5 bits = 40 bits, the minimum entropy AAuth -11 requires.
MIN_CODE_SYMBOLS: Final = 8
#: Longest code (after removing hyphens) accepted on input; real codes are far shorter.
MAX_CODE_SYMBOLS: Final = 64

#: Values of ``error`` on a failed interaction's callback (AAuth -11 §"Interaction Callback
#: Errors").
CALLBACK_ERRORS: Final = frozenset(
    {
        "access_denied",
        "user_abandoned",
        "server_error",
        "temporarily_unavailable",
        "interaction_expired",
    }
)
#: How a PS maps a callback error to a polling error in a chained flow (same section).
CALLBACK_TO_POLLING_ERROR: Final = {
    "access_denied": "denied",
    "user_abandoned": "abandoned",
    "interaction_expired": "expired",
    "server_error": "server_error",
    "temporarily_unavailable": "server_error",
}

# case fold + Crockford look-alikes; '-' deleted (AAuth -11: both sides strip every '-')
_FOLD: Final = str.maketrans(
    "abcdefghjkmnpqrstvwxyzoilOIL",
    "ABCDEFGHJKMNPQRSTVWXYZ011011",
    "-",
)
_CANONICAL_RE: Final = re.compile(r"[0-9A-HJKMNP-TV-Z]+")


class InteractionCodeError(RemoteError):
    """An interaction code presented by a user or peer is malformed."""

    default_code = "invalid_code"


def format_interaction_code(symbols: str, *, group: int = 4) -> str:
    """Insert ``-`` every ``group`` symbols for display (``A1B2C3D4`` -> ``A1B2-C3D4``).

    ``group=0`` leaves the code unbroken.
    """
    if group < 0:
        raise LocalError("group must be >= 0")
    if group == 0 or len(symbols) <= group:
        return symbols
    return "-".join(symbols[i : i + group] for i in range(0, len(symbols), group))


def generate_interaction_code(
    random_bytes: bytes, *, symbols: int = MIN_CODE_SYMBOLS, group: int = 4
) -> str:
    """Build an interaction code from caller-supplied CSPRNG output.

    Uses the first ``symbols * 5`` bits of ``random_bytes``; so ``random_bytes`` must hold at
    least that many bits (5 bytes for the default 8 symbols). The result is upper-case
    Crockford base32, hyphenated every ``group`` symbols (``0`` for none).

    :raises LocalError: ``symbols`` < 8 (under 40 bits) or too few random bytes.
    """
    if not isinstance(random_bytes, (bytes, bytearray, memoryview)):
        raise LocalError("random_bytes must be bytes from a CSPRNG")
    if symbols < MIN_CODE_SYMBOLS or symbols > MAX_CODE_SYMBOLS:
        raise LocalError(
            f"symbols must be between {MIN_CODE_SYMBOLS} (40 bits) and {MAX_CODE_SYMBOLS}"
        )
    bits = symbols * 5
    data = bytes(random_bytes)
    if len(data) * 8 < bits:
        raise LocalError(f"{symbols} symbols need at least {(bits + 7) // 8} random bytes")
    number = int.from_bytes(data, "big") >> (len(data) * 8 - bits)
    out = [CROCKFORD_ALPHABET[(number >> shift) & 0x1F] for shift in range(bits - 5, -1, -5)]
    return format_interaction_code("".join(out), group=group)


def normalize_interaction_code(code: str) -> str:
    """Canonical form of a code typed by a user or received from a peer.

    Drops every ``-``, upper-cases, maps ``O`` -> ``0`` and ``I``/``L`` -> ``1``.

    :raises InteractionCodeError: code ``invalid_code``: empty, too long, or a character
        outside the alphabet (``U``, spaces, punctuation, non-ASCII).
    """
    if not isinstance(code, str):
        raise InteractionCodeError("interaction code must be a string")
    if len(code) > 2 * MAX_CODE_SYMBOLS:
        raise InteractionCodeError("interaction code is too long")
    folded = code.translate(_FOLD)
    if not folded:
        raise InteractionCodeError("interaction code is empty")
    if len(folded) > MAX_CODE_SYMBOLS:
        raise InteractionCodeError("interaction code is too long")
    if _CANONICAL_RE.fullmatch(folded) is None:
        raise InteractionCodeError("interaction code contains characters outside Crockford base32")
    return folded


def interaction_codes_match(expected: str, presented: str) -> bool:
    """Whether ``presented`` (user input) is the code ``expected`` (ours), in constant time.

    Both are normalised first, so ``a1b2-c3d4`` and ``A1B2C3D4`` match ``A1B2-C3D4``. A
    malformed ``presented`` simply does not match; counting failures and the rate limit
    (AAuth -11: MUST rate-limit) are the caller's job.

    :raises LocalError: ``expected`` is not a valid code (our own value, so a bug).
    """
    try:
        want = normalize_interaction_code(expected)
    except InteractionCodeError as exc:
        raise LocalError(f"expected interaction code is invalid: {exc.message}") from None
    try:
        got = normalize_interaction_code(presented)
    except InteractionCodeError:
        got = ""
    return hmac.compare_digest(want.encode("ascii"), got.encode("ascii"))


def interaction_user_url(
    url: str,
    code: str,
    *,
    callback: str | None = None,
    localhost_callback_allowed: bool = False,
    allow_insecure_loopback_for_development: bool = False,
) -> str:
    """The URL to send the user to: ``{url}?code={code}[&callback={callback}]``.

    AAuth -11 §"User Interaction": ``url`` MUST be https with no query and no fragment;
    ``callback`` (the agent's ``callback_endpoint``) is an endpoint URL, or a loopback URL
    when ``localhost_callback_allowed``. Both query values are percent-encoded (RFC 3986
    §3.4, every reserved character escaped; digest §11 item 19).

    :raises InvalidIdentifierError: ``url`` or ``callback`` is not acceptable.
    :raises InteractionCodeError: ``code`` is not an interaction code.
    """
    dev = allow_insecure_loopback_for_development
    validate_endpoint_url(url, allow_insecure_loopback_for_development=dev)
    normalize_interaction_code(code)
    target = f"{url}?code={quote(code, safe='')}"
    if callback is not None:
        validate_endpoint_url(
            callback,
            localhost_callback_allowed=localhost_callback_allowed,
            allow_insecure_loopback_for_development=dev,
        )
        target += f"&callback={quote(callback, safe='')}"
    return target


def callback_error_to_polling_error(error: str) -> str:
    """Map a callback ``error`` to the polling error a chained PS reports.

    Unknown values map to ``server_error`` (AAuth -11 names no other outcome).
    """
    return CALLBACK_TO_POLLING_ERROR.get(error, "server_error")
