"""aauth: a sans-IO implementation of AAuth (Agent Auth).

AI agents prove who they are and get authorized with HTTP Message Signatures (RFC 9421,
Ed25519), the ``Signature-Key`` header (draft-hardt-httpbis-signature-key-08) and key-bound
JWTs (AAuth protocol -11).

The engine performs no IO: no sockets, no event loop, no clock, no randomness. Time, nonces
and keys come in as arguments; drivers own the network.

The names here are the stable public surface of the wire layer. Submodules hold the rest:
:mod:`aauth.sfv` (RFC 9651), :mod:`aauth.httpsig` and :mod:`aauth.components` (generic RFC
9421), :mod:`aauth.signature_key` and :mod:`aauth.signature_headers` (signature-key-08),
:mod:`aauth.keys`, :mod:`aauth.jwk`, :mod:`aauth.jws` (JOSE), :mod:`aauth.digest` (RFC 9530),
the AAuth vocabulary (:mod:`aauth.identifiers`, :mod:`aauth.metadata`,
:mod:`aauth.mission`, :mod:`aauth.interaction`, :mod:`aauth.problems`), the agent engine
(:mod:`aauth.agent`) and the resource engine (:mod:`aauth.resource`).
"""

from __future__ import annotations

from . import sfv
from .agent import (
    Agent,
    AgentError,
    AgentLimits,
    RefreshingAgentCredentials,
    SelfSignedAgentCredentials,
    StaticAgentCredentials,
)
from .components import ComponentId, signature_base
from .digest import content_digest, verify_content_digest
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
from .httpsig import VerifiedSignature, sign_message, verify_message
from .httpsig_algorithms import HmacSha256Key
from .jwk import SUPPORTED_ALGS, jwk_thumbprint, jwk_thumbprint_uri, select_jwk
from .jws import decode_jwt, decode_jwt_unverified, encode_jws, encode_jwt, parse_jwt, verify_jwt
from .keys import (
    EcP256Key,
    EcP256PublicKey,
    Ed25519Key,
    Ed25519PublicKey,
    PrivateKey,
    PublicKey,
    public_key_from_jwk,
)
from .resource import (
    AccessMode,
    ResourcePolicy,
    ResourceServer,
    ResourceVerifier,
    Verified,
)
from .signature_headers import (
    SignatureErrorInfo,
    build_accept_signature_alg,
    build_accept_signature_scheme,
    build_signature_error,
    parse_accept_signature_alg,
    parse_accept_signature_scheme,
    parse_signature_error,
    signature_error_headers,
)
from .signature_key import (
    HwkKey,
    JktJwtKey,
    JwksUriKey,
    JwtKey,
    build_signature_key,
    parse_signature_key,
    signature_key_member,
)
from .signing import (
    AAUTH_REQUIRED_COMPONENTS,
    DEFAULT_MAX_SKEW,
    VerifiedRequest,
    sign_request,
    verify_request,
)
from .tokens import (
    TokenError,
    check_key_binding,
    create_resource_token,
    validate_agent_token,
    validate_auth_token,
    validate_person_token,
    validate_resource_token,
    verify_token,
)

__version__ = "0.1.0"

__all__ = [
    "AAUTH_REQUIRED_COMPONENTS",
    "DEFAULT_MAX_SKEW",
    "SIGNATURE_ERROR_CODES",
    "SUPPORTED_ALGS",
    "AAuthError",
    "AccessMode",
    "Agent",
    "AgentError",
    "AgentLimits",
    "ComponentId",
    "EcP256Key",
    "EcP256PublicKey",
    "Ed25519Key",
    "Ed25519PublicKey",
    "HmacSha256Key",
    "HttpRequest",
    "HttpResponse",
    "HwkKey",
    "JktJwtKey",
    "JoseError",
    "JwksUriKey",
    "JwtKey",
    "LocalError",
    "PrivateKey",
    "PublicKey",
    "RefreshingAgentCredentials",
    "RemoteError",
    "ResourcePolicy",
    "ResourceServer",
    "ResourceVerifier",
    "SelfSignedAgentCredentials",
    "SignatureError",
    "SignatureErrorInfo",
    "StaticAgentCredentials",
    "StructuredFieldError",
    "TokenError",
    "Verified",
    "VerifiedRequest",
    "VerifiedSignature",
    "build_accept_signature_alg",
    "build_accept_signature_scheme",
    "build_signature_error",
    "build_signature_key",
    "check_key_binding",
    "content_digest",
    "create_resource_token",
    "decode_jwt",
    "decode_jwt_unverified",
    "encode_jws",
    "encode_jwt",
    "jwk_thumbprint",
    "jwk_thumbprint_uri",
    "parse_accept_signature_alg",
    "parse_accept_signature_scheme",
    "parse_jwt",
    "parse_signature_error",
    "parse_signature_key",
    "public_key_from_jwk",
    "select_jwk",
    "sfv",
    "sign_message",
    "sign_request",
    "signature_base",
    "signature_error_headers",
    "signature_key_member",
    "validate_agent_token",
    "validate_auth_token",
    "validate_person_token",
    "validate_resource_token",
    "verify_content_digest",
    "verify_jwt",
    "verify_message",
    "verify_request",
    "verify_token",
]
