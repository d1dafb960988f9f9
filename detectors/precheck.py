"""The pre-payment check: before money moves, ask the registry checks about one payment.

Pure: the HTTP view on the workers (``stream/worker/precheck.py``) and the tests call it alike. It
runs every enabled :class:`~detectors.base.RegistryCheck` that watches payments (the same objects
the stream runs), so its answer and the stream's alert for the same payment agree.

>>> from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee
>>> from detectors.registry import Registry
>>> reg = Registry()
>>> reg.apply({"record_type": "person", "person_id": "P-LUO", "roles": [{"role":
...     "village_cadre", "org_id": "VC-1", "region": "330784", "start": "2021-01-01"}]})
>>> pay = {"event_id": "pay-1", "event_time": "2026-05-14T09:30:00+08:00", "region": "330784",
...     "status": "requested", "payer_id": "VC-1", "payee_id": "P-LUO", "payee_kind": "person",
...     "purpose": "work_subsidy", "amount": 1200}
>>> decision, findings = precheck(pay, 0.0, reg, [IneligibleSubsidyPayee()])
>>> decision, [f.detector for f in findings]
('hold', ['ineligible_subsidy_payee'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from detectors.base import HOLD, Detector, Event, Finding, RegistryCheck
from detectors.registry import Registry

ALLOW = "allow"


def payment_checks(detectors: Iterable[Detector]) -> list[RegistryCheck]:
    return [d for d in detectors if isinstance(d, RegistryCheck) and "payments" in d.feeds]


def precheck(record: Mapping[str, Any], ts: float, registry: Registry,
             checks: Iterable[RegistryCheck]) -> tuple[str, list[Finding]]:
    """``hold`` when any check finds the payment must not be made; else ``allow``."""
    event = Event("payments", record, ts, "payments")
    findings = [finding for check in checks for finding in check.check(event, registry)]
    decision = HOLD if any(f.action == HOLD for f in findings) else ALLOW
    return decision, findings
