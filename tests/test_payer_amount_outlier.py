"""payer_amount_outlier: a payment far above its payer-purpose's learned normal is yellow to the
finance regulator; normal variation, the warm-up and the simulator's normal traffic are silent."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import orjson
import pytest

from detectors.base import Event
from detectors.findings import alert_id, to_cloudevent
from detectors.payer_amount_outlier import PayerAmountOutlier
from detectors.registry import Registry
from detectors.runner import Runner
from detectors.testing import drive
from schemas import event_ts, validate

PAYER = "FIN-330784-01"


def payment(event_id: str, amount: float, *, purpose: str = "materials", day: int = 1,
            status: str = "executed", payer: str = PAYER) -> Event:
    when = date(2026, 3, 1) + timedelta(days=day)
    record = {"event_id": event_id, "event_time": f"{when.isoformat()}T10:00:00+08:00",
              "region": "330784", "status": status, "payer_id": payer, "payee_id": "C-00001",
              "payee_kind": "company", "purpose": purpose, "amount": amount}
    return Event("payments", record, event_ts(record), "payments", 0, 0)


def run(events: list[Event], detector: PayerAmountOutlier | None = None,
        states: dict | None = None) -> tuple[dict, list]:
    """Through a Runner; at the end event time runs out and every payment is scored. Returns
    the per-pair states and the findings."""
    run = drive(detector or PayerAmountOutlier(), events, states=states, until=float("inf"))
    return run.states(), run.findings


def history(n: int, seed: int = 1, base: float = 5000.0, **kw) -> list[Event]:
    rng = random.Random(seed)
    return [payment(f"h{i}", round(base * rng.lognormvariate(0, 0.1), 2), day=i, **kw)
            for i in range(n)]


def test_an_outlier_is_yellow_to_the_finance_regulator() -> None:
    events = history(30) + [payment("big", 60_000.0, status="requested", day=30)]
    _, [finding] = run(events)
    assert (finding.severity, finding.route, finding.sector, finding.action) == (
        "yellow", "regulator", "finance", "review")
    assert finding.subject == f"payer:{PAYER}"
    assert finding.time == events[-1].record["event_time"]
    assert finding.basis == ("big",)
    assert 0.5 <= finding.score < 1.0
    ev = finding.evidence
    assert ev["records"][0]["event_id"] == "big" and ev["amount"] == 60_000.0
    assert 4000 < ev["expected_amount"] < 6000 and ev["payments_seen"] == 31
    assert "materials" in finding.summary and PAYER in finding.summary
    validate("alert", to_cloudevent(finding))
    assert alert_id(finding) == alert_id(run(events)[1][0])


@pytest.mark.parametrize("amount, n", [(7_000.0, 30), (2_000.0, 30), (60_000.0, 10)],
                         ids=["normal-variation", "small", "warm-up"])
def test_near_misses_stay_silent(amount: float, n: int) -> None:
    assert run(history(n) + [payment("x", amount, day=n)])[1] == []


def test_each_payer_and_purpose_has_its_own_normal() -> None:
    events = history(30) + history(30, seed=2, base=100_000.0, purpose="services")
    events.append(payment("svc", 120_000.0, purpose="services", day=40))  # usual for services
    events.append(payment("mat", 120_000.0, purpose="materials", day=41))  # not for materials
    states, findings = run(events)
    assert [f.basis for f in findings] == [("mat",)]
    assert set(states) == {f"{PAYER}|materials", f"{PAYER}|services"}


def test_statuses_and_purposes_parameters() -> None:
    detector = PayerAmountOutlier(statuses=["executed"], purposes=["materials"])
    assert detector.key(payment("r", 10.0, status="requested")) is None
    assert detector.key(payment("w", 10.0, purpose="wages")) is None
    assert detector.key(payment("m", 10.0)) == f"{PAYER}|materials"


def test_normal_traffic_is_silent() -> None:
    """The simulator's normal payments: lognormal(7, 0.6) amounts, for a long time."""
    rng = random.Random(7)
    events = [payment(f"n{i}", round(rng.lognormvariate(7, 0.6), 2), day=i)
              for i in range(5000)]
    assert run(events)[1] == []


def test_a_new_level_becomes_normal() -> None:
    events = history(30) + history(30, seed=3, base=15_000.0)  # amounts triple for good
    events = [payment(f"e{i}", e.record["amount"], day=i) for i, e in enumerate(events)]
    _, findings = run(events)
    assert len(findings) <= 3  # the first payments at the new level, then it is the normal


def test_state_is_tiny_and_restores() -> None:
    states, _ = run(history(40))
    state = states[f"{PAYER}|materials"]
    assert state["q"] == [] and len(orjson.dumps(state)) < 130
    restored = orjson.loads(orjson.dumps(states))
    tail = [payment("big", 60_000.0, day=41)]
    assert run(tail, states=restored)[1][0].score == run(tail, states=states)[1][0].score


def test_scored_in_event_time_order_whatever_the_arrival_order() -> None:
    events = history(30) + [payment("big", 60_000.0, day=30)]
    # Pairs of days swapped: each payment up to a day late, within the lateness of a test
    # detector that allows two days: the same finding, the same score.
    swapped = [e for pair in zip(events[1::2], events[::2], strict=False) for e in pair]
    if len(events) % 2:
        swapped.append(events[-1])
    detector = PayerAmountOutlier(allowed_lateness_hours=48.0)
    one, two = run(events, detector)[1], run(swapped, detector)[1]
    assert [(f.basis, f.score) for f in one] == [(f.basis, f.score) for f in two]
    assert [f.basis for f in one] == [("big",)]


def test_a_payment_beyond_the_lateness_is_late_not_learned_out_of_order() -> None:
    detector = PayerAmountOutlier()
    runner = Runner({"payments": [detector]}, {}, Registry())
    late = []
    for event in history(30)[::-1]:  # each a day older than the last: beyond the hour
        late += runner.handle(event, detector.key(event)).late
        runner.commit()
    assert late == ["payer_amount_outlier"] * 29


def test_a_payment_waits_for_the_watermark() -> None:
    detector = PayerAmountOutlier()
    runner = Runner({"payments": [detector]}, {}, Registry())
    found = []
    for event in history(30) + [payment("big", 60_000.0, day=30),
                                payment("next", 5000.0, day=30)]:
        for key in runner.route(event):
            found += runner.handle(event, key).findings
    assert found == []  # event time has not passed the outlier by an hour yet
    later = payment("later", 5000.0, day=31)
    assert [f.basis for f in runner.handle(later, detector.key(later)).findings] == [("big",)]


def test_a_state_written_before_pending_payments_were_ordered_gives_the_same_findings() -> None:
    # A changelog written by the previous release holds the pending payments unordered, under
    # "p": a worker restored from it must score them as if it had kept them itself.
    detector = PayerAmountOutlier(allowed_lateness_hours=48.0)
    events = history(30) + [payment("big", 60_000.0, day=30)]
    key = detector.key(events[0])
    state: Any = None
    for event in events[:-5]:
        state, _ = detector.process(event, key, state, Registry())
    payer, _, purpose = key.rpartition("|")
    legacy = {"m": state["m"], "p": [  # each with its evidence entry, newest first
        [ts, event_id, float(amount), time, {
            "topic": "payments", "event_id": event_id, "event_time": time, "fields": {
                "status": status, "payer_id": payer, "payee_id": payee, "purpose": purpose,
                "amount": amount, "region": region}}]
        for ts, event_id, amount, time, status, payee, region in reversed(state["q"])]}
    assert detector.due(legacy) == detector.due(state)

    def finish(state: Any) -> list[tuple[Any, ...]]:
        found = []
        for event in events[-5:]:
            state, _ = detector.process(event, key, state, Registry())
        state, findings = detector.advance(key, state, events[-1].ts + 49 * 3600, Registry())
        found += [(f.basis, f.score, f.evidence["records"]) for f in findings]
        assert state["q"] == []
        return found

    assert finish(legacy) == finish(state) != []
