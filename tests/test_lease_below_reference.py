"""lease_below_reference: a lease let below 80% of its reference (or tender reserve) is yellow,
red when the lessee is linked to a cadre of the lessor; tender and award in either order."""

from __future__ import annotations

import itertools

import pytest

from detectors.base import Event
from detectors.findings import alert_id, to_cloudevent
from detectors.lease_below_reference import LeaseBelowReference
from detectors.registry import Registry
from detectors.testing import drive
from schemas import event_ts, validate

VILLAGE, OTHER = "VC-330110-003", "VC-330110-004"


@pytest.fixture()
def registry() -> Registry:
    reg = Registry()
    reg.apply({"record_type": "person", "person_id": "P-CADRE", "roles": [
        {"role": "village_cadre", "org_id": VILLAGE, "region": "330110", "start": "2020-01-01"}]})
    reg.apply({"record_type": "person", "person_id": "P-BROTHER", "relatives": ["P-CADRE"]})
    reg.apply({"record_type": "person", "person_id": "P-PLAIN"})
    reg.apply({"record_type": "company", "company_id": "C-BROTHER", "legal_rep_id": "P-BROTHER",
               "shareholder_ids": ["P-BROTHER"], "region": "330110"})
    reg.apply({"record_type": "company", "company_id": "C-PLAIN", "legal_rep_id": "P-PLAIN",
               "shareholder_ids": ["P-PLAIN"], "region": "330110"})
    return reg


def record(stage: str, amount: float, *, day: str, event_id: str, project: str = "L-1",
           category: str = "lease", buyer: str = VILLAGE, **extra: object) -> Event:
    rec = {"event_id": event_id, "event_time": f"{day}T10:00:00+08:00", "region": "330110",
           "stage": stage, "project_id": project, "buyer_id": buyer, "category": category,
           "amount": amount, **extra}
    return Event("bids", rec, event_ts(rec), "bids", 0, 0)


def tender(reserve: float = 814000.0, **kw: object) -> Event:
    return record("tender", reserve, day="2026-04-20", event_id="t-1", **kw)


def award(amount: float = 604000.0, lessee: str = "C-PLAIN", **kw: object) -> Event:
    kw.setdefault("event_id", "aw-1")
    return record("award", amount, day="2026-05-14", bidder_id=lessee, **kw)


def run(registry: Registry, events: list[Event]) -> tuple[object, list]:
    """Through the real Runner; returns the (one) project's state and the findings."""
    detector = LeaseBelowReference()
    run = drive(detector, events, registry)
    return run.state(detector.key(events[0]) or ""), run.findings


def test_the_yuhang_car_park_lease_is_yellow(registry: Registry) -> None:
    _, [finding] = run(registry, [tender(), award()])
    assert (finding.severity, finding.route, finding.sector, finding.action) == (
        "yellow", "regulator", "rural_affairs", "review")
    assert finding.subject == "project:L-1" and finding.basis == ("aw-1",)
    assert finding.time == "2026-05-14T10:00:00+08:00"
    evidence = finding.evidence
    assert [r["event_id"] for r in evidence["records"]] == ["aw-1", "t-1"]
    assert evidence["observed"] == "604000.0 yuan = 0.742 of the tender reserve 814000.0 yuan"
    assert evidence["registry_links"] == []
    assert 0.5 < finding.score < 1
    validate("alert", to_cloudevent(finding))


def test_award_before_its_tender_gives_the_same_finding(registry: Registry) -> None:
    _, [first] = run(registry, [tender(), award()])
    state, found = run(registry, [award()])
    assert found == [] and state["wait"]  # waiting for a reference
    _, [late] = run(registry, [award(), tender()])
    assert (alert_id(late), late.time, late.evidence) == (alert_id(first), first.time,
                                                         first.evidence)


def test_reference_price_on_the_award_is_used_without_a_tender(registry: Registry) -> None:
    _, [finding] = run(registry, [award(70000.0, reference_price=100000.0)])
    assert finding.evidence["observed"].endswith("of the reference price 100000.0 yuan")
    assert [r["event_id"] for r in finding.evidence["records"]] == ["aw-1"]


def test_lessee_linked_to_a_cadre_of_the_lessor_is_red(registry: Registry) -> None:
    _, [finding] = run(registry, [tender(), award(lessee="C-BROTHER")])
    assert (finding.severity, finding.route) == ("red", "discipline_inspection")
    [link] = finding.evidence["registry_links"]
    assert link["relative_id"] == "P-CADRE" and link["org_id"] == VILLAGE


@pytest.mark.parametrize("events", [
    [tender(), award(651200.0)],                                 # exactly 80%: not below
    [tender(), award(700000.0, lessee="C-BROTHER")],             # linked, but a fair rent
    [award(85000.0, reference_price=100000.0)],                  # 85% of the previous rent
    [award(60000.0)],                                            # no reference at all (yet)
    [tender(category="works"), award(1000.0, category="works")],  # not a lease
    [tender(project="L-2"), award()],                            # another project's tender
], ids=["exactly-80", "linked-fair", "reference-85", "no-reference", "not-lease",
        "other-project"])
def test_near_misses_stay_silent(registry: Registry, events: list[Event]) -> None:
    detector = LeaseBelowReference()
    findings = []
    states: dict[str, object] = {}
    for event in events:
        key = detector.key(event)
        if key is None:
            continue
        states[key], found = detector.process(event, key, states.get(key), registry)
        findings.extend(found)
    assert findings == []


def test_any_order_of_several_records(registry: Registry) -> None:
    events = [tender(), award(), award(500000.0, event_id="aw-2", lessee="C-BROTHER"),
              award(700000.0, event_id="aw-3")]
    results = set()
    for order in itertools.permutations(events):
        _, findings = run(registry, list(order))
        results.add(tuple(sorted((alert_id(f), f.severity) for f in findings)))
    assert len(results) == 1
    assert sorted(s for _, s in results.pop()) == ["red", "yellow"]


def test_quiet_lease_project_is_forgotten(registry: Registry) -> None:
    detector = LeaseBelowReference()
    state, _ = run(registry, [award()])
    due = detector.due(state)
    assert due >= state["m"] + 365 * 86400
    assert detector.advance("L-1", state, due, registry) == (None, [])
