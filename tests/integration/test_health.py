"""Health and online-ML detectors end to end on a real broker: purchase spikes scored against
each hospital-drug's learned normal, the prescriptions that follow (read together with the
spike alert fed back from the alerts topic), payments against their payer's normal, and the
escalation of two yellows into a red. The worker is killed (SIGKILL) after the history and a
new one takes over: the models come back from the changelog, no new warm-up.

A. four weeks of daily purchases of three pairs and thirty payments of one payer (the history
   the models learn; its days are judged as event time passes them);
B. the worker is killed; a new one starts and recovers the state;
C. the day of the spike (two pairs six times their usual, one 1.25 times: inside its normal),
   a payment twelve times its payer's usual, and the next day's prescriptions: 22 for each
   spiked pair, ~78% by two doctors (one with an integrity record for the first pair);
D. every prescriptions partition is moved to the day after (12:00): both days are judged.
"""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import validate
from tests.integration.harness import World

pytestmark = pytest.mark.integration

H = "H-330784-T1"
RED, YELLOW, NEAR = f"{H}|XR1", f"{H}|XY2", f"{H}|XN3"
PAYER = "FIN-330784-T1"
SPIKE_DAY = date(2026, 5, 4)  # a Monday
WEEKLY = (1.0, 1.05, 0.95, 1.0, 1.1, 0.45, 0.35)
PARTITIONS = {"prescriptions": 2, "payments": 2, "registry": 1}

DOCTORS = [f"P-HDR{i}" for i in range(8)]
REGISTRY = [
    {"record_type": "person", "person_id": pid, "roles": [
        {"role": "doctor", "org_id": H, "region": "330784", "start": "2015-03-01"}],
     "relatives": [], "integrity_flags": ["2024: gifts from a drug supplier"] if i == 0 else []}
    for i, pid in enumerate(DOCTORS)
]


def at(day: date, hour: int, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00+08:00"


def purchase(event_id: str, key: str, when: str, quantity: float) -> dict[str, Any]:
    hospital, drug = key.split("|")
    return {"event_id": event_id, "event_time": when, "region": "330784", "kind": "purchase",
            "hospital_id": hospital, "drug_code": drug, "quantity": round(quantity),
            "supplier_id": "C-00001", "unit_price": 12.5}


def prescription(event_id: str, key: str, when: str, doctor: str) -> dict[str, Any]:
    hospital, drug = key.split("|")
    return {"event_id": event_id, "event_time": when, "region": "330784",
            "kind": "prescription", "hospital_id": hospital, "drug_code": drug, "quantity": 2,
            "doctor_id": doctor, "patient_ref": f"pt-{event_id}"}


def payment(event_id: str, when: str, amount: float, status: str = "executed"
            ) -> dict[str, Any]:
    return {"event_id": event_id, "event_time": when, "region": "330784", "status": status,
            "payer_id": PAYER, "payee_id": "C-00002", "payee_kind": "company",
            "purpose": "materials", "amount": round(amount, 2)}


def usual(key: str, day: date) -> float:
    return {RED: 300.0, YELLOW: 120.0, NEAR: 800.0}[key] * WEEKLY[day.weekday()]


rng = random.Random(4)
PHASE_A: list[tuple[str, dict[str, Any]]] = []
for k in range(28, 0, -1):
    day = SPIKE_DAY - timedelta(days=k)
    for key in (RED, YELLOW, NEAR):
        PHASE_A.append(("prescriptions", purchase(f"h-{key}-{k}", key, at(day, 10 + k % 6),
                                                  usual(key, day) * rng.lognormvariate(0, 0.06))))
for k in range(30, 0, -1):
    PHASE_A.append(("payments", payment(f"pay-h{k}", at(SPIKE_DAY - timedelta(days=k), 15),
                                        5000 * rng.lognormvariate(0, 0.1))))

SPIKE_RED = purchase("spike-red", RED, at(SPIKE_DAY, 11, 20), usual(RED, SPIKE_DAY) * 6)
SPIKE_YELLOW = purchase("spike-yellow", YELLOW, at(SPIKE_DAY, 14, 5),
                        usual(YELLOW, SPIKE_DAY) * 6)
BIG_PAYMENT = payment("pay-big", at(SPIKE_DAY, 16, 30), 60_000.0, status="requested")


def written(key: str, first: str, second: str, tag: str) -> list[tuple[str, dict[str, Any]]]:
    """22 prescriptions the day after the spike: 10 and 7 by two doctors, 5 by others."""
    day = SPIKE_DAY + timedelta(days=1)
    doctors = [first] * 10 + [second] * 7 + [d for d in DOCTORS[3:8]]
    rng.shuffle(doctors)
    return [("prescriptions", prescription(f"rx-{tag}-{i}", key, at(day, 8 + i // 3,
                                                                    (i % 3) * 20), doctor))
            for i, doctor in enumerate(doctors)]


RX_RED = written(RED, DOCTORS[0], DOCTORS[1], "r")      # DOCTORS[0] has an integrity record
RX_YELLOW = written(YELLOW, DOCTORS[2], DOCTORS[1], "y")
PHASE_C = [
    ("prescriptions", SPIKE_RED), ("prescriptions", SPIKE_YELLOW),
    ("prescriptions", purchase("near", NEAR, at(SPIKE_DAY, 12), usual(NEAR, SPIKE_DAY) * 1.25)),
    ("payments", BIG_PAYMENT), *RX_RED, *RX_YELLOW,
]
CONC_RED_TIME = RX_RED[-1][1]["event_time"]
CONC_YELLOW_TIME = RX_YELLOW[-1][1]["event_time"]
EXPECTED = sorted([
    ("drug_purchase_spike", f"hospital_drug:{RED}", SPIKE_RED["event_time"], "yellow"),
    ("drug_purchase_spike", f"hospital_drug:{YELLOW}", SPIKE_YELLOW["event_time"], "yellow"),
    ("prescriber_concentration", f"hospital_drug:{RED}", CONC_RED_TIME, "red"),
    ("prescriber_concentration", f"hospital_drug:{YELLOW}", CONC_YELLOW_TIME, "yellow"),
    ("escalation", f"hospital_drug:{YELLOW}", CONC_YELLOW_TIME, "red"),
    ("payer_amount_outlier", f"payer:{PAYER}", BIG_PAYMENT["event_time"], "yellow"),
])


def metric(worker: Any, name: str, **labels: str) -> float:
    value = 0.0
    for sample, v in worker.metrics().items():
        n, _, rest = sample.partition("{")
        if n == name and all(f'{k}="{w}"' in rest for k, w in labels.items()):
            value += v
    return value


def wait_metric(worker: Any, name: str, at_least: float, timeout: float = 60.0,
                **labels: str) -> None:
    deadline = time.monotonic() + timeout
    value = 0.0
    while time.monotonic() < deadline:
        try:
            value = metric(worker, name, **labels)
        except OSError:
            value = 0.0
        if value >= at_least:
            return
        time.sleep(0.3)
    raise AssertionError(f"{name}{labels} = {value}, expected >= {at_least}\n{worker.tail()}")


def produce(world: World, records: list[tuple[str, dict[str, Any]]], tag: str) -> None:
    for i, (feed, record) in enumerate(records):
        world.produce(feed, record, key=f"upstream-{tag}-{i % 7}")
    world.flush()


def markers(world: World, when: str) -> None:
    """A purchase of a pair of its own on every prescriptions partition, and a payment of a
    payer of its own on every payments partition, at ``when``: every input source reaches that
    event time, so the watermark does."""
    for p in range(PARTITIONS["prescriptions"]):
        record = purchase(f"mark-{when}-{p}", "H-330784-MARK|XM0", when, 1)
        world.producer.send(world.topic("prescriptions"), value=orjson.dumps(record),
                            partition=p)
    for p in range(PARTITIONS["payments"]):
        record = payment(f"mark-pay-{when}-{p}", when, 1.0)
        record["payer_id"] = "FIN-330784-MARK"
        world.producer.send(world.topic("payments"), value=orjson.dumps(record), partition=p)
    world.flush()


@pytest.fixture(scope="module")
def run(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp("health")
    world = World(bootstrap, tmp, partitions=PARTITIONS, internal_partitions=4)
    try:
        first = world.start_worker()
        first.wait_ready()
        for record in REGISTRY:
            world.produce("registry", record, key=record["person_id"])
        world.flush()
        first.wait_metric('sunlight_registry_records{record_type="person"}', len(REGISTRY))
        produce(world, PHASE_A, "a")
        purchases = sum(1 for feed, _ in PHASE_A if feed == "prescriptions")
        wait_metric(first, "sunlight_events_processed_total", purchases, feed="prescriptions",
                    stage="keyed-hospital_drug")
        wait_metric(first, "sunlight_events_processed_total", len(PHASE_A) - purchases,
                    feed="payments", stage="keyed-payer_purpose")
        time.sleep(3.0)  # a commit interval or two: the state is on the changelog
        first.stop(sig=9)  # killed, not stopped: no goodbye, no final commit
        second = world.start_worker()
        second.wait_ready()
        second.wait_metric('sunlight_registry_records{record_type="person"}', len(REGISTRY))
        produce(world, PHASE_C, "c")
        markers(world, at(SPIKE_DAY + timedelta(days=2), 12, 1))
        alerts = world.read("alerts", expect=len(EXPECTED), timeout=120, settle=5.0)
        return {"alerts": alerts}
    finally:
        world.close()


def summary(alerts: list[dict]) -> list[tuple[str, str, str, str]]:
    return sorted((a["data"]["detector"], a["subject"], a["time"], a["data"]["severity"])
                  for a in alerts)


def test_exactly_the_expected_yellow_and_red_alerts(run: dict[str, Any]) -> None:
    alerts = run["alerts"]
    assert summary(alerts) == EXPECTED  # each once: no misses, no doubles, no extras
    for alert in alerts:
        validate("alert", {k: v for k, v in alert.items() if k != "_key"})
        assert alert["_key"] == alert["subject"]
        assert 0.0 < alert["data"]["score"] <= 1.0


def test_the_restarted_worker_scored_without_a_new_warm_up(run: dict[str, Any]) -> None:
    """The spikes were judged by the second worker, on the history the first one learned: a
    new warm-up would have needed 21 days of purchases after the restart."""
    by = {(a["data"]["detector"], a["subject"]): a["data"] for a in run["alerts"]}
    spike = by[("drug_purchase_spike", f"hospital_drug:{RED}")]
    assert spike["evidence"]["quantity"] == SPIKE_RED["quantity"]
    assert spike["evidence"]["expected_quantity"] == pytest.approx(usual(RED, SPIKE_DAY),
                                                                   rel=0.2)
    assert spike["score"] < 1.0


def test_evidence_links_the_chain(run: dict[str, Any]) -> None:
    alerts = run["alerts"]
    by = {(a["data"]["detector"], a["subject"]): a for a in alerts}
    spike = by[("drug_purchase_spike", f"hospital_drug:{RED}")]
    red = by[("prescriber_concentration", f"hospital_drug:{RED}")]["data"]["evidence"]
    assert red["records"][0]["event_id"] == spike["id"]
    assert red["doctors"] == [[DOCTORS[0], 10], [DOCTORS[1], 7]]
    assert red["registry_links"][0]["person_id"] == DOCTORS[0]
    esc = by[("escalation", f"hospital_drug:{YELLOW}")]["data"]["evidence"]
    cited = {by[("drug_purchase_spike", f"hospital_drug:{YELLOW}")]["id"],
             by[("prescriber_concentration", f"hospital_drug:{YELLOW}")]["id"]}
    assert set(esc["alerts"]) == cited
    outlier = by[("payer_amount_outlier", f"payer:{PAYER}")]["data"]
    assert outlier["action"] == "review" and outlier["evidence"]["amount"] == 60_000.0


def test_sanity_of_the_input() -> None:
    assert datetime.fromisoformat(CONC_RED_TIME).date() == SPIKE_DAY + timedelta(days=1)
    assert len(RX_RED) == 22 and len(RX_YELLOW) == 22
