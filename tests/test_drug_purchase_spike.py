"""drug_purchase_spike: daily sums judged once complete, scored against the pair's own normal;
the case fires once with its evidence, near misses and normal traffic stay silent."""

from __future__ import annotations

import random
from datetime import date, timedelta

import orjson
import pytest

from detectors.base import Event
from detectors.drug_purchase_spike import DrugPurchaseSpike
from detectors.findings import alert_id, to_cloudevent
from detectors.runner import Runner
from detectors.testing import drive
from schemas import event_ts, validate
from stream.backtest.score import main as score_main

KEY = "H-330784-S0|XS001"
START = date(2026, 3, 2)  # a Monday
WEEKLY = (1.0, 1.05, 0.95, 1.0, 1.1, 0.45, 0.35)


def purchase(event_id: str, day: date, quantity: float, *, hour: int = 10, minute: int = 0,
             hospital: str = "H-330784-S0", drug: str = "XS001", kind: str = "purchase"
             ) -> Event:
    record = {"event_id": event_id, "event_time": f"{day.isoformat()}T{hour:02d}:{minute:02d}"
              ":00+08:00", "region": "330784", "kind": kind, "hospital_id": hospital,
              "drug_code": drug, "quantity": quantity, "supplier_id": "C-00001"}
    if kind == "prescription":
        record["doctor_id"] = "D-1"
    return Event("prescriptions", record, event_ts(record), "prescriptions", 0, 0)


def history(days: int, seed: int = 1, base: float = 300.0) -> list[Event]:
    rng = random.Random(seed)
    out = []
    for i in range(days):
        day = START + timedelta(days=i)
        qty = round(base * WEEKLY[day.weekday()] * rng.lognormvariate(0, 0.06))
        out.append(purchase(f"h{i}", day, qty, hour=rng.randint(9, 16)))
    return out


def replay(events: list[Event], detector: DrugPurchaseSpike | None = None,
           state: dict | None = None) -> tuple[Runner, list]:
    run = drive(detector or DrugPurchaseSpike(), events, store=state)
    return run.runner, run.findings


def test_a_spike_is_yellow_to_the_health_regulator_with_its_evidence() -> None:
    spike_day = START + timedelta(days=35)
    events = history(35) + [
        purchase("s1", spike_day, 900, hour=9),
        purchase("s2", spike_day, 700, hour=15, minute=30),
        purchase("next", spike_day + timedelta(days=2), 300),  # carries event time past the day
    ]
    _, [finding] = replay(events)
    assert (finding.severity, finding.route, finding.sector, finding.action) == (
        "yellow", "regulator", "health", "review")
    assert finding.subject == f"hospital_drug:{KEY}"
    assert finding.time == f"{spike_day}T15:30:00+08:00"  # the day's latest purchase
    assert finding.basis == (KEY, spike_day.isoformat())
    assert 0.5 <= finding.score < 1.0
    evidence = finding.evidence
    assert [r["event_id"] for r in evidence["records"]] == ["s1", "s2"]
    assert evidence["records"][0]["fields"]["quantity"] == 900
    assert evidence["quantity"] == 1600 and evidence["day"] == spike_day.isoformat()
    assert 250 < evidence["expected_quantity"] < 350
    assert "score >=" in evidence["threshold"] and "1600" in evidence["observed"]
    assert "1600" in finding.summary and "H-330784-S0" in finding.summary
    validate("alert", to_cloudevent(finding))


def test_the_day_is_judged_only_once_complete() -> None:
    spike_day = START + timedelta(days=35)
    events = history(35) + [purchase("s1", spike_day, 1500, hour=9)]
    # 12 hours of lateness after the day's end: at 11:59 the next day, still open
    runner, findings = replay(events + [purchase("n1", spike_day + timedelta(days=1), 300,
                                                 hour=11, minute=59)])
    assert findings == []
    state = runner.detector_state("drug_purchase_spike", KEY)
    assert spike_day.isoformat() in state["o"]
    _, findings = replay(events + [purchase("n1", spike_day + timedelta(days=1), 300, hour=12)])
    assert len(findings) == 1


def test_same_finding_whatever_the_arrival_order_within_the_day() -> None:
    spike_day = START + timedelta(days=35)
    day_records = [purchase("s1", spike_day, 500, hour=9), purchase("s2", spike_day, 600,
                                                                     hour=13),
                   purchase("s3", spike_day, 400, hour=17)]
    after = [purchase("next", spike_day + timedelta(days=2), 300)]
    _, [a] = replay(history(35) + day_records + after)
    _, [b] = replay(history(35) + day_records[::-1] + after)
    assert alert_id(a) == alert_id(b) and a.time == b.time and a.score == b.score


def test_a_purchase_for_a_judged_day_is_late_and_not_applied() -> None:
    runner, _ = replay(history(50))  # past the first six weeks: online only
    late = purchase("late", START + timedelta(days=45), 10_000)
    [key] = runner.route(late)
    outcome = runner.handle(late, key)
    assert outcome.late == ["drug_purchase_spike"] and outcome.findings == []


def test_in_the_first_weeks_a_late_purchase_is_put_in_order() -> None:
    runner, _ = replay(history(35))
    before = runner.detector_state("drug_purchase_spike", KEY)
    late = purchase("late", START + timedelta(days=3), 50)
    outcome = runner.handle(late, runner.route(late)[0])
    after = runner.detector_state("drug_purchase_spike", KEY)
    assert outcome.late == [] and after["m"] != before["m"]
    day = str((START + timedelta(days=3)).toordinal())
    assert after["r"]["b"][day] == before["r"]["b"][day] + 50


def test_days_without_purchases_are_zeros() -> None:
    events = [e for i, e in enumerate(history(90)) if i % 3 == 0]  # every third day only
    runner, findings = replay(events)
    assert findings == []
    state = runner.detector_state("drug_purchase_spike", KEY)
    assert state["m"][1] >= 85  # steps seen include the zero days between purchases


def test_the_live_model_is_the_scorers_series_over_the_judged_days() -> None:
    runner, _ = replay(history(40))
    state = runner.detector_state("drug_purchase_spike", KEY)
    scorer = DrugPurchaseSpike().scorer
    series = scorer.start()
    judged = [e for e in history(40) if e.day not in state["o"]]  # the last day(s) are open
    assert len(judged) >= 38
    for event in judged:
        scorer.judge(series, event.record["quantity"], date.fromisoformat(event.day)
                     .toordinal())
    assert state["m"] == series["m"]


def test_a_backfilled_history_in_any_order_still_warms_up() -> None:
    """Four weeks of history arriving at once, shuffled (input partitions read round-robin),
    long after event time has passed them: every day is put in order, nothing is late, the
    model is the one the days in order give."""
    spike_day = START + timedelta(days=40)
    now = purchase("now", spike_day + timedelta(days=-1), 300, hour=23)  # event time is here
    backfill = history(28)
    random.Random(3).shuffle(backfill)
    events = [now, *backfill, purchase("s1", spike_day, 2000),
              purchase("next", spike_day + timedelta(days=2), 300)]
    run = drive(DrugPurchaseSpike(), events)
    findings = run.findings
    assert run.late == []
    assert [f.basis for f in findings] == [(KEY, spike_day.isoformat())]
    in_order = replay([*history(28), now, *events[-2:]])[1]
    assert findings[0].score == in_order[0].score  # the same model as in order


@pytest.mark.parametrize("factor, days", [(1.25, 35), (0.3, 35), (6.0, 10)],
                         ids=["normal-variation", "a-dip", "spike-in-warm-up"])
def test_near_misses_stay_silent(factor: float, days: int) -> None:
    day = START + timedelta(days=days)
    events = history(days) + [purchase("x", day, round(300 * WEEKLY[day.weekday()] * factor)),
                              purchase("next", day + timedelta(days=2), 300)]
    assert replay(events)[1] == []


def test_prescriptions_and_other_pairs_are_not_mixed_in() -> None:
    detector = DrugPurchaseSpike()
    assert detector.key(purchase("p", START, 5, kind="prescription")) is None
    events = history(35)
    spike_day = START + timedelta(days=35)
    events += [purchase("other", spike_day, 5000, drug="XS002"),  # another drug: no history
               purchase("rx", spike_day, 5000, kind="prescription"),
               purchase("next", spike_day + timedelta(days=2), 300)]
    assert replay(events)[1] == []


def test_normal_traffic_shape_is_silent() -> None:
    """The simulator's normal purchases: 50-500 units, about one order every three days."""
    rng = random.Random(11)
    events = []
    for i in range(365):
        for j in range(3):
            if rng.random() < 0.1:
                events.append(purchase(f"n{i}-{j}", START + timedelta(days=i),
                                       rng.randint(50, 500), hour=8 + 3 * j))
    assert replay(events)[1] == []


def test_state_is_small_and_survives_a_restart_without_a_new_warm_up() -> None:
    spike_day = START + timedelta(days=60)
    events = history(60) + [purchase("s1", spike_day, 1500),
                            purchase("next", spike_day + timedelta(days=2), 300)]
    runner, _ = replay(events[:50])
    state = runner.detector_state("drug_purchase_spike", KEY)
    judged = dict(state, o={})
    assert "r" not in state and len(orjson.dumps(judged)) < 200
    assert len(orjson.dumps(state)) < 600  # with the open day(s) and their evidence
    # A restart: the state comes back from its checkpoint (the changelog's bytes), a new
    # detector object runs on.
    checkpoint = {key: bytes(value) for key, value in runner.state.items()}
    _, findings = replay(events[50:], DrugPurchaseSpike(), checkpoint)
    _, uninterrupted = replay(events)
    assert [f.basis for f in findings] == [f.basis for f in uninterrupted] == [
        (KEY, spike_day.isoformat())]
    assert findings[0].score == uninterrupted[0].score


def test_the_scorer_command_gives_the_live_score(tmp_path) -> None:
    spike_day = START + timedelta(days=35)
    events = history(35) + [purchase("s1", spike_day, 1500),
                            purchase("next", spike_day + timedelta(days=2), 300)]
    _, [finding] = replay(events)
    rows = [f"{e.record['event_time']},{e.record['quantity']}" for e in events[:-1]]
    (tmp_path / "in.csv").write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    assert score_main(["--in", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"),
                       "--detectors-file", ""]) == 0
    last = (tmp_path / "out.csv").read_text().splitlines()[-1].split(",")
    assert float(last[2]) == finding.score


def test_parameters_change_behaviour_and_version() -> None:
    strict = DrugPurchaseSpike(z_half=50.0)
    assert strict.version != DrugPurchaseSpike().version
    spike_day = START + timedelta(days=35)
    events = history(35) + [purchase("s1", spike_day, 1500),
                            purchase("next", spike_day + timedelta(days=2), 300)]
    assert replay(events, strict)[1] == []
    assert strict.scorer.params["z_half"] == 50.0
