"""The computed vectors (aauth-computed.json, kind ``jwt`` and ``signed-request``) and the
digest §9.1 token examples, as far as they are real tokens (digest §11 item 21: the spec's
token and key values are placeholders)."""

from __future__ import annotations

from typing import Any

import pytest

from aauth.http import HttpRequest
from aauth.jws import decode_jwt_unverified
from aauth.keys import Ed25519Key
from aauth.signing import verify_request
from aauth.tokens import (
    AgentToken,
    build_agent_token,
    sign_token,
    validate_agent_token,
    validate_person_token,
    verify_token,
)
from tests.test_tokens_common import (
    AP_KEY,
    COMPUTED,
    KEYS,
    PS_KEY,
    RESOURCE,
    raw_token,
    rejects,
)

JWT_CASES = [c for c in COMPUTED["cases"] if c["kind"] == "jwt"]
REQUEST_CASES = [c for c in COMPUTED["cases"] if c["kind"] == "signed-request"]
AP_JWKS = {"keys": [{**KEYS["digest-ap-key"]["public_jwk"], "kid": "ap-key-1"}]}


def _agent_key(case: dict[str, Any]) -> Ed25519Key:
    jwk = case["inputs"]["payload"]["cnf"]["jwk"]
    for entry in KEYS.values():
        if entry["public_jwk"]["x"] == jwk["x"]:
            return Ed25519Key.from_jwk(entry["private_jwk"])
    raise AssertionError("agent key not in the vector pack")


def test_the_pack_has_both_agent_token_vectors() -> None:
    assert {c["id"] for c in JWT_CASES} == {
        "digest-9.2/agent-token",
        "rfc8037-1767225600/agent-token",
    }


@pytest.mark.parametrize("case", JWT_CASES, ids=lambda c: c["id"])
def test_agent_token_vector_validates_with_the_ap_key(case: dict[str, Any]) -> None:
    token = case["expected"]["jwt"]
    payload = case["inputs"]["payload"]
    now = payload["iat"] + 600  # the digest's request time: created = iat + 600
    for keys in (AP_KEY.public_key, KEYS["digest-ap-key"]["public_jwk"], AP_JWKS):
        agent = validate_agent_token(token, keys, now=now)
        assert isinstance(agent, AgentToken)
        assert agent.claims() == payload
        assert agent.kid == "ap-key-1"
    assert agent.cnf_thumbprint == _agent_key(case).thumbprint


def test_digest_agent_jkt_value() -> None:
    token = JWT_CASES[0]["expected"]["jwt"]
    agent = validate_agent_token(token, AP_JWKS, now=1_730_217_600)
    assert agent.cnf_thumbprint == "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"  # digest §9.2


@pytest.mark.parametrize("case", JWT_CASES, ids=lambda c: c["id"])
def test_agent_token_vector_time_window(case: dict[str, Any]) -> None:
    token = case["expected"]["jwt"]
    payload = case["inputs"]["payload"]
    with rejects("expired_jwt", "exp"):
        validate_agent_token(token, AP_JWKS, now=payload["exp"] + 60)
    assert validate_agent_token(token, AP_JWKS, now=payload["exp"] + 59)
    with rejects("invalid_jwt", "iat"):
        validate_agent_token(token, AP_JWKS, now=payload["iat"] - 61)


@pytest.mark.parametrize("case", JWT_CASES, ids=lambda c: c["id"])
def test_agent_token_vector_rebuilt_byte_for_byte(case: dict[str, Any]) -> None:
    payload = case["inputs"]["payload"]
    built = build_agent_token(
        AP_KEY,
        kid="ap-key-1",
        now=payload["iat"],
        jti=payload["jti"],
        iss=payload["iss"],
        sub=payload["sub"],
        cnf_jwk=_agent_key(case).public_key,
        lifetime=payload["exp"] - payload["iat"],
        ps=payload["ps"],
    )
    assert built == case["expected"]["jwt"]
    agent = validate_agent_token(built, AP_JWKS, now=payload["iat"])
    assert sign_token(agent, AP_KEY) == built  # model -> token round trip


@pytest.mark.parametrize("case", JWT_CASES, ids=lambda c: c["id"])
def test_agent_token_vector_is_refused_as_other_types(case: dict[str, Any]) -> None:
    token = case["expected"]["jwt"]
    with rejects("invalid_jwt", "header.typ"):
        validate_person_token(token, AP_JWKS, now=1_730_217_600, audience=RESOURCE)


@pytest.mark.parametrize("case", REQUEST_CASES, ids=lambda c: c["id"])
def test_signed_request_vectors_end_to_end(case: dict[str, Any]) -> None:
    """Request signature (aauth.signing) then the agent token with key binding (aauth.tokens)."""
    inputs, expected = case["inputs"], case["expected"]
    body = (inputs["body"] or "").encode()
    request = HttpRequest(inputs["method"], inputs["target_uri"], expected["request_headers"], body)
    now = inputs["created"]
    verified = verify_request(request, now=now)
    assert verified.token is not None
    agent = verify_token(
        verified.token,
        keys=AP_JWKS,
        now=now,
        expected_typ="aa-agent+jwt",
        http_signature_thumbprint=verified.thumbprint,
    )
    assert agent.sub == "aauth:assistant-v2@agent.example"
    assert agent.cnf_thumbprint == verified.thumbprint
    # the same token presented with a request signed by another key is not bound to it
    with rejects("invalid_jwt", "cnf.jwk"):
        verify_token(
            verified.token,
            keys=AP_JWKS,
            now=now,
            expected_typ="aa-agent+jwt",
            http_signature_thumbprint=PS_KEY.thumbprint,
        )


# --------------------------------------------------------------------------- digest §9.1

# The person-token example of digest §9.1, header and payload as printed.
EXAMPLE_PERSON_HEADER = {"typ": "aa-person+jwt", "alg": "Ed25519", "kid": "ps-key-1"}
EXAMPLE_PERSON_PAYLOAD: dict[str, Any] = {
    "iss": "https://ps.example",
    "dwk": "aauth-person.json",
    "aud": "https://resource.example",
    "sub": "8f14e45fceea167a5a36dedd4bea2543",
    "cnf": {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "NzbLsXh8uDCcd...", "alg": "Ed25519"}},
    "mission_s256": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "jti": "pt-3ab910",
    "iat": 1730217600,
    "exp": 1730221200,
}


def test_person_token_example_with_a_real_cnf_key_validates() -> None:
    """The example signed by a test PS key, with the placeholder ``x`` replaced by the
    digest's agent key; the PKCE-string ``mission_s256`` has the form of a digest."""
    payload = {
        **EXAMPLE_PERSON_PAYLOAD,
        "cnf": {
            "jwk": {
                **EXAMPLE_PERSON_PAYLOAD["cnf"]["jwk"],
                "x": KEYS["rfc9421-test-key-ed25519"]["public_jwk"]["x"],
            }
        },
    }
    token = raw_token(EXAMPLE_PERSON_HEADER, payload, PS_KEY)
    person = validate_person_token(token, PS_KEY.public_key, now=1730217600, audience=RESOURCE)
    assert person.claims() == payload
    assert person.mission_s256 == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert person.cnf_thumbprint == "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"
    assert decode_jwt_unverified(token)[0] == EXAMPLE_PERSON_HEADER


def test_person_token_example_as_printed_has_a_placeholder_key() -> None:
    """digest §11 item 21: ``x`` is a placeholder, so the example's key is unusable."""
    token = raw_token(EXAMPLE_PERSON_HEADER, EXAMPLE_PERSON_PAYLOAD, PS_KEY)
    with rejects("invalid_key", "cnf.jwk"):
        validate_person_token(token, PS_KEY.public_key, now=1730217600, audience=RESOURCE)


# The sub-agent token payload of digest §9.1, as printed (no jti/iat/exp, placeholder x).
EXAMPLE_SUBAGENT_PAYLOAD: dict[str, Any] = {
    "iss": "https://vendor.example",
    "dwk": "aauth-agent.json",
    "sub": "aauth:planner.7f3c+search1@vendor.example",
    "cnf": {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "...", "alg": "Ed25519"}},
    "ps": "https://ps.example",
    "parent_agent": "aauth:planner.7f3c@vendor.example",
}


def test_subagent_example_completed_validates() -> None:
    payload = {
        **EXAMPLE_SUBAGENT_PAYLOAD,
        "cnf": {"jwk": KEYS["rfc8037-a1"]["public_jwk"]},
        "jti": "sa-1",
        "iat": 1730217600,
        "exp": 1730221200,
    }
    header = {"alg": "Ed25519", "typ": "aa-agent+jwt", "kid": "ap-key-1"}
    agent = validate_agent_token(raw_token(header, payload, AP_KEY), AP_JWKS, now=1730217600)
    assert agent.is_subagent
    assert agent.parent_agent == "aauth:planner.7f3c@vendor.example"
    assert agent.cnf_thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"  # RFC 8037 A.3


def test_subagent_example_as_printed_is_incomplete() -> None:
    header = {"alg": "Ed25519", "typ": "aa-agent+jwt", "kid": "ap-key-1"}
    token = raw_token(header, EXAMPLE_SUBAGENT_PAYLOAD, AP_KEY)
    with rejects("invalid_jwt", "exp"):  # the printed payload omits the time claims
        validate_agent_token(token, AP_JWKS, now=1730217600)
