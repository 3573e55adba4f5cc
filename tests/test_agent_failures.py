"""Every way an agent flow fails ends in a typed error naming what happened: never a hang, an
unbounded loop, a parser's exception, or a secret in the message (issue 4 "Bad input and
faults")."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import aauth.agent.challenges as challenges_module
from aauth.aauth_headers import (
    AgentTokenRequired,
    ApprovalPending,
    AuthTokenRequired,
    ClaimsRequired,
    ClarificationRequired,
    InteractionRequired,
    PersonTokenRequired,
)
from aauth.agent import (
    AccessDenied,
    AgentLimits,
    ChallengeError,
    CredentialsError,
    FlowLimitError,
    FlowState,
    MalformedResponseError,
    MetadataFetchError,
    PendingError,
    PendingExpired,
    PendingGone,
    Purpose,
    SignatureRejectedError,
    StaticAgentCredentials,
    TokenEndpointError,
    TokenRejectedError,
    TransportError,
)
from aauth.http import HttpRequest, HttpResponse
from aauth.identifiers import InvalidIdentifierError
from tests.test_agent_support import (
    AGENT_KEY,
    OTHER_KEY,
    PS,
    PS_METADATA,
    RESOURCE,
    T0,
    Run,
    Step,
    agent_token,
    auth_challenge,
    auth_token,
    challenge,
    deferred,
    drive,
    make_agent,
    ok,
    person_token,
    problem,
    resource_token,
    response,
)

PENDING_PS = f"{PS}/pending/secret-capability-123"
PENDING_RES = f"{RESOURCE}/pending/secret-capability-456"
TOKENS = [agent_token(), person_token(), resource_token(), auth_token()]


def _no_secrets(run: Run) -> None:
    text = str(run.error)
    for token in TOKENS:
        assert token.split(".")[2] not in text and token not in text
    assert "secret-capability" not in text


def meta() -> Step:
    return Step(Purpose.PS_METADATA, response(200, [], PS_METADATA))


def person() -> list[Step]:
    return [
        Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
        meta(),
        Step(Purpose.PERSON_TOKEN, ok({"person_token": person_token()})),
    ]


def failed(steps: list[Step], **kwargs: object) -> Run:
    run = drive(kwargs.pop("agent", None) or make_agent(), steps, **kwargs)  # type: ignore[arg-type]
    assert run.flow is not None and run.flow.state is FlowState.FAILED
    _no_secrets(run)
    return run


# ------------------------------------------------------------------------------- challenges


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        ("requirement", 401, "invalid_request"),  # a bare key: Boolean, not a Token
        ("requirement=auth-token", 401, "invalid_request"),  # resource-token missing
        ("requirement=auth-token;resource-token=abc", 401, "invalid_request"),  # a Token
        ("(((", 401, "invalid_request"),
        (
            'requirement=interaction;url="https://r.example/i";code="A1B2C3D4"',
            401,
            "invalid_request",
        ),
        ("requirement=whatever", 401, "unsupported_requirement"),
        ("requirement=agent-token", 202, "invalid_request"),
    ],
)
def test_malformed_or_unusable_challenge(header: str, status: int, code: str) -> None:
    headers = [("AAuth-Requirement", header), ("Location", PENDING_RES)]
    run = failed([Step(Purpose.RESOURCE, response(status, headers))])
    assert isinstance(run.error, ChallengeError)
    assert run.error.code == code and run.error.status == status


def test_claims_requirement_is_never_for_an_agent() -> None:
    run = failed([Step(Purpose.RESOURCE, deferred(PENDING_RES, ClaimsRequired()))])
    assert isinstance(run.error, ChallengeError) and "Access Server" in run.error.message


def test_ps_sending_a_resource_requirement_is_refused() -> None:
    run = failed(
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            meta(),
            Step(Purpose.PERSON_TOKEN, deferred(PENDING_PS, AuthTokenRequired(resource_token="x"))),
        ]
    )
    assert isinstance(run.error, ChallengeError) and "Person Server" in run.error.message


def test_agent_token_challenge_when_the_agent_token_was_presented() -> None:
    run = failed([Step(Purpose.RESOURCE, challenge(AgentTokenRequired()))])
    assert isinstance(run.error, ChallengeError) and "agent token" in run.error.message


def test_agent_token_challenge_twice_fails() -> None:
    agent = make_agent()
    agent.store.put_session_token(RESOURCE, "sess")
    run = failed(
        [
            Step(Purpose.RESOURCE, challenge(AgentTokenRequired())),
            Step(Purpose.RESOURCE, challenge(AgentTokenRequired())),
        ],
        agent=agent,
    )
    assert isinstance(run.error, ChallengeError)


def test_person_token_refused_right_after_it_was_obtained() -> None:
    run = failed([*person(), Step(Purpose.RESOURCE, challenge(PersonTokenRequired()))])
    assert isinstance(run.error, ChallengeError) and "person token again" in run.error.message


# -------------------------------------------------------------------------- resource tokens


@pytest.mark.parametrize(
    ("token", "claim"),
    [
        (lambda: resource_token(key=OTHER_KEY), "agent_jkt"),
        (lambda: resource_token(iss="https://evil.example"), "iss"),
        (lambda: resource_token(ps="https://other-ps.example"), "ps"),
        (lambda: resource_token(sub="someone-else"), "sub"),
        (lambda: resource_token(now=T0 - 400), "exp"),
        (person_token, "header.typ"),
        (lambda: "not-a-jwt", None),
    ],
)
def test_resource_token_checked_before_it_goes_to_the_ps(
    token: Callable[[], str], claim: str | None
) -> None:
    run = failed([*person(), Step(Purpose.RESOURCE, auth_challenge(token()))])
    error = run.error
    assert isinstance(error, TokenRejectedError)
    assert error.code == "invalid_resource_token" and error.claim == claim
    assert error.typ == "aa-resource+jwt"
    assert Purpose.AUTH_TOKEN not in run.purposes


def test_resource_token_for_another_agent_key_names_the_claim() -> None:
    run = failed([Step(Purpose.RESOURCE, auth_challenge(resource_token(key=OTHER_KEY)))])
    assert "agent_jkt" in str(run.error)


# ------------------------------------------------------------------- tokens from the PS


@pytest.mark.parametrize(
    ("token", "claim"),
    [
        (lambda: person_token(aud="https://other.example"), "aud"),
        (lambda: person_token(iss="https://other-ps.example"), "iss"),
        (lambda: person_token(key=OTHER_KEY), "cnf.jwk"),
        (lambda: person_token(now=T0 - 4000), "exp"),
        (auth_token, "header.typ"),
    ],
)
def test_person_token_from_the_ps_is_checked(token: Callable[[], str], claim: str) -> None:
    run = failed(
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            meta(),
            Step(Purpose.PERSON_TOKEN, ok({"person_token": token()})),
        ]
    )
    assert isinstance(run.error, TokenRejectedError)
    assert run.error.code == "invalid_person_token" and run.error.claim == claim


@pytest.mark.parametrize(
    ("token", "claim"),
    [
        (lambda: auth_token(aud="https://other.example"), "aud"),
        (lambda: auth_token(key=OTHER_KEY), "cnf.jwk"),
        (lambda: auth_token(iss="https://as.example"), "iss"),
        (lambda: auth_token(sub="someone-else"), "sub"),
        (person_token, "header.typ"),  # never a person token where auth is required
    ],
)
def test_auth_token_from_the_ps_is_checked(token: Callable[[], str], claim: str) -> None:
    run = failed(
        [
            Step(Purpose.RESOURCE, auth_challenge()),
            meta(),
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": token()})),
        ]
    )
    assert isinstance(run.error, TokenRejectedError)
    assert run.error.code == "invalid_auth_token" and run.error.claim == claim


@pytest.mark.parametrize(
    ("answer", "code", "retryable"),
    [
        (
            HttpResponse(200, [("Content-Type", "text/html")], b"<html>login</html>"),
            "invalid_response",
            False,
        ),
        (
            HttpResponse(200, [("Content-Type", "application/json")], b"{garbage"),
            "invalid_response",
            False,
        ),
        (
            HttpResponse(200, [("Content-Type", "application/json")], b"[1, 2]"),
            "invalid_response",
            False,
        ),
        (
            HttpResponse(200, [("Content-Type", "application/json")], b'{"auth_token": 7}'),
            "invalid_response",
            False,
        ),
        (HttpResponse(200, [], b"x" * 70_000), "invalid_response", False),
        (
            HttpResponse(500, [("Content-Type", "text/html")], b"<h1>Oops</h1>"),
            "server_error",
            True,
        ),
        (problem(400, "invalid_resource_token", "bad aud"), "invalid_resource_token", False),
        (problem(500, "server_error"), "server_error", True),
        (problem(401, "invalid_jwt"), "invalid_jwt", False),
        (HttpResponse(404, [], b""), "server_error", False),
    ],
)
def test_token_endpoint_garbage_html_or_errors(
    answer: HttpResponse, code: str, retryable: bool
) -> None:
    run = failed(
        [Step(Purpose.RESOURCE, auth_challenge()), meta(), Step(Purpose.AUTH_TOKEN, answer)]
    )
    assert isinstance(run.error, TokenEndpointError)
    assert run.error.code == code and run.error.retryable is retryable
    assert run.error.status == answer.status
    assert "auth token request to https://ps.example" in run.error.message


def test_problem_detail_is_reported() -> None:
    run = failed(
        [
            Step(Purpose.RESOURCE, auth_challenge()),
            meta(),
            Step(Purpose.AUTH_TOKEN, problem(400, "invalid_scope", "no such scope")),
        ]
    )
    assert run.error.problem.error == "invalid_scope"
    assert "no such scope" in run.error.message


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (HttpResponse(404, [], b"nope"), "invalid_request"),
        (HttpResponse(503, [], b""), "server_error"),
        (HttpResponse(200, [], b"<html>"), "invalid_key"),
        (
            HttpResponse(200, [], json.dumps({"issuer": "https://evil.example"}).encode()),
            "issuer_mismatch",
        ),
        (HttpResponse(200, [], b"{}"), "issuer_missing"),
    ],
)
def test_ps_metadata_failures(answer: HttpResponse, code: str) -> None:
    run = failed(
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            Step(Purpose.PS_METADATA, answer),
        ]
    )
    assert isinstance(run.error, MetadataFetchError) and run.error.code == code


# --------------------------------------------------------------------------------- pending


def test_pending_url_that_never_completes_stops_at_max_total_wait() -> None:
    forever = deferred(PENDING_RES, ApprovalPending(), retry_after="5")
    steps = [Step(Purpose.RESOURCE, forever), *[Step(Purpose.POLL, forever)] * 60]
    run = failed(steps, allow_unused=True)
    assert isinstance(run.error, FlowLimitError) and "max_total_wait" in run.error.message
    assert sum(run.slept) <= 300
    assert run.now - T0 <= 300


def test_pending_url_answering_at_once_forever_stops_at_max_steps() -> None:
    forever = deferred(PENDING_RES, ApprovalPending(), retry_after="0")
    run = failed(
        [Step(Purpose.RESOURCE, forever), *[Step(Purpose.POLL, forever)] * 49],
        agent=make_agent(limits=AgentLimits(max_steps=50)),
    )
    assert isinstance(run.error, FlowLimitError) and "max_steps" in run.error.message
    assert len(run.sent) == 50


def test_a_resource_that_keeps_stepping_up_stops_at_max_token_requests() -> None:
    steps: list[Step] = [Step(Purpose.RESOURCE, auth_challenge()), meta()]
    for i in range(3):
        steps += [
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": auth_token(jti=f"au-{i}")})),
            Step(Purpose.RESOURCE, auth_challenge()),
        ]
    run = failed(steps, agent=make_agent(limits=AgentLimits(max_token_requests=3)))
    assert isinstance(run.error, FlowLimitError) and "max_token_requests" in run.error.message


def test_a_long_prompt_counts_against_max_total_wait() -> None:
    run = failed(
        [
            Step(
                Purpose.RESOURCE,
                deferred(PENDING_RES, ClarificationRequired(), body={"clarification": "?"}),
            )
        ],
        prompt_delay=301,
    )
    assert isinstance(run.error, FlowLimitError)


def test_a_retry_after_past_the_deadline_fails_at_once_instead_of_sleeping() -> None:
    run = failed(
        [Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending(), retry_after="3600"))]
    )
    assert isinstance(run.error, FlowLimitError) and run.slept == []


@pytest.mark.parametrize(
    ("status", "error", "cls", "retryable"),
    [
        (403, "denied", AccessDenied, False),
        (403, "abandoned", AccessDenied, False),
        (403, "user_unreachable", AccessDenied, False),
        (408, "expired", PendingExpired, True),
        (410, "invalid_code", PendingGone, False),
    ],
)
@pytest.mark.parametrize("at", ["ps", "resource"])
def test_polling_ends_with_typed_outcomes(
    status: int, error: str, cls: type[PendingError], retryable: bool, at: str
) -> None:
    if at == "ps":
        steps = [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            meta(),
            Step(Purpose.PERSON_TOKEN, deferred(PENDING_PS, ApprovalPending())),
            Step(Purpose.POLL, problem(status, error)),
        ]
    else:
        steps = [
            Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending())),
            Step(Purpose.POLL, problem(status, error)),
        ]
    run = failed(steps)
    assert isinstance(run.error, cls)
    assert (
        run.error.code == error and run.error.retryable is retryable and run.error.status == status
    )


@pytest.mark.parametrize(("status", "code"), [(403, "denied"), (408, "expired"), (410, "gone")])
def test_typed_outcomes_without_a_problem_body(status: int, code: str) -> None:
    run = failed(
        [
            Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending())),
            Step(Purpose.POLL, HttpResponse(status)),
        ]
    )
    assert run.error.code == code


def test_ps_token_post_answered_403_user_unreachable() -> None:
    run = failed([*person()[:2], Step(Purpose.PERSON_TOKEN, problem(403, "user_unreachable"))])
    assert isinstance(run.error, AccessDenied) and run.error.code == "user_unreachable"


@pytest.mark.parametrize(
    "location",
    ["https://elsewhere.example/pending/1", "ftp://resource.example/x", "http://[::1"],
)
def test_location_on_another_origin_or_not_a_url(location: str) -> None:
    run = failed([Step(Purpose.RESOURCE, deferred(location, ApprovalPending()))])
    assert isinstance(run.error, MalformedResponseError)


def test_202_with_a_requirement_and_no_location() -> None:
    no_location = response(
        202, [("AAuth-Requirement", "requirement=approval")], {"status": "pending"}
    )
    run = failed([Step(Purpose.RESOURCE, no_location)])
    assert isinstance(run.error, MalformedResponseError) and "Location" in run.error.message


def test_ps_202_without_location() -> None:
    run = failed(
        [*person()[:2], Step(Purpose.PERSON_TOKEN, response(202, [], {"status": "pending"}))]
    )
    assert isinstance(run.error, MalformedResponseError)


@pytest.mark.parametrize(
    "body", [{"status": "pending"}, b"<html>", {"clarification": 5}, {"clarification": "  "}]
)
def test_clarification_without_a_question(body: object) -> None:
    run = failed(
        [Step(Purpose.RESOURCE, deferred(PENDING_RES, ClarificationRequired(), body=body))]
    )
    assert isinstance(run.error, MalformedResponseError)


def test_interaction_url_that_is_not_https_is_refused() -> None:
    bad = response(
        202,
        [
            ("Location", PENDING_RES),
            (
                "AAuth-Requirement",
                'requirement=interaction;url="http://r.example/i";code="A1B2C3D4"',
            ),
        ],
    )
    run = failed([Step(Purpose.RESOURCE, bad)])
    assert isinstance(run.error, ChallengeError)


def test_interaction_code_the_user_url_builder_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    # the header parser admits it, the user URL builder does not: still a ChallengeError
    requirement = InteractionRequired(url="https://r.example/i", code="A1B2C3D4")

    def refuse(*args: object, **kwargs: object) -> str:
        raise InvalidIdentifierError("refused for the test")

    monkeypatch.setattr(challenges_module, "interaction_user_url", refuse)
    run = drive(make_agent(), [Step(Purpose.RESOURCE, deferred(PENDING_RES, requirement))])
    assert isinstance(run.error, ChallengeError) and "cannot be shown" in run.error.message


# ------------------------------------------------------------------------------- transport


@pytest.mark.parametrize("stage", range(4))
def test_transport_failure_at_any_stage(stage: int) -> None:
    steps = [
        Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
        meta(),
        Step(Purpose.PERSON_TOKEN, deferred(PENDING_PS, ApprovalPending())),
        Step(Purpose.POLL, ok()),
    ]
    purpose = steps[stage].purpose
    steps = [*steps[:stage], Step(purpose, ConnectionResetError("connection reset by peer"))]
    run = failed(steps)
    assert isinstance(run.error, TransportError)
    assert run.error.retryable and run.error.code == "transport_failure"
    assert purpose.value in run.error.message and "connection reset" in run.error.message


def test_transport_failure_on_the_auth_token_post() -> None:
    run = failed(
        [
            Step(Purpose.RESOURCE, auth_challenge()),
            meta(),
            Step(Purpose.AUTH_TOKEN, OSError("down")),
        ]
    )
    assert isinstance(run.error, TransportError)


# ------------------------------------------------------------------------ signature errors


def _sig(value: str, *extra: tuple[str, str]) -> HttpResponse:
    return problem(401, "invalid_signature").with_headers([("Signature-Error", value), *extra])


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        (
            [_sig("error=unsupported_algorithm", ("Accept-Signature-Alg", "ES256"))],
            "unsupported_algorithm",
        ),
        (
            [_sig("error=unsupported_algorithm", ("Accept-Signature-Alg", "(("))],
            "unsupported_algorithm",
        ),
        (
            [_sig("error=unsupported_algorithm", ("Accept-Signature-Alg", "Ed25519"))],
            "unsupported_algorithm",
        ),
        ([_sig("error=unknown_key")], "unknown_key"),
        ([_sig("error=invalid_jwt")], "invalid_jwt"),
        ([_sig("error=some_future_code")], "some_future_code"),
        ([_sig("error=invalid_signature"), _sig("error=invalid_signature")], "invalid_signature"),
        ([_sig("error=invalid_input")], "invalid_input"),
        ([_sig('error=invalid_input, required_input=("not a component")')], "invalid_input"),
        ([_sig('error=invalid_input, required_input=("x-needed-header")')], "invalid_input"),
        ([_sig('error="not a token"')], "invalid_request"),
        ([_sig("error=expired_jwt"), _sig("error=expired_jwt")], "expired_jwt"),
    ],
)
def test_signature_errors_that_a_retry_cannot_fix(answers: list[HttpResponse], code: str) -> None:
    run = failed([Step(Purpose.RESOURCE, a) for a in answers])
    assert isinstance(run.error, SignatureRejectedError)
    assert run.error.code == code


def test_signature_error_from_the_ps_that_cannot_be_fixed() -> None:
    run = failed([*person()[:2], Step(Purpose.PERSON_TOKEN, _sig("error=invalid_key"))])
    assert isinstance(run.error, SignatureRejectedError) and "person_token" in run.error.message


# ------------------------------------------------------------------------------ credentials


def test_no_person_server_known() -> None:
    agent = make_agent(token=agent_token(ps=None))
    run = failed([Step(Purpose.RESOURCE, challenge(PersonTokenRequired()))], agent=agent)
    assert isinstance(run.error, CredentialsError) and "Person Server" in str(run.error)


def test_no_person_server_for_an_auth_challenge() -> None:
    agent = make_agent(token=agent_token(ps=None))
    run = failed([Step(Purpose.RESOURCE, auth_challenge())], agent=agent)
    assert isinstance(run.error, CredentialsError)


def test_configured_person_server_overrides_the_token_claim() -> None:
    agent = make_agent(token=agent_token(ps=None), person_server=PS)
    run = drive(agent, [*person(), Step(Purpose.RESOURCE, ok())])
    assert run.response.status == 200


def test_expired_static_agent_token_fails_the_flow_at_once() -> None:
    agent = make_agent(credentials=StaticAgentCredentials(AGENT_KEY, agent_token(now=T0 - 4000)))
    flow = agent.start(HttpRequest("GET", f"{RESOURCE}/x"), now=T0)
    action = flow.next(now=T0)
    assert flow.state is FlowState.FAILED
    assert isinstance(action.error, CredentialsError)  # type: ignore[union-attr]
    assert "expired" in str(action.error)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "header",
    [
        'requirement=interaction;url="https://r.example/i";code="A B"',
        'requirement=interaction;url="https://r.example/i";code=""',
        'requirement=interaction;url="https://r.example/i";code=abc',
        'requirement=interaction;url="https://r.example/i?x=1";code="UUUUUUUU"',
        'requirement=interaction;code="UUUUUUUU"',
    ],
)
def test_interaction_challenges_that_are_not_tolerated(header: str) -> None:
    bad = response(202, [("Location", PENDING_RES), ("AAuth-Requirement", header)])
    run = failed([Step(Purpose.RESOURCE, bad)])
    assert isinstance(run.error, ChallengeError)
