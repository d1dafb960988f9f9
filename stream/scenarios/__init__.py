"""Scenarios of the simulator, by name: each detector's cases and near misses.

Adding a detector's scenarios: a module here with a ``SCENARIOS`` list, imported below."""

from stream.scenarios import health, payments, procurement
from stream.scenarios.base import Emit, Scenario

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (*payments.SCENARIOS, *procurement.SCENARIOS, *health.SCENARIOS)
}

__all__ = ["SCENARIOS", "Emit", "Scenario"]
