"""The token error and its code mapping (AAuth -11 §"Token Endpoint Error Codes",
§"Authorization Endpoint Error Responses"; signature-key-08 §"Signature-Error"; digest §3.3,
§7.1, §7.10).

A token is rejected in one of two places, and each has its own error vocabulary:

* **In ``Signature-Key``** (``sig=jwt;jwt=…``): the agent, person and auth tokens a request is
  signed with. The answer is ``401`` with a ``Signature-Error`` header, so the code must be a
  ``Signature-Error`` code: ``invalid_jwt``, ``expired_jwt``, and the key codes
  ``unsupported_algorithm``, ``invalid_key``, ``unknown_key``.
* **In a request body** at an endpoint: ``resource_token``, ``agent_token``,
  ``subagent_token`` and ``upstream_token`` at token endpoints. The answer is a ``400``
  problem body with the endpoint table's code.

Every :class:`TokenError` carries both codes (:attr:`TokenError.signature_code`,
:attr:`TokenError.endpoint_code`); :attr:`~aauth.errors.RemoteError.code` is the one the
caller asked for with ``error_codes`` (``"signature"`` or ``"endpoint"``).

Mapping (one rule: "expired" when ``exp`` has passed, "invalid" for everything else):

* ``aa-agent+jwt``: ``invalid_jwt``/``expired_jwt``; endpoint ``invalid_agent_token``/
  ``expired_agent_token``.
* ``aa-person+jwt``: ``invalid_jwt``/``expired_jwt``; endpoint ``invalid_person_token`` for
  both (the authorization-endpoint table has no expired code).
* ``aa-resource+jwt``: ``invalid_jwt``/``expired_jwt``; endpoint ``invalid_resource_token``/
  ``expired_resource_token``.
* ``aa-auth+jwt``: ``invalid_jwt``/``expired_jwt``; endpoint ``invalid_request`` for both (an
  ``upstream_token`` at a token endpoint; no auth-token code exists).

In ``signature`` mode a failure of the JOSE key machinery keeps its own ``Signature-Error``
code: ``unsupported_algorithm`` (``none``, ``EdDSA``, HMAC, a JWK without ``alg``),
``invalid_key`` (unusable key, ``kty``/``crv`` disagreeing with ``alg``), ``unknown_key``
(no key for ``kid``; retryable after one JWKS re-fetch). A person-token record that does not
exist is ``unknown_person_token`` in ``endpoint`` mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from ..errors import RemoteError

__all__ = [
    "ENDPOINT_CODES",
    "ErrorCodes",
    "TokenError",
]

#: Which vocabulary :attr:`TokenError.code` uses: ``"signature"`` for a token presented in
#: ``Signature-Key`` (``Signature-Error`` codes), ``"endpoint"`` for a token in a request body
#: (AAuth -11 endpoint error tables).
ErrorCodes = Literal["signature", "endpoint"]

#: ``typ`` -> (endpoint code when invalid, endpoint code when expired).
ENDPOINT_CODES: Final[Mapping[str, tuple[str, str]]] = {
    "aa-agent+jwt": ("invalid_agent_token", "expired_agent_token"),
    "aa-person+jwt": ("invalid_person_token", "invalid_person_token"),
    "aa-resource+jwt": ("invalid_resource_token", "expired_resource_token"),
    "aa-auth+jwt": ("invalid_request", "invalid_request"),
}


class TokenError(RemoteError):
    """An AAuth token (agent, person, resource or auth) was rejected.

    :param message: what was wrong, naming the header member or claim.
    :param typ: the token type that was expected (``aa-agent+jwt`` ...).
    :param claim: the claim or JOSE header member at fault (``"aud"``, ``"cnf.jwk"``,
        ``"header.typ"``), or ``None`` when the token as a whole is at fault.
    :param signature_code: the ``Signature-Error`` code for this failure.
    :param endpoint_code: the endpoint-table code for this failure.
    :param error_codes: which of the two becomes :attr:`code`.
    :param retryable: whether a fresh token (``expired``) or a JWKS re-fetch
        (``unknown_key``) can help.
    """

    default_code = "invalid_jwt"

    def __init__(
        self,
        message: str,
        *,
        typ: str | None = None,
        claim: str | None = None,
        signature_code: str = "invalid_jwt",
        endpoint_code: str = "invalid_request",
        error_codes: ErrorCodes = "signature",
        retryable: bool = False,
    ) -> None:
        code = signature_code if error_codes == "signature" else endpoint_code
        super().__init__(message, code=code, retryable=retryable)
        self.typ: str | None = typ
        self.claim: str | None = claim
        self.signature_code: str = signature_code
        self.endpoint_code: str = endpoint_code
