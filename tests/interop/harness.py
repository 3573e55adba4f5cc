"""The Node side of the interop tests: find Node and the pinned npm packages, run the
``@hellocoop/httpsig`` bridge, start and drive ``@hellocoop/mockin``.

Test support code, so it does IO (subprocesses, sockets, the clock for deadlines); the
engine under test does none. Every wait is bounded, every server listens on 127.0.0.1 only.

The fixtures in ``conftest.py`` wrap these; the agent and resource driver tests can import
:class:`Mockin` and :func:`http_call` from here directly.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlsplit

from aauth import HttpRequest, HttpResponse

INTEROP_DIR: Final = Path(__file__).resolve().parent
NODE_MODULES: Final = INTEROP_DIR / "node_modules"
BRIDGE: Final = INTEROP_DIR / "httpsig_bridge.mjs"
#: The header-parser bridge (``parseSignatureError`` & co., ``parseDictionary``).
HEADERS_BRIDGE: Final = INTEROP_DIR / "httpsig_headers_bridge.mjs"
HTTPSIG: Final = "@hellocoop/httpsig"
MOCKIN: Final = "@hellocoop/mockin"
INSTALL_HINT: Final = "run `npm ci --prefix tests/interop` (Node 20+ and npm)"

#: Bounds on every wait (seconds).
BRIDGE_TIMEOUT: Final = 30.0
STARTUP_TIMEOUT: Final = 15.0
HTTP_TIMEOUT: Final = 5.0
STOP_TIMEOUT: Final = 5.0


class HarnessError(Exception):
    """The Node side is missing, mis-installed, or misbehaved (never a finding about aauth)."""


def find_node() -> str | None:
    """The ``node`` executable on ``PATH`` (``AAUTH_NODE`` overrides), or ``None``."""
    override = os.environ.get("AAUTH_NODE")
    if override:
        return override
    return shutil.which("node")


def pinned_versions() -> dict[str, str]:
    """The exact versions ``tests/interop/package.json`` pins."""
    manifest = json.loads((INTEROP_DIR / "package.json").read_text(encoding="utf-8"))
    deps: dict[str, str] = manifest["dependencies"]
    return dict(deps)


def installed_version(package: str) -> str | None:
    """The version of ``package`` in ``tests/interop/node_modules``, or ``None``."""
    path = NODE_MODULES / package / "package.json"
    if not path.is_file():
        return None
    version = json.loads(path.read_text(encoding="utf-8")).get("version")
    return version if isinstance(version, str) else None


def check_installation() -> dict[str, str]:
    """Installed versions of the pinned packages; :class:`HarnessError` naming the fix when a
    package is missing or is not the pinned version."""
    found: dict[str, str] = {}
    for package, pinned in pinned_versions().items():
        version = installed_version(package)
        if version is None:
            raise HarnessError(f"{package} is not installed in {NODE_MODULES}: {INSTALL_HINT}")
        if version != pinned:
            raise HarnessError(
                f"{package} {version} is installed but package.json pins {pinned}: {INSTALL_HINT}"
            )
        found[package] = version
    return found


def node_version(node: str) -> str:
    """``node --version`` (bounded)."""
    done = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=BRIDGE_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise HarnessError(f"`{node} --version` failed: {done.stderr.strip()}")
    return done.stdout.strip()


# ----------------------------------------------------------------------------- httpsig bridge


@dataclass
class HttpsigBridge:
    """Runs batches of sign/verify cases through ``httpsig_bridge.mjs`` (one Node process per
    batch; see the script's header for the case format), or of header-parse cases through
    ``httpsig_headers_bridge.mjs`` (``script=HEADERS_BRIDGE``)."""

    node: str
    calls: int = 0
    #: What the last run reported: ``{"node": "v20…", "httpsig": "2.2.0"}``.
    reported: dict[str, str] = field(default_factory=dict)

    def run(
        self, cases: Sequence[Mapping[str, Any]], *, script: Path = BRIDGE
    ) -> list[dict[str, Any]]:
        """The result of each case, in order (``script``: which bridge runs them)."""
        self.calls += 1
        try:
            done = subprocess.run(
                [self.node, str(script)],
                input=json.dumps({"cases": list(cases)}),
                capture_output=True,
                text=True,
                timeout=BRIDGE_TIMEOUT,
                cwd=INTEROP_DIR,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(f"the httpsig bridge took over {BRIDGE_TIMEOUT} s") from exc
        if done.returncode != 0:
            raise HarnessError(f"the httpsig bridge exited {done.returncode}: {done.stderr}")
        try:
            output = json.loads(done.stdout)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"the httpsig bridge wrote no JSON: {done.stdout[:500]!r}") from exc
        self.reported = {"node": str(output["node"]), "httpsig": str(output["httpsig"])}
        results: list[dict[str, Any]] = output["results"]
        if len(results) != len(cases):
            raise HarnessError(f"{len(cases)} cases but {len(results)} results")
        return results


# --------------------------------------------------------------------------------- HTTP client


def http_call(request: HttpRequest, *, timeout: float = HTTP_TIMEOUT) -> HttpResponse:
    """Send ``request`` over plain HTTP to the host and port of its URL (a loopback transport
    URL) and return the response; no redirects followed, no header rewritten.

    ``http.client`` adds ``Host`` (the URL's authority, which is what ``@authority`` signs)
    and ``Content-Length``; every header of ``request`` is sent as given, in order.
    """
    parts = urlsplit(request.url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
        raise HarnessError(f"interop requests go to http://127.0.0.1:PORT only, not {request.url}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(request.method, target, skip_accept_encoding=True)
        for name, value in request.headers:
            conn.putheader(name, value)
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(request.body)))
        conn.endheaders(request.body or None)
        response = conn.getresponse()
        body = response.read()
        return HttpResponse(response.status, response.getheaders(), body)
    finally:
        conn.close()


# ---------------------------------------------------------------------------------- mockin


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Mockin:
    """A running ``@hellocoop/mockin`` Person Server.

    Its identifier is ``issuer`` (``https://<name>``, no port: AAuth -11 server identifiers);
    it listens on ``base_url`` (``http://127.0.0.1:PORT``). Every URL it publishes starts with
    ``issuer``; :meth:`transport_url` maps one to the loopback transport. An agent maps
    BEFORE signing: it signs the authority it dials (``127.0.0.1:PORT``), which is what
    mockin rebuilds from ``Host`` when it verifies.
    """

    issuer: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def authority(self) -> str:
        """``127.0.0.1:PORT``: the ``@authority`` of a request to mockin."""
        return f"127.0.0.1:{self.port}"

    def transport_url(self, url: str) -> str:
        """``url`` (under ``issuer``) on the loopback transport."""
        if url != self.issuer and not url.startswith(self.issuer + "/"):
            raise HarnessError(f"{url} is not under mockin's issuer {self.issuer}")
        return self.base_url + url[len(self.issuer) :]

    def call(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HttpResponse:
        """An unsigned request to ``url`` (an ``issuer`` URL or a path)."""
        target = self.base_url + url if url.startswith("/") else self.transport_url(url)
        return http_call(HttpRequest(method, target, headers, body))

    def json_call(self, method: str, path: str, payload: object = None) -> Any:
        """An unsigned JSON call to the mock control API; the decoded 2xx answer."""
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = [("Content-Type", "application/json")] if payload is not None else []
        response = self.call(method, path, headers=headers, body=body)
        if not 200 <= response.status < 300:
            raise HarnessError(f"{method} {path} -> {response.status}: {response.body[:300]!r}")
        return json.loads(response.body) if response.body else None

    def configure(self, **settings: object) -> dict[str, Any]:
        """``PUT /mock/aauth`` with ``settings``; mockin's whole AAuth config after it."""
        config: dict[str, Any] = self.json_call("PUT", "/mock/aauth", settings)
        return config

    def reset(self) -> None:
        """``DELETE /mock``: default config, no pending requests, no trusted servers, no
        issued person-token records."""
        self.json_call("DELETE", "/mock")

    def log(self) -> str:
        """What the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Terminate the server (bounded), then kill it if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def start_mockin(node: str, issuer: str, log_path: Path) -> Mockin:
    """Start mockin on a free 127.0.0.1 port with ``ISSUER=issuer`` and wait (bounded) until
    it accepts connections."""
    package_dir = NODE_MODULES / MOCKIN
    env = {
        **os.environ,
        "PORT": "0",
        "IP": "127.0.0.1",
        "ISSUER": issuer,
        "NODE_NO_WARNINGS": "1",
    }
    last_log = ""
    for _attempt in range(3):  # another process may take the port between probe and bind
        port = free_port()
        env["PORT"] = str(port)
        log = log_path.open("wb")
        process = subprocess.Popen(
            [node, str(package_dir / "src" / "server.js")],
            cwd=package_dir,  # its /version endpoint reads ./package.json
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Mockin(issuer=issuer, port=port, process=process, log_path=log_path, _log=log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _listening(port):
                return server
            time.sleep(0.05)
        server.stop()
        last_log = server.log()
        if "EADDRINUSE" not in last_log:
            break
    raise HarnessError(f"mockin did not start listening within {STARTUP_TIMEOUT} s:\n{last_log}")


@contextlib.contextmanager
def running_mockin(node: str, issuer: str, log_path: Path) -> Iterator[Mockin]:
    """:func:`start_mockin`, stopped on exit."""
    server = start_mockin(node, issuer, log_path)
    try:
        yield server
    finally:
        server.stop()
