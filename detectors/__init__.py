"""Detectors: pure, deterministic units (event + state in, findings and state out).

``CATALOGUE`` maps each detector's name to its class; the detectors file enables them and sets
their parameters.
"""

from detectors.base import Detector, Event, Finding
from detectors.bid_price_screen import BidPriceScreen
from detectors.cadre_linked_award import CadreLinkedAward
from detectors.deceased_recipient import DeceasedRecipient
from detectors.drug_purchase_spike import DrugPurchaseSpike
from detectors.duplicate_subsidy_regions import DuplicateSubsidyRegions
from detectors.escalation import Escalation
from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee
from detectors.injury_claim_without_attendance import InjuryClaimWithoutAttendance
from detectors.key_personnel_absent import KeyPersonnelAbsent
from detectors.lease_below_reference import LeaseBelowReference
from detectors.payer_amount_outlier import PayerAmountOutlier
from detectors.prescriber_concentration import PrescriberConcentration
from detectors.shared_bid_fingerprint import SharedBidFingerprint
from detectors.split_labour_materials import SplitLabourMaterials

CATALOGUE: dict[str, type[Detector]] = {
    cls.name: cls for cls in (
        IneligibleSubsidyPayee,
        DeceasedRecipient,
        DuplicateSubsidyRegions,
        InjuryClaimWithoutAttendance,
        CadreLinkedAward,
        SplitLabourMaterials,
        KeyPersonnelAbsent,
        LeaseBelowReference,
        SharedBidFingerprint,
        BidPriceScreen,
        DrugPurchaseSpike,
        PrescriberConcentration,
        PayerAmountOutlier,
        Escalation,
    )
}

__all__ = ["CATALOGUE", "Detector", "Event", "Finding"]
