"""Verdicts on alerts from people: look an alert up on the alerts topic, write a disposition
to ``alert-dispositions`` (``sunlight dispose`` and the alert browser), read the verdicts back.

The worker keeps the verdict per alert id and exports precision from it (stream/worker/app.py); here
is only the client side, with kafka-python.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas import RecordError, decode, validate
from schemas.records import Disposition
from stream.config import Settings
from stream.headers import headers_for
from stream.security import client_options


def read_topic(settings: Settings, feed: str, timeout_s: float = 30.0) -> Iterator[Any]:
    """Every message on the logical topic ``feed`` from the beginning up to its end as of
    now (no consumer group, nothing committed)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             enable_auto_commit=False, **client_options(settings.kafka_security))
    try:
        topic = settings.topic(feed)
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    if message.offset < end[tp]:
                        yield message
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
        if remaining:
            raise TimeoutError(f"could not read {topic} to its end in {timeout_s:.0f} s")
    finally:
        consumer.close()


def find_alert(settings: Settings, alert_id: str) -> dict[str, Any] | None:
    """The alert published with this id, or None. Reads the alerts topic (keyed by subject,
    not id) from the start: seconds for a topic of a few hundred thousand alerts."""
    needle = orjson.dumps(alert_id)
    for message in read_topic(settings, "alerts"):
        if message.value and needle in message.value:  # cheap test before decoding
            try:
                alert = orjson.loads(message.value)
            except orjson.JSONDecodeError:
                continue
            if isinstance(alert, dict) and alert.get("id") == alert_id:
                return alert
    return None


def latest_verdicts(settings: Settings) -> dict[str, Disposition]:
    """alert id -> its latest disposition (a later one replaces an earlier, as on appeal)."""
    verdicts: dict[str, Disposition] = {}
    for message in read_topic(settings, "alert-dispositions"):
        try:
            record = decode("alert-dispositions", message.value or b"")
        except RecordError:
            continue  # the worker dead-letters it; nothing to show
        verdicts[record["alert_id"]] = record  # type: ignore[assignment]
    return verdicts


def disposition(alert_id: str, verdict: str, note: str | None = None,
                decided_by: str | None = None, now: datetime | None = None) -> Disposition:
    """A valid ``alert-dispositions`` record (raises schemas.RecordError if it is not)."""
    record: dict[str, Any] = {
        "alert_id": alert_id, "verdict": verdict,
        "decided_by": decided_by or getpass.getuser(),
        "decided_at": (now or datetime.now(UTC)).astimezone().isoformat(timespec="seconds"),
    }
    if note:
        record["note"] = note
    return validate("disposition", record)  # type: ignore[return-value]


def send_disposition(settings: Settings, record: Disposition) -> None:
    """Write it, keyed by the alert id, and wait for the broker's confirmation."""
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                             **client_options(settings.kafka_security))
    try:
        producer.send(settings.topic("alert-dispositions"), key=record["alert_id"].encode(),
                      value=orjson.dumps(record),
                      headers=headers_for("alert-dispositions")).get(timeout=30)
    finally:
        producer.close()
