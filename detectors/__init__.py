"""Detectors: pure, deterministic units (event + state in, findings and state out).

``CATALOGUE`` maps each detector's name to its class; the detectors file enables them and sets
their parameters.
"""

from detectors.base import Detector, Event, Finding
from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee

CATALOGUE: dict[str, type[Detector]] = {
    cls.name: cls for cls in (IneligibleSubsidyPayee,)
}

__all__ = ["CATALOGUE", "Detector", "Event", "Finding"]
