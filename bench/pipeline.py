"""Full-pipeline throughput of one worker with every detector on, beside a bare aiokafka
consumer that only reads and decodes the same topics, in the same run.

    .venv/bin/python bench/pipeline.py [--events 200000] [--people 20000] [--partitions 4]

The feed (simulator, all four feeds, every scenario) is produced first; then the worker starts
on the backlog and its rate is read off its own /metrics: input records / (time from the first
record read to the last event processed). Also reports the worker's resident memory. Writes
var/bench/pipeline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from kafka import KafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stream.config import Settings  # noqa: E402
from stream.simulate import Simulation  # noqa: E402
from stream.topics import create_topics  # noqa: E402

FEEDS = ("bids", "attendance", "prescriptions", "payments")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[str, float]:
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            base = name.split("{", 1)[0]
            out[base] = out.get(base, 0.0) + float(value)
    return out


async def bare(settings: Settings, total: int) -> float:
    consumer = AIOKafkaConsumer(*(settings.topic(f) for f in FEEDS),
                                bootstrap_servers=settings.bootstrap_servers,
                                group_id=f"bare-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    count, start = 0, None
    try:
        while count < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                if start is None:
                    start = time.perf_counter()
                for message in messages:
                    try:
                        orjson.loads(message.value)
                    except orjson.JSONDecodeError:
                        pass
                    count += 1
    finally:
        await consumer.stop()
    return count / (time.perf_counter() - (start or time.perf_counter()))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    base = Settings.from_env()
    settings = Settings(bootstrap_servers=base.bootstrap_servers, partitions=args.partitions,
                        topic_prefix=f"benchp-{uuid.uuid4().hex[:6]}-")
    create_topics(settings)
    sim = Simulation(seed=3, events=args.events, people=args.people, step_s=30)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks=1,
                             linger_ms=20, batch_size=512 * 1024)
    people = 0
    for record in sim.registry():
        producer.send(settings.topic("registry"), key=record.key, value=record.value)
        people += 1
    inputs = 0
    for record in sim.stream():
        producer.send(settings.topic(record.feed), key=record.key, value=record.value)
        inputs += 1
    producer.flush()
    print(f"produced {inputs:,} events and {people:,} registry records to {settings.topic_prefix}*")

    bare_rate = asyncio.run(bare(settings, inputs))
    port = free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "SUNLIGHT_TOPIC_PREFIX": settings.topic_prefix,
           "SUNLIGHT_PARTITIONS": str(args.partitions), "SUNLIGHT_WEB_PORT": str(port),
           "SUNLIGHT_DATA_DIR": str(ROOT / "var" / "bench" / "pipeline-worker"),
           "SUNLIGHT_LOG_LEVEL": "warning"}
    worker = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        start = end = None
        last_processed, stable_since = -1.0, time.monotonic()
        peak_rss = 0.0
        while True:
            time.sleep(0.25)
            metrics = scrape(port)
            peak_rss = max(peak_rss, rss_mb(worker.pid))
            records_in = metrics.get("sunlight_records_in_total", 0.0) - metrics.get(
                "sunlight_records_in_total_registry", 0.0)
            processed = metrics.get("sunlight_events_processed_total", 0.0)
            if start is None and processed > 0:
                start = time.monotonic()
            if processed != last_processed:
                last_processed, stable_since = processed, time.monotonic()
                end = stable_since
            elif start is not None and records_in >= inputs + people and \
                    time.monotonic() - stable_since > 5:
                break
            if worker.poll() is not None:
                raise SystemExit("the worker exited")
        elapsed = (end or time.monotonic()) - (start or time.monotonic())
        rate = inputs / elapsed if elapsed > 0 else float("nan")
        result = {"events": inputs, "registry_people": people, "partitions": args.partitions,
                  "bare_consumer_events_per_s": bare_rate, "worker_events_per_s": rate,
                  "ratio": rate / bare_rate, "keyed_events_processed": last_processed,
                  "alerts": metrics.get("sunlight_alerts_total", 0.0),
                  "worker_peak_rss_mb": peak_rss}
        print(f"\n{'':<34}{'events/s':>12}")
        print(f"{'bare aiokafka consumer (decode)':<34}{bare_rate:>12,.0f}")
        print(f"{'worker, every detector on':<34}{rate:>12,.0f}   ratio {rate / bare_rate:.2f}")
        print(f"\nkeyed events processed {last_processed:,.0f}, alerts "
              f"{result['alerts']:,.0f}, worker peak RSS {peak_rss:,.0f} MB")
        out = ROOT / "var" / "bench" / "pipeline.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        print(f"written to {out}")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
