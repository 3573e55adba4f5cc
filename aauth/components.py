"""RFC 9421 §2: message components and the §2.5 signature base.

A *component identifier* is a component name (an HTTP field name in lowercase, or a derived
component name starting with ``@``) plus parameters (:class:`ComponentId`). Its *value* comes
from the message (:func:`component_value`); the *signature base* is one line per covered
component and the ``@signature-params`` line (:func:`signature_base`).

Errors. Everything here concerns a message that is being checked, so a component that cannot
be resolved (missing field, unknown derived component, bad parameter, non-ASCII value, ...)
raises :class:`~aauth.errors.SignatureError` with code ``invalid_signature`` and a message
naming the component. The signing functions in :mod:`aauth.httpsig` turn these into
:class:`~aauth.errors.LocalError` (the caller asked to sign something that cannot be signed).
:class:`ComponentId` built by the caller raises :class:`~aauth.errors.LocalError`.

Readings taken where RFC 9421 leaves a choice:

* A request's target URI is ``HttpRequest.url`` (absolute). Its fragment, if any, is not part
  of the target URI (RFC 9110 §7.1) and is ignored. ``userinfo`` is refused (RFC 9110 §4.2.4).
* ``@request-target`` is the origin form (path, ``/`` if empty, plus ``?query`` when the URL
  has a ``?``) unless the caller passes ``request_target=`` explicitly (absolute, authority
  and asterisk forms, or whatever the HTTP/1.1 request line carried).
* ``@authority``: lowercase host; the port is kept as written unless it is empty or the
  scheme's default (80 for http, 443 for https), in which case it is dropped (RFC 9110 §4.2.3).
* ``;bs`` encodes each field line's characters as Latin-1 when they all fit (how ASGI, WSGI and
  h11 decode raw header bytes), and as UTF-8 otherwise.
* ``;key`` on a field of unknown type parses it as a Dictionary; ``;sf`` needs the type, taken
  from the ``sf_types`` mapping (default :data:`KNOWN_SF_FIELDS`).

Speed: component identifiers, parsed URLs and (in :mod:`aauth.httpsig`) covered-component
lists are memoised in small bounded dicts keyed by their text, since the same few shapes
recur on every request.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Final, Literal, TypeAlias, TypeVar
from urllib.parse import quote, unquote_plus

from . import sfv
from .errors import LocalError, SignatureError, StructuredFieldError
from .http import Headers, HttpRequest, HttpResponse

__all__ = [
    "DERIVED_COMPONENTS",
    "KNOWN_SF_FIELDS",
    "ComponentId",
    "Message",
    "SfType",
    "Trailers",
    "build_signature_base",
    "check_unique",
    "component_value",
    "components_from_inner_list",
    "received_component",
    "signature_base",
]

Message: TypeAlias = HttpRequest | HttpResponse
SfType: TypeAlias = Literal["item", "list", "dictionary"]
Trailers: TypeAlias = Iterable[tuple[str, str]]

#: Structured-field types of the fields the engine knows, for the ``sf`` and ``key``
#: parameters (RFC 9421 §2.1.1, §2.1.2). Pass your own mapping to add more.
KNOWN_SF_FIELDS: Final[Mapping[str, SfType]] = MappingProxyType(
    {
        # RFC 9421 §4.1, §4.2, §5.1
        "signature-input": "dictionary",
        "signature": "dictionary",
        "accept-signature": "dictionary",
        # RFC 9530 §2-§4
        "content-digest": "dictionary",
        "repr-digest": "dictionary",
        "want-content-digest": "dictionary",
        "want-repr-digest": "dictionary",
        # signature-key-08 §"Signature-Key", §"Signature-Error", §"Accept-Signature-*"
        "signature-key": "dictionary",
        "signature-error": "dictionary",
        "signature-key-cache": "dictionary",
        "accept-signature-scheme": "list",
        "accept-signature-alg": "list",
        # AAuth -11 §"AAuth-Requirement", §"AAuth-Capabilities"
        "aauth-requirement": "dictionary",
        "aauth-capabilities": "list",
        # RFC 9440 §2 (Client-Cert in RFC 9421 Appendix B.3)
        "client-cert": "item",
        "client-cert-chain": "list",
        # RFC 9211, RFC 9209, RFC 9218
        "cache-status": "list",
        "proxy-status": "list",
        "priority": "dictionary",
        # RFC 9421 §2.1.1/§2.1.2 example field
        "example-dict": "dictionary",
    }
)

#: Derived component names of RFC 9421 §2.2 (``@signature-params`` is never coverable).
DERIVED_COMPONENTS: Final[frozenset[str]] = frozenset(
    {
        "@method",
        "@target-uri",
        "@authority",
        "@scheme",
        "@request-target",
        "@path",
        "@query",
        "@query-param",
        "@status",
    }
)

# RFC 9421 §6.5.2: component parameters; flags take Boolean true only.
_FLAG_PARAMS: Final = frozenset({"sf", "bs", "req", "tr"})
_FIELD_PARAMS: Final = frozenset({"sf", "key", "bs", "req", "tr"})
# RFC 9110 §5.1 field-name = token, used in lowercase (RFC 9421 §2.1).
_FIELD_NAME_RE: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
# RFC 9112 §5.2: obs-fold = OWS CRLF RWS, replaced by a single SP (RFC 9421 §2.1 step 3).
_OBS_FOLD_RE: Final = re.compile(r"[ \t]*\r\n[ \t]+")
# RFC 9421 §2.5: a base line is VCHAR / SP / HTAB only (no CR, LF, controls, non-ASCII).
_BAD_VALUE_RE: Final = re.compile(r"[^\t\x20-\x7e]")
# An absolute URI split into scheme, authority, path, query (fragment dropped).
_URL_RE: Final = re.compile(
    r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?", re.DOTALL
)
_SF_STRING_RE: Final = re.compile(r"[\x20-\x7e]*")  # RFC 9651 §3.3.3
_AUTHORITY_RE: Final = re.compile(r"(\[[0-9A-Za-z:.]+\]|[^\[\]:@]+)(?::([0-9]*))?")
_DEFAULT_PORTS: Final[Mapping[str, str]] = MappingProxyType({"http": "80", "https": "443"})


def _fail(message: str) -> SignatureError:
    return SignatureError(message, code="invalid_signature")


def _identifier_problem(name: str, params: Mapping[str, sfv.BareItem]) -> str | None:
    """Why ``name`` + ``params`` is not a valid component identifier, or ``None``."""
    if name.startswith("@"):
        if name == "@signature-params":
            # RFC 9421 §2.3: never listed among the covered components.
            return '"@signature-params" cannot be a covered component'
        if name not in DERIVED_COMPONENTS:
            return f"unknown derived component {name!r}"
        for key, value in params.items():
            if key == "req":
                if value is not True:
                    return f"parameter 'req' of {name!r} must be a bare flag"
            elif key == "name" and name == "@query-param":
                if type(value) is not str or not _SF_STRING_RE.fullmatch(value):
                    return "parameter 'name' of '@query-param' must be a string"
            else:
                return f"parameter {key!r} does not apply to {name!r}"
        if name == "@query-param" and "name" not in params:
            return "'@query-param' requires the 'name' parameter (RFC 9421 §2.2.8)"
        return None
    if not _FIELD_NAME_RE.fullmatch(name):
        return f"{name!r} is not a lowercase HTTP field name"
    for key, value in params.items():
        if key not in _FIELD_PARAMS:
            return f"unknown component parameter {key!r} on {name!r}"
        if key in _FLAG_PARAMS:
            if value is not True:
                return f"parameter {key!r} of {name!r} must be a bare flag"
        elif type(value) is not str or not _SF_STRING_RE.fullmatch(value):  # key
            return f"parameter 'key' of {name!r} must be a string"
    if "bs" in params and ("sf" in params or "key" in params):
        # RFC 9421 §2.1: bs is incompatible with sf and key.
        return f"{name!r}: 'bs' cannot be combined with 'sf' or 'key'"
    return None


def _quote(text: str) -> str:
    """RFC 9651 §4.1.6 String serialisation of text already checked to be printable ASCII."""
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


class ComponentId:
    """A component identifier (RFC 9421 §2): a name plus ordered parameters.

    Equality ignores the order of parameters, as RFC 9421 §2 requires for duplicate detection;
    :attr:`serialized` keeps the order given.

    >>> ComponentId("@query-param", {"name": "Pet"}).serialized
    '"@query-param";name="Pet"'
    """

    __slots__ = ("_derived", "_flags", "_ident", "_req", "_text", "name", "params", "serialized")

    name: str
    params: tuple[tuple[str, sfv.BareItem], ...]
    serialized: str
    _ident: tuple[str, frozenset[tuple[str, sfv.BareItem]]]
    _derived: bool
    _flags: frozenset[str]
    _req: bool
    _text: str | None  # the value of "key" or "name"

    def __init__(
        self,
        name: str,
        params: Mapping[str, sfv.BareItem] | Iterable[tuple[str, sfv.BareItem]] = (),
    ) -> None:
        if not isinstance(name, str):
            raise LocalError("a component name must be a str")
        as_dict = dict(params.items() if isinstance(params, Mapping) else params)
        problem = _identifier_problem(name, as_dict)
        if problem is not None:
            raise LocalError(problem)
        self._set(name, tuple(as_dict.items()))

    def _set(self, name: str, params: tuple[tuple[str, sfv.BareItem], ...]) -> None:
        # Only called with a valid identifier: names and string values are printable ASCII,
        # so the strict serialisation (RFC 9651 §4.1.3) is built directly.
        self.name = name
        self.params = params
        self._ident = (name, frozenset(params))
        self._derived = name.startswith("@")
        self._flags = frozenset(key for key, _ in params)
        self._req = "req" in self._flags
        self._text = None
        parts = [_quote(name)]
        for key, value in params:
            if value is True:
                parts.append(f";{key}")
            else:
                self._text = str(value)
                parts.append(f";{key}={_quote(self._text)}")
        self.serialized = "".join(parts)

    @classmethod
    def parse(cls, text: str) -> ComponentId:
        """A component identifier from a bare name (``content-digest``, ``@method``) or its
        serialised form (``"@query-param";name="x"``, ``"example-dict";key="a"``).

        Meant for configuration and caller input: errors raise :class:`LocalError`.
        """
        if not isinstance(text, str):
            raise LocalError("a component identifier must be a str")
        cached = _PARSE_CACHE.get(text)
        if cached is not None:
            return cached
        if text.startswith('"'):
            try:
                item = sfv.parse_item(text)
            except StructuredFieldError as exc:
                raise LocalError(f"{text!r} is not a component identifier") from exc
            result = cls(str(item.value), item.params)  # a leading DQUOTE makes it a String
        else:
            result = cls(text)
        remember(_PARSE_CACHE, text, result)
        return result

    @property
    def is_derived(self) -> bool:
        """Whether this is a derived component (its name starts with ``@``)."""
        return self._derived

    def param(self, key: str) -> sfv.BareItem | None:
        """The value of parameter ``key``, or ``None`` if absent."""
        for name, value in self.params:
            if name == key:
                return value
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ComponentId):
            return NotImplemented
        return self._ident == other._ident

    def __hash__(self) -> int:
        return hash(self._ident)

    def __repr__(self) -> str:
        return f"ComponentId({self.serialized})"

    def __str__(self) -> str:
        return self.serialized


_CACHE_SIZE: Final = 512
_K = TypeVar("_K")
_V = TypeVar("_V")


def remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Store in a small memo dict, emptying it first when it is full (bounded memory)."""
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value


_PARSE_CACHE: dict[str, ComponentId] = {}
_ReceivedKey: TypeAlias = tuple[str, tuple[tuple[str, sfv.BareItem, type], ...]]
_RECEIVED_CACHE: dict[_ReceivedKey, ComponentId] = {}


def received_component(name: str, params: Mapping[str, sfv.BareItem]) -> ComponentId:
    """The component identifier for a covered component received from a peer.

    :raises SignatureError: ``invalid_signature`` if it is not a valid identifier.
    """
    # Types are part of the key: Boolean True and Integer 1 must not share an entry.
    pairs = tuple(params.items())
    key: _ReceivedKey = (name, tuple((k, v, type(v)) for k, v in pairs) if pairs else ())
    cached = _RECEIVED_CACHE.get(key)
    if cached is not None:
        return cached
    problem = _identifier_problem(name, params)
    if problem is not None:
        raise _fail(problem)
    component = ComponentId.__new__(ComponentId)
    component._set(name, pairs)
    remember(_RECEIVED_CACHE, key, component)
    return component


def check_unique(components: Sequence[ComponentId]) -> None:
    """RFC 9421 §2 / §2.5 step 2.0: no component identifier may be covered twice.

    :raises SignatureError: ``invalid_signature`` naming the repeated identifier.
    """
    seen: set[tuple[str, frozenset[tuple[str, sfv.BareItem]]]] = set()
    for component in components:
        if component._ident in seen:
            raise _fail(f"component {component.serialized} is covered more than once")
        seen.add(component._ident)


def components_from_inner_list(inner: sfv.InnerList) -> tuple[ComponentId, ...]:
    """The covered components of a parsed ``Signature-Input`` member (RFC 9421 §4.1).

    Each item must be a String (RFC 9421 §2.5 ``component-name = sf-string``) naming a valid,
    known component with known parameters, and no identifier may repeat (§2, §2.5 step 2.0).

    :raises SignatureError: ``invalid_signature`` naming the offending identifier.
    """
    result: list[ComponentId] = []
    for item in inner.items:
        name = item.value
        if type(name) is not str:
            raise _fail(f"covered component {sfv.serialize_bare_item(name)} is not a string")
        result.append(received_component(name, item.params))
    check_unique(result)
    return tuple(result)


class _Url:
    """The parts of an absolute target URI that derived components need."""

    __slots__ = ("authority", "path", "query", "scheme", "target_uri")

    def __init__(self, url: str) -> None:
        match = _URL_RE.fullmatch(url)
        if match is None or not (url.isascii() and url.isprintable()) or " " in url:
            raise _fail("the request URL is not an absolute URI of printable ASCII")
        scheme, authority, path, query = match.groups()
        self.scheme = scheme.lower()
        self.target_uri = url.partition("#")[0]
        host_port = _AUTHORITY_RE.fullmatch(authority)
        if host_port is None:
            raise _fail("the request URL has no valid authority (host[:port], no userinfo)")
        host, port = host_port.groups()
        host = host.lower()
        # RFC 9421 §2.2.3 / RFC 9110 §4.2.3: lowercase host, default or empty port omitted.
        default = _DEFAULT_PORTS.get(self.scheme)
        if port and not (default is not None and port.lstrip("0") == default):
            self.authority = f"{host}:{port}"
        else:
            self.authority = host
        self.path = path or "/"  # RFC 9421 §2.2.6: an empty path is "/"
        self.query: str | None = query


_URL_CACHE: dict[str, _Url] = {}


def _url_of(text: str) -> _Url:
    """The parsed target URI (memoised: a pure function of the URL text)."""
    url = _URL_CACHE.get(text)
    if url is None:
        url = _Url(text)
        remember(_URL_CACHE, text, url)
    return url


def _form_encode(text: str) -> str:
    # WHATWG URL "application/x-www-form-urlencoded percent-encode set": everything except
    # ASCII alphanumerics and * - . _ ; space as %20 (RFC 9421 §2.2.8).
    return quote(text, safe="*", encoding="utf-8").replace("~", "%7E")


class _View:
    """One message with lazily computed lookups (URL parts, query params, trailers); header
    fields come from the message's own cached index."""

    __slots__ = (
        "_params",
        "_trailers",
        "_trailers_given",
        "_url",
        "is_request",
        "message",
        "target",
    )

    def __init__(
        self, message: Message, trailers: Trailers | None, request_target: str | None
    ) -> None:
        self.message = message
        self.is_request = isinstance(message, HttpRequest)
        self.target = request_target
        self._trailers_given = trailers
        self._trailers: dict[str, list[str]] | None = None
        self._url: _Url | None = None
        self._params: dict[str, list[str]] | None = None

    def lines(self, name: str, trailer: bool) -> Sequence[str]:
        if trailer:
            if self._trailers is None:
                if self._trailers_given is None:
                    return ()
                trailers: dict[str, list[str]] = {}
                for key, value in self._trailers_given:
                    trailers.setdefault(key.lower(), []).append(value)
                self._trailers = trailers
            return self._trailers.get(name, ())
        return self.message._header_index().get(name, ())

    def url(self) -> _Url:
        url = self._url
        if url is None:
            assert isinstance(self.message, HttpRequest)
            url = self._url = _url_of(self.message.url)
        return url

    def query_params(self) -> dict[str, list[str]]:
        if self._params is None:
            # WHATWG URL "application/x-www-form-urlencoded parser", then each name and value
            # re-encoded (RFC 9421 §2.2.8 steps 1-2).
            params: dict[str, list[str]] = {}
            for sequence in (self.url().query or "").split("&"):
                if not sequence:
                    continue
                raw_name, _, raw_value = sequence.partition("=")
                name = _form_encode(unquote_plus(raw_name, errors="replace"))
                value = _form_encode(unquote_plus(raw_value, errors="replace"))
                params.setdefault(name, []).append(value)
            self._params = params
        return self._params


def _derived_value(component: ComponentId, view: _View) -> str:
    """The value of a derived component, checked (RFC 9421 §2.5 step 4). Values taken from
    the parsed URL need no check: the URL was refused unless it was printable ASCII without
    spaces, and percent-encoding keeps query parameters that way."""
    name = component.name
    message = view.message
    if name == "@status":
        if not isinstance(message, HttpResponse):
            # RFC 9421 §2.2.9: not for requests (nor with req).
            raise _fail('"@status" is only defined for a response')
        return f"{message.status:03d}"
    if not view.is_request:
        raise _fail(f"{component.serialized} needs a request (use ;req on a response)")
    if name == "@method":
        assert isinstance(message, HttpRequest)
        return _checked(component, message.method)  # RFC 9421 §2.2.1: as sent, case-sensitive
    if name == "@authority":
        return view.url().authority
    if name == "@path":
        return view.url().path
    if name == "@request-target":
        if view.target is not None:
            return _checked(component, view.target)
        url = view.url()  # RFC 9421 §2.2.5: origin form
        return url.path if url.query is None else f"{url.path}?{url.query}"
    url = view.url()
    if name == "@query":
        return f"?{url.query or ''}"  # RFC 9421 §2.2.7: "?" alone when absent
    if name == "@target-uri":
        return url.target_uri
    if name == "@scheme":
        return url.scheme
    # @query-param (RFC 9421 §2.2.8); the name parameter is validated to be present.
    values = view.query_params().get(component._text or "")
    if not values:
        raise _fail(f"query parameter for {component.serialized} is not in the request")
    if len(values) > 1:
        raise _fail(f"query parameter for {component.serialized} occurs more than once")
    return values[0]


def _canonical_line(value: str) -> str:
    # RFC 9421 §2.1 steps 2-3: strip OWS, replace obs-fold by one SP.
    value = value.strip(" \t")
    if "\r" in value or "\n" in value:
        value = _OBS_FOLD_RE.sub(" ", value)
    return value


def _bs_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        pass
    try:
        return value.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError as exc:
        raise _fail("a field value for ;bs cannot be encoded as bytes") from exc


def _plain_value(component: ComponentId, lines: Sequence[str]) -> str:
    """A header field covered without parameters: its lines, canonicalised and combined
    (RFC 9421 §2.1 steps 1-4)."""
    if not lines:
        raise _fail(f"covered header field {component.serialized} is not in the message")
    if len(lines) == 1:
        return _canonical_line(lines[0])
    return ", ".join([_canonical_line(line) for line in lines])


def _field_value(component: ComponentId, view: _View, sf_types: Mapping[str, SfType]) -> str:
    name = component.name
    flags = component._flags
    if not flags:
        return _plain_value(component, view.lines(name, False))
    trailer = "tr" in flags
    lines = view.lines(name, trailer)
    if not lines:
        where = "trailer" if trailer else "header"
        raise _fail(f"covered {where} field {component.serialized} is not in the message")
    if "bs" in flags:
        # RFC 9421 §2.1.3: each line as a Byte Sequence, strictly serialised as a List.
        return ", ".join(
            f":{base64.b64encode(_bs_bytes(_canonical_line(line))).decode('ascii')}:"
            for line in lines
        )
    if len(lines) == 1:
        joined = _canonical_line(lines[0])
    else:
        joined = ", ".join([_canonical_line(line) for line in lines])
    if "key" in flags:
        # RFC 9421 §2.1.2: one Dictionary member, strictly re-serialised.
        if sf_types.get(name, "dictionary") != "dictionary":
            raise _fail(f"{component.serialized}: field {name!r} is not a Dictionary")
        try:
            member = sfv.parse_dictionary(joined).get(component._text or "")
            if member is None:
                raise _fail(f"{component.serialized}: no such member in the field")
            if isinstance(member, sfv.InnerList):
                return sfv.serialize_inner_list(member)
            return sfv.serialize_item(member)
        except StructuredFieldError as exc:
            raise _fail(f"{component.serialized}: field is not a valid Dictionary") from exc
    if "sf" in flags:
        # RFC 9421 §2.1.1: strict re-serialisation as the field's known type.
        sf_type = sf_types.get(name)
        try:
            if sf_type == "dictionary":
                return sfv.serialize_dictionary(sfv.parse_dictionary(joined))
            if sf_type == "list":
                return sfv.serialize_list(sfv.parse_list(joined))
            if sf_type == "item":
                return sfv.serialize_item(sfv.parse_item(joined))
        except StructuredFieldError as exc:
            raise _fail(f"{component.serialized}: field is not a valid {sf_type}") from exc
        raise _fail(f"{component.serialized}: the structured type of {name!r} is not known")
    return joined


def _value(
    component: ComponentId,
    view: _View,
    related: _View | None,
    sf_types: Mapping[str, SfType],
) -> str:
    if component._req:
        # RFC 9421 §2.4: req takes the value from the request that triggered a response.
        if view.is_request:
            raise _fail(f"{component.serialized}: 'req' cannot be used on a request")
        if related is None:
            raise _fail(f"{component.serialized}: no related request is available")
        view = related
    if component._derived:
        return _derived_value(component, view)
    return _checked(component, _field_value(component, view, sf_types))


# Values that passed the check below. A Signature-Key value (the agent's token) recurs on
# every request from the same agent, and checking 500+ characters one by one costs more than
# hashing them; methods and the like recur too. A pure function of the string, so a stale
# entry cannot exist; bounded in number and in the length of what is kept.
_CLEAN_VALUES: dict[str, bool] = {}
_CLEAN_MEMO_MAX: Final = 4096


def _checked(component: ComponentId, value: str) -> str:
    """``value`` if it is VCHAR / SP / HTAB only (RFC 9421 §2.5 step 4 and §2: ASCII, no
    newline), else ``invalid_signature``."""
    if value in _CLEAN_VALUES:
        return value
    if not (value.isascii() and value.isprintable()) and _BAD_VALUE_RE.search(value):
        raise _fail(f"{component.serialized}: value has non-ASCII or control characters")
    if len(value) <= _CLEAN_MEMO_MAX:
        remember(_CLEAN_VALUES, value, True)
    return value


def _check_messages(message: Message, related_request: HttpRequest | None) -> None:
    if not isinstance(message, (HttpRequest, HttpResponse)):
        raise LocalError("message must be an HttpRequest or HttpResponse")
    if related_request is not None and not isinstance(related_request, HttpRequest):
        raise LocalError("related_request must be an HttpRequest")


def _views(
    message: Message,
    related_request: HttpRequest | None,
    trailers: Trailers | None,
    related_trailers: Trailers | None,
    request_target: str | None,
) -> tuple[_View, _View | None]:
    _check_messages(message, related_request)
    view = _View(message, trailers, request_target)
    related = None if related_request is None else _View(related_request, related_trailers, None)
    return view, related


def component_value(
    message: Message,
    component: ComponentId | str,
    *,
    related_request: HttpRequest | None = None,
    trailers: Trailers | None = None,
    related_trailers: Trailers | None = None,
    request_target: str | None = None,
    sf_types: Mapping[str, SfType] = KNOWN_SF_FIELDS,
) -> str:
    """The canonical value of one component of ``message`` (RFC 9421 §2.1, §2.2, §2.4).

    ``component`` is a :class:`ComponentId` or a string accepted by :meth:`ComponentId.parse`.
    ``trailers`` / ``related_trailers`` are the trailer fields (for ``;tr``) of the message and
    of the related request; ``request_target`` overrides the derived ``@request-target``.

    :raises SignatureError: ``invalid_signature`` if the value cannot be derived.
    """
    if not isinstance(component, ComponentId):
        component = ComponentId.parse(component)
    view, related = _views(message, related_request, trailers, related_trailers, request_target)
    return _value(component, view, related, sf_types)


def build_signature_base(
    message: Message,
    components: Sequence[ComponentId],
    signature_params: str,
    *,
    related_request: HttpRequest | None = None,
    trailers: Trailers | None = None,
    related_trailers: Trailers | None = None,
    request_target: str | None = None,
    sf_types: Mapping[str, SfType] = KNOWN_SF_FIELDS,
) -> bytes:
    """The signature base (RFC 9421 §2.5) for already-validated ``components``.

    ``signature_params`` is the serialised ``@signature-params`` value (the ``Signature-Input``
    member value, without the label). Lower level than :func:`signature_base`.

    :raises SignatureError: ``invalid_signature`` if a component cannot be resolved, appears
        twice, or the base would not be ASCII.
    """
    _check_messages(message, related_request)
    check_unique(components)
    return _base(
        message,
        components,
        signature_params,
        related_request,
        trailers,
        related_trailers,
        request_target,
        sf_types,
    )


def _base(  # noqa: PLR0917 - internal
    message: Message,
    components: Sequence[ComponentId],
    signature_params: str,
    related_request: HttpRequest | None,
    trailers: Trailers | None,
    related_trailers: Trailers | None,
    request_target: str | None,
    sf_types: Mapping[str, SfType],
    extra: Headers = (),
) -> bytes:
    """The signature base of ``message`` with the header lines ``extra`` appended."""
    if related_request is None and type(message) is HttpRequest:
        plan = _plan(components)
        if plan is not None:
            return _planned_base(message, message._index_with(extra), plan, signature_params)
    if extra:
        message = message._appended(extra)
    view, related = _views(message, related_request, trailers, related_trailers, request_target)
    return _assemble(
        [f"{c.serialized}: {_value(c, view, related, sf_types)}" for c in components],
        signature_params,
    )


def _assemble(lines: list[str], signature_params: str) -> bytes:
    """RFC 9421 §2.5 steps 2-4: the component lines and the ``@signature-params`` line."""
    lines.append(f'"@signature-params": {signature_params}')
    if not (signature_params.isascii() and signature_params.isprintable()):
        raise _fail("@signature-params has non-ASCII or control characters")
    return "\n".join(lines).encode("ascii")


# A plan: for a request, components that need no view (no parameters; a field, @method,
# @authority or @path) are resolved straight from the message, its header index and the
# memoised URL, with the same helpers as `_value`. Plans are memoised per components tuple
# (the cached tuples of `aauth.httpsig`), pinned so that the id stays theirs.
_FIELD: Final = 0
_METHOD: Final = 1
_AUTHORITY: Final = 2
_PATH: Final = 3
_PLANNED_DERIVED: Final[Mapping[str, int]] = MappingProxyType(
    {"@method": _METHOD, "@authority": _AUTHORITY, "@path": _PATH}
)
_Plan: TypeAlias = tuple[tuple[int, ComponentId], ...]
_PLANS: dict[int, tuple[tuple[ComponentId, ...], _Plan | None]] = {}


def _plan(components: Sequence[ComponentId]) -> _Plan | None:
    if type(components) is not tuple:
        return None  # a list could change after it was planned
    entry = _PLANS.get(id(components))
    if entry is not None and entry[0] is components:
        return entry[1]
    steps: list[tuple[int, ComponentId]] = []
    for component in components:
        kind = _PLANNED_DERIVED.get(component.name) if component._derived else _FIELD
        if kind is None or component.params:
            break
        steps.append((kind, component))
    plan = tuple(steps) if len(steps) == len(components) else None
    remember(_PLANS, id(components), (components, plan))
    return plan


def _planned_base(
    message: HttpRequest, index: Mapping[str, tuple[str, ...]], plan: _Plan, signature_params: str
) -> bytes:
    """:func:`_base` for a planned request whose header index is ``index``: the same
    values, in the same order, with the same errors (RFC 9421 §2.1, §2.2.1, §2.2.3, §2.2.6)."""
    url: _Url | None = None
    lines: list[str] = []
    for kind, component in plan:
        if kind == _FIELD:
            value = _plain_value(component, index.get(component.name, ()))
            if value not in _CLEAN_VALUES:
                _checked(component, value)
        elif kind == _METHOD:
            value = message.method
            if value not in _CLEAN_VALUES:
                _checked(component, value)
        else:
            if url is None:
                url = _url_of(message.url)
            value = url.authority if kind == _AUTHORITY else url.path
        lines.append(f"{component.serialized}: {value}")
    return _assemble(lines, signature_params)


def base_of_unique_components(
    message: Message,
    components: Sequence[ComponentId],
    signature_params: str,
    *,
    related_request: HttpRequest | None,
    trailers: Trailers | None,
    request_target: str | None,
    sf_types: Mapping[str, SfType],
    extra: Headers = (),
) -> bytes:
    """:func:`build_signature_base` for components the caller already checked for repeats
    (internal to :mod:`aauth.httpsig`, whose parsed and built lists are checked once when
    they are first seen), of ``message`` with the header lines ``extra`` appended."""
    return _base(
        message,
        components,
        signature_params,
        related_request,
        trailers,
        None,
        request_target,
        sf_types,
        extra,
    )


def _inner_list_for(signature_input: str, label: str) -> sfv.InnerList:
    try:
        members = sfv.parse_dictionary(signature_input, allow_duplicate_keys=False)
    except StructuredFieldError:
        members = None
    if members is not None and label in members:
        member = members[label]
        if not isinstance(member, sfv.InnerList):
            raise _fail(f"Signature-Input member {label!r} is not an inner list")
        return member
    try:
        parsed = sfv.parse_list(signature_input)
    except StructuredFieldError as exc:
        if members is not None:
            raise _fail(f"Signature-Input has no member {label!r}") from exc
        raise _fail("signature input is neither a Signature-Input field nor a member") from exc
    if len(parsed) != 1 or not isinstance(parsed[0], sfv.InnerList):
        raise _fail("signature input is not a single inner list with parameters")
    return parsed[0]


def signature_base(
    message: Message,
    signature_input: str,
    label: str = "sig",
    *,
    related_request: HttpRequest | None = None,
    trailers: Trailers | None = None,
    related_trailers: Trailers | None = None,
    request_target: str | None = None,
    sf_types: Mapping[str, SfType] = KNOWN_SF_FIELDS,
) -> bytes:
    """The RFC 9421 §2.5 signature base of ``message`` for one signature.

    ``signature_input`` is either a ``Signature-Input`` member value
    (``("@method" "@path");created=1618884473``) or a whole ``Signature-Input`` field value,
    from which the member named ``label`` is taken. The ``@signature-params`` line is the
    strict re-serialisation of that member (RFC 9421 §3.2 step 7).

    For a response, ``related_request`` supplies components marked ``;req``. ``trailers``
    supplies ``;tr`` fields. ``request_target`` overrides ``@request-target`` (default: the
    origin form of the URL).

    :raises SignatureError: ``invalid_signature`` if the input is malformed or a covered
        component cannot be resolved.
    """
    if not isinstance(signature_input, str) or not isinstance(label, str):
        raise LocalError("signature_input and label must be str")
    inner = _inner_list_for(signature_input, label)
    components = components_from_inner_list(inner)
    try:
        params_text = sfv.serialize_inner_list(inner)
    except StructuredFieldError as exc:  # pragma: no cover - parsed values re-serialise
        raise _fail("signature parameters cannot be serialised") from exc
    return build_signature_base(
        message,
        components,
        params_text,
        related_request=related_request,
        trailers=trailers,
        related_trailers=related_trailers,
        request_target=request_target,
        sf_types=sf_types,
    )
