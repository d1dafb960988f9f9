"""Detectors: pure, deterministic units (event + state in, findings and state out).

``CATALOGUE`` maps each detector's name to its class; the detectors file enables them and sets
their parameters.
"""

from detectors.base import Detector, Event, Finding
from detectors.deceased_recipient import DeceasedRecipient
from detectors.duplicate_subsidy_regions import DuplicateSubsidyRegions
from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee
from detectors.injury_claim_without_attendance import InjuryClaimWithoutAttendance

CATALOGUE: dict[str, type[Detector]] = {
    cls.name: cls for cls in (
        IneligibleSubsidyPayee,
        DeceasedRecipient,
        DuplicateSubsidyRegions,
        InjuryClaimWithoutAttendance,
    )
}

__all__ = ["CATALOGUE", "Detector", "Event", "Finding"]
