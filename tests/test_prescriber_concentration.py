"""prescriber_concentration: after a drug_purchase_spike alert (read back from the alerts feed),
few doctors writing most of the drug -> yellow, red with an integrity record; the same finding
whenever the alert arrives; near misses silent."""

from __future__ import annotations

from datetime import date, timedelta

import orjson
import pytest

from detectors.base import Event
from detectors.drug_purchase_spike import DrugPurchaseSpike
from detectors.findings import alert_id, to_cloudevent
from detectors.prescriber_concentration import PrescriberConcentration
from detectors.registry import Registry
from detectors.runner import Runner
from detectors.testing import drive
from schemas import event_ts, validate
from stream.ingest import ingest

HOSPITAL, DRUG = "H-330784-S0", "XS001"
KEY = f"{HOSPITAL}|{DRUG}"
SPIKE_DAY = date(2026, 5, 4)


@pytest.fixture()
def registry() -> Registry:
    reg = Registry()
    for i in range(10):
        reg.apply({"record_type": "person", "person_id": f"D-{i}", "roles": [
            {"role": "doctor", "org_id": HOSPITAL, "region": "330784", "start": "2015-01-01"}],
            "integrity_flags": ["2023: gifts from a supplier"] if i == 0 else []})
    return reg


def spike_alert(day: date = SPIKE_DAY, alert: str = "spike-1", detector: str =
                "drug_purchase_spike", key: str = KEY) -> Event:
    record = {"specversion": "1.0", "id": alert, "source": "sunlight/sunlight",
              "type": f"org.sunlight.alert.{detector}", "subject": f"hospital_drug:{key}",
              "time": f"{day.isoformat()}T14:00:00+08:00", "datacontenttype": "application/json",
              "data": {"detector": detector, "detector_version": "1.x", "severity": "yellow",
                       "route": "regulator", "sector": "health", "action": "review",
                       "score": 0.7, "summary": "a spike",
                       "evidence": {"records": [], "observed": "o", "threshold": "t"}}}
    result = ingest("alerts", orjson.dumps(record))  # as the stream reads it back
    assert isinstance(result, Event), result
    return result


def rx(event_id: str, doctor: str | None, day: date, minute: int, drug: str = DRUG) -> Event:
    record = {"event_id": event_id, "event_time": f"{day.isoformat()}T{8 + minute // 60:02d}:"
              f"{minute % 60:02d}:00+08:00", "region": "330784", "kind": "prescription",
              "hospital_id": HOSPITAL, "drug_code": drug, "quantity": 2,
              "patient_ref": f"pt-{event_id}"}
    if doctor is not None:
        record["doctor_id"] = doctor
    return Event("prescriptions", record, event_ts(record), "prescriptions", 0, 0)


def written(counts: dict[str, int], day: date, tag: str = "r") -> list[Event]:
    """The doctors' prescriptions, interleaved, one a minute from 08:00."""
    left = dict(counts)
    order = []
    while any(left.values()):  # round robin: D-0, D-1, ..., D-0, D-1, ...
        for doctor in counts:
            if left[doctor]:
                order.append(doctor)
                left[doctor] -= 1
    return [rx(f"{tag}{i}", doctor, day, i) for i, doctor in enumerate(order)]


def tick(day: date) -> Event:
    """A prescription of another drug that carries event time to ``day`` noon."""
    return rx(f"tick-{day}", "D-9", day, 4 * 60, drug="XS999")


def replay(events: list[Event], registry: Registry) -> list:
    return drive(PrescriberConcentration(), events, registry).findings


CONCENTRATED = {"D-0": 10, "D-1": 8, "D-2": 2, "D-3": 1, "D-4": 1}  # 18 of 22 by two doctors
LATER = [tick(SPIKE_DAY + timedelta(days=3))]


def test_concentration_with_a_flagged_doctor_is_red(registry: Registry) -> None:
    day = SPIKE_DAY + timedelta(days=1)
    events = [spike_alert(), *written(CONCENTRATED, day), *LATER]
    [finding] = replay(events, registry)
    assert (finding.severity, finding.route, finding.sector) == ("red", "discipline_inspection",
                                                                 "health")
    assert finding.subject == f"hospital_drug:{KEY}"
    assert finding.time == events[-2].record["event_time"]  # the day's last prescription
    assert finding.basis == (KEY, SPIKE_DAY.isoformat())
    ev = finding.evidence
    assert ev["doctors"] == [["D-0", 10], ["D-1", 8]] and ev["prescriptions"] == 22
    assert ev["registry_links"] == [{"person_id": "D-0",
                                     "integrity_flags": ["2023: gifts from a supplier"]}]
    assert ev["records"][0] == {"topic": "alerts", "event_id": "spike-1",
                                "event_time": "2026-05-04T14:00:00+08:00",
                                "fields": {"detector": "drug_purchase_spike",
                                           "subject": f"hospital_drug:{KEY}"}}
    assert "D-0" in finding.summary and "integrity" in finding.summary
    validate("alert", to_cloudevent(finding))


def test_concentration_without_a_flag_is_yellow_to_the_regulator(registry: Registry) -> None:
    counts = {"D-5": 10, "D-1": 8, "D-2": 2, "D-3": 1, "D-4": 1}
    [finding] = replay([spike_alert(), *written(counts, SPIKE_DAY + timedelta(days=1)),
                        *LATER], registry)
    assert (finding.severity, finding.route) == ("yellow", "regulator")
    assert finding.evidence["registry_links"] == []


def test_one_doctor_over_the_share_is_enough_and_only_those_count(registry: Registry) -> None:
    counts = {"D-1": 15, "D-0": 3, "D-2": 2, "D-3": 2}  # D-1 alone: 68%; D-0 not needed
    [finding] = replay([spike_alert(), *written(counts, SPIKE_DAY + timedelta(days=1)),
                        *LATER], registry)
    assert finding.evidence["doctors"] == [["D-1", 15]] and finding.severity == "yellow"


def test_same_finding_whenever_the_spike_alert_arrives(registry: Registry) -> None:
    day = SPIKE_DAY + timedelta(days=1)
    prescriptions = written(CONCENTRATED, day)
    before = replay([spike_alert(), *prescriptions, *LATER], registry)
    after = replay([*prescriptions, *LATER, spike_alert()], registry)
    middle = replay([*prescriptions[:7], spike_alert(), *prescriptions[7:], *LATER], registry)
    assert len(before) == len(after) == len(middle) == 1
    assert {alert_id(f) for f in before + after + middle} == {alert_id(before[0])}
    assert {f.time for f in before + after + middle} == {before[0].time}


def test_judged_day_by_day_over_the_window(registry: Registry) -> None:
    # 12 the first day (too few), 12 more the next: it becomes true on the second day
    first = written({"D-0": 6, "D-1": 4, "D-2": 2}, SPIKE_DAY + timedelta(days=2), "a")
    second = written({"D-0": 6, "D-1": 4, "D-3": 2}, SPIKE_DAY + timedelta(days=3), "b")
    [finding] = replay([spike_alert(), *first, *second, tick(SPIKE_DAY + timedelta(days=5))],
                       registry)
    assert finding.time == second[-1].record["event_time"]
    assert finding.evidence["prescriptions"] == 24


@pytest.mark.parametrize("case", ["no-spike", "below-20", "spread", "before-spike",
                                  "after-window", "other-detector"])
def test_near_misses_stay_silent(registry: Registry, case: str) -> None:
    day = SPIKE_DAY + timedelta(days=1)
    alert = spike_alert()
    counts = CONCENTRATED
    if case == "no-spike":
        alert = None
    elif case == "below-20":
        counts = {"D-0": 8, "D-1": 6, "D-2": 2, "D-3": 1}  # 17 prescriptions
    elif case == "spread":
        counts = {f"D-{i}": 3 for i in range(8)}  # two doctors write 25%
    elif case == "before-spike":
        day = SPIKE_DAY - timedelta(days=1)
    elif case == "after-window":
        day = SPIKE_DAY + timedelta(days=14)
    else:
        alert = spike_alert(detector="payer_amount_outlier")
    events = ([alert] if alert else []) + written(counts, day) + [
        tick(day + timedelta(days=2))]
    assert replay(events, registry) == []


def test_a_second_spike_in_the_window_is_the_same_finding(registry: Registry) -> None:
    events = [spike_alert(), spike_alert(SPIKE_DAY + timedelta(days=1), "spike-2"),
              *written(CONCENTRATED, SPIKE_DAY + timedelta(days=2)),
              spike_alert(SPIKE_DAY + timedelta(days=3), "spike-3"),
              *written(CONCENTRATED, SPIKE_DAY + timedelta(days=4), "x"),
              tick(SPIKE_DAY + timedelta(days=6))]
    [finding] = replay(events, registry)
    assert finding.basis == (KEY, SPIKE_DAY.isoformat())


def test_routing(registry: Registry) -> None:
    detector = PrescriberConcentration()
    assert detector.key(spike_alert()) == KEY
    assert detector.key(spike_alert(detector="escalation")) is None
    assert detector.key(rx("r", "D-1", SPIKE_DAY, 0)) == KEY
    assert detector.key(rx("r", None, SPIKE_DAY, 0)) is None  # no doctor named
    purchase = rx("p", "D-1", SPIKE_DAY, 0)
    purchase.record["kind"] = "purchase"  # type: ignore[index]
    assert detector.key(purchase) is None


def test_a_late_prescription_for_a_judged_day_is_reported(registry: Registry) -> None:
    runner = Runner({"prescriptions": [PrescriberConcentration()],
                     "alerts": [PrescriberConcentration()]}, {}, registry)
    for event in [spike_alert(), *written({"D-5": 3}, SPIKE_DAY), tick(SPIKE_DAY +
                                                                      timedelta(days=3))]:
        for key in runner.route(event):
            runner.handle(event, key)
            runner.mark_seen(event, key)
    late = rx("late", "D-5", SPIKE_DAY, 300)
    assert runner.handle(late, KEY).late == ["prescriber_concentration"]


def test_state_is_forgotten_by_the_watermark_beyond_retention(registry: Registry) -> None:
    detector = PrescriberConcentration(retention_days=10)
    runner = Runner({"prescriptions": [detector]}, {}, registry)
    for i in range(60):  # two months of prescriptions, no spike
        event = rx(f"r{i}", f"D-{i % 5}", SPIKE_DAY + timedelta(days=i), 0)
        runner.handle(event, KEY)
        runner.commit()
    state = runner.detector_state("prescriber_concentration", KEY)
    assert 10 <= len(state["d"]) <= 12  # the retention and a day's margin, not two months
    assert len(orjson.dumps(state)) < 1000


def test_the_chain_from_a_purchase_spike(registry: Registry) -> None:
    """drug_purchase_spike's own alert, read back through the alerts feed, opens the window."""
    spike = DrugPurchaseSpike()
    runner = Runner({"prescriptions": [spike, PrescriberConcentration()],
                     "alerts": [PrescriberConcentration()]}, {}, registry)
    start = SPIKE_DAY - timedelta(days=30)
    events = []
    for i in range(30):
        record = {"event_id": f"b{i}", "event_time": f"{start + timedelta(days=i)}T10:00:00"
                  "+08:00", "region": "330784", "kind": "purchase", "hospital_id": HOSPITAL,
                  "drug_code": DRUG, "quantity": 300 + 7 * (i % 5)}
        events.append(Event("prescriptions", record, event_ts(record)))
    record = dict(events[-1].record, event_id="spike", quantity=3000,
                  event_time=f"{SPIKE_DAY}T10:00:00+08:00")
    events.append(Event("prescriptions", record, event_ts(record)))
    events += written(CONCENTRATED, SPIKE_DAY + timedelta(days=1))
    events.append(tick(SPIKE_DAY + timedelta(days=3)))
    found = []
    queue = list(events)
    while queue:
        event = queue.pop(0)
        for key in runner.route(event):
            outcome = runner.handle(event, key)
            runner.mark_seen(event, key)
            for finding in outcome.findings:
                found.append(finding)
                alert = ingest("alerts", orjson.dumps(to_cloudevent(finding)))
                queue.insert(0, alert)
    assert [(f.detector, f.severity) for f in found] == [("drug_purchase_spike", "yellow"),
                                                         ("prescriber_concentration", "red")]
