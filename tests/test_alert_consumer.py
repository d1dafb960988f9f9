"""The alert consumer client's pure parts: reading and validating an alert, filters, the
bounded memory of seen ids (its broker behaviour: tests/integration/test_alert_consumer.py)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from alert_consumer import AlertFilter, SeenIds, read_alert
from detectors.base import Finding
from detectors.findings import to_cloudevent
from schemas import RecordError


def alert(severity: str = "red", region: str = "330784", subject: str = "person:P-1",
          detector: str = "ineligible_subsidy_payee", route: str = "discipline",
          basis: str = "pay-1") -> dict:
    return to_cloudevent(Finding(
        detector=detector, detector_version="1.0", subject=subject, severity=severity,
        route=route, sector="public_payments", action="review", score=0.9,
        summary=f"finding on {subject}", time="2026-05-14T09:30:00+08:00", basis=(basis,),
        evidence={"records": [{"topic": "payments", "event_id": basis,
                               "fields": {"region": region}}],
                  "observed": "x", "threshold": "y"}))


def test_read_alert_flattens_the_cloudevent() -> None:
    event = alert("yellow", "330110", route="regulator")
    read = read_alert(orjson.dumps(event), "alerts", 2, 17)
    assert (read.id, read.severity, read.region, read.route, read.subject) == (
        event["id"], "yellow", "330110", "regulator", "person:P-1")
    assert (read.topic, read.partition, read.offset) == ("alerts", 2, 17)
    assert read.event == event and read.evidence == event["data"]["evidence"]


@pytest.mark.parametrize("raw, field", [
    (b"{not json", None),
    (orjson.dumps({**alert(), "id": 5}), "id"),
    (orjson.dumps({**alert(), "data": {**alert()["data"], "severity": "blue"}}), "severity"),
])
def test_what_is_not_an_alert_is_refused_with_the_field(raw: bytes, field: str | None) -> None:
    with pytest.raises(RecordError) as err:
        read_alert(raw)
    if field:
        assert field in err.value.reason


def test_filters_keep_only_what_every_condition_allows() -> None:
    red = read_alert(orjson.dumps(alert("red", "330784", "project:X9")))
    yellow = read_alert(orjson.dumps(alert("yellow", "330110", route="regulator")))
    assert AlertFilter().matches(red) and AlertFilter().matches(yellow)
    assert [AlertFilter(severities={"red"}).matches(a) for a in (red, yellow)] == [True, False]
    assert [AlertFilter(regions={"330110"}).matches(a) for a in (red, yellow)] == [False, True]
    assert [AlertFilter(routes={"regulator"}).matches(a) for a in (red, yellow)] == [False, True]
    assert [AlertFilter(subject_contains="X9").matches(a) for a in (red, yellow)] == [True, False]
    assert not AlertFilter(detectors={"escalation"}).matches(red)
    assert not AlertFilter(severities={"red"}, regions={"330110"}).matches(red)


def test_seen_ids_are_bounded_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "seen"
    seen = SeenIds(capacity=3, path=path)
    for i in range(10):
        seen.add(f"id-{i}")
    assert len(seen) == 3 and "id-9" in seen and "id-6" not in seen
    assert len(path.read_text().split()) <= 6  # rewritten at twice the capacity
    again = SeenIds(capacity=3, path=path)
    assert [f"id-{i}" in again for i in (6, 7, 8, 9)] == [False, True, True, True]
