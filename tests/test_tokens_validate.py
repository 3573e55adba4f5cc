"""Validators: every MUST of digest §4 for each token type, with its rejection code and claim."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aauth.errors import LocalError
from aauth.jws import parse_jwt
from aauth.tokens import (
    AgentToken,
    AuthToken,
    PersonToken,
    ResourceInteraction,
    ResourceToken,
    TokenError,
    token_discovery,
    validate_agent_token,
    validate_auth_token,
    validate_person_token,
    validate_resource_token,
    validate_token,
)
from tests.test_tokens_common import (
    AGENT_KEY,
    AP_KEY,
    AS,
    DROP,
    EC_AGENT_KEY,
    ISSUER_KEY,
    KID,
    MISSION,
    NOW,
    OTHER_AGENT_KEY,
    PS,
    PS_KEY,
    RESOURCE,
    TYPES,
    base_claims,
    issuer_jwks,
    make_token,
    raw_token,
    rejects,
)

AUDIENCE = {
    "aa-agent+jwt": None,
    "aa-person+jwt": RESOURCE,
    "aa-resource+jwt": PS,
    "aa-auth+jwt": RESOURCE,
}
INVALID = {
    "aa-agent+jwt": "invalid_agent_token",
    "aa-person+jwt": "invalid_person_token",
    "aa-resource+jwt": "invalid_resource_token",
    "aa-auth+jwt": "invalid_request",
}
EXPIRED = {
    "aa-agent+jwt": "expired_agent_token",
    "aa-person+jwt": "invalid_person_token",
    "aa-resource+jwt": "expired_resource_token",
    "aa-auth+jwt": "invalid_request",
}
VALIDATORS: dict[str, Callable[..., Any]] = {
    "aa-agent+jwt": validate_agent_token,
    "aa-person+jwt": validate_person_token,
    "aa-resource+jwt": validate_resource_token,
    "aa-auth+jwt": validate_auth_token,
}
CNF_TYPES = ("aa-agent+jwt", "aa-person+jwt", "aa-auth+jwt")
AUD_TYPES = ("aa-person+jwt", "aa-resource+jwt", "aa-auth+jwt")


def check(typ: str, token: Any, **options: Any) -> Any:
    """Validate with the type's validator, its issuer JWKS and :data:`NOW`, in signature
    codes (so the expected codes below are the Signature-Error ones unless stated)."""
    options.setdefault("now", NOW)
    options.setdefault("error_codes", "signature")
    if AUDIENCE[typ] is not None:
        options.setdefault("audience", AUDIENCE[typ])
    keys = options.pop("keys", issuer_jwks(typ))
    return VALIDATORS[typ](token, keys, **options)


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("typ", TYPES)
def test_valid_token_of_each_type_validates(typ: str) -> None:
    model = check(typ, make_token(typ))
    claims = base_claims(typ)
    assert typ == model.TYP
    assert model.kid == KID[typ]
    assert model.iss == claims["iss"]
    assert (model.iat, model.exp) == (claims["iat"], claims["exp"])
    assert model.claims() == claims  # the model gives back exactly what was signed


@pytest.mark.parametrize("typ", TYPES)
@pytest.mark.parametrize("form", ["public_key", "jwk", "jwks"])
def test_key_material_forms(typ: str, form: str) -> None:
    key = ISSUER_KEY[typ]
    keys = {
        "public_key": key.public_key,
        "jwk": {**key.public_jwk, "kid": KID[typ]},
        "jwks": issuer_jwks(typ),
    }[form]
    assert check(typ, make_token(typ), keys=keys).jti == base_claims(typ)["jti"]


def test_models_expose_typed_values() -> None:
    agent = check("aa-agent+jwt", make_token("aa-agent+jwt", attestation={"tee": True}))
    assert isinstance(agent, AgentToken)
    assert agent.ps == PS and agent.parent_agent is None and not agent.is_subagent
    assert agent.extra == {"attestation": {"tee": True}}
    assert agent.cnf_thumbprint == AGENT_KEY.thumbprint
    assert agent.cnf_key == AGENT_KEY.public_key
    person = check("aa-person+jwt", make_token("aa-person+jwt", tenant="corp"))
    assert isinstance(person, PersonToken)
    assert (person.aud, person.mission_s256, person.tenant) == (RESOURCE, MISSION, "corp")
    resource = check("aa-resource+jwt", make_token("aa-resource+jwt", account="acct-9"))
    assert isinstance(resource, ResourceToken)
    assert resource.scopes == {"data.read", "data.write"}
    assert (resource.account, resource.interaction) == ("acct-9", None)
    auth = check("aa-auth+jwt", make_token("aa-auth+jwt"))
    assert isinstance(auth, AuthToken)
    assert auth.extra == {"email": "user@example.com"}  # OIDC claims kept
    assert auth.scopes == {"data.read"}
    no_scope = check("aa-auth+jwt", make_token("aa-auth+jwt", scope=DROP))
    assert no_scope.scopes == frozenset() and no_scope.scope is None


def test_optional_claims_given_as_null_read_as_absent() -> None:
    agent = check("aa-agent+jwt", make_token("aa-agent+jwt", ps=None))
    assert agent.ps is None
    person = check("aa-person+jwt", make_token("aa-person+jwt", mission_s256=None, tenant=None))
    assert person.mission_s256 is None and person.tenant is None


def test_es256_issuer_and_es256_cnf_key() -> None:
    token = make_token("aa-auth+jwt", cnf={"jwk": EC_AGENT_KEY.public_jwk})
    auth = check("aa-auth+jwt", token)
    assert auth.cnf_thumbprint == EC_AGENT_KEY.thumbprint
    assert parse_jwt(token).header["alg"] == "ES256"


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("typ", TYPES)
@pytest.mark.parametrize(
    "junk",
    ["", "abc", "a.b", "a.b.c.d", "e30.e30.!!", "bm90IGpzb24.e30.AA", 12345, None],
)
def test_malformed_tokens_are_invalid_jwt(typ: str, junk: Any) -> None:
    with rejects("invalid_jwt") as info:
        check(typ, junk)
    assert info.value.claim is None
    assert info.value.endpoint_code == INVALID[typ]


def test_oversized_token_is_refused() -> None:
    token = make_token("aa-agent+jwt", padding="x" * 2000)
    with rejects("invalid_jwt"):
        check("aa-agent+jwt", token, max_length=1000)
    assert check("aa-agent+jwt", token).extra["padding"] == "x" * 2000


# --------------------------------------------------------------------------- typ first


@pytest.mark.parametrize("presented", TYPES)
@pytest.mark.parametrize("expected", TYPES)
def test_typ_swap_is_rejected(presented: str, expected: str) -> None:
    if presented == expected:
        return
    # the claims are valid for the expected type: only typ differs
    token = make_token(expected, header={"typ": presented})
    with rejects("invalid_jwt", "header.typ") as info:
        check(expected, token)
    assert info.value.endpoint_code == INVALID[expected]
    assert info.value.typ == expected


def test_person_token_where_auth_token_is_required() -> None:
    """A person token and a PS-issued auth token differ ONLY by typ (digest §4.1)."""
    claims = base_claims("aa-person+jwt")
    shared = {
        "dwk": "aauth-person.json",
        "iss": PS,
        "ps": PS,
        "aud": RESOURCE,
        "sub": claims["sub"],
        "jti": "x-1",
        "cnf": claims["cnf"],
        "iat": NOW,
        "exp": NOW + 3600,
    }
    person = raw_token(
        {"alg": "Ed25519", "typ": "aa-person+jwt", "kid": "ps-key-1"}, shared, PS_KEY
    )
    auth = raw_token({"alg": "Ed25519", "typ": "aa-auth+jwt", "kid": "ps-key-1"}, shared, PS_KEY)
    keys = PS_KEY.public_key
    assert check("aa-auth+jwt", auth, keys=keys).dwk == "aauth-person.json"
    with rejects("invalid_jwt", "header.typ"):
        check("aa-auth+jwt", person, keys=keys)
    with rejects("invalid_jwt", "header.typ"):
        check("aa-person+jwt", auth, keys=keys)


def test_typ_is_checked_before_anything_else() -> None:
    # wrong typ, refused alg, no kid, wrong dwk, bad iss, expired: typ is what is reported
    token = make_token(
        "aa-agent+jwt",
        header={"typ": "aa-person+jwt", "alg": "none", "kid": DROP},
        dwk="x",
        iss="http://agent.example/",
        exp=NOW - 10_000,
        iat=NOW - 20_000,
    )
    with rejects("invalid_jwt", "header.typ"):
        check("aa-agent+jwt", token)


@pytest.mark.parametrize("typ_value", [DROP, "JWT", "aa-agent", 7, "aa-agent+jwt "])
def test_missing_or_foreign_typ(typ_value: Any) -> None:
    with rejects("invalid_jwt", "header.typ"):
        check("aa-agent+jwt", make_token("aa-agent+jwt", header={"typ": typ_value}))


@pytest.mark.parametrize("typ_value", ["application/aa-agent+jwt", "AA-Agent+JWT"])
def test_typ_compared_as_media_type(typ_value: str) -> None:
    # RFC 7515 §4.1.9: case-insensitive, "application/" may be present
    assert check("aa-agent+jwt", make_token("aa-agent+jwt", header={"typ": typ_value}))


# --------------------------------------------------------------------------- alg and kid


@pytest.mark.parametrize("typ", TYPES)
@pytest.mark.parametrize("alg", ["EdDSA", "none", "HS256", "RS256", "ed25519", DROP, 1])
def test_header_alg_must_be_fully_specified(typ: str, alg: Any) -> None:
    with rejects("unsupported_algorithm", "header.alg") as info:
        check(typ, make_token(typ, header={"alg": alg}))
    assert info.value.endpoint_code == INVALID[typ]


def test_eddsa_header_only_with_compatibility_option() -> None:
    token = make_token("aa-agent+jwt", header={"alg": "EdDSA"})
    assert check("aa-agent+jwt", token, allow_eddsa=True).sub.startswith("aauth:")


def test_allowed_algs_restricts() -> None:
    with rejects("unsupported_algorithm", "header.alg"):
        check("aa-auth+jwt", make_token("aa-auth+jwt"), allowed_algs=("Ed25519",))


@pytest.mark.parametrize("typ", TYPES)
@pytest.mark.parametrize("kid", [DROP, "", 5, None])
def test_kid_is_required(typ: str, kid: Any) -> None:
    with rejects("invalid_jwt", "header.kid"):
        check(typ, make_token(typ, header={"kid": kid}), keys=ISSUER_KEY[typ].public_key)


# --------------------------------------------------------------------------- signature


@pytest.mark.parametrize("typ", TYPES)
def test_signature_by_another_key_is_invalid(typ: str) -> None:
    impostor = OTHER_AGENT_KEY if ISSUER_KEY[typ].alg == "Ed25519" else EC_AGENT_KEY
    with rejects("invalid_jwt") as info:
        check(typ, make_token(typ, key=impostor), keys=ISSUER_KEY[typ].public_key)
    assert info.value.claim is None


def test_tampered_payload_is_invalid() -> None:
    token = make_token("aa-agent+jwt")
    header, _, signature = token.split(".")
    forged = make_token("aa-agent+jwt", sub="aauth:admin@agent.example").split(".")[1]
    with rejects("invalid_jwt"):
        check("aa-agent+jwt", f"{header}.{forged}.{signature}")


def test_unknown_kid_is_retryable_unknown_key() -> None:
    token = make_token("aa-agent+jwt", header={"kid": "rotated-key"})
    with rejects("unknown_key", "header.kid") as info:
        check("aa-agent+jwt", token)
    assert info.value.retryable
    assert info.value.endpoint_code == "invalid_agent_token"


def test_key_of_another_algorithm_is_invalid_key() -> None:
    with rejects("invalid_key"):
        check("aa-agent+jwt", make_token("aa-agent+jwt"), keys=EC_AGENT_KEY.public_key)


def test_crit_header_is_refused() -> None:
    with rejects("invalid_jwt"):
        check("aa-agent+jwt", make_token("aa-agent+jwt", header={"crit": ["x"], "x": 1}))


def test_bad_key_argument_is_local_error() -> None:
    with pytest.raises(LocalError):
        check("aa-agent+jwt", make_token("aa-agent+jwt"), keys="not keys")


# --------------------------------------------------------------------------- dwk and iss


@pytest.mark.parametrize("typ", TYPES)
@pytest.mark.parametrize(
    "dwk", [DROP, "aauth-resource", "aauth-agent.json ", "aauth-access.json", "aauth-agent.json"]
)
def test_dwk_must_match_the_type(typ: str, dwk: Any) -> None:
    allowed = {
        "aa-agent+jwt": {"aauth-agent.json"},
        "aa-person+jwt": {"aauth-person.json"},
        "aa-resource+jwt": {"aauth-resource.json"},
        "aa-auth+jwt": {"aauth-access.json", "aauth-person.json"},
    }[typ]
    token = make_token(typ, dwk=dwk)
    if dwk in allowed:
        assert check(typ, token).dwk == dwk
        return
    with rejects("invalid_jwt", "dwk") as info:
        check(typ, token)
    assert info.value.endpoint_code == INVALID[typ]


@pytest.mark.parametrize("typ", TYPES)
@pytest.mark.parametrize(
    "iss",
    [
        DROP,
        "",
        "https://issuer.example/",  # trailing slash
        "http://issuer.example",
        "https://Issuer.Example",
        "https://issuer.example:8443",
        "https://issuer.example/v1",
        "https://issuer.example?x",
        42,
    ],
)
def test_iss_must_be_a_server_identifier(typ: str, iss: Any) -> None:
    with rejects("invalid_jwt", "iss"):
        check(typ, make_token(typ, iss=iss))


def test_expected_issuer_is_compared_exactly() -> None:
    token = make_token("aa-resource+jwt")
    assert check("aa-resource+jwt", token, issuer=RESOURCE).iss == RESOURCE
    with rejects("invalid_jwt", "iss"):
        check("aa-resource+jwt", token, issuer="https://other.example")


def test_dev_loopback_issuer_only_when_enabled() -> None:
    dev = "http://localhost:8080"
    token = make_token(
        "aa-agent+jwt", iss=dev, sub="aauth:dev@localhost:8080", ps="http://127.0.0.1:9000"
    )
    with rejects("invalid_jwt", "iss"):
        check("aa-agent+jwt", token)
    agent = check("aa-agent+jwt", token, allow_insecure_loopback_for_development=True)
    assert (agent.iss, agent.ps) == (dev, "http://127.0.0.1:9000")


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize("typ", TYPES)
def test_expired_token(typ: str) -> None:
    exp = base_claims(typ)["exp"]
    with rejects("expired_jwt", "exp") as info:
        check(typ, make_token(typ), now=exp + 60)
    assert info.value.retryable
    assert info.value.endpoint_code == EXPIRED[typ]
    assert check(typ, make_token(typ), now=exp + 59).exp == exp  # within the leeway
    with rejects("expired_jwt", "exp"):
        check(typ, make_token(typ), now=exp, leeway=0)


@pytest.mark.parametrize("typ", TYPES)
def test_expired_in_endpoint_codes(typ: str) -> None:
    exp = base_claims(typ)["exp"]
    with pytest.raises(TokenError) as info:
        check(typ, make_token(typ), now=exp + 3600, error_codes="endpoint")
    assert info.value.code == EXPIRED[typ]
    assert info.value.signature_code == "expired_jwt"


@pytest.mark.parametrize("typ", TYPES)
def test_iat_in_the_future(typ: str) -> None:
    lifetime = base_claims(typ)["exp"] - NOW
    token = make_token(typ, iat=NOW + 61, exp=NOW + 61 + lifetime)
    with rejects("invalid_jwt", "iat"):
        check(typ, token)
    ok = make_token(typ, iat=NOW + 60, exp=NOW + 60 + lifetime)
    assert check(typ, ok).iat == NOW + 60


@pytest.mark.parametrize("typ", TYPES)
@pytest.mark.parametrize("claim", ["exp", "iat"])
@pytest.mark.parametrize("value", [DROP, "1730217600", 1.5e9, True, None, [1]])
def test_time_claims_are_required_integers(typ: str, claim: str, value: Any) -> None:
    with rejects("invalid_jwt", claim):
        check(typ, make_token(typ, **{claim: value}))


def test_nbf_in_the_future_and_malformed() -> None:
    with rejects("invalid_jwt", "nbf"):
        check("aa-agent+jwt", make_token("aa-agent+jwt", nbf=NOW + 120))
    with rejects("invalid_jwt", "nbf"):
        check("aa-agent+jwt", make_token("aa-agent+jwt", nbf="soon"))
    assert check("aa-agent+jwt", make_token("aa-agent+jwt", nbf=NOW)).extra == {"nbf": NOW}


@pytest.mark.parametrize("typ", TYPES)
def test_exp_not_after_iat(typ: str) -> None:
    with rejects("invalid_jwt", "exp"):
        check(typ, make_token(typ, iat=NOW, exp=NOW), now=NOW)


@pytest.mark.parametrize(
    ("typ", "cap"),
    [
        ("aa-agent+jwt", 86400),
        ("aa-person+jwt", 3600),
        ("aa-resource+jwt", 300),
        ("aa-auth+jwt", 3600),
    ],
)
def test_lifetime_caps(typ: str, cap: int) -> None:
    assert check(typ, make_token(typ, exp=NOW + cap)).exp == NOW + cap
    with rejects("invalid_jwt", "exp") as info:
        check(typ, make_token(typ, exp=NOW + cap + 1))
    assert "cap" in info.value.message
    assert info.value.endpoint_code == INVALID[typ]


def test_lifetime_cap_can_be_lowered_not_raised_past_a_must() -> None:
    with rejects("invalid_jwt", "exp"):
        check("aa-agent+jwt", make_token("aa-agent+jwt"), max_lifetime=600)
    long_agent = make_token("aa-agent+jwt", exp=NOW + 2 * 86400)
    assert check("aa-agent+jwt", long_agent, max_lifetime=2 * 86400).exp == NOW + 2 * 86400
    assert check("aa-resource+jwt", make_token("aa-resource+jwt", exp=NOW + 600), max_lifetime=600)
    for typ in ("aa-person+jwt", "aa-auth+jwt"):
        with pytest.raises(LocalError):
            check(typ, make_token(typ), max_lifetime=3601)
    for bad in (0, -1, True, "60"):
        with pytest.raises(LocalError):
            check("aa-agent+jwt", make_token("aa-agent+jwt"), max_lifetime=bad)


@pytest.mark.parametrize("typ", TYPES)
def test_not_after_bound(typ: str) -> None:
    exp = base_claims(typ)["exp"]
    assert check(typ, make_token(typ), not_after=exp).exp == exp
    with rejects("invalid_jwt", "exp"):
        check(typ, make_token(typ), not_after=exp - 1)


@pytest.mark.parametrize(
    ("now", "leeway"), [(None, 60), ("1", 60), (True, 60), (NOW, -1), (NOW, 1.0)]
)
def test_bad_now_or_leeway_is_local_error(now: Any, leeway: Any) -> None:
    with pytest.raises(LocalError):
        check("aa-agent+jwt", make_token("aa-agent+jwt"), now=now, leeway=leeway)


# --------------------------------------------------------------------------- cnf.jwk


@pytest.mark.parametrize("typ", CNF_TYPES)
@pytest.mark.parametrize(
    ("cnf", "code"),
    [
        (DROP, "invalid_jwt"),
        ("jwk", "invalid_jwt"),
        ({}, "invalid_jwt"),
        ({"jwk": "x"}, "invalid_jwt"),
        ({"jkt": AGENT_KEY.thumbprint}, "invalid_jwt"),
    ],
)
def test_cnf_jwk_is_required(typ: str, cnf: Any, code: str) -> None:
    with pytest.raises(TokenError) as info:
        check(typ, make_token(typ, cnf=cnf))
    assert info.value.code == code
    assert info.value.claim in ("cnf", "cnf.jwk")


def _jwk(**changes: Any) -> dict[str, Any]:
    jwk = dict(AGENT_KEY.public_jwk)
    for name, value in changes.items():
        if value is DROP:
            jwk.pop(name)
        else:
            jwk[name] = value
    return jwk


@pytest.mark.parametrize("typ", CNF_TYPES)
@pytest.mark.parametrize(
    ("jwk", "code"),
    [
        (_jwk(alg=DROP), "unsupported_algorithm"),  # cnf.jwk without alg
        (_jwk(alg="EdDSA"), "unsupported_algorithm"),  # polymorphic
        (_jwk(alg="none"), "unsupported_algorithm"),
        (_jwk(alg=["Ed25519"]), "unsupported_algorithm"),
        (_jwk(alg="ES256"), "invalid_key"),  # kty/crv disagree with alg
        (_jwk(crv="X25519"), "invalid_key"),
        (_jwk(x=DROP), "invalid_key"),  # structurally incomplete
        (_jwk(x="AAAA"), "invalid_key"),  # wrong size
        (_jwk(d="n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"), "invalid_key"),  # private
        (
            {"kty": "RSA", "n": "0vx7", "e": "AQAB", "alg": "PS256"},
            "unsupported_algorithm",
        ),
        ({**EC_AGENT_KEY.public_jwk, "y": DROP}, "invalid_key"),
    ],
)
def test_cnf_jwk_alg_and_structure(typ: str, jwk: dict[str, Any], code: str) -> None:
    jwk = {k: v for k, v in jwk.items() if v is not DROP}
    with rejects(code, "cnf.jwk") as info:
        check(typ, make_token(typ, cnf={"jwk": jwk}))
    assert info.value.endpoint_code == INVALID[typ]


@pytest.mark.parametrize("typ", CNF_TYPES)
def test_cnf_eddsa_only_with_compatibility_option(typ: str) -> None:
    token = make_token(typ, cnf={"jwk": _jwk(alg="EdDSA")})
    model = check(typ, token, allow_eddsa=True)
    assert model.cnf_thumbprint == AGENT_KEY.thumbprint


def test_cnf_alg_outside_allowed_algs() -> None:
    token = make_token("aa-agent+jwt", cnf={"jwk": EC_AGENT_KEY.public_jwk})
    with rejects("unsupported_algorithm", "cnf.jwk"):
        check("aa-agent+jwt", token, allowed_algs=("Ed25519",))


def test_cnf_jwk_with_non_string_members() -> None:
    jwk = {**AGENT_KEY.public_jwk, "key_ops": ["verify"]}
    agent = check("aa-agent+jwt", make_token("aa-agent+jwt", cnf={"jwk": jwk}))
    assert agent.cnf_thumbprint == AGENT_KEY.thumbprint
    with rejects("invalid_key", "cnf.jwk"):
        check("aa-agent+jwt", make_token("aa-agent+jwt", cnf={"jwk": {**jwk, "key_ops": ["sign"]}}))


# --------------------------------------------------------------------------- aud


@pytest.mark.parametrize("typ", AUD_TYPES)
@pytest.mark.parametrize(
    "aud",
    [DROP, "https://other.example", [RESOURCE], "https://resource.example/", 1, ""],
)
def test_aud_must_be_this_verifier(typ: str, aud: Any) -> None:
    token = make_token(typ, aud=aud)
    with rejects("invalid_jwt", "aud") as info:
        check(typ, token)
    assert info.value.endpoint_code == INVALID[typ]


@pytest.mark.parametrize("typ", AUD_TYPES)
def test_wrong_audience_argument(typ: str) -> None:
    with rejects("invalid_jwt", "aud"):
        check(typ, make_token(typ), audience="https://elsewhere.example")
    with pytest.raises(LocalError):
        check(typ, make_token(typ), audience=None)


# --------------------------------------------------------------------------- agent token


@pytest.mark.parametrize(
    "sub",
    [
        DROP,
        "",
        "assistant@agent.example",
        "aauth:My Agent@agent.example",
        "aauth:@agent.example",
        "aauth:a@Agent.Example",
        "aauth:a+b+c@agent.example",
        3,
    ],
)
def test_agent_sub_must_be_an_agent_identifier(sub: Any) -> None:
    with rejects("invalid_jwt", "sub"):
        check("aa-agent+jwt", make_token("aa-agent+jwt", sub=sub))


def test_agent_sub_domain_must_be_the_issuer_host() -> None:
    token = make_token("aa-agent+jwt", sub="aauth:assistant@evil.example")
    with rejects("invalid_jwt", "sub"):
        check("aa-agent+jwt", token)
    assert check("aa-agent+jwt", token, require_sub_domain_match=False).sub.endswith("evil.example")


@pytest.mark.parametrize("typ", TYPES)
@pytest.mark.parametrize("jti", [DROP, "", 17, None])
def test_jti_is_required(typ: str, jti: Any) -> None:
    with rejects("invalid_jwt", "jti"):
        check(typ, make_token(typ, jti=jti))


@pytest.mark.parametrize("ps", ["https://ps.example/", "http://ps.example", 1, ""])
def test_agent_ps_must_be_a_server_identifier(ps: Any) -> None:
    with rejects("invalid_jwt", "ps"):
        check("aa-agent+jwt", make_token("aa-agent+jwt", ps=ps))


def test_subagent_token() -> None:
    """digest §9.1 sub-agent payload (placeholders replaced by real values)."""
    token = make_token(
        "aa-agent+jwt",
        iss="https://vendor.example",
        sub="aauth:planner.7f3c+search1@vendor.example",
        parent_agent="aauth:planner.7f3c@vendor.example",
    )
    agent = check("aa-agent+jwt", token)
    assert agent.is_subagent
    assert agent.parent_agent == "aauth:planner.7f3c@vendor.example"


@pytest.mark.parametrize(
    "parent",
    [
        "planner@vendor.example",
        "aauth:Planner@vendor.example",
        "aauth:planner.7f3c+search1@vendor.example",  # itself
        "aauth:planner@other.example",  # another provider
        "",
        7,
    ],
)
def test_bad_parent_agent(parent: Any) -> None:
    token = make_token(
        "aa-agent+jwt",
        iss="https://vendor.example",
        sub="aauth:planner.7f3c+search1@vendor.example",
        parent_agent=parent,
    )
    with rejects("invalid_jwt", "parent_agent"):
        check("aa-agent+jwt", token)


def test_agent_endpoint_codes() -> None:
    with pytest.raises(TokenError) as info:
        check("aa-agent+jwt", make_token("aa-agent+jwt", sub="x"), error_codes="endpoint")
    assert info.value.code == "invalid_agent_token"
    assert info.value.signature_code == "invalid_jwt"


# --------------------------------------------------------------------------- person token


@pytest.mark.parametrize("claim", ["scope", "account"])
@pytest.mark.parametrize("value", ["data.read", "", None, ["x"]])
def test_person_token_with_scope_or_account_is_rejected(claim: str, value: Any) -> None:
    with rejects("invalid_jwt", claim) as info:
        check("aa-person+jwt", make_token("aa-person+jwt", **{claim: value}))
    assert info.value.endpoint_code == "invalid_person_token"


@pytest.mark.parametrize("typ", AUD_TYPES)
@pytest.mark.parametrize("sub", [DROP, "", 5])
def test_sub_is_required(typ: str, sub: Any) -> None:
    with rejects("invalid_jwt", "sub"):
        check(typ, make_token(typ, sub=sub))


@pytest.mark.parametrize("typ", AUD_TYPES)
@pytest.mark.parametrize("mission", ["", "abc", MISSION + "=", MISSION[:-1] + "l", "z" * 44, 5])
def test_mission_s256_must_be_a_digest(typ: str, mission: Any) -> None:
    with rejects("invalid_jwt", "mission_s256"):
        check(typ, make_token(typ, mission_s256=mission))


@pytest.mark.parametrize("typ", AUD_TYPES)
def test_tenant_must_be_a_string(typ: str) -> None:
    with rejects("invalid_jwt", "tenant"):
        check(typ, make_token(typ, tenant=["corp"]))


# --------------------------------------------------------------------------- resource token


@pytest.mark.parametrize("ps", [DROP, "https://ps.example/", "ps.example"])
def test_resource_ps_required_server_identifier(ps: Any) -> None:
    with rejects("invalid_jwt", "ps"):
        check("aa-resource+jwt", make_token("aa-resource+jwt", ps=ps))


def test_resource_presented_jti_and_legacy_alias() -> None:
    with rejects("invalid_jwt", "presented_jti"):
        check("aa-resource+jwt", make_token("aa-resource+jwt", presented_jti=DROP))
    legacy = make_token("aa-resource+jwt", presented_jti=DROP, person_token_jti="pt-legacy")
    model = check("aa-resource+jwt", legacy)
    assert model.presented_jti == "pt-legacy"
    assert "person_token_jti" not in model.extra
    assert "person_token_jti" not in model.claims()  # never emitted
    assert model.claims()["presented_jti"] == "pt-legacy"
    both = make_token("aa-resource+jwt", person_token_jti="pt-3ab910")
    assert check("aa-resource+jwt", both).presented_jti == "pt-3ab910"
    with rejects("invalid_jwt", "person_token_jti"):
        check("aa-resource+jwt", make_token("aa-resource+jwt", person_token_jti="pt-other"))
    with rejects("invalid_jwt", "person_token_jti"):
        check("aa-resource+jwt", make_token("aa-resource+jwt", person_token_jti=3))


@pytest.mark.parametrize(
    "jkt",
    [
        DROP,
        "",
        "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U=",
        "poqkLGiymh",
        "+" * 43,
        "A" * 42 + "B",
    ],
)
def test_resource_agent_jkt_must_be_a_thumbprint(jkt: Any) -> None:
    with rejects("invalid_jwt", "agent_jkt"):
        check("aa-resource+jwt", make_token("aa-resource+jwt", agent_jkt=jkt))


@pytest.mark.parametrize(
    "scope", [DROP, "", " data.read", "data.read  data.write", 'a"b', "a\\b", "é"]
)
def test_resource_scope_required_and_well_formed(scope: Any) -> None:
    with rejects("invalid_jwt", "scope"):
        check("aa-resource+jwt", make_token("aa-resource+jwt", scope=scope))


def test_resource_scope_optional_for_companion_specs() -> None:
    token = make_token("aa-resource+jwt", scope=DROP)
    assert check("aa-resource+jwt", token, require_scope=False).scope is None


def test_resource_interaction() -> None:
    good = {"url": "https://resource.example/interaction", "code": "A1B2-C3D4"}
    model = check("aa-resource+jwt", make_token("aa-resource+jwt", interaction=good))
    assert model.interaction == ResourceInteraction(**good)
    assert model.claims()["interaction"] == good
    for bad in (
        "https://resource.example/interaction",
        {"url": "https://resource.example/i?x=1", "code": "A1"},
        {"url": "http://resource.example/i", "code": "A1"},
        {"url": "https://resource.example/i"},
        {"url": "https://resource.example/i", "code": ""},
        {"code": "A1"},
    ):
        with rejects("invalid_jwt", "interaction"):
            check("aa-resource+jwt", make_token("aa-resource+jwt", interaction=bad))


def test_resource_account_must_be_a_string() -> None:
    with rejects("invalid_jwt", "account"):
        check("aa-resource+jwt", make_token("aa-resource+jwt", account=1))


def test_resource_expected_ps_and_subject() -> None:
    token = make_token("aa-resource+jwt")
    sub = base_claims("aa-resource+jwt")["sub"]
    assert check("aa-resource+jwt", token, ps=PS, subject=sub, issuer=RESOURCE).sub == sub
    with rejects("invalid_jwt", "ps"):
        check("aa-resource+jwt", token, ps="https://other-ps.example")
    with rejects("invalid_jwt", "sub"):
        check("aa-resource+jwt", token, subject="someone-else")


def test_resource_token_default_codes_are_endpoint_codes() -> None:
    token = make_token("aa-resource+jwt", aud="https://as.example")
    with pytest.raises(TokenError) as info:
        validate_resource_token(token, issuer_jwks("aa-resource+jwt"), now=NOW, audience=PS)
    assert info.value.code == "invalid_resource_token"
    with pytest.raises(TokenError) as info:
        validate_resource_token(token, issuer_jwks("aa-resource+jwt"), now=NOW + 999, audience=PS)
    assert info.value.code == "expired_resource_token"


def test_resource_token_drops_removed_agent_claim_into_extra() -> None:
    token = make_token("aa-resource+jwt", agent="aauth:a@agent.example")
    assert check("aa-resource+jwt", token).extra == {"agent": "aauth:a@agent.example"}


# --------------------------------------------------------------------------- auth token


@pytest.mark.parametrize("ps", [DROP, "", "https://ps.example/"])
def test_auth_ps_required(ps: Any) -> None:
    with rejects("invalid_jwt", "ps"):
        check("aa-auth+jwt", make_token("aa-auth+jwt", ps=ps))


def test_ps_issued_auth_token_has_ps_equal_iss() -> None:
    ps_issued = make_token(
        "aa-auth+jwt", key=PS_KEY, dwk="aauth-person.json", iss=PS, header={"kid": "ps-key-1"}
    )
    assert check("aa-auth+jwt", ps_issued, keys=PS_KEY.public_key).ps == PS
    wrong = make_token(
        "aa-auth+jwt",
        key=PS_KEY,
        dwk="aauth-person.json",
        iss=PS,
        ps="https://other-ps.example",
        header={"kid": "ps-key-1"},
    )
    with rejects("invalid_jwt", "ps"):
        check("aa-auth+jwt", wrong, keys=PS_KEY.public_key)


def test_auth_scope_no_broader_than_resource_token() -> None:
    token = make_token("aa-auth+jwt", scope="data.read data.write")
    assert check("aa-auth+jwt", token, within_scope="data.read data.write data.delete").scope
    assert check("aa-auth+jwt", token, within_scope=["data.write", "data.read"]).scope
    with rejects("invalid_jwt", "scope") as info:
        check("aa-auth+jwt", token, within_scope="data.read")
    assert "data.write" in info.value.message
    with rejects("invalid_jwt", "scope"):
        check("aa-auth+jwt", make_token("aa-auth+jwt", scope="a  b"))


def test_auth_empty_scope_reads_as_absent() -> None:
    # AAuth -11 §"Auth Token": scope OPTIONAL; @hellocoop/mockin 2.0.0 sends "" when only
    # identity scopes were granted
    empty = check("aa-auth+jwt", make_token("aa-auth+jwt", scope=""))
    assert empty.scope is None
    assert empty.scopes == frozenset()
    assert "scope" not in empty.extra
    assert "scope" not in empty.claims()
    assert check("aa-auth+jwt", make_token("aa-auth+jwt", scope=""), within_scope="x").scope is None
    assert check("aa-auth+jwt", make_token("aa-auth+jwt", scope=DROP)).scope is None
    bad: object
    for bad in (" ", "  ", 3, [], False):
        with rejects("invalid_jwt", "scope"):
            check("aa-auth+jwt", make_token("aa-auth+jwt", scope=bad))


def test_auth_expected_issuer_ps_subject() -> None:
    token = make_token("aa-auth+jwt")
    sub = base_claims("aa-auth+jwt")["sub"]
    assert check("aa-auth+jwt", token, issuer=AS, ps=PS, subject=sub).iss == AS
    with rejects("invalid_jwt", "ps"):
        check("aa-auth+jwt", token, ps="https://other-ps.example")
    with rejects("invalid_jwt", "sub"):
        check("aa-auth+jwt", token, subject="x")
    with pytest.raises(TokenError) as info:
        check("aa-auth+jwt", token, issuer=PS, error_codes="endpoint")
    assert info.value.code == "invalid_request"


# --------------------------------------------------------------------------- generic entry points


@pytest.mark.parametrize("typ", TYPES)
def test_validate_token_dispatches(typ: str) -> None:
    model = validate_token(
        make_token(typ), issuer_jwks(typ), now=NOW, typ=typ, audience=AUDIENCE[typ]
    )
    assert typ == model.TYP


@pytest.mark.parametrize("typ", AUD_TYPES)
def test_validate_token_requires_audience(typ: str) -> None:
    with pytest.raises(LocalError):
        validate_token(make_token(typ), issuer_jwks(typ), now=NOW, typ=typ)


def test_validate_token_default_codes_and_unknown_typ() -> None:
    with pytest.raises(LocalError):
        validate_token(make_token("aa-agent+jwt"), AP_KEY.public_key, now=NOW, typ="JWT")
    with pytest.raises(TokenError) as info:
        validate_token(
            make_token("aa-resource+jwt"),
            issuer_jwks("aa-resource+jwt"),
            now=NOW,
            typ="aa-resource+jwt",
            audience=AS,
        )
    assert info.value.code == "invalid_resource_token"
    with pytest.raises(TokenError) as info:
        validate_token(
            make_token("aa-person+jwt"),
            issuer_jwks("aa-person+jwt"),
            now=NOW,
            typ="aa-person+jwt",
            audience=AS,
        )
    assert info.value.code == "invalid_jwt"


def test_token_discovery_before_fetching_keys() -> None:
    token = make_token("aa-person+jwt")
    found = token_discovery(token, typ="aa-person+jwt")
    assert (found.iss, found.dwk, found.kid) == (PS, "aauth-person.json", "ps-key-1")
    # the parsed token goes on to the validator without re-parsing
    model = validate_person_token(found.parsed, PS_KEY.public_key, now=NOW, audience=RESOURCE)
    assert model.jti == "pt-3ab910"
    with rejects("invalid_jwt", "header.typ"):
        token_discovery(token, typ="aa-auth+jwt")
    with pytest.raises(TokenError) as info:
        token_discovery(
            make_token("aa-resource+jwt", iss="https://r.example/"), typ="aa-resource+jwt"
        )
    assert info.value.code == "invalid_resource_token" and info.value.claim == "iss"
    with pytest.raises(LocalError):
        token_discovery(token, typ="aa-nope+jwt")


def test_error_messages_name_the_claim_and_hide_the_token() -> None:
    token = make_token("aa-person+jwt", aud="https://elsewhere.example")
    with pytest.raises(TokenError) as info:
        check("aa-person+jwt", token)
    message = str(info.value)
    assert message.startswith("invalid_jwt: aa-person+jwt claim 'aud': ")
    assert "https://elsewhere.example" in message
    assert token.split(".")[2] not in message


# --------------------------------------------------------------------------- issuer keys


def test_issuer_jwk_without_alg_is_refused() -> None:
    """digest §6.3: every published key carries a fully-specified alg; selection by kid."""
    jwk = {k: v for k, v in AP_KEY.public_jwk.items() if k != "alg"}
    for keys in ({"keys": [{**jwk, "kid": "ap-key-1"}]}, jwk):
        with rejects("unsupported_algorithm"):
            check("aa-agent+jwt", make_token("aa-agent+jwt"), keys=keys)
    with rejects("unsupported_algorithm"):
        check("aa-agent+jwt", make_token("aa-agent+jwt"), keys={**jwk, "alg": "EdDSA"})
    eddsa = make_token("aa-agent+jwt", header={"alg": "EdDSA"})
    assert check("aa-agent+jwt", eddsa, keys={**jwk, "alg": "EdDSA"}, allow_eddsa=True)


def test_single_jwk_with_another_kid_is_unknown_key() -> None:
    keys = {**AP_KEY.public_jwk, "kid": "ap-key-2"}
    with rejects("unknown_key", "header.kid"):
        check("aa-agent+jwt", make_token("aa-agent+jwt"), keys=keys)
    assert check("aa-agent+jwt", make_token("aa-agent+jwt"), keys=AP_KEY.public_jwk)


def test_issuer_jwk_with_list_members_is_built_uncached() -> None:
    keys = {**AP_KEY.public_jwk, "kid": "ap-key-1", "key_ops": ["verify"]}
    assert check("aa-agent+jwt", make_token("aa-agent+jwt"), keys=keys)


def test_signature_memo_never_vouches_for_another_key() -> None:
    token = make_token("aa-agent+jwt")
    assert check("aa-agent+jwt", token, keys=AP_KEY.public_key)  # now memoised
    with rejects("invalid_jwt"):
        check("aa-agent+jwt", token, keys=OTHER_AGENT_KEY.public_key)
    # and time is re-checked on every call, memo or not
    with rejects("expired_jwt", "exp"):
        check("aa-agent+jwt", token, keys=AP_KEY.public_key, now=NOW + 7200)


def test_signature_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from aauth.tokens import validate

    monkeypatch.setattr(validate, "_VERIFIED_SIGNATURES_MAX", 2)
    for index in range(5):
        assert check("aa-agent+jwt", make_token("aa-agent+jwt", jti=f"memo-{index}"))
        assert len(validate._VERIFIED_SIGNATURES) <= 2


def test_read_only_key_views_from_discovery() -> None:
    """The discovery cache hands out read-only views (MappingProxyType), JWKS keys as a tuple."""
    from types import MappingProxyType

    jwk = MappingProxyType({**AP_KEY.public_jwk, "kid": "ap-key-1"})
    token = make_token("aa-agent+jwt")
    assert check("aa-agent+jwt", token, keys=jwk).kid == "ap-key-1"
    assert check("aa-agent+jwt", token, keys=MappingProxyType({"keys": (jwk,)})).kid == "ap-key-1"
