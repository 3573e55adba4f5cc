"""AAuth identifiers and URLs (AAuth -11 §"Identifiers", §"Agent Identifiers"; digest §1.2).

Four kinds of value are checked here, each by one function:

* **Server identifiers** (:func:`validate_server_id`): ``issuer`` in metadata and the ``iss``,
  ``aud`` and ``ps`` claims. ``https://`` + a lowercase DNS host, nothing else.
* **Agent identifiers** (:func:`parse_agent_id`): ``aauth:local@domain``.
* **Endpoint URLs** (:func:`validate_endpoint_url`): ``auth_token_endpoint``,
  ``person_token_endpoint``, ``authorization_endpoint``, ``mission_endpoint``,
  ``callback_endpoint`` (and the interaction ``url``): https, no query, no fragment.
* **Other URLs** (:func:`validate_https_url`): ``jwks_uri``, ``tos_uri``, ``policy_uri``,
  ``logo_uri``, ``logo_dark_uri``, ``documentation_uri``: https.

Every value checked here normally arrives from a peer (a token claim, a metadata document, a
request body), so a bad value raises :class:`InvalidIdentifierError`, a
:class:`~aauth.errors.RemoteError` with code ``invalid_request``. Callers that map it to a
more specific code (``invalid_agent_token``, ``invalid_key`` ...) catch and re-raise.

Readings taken where the spec is silent (see ``docs/vocabulary.md``):

* IP literals are not server identifiers: the spec says *host* and, for agent identifiers,
  *domain name*; the rightmost label of a host may not be all digits (RFC 3696 §2), which
  rejects IPv4 literals, and brackets (IPv6) are not in the host alphabet.
* A-labels (``xn--``) must decode as Punycode to a printable, lowercase, NFC label and must
  re-encode to the same text. This is a structural check,
  not the full IDNA2008 code-point table (RFC 5892).
* A trailing root dot (``agent.example.``) is rejected; single-label hosts are accepted.
* A sub-agent ``local`` has exactly one ``+``: the discriminator may not itself contain
  ``+`` (depth is one level only, AAuth -11 §"Sub-Agents").
* The development switch ``allow_insecure_loopback_for_development`` (AAuth -11 has no such
  thing; digest §11 item 11) additionally admits ``http`` or ``https`` with host
  ``localhost``, ``127.0.0.1`` or ``[::1]`` and an optional port. It is keyword-only, off by
  default and never implied by any other option.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import msgspec

from .errors import RemoteError

__all__ = [
    "AgentId",
    "InvalidIdentifierError",
    "parse_agent_id",
    "validate_agent_id",
    "validate_endpoint_url",
    "validate_https_url",
    "validate_server_id",
]


class InvalidIdentifierError(RemoteError):
    """A server identifier, agent identifier or URL received from a peer is malformed."""

    default_code = "invalid_request"


_SHOW_MAX: Final = 80


def _show(value: str) -> str:
    """The offending value for a message, cut short so the reason always survives."""
    if len(value) <= _SHOW_MAX:
        return repr(value)
    return f"{value[:_SHOW_MAX]!r}...({len(value)} chars)"


# ---------------------------------------------------------------------------------------------
# Hosts

_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# RFC 1123 §2.1 LDH labels, lowercase only (AAuth -11 §"Server Identifiers": MUST be lowercase)
_HOST_RE: Final = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_LABEL_RE: Final = re.compile(_LABEL)
_LDH_ANY_CASE_RE: Final = re.compile(r"[A-Za-z0-9.-]*")
_MAX_HOST: Final = 253  # RFC 1035 §2.3.4 (255 octets on the wire = 253 characters of text)
_MAX_LABEL: Final = 63

# Memo of hosts that passed _host_problem: a pure function of the string, so caching is safe.
_VALID_HOSTS: Final[dict[str, None]] = {}
_VALID_HOSTS_MAX: Final = 1024
# digest §11 item 11: development-only loopback authority, optional port 1-65535
_LOOPBACK_AUTHORITY_RE: Final = re.compile(
    r"(?:localhost|127\.0\.0\.1|\[::1\])(?::(?P<port>[1-9][0-9]{0,4}))?"
)
_PORT_RE: Final = re.compile(r"[1-9][0-9]{0,4}")


def _is_loopback_authority(authority: str) -> bool:
    match = _LOOPBACK_AUTHORITY_RE.fullmatch(authority)
    if match is None:
        return False
    port = match.group("port")
    return port is None or int(port) <= 65535


def _a_label_problem(label: str) -> str | None:
    """Why ``label`` (which starts with ``xn--``) is not an A-label, or None (RFC 5890 §2.3.2.1)."""
    encoded = label[4:]
    try:
        decoded = encoded.encode("ascii").decode("punycode")
    except (UnicodeError, ValueError, IndexError, OverflowError):
        return f"label {label!r} is not valid Punycode"
    if decoded.encode("punycode").decode("ascii") != encoded:
        return f"label {label!r} is not the canonical Punycode of its U-label"
    # The label is LDH and does not end in '-', so the decoded text always has a non-ASCII
    # code point and its ASCII part is LDH (RFC 3492 §3.1 basic code points); what is left
    # to check is that the U-label is plausible under IDNA2008 without the RFC 5892 tables.
    if not decoded.isprintable() or decoded != decoded.lower():
        return f"label {label!r} decodes to a disallowed U-label"
    if not unicodedata.is_normalized("NFC", decoded):
        return f"label {label!r} decodes to a U-label that is not in NFC"
    return None


def _diagnose_host(host: str) -> str:
    """Explain why ``host`` failed the fast host regex (slow path, errors only)."""
    if not host:
        return "has an empty host"
    if not host.isascii():
        return "contains non-ASCII characters; internationalized names must use A-labels (xn--)"
    if "@" in host:
        return "contains userinfo ('@')"
    if host.startswith("["):
        return "is an IP literal, not a DNS name"
    if ":" in host:
        return "contains a port"
    if _LDH_ANY_CASE_RE.fullmatch(host) is None:
        return "host contains characters other than letters, digits, '-' and '.'"
    if host != host.lower():
        return "is not lowercase"
    for label in host.split("."):
        if not label:
            return "has an empty DNS label (leading, trailing or doubled '.')"
        if len(label) > _MAX_LABEL:
            return f"has a DNS label longer than {_MAX_LABEL} characters"
        if label.startswith("-") or label.endswith("-"):
            return f"DNS label {label!r} starts or ends with '-'"
    return "is not a valid host"  # pragma: no cover - every regex failure is named above


def _host_problem(host: str) -> str | None:
    """None when ``host`` is a lowercase LDH DNS name with valid A-labels, else the reason.

    AAuth -11 §"Server Identifiers" (lowercase, A-labels per RFC 5890, host only).
    """
    if host in _VALID_HOSTS:  # hot path: the same few issuers on every request
        return None
    if _HOST_RE.fullmatch(host) is None:
        return _diagnose_host(host)
    if len(host) > _MAX_HOST:
        return f"host is longer than {_MAX_HOST} characters"
    top = host.rpartition(".")[2]
    if top.isdigit():
        # RFC 3696 §2: a top-level label is never all-numeric; this is how IPv4 literals fail
        return "is an IP address literal or has an all-numeric top-level label"
    if "xn--" in host:
        for label in host.split("."):
            if label.startswith("xn--"):
                problem = _a_label_problem(label)
                if problem is not None:
                    return problem
    if len(_VALID_HOSTS) >= _VALID_HOSTS_MAX:
        _VALID_HOSTS.clear()  # bounded: peers choose what gets validated
    _VALID_HOSTS[host] = None
    return None


# ---------------------------------------------------------------------------------------------
# Server identifiers


def _server_id_problem(value: str) -> str:
    """Explain why ``value`` is not a server identifier (slow path, errors only)."""
    if not value:
        return "is empty"
    if not value.isascii():
        return "contains non-ASCII characters; internationalized names must use A-labels (xn--)"
    scheme, sep, rest = value.partition("://")
    if not sep:
        return "is not an absolute https URL"
    if scheme != "https":
        if scheme.lower() == "https":
            return "scheme must be lowercase 'https'"
        return "must use the https scheme"
    for char, what in (("#", "a fragment"), ("?", "a query")):
        if char in rest:
            return f"must not contain {what}"
    host, slash, path = rest.partition("/")
    if slash:
        return "must not have a trailing slash" if not path else "must not contain a path"
    return _host_problem(host) or "is not a valid server identifier"


def validate_server_id(value: str, *, allow_insecure_loopback_for_development: bool = False) -> str:
    """Return ``value`` if it is a valid server identifier, else raise.

    AAuth -11 §"Server Identifiers": ``https`` scheme; scheme and host only (no port, path,
    query, fragment, userinfo); no trailing slash; lowercase; IDNs as A-labels. Comparison is
    exact string equality, so the value is returned unchanged, never normalised.

    :param allow_insecure_loopback_for_development: also admit ``http://`` or ``https://``
        with host ``localhost``, ``127.0.0.1`` or ``[::1]`` and an optional port. Never
        enable this outside local development (digest §11 item 11).
    :raises InvalidIdentifierError: code ``invalid_request``.
    """
    if not isinstance(value, str):
        raise InvalidIdentifierError("server identifier must be a string")
    if value.startswith("https://") and _host_problem(value[8:]) is None:
        return value
    if allow_insecure_loopback_for_development:
        scheme, sep, authority = value.partition("://")
        if sep and scheme in ("http", "https") and _is_loopback_authority(authority):
            return value
    raise InvalidIdentifierError(f"server identifier {_server_id_problem(value)}: {_show(value)}")


# ---------------------------------------------------------------------------------------------
# Agent identifiers

_MAX_LOCAL: Final = 255
# AAuth -11 §"Agent Identifiers": local is [a-z0-9._+-], 1..255 characters
_AGENT_RE: Final = re.compile(r"aauth:([a-z0-9._+-]{1,255})@(.*)", re.DOTALL)
_LOCAL_CHARS_RE: Final = re.compile(r"[a-z0-9._+-]*")


class AgentId(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed agent identifier ``aauth:local@domain``.

    ``parent_local`` and :attr:`is_subagent` read the ``+`` naming convention. The spec says
    that naming is for readability only: protocol decisions use the token's ``parent_agent``
    claim, never these attributes (AAuth -11 §"Agent Identifiers").
    """

    value: str
    """The identifier exactly as received."""
    local: str
    domain: str
    parent_local: str | None = None
    """For a sub-agent (``parent+discriminator``) the parent's ``local``; else ``None``."""

    @property
    def is_subagent(self) -> bool:
        """Whether ``local`` has the sub-agent form ``<parent>+<discriminator>``."""
        return self.parent_local is not None

    @property
    def parent(self) -> str | None:
        """The parent's identifier ``aauth:<parent_local>@<domain>``, or ``None``."""
        if self.parent_local is None:
            return None
        return f"aauth:{self.parent_local}@{self.domain}"

    @property
    def discriminator(self) -> str | None:
        """The part after ``+`` for a sub-agent, else ``None``."""
        if self.parent_local is None:
            return None
        return self.local[len(self.parent_local) + 1 :]

    def issued_by(self, issuer: str) -> bool:
        """Whether ``domain`` is the host of server identifier ``issuer`` (digest §11 item 10).

        AAuth -11 says ``domain`` is the AP's domain; this compares it with an agent token's
        ``iss`` by exact string equality of ``https://`` + domain (or the ``http`` loopback
        form a development identifier may use).
        """
        if issuer == "https://" + self.domain:
            return True
        return issuer == "http://" + self.domain and _is_loopback_authority(self.domain)

    def __str__(self) -> str:
        return self.value


def _agent_id_problem(value: str) -> str:
    """Explain why ``value`` is not an agent identifier (slow path, errors only)."""
    if not value.startswith("aauth:"):
        return "must start with the 'aauth:' scheme"
    rest = value[6:]
    local, at, domain = rest.partition("@")
    if not at:
        return "has no '@domain' part"
    if not local:
        return "has an empty local part"
    if len(local) > _MAX_LOCAL:
        return f"local part is longer than {_MAX_LOCAL} characters"
    if _LOCAL_CHARS_RE.fullmatch(local) is None:
        if local != local.lower():
            return "local part contains uppercase letters"
        return "local part contains characters outside [a-z0-9._+-]"
    return f"domain {_host_problem(domain) or 'is invalid'}"  # pragma: no cover - regex parity


def parse_agent_id(value: str, *, allow_insecure_loopback_for_development: bool = False) -> AgentId:
    """Parse and validate an agent identifier ``aauth:local@domain``.

    AAuth -11 §"Agent Identifiers": ``local`` is 1-255 characters of ``[a-z0-9._+-]`` (no
    uppercase); ``+`` is reserved as the sub-agent delimiter, so ``local`` is either a
    top-level name without ``+`` or ``<parent>+<discriminator>`` with both parts non-empty
    and no second ``+``; ``domain`` follows the server-identifier host rules without scheme.

    :param allow_insecure_loopback_for_development: also admit a ``domain`` of
        ``localhost``, ``127.0.0.1`` or ``[::1]`` with an optional ``:port``.
    :raises InvalidIdentifierError: code ``invalid_request``.
    """
    if not isinstance(value, str):
        raise InvalidIdentifierError("agent identifier must be a string")
    match = _AGENT_RE.fullmatch(value)
    if match is None:
        raise InvalidIdentifierError(f"agent identifier {_agent_id_problem(value)}: {_show(value)}")
    local, domain = match.group(1), match.group(2)
    parent_local: str | None = None
    plus = local.find("+")
    if plus != -1:
        discriminator = local[plus + 1 :]
        if plus == 0:
            raise InvalidIdentifierError(
                f"agent identifier has an empty parent before '+': {_show(value)}"
            )
        if not discriminator:
            raise InvalidIdentifierError(
                f"agent identifier has an empty sub-agent discriminator: {_show(value)}"
            )
        if "+" in discriminator:
            # AAuth -11 §"Sub-Agents": one level only, so a discriminator cannot nest
            raise InvalidIdentifierError(
                f"agent identifier has more than one '+' (one sub-agent level): {_show(value)}"
            )
        parent_local = local[:plus]
    problem = _host_problem(domain)
    if problem is not None and not (
        allow_insecure_loopback_for_development and _is_loopback_authority(domain)
    ):
        raise InvalidIdentifierError(f"agent identifier domain {problem}: {_show(value)}")
    return AgentId(value=value, local=local, domain=domain, parent_local=parent_local)


def validate_agent_id(value: str, *, allow_insecure_loopback_for_development: bool = False) -> str:
    """Return ``value`` unchanged if :func:`parse_agent_id` accepts it, else raise."""
    parse_agent_id(
        value, allow_insecure_loopback_for_development=allow_insecure_loopback_for_development
    )
    return value


# ---------------------------------------------------------------------------------------------
# URLs

# RFC 3986 §2: unreserved, reserved and '%'; anything else (space, controls, '"<>\^`{|}',
# non-ASCII) makes the text something other than a URI
_URI_CHARS_RE: Final = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_URL_RE: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)"
    r"(?:(?P<q>\?)[^#]*)?(?:(?P<f>#).*)?",
    re.DOTALL,
)


def _url_problem(
    value: str,
    *,
    endpoint: bool,
    loopback_http: bool,
    dev: bool,
) -> str | None:
    """None if ``value`` is acceptable, else the reason."""
    if not value:
        return "is empty"
    if _URI_CHARS_RE.fullmatch(value) is None:
        return "contains characters not allowed in a URI (RFC 3986 §2)"
    if _BAD_PERCENT_RE.search(value) is not None:
        return "contains a malformed percent-encoding"
    match = _URL_RE.fullmatch(value)
    if match is None:
        return "is not an absolute URL with an authority"
    scheme = match.group("scheme")
    authority = match.group("authority")
    if "@" in authority:
        return "must not contain userinfo"
    # loopback hosts (any port) only where the caller admitted them
    loopback = (loopback_http or dev) and _is_loopback_authority(authority)
    if scheme != "https" and not (scheme == "http" and loopback):
        if scheme == "http" and (loopback_http or dev):
            return "must use the https scheme (http only for an admitted loopback host)"
        return "must use the https scheme"
    if not loopback:
        host, colon, port = authority.partition(":")
        if authority.startswith("["):
            return "must not use an IP literal host"
        if colon and (_PORT_RE.fullmatch(port) is None or int(port) > 65535):
            return "has an invalid port"
        problem = _host_problem(host.lower())
        if problem is not None:
            return problem
    if endpoint:
        # AAuth -11 §"Endpoint URLs": MUST NOT contain a query string or a fragment
        if match.group("q") is not None:
            return "must not contain a query"
        if match.group("f") is not None:
            return "must not contain a fragment"
    return None


def validate_https_url(value: str, *, allow_insecure_loopback_for_development: bool = False) -> str:
    """Return ``value`` if it is an absolute ``https`` URL with a DNS host, else raise.

    AAuth -11 §"Other URLs" (``jwks_uri``, ``tos_uri``, ``policy_uri``, ``logo_uri``,
    ``logo_dark_uri``; ``documentation_uri`` by the metadata table): MUST use ``https``.
    Also enforced: RFC 3986 characters only, well-formed percent-encoding, no userinfo, a
    lowercase-insensitive LDH host that is not an IP literal, a port of 1-65535 if any.
    A query and a fragment are allowed.

    :raises InvalidIdentifierError: code ``invalid_request``.
    """
    if not isinstance(value, str):
        raise InvalidIdentifierError("URL must be a string")
    problem = _url_problem(
        value,
        endpoint=False,
        loopback_http=False,
        dev=allow_insecure_loopback_for_development,
    )
    if problem is not None:
        raise InvalidIdentifierError(f"URL {problem}: {_show(value)}")
    return value


def validate_endpoint_url(
    value: str,
    *,
    localhost_callback_allowed: bool = False,
    allow_insecure_loopback_for_development: bool = False,
) -> str:
    """Return ``value`` if it is a valid AAuth endpoint URL, else raise.

    AAuth -11 §"Endpoint URLs": MUST use ``https``, MUST NOT contain a fragment or a query
    (an empty ``?`` or ``#`` counts). Plus everything :func:`validate_https_url` checks.

    :param localhost_callback_allowed: admit ``http://`` loopback URLs (``localhost``,
        ``127.0.0.1``, ``[::1]``, any port), as a ``callback`` may be when the agent's
        metadata says ``localhost_callback_allowed: true``.
    :param allow_insecure_loopback_for_development: as in :func:`validate_server_id`.
    :raises InvalidIdentifierError: code ``invalid_request``.
    """
    if not isinstance(value, str):
        raise InvalidIdentifierError("endpoint URL must be a string")
    problem = _url_problem(
        value,
        endpoint=True,
        loopback_http=localhost_callback_allowed,
        dev=allow_insecure_loopback_for_development,
    )
    if problem is not None:
        raise InvalidIdentifierError(f"endpoint URL {problem}: {_show(value)}")
    return value
