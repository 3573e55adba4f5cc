"""``Signature-Input`` / ``Signature`` fields, sign/verify of a message, the algorithm registry.

Includes the AAuth computed vectors (``aauth-computed.json`` signed requests): sign_message
must reproduce the expected fields byte for byte, verify_message must accept them.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from aauth import sfv
from aauth._b64 import b64url_decode, b64url_encode
from aauth.components import ComponentId
from aauth.errors import LocalError, SignatureError
from aauth.http import HttpRequest, HttpResponse
from aauth.httpsig import (
    _FAST_INPUT_RE,
    _FAST_SIGNATURE_RE,
    SIGNATURE_PARAMS,
    SignatureInput,
    VerifiedSignature,
    _member_to_input,
    _parse_dictionary,
    _select_input,
    _select_signature,
    build_signature_fields,
    build_signature_input_member,
    parse_signature_field,
    parse_signature_input,
    sign_message,
    verify_message,
)
from aauth.httpsig_algorithms import (
    ALGORITHMS,
    RFC9421_ALGORITHM_NAMES,
    HmacSha256Key,
    get_algorithm,
    http_alg_from_jose,
    jose_alg_from_http,
)
from aauth.keys import EcP256PublicKey, Ed25519PublicKey
from tests.vectors import load_vectors

SEED = bytes.fromhex("9f8362f87a484a954e6e740c5b4c0e84229139a20aa8ab56ff66586f6a7d29c5")
PUBLIC = bytes.fromhex("26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb")
BASIC = ["@method", "@authority", "@path"]


class Signer:
    def __init__(self, seed: bytes = SEED) -> None:
        self._key = SigningKey(seed)

    def sign(self, data: bytes) -> bytes:
        return bytes(self._key.sign(data).signature)


VERIFIER = Ed25519PublicKey(PUBLIC)


def _request(**kwargs: Any) -> HttpRequest:
    headers = kwargs.pop("headers", [("Content-Type", "text/plain")])
    return HttpRequest("POST", "https://api.example/items?x=1", headers, b"hi", **kwargs)


def _signed(label: str = "sig", components: Any = None, **params: Any) -> HttpRequest:
    params.setdefault("created", 1700000000)
    return sign_message(_request(), Signer(), label=label, components=components or BASIC, **params)


def _verify(message: Any, label: str = "sig", **kwargs: Any) -> VerifiedSignature:
    kwargs.setdefault("algorithm", "ed25519")
    return verify_message(message, VERIFIER, label=label, **kwargs)


def _replace(message: HttpRequest, name: str, value: str) -> HttpRequest:
    return message.without_headers([name]).with_headers([(name, value)])


def _rejects(message: Any, fragment: str, code: str = "invalid_signature", **kw: Any) -> None:
    with pytest.raises(SignatureError) as info:
        _verify(message, **kw)
    assert info.value.code == code
    assert fragment in info.value.message


# --- AAuth computed vectors --------------------------------------------------------------

COMPUTED = load_vectors("aauth-computed.json")
SIGNED_REQUESTS = [c for c in COMPUTED["cases"] if c["kind"] == "signed-request"]


@pytest.mark.parametrize("case", SIGNED_REQUESTS, ids=[c["id"] for c in SIGNED_REQUESTS])
def test_aauth_computed_signed_requests(case: dict[str, Any]) -> None:
    inputs, expected = case["inputs"], case["expected"]
    key = COMPUTED["keys"][inputs["signing_key"]]
    signer = Signer(bytes.fromhex(key["seed_hex"]))
    headers = [
        tuple(pair)
        for pair in expected["request_headers"]
        if pair[0] not in ("Signature-Input", "Signature")
    ]
    body = (inputs["body"] or "").encode("utf-8")
    request = HttpRequest(inputs["method"], inputs["target_uri"], headers, body)
    signed = sign_message(
        request,
        signer,
        label=inputs["label"],
        components=inputs["covered_components"],
        created=inputs["created"],
    )
    assert [list(pair) for pair in signed.headers] == expected["request_headers"]
    assert signed.header("Signature-Input") == expected["signature_input"]
    assert signed.header("Signature") == expected["signature"]
    verified = verify_message(
        signed,
        Ed25519PublicKey(b64url_decode(key["public_jwk"]["x"])),
        label=inputs["label"],
        algorithm="ed25519",
    )
    assert verified.base.decode("ascii") == expected["signature_base"]
    assert verified.created == inputs["created"]
    assert verified.covers("signature-key")


def test_computed_vector_count() -> None:
    assert len(SIGNED_REQUESTS) == 4


# --- round trips --------------------------------------------------------------------------


def test_sign_then_verify_ed25519() -> None:
    signed = _signed(components=[*BASIC, "content-type", '"@query-param";name="x"'])
    assert signed.header_values("Signature-Input") == [
        'sig=("@method" "@authority" "@path" "content-type" "@query-param";name="x")'
        ";created=1700000000"
    ]
    verified = _verify(signed)
    assert verified.label == "sig"
    assert verified.created == 1700000000 and verified.expires is None
    assert verified.params == {"created": 1700000000}
    assert verified.covers("@method") and verified.covers('"content-type"')
    assert verified.covers(ComponentId("@query-param", [("name", "x")]))
    assert not verified.covers("@query")
    assert len(verified.signature) == 64
    assert verified.base.startswith(b'"@method": POST\n"@authority": api.example\n')


def test_all_parameters_in_order() -> None:
    signed = _signed(expires=1700000060, nonce="n", alg="ed25519", keyid="k", tag="t")
    assert signed.header("Signature-Input") == (
        'sig=("@method" "@authority" "@path");created=1700000000;expires=1700000060'
        ';nonce="n";alg="ed25519";keyid="k";tag="t"'
    )
    verified = _verify(signed, enforce_alg_param=True, now=1700000060)
    assert verified.expires == 1700000060
    assert list(verified.params) == ["created", "expires", "nonce", "alg", "keyid", "tag"]
    _rejects(signed, "expired", now=1700000061)
    hmac_key = HmacSha256Key(b"secret")
    with pytest.raises(SignatureError) as info:
        verify_message(
            signed, hmac_key, label="sig", algorithm="hmac-sha256", enforce_alg_param=True
        )
    assert "does not match" in info.value.message
    # The alg parameter is ignored by default (AAuth -11); then the length check decides.
    _rejects(signed, "hmac-sha256 signature is 32 bytes", algorithm="hmac-sha256")


def test_hmac_round_trip_and_response_with_req() -> None:
    key = HmacSha256Key(b"k" * 64)
    request = _signed()
    response = HttpResponse(201, [("Content-Type", "application/json")], b"{}")
    signed = sign_message(
        response,
        key,
        label="resp",
        components=["@status", "content-type", '"@method";req', '"signature";req;key="sig"'],
        created=5,
        related_request=request,
    )
    assert isinstance(signed, HttpResponse)
    verified = verify_message(
        signed, key, label="resp", algorithm="hmac-sha256", related_request=request
    )
    assert b'"signature";req;key="sig": :' in verified.base
    with pytest.raises(SignatureError):
        verify_message(signed, key, label="resp", algorithm="hmac-sha256")
    other = _signed(created=6)
    with pytest.raises(SignatureError) as info:
        verify_message(signed, key, label="resp", algorithm="hmac-sha256", related_request=other)
    assert "does not verify" in info.value.message
    assert repr(key) == "HmacSha256Key(<secret>)"


def test_trailers_and_request_target_pass_through() -> None:
    trailers = [("X-Trailer", "t")]
    signed = sign_message(
        _request(),
        Signer(),
        label="sig",
        components=['"x-trailer";tr', "@request-target"],
        created=1,
        trailers=trailers,
        request_target="https://api.example/items?x=1",
    )
    verified = _verify(signed, trailers=trailers, request_target="https://api.example/items?x=1")
    assert b'"@request-target": https://api.example/items?x=1\n' in verified.base
    _rejects(signed, "does not verify", trailers=trailers)
    _rejects(signed, "trailer field", request_target="https://api.example/items?x=1")


def test_multiple_signatures_add_field_lines() -> None:
    first = _signed("one")
    both = sign_message(first, Signer(), label="two", components=["@method"], created=2)
    assert len(both.header_values("Signature-Input")) == 2
    assert len(both.header_values("Signature")) == 2
    assert set(parse_signature_input(both.header("Signature-Input") or "")) == {"one", "two"}
    assert _verify(both, "one").label == "one"
    assert _verify(both, "two").params == {"created": 2}
    with pytest.raises(LocalError) as info:
        sign_message(both, Signer(), label="one", components=["@method"], created=3)
    assert "already has a signature labelled 'one'" in str(info.value)
    # Labels in a base64url (tolerated) Signature field count as used too.
    loose = _replace(both, "Signature", "three=:" + b64url_encode(b"\xfb" * 64) + ":")
    with pytest.raises(LocalError):
        sign_message(loose, Signer(), label="three", components=["@method"], created=3)
    # A label only in Signature-Input (no Signature field at all) is taken too.
    half = _request().with_headers([("Signature-Input", "a=()")])
    with pytest.raises(LocalError):
        sign_message(half, Signer(), label="a", components=["@method"], created=3)
    assert _verify(sign_message(half, Signer(), label="b", components=BASIC, created=3), "b")


# --- verify errors ------------------------------------------------------------------------


def test_missing_fields_are_invalid_request() -> None:
    signed = _signed()
    _rejects(signed.without_headers(["Signature-Input"]), "no Signature-Input", "invalid_request")
    _rejects(signed.without_headers(["Signature"]), "no Signature field", "invalid_request")
    _rejects(_request(), "no Signature-Input", "invalid_request")


def test_label_must_be_in_both_fields() -> None:
    signed = _signed()
    _rejects(signed, "Signature-Input has no member for label 'other'", label="other")
    only_input = _replace(signed, "Signature", "x=:" + "A" * 86 + "==:")
    _rejects(only_input, "Signature has no member for label 'sig'")
    loose = _replace(signed, "Signature", "x=:" + "A" * 86 + ":")
    _rejects(loose, "Signature has no member for label 'sig'")


@pytest.mark.parametrize(
    ("signature_input", "fragment"),
    [
        ('sig=("@method"', "not a valid dictionary"),
        ('sig=("@method"), sig=("@path")', "not a valid dictionary"),
        ("sig=1", "not an inner list"),
        ('sig=("@method");created="1"', "'created' must be a non-negative integer"),
        ('sig=("@method");created=-1', "'created' must be a non-negative integer"),
        ('sig=("@method");created=1.5', "'created' must be a non-negative integer"),
        ('sig=("@method");created=@1', "'created' must be a non-negative integer"),
        ('sig=("@method");created=?1', "'created' must be a non-negative integer"),
        ('sig=("@method");expires=x', "'expires' must be a non-negative integer"),
        ('sig=("@method");keyid=1', "'keyid' must be a string"),
        ('sig=("@method");nonce=tok', "'nonce' must be a string"),
        ('sig=("@method");alg=:YQ==:', "'alg' must be a string"),
        ('sig=("@method");tag=%"x"', "'tag' must be a string"),
        ('sig=("@method" "@method")', "more than once"),
        ('sig=("@method" "@signature-params")', "cannot be a covered"),
        ('sig=("Content-Type")', "lowercase"),
        ('sig=("@method";sf)', "does not apply"),
        ('sig=("x-absent")', "not in the message"),
    ],
)
def test_bad_signature_input(signature_input: str, fragment: str) -> None:
    message = _replace(_signed(), "Signature-Input", signature_input)
    _rejects(message, fragment)


def test_unknown_signature_parameters_are_kept_and_signed() -> None:
    message = _request()
    member = build_signature_input_member(BASIC, {"created": 1, "x-custom": sfv.Token("v")})
    assert member.endswith(";created=1;x-custom=v")
    from aauth.components import signature_base

    signature = Signer().sign(signature_base(message, member))
    signed = message.with_headers(build_signature_fields("sig", member, signature))
    assert _verify(signed).params["x-custom"] == "v"


def test_signature_value_errors() -> None:
    signed = _signed()
    good = parse_signature_field(signed.header("Signature") or "")["sig"]
    _rejects(_replace(signed, "Signature", 'sig="abc"'), "not a byte sequence")
    _rejects(_replace(signed, "Signature", "sig=(:YQ==:)"), "not a byte sequence")
    _rejects(_replace(signed, "Signature", "sig=:YQ==:"), "ed25519 signature is 64 bytes, got 1")
    flipped = bytes([good[0] ^ 1]) + good[1:]
    encoded = base64.b64encode(flipped).decode()
    _rejects(_replace(signed, "Signature", f"sig=:{encoded}:"), "does not verify")
    tampered = _replace(signed, "Content-Type", "text/html").with_headers([("X", "y")])
    assert _verify(tampered).label == "sig"  # content-type not covered
    moved = HttpRequest("GET", signed.url, signed.headers, signed.body)
    _rejects(moved, "does not verify")


def test_unsupported_algorithm() -> None:
    with pytest.raises(SignatureError) as info:
        _verify(_signed(), algorithm="rsa-pss-sha512")
    assert info.value.code == "unsupported_algorithm"
    with pytest.raises(SignatureError) as info:
        _verify(_signed(), algorithm="Ed25519")
    assert info.value.code == "unsupported_algorithm"


def test_verifier_result_must_be_true() -> None:
    class Truthy:
        def verify(self, data: bytes, signature: bytes) -> bool:
            return 1  # type: ignore[return-value]

    with pytest.raises(SignatureError):
        verify_message(_signed(), Truthy(), label="sig", algorithm="ed25519")


# --- Signature field tolerance ------------------------------------------------------------


def _as_b64url(message: HttpRequest, pad: bool = False) -> HttpRequest:
    raw = parse_signature_field(message.header("Signature") or "")["sig"]
    text = b64url_encode(raw) + ("==" if pad else "")
    return _replace(message, "Signature", f"sig=:{text}:")


def test_base64url_signature_accepted_by_default() -> None:
    signed = _signed()
    for message in (_as_b64url(signed), _as_b64url(signed, pad=True)):
        assert _verify(message).label == "sig"
        _rejects(message, "not a valid dictionary", accept_base64url_signature=False)
    # Strict: unpadded standard base64 is still a valid SF byte sequence for the parser.
    mixed = (
        "a=:"
        + base64.b64encode(b"\xfb" * 64).decode()
        + ":, sig=:"
        + b64url_encode(b"\xfb" * 64)
        + ":"
    )
    parsed = parse_signature_field(mixed)
    assert parsed == {"a": b"\xfb" * 64, "sig": b"\xfb" * 64}


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ("sig=:ab+-:", "not padded base64"),  # both alphabets in one value
        ("sig=:ab_=:", "canonical"),  # non-zero trailing bits
        ("sig=:ab_==:", "wrong base64url padding"),
        ("sig=:a-8:, sig=:a-8:", "appears more than once"),
        ("sig=:a-8:,", "not a dictionary of byte sequences"),
        ("sig=:a_:;p=1", "not a dictionary of byte sequences"),
        ("Sig=:a_:", "not a dictionary of byte sequences"),
        ("sig=:a_", "not a dictionary of byte sequences"),
        ("sig=:-:", "base64url"),
    ],
)
def test_loose_signature_field_errors(field: str, fragment: str) -> None:
    with pytest.raises(SignatureError) as info:
        parse_signature_field(field)
    assert info.value.code == "invalid_signature"
    assert fragment in info.value.message
    with pytest.raises(SignatureError):
        parse_signature_field(field, accept_base64url_signature=False)


def test_strict_signature_field() -> None:
    assert parse_signature_field("a=:YQ==:, b=:Yg==:;p") == {"a": b"a", "b": b"b"}
    assert parse_signature_field("a=::") == {"a": b""}
    with pytest.raises(SignatureError) as info:
        parse_signature_field("a=:YQ==:, a=:Yg==:", accept_base64url_signature=False)
    assert "not a valid dictionary" in info.value.message
    with pytest.raises(SignatureError) as info:
        parse_signature_field("a=1")
    assert "not a byte sequence" in info.value.message


# --- parse / build helpers ----------------------------------------------------------------


def test_parse_signature_input() -> None:
    field = 'a=("@method";req "x";key="k");created=1;keyid="q", b=();expires=9'
    parsed = parse_signature_input(field)
    assert parsed["a"] == SignatureInput(
        "a",
        (ComponentId("@method", [("req", True)]), ComponentId("x", [("key", "k")])),
        {"created": 1, "keyid": "q"},
        '("@method";req "x";key="k");created=1;keyid="q"',
    )
    assert parsed["a"].created == 1 and parsed["a"].expires is None
    assert parsed["b"].created is None and parsed["b"].expires == 9
    with pytest.raises(SignatureError):
        parse_signature_input('a=(), b=("@nope")')


def test_build_signature_input_member() -> None:
    assert build_signature_input_member([], {}) == "()"
    member = build_signature_input_member(
        [ComponentId("@method"), "content-digest", '"x";bs'],
        {"created": 0, "keyid": 'a "q" \\ b', "flag": True, "neg": -3, "d": sfv.Token("t")},
    )
    assert member == (
        '("@method" "content-digest" "x";bs);created=0;keyid="a \\"q\\" \\\\ b";flag;neg=-3;d=t'
    )
    inner = sfv.parse_list(member)[0]
    assert isinstance(inner, sfv.InnerList)
    assert inner.params["keyid"] == 'a "q" \\ b'


@pytest.mark.parametrize(
    ("components", "params", "fragment"),
    [
        (["@method", '"@method"'], {}, "more than once"),
        ("@method", {}, "not a str"),
        (["@bogus"], {}, "unknown derived"),
        (["Upper"], {}, "lowercase"),
        ([], {"created": "1"}, "'created' must be a non-negative integer"),
        ([], {"created": True}, "'created' must be a non-negative integer"),
        ([], {"keyid": 1}, "'keyid' must be a string"),
        ([], {"Bad": 1}, "not a valid signature parameter name"),
        ([], {"x": "caf\u00e9"}, "printable ASCII"),
        ([], {"x": 10**16}, "cannot be serialised"),
        ([], {1: 1}, "not a valid signature parameter name"),
    ],
)
def test_build_member_errors(components: Any, params: Any, fragment: str) -> None:
    with pytest.raises(LocalError) as info:
        build_signature_input_member(components, params)
    assert fragment in str(info.value)


def test_build_signature_fields() -> None:
    assert build_signature_fields("sig", "()", b"\xff" * 4) == (
        ("Signature-Input", "sig=()"),
        ("Signature", "sig=://///w==:"),
    )
    for label in ("Sig", "1a", "", "a b"):
        with pytest.raises(LocalError):
            build_signature_fields(label, "()", b"")
    with pytest.raises(LocalError):
        build_signature_fields("sig", b"()", b"")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        build_signature_fields("sig", "()", "sig")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        _verify(_signed(), label="Bad Label")


def test_sign_message_local_errors() -> None:
    with pytest.raises(LocalError) as info:
        sign_message(_request(), Signer(), label="sig", components=["x-absent"], created=1)
    assert "cannot sign" in str(info.value) and "x-absent" in str(info.value)
    with pytest.raises(LocalError):
        sign_message(_request(), Signer(), label="sig", components=BASIC, created="1")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        sign_message(_request(), Signer(), label="s g", components=BASIC, created=1)

    class BadSigner:
        def sign(self, data: bytes) -> bytes:
            return "sig"  # type: ignore[return-value]

    with pytest.raises(LocalError):
        sign_message(_request(), BadSigner(), label="sig", components=BASIC, created=1)


# --- algorithm registry -------------------------------------------------------------------


def test_registry() -> None:
    assert set(ALGORITHMS) == {"ed25519", "ecdsa-p256-sha256", "hmac-sha256"}
    assert set(ALGORITHMS) < RFC9421_ALGORITHM_NAMES
    assert get_algorithm("ed25519").signature_length == 64
    assert get_algorithm("ecdsa-p256-sha256").signature_length == 64
    assert get_algorithm("hmac-sha256").signature_length == 32
    assert get_algorithm("hmac-sha256").symmetric
    for name, phrase in [
        ("rsa-pss-sha512", "registered but not supported"),
        ("ecdsa-p384-sha384", "registered but not supported"),
        ("foo", "unknown"),
        ("ED25519", "unknown"),
        (None, "unknown"),
    ]:
        with pytest.raises(SignatureError) as info:
            get_algorithm(name)  # type: ignore[arg-type]
        assert info.value.code == "unsupported_algorithm"
        assert phrase in info.value.message


def test_jose_mapping() -> None:
    assert http_alg_from_jose("Ed25519") == "ed25519"
    assert http_alg_from_jose("ES256") == "ecdsa-p256-sha256"
    assert jose_alg_from_http("ed25519") == "Ed25519"
    assert jose_alg_from_http("ecdsa-p256-sha256") == "ES256"
    for jose in ("EdDSA", "HS256", "es256", "RS256", None):
        with pytest.raises(SignatureError) as info:
            http_alg_from_jose(jose)  # type: ignore[arg-type]
        assert info.value.code == "unsupported_algorithm"
    for name in ("hmac-sha256", "rsa-pss-sha512"):
        with pytest.raises(SignatureError) as info:
            jose_alg_from_http(name)
        assert info.value.code == "unsupported_algorithm"
    assert set(SIGNATURE_PARAMS) == {"created", "expires", "nonce", "alg", "keyid", "tag"}


def test_ed25519_verifier() -> None:
    signature = Signer().sign(b"data")
    assert VERIFIER.verify(b"data", signature)
    assert VERIFIER.public_bytes == PUBLIC
    assert not VERIFIER.verify(b"data!", signature)
    assert not VERIFIER.verify(b"data", signature[:63])
    assert not VERIFIER.verify(b"data", bytes(64))
    for bad in (PUBLIC[:31], b""):
        with pytest.raises(LocalError):
            Ed25519PublicKey(bad)


def test_ecdsa_verifier() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    private = ec.derive_private_key(12345, ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    verifier = EcP256PublicKey(numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big"))
    r, s = decode_dss_signature(private.sign(b"msg", ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert verifier.verify(b"msg", raw)
    assert not verifier.verify(b"msg2", raw)
    assert not verifier.verify(b"msg", raw[:63])
    assert not verifier.verify(b"msg", bytes(64))
    with pytest.raises(SignatureError) as info:
        EcP256PublicKey(b"\x00" * 32, b"\x01" * 32)
    assert info.value.code == "invalid_key"
    with pytest.raises(LocalError):
        EcP256PublicKey(b"\x00" * 31, b"\x01" * 32)


def test_hmac_key() -> None:
    key = HmacSha256Key(b"secret")
    tag = key.sign(b"m")
    assert len(tag) == 32 and key.verify(b"m", tag) and not key.verify(b"n", tag)
    assert not key.verify(b"m", tag[:31])
    for bad in (b"", "secret"):
        with pytest.raises(LocalError):
            HmacSha256Key(bad)  # type: ignore[arg-type]


# --- fast paths agree with the full Structured Field parser -------------------------------

_NAMES = st.sampled_from(
    [
        '"@method"',
        '"@path"',
        '"@authority"',
        '"signature-key"',
        '"content-digest"',
        '"@foo"',
        '"X"',
        '"@query-param"',
        '"a\\\\b"',
        '""',
        '"@method";req',
        "tok",
    ]
)
_VALUES = st.sampled_from(
    [
        "1",
        "0",
        "01",
        "-1",
        "1730217600",
        "1234567890123456",
        '"k"',
        '""',
        '"a b"',
        '"q\\"x"',
        "tok",
        "?1",
        "1.5",
        ":YQ==:",
    ]
)
_PARAM_NAMES = st.sampled_from(["created", "expires", "keyid", "nonce", "alg", "tag", "x"])


@st.composite
def _members(draw: st.DrawFn) -> str:
    names = draw(st.lists(_NAMES, max_size=4))
    sep = draw(st.sampled_from([" ", "  "]))
    params = draw(st.lists(st.tuples(_PARAM_NAMES, _VALUES), max_size=3))
    label = draw(st.sampled_from(["sig", "other"]))
    text = f"{label}=({sep.join(names)})" + "".join(f";{k}={v}" for k, v in params)
    if draw(st.booleans()):
        text += ', two=("@method")'
    return text


def _slow_input(text: str, label: str) -> Any:
    member = _parse_dictionary(text, "Signature-Input").get(label)
    return None if member is None else _member_to_input(label, member)


def _outcome(function: Any, *args: Any) -> Any:
    try:
        return ("ok", function(*args))
    except SignatureError as exc:
        return ("error", exc.code)


@given(_members())
def test_fast_signature_input_agrees_with_full_parser(text: str) -> None:
    assert _outcome(_select_input, text, "sig") == _outcome(_slow_input, text, "sig")


@given(
    st.binary(max_size=70),
    st.sampled_from(["sig", "other"]),
    st.sampled_from(["std", "unpadded", "url"]),
)
def test_fast_signature_agrees_with_full_parser(raw: bytes, label: str, form: str) -> None:
    text = base64.b64encode(raw).decode()
    if form == "unpadded":
        text = text.rstrip("=")
    elif form == "url":
        text = b64url_encode(raw)
    field = f"{label}=:{text}:"
    expected = _outcome(lambda: parse_signature_field(field).get("sig"))
    assert _outcome(_select_signature, field, "sig", True) == expected
    if expected[0] == "ok" and expected[1] is not None:
        assert expected[1] == raw


def test_fast_paths_taken_for_the_common_shape() -> None:
    signed = _signed(keyid="k")
    text = signed.header("Signature-Input") or ""
    assert _FAST_INPUT_RE.fullmatch(text) is not None
    assert _FAST_SIGNATURE_RE.fullmatch(signed.header("Signature") or "") is not None
    assert _select_input(text, "sig") == _slow_input(text, "sig")
    assert _select_input(text, "other") is None
    # Duplicate parameters: the full parser decides (the last value wins, RFC 9651).
    twice = 'sig=("@method");created=1;created=2'
    assert _FAST_INPUT_RE.fullmatch(twice) is not None
    chosen = _select_input(twice, "sig")
    assert chosen is not None and chosen.params == {"created": 2}
    assert chosen.value == '("@method");created=2'


_FIELD_TEXT = st.text(alphabet=st.sampled_from(list(' "();=,:*@-_aAsig1?/+=\\\u00e9')), max_size=60)


@given(_FIELD_TEXT, _FIELD_TEXT, st.booleans())
def test_arbitrary_signature_fields_raise_only_signature_error(
    signature_input: str, signature: str, tolerant: bool
) -> None:
    message = _request().with_headers(
        [("Signature-Input", signature_input), ("Signature", signature)]
    )
    with pytest.raises(SignatureError) as info:
        verify_message(
            message,
            VERIFIER,
            label="sig",
            algorithm="ed25519",
            accept_base64url_signature=tolerant,
        )
    assert info.value.code == "invalid_signature"
    for parse in (parse_signature_input, parse_signature_field):
        try:
            parse(signature_input)
        except SignatureError as exc:
            assert exc.code == "invalid_signature"
