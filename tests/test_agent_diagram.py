"""docs/agent-states.md is generated from the transition table and must stay in step with it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from aauth.agent import TRANSITIONS, FlowState

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gen_agent_diagram.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_agent_diagram", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_diagram_equals_the_generators_output() -> None:
    committed = (ROOT / "docs" / "agent-states.md").read_text(encoding="utf-8")
    assert committed == _generator().render(), "run: python scripts/gen_agent_diagram.py"


def test_every_transition_is_an_arrow_and_a_table_row() -> None:
    text = _generator().render()
    for (state, event), transition in TRANSITIONS.items():
        for target in transition.targets:
            arrow = f"    {state.name} --> {target.name}: "
            line = next(line for line in text.splitlines() if line.startswith(arrow))
            assert event.__name__ in line
        assert f"| {state.name} | {event.__name__} | `{transition.handler}` |" in text
    for state in FlowState:
        assert f"- `{state.name}`: " in text and f"- `{state.name}`: \n" not in text


def test_check_mode_reports_a_stale_file_and_writing_fixes_it(tmp_path: Path) -> None:
    generator = _generator()
    output = tmp_path / "agent-states.md"
    assert generator.main(["--check"], output) == 1  # missing
    output.write_text("stale", encoding="utf-8")
    assert generator.main(["--check"], output) == 1
    assert generator.main([], output) == 0
    assert generator.main(["--check"], output) == 0


def test_the_committed_file_passes_the_command_line_check() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
