"""split_labour_materials: materials for a labour-only project bought from a company behind the
cadre or the winner, whichever record arrives first; near misses stay silent."""

from __future__ import annotations

import itertools

import orjson
import pytest

from detectors.base import Event
from detectors.findings import alert_id, to_cloudevent
from detectors.registry import Registry
from detectors.runner import Runner
from detectors.split_labour_materials import SplitLabourMaterials
from schemas import event_ts, validate

VILLAGE, OTHER = "VC-330784-001", "VC-330784-002"
PROJECT = "PRJ-330784-SP1"


@pytest.fixture()
def registry() -> Registry:
    reg = Registry()
    for pid, roles, relatives in (
        ("P-CADRE", [{"role": "village_cadre", "org_id": VILLAGE, "region": "330784",
                      "start": "2021-01-01"}], []),
        ("P-FORMER", [{"role": "village_cadre", "org_id": VILLAGE, "region": "330784",
                       "start": "2015-01-01", "end": "2025-12-31"}], []),
        ("P-WIFE", [], ["P-CADRE"]),
        ("P-OWNER", [], []),
        ("P-PLAIN", [], []),
    ):
        reg.apply({"record_type": "person", "person_id": pid, "roles": roles,
                   "relatives": relatives})
    for cid, rep, holders in (
        ("C-WIN", "P-OWNER", ["P-OWNER"]),
        ("C-SISTER", "P-PLAIN", ["P-OWNER"]),     # shares its shareholder with the winner
        ("C-WIFE", "P-WIFE", ["P-WIFE"]),          # run by a cadre's wife
        ("C-FORMER", "P-FORMER", ["P-FORMER"]),
        ("C-PLAIN", "P-PLAIN", ["P-PLAIN"]),
    ):
        reg.apply({"record_type": "company", "company_id": cid, "legal_rep_id": rep,
                   "shareholder_ids": holders, "region": "330784"})
    return reg


def award(*, category: str = "labour_only", bidder: str = "C-WIN", day: str = "2026-05-04",
          event_id: str = "aw-labour", buyer: str = VILLAGE) -> Event:
    record = {"event_id": event_id, "event_time": f"{day}T10:00:00+08:00", "region": "330784",
              "stage": "award", "project_id": PROJECT, "buyer_id": buyer,
              "category": category, "amount": 90000.0, "bidder_id": bidder}
    return Event("bids", record, event_ts(record), "bids", 0, 1)


def payment(payee: str, *, day: str = "2026-05-20", event_id: str = "pay-m1",
            payer: str = VILLAGE, status: str = "executed", purpose: str = "materials",
            kind: str = "company", project: str | None = PROJECT) -> Event:
    record = {"event_id": event_id, "event_time": f"{day}T15:00:00+08:00", "region": "330784",
              "status": status, "payer_id": payer, "payee_id": payee, "payee_kind": kind,
              "purpose": purpose, "amount": 250000.0}
    if project:
        record["project_id"] = project
    return Event("payments", record, event_ts(record), "payments", 0, 2)


def run(registry: Registry, events: list[Event],
        detector: SplitLabourMaterials | None = None) -> tuple[object, list]:
    detector = detector or SplitLabourMaterials()
    state, findings = None, []
    for event in events:
        key = detector.key(event)
        if key is None:
            continue
        assert not detector.is_late(event, key, state)
        state, found = detector.process(event, key, state, registry)
        findings.extend(found)
        orjson.dumps(state)  # always JSON-serialisable
    return state, findings


def test_materials_from_the_winners_sister_company_is_red(registry: Registry) -> None:
    _, [finding] = run(registry, [award(), payment("C-SISTER")])
    assert (finding.severity, finding.route, finding.action) == ("red", "discipline_inspection",
                                                                 "review")
    assert finding.subject == f"project:{PROJECT}"
    assert finding.time == "2026-05-20T15:00:00+08:00"
    assert finding.basis == ("aw-labour", "pay-m1")
    evidence = finding.evidence
    assert [r["event_id"] for r in evidence["records"]] == ["aw-labour", "pay-m1"]
    assert evidence["records"][0]["fields"]["category"] == "labour_only"
    assert evidence["records"][1]["fields"]["payee_id"] == "C-SISTER"
    [shared] = evidence["registry_links"]
    assert (shared["person_id"], shared["company_id"], shared["other_company_id"]) == (
        "P-OWNER", "C-SISTER", "C-WIN")
    assert evidence["days_after_award"] == pytest.approx(16.208, abs=0.001)
    validate("alert", to_cloudevent(finding))


def test_materials_from_a_company_run_by_a_cadres_relative_is_red(registry: Registry) -> None:
    _, [finding] = run(registry, [award(), payment("C-WIFE")])
    [link] = finding.evidence["registry_links"]
    assert link["path"] == ("company C-WIFE -> legal_rep+shareholder P-WIFE -> relative "
                            f"P-CADRE (declared by P-WIFE) -> village_cadre of {VILLAGE} "
                            "(2021-01-01..)")


def test_a_materials_award_counts_like_a_payment(registry: Registry) -> None:
    materials = award(category="materials", bidder="C-SISTER", day="2026-06-01",
                      event_id="aw-mat")
    _, [finding] = run(registry, [award(), materials])
    assert finding.basis == ("aw-labour", "aw-mat")
    assert finding.time == "2026-06-01T10:00:00+08:00"


def test_same_findings_in_every_arrival_order(registry: Registry) -> None:
    events = [award(), payment("C-SISTER"), payment("C-WIFE", event_id="pay-m2"),
              payment("C-PLAIN", event_id="pay-m3"),
              award(category="materials", bidder="C-SISTER", day="2026-06-01",
                    event_id="aw-mat")]
    expected = None
    for order in itertools.permutations(events):
        _, findings = run(registry, list(order))
        got = sorted((alert_id(f), f.time, orjson.dumps(f.evidence)) for f in findings)
        if expected is None:
            expected = got
        assert got == expected
    assert expected is not None and len(expected) == 3


@pytest.mark.parametrize("events", [
    [award(), payment("C-PLAIN")],                             # an unlinked supplier
    [award(), payment("C-SISTER", payer=OTHER)],               # bought by another body
    [award(), payment("C-WIN")],                               # from the winner itself
    [award(), payment("C-SISTER", day="2026-08-03")],          # 91 days later
    [award(), payment("C-SISTER", day="2026-05-01")],          # before the award
    [award(), payment("C-FORMER")],                            # linked to a former cadre
    [award(), payment("C-SISTER", status="requested")],        # not (yet) executed
    [award(), payment("C-SISTER", purpose="services")],        # not materials
    [award(), payment("C-SISTER", project=None)],              # no project on the payment
    [award(), payment("C-SISTER", kind="person")],             # paid to a person
    [award(category="works"), payment("C-SISTER")],            # not a labour-only award
    [award(buyer=OTHER), payment("C-WIFE", payer=OTHER)],      # the wife's cadre is not OTHER's
], ids=["unlinked", "other-payer", "winner-itself", "after-window", "before-award",
        "former-cadre", "requested", "not-materials", "no-project", "person-payee",
        "works-award", "other-body"])
def test_near_misses_stay_silent(registry: Registry, events: list[Event]) -> None:
    assert run(registry, events)[1] == []


def test_window_edge_is_inclusive(registry: Registry) -> None:
    _, findings = run(registry, [award(), payment("C-SISTER", day="2026-08-02")])
    assert findings == []  # 90 days + 5 hours
    _, findings = run(registry, [award(), payment("C-SISTER", day="2026-08-01")])
    assert len(findings) == 1


def runner_with(detector: SplitLabourMaterials, registry: Registry) -> Runner:
    return Runner({"bids": [detector], "payments": [detector]}, {}, registry)


def test_records_beyond_retention_behind_the_watermark_are_late_and_state_expires(
        registry: Registry) -> None:
    detector = SplitLabourMaterials()
    runner = runner_with(detector, registry)
    runner.handle(payment("C-SISTER", day="2026-10-01"), PROJECT)
    runner.commit()
    # 150 days behind the watermark (retention: 90 + 30): its partners may be gone.
    assert runner.handle(award(), PROJECT).late == [detector.name]
    assert runner.handle(payment("C-PLAIN", day="2026-07-01"), PROJECT).late == []
    runner.commit()
    quiet = runner.tick({"merged": runner.watermark + 200 * 86400}, 0)
    runner.commit()
    assert quiet.findings == [] and runner.detector_state(detector.name, PROJECT) is None


def test_duplicates_and_forgetting_keep_state_small(registry: Registry) -> None:
    detector = SplitLabourMaterials()
    state, findings = run(registry, [award(), payment("C-SISTER"), payment("C-SISTER")],
                          detector)
    assert len(findings) == 1 and len(state["mat"]) == 1
    runner = runner_with(detector, registry)
    for event in (award(), payment("C-SISTER"),
                  payment("C-PLAIN", day="2026-12-01", event_id="pay-late")):
        runner.handle(event, PROJECT)
        runner.commit()
    state = runner.detector_state(detector.name, PROJECT)
    assert state["labour"] == [] and [m["id"] for m in state["mat"]] == ["pay-late"]
