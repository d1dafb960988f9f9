"""deceased_recipient: subsidies to the dead fire; a death after the payment stays silent."""

from __future__ import annotations

import pytest

from detectors.deceased_recipient import DeceasedRecipient
from detectors.registry import Registry
from tests.records import payment_event


@pytest.fixture()
def registry() -> Registry:
    reg = Registry()
    reg.apply({"record_type": "person", "person_id": "P-DEAD", "deceased_on": "2025-11-02"})
    reg.apply({"record_type": "person", "person_id": "P-LATER", "deceased_on": "2026-08-01"})
    reg.apply({"record_type": "person", "person_id": "P-SAMEDAY", "deceased_on": "2026-05-14"})
    reg.apply({"record_type": "person", "person_id": "P-ALIVE"})
    return reg


def test_welfare_subsidy_to_the_dead_fires(registry: Registry) -> None:
    [finding] = DeceasedRecipient().check(payment_event("w1", "P-DEAD"), registry)
    assert (finding.severity, finding.route, finding.sector, finding.action) == (
        "yellow", "regulator", "civil_affairs", "review")
    assert finding.subject == "person:P-DEAD"
    assert finding.evidence["registry_links"] == [{"person_id": "P-DEAD",
                                                   "deceased_on": "2025-11-02"}]
    assert finding.evidence["records"][0]["event_id"] == "w1"


def test_requested_payment_to_the_dead_is_held(registry: Registry) -> None:
    [finding] = DeceasedRecipient().check(
        payment_event("w1", "P-DEAD", status="requested"), registry)
    assert finding.action == "hold"


@pytest.mark.parametrize("payee, purpose", [
    ("P-LATER", "welfare_subsidy"),      # died after the payment
    ("P-SAMEDAY", "welfare_subsidy"),    # died on the payment date: the payment was due
    ("P-ALIVE", "welfare_subsidy"),
    ("P-UNKNOWN", "welfare_subsidy"),
    ("P-DEAD", "wages"),                 # not a subsidy this detector watches
])
def test_near_misses_stay_silent(registry: Registry, payee: str, purpose: str) -> None:
    assert DeceasedRecipient().check(payment_event("w1", payee, purpose=purpose), registry) == []
