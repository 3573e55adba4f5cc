"""AAuth tokens: ``aa-agent+jwt``, ``aa-person+jwt``, ``aa-resource+jwt``, ``aa-auth+jwt``
(AAuth -11 §"Tokens"; digest §4).

* :mod:`~aauth.tokens.models`: the four types as frozen msgspec Structs, constants.
* :mod:`~aauth.tokens.validate`: validators (issuer keys already fetched, ``now`` given),
  :func:`check_key_binding`, :func:`verify_token`, :func:`token_discovery`.
* :mod:`~aauth.tokens.build`: :func:`sign_token`, the builders, :func:`create_resource_token`.
* :mod:`~aauth.tokens.records`: the PS's person-token records and the ``presented_jti`` check.
* :mod:`~aauth.tokens.errors`: :class:`TokenError` and its two code vocabularies.

No IO: no clock (``now`` is an argument), no randomness (``jti`` is an argument), no fetch
(keys are an argument).
"""

from __future__ import annotations

from .build import (
    build_agent_token,
    build_auth_token,
    build_person_token,
    create_resource_token,
    sign_token,
)
from .errors import ENDPOINT_CODES, ErrorCodes, TokenError
from .models import (
    AGENT_TOKEN_MAX_LIFETIME,
    AUTH_TOKEN_DWKS,
    AUTH_TOKEN_MAX_LIFETIME,
    PERSON_TOKEN_MAX_LIFETIME,
    RESOURCE_TOKEN_MAX_LIFETIME,
    TOKEN_TYPES,
    TYP_AGENT,
    TYP_AUTH,
    TYP_PERSON,
    TYP_RESOURCE,
    AgentToken,
    AuthToken,
    PersonToken,
    ResourceInteraction,
    ResourceToken,
    Token,
)
from .records import PersonTokenRecord, check_presented_jti
from .validate import (
    DEFAULT_ERROR_CODES,
    Keys,
    TokenDiscovery,
    check_key_binding,
    token_discovery,
    validate_agent_token,
    validate_auth_token,
    validate_person_token,
    validate_resource_token,
    validate_token,
    verify_token,
)

__all__ = [
    "AGENT_TOKEN_MAX_LIFETIME",
    "AUTH_TOKEN_DWKS",
    "AUTH_TOKEN_MAX_LIFETIME",
    "DEFAULT_ERROR_CODES",
    "ENDPOINT_CODES",
    "PERSON_TOKEN_MAX_LIFETIME",
    "RESOURCE_TOKEN_MAX_LIFETIME",
    "TOKEN_TYPES",
    "TYP_AGENT",
    "TYP_AUTH",
    "TYP_PERSON",
    "TYP_RESOURCE",
    "AgentToken",
    "AuthToken",
    "ErrorCodes",
    "Keys",
    "PersonToken",
    "PersonTokenRecord",
    "ResourceInteraction",
    "ResourceToken",
    "Token",
    "TokenDiscovery",
    "TokenError",
    "build_agent_token",
    "build_auth_token",
    "build_person_token",
    "check_key_binding",
    "check_presented_jti",
    "create_resource_token",
    "sign_token",
    "token_discovery",
    "validate_agent_token",
    "validate_auth_token",
    "validate_person_token",
    "validate_resource_token",
    "validate_token",
    "verify_token",
]
