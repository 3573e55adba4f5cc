"""Builders, sign_token and create_resource_token: what they emit validates, what breaks a
rule is refused with LocalError (strict in what we emit)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from aauth.errors import LocalError
from aauth.jws import decode_jwt_unverified
from aauth.tokens import (
    AgentToken,
    AuthToken,
    PersonToken,
    ResourceInteraction,
    ResourceToken,
    build_agent_token,
    build_auth_token,
    build_person_token,
    create_resource_token,
    sign_token,
    validate_agent_token,
    validate_auth_token,
    validate_person_token,
    validate_resource_token,
)
from tests.test_tokens_common import (
    AGENT_KEY,
    AP,
    AP_KEY,
    AS,
    AS_KEY,
    EC_AGENT_KEY,
    MISSION,
    NOW,
    PS,
    PS_KEY,
    RESOURCE,
    RESOURCE_KEY,
    issuer_jwks,
)

SUB = "8f14e45fceea167a5a36dedd4bea2543"


def _agent(**options: Any) -> str:
    args: dict[str, Any] = {
        "kid": "ap-key-1",
        "now": NOW,
        "jti": "at-1",
        "iss": AP,
        "sub": "aauth:assistant@agent.example",
        "cnf_jwk": AGENT_KEY.public_key,
        **options,
    }
    return build_agent_token(AP_KEY, **args)


def _person(**options: Any) -> str:
    args: dict[str, Any] = {
        "kid": "ps-key-1",
        "now": NOW,
        "jti": "pt-1",
        "iss": PS,
        "aud": RESOURCE,
        "sub": SUB,
        "cnf_jwk": AGENT_KEY.public_jwk,
        **options,
    }
    return build_person_token(PS_KEY, **args)


def _auth(**options: Any) -> str:
    args: dict[str, Any] = {
        "kid": "as-key-1",
        "now": NOW,
        "jti": "auth-1",
        "iss": AS,
        "dwk": "aauth-access.json",
        "aud": RESOURCE,
        "ps": PS,
        "sub": SUB,
        "cnf_jwk": AGENT_KEY.public_key,
        **options,
    }
    return build_auth_token(AS_KEY, **args)


def _person_model() -> PersonToken:
    return validate_person_token(
        _person(mission_s256=MISSION, tenant="corp"),
        PS_KEY.public_key,
        now=NOW,
        audience=RESOURCE,
    )


def _resource(**options: Any) -> str:
    args: dict[str, Any] = {
        "kid": "res-key-1",
        "now": NOW,
        "jti": "rt-1",
        "iss": RESOURCE,
        "aud": PS,
        "agent_jkt": AGENT_KEY.thumbprint,
        "scope": "data.read",
        **options,
    }
    if "person_token" not in args and "ps" not in args:
        args["person_token"] = _person_model()
    return create_resource_token(RESOURCE_KEY, **args)


# --------------------------------------------------------------------------- agent


def test_agent_token_built_validates() -> None:
    token = _agent(ps=PS, extra_claims={"attestation": "tpm"})
    header, claims = decode_jwt_unverified(token)
    assert header == {"alg": "Ed25519", "typ": "aa-agent+jwt", "kid": "ap-key-1"}
    assert list(claims) == ["iss", "dwk", "sub", "jti", "cnf", "iat", "exp", "ps", "attestation"]
    agent = validate_agent_token(token, AP_KEY.public_key, now=NOW)
    assert (agent.iat, agent.exp, agent.extra) == (NOW, NOW + 3600, {"attestation": "tpm"})
    assert agent.cnf_jwk == AGENT_KEY.public_jwk


def test_agent_lifetime_capped_at_24h_and_not_after() -> None:
    agent = validate_agent_token(_agent(lifetime=10**6), AP_KEY.public_key, now=NOW)
    assert agent.exp == NOW + 86400
    agent = validate_agent_token(_agent(not_after=NOW + 60), AP_KEY.public_key, now=NOW)
    assert agent.exp == NOW + 60


def test_subagent_token_built() -> None:
    token = _agent(
        sub="aauth:assistant+child@agent.example", parent_agent="aauth:assistant@agent.example"
    )
    assert validate_agent_token(token, AP_KEY.public_key, now=NOW).is_subagent


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"iss": "https://agent.example/"}, "'iss'"),
        ({"sub": "aauth:assistant@other.example"}, "'sub'"),
        ({"sub": "Assistant"}, "'sub'"),
        ({"jti": ""}, "'jti'"),
        ({"kid": ""}, "kid"),
        ({"cnf_jwk": {"kty": "OKP", "crv": "Ed25519", "x": AGENT_KEY.public_jwk["x"]}}, "alg"),
        ({"cnf_jwk": {**AGENT_KEY.public_jwk, "alg": "EdDSA"}}, "cnf.jwk"),
        ({"cnf_jwk": "jwk"}, "cnf_jwk"),
        ({"ps": "http://ps.example"}, "'ps'"),
        ({"parent_agent": "aauth:assistant@agent.example"}, "'parent_agent'"),
        ({"extra_claims": {"sub": "aauth:x@agent.example"}}, "shadow"),
        ({"extra_claims": {"blob": object()}}, "JSON"),
        ({"now": "now"}, "now"),
        ({"now": True}, "now"),
        ({"lifetime": 0}, "lifetime"),
        ({"not_after": NOW}, "not_after"),
        ({"not_after": "later"}, "not_after"),
    ],
)
def test_agent_builder_refuses(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(LocalError, match=fragment):
        _agent(**options)


def test_dev_loopback_only_when_asked() -> None:
    options = {"iss": "http://localhost:8080", "sub": "aauth:dev@localhost:8080"}
    with pytest.raises(LocalError):
        _agent(**options)
    token = _agent(**options, allow_insecure_loopback_for_development=True)
    agent = validate_agent_token(
        token, AP_KEY.public_key, now=NOW, allow_insecure_loopback_for_development=True
    )
    assert agent.iss == "http://localhost:8080"


# --------------------------------------------------------------------------- person


def test_person_token_built_validates() -> None:
    token = _person(mission_s256=MISSION, tenant="corp")
    person = validate_person_token(token, PS_KEY.public_key, now=NOW, audience=RESOURCE)
    assert (person.mission_s256, person.tenant, person.exp) == (MISSION, "corp", NOW + 3600)
    header, claims = decode_jwt_unverified(token)
    assert header["typ"] == "aa-person+jwt"
    assert "scope" not in claims and "account" not in claims


def test_person_lifetime_capped_at_1h_and_bounds() -> None:
    assert decode_jwt_unverified(_person(lifetime=7200))[1]["exp"] == NOW + 3600
    agent_exp = NOW + 1200
    assert decode_jwt_unverified(_person(not_after=agent_exp))[1]["exp"] == agent_exp


@pytest.mark.parametrize(
    "options",
    [
        {"extra_claims": {"scope": "data.read"}},
        {"extra_claims": {"account": "a"}},
        {"aud": "https://resource.example/"},
        {"aud": ""},
        {"sub": ""},
        {"mission_s256": "not-a-digest"},
        {"tenant": ""},
        {"cnf_jwk": {**EC_AGENT_KEY.public_jwk, "alg": "ES384"}},
    ],
)
def test_person_builder_refuses(options: dict[str, Any]) -> None:
    with pytest.raises(LocalError, match="refusing to sign"):
        _person(**options)


# --------------------------------------------------------------------------- auth


def test_auth_token_built_by_an_as_validates() -> None:
    token = _auth(scope="data.read", extra_claims={"email": "u@example.com"}, mission_s256=MISSION)
    auth = validate_auth_token(token, AS_KEY.public_key, now=NOW, audience=RESOURCE)
    assert auth.dwk == "aauth-access.json"
    assert auth.extra == {"email": "u@example.com"}
    assert decode_jwt_unverified(token)[0]["alg"] == "ES256"


def test_auth_token_built_by_a_ps() -> None:
    token = build_auth_token(
        PS_KEY,
        kid="ps-key-1",
        now=NOW,
        jti="a-2",
        iss=PS,
        dwk="aauth-person.json",
        aud=RESOURCE,
        ps=PS,
        sub=SUB,
        cnf_jwk=EC_AGENT_KEY.public_key,
        account="acct",
        tenant="corp",
    )
    auth = validate_auth_token(token, PS_KEY.public_key, now=NOW, audience=RESOURCE)
    assert (auth.ps, auth.account, auth.tenant) == (PS, "acct", "corp")
    assert auth.cnf_thumbprint == EC_AGENT_KEY.thumbprint


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"dwk": "aauth-resource.json"}, "'dwk'"),
        ({"dwk": "aauth-person.json"}, "'ps'"),  # PS-issued: ps must equal iss
        ({"scope": "a  b"}, "'scope'"),
        ({"scope": ""}, "'scope'"),  # never emit "": omit scope (pass None) instead
        ({"ps": ""}, "'ps'"),
        ({"lifetime": -5}, "lifetime"),
    ],
)
def test_auth_builder_refuses(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(LocalError, match=fragment):
        _auth(**options)


def test_auth_lifetime_capped() -> None:
    assert decode_jwt_unverified(_auth(lifetime=99999))[1]["exp"] == NOW + 3600


# --------------------------------------------------------------------------- resource


def test_resource_token_copies_the_person_token() -> None:
    token = _resource(account="acct-1")
    header, claims = decode_jwt_unverified(token)
    assert header == {"alg": "Ed25519", "typ": "aa-resource+jwt", "kid": "res-key-1"}
    assert claims == {
        "iss": RESOURCE,
        "dwk": "aauth-resource.json",
        "aud": PS,
        "jti": "rt-1",
        "ps": PS,
        "sub": SUB,
        "presented_jti": "pt-1",
        "agent_jkt": AGENT_KEY.thumbprint,
        "iat": NOW,
        "exp": NOW + 300,
        "scope": "data.read",
        "account": "acct-1",
        "mission_s256": MISSION,  # copied: MUST NOT be omitted
        "tenant": "corp",
    }
    assert "person_token_jti" not in claims
    model = validate_resource_token(token, RESOURCE_KEY.public_key, now=NOW, audience=PS)
    assert model.presented_jti == "pt-1"


def test_resource_token_legacy_person_token_jti_only_when_asked() -> None:
    # default: the -11 name only
    strict = decode_jwt_unverified(_resource())[1]
    assert "person_token_jti" not in strict
    # compatibility option (@hellocoop/mockin 2.0.0 reads only person_token_jti)
    token = _resource(emit_legacy_person_token_jti=True)
    claims = decode_jwt_unverified(token)[1]
    assert claims["presented_jti"] == claims["person_token_jti"] == "pt-1"
    names = list(claims)
    assert names.index("person_token_jti") == names.index("presented_jti") + 1
    assert {k: v for k, v in claims.items() if k != "person_token_jti"} == strict
    model = validate_resource_token(token, RESOURCE_KEY.public_key, now=NOW, audience=PS)
    assert model.presented_jti == "pt-1"
    assert "person_token_jti" not in model.extra
    # from a record (no person token) too
    claims = decode_jwt_unverified(
        _resource(
            person_token=None,
            ps=PS,
            sub=SUB,
            presented_jti="pt-7",
            emit_legacy_person_token_jti=True,
        )
    )[1]
    assert claims["presented_jti"] == claims["person_token_jti"] == "pt-7"


def test_resource_token_explicit_values_must_agree() -> None:
    assert _resource(ps=PS, sub=SUB, presented_jti="pt-1", person_token=_person_model())
    for name, value in (
        ("ps", "https://other.example"),
        ("sub", "other"),
        ("presented_jti", "pt-9"),
        ("mission_s256", "A" * 43),
        ("tenant", "other"),
    ):
        with pytest.raises(LocalError, match="contradicts"):
            _resource(person_token=_person_model(), **{name: value})


def test_resource_token_from_a_record_without_person_token() -> None:
    token = _resource(ps=PS, sub=SUB, presented_jti="pt-7")
    claims = decode_jwt_unverified(token)[1]
    assert (claims["ps"], claims["sub"], claims["presented_jti"]) == (PS, SUB, "pt-7")
    assert "mission_s256" not in claims
    for missing in ("ps", "sub", "presented_jti"):
        values = {"ps": PS, "sub": SUB, "presented_jti": "pt-7"}
        del values[missing]
        with pytest.raises(LocalError, match=f"^{missing} is REQUIRED"):
            _resource(person_token=None, **values)


def test_resource_token_lifetime_capped_at_5_minutes_and_expires_at() -> None:
    assert decode_jwt_unverified(_resource(lifetime=3600))[1]["exp"] == NOW + 300
    assert decode_jwt_unverified(_resource(lifetime=60))[1]["exp"] == NOW + 60
    assert decode_jwt_unverified(_resource(expires_at=NOW + 100))[1]["exp"] == NOW + 100
    with pytest.raises(LocalError, match="not_after"):
        _resource(expires_at=NOW)


def test_resource_token_interaction() -> None:
    step = ResourceInteraction(url="https://resource.example/interaction", code="A1B2-C3D4")
    token = _resource(interaction=step)
    assert decode_jwt_unverified(token)[1]["interaction"] == {
        "url": "https://resource.example/interaction",
        "code": "A1B2-C3D4",
    }
    model = validate_resource_token(token, RESOURCE_KEY.public_key, now=NOW, audience=PS)
    assert model.interaction == step
    with pytest.raises(LocalError):
        _resource(interaction={"url": step.url, "code": step.code})
    with pytest.raises(LocalError, match="'interaction'"):
        _resource(interaction=ResourceInteraction(url="https://r.example/i?q=1", code="x"))


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"agent_jkt": "not-a-thumbprint"}, "'agent_jkt'"),
        ({"agent_jkt": AGENT_KEY.thumbprint + "="}, "'agent_jkt'"),
        ({"scope": ""}, "'scope'"),
        ({"scope": "a\tb"}, "'scope'"),
        ({"aud": "https://ps.example:443"}, "'aud'"),
        ({"iss": "https://Resource.example"}, "'iss'"),
        ({"kid": ""}, "kid"),
        ({"account": ""}, "'account'"),
        ({"person_token": None, "ps": "ps.example", "sub": SUB, "presented_jti": "p"}, "'ps'"),
    ],
)
def test_resource_token_refuses_bad_inputs(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(LocalError, match=fragment):
        _resource(**options)


# --------------------------------------------------------------------------- sign_token


def test_sign_token_models_directly() -> None:
    model = ResourceToken(
        iss=RESOURCE,
        aud=AS,
        jti="rt-9",
        ps=PS,
        sub=SUB,
        presented_jti="pt-1",
        agent_jkt=AGENT_KEY.thumbprint,
        iat=NOW,
        exp=NOW + 120,
        kid="res-key-1",
        scope="data.read",
    )
    token = sign_token(model, RESOURCE_KEY)
    assert validate_resource_token(token, RESOURCE_KEY.public_key, now=NOW, audience=AS) == model


def test_sign_token_refuses() -> None:
    with pytest.raises(LocalError):
        sign_token({"iss": AP}, AP_KEY)  # type: ignore[arg-type]
    too_long = AgentToken(
        iss=AP,
        sub="aauth:a@agent.example",
        jti="j",
        cnf_jwk=AGENT_KEY.public_jwk,
        iat=NOW,
        exp=NOW + 86401,
        kid="k",
    )
    with pytest.raises(LocalError, match="cap"):
        sign_token(too_long, AP_KEY)
    legacy = ResourceToken(
        iss=RESOURCE,
        aud=AS,
        jti="rt-9",
        ps=PS,
        sub=SUB,
        presented_jti="pt-1",
        agent_jkt=AGENT_KEY.thumbprint,
        iat=NOW,
        exp=NOW + 120,
        kid="res-key-1",
        scope="data.read",
        extra={"person_token_jti": "pt-1"},
    )
    with pytest.raises(LocalError, match="shadow"):
        sign_token(legacy, RESOURCE_KEY)  # the legacy alias only through the option
    plain = msgspec.structs.replace(legacy, extra={})
    token = sign_token(plain, RESOURCE_KEY, emit_legacy_person_token_jti=True)
    assert decode_jwt_unverified(token)[1]["person_token_jti"] == "pt-1"
    with pytest.raises(LocalError, match="shadow"):
        sign_token(legacy, RESOURCE_KEY, emit_legacy_person_token_jti=True)
    with pytest.raises(LocalError, match="resource tokens only"):
        sign_token(too_long, AP_KEY, emit_legacy_person_token_jti=True)


def test_sign_token_never_emits_an_empty_auth_scope() -> None:
    model = AuthToken(
        iss=AS,
        dwk="aauth-access.json",
        aud=RESOURCE,
        jti="a-1",
        ps=PS,
        sub=SUB,
        cnf_jwk=AGENT_KEY.public_jwk,
        iat=NOW,
        exp=NOW + 60,
        kid="as-key-1",
        scope="",
    )
    with pytest.raises(LocalError, match="'scope'"):
        sign_token(model, AS_KEY)
    token = sign_token(msgspec.structs.replace(model, scope=None), AS_KEY)
    assert "scope" not in decode_jwt_unverified(token)[1]


def test_built_tokens_validate_with_jwks() -> None:
    jwks = issuer_jwks("aa-agent+jwt")
    assert validate_agent_token(_agent(), jwks, now=NOW).kid == "ap-key-1"
