"""Strict base64 and base64url helpers (RFC 4648).

Decoders reject anything that is not canonical for their alphabet: wrong characters,
misplaced padding, non-zero trailing bits. They raise the error class the caller passes,
so each layer reports malformed base64 with its own protocol code.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from .errors import RemoteError

__all__ = ["b64_decode", "b64_encode", "b64url_decode", "b64url_encode"]

_B64_RE: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
# base64url → standard alphabet; the standard-only characters and padding become "!", which
# binascii's strict mode refuses, so only the url-safe alphabet decodes.
_URL_TO_STD: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
# The last character of a canonical encoding carries no stray bits (RFC 4648 §3.5):
# with 2 characters in the final group only these 4 values, with 3 only these 16.
_CANONICAL_LAST_OF_2: Final = frozenset("AQgw")
_CANONICAL_LAST_OF_3: Final = frozenset("AEIMQUYcgkosw048")
_PADDING: Final = ("", "", "==", "=")


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(
    text: str,
    *,
    error: type[RemoteError] = RemoteError,
    code: str | None = None,
    what: str = "value",
) -> bytes:
    """Decode unpadded base64url strictly; raise ``error`` with ``code`` on any defect."""
    rest = len(text) % 4
    if rest == 1 or (
        rest and text[-1] not in (_CANONICAL_LAST_OF_2 if rest == 2 else _CANONICAL_LAST_OF_3)
    ):
        raise error(f"{what} is not canonical unpadded base64url", code=code)
    try:
        raw = text.encode("ascii").translate(_URL_TO_STD) + _PADDING[rest].encode()
        return binascii.a2b_base64(raw, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        raise error(f"{what} is not unpadded base64url", code=code) from None


def b64_encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4)."""
    return base64.b64encode(data).decode("ascii")


def b64_decode(
    text: str,
    *,
    error: type[RemoteError] = RemoteError,
    code: str | None = None,
    what: str = "value",
) -> bytes:
    """Decode padded standard base64 strictly; raise ``error`` with ``code`` on any defect."""
    if _B64_RE.fullmatch(text) is None:
        raise error(f"{what} is not padded base64", code=code)
    raw = binascii.a2b_base64(text, strict_mode=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what} is not canonical base64", code=code)
    return raw
