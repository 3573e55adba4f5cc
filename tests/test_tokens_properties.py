"""Property tests: whatever a peer sends, the validators return a model or raise TokenError
(never ValueError, KeyError, TypeError, UnicodeError ...), and the builders return a token or
raise LocalError."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aauth._b64 import b64url_encode
from aauth.errors import LocalError
from aauth.jws import decode_jwt_unverified, encode_jwt
from aauth.tokens import (
    TOKEN_TYPES,
    TokenError,
    build_agent_token,
    check_key_binding,
    create_resource_token,
    token_discovery,
    validate_token,
)
from tests.test_tokens_common import (
    AGENT_KEY,
    AP_KEY,
    ISSUER_KEY,
    KID,
    NOW,
    PS,
    RESOURCE,
    RESOURCE_KEY,
    TYPES,
    base_claims,
    issuer_jwks,
    raw_token,
)

AUDIENCE = {
    "aa-agent+jwt": None,
    "aa-person+jwt": RESOURCE,
    "aa-resource+jwt": PS,
    "aa-auth+jwt": RESOURCE,
}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
interesting_strings = st.sampled_from(
    [
        "",
        "https://ps.example",
        "https://resource.example",
        "https://agent.example/",
        "aauth:a@agent.example",
        "aauth-agent.json",
        "aauth-person.json",
        "aauth-access.json",
        "aauth-resource.json",
        "Ed25519",
        "EdDSA",
        "ES256",
        AGENT_KEY.thumbprint,
    ]
)
claim_values = json_values | interesting_strings | st.integers(NOW - 4000, NOW + 4000)


def _validate(typ: str, token: Any) -> None:
    try:
        model = validate_token(token, issuer_jwks(typ), now=NOW, typ=typ, audience=AUDIENCE[typ])
    except TokenError as exc:
        assert exc.code and exc.message
        assert exc.signature_code in {
            "invalid_jwt",
            "expired_jwt",
            "invalid_key",
            "unknown_key",
            "unsupported_algorithm",
        }
        return
    assert typ == model.TYP


@SETTINGS
@given(st.sampled_from(TYPES), st.text(max_size=300))
def test_arbitrary_text_is_a_model_or_token_error(typ: str, text: str) -> None:
    _validate(typ, text)


@SETTINGS
@given(
    st.sampled_from(TYPES),
    st.lists(st.binary(max_size=120), min_size=1, max_size=4),
)
def test_arbitrary_base64url_segments(typ: str, segments: list[bytes]) -> None:
    _validate(typ, ".".join(b64url_encode(s) for s in segments))


@SETTINGS
@given(st.sampled_from(TYPES), st.dictionaries(st.text(max_size=12), json_values, max_size=8))
def test_arbitrary_signed_claims(typ: str, claims: dict[str, Any]) -> None:
    key = ISSUER_KEY[typ]
    _validate(typ, encode_jwt({"typ": typ, "kid": KID[typ]}, claims, key))


@SETTINGS
@given(
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit", "jwk", "x"]), claim_values),
)
def test_arbitrary_signed_headers(typ: str, header: dict[str, Any]) -> None:
    _validate(typ, raw_token(header, base_claims(typ), ISSUER_KEY[typ]))


@SETTINGS
@given(st.sampled_from(TYPES), st.data())
def test_mutated_valid_claims(typ: str, data: st.DataObject) -> None:
    claims = base_claims(typ)
    names = sorted(
        set(claims) | {"scope", "account", "parent_agent", "person_token_jti", "interaction", "nbf"}
    )
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3)):
        if data.draw(st.booleans()):
            claims.pop(name, None)
        else:
            claims[name] = data.draw(claim_values)
    key = ISSUER_KEY[typ]
    _validate(typ, encode_jwt({"typ": typ, "kid": KID[typ]}, claims, key))


@SETTINGS
@given(st.sampled_from(TYPES), st.data())
def test_mutated_cnf_jwk(typ: str, data: st.DataObject) -> None:
    jwk: dict[str, Any] = dict(AGENT_KEY.public_jwk)
    for name in data.draw(
        st.lists(
            st.sampled_from(["kty", "crv", "x", "y", "alg", "d", "use", "key_ops"]), max_size=3
        )
    ):
        if data.draw(st.booleans()):
            jwk.pop(name, None)
        else:
            jwk[name] = data.draw(claim_values)
    claims = {**base_claims(typ), "cnf": {"jwk": jwk}}
    key = ISSUER_KEY[typ]
    _validate(typ, encode_jwt({"typ": typ, "kid": KID[typ]}, claims, key))


@SETTINGS
@given(st.sampled_from(TYPES), st.data())
def test_arbitrary_issuer_jwks(typ: str, data: st.DataObject) -> None:
    """The JWKS comes from the network too: odd entries give a model or TokenError."""
    real = {**ISSUER_KEY[typ].public_jwk, "kid": KID[typ]}
    entry: dict[str, Any] = dict(real)
    for name in data.draw(st.lists(st.sampled_from([*sorted(real), "use", "d"]), max_size=3)):
        if data.draw(st.booleans()):
            entry.pop(name, None)
        else:
            entry[name] = data.draw(claim_values)
    others = data.draw(st.lists(json_values, max_size=3))
    keys: Any = data.draw(
        st.sampled_from([{"keys": [*others, entry]}, entry, {"keys": entry}, {"keys": others}])
    )
    try:
        validate_token(
            encode_jwt({"typ": typ, "kid": KID[typ]}, base_claims(typ), ISSUER_KEY[typ]),
            keys,
            now=NOW,
            typ=typ,
            audience=AUDIENCE[typ],
        )
    except TokenError as exc:
        assert exc.signature_code in {
            "invalid_jwt",
            "invalid_key",
            "unknown_key",
            "unsupported_algorithm",
        }


@SETTINGS
@given(st.sampled_from(TYPES), st.text(max_size=200))
def test_token_discovery_on_arbitrary_text(typ: str, text: str) -> None:
    try:
        found = token_discovery(text, typ=typ)
    except TokenError:
        return
    assert found.typ == typ


@SETTINGS
@given(
    st.dictionaries(st.sampled_from(["cnf", "agent_jkt", "sub"]), json_values), st.text(max_size=50)
)
def test_key_binding_on_arbitrary_claims(claims: dict[str, Any], thumbprint: str) -> None:
    try:
        check_key_binding(claims, thumbprint)
    except TokenError as exc:
        assert exc.claim in ("cnf.jwk", "agent_jkt")


@SETTINGS
@given(
    st.text(max_size=40) | interesting_strings,
    st.text(max_size=40) | interesting_strings,
    st.text(max_size=20),
    st.integers(min_value=-5, max_value=10**6),
)
def test_agent_builder_returns_a_token_or_local_error(
    iss: str, sub: str, jti: str, lifetime: int
) -> None:
    try:
        token = build_agent_token(
            AP_KEY,
            kid="k",
            now=NOW,
            jti=jti,
            iss=iss,
            sub=sub,
            cnf_jwk=AGENT_KEY.public_key,
            lifetime=lifetime,
        )
    except LocalError:
        return
    assert decode_jwt_unverified(token)[1]["iss"] == iss
    _validate("aa-agent+jwt", token)


@SETTINGS
@given(
    st.text(max_size=40) | interesting_strings,
    st.text(max_size=50) | interesting_strings,
    st.text(max_size=30),
    st.one_of(st.none(), st.integers(min_value=NOW - 10, max_value=NOW + 1000)),
)
def test_resource_builder_returns_a_token_or_local_error(
    aud: str, agent_jkt: str, scope: str, expires_at: int | None
) -> None:
    try:
        token = create_resource_token(
            RESOURCE_KEY,
            kid="res-key-1",
            now=NOW,
            jti="rt",
            iss=RESOURCE,
            aud=aud,
            agent_jkt=agent_jkt,
            scope=scope,
            ps=PS,
            sub="s",
            presented_jti="p",
            expires_at=expires_at,
        )
    except LocalError:
        return
    model = validate_token(
        token, RESOURCE_KEY.public_key, now=NOW, typ="aa-resource+jwt", audience=aud
    )
    assert model.agent_jkt == agent_jkt and model.scope == scope


def test_every_type_is_covered() -> None:
    assert set(TYPES) == set(TOKEN_TYPES)
