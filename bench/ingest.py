"""Ingest benchmark: decode + validate + dedupe, in records/s on one core, beside a bare
aiokafka consumer that reads the same topic in the same run.

    .venv/bin/python bench/ingest.py [--records 200000] [--rounds 3]

Three figures, each the median of ``--rounds`` runs taken in turn (the machine is shared, so
runs are interleaved and medians reported):
  bare     aiokafka consumer, read only                 (the baseline)
  ingest   aiokafka consumer + decode/validate/dedupe   (what the ingest agent does per record)
  cpu      decode/validate/dedupe on bytes in memory    (the ingest path alone, no I/O)
Writes the table as JSON to var/bench/ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stream.config import Settings  # noqa: E402
from stream.ingest import Rejected, ingest  # noqa: E402
from stream.simulator.simulate import Simulation  # noqa: E402
from stream.topics import create_topics  # noqa: E402


def payments(n: int) -> list[bytes]:
    sim = Simulation(seed=1, events=n * 3, people=5000, malformed_rate=0.0, duplicate_rate=0.0)
    out = [r.value for r in sim.stream() if r.feed == "payments"]
    while len(out) < n:
        out += out[: n - len(out)]
    return out[:n]


async def consume(settings: Settings, topic: str, n: int, work: bool) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    seen: set[str] = set()
    count = 0
    start = time.perf_counter()
    try:
        while count < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                for m in messages:
                    count += 1
                    if work:
                        result = ingest("payments", m.value, key=m.key, topic=m.topic,
                                        partition=m.partition, offset=m.offset)
                        if not isinstance(result, Rejected):
                            event_id = result.record["event_id"]
                            if event_id not in seen:
                                seen.add(event_id)
    finally:
        elapsed = time.perf_counter() - start
        await consumer.stop()
    return count / elapsed


def cpu(values: list[bytes]) -> float:
    seen: set[str] = set()
    start = time.perf_counter()
    for offset, value in enumerate(values):
        result = ingest("payments", value, topic="payments", partition=0, offset=offset)
        if not isinstance(result, Rejected) and result.record["event_id"] not in seen:
            seen.add(result.record["event_id"])
    return len(values) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Settings.from_env()
    bench = Settings(bootstrap_servers=settings.bootstrap_servers,
                     topic_prefix=f"bench-{uuid.uuid4().hex[:6]}-", partitions=1)
    create_topics(bench)
    topic = bench.topic("payments")
    values = payments(args.records)
    producer = KafkaProducer(bootstrap_servers=bench.bootstrap_servers, acks=1, linger_ms=20,
                             batch_size=256 * 1024)
    for value in values:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()
    size = statistics.mean(len(v) for v in values)
    print(f"{args.records:,} payment records ({size:.0f} bytes each) on {topic}")

    runs: dict[str, list[float]] = {"bare": [], "ingest": [], "cpu": []}
    for _ in range(args.rounds):
        runs["bare"].append(asyncio.run(consume(bench, topic, args.records, work=False)))
        runs["ingest"].append(asyncio.run(consume(bench, topic, args.records, work=True)))
        runs["cpu"].append(cpu(values))
    medians = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\n{'path':<10}{'median rec/s':>14}{'vs bare':>10}   runs")
    for name, rate in medians.items():
        print(f"{name:<10}{rate:>14,.0f}{rate / medians['bare']:>10.2f}   "
              + ", ".join(f"{r:,.0f}" for r in runs[name]))
    out = Path(__file__).resolve().parent.parent / "var" / "bench" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps({"records": args.records, "record_bytes": size, "runs": runs,
                                  "medians": medians}, option=orjson.OPT_INDENT_2))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
