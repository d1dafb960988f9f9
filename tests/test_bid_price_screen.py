"""bid_price_screen: at the award, bids bunched (cv), identical across bidders, or with a tiny
gap at the bottom are yellow with every screen value; competitive bids stay silent."""

from __future__ import annotations

import itertools

import orjson
import pytest

from detectors.base import Event
from detectors.bid_price_screen import BidPriceScreen
from detectors.findings import alert_id, to_cloudevent
from detectors.registry import Registry
from detectors.runner import Runner
from detectors.testing import drive
from schemas import event_ts, validate

REG = Registry()


def bid(i: int, amount: float, *, bidder: str | None = None, hour: int = 9,
        stage: str = "bid", day: str = "2026-05-14") -> Event:
    record = {"event_id": f"b{i}" if stage == "bid" else f"aw{i}",
              "event_time": f"{day}T{hour:02d}:00:00+08:00", "region": "330784",
              "stage": stage, "project_id": "PRJ-1", "buyer_id": "VC-330784-001",
              "category": "works", "amount": amount, "bidder_id": bidder or f"C-{i}"}
    return Event("bids", record, event_ts(record), "bids", 0, i)


def award(amount: float, *, bidder: str = "C-0", hour: int = 18) -> Event:
    return bid(0, amount, bidder=bidder, hour=hour, stage="award")


def run(events: list[Event | float], detector: BidPriceScreen | None = None
        ) -> tuple[object, list]:
    """Through the real Runner, for one project: awards judged when the watermark (largest
    event time seen, or a float in ``events``) passes their due time, and at the end, when the
    feed moves on a day. Returns the project's state and the findings."""
    end = max(e if isinstance(e, float) else e.ts for e in events) + 86400.0
    run = drive(detector or BidPriceScreen(), events, REG, until=end)
    return run.state("PRJ-1"), run.findings


def ts_at(hour: int, day: str = "2026-05-14") -> float:
    return event_ts({"event_time": f"{day}T{hour:02d}:00:00+08:00"})


def bids(*amounts: float) -> list[Event]:
    return [bid(i, a, hour=8 + i) for i, a in enumerate(amounts)]


def test_bunched_prices_fail_the_cv_screen() -> None:
    _, [finding] = run([*bids(500000, 505000, 509000, 503000), award(500000)])
    assert (finding.severity, finding.route, finding.sector, finding.action) == (
        "yellow", "regulator", "procurement", "review")
    assert finding.subject == "project:PRJ-1" and finding.basis == ("aw0",)
    assert finding.time == "2026-05-14T18:00:00+08:00"
    evidence = finding.evidence
    assert evidence["fired"] == ["cv"]
    assert evidence["screens"]["n"] == 4 and evidence["screens"]["cv"] < 0.03
    assert [b["amount"] for b in evidence["bids"]] == [500000, 503000, 505000, 509000]
    assert [r["event_id"] for r in evidence["records"]] == ["aw0", "b0", "b3", "b1", "b2"]
    assert "coefficient of variation" in finding.summary
    validate("alert", to_cloudevent(finding))


def test_identical_prices_from_different_bidders() -> None:
    _, [finding] = run([*bids(400000, 400000, 470000), award(400000)])
    assert "identical" in finding.evidence["fired"]
    assert finding.evidence["screens"]["identical"] == [
        {"amount": 400000, "bidders": ["C-0", "C-1"]}]
    assert finding.score == 1.0


def test_cover_bid_just_above_the_winner_fails_the_gap_screen() -> None:
    _, [finding] = run([*bids(600000, 600500, 680000, 720000), award(600000)])
    screens = finding.evidence["screens"]
    assert finding.evidence["fired"] == ["gap"]
    assert screens["gap_ratio"] == pytest.approx(500 / 119500, abs=1e-4)


def test_screens_values() -> None:
    values = BidPriceScreen().screens([100.0, 110.0, 130.0], ["A", "B", "C"])
    assert values["gap_ratio"] == 0.5 and values["identical"] == []
    assert values["cv"] == pytest.approx(0.1100, abs=1e-4)
    assert BidPriceScreen().screens([1.0, 2.0, 2.0], ["A", "B", "C"])["gap_ratio"] is None


@pytest.mark.parametrize("events", [
    [*bids(500000, 540000, 575000), award(500000)],          # competitive
    [*bids(500000, 500000), award(500000)],                  # only two bids
    [bid(0, 500000), bid(1, 500000, bidder="C-0", hour=10),
     bid(2, 560000, hour=11), award(500000)],                # one bidder twice: two bidders
    [*bids(500000, 540000, 575000)],                         # never awarded
    [*bids(500000, 540000), bid(2, 500000, day="2026-05-15"),
     award(500000)],                                          # a bid after the award's time
], ids=["competitive", "two-bids", "same-bidder-twice", "no-award", "bid-after-award"])
def test_near_misses_stay_silent(events: list[Event]) -> None:
    assert run(events)[1] == []


def test_bids_in_any_order_before_the_award_give_the_same_finding() -> None:
    events = bids(500000, 501000, 560000, 640000)
    results = set()
    for order in itertools.permutations(events):
        _, findings = run([*order, award(500000)])
        results.add(tuple((alert_id(f), orjson.dumps(f.evidence)) for f in findings))
    assert len(results) == 1 and len(results.pop()) == 1


def test_bids_arriving_after_the_award_but_inside_the_lateness_count() -> None:
    events = [bid(0, 500000, hour=8), award(500000, hour=12), bid(1, 505000, hour=9),
              bid(2, 509000, hour=10), ts_at(13), bid(3, 503000, hour=11)]
    _, [finding] = run(events)
    assert finding.evidence["screens"]["n"] == 4


def test_a_bid_arriving_after_its_award_was_judged_is_late() -> None:
    detector = BidPriceScreen()
    state, _ = run([*bids(500000, 505000, 509000), award(500000)], detector)
    assert state["judged"] == award(1).ts and state["awards"] == []
    late = bid(7, 900000, hour=12)
    assert detector.is_late(late, "PRJ-1", state)
    assert not detector.is_late(bid(8, 900000, day="2026-05-20"), "PRJ-1", state)
    # Through the runner it is counted as late, and not applied.
    runner = Runner({"bids": [detector]}, {}, REG)
    outcomes = []
    for event in [*bids(500000, 505000, 509000), award(500000), bid(9, 1.0, hour=21),
                  bid(7, 900000, hour=12)]:
        outcomes.append(runner.handle(event, "PRJ-1"))
        runner.mark_seen(event, "PRJ-1")
    assert [len(o.findings) for o in outcomes] == [0, 0, 0, 0, 1, 0]
    assert outcomes[-1].late == ["bid_price_screen"]


def test_state_is_bounded_and_expires() -> None:
    detector = BidPriceScreen(max_bids=5)
    state, _ = run([bid(i, 1000.0 + i, hour=0) for i in range(9)], detector)
    assert len(state["bids"]) == 5
    due = detector.due(state)
    assert detector.advance("PRJ-1", state, due, REG) == (None, [])
