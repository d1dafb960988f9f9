"""End to end on a real broker: registry and payments in, alerts and dead letters out.

The same input is run through two deployments whose input topics differ in partition counts
and in the keys upstream used; both must give exactly the same alerts (ids and content), which
also shows the ids are stable across runs.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import validate
from tests.integration.harness import World, by_id

pytestmark = pytest.mark.integration

VILLAGE, OTHER = "VC-330784-001", "VC-330784-002"
PEOPLE = [
    {"record_type": "person", "person_id": "P-LUO", "name": "Luo", "relatives": [],
     "integrity_flags": [], "roles": [{"role": "village_cadre", "org_id": VILLAGE,
                                       "region": "330784", "start": "2021-01-01"}]},
    {"record_type": "person", "person_id": "P-FORMER", "roles": [
        {"role": "village_cadre", "org_id": VILLAGE, "region": "330784",
         "start": "2015-01-01", "end": "2025-12-31"}]},
    {"record_type": "person", "person_id": "P-OFFICIAL", "roles": [
        {"role": "public_official", "org_id": VILLAGE, "region": "330784",
         "start": "2024-01-01"}]},
    {"record_type": "person", "person_id": "P-OTHERCADRE", "roles": [
        {"role": "village_cadre", "org_id": OTHER, "region": "330784", "start": "2020-01-01"}]},
    {"record_type": "person", "person_id": "P-VILLAGER", "roles": []},
]
COMPANY = {"record_type": "company", "company_id": "C-1", "legal_rep_id": "P-VILLAGER",
           "shareholder_ids": ["P-VILLAGER"], "region": "330784"}


def payment(event_id: str, payee: str, *, payer: str = VILLAGE, purpose: str = "work_subsidy",
            status: str = "requested") -> dict[str, Any]:
    return {"event_id": event_id, "event_time": "2026-05-14T09:30:00+08:00",
            "region": "330784", "status": status, "payer_id": payer, "payee_id": payee,
            "payee_kind": "person", "purpose": purpose, "amount": 1500.0,
            "channel": "village-finance-v2"}  # an unknown extra field: kept, not an error


# (key, value) in production order; values that are bytes are sent as they are (malformed).
MALFORMED = {
    "not_json": b"<payment id=7>",
    "missing_field": b'{"event_id":"pay-bad-1","event_time":"2026-05-14T09:30:00+08:00",'
                     b'"region":"330784","status":"requested"}',
    "bad_time": None,  # filled below: a local time without an offset
    "not_object": b'["pay-bad-3"]',
}
_bad_time = payment("pay-bad-2", "P-LUO")
_bad_time["event_time"] = "2026-05-14 09:30:00"
MALFORMED["bad_time"] = __import__("orjson").dumps(_bad_time)

INPUT: list[tuple[str, Any]] = [
    ("bad", MALFORMED["not_json"]),
    ("alert-hold", payment("pay-luo-requested", "P-LUO")),
    ("bad", MALFORMED["missing_field"]),
    ("alert-review", payment("pay-official-executed", "P-OFFICIAL", status="executed")),
    ("silent", payment("pay-former", "P-FORMER")),
    ("silent", payment("pay-welfare", "P-LUO", purpose="welfare_subsidy")),
    ("silent", payment("pay-otherbody", "P-OTHERCADRE")),
    ("silent", payment("pay-villager", "P-VILLAGER")),
    ("bad", MALFORMED["bad_time"]),
    ("duplicate", payment("pay-luo-requested", "P-LUO")),  # an upstream retry
    ("bad", MALFORMED["not_object"]),
]


def feed(world: World, keys: Iterator[bytes | None]) -> None:
    for person in PEOPLE:
        world.produce("registry", person, key=person["person_id"])
    world.produce("registry", COMPANY, key="C-1")
    world.flush()
    worker = world.workers[0]
    worker.wait_metric('sunlight_registry_records{record_type="person"}', len(PEOPLE))
    for _, value in INPUT:
        world.produce("payments", value, key=next(keys))
    world.flush()


def run(world: World, keys: Iterator[bytes | None]) -> tuple[list[dict], list[dict]]:
    worker = world.start_worker()
    worker.wait_ready()
    feed(world, keys)
    alerts = world.read("alerts", expect=2)
    letters = world.read("dead-letters", expect=4, settle=1.0)
    return alerts, letters


@pytest.fixture(scope="module")
def first(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    world = World(bootstrap, tmp_path_factory.mktemp("first"),
                  partitions={"payments": 1, "registry": 1})
    try:
        alerts, letters = run(world, iter(lambda: None, 0))  # upstream wrote no keys
        yield world, alerts, letters
    finally:
        world.close()


@pytest.fixture(scope="module")
def second(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    rng = random.Random(3)
    world = World(bootstrap, tmp_path_factory.mktemp("second"),
                  partitions={"payments": 5, "registry": 3}, internal_partitions=3)
    try:
        keys = iter(lambda: f"upstream-{rng.randrange(1000)}".encode(), 0)
        alerts, letters = run(world, keys)
        yield world, alerts, letters
    finally:
        world.close()


def test_cadre_payments_alert_with_content(first: tuple) -> None:
    _, alerts, _ = first
    assert sorted(a["data"]["evidence"]["records"][0]["event_id"] for a in alerts) == [
        "pay-luo-requested", "pay-official-executed"]
    for alert in alerts:
        validate("alert", {k: v for k, v in alert.items() if k != "_key"})
        assert alert["_key"] == alert["subject"]  # keyed by subject
        assert alert["data"]["detector"] == "ineligible_subsidy_payee"
        assert alert["data"]["severity"] == "red"
        assert alert["data"]["route"] == "discipline_inspection"
    held = next(a for a in alerts if a["subject"] == "person:P-LUO")
    assert held["data"]["action"] == "hold"
    assert held["time"] == "2026-05-14T09:30:00+08:00"
    evidence = held["data"]["evidence"]
    assert evidence["records"][0]["topic"] == "payments"
    assert evidence["registry_links"][0]["role"] == "village_cadre"
    assert evidence["registry_links"][0]["org_id"] == VILLAGE
    assert evidence["threshold"] and evidence["observed"]
    reviewed = next(a for a in alerts if a["subject"] == "person:P-OFFICIAL")
    assert reviewed["data"]["action"] == "review"


def test_malformed_records_are_dead_lettered_with_reasons(first: tuple) -> None:
    world, _, letters = first
    assert sorted(letter["reason_code"] for letter in letters) == sorted(MALFORMED)
    for letter in letters:
        validate("dead-letter", {k: v for k, v in letter.items() if k != "_key"})
        assert letter["topic"] == world.topic("payments")
        assert letter["partition"] == 0
        original = base64.b64decode(letter["value_b64"])
        assert original == MALFORMED[letter["reason_code"]]
        assert letter["offset"] == [v for _, v in INPUT].index(original)
        assert len(letter["reason"]) > 10
    missing = next(x for x in letters if x["reason_code"] == "missing_field")
    assert "payer_id" in missing["reason"] or "amount" in missing["reason"]
    bad_time = next(x for x in letters if x["reason_code"] == "bad_time")
    assert "event_time" in bad_time["reason"]


def test_metrics_count_the_run(first: tuple) -> None:
    world, _, _ = first
    metrics = world.workers[0].metrics()
    payments = world.topic("payments")
    assert metrics[f'sunlight_records_in_total{{topic="{payments}"}}'] == len(INPUT)
    for code in MALFORMED:
        key = f'sunlight_records_rejected_total{{reason="{code}",topic="{payments}"}}'
        assert metrics[key] == 1
    assert metrics['sunlight_duplicates_dropped_total{feed="payments",stage="keyed-payee"}'] == 1
    assert metrics['sunlight_alerts_total{action="hold",detector="ineligible_subsidy_payee",'
                   'severity="red"}'] == 1
    assert metrics['sunlight_alerts_total{action="review",detector="ineligible_subsidy_payee",'
                   'severity="red"}'] == 1
    assert metrics['sunlight_event_to_alert_seconds_count{detector="ineligible_subsidy_payee"}'] \
        == 2
    assert metrics['sunlight_ingest_to_alert_seconds_count{detector="ineligible_subsidy_payee"}'] \
        == 2
    assert metrics['sunlight_registry_ready'] == 1
    assert any(name.startswith("faust_") for name in metrics)  # Faust's own sensor too
    assert any(name.startswith("sunlight_consumer_lag_messages") for name in metrics)


def test_other_partitions_and_keys_give_the_same_alerts(first: tuple, second: tuple) -> None:
    _, alerts_a, letters_a = first
    _, alerts_b, letters_b = second
    strip = lambda a: {k: v for k, v in a.items() if k != "_key"}  # noqa: E731
    assert len(alerts_a) == len(alerts_b) == 2
    assert {i: strip(a) for i, a in by_id(alerts_a).items()} == \
           {i: strip(a) for i, a in by_id(alerts_b).items()}
    assert sorted(x["reason_code"] for x in letters_a) == \
           sorted(x["reason_code"] for x in letters_b)


def test_tables_are_not_served_over_http(first: tuple) -> None:
    import urllib.error
    import urllib.request

    worker = first[0].workers[0]
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(worker.url("/table/state-payee/"), timeout=5)
    assert err.value.code == 404


def test_worker_log_masks_person_ids(first: tuple) -> None:
    log = Path(first[0].workers[0].log_path).read_text(errors="replace")
    assert "alert " in log
    assert "P-LUO" not in log and "P-OFFICIAL" not in log
