"""Scenarios of the simulator, by name: each detector's cases and near misses.

Adding a detector's scenarios: a module here with a ``SCENARIOS`` list, imported below."""

from stream.simulator.scenarios import health, payments, procurement
from stream.simulator.scenarios.base import Emit, Scenario

#: The scenario modules, in order (`sunlight new-detector` adds one).
MODULES = (
    payments,
    procurement,
    health,
)
SCENARIOS: dict[str, Scenario] = {s.name: s for module in MODULES for s in module.SCENARIOS}

__all__ = ["SCENARIOS", "Emit", "Scenario"]
