"""Identifiers and URLs: AAuth -11 §"Identifiers", §"Agent Identifiers" (digest §1.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth.errors import RemoteError
from aauth.identifiers import (
    AgentId,
    InvalidIdentifierError,
    parse_agent_id,
    validate_agent_id,
    validate_endpoint_url,
    validate_https_url,
    validate_server_id,
)

DEV = {"allow_insecure_loopback_for_development": True}

# ---------------------------------------------------------------------------------------------
# Server identifiers

SERVER_ID_VALID = [
    "https://agent.example",  # spec example
    "https://xn--nxasmq6b.example",  # spec example (A-label)
    "https://xn--bcher-kva.example",  # bücher
    "https://a.b.c.d.example",
    "https://localhost",  # single label: a host, and https
    "https://a-b.example",
    "https://123.example",  # numeric label that is not the top label
    "https://example.x1",
    "https://" + "a" * 63 + ".example",
    "https://" + ".".join(["a" * 63] * 3) + "." + "b" * 61,  # 253 characters of host
]

SERVER_ID_INVALID = [
    # spec examples
    ("http://agent.example", "https scheme"),
    ("https://Agent.Example", "lowercase"),
    ("https://agent.example:8443", "port"),
    ("https://agent.example/v1", "path"),
    ("https://agent.example/", "trailing slash"),
    # more rules
    ("", "empty"),
    ("agent.example", "absolute"),
    ("HTTPS://agent.example", "lowercase 'https'"),
    ("ftp://agent.example", "https scheme"),
    ("https://agent.example?x=1", "query"),
    ("https://agent.example?", "query"),
    ("https://agent.example#f", "fragment"),
    ("https://agent.example#", "fragment"),
    ("https://user@agent.example", "userinfo"),
    ("https://user:pw@agent.example", "userinfo"),
    ("https://", "empty host"),
    ("https://1.2.3.4", "IP address"),
    ("https://127.0.0.1", "IP address"),
    ("https://[::1]", "IP literal"),
    ("https://[2001:db8::1]", "IP literal"),
    ("https://bücher.example", "A-labels"),
    ("https://agent.example.", "empty DNS label"),
    ("https://.agent.example", "empty DNS label"),
    ("https://a..example", "empty DNS label"),
    ("https://-a.example", "starts or ends with '-'"),
    ("https://a-.example", "starts or ends with '-'"),
    ("https://a_b.example", "characters other than"),
    ("https://a b.example", "characters other than"),
    ("https://agent.example\n", "characters other than"),
    ("https://" + "a" * 64 + ".example", "longer than 63"),
    ("https://" + ".".join(["a" * 63] * 4), "longer than 253"),
    ("https://XN--NXASMQ6B.example", "lowercase"),
    ("https://xn--abc.example", "disallowed U-label"),  # decodes to C1 controls
    ("https://xn--zzzzzzzzzzzz.example", "not valid Punycode"),
    ("https://xn---1yhyd.example", "not the canonical Punycode"),
    ("https://xn--" + "É".encode("punycode").decode() + ".example", "disallowed U-label"),
    ("https://xn--" + "e\u0301".encode("punycode").decode() + ".example", "NFC"),
    ("http://localhost:8080", "https scheme"),  # development form, switch off
]


@pytest.mark.parametrize("value", SERVER_ID_VALID)
def test_server_id_valid(value: str) -> None:
    assert validate_server_id(value) == value
    assert validate_server_id(value, **DEV) == value


@pytest.mark.parametrize(("value", "reason"), SERVER_ID_INVALID)
def test_server_id_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        validate_server_id(value)
    assert info.value.code == "invalid_request"
    assert reason in info.value.message


def test_server_id_not_a_string() -> None:
    with pytest.raises(InvalidIdentifierError, match="string"):
        validate_server_id(b"https://agent.example")  # type: ignore[arg-type]


DEV_SERVER_VALID = [
    "http://localhost:8080",
    "http://127.0.0.1:9000",
    "http://[::1]:8443",
    "https://localhost:8443",
    "http://localhost",
    "http://127.0.0.1:65535",
]
DEV_SERVER_INVALID = [
    "http://127.0.0.1:65536",
    "http://127.0.0.1:0",
    "http://localhost:080",
    "http://localhost:8080/",
    "http://localhost:8080/path",
    "http://127.0.0.2:8080",
    "http://agent.example:8080",
    "http://agent.example",
    "ws://localhost:8080",
    "http://LOCALHOST:8080",
    "http://localhost:",
]


@pytest.mark.parametrize("value", DEV_SERVER_VALID)
def test_server_id_development_loopback(value: str) -> None:
    assert validate_server_id(value, **DEV) == value
    with pytest.raises(InvalidIdentifierError):
        validate_server_id(value)


@pytest.mark.parametrize("value", DEV_SERVER_INVALID)
def test_server_id_development_still_strict(value: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        validate_server_id(value, **DEV)


# ---------------------------------------------------------------------------------------------
# Agent identifiers

AGENT_VALID = [
    # spec examples
    ("aauth:assistant-v2@agent.example", "assistant-v2", "agent.example", None),
    ("aauth:planner.7f3c@vendor.example", "planner.7f3c", "vendor.example", None),
    (
        "aauth:planner.7f3c+search1@vendor.example",
        "planner.7f3c+search1",
        "vendor.example",
        "planner.7f3c",
    ),
    # charset edges
    ("aauth:a@agent.example", "a", "agent.example", None),
    ("aauth:a_b.c-d9@agent.example", "a_b.c-d9", "agent.example", None),
    ("aauth:.@agent.example", ".", "agent.example", None),
    ("aauth:" + "a" * 255 + "@agent.example", "a" * 255, "agent.example", None),
    ("aauth:" + "a" * 253 + "+b@agent.example", "a" * 253 + "+b", "agent.example", "a" * 253),
    ("aauth:x@xn--nxasmq6b.example", "x", "xn--nxasmq6b.example", None),
]

AGENT_INVALID = [
    # spec examples
    ("My Agent@agent.example", "'aauth:'"),
    ("@agent.example", "'aauth:'"),
    ("agent@http://agent.example", "'aauth:'"),
    # local part
    ("aauth:@agent.example", "empty local"),
    ("aauth:My-Agent@agent.example", "uppercase"),
    ("aauth:my agent@agent.example", "outside [a-z0-9._+-]"),
    ("aauth:agent/1@agent.example", "outside [a-z0-9._+-]"),
    ("aauth:agént@agent.example", "outside [a-z0-9._+-]"),
    ("aauth:" + "a" * 256 + "@agent.example", "longer than 255"),
    ("aauth:agent", "no '@domain'"),
    # sub-agent '+'
    ("aauth:+search1@agent.example", "empty parent"),
    ("aauth:planner+@agent.example", "empty sub-agent discriminator"),
    ("aauth:a+b+c@agent.example", "more than one '+'"),
    ("aauth:a++b@agent.example", "more than one '+'"),
    # domain, per the server-identifier host rules
    ("aauth:agent@", "empty host"),
    ("aauth:agent@Agent.Example", "lowercase"),
    ("aauth:agent@agent.example:8443", "port"),
    ("aauth:agent@https://agent.example", "port"),
    ("aauth:agent@agent.example/", "characters other than"),
    ("aauth:agent@1.2.3.4", "IP address"),
    ("aauth:agent@[::1]", "IP literal"),
    ("aauth:agent@a@agent.example", "userinfo"),
    ("aauth:agent@bücher.example", "A-labels"),
    ("aauth:agent@xn--abc.example", "U-label"),
    ("aauth:agent@localhost:8080", "port"),  # development form, switch off
    # scheme
    ("AAUTH:agent@agent.example", "'aauth:'"),
    ("acct:agent@agent.example", "'aauth:'"),
]


@pytest.mark.parametrize(("value", "local", "domain", "parent_local"), AGENT_VALID)
def test_agent_id_valid(value: str, local: str, domain: str, parent_local: str | None) -> None:
    agent = parse_agent_id(value)
    assert agent == AgentId(value=value, local=local, domain=domain, parent_local=parent_local)
    assert str(agent) == value
    assert agent.is_subagent is (parent_local is not None)
    assert validate_agent_id(value) == value


@pytest.mark.parametrize(("value", "reason"), AGENT_INVALID)
def test_agent_id_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        parse_agent_id(value)
    assert info.value.code == "invalid_request"
    assert reason in info.value.message
    with pytest.raises(InvalidIdentifierError):
        validate_agent_id(value)


def test_agent_id_not_a_string() -> None:
    with pytest.raises(InvalidIdentifierError, match="string"):
        parse_agent_id(None)  # type: ignore[arg-type]


def test_subagent_parts() -> None:
    sub = parse_agent_id("aauth:planner.7f3c+search1@vendor.example")
    assert sub.parent == "aauth:planner.7f3c@vendor.example"
    assert sub.discriminator == "search1"
    top = parse_agent_id("aauth:planner.7f3c@vendor.example")
    assert top.parent is None
    assert top.discriminator is None
    assert not top.is_subagent


def test_agent_id_issued_by() -> None:
    agent = parse_agent_id("aauth:assistant-v2@agent.example")
    assert agent.issued_by("https://agent.example")
    assert not agent.issued_by("https://agent.example/")
    assert not agent.issued_by("https://other.example")
    assert not agent.issued_by("http://agent.example")
    dev = parse_agent_id("aauth:a@localhost:8080", **DEV)
    assert dev.domain == "localhost:8080"
    assert dev.issued_by("http://localhost:8080")
    assert dev.issued_by("https://localhost:8080")
    assert not dev.issued_by("http://localhost:8081")


@pytest.mark.parametrize(
    "value",
    ["aauth:a@localhost:8080", "aauth:a@127.0.0.1:1", "aauth:a@[::1]:9", "aauth:a@localhost"],
)
def test_agent_id_development_domain(value: str) -> None:
    assert parse_agent_id(value, **DEV).value == value


def test_agent_id_development_still_strict() -> None:
    with pytest.raises(InvalidIdentifierError, match="port"):
        parse_agent_id("aauth:a@agent.example:8080", **DEV)


# ---------------------------------------------------------------------------------------------
# URLs

ENDPOINT_VALID = [
    "https://ps.example/token",
    "https://ps.example",
    "https://ps.example/",
    "https://ps.example:8443/token",
    "https://PS.Example/Token",  # hosts are case-insensitive; only server ids must be lowercase
    "https://ps.example/a/b;c=d/%7Euser/x:y@z",
    "https://ps.example/mission/zVJpWp9s5qMFd-K1P9qRjckSi7yd_MYbQJm80AXHjcI",
]

ENDPOINT_INVALID = [
    ("http://ps.example/token", "https scheme"),
    ("https://ps.example/token?x=1", "query"),
    ("https://ps.example/token?", "query"),
    ("https://ps.example/token#frag", "fragment"),
    ("https://ps.example/token#", "fragment"),
    ("https://user@ps.example/token", "userinfo"),
    ("https://ps.example:0/token", "invalid port"),
    ("https://ps.example:65536/token", "invalid port"),
    ("https://ps.example:/token", "invalid port"),
    ("https://ps.example:x/token", "invalid port"),
    ("https://1.2.3.4/token", "IP address"),
    ("https://[::1]/token", "IP literal"),
    ("https://ps_1.example/token", "characters other than"),
    ("https:///token", "empty host"),
    ("https://ps.example/a b", "not allowed in a URI"),
    ("https://ps.example/a\nb", "not allowed in a URI"),
    ("https://ps.example/<x>", "not allowed in a URI"),
    ("https://ps.example/ü", "not allowed in a URI"),
    ("https://ps.example/%zz", "percent-encoding"),
    ("https://ps.example/%4", "percent-encoding"),
    ("", "empty"),
    ("/token", "absolute URL"),
    ("https:ps.example", "absolute URL"),
    ("http://localhost:1234/cb", "https scheme"),  # loopback only when admitted
]


@pytest.mark.parametrize("value", ENDPOINT_VALID)
def test_endpoint_url_valid(value: str) -> None:
    assert validate_endpoint_url(value) == value
    assert validate_https_url(value) == value


@pytest.mark.parametrize(("value", "reason"), ENDPOINT_INVALID)
def test_endpoint_url_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        validate_endpoint_url(value)
    assert info.value.code == "invalid_request"
    assert reason in info.value.message


@pytest.mark.parametrize(
    "value",
    [
        "http://localhost:1234/cb",
        "http://127.0.0.1:50000/callback",
        "http://[::1]:8/cb",
        "http://localhost/cb",
        "https://127.0.0.1:4000/cb",
    ],
)
def test_endpoint_localhost_callback(value: str) -> None:
    assert validate_endpoint_url(value, localhost_callback_allowed=True) == value
    assert validate_endpoint_url(value, **DEV) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("http://agent.example/cb", "only for an admitted loopback host"),
        ("http://localhost:1234/cb?x=1", "query"),
        ("http://localhost:99999/cb", "only for an admitted loopback host"),
        ("http://user@localhost:1234/cb", "userinfo"),
    ],
)
def test_endpoint_localhost_callback_still_strict(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        validate_endpoint_url(value, localhost_callback_allowed=True)
    assert reason in info.value.message


@pytest.mark.parametrize(
    "value",
    [
        "https://ps.example/.well-known/jwks.json",
        "https://ps.example/jwks?version=2",
        "https://ps.example/logo.png#dark",
        "https://cdn.ps.example:444/logo.png",
    ],
)
def test_https_url_valid(value: str) -> None:
    assert validate_https_url(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("http://ps.example/jwks.json", "https scheme"),
        ("HTTPS://ps.example/jwks.json", "https scheme"),
        ("https://ps.example@evil.example/jwks.json", "userinfo"),
        ("https://10.0.0.1/jwks.json", "IP address"),
        ("data:application/json,{}", "not allowed in a URI"),
        ("javascript:alert(1)", "absolute URL"),
        ("http://localhost:1234/jwks", "https scheme"),
    ],
)
def test_https_url_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        validate_https_url(value)
    assert reason in info.value.message


def test_https_url_development_loopback() -> None:
    assert validate_https_url("http://localhost:1234/jwks", **DEV) == "http://localhost:1234/jwks"


@pytest.mark.parametrize("func", [validate_https_url, validate_endpoint_url])
def test_url_not_a_string(func: object) -> None:
    with pytest.raises(InvalidIdentifierError, match="string"):
        func(42)  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# Properties: arbitrary input gives a value or our error, nothing else

_URLISH = st.one_of(
    st.text(),
    st.text(alphabet="aA0.-:/?#@[]%_+ xn", max_size=40).map(lambda s: "https://" + s),
    st.text(alphabet="aA0.-:/?#@[]%_+ xn", max_size=40).map(lambda s: "aauth:" + s),
    st.from_regex(r"https://[a-z0-9.-]{1,70}", fullmatch=True),
    st.from_regex(r"https://xn--[a-z0-9-]{1,20}\.example", fullmatch=True),
)


@given(_URLISH, st.booleans())
def test_server_id_value_or_our_error(value: str, dev: bool) -> None:
    try:
        result = validate_server_id(value, allow_insecure_loopback_for_development=dev)
    except InvalidIdentifierError as exc:
        assert exc.code == "invalid_request"
        return
    assert result == value
    if not dev:
        host = value[len("https://") :]
        assert value.startswith("https://")
        assert host == host.lower()
        assert not any(c in host for c in ":/?#@[] ")
        assert len(host) <= 253


@given(_URLISH, st.booleans())
def test_agent_id_value_or_our_error(value: str, dev: bool) -> None:
    try:
        agent = parse_agent_id(value, allow_insecure_loopback_for_development=dev)
    except InvalidIdentifierError:
        return
    assert agent.value == f"aauth:{agent.local}@{agent.domain}"
    assert agent.local.count("+") <= 1
    assert 1 <= len(agent.local) <= 255


@given(_URLISH, st.booleans(), st.booleans())
def test_urls_value_or_our_error(value: str, loopback: bool, dev: bool) -> None:
    try:
        assert (
            validate_endpoint_url(
                value,
                localhost_callback_allowed=loopback,
                allow_insecure_loopback_for_development=dev,
            )
            == value
        )
    except RemoteError as exc:
        assert isinstance(exc, InvalidIdentifierError)
    else:
        assert "?" not in value
        assert "#" not in value
    try:
        assert validate_https_url(value, allow_insecure_loopback_for_development=dev) == value
    except RemoteError as exc:
        assert isinstance(exc, InvalidIdentifierError)


@given(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z][a-z0-9]{0,10}){1,3}", fullmatch=True)
)
def test_generated_hosts_are_server_ids(host: str) -> None:
    if "xn--" in host:  # random xn-- labels are rarely valid Punycode
        return
    assert validate_server_id("https://" + host) == "https://" + host
    assert parse_agent_id(f"aauth:agent@{host}").domain == host


def test_valid_host_memo_is_bounded() -> None:
    from aauth import identifiers

    for i in range(1500):
        assert validate_server_id(f"https://h{i}.example") == f"https://h{i}.example"
    assert 0 < len(identifiers._VALID_HOSTS) <= 1024
    # a memoised host still goes through the full rules in every other position
    with pytest.raises(InvalidIdentifierError):
        validate_server_id("https://h1499.example/")
    with pytest.raises(InvalidIdentifierError):
        validate_server_id("http://h1499.example")
