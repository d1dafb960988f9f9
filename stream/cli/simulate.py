"""``sunlight simulate``: a seeded, realistic feed to Kafka or to files (stream/simulator)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from stream.cli.common import KAFKA, simulation_args
from stream.config import Settings

if TYPE_CHECKING:
    from stream.simulator.simulate import Record, Simulation

HELP = "write a seeded, realistic feed to Kafka (or files)"
ENV = KAFKA


def add_arguments(p: argparse.ArgumentParser) -> None:
    simulation_args(p)
    p.add_argument("--rate", type=float, default=0.0, help="events/s (0: as fast as possible)")
    p.add_argument("--out", type=Path, help="write JSONL files per topic and labels.jsonl to "
                                            "this folder instead of Kafka")
    p.add_argument("--gzip", action="store_true", help="with --out: gzip the files")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    from stream.security import client_options
    from stream.simulator.simulate import Simulation

    sim = Simulation(seed=args.seed, events=args.events, people=args.people)
    if args.out:
        return _to_files(sim, args.out, args.gzip)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                             linger_ms=5, **client_options(settings.kafka_security))
    registry = 0
    for record in sim.registry():
        producer.send(settings.topic(record.feed), key=record.key, value=record.value)
        registry += 1
    producer.flush()
    print(f"registry: {registry} records", flush=True)
    sent, started = 0, time.monotonic()
    try:
        for record in sim.stream():
            producer.send(settings.topic(record.feed), key=record.key, value=record.value)
            sent += 1
            if args.rate > 0:
                ahead = sent / args.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if sent % 1000 == 0:
                print(f"events: {sent}/{args.events}", flush=True)
    except KeyboardInterrupt:
        pass
    producer.flush()
    elapsed = time.monotonic() - started
    print(f"events: {sent} in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)")
    print("injected: " + orjson.dumps(sim.summary()).decode(), flush=True)
    return 0


def _to_files(sim: Simulation, out: Path, compress: bool) -> int:
    from stream.simulator.simulate import write_files

    def progress(records: Iterator[Record]) -> Iterator[Record]:
        for n, record in enumerate(records, 1):
            if n % 100_000 == 0:
                print(f"events: {n:,}/{sim.events:,}", flush=True)
            yield record

    written = write_files(out, sim.registry(), progress(sim.stream()), sim.labels, compress)
    summary = {"seed": sim.seed, "events": sim.events, "injected": sim.summary()}
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print(f"wrote {', '.join(written)} and labels.jsonl ({len(sim.labels)} expected "
          f"findings) to {out}")
    print("injected: " + orjson.dumps(sim.summary()).decode())
    return 0
