"""``sunlight``: the command line (worker, topics, simulate, watch, run).

``sunlight run`` is the whole product on one machine: broker (unless one is configured), topics,
a worker, the simulated feed, and a live view of the alerts. Ctrl-C stops what it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter, deque
from dataclasses import replace
from pathlib import Path

import orjson

from stream.config import ROOT, Settings
from stream.privacy import mask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sunlight", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run one stream worker (Faust)")
    p.add_argument("--web-port", type=int, help="metrics/health port (default SUNLIGHT_WEB_PORT)")
    p.add_argument("--data-dir", type=Path, help="worker state folder (default SUNLIGHT_DATA_DIR)")

    p = sub.add_parser("topics", help="create the contract's topics (idempotent)")
    p.add_argument("--partitions", action="append", default=[], metavar="TOPIC=N",
                   help="partition count of one topic (default SUNLIGHT_PARTITIONS)")

    p = sub.add_parser("simulate", help="write a seeded, realistic feed to Kafka")
    _simulation_args(p)
    p.add_argument("--rate", type=float, default=0.0, help="events/s (0: as fast as possible)")

    p = sub.add_parser("watch", help="show alerts as they arrive")
    p.add_argument("--from-beginning", action="store_true")

    p = sub.add_parser("run", help="broker + topics + worker + simulated feed + live alerts")
    _simulation_args(p, seed=None)
    p.add_argument("--rate", type=float, default=200.0, help="simulated events/s")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    return {"worker": cmd_worker, "topics": cmd_topics, "simulate": cmd_simulate,
            "watch": cmd_watch, "run": cmd_run}[args.command](settings, args)


def _simulation_args(p: argparse.ArgumentParser, seed: int | None = 7) -> None:
    p.add_argument("--seed", type=int, default=seed, help="random seed (same seed, same feed)")
    p.add_argument("--events", type=int, default=10_000, help="number of event records")
    p.add_argument("--people", type=int, default=2_000, help="people in the registry")


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import faust

    from detectors.config import ConfigError, load_detectors
    from stream.app import Sunlight

    if args.web_port:
        settings = replace(settings, web_port=args.web_port)
    if args.data_dir:
        settings = replace(settings, data_dir=args.data_dir)
    try:
        detectors = load_detectors(settings.detectors_file)
    except ConfigError as exc:
        print(f"sunlight: {exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sunlight = Sunlight(settings, detectors)
    worker = faust.Worker(sunlight.app, loglevel=settings.log_level.upper(),
                          workdir=str(settings.data_dir), redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0


def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    from stream.topics import create_topics

    partitions = {}
    for item in args.partitions:
        name, _, count = item.partition("=")
        partitions[name] = int(count)
    created = create_topics(settings, partitions)
    print(f"created {len(created)} topic(s): {', '.join(created) or '(all existed)'}")
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    from stream.simulate import Simulation

    sim = Simulation(seed=args.seed, events=args.events, people=args.people)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                             linger_ms=5, **settings.kafka_security)
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


def cmd_watch(settings: Settings, args: argparse.Namespace,
              status: callable | None = None) -> int:  # type: ignore[valid-type]
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("alerts"), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False, consumer_timeout_ms=1000, **settings.kafka_security)
    counts: Counter[tuple[str, str]] = Counter()
    latest: deque[str] = deque(maxlen=8)
    ids: set[str] = set()
    tty = sys.stdout.isatty()
    try:
        while True:
            for message in consumer:
                alert = orjson.loads(message.value)
                if alert["id"] in ids:  # a redelivered alert: same id, shown once
                    continue
                ids.add(alert["id"])
                data = alert["data"]
                counts[(data["detector"], data["severity"])] += 1
                latest.append(
                    f"{alert['time'][:19]}  {data['severity']:<6} {data['action']:<6} "
                    f"{data['detector']:<26} {mask(alert['subject'], settings.mask_person_ids)}"
                )
                if not tty:
                    print(latest[-1], flush=True)
            if tty:
                _render(counts, latest, status() if status else "")
            elif status:
                print(status(), flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()


def _render(counts: Counter[tuple[str, str]], latest: deque[str], status: str) -> None:
    lines = ["\x1b[2J\x1b[H\x1b[1mSunlight: live alerts\x1b[0m  (Ctrl-C stops)", ""]
    lines.append(f"{'detector':<28}{'severity':<10}{'alerts':>8}")
    for (detector, severity), n in sorted(counts.items()):
        colour = "\x1b[31m" if severity == "red" else "\x1b[33m"
        lines.append(f"{detector:<28}{colour}{severity:<10}\x1b[0m{n:>8}")
    lines += ["", "latest:"] + [f"  {line}" for line in latest] + ["", status]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from stream.topics import create_topics

    logs = ROOT / "var" / "run"
    logs.mkdir(parents=True, exist_ok=True)
    started_broker = False
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        status = subprocess.run([str(ROOT / "deploy" / "kafka-local"), "status"],
                                capture_output=True)
        if status.returncode != 0:
            print("starting the local Kafka broker (deploy/kafka-local start)...", flush=True)
            subprocess.run([str(ROOT / "deploy" / "kafka-local"), "start"], check=True)
            started_broker = True
    created = create_topics(settings)
    print(f"topics ready ({len(created)} created)", flush=True)
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    py = sys.executable
    children = []
    worker_log = open(logs / "worker.log", "ab")  # noqa: SIM115 - closed at exit
    sim_log = open(logs / "simulate.log", "ab")  # noqa: SIM115
    children.append(subprocess.Popen([py, "-m", "stream.cli", "worker"], cwd=ROOT,
                                     stdout=worker_log, stderr=subprocess.STDOUT))
    children.append(subprocess.Popen(
        [py, "-m", "stream.cli", "simulate", "--seed", str(seed), "--events", str(args.events),
         "--people", str(args.people), "--rate", str(args.rate)],
        cwd=ROOT, stdout=sim_log, stderr=subprocess.STDOUT))
    print(f"worker log: {logs / 'worker.log'}; simulator log: {logs / 'simulate.log'}")
    started = time.monotonic()
    metrics_url = f"http://{settings.web_host}:{settings.web_port}/metrics"

    def status() -> str:
        totals = _scrape(metrics_url)
        return (f"[{time.monotonic() - started:6.0f}s] records in {totals.get('in', 0):,.0f}  "
                f"rejected {totals.get('rejected', 0):,.0f}  "
                f"duplicates {totals.get('dup', 0):,.0f}  "
                f"alerts {totals.get('alerts', 0):,.0f}   (seed {seed})")

    try:
        return cmd_watch(settings, argparse.Namespace(from_beginning=False), status=status)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_broker:
            subprocess.run([str(ROOT / "deploy" / "kafka-local"), "stop"], check=False)
        print("stopped.")


def _scrape(url: str) -> dict[str, float]:
    names = {"sunlight_records_in_total": "in", "sunlight_records_rejected_total": "rejected",
             "sunlight_duplicates_dropped_total": "dup", "sunlight_alerts_total": "alerts"}
    totals: dict[str, float] = {}
    try:
        body = urllib.request.urlopen(url, timeout=1).read().decode()
    except OSError:
        return totals
    for line in body.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in names:
            totals[names[name]] = totals.get(names[name], 0) + float(line.rsplit(" ", 1)[1])
    return totals


if __name__ == "__main__":
    sys.exit(main())
