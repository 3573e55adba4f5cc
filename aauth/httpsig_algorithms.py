"""The RFC 9421 signature algorithms the engine supports, and their JOSE names.

RFC 9421 §6.2 registers six algorithm names. The engine implements three of them:

==================  =======================  ==================  ===============
RFC 9421 name       primitive                signature length    JOSE name
==================  =======================  ==================  ===============
``ed25519``         Ed25519 (pynacl)         64 bytes (§3.3.6)   ``Ed25519``
``ecdsa-p256-sha256``  ECDSA P-256/SHA-256   64 bytes r||s       ``ES256``
                    (cryptography, lazily)   (§3.3.4)
``hmac-sha256``     HMAC-SHA-256 (stdlib)    32 bytes (§3.3.3)   none
==================  =======================  ==================  ===============

Anything else (``rsa-pss-sha512``, ``rsa-v1_5-sha256``, ``ecdsa-p384-sha384`` or an unknown
name) raises :class:`~aauth.errors.SignatureError` with code ``unsupported_algorithm``.

AAuth names algorithms with JOSE identifiers (AAuth -11 §"HTTP Message Signatures Profile",
RFC 9421 §3.3.7); :func:`http_alg_from_jose` and :func:`jose_alg_from_http` translate. The
polymorphic ``EdDSA`` is deliberately not mapped.

Ed25519 and ES256 verification uses the key objects of :mod:`aauth.keys`
(``Ed25519PublicKey``, ``EcP256PublicKey``); :class:`HmacSha256Key` here covers the symmetric
algorithm, for RFC 9421's own examples (AAuth forbids it).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from .errors import LocalError, SignatureError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from collections.abc import Mapping


__all__ = [
    "ALGORITHMS",
    "RFC9421_ALGORITHM_NAMES",
    "HmacSha256Key",
    "HttpSigAlgorithm",
    "get_algorithm",
    "http_alg_from_jose",
    "jose_alg_from_http",
]


@dataclass(frozen=True, slots=True)
class HttpSigAlgorithm:
    """One supported RFC 9421 algorithm.

    :param name: the HTTP Signature Algorithms registry name (RFC 9421 §6.2.2).
    :param jose: the JOSE ``alg`` with the same primitive, or ``None`` (HMAC: AAuth forbids it).
    :param signature_length: the exact length in bytes of a signature value.
    :param symmetric: whether the key is a shared secret.
    """

    name: str
    jose: str | None
    signature_length: int
    symmetric: bool = False


#: The algorithms the engine implements, by RFC 9421 name.
ALGORITHMS: Final[Mapping[str, HttpSigAlgorithm]] = MappingProxyType(
    {
        # RFC 9421 §3.3.6: 64-octet R||S.
        "ed25519": HttpSigAlgorithm("ed25519", "Ed25519", 64),
        # RFC 9421 §3.3.4: r and s, 32 octets each, concatenated.
        "ecdsa-p256-sha256": HttpSigAlgorithm("ecdsa-p256-sha256", "ES256", 64),
        # RFC 9421 §3.3.3: the HMAC-SHA-256 output.
        "hmac-sha256": HttpSigAlgorithm("hmac-sha256", None, 32, symmetric=True),
    }
)

#: Every name in the RFC 9421 §6.2.2 initial registry contents (supported or not).
RFC9421_ALGORITHM_NAMES: Final[frozenset[str]] = frozenset(
    {
        "rsa-pss-sha512",
        "rsa-v1_5-sha256",
        "hmac-sha256",
        "ecdsa-p256-sha256",
        "ecdsa-p384-sha384",
        "ed25519",
    }
)

_JOSE_TO_HTTP: Final[Mapping[str, str]] = MappingProxyType(
    {alg.jose: alg.name for alg in ALGORITHMS.values() if alg.jose is not None}
)


def get_algorithm(name: str) -> HttpSigAlgorithm:
    """The supported algorithm called ``name`` (an RFC 9421 registry name, case-sensitive).

    :raises SignatureError: ``unsupported_algorithm`` for a registered name the engine does not
        implement, or for a name that is not registered at all.
    """
    found = ALGORITHMS.get(name) if isinstance(name, str) else None
    if found is not None:
        return found
    supported = ", ".join(ALGORITHMS)
    if name in RFC9421_ALGORITHM_NAMES:
        raise SignatureError(
            f"HTTP signature algorithm {name!r} is registered but not supported "
            f"(supported: {supported})",
            code="unsupported_algorithm",
        )
    raise SignatureError(
        f"unknown HTTP signature algorithm {name!r} (supported: {supported})",
        code="unsupported_algorithm",
    )


def http_alg_from_jose(jose_alg: str) -> str:
    """The RFC 9421 name for a JOSE ``alg`` (``Ed25519`` → ``ed25519``, ``ES256`` →
    ``ecdsa-p256-sha256``).

    :raises SignatureError: ``unsupported_algorithm`` for any other JOSE name, including
        the polymorphic ``EdDSA``.
    """
    found = _JOSE_TO_HTTP.get(jose_alg) if isinstance(jose_alg, str) else None
    if found is None:
        raise SignatureError(
            f"JOSE algorithm {jose_alg!r} has no supported HTTP signature algorithm "
            f"(supported: {', '.join(_JOSE_TO_HTTP)})",
            code="unsupported_algorithm",
        )
    return found


def jose_alg_from_http(name: str) -> str:
    """The JOSE ``alg`` for an RFC 9421 name (the inverse of :func:`http_alg_from_jose`).

    :raises SignatureError: ``unsupported_algorithm`` if the algorithm is unsupported or has
        no JOSE counterpart (``hmac-sha256``).
    """
    alg = get_algorithm(name)
    if alg.jose is None:
        raise SignatureError(
            f"HTTP signature algorithm {name!r} has no JOSE counterpart",
            code="unsupported_algorithm",
        )
    return alg.jose


class HmacSha256Key:
    """A shared secret for ``hmac-sha256`` (RFC 9421 §3.3.3): signs and verifies.

    AAuth forbids symmetric algorithms; this exists for RFC 9421 conformance (Appendix B.2.5).
    """

    __slots__ = ("_secret",)

    algorithm: Final = "hmac-sha256"

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or not secret:
            raise LocalError("an HMAC secret must be non-empty bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "HmacSha256Key(<secret>)"

    def sign(self, data: bytes) -> bytes:
        """HMAC-SHA-256 of ``data``."""
        return hmac.new(self._secret, data, hashlib.sha256).digest()

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Constant-time comparison of ``signature`` with the HMAC of ``data``."""
        return hmac.compare_digest(self.sign(data), signature)
