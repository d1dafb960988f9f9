"""escalation: two yellows from different detectors about one subject within 30 days -> one
red citing them, whatever their arrival order; reds (its own too) never escalate. And the
health scenarios' whole chain, replayed offline with alerts fed back, gives exactly its labels."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

import orjson
import pytest

from detectors.base import Event
from detectors.config import load_detectors
from detectors.escalation import Escalation
from detectors.findings import alert_id, to_cloudevent
from detectors.registry import Registry
from detectors.runner import Runner
from detectors.testing import drive
from schemas import validate
from stream.backtest.replay import Replay
from stream.config import ROOT
from stream.ingest import Rejected, ingest
from stream.simulator.simulate import Simulation

SUBJECT = "hospital_drug:H-330784-S0|XS001"
DAY = date(2026, 5, 4)


def alert(alert_id_: str, detector: str, day: date, *, severity: str = "yellow",
          subject: str = SUBJECT, hour: int = 10) -> Event:
    record = {"specversion": "1.0", "id": alert_id_, "source": "sunlight/sunlight",
              "type": f"org.sunlight.alert.{detector}", "subject": subject,
              "time": f"{day.isoformat()}T{hour:02d}:00:00+08:00",
              "datacontenttype": "application/json",
              "data": {"detector": detector, "detector_version": "1.x", "severity": severity,
                       "route": "regulator", "sector": "health", "action": "review",
                       "score": 0.6, "summary": "s",
                       "evidence": {"records": [], "observed": "o", "threshold": "t"}}}
    result = ingest("alerts", orjson.dumps(record))
    assert isinstance(result, Event), result
    return result


def run(events: list[Event]) -> list:
    return drive(Escalation(), events).findings


SPIKE = alert("a-spike", "drug_purchase_spike", DAY)
CONC = alert("a-conc", "prescriber_concentration", DAY + timedelta(days=2), hour=16)


def test_two_yellows_from_two_detectors_make_one_red_citing_them() -> None:
    [red] = run([SPIKE, CONC])
    assert (red.severity, red.route, red.sector, red.action) == ("red",
                                                                "discipline_inspection",
                                                                "health", "review")
    assert red.subject == SUBJECT and red.time == "2026-05-06T16:00:00+08:00"
    assert red.basis == ("a-conc", "a-spike")
    assert red.evidence["alerts"] == ["a-spike", "a-conc"]
    assert [r["event_id"] for r in red.evidence["records"]] == ["a-spike", "a-conc"]
    assert "drug_purchase_spike" in red.summary and "prescriber_concentration" in red.summary
    validate("alert", to_cloudevent(red))


def test_same_red_whatever_the_arrival_order() -> None:
    [a] = run([SPIKE, CONC])
    [b] = run([CONC, SPIKE])
    assert alert_id(a) == alert_id(b) and a.time == b.time and a.evidence == b.evidence


@pytest.mark.parametrize("second", [
    alert("a-spike-2", "drug_purchase_spike", DAY + timedelta(days=10)),        # same detector
    alert("a-far", "prescriber_concentration", DAY + timedelta(days=31)),       # too far apart
    alert("a-red", "prescriber_concentration", DAY, severity="red"),            # a red
    alert("a-other", "prescriber_concentration", DAY, subject="hospital_drug:H|X"),  # other one
], ids=["same-detector", "31-days", "red", "other-subject"])
def test_near_misses_stay_silent(second: Event) -> None:
    assert run([SPIKE, second]) == []


def test_reds_are_never_routed_so_it_cannot_feed_on_itself() -> None:
    [red] = run([SPIKE, CONC])
    own = ingest("alerts", orjson.dumps(to_cloudevent(red)))
    assert Escalation().key(own) is None
    assert Escalation().key(alert("x", "escalation", DAY)) is None
    assert Escalation(ignore=["drug_purchase_spike"]).key(SPIKE) is None


def test_a_third_yellow_does_not_cite_the_used_ones_again() -> None:
    third = alert("a-pay", "payer_amount_outlier", DAY + timedelta(days=3))
    fourth = alert("a-lease", "lease_below_reference", DAY + timedelta(days=4))
    reds = run([SPIKE, CONC, third, fourth])
    assert [r.basis for r in reds] == [("a-conc", "a-spike"), ("a-lease", "a-pay")]


def test_a_redelivered_alert_counts_once() -> None:
    detector = Escalation()
    state, _ = detector.process(SPIKE, SUBJECT, None, Registry())
    again, found = detector.process(SPIKE, SUBJECT, state, Registry())
    assert found == [] and again == state


def test_state_keeps_only_alerts_within_retention_behind_the_watermark() -> None:
    detector = Escalation(retention_days=60.0)
    runner = Runner({"alerts": [detector]}, {}, Registry())
    for i in range(100):  # a yellow a day from one detector: never a pair
        event = alert(f"y{i}", "drug_purchase_spike", DAY + timedelta(days=i))
        # The input feeds' event time moves with them (live: the ingest stage's ticks).
        assert runner.tick({"merged": event.ts}, 0).findings == []
        assert runner.handle(event, SUBJECT, source="").findings == []
        runner.commit()
    kept = runner.detector_state(detector.name, SUBJECT)["y"]
    assert len(kept) == 64  # max_kept; without the cap, retention + window back: 90 days
    old = alert("y-old", "payer_amount_outlier", DAY)  # 99 days behind: late, never paired
    assert runner.handle(old, SUBJECT, source="").late == [detector.name]


# -- the chain, offline -------------------------------------------------------------------
HEALTH = ("drug_purchase_spike", "prescriber_concentration", "escalation",
          "payer_amount_outlier")


def replay_with_feedback(sim: Simulation) -> list[dict]:
    """Every record through the detectors of the detectors file (the health ones) by the
    replay (stream.backtest.replay.Replay: each finding published as its CloudEvent and read back on
    the alerts feed); at the end of the input, event time runs out and every pending window is
    judged."""
    replay = Replay([d for d in load_detectors(ROOT / "detectors.yaml") if d.name in HEALTH])
    for record in sim.registry():
        replay.registry.apply(orjson.loads(record.value))
    events = [e for r in sim.stream() if not isinstance(e := ingest(r.feed, r.value), Rejected)]
    replay.run(events)
    # The end of the input: event time runs on (well within every retention) and every
    # pending window is judged.
    end = max(event.ts for event in events) + 20 * 86400.0
    for runner in replay.runners.values():
        replay.settle(runner.tick({"merged": end}, 0))
        runner.commit()
    assert not replay.report.errors and not replay.report.late, replay.report
    return replay.report.alerts


@pytest.mark.parametrize("seed", [11, 12])
def test_health_scenarios_replayed_offline_give_exactly_their_labels(seed: int) -> None:
    sim = Simulation(seed=seed, events=12_000, people=600, step_s=600, case_rate=0.006,
                     scenarios=HEALTH)
    alerts = replay_with_feedback(sim)
    got = Counter((a["data"]["detector"], a["subject"], a["time"], a["data"]["severity"],
                   a["data"]["action"]) for a in alerts)
    expected = Counter((label["detector"], label["subject"], label["time"], label["severity"],
                        label["action"]) for label in sim.labels)
    assert got == expected
    kinds = Counter((a["data"]["detector"], a["data"]["severity"]) for a in alerts)
    assert kinds[("drug_purchase_spike", "yellow")] > 10
    assert kinds[("prescriber_concentration", "red")] > 0
    assert kinds[("prescriber_concentration", "yellow")] > 0
    assert kinds[("escalation", "red")] > 0 and kinds[("payer_amount_outlier", "yellow")] > 0
    assert sum(n for k, n in sim.counts.items() if k.startswith("near_miss:")) > 5


def replay_live_like(sim: Simulation, partitions: int = 4, batch: int = 200,
                     delay: int = 50, seed: int = 0) -> list[dict]:
    """As the stream reads the feed: each record lands on a random partition of its topic (the
    upstream key is arbitrary), partitions are fetched in batches and read round-robin (so a
    backfill arrives shuffled and one partition runs ahead of another), the watermark is the
    minimum over the input partitions, and an alert comes back ``delay`` records later."""
    import random

    rng = random.Random(seed)
    detectors = [d for d in load_detectors(ROOT / "detectors.yaml") if d.name in HEALTH]
    registry = Registry()
    for record in sim.registry():
        registry.apply(orjson.loads(record.value))
    kinds: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for detector in detectors:
        for feed in detector.feeds:
            kinds[detector.key_kind][feed].append(detector)
    runners = []
    sources: dict[int, list[str]] = {}
    for by_feed in kinds.values():
        runner = Runner(by_feed, {}, registry)
        sources[id(runner)] = [f"{feed}:{p}" for feed in by_feed if feed != "alerts"
                               for p in range(partitions)]
        runner.expect(sources[id(runner)], [0], 0.0)
        runners.append(runner)
    queues: dict[tuple[str, int], list] = defaultdict(list)
    for record in sim.stream():
        queues[(record.feed, rng.randrange(partitions))].append(record)
    order = []
    cursor = dict.fromkeys(queues, 0)
    while any(cursor[q] < len(queues[q]) for q in queues):
        fetched = {q: iter(queues[q][cursor[q]:cursor[q] + batch]) for q in queues}
        for q in queues:
            cursor[q] = min(len(queues[q]), cursor[q] + batch)
        while fetched:
            for q in list(fetched):
                record = next(fetched[q], None)
                if record is None:
                    del fetched[q]
                else:
                    order.append((f"{q[0]}:{q[1]}", record))
    alerts: list[dict] = []
    waiting: list[tuple[int, Event]] = []

    def handle(event: Event, source: str, now: int) -> None:
        for runner in runners:
            for key in runner.route(event):
                outcome = runner.handle(event, key, source=source)
                assert not outcome.errors, outcome.errors
                if not outcome.duplicate:
                    runner.mark_seen(event, key)
                    publish(outcome.findings, now)

    def publish(findings: list, now: int) -> None:
        for finding in findings:
            alerts.append(to_cloudevent(finding))
            waiting.append((now + delay, ingest("alerts", orjson.dumps(alerts[-1]))))

    for i, (source, record) in enumerate(order):
        while waiting and waiting[0][0] <= i:
            handle(waiting.pop(0)[1], "", i)
        event = ingest(record.feed, record.value)
        if not isinstance(event, Rejected):
            handle(event, source, i)
    end = len(order)
    for runner in runners:  # end of input: event time runs out
        publish(runner.tick(dict.fromkeys(sources[id(runner)], float("inf")), 0).findings,
                end)
    while waiting:
        handle(waiting.pop(0)[1], "", end)
    return alerts


def test_health_scenarios_read_as_the_stream_reads_them_give_exactly_their_labels() -> None:
    sim = Simulation(seed=13, events=12_000, people=600, step_s=600, case_rate=0.006,
                     scenarios=HEALTH)
    alerts = replay_live_like(sim)
    got = Counter((a["data"]["detector"], a["subject"], a["time"], a["data"]["severity"])
                  for a in alerts)
    expected = Counter((label["detector"], label["subject"], label["time"], label["severity"])
                       for label in sim.labels)
    assert got == expected and len(alerts) > 50
