"""Response headers about signatures (draft-hardt-httpbis-signature-key-08 §3.2, §3.3).

* ``Signature-Error``: a Dictionary whose ``error`` member (a Token) is the code; other
  members depend on the code (``required_input`` for ``invalid_input``); unknown members
  are tolerated.
* ``Accept-Signature-Scheme`` and ``Accept-Signature-Alg``: Lists of Tokens, advisory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from . import sfv
from .errors import SIGNATURE_ERROR_CODES, LocalError, SignatureError, StructuredFieldError

__all__ = [
    "SignatureErrorInfo",
    "build_accept_signature_alg",
    "build_accept_signature_scheme",
    "build_signature_error",
    "parse_accept_signature_alg",
    "parse_accept_signature_scheme",
    "parse_signature_error",
    "signature_error_headers",
]

#: Algorithms a server must never advertise (signature-key-08 §3.2; AAuth -11 §"Algorithms").
_NEVER_ADVERTISED: Final = frozenset({"none", "EdDSA", "HS256", "HS384", "HS512"})
DEFAULT_MAX_HEADER_LENGTH: Final = 8_192


@dataclass(frozen=True, slots=True)
class SignatureErrorInfo:
    """A parsed ``Signature-Error`` header.

    ``code`` is the ``error`` member; ``known`` tells whether it is one of the draft's codes
    (an unknown code is kept, not refused, so a newer peer's answer is still readable);
    ``required_input`` lists the component identifiers for ``invalid_input``; ``extra``
    holds every other member as parsed.
    """

    code: str
    required_input: tuple[str, ...] = ()
    extra: dict[str, sfv.Member] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """Whether ``code`` is a Signature-Error code of signature-key-08."""
        return self.code in SIGNATURE_ERROR_CODES


def build_signature_error(code: str, *, required_input: Iterable[str] = ()) -> str:
    """The ``Signature-Error`` field value for ``code`` (and ``required_input``).

    Raises :class:`LocalError` for a code the draft does not define, or ``required_input``
    given with a code other than ``invalid_input``.
    """
    if code not in SIGNATURE_ERROR_CODES:
        raise LocalError(f"{code!r} is not a Signature-Error code")
    members: sfv.Dictionary = {"error": sfv.Item(sfv.Token(code))}
    components = tuple(required_input)
    if components:
        if code != "invalid_input":
            raise LocalError("required_input goes only with the invalid_input code")
        # signature-key-08 §3.3: an Inner List of Strings.
        members["required_input"] = sfv.InnerList([sfv.Item(c) for c in components])
    try:
        return sfv.serialize_dictionary(members)
    except StructuredFieldError as exc:
        raise LocalError(f"cannot serialise required_input: {exc.message}") from exc


def parse_signature_error(
    text: str, *, max_length: int = DEFAULT_MAX_HEADER_LENGTH
) -> SignatureErrorInfo:
    """Parse a ``Signature-Error`` field value received from a server.

    Raises :class:`StructuredFieldError` if it is not a Dictionary with a Token ``error``.
    Unknown members are kept in ``extra``; a malformed ``required_input`` is an error.
    """
    members = sfv.parse_dictionary(text, max_length=max_length)
    error = members.get("error")
    if not isinstance(error, sfv.Item) or not isinstance(error.value, sfv.Token):
        raise StructuredFieldError("Signature-Error: the 'error' member must be a Token")
    required: tuple[str, ...] = ()
    raw_required = members.get("required_input")
    if raw_required is not None:
        if not isinstance(raw_required, sfv.InnerList) or not all(
            isinstance(i.value, str) and not isinstance(i.value, sfv.Token)
            for i in raw_required.items
        ):
            raise StructuredFieldError(
                "Signature-Error: 'required_input' must be an Inner List of Strings"
            )
        required = tuple(str(i.value) for i in raw_required.items)
    extra = {k: v for k, v in members.items() if k not in ("error", "required_input")}
    return SignatureErrorInfo(code=str(error.value), required_input=required, extra=extra)


def _build_token_list(values: Iterable[str], header: str) -> str:
    tokens = list(values)
    if not tokens:
        raise LocalError(f"{header} needs at least one value")
    try:
        return sfv.serialize_list([sfv.Item(sfv.Token(v)) for v in tokens])
    except StructuredFieldError as exc:
        raise LocalError(f"{header}: {exc.message}") from exc


def _parse_token_list(text: str, max_length: int) -> tuple[str, ...]:
    # signature-key-08 §3.2: clients MUST ignore unknown tokens; members that are not
    # Tokens at all are ignored the same way rather than failing the whole response.
    members = sfv.parse_list(text, max_length=max_length)
    return tuple(
        str(m.value) for m in members if isinstance(m, sfv.Item) and isinstance(m.value, sfv.Token)
    )


def build_accept_signature_scheme(schemes: Iterable[str]) -> str:
    """The ``Accept-Signature-Scheme`` field value (a List of Tokens, preference order)."""
    return _build_token_list(schemes, "Accept-Signature-Scheme")


def parse_accept_signature_scheme(
    text: str, *, max_length: int = DEFAULT_MAX_HEADER_LENGTH
) -> tuple[str, ...]:
    """The scheme names of an ``Accept-Signature-Scheme`` value, in the server's order."""
    return _parse_token_list(text, max_length)


def build_accept_signature_alg(algs: Iterable[str]) -> str:
    """The ``Accept-Signature-Alg`` field value: JOSE names, case-exact.

    Raises :class:`LocalError` for ``none``, ``EdDSA`` or symmetric algorithms, which a
    server MUST NOT list (signature-key-08 §3.2).
    """
    chosen = list(algs)
    refused = [a for a in chosen if a in _NEVER_ADVERTISED]
    if refused:
        raise LocalError(f"Accept-Signature-Alg must not list {refused}")
    return _build_token_list(chosen, "Accept-Signature-Alg")


def parse_accept_signature_alg(
    text: str, *, max_length: int = DEFAULT_MAX_HEADER_LENGTH
) -> tuple[str, ...]:
    """The JOSE algorithm names of an ``Accept-Signature-Alg`` value, in the server's order."""
    return _parse_token_list(text, max_length)


def signature_error_headers(
    error: SignatureError,
    *,
    accepted_schemes: Iterable[str] = ("jwt",),
    accepted_algs: Iterable[str] = ("Ed25519", "ES256"),
) -> list[tuple[str, str]]:
    """The response headers that report ``error`` to the signer.

    ``Signature-Error`` always; ``Accept-Signature-Scheme`` with ``unsupported_scheme`` and
    ``Accept-Signature-Alg`` with ``unsupported_algorithm`` (signature-key-08 §3.2 SHOULD).
    """
    headers = [
        ("Signature-Error", build_signature_error(error.code, required_input=error.required_input))
    ]
    if error.code == "unsupported_scheme":
        headers.append(("Accept-Signature-Scheme", build_accept_signature_scheme(accepted_schemes)))
    elif error.code == "unsupported_algorithm":
        headers.append(("Accept-Signature-Alg", build_accept_signature_alg(accepted_algs)))
    return headers
