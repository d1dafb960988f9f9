"""Soak: a steady feed for minutes, optional worker kills, every alert checked against replay.

One or two workers read a steady generated feed on the local broker, optionally SIGKILLed and
restarted in turn; then the run drains and checks every alert against the replay of the input.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 100] [--workers 2] [--fault-every 0]
                                   [--partitions 4] [--people 2000] [--seed 11] [--step-s 300]
                                   [--disable DETECTOR ...] [--log-level warning]
                                   [--drain-timeout 600] [--keep-topics]
                                   [--hostile-every N] [--record-limit B] [--open-files N]

    e.g. .venv/bin/python bench/soak.py --minutes 3 --rate 200 --workers 2 --fault-every 30
         .venv/bin/python bench/soak.py --minutes 3 --rate 100 --fault-every 40 \
             --hostile-every 50 --open-files 512

With --hostile-every N (bench/hostile.py), a hostile record follows every N-th event: records
of 0.7, 0.9, 1.0 and 1.2 times --record-limit (the workers' SUNLIGHT_MAX_RECORD_BYTES, 100,000
by default then) valid and cut, duplicate keys, ids spelt
with invisible characters, registry deletions and mis-keyed registry records; and hostile HTTP
clients hold idle and slow connections and send malformed requests to every worker while a
probe times /livez. The report adds the dead letters expected for them beside those on the
topic (distinct origins), unplanned worker exits, the probe's latencies and what the workers'
logs hold that they must not (the clients' marker, "Too many open files", tracebacks).
--open-files lowers the workers' open-files limit (ulimit -n).

The feed (simulator, all four feeds, every scenario, 1% cases, --step-s seconds of event time
per record) is produced at --rate events/s for --minutes to a fresh topic prefix on the broker
(KAFKA_BOOTSTRAP_SERVERS, default the local one) and read by --workers worker processes (each
its own port, data folder and log in var/bench/soak/). With --fault-every S, every S seconds one
worker (the next in turn) is SIGKILLed and started again at once (session timeout 10 s).

After the feed the run waits for the drain: every consumer group of the run (their ids start
with the topic prefix) has committed the end of every topic it reads, every worker is ready, and
no alert has arrived for 15 s. Then the alerts topic is compared with what the replay command
finds for the same input: expected/got, missing, unexpected ids, content mismatches, duplicates
(an id again) and duplicates whose content differs (each difference field by field in the JSON).
Lag is sampled every second two ways: the workers' own ``sunlight_consumer_lag_messages`` gauges
(summed over live workers; the worker refreshes them every 5 s) and the broker's view (end
offsets minus committed offsets, per topic). Also: each worker's resident memory at the start of
the feed, at the end and at its peak; late records (``sunlight_late_records_total``, live,
beside the replay's count); dead letters beside the malformed records fed.

Writes var/bench/soak.json; the run's topics and groups are deleted unless --keep-topics. Exits
1 when the drain timed out or an alert is missing, unexpected or different.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hostile import Clients, log_findings, mix  # noqa: E402
from bench.pipeline import FEEDS, free_port, rss_bytes, terminate, worker_ready  # noqa: E402
from detectors.config import load_detectors  # noqa: E402
from stream.backtest.replay import Replay  # noqa: E402
from stream.config import Settings  # noqa: E402
from stream.ingest import Rejected, ingest  # noqa: E402
from stream.simulator.simulate import Record, Simulation  # noqa: E402
from stream.topics import create_topics  # noqa: E402

OUT = ROOT / "var" / "bench"
#: Input partitions: unequal counts, as real feeds have.
INPUT_PARTITIONS = {"payments": 3, "attendance": 2}


def metrics(port: int) -> dict[str, float]:
    """A worker's /metrics as {'name{labels}': value}; {} when it does not answer."""
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3).read()
    except OSError:
        return {}
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class Worker:
    """One worker slot: ``sunlight worker`` as an OS process, restarted in place after a kill."""

    def __init__(self, slot: int, env: dict[str, str], folder: Path,
                 open_files: int = 0) -> None:
        self.slot, self.env, self.folder = slot, env, folder
        self.open_files = open_files
        #: exits nobody asked for (a crash)
        self.unplanned_exits = 0
        self.log_path = folder / f"worker-{slot}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.started = 0.0
        self.restarts = 0
        self.rss_start = self.rss_end = self.rss_peak = 0.0
        #: sunlight_late_records_total by detector: of killed processes, and of the current
        #: one (its last sample).
        self.late_done: Counter[str] = Counter()
        self.late_now: Counter[str] = Counter()

    def start(self) -> None:
        self.port = free_port()
        env = {**self.env, "SUNLIGHT_WEB_PORT": str(self.port),
               "SUNLIGHT_DATA_DIR": str(self.folder / f"data-{self.slot}")}
        with open(self.log_path, "ab") as log:
            log.write(f"==== start at {time.strftime('%H:%M:%S')} ====\n".encode())
            log.flush()
            self.process = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker"],
                                            cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT,
                                            preexec_fn=self._limit_open_files)
        self.started = time.monotonic()

    def _limit_open_files(self) -> None:
        if self.open_files:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, hard))

    def kill(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            self.unplanned_exits += 1
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.restarts += 1
        self.late_done += self.late_now
        self.late_now = Counter()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            terminate(self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        return worker_ready(self.port, timeout=2.0)

    def rss(self) -> float:
        try:
            return rss_bytes(self.process.pid) / 2**20 if self.alive() else 0.0  # type: ignore
        except OSError:
            return 0.0


class Lag:
    """Consumer lag, sampled every second in a thread: worker gauges and the broker's view."""

    def __init__(self, settings: Settings, workers: list[Worker]) -> None:
        self.settings, self.workers = settings, workers
        self.prefix = settings.topic_prefix
        self.admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        self.ends = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
        self.max_gauge = self.max_gauge_inputs = self.max_broker = 0.0
        self.samples: list[dict[str, Any]] = []
        self.by_topic: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def gauges(self) -> tuple[float, float]:
        """(all topics, input topics): the workers' lag gauges, summed over live workers."""
        total = inputs = 0.0
        for worker in self.workers:
            if not worker.alive():
                continue
            samples = metrics(worker.port)
            if samples:
                worker.late_now = Counter({
                    name.split('detector="', 1)[1].split('"', 1)[0]: int(value)
                    for name, value in samples.items()
                    if name.startswith("sunlight_late_records_total{") and value})
            for name, value in samples.items():
                if name.startswith("sunlight_consumer_lag_messages{"):
                    topic = name.split('topic="', 1)[1].split('"', 1)[0]
                    total += value
                    if topic.removeprefix(self.prefix) in FEEDS:
                        inputs += value
        return total, inputs

    def broker(self) -> float:
        """End offsets minus committed offsets, for every consumer group of this run (the
        workers' groups all start with the topic prefix) over every topic it has committed
        (changelogs aside); an input feed no group has committed counts whole. Also keeps
        the figure per topic in ``by_topic``."""
        with self._lock:
            groups = [g["group_id"] for g in self.admin.list_groups()
                      if g["group_id"].startswith(self.prefix)]
            committed = self.admin.list_group_offsets({g: None for g in groups}) if groups \
                else {}
            wanted: set[tuple[str, str]] = set()  # (group, topic)
            for group, offsets in committed.items():
                wanted |= {(group, tp.topic) for tp in offsets
                           if not tp.topic.endswith("-changelog")}
            covered = {topic for _, topic in wanted}
            wanted |= {("", self.settings.topic(f)) for f in FEEDS
                       if self.settings.topic(f) not in covered}
            partitions = {t: [TopicPartition(t, p) for p in
                              self.ends.partitions_for_topic(t) or ()]
                          for t in {t for _, t in wanted}}
            ends = self.ends.end_offsets([tp for tps in partitions.values() for tp in tps])
        by_topic: Counter[str] = Counter()
        for group, topic in wanted:
            offsets = committed.get(group, {})
            for tp in partitions[topic]:
                lag = ends[tp] - (offsets[tp].offset if tp in offsets else 0)
                if lag > 0:
                    by_topic[topic.removeprefix(self.prefix)] += lag
        self.by_topic = dict(by_topic)
        return float(sum(by_topic.values()))

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(1.0):
            try:
                total, inputs = self.gauges()
                broker = self.broker()
            except Exception:  # noqa: BLE001 - a sample lost in a restart is no result
                continue
            self.max_gauge = max(self.max_gauge, total)
            self.max_gauge_inputs = max(self.max_gauge_inputs, inputs)
            self.max_broker = max(self.max_broker, broker)
            self.samples.append({"t": round(time.monotonic() - started, 1), "gauge": total,
                                 "gauge_inputs": inputs, "broker": broker,
                                 "broker_by_topic": self.by_topic})
            for worker in self.workers:
                worker.rss_peak = max(worker.rss_peak, worker.rss())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.admin.close()
        self.ends.close()


def detectors_path(folder: Path, disabled: list[str]) -> Path:
    if not disabled:
        return ROOT / "detectors.yaml"
    config = yaml.safe_load((ROOT / "detectors.yaml").read_text())
    for name in disabled:
        if name not in config["detectors"]:
            raise SystemExit(f"no detector {name!r} in detectors.yaml")
        config["detectors"][name]["enabled"] = False
    path = folder / "detectors.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def expected_alerts(registry: list[Record], events: list[Record], detectors: Path,
                    max_bytes: int) -> tuple[dict[str, dict[str, Any]], int, Counter[str]]:
    """The replay command's alerts for this input, how many records it rejects, and its late
    records by detector."""
    replay = Replay(load_detectors(detectors), max_bytes=max_bytes)
    replay.load_registry(r.value for r in registry)
    decoded = [ingest(r.feed, r.value, max_bytes=max_bytes) for r in events
               if r.feed != "registry"]
    good = sorted((e for e in decoded if not isinstance(e, Rejected)), key=lambda e: e.ts)
    alerts = {a["id"]: a for a in replay.run(good).alerts}
    return alerts, len(decoded) - len(good), replay.report.late


def read_all(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """Every record on a topic, up to its end offsets now."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             enable_auto_commit=False, consumer_timeout_ms=2000)
    name = settings.topic(topic)
    partitions = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    out: list[dict[str, Any]] = []
    try:
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for message in consumer:
                out.append(orjson.loads(message.value))
                if all(consumer.position(tp) >= end for tp, end in ends.items()):
                    break
    finally:
        consumer.close()
    return out


def delete_topics(settings: Settings) -> None:
    """Drop the run's topics and consumer groups."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
        groups = [g["group_id"] for g in admin.list_groups()
                  if g["group_id"].startswith(settings.topic_prefix)]
        if groups:
            admin.delete_groups(groups)
    finally:
        admin.close()


def flat(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flat(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{path}[{i}]").items()}
    return {path: value}


def differences(want: dict[str, Any], got: dict[str, Any]) -> dict[str, list[Any]]:
    """{field path: [replay's value, live value]} where they differ."""
    a, b = flat(want), flat(got)
    return {k: [a.get(k), b.get(k)] for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}


def compare(alerts: list[dict[str, Any]], expected: dict[str, dict[str, Any]]
            ) -> dict[str, Any]:
    first: dict[str, dict[str, Any]] = {}
    duplicates = differing = 0
    duplicate_diffs = []
    for alert in alerts:
        if alert["id"] in first:
            duplicates += 1
            if first[alert["id"]] != alert:
                differing += 1
                duplicate_diffs.append({"id": alert["id"],
                                        "diff": differences(first[alert["id"]], alert)})
        else:
            first[alert["id"]] = alert
    missing = sorted(expected.keys() - first.keys())
    unexpected = sorted(first.keys() - expected.keys())
    mismatched = sorted(i for i in first.keys() & expected.keys() if first[i] != expected[i])
    detector = {**{i: a["data"]["detector"] for i, a in expected.items()},
                **{i: a["data"]["detector"] for i, a in first.items()}}
    return {"expected": len(expected), "got": len(first), "records_on_topic": len(alerts),
            "missing": len(missing), "duplicates": duplicates,
            "duplicates_differing": differing, "unexpected": len(unexpected),
            "content_mismatches": len(mismatched),
            "missing_by_detector": dict(Counter(detector[i] for i in missing)),
            "unexpected_by_detector": dict(Counter(detector[i] for i in unexpected)),
            "missing_ids": missing, "unexpected_ids": unexpected,
            "mismatches": [{"id": i, "detector": detector[i],
                            "diff": differences(expected[i], first[i])} for i in mismatched],
            "duplicate_diffs": duplicate_diffs,
            "missing_alerts": [expected[i] for i in missing],
            "unexpected_alerts": [first[i] for i in unexpected]}


def wait_for(what: str, test: Any, timeout: float, workers: list[Worker],
             fatal: bool = True) -> bool:
    """Wait until ``test()``; a worker that exits stops the run. On timeout: stop the run
    (``fatal``), or return False."""
    deadline = time.monotonic() + timeout
    while not test():
        for worker in workers:
            if worker.process is not None and worker.process.poll() is not None:
                raise SystemExit(f"worker {worker.slot} exited ({worker.process.returncode}); "
                                 f"see {worker.log_path}")
        if time.monotonic() > deadline:
            if fatal:
                raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
            return False
        time.sleep(0.5)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the feed")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s")
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--fault-every", type=float, default=0.0, metavar="S",
                        help="SIGKILL and restart a worker every S seconds (0: no faults)")
    parser.add_argument("--partitions", type=int, default=4, help="internal topic partitions")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--step-s", type=float, default=300.0,
                        help="mean event-time step between records, seconds")
    parser.add_argument("--disable", action="append", default=[], metavar="DETECTOR",
                        help="run without this detector (repeatable)")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--log-level", default="warning", help="the workers' log level")
    parser.add_argument("--keep-topics", action="store_true",
                        help="leave the run's topics on the broker (default: delete them)")
    parser.add_argument("--hostile-every", type=int, default=0, metavar="N",
                        help="a hostile record after every N-th event, and hostile HTTP "
                             "clients (0: none)")
    parser.add_argument("--record-limit", type=int, default=0, metavar="BYTES",
                        help="the workers' SUNLIGHT_MAX_RECORD_BYTES (default: theirs; "
                             "100000 with --hostile-every)")
    parser.add_argument("--open-files", type=int, default=0, metavar="N",
                        help="the workers' open-files limit (0: unchanged)")
    args = parser.parse_args()
    limit = args.record_limit or (100_000 if args.hostile_every else 1_048_576)

    folder = OUT / "soak"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    detectors = detectors_path(folder, args.disable)
    base = Settings.from_env()
    settings = Settings(bootstrap_servers=base.bootstrap_servers, partitions=args.partitions,
                        topic_prefix=f"soak-{uuid.uuid4().hex[:6]}-")
    create_topics(settings, INPUT_PARTITIONS)

    total = int(args.minutes * 60 * args.rate)
    sim = Simulation(seed=args.seed, events=total, people=args.people, step_s=args.step_s,
                     case_rate=0.01)
    registry, events = list(sim.registry()), list(sim.stream())
    hostile_sent: Counter[str] = Counter()
    hostile_letters = 0
    if args.hostile_every:
        events, hostile_sent, hostile_letters = mix(events, args.hostile_every, limit)
    expected, rejected, replay_late = expected_alerts(registry, events, detectors, limit)
    # Dead letters to expect: what replay rejects, plus what only the stream can refuse.
    expected_letters = rejected + hostile_sent["registry_key_mismatch"]
    people = sum(1 for r in registry if r.key and r.key.startswith(b"P-"))
    print(f"{total:,} events ({rejected} malformed), {len(registry):,} registry records, "
          f"{len(expected)} alerts expected by replay; topics {settings.topic_prefix}*",
          flush=True)

    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "SUNLIGHT_TOPIC_PREFIX": settings.topic_prefix,
           "SUNLIGHT_PARTITIONS": str(args.partitions), "SUNLIGHT_SESSION_TIMEOUT_S": "10",
           "SUNLIGHT_DETECTORS_FILE": str(detectors), "SUNLIGHT_LOG_LEVEL": args.log_level,
           "SUNLIGHT_MAX_RECORD_BYTES": str(limit),
           "SUNLIGHT_MAX_MESSAGE_BYTES": str(max(2 * limit, limit + 33_000))}
    if args.hostile_every:  # as small as the start check allows: dead letters get cut
        env["SUNLIGHT_MAX_MESSAGE_BYTES"] = str(limit + 33_000)
    workers = [Worker(slot, env, folder, args.open_files) for slot in range(args.workers)]
    clients = Clients(lambda: [w.port for w in workers
                               if w.alive() and time.monotonic() - w.started > 20])
    lag = Lag(settings, workers)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                             linger_ms=5)
    faults: list[dict[str, Any]] = []
    try:
        for worker in workers:
            worker.start()
        wait_for("the workers to be ready", lambda: all(w.ready() for w in workers), 180,
                 workers)
        for record in registry:
            producer.send(settings.topic("registry"), key=record.key, value=record.value)
        producer.flush()
        key = 'sunlight_registry_records{record_type="person"}'
        wait_for("the registry", lambda: all(metrics(w.port).get(key, 0) >= people
                                             for w in workers), 180, workers)
        for worker in workers:
            worker.rss_start = worker.rss()
        lag.start()
        if args.hostile_every:
            clients.start()

        started = time.monotonic()
        next_fault = args.fault_every if args.fault_every > 0 else float("inf")
        turn = 0
        for i, record in enumerate(events):
            producer.send(settings.topic(record.feed), key=record.key, value=record.value)
            if i % 20 == 0:
                elapsed = time.monotonic() - started
                if elapsed >= next_fault:
                    worker = workers[turn % len(workers)]
                    worker.kill()
                    worker.start()
                    faults.append({"at_s": round(elapsed, 1), "worker": worker.slot,
                                   "events_sent": i})
                    print(f"  {elapsed:6.0f} s  SIGKILL + restart worker {worker.slot} "
                          f"({i:,} events sent)", flush=True)
                    turn += 1
                    next_fault += args.fault_every
                ahead = i / args.rate - elapsed
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush()
        if args.hostile_every:
            clients.stop()
        feed_s = time.monotonic() - started
        print(f"feed done: {total:,} events in {feed_s:.0f} s; draining ...", flush=True)

        quiet: dict[str, Any] = {"since": time.monotonic(), "alerts": -1}

        alerts_in = f'sunlight_records_in_total{{topic="{settings.topic("alerts")}"}}'

        def drained() -> bool:
            alerts = sum(metrics(w.port).get(alerts_in, 0) for w in workers)
            behind = lag.broker()
            unready = [w.slot for w in workers if not w.ready()]
            if behind or unready or alerts != quiet["alerts"]:
                quiet.update(since=time.monotonic(), alerts=alerts,
                             why=f"uncommitted {lag.by_topic}" if behind else
                             f"worker(s) {unready} not ready" if unready else
                             "alerts still arriving")
                return False
            return time.monotonic() - quiet["since"] >= 15  # settled for 15 s

        drain_ok = wait_for("the drain", drained, args.drain_timeout, workers, fatal=False)
        drain_s = time.monotonic() - started - feed_s
        if not drain_ok:
            print(f"NOT DRAINED after {args.drain_timeout:.0f} s: {quiet['why']}", flush=True)
        lag.gauges()  # a last sample of the late-record counters
        for worker in workers:
            worker.rss_end = worker.rss()
        lag.stop()
        result = compare(read_all(settings, "alerts"), expected)
        letters = read_all(settings, "dead-letters")
        dead_letters = len({(x["topic"], x["partition"], x["offset"]) for x in letters})
        letter_codes = Counter(x["reason_code"] for x in letters)
        truncated_letters = sum(1 for x in letters if x.get("value_truncated"))
        for worker in workers:
            if worker.process is not None and worker.process.poll() is not None:
                worker.unplanned_exits += 1
    finally:
        for worker in workers:
            worker.stop()
        producer.close()
        if not args.keep_topics:
            delete_topics(settings)

    late: Counter[str] = Counter()
    for worker in workers:
        late += worker.late_done + worker.late_now
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "minutes": args.minutes, "rate": args.rate, "workers": args.workers,
        "fault_every_s": args.fault_every, "partitions": args.partitions,
        "people": args.people, "seed": args.seed, "step_s": args.step_s,
        "disabled": args.disable, "topic_prefix": settings.topic_prefix,
        "events": total, "malformed": rejected, "dead_letters_on_topic": dead_letters,
        "dead_letters_expected": expected_letters, "dead_letter_codes": dict(letter_codes),
        "dead_letters_truncated": truncated_letters,
        "hostile_every": args.hostile_every, "record_limit": limit,
        "open_files": args.open_files, "hostile_records": dict(hostile_sent),
        "hostile_records_dead_lettered": hostile_letters,
        "unplanned_exits": sum(w.unplanned_exits for w in workers),
        "hostile_http": clients.report() if args.hostile_every else None,
        "worker_logs": log_findings(w.log_path for w in workers),
        "feed_s": round(feed_s, 1), "drain_s": round(drain_s, 1), "drained": drain_ok,
        "not_drained_because": None if drain_ok else quiet["why"],
        **result,
        "max_lag_worker_gauges": lag.max_gauge, "max_lag_worker_gauges_inputs":
            lag.max_gauge_inputs, "max_lag_broker_view": lag.max_broker,
        "restarts": sum(w.restarts for w in workers), "faults": faults,
        "late_records_live": dict(late), "late_records_replay": dict(replay_late),
        "worker_rss_mb": [{"worker": w.slot, "start": round(w.rss_start, 1),
                           "end": round(w.rss_end, 1), "peak": round(w.rss_peak, 1),
                           "restarts": w.restarts} for w in workers],
        "lag_samples": lag.samples,
    }
    rows = [
        ("events (malformed)", f"{total:,} ({rejected})"),
        ("feed / drain", f"{feed_s:.0f} s / {drain_s:.0f} s"
                         + ("" if drain_ok else " (NOT drained)")),
        ("alerts expected / got", f"{result['expected']} / {result['got']}"),
        ("missing", result["missing"]),
        ("unexpected", result["unexpected"]),
        ("content mismatches", result["content_mismatches"]),
        ("duplicates", result["duplicates"]),
        ("duplicates, different content", result["duplicates_differing"]),
        ("dead letters got / expected", f"{dead_letters} / {expected_letters}"),
        ("hostile records (dead-lettered)",
         f"{sum(hostile_sent.values())} ({hostile_letters})"),
        ("unplanned worker exits", report["unplanned_exits"]),
        ("max lag, worker gauges (inputs)",
         f"{lag.max_gauge:,.0f} ({lag.max_gauge_inputs:,.0f})"),
        ("max lag, broker view", f"{lag.max_broker:,.0f}"),
        *((f"worker {w.slot} RSS start / end / peak",
           f"{w.rss_start:.0f} / {w.rss_end:.0f} / {w.rss_peak:.0f} MB") for w in workers),
        ("late records, live / replay", f"{sum(late.values())} / {sum(replay_late.values())}"),
        ("restarts", report["restarts"]),
    ]
    if args.hostile_every:
        http = report["hostile_http"]
        logs = report["worker_logs"]
        rows += [("/livez probes (failed)",
                  f"{http['livez_probes']} ({sum(http['livez_failures'].values())})"),
                 ("/livez p50 / max", f"{http['livez_p50_ms']} / {http['livez_max_ms']} ms"),
                 ("bad HTTP requests: answers", str(http["bad_request_answers"])),
                 ("logs: marker / EMFILE / tracebacks",
                  f"{logs['marker']} / {logs['too_many_open_files']} / {logs['tracebacks']}"),
                 ("logs: bytes", f"{logs['bytes']:,}")]
    print()
    for name, value in rows:
        print(f"{name:<36}{value:>24}")
    if late or replay_late:
        print(f"late records by detector: live {dict(late)}; replay {dict(replay_late)}")
    if result["missing_by_detector"] or result["unexpected_by_detector"]:
        print(f"missing by detector: {result['missing_by_detector']}; "
              f"unexpected by detector: {result['unexpected_by_detector']}")
    for item in result["mismatches"][:5] + result["duplicate_diffs"][:5]:
        print(f"differs from {'replay' if 'detector' in item else 'its first copy'}: "
              f"{item['id']} {item.get('detector', '')}: {item['diff']}")
    out = OUT / "soak.json"
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"written to {out}")
    ok = drain_ok and not (result["missing"] or result["unexpected"] or result["content_mismatches"]
              or result["duplicates_differing"] or report["unplanned_exits"]
              or dead_letters != expected_letters)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
