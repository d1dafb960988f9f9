"""What reading alerts costs downstream: N alerts on a throwaway topic of the real broker, read
three ways, each timed three times (medians):

- baseline: a bare kafka-python consumer reading them (no decoding);
- the client: ``AlertConsumer.run`` (schema validation, seen ids, a commit after each alert);
- ``sunlight dispose``'s look-up of the last alert's id (``stream.cli.verdicts.find_alert``).

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python bench/alert_readers.py [--alerts 20000]

The topics are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alert_consumer import AlertConsumer  # noqa: E402
from detectors.base import Finding  # noqa: E402
from detectors.findings import to_cloudevent  # noqa: E402
from stream.cli.verdicts import find_alert  # noqa: E402
from stream.config import Settings  # noqa: E402
from stream.topics import create_topics  # noqa: E402


def alert(i: int) -> dict:
    return to_cloudevent(Finding(
        detector="ineligible_subsidy_payee", detector_version="1.0", subject=f"person:P-{i}",
        severity="red" if i % 3 else "yellow", route="discipline", sector="public_payments",
        action="hold", score=0.9, summary=f"work_subsidy payment pay-{i} names a cadre",
        time="2026-05-14T09:30:00+08:00", basis=(f"pay-{i}",),
        evidence={"records": [{"topic": "payments", "event_id": f"pay-{i}",
                               "fields": {"region": "330784", "amount": 700}}],
                  "observed": "payee holds village_cadre", "threshold": "holds none"}))


def bare_read(settings: Settings, n: int) -> None:
    consumer = KafkaConsumer(settings.topic("alerts"), bootstrap_servers=settings.bootstrap_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    read = 0
    while read < n:
        read += sum(len(m) for m in consumer.poll(timeout_ms=500).values())
    consumer.close()


def client_read(settings: Settings, n: int) -> None:
    with AlertConsumer(settings.bootstrap_servers, f"bench-{uuid.uuid4().hex[:6]}",
                       settings.topic("alerts")) as consumer:
        stats = consumer.run(lambda a: None, max_alerts=n)
    assert stats.handled == n, stats


def timed(label: str, fn: object, n: int) -> float:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - started)
    median = statistics.median(runs)
    print(f"{label:<44} median {median:7.2f} s  ({n / median:9,.0f} alerts/s)  runs "
          + ", ".join(f"{r:.2f}" for r in runs), flush=True)
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    args = parser.parse_args()
    n = args.alerts
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    settings = Settings(bootstrap_servers=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}-")
    create_topics(settings)
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        alerts = [alert(i) for i in range(n)]
        for a in alerts:
            producer.send(settings.topic("alerts"), key=a["subject"].encode(),
                          value=orjson.dumps(a))
        producer.flush()
        producer.close()
        size = len(orjson.dumps(alerts[0]))
        print(f"{n:,} alerts of ~{size} bytes on {settings.topic('alerts')}")
        base = timed("baseline: bare kafka-python read", lambda: bare_read(settings, n), n)
        client = timed("AlertConsumer.run (validate, dedupe, commit)",
                       lambda: client_read(settings, n), n)
        last = alerts[-1]["id"]
        lookup = timed("find_alert (sunlight dispose look-up)",
                       lambda: find_alert(settings, last), n)
        print(f"ratios to the baseline: client {client / base:.1f}x, look-up {lookup / base:.1f}x")
    finally:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(settings.topic_prefix)])
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
