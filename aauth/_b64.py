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

_B64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]*")
_B64_RE: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(
    text: str, *, error: type[RemoteError] = RemoteError, code: str | None = None, what: str = "value"
) -> bytes:
    """Decode unpadded base64url strictly; raise ``error`` with ``code`` on any defect."""
    if len(text) % 4 == 1 or _B64URL_RE.fullmatch(text) is None:
        raise error(f"{what} is not unpadded base64url", code=code)
    padded = text + "=" * (-len(text) % 4)
    raw = base64.urlsafe_b64decode(padded)
    if b64url_encode(raw) != text:  # non-zero trailing bits: not the canonical encoding
        raise error(f"{what} is not canonical base64url", code=code)
    return raw


def b64_encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4)."""
    return base64.b64encode(data).decode("ascii")


def b64_decode(
    text: str, *, error: type[RemoteError] = RemoteError, code: str | None = None, what: str = "value"
) -> bytes:
    """Decode padded standard base64 strictly; raise ``error`` with ``code`` on any defect."""
    if _B64_RE.fullmatch(text) is None:
        raise error(f"{what} is not padded base64", code=code)
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:  # pragma: no cover - the regex admits only decodable text
        raise error(f"{what} is not padded base64", code=code) from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what} is not canonical base64", code=code)
    return raw
