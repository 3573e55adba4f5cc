"""The hot-path shortcuts give exactly what the general code gives.

Each shortcut in the request signing/verification path is checked against the code it
bypasses: the planned signature base against the per-component resolution, the Signature
pattern against the Structured Field parsers, direct parameter serialisation against the full
check, the fast Signature-Input parameters against the full parser. Outcomes are compared
whole: the bytes, or the error class, code and message.

The memoised parses must not leak shared mutable state: what a caller gets back (header
lists, token claims, JWKs, Signature-Key members) can be changed without changing what the
next request sees.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aauth import components as components_module
from aauth.components import KNOWN_SF_FIELDS, ComponentId, base_of_unique_components
from aauth.errors import AAuthError, LocalError, RemoteError, SignatureError
from aauth.http import HttpRequest, HttpResponse
from aauth.httpsig import (
    _as_components,
    _build_member,
    _checked_member_text,
    _member_bytes,
    _member_to_input,
    _parse_dictionary,
    _parse_loose,
    _select_input,
    _select_signature,
    _signature_members,
    sign_message,
)
from aauth.signature_key import (
    HwkKey,
    UnsupportedSchemeKey,
    parse_signature_key,
    signature_key_member,
)
from aauth.signing import AAUTH_REQUIRED_COMPONENTS, VerifiedRequest, sign_request, verify_request
from tests.helpers_signing import AGENT_KEY, T0, agent_claims, agent_token, get_request

SETTINGS = settings(max_examples=300, deadline=None)


def _outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    try:
        return ("ok", function(*args, **kwargs))
    except RemoteError as exc:
        return (type(exc).__name__, exc.code, exc.message)
    except LocalError as exc:
        return (type(exc).__name__, str(exc))


# --- the planned signature base ---------------------------------------------------------------

_COMPONENT_NAMES = [
    "@method",
    "@authority",
    "@path",
    "signature-key",
    "content-type",
    "content-digest",
    "authorization",
    "x-empty",
    "@query",
    "@target-uri",
    '"content-type";bs',
    '"x-empty";tr',
]
_METHODS = ["GET", "POST", "get", "M\tX", "M\nX", "G\u00c9T", " GET", "\x7f"]
_URLS = [
    "https://resource.example/api/documents",
    "https://Resource.Example:443/a%20b?q=1#frag",
    "http://h.example:8080",
    "https://h.example/p?",
    "https://[2001:db8::1]:8443/x",
    "https://user@h.example/",
    "https://h.example/a b",
    "https://h.example/\u00e9",
    "relative/path",
    "https://h.example:08080/",
]
_HEADER_NAMES = [
    "Signature-Key",
    "signature-key",
    "SIGNATURE-KEY",
    "Content-Type",
    "content-digest",
    "Authorization",
    "X-Empty",
    "Accept",
]
_HEADER_VALUES = st.text(
    alphabet=st.sampled_from(list(' \t\r\nab,;="\x00\x7f\u00e9')), max_size=12
) | st.sampled_from(["  padded  ", "a\r\n b", "x\r\n\ty", 'sig=jwt;jwt="a.b.c"', ""])
_PARAMS_TEXT = st.sampled_from(
    [
        '("@method");created=1',
        "();created=1730217600",
        '("a" "b");keyid="k \\"q\\""',
        "()\x01",
        "()\u00e9",
        "",
    ]
)


@st.composite
def _requests(draw: st.DrawFn) -> HttpRequest:
    headers = draw(st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), _HEADER_VALUES), max_size=6))
    return HttpRequest(draw(st.sampled_from(_METHODS)), draw(st.sampled_from(_URLS)), headers)


def _base(
    message: HttpRequest | HttpResponse,
    components: tuple[ComponentId, ...] | list[ComponentId],
    params: str,
    related_request: HttpRequest | None = None,
) -> bytes:
    return base_of_unique_components(
        message,
        components,
        params,
        related_request=related_request,
        trailers=None,
        request_target=None,
        sf_types=KNOWN_SF_FIELDS,
    )


@SETTINGS
@given(
    _requests(),
    st.lists(st.sampled_from(_COMPONENT_NAMES), unique=True, max_size=6),
    _PARAMS_TEXT,
)
def test_planned_base_equals_the_general_base(
    request: HttpRequest, names: list[str], params: str
) -> None:
    components = tuple(ComponentId.parse(name) for name in names)
    # A list is never planned (it could change): it takes the per-component resolution.
    general = _outcome(_base, request, list(components), params)
    assert _outcome(_base, request, components, params) == general


def test_the_aauth_component_sets_are_planned() -> None:
    for names in (
        AAUTH_REQUIRED_COMPONENTS,
        ("@method", "@authority", "@path", "content-type", "content-digest", "signature-key"),
        ("@method", "@authority", "@path", "authorization", "signature-key"),
    ):
        components, _ = _as_components(names)
        assert components_module._plan(components) is not None
    assert components_module._plan(list(components)) is None
    for other in ("@query", '"content-type";bs', "@status"):
        assert components_module._plan((ComponentId.parse(other),)) is None


def test_plan_is_not_used_for_responses_or_related_requests() -> None:
    components, _ = _as_components(("@method", "signature-key"))
    response = HttpResponse(200, [("Signature-Key", "x")])
    expected = (
        "SignatureError",
        "invalid_signature",
        '"@method" needs a request (use ;req on a response)',
    )
    assert _outcome(_base, response, components, "()") == expected
    request = get_request([("Signature-Key", "x")])
    assert _outcome(_base, request, components, "()", related_request="nope") == (
        "LocalError",
        "related_request must be an HttpRequest",
    )


def test_planned_base_reads_the_memoised_url_and_clean_values_consistently() -> None:
    components, _ = _as_components(AAUTH_REQUIRED_COMPONENTS)
    long_value = "a" * 5000  # longer than the clean-value memo keeps
    for value in ("x", long_value, long_value):
        request = get_request([("Signature-Key", value)])
        assert _base(request, components, "()") == _base(request, list(components), "()")
    bad = get_request([("Signature-Key", "x\x01")])
    assert _outcome(_base, bad, components, "()") == _outcome(_base, bad, list(components), "()")
    assert _outcome(_base, bad, components, "()")[0] == "SignatureError"


# --- Signature: the single-member pattern ------------------------------------------------------


def _full_signature(text: str, label: str, accept: bool) -> bytes | None:
    """What `_select_signature` answers when its pattern does not apply."""
    members = _signature_members(text, accept)
    if members is None:
        return _parse_loose(text).get(label)
    found = members.get(label)
    return None if found is None else _member_bytes(label, found)


_B64_CORE = st.text(alphabet=st.sampled_from(list("AQgw+/9")), max_size=13)
_SIGNATURE_VALUES = st.one_of(
    st.builds(str.__add__, _B64_CORE, st.sampled_from(["", "=", "==", "==="])),
    st.text(alphabet=st.sampled_from(list("AQgw+/_-=9:")), max_size=14),
)


@SETTINGS
@given(_SIGNATURE_VALUES, st.sampled_from(["sig", "other"]), st.booleans())
def test_signature_pattern_agrees_with_the_parsers(value: str, label: str, accept: bool) -> None:
    text = f"{label}=:{value}:"
    assert _outcome(_select_signature, text, "sig", accept) == _outcome(
        _full_signature, text, "sig", accept
    )


# --- Signature-Input: fast parameters ---------------------------------------------------------

_PARAM = st.tuples(
    st.sampled_from(["created", "expires", "nonce", "alg", "keyid", "tag", "x"]),
    st.sampled_from(["0", "7", "1730217600", '"s"', '""', '"1"']),
)


def _full_input(text: str, label: str) -> Any:
    member = _parse_dictionary(text, "Signature-Input").get(label)
    return None if member is None else _member_to_input(label, member)


@SETTINGS
@given(st.lists(_PARAM, max_size=4))
def test_fast_signature_input_parameters_agree_with_the_full_parser(
    params: list[tuple[str, str]],
) -> None:
    text = 'sig=("@method" "@path")' + "".join(f";{k}={v}" for k, v in params)
    assert _outcome(_select_input, text, "sig") == _outcome(_full_input, text, "sig")


# --- Signature-Input member built for signing -------------------------------------------------

_PARAM_VALUES = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([999_999_999_999_999, 1_000_000_000_000_000, True, False, 1.5, b"x"]),
    st.sampled_from(["k", 'q"x', "a\\b", "\u00e9", "\x01", ""]),
)


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["created", "expires", "nonce", "keyid", "x", "Bad", "*k"]),
        _PARAM_VALUES,
        max_size=4,
    )
)
def test_built_member_equals_the_full_serialisation(params: dict[str, Any]) -> None:
    names = ("@method", "signature-key")
    components, inner = _as_components(names)

    def full() -> tuple[tuple[ComponentId, ...], str]:
        return components, _checked_member_text(inner, params)

    assert _outcome(_build_member, names, params) == _outcome(full)


# --- sign_request / verify_request through the planned paths --------------------------------


@pytest.mark.parametrize(
    "components",
    [
        None,
        [*AAUTH_REQUIRED_COMPONENTS, "x-empty"],
        ["@query", "@method", "signature-key", '"accept";bs'],  # not planned
        ["@method", "content-type", "content-digest", "signature-key"],
    ],
)
@pytest.mark.parametrize("body", [b"", b'{"a":1}'])
def test_sign_request_equals_sign_message_over_the_added_headers(
    components: list[str] | None, body: bytes
) -> None:
    from aauth.digest import content_digest

    token = agent_token()
    headers = [("Accept", "application/json"), ("X-Empty", ""), ("Content-Type", "a/b")]
    request = HttpRequest("POST", "https://h.example/p?q=1", headers, body)
    signed = sign_request(
        request, AGENT_KEY, signature_key=token, created=T0, components=components
    )
    covered = components or [
        "@method",
        "@authority",
        "@path",
        *(["content-type", "content-digest"] if body else []),
        "signature-key",
    ]
    added = [("Signature-Key", f'sig=jwt;jwt="{token}"')]
    if "content-digest" in covered:
        added.insert(0, ("Content-Digest", content_digest(body, ("sha-256",))))
    by_hand = sign_message(
        request.with_headers(added), AGENT_KEY, label="sig", components=covered, created=T0
    )
    assert signed == by_hand
    assert verify_request(
        signed, now=T0, required_components=["signature-key"]
    ).components == tuple(ComponentId.parse(name).serialized for name in covered)


# --- nothing memoised is shared with callers --------------------------------------------------


def _signed() -> HttpRequest:
    return sign_request(get_request(), AGENT_KEY, signature_key=agent_token(), created=T0)


def test_token_json_and_jwk_can_be_changed_without_affecting_the_next_request() -> None:
    first = verify_request(_signed(), now=T0)
    first.token_claims["cnf"]["jwk"]["x"] = "changed"
    first.token_claims["exp"] = 0
    first.token_header["alg"] = "none"
    first.public_jwk["x"] = "changed"
    second = verify_request(_signed(), now=T0)
    assert second.token_claims == agent_claims()
    assert second.token_header == {"alg": "Ed25519", "typ": "aa-agent+jwt", "kid": "ap-key-1"}
    assert second.public_jwk == AGENT_KEY.public_jwk
    # The first result keeps its own (changed) copies: built once, then stored.
    assert first.token_claims["exp"] == 0
    assert first.token_claims is first.token_claims


def test_verified_request_behaves_as_a_plain_frozen_dataclass() -> None:
    result = verify_request(_signed(), now=T0)
    names = [f.name for f in dataclasses.fields(VerifiedRequest)]
    assert names == [
        "label",
        "components",
        "params",
        "created",
        "scheme",
        "public_key",
        "public_jwk",
        "thumbprint",
        "algorithm",
        "signature_key",
        "token",
        "token_header",
        "token_claims",
    ]
    as_dict = dataclasses.asdict(verify_request(_signed(), now=T0))
    assert as_dict["token_claims"] == agent_claims()
    assert as_dict["public_jwk"] == AGENT_KEY.public_jwk
    assert "token_claims=" in repr(verify_request(_signed(), now=T0))
    assert result == verify_request(_signed(), now=T0)
    assert pickle.loads(pickle.dumps(result)) == result
    assert copy.copy(verify_request(_signed(), now=T0)) == result
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.label = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="no_such_field"):
        result.no_such_field  # type: ignore[attr-defined]  # noqa: B018


def test_verified_request_constructor_keeps_given_values() -> None:
    given_claims = {"sub": "x"}
    made = VerifiedRequest(
        "sig",
        ('"@method"',),
        {"created": 1},
        1,
        "hwk",
        AGENT_KEY.public_key,
        AGENT_KEY.public_jwk,
        AGENT_KEY.thumbprint,
        "Ed25519",
        HwkKey(label="sig", jwk=AGENT_KEY.public_jwk),
        token_claims=given_claims,
    )
    assert made.token_claims is given_claims
    assert made.token_header == {}
    other = VerifiedRequest(*dataclasses.astuple(made)[:10])
    assert other.token_header == {} and other.token_claims == {}
    assert other.token_header is not made.token_header


def test_results_without_a_token_have_empty_token_json() -> None:
    jwk = AGENT_KEY.public_jwk
    member = HwkKey(
        label="sig", jwk={"kty": "OKP", "crv": "Ed25519", "x": jwk["x"], "alg": "Ed25519"}
    )
    signed = sign_request(get_request(), AGENT_KEY, signature_key=member, created=T0)
    result = verify_request(signed, now=T0)
    assert result.token is None
    assert result.token_header == {} and result.token_claims == {}


def test_signature_key_members_with_dicts_are_copies() -> None:
    text = 'sig=hwk;kty="OKP";crv="Ed25519";x="abc";alg="Ed25519", o=x509;p="q"'
    first = parse_signature_key(text)
    hwk = first["sig"]
    other = first["o"]
    assert isinstance(hwk, HwkKey) and isinstance(other, UnsupportedSchemeKey)
    hwk.jwk["x"] = "changed"
    other.params["p"] = "changed"
    again = parse_signature_key(text)
    assert again["sig"] == HwkKey(
        label="sig", jwk={"kty": "OKP", "crv": "Ed25519", "x": "abc", "alg": "Ed25519"}
    )
    assert again["o"] == UnsupportedSchemeKey(label="o", scheme="x509", params={"p": "q"})
    selected = signature_key_member(text, "sig")
    assert isinstance(selected, HwkKey)
    selected.jwk["x"] = "changed"
    assert signature_key_member(text, "sig") == again["sig"]


# --- the header index ------------------------------------------------------------------------


def test_header_index_survives_copies_and_is_not_shared() -> None:
    request = HttpRequest("GET", "https://h.example/", [("A", " 1 "), ("a", "2")])
    values = request.header_values("a")
    values.append("3")
    assert request.header_values("A") == [" 1 ", "2"]
    assert request.header("a") == "1, 2"
    extended = request.with_headers([("B", "x"), ("A", "4")])
    assert extended.header("a") == "1, 2, 4" and extended.header("b") == "x"
    assert request.header("b") is None and not request.has_header("B")
    for clone in (pickle.loads(pickle.dumps(extended)), copy.copy(extended)):
        assert clone == extended and clone.header("A") == "1, 2, 4"
        assert clone.with_headers([("C", "y")]).header("c") == "y"
    assert [f.name for f in dataclasses.fields(HttpRequest)] == ["headers", "method", "url", "body"]
    response = HttpResponse(200, [("X", "1")])
    assert response.header("x") == "1"
    assert response.with_headers([("Y", "2")]).header("y") == "2"
    assert pickle.loads(pickle.dumps(response)).header("X") == "1"


def test_with_headers_still_validates_the_new_pairs() -> None:
    request = get_request()
    request.header("accept")  # build the index first
    with pytest.raises(LocalError):
        request.with_headers([("A", 1)])  # type: ignore[list-item]
    with pytest.raises(LocalError):
        request.with_headers(["ab"])  # type: ignore[list-item]


def test_errors_are_aauth_errors() -> None:
    assert issubclass(RemoteError, AAuthError) and issubclass(LocalError, AAuthError)


def test_token_json_lists_are_copied_too() -> None:
    from aauth.jws import encode_jwt

    claims = agent_claims() | {"aud": ["https://a.example", "https://b.example"]}
    token = encode_jwt({"typ": "aa-agent+jwt", "kid": "ap-key-1"}, claims, AGENT_KEY)
    signed = sign_request(get_request(), AGENT_KEY, signature_key=token, created=T0)
    first = verify_request(signed, now=T0)
    first.token_claims["aud"].append("https://c.example")
    assert verify_request(signed, now=T0).token_claims["aud"] == claims["aud"]


@pytest.mark.parametrize("required", [[["signature-key"]], [("a",)], [1]])
def test_required_components_that_are_not_strings_are_refused(required: list[Any]) -> None:
    with pytest.raises(LocalError, match="must be a str"):
        verify_request(_signed(), now=T0, required_components=required)


def test_coverage_memo_is_per_required_list() -> None:
    signed = _signed()
    assert verify_request(signed, now=T0).components == (
        '"@method"',
        '"@authority"',
        '"@path"',
        '"signature-key"',
    )
    with pytest.raises(RemoteError, match='does not cover "x-more"') as caught:
        verify_request(signed, now=T0, required_components=(*AAUTH_REQUIRED_COMPONENTS, "x-more"))
    assert caught.value.code == "invalid_input"
    assert verify_request(signed, now=T0).label == "sig"  # the memo kept only the good list


def test_message_constructors_still_refuse_bad_arguments() -> None:
    bad: list[tuple[Any, Any]] = [(1, "https://h/"), ("", "https://h/"), ("GET", b"https://h/")]
    for method, url in bad:
        with pytest.raises(LocalError):
            HttpRequest(method, url)
    with pytest.raises(LocalError, match="body"):
        HttpRequest("GET", "https://h/", (), "text")  # type: ignore[arg-type]
    for status in (True, 99, 1000, "200"):
        with pytest.raises(LocalError, match="status"):
            HttpResponse(status)  # type: ignore[arg-type]
    with pytest.raises(LocalError, match="body"):
        HttpResponse(200, (), "text")  # type: ignore[arg-type]


def test_public_read_and_verify_entry_points_agree_with_verify_request() -> None:
    from aauth.httpsig import (
        ReceivedSignature,
        read_signature,
        signature_labels,
        verify_received,
    )

    signed = _signed()
    assert signature_labels(signed) == ("sig",)
    assert signature_labels(get_request()) == ()
    received = read_signature(signed, "sig")
    assert received.label == "sig"
    verified = verify_received(signed, received, AGENT_KEY.public_key, algorithm="ed25519")
    assert (
        tuple(c.serialized for c in verified.components)
        == verify_request(signed, now=T0).components
    )
    doubled = ReceivedSignature(
        dataclasses.replace(received.input, components=received.input.components * 2),
        received.signature,
    )
    with pytest.raises(SignatureError, match="more than once"):
        verify_received(signed, doubled, AGENT_KEY.public_key, algorithm="ed25519")
    with pytest.raises(LocalError, match="HttpRequest or HttpResponse"):
        sign_message("not a message", AGENT_KEY, label="sig", components=(), created=T0)  # type: ignore[type-var]


def test_time_claims_taken_directly_or_through_the_full_check() -> None:
    from aauth.errors import JoseError
    from aauth.jws import check_time_claims

    class Seconds(int):
        pass

    check_time_claims({"exp": Seconds(T0 + 10), "iat": Seconds(T0)}, now=T0)
    check_time_claims({"exp": T0 + 10, "nbf": T0}, now=T0)
    for bad in ({"exp": True}, {"exp": T0 + 10, "iat": 1.5}, {"exp": T0 + 10, "nbf": None}):
        with pytest.raises(JoseError, match="not an integer NumericDate"):
            check_time_claims(bad, now=T0)
    with pytest.raises(JoseError, match="no 'exp'"):
        check_time_claims({}, now=T0)


def test_signature_key_member_refuses_an_overlong_field() -> None:
    with pytest.raises(RemoteError, match="over the limit of 10") as caught:
        signature_key_member('sig=jwt;jwt="a.b.c"', "sig", max_length=10)
    assert caught.value.code == "invalid_request"
