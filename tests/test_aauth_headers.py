"""AAuth header fields: AAuth -11 §"Requirement Responses", §"AAuth-Access Response Header",
§"AAuth-Capabilities Request Header" (digest §5, §9.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth import sfv
from aauth.aauth_headers import (
    CAPABILITIES,
    MAX_RECEIVED_CODE_LENGTH,
    REQUIREMENT_SENDERS,
    REQUIREMENT_STATUSES,
    REQUIREMENT_TYPES,
    AgentTokenRequired,
    ApprovalPending,
    AuthTokenRequired,
    Capabilities,
    ClaimsRequired,
    ClarificationRequired,
    InteractionRequired,
    PersonTokenRequired,
    Requirement,
    RequirementError,
    build_aauth_access,
    build_aauth_capabilities,
    build_aauth_requirement,
    build_authorization,
    parse_aauth_access,
    parse_aauth_capabilities,
    parse_aauth_requirement,
    parse_authorization,
    read_aauth_access,
    read_aauth_capabilities,
    read_aauth_requirement,
    read_authorization,
    validate_received_interaction_code,
    validate_token68,
)
from aauth.errors import LocalError, RemoteError
from aauth.headers_http import HeaderError
from aauth.http import HttpRequest, HttpResponse
from aauth.interaction import generate_interaction_code

RT = "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiYWEtcmVzb3VyY2Urand0In0.eyJpc3MiOiJ4In0.c2ln"

# ---------------------------------------------------------------------------------------------
# AAuth-Requirement: every example of AAuth -11 §5 and digest §9.1, with its status code

SPEC_EXAMPLES: list[tuple[int, str, Requirement]] = [
    (401, "requirement=agent-token", AgentTokenRequired()),
    (401, "requirement=person-token", PersonTokenRequired()),
    (
        401,
        'requirement=auth-token; resource-token="eyJ..."',
        AuthTokenRequired(resource_token="eyJ..."),
    ),
    (
        202,
        'requirement=auth-token; resource-token="eyJ..."',
        AuthTokenRequired(resource_token="eyJ..."),
    ),
    (
        402,
        'requirement=auth-token; resource-token="eyJ..."',
        AuthTokenRequired(resource_token="eyJ..."),
    ),
    (
        202,
        'requirement=interaction; url="https://resource.example/interaction"; code="A1B2-C3D4"',
        InteractionRequired(url="https://resource.example/interaction", code="A1B2-C3D4"),
    ),
    (
        202,
        'requirement=interaction; url="https://ps.example/interaction"; code="A1B2-C3D4"',
        InteractionRequired(url="https://ps.example/interaction", code="A1B2-C3D4"),
    ),
    (
        # the folded example of §"Interaction Required", with its line breaks removed
        202,
        'requirement=interaction; url="https://example.com/interact"; code="A1B2-C3D4"',
        InteractionRequired(url="https://example.com/interact", code="A1B2-C3D4"),
    ),
    (202, "requirement=approval", ApprovalPending()),
    (202, "requirement=clarification", ClarificationRequired()),
    (202, "requirement=claims", ClaimsRequired()),
]


@pytest.mark.parametrize(("status", "text", "expected"), SPEC_EXAMPLES)
def test_spec_examples_parse(status: int, text: str, expected: Requirement) -> None:
    assert parse_aauth_requirement(text) == expected
    assert parse_aauth_requirement(text, status=status) == expected


@pytest.mark.parametrize(("status", "text", "expected"), SPEC_EXAMPLES)
def test_build_emits_no_optional_spaces_and_round_trips(
    status: int, text: str, expected: Requirement
) -> None:
    built = build_aauth_requirement(expected)
    assert built == text.replace("; ", ";")  # digest §5.1: serialize without spaces
    assert parse_aauth_requirement(built, status=status) == expected


def test_requirement_tables_cover_every_value() -> None:
    assert set(REQUIREMENT_TYPES) == {
        "agent-token",
        "person-token",
        "auth-token",
        "interaction",
        "approval",
        "clarification",
        "claims",
    }
    assert set(REQUIREMENT_STATUSES) == set(REQUIREMENT_TYPES) == set(REQUIREMENT_SENDERS)
    assert REQUIREMENT_SENDERS["claims"] == {"as"}
    assert REQUIREMENT_SENDERS["auth-token"] == {"resource"}
    assert REQUIREMENT_SENDERS["interaction"] == {"resource", "ps", "as"}
    for value, model in REQUIREMENT_TYPES.items():
        assert model.value == value


def test_match_dispatch_over_the_closed_union() -> None:
    def action(req: Requirement) -> str:
        match req:
            case AuthTokenRequired(resource_token=token):
                return f"exchange {token}"
            case InteractionRequired(url=url, code=code):
                return f"send user to {url}?code={code}"
            case _:
                return req.value

    assert action(parse_aauth_requirement(f'requirement=auth-token;resource-token="{RT}"')) == (
        f"exchange {RT}"
    )
    assert action(parse_aauth_requirement("requirement=approval")) == "approval"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # AAuth -11: recipients MUST ignore unknown parameters
        ("requirement=agent-token;foo=1;bar", AgentTokenRequired()),
        (
            'requirement=auth-token;resource-token="x.y.z";hint=?1',
            AuthTokenRequired(resource_token="x.y.z"),
        ),
        (
            'requirement=interaction;code="a1b2-c3d4";url="https://r.example/i";x=(1 2)'.replace(
                "(1 2)", "1"
            ),
            InteractionRequired(url="https://r.example/i", code="a1b2-c3d4"),
        ),
        # unknown dictionary members are ignored too; member order does not matter
        ("other=1, requirement=approval", ApprovalPending()),
        ("requirement=claims, x=(1 2), y", ClaimsRequired()),
        # RFC 9651 leading/trailing SP and SP after ';' (the spec's own style)
        ("  requirement=approval  ", ApprovalPending()),
        ('requirement=auth-token;   resource-token="t"', AuthTokenRequired(resource_token="t")),
        # the code keeps its hyphens and case exactly as sent
        (
            'requirement=interaction;url="https://r.example/i";code="ABCD-EFGH-JK"',
            InteractionRequired(url="https://r.example/i", code="ABCD-EFGH-JK"),
        ),
        # a resource token is opaque here: any non-empty String
        (
            'requirement=auth-token;resource-token="not a jwt"',
            AuthTokenRequired(resource_token="not a jwt"),
        ),
    ],
)
def test_tolerated_inputs(text: str, expected: Requirement) -> None:
    assert parse_aauth_requirement(text) == expected


NEGATIVE_REQUIREMENTS: list[tuple[str, str, str]] = [
    # (field value, code, fragment of the message)
    ("", "invalid_request", "missing"),
    ("other=1", "invalid_request", "missing"),
    ("requirement", "invalid_request", "must be a Token"),  # Boolean true
    ('requirement="auth-token"', "invalid_request", "must be a Token"),
    ("requirement=1", "invalid_request", "must be a Token"),
    ("requirement=(agent-token)", "invalid_request", "must be a Token"),
    ("requirement=:YQ==:", "invalid_request", "must be a Token"),
    ("requirement=agent-token,", "invalid_request", "Dictionary"),
    ("requirement=agent-token;", "invalid_request", "Dictionary"),
    ("Requirement=agent-token", "invalid_request", "Dictionary"),
    ("requirement=agent-token, requirement=approval", "invalid_request", "repeated"),
    (
        'requirement=auth-token;resource-token="a";resource-token="b"',
        "invalid_request",
        "Dictionary",
    ),
    ("requirement=agent-token\u00e9", "invalid_request", "Dictionary"),
    # an unknown value is an error, not satisfiable (AAuth -11 §"Requirement Values")
    ("requirement=payment", "unsupported_requirement", "not defined"),
    ("requirement=Agent-Token", "unsupported_requirement", "not defined"),
    ("requirement=pseudonym", "unsupported_requirement", "not defined"),  # legacy require=
    ("requirement=session-token", "unsupported_requirement", "not defined"),
    # auth-token: resource-token REQUIRED, a String
    ("requirement=auth-token", "invalid_request", "resource-token"),
    ("requirement=auth-token;resource-token", "invalid_request", "String"),
    ("requirement=auth-token;resource-token=eyJ", "invalid_request", "String"),
    ("requirement=auth-token;resource-token=:YQ==:", "invalid_request", "String"),
    ('requirement=auth-token;resource-token=""', "invalid_request", "empty"),
    ('requirement=auth-token;resource-token=%"eyJ"', "invalid_request", "String"),
    (
        'requirement=auth-token, resource-token="eyJ"',
        "invalid_request",
        "separate dictionary member",
    ),
    # interaction: url and code REQUIRED Strings; url https without query/fragment
    ('requirement=interaction;code="A1B2-C3D4"', "invalid_request", "'url'"),
    ('requirement=interaction;url="https://r.example/i"', "invalid_request", "'code'"),
    ('requirement=interaction;url=https;code="A1B2-C3D4"', "invalid_request", "String"),
    (
        'requirement=interaction;url="http://r.example/i";code="A1B2-C3D4"',
        "invalid_request",
        "https",
    ),
    (
        'requirement=interaction;url="https://r.example/i?x=1";code="A1B2-C3D4"',
        "invalid_request",
        "query",
    ),
    (
        'requirement=interaction;url="https://r.example/i#f";code="A1B2-C3D4"',
        "invalid_request",
        "fragment",
    ),
    ('requirement=interaction;url="/interact";code="A1B2-C3D4"', "invalid_request", "absolute"),
    # the code goes verbatim into {url}?code=: RFC 3986 unreserved characters only
    (
        'requirement=interaction;url="https://r.example/i";code="A1B2C3D4&cb=x"',
        "invalid_request",
        "unreserved",
    ),
    (
        'requirement=interaction;url="https://r.example/i";code="A1B2 C3D4"',
        "invalid_request",
        "unreserved",
    ),
    (
        'requirement=interaction;url="https://r.example/i";code="a%2Fb"',
        "invalid_request",
        "unreserved",
    ),
    (
        'requirement=interaction;url="https://r.example/i";code="a#b"',
        "invalid_request",
        "unreserved",
    ),
    (
        'requirement=interaction;url="https://r.example/i";code="a+b"',
        "invalid_request",
        "unreserved",
    ),
    (
        f'requirement=interaction;url="https://r.example/i";code="{"A" * 129}"',
        "invalid_request",
        "longer than 128",
    ),
    ('requirement=interaction;url="https://r.example/i";code=""', "invalid_request", "empty"),
    (
        'requirement=interaction, url="https://r.example/i";code="A1B2-C3D4"',
        "invalid_request",
        "separate",
    ),
]


@pytest.mark.parametrize(("text", "code", "fragment"), NEGATIVE_REQUIREMENTS)
def test_requirement_rejections(text: str, code: str, fragment: str) -> None:
    with pytest.raises(RequirementError) as info:
        parse_aauth_requirement(text)
    assert info.value.code == code
    assert fragment in info.value.message
    assert info.value.header == "AAuth-Requirement"
    assert not info.value.retryable


@pytest.mark.parametrize(
    "code",
    [
        "Hk7leZm8",  # @hellocoop/mockin 2.0.0: 8 random [A-Za-z0-9], here with 'e', 'l'
        "N54euCcr",  # 'u' is outside Crockford base32
        "UUUUUUUU",
        "A1B2",  # fewer than 8 symbols: the issuer's concern, not the agent's
        "x",
        "a.b_c~d-e",
        "A" * MAX_RECEIVED_CODE_LENGTH,
    ],
)
def test_received_interaction_code_is_kept_verbatim(code: str) -> None:
    # tolerant on input: any non-empty RFC 3986 unreserved code, kept exactly as sent
    text = f'requirement=interaction; url="https://ps.example/aauth/consent"; code="{code}"'
    req = parse_aauth_requirement(text, status=202)
    assert req == InteractionRequired(url="https://ps.example/aauth/consent", code=code)
    assert validate_received_interaction_code(code) is code


@pytest.mark.parametrize("code", ["N54euCcr", "UUUUUUUU", "A1B2", "x", "a.b_c~d-e", "A" * 128])
def test_codes_we_emit_stay_crockford(code: str) -> None:
    # strict in what we emit: accepted on input, but not built (outside Crockford base32,
    # fewer than 8 symbols, or more than 64)
    text = f'requirement=interaction;url="https://ps.example/i";code="{code}"'
    req = parse_aauth_requirement(text)
    with pytest.raises(LocalError):
        build_aauth_requirement(req)
    # while a received code that happens to be Crockford round-trips unchanged
    fine = InteractionRequired(url="https://ps.example/i", code="Hk7leZm8")
    assert parse_aauth_requirement(build_aauth_requirement(fine)) == fine


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("", "empty"),
        ("A" * (MAX_RECEIVED_CODE_LENGTH + 1), "longer than"),
        ("A1B2/C3D4", "unreserved"),
        ("A1B2C3Dé", "unreserved"),
        ("A1B2C3D4\n", "unreserved"),
        ("A1B2 C3D4", "unreserved"),
    ],
)
def test_validate_received_interaction_code_refuses(code: str, fragment: str) -> None:
    with pytest.raises(RequirementError) as info:
        validate_received_interaction_code(code)
    assert info.value.code == "invalid_request"
    assert info.value.requirement == "interaction"
    assert fragment in info.value.message
    with pytest.raises(LocalError):
        validate_received_interaction_code(None)  # type: ignore[arg-type]


@given(st.text(max_size=MAX_RECEIVED_CODE_LENGTH + 4))
def test_validate_received_interaction_code_total(code: str) -> None:
    unreserved = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    ok = 0 < len(code) <= MAX_RECEIVED_CODE_LENGTH and set(code) <= unreserved
    try:
        assert validate_received_interaction_code(code) == code
    except RequirementError:
        assert not ok
    else:
        assert ok


def test_unsupported_requirement_carries_the_value() -> None:
    with pytest.raises(RequirementError) as info:
        parse_aauth_requirement("requirement=payment;amount=5")
    assert info.value.requirement == "payment"
    with pytest.raises(RequirementError) as info:
        parse_aauth_requirement("nothing=1")
    assert info.value.requirement is None


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (401, 'requirement=interaction;url="https://r.example/i";code="A1B2-C3D4"'),
        (401, "requirement=approval"),
        (401, "requirement=claims"),
        (200, "requirement=clarification"),
        (202, "requirement=agent-token"),
        (202, "requirement=person-token"),
        (403, 'requirement=auth-token;resource-token="t"'),
    ],
)
def test_status_pairing_is_checked_on_request(status: int, text: str) -> None:
    parse_aauth_requirement(text)  # without a status: accepted
    with pytest.raises(RequirementError) as info:
        parse_aauth_requirement(text, status=status)
    assert info.value.code == "invalid_request"
    assert str(status) in info.value.message


def test_requirement_max_length() -> None:
    text = f'requirement=auth-token;resource-token="{"a" * 9000}"'
    with pytest.raises(RequirementError):
        parse_aauth_requirement(text)
    assert parse_aauth_requirement(text, max_length=10_000) == AuthTokenRequired(
        resource_token="a" * 9000
    )


def test_development_loopback_interaction_url() -> None:
    text = 'requirement=interaction;url="http://127.0.0.1:8080/i";code="A1B2-C3D4"'
    with pytest.raises(RequirementError):
        parse_aauth_requirement(text)
    req = parse_aauth_requirement(text, allow_insecure_loopback_for_development=True)
    assert isinstance(req, InteractionRequired)
    assert req.url == "http://127.0.0.1:8080/i"
    with pytest.raises(LocalError):
        build_aauth_requirement(req)
    assert build_aauth_requirement(req, allow_insecure_loopback_for_development=True) == text


@pytest.mark.parametrize(
    "bad",
    [
        AuthTokenRequired(resource_token=""),
        AuthTokenRequired(resource_token="caf\u00e9"),
        AuthTokenRequired(resource_token=None),  # type: ignore[arg-type]
        InteractionRequired(url="https://r.example/i?q=1", code="A1B2-C3D4"),
        InteractionRequired(url="https://r.example/i", code="A1B2"),
        InteractionRequired(url="https://r.example/i", code="A1B2 C3D4"),
        "requirement=approval",
    ],
)
def test_build_refuses_what_we_must_not_send(bad: object) -> None:
    with pytest.raises(LocalError):
        build_aauth_requirement(bad)  # type: ignore[arg-type]


def test_parse_requirement_refuses_non_str() -> None:
    with pytest.raises(LocalError):
        parse_aauth_requirement(b"requirement=approval")  # type: ignore[arg-type]


_SF_STRING_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)


@given(_SF_STRING_TEXT)
def test_auth_token_round_trip(token: str) -> None:
    req = AuthTokenRequired(resource_token=token)
    assert parse_aauth_requirement(build_aauth_requirement(req)) == req


@given(st.binary(min_size=5, max_size=40), st.integers(8, 20), st.integers(0, 6))
def test_interaction_round_trip(random_bytes: bytes, symbols: int, group: int) -> None:
    if len(random_bytes) * 8 < symbols * 5:
        random_bytes = random_bytes * 4
    code = generate_interaction_code(random_bytes, symbols=symbols, group=group)
    req = InteractionRequired(url="https://ps.example/interaction", code=code)
    assert parse_aauth_requirement(build_aauth_requirement(req), status=202) == req


# ---------------------------------------------------------------------------------------------
# AAuth-Access and Authorization: AAuth (token68, RFC 9110 §11.2)


@pytest.mark.parametrize(
    "token",
    [
        "wrapped-session-token-value",  # AAuth -11 examples
        "a",
        "abc==",
        "A-Z.a_z~0+9/",
        "eyJhbGciOiJFZDI1NTE5In0.eyJzdWIiOiIxIn0.c2ln",
        "x" * 4000,
    ],
)
def test_token68_accepted(token: str) -> None:
    assert parse_aauth_access(token) == token
    assert parse_aauth_access(f" \t{token} ") == token  # OWS around a field value
    assert build_aauth_access(token) == token
    assert build_authorization(token) == f"AAuth {token}"
    assert parse_authorization(build_authorization(token)) == token


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a b", "whitespace"),
        ("a\tb", "whitespace"),
        ("a\x00b", "control"),
        ("a\x7fb", "control"),
        ("a\nb", "control"),
        ("tok1, tok2", "more than one credential"),
        ("tok1,tok2", "more than one credential"),
        ("=abc", "'=' before the end"),
        ("ab=c", "'=' before the end"),
        ('"quoted"', "token68 alphabet"),
        ("caf\u00e9", "token68 alphabet"),
        ("a;b", "token68 alphabet"),
        ("a:b", "token68 alphabet"),
    ],
)
def test_aauth_access_rejections(value: str, fragment: str) -> None:
    with pytest.raises(HeaderError) as info:
        parse_aauth_access(value)
    assert info.value.code == "invalid_request"
    assert info.value.header == "AAuth-Access"
    assert fragment in info.value.message
    if value.strip():
        with pytest.raises(LocalError):
            build_aauth_access(value)
        with pytest.raises(LocalError):
            build_authorization(value)


def test_aauth_access_limits_and_types() -> None:
    with pytest.raises(HeaderError):
        parse_aauth_access("a" * 9000)
    assert parse_aauth_access("a" * 9000, max_length=9000) == "a" * 9000
    with pytest.raises(LocalError):
        parse_aauth_access(None)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        validate_token68(b"abc")  # type: ignore[arg-type]
    assert validate_token68("abc") == "abc"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AAuth wrapped-session-token-value", "wrapped-session-token-value"),
        ("aauth tok", "tok"),  # RFC 9110 §11.1: the scheme is case-insensitive
        ("AAUTH tok", "tok"),
        ("AAuth    tok==", "tok=="),  # 1*SP
        ("  AAuth tok  ", "tok"),
        ("Bearer tok", None),  # another scheme: not ours
        ("Basic dXNlcjpwYXNz", None),
        ("AAuthX tok", None),
        ("Digest username=x, realm=y", None),
        ("", None),
        ("=tok", None),
    ],
)
def test_parse_authorization(value: str, expected: str | None) -> None:
    assert parse_authorization(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("AAuth", "no session token"),
        ("AAuth   ", "no session token"),
        ("AAuth\ttok", "followed by a space"),
        ("AAuth,tok", "followed by a space"),
        ("AAuth tok1 tok2", "whitespace"),
        ("AAuth tok1, AAuth tok2", "more than one credential"),
        ("AAuth realm=x", "'=' before the end"),
        ('AAuth realm="x"', "'=' before the end"),
        ("AAuth tok\x01", "control"),
    ],
)
def test_authorization_rejections(value: str, fragment: str) -> None:
    with pytest.raises(HeaderError) as info:
        parse_authorization(value)
    assert info.value.code == "invalid_request"
    assert info.value.header == "Authorization"
    assert fragment in info.value.message


def test_authorization_limits_and_types() -> None:
    with pytest.raises(HeaderError):
        parse_authorization("AAuth " + "a" * 9000)
    with pytest.raises(LocalError):
        parse_authorization(1)  # type: ignore[arg-type]


_TOKEN68 = st.from_regex(r"[A-Za-z0-9\-._~+/]{1,60}={0,3}", fullmatch=True)


@given(_TOKEN68)
def test_token68_round_trip(token: str) -> None:
    assert parse_aauth_access(build_aauth_access(token)) == token
    assert parse_authorization(build_authorization(token)) == token


# ---------------------------------------------------------------------------------------------
# AAuth-Capabilities


def test_capabilities_spec_example() -> None:
    caps = parse_aauth_capabilities("interaction, clarification, payment")
    assert caps.values == ("interaction", "clarification", "payment")
    assert caps.known == CAPABILITIES
    assert caps.interaction and caps.clarification and caps.payment
    assert "payment" in caps
    assert build_aauth_capabilities(caps.values) == "interaction, clarification, payment"


def test_absent_capabilities_assume_nothing() -> None:
    # AAuth -11: when the header is absent, recipients MUST NOT assume any capabilities
    for caps in (parse_aauth_capabilities(None), parse_aauth_capabilities(""), Capabilities()):
        assert caps.values == ()
        assert caps.known == frozenset()
        assert not (caps.interaction or caps.clarification or caps.payment)


@pytest.mark.parametrize(
    ("value", "values", "known"),
    [
        # unknown values and parameters are ignored, not refused
        ("interaction;level=2, telepathy", ("interaction", "telepathy"), {"interaction"}),
        ("payment, payment, payment", ("payment",), {"payment"}),
        ('"interaction", clarification', ("clarification",), {"clarification"}),
        ("(interaction payment), 1, ?1, :YQ==:", (), set()),
        ("Interaction", ("Interaction",), set()),  # Tokens are case-sensitive
        ("*star, interaction", ("*star", "interaction"), {"interaction"}),
    ],
)
def test_capabilities_tolerance(value: str, values: tuple[str, ...], known: set[str]) -> None:
    caps = parse_aauth_capabilities(value)
    assert caps.values == values
    assert caps.known == known
    assert caps.interaction == ("interaction" in values)


@pytest.mark.parametrize("value", ["interaction,", "interaction clarification", "é", ",", "a;"])
def test_capabilities_not_a_list(value: str) -> None:
    with pytest.raises(HeaderError) as info:
        parse_aauth_capabilities(value)
    assert info.value.code == "invalid_request"
    assert info.value.header == "AAuth-Capabilities"


def test_capabilities_build() -> None:
    assert build_aauth_capabilities([]) == ""
    own = ["interaction"]
    from_ps = ["payment", "interaction"]
    assert build_aauth_capabilities([*own, *from_ps]) == "interaction, payment"
    for bad in (["has space"], ["1abc"], [""], [None], "interaction"):
        with pytest.raises(LocalError):
            build_aauth_capabilities(bad)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        parse_aauth_capabilities(3)  # type: ignore[arg-type]
    with pytest.raises(HeaderError):
        parse_aauth_capabilities("a" * 9000)


_TOKENS = st.lists(st.from_regex(r"[a-z*][a-z0-9_.:/*-]{0,12}", fullmatch=True), max_size=6)


@given(_TOKENS)
def test_capabilities_round_trip(values: list[str]) -> None:
    caps = parse_aauth_capabilities(build_aauth_capabilities(values))
    assert caps.values == tuple(dict.fromkeys(values))


# ---------------------------------------------------------------------------------------------
# Arbitrary input: a value or our error, nothing else

_ANY_TEXT = st.text(max_size=120) | st.text(
    st.sampled_from('requirement=auth-token;resource-token"url=code"A1B2-C3D4 ,;()=?:*\t'),
    max_size=120,
)


def _sf_shaped() -> st.SearchStrategy[str]:
    item = st.one_of(
        st.sampled_from([*REQUIREMENT_TYPES, "x", "?1", "1", ":YQ==:", '"s"', "(a b)"]),
        st.just('"https://r.example/i"'),
        st.just('"A1B2-C3D4"'),
    )
    param = st.tuples(st.sampled_from(["url", "code", "resource-token", "x"]), item).map(
        lambda p: f";{p[0]}={p[1]}"
    )
    member = st.tuples(
        st.sampled_from(["requirement", "url", "code", "other"]), item, st.lists(param, max_size=3)
    ).map(lambda m: f"{m[0]}={m[1]}{''.join(m[2])}")
    return st.lists(member, max_size=3).map(", ".join)


@given(_ANY_TEXT | _sf_shaped(), st.sampled_from([None, 200, 202, 401, 402]), st.booleans())
def test_requirement_parser_raises_only_our_error(text: str, status: int | None, dev: bool) -> None:
    try:
        req = parse_aauth_requirement(
            text, status=status, allow_insecure_loopback_for_development=dev
        )
    except RequirementError as exc:
        assert exc.code in {"invalid_request", "unsupported_requirement"}
        return
    assert req.value in REQUIREMENT_TYPES
    assert (
        parse_aauth_requirement(
            build_aauth_requirement(req, allow_insecure_loopback_for_development=dev),
            allow_insecure_loopback_for_development=dev,
        )
        == req
    )


@given(_ANY_TEXT)
def test_token68_parsers_raise_only_our_error(text: str) -> None:
    for parse in (parse_aauth_access, parse_authorization):
        try:
            token = parse(text)
        except HeaderError as exc:
            assert isinstance(exc, RemoteError)
            assert exc.code == "invalid_request"
            continue
        if token is not None:
            assert validate_token68(token) == token


@given(_ANY_TEXT)
def test_capabilities_parser_raises_only_our_error(text: str) -> None:
    try:
        caps = parse_aauth_capabilities(text)
    except HeaderError as exc:
        assert exc.code == "invalid_request"
        return
    for value in caps.values:
        sfv.serialize_item(sfv.Token(value))  # every kept value is a real Token


# ---------------------------------------------------------------------------------------------
# Reading from neutral HTTP messages (digest §9.1 responses and requests)


def test_read_from_the_spec_responses() -> None:
    pending = HttpResponse(
        202,
        [
            ("Location", "https://resource.example/authorize/pending/abc123"),
            ("Retry-After", "0"),
            ("Cache-Control", "no-store"),
            (
                "AAuth-Requirement",
                'requirement=interaction; url="https://resource.example/interaction"; '
                'code="A1B2-C3D4"',
            ),
            ("Content-Type", "application/json"),
        ],
        b'{"status": "pending"}',
    )
    assert read_aauth_requirement(pending) == InteractionRequired(
        url="https://resource.example/interaction", code="A1B2-C3D4"
    )
    assert read_aauth_access(pending) is None
    done = HttpResponse(200, [("aauth-access", "wrapped-session-token-value")])
    assert read_aauth_requirement(done) is None
    assert read_aauth_access(done) == "wrapped-session-token-value"
    # interaction on a 401 is refused unless the caller opts out of the status check
    wrong = HttpResponse(401, pending.headers)
    with pytest.raises(RequirementError):
        read_aauth_requirement(wrong)
    assert isinstance(read_aauth_requirement(wrong, check_status=False), InteractionRequired)
    loopback = HttpResponse(
        202,
        [
            (
                "AAuth-Requirement",
                'requirement=interaction;url="http://localhost:1/i";code="A1B2C3D4"',
            )
        ],
    )
    assert isinstance(
        read_aauth_requirement(loopback, allow_insecure_loopback_for_development=True),
        InteractionRequired,
    )


def test_two_challenges_or_two_session_tokens_are_refused() -> None:
    two = HttpResponse(
        401,
        [
            ("AAuth-Requirement", "requirement=agent-token"),
            ("AAuth-Requirement", "requirement=person-token"),
        ],
    )
    with pytest.raises(RequirementError):
        read_aauth_requirement(two)
    with pytest.raises(HeaderError) as info:
        read_aauth_access(HttpResponse(200, [("AAuth-Access", "a"), ("AAuth-Access", "b")]))
    assert "more than one credential" in info.value.message


def test_read_authorization_and_capabilities() -> None:
    url = "https://resource.example/api/data"
    request = HttpRequest(
        "GET",
        url,
        [
            ("Authorization", "AAuth wrapped-session-token-value"),
            ("AAuth-Capabilities", "interaction, clarification"),
            ("AAuth-Capabilities", "payment"),
        ],
    )
    assert read_authorization(request) == "wrapped-session-token-value"
    assert read_aauth_capabilities(request).values == ("interaction", "clarification", "payment")
    bare = HttpRequest("GET", url)
    assert read_authorization(bare) is None
    assert read_aauth_capabilities(bare) == Capabilities()
    assert read_authorization(HttpRequest("GET", url, [("Authorization", "Bearer x")])) is None
    assert (
        read_authorization(
            HttpRequest("GET", url, [("Authorization", "Bearer x"), ("Authorization", "Basic y")])
        )
        is None
    )
    with pytest.raises(HeaderError):
        read_authorization(
            HttpRequest("GET", url, [("Authorization", "Bearer x"), ("Authorization", "AAuth y")])
        )
