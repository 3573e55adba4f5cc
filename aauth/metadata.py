"""The four AAuth metadata documents (AAuth -11 §"Metadata Documents"; digest §6).

Each document is a frozen :class:`msgspec.Struct`. Parsing validates; serialising validates
too (strict in what we emit) and raises :class:`~aauth.errors.LocalError` for our own bad
documents. Unknown members are ignored on input, as RFC 8615 documents allow extension.

The issuer check (AAuth -11 §"Metadata Documents", signature-key-08 ``jwks_uri`` scheme):
a document without ``issuer`` is rejected with ``issuer_missing``; one whose ``issuer``
differs from the identifier it was fetched for (the URL minus ``/.well-known/{dwk}``) by a
single character is rejected with ``issuer_mismatch``. Every other defect is
``invalid_key``: the verifier cannot resolve trustworthy keys from the document. All three
are ``Signature-Error`` codes, so :class:`MetadataError` is a
:class:`~aauth.errors.SignatureError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final, TypeAlias, TypeVar

import msgspec

from .errors import LocalError, SignatureError
from .identifiers import (
    InvalidIdentifierError,
    validate_endpoint_url,
    validate_https_url,
    validate_server_id,
)

__all__ = [
    "ACCESS_MODES",
    "DEFAULT_ACCESS_MODE",
    "DEFAULT_SIGNATURE_WINDOW",
    "DWK_ACCESS",
    "DWK_AGENT",
    "DWK_PERSON",
    "DWK_RESOURCE",
    "METADATA_TYPES",
    "AccessServerMetadata",
    "AgentProviderMetadata",
    "Metadata",
    "MetadataError",
    "PersonServerMetadata",
    "ResourceMetadata",
    "parse_access_metadata",
    "parse_agent_metadata",
    "parse_metadata",
    "parse_person_metadata",
    "parse_resource_metadata",
    "serialize_metadata",
    "validate_dwk",
    "well_known_url",
]

#: Well-known document names (AAuth -11 §"Metadata Documents"; the ``dwk`` claim values).
DWK_AGENT: Final = "aauth-agent.json"
DWK_PERSON: Final = "aauth-person.json"
DWK_RESOURCE: Final = "aauth-resource.json"
DWK_ACCESS: Final = "aauth-access.json"

#: ``access_mode`` values defined by AAuth -11 §"Resource Metadata" (R3 adds ``per-call``).
ACCESS_MODES: Final = frozenset({"agent-token", "person-token", "session-token", "auth-token"})
DEFAULT_ACCESS_MODE: Final = "agent-token"
#: ``signature_window`` default in seconds (AAuth -11 §"Resource Metadata").
DEFAULT_SIGNATURE_WINDOW: Final = 60

#: Upper bound on a metadata body we are willing to decode.
_MAX_BODY: Final = 256 * 1024
# RFC 8615 §3: a well-known name is a URI path segment; we admit the conservative subset
_DWK_RE: Final = re.compile(r"[A-Za-z0-9._~-]{1,128}")


class MetadataError(SignatureError):
    """A metadata document is missing, malformed, or belongs to another issuer.

    Codes: ``issuer_missing``, ``issuer_mismatch``, ``invalid_key`` (anything else wrong).
    """

    default_code = "invalid_key"


class _Common(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Fields defined identically for all four documents (AAuth -11 §"Metadata Documents")."""

    issuer: str
    jwks_uri: str | None = None
    accept_signature_algs: tuple[str, ...] | None = None
    name: str | None = None
    description: str | None = None
    """Markdown; callers MUST sanitise before rendering (AAuth -11)."""
    logo_uri: str | None = None
    logo_dark_uri: str | None = None
    documentation_uri: str | None = None
    tos_uri: str | None = None
    policy_uri: str | None = None


class AgentProviderMetadata(_Common, frozen=True, kw_only=True, omit_defaults=True):
    """``/.well-known/aauth-agent.json`` (AAuth -11 §"Agent Provider Metadata")."""

    jwks_uri: str
    callback_endpoint: str | None = None
    event_endpoint: str | None = None
    login_endpoint: str | None = None
    localhost_callback_allowed: bool = False


class PersonServerMetadata(_Common, frozen=True, kw_only=True, omit_defaults=True):
    """``/.well-known/aauth-person.json`` (AAuth -11 §"Person Server Metadata")."""

    jwks_uri: str
    auth_token_endpoint: str
    person_token_endpoint: str
    mission_endpoint: str | None = None
    permission_endpoint: str | None = None
    audit_endpoint: str | None = None
    interaction_endpoint: str | None = None
    mission_control_endpoint: str | None = None
    revocation_endpoint: str | None = None
    scopes_supported: tuple[str, ...] | None = None
    claims_supported: tuple[str, ...] | None = None


class AccessServerMetadata(_Common, frozen=True, kw_only=True, omit_defaults=True):
    """``/.well-known/aauth-access.json`` (AAuth -11 §"Access Server Metadata")."""

    jwks_uri: str
    auth_token_endpoint: str
    revocation_endpoint: str | None = None


class ResourceMetadata(_Common, frozen=True, kw_only=True, omit_defaults=True):
    """``/.well-known/aauth-resource.json`` (AAuth -11 §"Resource Metadata").

    ``jwks_uri`` is optional here: REQUIRED only when the resource issues resource tokens or
    makes signed calls, which the document alone cannot tell.
    """

    access_mode: str | None = None
    """As declared; see :attr:`effective_access_mode`."""
    authorization_endpoint: str | None = None
    login_endpoint: str | None = None
    scope_descriptions: dict[str, str] | None = None
    signature_window: int = DEFAULT_SIGNATURE_WINDOW
    additional_signature_components: tuple[str, ...] | None = None
    revocation_endpoint: str | None = None

    @property
    def effective_access_mode(self) -> str:
        """The declared mode if AAuth -11 defines it, else ``agent-token``.

        AAuth -11 §"Resource Metadata": an agent that does not recognise a declared value
        proceeds as with no declaration; the default is ``agent-token``.
        """
        if self.access_mode in ACCESS_MODES:
            return self.access_mode
        return DEFAULT_ACCESS_MODE


Metadata: TypeAlias = (
    AgentProviderMetadata | PersonServerMetadata | AccessServerMetadata | ResourceMetadata
)
_M = TypeVar(
    "_M", AgentProviderMetadata, PersonServerMetadata, AccessServerMetadata, ResourceMetadata
)

#: The model type for each ``dwk``.
METADATA_TYPES: Final[Mapping[str, type[Metadata]]] = {
    DWK_AGENT: AgentProviderMetadata,
    DWK_PERSON: PersonServerMetadata,
    DWK_ACCESS: AccessServerMetadata,
    DWK_RESOURCE: ResourceMetadata,
}

_DWK_OF: Final[Mapping[type[Metadata], str]] = {t: d for d, t in METADATA_TYPES.items()}

# field name -> validator; which rule applies to which field (AAuth -11 §"Endpoint URLs",
# §"Other URLs", and the common-fields table for documentation_uri)
_HTTPS_FIELDS: Final = (
    "jwks_uri",
    "logo_uri",
    "logo_dark_uri",
    "documentation_uri",
    "tos_uri",
    "policy_uri",
    # not in the endpoint-URL list, but every one is an https URL the spec names
    "event_endpoint",
    "login_endpoint",
    "permission_endpoint",
    "audit_endpoint",
    "interaction_endpoint",
    "mission_control_endpoint",
    "revocation_endpoint",
)
_ENDPOINT_FIELDS: Final = (
    "auth_token_endpoint",
    "person_token_endpoint",
    "authorization_endpoint",
    "mission_endpoint",
    "callback_endpoint",
)


class _IssuerProbe(msgspec.Struct):
    issuer: str | None = None


def _nonempty_strings(field: str, values: tuple[str, ...] | None) -> None:
    if values is not None and any(not v for v in values):
        raise InvalidIdentifierError(f"{field} contains an empty string")


def _check(doc: Metadata, *, dev: bool) -> None:
    """Validate every field of ``doc``; raise :class:`InvalidIdentifierError` on a defect."""
    validate_server_id(doc.issuer, allow_insecure_loopback_for_development=dev)
    for field in _HTTPS_FIELDS:
        value = getattr(doc, field, None)
        if value is not None:
            try:
                validate_https_url(value, allow_insecure_loopback_for_development=dev)
            except InvalidIdentifierError as exc:
                raise InvalidIdentifierError(f"{field}: {exc.message}") from None
    for field in _ENDPOINT_FIELDS:
        value = getattr(doc, field, None)
        if value is not None:
            try:
                validate_endpoint_url(value, allow_insecure_loopback_for_development=dev)
            except InvalidIdentifierError as exc:
                raise InvalidIdentifierError(f"{field}: {exc.message}") from None
    _nonempty_strings("accept_signature_algs", doc.accept_signature_algs)
    if isinstance(doc, ResourceMetadata):
        if doc.signature_window <= 0:
            raise InvalidIdentifierError("signature_window must be a positive integer")
        _nonempty_strings("additional_signature_components", doc.additional_signature_components)
        if doc.access_mode == "":
            raise InvalidIdentifierError("access_mode is empty")


def _parse(model: type[_M], body: bytes, *, expected_issuer: str, dev: bool, max_size: int) -> _M:
    if not isinstance(expected_issuer, str):
        raise LocalError("expected_issuer must be a str")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise LocalError("metadata body must be bytes")
    if len(body) > max_size:
        raise MetadataError(f"metadata document is larger than {max_size} bytes")
    try:
        probe = msgspec.json.decode(body, type=_IssuerProbe)
    except (msgspec.MsgspecError, RecursionError) as exc:
        raise MetadataError(f"metadata document is malformed: {exc}") from None
    # AAuth -11 §"Metadata Documents": no issuer -> issuer_missing; not byte-equal -> mismatch
    if probe.issuer is None:
        raise MetadataError("metadata document has no issuer", code="issuer_missing")
    if probe.issuer != expected_issuer:
        raise MetadataError(
            f"metadata issuer {probe.issuer!r} does not equal {expected_issuer!r}",
            code="issuer_mismatch",
        )
    try:
        doc = msgspec.json.decode(body, type=model)
    except (msgspec.MsgspecError, RecursionError) as exc:
        raise MetadataError(f"invalid {_DWK_OF[model]}: {exc}") from None
    try:
        _check(doc, dev=dev)
    except InvalidIdentifierError as exc:
        raise MetadataError(f"invalid {_DWK_OF[model]}: {exc.message}") from None
    return doc


def parse_agent_metadata(
    body: bytes,
    *,
    expected_issuer: str,
    allow_insecure_loopback_for_development: bool = False,
    max_size: int = _MAX_BODY,
) -> AgentProviderMetadata:
    """Parse and validate an ``aauth-agent.json`` body fetched for ``expected_issuer``.

    :raises MetadataError: ``issuer_missing``, ``issuer_mismatch`` or ``invalid_key``.
    """
    return _parse(
        AgentProviderMetadata,
        body,
        expected_issuer=expected_issuer,
        dev=allow_insecure_loopback_for_development,
        max_size=max_size,
    )


def parse_person_metadata(
    body: bytes,
    *,
    expected_issuer: str,
    allow_insecure_loopback_for_development: bool = False,
    max_size: int = _MAX_BODY,
) -> PersonServerMetadata:
    """Parse and validate an ``aauth-person.json`` body fetched for ``expected_issuer``.

    :raises MetadataError: ``issuer_missing``, ``issuer_mismatch`` or ``invalid_key``.
    """
    return _parse(
        PersonServerMetadata,
        body,
        expected_issuer=expected_issuer,
        dev=allow_insecure_loopback_for_development,
        max_size=max_size,
    )


def parse_access_metadata(
    body: bytes,
    *,
    expected_issuer: str,
    allow_insecure_loopback_for_development: bool = False,
    max_size: int = _MAX_BODY,
) -> AccessServerMetadata:
    """Parse and validate an ``aauth-access.json`` body fetched for ``expected_issuer``.

    :raises MetadataError: ``issuer_missing``, ``issuer_mismatch`` or ``invalid_key``.
    """
    return _parse(
        AccessServerMetadata,
        body,
        expected_issuer=expected_issuer,
        dev=allow_insecure_loopback_for_development,
        max_size=max_size,
    )


def parse_resource_metadata(
    body: bytes,
    *,
    expected_issuer: str,
    allow_insecure_loopback_for_development: bool = False,
    max_size: int = _MAX_BODY,
) -> ResourceMetadata:
    """Parse and validate an ``aauth-resource.json`` body fetched for ``expected_issuer``.

    :raises MetadataError: ``issuer_missing``, ``issuer_mismatch`` or ``invalid_key``.
    """
    return _parse(
        ResourceMetadata,
        body,
        expected_issuer=expected_issuer,
        dev=allow_insecure_loopback_for_development,
        max_size=max_size,
    )


_PARSERS: Final[Mapping[str, Callable[..., Metadata]]] = {
    DWK_AGENT: parse_agent_metadata,
    DWK_PERSON: parse_person_metadata,
    DWK_ACCESS: parse_access_metadata,
    DWK_RESOURCE: parse_resource_metadata,
}


def parse_metadata(
    dwk: str,
    body: bytes,
    *,
    expected_issuer: str,
    allow_insecure_loopback_for_development: bool = False,
    max_size: int = _MAX_BODY,
) -> Metadata:
    """Parse the document named ``dwk`` (one of the four ``DWK_*`` values).

    :raises LocalError: ``dwk`` is not an AAuth document name.
    :raises MetadataError: as the per-document parsers.
    """
    parser = _PARSERS.get(dwk)
    if parser is None:
        raise LocalError(f"{dwk!r} is not an AAuth metadata document name")
    return parser(
        body,
        expected_issuer=expected_issuer,
        allow_insecure_loopback_for_development=allow_insecure_loopback_for_development,
        max_size=max_size,
    )


def serialize_metadata(
    doc: Metadata, *, allow_insecure_loopback_for_development: bool = False
) -> bytes:
    """Validate ``doc`` and encode it as compact JSON (defaults omitted).

    :raises LocalError: ``doc`` breaks a rule; we never publish an invalid document.
    """
    if not isinstance(doc, tuple(METADATA_TYPES.values())):
        raise LocalError("serialize_metadata expects one of the four metadata models")
    try:
        _check(doc, dev=allow_insecure_loopback_for_development)
    except InvalidIdentifierError as exc:
        raise LocalError(f"refusing to serialise invalid metadata: {exc.message}") from None
    return msgspec.json.encode(doc)


def validate_dwk(dwk: str) -> str:
    """Return ``dwk`` if it is a usable well-known document name, else raise.

    RFC 8615 §3: one path segment. We admit ``[A-Za-z0-9._~-]{1,128}`` except ``.``/``..``,
    which covers the four AAuth names and generic Signature-Key ``dwk`` values.

    :raises InvalidIdentifierError: code ``invalid_request``.
    """
    if not isinstance(dwk, str) or _DWK_RE.fullmatch(dwk) is None or dwk in (".", ".."):
        raise InvalidIdentifierError(f"{dwk!r} is not a well-known document name")
    return dwk


def well_known_url(
    issuer: str, dwk: str, *, allow_insecure_loopback_for_development: bool = False
) -> str:
    """``{issuer}/.well-known/{dwk}``, after validating both parts.

    AAuth -11 §"Metadata Documents" / digest §4.1 "Discovery".

    :raises InvalidIdentifierError: ``issuer`` is not a server identifier or ``dwk`` is not a
        document name (both usually come from a peer's token).
    """
    validate_server_id(
        issuer, allow_insecure_loopback_for_development=allow_insecure_loopback_for_development
    )
    return f"{issuer}/.well-known/{validate_dwk(dwk)}"
