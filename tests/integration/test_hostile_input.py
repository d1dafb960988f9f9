"""Hostile input on every input topic of a real worker: each bad record ends in dead-letters
with a reason, the worker keeps running, and the good records around them still alert.

Delivery is at-least-once: a rebalance of the ingest group (more likely on a loaded machine)
makes the worker read a batch again, so a bad record may be dead-lettered twice, identically
(its key is its topic:partition:offset) and counted twice. The test therefore waits for every
bad record's dead letter (distinct keys), not for a number of messages, and for the metric to
count at least as many rejections as there are dead letters."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from tests.integration.harness import World

pytestmark = pytest.mark.integration

VILLAGE = "VC-330784-031"
GOOD_PAYMENT = {"event_id": "h-pay", "event_time": "2026-05-14T09:30:00+08:00",
                "region": "330784", "status": "requested", "payer_id": VILLAGE,
                "payee_id": "P-H", "payee_kind": "person", "purpose": "work_subsidy",
                "amount": 500.0}


def hostile() -> list[bytes]:
    good = orjson.dumps(GOOD_PAYMENT)
    deep = b"[" * 5000 + b"]" * 5000
    return [
        b"\x00\x01\x02\xff\xfe random bytes",
        good[: len(good) // 2],                                   # truncated JSON
        good.replace(b"500.0", b"1e999"),                          # a number beyond float
        good.replace(b"500.0", b"NaN"),
        good.replace(b"500.0", b"Infinity"),
        good.replace(b"500.0", b'"500"'),                          # wrong type
        deep,                                                      # deep nesting
        good.replace(b'"P-H"', b'"' + b"x" * 100_000 + b'"'),       # very long string
        b'{"event_id": "\xc3\x28"}',                               # invalid UTF-8
        good.replace(b"+08:00", b""),                              # time without offset
        good.replace(b"2026-05-14", b"9999-05-14"),                # far future
        good.replace(b"2026-05-14", b"1066-10-14"),                # far past
        b"{" + b" " * 200_000 + b"}",                              # over the size limit
        b"",                                                       # empty
        b"null",
    ]


def test_hostile_records_are_dead_lettered_and_good_ones_still_alert(
        bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        worker = world.start_worker(SUNLIGHT_MAX_RECORD_BYTES="100000")
        worker.wait_ready()
        world.produce("registry", {"record_type": "person", "person_id": "P-H", "roles": [
            {"role": "village_cadre", "org_id": VILLAGE, "region": "330784",
             "start": "2020-01-01"}]}, key="P-H")
        world.flush()
        worker.wait_metric('sunlight_registry_records{record_type="person"}', 1)
        bad = hostile()
        topics = ("bids", "attendance", "prescriptions", "payments")
        sent: dict[str, bytes] = {}  # topic:partition:offset -> the bad record
        for i, topic in enumerate(topics):
            for value in bad:
                where = world.producer.send(world.topic(topic), value=value).get(timeout=60)
                sent[f"{where.topic}:{where.partition}:{where.offset}"] = value
            world.produce("payments", {**GOOD_PAYMENT, "event_id": f"h-pay-{i}"})
        world.flush()
        try:
            alerts = {a["id"]: a for a in world.read("alerts", expect=len(topics), timeout=90,
                                                     distinct="id")}.values()
            assert sorted(a["data"]["evidence"]["records"][0]["event_id"] for a in alerts) == [
                f"h-pay-{i}" for i in range(len(topics))]
            letters = world.read("dead-letters", expect=len(sent), timeout=90, settle=1,
                                 distinct="_key")
            by_key = {letter["_key"]: letter for letter in letters}
            assert sorted(by_key) == sorted(sent)  # every bad record, and nothing else
            for key, letter in by_key.items():
                assert letter["reason"] and letter["reason_code"]
                assert base64.b64decode(letter["value_b64"] or "") == sent[key]  # bytes kept
            assert {letter["reason_code"] for letter in letters} >= {
                "not_json", "wrong_type", "bad_time", "oversized", "empty", "not_object"}
            assert worker.process.poll() is None  # still running
            # Counted before each dead letter is sent, so never fewer than the letters read.
            metrics = worker.metrics()
            rejected = sum(v for k, v in metrics.items()
                           if k.startswith("sunlight_records_rejected_total"))
            assert rejected >= len(letters) >= len(sent)
        except AssertionError as exc:  # where the worker waits, for the one who debugs it
            raise AssertionError(f"{exc}\n--- worker tasks and log ---\n{worker.stacks()}") \
                from None
    finally:
        world.close()
