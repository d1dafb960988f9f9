"""ineligible_subsidy_payee: the case fires with colour and evidence; near misses stay silent."""

from __future__ import annotations

import pytest

from detectors.base import Event
from detectors.findings import alert_id, to_cloudevent
from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee
from detectors.registry import Registry
from schemas import validate

VILLAGE, OTHER = "VC-330784-001", "VC-330784-002"
KEY = "payee"  # stateless: the key is not used


@pytest.fixture()
def registry() -> Registry:
    reg = Registry()
    reg.apply({"record_type": "person", "person_id": "P-LUO", "roles": [
        {"role": "village_cadre", "org_id": VILLAGE, "region": "330784", "start": "2021-01-01"}]})
    reg.apply({"record_type": "person", "person_id": "P-FORMER", "roles": [
        {"role": "village_cadre", "org_id": VILLAGE, "region": "330784", "start": "2015-01-01",
         "end": "2025-12-31"}]})
    reg.apply({"record_type": "person", "person_id": "P-OFFICIAL", "roles": [
        {"role": "public_official", "org_id": VILLAGE, "region": "330784",
         "start": "2024-01-01"}]})
    reg.apply({"record_type": "person", "person_id": "P-VILLAGER", "roles": []})
    return reg


def payment(payee: str, *, payer: str = VILLAGE, purpose: str = "work_subsidy",
            status: str = "requested", day: str = "2026-05-14", event_id: str = "pay-1") -> Event:
    record = {"event_id": event_id, "event_time": f"{day}T09:30:00+08:00", "region": "330784",
              "status": status, "payer_id": payer, "payee_id": payee, "payee_kind": "person",
              "purpose": purpose, "amount": 1200.0}
    return Event("payments", record, 0.0, "payments", 0, 7)


def test_requested_work_subsidy_to_cadre_is_held(registry: Registry) -> None:
    state, findings = IneligibleSubsidyPayee().process(payment("P-LUO"), KEY, None, registry)
    assert state is None
    [finding] = findings
    assert (finding.severity, finding.action, finding.route) == ("red", "hold",
                                                                "discipline_inspection")
    assert finding.subject == "person:P-LUO"
    evidence = finding.evidence
    assert evidence["records"][0]["event_id"] == "pay-1"
    assert evidence["records"][0]["fields"]["payer_id"] == VILLAGE
    assert evidence["registry_links"] == [{"person_id": "P-LUO", "role": "village_cadre",
                                           "org_id": VILLAGE, "start": "2021-01-01",
                                           "end": None}]
    assert "village_cadre" in evidence["observed"]
    assert "P-LUO" in finding.summary and VILLAGE in finding.summary


def test_executed_payment_to_official_is_reviewed(registry: Registry) -> None:
    _, [finding] = IneligibleSubsidyPayee().process(
        payment("P-OFFICIAL", status="executed"), KEY, None, registry)
    assert (finding.severity, finding.action) == ("red", "review")


@pytest.mark.parametrize("event", [
    payment("P-FORMER"),                              # office ended before the payment
    payment("P-LUO", purpose="welfare_subsidy"),      # not a work subsidy
    payment("P-LUO", payer=OTHER),                    # a cadre, but of another body
    payment("P-VILLAGER"),                            # an ordinary villager
    payment("P-UNKNOWN"),                             # not in the registry at all
    payment("P-OFFICIAL", day="2023-06-01"),          # before the office began
], ids=["former-cadre", "welfare", "other-body", "villager", "unknown", "before-office"])
def test_near_misses_stay_silent(registry: Registry, event: Event) -> None:
    assert IneligibleSubsidyPayee().process(event, KEY, None, registry) == (None, [])


def test_office_ending_on_the_payment_day_still_counts(registry: Registry) -> None:
    _, findings = IneligibleSubsidyPayee().process(payment("P-FORMER", day="2025-12-31"), KEY, None,
                                                    registry)
    assert len(findings) == 1


def test_parameters_change_behaviour_and_version(registry: Registry) -> None:
    wider = IneligibleSubsidyPayee(purposes=["work_subsidy", "welfare_subsidy"])
    assert wider.version != IneligibleSubsidyPayee().version
    _, findings = wider.process(payment("P-LUO", purpose="welfare_subsidy"), KEY, None, registry)
    assert len(findings) == 1


def test_alert_is_a_valid_cloudevent_with_a_deterministic_id(registry: Registry) -> None:
    detector = IneligibleSubsidyPayee()
    _, [first] = detector.process(payment("P-LUO"), KEY, None, registry)
    _, [again] = IneligibleSubsidyPayee().process(payment("P-LUO"), KEY, None, registry)
    _, [other] = detector.process(payment("P-LUO", event_id="pay-2"), KEY, None, registry)
    assert alert_id(first) == alert_id(again) != alert_id(other)
    alert = to_cloudevent(first)
    validate("alert", alert)
    assert alert["specversion"] == "1.0"
    assert alert["type"].endswith("ineligible_subsidy_payee")
    assert alert["data"]["detector_version"] == detector.version
    assert alert["time"] == "2026-05-14T09:30:00+08:00"
