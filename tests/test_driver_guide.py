"""docs/driver-guide.md prints examples/minimal_driver.py verbatim, and that driver runs every
shared flow scenario (tests/drivers/scenarios.py) against the fakes served on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import re
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import pytest

from aauth.agent import Agent, PromptClarification, PromptInteraction, TransportError
from aauth.http import HttpRequest, HttpResponse
from tests.drivers.harness import (
    CALL_TIMEOUT,
    ClarificationCallback,
    DriverClient,
    HarnessResponse,
    InteractionCallback,
    live_world,
    run_sync,
)
from tests.drivers.scenarios import SCENARIOS, Scenario, scenario_id

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "driver-guide.md"
EXAMPLE = ROOT / "examples" / "minimal_driver.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("minimal_driver", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()
Fetch = Callable[..., HttpResponse]


@pytest.fixture(autouse=True)
def _bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness bounds every exchange by CALL_TIMEOUT."""
    monkeypatch.setattr(example, "TIMEOUT", CALL_TIMEOUT)


def test_the_guide_prints_the_example_verbatim() -> None:
    blocks = re.findall(r"^```python\n(.*?)^```$", GUIDE.read_text(encoding="utf-8"), re.M | re.S)
    source = EXAMPLE.read_text(encoding="utf-8")
    assert source in blocks
    whole = [block for block in blocks if "def fetch(" in block]
    assert whole == [source], "exactly one block is the driver, and it is the file"


def test_the_example_is_about_forty_lines_of_driver() -> None:
    source = EXAMPLE.read_text(encoding="utf-8")
    driver = source[source.index("def send(") :]
    lines = [line for line in driver.splitlines() if line.strip()]
    assert 35 <= len(lines) <= 60


# ------------------------------------------------------------------ the scenarios


class MinimalClient:
    """:class:`DriverClient` over the example's ``fetch`` (blocking, as the harness allows)."""

    def __init__(
        self,
        agent: Agent,
        on_interaction: InteractionCallback | None,
        on_clarification: ClarificationCallback | None,
    ) -> None:
        self.agent = agent
        self.on_interaction = on_interaction
        self.on_clarification = on_clarification

    async def call(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HarnessResponse:
        fetch: Fetch = example.fetch
        callbacks: dict[str, object] = {}
        if self.on_interaction is not None:
            callbacks["on_interaction"] = self.on_interaction
        if self.on_clarification is not None:
            callbacks["on_clarification"] = self.on_clarification
        response = fetch(self.agent, HttpRequest(method, url, list(headers), body), **callbacks)
        return HarnessResponse(response.status, response.headers, response.body)


class MinimalHarness:
    """:class:`~tests.drivers.harness.DriverHarness` for examples/minimal_driver.py."""

    name = "minimal-driver"
    transport_errors: tuple[type[BaseException], ...] = ()

    @asynccontextmanager
    async def client(
        self,
        agent: Agent,
        *,
        on_interaction: InteractionCallback | None = None,
        on_clarification: ClarificationCallback | None = None,
    ) -> AsyncIterator[DriverClient]:
        yield MinimalClient(agent, on_interaction, on_clarification)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_the_example_runs_the_scenario(scenario: Scenario) -> None:
    run_sync(scenario, MinimalHarness())


# ------------------------------------------------------------------ its own edges


def test_the_default_callbacks_print_the_url_and_decline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    prompt = PromptInteraction(url="https://ps.example/i", code="AB", user_url="https://u/?code=AB")
    fetch_defaults = example.fetch.__defaults__
    assert fetch_defaults is not None
    show, ask = fetch_defaults
    show(prompt)
    assert capsys.readouterr().out == "https://u/?code=AB\n"
    assert ask(PromptClarification(question="which?")) is None


def test_a_refused_connection_and_an_oversized_answer_are_transport_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with live_world() as live:
        agent = live.agent()
        fetch: Fetch = example.fetch
        monkeypatch.setattr(example, "MAX_BODY", 10)
        with pytest.raises(TransportError, match="larger than 10 bytes"):
            fetch(agent, HttpRequest("GET", live.url("/agent")))
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(TransportError, match="got no answer"):
        fetch(live.agent(), HttpRequest("GET", f"http://127.0.0.1:{port}/agent"))
