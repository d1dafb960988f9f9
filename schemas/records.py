"""Typed records: the contract's record types as TypedDicts.

A decoded record IS the dict ``decode``/``validate`` returned (unknown extra fields stay in it);
these types only tell the type checker which contract fields it has. Optional scalar fields may
be absent or null (both mean "absent"): read them with ``rec.get(name)`` and test ``is None``.
Optional arrays (``key_personnel``, registry ``roles``, ``relatives``, ``integrity_flags``,
``shareholder_ids``) are absent or an array, never null: ``rec.get(name, ())``.
Times are RFC 3339 strings with an offset (``schemas.parse_time``/``event_ts`` parse them),
dates ``YYYY-MM-DD`` strings, money and quantities numbers (int or float) in yuan / units.
"""

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "Action",
    "Alert",
    "AlertData",
    "Attendance",
    "AttendanceKind",
    "Bid",
    "BidCategory",
    "BidStage",
    "DeadLetter",
    "Disposition",
    "Event",
    "InputRecord",
    "KeyPersonnel",
    "PayeeKind",
    "Payment",
    "PaymentPurpose",
    "PaymentStatus",
    "Prescription",
    "PrescriptionKind",
    "RegistryCompany",
    "RegistryPerson",
    "RegistryRecord",
    "Role",
    "Severity",
    "Verdict",
]

BidStage = Literal["tender", "bid", "award"]
BidCategory = Literal["works", "goods", "services", "labour_only", "materials", "lease"]
AttendanceKind = Literal["check_in", "check_out"]
PrescriptionKind = Literal["purchase", "prescription"]
PaymentStatus = Literal["requested", "executed"]
PayeeKind = Literal["person", "company"]
PaymentPurpose = Literal[
    "work_subsidy",
    "welfare_subsidy",
    "injury_insurance",
    "materials",
    "services",
    "wages",
    "lease_rent",
    "other",
]
Severity = Literal["red", "yellow"]
Action = Literal["hold", "review"]
Verdict = Literal["confirmed", "dismissed"]


class Event(TypedDict):
    """Fields every event has."""

    event_id: str  # unique within its topic; a repeat is an upstream retry
    event_time: str  # RFC 3339 with offset: when it happened
    region: str  # administrative division code, e.g. "330784"


class KeyPersonnel(TypedDict):
    person_id: str
    role: str
    required_onsite_ratio: float  # 0..1 of working days on site


class Bid(Event):
    """``bids``: a tender, a bid or an award."""

    stage: BidStage
    project_id: str
    buyer_id: str
    category: BidCategory
    amount: float  # tender: estimate / lease reserve rent; bid: offer; award: contract value
    bidder_id: NotRequired[str]  # present for stage bid and award
    reference_price: NotRequired[float | None]
    fingerprint: NotRequired[str | None]
    key_personnel: NotRequired[list[KeyPersonnel]]  # award only; absent means none


class Attendance(Event):
    """``attendance``: a real-name check-in or check-out on a site."""

    kind: AttendanceKind
    project_id: str
    site_id: str
    person_id: str
    company_id: str


class Prescription(Event):
    """``prescriptions``: a hospital's drug purchase or a doctor's prescription."""

    kind: PrescriptionKind
    hospital_id: str
    drug_code: str
    quantity: float
    unit_price: NotRequired[float | None]
    supplier_id: NotRequired[str]  # present for kind purchase
    doctor_id: NotRequired[str]  # present for kind prescription
    patient_ref: NotRequired[str]  # present for kind prescription (pseudonymous)


class Payment(Event):
    """``payments``: a public payment, requested or executed."""

    status: PaymentStatus
    payer_id: str
    payee_id: str
    payee_kind: PayeeKind
    purpose: PaymentPurpose
    amount: float
    project_id: NotRequired[str | None]


class Role(TypedDict):
    """An office held by a registry person; ``end`` absent or null: still in office."""

    role: str  # e.g. "village_cadre", "public_official", "doctor"
    org_id: str  # the body the office is held in (a buyer_id / payer_id)
    region: str
    start: str  # YYYY-MM-DD
    end: NotRequired[str | None]  # YYYY-MM-DD


class RegistryPerson(TypedDict):
    """``registry`` reference record of a person (no event_time)."""

    record_type: Literal["person"]
    person_id: str
    name: NotRequired[str | None]
    roles: NotRequired[list[Role]]
    relatives: NotRequired[list[str]]  # person_ids
    deceased_on: NotRequired[str | None]  # YYYY-MM-DD
    integrity_flags: NotRequired[list[str]]


class RegistryCompany(TypedDict):
    """``registry`` reference record of a company (no event_time)."""

    record_type: Literal["company"]
    company_id: str
    name: NotRequired[str | None]
    legal_rep_id: str  # a person_id
    shareholder_ids: NotRequired[list[str]]  # person_ids
    region: str


class AlertData(TypedDict):
    detector: str
    detector_version: str
    severity: Severity  # red: discipline inspectors; yellow: the sector's regulator
    route: str
    sector: str
    action: Action  # hold: a requested payment must not be made
    score: float  # 0..1
    summary: str
    evidence: dict[str, Any]  # input records (topic, event_id, fields), threshold, observed


class Alert(TypedDict):
    """``alerts``: a CloudEvents 1.0 structured-mode event, keyed by ``subject``."""

    specversion: Literal["1.0"]
    id: str  # deterministic per finding
    source: str
    type: str
    subject: str  # e.g. "person:P123", "project:X9"
    time: str  # RFC 3339 with offset: when the finding became true (event time)
    datacontenttype: NotRequired[str]
    dataschema: NotRequired[str]  # URI of the schema ``data`` follows
    data: AlertData


class Disposition(TypedDict):
    """``alert-dispositions``: the verification result for an alert."""

    alert_id: str
    verdict: Verdict
    decided_by: str
    decided_at: str  # RFC 3339 with offset
    note: NotRequired[str | None]


class DeadLetter(TypedDict):
    """``dead-letters``: a rejected input record with its origin and the reason."""

    topic: str
    partition: int
    offset: int
    key_b64: str | None  # original key bytes, base64; None for no key
    value_b64: str | None  # original value bytes, base64; None for a null value
    reason: str  # a sentence naming the field
    reason_code: str  # RecordError.code or another short code (a metric label)
    received_at: str  # RFC 3339 with offset
    error_detail: NotRequired[str | None]
    # An original too big for the letter: its first bytes in *_b64, its length and hash here.
    value_truncated: NotRequired[bool]
    value_bytes: NotRequired[int]
    value_sha256: NotRequired[str]
    key_truncated: NotRequired[bool]
    key_bytes: NotRequired[int]
    key_sha256: NotRequired[str]
    value_dropped: NotRequired[bool]  # Kafka refused the letter with the bytes: sent without


RegistryRecord = RegistryPerson | RegistryCompany
InputRecord = (
    Bid | Attendance | Prescription | Payment | RegistryPerson | RegistryCompany | Disposition
)
