"""RFC 9421 §2 component identifiers, values and the §2.5 signature base: edge cases and
every error path. The RFC's own examples are in ``test_rfc9421_vectors.py``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth import sfv
from aauth.components import (
    DERIVED_COMPONENTS,
    KNOWN_SF_FIELDS,
    ComponentId,
    build_signature_base,
    component_value,
    components_from_inner_list,
    signature_base,
)
from aauth.errors import LocalError, SignatureError
from aauth.http import HttpRequest, HttpResponse

REQ = HttpRequest(
    "POST",
    "https://Example.COM/a/b?x=1&y=two",
    [("Host", "example.com"), ("Content-Type", "application/json"), ("X-Multi", "a")],
)


def _value(message: Any, component: str, **kwargs: Any) -> str:
    return component_value(message, component, **kwargs)


def _fails(message: Any, component: str, fragment: str, **kwargs: Any) -> None:
    with pytest.raises(SignatureError) as info:
        component_value(message, component, **kwargs)
    assert info.value.code == "invalid_signature"
    assert fragment in info.value.message


# --- ComponentId ---------------------------------------------------------------------------


def test_component_id_forms_and_equality() -> None:
    plain = ComponentId.parse("content-type")
    assert plain == ComponentId.parse('"content-type"')
    assert plain.serialized == '"content-type"' == str(plain)
    assert repr(plain) == 'ComponentId("content-type")'
    assert not plain.is_derived and ComponentId.parse("@method").is_derived
    key_req: dict[str, sfv.BareItem] = {"key": "a", "req": True}
    a = ComponentId("example-dict", key_req)
    b = ComponentId("example-dict", [("req", True), ("key", "a")])
    assert a == b and hash(a) == hash(b)  # RFC 9421 §2: parameter order is not significant
    assert a.serialized == '"example-dict";key="a";req'
    assert b.serialized == '"example-dict";req;key="a"'
    assert a != ComponentId("example-dict", [("key", "b"), ("req", True)])
    assert a.param("key") == "a" and a.param("sf") is None
    assert (a == "example-dict") is False
    query = ComponentId.parse('"@query-param";name="Pet"')
    assert query.params == (("name", "Pet"),)
    assert ComponentId.parse('"@query-param";name="Pet"') is query  # cached


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("Content-Type", {}, "lowercase"),
        ("", {}, "lowercase"),
        ("a b", {}, "lowercase"),
        ("@foo", {}, "unknown derived"),
        ("@signature-params", {}, "cannot be a covered"),
        ("@query-param", {}, "requires the 'name'"),
        ("@query-param", {"name": 1}, "must be a string"),
        ("@query-param", {"name": "é"}, "must be a string"),
        ("@method", {"name": "x"}, "does not apply"),
        ("@method", {"sf": True}, "does not apply"),
        ("@method", {"req": 1}, "bare flag"),
        ("@path", {"req": False}, "bare flag"),
        ("x", {"foo": True}, "unknown component parameter"),
        ("x", {"sf": 1}, "bare flag"),
        ("x", {"tr": "yes"}, "bare flag"),
        ("x", {"key": 1}, "must be a string"),
        ("x", {"key": "\x00"}, "must be a string"),
        ("x", {"bs": True, "sf": True}, "cannot be combined"),
        ("x", {"bs": True, "key": "a"}, "cannot be combined"),
    ],
)
def test_invalid_component_ids(name: str, params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(LocalError) as info:
        ComponentId(name, params)
    assert fragment in str(info.value)
    # The same identifier received in a Signature-Input is the peer's fault.
    inner = sfv.InnerList([sfv.Item(name, params)])
    with pytest.raises(SignatureError) as remote:
        components_from_inner_list(inner)
    assert remote.value.code == "invalid_signature"
    assert fragment in remote.value.message


def test_component_id_parse_errors() -> None:
    for text in ['"unterminated', "@method;req", '"a" "b"']:
        with pytest.raises(LocalError):
            ComponentId.parse(text)
    with pytest.raises(LocalError):
        ComponentId.parse('"\\q"')
    with pytest.raises(LocalError):
        ComponentId.parse(b"@method")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        ComponentId(1)  # type: ignore[arg-type]


def test_components_from_inner_list() -> None:
    inner = sfv.parse_list('("@method" "x";sf "x" "@query-param";name="a")')[0]
    assert isinstance(inner, sfv.InnerList)
    got = components_from_inner_list(inner)
    assert [c.serialized for c in got] == ['"@method"', '"x";sf', '"x"', '"@query-param";name="a"']
    for text, fragment in [
        ('("@method" path)', "not a string"),
        ('("a" a)', "not a string"),
        ('("a";key="k";req "a";req;key="k")', "more than once"),
        ('("@method" "@method")', "more than once"),
    ]:
        bad = sfv.parse_list(text)[0]
        assert isinstance(bad, sfv.InnerList)
        with pytest.raises(SignatureError) as info:
            components_from_inner_list(bad)
        assert fragment in info.value.message


def test_known_tables() -> None:
    assert "@signature-params" not in DERIVED_COMPONENTS
    assert KNOWN_SF_FIELDS["signature-key"] == "dictionary"
    assert KNOWN_SF_FIELDS["accept-signature-alg"] == "list"


# --- derived components ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "authority", "path", "query", "target"),
    [
        ("https://Example.COM/a/b?x=1", "example.com", "/a/b", "?x=1", "/a/b?x=1"),
        ("https://example.com", "example.com", "/", "?", "/"),
        ("https://example.com?", "example.com", "/", "?", "/?"),
        ("https://example.com:443/p", "example.com", "/p", "?", "/p"),
        ("https://example.com:0443/p", "example.com", "/p", "?", "/p"),
        ("https://example.com:/p", "example.com", "/p", "?", "/p"),
        ("https://example.com:8443/p", "example.com:8443", "/p", "?", "/p"),
        ("http://example.com:80/p", "example.com", "/p", "?", "/p"),
        ("http://example.com:443/p", "example.com:443", "/p", "?", "/p"),
        ("HTTP://[2001:DB8::1]:8080/", "[2001:db8::1]:8080", "/", "?", "/"),
        ("ws://example.com:0/", "example.com:0", "/", "?", "/"),
        ("https://example.com/p?q#frag", "example.com", "/p", "?q", "/p?q"),
        ("https://example.com/%7Euser/a%2Fb", "example.com", "/%7Euser/a%2Fb", "?", None),
    ],
)
def test_url_derived(url: str, authority: str, path: str, query: str, target: str | None) -> None:
    message = HttpRequest("GET", url)
    assert _value(message, "@authority") == authority
    assert _value(message, "@path") == path
    assert _value(message, "@query") == query
    assert _value(message, "@scheme") == url.partition(":")[0].lower()
    assert _value(message, "@target-uri") == url.partition("#")[0]
    if target is not None:
        assert _value(message, "@request-target") == target


def test_request_target_override_and_method() -> None:
    assert _value(REQ, "@request-target", request_target="*") == "*"
    assert _value(HttpRequest("get", "/relative"), "@method") == "get"
    # The override never parses the URL, so a CONNECT request needs no absolute URL.
    connect = HttpRequest("CONNECT", "")
    assert _value(connect, "@request-target", request_target="example.com:443") == (
        "example.com:443"
    )


@pytest.mark.parametrize(
    "url",
    [
        "/relative/path",
        "https://user:pw@example.com/",
        "https://example.com/a b",
        "https://exämple.com/",
        "https:///nohost",
        "https://[::1/",
        "https://example.com:8a/",
        "https://example.com/\n",
        "",
    ],
)
def test_bad_urls(url: str) -> None:
    _fails(HttpRequest("GET", url), "@authority", "")


def test_status_and_message_kinds() -> None:
    response = HttpResponse(204, [("Date", "x")])
    assert _value(response, "@status") == "204"
    assert _value(HttpResponse(101), "@status") == "101"
    _fails(REQ, "@status", "only defined for a response")
    _fails(response, "@method", "needs a request")
    _fails(response, '"@path";req', "no related request")
    _fails(REQ, '"@path";req', "cannot be used on a request")
    _fails(REQ, '"content-type";req', "cannot be used on a request")
    _fails(response, '"@status";req', "only defined for a response", related_request=REQ)
    assert _value(response, '"@path";req', related_request=REQ) == "/a/b"
    assert _value(response, '"content-type";req', related_request=REQ) == "application/json"


def test_query_params() -> None:
    message = HttpRequest(
        "GET",
        "https://e.example/?a=1&b=x+y&&c&d=~%7e*-._&e=%zz%&f=%FF&a%20b=%3D&dup=1&dup=2",
    )
    assert _value(message, '"@query-param";name="a"') == "1"
    assert _value(message, '"@query-param";name="b"') == "x%20y"
    assert _value(message, '"@query-param";name="c"') == ""
    assert _value(message, '"@query-param";name="d"') == "%7E%7E*-._"
    assert _value(message, '"@query-param";name="e"') == "%25zz%25"
    assert _value(message, '"@query-param";name="f"') == "%EF%BF%BD"  # invalid UTF-8
    assert _value(message, '"@query-param";name="a%20b"') == "%3D"
    _fails(message, '"@query-param";name="a b"', "not in the request")
    _fails(message, '"@query-param";name="zzz"', "not in the request")
    _fails(message, '"@query-param";name="dup"', "more than once")
    _fails(HttpRequest("GET", "https://e.example/"), '"@query-param";name="a"', "not in")


# --- HTTP fields ----------------------------------------------------------------------------


def test_field_values() -> None:
    message = HttpRequest(
        "GET",
        "https://e.example/",
        [
            ("X-A", " \t one \t"),
            ("x-a", "two"),
            ("X-Fold", "a \r\n\t b"),
            ("X-Empty", ""),
            ("X-Empty", ""),
        ],
    )
    assert _value(message, "x-a") == "one, two"
    assert _value(message, "x-fold") == "a b"
    assert _value(message, "x-empty") == ", "
    _fails(message, "x-missing", "not in the message")


@pytest.mark.parametrize(
    "value", ["a\nb", "a\rb", "a\r\nb", "caf\u00e9", "a\x00b", "a\x7fb", "\u2028"]
)
def test_field_values_must_be_visible_ascii(value: str) -> None:
    message = HttpRequest("GET", "https://e.example/", [("X-Bad", value)])
    _fails(message, "x-bad", "non-ASCII or control")
    with pytest.raises(SignatureError) as info:
        signature_base(message, '("x-bad")')
    assert "x-bad" in info.value.message


def test_tab_inside_a_value_is_kept() -> None:
    message = HttpRequest("GET", "https://e.example/", [("X-Tab", "a\tb")])
    assert _value(message, "x-tab") == "a\tb"
    assert signature_base(message, '("x-tab")') == b'"x-tab": a\tb\n"@signature-params": ("x-tab")'


def test_byte_sequence_fields() -> None:
    message = HttpRequest(
        "GET",
        "https://e.example/",
        [("X-B", " caf\u00e9 "), ("X-B", "\u20ac"), ("X-B", "a\r\n b")],
    )
    # Latin-1 when every character fits, UTF-8 otherwise; obs-fold replaced first.
    assert _value(message, '"x-b";bs') == ":Y2Fm6Q==:, :4oKs:, :YSBi:"
    # A str that came from undecodable bytes (surrogateescape) goes back to those bytes.
    raw = HttpRequest("GET", "https://e.example/", [("X-B", "\udcff\u20ac")])
    assert _value(raw, '"x-b";bs') == ":/+KCrA==:"
    lone = HttpRequest("GET", "https://e.example/", [("X-B", "\ud800\u20ac")])
    _fails(lone, '"x-b";bs', "cannot be encoded")


def test_trailers() -> None:
    response = HttpResponse(200, [("Expires", "header-value")])
    trailers = [("Expires", "trailer-value"), ("X-T", "t")]
    assert _value(response, '"expires";tr', trailers=trailers) == "trailer-value"
    assert _value(response, "expires", trailers=trailers) == "header-value"
    _fails(response, '"x-t"', "header field")
    _fails(response, '"expires";tr', "trailer field")
    _fails(response, '"x-none";tr', "trailer field", trailers=trailers)
    related = [("X-R", "r")]
    assert _value(response, '"x-r";req;tr', related_request=REQ, related_trailers=related) == "r"


def test_structured_fields() -> None:
    message = HttpRequest(
        "GET",
        "https://e.example/",
        [
            ("Example-Dict", "a=1,  b=2"),
            ("Example-Dict", "c=(x   y);p=?0"),
            ("Client-Cert", ":YQ==:;x"),
            ("Accept-Signature-Alg", "Ed25519,   ES256"),
            ("X-Unknown", "a=1"),
            ("X-Bad-Dict", "a=1, (b)"),
        ],
    )
    assert _value(message, '"example-dict";sf') == "a=1, b=2, c=(x y);p=?0"
    assert _value(message, '"client-cert";sf') == ":YQ==:;x"
    assert _value(message, '"accept-signature-alg";sf') == "Ed25519, ES256"
    assert _value(message, '"example-dict";key="c"') == "(x y);p=?0"
    assert _value(message, '"x-unknown";key="a"') == "1"  # unknown type: read as Dictionary
    assert _value(message, '"x-unknown";sf', sf_types={"x-unknown": "dictionary"}) == "a=1"
    _fails(message, '"x-unknown";sf', "type of 'x-unknown' is not known")
    _fails(message, '"example-dict";key="z"', "no such member")
    _fails(message, '"client-cert";key="a"', "not a Dictionary")
    _fails(message, '"x-bad-dict";key="a"', "not a valid Dictionary")
    _fails(
        message, '"x-bad-dict";sf', "not a valid dictionary", sf_types={"x-bad-dict": "dictionary"}
    )
    _fails(
        message,
        '"accept-signature-alg";sf',
        "not a valid item",
        sf_types={"accept-signature-alg": "item"},
    )
    _fails(message, '"x-bad-dict";sf', "not a valid list", sf_types={"x-bad-dict": "list"})


# --- signature base ---------------------------------------------------------------------------


def test_signature_base_member_and_field_forms() -> None:
    member = '("@method" "@authority" "@path" "content-type");created=1;keyid="k"'
    expected = (
        '"@method": POST\n"@authority": example.com\n"@path": /a/b\n'
        '"content-type": application/json\n'
        f'"@signature-params": {member}'
    ).encode()
    assert signature_base(REQ, member) == expected
    assert signature_base(REQ, f"sig={member}") == expected
    assert signature_base(REQ, f"other=(), sig={member}", "sig") == expected
    # Strict re-serialisation of the member for @signature-params (RFC 9421 §3.2 step 7).
    loose = '(  "@method"   "@path" );created=1; keyid="k"'
    assert signature_base(REQ, loose).endswith(
        b'"@signature-params": ("@method" "@path");created=1;keyid="k"'
    )
    assert signature_base(REQ, "()") == b'"@signature-params": ()'


@pytest.mark.parametrize(
    ("text", "label", "fragment"),
    [
        ('other=("@method")', "sig", "has no member 'sig'"),
        ("sig=1", "sig", "not an inner list"),
        ('sig=("@method"), sig=("@path")', "sig", "neither"),
        ('("@method"), ("@path")', "sig", "single inner list"),
        ('"@method"', "sig", "single inner list"),
        ("(((", "sig", "neither"),
        ('("@method" "@method")', "sig", "more than once"),
        ('("@nope")', "sig", "unknown derived"),
        ('("x-missing")', "sig", "not in the message"),
    ],
)
def test_signature_base_errors(text: str, label: str, fragment: str) -> None:
    with pytest.raises(SignatureError) as info:
        signature_base(REQ, text, label)
    assert info.value.code == "invalid_signature"
    assert fragment in info.value.message


def test_signature_base_rejects_non_ascii_parameters() -> None:
    with pytest.raises(SignatureError) as info:
        build_signature_base(REQ, [], '();tag="caf\u00e9"')
    assert "@signature-params" in info.value.message
    with pytest.raises(SignatureError):
        build_signature_base(REQ, [], "()\n")


def test_build_signature_base_refuses_duplicates() -> None:
    method = ComponentId("@method")
    with pytest.raises(SignatureError) as info:
        build_signature_base(REQ, [method, ComponentId.parse('"@method"')], "()")
    assert "more than once" in info.value.message


def test_local_errors_for_wrong_argument_types() -> None:
    with pytest.raises(LocalError):
        signature_base(REQ, b"()")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        signature_base(REQ, "()", 1)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        component_value("not a message", "@method")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        component_value(
            HttpResponse(200),
            "@status",
            related_request=HttpResponse(200),  # type: ignore[arg-type]
        )


def test_lookups_are_reused_within_one_base() -> None:
    message = HttpRequest("GET", "https://e.example/?a=1&b=2", [("X-A", "1")])
    member = '("@query-param";name="a" "@query-param";name="b" "x-t";tr "x-u";tr "x-a")'
    base = signature_base(message, member, trailers=[("X-T", "t"), ("X-U", "u")])
    assert base.split(b"\n")[:5] == [
        b'"@query-param";name="a": 1',
        b'"@query-param";name="b": 2',
        b'"x-t";tr: t',
        b'"x-u";tr: u',
        b'"x-a": 1',
    ]
    bad = HttpRequest("GET", "https://e.example/", [("X-A", "1"), ("X-B", "\u00ff")])
    with pytest.raises(SignatureError) as info:
        signature_base(bad, '("x-a" "x-b")')
    assert info.value.message.startswith('"x-b"')


def test_parse_cache_is_bounded() -> None:
    from aauth.components import _PARSE_CACHE

    for index in range(1100):
        assert ComponentId.parse(f"x-field-{index}").name == f"x-field-{index}"
        assert len(_PARSE_CACHE) <= 512


def test_identifier_strings_are_escaped() -> None:
    component = ComponentId("x", {"key": 'a"b\\c'})
    assert component.serialized == '"x";key="a\\"b\\\\c"'
    assert ComponentId.parse(component.serialized) == component
    assert sfv.parse_item(component.serialized).params == {"key": 'a"b\\c'}


_TEXT = st.text(
    alphabet=st.sampled_from(list(' \t"();=,:*@-_aA1?/%&+\\\r\n\u00e9\x00')), max_size=40
)
_IDENTIFIERS = st.sampled_from(
    [
        '"@method"',
        '"@path"',
        '"@query"',
        '"@query-param";name="a"',
        '"x-h"',
        '"x-h";sf',
        '"x-h";key="a"',
        '"x-h";bs',
        '"x-h";tr',
        '"@status"',
        '"@authority"',
        '"@request-target"',
    ]
)


@given(_TEXT, _TEXT, _TEXT)
def test_arbitrary_input_gives_bytes_or_signature_error(
    signature_input: str, header: str, url_tail: str
) -> None:
    message = HttpRequest("GET", "https://e.example/" + url_tail, [("X-H", header)])
    for text in (signature_input, f"sig={signature_input}"):
        try:
            base = signature_base(message, text, sf_types={"x-h": "list"})
        except SignatureError as exc:
            assert exc.code == "invalid_signature"
        else:
            assert base.isascii()


@given(st.lists(_IDENTIFIERS, max_size=5), _TEXT, _TEXT)
def test_arbitrary_messages_give_values_or_signature_error(
    identifiers: list[str], header: str, url_tail: str
) -> None:
    message = HttpRequest("GET", "https://e.example/" + url_tail, [("X-H", header)])
    member = "(" + " ".join(identifiers) + ")"
    try:
        base = signature_base(message, member, trailers=[("X-H", header)])
    except SignatureError as exc:
        assert exc.code == "invalid_signature"
    else:
        lines = base.decode("ascii").split("\n")
        assert len(lines) == len(identifiers) + 1
        assert lines[-1] == f'"@signature-params": {member}'
