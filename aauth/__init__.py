"""aauth: a sans-IO implementation of AAuth (Agent Auth).

The engine performs no IO: no sockets, no event loop, no clock, no randomness. Time, nonces
and keys come in as arguments.
"""

from __future__ import annotations

from . import sfv
from .errors import (
    SIGNATURE_ERROR_CODES,
    AAuthError,
    JoseError,
    LocalError,
    RemoteError,
    SignatureError,
    StructuredFieldError,
)
from .http import HttpRequest, HttpResponse

__all__ = [
    "SIGNATURE_ERROR_CODES",
    "AAuthError",
    "HttpRequest",
    "HttpResponse",
    "JoseError",
    "LocalError",
    "RemoteError",
    "SignatureError",
    "StructuredFieldError",
    "sfv",
]
