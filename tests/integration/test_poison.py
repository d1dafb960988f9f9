"""No poison pill: records around every size limit, valid and invalid, on every input topic of a
real worker on the real broker. Each one is either processed or dead-lettered with a reason,
every dead letter fits its limit (a cut original says so, with its length and sha256), the
input offsets are committed past all of them, and the worker keeps running and alerting."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from schemas import validate
from tests.integration.harness import World

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
RECORD_LIMIT = 100_000
MESSAGE_LIMIT = 133_000  # the smallest the start check allows: RECORD_LIMIT + 32 KiB
SIZES = sorted({int(f * limit) for f in (0.7, 0.9, 1.0, 1.2)
                for limit in (RECORD_LIMIT, MESSAGE_LIMIT)})
VILLAGE = "VC-330784-001"
EXAMPLE_OF = {"bids": "bid.bid", "attendance": "attendance.check-in",
              "prescriptions": "prescription.prescription",
              "payments": "payment.welfare-subsidy-executed",
              "registry": "registry-person.village-cadre",
              "alert-dispositions": "disposition.confirmed"}


def example(feed: str, n: int) -> dict[str, Any]:
    record = orjson.loads((EXAMPLES / f"{EXAMPLE_OF[feed]}.json").read_bytes())
    if feed == "registry":
        record["person_id"] = f"P-SIZE-{n}"
    else:
        record["event_id"] = f"size-{feed}-{n}"
    return record


def padded(record: dict[str, Any], size: int) -> bytes:
    """``record`` with an extra field making it exactly ``size`` bytes of JSON."""
    record = {**record, "pad": ""}
    record["pad"] = "x" * (size - len(orjson.dumps(record)))
    raw = orjson.dumps(record)
    assert len(raw) == size
    return raw


def cadre(pid: str, org: str = VILLAGE) -> dict[str, Any]:
    return {"record_type": "person", "person_id": pid, "roles": [
        {"role": "village_cadre", "org_id": org, "region": "330784", "start": "2020-01-01"}]}


def award(event_id: str, company: str) -> dict[str, Any]:
    return {"event_id": event_id, "event_time": "2026-05-14T10:00:00+08:00",
            "region": "330784", "stage": "award", "project_id": f"PRJ-{event_id}",
            "buyer_id": VILLAGE, "category": "works", "amount": 380000.0,
            "bidder_id": company}


def work_subsidy(event_id: str, payee: str, size: int | None = None) -> bytes:
    record = {"event_id": event_id, "event_time": "2026-05-14T09:30:00+08:00",
              "region": "330784", "status": "executed", "payer_id": VILLAGE,
              "payee_id": payee, "payee_kind": "person", "purpose": "work_subsidy",
              "amount": 500.0}
    return padded(record, size) if size else orjson.dumps(record)


def test_records_around_every_limit_never_stop_the_worker(bootstrap: str,
                                                          tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        worker = world.start_worker(SUNLIGHT_MAX_RECORD_BYTES=str(RECORD_LIMIT),
                                    SUNLIGHT_MAX_MESSAGE_BYTES=str(MESSAGE_LIMIT))
        worker.wait_ready()
        # A cadre, and a company whose legal rep is related to 3,000 cadres of the buyer.
        world.produce("registry", cadre("P-CADRE"), key="P-CADRE")
        relatives = [f"P-REL-{i:05d}" for i in range(3000)]
        for pid in relatives:
            world.produce("registry", cadre(pid), key=pid)
        world.produce("registry", {"record_type": "person", "person_id": "P-REP",
                                   "relatives": relatives}, key="P-REP")
        world.produce("registry", {"record_type": "company", "company_id": "C-FAN",
                                   "legal_rep_id": "P-REP", "shareholder_ids": [],
                                   "region": "330784"}, key="C-FAN")
        world.flush()
        worker.wait_metric('sunlight_registry_records{record_type="person"}', 3002)

        originals: dict[str, bytes] = {}  # by sha256
        expected_letters = 0
        for feed in EXAMPLE_OF:
            for size in SIZES:
                record = example(feed, size)
                key = record.get("person_id")
                valid = padded(record, size)
                invalid = valid[:-1]  # cut JSON
                for raw in (valid, invalid):
                    originals[hashlib.sha256(raw).hexdigest()] = raw
                    world.produce(feed, raw, key=key)
                expected_letters += 1  # the invalid one
                if size > RECORD_LIMIT or feed == "alert-dispositions":
                    expected_letters += 1  # oversized; or a verdict for an unknown alert
        # Valid and small, but its envelope is not: orjson writes 1e5 as 100000.0.
        expands = orjson.dumps({**orjson.loads(work_subsidy("expands", "P-NOBODY")),
                                "pad": [1e5] * 15_000})
        originals[hashlib.sha256(expands).hexdigest()] = expands
        world.produce("payments", expands)
        expected_letters += 1
        # Valid records at the input limit still alert; so does the fan-out award.
        world.produce("payments", work_subsidy("at-limit", "P-CADRE", RECORD_LIMIT))
        world.produce("bids", award("fan-out", "C-FAN"))
        world.flush()

        alerts = world.read("alerts", expect=2, timeout=120, settle=2)
        by_event = {a["data"]["evidence"]["records"][0]["event_id"]: a for a in alerts}
        assert set(by_event) == {"at-limit", "fan-out"}
        fan_out = by_event["fan-out"]
        assert len(orjson.dumps(fan_out)) <= RECORD_LIMIT
        validate("alert", {k: v for k, v in fan_out.items() if k != "_key"})
        evidence = fan_out["data"]["evidence"]
        shown = len(evidence["registry_links"])
        assert 0 < shown < 3000
        left_out = (evidence.get("omitted", {}).get("registry_links", 0)
                    + evidence.get("registry_links_truncated", {}).get("not_followed", 0))
        assert left_out > 0

        letters = world.read("dead-letters", expect=expected_letters, timeout=120, settle=2,
                             distinct="_key")
        # At least once: a redelivered record may be dead-lettered twice, never missed.
        origins = {letter["_key"] for letter in letters}
        assert len(origins) == expected_letters, sorted(origins)
        for letter in letters:
            del letter["_key"]
            assert len(orjson.dumps(letter)) <= MESSAGE_LIMIT
            validate("dead-letter", letter)
            assert letter["reason"] and letter["reason_code"]
            kept = base64.b64decode(letter["value_b64"])
            if letter.get("value_truncated"):
                assert letter["value_sha256"] in originals, {
                    k: v for k, v in letter.items() if k != "value_b64"}
                original = originals[letter["value_sha256"]]
                assert original.startswith(kept) and letter["value_bytes"] == len(original)
        codes = {letter["reason_code"] for letter in letters}
        assert codes == {"not_json", "oversized", "unknown_alert"}
        assert any(letter.get("value_truncated") for letter in letters)

        assert worker.process.poll() is None
        # Every input offset is committed: nothing will be read again after a restart.
        consumer = KafkaConsumer(bootstrap_servers=bootstrap,
                                 group_id=f"{world.prefix}sunlight-ingest",
                                 enable_auto_commit=False)
        try:
            inputs = [TopicPartition(world.topic(feed), p) for feed in EXAMPLE_OF
                      for p in consumer.partitions_for_topic(world.topic(feed))]
            ends = consumer.end_offsets(inputs)
            assert {tp: consumer.committed(tp) or 0 for tp in inputs} == ends
        finally:
            consumer.close()

        # An alert the broker refuses (its topic's limit lowered under the worker's feet) is
        # dead-lettered as coming from the record that raised it; the worker goes on.
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, world.topic("alerts"),
                                                configs={"max.message.bytes": "20000"})],
                               raise_on_unknown=False)
        finally:
            admin.close()
        world.produce("bids", award("refused", "C-FAN"))
        world.flush()
        letters = world.read("dead-letters", expect=expected_letters + 1, timeout=90, settle=2,
                             distinct="_key")
        [refused, *_] = [letter for letter in letters
                         if letter["reason_code"] == "unpublishable"]
        assert refused["topic"] == world.topic("bids")
        assert worker.process.poll() is None
        world.produce("payments", work_subsidy("small", "P-CADRE"))
        world.flush()
        alerts = world.read("alerts", expect=3, timeout=60, settle=1)
        assert "small" in {a["data"]["evidence"]["records"][0]["event_id"] for a in alerts}
    finally:
        world.close()


def test_a_broker_limit_below_the_workers_refuses_to_start(bootstrap: str,
                                                           tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.alter_configs([ConfigResource(
                ConfigResourceType.TOPIC, world.topic("dead-letters"),
                configs={"max.message.bytes": "500000"})], raise_on_unknown=False)
        finally:
            admin.close()
        worker = world.start_worker()
        assert worker.process.wait(timeout=60) == 2
        log = worker.tail()
        assert world.topic("dead-letters") in log and "max.message.bytes" in log
    finally:
        world.close()


def test_registry_tombstones_delete_and_a_key_unlike_the_id_is_dead_lettered(
        bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        worker = world.start_worker()
        worker.wait_ready()
        world.produce("registry", cadre("P-GONE"), key="P-GONE")
        world.produce("registry", None, key="P-GONE")  # a deletion
        world.produce("registry", cadre("P-REAL"), key="P-OTHER")  # keyed unlike its id
        world.produce("registry", cadre("P-LAST"), key="P-LAST")
        world.flush()
        worker.wait_metric("sunlight_registry_deletions_total", 1)
        [letter] = world.read("dead-letters", expect=1, timeout=60, settle=3)
        assert letter["reason_code"] == "key_mismatch"
        assert "P-OTHER" in letter["reason"] and "P-REAL" in letter["reason"]
        metrics = worker.metrics()
        rejected = {k: v for k, v in metrics.items()
                    if k.startswith("sunlight_records_rejected_total") and v}
        assert rejected == {f'sunlight_records_rejected_total{{reason="key_mismatch",'
                            f'topic="{world.topic("registry")}"}}': 1.0}
        # Only P-LAST: P-GONE deleted, P-REAL never applied (a deletion by its id would miss).
        assert metrics['sunlight_registry_records{record_type="person"}'] == 1
        # Poison on the worker's own topics (a bug or a stray producer): each message is
        # dead-lettered as processing_error and its stage goes on.
        for internal in ("sunlight-keyed-payee", "sunlight-keyed-alert"):
            world.producer.send(world.prefix + internal, key=b"P-X", value=b"\x00 not json")
        # A payment to the deleted cadre is no longer held.
        world.produce("payments", work_subsidy("to-gone", "P-GONE"))
        world.produce("payments", work_subsidy("to-last", "P-LAST"))
        world.flush()
        alerts = world.read("alerts", expect=1, timeout=60, settle=2)
        assert [a["subject"] for a in alerts] == ["person:P-LAST"]
        letters = world.read("dead-letters", expect=3, timeout=60, settle=1, distinct="_key")
        poison = {x["topic"] for x in letters if x["reason_code"] == "processing_error"}
        assert poison == {world.prefix + "sunlight-keyed-payee",
                          world.prefix + "sunlight-keyed-alert"}
        assert worker.process.poll() is None
        log = worker.log_path.read_bytes()
        assert b"keyed stage failed on" in log and b"P-X" not in log  # where, not what
    finally:
        world.close()
