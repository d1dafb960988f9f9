"""What a deployment has written to its state changelogs: records, bytes and the largest value
per changelog topic, read back from the broker (``KAFKA_BOOTSTRAP_SERVERS``).

    .venv/bin/python bench/pipeline.py --parts latency --rate 10800 --keep-topics
    .venv/bin/python bench/changelog_bytes.py bench-latency-471ce4-

The argument is the deployment's topic prefix (``SUNLIGHT_TOPIC_PREFIX``; a bench run's is in
its worker log's name, under var/bench/logs). The bytes are the values as written, before
compaction has removed any: what the worker encoded and the broker took.
"""

from __future__ import annotations

import argparse
import os

from kafka import KafkaConsumer, TopicPartition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="the deployment's topic prefix")
    args = parser.parse_args()
    consumer = KafkaConsumer(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        enable_auto_commit=False, max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    topics = sorted(t for t in consumer.topics()
                    if t.startswith(args.prefix) and t.endswith("-changelog"))
    if not topics:
        raise SystemExit(f"no changelog topics with the prefix {args.prefix!r}")
    total = 0
    for topic in topics:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        records = written = largest = 0
        while any(consumer.position(tp) < end[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=1000, max_records=50_000).values():
                for record in batch:
                    size = len(record.value or b"")
                    records, written, largest = records + 1, written + size, max(largest, size)
        total += written
        print(f"{topic.removeprefix(args.prefix):<40} {records:>9,} records "
              f"{written / 1e6:>9.1f} MB   largest {largest / 1e3:.1f} KB")
    print(f"{'total':<40} {'':>17} {total / 1e6:>9.1f} MB")
    consumer.close()


if __name__ == "__main__":
    main()
