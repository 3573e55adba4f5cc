"""Every case of ``rfc9421.json`` (RFC 9421 §2.1-§2.5, §4.3, Appendix B), both ways.

Key adapters live here: the engine verifies ``ed25519``, ``ecdsa-p256-sha256`` and
``hmac-sha256`` itself; RSA (``rsa-pss-sha512``, ``rsa-v1_5-sha256``) is not an engine
algorithm, so a test-local ``cryptography`` adapter checks those signatures over the base the
engine computes.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from nacl.signing import SigningKey

from aauth._b64 import b64url_decode
from aauth.components import ComponentId, component_value, signature_base
from aauth.errors import SignatureError
from aauth.http import HttpRequest, HttpResponse
from aauth.httpsig import (
    build_signature_fields,
    build_signature_input_member,
    parse_signature_field,
    parse_signature_input,
    sign_message,
    verify_message,
)
from aauth.httpsig_algorithms import HmacSha256Key
from aauth.keys import EcP256PublicKey, Ed25519PublicKey
from tests.vectors import load_vectors

VECTORS = load_vectors("rfc9421.json")
KEYS: dict[str, Any] = VECTORS["keys"]
CASES: list[dict[str, Any]] = VECTORS["cases"]
COMPONENT_CASES = [c for c in CASES if c["kind"] == "component-values"]
SIGNATURE_CASES = [c for c in CASES if c["kind"] == "signature"]
PARAMS_CASES = [c for c in CASES if c["kind"] == "signature-params-serialization"]
COMPONENTS = [(case, comp) for case in COMPONENT_CASES for comp in case["components"]]


def _message(data: dict[str, Any] | None) -> Any:
    if data is None:
        return None
    body = data["body"].encode("utf-8")
    if data["type"] == "response":
        return HttpResponse(data["status"], data["headers"], body)
    if data["type"] == "request":
        return HttpRequest(data["method"], data["target_uri"] or "", data["headers"], body)
    # A header-only fragment: any message type carries its fields.
    return HttpRequest("GET", "https://fragment.example/", data["headers"], body)


def _expected_base(case: dict[str, Any]) -> str:
    computed: str | None = case.get("signature_base_computed_from_message")
    return computed if computed is not None else str(case["signature_base"])


def _signed(case: dict[str, Any]) -> Any:
    message = _message(case["message"])
    return message.with_headers(
        [("Signature-Input", case["signature_input_field"]), ("Signature", case["signature_field"])]
    )


# --- test-local key adapters -------------------------------------------------------------


class NaclSigner:
    """Ed25519 signing from the raw seed (RFC 9421 B.1.4)."""

    def __init__(self, seed: bytes) -> None:
        self._key = SigningKey(seed)

    def sign(self, data: bytes) -> bytes:
        return bytes(self._key.sign(data).signature)


class RsaVerifier:
    """RSA verification for the algorithms the engine does not implement."""

    def __init__(self, pem: str, algorithm: str) -> None:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
        assert isinstance(key, rsa.RSAPublicKey)
        self._key = key
        self._algorithm = algorithm

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            if self._algorithm == "rsa-pss-sha512":
                # RFC 9421 §3.3.1: MGF1 with SHA-512, salt length 64.
                pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
                self._key.verify(signature, data, pss, hashes.SHA512())
            else:
                self._key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return False
        return True


class RsaV15Signer:
    """Deterministic RSASSA-PKCS1-v1_5 with SHA-256 (RFC 9421 §3.3.2)."""

    def __init__(self, pem: str) -> None:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self._key = key

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class PemEcdsaVerifier:
    """An independent ECDSA check from the PEM, to cross-check the engine's verifier."""

    def __init__(self, pem: str) -> None:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        self._key = key

    def verify(self, data: bytes, signature: bytes) -> bool:
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            self._key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except Exception:
            return False
        return True


def _engine_verifier(key_id: str) -> Any:
    key = KEYS[key_id]
    if key_id == "test-key-ed25519":
        return Ed25519PublicKey(bytes.fromhex(key["raw"]["public_key_hex"]))
    if key_id == "test-key-ecc-p256":
        jwk = key["jwk"]
        return EcP256PublicKey(b64url_decode(jwk["x"]), b64url_decode(jwk["y"]))
    assert key_id == "test-shared-secret"
    return HmacSha256Key(base64.b64decode(key["base64"]))


def _any_verifier(case: dict[str, Any]) -> Any:
    if case["algorithm"].startswith("rsa"):
        return RsaVerifier(KEYS[case["key_id"]]["public_pem"], case["algorithm"])
    return _engine_verifier(case["key_id"])


# --- component values (RFC 9421 §2.1, §2.2) ----------------------------------------------


@pytest.mark.parametrize(
    ("case", "component"),
    COMPONENTS,
    ids=[f"{case['id']}:{comp['component_identifier']}" for case, comp in COMPONENTS],
)
def test_component_value(case: dict[str, Any], component: dict[str, Any]) -> None:
    message = _message(case["message"])
    identifier = ComponentId.parse(component["component_identifier"])
    assert identifier.serialized == component["component_identifier"]
    value = component_value(
        message,
        identifier,
        related_request=_message(case.get("related_request")),
        trailers=[tuple(pair) for pair in case["message"].get("trailers", [])],
        request_target=case["message"].get("request_target"),
    )
    assert value == component["expected_value"]
    assert f"{identifier.serialized}: {value}" == component["expected_line"]


def test_component_cases_are_all_exercised() -> None:
    assert len(COMPONENTS) == 39


# --- @signature-params serialisation (RFC 9421 §2.3) -------------------------------------


@pytest.mark.parametrize("case", PARAMS_CASES, ids=[c["id"] for c in PARAMS_CASES])
def test_signature_params_serialisation(case: dict[str, Any]) -> None:
    params = {name: value for name, value in case["signature_params"]}
    member = build_signature_input_member(case["covered_components"], params)
    assert member == case["expected"]
    parsed = parse_signature_input(f"sig={member}")["sig"]
    assert parsed.value == case["expected"]
    assert [c.serialized for c in parsed.components] == case["covered_components"]
    assert list(parsed.params.items()) == [tuple(p) for p in case["signature_params"]]


# --- signature bases (RFC 9421 §2.5) ------------------------------------------------------


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=[c["id"] for c in SIGNATURE_CASES])
def test_signature_base_from_field(case: dict[str, Any]) -> None:
    message = _message(case["message"])
    base = signature_base(
        message,
        case["signature_input_field"],
        case["label"],
        related_request=_message(case.get("related_request")),
    )
    assert base.decode("ascii") == _expected_base(case)


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=[c["id"] for c in SIGNATURE_CASES])
def test_signature_base_from_member(case: dict[str, Any]) -> None:
    message = _message(case["message"])
    base = signature_base(
        message,
        case["signature_input"],
        "unused-label",
        related_request=_message(case.get("related_request")),
    )
    assert base.decode("ascii") == _expected_base(case)


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=[c["id"] for c in SIGNATURE_CASES])
def test_fields_parse_and_reserialise(case: dict[str, Any]) -> None:
    label = case["label"]
    inputs = parse_signature_input(case["signature_input_field"])
    assert inputs[label].value == case["signature_input"]
    assert [c.serialized for c in inputs[label].components] == case["covered_components"]
    assert list(inputs[label].params.items()) == [tuple(p) for p in case["signature_params"]]
    signatures = parse_signature_field(case["signature_field"], accept_base64url_signature=False)
    signature = base64.b64decode(case["signature"])
    assert signatures[label] == signature
    assert set(inputs) == set(signatures)
    input_line, signature_line = build_signature_fields(label, inputs[label].value, signature)
    assert input_line == ("Signature-Input", f"{label}={case['signature_input']}")
    assert signature_line == ("Signature", f"{label}=:{case['signature']}:")
    if len(inputs) == 1:
        assert input_line[1] == case["signature_input_field"]
        assert signature_line[1] == case["signature_field"]


# --- signatures ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=[c["id"] for c in SIGNATURE_CASES])
def test_printed_signature_verifies_over_printed_base(case: dict[str, Any]) -> None:
    verifier = _any_verifier(case)
    signature = base64.b64decode(case["signature"])
    printed_base = case["signature_base"].encode("ascii")
    if case["expect_valid"]:
        assert verifier.verify(printed_base, signature) is True
    # Whatever the case, a one-byte change to the base must not verify.
    assert verifier.verify(printed_base + b" ", signature) is False


ENGINE_CASES = [c for c in SIGNATURE_CASES if not c["algorithm"].startswith("rsa")]
RSA_CASES = [c for c in SIGNATURE_CASES if c["algorithm"].startswith("rsa")]


@pytest.mark.parametrize("case", ENGINE_CASES, ids=[c["id"] for c in ENGINE_CASES])
def test_verify_message_engine_algorithms(case: dict[str, Any]) -> None:
    message = _signed(case)
    related = _message(case.get("related_request"))
    verifier = _engine_verifier(case["key_id"])
    valid = case["expect_valid"] and "signature_base_computed_from_message" not in case
    if valid:
        verified = verify_message(
            message,
            verifier,
            label=case["label"],
            algorithm=case["algorithm"],
            related_request=related,
        )
        assert verified.base.decode("ascii") == case["signature_base"]
        assert verified.signature == base64.b64decode(case["signature"])
        assert [c.serialized for c in verified.components] == case["covered_components"]
    else:
        # B.4 transformations that break the signature, and B.2.4 as printed (erratum:
        # its Content-Digest header is not the one the signer used).
        with pytest.raises(SignatureError) as info:
            verify_message(
                message,
                verifier,
                label=case["label"],
                algorithm=case["algorithm"],
                related_request=related,
            )
        assert info.value.code == "invalid_signature"
        assert "does not verify" in info.value.message


@pytest.mark.parametrize("case", RSA_CASES, ids=[c["id"] for c in RSA_CASES])
def test_rsa_signatures_verify_over_engine_base(case: dict[str, Any]) -> None:
    message = _message(case["message"])
    base = signature_base(message, case["signature_input_field"], case["label"])
    verifier = RsaVerifier(KEYS[case["key_id"]]["public_pem"], case["algorithm"])
    assert verifier.verify(base, base64.b64decode(case["signature"])) is True


def test_engine_ecdsa_verifier_agrees_with_pem_adapter() -> None:
    ecdsa_cases = [c for c in SIGNATURE_CASES if c["algorithm"] == "ecdsa-p256-sha256"]
    assert len(ecdsa_cases) == 6
    engine = _engine_verifier("test-key-ecc-p256")
    reference = PemEcdsaVerifier(KEYS["test-key-ecc-p256"]["public_pem"])
    for case in ecdsa_cases:
        base = case["signature_base"].encode("ascii")
        signature = base64.b64decode(case["signature"])
        assert engine.verify(base, signature) is reference.verify(base, signature) is True
        # Swapping r and s must break it for both.
        swapped = signature[32:] + signature[:32]
        assert engine.verify(base, swapped) is reference.verify(base, swapped) is False


DETERMINISTIC = [c for c in SIGNATURE_CASES if c["deterministic"] and c["expect_valid"]]


@pytest.mark.parametrize("case", DETERMINISTIC, ids=[c["id"] for c in DETERMINISTIC])
def test_deterministic_signatures_reproduce(case: dict[str, Any]) -> None:
    message = _message(case["message"])
    base = signature_base(message, case["signature_input"])
    if case["algorithm"] == "ed25519":
        signer: Any = NaclSigner(bytes.fromhex(KEYS[case["key_id"]]["raw"]["private_seed_hex"]))
    elif case["algorithm"] == "hmac-sha256":
        signer = HmacSha256Key(base64.b64decode(KEYS[case["key_id"]]["base64"]))
    else:
        assert case["algorithm"] == "rsa-v1_5-sha256"
        signer = RsaV15Signer(KEYS[case["key_id"]]["private_pem"])
    assert base64.b64encode(signer.sign(base)).decode("ascii") == case["signature"]


def test_deterministic_case_count() -> None:
    # B.2.5 (HMAC), B.2.6 and four valid B.4 variants (Ed25519), 4.3-proxy (RSA v1.5).
    assert sorted(c["id"] for c in DETERMINISTIC) == sorted(
        [
            "B.2.5",
            "B.2.6",
            "B.4-original",
            "B.4-added-header-and-query",
            "B.4-date-removed-referer-added-accept-combined",
            "B.4-fields-reordered",
            "4.3-proxy",
        ]
    )


@pytest.mark.parametrize("case_id", ["B.2.5", "B.2.6"])
def test_sign_message_reproduces_appendix_b(case_id: str) -> None:
    case = next(c for c in SIGNATURE_CASES if c["id"] == case_id)
    key = KEYS[case["key_id"]]
    signer: Any
    if case["algorithm"] == "ed25519":
        signer = NaclSigner(bytes.fromhex(key["raw"]["private_seed_hex"]))
    else:
        signer = HmacSha256Key(base64.b64decode(key["base64"]))
    params = dict(case["signature_params"])
    signed = sign_message(
        _message(case["message"]),
        signer,
        label=case["label"],
        components=case["covered_components"],
        created=params["created"],
        keyid=params["keyid"],
    )
    assert signed.header("Signature-Input") == case["signature_input_field"]
    assert signed.header("Signature") == case["signature_field"]
    verified = verify_message(
        signed, _engine_verifier(case["key_id"]), label=case["label"], algorithm=case["algorithm"]
    )
    assert verified.base.decode("ascii") == case["signature_base"]


def test_b24_erratum_corrected_case_verifies_and_printed_one_does_not() -> None:
    printed = next(c for c in SIGNATURE_CASES if c["id"] == "B.2.4")
    corrected = next(c for c in SIGNATURE_CASES if c["id"] == "B.2.4-corrected")
    verifier = _engine_verifier("test-key-ecc-p256")
    verified = verify_message(
        _signed(corrected), verifier, label="sig-b24", algorithm="ecdsa-p256-sha256"
    )
    assert verified.base.decode("ascii") == printed["signature_base"]
    with pytest.raises(SignatureError):
        verify_message(_signed(printed), verifier, label="sig-b24", algorithm="ecdsa-p256-sha256")


def test_two_signatures_on_one_message_4_3() -> None:
    proxy = next(c for c in SIGNATURE_CASES if c["id"] == "4.3-proxy")
    message = _signed(proxy)
    # The client's sig1 was made over the client's message (4.3-client); over the proxy's
    # message its base differs (@authority changed), so it must not verify here.
    client = next(c for c in SIGNATURE_CASES if c["id"] == "4.3-client")
    verifier = _engine_verifier("test-key-ecc-p256")
    with pytest.raises(SignatureError):
        verify_message(message, verifier, label="sig1", algorithm="ecdsa-p256-sha256")
    assert (
        verify_message(_signed(client), verifier, label="sig1", algorithm="ecdsa-p256-sha256").label
        == "sig1"
    )
    base = signature_base(message, proxy["signature_input_field"], "proxy_sig")
    rsa_verifier = RsaVerifier(KEYS["test-key-rsa"]["public_pem"], "rsa-v1_5-sha256")
    assert rsa_verifier.verify(base, base64.b64decode(proxy["signature"]))
