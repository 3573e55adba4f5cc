"""Every shared resource scenario through the standard-library reference binding
(:mod:`tests.bindings.reference_adapter`), and the reference binding's own fetch paths."""

from __future__ import annotations

import time
from typing import Any, Final

import pytest

from aauth.discovery import EgressPolicy, FetchPurpose
from aauth.http import HttpRequest, HttpResponse
from aauth.resource import Fetch
from aauth.signing import sign_request
from tests.bindings.harness import AGENT_PROVIDER, ROUTES, binding_world
from tests.bindings.reference_adapter import FetchFailed, ReferenceAdapter, fetch
from tests.bindings.scenarios import SCENARIOS, Scenario, scenario_id
from tests.fakes import Handler, serve

LOOPBACK: Final = EgressPolicy(allow_insecure_loopback_for_development=True)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario(scenario: Scenario) -> None:
    """The scenario passes through the reference binding."""
    scenario(ReferenceAdapter())


# ------------------------------------------------------------------ the reference fetch


def _fetch_action(url: str, *, egress: EgressPolicy = LOOPBACK, **options: Any) -> Fetch:
    return Fetch(
        url="https://issuer.example/doc",
        dial_url=url,
        purpose=FetchPurpose.METADATA,
        timeout=options.get("timeout", 2.0),
        max_bytes=options.get("max_bytes", 1024),
        egress=egress,
    )


def _answering(response: HttpResponse, delay: float = 0.0) -> Handler:
    def handle(request: HttpRequest, now: int) -> HttpResponse:
        del request, now
        time.sleep(delay)
        return response

    return handle


def test_fetch_returns_any_status_without_following_redirects() -> None:
    """A 404 and a 302 are answers for the discovery cache; the redirect is not followed."""
    moved = HttpResponse(302, [("Location", "http://127.0.0.1:9/elsewhere")], b"moved")
    with serve(_answering(moved), time.time) as served:
        status, headers, body = fetch(_fetch_action(served.url("/doc")))
    assert (status, body) == (302, b"moved")
    assert ("Location", "http://127.0.0.1:9/elsewhere") in headers
    missing = HttpResponse(404, [("Content-Type", "text/plain")], b"no")
    with serve(_answering(missing), time.time) as served:
        assert fetch(_fetch_action(served.url("/doc")))[0] == 404


def test_fetch_sends_accept_and_reads_the_body() -> None:
    seen: list[HttpRequest] = []

    def handle(request: HttpRequest, now: int) -> HttpResponse:
        seen.append(request)
        return HttpResponse(200, [("Content-Type", "application/json")], b'{"a":1}')

    with serve(handle, time.time) as served:
        assert fetch(_fetch_action(served.url("/doc")))[::2] == (200, b'{"a":1}')
    assert [r.header("accept") for r in seen] == ["application/json"]


def test_fetch_refuses_loopback_without_the_development_switch() -> None:
    """Egress admission of the resolved address comes before any connection."""
    with serve(_answering(HttpResponse(200)), time.time) as served:
        with pytest.raises(FetchFailed, match="loopback"):
            fetch(_fetch_action(served.url("/doc"), egress=EgressPolicy()))
        assert served.handled == 0


def test_fetch_caps_the_body() -> None:
    big = HttpResponse(200, [], b"x" * 2048)
    with serve(_answering(big), time.time) as served:
        with pytest.raises(FetchFailed, match="larger than 1024"):
            fetch(_fetch_action(served.url("/doc")))
        exact = fetch(_fetch_action(served.url("/doc"), max_bytes=2048))
    assert len(exact[2]) == 2048


def test_fetch_times_out_and_reports_connection_failures() -> None:
    slow = _answering(HttpResponse(200, [], b"late"), delay=1.0)
    with serve(slow, time.time) as served:
        started = time.monotonic()
        with pytest.raises(FetchFailed, match="fetch failed"):
            fetch(_fetch_action(served.url("/doc"), timeout=0.2))
        assert time.monotonic() - started < 0.9
        port = served.port
    with pytest.raises(FetchFailed, match="fetch failed"):
        fetch(_fetch_action(f"http://127.0.0.1:{port}/doc"))  # nobody listens any more
    with pytest.raises(FetchFailed, match="cannot resolve"):
        fetch(_fetch_action("http://no-such-host.invalid/doc"))


def test_a_failed_fetch_is_a_401_unknown_key() -> None:
    """Through the loop: an issuer whose documents cannot be fetched is refused with
    ``Signature-Error: unknown_key`` (the exchange's ``fetch_failed`` path)."""
    with binding_world(ReferenceAdapter()) as world:
        world.server.transport_map[AGENT_PROVIDER] = "http://127.0.0.1:9"  # discard port
        key = world.agent_provider.agent_key()
        token = world.agent_provider.mint(key, now=int(world.clock()))
        request = sign_request(
            HttpRequest("GET", world.dial_url(ROUTES.agent), []),
            key,
            signature_key=token,
            created=int(world.clock()),
        )
        with world.raw() as raw:
            answer = raw.get(world.dial_url(ROUTES.agent), headers=list(request.headers))
    assert answer.status_code == 401
    assert answer.headers["signature-error"].startswith("error=unknown_key")
