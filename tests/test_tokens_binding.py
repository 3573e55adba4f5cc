"""Key binding (check_key_binding, verify_token) and the PS's presented_jti records."""

from __future__ import annotations

from typing import Any

import pytest

from aauth.errors import LocalError
from aauth.jws import decode_jwt_unverified
from aauth.tokens import (
    PersonTokenRecord,
    TokenError,
    check_key_binding,
    check_presented_jti,
    validate_agent_token,
    validate_auth_token,
    validate_person_token,
    validate_resource_token,
    verify_token,
)
from tests.test_tokens_common import (
    AGENT_KEY,
    EC_AGENT_KEY,
    MISSION,
    NOW,
    OTHER_AGENT_KEY,
    PS,
    RESOURCE,
    TYPES,
    issuer_jwks,
    make_token,
    rejects,
)

AUDIENCE = {
    "aa-agent+jwt": None,
    "aa-person+jwt": RESOURCE,
    "aa-resource+jwt": PS,
    "aa-auth+jwt": RESOURCE,
}
BINDING_CLAIM = {
    "aa-agent+jwt": "cnf.jwk",
    "aa-person+jwt": "cnf.jwk",
    "aa-resource+jwt": "agent_jkt",
    "aa-auth+jwt": "cnf.jwk",
}
INVALID = {
    "aa-agent+jwt": "invalid_agent_token",
    "aa-person+jwt": "invalid_person_token",
    "aa-resource+jwt": "invalid_resource_token",
    "aa-auth+jwt": "invalid_request",
}


def _verify(typ: str, token: str, thumbprint: str, **options: Any) -> Any:
    options.setdefault("audience", AUDIENCE[typ])
    return verify_token(
        token,
        keys=issuer_jwks(typ),
        now=NOW,
        expected_typ=typ,
        http_signature_thumbprint=thumbprint,
        **options,
    )


@pytest.mark.parametrize("typ", TYPES)
def test_verify_token_accepts_the_bound_key(typ: str) -> None:
    model = _verify(typ, make_token(typ), AGENT_KEY.thumbprint)
    assert typ == model.TYP


@pytest.mark.parametrize("typ", TYPES)
def test_key_binding_mismatch(typ: str) -> None:
    with pytest.raises(TokenError) as info:
        _verify(typ, make_token(typ), OTHER_AGENT_KEY.thumbprint)
    error = info.value
    assert error.claim == BINDING_CLAIM[typ]
    assert error.signature_code == "invalid_jwt"
    assert error.endpoint_code == INVALID[typ]
    assert "thumbprint" in error.message
    with pytest.raises(TokenError) as info:
        _verify(typ, make_token(typ), OTHER_AGENT_KEY.thumbprint, error_codes="endpoint")
    assert info.value.code == INVALID[typ]


def test_binding_compares_thumbprints_not_json() -> None:
    """cnf.jwk with members reordered and extra members still binds (digest §3.5)."""
    jwk = AGENT_KEY.public_jwk
    reordered = {
        "alg": jwk["alg"],
        "x": jwk["x"],
        "kid": "agent-1",
        "crv": jwk["crv"],
        "kty": "OKP",
    }
    token = make_token("aa-agent+jwt", cnf={"jwk": reordered})
    agent = _verify("aa-agent+jwt", token, AGENT_KEY.thumbprint)
    assert agent.cnf_jwk == reordered
    check_key_binding(decode_jwt_unverified(token)[1], AGENT_KEY.thumbprint)


def test_binding_on_claims_mappings() -> None:
    agent_claims = decode_jwt_unverified(make_token("aa-agent+jwt"))[1]
    check_key_binding(agent_claims, AGENT_KEY.thumbprint)
    with rejects("invalid_jwt", "cnf.jwk") as info:
        check_key_binding(agent_claims, EC_AGENT_KEY.thumbprint)
    assert info.value.typ is None
    assert info.value.message.startswith("token claim 'cnf.jwk'")
    resource_claims = decode_jwt_unverified(make_token("aa-resource+jwt"))[1]
    check_key_binding(resource_claims, AGENT_KEY.thumbprint)
    with rejects("invalid_jwt", "agent_jkt"):
        check_key_binding(resource_claims, EC_AGENT_KEY.thumbprint)
    with pytest.raises(TokenError) as endpoint:
        check_key_binding(resource_claims, EC_AGENT_KEY.thumbprint, error_codes="endpoint")
    assert endpoint.value.code == "invalid_request"
    unbound_claims: list[dict[str, Any]] = [{}, {"cnf": {}}, {"cnf": "x"}, {"cnf": {"jwk": []}}]
    for unbound in unbound_claims:
        with rejects("invalid_jwt", "cnf.jwk"):
            check_key_binding(unbound, AGENT_KEY.thumbprint)
    with rejects("invalid_key", "cnf.jwk"):
        check_key_binding({"cnf": {"jwk": {"kty": "OKP"}}}, AGENT_KEY.thumbprint)
    with rejects("invalid_jwt", "agent_jkt"):
        check_key_binding({"agent_jkt": "short"}, AGENT_KEY.thumbprint)


def test_binding_misuse_is_local_error() -> None:
    agent = validate_agent_token(make_token("aa-agent+jwt"), issuer_jwks("aa-agent+jwt"), now=NOW)
    with pytest.raises(LocalError):
        check_key_binding(agent, b"bytes")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        check_key_binding("a.b.c", AGENT_KEY.thumbprint)  # type: ignore[arg-type]


def test_es256_agent_key_binding() -> None:
    token = make_token("aa-auth+jwt", cnf={"jwk": EC_AGENT_KEY.public_jwk})
    assert _verify("aa-auth+jwt", token, EC_AGENT_KEY.thumbprint).cnf_key == EC_AGENT_KEY.public_key
    with rejects("invalid_jwt", "cnf.jwk"):
        _verify("aa-auth+jwt", token, AGENT_KEY.thumbprint)


def test_subagent_binding_at_the_ps() -> None:
    """digest §1.8 step 4: resource_token.agent_jkt is the thumbprint of
    subagent_token.cnf.jwk (the sub-agent's key, not the signing parent's)."""
    sub_agent = validate_agent_token(
        make_token(
            "aa-agent+jwt",
            sub="aauth:assistant-v2+child@agent.example",
            parent_agent="aauth:assistant-v2@agent.example",
            cnf={"jwk": OTHER_AGENT_KEY.public_jwk},
        ),
        issuer_jwks("aa-agent+jwt"),
        now=NOW,
    )
    resource = validate_resource_token(
        make_token("aa-resource+jwt", agent_jkt=OTHER_AGENT_KEY.thumbprint),
        issuer_jwks("aa-resource+jwt"),
        now=NOW,
        audience=PS,
    )
    check_key_binding(resource, sub_agent.cnf_thumbprint)
    with rejects("invalid_resource_token", "agent_jkt"):
        check_key_binding(resource, AGENT_KEY.thumbprint)  # the parent's key


def test_verify_token_misuse() -> None:
    with pytest.raises(LocalError):
        _verify("aa-person+jwt", make_token("aa-person+jwt"), AGENT_KEY.thumbprint, audience=None)


# --------------------------------------------------------------------------- records


def _person() -> Any:
    return validate_person_token(
        make_token("aa-person+jwt", tenant="corp"),
        issuer_jwks("aa-person+jwt"),
        now=NOW,
        audience=RESOURCE,
    )


def _resource(**claims: Any) -> Any:
    return validate_resource_token(
        make_token("aa-resource+jwt", **{"tenant": "corp", **claims}),
        issuer_jwks("aa-resource+jwt"),
        now=NOW,
        audience=PS,
    )


def test_record_from_person_token() -> None:
    record = PersonTokenRecord.from_token(_person())
    assert record == PersonTokenRecord(
        jti="pt-3ab910",
        ps=PS,
        sub="8f14e45fceea167a5a36dedd4bea2543",
        exp=NOW + 3600,
        mission_s256=MISSION,
        tenant="corp",
    )
    assert record.retain_until() == NOW + 3600 + 300
    assert record.retain_until(600) == NOW + 3600 + 600
    with pytest.raises(LocalError):
        PersonTokenRecord.from_token("token")  # type: ignore[arg-type]


def test_presented_jti_matches_record() -> None:
    check_presented_jti(_resource(), PersonTokenRecord.from_token(_person()))


def test_presented_jti_without_record() -> None:
    with rejects("unknown_person_token", "presented_jti") as info:
        check_presented_jti(_resource(), None)
    assert info.value.signature_code == "invalid_jwt"
    other = PersonTokenRecord.from_token(_person())
    wrong_jti = PersonTokenRecord(**{**_as_dict(other), "jti": "pt-other"})
    with rejects("unknown_person_token", "presented_jti"):
        check_presented_jti(_resource(), wrong_jti)


def _as_dict(record: PersonTokenRecord) -> dict[str, Any]:
    return {f: getattr(record, f) for f in record.__struct_fields__}


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("mission_s256", None),  # mission stripping
        ("mission_s256", "A" * 43),
        ("ps", "https://other-ps.example"),
        ("sub", "someone-else"),
        ("tenant", None),
        ("tenant", "other"),
    ],
)
def test_presented_jti_record_mismatch(claim: str, value: Any) -> None:
    from tests.test_tokens_common import DROP

    resource = _resource(**{claim: DROP if value is None else value})
    with rejects("invalid_resource_token", claim) as info:
        check_presented_jti(resource, PersonTokenRecord.from_token(_person()))
    assert ("omitted" in info.value.message) == (value is None)


def test_presented_jti_misuse() -> None:
    with pytest.raises(LocalError):
        check_presented_jti(_person(), None)
    auth = validate_auth_token(
        make_token("aa-auth+jwt"), issuer_jwks("aa-auth+jwt"), now=NOW, audience=RESOURCE
    )
    with pytest.raises(LocalError):
        check_presented_jti(auth, None)  # type: ignore[arg-type]
