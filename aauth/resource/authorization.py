"""The body of a request to the resource's ``authorization_endpoint`` (AAuth -11
§"Authorization Endpoint"; digest §1.4 step 3(a), §7.1).

``POST {authorization_endpoint}`` carries ``{"scope": "<space-separated>"[, "account":
"…"]}`` as ``application/json``. :func:`parse_authorization_request` reads it strictly:
bounded size, UTF-8 JSON, one object, no duplicate member names, ``scope`` a string and
``account`` (when present) a non-empty string; unknown members are ignored. Whether the scope
values are known and the account is the person's is the server's decision, not the parser's.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import msgspec

from ..errors import RemoteError
from ..http import HttpRequest

__all__ = [
    "MAX_AUTHORIZATION_BODY",
    "AuthorizationRequest",
    "AuthorizationRequestError",
    "parse_authorization_request",
    "scope_values",
]

#: The largest ``authorization_endpoint`` body read (bytes).
MAX_AUTHORIZATION_BODY: Final = 16_384

#: RFC 6749 §3.3: scope = scope-token *( SP scope-token ); scope-token = 1*NQCHAR without SP.
_SCOPE_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")


class AuthorizationRequestError(RemoteError):
    """The authorization request's body is not usable: code ``invalid_request`` (digest
    §7.1)."""

    default_code = "invalid_request"


class AuthorizationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``{"scope": …, "account": …}`` (digest §7.1).

    :param scope: REQUIRED, space-separated scope values (not yet checked against the
        resource's scopes).
    :param account: OPTIONAL, an account in the resource's own namespace.
    """

    scope: str
    account: str | None = None


_decode = msgspec.json.Decoder(AuthorizationRequest).decode


class _DuplicateMemberError(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateMemberError
    return obj


def parse_authorization_request(request: HttpRequest) -> AuthorizationRequest:
    """The authorization request in ``request``'s body.

    :raises AuthorizationRequestError: not ``application/json``, larger than
        :data:`MAX_AUTHORIZATION_BODY`, not a JSON object, a duplicate member name (RFC 8259
        §4 leaves duplicates to the parser; we refuse them, as for JWTs), ``scope`` missing
        or not a string, ``account`` not a non-empty string.
    """
    media = (request.header("content-type") or "").partition(";")[0].strip().lower()
    if media != "application/json":
        # digest §7: all bodies are JSON (Content-Type: application/json)
        raise AuthorizationRequestError("the body must be application/json")
    body = request.body
    if len(body) > MAX_AUTHORIZATION_BODY:
        raise AuthorizationRequestError(f"the body is larger than {MAX_AUTHORIZATION_BODY} bytes")
    try:
        parsed = _decode(body)
    except (msgspec.MsgspecError, RecursionError) as exc:
        raise AuthorizationRequestError(f"the body is not a valid request: {exc}") from None
    try:
        # msgspec keeps the last of two equal member names; find them with a second pass
        json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateMemberError:
        raise AuthorizationRequestError("the body has a duplicate member name") from None
    except (ValueError, RecursionError):
        # msgspec accepted what the stdlib parser does not (an integer past its digit limit)
        raise AuthorizationRequestError("the body is not a valid request") from None
    if parsed.account == "":
        raise AuthorizationRequestError("account must be a non-empty string")
    return parsed


def scope_values(scope: str) -> tuple[str, ...] | None:
    """The scope values of ``scope`` in order, without repeats, or ``None`` when it is not
    an RFC 6749 §3.3 scope (empty, a leading, trailing or double space, a character outside
    NQCHAR)."""
    if _SCOPE_RE.fullmatch(scope) is None:
        return None
    return tuple(dict.fromkeys(scope.split(" ")))
