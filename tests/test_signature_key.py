"""Signature-Key (signature-key-08 §3), Signature-Error and Accept-Signature-* headers."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aauth import sfv
from aauth.errors import LocalError, RemoteError, SignatureError, StructuredFieldError
from aauth.signature_headers import (
    SignatureErrorInfo,
    build_accept_signature_alg,
    build_accept_signature_scheme,
    build_signature_error,
    parse_accept_signature_alg,
    parse_accept_signature_scheme,
    parse_signature_error,
    signature_error_headers,
)
from aauth.signature_key import (
    HwkKey,
    JktJwtKey,
    JwksUriKey,
    JwtKey,
    MalformedKey,
    UnsupportedSchemeKey,
    build_signature_key,
    parse_signature_key,
    signature_key_member,
)

JWT = "eyJhbGciOiJFZDI1NTE5In0.eyJpc3MiOiJodHRwczovL2EuZXhhbXBsZSJ9.c2lnbmF0dXJl"
X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"


class TestParse:
    def test_jwt_scheme_fast_form(self) -> None:
        member = signature_key_member(f'sig=jwt;jwt="{JWT}"', "sig")
        assert member == JwtKey(label="sig", jwt=JWT)

    def test_jwt_scheme_without_space_and_with_unknown_params(self) -> None:
        # Unknown parameters are ignored (signature-key-08 §3).
        member = signature_key_member(f'sig=jwt;jwt="{JWT}";future=1;cache', "sig")
        assert member == JwtKey(label="sig", jwt=JWT, cache=True)

    def test_jkt_jwt(self) -> None:
        member = signature_key_member(f'sig1=jkt-jwt;jwt="{JWT}"', "sig1")
        assert isinstance(member, JktJwtKey)
        assert member.jwt == JWT

    def test_hwk_okp(self) -> None:
        text = f'sig=hwk;kty="OKP";crv="Ed25519";x="{X}";alg="Ed25519"'
        member = signature_key_member(text, "sig")
        assert member == HwkKey(
            label="sig", jwk={"kty": "OKP", "crv": "Ed25519", "x": X, "alg": "Ed25519"}
        )

    def test_hwk_ec_requires_y(self) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member(f'sig=hwk;kty="EC";crv="P-256";x="{X}";alg="ES256"', "sig")
        assert info.value.code == "invalid_key"
        assert "'y'" in info.value.message

    def test_hwk_rejects_kid(self) -> None:
        text = f'sig=hwk;kty="OKP";crv="Ed25519";x="{X}";alg="Ed25519";kid="k"'
        with pytest.raises(SignatureError) as info:
            signature_key_member(text, "sig")
        assert info.value.code == "invalid_key"

    def test_hwk_unknown_kty(self) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member('sig=hwk;kty="AKP";alg="ML-DSA-44"', "sig")
        assert info.value.code == "unsupported_algorithm"

    def test_hwk_token_instead_of_string(self) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member(f'sig=hwk;kty=OKP;crv="Ed25519";x="{X}";alg="Ed25519"', "sig")
        assert info.value.code == "invalid_key"

    def test_jwks_uri(self) -> None:
        member = signature_key_member(
            'sig=jwks_uri;id="https://ps.example";dwk="aauth-person.json";kid="k1"', "sig"
        )
        assert member == JwksUriKey(
            label="sig", id="https://ps.example", dwk="aauth-person.json", kid="k1"
        )

    @pytest.mark.parametrize("scheme", ["x509", "cached", "jwks", "self-jwt", "brand-new"])
    def test_unsupported_schemes(self, scheme: str) -> None:
        text = f'sig={scheme};x5u="https://a.example/c.pem"'
        assert isinstance(parse_signature_key(text)["sig"], UnsupportedSchemeKey)
        with pytest.raises(SignatureError) as info:
            signature_key_member(text, "sig")
        assert info.value.code == "unsupported_scheme"

    def test_member_for_other_label_with_unknown_scheme_is_ignored(self) -> None:
        text = f'other=x509;x5u="https://a.example/c.pem", sig=jwt;jwt="{JWT}"'
        assert signature_key_member(text, "sig") == JwtKey(label="sig", jwt=JWT)

    def test_malformed_member_for_other_label_is_ignored(self) -> None:
        text = f'other=jwt;jwt=123, sig=jwt;jwt="{JWT}"'
        members = parse_signature_key(text)
        assert isinstance(members["other"], MalformedKey)
        assert signature_key_member(text, "sig") == JwtKey(label="sig", jwt=JWT)
        with pytest.raises(SignatureError) as info:
            signature_key_member(text, "other")
        assert info.value.code == "invalid_key"

    def test_missing_label(self) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member(f'sig=jwt;jwt="{JWT}"', "sig2")
        assert info.value.code == "invalid_request"

    def test_duplicate_label_refused(self) -> None:
        with pytest.raises(SignatureError) as info:
            parse_signature_key(f'sig=jwt;jwt="{JWT}", sig=hwk;kty="OKP"')
        assert info.value.code == "invalid_request"

    def test_member_value_not_a_token(self) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member('sig="jwt";jwt="a.b.c"', "sig")
        assert info.value.code == "invalid_request"

    def test_inner_list_member(self) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member("sig=(jwt)", "sig")
        assert info.value.code == "invalid_request"

    def test_missing_jwt_param(self) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member("sig=jwt", "sig")
        assert info.value.code == "invalid_key"

    def test_cache_must_be_boolean(self) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member(f'sig=jwt;jwt="{JWT}";cache=1', "sig")
        assert info.value.code == "invalid_key"

    def test_oversized(self) -> None:
        with pytest.raises(SignatureError) as info:
            parse_signature_key(f'sig=jwt;jwt="{JWT}"', max_length=20)
        assert info.value.code == "invalid_request"
        assert "20" in info.value.message

    @pytest.mark.parametrize(
        "text", ["", "sig=", 'sig=jwt;jwt="a\u00e9"', "=jwt", 'sig=jwt;jwt="unterminated']
    )
    def test_not_a_dictionary(self, text: str) -> None:
        with pytest.raises(SignatureError) as info:
            signature_key_member(text, "sig")
        assert info.value.code == "invalid_request"


class TestBuild:
    def test_jwt_round_trip(self) -> None:
        text = build_signature_key(JwtKey(label="sig", jwt=JWT))
        assert text == f'sig=jwt;jwt="{JWT}"'
        assert signature_key_member(text, "sig") == JwtKey(label="sig", jwt=JWT)

    def test_jwt_with_cache(self) -> None:
        text = build_signature_key(JwtKey(label="sig", jwt=JWT, cache=True))
        assert text == f'sig=jwt;jwt="{JWT}";cache'

    def test_jkt_jwt(self) -> None:
        assert build_signature_key(JktJwtKey(label="s", jwt=JWT)) == f's=jkt-jwt;jwt="{JWT}"'

    def test_hwk_round_trip(self) -> None:
        member = HwkKey(label="sig", jwk={"kty": "OKP", "crv": "Ed25519", "x": X, "alg": "Ed25519"})
        text = build_signature_key(member)
        assert text == f'sig=hwk;kty="OKP";crv="Ed25519";x="{X}";alg="Ed25519"'
        assert signature_key_member(text, "sig") == member

    def test_jwks_uri_round_trip(self) -> None:
        member = JwksUriKey(label="sig", id="https://ps.example", dwk="aauth-person.json", kid="1")
        assert signature_key_member(build_signature_key(member), "sig") == member

    def test_unsupported_member_round_trip(self) -> None:
        member = UnsupportedSchemeKey(label="sig", scheme="cached", params={"cid": "abc"})
        assert build_signature_key(member) == 'sig=cached;cid="abc"'

    def test_refuses_non_jws(self) -> None:
        with pytest.raises(LocalError):
            build_signature_key(JwtKey(label="sig", jwt='a"b'))

    def test_refuses_bad_label(self) -> None:
        with pytest.raises(LocalError):
            build_signature_key(JwtKey(label="Sig", jwt=JWT))

    def test_refuses_malformed(self) -> None:
        with pytest.raises(LocalError):
            build_signature_key(MalformedKey(label="sig", code="invalid_key", message="x"))


class TestSignatureError:
    @pytest.mark.parametrize(
        "code",
        sorted(
            {
                "unsupported_algorithm",
                "unsupported_scheme",
                "cache_miss",
                "invalid_signature",
                "invalid_input",
                "invalid_request",
                "invalid_key",
                "unknown_key",
                "issuer_missing",
                "issuer_mismatch",
                "invalid_jwt",
                "expired_jwt",
            }
        ),
    )
    def test_every_code_round_trips(self, code: str) -> None:
        text = build_signature_error(code)
        assert text == f"error={code}"
        info = parse_signature_error(text)
        assert info == SignatureErrorInfo(code=code)
        assert info.known

    def test_required_input(self) -> None:
        text = build_signature_error(
            "invalid_input", required_input=["@method", "@authority", "content-digest"]
        )
        assert (
            text == 'error=invalid_input, required_input=("@method" "@authority" "content-digest")'
        )
        info = parse_signature_error(text)
        assert info.required_input == ("@method", "@authority", "content-digest")

    def test_unknown_members_and_codes_tolerated(self) -> None:
        info = parse_signature_error('error=brand_new, hint="x", n=3')
        assert info.code == "brand_new"
        assert not info.known
        assert set(info.extra) == {"hint", "n"}

    @pytest.mark.parametrize(
        "text", ['error="invalid_key"', "other=1", "error=invalid_input, required_input=(a b)", "("]
    )
    def test_malformed(self, text: str) -> None:
        with pytest.raises(StructuredFieldError):
            parse_signature_error(text)

    def test_build_refuses_unknown_code_and_misplaced_required_input(self) -> None:
        with pytest.raises(LocalError):
            build_signature_error("nope")
        with pytest.raises(LocalError):
            build_signature_error("invalid_key", required_input=["@method"])
        with pytest.raises(LocalError):
            build_signature_error("invalid_input", required_input=["\x01"])

    def test_headers_for_errors(self) -> None:
        scheme = signature_error_headers(SignatureError("x", code="unsupported_scheme"))
        assert scheme == [
            ("Signature-Error", "error=unsupported_scheme"),
            ("Accept-Signature-Scheme", "jwt"),
        ]
        alg = signature_error_headers(SignatureError("x", code="unsupported_algorithm"))
        assert alg[1] == ("Accept-Signature-Alg", "Ed25519, ES256")
        required = signature_error_headers(
            SignatureError("x", code="invalid_input", required_input=("@path",))
        )
        assert required == [("Signature-Error", 'error=invalid_input, required_input=("@path")')]


class TestAccept:
    def test_scheme_round_trip(self) -> None:
        text = build_accept_signature_scheme(["jwt", "hwk"])
        assert text == "jwt, hwk"
        assert parse_accept_signature_scheme(text) == ("jwt", "hwk")

    def test_alg_round_trip_case_exact(self) -> None:
        text = build_accept_signature_alg(["Ed25519", "ES256"])
        assert parse_accept_signature_alg(text) == ("Ed25519", "ES256")

    def test_non_tokens_ignored(self) -> None:
        assert parse_accept_signature_alg('Ed25519, "ES256", 3, (a)') == ("Ed25519",)

    @pytest.mark.parametrize("alg", ["none", "EdDSA", "HS256"])
    def test_never_advertise(self, alg: str) -> None:
        with pytest.raises(LocalError):
            build_accept_signature_alg(["Ed25519", alg])

    def test_empty_and_invalid(self) -> None:
        with pytest.raises(LocalError):
            build_accept_signature_scheme([])
        with pytest.raises(LocalError):
            build_accept_signature_scheme(["not a token"])
        with pytest.raises(StructuredFieldError):
            parse_accept_signature_scheme("jwt,,")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_header_parsers_return_or_raise_our_error(text: str) -> None:
    for parse in (
        parse_signature_key,
        parse_signature_error,
        parse_accept_signature_alg,
        parse_accept_signature_scheme,
    ):
        with contextlib.suppress(RemoteError):
            parse(text)
    with contextlib.suppress(RemoteError):
        signature_key_member(text, "sig")


def test_sfv_types_used_by_members() -> None:
    member = parse_signature_key("sig=x509;x5t=:AAEC:;flag")["sig"]
    assert isinstance(member, UnsupportedSchemeKey)
    assert member.params == {"x5t": b"\x00\x01\x02", "flag": True}
    assert isinstance(sfv.Token("a"), str)
