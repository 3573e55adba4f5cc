"""Metadata documents: AAuth -11 §"Metadata Documents" (digest §6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth.errors import LocalError, SignatureError
from aauth.identifiers import InvalidIdentifierError
from aauth.metadata import (
    DWK_ACCESS,
    DWK_AGENT,
    DWK_PERSON,
    DWK_RESOURCE,
    METADATA_TYPES,
    AccessServerMetadata,
    AgentProviderMetadata,
    Metadata,
    MetadataError,
    PersonServerMetadata,
    ResourceMetadata,
    parse_access_metadata,
    parse_agent_metadata,
    parse_metadata,
    parse_person_metadata,
    parse_resource_metadata,
    serialize_metadata,
    validate_dwk,
    well_known_url,
)

# The four example documents of AAuth -11 §"Metadata Documents", as printed.
AGENT_DOC: dict[str, Any] = {
    "issuer": "https://agent.example",
    "jwks_uri": "https://agent.example/.well-known/jwks.json",
    "name": "Example AI Assistant",
    "description": "**Example AI Assistant** drafts and sends email on your behalf.",
    "logo_uri": "https://agent.example/logo.png",
    "logo_dark_uri": "https://agent.example/logo-dark.png",
    "documentation_uri": "https://agent.example/docs",
    "callback_endpoint": "https://agent.example/callback",
    "event_endpoint": "https://agent.example/events",
    "localhost_callback_allowed": True,
    "tos_uri": "https://agent.example/tos",
    "policy_uri": "https://agent.example/privacy",
}
PERSON_DOC: dict[str, Any] = {
    "issuer": "https://ps.example",
    "name": "Example Person Server",
    "description": "**Example Person Server** — manage which agents act for you.",
    "logo_uri": "https://ps.example/logo.png",
    "logo_dark_uri": "https://ps.example/logo-dark.png",
    "documentation_uri": "https://ps.example/docs",
    "tos_uri": "https://ps.example/tos",
    "policy_uri": "https://ps.example/privacy",
    "auth_token_endpoint": "https://ps.example/token",
    "person_token_endpoint": "https://ps.example/person",
    "mission_endpoint": "https://ps.example/mission",
    "permission_endpoint": "https://ps.example/permission",
    "audit_endpoint": "https://ps.example/audit",
    "interaction_endpoint": "https://ps.example/interaction",
    "mission_control_endpoint": "https://ps.example/mission-control",
    "jwks_uri": "https://ps.example/.well-known/jwks.json",
}
ACCESS_DOC: dict[str, Any] = {
    "issuer": "https://as.resource.example",
    "name": "Example Access Server",
    "description": "**Example Access Server** — issues access for the Example resource.",
    "logo_uri": "https://as.resource.example/logo.png",
    "logo_dark_uri": "https://as.resource.example/logo-dark.png",
    "documentation_uri": "https://as.resource.example/docs",
    "tos_uri": "https://as.resource.example/tos",
    "policy_uri": "https://as.resource.example/privacy",
    "auth_token_endpoint": "https://as.resource.example/token",
    "jwks_uri": "https://as.resource.example/.well-known/jwks.json",
}
RESOURCE_DOC: dict[str, Any] = {
    "issuer": "https://resource.example",
    "jwks_uri": "https://resource.example/.well-known/jwks.json",
    "access_mode": "auth-token",
    "name": "Example Data Service",
    "description": "**Example Data Service** stores and serves your documents.",
    "logo_uri": "https://resource.example/logo.png",
    "logo_dark_uri": "https://resource.example/logo-dark.png",
    "documentation_uri": "https://resource.example/docs",
    "tos_uri": "https://resource.example/tos",
    "policy_uri": "https://resource.example/privacy",
    "authorization_endpoint": "https://resource.example/authorize",
    "scope_descriptions": {
        "data.read": "Read access to your data and documents",
        "data.write": "Create and update your data and documents",
        "data.delete": "Permanently delete your data and documents",
    },
    "additional_signature_components": ["content-type", "content-digest"],
}

Parser = Callable[..., Metadata]

CASES: list[tuple[str, Parser, type[Metadata], dict[str, Any]]] = [
    (DWK_AGENT, parse_agent_metadata, AgentProviderMetadata, AGENT_DOC),
    (DWK_PERSON, parse_person_metadata, PersonServerMetadata, PERSON_DOC),
    (DWK_ACCESS, parse_access_metadata, AccessServerMetadata, ACCESS_DOC),
    (DWK_RESOURCE, parse_resource_metadata, ResourceMetadata, RESOURCE_DOC),
]
IDS = [c[0] for c in CASES]


def _body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("dwk", "parser", "model", "doc"), CASES, ids=IDS)
def test_spec_examples_parse_and_round_trip(
    dwk: str, parser: Parser, model: type[Metadata], doc: dict[str, Any]
) -> None:
    parsed = parser(_body(doc), expected_issuer=doc["issuer"])
    assert isinstance(parsed, model)
    assert METADATA_TYPES[dwk] is model
    assert parse_metadata(dwk, _body(doc), expected_issuer=doc["issuer"]) == parsed
    for key, value in doc.items():
        got = getattr(parsed, key)
        assert (list(got) if isinstance(got, tuple) else got) == value
    # serialise then parse gives the same model, and nothing the document did not say
    again = serialize_metadata(parsed)
    assert json.loads(again) == doc
    assert parser(again, expected_issuer=doc["issuer"]) == parsed


@pytest.mark.parametrize(("dwk", "parser", "model", "doc"), CASES, ids=IDS)
def test_unknown_members_ignored(
    dwk: str, parser: Parser, model: type[Metadata], doc: dict[str, Any]
) -> None:
    extended = {**doc, "r3_vocabularies": {"x": 1}, "future_field": [1, 2, {"a": None}]}
    assert parser(_body(extended), expected_issuer=doc["issuer"]) == parser(
        _body(doc), expected_issuer=doc["issuer"]
    )


# --- issuer check (AAuth -11 §"Metadata Documents"; digest §9.2 negative check) -----------


@pytest.mark.parametrize(("dwk", "parser", "model", "doc"), CASES, ids=IDS)
def test_issuer_missing(
    dwk: str, parser: Parser, model: type[Metadata], doc: dict[str, Any]
) -> None:
    body = _body({k: v for k, v in doc.items() if k != "issuer"})
    with pytest.raises(MetadataError) as info:
        parser(body, expected_issuer=doc["issuer"])
    assert info.value.code == "issuer_missing"
    with pytest.raises(MetadataError) as info:
        parser(_body({**doc, "issuer": None}), expected_issuer=doc["issuer"])
    assert info.value.code == "issuer_missing"


@pytest.mark.parametrize(
    "issuer",
    [
        "https://resource.example/",  # digest §9.2: trailing slash -> issuer_mismatch
        "https://Resource.example",
        "https://resource.example:443",
        "https://evil.example",
        "http://resource.example",
        "https://resource.example ",
        "",
    ],
)
def test_issuer_mismatch(issuer: str) -> None:
    with pytest.raises(MetadataError) as info:
        parse_resource_metadata(
            _body({**RESOURCE_DOC, "issuer": issuer}), expected_issuer="https://resource.example"
        )
    assert info.value.code == "issuer_mismatch"
    assert isinstance(info.value, SignatureError)


def test_issuer_mismatch_when_expected_differs() -> None:
    with pytest.raises(MetadataError) as info:
        parse_agent_metadata(_body(AGENT_DOC), expected_issuer="https://agent.example/")
    assert info.value.code == "issuer_mismatch"


def test_issuer_compared_after_json_unescaping() -> None:
    body = _body(AGENT_DOC).replace(b'"https://agent.example"', b'"https:\\/\\/agent.example"')
    assert parse_agent_metadata(body, expected_issuer="https://agent.example").issuer == (
        "https://agent.example"
    )


def test_issuer_equal_but_not_a_server_id() -> None:
    bad = "https://agent.example:8443"
    with pytest.raises(MetadataError) as info:
        parse_agent_metadata(_body({**AGENT_DOC, "issuer": bad}), expected_issuer=bad)
    assert info.value.code == "invalid_key"
    assert "port" in info.value.message


# --- every other defect is invalid_key -----------------------------------------------------

INVALID_FIELD_CASES: list[tuple[Parser, dict[str, Any], str, object, str]] = [
    # required members
    (parse_agent_metadata, AGENT_DOC, "jwks_uri", None, "jwks_uri"),
    (parse_person_metadata, PERSON_DOC, "auth_token_endpoint", None, "auth_token_endpoint"),
    (parse_person_metadata, PERSON_DOC, "person_token_endpoint", None, "person_token_endpoint"),
    (parse_person_metadata, PERSON_DOC, "jwks_uri", None, "jwks_uri"),
    (parse_access_metadata, ACCESS_DOC, "auth_token_endpoint", None, "auth_token_endpoint"),
    (parse_access_metadata, ACCESS_DOC, "jwks_uri", None, "jwks_uri"),
    # https-only URLs (AAuth -11 §"Other URLs")
    (parse_agent_metadata, AGENT_DOC, "jwks_uri", "http://agent.example/jwks", "https"),
    (parse_agent_metadata, AGENT_DOC, "logo_uri", "http://agent.example/l.png", "logo_uri"),
    (parse_agent_metadata, AGENT_DOC, "logo_dark_uri", "ftp://agent.example/l", "logo_dark_uri"),
    (parse_agent_metadata, AGENT_DOC, "tos_uri", "http://agent.example/tos", "tos_uri"),
    (parse_agent_metadata, AGENT_DOC, "policy_uri", "//agent.example/p", "policy_uri"),
    (parse_agent_metadata, AGENT_DOC, "documentation_uri", "http://a.example", "documentation"),
    (parse_agent_metadata, AGENT_DOC, "event_endpoint", "http://a.example/e", "event_endpoint"),
    (parse_agent_metadata, AGENT_DOC, "login_endpoint", "http://a.example/l", "login_endpoint"),
    (parse_person_metadata, PERSON_DOC, "revocation_endpoint", "http://p.example/r", "revocation"),
    # endpoint URLs (AAuth -11 §"Endpoint URLs"): https, no query, no fragment
    (parse_agent_metadata, AGENT_DOC, "callback_endpoint", "https://a.example/cb?x=1", "query"),
    (parse_person_metadata, PERSON_DOC, "auth_token_endpoint", "https://p.example/t#f", "fragment"),
    (parse_person_metadata, PERSON_DOC, "person_token_endpoint", "http://p.example/p", "https"),
    (parse_person_metadata, PERSON_DOC, "mission_endpoint", "https://p.example/m?", "query"),
    (parse_access_metadata, ACCESS_DOC, "auth_token_endpoint", "https://a.example/t?x", "query"),
    (
        parse_resource_metadata,
        RESOURCE_DOC,
        "authorization_endpoint",
        "http://r.example/a",
        "https",
    ),
    # JSON types
    (parse_agent_metadata, AGENT_DOC, "localhost_callback_allowed", "true", "bool"),
    (parse_agent_metadata, AGENT_DOC, "name", 7, "str"),
    (parse_agent_metadata, AGENT_DOC, "accept_signature_algs", "Ed25519", "array"),
    (parse_agent_metadata, AGENT_DOC, "accept_signature_algs", ["Ed25519", ""], "empty"),
    (parse_person_metadata, PERSON_DOC, "scopes_supported", [1], "str"),
    (parse_resource_metadata, RESOURCE_DOC, "signature_window", 0, "positive"),
    (parse_resource_metadata, RESOURCE_DOC, "signature_window", -5, "positive"),
    (parse_resource_metadata, RESOURCE_DOC, "signature_window", 1.5, "int"),
    (parse_resource_metadata, RESOURCE_DOC, "scope_descriptions", {"a": 1}, "str"),
    (parse_resource_metadata, RESOURCE_DOC, "additional_signature_components", [""], "empty"),
    (parse_resource_metadata, RESOURCE_DOC, "access_mode", "", "access_mode"),
    (parse_resource_metadata, RESOURCE_DOC, "jwks_uri", "https://r.example@evil/", "userinfo"),
]


@pytest.mark.parametrize(("parser", "doc", "field", "value", "reason"), INVALID_FIELD_CASES)
def test_invalid_field(
    parser: Parser, doc: dict[str, Any], field: str, value: object, reason: str
) -> None:
    bad = {k: v for k, v in doc.items() if k != field}
    if value is not None:
        bad[field] = value
    with pytest.raises(MetadataError) as info:
        parser(_body(bad), expected_issuer=doc["issuer"])
    assert info.value.code == "invalid_key"
    assert reason in info.value.message


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>Not Found</body></html>",
        b"[]",
        b'"https://agent.example"',
        b"{",
        b'{"issuer": 5}',
        b"\xff\xfe",
        b'{"issuer":"https://agent.example","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(MetadataError) as info:
        parse_agent_metadata(body, expected_issuer="https://agent.example")
    assert info.value.code == "invalid_key"


def test_size_limit() -> None:
    body = _body({**AGENT_DOC, "description": "x" * 1000})
    with pytest.raises(MetadataError, match="larger than"):
        parse_agent_metadata(body, expected_issuer="https://agent.example", max_size=500)
    assert parse_agent_metadata(body, expected_issuer="https://agent.example").description


def test_minimal_documents_and_defaults() -> None:
    agent = parse_agent_metadata(
        b'{"issuer":"https://a.example","jwks_uri":"https://a.example/jwks"}',
        expected_issuer="https://a.example",
    )
    assert agent.localhost_callback_allowed is False
    assert agent.callback_endpoint is None
    resource = parse_resource_metadata(
        b'{"issuer":"https://r.example"}', expected_issuer="https://r.example"
    )
    assert resource.jwks_uri is None  # conditional for resources
    assert resource.access_mode is None
    assert resource.effective_access_mode == "agent-token"
    assert resource.signature_window == 60
    assert serialize_metadata(resource) == b'{"issuer":"https://r.example"}'


@pytest.mark.parametrize(
    ("declared", "effective"),
    [
        ("agent-token", "agent-token"),
        ("person-token", "person-token"),
        ("session-token", "session-token"),
        ("auth-token", "auth-token"),
        ("per-call", "agent-token"),  # R3 value: not recognised here, so as if undeclared
        ("something-new", "agent-token"),
    ],
)
def test_access_mode(declared: str, effective: str) -> None:
    doc = parse_resource_metadata(
        _body({"issuer": "https://r.example", "access_mode": declared}),
        expected_issuer="https://r.example",
    )
    assert doc.access_mode == declared
    assert doc.effective_access_mode == effective


def test_development_loopback_documents() -> None:
    doc = {
        "issuer": "http://localhost:8080",
        "jwks_uri": "http://localhost:8080/jwks",
        "auth_token_endpoint": "http://localhost:8080/token",
    }
    with pytest.raises(MetadataError):
        parse_access_metadata(_body(doc), expected_issuer="http://localhost:8080")
    parsed = parse_access_metadata(
        _body(doc),
        expected_issuer="http://localhost:8080",
        allow_insecure_loopback_for_development=True,
    )
    assert parsed.issuer == "http://localhost:8080"
    with pytest.raises(LocalError):
        serialize_metadata(parsed)
    assert (
        json.loads(serialize_metadata(parsed, allow_insecure_loopback_for_development=True)) == doc
    )


def test_serialize_refuses_invalid_documents() -> None:
    with pytest.raises(LocalError, match="jwks_uri"):
        serialize_metadata(
            AgentProviderMetadata(issuer="https://a.example", jwks_uri="http://a.example/j")
        )
    with pytest.raises(LocalError, match="lowercase"):
        serialize_metadata(
            AccessServerMetadata(
                issuer="https://A.example",
                jwks_uri="https://a.example/j",
                auth_token_endpoint="https://a.example/t",
            )
        )
    with pytest.raises(LocalError, match="models"):
        serialize_metadata({"issuer": "https://a.example"})  # type: ignore[arg-type]


def test_serialize_is_compact_and_omits_defaults() -> None:
    doc = PersonServerMetadata(
        issuer="https://ps.example",
        jwks_uri="https://ps.example/jwks",
        auth_token_endpoint="https://ps.example/token",
        person_token_endpoint="https://ps.example/person",
        scopes_supported=("openid", "email"),
    )
    assert serialize_metadata(doc) == (
        b'{"issuer":"https://ps.example","jwks_uri":"https://ps.example/jwks",'
        b'"auth_token_endpoint":"https://ps.example/token",'
        b'"person_token_endpoint":"https://ps.example/person",'
        b'"scopes_supported":["openid","email"]}'
    )


def test_parse_metadata_unknown_dwk() -> None:
    with pytest.raises(LocalError):
        parse_metadata("aauth-issuer.json", b"{}", expected_issuer="https://a.example")


def test_caller_misuse() -> None:
    with pytest.raises(LocalError):
        parse_agent_metadata("{}", expected_issuer="https://a.example")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        parse_agent_metadata(b"{}", expected_issuer=None)  # type: ignore[arg-type]


# --- well-known URLs ----------------------------------------------------------------------


@pytest.mark.parametrize("dwk", [DWK_AGENT, DWK_PERSON, DWK_RESOURCE, DWK_ACCESS])
def test_well_known_url(dwk: str) -> None:
    assert well_known_url("https://ps.example", dwk) == f"https://ps.example/.well-known/{dwk}"


def test_well_known_url_generic_dwk() -> None:
    # signature-key-08 jwks_uri scheme: any document name
    assert validate_dwk("example-configuration") == "example-configuration"
    assert (
        well_known_url(
            "http://localhost:8080", DWK_AGENT, allow_insecure_loopback_for_development=True
        )
        == "http://localhost:8080/.well-known/aauth-agent.json"
    )


@pytest.mark.parametrize(
    ("issuer", "dwk"),
    [
        ("https://ps.example/", DWK_PERSON),
        ("https://ps.example:8443", DWK_PERSON),
        ("http://ps.example", DWK_PERSON),
        ("https://ps.example", ""),
        ("https://ps.example", "../secret"),
        ("https://ps.example", "a/b"),
        ("https://ps.example", ".."),
        ("https://ps.example", "."),
        ("https://ps.example", "x?y"),
        ("https://ps.example", "a" * 129),
        ("https://ps.example", 5),
    ],
)
def test_well_known_url_invalid(issuer: str, dwk: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        well_known_url(issuer, dwk)


# --- properties ---------------------------------------------------------------------------

_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@given(
    st.sampled_from(list(METADATA_TYPES)),
    st.dictionaries(
        st.sampled_from(
            [
                "issuer",
                "jwks_uri",
                "auth_token_endpoint",
                "person_token_endpoint",
                "callback_endpoint",
                "localhost_callback_allowed",
                "signature_window",
                "access_mode",
                "scope_descriptions",
                "accept_signature_algs",
                "name",
                "zzz",
            ]
        ),
        _JSONISH | st.sampled_from(["https://a.example", "https://a.example/x", "http://a"]),
    ),
)
def test_documents_parse_or_raise_our_error(dwk: str, doc: dict[str, Any]) -> None:
    try:
        parsed = parse_metadata(dwk, msgspec.json.encode(doc), expected_issuer="https://a.example")
    except MetadataError as exc:
        assert exc.code in {"issuer_missing", "issuer_mismatch", "invalid_key"}
        return
    assert parsed.issuer == "https://a.example"
    assert serialize_metadata(parsed)


@given(st.binary(max_size=200))
def test_bytes_parse_or_raise_our_error(body: bytes) -> None:
    with pytest.raises(MetadataError):
        parse_person_metadata(body, expected_issuer="https://a.example")
