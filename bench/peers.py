"""The peer benchmark (issue 17): one job in Sunlight and in other Python stream processors, on
the same backlog on the real broker, in one run, each beside a bare aiokafka consumer.

    .venv/bin/python bench/peers.py                      # 200,000 payments (a few minutes)
    .venv/bin/python bench/peers.py --events 20000       # a quick run
    .venv/bin/python bench/peers.py --peers sunlight,quix-keyed

The job, the same everywhere: read a payment, validate it (``stream.ingest``: the contract's
decode and schema), keep per-payee state holding the last ``--dedupe-ids`` (50) event ids and
drop an event id seen before, look the payee up in the registry and publish an alert when the
payee holds office in the payer (``ineligible_subsidy_payee``'s check, CloudEvent as Sunlight
publishes it). The backlog: ``--events`` payments keyed by payee over ``--payees`` payees who
all hold office (village cadres), 1% paid by their own village (alerting), 0.5% duplicates
(an earlier payment of the same payee sent again), 0.1% invalid (amount not a number).

Peers (``--peers``, default all), each from its own optional dependency group, never a runtime
dependency (a missing one is reported with the extra to install, and skipped):

sunlight           a real ``sunlight worker`` process with only that detector enabled (a
                   detectors file) and SUNLIGHT_DEDUPE_MAX_IDS; it loads the registry from its
                   topic, is paused while the backlog is produced, then drains it (bench/pipeline
                   drain: resume to last event processed). Always repartitions (ingest stage).
quix-keyed         Quix Streams (``.[peers-quix]``): RocksDB state with its changelog topic, one
                   stateful ``apply`` over the payee-keyed input.
quix-group-by      the same after a ``group_by`` repartition by payee.
faust-table        a plain Faust agent with a Table (``.[peers-faust]``), over the keyed input.
faust-group-by     the same after ``stream.group_by`` by payee.

Peers other than Sunlight load the registry in-process before reading (not timed) and run in a
child process of their own; each is timed from its first record to its last, CPU from the
process's own CPU time (all threads). The bare consumer (read + JSON decode, this process) runs
once per peer right before it, so the ratio compares figures taken moments apart on a shared
machine. Every peer must publish exactly the expected number of alerts (distinct alerting
payments), else the run fails. Last line: ``sunlight/quix-streams ratio R`` (events/s of
Sunlight over Quix Streams with keyed input).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.people import VILLAGES  # noqa: E402
from bench.pipeline import (  # noqa: E402
    TZ,
    Consumed,
    Deployment,
    bare,
    drain,
    produce,
    wait_ready,
)
from stream.config import Settings  # noqa: E402

DETECTOR = "ineligible_subsidy_payee"
#: Peer -> (the module it needs, the extra that installs it).
PEERS: dict[str, tuple[str, str]] = {
    "sunlight": ("stream", "."),
    "quix-keyed": ("quixstreams", ".[peers-quix]"),
    "quix-group-by": ("quixstreams", ".[peers-quix]"),
    "faust-table": ("faust", ".[peers-faust]"),
    "faust-group-by": ("faust", ".[peers-faust]"),
}
#: Share of the backlog the in-process peers read before their clock starts.
WARMUP = 0.05
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=TZ)


# -- the backlog ------------------------------------------------------------------------------
def payee_id(i: int) -> str:
    return f"P-Q{i:08d}"


def office(i: int) -> str:
    return VILLAGES[i % len(VILLAGES)]


def registry_records(payees: int) -> Iterator[dict[str, Any]]:
    """Every payee a village cadre of one village since 2020."""
    for i in range(payees):
        org = office(i)
        yield {"record_type": "person", "person_id": payee_id(i), "name": f"payee {i}",
               "roles": [{"role": "village_cadre", "org_id": org, "region": org.split("-")[1],
                          "start": "2020-01-01"}]}


@dataclass
class Backlog:
    events: int = 0
    alerting: int = 0
    duplicates: int = 0
    invalid: int = 0


def payments(n: int, payees: int, seed: int, backlog: Backlog
             ) -> Iterator[tuple[str, bytes | None, bytes]]:
    """``n`` (feed, key, value) payments keyed by payee; counts what it made in ``backlog``."""
    rng = random.Random(f"bench-peers-{seed}")
    recent: list[tuple[bytes, bytes]] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.005 and recent:  # an earlier payment of a payee, sent again
            key, value = recent[rng.randrange(len(recent))]
            backlog.duplicates += 1
        else:
            p = rng.randrange(payees)
            own = office(p)
            alerting = roll > 0.99
            payer = own if alerting else VILLAGES[(VILLAGES.index(own) + 1 + rng.randrange(
                len(VILLAGES) - 1)) % len(VILLAGES)]
            record: dict[str, Any] = {
                "event_id": f"pq-{i:09d}",
                "event_time": (T0 + timedelta(seconds=10 * i)).isoformat(),
                "region": payer.split("-")[1], "status": "executed", "payer_id": payer,
                "payee_id": payee_id(p), "payee_kind": "person", "purpose": "work_subsidy",
                "amount": float(500 + i % 1000)}
            if 0.005 <= roll < 0.006:
                record["amount"] = "n/a"  # wrong_type: dead-lettered, never an alert
                backlog.invalid += 1
            elif alerting:
                backlog.alerting += 1
            key, value = payee_id(p).encode(), orjson.dumps(record)
            if len(recent) < 2000:
                recent.append((key, value))
            else:
                recent[rng.randrange(len(recent))] = (key, value)
        backlog.events += 1
        yield "payments", key, value


# -- the job, shared by the in-process peers --------------------------------------------------
class Job:
    """validate -> dedupe against the key's last ids -> registry check -> alert bytes.

    ``seen`` is the state the framework keeps per payee (a list of event ids)."""

    def __init__(self, payees: int, dedupe_ids: int) -> None:
        from detectors.config import load_detectors
        from detectors.registry import Registry

        self.registry = Registry()
        for record in registry_records(payees):
            self.registry.apply(record)
        [self.detector] = [d for d in load_detectors(ROOT / "detectors.yaml")
                           if d.name == DETECTOR]
        self.dedupe_ids = dedupe_ids

    @staticmethod
    def validate(value: bytes) -> dict[str, Any] | None:
        from stream.ingest import Rejected, ingest

        event = ingest("payments", value)
        return None if isinstance(event, Rejected) else dict(event.record)

    def process(self, record: dict[str, Any], seen: list[str] | None
                ) -> tuple[list[str] | None, bytes | None]:
        """(the new seen ids or None when a duplicate, the alert or None)."""
        from detectors.base import Event
        from detectors.findings import to_cloudevent
        from schemas import event_ts

        seen = seen or []
        if record["event_id"] in seen:
            return None, None
        seen = [*seen[1 - self.dedupe_ids:], record["event_id"]] if seen else \
            [record["event_id"]]
        findings = self.detector.check(Event("payments", record, event_ts(record)),
                                       self.registry)
        return seen, orjson.dumps(to_cloudevent(findings[0])) if findings else None


@dataclass
class Timer:
    """Wall and CPU time over the records after the first ``WARMUP`` share (a framework's
    start-up: assignment, table recovery, is not its rate), with the wall time at each tenth."""

    expect: int
    count: int = 0
    start: float = 0.0
    cpu_start: float = 0.0
    tenths: list[float] = field(default_factory=list)

    def tick(self) -> bool:
        """Count one record; True when it was the last."""
        self.count += 1
        if self.count == max(1, int(self.expect * WARMUP)):
            self.start, self.cpu_start = time.perf_counter(), time.process_time()
        if self.count % max(1, self.expect // 10) == 0:
            self.tenths.append(time.perf_counter())
        return self.count >= self.expect

    def result(self) -> Consumed:
        return Consumed(self.count - max(1, int(self.expect * WARMUP)),
                        time.perf_counter() - self.start, time.process_time() - self.cpu_start)


def write_result(out: Path, timer: Timer) -> None:
    consumed = timer.result()
    out.write_bytes(orjson.dumps({"events": consumed.events, "seconds": consumed.seconds,
                                  "cpu_seconds": consumed.cpu_seconds,
                                  "tenths_s": [t - timer.start for t in timer.tenths]}))


# -- peers in child processes -----------------------------------------------------------------
def run_quix(args: argparse.Namespace, group_by: bool) -> None:
    from quixstreams import Application

    job = Job(args.payees, args.dedupe_ids)
    timer = Timer(args.expect)
    app = Application(broker_address=args.bootstrap, consumer_group=args.group,
                      auto_offset_reset="earliest", state_dir=str(args.state_dir),
                      loglevel="WARNING")
    source = app.topic(args.topic, key_deserializer="str", value_deserializer="bytes")
    alerts = app.topic(args.alerts_topic, value_serializer="bytes")
    sdf = app.dataframe(source)

    def done() -> None:
        write_result(args.out, timer)
        app.stop()

    def dedupe_and_check(record: dict[str, Any], state: Any) -> bytes | None:
        seen, alert = job.process(record, state.get("seen"))
        if seen is not None:
            state.set("seen", seen)
        if timer.tick():
            done()
        return alert

    def validate(value: bytes) -> dict[str, Any] | None:
        record = job.validate(value)
        if record is None and timer.tick():
            done()
        return record

    sdf = sdf.apply(validate).filter(lambda record: record is not None)
    if group_by:
        sdf = sdf.group_by(lambda record: record["payee_id"], name="payee")
    sdf = sdf.apply(dedupe_and_check, stateful=True).filter(lambda alert: alert is not None)
    sdf.to_topic(alerts)
    app.run()


def run_faust(args: argparse.Namespace, group_by: bool) -> None:
    import logging

    import faust

    job = Job(args.payees, args.dedupe_ids)
    timer = Timer(args.expect)
    app = faust.App(args.group, broker=f"kafka://{args.bootstrap}", store="memory://",
                    web_enabled=False, autodiscover=False, datadir=str(args.state_dir),
                    consumer_auto_offset_reset="earliest", topic_partitions=args.partitions)
    source = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    alerts = app.topic(args.alerts_topic, key_serializer="raw", value_serializer="raw")
    table = app.Table("seen", default=None, key_type=str, value_type=list,
                      partitions=args.partitions)

    async def finish() -> None:
        write_result(args.out, timer)
        await app.producer.flush()
        os.kill(os.getpid(), signal.SIGTERM)

    @app.agent(source)
    async def agent(stream: Any) -> None:
        if group_by:
            stream = stream.group_by(
                lambda value: orjson.loads(value).get("payee_id") or "", name="payee")
        async for value in stream:
            record = job.validate(value)
            if record is not None:
                payee = record["payee_id"]
                seen, alert = job.process(record, table.get(payee))
                if seen is not None:
                    table[payee] = seen
                if alert is not None:
                    await alerts.send(key=payee.encode(), value=alert)
            if timer.tick():
                await finish()

    worker = faust.Worker(app, loglevel="WARNING", redirect_stdouts=False)
    logging.getLogger().setLevel(logging.WARNING)
    worker.execute_from_commandline()


def peer_child(args: argparse.Namespace) -> None:
    {"quix-keyed": lambda: run_quix(args, False), "quix-group-by": lambda: run_quix(args, True),
     "faust-table": lambda: run_faust(args, False),
     "faust-group-by": lambda: run_faust(args, True)}[args.child]()


def run_peer(args: argparse.Namespace, settings: Settings, peer: str, expect: int,
             work: Path) -> Consumed:
    out = work / f"{peer}.json"
    log = work / f"{peer}.log"
    command = [sys.executable, __file__, "--child", peer, "--topic", settings.topic("payments"),
               "--alerts-topic", f"{settings.topic_prefix}alerts-{peer}",
               "--group", f"{settings.topic_prefix}{peer}", "--state-dir", str(work / peer),
               "--out", str(out), "--expect", str(expect), "--payees", str(args.payees),
               "--dedupe-ids", str(args.dedupe_ids), "--partitions", str(args.partitions),
               "--bootstrap", args.bootstrap]
    with open(log, "wb") as f:
        child = subprocess.Popen(command, cwd=work, stdout=f, stderr=subprocess.STDOUT)
        try:
            child.wait(timeout=args.peer_timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if not out.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"{peer}: no result (exit {child.returncode}); its log {log}:\n{tail}")
    r = orjson.loads(out.read_bytes())
    print(f"  {peer}: wall seconds at each tenth: "
          + " ".join(f"{t:.1f}" for t in r["tenths_s"]), flush=True)
    return Consumed(r["events"], r["seconds"], r["cpu_seconds"])


def topic_count(bootstrap: str, topic: str) -> int:
    """Records on ``topic`` (sum of its partitions' end offsets; the topics are new)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        consumer.close()


def drop_topics(bootstrap: str, prefix: str) -> None:
    """The peers' own topics (Quix names its changelog and repartition topics
    ``changelog__<group>--...``: the run's prefix is inside the name, not at its start)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        mine = [t for t in admin.list_topics() if prefix in t]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def run_sunlight(args: argparse.Namespace, dep: Deployment, work: Path,
                 backlog: Backlog) -> tuple[Consumed, int]:
    detectors = work / "detectors.yaml"
    detectors.write_text(f"detectors:\n  {DETECTOR}: {{}}\n")
    worker = dep.worker({"SUNLIGHT_DETECTORS_FILE": str(detectors),
                         "SUNLIGHT_DEDUPE_MAX_IDS": str(args.dedupe_ids)})
    wait_ready([worker], timeout=120 + args.payees / 2000)
    worker.pause()
    produced = asyncio.run(produce(dep.settings, payments(args.events, args.payees, args.seed,
                                                          backlog)))
    print(f"  backlog: {produced.count:,} payments produced in {produced.seconds:.1f}s "
          f"({backlog.alerting:,} alerting, {backlog.duplicates:,} duplicates, "
          f"{backlog.invalid:,} invalid)", flush=True)
    result = drain(dep.settings, [worker], produced.count)
    worker.stop()
    consumed = Consumed(produced.count, result["seconds"],
                        result["cpu_us_per_event"] * produced.count / 1e6)
    return consumed, topic_count(args.bootstrap, dep.settings.topic("alerts"))


def installed(module: str) -> bool:
    return module in sys.modules or importlib.util.find_spec(module) is not None


# -- main -------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.splitlines()[:2]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--events", type=int, default=200_000, help="payments in the backlog")
    parser.add_argument("--payees", type=int, default=20_000)
    parser.add_argument("--dedupe-ids", type=int, default=50, help="event ids kept per payee")
    parser.add_argument("--partitions", type=int, default=4,
                        help="partitions of every topic, internal ones too")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated, of: {', '.join(PEERS)} (default all)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--peer-timeout", type=float, default=1800.0,
                        help="seconds a peer may take at most")
    parser.add_argument("--keep-topics", action="store_true")
    for hidden in ("child", "topic", "alerts-topic", "group", "bootstrap"):
        parser.add_argument(f"--{hidden}", help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peer_child(args)
        return 0
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer {unknown[0]!r}; peers are {', '.join(PEERS)}")
    missing = {p: PEERS[p][1] for p in peers if not installed(PEERS[p][0])}
    for peer, extra in missing.items():
        print(f"{peer}: not installed, skipped: install it with `pip install -e '{extra}'`")
    peers = [p for p in peers if p not in missing]
    args.bootstrap = Settings.from_env().bootstrap_servers

    dep = Deployment(args, "peers")
    outputs = [NewTopic(f"{dep.settings.topic_prefix}alerts-{peer}", args.partitions, 1)
               for peer in peers if peer != "sunlight"]
    if outputs:  # the broker may not create topics on first use
        admin = KafkaAdminClient(bootstrap_servers=args.bootstrap)
        admin.create_topics(outputs)
        admin.close()
    backlog = Backlog()
    rows: list[tuple[str, Consumed, Consumed, int]] = []
    work = Path(tempfile.mkdtemp(prefix="sunlight-peers-"))
    try:
        registry = (("registry", r["person_id"].encode(), orjson.dumps(r))
                     for r in registry_records(args.payees))
        asyncio.run(produce(dep.settings, registry))
        if "sunlight" in peers:
            # Sunlight first: its worker is paused while the backlog is produced.
            print("== sunlight", flush=True)
            consumed, alerts = run_sunlight(args, dep, work, backlog)
            reference = asyncio.run(bare(dep.settings, backlog.events, ("payments",)))
            rows.append(("sunlight", consumed, reference, alerts))
        else:
            asyncio.run(produce(dep.settings, payments(args.events, args.payees, args.seed,
                                                       backlog)))
        for peer in peers:
            if peer == "sunlight":
                continue
            print(f"== {peer}", flush=True)
            reference = asyncio.run(bare(dep.settings, backlog.events, ("payments",)))
            consumed = run_peer(args, dep.settings, peer, backlog.events, work)
            alerts = topic_count(args.bootstrap, f"{dep.settings.topic_prefix}alerts-{peer}")
            rows.append((peer, consumed, reference, alerts))
    finally:
        dep.close()
        if not args.keep_topics:
            drop_topics(args.bootstrap, dep.settings.topic_prefix)
        subprocess.run(["rm", "-rf", str(work)], check=False)

    print(f"\nbacklog: {backlog.events:,} payments, {args.payees:,} payees, "
          f"{backlog.alerting:,} alerting, {backlog.duplicates:,} duplicates, "
          f"{backlog.invalid:,} invalid; {args.partitions} partitions; {os.cpu_count()} cores")
    print(f"{'peer':<16}{'events/s':>10}{'CPU µs/ev':>11}{'bare ev/s':>11}{'ratio':>8}"
          f"{'alerts':>9}")
    wrong = []
    for peer, consumed, reference, alerts in rows:
        print(f"{peer:<16}{consumed.events_per_s:>10,.0f}{consumed.cpu_us_per_event:>11,.0f}"
              f"{reference.events_per_s:>11,.0f}"
              f"{consumed.events_per_s / reference.events_per_s:>8.3f}{alerts:>9,}")
        if alerts != backlog.alerting:
            wrong.append(f"{peer} published {alerts:,} alerts, expected {backlog.alerting:,}")
    for line in wrong:
        print(f"WRONG: {line}")
    rates = {peer: consumed.events_per_s for peer, consumed, _, _ in rows}
    cpu = {peer: consumed.cpu_us_per_event for peer, consumed, _, _ in rows}
    if "sunlight" in rates and "quix-keyed" in rates:
        # CPU per event is the steadier figure on a shared machine: wall rates move with
        # whatever else runs, CPU time much less.
        print(f"sunlight/quix-streams CPU per event ratio {cpu['sunlight'] / cpu['quix-keyed']:.3f}"
              " (below 1: Sunlight uses less)")
        print(f"sunlight/quix-streams ratio {rates['sunlight'] / rates['quix-keyed']:.3f}")
    else:
        print("sunlight/quix-streams ratio n/a (needs both peers: sunlight, quix-keyed)")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
