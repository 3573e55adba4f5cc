"""Session fixtures for the interop tests (``@hellocoop/httpsig``, ``@hellocoop/mockin``).

* No ``node`` on ``PATH``: every interop test is SKIPPED, with the reason.
* ``node`` present but the npm packages missing or not the pinned versions: every interop
  test FAILS, telling you to run ``npm ci --prefix tests/interop``. CI must never skip
  these silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import (
    HarnessError,
    HttpsigBridge,
    Mockin,
    check_installation,
    find_node,
    node_version,
    running_mockin,
)

#: mockin's identifier: https, no port (AAuth -11 §"Server Identifiers"). Only the transport
#: is loopback (harness.Mockin.transport_url).
MOCKIN_ISSUER = "https://ps.example"


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` executable, the pinned packages checked to be installed."""
    executable = find_node()
    if executable is None:
        pytest.skip(
            "interop tests need Node.js 20+ (`node` is not on PATH); they run "
            "@hellocoop/httpsig and @hellocoop/mockin from tests/interop/node_modules"
        )
    problem = None
    try:
        version = node_version(executable)
        check_installation()
    except HarnessError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    major = int(version.lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"interop tests need Node.js 20+, found {version}", pytrace=False)
    return executable


@pytest.fixture(scope="session")
def httpsig(node: str) -> HttpsigBridge:
    """The ``@hellocoop/httpsig`` bridge."""
    return HttpsigBridge(node=node)


@pytest.fixture(scope="session")
def mockin_server(node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mockin]:
    """One mockin for the session, on 127.0.0.1, ``ISSUER=https://ps.example``."""
    log_path = Path(tmp_path_factory.mktemp("mockin")) / "mockin.log"
    try:
        with running_mockin(node, MOCKIN_ISSUER, log_path) as server:
            yield server
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def mockin(mockin_server: Mockin) -> Mockin:
    """The session's mockin, reset (``DELETE /mock``) before the test."""
    if mockin_server.process.poll() is not None:
        pytest.fail(f"mockin exited:\n{mockin_server.log()}", pytrace=False)
    mockin_server.reset()
    return mockin_server
