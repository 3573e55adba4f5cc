"""Signing and verifying keys: Ed25519 through PyNaCl (libsodium), ES256 through pyca/cryptography.

``cryptography`` is imported lazily, inside the ES256 code paths only, so ``import aauth``
does not load it and an Ed25519-only deployment never pays for it.

No function here reads the RNG: key generation takes the caller's random bytes
(drivers pass ``os.urandom(32)``), Ed25519 signatures are deterministic (RFC 8032 §5.1.6), and
ES256 signs with deterministic ECDSA (RFC 6979).

The verifying side is :class:`PublicKey`, built from a peer's JWK by
:func:`public_key_from_jwk`, which enforces signature-key-08 §"Algorithm determination".
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, ClassVar, Final, Protocol, cast

from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair
from nacl.exceptions import CryptoError

from ._b64 import b64url_decode, b64url_encode
from .errors import JoseError, LocalError
from .jwk import SUPPORTED_ALGS, decode_key_member, jwk_algorithm, jwk_thumbprint

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "EcP256Key",
    "EcP256PublicKey",
    "Ed25519Key",
    "Ed25519PublicKey",
    "PrivateKey",
    "PublicKey",
    "public_key_from_jwk",
]

# FIPS 186-5 / SEC 2: the order n of the P-256 base point.
_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ES256_KEYGEN_LABEL: Final = b"aauth ES256 key generation v1\x00"


# --------------------------------------------------------------------------- verifying keys


class PublicKey:
    """A verifying key taken from a checked public JWK.

    ``alg`` is the fully-specified JOSE algorithm (``"Ed25519"`` or ``"ES256"``), ``jwk`` the
    public members plus ``alg`` (a fresh dict on each access), ``thumbprint`` the RFC 7638
    SHA-256 thumbprint. :meth:`verify` returns ``False`` for any bad signature, including one
    of the wrong length, and never raises for bad signature bytes. Two keys are equal when
    they have the same algorithm and public key bytes.
    """

    __slots__ = ("_thumbprint",)

    alg: ClassVar[str]

    def __init__(self) -> None:
        self._thumbprint: str | None = None

    @property
    def jwk(self) -> dict[str, str]:
        """The public JWK (members in the order ``kty, crv, x[, y], alg``)."""
        raise NotImplementedError

    @property
    def public_bytes(self) -> bytes:
        """Raw public key: 32 bytes for Ed25519, the SEC1 uncompressed point for P-256."""
        raise NotImplementedError

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint, base64url (computed once, on first use)."""
        thumbprint = self._thumbprint
        if thumbprint is None:
            thumbprint = self._thumbprint = jwk_thumbprint(self.jwk)
        return thumbprint

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid signature of ``data`` under this key."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self.alg == other.alg and self.public_bytes == other.public_bytes

    def __hash__(self) -> int:
        return hash((self.alg, self.public_bytes))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(thumbprint={self.thumbprint!r})"


class Ed25519PublicKey(PublicKey):
    """An Ed25519 verifying key (RFC 8032), ``alg`` ``Ed25519`` (RFC 9864).

    :param raw: the 32-byte public key. It is not checked for being a valid curve point
        here: libsodium's verification rejects non-canonical and small-order keys, so a bad
        key simply verifies nothing (checking up front would cost a point decompression on
        every request).
    """

    __slots__ = ("_raw", "_x")

    alg: ClassVar[str] = "Ed25519"

    def __init__(self, raw: bytes) -> None:
        super().__init__()
        if len(raw) != 32:
            raise LocalError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
        self._raw: bytes = bytes(raw)
        self._x: str = b64url_encode(self._raw)

    @classmethod
    def _from_checked_member(cls, raw: bytes, x: str) -> Ed25519PublicKey:
        """Build from a JWK ``x`` already strictly decoded to the 32 bytes ``raw`` (so ``x`` is
        the canonical encoding and need not be re-encoded)."""
        key = cls.__new__(cls)
        key._thumbprint = None
        key._raw = raw
        key._x = x
        return key

    @property
    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": self._x, "alg": "Ed25519"}

    @property
    def public_bytes(self) -> bytes:
        return self._raw

    def verify(self, data: bytes, signature: bytes) -> bool:
        if len(signature) != 64:  # RFC 8032 §5.1.7: a signature is exactly 64 bytes
            return False
        try:
            # libsodium crypto_sign_open over signature||message: the leanest verify PyNaCl
            # exposes (VerifyKey.verify adds type checks and an encoder on top of it).
            crypto_sign_open(bytes(signature) + data, self._raw)
        except CryptoError:
            return False
        return True


class EcP256PublicKey(PublicKey):
    """An ECDSA P-256 verifying key, ``alg`` ``ES256`` (RFC 7518 §3.4).

    :param x: the 32-byte big-endian x coordinate.
    :param y: the 32-byte big-endian y coordinate.

    Raises :class:`JoseError` ``invalid_key`` if ``(x, y)`` is not a point on P-256.
    """

    __slots__ = ("_key", "_point", "_x", "_y")

    alg: ClassVar[str] = "ES256"

    def __init__(self, x: bytes, y: bytes) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

        super().__init__()
        if len(x) != 32 or len(y) != 32:
            raise LocalError("P-256 coordinates are 32 bytes each")
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b"\x04" + bytes(x) + bytes(y)
            )  # SEC1 §2.3.4 uncompressed point; OpenSSL checks it lies on the curve
        except ValueError as exc:
            raise JoseError("JWK x/y is not a point on P-256", code="invalid_key") from exc
        self._key: ec.EllipticCurvePublicKey = key
        self._point: bytes = b"\x04" + bytes(x) + bytes(y)
        self._x: str = b64url_encode(bytes(x))
        self._y: str = b64url_encode(bytes(y))

    @property
    def jwk(self) -> dict[str, str]:
        return {"kty": "EC", "crv": "P-256", "x": self._x, "y": self._y, "alg": "ES256"}

    @property
    def public_bytes(self) -> bytes:
        return self._point

    def verify(self, data: bytes, signature: bytes) -> bool:
        # RFC 7518 §3.4 and RFC 9421 §3.3.4: the signature is r||s, 32 bytes each.
        if len(signature) != 64:
            return False
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.utils import (  # noqa: PLC0415
            encode_dss_signature,
        )

        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            self._key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def public_key_from_jwk(
    jwk: Mapping[str, object],
    *,
    allowed_algs: Collection[str] = SUPPORTED_ALGS,
    allow_eddsa: bool = False,
) -> PublicKey:
    """Build a verifying key from a peer's public JWK, enforcing the AAuth algorithm rules.

    signature-key-08 §"Algorithm determination" and AAuth -11 §"HTTP Message Signatures
    Profile". Raises :class:`JoseError` with code

    * ``unsupported_algorithm``: ``alg`` absent, ``none``, ``EdDSA`` (unless ``allow_eddsa``,
      and then only with ``crv`` ``Ed25519``), HMAC, unimplemented, or not in ``allowed_algs``;
    * ``invalid_key``: not an object; ``kty``/``crv`` disagree with ``alg``; ``x``/``y`` not
      strict base64url of the full size; not a point on P-256; a private member ``d``
      present (a public JWK that carries its private key is refused rather than silently
      trimmed: the peer is leaking its key and must not be trusted with it); ``use`` other
      than ``sig``; ``key_ops`` without ``verify``.

    The returned key's ``jwk`` holds only the public members and the canonical ``alg``
    (``EdDSA`` accepted under ``allow_eddsa`` reads back as ``Ed25519``).
    """
    alg = jwk_algorithm(jwk, allowed_algs=allowed_algs, allow_eddsa=allow_eddsa)
    if "d" in jwk:
        raise JoseError("public JWK carries the private member 'd'", code="invalid_key")
    use = jwk.get("use")
    if use is not None and use != "sig":  # RFC 7517 §4.2
        raise JoseError(f"JWK 'use' is {use!r}, not 'sig'", code="invalid_key")
    key_ops = jwk.get("key_ops")  # RFC 7517 §4.3
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise JoseError("JWK 'key_ops' does not allow 'verify'", code="invalid_key")
    if alg == "Ed25519":
        raw = decode_key_member(jwk, "x", 32)  # RFC 8037 §2
        return Ed25519PublicKey._from_checked_member(raw, cast(str, jwk["x"]))
    # RFC 7518 §6.2.1.2-3: x and y are the full 32-byte coordinates.
    return EcP256PublicKey(decode_key_member(jwk, "x", 32), decode_key_member(jwk, "y", 32))


# --------------------------------------------------------------------------- signing keys


class PrivateKey(Protocol):
    """What the signers need from a private key: :class:`Ed25519Key` and :class:`EcP256Key`."""

    @property
    def alg(self) -> str:
        """The fully-specified JOSE algorithm the key signs with."""
        ...

    @property
    def public_key(self) -> PublicKey:
        """The matching verifying key."""
        ...

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK with ``alg`` (a fresh dict)."""
        ...

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of the public key."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; 64 raw bytes for both algorithms."""
        ...


def _private_member(jwk: Mapping[str, object], kty: str, crv: str) -> bytes:
    """Check a private JWK's kty/crv/alg shape and return its decoded ``d``."""
    if not isinstance(jwk, Mapping):
        raise LocalError("a private JWK must be a mapping")
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        raise LocalError(f"expected a private JWK with kty {kty} and crv {crv}")
    d = jwk.get("d")
    if not isinstance(d, str):
        raise LocalError("the private JWK has no 'd' member")
    try:
        raw = b64url_decode(d, error=JoseError, what="JWK member 'd'")
    except JoseError as exc:
        raise LocalError("the private JWK's 'd' is not base64url") from exc
    if len(raw) != 32:
        raise LocalError(f"the private JWK's 'd' is {len(raw)} bytes, expected 32")
    return raw


class Ed25519Key:
    """An Ed25519 signing key (RFC 8032) with JOSE ``alg`` ``Ed25519`` (RFC 9864).

    Build it with :meth:`from_seed`, :meth:`from_jwk` or :meth:`generate`. The seed never
    appears in ``repr``; :meth:`private_jwk` is the one explicit way to export it.
    """

    __slots__ = ("_public", "_secret")

    alg: ClassVar[str] = "Ed25519"

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, (bytes, bytearray, memoryview)) or len(seed) != 32:
            raise LocalError("an Ed25519 seed is exactly 32 bytes")
        public, secret = crypto_sign_seed_keypair(bytes(seed))
        self._secret: bytes = secret  # libsodium's 64-byte form: seed || public key
        self._public = Ed25519PublicKey(public)

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Key:
        """The key whose RFC 8032 private key (the JWK ``d``) is the 32-byte ``seed``."""
        return cls(seed)

    @classmethod
    def generate(cls, entropy: bytes) -> Ed25519Key:
        """A new key from 32 bytes of caller randomness.

        The engine never reads the RNG: drivers call ``Ed25519Key.generate(os.urandom(32))``.
        """
        return cls(entropy)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object]) -> Ed25519Key:
        """Load a private OKP JWK (RFC 8037 §2) with ``d``.

        ``alg`` may be absent, ``Ed25519`` or ``EdDSA`` (loading one's own key is not
        accepting a peer's algorithm; the key always signs as ``Ed25519``). If ``x`` is
        present it must match ``d``. Raises :class:`LocalError` on any defect.
        """
        seed = _private_member(jwk, "OKP", "Ed25519")
        if jwk.get("alg") not in (None, "Ed25519", "EdDSA"):
            raise LocalError(f"private JWK 'alg' {jwk.get('alg')!r} is not Ed25519")
        key = cls(seed)
        x = jwk.get("x")
        if x is not None and x != key._public._x:
            raise LocalError("the private JWK's 'x' does not match its 'd'")
        return key

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The verifying key."""
        return self._public

    @property
    def public_jwk(self) -> dict[str, str]:
        """``{"kty": "OKP", "crv": "Ed25519", "x": …, "alg": "Ed25519"}``, a fresh dict."""
        return self._public.jwk

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of the public key (the AAuth ``agent_jkt``)."""
        return self._public.thumbprint

    def private_jwk(self) -> dict[str, str]:
        """The private JWK including ``d`` (the seed). Handle the result as a secret."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self._public._x,
            "d": b64url_encode(self._secret[:32]),
            "alg": "Ed25519",
        }

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data`` (deterministic, RFC 8032 §5.1.6)."""
        signed: bytes = crypto_sign(data, self._secret)  # signature || message
        return signed[:64]

    def __repr__(self) -> str:
        return f"Ed25519Key(thumbprint={self.thumbprint!r})"


class EcP256Key:
    """An ECDSA P-256 signing key with JOSE ``alg`` ``ES256`` (RFC 7518 §3.4).

    Signatures are deterministic ECDSA (RFC 6979) in the ``r||s`` form of JWS and RFC 9421
    §3.3.4, so signing reads no randomness. Requires a ``cryptography`` whose OpenSSL
    supports deterministic ECDSA (OpenSSL 3.2+, as bundled by cryptography's wheels).
    The private scalar never appears in ``repr``.
    """

    __slots__ = ("_key", "_public")

    alg: ClassVar[str] = "ES256"

    def __init__(self, private_value: int) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

        if isinstance(private_value, bool) or not isinstance(private_value, int):
            raise LocalError("a P-256 private value is an int")
        if not 1 <= private_value < _P256_ORDER:
            raise LocalError("a P-256 private value lies in [1, n-1]")
        self._key: ec.EllipticCurvePrivateKey = ec.derive_private_key(private_value, ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        self._public = EcP256PublicKey(numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big"))

    @classmethod
    def from_private_value(cls, private_value: int) -> EcP256Key:
        """The key with private scalar ``private_value`` (1 ≤ d < n)."""
        return cls(private_value)

    @classmethod
    def generate(cls, entropy: bytes) -> EcP256Key:
        """A new key from at least 32 bytes of caller randomness.

        The scalar is ``(c mod (n-1)) + 1`` with ``c`` the 512-bit SHA-512 of a label and
        ``entropy`` (the extra-bits method of FIPS 186-5 §A.2.1, so the bias is < 2^-256).
        Drivers call ``EcP256Key.generate(os.urandom(32))``.
        """
        if not isinstance(entropy, (bytes, bytearray, memoryview)) or len(entropy) < 32:
            raise LocalError("ES256 key generation needs at least 32 random bytes")
        c = int.from_bytes(hashlib.sha512(_ES256_KEYGEN_LABEL + bytes(entropy)).digest(), "big")
        return cls(c % (_P256_ORDER - 1) + 1)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object]) -> EcP256Key:
        """Load a private EC P-256 JWK (RFC 7518 §6.2.2) with ``d``.

        ``alg`` may be absent or ``ES256``; ``x``/``y``, if present, must match ``d``.
        Raises :class:`LocalError` on any defect.
        """
        d = _private_member(jwk, "EC", "P-256")
        if jwk.get("alg") not in (None, "ES256"):
            raise LocalError(f"private JWK 'alg' {jwk.get('alg')!r} is not ES256")
        key = cls(int.from_bytes(d, "big"))
        public = key.public_jwk
        for name in ("x", "y"):
            value = jwk.get(name)
            if value is not None and value != public[name]:
                raise LocalError(f"the private JWK's {name!r} does not match its 'd'")
        return key

    @property
    def public_key(self) -> EcP256PublicKey:
        """The verifying key."""
        return self._public

    @property
    def public_jwk(self) -> dict[str, str]:
        """``{"kty": "EC", "crv": "P-256", "x": …, "y": …, "alg": "ES256"}``, a fresh dict."""
        return self._public.jwk

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of the public key."""
        return self._public.thumbprint

    def private_jwk(self) -> dict[str, str]:
        """The private JWK including ``d``. Handle the result as a secret."""
        jwk = self._public.jwk
        d = self._key.private_numbers().private_value.to_bytes(32, "big")
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": jwk["x"],
            "y": jwk["y"],
            "d": b64url_encode(d),
            "alg": "ES256",
        }

    def sign(self, data: bytes) -> bytes:
        """The 64-byte ``r||s`` ES256 signature of ``data``, deterministic per RFC 6979."""
        from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.utils import (  # noqa: PLC0415
            decode_dss_signature,
        )

        try:
            der = self._key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        except UnsupportedAlgorithm as exc:
            raise LocalError(
                "this cryptography/OpenSSL build lacks deterministic ECDSA (RFC 6979), "
                "which ES256 signing requires (the engine draws no randomness)"
            ) from exc
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __repr__(self) -> str:
        return f"EcP256Key(thumbprint={self.thumbprint!r})"
