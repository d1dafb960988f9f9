"""What Faust itself costs per event on this machine: the ceiling for any Faust-based stage.

    .venv/bin/python bench/faust_ceiling.py [--messages 50000] [--partitions 8]

Produces the messages to a fresh topic on the local broker, then times three Faust agents
over them, each in a fresh worker process with the worker's own settings (linger, acks):
``noop`` (reads and acks each event), ``send`` (also forwards each to another topic, as the
ingest stage does) and ``table`` (also writes one table entry per event, as the keyed stage
does). Beside them, a bare aiokafka consumer reading the same topic. Prints events/s for each
and writes var/bench/faust_ceiling.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stream.config import Settings  # noqa: E402

MODES = ("noop", "send", "table")


def run_agent(mode: str, topic: str, total: int, bootstrap: str, out: Path) -> None:
    """The worker process: one agent over ``topic``; writes its rate to ``out`` and stops."""
    import faust

    app = faust.App(f"ceiling-{uuid.uuid4().hex[:6]}", broker=f"kafka://{bootstrap}",
                    store="memory://", web_enabled=False, autodiscover=False,
                    datadir=str(out.parent / f"ceiling-{mode}"), producer_acks=-1,
                    producer_linger=0.005, producer_max_batch_size=512 * 1024,
                    consumer_auto_offset_reset="earliest", topic_partitions=8)
    source = app.topic(topic, key_serializer="raw", value_serializer="raw")
    sink = app.topic(f"{topic}-out", key_serializer="raw", value_serializer="raw")
    table = app.Table("ceiling", default=None, key_type=str, value_type=bytes)

    @app.agent(source)
    async def agent(stream):  # type: ignore[no-untyped-def]
        count, start = 0, 0.0
        async for event in stream.events():
            if not count:
                start = time.perf_counter()
            message = event.message
            if mode == "send":
                await sink.send(key=message.key, value=message.value)
            elif mode == "table":
                table[message.key.decode()] = message.value
            count += 1
            if count == total:
                rate = (total - 1) / (time.perf_counter() - start)
                out.write_bytes(orjson.dumps({"mode": mode, "events_per_s": rate}))
                os.kill(os.getpid(), signal.SIGTERM)

    worker = faust.Worker(app, loglevel="WARNING", redirect_stdouts=False)
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    worker.execute_from_commandline()


async def bare(topic: str, total: int, bootstrap: str) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                group_id=f"bare-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    count, start = 0, None
    try:
        while count < total:
            for messages in (await consumer.getmany(timeout_ms=1000,
                                                    max_records=10_000)).values():
                start = start or time.perf_counter()
                count += len(messages)
    finally:
        await consumer.stop()
    return count / (time.perf_counter() - (start or time.perf_counter()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--agent", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    bootstrap = Settings.from_env().bootstrap_servers
    if args.agent:  # the child process
        run_agent(args.agent, args.topic, args.messages, bootstrap, args.out)
        return 0

    topic = f"ceiling-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, args.partitions, 1),
                         NewTopic(f"{topic}-out", args.partitions, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                             batch_size=512 * 1024)
    value = orjson.dumps({"event_id": "x" * 12, "event_time": "2026-05-14T09:30:00+08:00",
                          "region": "330784", "amount": 1234.5, "payee_id": "P-0000001"})
    for i in range(args.messages):
        producer.send(topic, key=f"k{i % 5000}".encode(), value=value)
    producer.flush()
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, float] = {"messages": args.messages,
                                "bare_aiokafka": asyncio.run(bare(topic, args.messages,
                                                                  bootstrap))}
    for mode in MODES:
        out = out_dir / f"ceiling-{mode}.json"
        out.unlink(missing_ok=True)
        subprocess.run([sys.executable, __file__, "--agent", mode, "--topic", topic,
                        "--messages", str(args.messages), "--out", str(out)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        result[f"faust_{mode}"] = orjson.loads(out.read_bytes())["events_per_s"] \
            if out.exists() else float("nan")
    admin.delete_topics([topic, f"{topic}-out"])
    print(f"{'':<36}{'events/s':>10}")
    for name, value_ in result.items():
        if name != "messages":
            print(f"{name:<36}{value_:>10,.0f}")
    (out_dir / "faust_ceiling.json").write_bytes(orjson.dumps(result,
                                                              option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
