"""The evidence builder refuses what the alert schema would refuse, where the finding is made."""

from __future__ import annotations

import fastjsonschema
import pytest

from detectors.base import Event
from detectors.evidence import EvidenceError, evidence, record_ref
from schemas import SCHEMAS

PAYMENT = Event("payments", {"event_id": "p1", "event_time": "2026-05-14T09:30:00+08:00",
                             "amount": 10, "payer_id": "VC1"}, 0.0)
EVIDENCE_SCHEMA = SCHEMAS["alert"]["properties"]["data"]["properties"]["evidence"]


def test_built_evidence_is_valid_against_the_alert_schema() -> None:
    built = evidence(records=[PAYMENT.ref("amount", "absent_field")], observed="10 yuan",
                     threshold="under 5 yuan", registry_links=[{"person_id": "P1"}], z=2.5)
    fastjsonschema.compile(EVIDENCE_SCHEMA)(built)
    assert built == {
        "records": [{"topic": "payments", "event_id": "p1",
                     "event_time": "2026-05-14T09:30:00+08:00", "fields": {"amount": 10}}],
        "registry_links": [{"person_id": "P1"}],
        "observed": "10 yuan", "threshold": "under 5 yuan", "z": 2.5,
    }


def test_registry_links_only_when_given() -> None:
    assert "registry_links" not in evidence(records=[], observed="x", threshold="y")
    assert evidence(records=[], observed="x", threshold="y", registry_links=[])[
        "registry_links"] == []


@pytest.mark.parametrize("observed, threshold", [("", "y"), ("x", ""), (3, "y"), ("x", None)])
def test_observed_and_threshold_must_be_sentences(observed: object, threshold: object) -> None:
    with pytest.raises(EvidenceError, match="observed|threshold"):
        evidence(records=[], observed=observed, threshold=threshold)  # type: ignore[arg-type]


def test_a_required_field_left_out_is_refused() -> None:
    with pytest.raises(TypeError, match="observed"):
        evidence(records=[], threshold="y")  # type: ignore[call-arg]


def test_a_cited_record_needs_topic_and_event_id() -> None:
    with pytest.raises(EvidenceError, match="event_id"):
        record_ref("payments", "", "2026-05-14T09:30:00+08:00", {})
    with pytest.raises(EvidenceError, match="topic"):
        evidence(records=[{"event_id": "p1"}], observed="x", threshold="y")
