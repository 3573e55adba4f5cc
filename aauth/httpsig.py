"""RFC 9421 HTTP Message Signatures: the ``Signature-Input`` and ``Signature`` fields, and
signing / verifying one labelled signature of a message with a given key object.

Keys are duck-typed: a signer is any object with ``sign(data: bytes) -> bytes``, a verifier
any object with ``verify(data: bytes, signature: bytes) -> bool`` (:class:`Signer`,
:class:`Verifier`). The algorithm comes from the key, not from the message (RFC 9421 §3.2
step 6; AAuth -11 ignores the ``alg`` parameter); the caller names it to
:func:`verify_message` so the signature length can be checked.

Wire format choices:

* We emit standard padded base64 in the ``Signature`` Byte Sequence (RFC 9651 §4.1.8).
  We accept unpadded base64url as written by deployed peers unless
  ``accept_base64url_signature=False``: when the ``Signature`` field does not parse as a
  Structured Field, each member is matched against ``label=:<base64 or base64url>:``; one
  value mixing ``+``/``/`` with ``-``/``_`` is refused.
* :func:`sign_message` appends one new ``Signature-Input`` field line and one new ``Signature``
  field line for each signature. Repeated field lines form one Dictionary (RFC 9421 §4.1,
  §4.2; RFC 9110 §5.3), and the existing lines stay byte-for-byte as they were.
* A missing ``Signature-Input`` or ``Signature`` field is ``invalid_request`` (AAuth -11
  verifier step 1, digest [AMBIG-5]); everything else wrong with a signature —
  malformed fields, a label present in only one field, bad parameters, unresolvable
  components, wrong length, failed verification — is ``invalid_signature``
  (signature-key-08 §"Signature-Error": "signature missing, malformed, ... or does not verify").
  Members other than the selected label are parsed as Structured Fields but not otherwise
  checked (signature-key-08: members for other labels MAY be ignored).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol, TypeVar

from . import sfv
from ._b64 import b64_decode, b64url_decode
from ._slots import slot_setters
from .components import (
    KNOWN_SF_FIELDS,
    ComponentId,
    Message,
    SfType,
    base_of_unique_components,
    check_unique,
    components_from_inner_list,
    received_component,
    remember,
)
from .errors import LocalError, SignatureError, StructuredFieldError
from .http import Headers, HttpRequest, HttpResponse
from .httpsig_algorithms import HttpSigAlgorithm, get_algorithm

__all__ = [
    "SIGNATURE_PARAMS",
    "ReceivedSignature",
    "SignatureInput",
    "Signer",
    "VerifiedSignature",
    "Verifier",
    "build_signature_fields",
    "build_signature_input_member",
    "parse_signature_field",
    "parse_signature_input",
    "read_signature",
    "sign_message",
    "signature_labels",
    "verify_message",
    "verify_received",
]

M = TypeVar("M", HttpRequest, HttpResponse)


class Signer(Protocol):
    """Anything that signs: ``sign(data) -> signature bytes``."""

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``."""
        ...


class Verifier(Protocol):
    """Anything that verifies: ``verify(data, signature) -> bool``."""

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is valid for ``data``."""
        ...


#: Signature parameters of RFC 9421 §2.3 and their Structured Field types.
_PARAM_TYPES: Final[dict[str, type]] = {
    "created": int,
    "expires": int,
    "nonce": str,
    "alg": str,
    "keyid": str,
    "tag": str,
}
SIGNATURE_PARAMS: Final[Mapping[str, type]] = MappingProxyType(_PARAM_TYPES)

_KEY: Final = r"[a-z*][a-z0-9_\-.*]*"  # RFC 9651 §3.1.2 key
_KEY_RE: Final = re.compile(_KEY)
_PLAIN_STRING_RE: Final = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")  # no " or \
_STRING_RE: Final = re.compile(r"[\x20-\x7e]*")
_MAX_INT: Final = 999_999_999_999_999  # RFC 9651 §3.3.1
# Tolerant Signature member: label=:<base64 or base64url, padding optional>:
_LOOSE_MEMBER_RE: Final = re.compile(r"([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/_\-]+={0,2}):")
_B64URL_TEXT_RE: Final = re.compile(r"[A-Za-z0-9_\-]+={0,2}")
# Fast paths for the common single-member shapes. Each regex accepts only text that is
# valid RFC 9651 *and already in strict serialisation*: plain strings (no escapes), integers
# without leading zeros, single spaces, no parameters on components. Anything else goes
# through the full sfv parser; tests check both paths agree.
_SF_STR: Final = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
_SF_INT: Final = r"(?:0|[1-9][0-9]{0,14})"
_FAST_INPUT_RE: Final = re.compile(
    rf"({_KEY})=\(((?:{_SF_STR}(?: {_SF_STR})*)?)\)((?:;{_KEY}=(?:{_SF_INT}|{_SF_STR}))*)"
)
_FAST_PARAM_RE: Final = re.compile(rf";({_KEY})=({_SF_INT}|{_SF_STR})")
# Signature: the alphabet and trailing padding here; a length that is a multiple of 4 and
# binascii's strict decoding complete the RFC 9651 §4.2.7 check (a single character class
# scans much faster than the quad-by-quad pattern; tests check both agree).
_FAST_SIGNATURE_RE: Final = re.compile(rf"({_KEY})=:([A-Za-z0-9+/]*={{0,2}}):")
_NO_PARAMS: Final[Mapping[str, sfv.BareItem]] = MappingProxyType({})
_NEW_DICT: Final[Any] = object()  # default marker: a fresh dict for each instance


def _fail(message: str) -> SignatureError:
    return SignatureError(message, code="invalid_signature")


@dataclass(frozen=True, slots=True, init=False)
class SignatureInput:
    """One parsed ``Signature-Input`` member (RFC 9421 §4.1).

    :param label: the member key.
    :param components: the covered components, in order.
    :param params: the signature parameters, in order (``created``, ``keyid``, ...).
    :param value: the strict serialisation of the member value: the ``@signature-params``
        component value (RFC 9421 §2.3).
    """

    label: str
    components: tuple[ComponentId, ...]
    params: dict[str, sfv.BareItem]
    value: str

    def __init__(
        self,
        label: str,
        components: tuple[ComponentId, ...],
        params: dict[str, sfv.BareItem],
        value: str,
    ) -> None:
        _set_si_label(self, label)
        _set_si_components(self, components)
        _set_si_params(self, params)
        _set_si_value(self, value)

    @property
    def created(self) -> int | None:
        """The ``created`` parameter, if present."""
        value = self.params.get("created")
        return value if type(value) is int else None

    @property
    def expires(self) -> int | None:
        """The ``expires`` parameter, if present."""
        value = self.params.get("expires")
        return value if type(value) is int else None


@dataclass(frozen=True, slots=True, init=False)
class VerifiedSignature:
    """A signature that verified: what it covered and the bytes that were checked."""

    label: str
    components: tuple[ComponentId, ...]
    params: dict[str, sfv.BareItem] = field(default_factory=dict)
    signature: bytes = b""
    base: bytes = b""

    def __init__(
        self,
        label: str,
        components: tuple[ComponentId, ...],
        params: dict[str, sfv.BareItem] = _NEW_DICT,
        signature: bytes = b"",
        base: bytes = b"",
    ) -> None:
        _set_vs_label(self, label)
        _set_vs_components(self, components)
        _set_vs_params(self, {} if params is _NEW_DICT else params)
        _set_vs_signature(self, signature)
        _set_vs_base(self, base)

    @property
    def created(self) -> int | None:
        """The ``created`` parameter, if present."""
        value = self.params.get("created")
        return value if type(value) is int else None

    @property
    def expires(self) -> int | None:
        """The ``expires`` parameter, if present."""
        value = self.params.get("expires")
        return value if type(value) is int else None

    def covers(self, component: ComponentId | str) -> bool:
        """Whether ``component`` (a :class:`ComponentId`, a bare name such as
        ``"signature-key"``, or a serialised identifier) is among the covered components."""
        wanted = component if isinstance(component, ComponentId) else ComponentId.parse(component)
        return wanted in self.components


_set_si_label, _set_si_components, _set_si_params, _set_si_value = slot_setters(
    SignatureInput, "label", "components", "params", "value"
)
_set_vs_label, _set_vs_components, _set_vs_params, _set_vs_signature, _set_vs_base = slot_setters(
    VerifiedSignature, "label", "components", "params", "signature", "base"
)


def _check_params(params: Mapping[str, sfv.BareItem], label: str | None) -> None:
    """RFC 9421 §2.3: the types of the registered signature parameters, of the
    ``Signature-Input`` member ``label`` (``None``: parameters given to a signer)."""
    for name, value in params.items():
        kind = _PARAM_TYPES.get(name)
        if kind is None:
            continue  # other parameters are signed as they are
        if kind is int:
            if type(value) is not int or value < 0:
                raise _fail(f"{_where(label)}: parameter {name!r} must be a non-negative integer")
        elif type(value) is not str:
            raise _fail(f"{_where(label)}: parameter {name!r} must be a string")


def _where(label: str | None) -> str:
    return "signature parameters" if label is None else f"Signature-Input {label!r}"


def _member_to_input(label: str, member: sfv.Member) -> SignatureInput:
    where = f"Signature-Input {label!r}"
    if not isinstance(member, sfv.InnerList):
        raise _fail(f"{where} is not an inner list of components")
    _check_params(member.params, label)
    components = components_from_inner_list(member)
    try:
        value = sfv.serialize_inner_list(member)
    except StructuredFieldError as exc:  # pragma: no cover - parsed values re-serialise
        raise _fail(f"{where} cannot be re-serialised") from exc
    return SignatureInput(label, components, dict(member.params), value)


_FAST_COMPONENTS_CACHE: dict[str, tuple[ComponentId, ...]] = {}


def _fast_input(match: re.Match[str]) -> SignatureInput | None:
    label, names, params_text = match.groups()
    components = _FAST_COMPONENTS_CACHE.get(names)
    if components is None:
        components = (
            tuple(received_component(name, _NO_PARAMS) for name in names[1:-1].split('" "'))
            if names
            else ()
        )
        check_unique(components)
        remember(_FAST_COMPONENTS_CACHE, names, components)
    params: dict[str, sfv.BareItem] = {}
    mistyped = False
    for key, raw in _FAST_PARAM_RE.findall(params_text):
        if key in params:
            return None  # RFC 9651 §4.2.3.2: the last one wins; leave it to the full parser
        value = params[key] = raw[1:-1] if raw[0] == '"' else int(raw)
        kind = _PARAM_TYPES.get(key)
        # The pattern admits only non-negative integers and strings: the type decides.
        mistyped = mistyped or (kind is not None and type(value) is not kind)
    if mistyped:
        _check_params(params, label)
    return SignatureInput(label, components, params, match.string[len(label) + 1 :])


def scan_signature_input(
    text: str,
) -> tuple[tuple[str, ...], re.Match[str] | None, sfv.Dictionary | None]:
    """The labels of a ``Signature-Input`` field value, with the fast-path match (one strict
    member) or the parsed Dictionary, so that selecting a member does not parse again."""
    match = _FAST_INPUT_RE.fullmatch(text)
    if match is not None:
        return (match.group(1),), match, None
    members = _parse_dictionary(text, "Signature-Input")
    return tuple(members), None, members


def _select_input(
    text: str,
    label: str,
    match: re.Match[str] | None = None,
    members: sfv.Dictionary | None = None,
) -> SignatureInput | None:
    """The validated ``Signature-Input`` member for ``label``, or ``None`` if absent.

    ``match`` / ``members`` are what :func:`_scan_input` found for ``text``, if it ran."""
    if members is None:
        if match is None:
            match = _FAST_INPUT_RE.fullmatch(text)
        if match is not None:
            if match.group(1) != label:
                return None
            fast = _fast_input(match)
            if fast is not None:
                return fast
        members = _parse_dictionary(text, "Signature-Input")
    member = members.get(label)
    return None if member is None else _member_to_input(label, member)


def _select_signature(text: str, label: str, accept_base64url: bool) -> bytes | None:
    """The ``Signature`` member for ``label`` as bytes, or ``None`` if absent."""
    match = _FAST_SIGNATURE_RE.fullmatch(text)
    if match is not None:
        encoded = match.group(2)
        if not len(encoded) % 4:
            try:
                raw = binascii.a2b_base64(encoded, strict_mode=True)
            except binascii.Error:  # pragma: no cover - the regex and length admit only valid text
                pass
            else:
                return raw if match.group(1) == label else None
    members = _signature_members(text, accept_base64url)
    if members is None:
        return _parse_loose(text).get(label)
    found = members.get(label)
    return None if found is None else _member_bytes(label, found)


def _parse_dictionary(text: str, field_name: str) -> sfv.Dictionary:
    try:
        # Duplicate labels refused (RFC 9421 §4.1, §4.2: labels MUST be unique).
        return sfv.parse_dictionary(text, allow_duplicate_keys=False)
    except StructuredFieldError as exc:
        raise _fail(f"{field_name} is not a valid dictionary: {exc.message}") from exc


def parse_signature_input(field_value: str) -> dict[str, SignatureInput]:
    """Parse a whole ``Signature-Input`` field value (RFC 9421 §4.1); every member checked.

    :raises SignatureError: ``invalid_signature`` for a malformed field, a repeated label,
        a member that is not an inner list of valid component identifiers, or a registered
        parameter of the wrong type.
    """
    members = _parse_dictionary(field_value, "Signature-Input")
    return {label: _member_to_input(label, member) for label, member in members.items()}


def _decode_loose(text: str, label: str) -> bytes:
    what = f"Signature {label!r}"
    if _B64URL_TEXT_RE.fullmatch(text):
        core = text.rstrip("=")
        padding = len(text) - len(core)
        if padding and (len(core) + padding) % 4:
            raise _fail(f"{what} has wrong base64url padding")
        return b64url_decode(core, error=SignatureError, code="invalid_signature", what=what)
    return b64_decode(text, error=SignatureError, code="invalid_signature", what=what)


def _parse_loose(text: str) -> dict[str, bytes]:
    result: dict[str, bytes] = {}
    for part in text.split(","):
        match = _LOOSE_MEMBER_RE.fullmatch(part.strip(" \t"))
        if match is None:
            raise _fail("Signature is not a dictionary of byte sequences")
        label, encoded = match.groups()
        if label in result:
            raise _fail(f"Signature label {label!r} appears more than once")
        result[label] = _decode_loose(encoded, label)
    return result


def _signature_members(text: str, accept_base64url: bool) -> dict[str, sfv.Member] | None:
    """Strict parse of the Signature field, or ``None`` when the tolerant path applies."""
    try:
        return sfv.parse_dictionary(text, allow_duplicate_keys=False)
    except StructuredFieldError as exc:
        if accept_base64url:
            return None
        raise _fail(f"Signature is not a valid dictionary: {exc.message}") from exc


def _member_bytes(label: str, member: sfv.Member) -> bytes:
    if not isinstance(member, sfv.Item) or type(member.value) is not bytes:
        raise _fail(f"Signature {label!r} is not a byte sequence")
    return member.value


def parse_signature_field(
    field_value: str, *, accept_base64url_signature: bool = True
) -> dict[str, bytes]:
    """Parse a ``Signature`` field value (RFC 9421 §4.2) into ``{label: signature bytes}``.

    With ``accept_base64url_signature`` (the default), a field that is not a valid Structured
    Field is retried as ``label=:base64url:`` members (deployed peers write unpadded
    base64url).

    :raises SignatureError: ``invalid_signature`` if malformed, a label repeats, or a member
        is not a byte sequence.
    """
    members = _signature_members(field_value, accept_base64url_signature)
    if members is None:
        return _parse_loose(field_value)
    return {label: _member_bytes(label, member) for label, member in members.items()}


def _serialize_param(name: str, value: sfv.BareItem) -> str:
    if value is True:
        return f";{name}"
    if type(value) is int and -_MAX_INT <= value <= _MAX_INT:
        return f";{name}={value}"
    if type(value) is str:
        if _PLAIN_STRING_RE.fullmatch(value):
            return f';{name}="{value}"'
        if _STRING_RE.fullmatch(value):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            return f';{name}="{escaped}"'
        raise LocalError(f"signature parameter {name!r} must be printable ASCII")
    try:
        return f";{name}={sfv.serialize_bare_item(value)}"
    except StructuredFieldError as exc:
        raise LocalError(f"signature parameter {name!r} cannot be serialised") from exc


_COMPONENTS_CACHE: dict[tuple[ComponentId | str, ...], tuple[tuple[ComponentId, ...], str]] = {}


def _as_components(
    components: Sequence[ComponentId | str],
) -> tuple[tuple[ComponentId, ...], str]:
    """The checked components and their serialised inner list (without parameters)."""
    if isinstance(components, str):
        raise LocalError("components must be a sequence of component identifiers, not a str")
    key = tuple(components)
    cached = _COMPONENTS_CACHE.get(key)
    if cached is not None:
        return cached
    result = tuple(c if isinstance(c, ComponentId) else ComponentId.parse(c) for c in key)
    if len(set(result)) != len(result):
        raise LocalError("a component is listed more than once (RFC 9421 §2)")
    entry = result, f"({' '.join([c.serialized for c in result])})"
    remember(_COMPONENTS_CACHE, key, entry)
    return entry


def _member_text(inner: str, params: Mapping[str, sfv.BareItem]) -> str:
    parts = [inner]
    for name, value in params.items():
        if name not in _PARAM_TYPES and (not isinstance(name, str) or not _KEY_RE.fullmatch(name)):
            raise LocalError(f"{name!r} is not a valid signature parameter name")
        parts.append(_serialize_param(name, value))
    return "".join(parts)


def build_signature_input_member(
    components: Sequence[ComponentId | str], params: Mapping[str, sfv.BareItem]
) -> str:
    """The ``Signature-Input`` member value (and ``@signature-params`` value, RFC 9421 §2.3):
    ``("@method" "@path");created=1618884473;keyid="k"``.

    ``components`` are :class:`ComponentId` objects or strings for
    :meth:`ComponentId.parse`; ``params`` are serialised in the order given.

    :raises LocalError: for an invalid or repeated component, or a parameter of the wrong type.
    """
    return _build_member(components, params)[1]


def _build_member(
    components: Sequence[ComponentId | str], params: Mapping[str, sfv.BareItem]
) -> tuple[tuple[ComponentId, ...], str]:
    comps, inner = _as_components(components)
    text = inner
    for name, value in params.items():
        # The usual parameters (created, expires) serialise directly; anything else takes
        # the full check and serialisation below, from the start.
        if _PARAM_TYPES.get(name) is int and type(value) is int and 0 <= value <= _MAX_INT:
            text += f";{name}={value}"
        else:
            return comps, _checked_member_text(inner, params)
    return comps, text


def _checked_member_text(inner: str, params: Mapping[str, sfv.BareItem]) -> str:
    try:
        _check_params(params, None)
    except SignatureError as exc:
        raise LocalError(exc.message) from exc
    return _member_text(inner, params)


_GOOD_LABELS: dict[str, bool] = {}


def _check_label(label: str) -> None:
    if label in _GOOD_LABELS:
        return
    if not isinstance(label, str) or not _KEY_RE.fullmatch(label):
        raise LocalError(f"{label!r} is not a valid signature label (an RFC 9651 key)")
    remember(_GOOD_LABELS, label, True)


def build_signature_fields(
    label: str, signature_input_member: str, signature: bytes
) -> tuple[tuple[str, str], tuple[str, str]]:
    """The two field lines for one signature:
    ``("Signature-Input", "<label>=<member>")`` and ``("Signature", "<label>=:<base64>:")``.

    The signature is written as standard padded base64 (RFC 9651 §4.1.8).
    """
    _check_label(label)
    if not isinstance(signature_input_member, str) or not isinstance(signature, bytes):
        raise LocalError("signature_input_member must be str and signature bytes")
    return _field_lines(label, signature_input_member, signature)


def _field_lines(
    label: str, member: str, signature: bytes
) -> tuple[tuple[str, str], tuple[str, str]]:
    encoded = binascii.b2a_base64(signature, newline=False).decode("ascii")
    return (
        ("Signature-Input", f"{label}={member}"),
        ("Signature", f"{label}=:{encoded}:"),
    )


def _signature_fields(message: Message) -> tuple[str | None, str | None]:
    """The combined ``Signature-Input`` and ``Signature`` field values.

    RFC 9110 §5.3: repeated field lines combine with ``", "`` (as ``header`` does)."""
    return message.header("signature-input"), message.header("signature")


def _existing_labels(message: Message) -> set[str]:
    labels: set[str] = set()
    for name in ("Signature-Input", "Signature"):
        text = message.header(name)
        if text is None:
            continue
        try:
            labels.update(sfv.parse_dictionary(text))
        except StructuredFieldError:
            # A tolerant (base64url) Signature field: its labels still count.
            labels.update(m.group(1) for m in _LOOSE_MEMBER_RE.finditer(text))
    return labels


def sign_message(
    message: M,
    signer: Signer,
    *,
    label: str,
    components: Sequence[ComponentId | str],
    created: int,
    expires: int | None = None,
    nonce: str | None = None,
    alg: str | None = None,
    keyid: str | None = None,
    tag: str | None = None,
    related_request: HttpRequest | None = None,
    trailers: Iterable[tuple[str, str]] | None = None,
    request_target: str | None = None,
    sf_types: Mapping[str, SfType] = KNOWN_SF_FIELDS,
) -> M:
    """Sign ``message`` (RFC 9421 §3.1) and return a copy with ``Signature-Input`` and
    ``Signature`` field lines for ``label`` appended.

    Parameters are written in the order ``created``, ``expires``, ``nonce``, ``alg``,
    ``keyid``, ``tag``, each only when given. The signer's ``sign`` receives the signature
    base bytes.

    :raises LocalError: if the label is already used on the message, a component cannot be
        resolved, or a parameter is invalid.
    """
    return sign_with_headers(
        message,
        (),
        signer,
        label=label,
        components=components,
        created=created,
        expires=expires,
        nonce=nonce,
        alg=alg,
        keyid=keyid,
        tag=tag,
        related_request=related_request,
        trailers=trailers,
        request_target=request_target,
        sf_types=sf_types,
    )


def sign_with_headers(
    message: M,
    extra: Headers,
    signer: Signer,
    *,
    label: str,
    components: Sequence[ComponentId | str],
    created: int,
    expires: int | None = None,
    nonce: str | None = None,
    alg: str | None = None,
    keyid: str | None = None,
    tag: str | None = None,
    related_request: HttpRequest | None = None,
    trailers: Iterable[tuple[str, str]] | None = None,
    request_target: str | None = None,
    sf_types: Mapping[str, SfType] = KNOWN_SF_FIELDS,
) -> M:
    """:func:`sign_message` of ``message`` with the header lines ``extra`` (pairs of str,
    not re-checked, without ``Signature-Input`` or ``Signature``) appended first, without
    building the intermediate message (internal)."""
    _check_label(label)
    if not isinstance(message, (HttpRequest, HttpResponse)):
        raise LocalError("message must be an HttpRequest or HttpResponse")
    params: dict[str, sfv.BareItem] = {"created": created}
    if expires is not None:
        params["expires"] = expires
    if nonce is not None:
        params["nonce"] = nonce
    if alg is not None:
        params["alg"] = alg
    if keyid is not None:
        params["keyid"] = keyid
    if tag is not None:
        params["tag"] = tag
    comps, member = _build_member(components, params)
    index = message._header_index()
    if ("signature-input" in index or "signature" in index) and label in _existing_labels(message):
        raise LocalError(f"the message already has a signature labelled {label!r}")
    try:
        base = base_of_unique_components(  # _as_components refused repeats
            message,
            comps,
            member,
            related_request=related_request,
            trailers=trailers,
            request_target=request_target,
            sf_types=sf_types,
            extra=extra,
        )
    except SignatureError as exc:
        raise LocalError(f"cannot sign: {exc.message}") from exc
    signature = signer.sign(base)
    if not isinstance(signature, bytes):
        raise LocalError("signer.sign() must return bytes")
    return message._appended(extra + _field_lines(label, member, signature), False)


@dataclass(frozen=True, slots=True, init=False)
class ReceivedSignature:
    """One labelled signature read from a message, not yet verified: its
    ``Signature-Input`` member and its signature bytes."""

    input: SignatureInput
    signature: bytes

    def __init__(self, input: SignatureInput, signature: bytes) -> None:
        _set_rs_input(self, input)
        _set_rs_signature(self, signature)

    @property
    def label(self) -> str:
        """The signature label."""
        return self.input.label


_set_rs_input, _set_rs_signature = slot_setters(ReceivedSignature, "input", "signature")


def signature_labels(message: Message) -> tuple[str, ...]:
    """The labels of the message's ``Signature-Input`` field, in order (empty if absent).

    :raises SignatureError: ``invalid_signature`` if the field is not a valid Dictionary or
        repeats a label.
    """
    input_text = message.header("signature-input")
    if input_text is None:
        return ()
    return scan_signature_input(input_text)[0]


def read_signature(
    message: Message, label: str, *, accept_base64url_signature: bool = True
) -> ReceivedSignature:
    """Read the signature labelled ``label``: its parsed ``Signature-Input`` member and the
    ``Signature`` bytes, without verifying anything (RFC 9421 §3.2 steps 1-4).

    :raises SignatureError: ``invalid_request`` if a signature field is absent;
        ``invalid_signature`` if malformed or the label is missing from either field.
    """
    _check_label(label)
    input_text, signature_text = _signature_fields(message)
    if input_text is None or signature_text is None:
        missing = "Signature-Input" if input_text is None else "Signature"
        raise SignatureError(f"the message has no {missing} field", code="invalid_request")
    return ReceivedSignature(
        *read_signature_parts(input_text, signature_text, label, accept_base64url_signature)
    )


def read_signature_parts(  # noqa: PLR0917 - internal, positional for speed
    input_text: str,
    signature_text: str,
    label: str,
    accept_base64url_signature: bool,
    match: re.Match[str] | None = None,
    members: sfv.Dictionary | None = None,
) -> tuple[SignatureInput, bytes]:
    """:func:`read_signature` from the two combined field values; ``match`` / ``members``
    are what :func:`scan_signature_input` found for ``input_text``, if it ran (internal)."""
    _check_label(label)
    parsed = _select_input(input_text, label, match, members)
    signature = _select_signature(signature_text, label, accept_base64url_signature)
    # RFC 9421 §4: a label present in one field but not the other is an error.
    if parsed is None:
        raise _fail(f"Signature-Input has no member for label {label!r}")
    if signature is None:
        raise _fail(f"Signature has no member for label {label!r}")
    return parsed, signature


def verify_received(
    message: Message,
    received: ReceivedSignature,
    verifier: Verifier,
    *,
    algorithm: str,
    related_request: HttpRequest | None = None,
    trailers: Iterable[tuple[str, str]] | None = None,
    request_target: str | None = None,
    sf_types: Mapping[str, SfType] = KNOWN_SF_FIELDS,
    enforce_alg_param: bool = False,
    now: int | None = None,
) -> VerifiedSignature:
    """Verify a signature obtained from :func:`read_signature` (RFC 9421 §3.2 steps 5-8).

    See :func:`verify_message` for the parameters and errors.
    """
    check_unique(received.input.components)
    return _verified_signature(
        message,
        received,
        verifier,
        algorithm=algorithm,
        related_request=related_request,
        trailers=trailers,
        request_target=request_target,
        sf_types=sf_types,
        enforce_alg_param=enforce_alg_param,
        now=now,
    )


def _verified_signature(
    message: Message,
    received: ReceivedSignature,
    verifier: Verifier,
    *,
    algorithm: str,
    related_request: HttpRequest | None,
    trailers: Iterable[tuple[str, str]] | None,
    request_target: str | None,
    sf_types: Mapping[str, SfType],
    enforce_alg_param: bool,
    now: int | None,
) -> VerifiedSignature:
    spec = get_algorithm(algorithm)
    parsed, signature = received.input, received.signature
    base = verify_signature_parts(
        message,
        parsed,
        signature,
        verifier,
        spec,
        related_request,
        trailers,
        request_target,
        sf_types,
        enforce_alg_param,
        now,
    )
    return VerifiedSignature(parsed.label, parsed.components, parsed.params, signature, base)


def verify_signature_parts(  # noqa: PLR0917 - internal, positional for speed
    message: Message,
    parsed: SignatureInput,
    signature: bytes,
    verifier: Verifier,
    spec: HttpSigAlgorithm,
    related_request: HttpRequest | None = None,
    trailers: Iterable[tuple[str, str]] | None = None,
    request_target: str | None = None,
    sf_types: Mapping[str, SfType] = KNOWN_SF_FIELDS,
    enforce_alg_param: bool = False,
    now: int | None = None,
) -> bytes:
    """RFC 9421 §3.2 steps 5-8 for a parsed member whose components are known to be unique;
    the verified signature base (internal)."""
    alg_param = parsed.params.get("alg")
    if enforce_alg_param and alg_param is not None and alg_param != spec.name:
        # RFC 9421 §3.2 step 6.4: algorithms from two sources must agree.
        raise _fail(f"signature parameter alg={alg_param!r} does not match {spec.name!r}")
    expires = parsed.expires
    if now is not None and expires is not None and now > expires:
        raise _fail(f"the signature expired at {expires}")  # RFC 9421 §3.2.1
    if len(signature) != spec.signature_length:
        raise _fail(
            f"a {spec.name} signature is {spec.signature_length} bytes, got {len(signature)}"
        )
    base = base_of_unique_components(
        message,
        parsed.components,
        parsed.value,
        related_request=related_request,
        trailers=trailers,
        request_target=request_target,
        sf_types=sf_types,
    )
    if verifier.verify(base, signature) is not True:
        raise _fail(f"signature {parsed.label!r} does not verify ({spec.name})")
    return base


def verify_message(
    message: Message,
    verifier: Verifier,
    *,
    label: str,
    algorithm: str,
    related_request: HttpRequest | None = None,
    trailers: Iterable[tuple[str, str]] | None = None,
    request_target: str | None = None,
    sf_types: Mapping[str, SfType] = KNOWN_SF_FIELDS,
    accept_base64url_signature: bool = True,
    enforce_alg_param: bool = False,
    now: int | None = None,
) -> VerifiedSignature:
    """Verify the signature labelled ``label`` on ``message`` (RFC 9421 §3.2).

    ``algorithm`` is the RFC 9421 name of the verifier's algorithm (from the key); it fixes
    the expected signature length. The ``alg`` signature parameter is ignored (AAuth -11)
    unless ``enforce_alg_param`` is set, in which case a present ``alg`` must equal
    ``algorithm`` (RFC 9421 §3.2 step 6.4). With ``now`` (Unix seconds), an ``expires`` in the
    past is refused; ``created`` windows are the caller's policy.

    :raises SignatureError: ``invalid_request`` if a signature field is absent;
        ``unsupported_algorithm`` for an unsupported ``algorithm``; ``invalid_signature``
        for everything else (see the module docstring).
    """
    get_algorithm(algorithm)  # an unsupported algorithm fails before any parsing
    received = read_signature(message, label, accept_base64url_signature=accept_base64url_signature)
    return _verified_signature(
        message,
        received,
        verifier,
        algorithm=algorithm,
        related_request=related_request,
        trailers=trailers,
        request_target=request_target,
        sf_types=sf_types,
        enforce_alg_param=enforce_alg_param,
        now=now,
    )
