"""Smoke test of ``benchmarks/bench_resource.py``: a tiny run completes, every operation's
result checks out (the benchmark asserts it), and each row prints its median and both
ratios. Not a performance test: no figure is compared with a target."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_resource.py"
ROWS = (
    "raw verify",
    "verify_request",
    "check agent",
    "receive agent",
    "asgi agent",
    "aiohttp agent",
    "check auth",
    "receive auth",
    "asgi auth",
    "aiohttp auth",
)
ROW = re.compile(r"^\s*(.+?)\s+(\d+\.\d)\s+(\d+\.\d\d)x\s+(\d+\.\d\d)x$")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_resource", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_bench_resource_prints_every_row_with_its_ratios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = _load()
    assert bench.main(["--rounds", "1", "--number", "2"]) == 0
    rows: dict[str, tuple[float, float, float]] = {}
    for line in capsys.readouterr().out.splitlines():
        match = ROW.match(line)
        if match:
            name, micros, raw, verify = match.groups()
            rows[name] = (float(micros), float(raw), float(verify))
    assert tuple(rows) == ROWS
    assert all(micros > 0 for micros, _, _ in rows.values())
    assert rows["raw verify"][1] == 1.0
    assert rows["verify_request"][2] == 1.0
    for micros, raw, verify in rows.values():  # the ratios are the medians' quotients
        assert raw == pytest.approx(micros / rows["raw verify"][0], abs=0.02)
        assert verify == pytest.approx(micros / rows["verify_request"][0], abs=0.02)
