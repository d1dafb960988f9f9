"""shared_bid_fingerprint: different bidders' documents from one machine are red, one finding per
pair of bids, the same in any arrival order; near misses stay silent."""

from __future__ import annotations

import itertools

import orjson

from detectors.base import Event
from detectors.findings import alert_id, to_cloudevent
from detectors.registry import Registry
from detectors.shared_bid_fingerprint import SharedBidFingerprint
from schemas import event_ts, validate

REG = Registry()


def bid(i: int, bidder: str, fingerprint: str | None, *, project: str = "PRJ-1",
        stage: str = "bid") -> Event:
    record = {"event_id": f"b{i}", "event_time": f"2026-05-{10 + i:02d}T10:00:00+08:00",
              "region": "330784", "stage": stage, "project_id": project,
              "buyer_id": "VC-330784-001", "category": "works", "amount": 100000.0 + i,
              "bidder_id": bidder}
    if fingerprint:
        record["fingerprint"] = fingerprint
    return Event("bids", record, event_ts(record), "bids", 0, i)


def run(events: list[Event]) -> list:
    detector, states, findings = SharedBidFingerprint(), {}, []
    for event in events:
        key = detector.key(event)
        if key is None:
            continue
        states[key], found = detector.process(event, key, states.get(key), REG)
        orjson.dumps(states[key])
        findings.extend(found)
    return findings


def test_two_bidders_one_machine_is_red() -> None:
    [finding] = run([bid(1, "C-A", "mac-77"), bid(2, "C-B", "mac-12"), bid(3, "C-C", "mac-77")])
    assert (finding.severity, finding.route, finding.sector, finding.action) == (
        "red", "discipline_inspection", "procurement", "review")
    assert finding.subject == "project:PRJ-1"
    assert finding.basis == ("b1", "b3")
    assert finding.time == "2026-05-13T10:00:00+08:00"  # when the second bid made it true
    evidence = finding.evidence
    assert [r["event_id"] for r in evidence["records"]] == ["b1", "b3"]
    assert {r["fields"]["bidder_id"] for r in evidence["records"]} == {"C-A", "C-C"}
    assert evidence["records"][0]["fields"]["fingerprint"] == "mac-77"
    assert evidence["also_route"] == "regulator (procurement)"
    validate("alert", to_cloudevent(finding))


def test_three_bidders_make_three_pairs_in_any_order() -> None:
    events = [bid(1, "C-A", "fp"), bid(2, "C-B", "fp"), bid(3, "C-C", "fp"),
              bid(4, "C-D", "other")]
    results = set()
    for order in itertools.permutations(events):
        findings = run(list(order))
        results.add(tuple(sorted((alert_id(f), f.time, orjson.dumps(f.evidence))
                                 for f in findings)))
    assert len(results) == 1
    assert sorted(f.basis for f in run(events)) == [("b1", "b2"), ("b1", "b3"), ("b2", "b3")]


def test_near_misses_stay_silent() -> None:
    assert run([bid(1, "C-A", "x"), bid(2, "C-B", "y"), bid(3, "C-C", "z")]) == []
    assert run([bid(1, "C-A", "x"), bid(2, "C-A", "x")]) == []   # one bidder resubmits
    assert run([bid(1, "C-A", None), bid(2, "C-B", None)]) == []  # no fingerprints
    assert run([bid(1, "C-A", "x", project="PRJ-1"),
                bid(2, "C-B", "x", project="PRJ-2")]) == []       # different projects
    assert run([bid(1, "C-A", "x", stage="award"), bid(2, "C-B", "x")]) == []  # an award


def test_duplicate_bid_counts_once_and_state_is_bounded() -> None:
    detector = SharedBidFingerprint(max_bids=3)
    state = None
    for i in range(6):
        state, _ = detector.process(bid(i, f"C-{i}", f"fp{i}"), "PRJ-1", state, REG)
    assert [b["id"] for b in state["bids"]] == ["b3", "b4", "b5"]
    again, found = detector.process(bid(5, "C-5", "fp5"), "PRJ-1", state, REG)
    assert found == [] and again == state
    due = detector.due(state)
    assert detector.advance("PRJ-1", state, due, REG) == (None, [])
