"""The engine performs no IO: no IO modules imported, no clock, no RNG (design §2, §3)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE_DIR = Path(__file__).resolve().parents[1] / "aauth"

FORBIDDEN_MODULES = ("socket", "ssl", "asyncio", "trio", "anyio", "httpx", "aiohttp", "select")

#: Imports the engine's source may never contain (clock, RNG, IO, environment).
FORBIDDEN_IMPORTS = frozenset(
    {
        "socket",
        "ssl",
        "asyncio",
        "trio",
        "anyio",
        "httpx",
        "aiohttp",
        "time",
        "random",
        "secrets",
        "datetime",
        "urllib.request",
        "http.client",
        "subprocess",
        "threading",
    }
)
#: Attribute calls that read the clock or the RNG, whatever module they came through.
FORBIDDEN_ATTRIBUTES = frozenset(
    {"urandom", "getrandom", "time_ns", "monotonic", "perf_counter", "now", "utcnow", "today"}
)


def _engine_sources() -> list[Path]:
    sources = sorted(ENGINE_DIR.rglob("*.py"))
    assert sources, f"no engine sources under {ENGINE_DIR}"
    return sources


def test_importing_aauth_pulls_in_no_io_module() -> None:
    code = (
        "import sys, json; before = set(sys.modules); import aauth; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert "aauth" in loaded
    bad = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN_MODULES)
    assert bad == [], f"importing aauth loaded IO modules: {bad}"
    # ES256 support imports cryptography lazily; a plain import must not pay for it.
    assert "cryptography" not in loaded


@pytest.mark.parametrize("path", _engine_sources(), ids=lambda p: p.name)
def test_engine_source_never_imports_clock_rng_or_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offences: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            offences += [a.name for a in node.names if a.name in FORBIDDEN_IMPORTS]
            offences += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module in FORBIDDEN_IMPORTS or node.module.split(".")[0] in FORBIDDEN_IMPORTS:
                offences.append(node.module)
            if node.module == "os":
                offences += [a.name for a in node.names if a.name in FORBIDDEN_ATTRIBUTES]
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            offences.append(ast.unparse(node))
    assert offences == [], f"{path.name} reaches for IO, the clock or the RNG: {offences}"
