"""cadre_linked_award: red on an award (yellow on a bid) to a company a cadre of the buyer stands
behind, directly or through a relative; near misses stay silent."""

from __future__ import annotations

import random

import pytest

from detectors.base import Event
from detectors.cadre_linked_award import CadreLinkedAward
from detectors.findings import alert_id, to_cloudevent
from detectors.registry import Registry
from detectors.testing import drive
from schemas import event_ts, validate

VILLAGE, OTHER = "VC-330784-001", "VC-330784-002"


def person(pid: str, *roles: tuple[str, str, str, str | None],
           relatives: tuple[str, ...] = ()) -> dict:
    return {"record_type": "person", "person_id": pid, "relatives": list(relatives),
            "roles": [{"role": r, "org_id": org, "region": "330784", "start": start,
                       **({"end": end} if end else {})} for r, org, start, end in roles]}


def company(cid: str, rep: str, *shareholders: str) -> dict:
    return {"record_type": "company", "company_id": cid, "legal_rep_id": rep,
            "shareholder_ids": list(shareholders), "region": "330784"}


@pytest.fixture()
def registry() -> Registry:
    reg = Registry()
    for record in (
        person("P-CADRE", ("village_cadre", VILLAGE, "2021-01-01", None)),
        person("P-OFFICIAL", ("public_official", VILLAGE, "2024-01-01", None)),
        person("P-FORMER", ("village_cadre", VILLAGE, "2015-01-01", "2025-12-31")),
        person("P-OTHERCADRE", ("village_cadre", OTHER, "2020-01-01", None)),
        person("P-SON", relatives=("P-CADRE",)),
        person("P-NEPHEW", relatives=("P-OTHERCADRE",)),
        person("P-FRONT"),
        person("P-PLAIN"),
        company("C-CADRE", "P-CADRE", "P-CADRE"),
        company("C-SHARE", "P-FRONT", "P-FRONT", "P-OFFICIAL"),
        company("C-SON", "P-SON"),
        company("C-FORMER", "P-FORMER", "P-FORMER"),
        company("C-OTHER", "P-OTHERCADRE"),
        company("C-NEPHEW", "P-NEPHEW", "P-NEPHEW"),
        company("C-PLAIN", "P-PLAIN", "P-PLAIN"),
    ):
        reg.apply(record)
    return reg


def bid(bidder: str, *, stage: str = "award", buyer: str = VILLAGE, day: str = "2026-05-14",
        event_id: str = "aw-1", project: str = "PRJ-1") -> Event:
    record = {"event_id": event_id, "event_time": f"{day}T10:00:00+08:00", "region": "330784",
              "stage": stage, "project_id": project, "buyer_id": buyer, "category": "works",
              "amount": 380000.0, "bidder_id": bidder}
    return Event("bids", record, event_ts(record), "bids", 0, 1)


def run(registry: Registry, event: Event) -> list:
    run = drive(CadreLinkedAward(), [event], registry)
    assert run.states() == {}  # stateless
    return run.findings


def test_award_to_a_cadre_run_company_is_red_with_the_link_path(registry: Registry) -> None:
    [finding] = run(registry, bid("C-CADRE"))
    assert (finding.severity, finding.route, finding.action) == ("red", "discipline_inspection",
                                                                 "review")
    assert finding.subject == "project:PRJ-1"
    assert finding.time == "2026-05-14T10:00:00+08:00" and finding.basis == ("aw-1",)
    evidence = finding.evidence
    assert evidence["records"][0]["event_id"] == "aw-1"
    assert evidence["records"][0]["fields"]["bidder_id"] == "C-CADRE"
    [link] = evidence["registry_links"]
    assert link["path"] == ("company C-CADRE -> legal_rep+shareholder P-CADRE -> village_cadre "
                            f"of {VILLAGE} (2021-01-01..)")
    assert (link["person_id"], link["role"], link["org_id"], link["relative_id"]) == (
        "P-CADRE", "village_cadre", VILLAGE, None)
    assert "P-CADRE" in finding.summary and VILLAGE in finding.summary


def test_official_as_shareholder_links(registry: Registry) -> None:
    [finding] = run(registry, bid("C-SHARE"))
    [link] = finding.evidence["registry_links"]
    assert (link["owner_id"], link["relation"], link["role"]) == ("P-OFFICIAL", "shareholder",
                                                                  "public_official")


def test_relative_of_a_cadre_links_through_the_relative(registry: Registry) -> None:
    [finding] = run(registry, bid("C-SON"))
    [link] = finding.evidence["registry_links"]
    assert link["owner_id"] == "P-SON" and link["relative_id"] == "P-CADRE"
    assert link["path"] == ("company C-SON -> legal_rep P-SON -> relative P-CADRE (declared by "
                            f"P-SON) -> village_cadre of {VILLAGE} (2021-01-01..)")


@pytest.mark.parametrize("declared_on", ["relative", "office_holder", "both", "neither"])
def test_a_family_tie_counts_whichever_record_declares_it(declared_on: str) -> None:
    # Officials declare their family; the relatives' own records usually list nobody.
    reg = Registry()
    holder_ties = ("P-DAUGHTER",) if declared_on in ("office_holder", "both") else ()
    own_ties = ("P-CHIEF",) if declared_on in ("relative", "both") else ()
    for record in (person("P-CHIEF", ("village_cadre", VILLAGE, "2021-01-01", None),
                          relatives=holder_ties),
                   person("P-DAUGHTER", relatives=own_ties),
                   company("C-DAUGHTER", "P-DAUGHTER")):
        reg.apply(record)
    findings = run(reg, bid("C-DAUGHTER"))
    if declared_on == "neither":
        assert findings == []
        return
    [finding] = findings
    [link] = finding.evidence["registry_links"]
    declarer = "P-CHIEF" if declared_on == "office_holder" else "P-DAUGHTER"
    assert (link["relative_id"], link["relative_declared_by"]) == ("P-CHIEF", declarer)
    assert f"relative P-CHIEF (declared by {declarer})" in link["path"]
    assert finding.severity == "red"


def test_a_tie_withdrawn_from_the_registry_no_longer_links() -> None:
    reg = Registry()
    reg.apply(person("P-CHIEF", ("village_cadre", VILLAGE, "2021-01-01", None),
                     relatives=("P-DAUGHTER",)))
    reg.apply(person("P-DAUGHTER"))
    reg.apply(company("C-DAUGHTER", "P-DAUGHTER"))
    assert len(run(reg, bid("C-DAUGHTER"))) == 1
    reg.apply(person("P-CHIEF", ("village_cadre", VILLAGE, "2021-01-01", None)))  # corrected
    assert run(reg, bid("C-DAUGHTER", event_id="aw-2")) == []


def test_a_bid_from_a_linked_company_is_yellow(registry: Registry) -> None:
    [finding] = run(registry, bid("C-SON", stage="bid", event_id="bid-1"))
    assert (finding.severity, finding.route, finding.sector) == ("yellow", "regulator",
                                                                 "procurement")
    assert finding.basis == ("bid-1",)


@pytest.mark.parametrize("event", [
    bid("C-FORMER"),                       # the office ended before the award
    bid("C-CADRE", buyer=OTHER),           # a cadre, but of another body
    bid("C-OTHER"),                        # a cadre of another village wins here
    bid("C-NEPHEW"),                       # a relative of another village's cadre
    bid("C-PLAIN"),                        # an unlinked company
    bid("C-UNKNOWN"),                      # not in the registry
    bid("C-SHARE", day="2023-06-01"),      # before the official took office
    bid("C-CADRE", stage="tender"),        # a tender has no bidder to judge
], ids=["former", "other-body", "other-village-cadre", "other-village-relative", "unlinked",
        "unknown", "before-office", "tender"])
def test_near_misses_stay_silent(registry: Registry, event: Event) -> None:
    assert run(registry, event) == []


def test_office_ending_on_the_award_day_still_counts(registry: Registry) -> None:
    assert len(run(registry, bid("C-FORMER", day="2025-12-31"))) == 1


def test_stages_parameter(registry: Registry) -> None:
    awards_only = CadreLinkedAward(stages=["award"])
    assert awards_only.version != CadreLinkedAward().version
    assert awards_only.key(bid("C-CADRE", stage="bid")) is None


def test_findings_do_not_depend_on_arrival_order(registry: Registry) -> None:
    events = [bid(c, event_id=f"aw-{i}", project=f"PRJ-{i}", stage=s)
              for i, (c, s) in enumerate([("C-CADRE", "award"), ("C-SON", "bid"),
                                          ("C-PLAIN", "award"), ("C-SHARE", "award")])]
    expected = sorted(alert_id(f) for e in events for f in run(registry, e))
    assert len(expected) == 3
    for seed in range(5):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        assert sorted(alert_id(f) for e in shuffled for f in run(registry, e)) == expected


def test_alert_is_a_valid_cloudevent(registry: Registry) -> None:
    [finding] = run(registry, bid("C-SON"))
    alert = to_cloudevent(finding)
    validate("alert", alert)
    assert alert["type"].endswith("cadre_linked_award")


def test_fan_out_is_capped_and_the_evidence_says_how_much_was_not_followed() -> None:
    reg = Registry()
    relatives = [f"P-REL-{i}" for i in range(5000)]
    for pid in relatives:
        reg.apply(person(pid, ("village_cadre", VILLAGE, "2021-01-01", None)))
    reg.apply(person("P-REP", relatives=tuple(relatives)))
    reg.apply(company("C-FAN", "P-REP", *[f"P-HOLDER-{i}" for i in range(100_000)]))
    detector = CadreLinkedAward(max_links=100)
    event = bid("C-FAN")
    _, [finding] = detector.process(event, detector.key(event), None, reg)
    # The rep is followed first, then 99 of the rep's relatives; no shareholder.
    assert len(finding.evidence["registry_links"]) == 99
    assert finding.evidence["registry_links_truncated"] == {
        "max_links": 100, "not_followed": 100_000 + 5000 - 99}
    [default] = CadreLinkedAward().process(event, "PRJ-1", None, reg)[1]
    assert len(default.evidence["registry_links"]) == 999


def test_under_the_cap_nothing_is_said_about_truncation(registry: Registry) -> None:
    [finding] = run(registry, bid("C-CADRE"))
    assert "registry_links_truncated" not in finding.evidence
