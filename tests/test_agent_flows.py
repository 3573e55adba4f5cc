"""End-to-end agent flows against scripted servers (AAuth -11 §"Resource Access Modes",
§"Canonical Authorization Flow", §"Deferred Responses"; digest §1.3-§1.7, §7, §8 "Agent").

Each test lists the requests the agent must make, in order, with the answers; every signed
request is verified, so the tests also prove which credential each request presented.
"""

from __future__ import annotations

import json

import pytest

from aauth.aauth_headers import (
    AgentTokenRequired,
    ApprovalPending,
    ClarificationRequired,
    PersonTokenRequired,
)
from aauth.agent import (
    AgentLimits,
    Fail,
    FlowLimitError,
    FlowState,
    PromptClarification,
    PromptInteraction,
    Purpose,
    RefreshingAgentCredentials,
    ResponseReceived,
    SendRequest,
    StaticAgentCredentials,
    check_person_token,
)
from aauth.http import HttpRequest, HttpResponse
from aauth.keys import PrivateKey
from aauth.metadata import PersonServerMetadata, parse_person_metadata
from tests.test_agent_support import (
    AGENT_KEY,
    API_URL,
    AUTH_ENDPOINT,
    EC_AGENT_KEY,
    METADATA_URL,
    PERSON_ENDPOINT,
    PS,
    PS_METADATA,
    RESOURCE,
    T0,
    Step,
    agent_token,
    auth_challenge,
    auth_token,
    body_of,
    challenge,
    deferred,
    drive,
    interaction,
    make_agent,
    ok,
    person_token,
    problem,
    resource_token,
    response,
)

AGENT = "aa-agent+jwt"
PERSON = "aa-person+jwt"
AUTH = "aa-auth+jwt"

PENDING_PS = f"{PS}/pending/p1"
PENDING_RES = f"{RESOURCE}/pending/r1"


def metadata_step() -> Step:
    return Step(
        Purpose.PS_METADATA,
        response(200, [("Content-Type", "application/json")], PS_METADATA),
        url=METADATA_URL,
        method="GET",
    )


def person_steps(now: int = T0) -> list[Step]:
    return [
        metadata_step(),
        Step(Purpose.PERSON_TOKEN, ok({"person_token": person_token(now=now), "expires_in": 3600})),
    ]


# -------------------------------------------------------------------------- identity modes


def test_agent_token_mode_signs_with_the_agent_token_and_delivers() -> None:
    run = drive(make_agent(), [Step(Purpose.RESOURCE, ok({"items": []}), url=API_URL)])
    assert json.loads(run.response.body) == {"items": []}
    assert run.presented() == [AGENT]
    verified = run.verified[0]
    assert verified is not None
    assert verified.components == ('"@method"', '"@authority"', '"@path"', '"signature-key"')
    assert verified.created == T0
    assert run.flow is not None and run.flow.state is FlowState.DONE


def test_agent_token_challenge_after_a_session_token_retries_without_it() -> None:
    agent = make_agent()
    agent.store.put_session_token(RESOURCE, "stale-session")
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(AgentTokenRequired())),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    first, second = (s.request for s in run.sent)
    assert first.header("authorization") == "AAuth stale-session"
    assert second.header("authorization") is None
    assert agent.store.session_token(RESOURCE) is None
    assert run.presented() == [AGENT, AGENT]


def test_person_token_challenge_fetches_metadata_then_person_token_then_retries() -> None:
    run = drive(
        make_agent(capabilities=("interaction", "clarification")),
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            *person_steps(),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert run.purposes == [
        Purpose.RESOURCE,
        Purpose.PS_METADATA,
        Purpose.PERSON_TOKEN,
        Purpose.RESOURCE,
    ]
    assert run.presented() == [AGENT, None, AGENT, PERSON]
    token_request = run.sent[2].request
    assert token_request.url == PERSON_ENDPOINT
    assert body_of(token_request) == {
        "resource": RESOURCE,
        "capabilities": ["interaction", "clarification"],
    }
    verified = run.verified[2]
    assert verified is not None
    # AAuth -11: a PS request with a body covers content-type and content-digest
    assert '"content-type"' in verified.components
    assert '"content-digest"' in verified.components
    # capabilities go to resources as a header, never to the PS as one
    assert run.sent[0].request.header("aauth-capabilities") == "interaction, clarification"
    assert token_request.header("aauth-capabilities") is None
    # the metadata GET is plain
    assert run.sent[1].request.url == METADATA_URL
    assert not run.sent[1].request.has_header("signature")


def test_person_token_is_cached_per_resource_and_reused() -> None:
    agent = make_agent()
    drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            *person_steps(),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    again = drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 10)
    assert again.presented() == [PERSON]


def test_agent_token_challenge_after_a_person_token_keeps_it_for_other_routes() -> None:
    agent = make_agent()
    drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            *person_steps(),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    # an agent-token route of the same resource: the retry presents the agent token ...
    mixed = drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(AgentTokenRequired())),
            Step(Purpose.RESOURCE, ok()),
        ],
        now=T0 + 10,
    )
    assert mixed.presented() == [PERSON, AGENT]
    # ... and the person token stays cached for the person-token routes
    again = drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 20)
    assert again.presented() == [PERSON]


def test_auth_token_flow_401_checks_the_resource_token_and_exchanges_it() -> None:
    agent = make_agent()
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            *person_steps(),
            Step(Purpose.RESOURCE, auth_challenge()),
            Step(
                Purpose.AUTH_TOKEN,
                ok({"auth_token": auth_token(), "expires_in": 3600}),
                url=AUTH_ENDPOINT,
            ),
            Step(Purpose.RESOURCE, ok({"data": 1})),
        ],
    )
    assert run.presented() == [AGENT, None, AGENT, PERSON, AGENT, AUTH]
    assert body_of(run.sent[4].request) == {"resource_token": resource_token()}
    assert json.loads(run.response.body) == {"data": 1}


def test_cached_auth_token_is_reused_until_shortly_before_exp() -> None:
    agent = make_agent()
    drive(
        agent,
        [
            Step(Purpose.RESOURCE, auth_challenge()),
            metadata_step(),
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": auth_token(lifetime=600)})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    # 600 s token, 60 s margin: used at T0+539, not at T0+540
    assert drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 539).presented() == [AUTH]
    assert drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 540).presented() == [AGENT]


def test_expires_in_shortens_the_cached_lifetime() -> None:
    agent = make_agent()
    drive(
        agent,
        [
            Step(Purpose.RESOURCE, auth_challenge()),
            metadata_step(),
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": auth_token(), "expires_in": 100})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 39).presented() == [AUTH]
    assert drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 40).presented() == [AGENT]


def test_a_short_lived_token_is_still_used_by_the_flow_that_got_it() -> None:
    # a 30 s auth token is inside the 60 s refresh margin: not cached for later flows, but the
    # flow that obtained it must present it (else it would loop asking for it)
    agent = make_agent()
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, auth_challenge()),
            metadata_step(),
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": auth_token(lifetime=30)})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert run.presented()[-1] == AUTH
    assert drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 1).presented() == [AGENT]


def test_ps_metadata_is_fetched_once_and_cached() -> None:
    agent = make_agent()
    first = drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            *person_steps(),
            Step(Purpose.RESOURCE, ok()),
        ],
        request=HttpRequest("GET", f"{RESOURCE}/a"),
    )
    assert Purpose.PS_METADATA in first.purposes
    second = drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            Step(
                Purpose.PERSON_TOKEN,
                ok({"person_token": person_token(aud="https://other.example")}),
            ),
            Step(Purpose.RESOURCE, ok()),
        ],
        request=HttpRequest("GET", "https://other.example/b"),
        now=T0 + 100,
    )
    assert Purpose.PS_METADATA not in second.purposes


def test_ps_metadata_lifetime_follows_cache_control_within_bounds() -> None:
    agent = make_agent()
    fresh_for_10 = response(
        200, [("Content-Type", "application/json"), ("Cache-Control", "max-age=10")], PS_METADATA
    )
    drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            Step(Purpose.PS_METADATA, fresh_for_10),
            Step(Purpose.PERSON_TOKEN, ok({"person_token": person_token()})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    # max-age=10 is raised to the 300 s floor
    assert agent.store.ps_metadata(PS, now=T0 + 299) is not None
    assert agent.store.ps_metadata(PS, now=T0 + 300) is None


def test_step_up_with_a_valid_auth_token_gets_a_new_one() -> None:
    agent = make_agent()
    agent.store.put_ps_metadata(PS, _metadata(), expires_at=T0 + 3600)
    wide = auth_token(scope="data.read data.write", jti="au-2")
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, auth_challenge()),
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": auth_token()})),
            Step(Purpose.RESOURCE, auth_challenge(resource_token(scope="data.read data.write"))),
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": wide})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert run.presented() == [AGENT, AGENT, AUTH, AGENT, AUTH]
    last = run.verified[-1]
    assert last is not None and last.token == wide


def _metadata() -> PersonServerMetadata:
    return parse_person_metadata(PS_METADATA, expected_issuer=PS)


# ------------------------------------------------------------------------ deferred (202)


def test_deferred_auth_token_form_polls_the_held_call_with_the_auth_token() -> None:
    agent = make_agent()
    agent.store.put_ps_metadata(PS, _metadata(), expires_at=T0 + 3600)
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, auth_challenge(status=202, location="/pending/held-1")),
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": auth_token()})),
            Step(
                Purpose.POLL, ok({"held": "result"}), url=f"{RESOURCE}/pending/held-1", method="GET"
            ),
        ],
    )
    assert run.presented() == [AGENT, AGENT, AUTH]
    assert json.loads(run.response.body) == {"held": "result"}
    assert run.sent[-1].deliverable


def test_ps_deferred_person_token_with_interaction_prompts_then_polls() -> None:
    run = drive(
        make_agent(callback_url="https://agent.example/callback"),
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            Step(Purpose.PS_METADATA, response(200, [], PS_METADATA)),
            Step(Purpose.PERSON_TOKEN, interaction(PENDING_PS)),
            Step(Purpose.POLL, deferred(PENDING_PS, retry_after="3"), url=PENDING_PS),
            Step(Purpose.POLL, ok({"person_token": person_token(now=T0 + 3)}), url=PENDING_PS),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    prompts = [a for a in run.actions if isinstance(a, PromptInteraction)]
    assert len(prompts) == 1
    assert prompts[0].url == f"{PS}/consent" and prompts[0].code == "A1B2-C3D4"
    assert prompts[0].user_url == (
        f"{PS}/consent?code=A1B2-C3D4&callback=https%3A%2F%2Fagent.example%2Fcallback"
    )
    # Retry-After 0 then 3: the first poll right after the prompt, the second after 3 s
    assert run.slept == [3]
    assert run.presented() == [AGENT, None, AGENT, AGENT, AGENT, PERSON]
    assert all(not s.deliverable for s in run.sent[1:5])


def test_repeated_interaction_is_prompted_once_and_a_new_code_again() -> None:
    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, interaction(PENDING_RES, url=f"{RESOURCE}/consent")),
            Step(Purpose.POLL, interaction(PENDING_RES, url=f"{RESOURCE}/consent")),
            Step(
                Purpose.POLL, interaction(PENDING_RES, code="WXYZ-2345", url=f"{RESOURCE}/consent")
            ),
            Step(Purpose.POLL, ok()),
        ],
    )
    codes = [a.code for a in run.actions if isinstance(a, PromptInteraction)]
    assert codes == ["A1B2-C3D4", "WXYZ-2345"]


def test_two_party_interaction_then_session_token_rolls() -> None:
    agent = make_agent()
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, interaction(PENDING_RES, url=f"{RESOURCE}/consent")),
            Step(Purpose.POLL, ok({"status": "authorized"}, ("AAuth-Access", "sess-1"))),
        ],
    )
    assert agent.store.session_token(RESOURCE) == "sess-1"
    assert run.sent[1].request.header("authorization") is None
    # later calls send Authorization: AAuth and cover it; a newer value replaces the old one
    later = drive(agent, [Step(Purpose.RESOURCE, ok({}, ("AAuth-Access", "sess-2")))], now=T0 + 5)
    sent = later.sent[0].request
    assert sent.header("authorization") == "AAuth sess-1"
    verified = later.verified[0]
    assert verified is not None and '"authorization"' in verified.components
    assert agent.store.session_token(RESOURCE) == "sess-2"
    third = drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 6)
    assert third.sent[0].request.header("authorization") == "AAuth sess-2"


def test_an_application_authorization_header_is_kept_and_no_session_added() -> None:
    agent = make_agent()
    agent.store.put_session_token(RESOURCE, "sess-1")
    run = drive(
        agent,
        [Step(Purpose.RESOURCE, ok())],
        request=HttpRequest("GET", API_URL, [("Authorization", "Bearer app-token")]),
    )
    assert run.sent[0].request.header_values("authorization") == ["Bearer app-token"]


def test_malformed_aauth_access_is_ignored_and_the_answer_delivered() -> None:
    agent = make_agent()
    run = drive(agent, [Step(Purpose.RESOURCE, ok({}, ("AAuth-Access", "bad token")))])
    assert run.response.status == 200
    assert agent.store.session_token(RESOURCE) is None


def test_approval_polls_with_the_default_interval_when_retry_after_is_absent() -> None:
    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending(), retry_after=None)),
            Step(Purpose.POLL, deferred(PENDING_RES, retry_after="garbage")),
            Step(Purpose.POLL, ok()),
        ],
    )
    assert run.slept == [5, 5]


def test_unknown_status_and_unknown_requirement_on_202_keep_polling() -> None:
    unknown = response(
        202,
        [
            ("Location", PENDING_RES),
            ("Retry-After", "1"),
            ("AAuth-Requirement", "requirement=future-thing"),
        ],
        {"status": "thinking-hard"},
    )
    run = drive(
        make_agent(),
        [Step(Purpose.RESOURCE, unknown), Step(Purpose.POLL, unknown), Step(Purpose.POLL, ok())],
    )
    assert run.slept == [1, 1]
    assert run.response.status == 200


def test_429_adds_five_seconds_for_the_rest_of_the_flow_and_503_backs_off() -> None:
    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending(), retry_after="2")),
            Step(Purpose.POLL, problem(429, "slow_down")),
            Step(Purpose.POLL, deferred(PENDING_RES, retry_after="2")),
            Step(Purpose.POLL, response(503, [("Retry-After", "4")])),
            Step(Purpose.POLL, ok()),
        ],
    )
    # 2; 429: default 5 + 5; 2 + 5; 503: 4 + 5
    assert run.slept == [2, 10, 7, 9]


def test_a_new_location_on_a_poll_is_followed() -> None:
    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending())),
            Step(Purpose.POLL, deferred(f"{RESOURCE}/pending/r2"), url=PENDING_RES),
            Step(Purpose.POLL, ok(), url=f"{RESOURCE}/pending/r2"),
        ],
    )
    assert run.response.status == 200


def test_a_plain_202_to_the_first_request_is_the_resources_own_answer() -> None:
    accepted = response(202, [("Location", f"{RESOURCE}/jobs/1")], {"job": 1})
    run = drive(make_agent(), [Step(Purpose.RESOURCE, accepted)])
    assert run.response is accepted


def test_non_aauth_401_and_402_are_delivered() -> None:
    plain = response(401, [("WWW-Authenticate", "Bearer")])
    assert drive(make_agent(), [Step(Purpose.RESOURCE, plain)]).response is plain
    pay = response(402, [("WWW-Authenticate", "Payment")])
    assert drive(make_agent(), [Step(Purpose.RESOURCE, pay)]).response is pay


def test_402_with_an_auth_token_requirement_is_a_challenge() -> None:
    agent = make_agent()
    agent.store.put_ps_metadata(PS, _metadata(), expires_at=T0 + 3600)
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, auth_challenge(status=402)),
            Step(Purpose.AUTH_TOKEN, ok({"auth_token": auth_token()})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert run.presented()[-1] == AUTH


def test_resource_poll_errors_that_are_the_held_calls_own_answer_are_delivered() -> None:
    teapot = problem(418, "teapot")
    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending())),
            Step(Purpose.POLL, teapot),
        ],
    )
    assert run.response is teapot


def test_a_challenge_while_polling_resumes_the_poll() -> None:
    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending())),
            Step(Purpose.POLL, challenge(PersonTokenRequired())),
            *person_steps(),
            Step(Purpose.POLL, ok(), url=PENDING_RES),
        ],
    )
    assert run.presented()[-1] == PERSON


def test_poll_of_the_resource_carries_the_applications_headers_but_not_its_body() -> None:
    request = HttpRequest(
        "POST",
        f"{RESOURCE}/api/jobs",
        [("Content-Type", "application/json"), ("Accept", "application/json"), ("X-Trace", "t1")],
        b'{"job": 1}',
    )
    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, deferred(PENDING_RES, ApprovalPending())),
            Step(Purpose.POLL, ok()),
        ],
        request=request,
    )
    first, poll = (s.request for s in run.sent)
    verified = run.verified[0]
    assert verified is not None
    assert '"content-type"' in verified.components and '"content-digest"' in verified.components
    assert first.header("content-digest") is not None
    assert poll.method == "GET" and poll.body == b""
    assert poll.header("accept") == "application/json" and poll.header("x-trace") == "t1"
    assert poll.header("content-type") is None and poll.header("content-digest") is None


def test_a_resource_body_without_content_type_still_gets_a_digest() -> None:
    request = HttpRequest("PUT", f"{RESOURCE}/raw", [], b"raw bytes")
    run = drive(make_agent(), [Step(Purpose.RESOURCE, ok())], request=request)
    verified = run.verified[0]
    assert verified is not None
    assert '"content-digest"' in verified.components
    assert '"content-type"' not in verified.components


def test_signature_headers_of_the_application_are_replaced() -> None:
    request = HttpRequest(
        "GET",
        API_URL,
        [("Signature", "sig=:AAAA:"), ("Signature-Input", "sig=()"), ("Signature-Key", "x")],
    )
    run = drive(make_agent(), [Step(Purpose.RESOURCE, ok())], request=request)
    assert run.sent[0].request.header_values("signature-key") != ["x"]
    assert run.verified[0] is not None


# ------------------------------------------------------------------------- clarification


def test_clarification_answer_is_posted_with_the_action_member() -> None:
    question = {
        "status": "pending",
        "clarification": "Which **account**?",
        "options": ["personal", "work", 7],
        "timeout": 120,
    }
    seen: list[PromptClarification] = []

    def answer(prompt: PromptClarification) -> str:
        seen.append(prompt)
        return "work"

    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, auth_challenge()),
            Step(Purpose.PS_METADATA, response(200, [], PS_METADATA)),
            Step(Purpose.AUTH_TOKEN, deferred(PENDING_PS, ClarificationRequired(), body=question)),
            Step(
                Purpose.CLARIFICATION_RESPONSE,
                response(202, [], {"status": "pending"}),
                url=PENDING_PS,
                method="POST",
            ),
            # mockin repeats a question on polls without the header; once answered it is
            # not asked again
            Step(Purpose.POLL, deferred(PENDING_PS, body=question)),
            Step(Purpose.POLL, ok({"auth_token": auth_token()})),
            Step(Purpose.RESOURCE, ok()),
        ],
        answer=answer,
    )
    assert len(seen) == 1
    assert seen[0] == PromptClarification(
        question="Which **account**?", options=("personal", "work"), timeout=120
    )
    post = run.sent[3]
    assert body_of(post.request) == {
        "action": "clarification_response",
        "clarification_response": "work",
    }
    verified = run.verified[3]
    assert verified is not None and '"content-digest"' in verified.components
    assert run.presented()[3] == AGENT
    # the 202 to the answer had no Location or Retry-After: the same URL, after 5 s
    assert run.slept == [5]


def test_a_second_question_is_asked_too() -> None:
    def question(text: str) -> dict[str, str]:
        return {"status": "pending", "clarification": text}

    asked: list[str] = []

    def answer(prompt: PromptClarification) -> str:
        asked.append(prompt.question)
        return "ok"

    drive(
        make_agent(),
        [
            Step(
                Purpose.RESOURCE,
                deferred(PENDING_RES, ClarificationRequired(), body=question("Q1?")),
            ),
            Step(
                Purpose.CLARIFICATION_RESPONSE,
                deferred(PENDING_RES, ClarificationRequired(), body=question("Q2?")),
            ),
            Step(Purpose.CLARIFICATION_RESPONSE, ok()),
        ],
        answer=answer,
    )
    assert asked == ["Q1?", "Q2?"]


def test_declined_clarification_deletes_the_pending_url_and_fails_declined() -> None:
    run = drive(
        make_agent(),
        [
            Step(
                Purpose.RESOURCE,
                deferred(PENDING_RES, ClarificationRequired(), body={"clarification": "Why?"}),
            ),
            Step(Purpose.CANCEL, response(204), url=PENDING_RES, method="DELETE"),
        ],
        answer=lambda prompt: None,
    )
    assert run.error.code == "declined"
    assert run.error.status == 204
    assert not run.sent[-1].deliverable


def test_declined_clarification_when_the_delete_fails_still_reports_declined() -> None:
    run = drive(
        make_agent(),
        [
            Step(
                Purpose.RESOURCE,
                deferred(PENDING_RES, ClarificationRequired(), body={"clarification": "Why?"}),
            ),
            Step(Purpose.CANCEL, ConnectionResetError("reset")),
        ],
        answer=lambda prompt: None,
    )
    assert run.error.code == "declined" and run.error.status is None


# ---------------------------------------------------------------------- signature errors


def _sig_error(value: str, *extra: tuple[str, str]) -> HttpResponse:
    return problem(401, "invalid_signature").with_headers([("Signature-Error", value), *extra])


def test_unsupported_algorithm_switches_to_an_alternate_key_and_remembers_it() -> None:
    credentials = StaticAgentCredentials(
        make_agent().credentials.current(now=T0).key,
        agent_token(),
        alternates=[(EC_AGENT_KEY, agent_token(EC_AGENT_KEY, jti="at-ec"))],
    )
    agent = make_agent(credentials=credentials)
    rejected = _sig_error("error=unsupported_algorithm", ("Accept-Signature-Alg", "ES256, PS512"))
    run = drive(agent, [Step(Purpose.RESOURCE, rejected), Step(Purpose.RESOURCE, ok())])
    algorithms = [v.algorithm for v in run.verified if v is not None]
    assert algorithms == ["Ed25519", "ES256"]
    assert agent.store.algorithm(RESOURCE) == "ES256"
    later = drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 1)
    assert later.verified[0] is not None and later.verified[0].algorithm == "ES256"


def test_invalid_input_covers_the_required_components_from_then_on() -> None:
    agent = make_agent()
    rejected = _sig_error(
        "error=invalid_input, "
        'required_input=("@method" "@authority" "@path" "@query" "signature-key")'
    )
    run = drive(agent, [Step(Purpose.RESOURCE, rejected), Step(Purpose.RESOURCE, ok())])
    second = run.verified[1]
    assert second is not None and '"@query"' in second.components
    later = drive(agent, [Step(Purpose.RESOURCE, ok())], now=T0 + 1)
    assert later.verified[0] is not None and '"@query"' in later.verified[0].components


def test_invalid_signature_is_retried_once_with_a_fresh_signature() -> None:
    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, _sig_error("error=invalid_signature")),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert run.response.status == 200


def test_expired_jwt_on_a_person_token_drops_it_and_gets_a_new_one() -> None:
    agent = make_agent()
    agent.store.put_ps_metadata(PS, _metadata(), expires_at=T0 + 3600)
    cached = check_person_token(
        person_token(),
        resource=RESOURCE,
        ps=PS,
        thumbprint=make_agent().credentials.current(now=T0).thumbprint,
        now=T0,
    )
    agent.store.put_person_token(RESOURCE, cached)
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, _sig_error("error=expired_jwt")),
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            Step(Purpose.PERSON_TOKEN, ok({"person_token": person_token(jti="pt-2")})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert run.presented() == [PERSON, AGENT, AGENT, PERSON]


def test_expired_jwt_on_the_agent_token_asks_the_credentials_to_renew() -> None:
    calls: list[int] = []

    def fetch(now: int) -> tuple[PrivateKey, str]:
        calls.append(now)
        return AGENT_KEY, agent_token(jti=f"at-{len(calls)}")

    agent = make_agent(credentials=RefreshingAgentCredentials(fetch))
    run = drive(
        agent,
        [Step(Purpose.RESOURCE, _sig_error("error=expired_jwt")), Step(Purpose.RESOURCE, ok())],
    )
    assert len(calls) == 2
    tokens = [v.token_claims["jti"] for v in run.verified if v is not None]
    assert tokens == ["at-1", "at-2"]


def test_signature_error_from_the_ps_is_retried_there() -> None:
    agent = make_agent()
    agent.store.put_ps_metadata(PS, _metadata(), expires_at=T0 + 3600)
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            Step(Purpose.PERSON_TOKEN, _sig_error("error=invalid_signature")),
            Step(Purpose.PERSON_TOKEN, ok({"person_token": person_token()})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert run.response.status == 200


def test_ps_429_on_the_token_post_resends_it_after_the_wait() -> None:
    agent = make_agent()
    agent.store.put_ps_metadata(PS, _metadata(), expires_at=T0 + 3600)
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            Step(Purpose.PERSON_TOKEN, problem(429, "slow_down")),
            Step(Purpose.PERSON_TOKEN, ok({"person_token": person_token(now=T0 + 10)})),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    assert run.slept == [10]
    assert run.sent[1].request.body == run.sent[2].request.body


# ---------------------------------------------------------------------- options


def test_prefer_wait_goes_on_aauth_requests_and_polls() -> None:
    agent = make_agent(limits=AgentLimits(prefer_wait=30))
    run = drive(
        agent,
        [
            Step(Purpose.RESOURCE, challenge(PersonTokenRequired())),
            *person_steps(),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    prefers = [s.request.header("prefer") for s in run.sent]
    assert prefers == ["wait=30", None, "wait=30", "wait=30"]


def test_prefer_of_the_application_is_kept() -> None:
    agent = make_agent(limits=AgentLimits(prefer_wait=30))
    request = HttpRequest("GET", API_URL, [("Prefer", "return=minimal")])
    run = drive(agent, [Step(Purpose.RESOURCE, ok())], request=request)
    assert run.sent[0].request.header_values("prefer") == ["return=minimal"]


def test_transport_map_dials_the_mapped_origin_and_signs_what_it_dials() -> None:
    agent = make_agent(
        transport_map={RESOURCE: "http://127.0.0.1:8001", PS: "http://127.0.0.1:8002"}
    )
    run = drive(
        agent,
        [
            Step(
                Purpose.RESOURCE,
                challenge(PersonTokenRequired()),
                url="http://127.0.0.1:8001/api/items?limit=2",
            ),
            Step(
                Purpose.PS_METADATA,
                response(200, [], PS_METADATA),
                url="http://127.0.0.1:8002/.well-known/aauth-person.json",
            ),
            Step(
                Purpose.PERSON_TOKEN,
                ok({"person_token": person_token()}),
                url="http://127.0.0.1:8002/token/person",
            ),
            Step(Purpose.RESOURCE, ok()),
        ],
    )
    # the identifiers stay https: the person token is asked for the resource identifier
    assert body_of(run.sent[2].request) == {"resource": RESOURCE}
    assert run.response.status == 200


def test_flow_reports_its_resource_state_and_steps() -> None:
    agent = make_agent()
    flow = agent.start(HttpRequest("GET", "HTTPS://Resource.Example:443/x"), now=T0)
    assert flow.resource == RESOURCE
    assert flow.state is FlowState.START and flow.steps == 0
    action = flow.next(now=T0)
    assert isinstance(action, SendRequest) and flow.steps == 1


@pytest.mark.parametrize("status", [200, 204, 404, 500])
def test_needs_body_only_on_202_for_deliverable_answers(status: int) -> None:
    agent = make_agent()
    action = agent.start(HttpRequest("GET", API_URL), now=T0).next(now=T0)
    assert isinstance(action, SendRequest) and action.deliverable
    assert action.needs_body(status) is False
    assert action.needs_body(202) is True


def test_agent_token_challenge_while_presenting_a_person_token_keeps_it() -> None:
    agent = make_agent()
    cached = check_person_token(
        person_token(), resource=RESOURCE, ps=PS, thumbprint=AGENT_KEY.thumbprint, now=T0
    )
    agent.store.put_person_token(RESOURCE, cached)
    run = drive(
        agent,
        [Step(Purpose.RESOURCE, challenge(AgentTokenRequired())), Step(Purpose.RESOURCE, ok())],
    )
    assert run.presented() == [PERSON, AGENT]
    # the person token stays for the resource's person-token routes
    assert agent.store.subject(RESOURCE) == "user-7f3c"


def test_a_prompt_after_the_deadline_fails_instead() -> None:
    flow = make_agent().start(HttpRequest("GET", API_URL), now=T0)
    flow.next(now=T0)
    action = flow.handle(
        ResponseReceived(response=interaction(PENDING_RES, url=f"{RESOURCE}/consent")),
        now=T0 + 301,
    )
    assert isinstance(action, Fail) and isinstance(action.error, FlowLimitError)
    assert "prompt" in action.error.message


def test_the_same_question_asked_again_with_the_header_is_answered_again() -> None:
    question = {"status": "pending", "clarification": "Which calendar?"}
    asked = deferred(PENDING_RES, ClarificationRequired(), body=question)
    answers: list[str] = []

    def answer(prompt: PromptClarification) -> str:
        answers.append(prompt.question)
        return f"answer {len(answers)}"

    run = drive(
        make_agent(),
        [
            Step(Purpose.RESOURCE, asked),
            Step(Purpose.CLARIFICATION_RESPONSE, asked),
            Step(Purpose.CLARIFICATION_RESPONSE, ok()),
        ],
        answer=answer,
    )
    assert answers == ["Which calendar?", "Which calendar?"]
    assert body_of(run.sent[2].request)["clarification_response"] == "answer 2"


def test_a_non_crockford_interaction_code_is_tolerated_and_passed_verbatim() -> None:
    # mockin 2.0.0 sends 8 random [A-Za-z0-9]; "U" is outside Crockford base32
    header = 'requirement=interaction;url="https://ps.example/aauth/consent";code="Hk7UeZm8"'
    first = response(202, [("Location", PENDING_RES), ("AAuth-Requirement", header)])
    run = drive(
        make_agent(callback_url="https://agent.example/cb"),
        [Step(Purpose.RESOURCE, first), Step(Purpose.POLL, ok())],
    )
    prompt = next(a for a in run.actions if isinstance(a, PromptInteraction))
    assert prompt.code == "Hk7UeZm8"
    assert prompt.user_url == (
        "https://ps.example/aauth/consent?code=Hk7UeZm8&callback=https%3A%2F%2Fagent.example%2Fcb"
    )
    plain = drive(make_agent(), [Step(Purpose.RESOURCE, first), Step(Purpose.POLL, ok())])
    prompt = next(a for a in plain.actions if isinstance(a, PromptInteraction))
    assert prompt.user_url == "https://ps.example/aauth/consent?code=Hk7UeZm8"


def test_a_poll_of_the_resource_needs_the_body_of_polling_errors_only() -> None:
    flow = make_agent().start(HttpRequest("GET", API_URL), now=T0)
    flow.next(now=T0)
    poll = flow.handle(ResponseReceived(response=deferred(PENDING_RES, ApprovalPending())), now=T0)
    assert isinstance(poll, SendRequest) and poll.purpose is Purpose.POLL and poll.deliverable
    assert [s for s in (200, 202, 401, 403, 404, 408, 410, 500) if poll.needs_body(s)] == [
        202,
        403,
        408,
        410,
    ]
