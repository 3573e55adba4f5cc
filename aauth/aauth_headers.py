"""The AAuth header fields (AAuth -11 §"Requirement Responses", §"AAuth-Access Response
Header", §"AAuth-Capabilities Request Header"; digest §5).

* ``AAuth-Requirement`` (response): an RFC 9651 Dictionary whose ``requirement`` member is a
  Token; requirement data are *parameters on that member*. Parsed into one frozen dataclass
  per requirement value (a closed union, :data:`Requirement`, for ``match``). Unknown
  parameters and unknown dictionary members are ignored; an unknown requirement value is an
  error (:class:`RequirementError`, code ``unsupported_requirement``).
* ``AAuth-Access`` (response) and ``Authorization: AAuth <token>`` (request): an opaque
  session token whose grammar is ``token68`` (RFC 9110 §11.2).
* ``AAuth-Capabilities`` (request): an RFC 9651 List of Tokens; unknown values and parameters
  are ignored (kept, but never acted on), and non-Token members are skipped.

Structured fields go through :mod:`aauth.sfv` only. Every parser raises a
:class:`~aauth.headers_http.HeaderError` (a :class:`~aauth.errors.RemoteError`) for bad peer
input and nothing else; every builder raises :class:`~aauth.errors.LocalError` for values we
must not emit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, TypeAlias

from . import sfv
from .errors import LocalError, StructuredFieldError
from .headers_http import MAX_HEADER_LENGTH, HeaderError
from .http import HttpRequest, HttpResponse
from .identifiers import InvalidIdentifierError, validate_endpoint_url
from .interaction import (
    MAX_CODE_SYMBOLS,
    MIN_CODE_SYMBOLS,
    InteractionCodeError,
    normalize_interaction_code,
)

__all__ = [
    "AUTHORIZATION_SCHEME",
    "CAPABILITIES",
    "MAX_RECEIVED_CODE_LENGTH",
    "REQUIREMENT_SENDERS",
    "REQUIREMENT_STATUSES",
    "REQUIREMENT_TYPES",
    "AgentTokenRequired",
    "ApprovalPending",
    "AuthTokenRequired",
    "Capabilities",
    "ClaimsRequired",
    "ClarificationRequired",
    "InteractionRequired",
    "PersonTokenRequired",
    "Requirement",
    "RequirementError",
    "build_aauth_access",
    "build_aauth_capabilities",
    "build_aauth_requirement",
    "build_authorization",
    "parse_aauth_access",
    "parse_aauth_capabilities",
    "parse_aauth_requirement",
    "parse_authorization",
    "read_aauth_access",
    "read_aauth_capabilities",
    "read_aauth_requirement",
    "read_authorization",
    "validate_received_interaction_code",
    "validate_token68",
]

REQUIREMENT_HEADER: Final = "AAuth-Requirement"
ACCESS_HEADER: Final = "AAuth-Access"
CAPABILITIES_HEADER: Final = "AAuth-Capabilities"
#: The HTTP authentication scheme AAuth registers (AAuth -11 §"HTTP Authentication Scheme").
AUTHORIZATION_SCHEME: Final = "AAuth"

#: Capability values AAuth -11 §"AAuth-Capabilities Request Header" defines.
CAPABILITIES: Final = frozenset({"interaction", "clarification", "payment"})


class RequirementError(HeaderError):
    """An ``AAuth-Requirement`` header cannot be acted on.

    Codes: ``invalid_request`` (malformed: not a Dictionary, no Token ``requirement``, a
    required parameter missing or invalid, a status code the requirement is not sent with)
    and ``unsupported_requirement`` (well-formed, but a value AAuth -11 does not define; the
    agent MUST NOT treat it as satisfiable, and on a ``202`` MAY keep polling).
    ``requirement`` holds the received value when there was one.
    """

    def __init__(
        self, message: str, *, code: str | None = None, requirement: str | None = None
    ) -> None:
        super().__init__(message, header=REQUIREMENT_HEADER, code=code)
        self.requirement: str | None = requirement


# ---------------------------------------------------------------------------------------------
# AAuth-Requirement values (AAuth -11 §"Requirement Values")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentTokenRequired:
    """``requirement=agent-token`` (``401``): sign with the agent token. No parameters
    (AAuth -11 §"Agent Token Required")."""

    value: ClassVar[str] = "agent-token"


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonTokenRequired:
    """``requirement=person-token`` (``401``): obtain a person token from the PS and retry.
    No parameters (AAuth -11 §"Person Token Required")."""

    value: ClassVar[str] = "person-token"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthTokenRequired:
    """``requirement=auth-token`` (``401``, ``202`` deferred, or ``402``) with the REQUIRED
    ``resource-token`` String (AAuth -11 §"Auth Token Required").

    ``resource_token`` is the compact JWT as received; verifying it is the token layer's job.
    """

    value: ClassVar[str] = "auth-token"
    resource_token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionRequired:
    """``requirement=interaction`` (``202``) with the REQUIRED ``url`` and ``code`` Strings
    (AAuth -11 §"Interaction Required").

    ``url`` is https with no query and no fragment. ``code`` is kept exactly as sent (case
    and display hyphens included). Received, it is any 1 to :data:`MAX_RECEIVED_CODE_LENGTH`
    RFC 3986 unreserved characters (deployed servers send codes outside Crockford base32);
    built by us, it must be Crockford base32 with at least 8 symbols.
    """

    value: ClassVar[str] = "interaction"
    url: str
    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalPending:
    """``requirement=approval`` (``202``): approval is being obtained out of band; poll.
    (AAuth -11 §"Approval Pending")."""

    value: ClassVar[str] = "approval"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClarificationRequired:
    """``requirement=clarification`` (``202``); the question is in the body
    (AAuth -11 §"Clarification Required")."""

    value: ClassVar[str] = "clarification"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimsRequired:
    """``requirement=claims`` (``202``, AS to PS); ``required_claims`` is in the body
    (AAuth -11 §"Claims Required")."""

    value: ClassVar[str] = "claims"


Requirement: TypeAlias = (
    AgentTokenRequired
    | PersonTokenRequired
    | AuthTokenRequired
    | InteractionRequired
    | ApprovalPending
    | ClarificationRequired
    | ClaimsRequired
)

#: Each requirement value AAuth -11 defines, and its model.
REQUIREMENT_TYPES: Final[Mapping[str, type[Requirement]]] = {
    t.value: t
    for t in (
        AgentTokenRequired,
        PersonTokenRequired,
        AuthTokenRequired,
        InteractionRequired,
        ApprovalPending,
        ClarificationRequired,
        ClaimsRequired,
    )
}

_AUTHORIZATION_STATUSES: Final = frozenset({401, 402})
_PENDING_STATUSES: Final = frozenset({202})
#: The status codes each requirement is sent with (AAuth -11 §"Requirement Values" table;
#: §"Requirement Responses": ``402`` may carry an authorization requirement; §"Deferred
#: Delivery": ``auth-token`` also on ``202``).
REQUIREMENT_STATUSES: Final[Mapping[str, frozenset[int]]] = {
    "agent-token": _AUTHORIZATION_STATUSES,
    "person-token": _AUTHORIZATION_STATUSES,
    "auth-token": _AUTHORIZATION_STATUSES | _PENDING_STATUSES,
    "interaction": _PENDING_STATUSES,
    "approval": _PENDING_STATUSES,
    "clarification": _PENDING_STATUSES,
    "claims": _PENDING_STATUSES,
}
_ANY_SERVER: Final = frozenset({"resource", "ps", "as"})
#: Which role may send each requirement (AAuth -11 §"Requirement Values" table).
REQUIREMENT_SENDERS: Final[Mapping[str, frozenset[str]]] = {
    "agent-token": frozenset({"resource"}),
    "person-token": frozenset({"resource"}),
    "auth-token": frozenset({"resource"}),
    "interaction": _ANY_SERVER,
    "approval": _ANY_SERVER,
    "clarification": _ANY_SERVER,
    "claims": frozenset({"as"}),
}

# parameter name -> attribute, per requirement with parameters
_PARAMS: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "auth-token": (("resource-token", "resource_token"),),
    "interaction": (("url", "url"), ("code", "code")),
}


_PARAMETERLESS: Final[Mapping[str, Requirement]] = {
    t.value: t()
    for t in (
        AgentTokenRequired,
        PersonTokenRequired,
        ApprovalPending,
        ClarificationRequired,
        ClaimsRequired,
    )
}


def _string_param(params: sfv.Params, name: str, requirement: str) -> str:
    value = params.get(name)
    if value is None:
        raise RequirementError(
            f"requirement={requirement} needs the {name!r} parameter", requirement=requirement
        )
    # AAuth -11: url, code and resource-token are Strings (RFC 9651 §3.3.3), not Tokens
    if not isinstance(value, str) or isinstance(value, (sfv.Token, sfv.DisplayString)):
        raise RequirementError(f"the {name!r} parameter must be a String", requirement=requirement)
    if not value:
        raise RequirementError(f"the {name!r} parameter is empty", requirement=requirement)
    return value


#: Longest interaction ``code`` accepted on input, in characters as received: twice
#: :data:`~aauth.interaction.MAX_CODE_SYMBOLS`, the raw length the Crockford reader accepts
#: (so every code we can build also parses back).
MAX_RECEIVED_CODE_LENGTH: Final = 2 * MAX_CODE_SYMBOLS
# RFC 3986 §2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" (no escaping needed in a
# query, nothing that can end the code= value or add a parameter)
_RECEIVED_CODE_RE: Final = re.compile(rf"[A-Za-z0-9._~-]{{1,{MAX_RECEIVED_CODE_LENGTH}}}")


def validate_received_interaction_code(code: str) -> str:
    """Return an interaction ``code`` received from a server, unchanged, if an agent can pass
    it through verbatim into ``{url}?code={code}``; else raise.

    Tolerant on input (reading of AAuth -11 §"Interaction Code Format", see
    ``docs/vocabulary.md``): 1 to :data:`MAX_RECEIVED_CODE_LENGTH` RFC 3986 unreserved
    characters (``A-Z a-z 0-9 - . _ ~``). The Crockford base32 alphabet and the 8-symbol
    minimum are the issuing server's MUST: the code only correlates a browser session with a
    pending request at the server that minted it, which compares it (deployed servers, e.g.
    @hellocoop/mockin 2.0.0, issue 8 random ``[A-Za-z0-9]``). Codes we issue are still
    checked strictly (:func:`build_aauth_requirement`, :mod:`aauth.interaction`).

    :raises RequirementError: code ``invalid_request``.
    """
    if not isinstance(code, str):
        raise LocalError("interaction code must be a str")
    if _RECEIVED_CODE_RE.fullmatch(code) is None:
        if not code:
            problem = "is empty"
        elif len(code) > MAX_RECEIVED_CODE_LENGTH:
            problem = f"is longer than {MAX_RECEIVED_CODE_LENGTH} characters"
        else:
            problem = "contains characters outside RFC 3986 unreserved (A-Z a-z 0-9 - . _ ~)"
        raise RequirementError(f"interaction code {problem}", requirement="interaction")
    return code


def _interaction_code_problem(code: str) -> str | None:
    """Why ``code`` is not an interaction code we may issue, or ``None``."""
    try:
        symbols = normalize_interaction_code(code)
    except InteractionCodeError as exc:
        return exc.message
    if len(symbols) < MIN_CODE_SYMBOLS:
        # AAuth -11 §"Interaction Code Format": at least 40 bits = 8 symbols
        return f"interaction code has fewer than {MIN_CODE_SYMBOLS} symbols"
    return None


def parse_aauth_requirement(
    text: str,
    *,
    status: int | None = None,
    allow_insecure_loopback_for_development: bool = False,
    max_length: int = MAX_HEADER_LENGTH,
) -> Requirement:
    """Parse an ``AAuth-Requirement`` field value received from a server.

    AAuth -11 §"AAuth-Requirement Header Structure": a Dictionary (RFC 9651 §3.2) with a
    ``requirement`` member whose value is a Token; its parameters carry the data. Unknown
    parameters and other members are ignored. SP after ``;`` is accepted (RFC 9651 allows
    it and the spec's examples use it).

    Readings (see ``docs/vocabulary.md``): a repeated dictionary key or a repeated parameter
    is refused (it can only come from two field lines joined together, and would make the
    challenge ambiguous); a required parameter sent as a separate dictionary member instead of
    a parameter is refused; the interaction ``code`` is kept verbatim and must be 1 to
    :data:`MAX_RECEIVED_CODE_LENGTH` RFC 3986 unreserved characters (it goes into a URL the
    agent builds; Crockford base32 is not required on input, see
    :func:`validate_received_interaction_code`).

    :param status: the response status, if the caller wants the pairing checked against
        :data:`REQUIREMENT_STATUSES` (for example ``interaction`` on a ``401`` is refused).
    :param allow_insecure_loopback_for_development: admit an ``http`` loopback interaction
        ``url`` (see :func:`aauth.identifiers.validate_endpoint_url`).
    :raises RequirementError: ``invalid_request`` when malformed, ``unsupported_requirement``
        for a value AAuth -11 does not define.
    """
    if not isinstance(text, str):
        raise LocalError("AAuth-Requirement field value must be a str")
    try:
        members = sfv.parse_dictionary(
            text,
            allow_duplicate_keys=False,
            allow_duplicate_params=False,
            max_length=max_length,
        )
    except StructuredFieldError as exc:
        raise RequirementError(f"not an RFC 9651 Dictionary: {exc.message}") from None
    member = members.get("requirement")
    if member is None:
        raise RequirementError("the 'requirement' member is missing")
    if not isinstance(member, sfv.Item) or not isinstance(member.value, sfv.Token):
        # AAuth -11: "requirement: A Token"
        raise RequirementError("the 'requirement' member must be a Token")
    value = str(member.value)
    model = REQUIREMENT_TYPES.get(value)
    if model is None:
        raise RequirementError(
            f"requirement {value!r} is not defined by AAuth -11",
            code="unsupported_requirement",
            requirement=value,
        )
    if status is not None and status not in REQUIREMENT_STATUSES[value]:
        raise RequirementError(
            f"requirement={value} is not sent with status {status}", requirement=value
        )
    params = member.params
    for name, _ in _PARAMS.get(value, ()):
        if name not in params and name in members:
            raise RequirementError(
                f"{name!r} must be a parameter of the requirement member (';'), "
                "not a separate dictionary member (',')",
                requirement=value,
            )
    if model is AuthTokenRequired:
        return AuthTokenRequired(resource_token=_string_param(params, "resource-token", value))
    if model is InteractionRequired:
        url = _string_param(params, "url", value)
        code = _string_param(params, "code", value)
        try:
            # AAuth -11 §"Interaction Required": https, no query, no fragment
            validate_endpoint_url(
                url, allow_insecure_loopback_for_development=allow_insecure_loopback_for_development
            )
        except InvalidIdentifierError as exc:
            raise RequirementError(f"interaction {exc.message}", requirement=value) from None
        # tolerant on input: the code is passed through verbatim, never compared here
        validate_received_interaction_code(code)
        return InteractionRequired(url=url, code=code)
    # no parameters defined for this value: any present are unknown and ignored
    return _PARAMETERLESS[value]


def build_aauth_requirement(
    requirement: Requirement, *, allow_insecure_loopback_for_development: bool = False
) -> str:
    """The ``AAuth-Requirement`` field value for ``requirement``, without optional spaces
    (``requirement=auth-token;resource-token="…"``).

    :raises LocalError: not a requirement model, or a parameter we must not send (an empty
        or non-ASCII resource token, an interaction ``url`` that is not an endpoint URL, a
        ``code`` that is not Crockford base32 of at least 8 symbols).
    """
    if not isinstance(requirement, tuple(REQUIREMENT_TYPES.values())):
        raise LocalError("build_aauth_requirement expects one of the requirement models")
    value = requirement.value
    params: sfv.Params = {}
    for name, attr in _PARAMS.get(value, ()):
        param = getattr(requirement, attr)
        if not isinstance(param, str) or not param:
            raise LocalError(f"requirement={value}: {attr} must be a non-empty str")
        params[name] = param
    if isinstance(requirement, InteractionRequired):
        try:
            validate_endpoint_url(
                requirement.url,
                allow_insecure_loopback_for_development=allow_insecure_loopback_for_development,
            )
        except InvalidIdentifierError as exc:
            raise LocalError(f"interaction url: {exc.message}") from None
        problem = _interaction_code_problem(requirement.code)
        if problem is not None:
            raise LocalError(problem)
    try:
        return sfv.serialize_dictionary({"requirement": sfv.Item(sfv.Token(value), params)})
    except StructuredFieldError as exc:
        raise LocalError(f"cannot serialise AAuth-Requirement: {exc.message}") from None


# ---------------------------------------------------------------------------------------------
# token68: AAuth-Access and Authorization: AAuth (AAuth -11 §"AAuth-Access Response Header")

# RFC 9110 §11.2: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_TOKEN68_RE: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 9110 §11.1 auth-scheme = token (RFC 9110 §5.6.2)
_SCHEME_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _token68_problem(value: str) -> str:
    """Why ``value`` failed the token68 grammar (slow path, errors only)."""
    if not value:
        return "is empty"
    if "," in value:
        return "carries more than one credential"
    if any(c in value for c in " \t"):
        return "contains embedded whitespace"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "contains control characters"
    if "=" in value.rstrip("="):
        return "has '=' before the end (token68 allows it only as trailing padding)"
    return "contains characters outside the token68 alphabet (RFC 9110 §11.2)"


def validate_token68(value: str, *, header: str = ACCESS_HEADER) -> str:
    """Return ``value`` if it matches ``token68`` (RFC 9110 §11.2), else raise.

    AAuth -11 §"AAuth-Access Response Header": recipients MUST reject empty values, embedded
    whitespace or control characters, and more than one credential.

    :raises HeaderError: code ``invalid_request``.
    """
    if not isinstance(value, str):
        raise LocalError(f"{header} value must be a str")
    if _TOKEN68_RE.fullmatch(value) is None:
        raise HeaderError(f"session token {_token68_problem(value)}", header=header)
    return value


def parse_aauth_access(text: str, *, max_length: int = MAX_HEADER_LENGTH) -> str:
    """The session token of an ``AAuth-Access`` field value (surrounding OWS removed).

    Two field lines joined with ``,`` are refused as "more than one credential".

    :raises HeaderError: not a single ``token68``.
    """
    if not isinstance(text, str):
        raise LocalError("AAuth-Access field value must be a str")
    if len(text) > max_length:
        raise HeaderError(f"longer than {max_length} characters", header=ACCESS_HEADER)
    return validate_token68(text.strip(" \t"), header=ACCESS_HEADER)


def build_aauth_access(token: str) -> str:
    """The ``AAuth-Access`` field value for session ``token`` (checked to be ``token68``)."""
    try:
        return validate_token68(token, header=ACCESS_HEADER)
    except HeaderError as exc:
        raise LocalError(exc.message) from None


def parse_authorization(text: str, *, max_length: int = MAX_HEADER_LENGTH) -> str | None:
    """The session token of an ``Authorization: AAuth <token68>`` value, or ``None`` when the
    credentials use another scheme (``Bearer``, ``Basic`` …), which is not ours to judge.

    RFC 9110 §11.1: the scheme is case-insensitive; §11.6.2: ``credentials = auth-scheme
    [ 1*SP token68 ]``. For the ``AAuth`` scheme a missing, malformed or repeated credential is
    refused (AAuth -11 §"AAuth-Access Response Header").

    :raises HeaderError: code ``invalid_request``.
    """
    if not isinstance(text, str):
        raise LocalError("Authorization field value must be a str")
    if len(text) > max_length:
        raise HeaderError(f"longer than {max_length} characters", header="Authorization")
    value = text.strip(" \t")
    m = _SCHEME_RE.match(value)
    if m is None or m.group(0).lower() != "aauth":
        return None
    rest = value[m.end() :]
    if not rest:
        raise HeaderError("the AAuth scheme carries no session token", header="Authorization")
    credential = rest.lstrip(" ")
    if len(credential) == len(rest):
        # RFC 9110 §11.6.2: the scheme and the token68 are separated by 1*SP
        raise HeaderError("the AAuth scheme must be followed by a space", header="Authorization")
    return validate_token68(credential, header="Authorization")


def build_authorization(token: str) -> str:
    """``AAuth <token>`` for the ``Authorization`` field; the signature MUST then cover
    ``authorization`` (AAuth -11 §"AAuth-Access Response Header")."""
    try:
        return f"{AUTHORIZATION_SCHEME} {validate_token68(token, header='Authorization')}"
    except HeaderError as exc:
        raise LocalError(exc.message) from None


# ---------------------------------------------------------------------------------------------
# AAuth-Capabilities (AAuth -11 §"AAuth-Capabilities Request Header")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an agent declared in ``AAuth-Capabilities``.

    ``values`` holds every Token received, known or not, in order and without repeats.
    Unknown values are kept only so a caller that knows an extension can see them; the
    properties below and ``in`` only ever report what was declared (an absent header gives
    an empty set: recipients MUST NOT assume any capability).
    """

    values: tuple[str, ...] = ()

    @property
    def known(self) -> frozenset[str]:
        """The declared values AAuth -11 defines (:data:`CAPABILITIES`)."""
        return frozenset(self.values) & CAPABILITIES

    @property
    def interaction(self) -> bool:
        """The agent can get a user to a URL."""
        return "interaction" in self.values

    @property
    def clarification(self) -> bool:
        """The agent can take part in clarification chat."""
        return "clarification" in self.values

    @property
    def payment(self) -> bool:
        """The agent can handle ``402`` payment flows."""
        return "payment" in self.values

    def __contains__(self, value: object) -> bool:
        return value in self.values


_NO_CAPABILITIES: Final = Capabilities()


def parse_aauth_capabilities(
    text: str | None, *, max_length: int = MAX_HEADER_LENGTH
) -> Capabilities:
    """Parse an ``AAuth-Capabilities`` value (``None`` for an absent header).

    An RFC 9651 List of Tokens. Unknown values and all parameters are ignored (AAuth -11:
    recipients MUST ignore unrecognised values and parameters); members that are not Tokens
    (Strings, Inner Lists …) are skipped the same way rather than failing the request.

    :raises HeaderError: the value is not an RFC 9651 List at all.
    """
    if text is None:
        return _NO_CAPABILITIES
    if not isinstance(text, str):
        raise LocalError("AAuth-Capabilities field value must be a str or None")
    try:
        members = sfv.parse_list(text, max_length=max_length)
    except StructuredFieldError as exc:
        raise HeaderError(
            f"not an RFC 9651 List: {exc.message}", header=CAPABILITIES_HEADER
        ) from None
    seen: dict[str, None] = {}
    for member in members:
        if isinstance(member, sfv.Item) and isinstance(member.value, sfv.Token):
            seen[str(member.value)] = None
    return Capabilities(tuple(seen))


def build_aauth_capabilities(values: Iterable[str]) -> str:
    """The ``AAuth-Capabilities`` value for ``values`` (order kept, repeats dropped).

    Pass the union of the agent's own capabilities and those its PS provided at mission
    approval (AAuth -11). An empty result is ``""``: omit the header.

    :raises LocalError: a value is not an RFC 9651 Token.
    """
    if isinstance(values, str):
        raise LocalError("build_aauth_capabilities expects an iterable of values, not a str")
    unique = list(dict.fromkeys(values))
    if not all(isinstance(v, str) for v in unique):
        raise LocalError("capability values must be str")
    try:
        return sfv.serialize_list([sfv.Item(sfv.Token(v)) for v in unique])
    except StructuredFieldError as exc:
        raise LocalError(f"capability values must be Tokens: {exc.message}") from None


# ---------------------------------------------------------------------------------------------
# Reading the fields from neutral HTTP messages


def read_aauth_requirement(
    response: HttpResponse,
    *,
    check_status: bool = True,
    allow_insecure_loopback_for_development: bool = False,
) -> Requirement | None:
    """The ``AAuth-Requirement`` of ``response``, or ``None`` if it has none.

    Several field lines are combined (RFC 9110 §5.3) before parsing, so two challenges in one
    response are refused as a repeated ``requirement`` key. With ``check_status`` the pairing
    with ``response.status`` is checked (:data:`REQUIREMENT_STATUSES`).

    :raises RequirementError: as :func:`parse_aauth_requirement`.
    """
    text = response.header(REQUIREMENT_HEADER)
    if text is None:
        return None
    return parse_aauth_requirement(
        text,
        status=response.status if check_status else None,
        allow_insecure_loopback_for_development=allow_insecure_loopback_for_development,
    )


def read_aauth_access(response: HttpResponse) -> str | None:
    """The session token in ``response``'s ``AAuth-Access``, or ``None`` if absent.

    More than one field line is "more than one credential" and refused (AAuth -11).

    :raises HeaderError: code ``invalid_request``.
    """
    values = response.header_values(ACCESS_HEADER)
    if not values:
        return None
    if len(values) > 1:
        raise HeaderError("session token carries more than one credential", header=ACCESS_HEADER)
    return parse_aauth_access(values[0])


def read_authorization(request: HttpRequest) -> str | None:
    """The session token of ``request``'s ``Authorization: AAuth …``, or ``None`` when there
    is no ``Authorization`` field or it uses another scheme.

    Several ``Authorization`` field lines of which one is ``AAuth`` are refused (more than
    one credential, AAuth -11); several lines of other schemes are not ours to judge.

    :raises HeaderError: code ``invalid_request``.
    """
    values = request.header_values("Authorization")
    tokens = [token for token in (parse_authorization(v) for v in values) if token is not None]
    if tokens and len(values) > 1:
        raise HeaderError("more than one credential", header="Authorization")
    return tokens[0] if tokens else None


def read_aauth_capabilities(request: HttpRequest) -> Capabilities:
    """The capabilities ``request`` declares; none at all when the header is absent.

    :raises HeaderError: the combined field value is not an RFC 9651 List.
    """
    return parse_aauth_capabilities(request.header(CAPABILITIES_HEADER))
