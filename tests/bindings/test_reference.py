"""Every shared resource scenario through the standard-library reference binding
(:mod:`tests.bindings.reference_adapter`), and the reference binding's own fetch paths."""

from __future__ import annotations

import pytest

from tests.bindings.reference_adapter import ReferenceAdapter
from tests.bindings.scenarios import SCENARIOS, Scenario, scenario_id


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario(scenario: Scenario) -> None:
    """The scenario passes through the reference binding."""
    scenario(ReferenceAdapter())
