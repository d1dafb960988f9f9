"""The pipeline benchmark (issue 9): throughput, latency, scale-out and memory of real worker
processes on the local broker, printed as a table and written to var/bench/pipeline.json.

    .venv/bin/python bench/pipeline.py                       # every part, full size (slow)
    .venv/bin/python bench/pipeline.py --parts throughput,latency --events 50000 --people 50000
    .venv/bin/python bench/pipeline.py --parts memory --people 1000000 --series 1000000

Parts (``--parts``, comma-separated, default all, run in this order):

registry    In-process, no broker: ``--people`` registry people (bench/people.py) applied to a
            RegistryView, as a worker does; bytes per person (RSS growth) and people/s.
throughput  The simulated feed (all four feeds, every scenario, ``--events`` records over
            ``--span-days`` of event time), with a registry of ``--people`` people, produced as a
            backlog; one worker with every detector on drains it. The worker is started and
            loads the registry first, then is paused (SIGSTOP) while the backlog is produced
            and resumed: its rate is inputs / (resume to last event processed), unmixed with
            the registry load. Beside it, in the same run, a bare aiokafka consumer reads and
            decodes the same topics (after the worker, so they never share the CPU).
latency     Event-to-alert latency at a fixed input rate: ``--rate`` or half the worker rate
            just measured (or, failing that, the last one in the JSON). For ``--warmup`` +
            ``--seconds`` (only the latter counted: a worker just made ready is slow at first)
            the simulated feed is produced in real time with event_time = now, among it the cases
            of the detectors that alert at once (IMMEDIATE below; the others wait for a window
            to close in event time plus its lateness, hours to days, so they have no such
            latency). Latency = wall time the alert is read from ``alerts`` - wall time its
            triggering record was handed to the producer; p50/p99/max per detector and in all,
            beside the worker's own histograms (sunlight_event_to_alert_seconds,
            sunlight_ingest_to_alert_seconds; bucket-interpolated, coarse) as a cross-check.
workers     The throughput backlog (same seed and size) drained by two workers in one group,
            and by ``sunlight worker --processes 2`` (one command, a supervisor and two workers),
            against one worker (the throughput figure of this run, or measured here).
memory      One worker's resident memory (VmRSS): idle with an empty registry; after
            ``--people`` registry people are loaded; after ``--series`` tracked series (one
            payment each to ``--series`` distinct payees: duplicate_subsidy_regions keeps state
            per payee; or ``--series-kind hospital_drug``: one purchase each for that many
            hospital x drug pairs: drug_purchase_spike's series), sent in two halves. Bytes
            per person and per series are the RSS growth divided by the count (per series also
            over the second half alone: transient buffers of the first are reused by then).
            Beside it, the same series through a Runner in-process (no Faust, at most
            ``--inproc-series``): live bytes (tracemalloc) and RSS per series, table entries.

Every part uses topics of its own (prefix ``bench-<part>-<id>-``), deleted at the end unless
``--keep-topics``; worker logs go to var/bench/logs. The backlog is generated once into
var/bench/backlog-*.bin (about 250 bytes an event; reused by the workers part and by later runs
of the same seed and sizes), then produced in aiokafka batches (some 100,000+ records/s), so
workers are paused for seconds, not minutes. Nothing is held in lists: multi-million runs need
no more memory in this process than small ones. The machine is shared: run it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import compiled  # noqa: E402
from bench.people import VILLAGES  # noqa: E402
from bench.people import people as registry_people  # noqa: E402
from stream.config import Settings  # noqa: E402
from stream.simulator.scenarios import SCENARIOS  # noqa: E402
from stream.simulator.simulate import Simulation  # noqa: E402
from stream.topics import create_topics  # noqa: E402

PARTS = ("registry", "throughput", "latency", "workers", "memory")
FEEDS = ("bids", "attendance", "prescriptions", "payments")
#: Detectors whose finding is made by the triggering record itself (no window, no lateness).
IMMEDIATE = ("ineligible_subsidy_payee", "deceased_recipient", "cadre_linked_award")
TZ = timezone(timedelta(hours=8))
OUT = ROOT / "var" / "bench" / "pipeline.json"
#: Workers' Kafka session timeout: the longest a paused worker keeps its group membership
#: (Faust requires it <= its request timeout, 90 s). A longer pause costs one rebalance.
SESSION_TIMEOUT_S = 85.0


# -- helpers ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (a supervisor's workers listen on
    SUNLIGHT_WEB_PORT + i)."""
    while True:
        base = free_port()
        if all(_free(base + i) for i in range(1, count)):
            return base


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process is not gone within a minute."""
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_ready(port: int, timeout: float = 5.0) -> bool:
    """Whether the worker on ``port`` answers /readyz with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                    timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    # The command name (field 2) may hold spaces: the fields after its ')' are fixed.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_SAMPLE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Samples:
    """A worker's /metrics: (name, labels, value) triples."""

    def __init__(self, body: str = "") -> None:
        self.rows: list[tuple[str, dict[str, str], float]] = []
        for line in body.splitlines():
            if not line or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            name, _, labels = head.partition("{")
            self.rows.append((name, dict(_SAMPLE.findall(labels)), float(value)))

    def total(self, name: str, **labels: str | tuple[str, ...]) -> float:
        out = 0.0
        for n, have, value in self.rows:
            if n == name and all(have.get(k) in (v if isinstance(v, tuple) else (v,))
                                 for k, v in labels.items()):
                out += value
        return out

    def buckets(self, name: str, **labels: str | tuple[str, ...]) -> dict[float, float]:
        """Cumulative counts by upper bound of histogram ``name``, summed over ``labels``."""
        out: dict[float, float] = defaultdict(float)
        for n, have, value in self.rows:
            if n == f"{name}_bucket" and all(
                    have.get(k) in (v if isinstance(v, tuple) else (v,))
                    for k, v in labels.items()):
                out[float(have["le"])] += value
        return dict(out)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            inside = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / inside
                                                          if inside else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Worker:
    """``sunlight worker`` as an OS process of its own, with its log under var/bench/logs; or,
    with ``processes``, ``sunlight worker --processes N``: a supervisor and its N workers,
    measured together (metrics of every web port summed, CPU and memory of them all)."""

    def __init__(self, settings: Settings, name: str,
                 extra_env: dict[str, str] | None = None, processes: int = 0) -> None:
        self.name = name
        self.processes = processes
        self.port = free_ports(max(1, processes))
        self.ports = [self.port + i for i in range(max(1, processes))]
        self.data_dir = ROOT / "var" / "bench" / "data" / f"{settings.topic_prefix}{name}"
        logs = ROOT / "var" / "bench" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{settings.topic_prefix}{name}.log"
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
               "SUNLIGHT_TOPIC_PREFIX": settings.topic_prefix,
               "SUNLIGHT_PARTITIONS": str(settings.partitions),
               "SUNLIGHT_WEB_PORT": str(self.port), "SUNLIGHT_DATA_DIR": str(self.data_dir),
               "SUNLIGHT_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S),
               "SUNLIGHT_LOG_LEVEL": "warning", **(extra_env or {})}
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "stream.cli", "worker"]
        if processes:
            command += ["--processes", str(processes)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        self.peak_rss = 0

    def check(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"worker {self.name} exited {self.process.returncode}:\n{tail}")

    def metrics(self, names: Sequence[str] = ()) -> Samples:
        """Every series, or those of ``names`` (a whole scrape costs a busy worker ~20 ms)."""
        bodies = []
        query = "?" + "&".join(f"name[]={name}" for name in names) if names else ""
        for port in self.ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics{query}",
                                            timeout=10) as response:
                    bodies.append(response.read().decode())
            except OSError:
                pass
        return Samples("\n".join(bodies))

    def ready(self) -> bool:
        return all(worker_ready(port) for port in self.ports)

    def pids(self) -> list[int]:
        """The worker's process, and a supervisor's workers."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *map(int, children)]

    def rss(self) -> int:
        value = sum(rss_bytes(pid) for pid in self.pids())
        self.peak_rss = max(self.peak_rss, value)
        return value

    def cpu_seconds(self) -> float:
        """CPU time (user + system, every thread) the process (and its workers) used so far."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def pause(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.resume()
            terminate(self.process)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        for i in range(self.processes):  # a supervisor's workers: <data dir>-<i>
            shutil.rmtree(f"{self.data_dir}-{i}", ignore_errors=True)


def wait_ready(workers: list[Worker], timeout: float, stable_s: float = 3.0) -> float:
    """Wait until every worker answers /readyz 200 (registry loaded, partitions assigned, no
    rebalance) for ``stable_s`` running; return the seconds it took."""
    start = time.monotonic()
    since = None
    while time.monotonic() - start < timeout:
        for worker in workers:
            worker.check()
        if all(w.ready() for w in workers):
            since = since or time.monotonic()
            if time.monotonic() - since >= stable_s:
                return since - start
        else:
            since = None
        time.sleep(0.5)
    raise SystemExit(f"workers not ready after {timeout:.0f}s (logs: {workers[0].log_path})")


class Deployment:
    """One benchmark deployment: its own topic prefix (so group, topics and state are new)."""

    def __init__(self, args: argparse.Namespace, tag: str) -> None:
        self.args = args
        prefix = f"bench-{tag}-{uuid.uuid4().hex[:6]}-"
        self.settings = Settings(bootstrap_servers=args.bootstrap, partitions=args.partitions,
                                 topic_prefix=prefix)
        create_topics(self.settings)
        self.workers: list[Worker] = []

    def worker(self, extra_env: dict[str, str] | None = None, processes: int = 0) -> Worker:
        worker = Worker(self.settings, f"w{len(self.workers)}", extra_env, processes)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.args.keep_topics:
            return
        admin = KafkaAdminClient(bootstrap_servers=self.settings.bootstrap_servers)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(self.settings.topic_prefix)]
            if mine:
                admin.delete_topics(mine)
        except KafkaError as exc:
            print(f"  (could not delete topics {self.settings.topic_prefix}*: {exc})")
        finally:
            admin.close()


# -- producing ----------------------------------------------------------------------------------
@dataclass
class Produced:
    count: int = 0
    seconds: float = 0.0
    by_feed: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")


async def produce(settings: Settings, records: Iterable[tuple[str, bytes | None, bytes]]
                  ) -> Produced:
    """Send (feed, key, value) records as fast as the broker takes them: one open batch per
    partition, sent when full; at most a few dozen batches in flight."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks=1,
                                linger_ms=50, max_batch_size=1 << 20, request_timeout_ms=60_000)
    await producer.start()
    partitioner = DefaultPartitioner()
    counts: dict[str, list[int]] = {}
    batches: dict[tuple[str, int], Any] = {}
    in_flight: list[asyncio.Future] = []
    out = Produced()
    rr = 0
    start = time.perf_counter()

    async def ship(topic: str, partition: int) -> None:
        batch = batches.pop((topic, partition))
        batch.close()
        in_flight.append(await producer.send_batch(batch, topic, partition=partition))
        if len(in_flight) >= 32:
            await asyncio.gather(*in_flight)
            in_flight.clear()

    try:
        for feed, key, value in records:
            topic = settings.topic(feed)
            partitions = counts.get(topic)
            if partitions is None:
                partitions = counts[topic] = sorted(await producer.partitions_for(topic))
            if key is None:
                rr += 1
                partition = partitions[rr % len(partitions)]
            else:
                partition = partitioner(key, partitions, partitions)
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                await ship(topic, partition)
                batch = batches[(topic, partition)] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
            out.count += 1
            out.by_feed[feed] += 1
        for topic, partition in list(batches):
            await ship(topic, partition)
        await asyncio.gather(*in_flight)
    finally:
        await producer.stop()
    out.seconds = time.perf_counter() - start
    return out


def simulation(args: argparse.Namespace) -> Simulation:
    """The benchmark's feed: the simulator (its world of ``--sim-people`` people is what the
    events refer to), event time spread over ``--span-days``."""
    return Simulation(seed=args.seed, events=args.events, people=min(args.sim_people, args.people),
                      step_s=args.span_days * 86400.0 / max(1, args.events))


def registry_stream(sim: Simulation | None, total_people: int, seed: int
                    ) -> Iterator[tuple[str, bytes | None, bytes]]:
    """The simulated world's registry, then bench people up to ``total_people`` persons."""
    have = 0
    if sim is not None:
        for record in sim.registry():
            yield "registry", record.key, record.value or b""
        have = len(sim.world.people)
    for key, value in registry_people(max(0, total_people - have), seed=seed):
        yield "registry", key, value


def event_stream(sim: Simulation) -> Iterator[tuple[str, bytes | None, bytes]]:
    for record in sim.stream():
        yield record.feed, record.key, record.value or b""


_HEAD = struct.Struct("<BiI")  # feed index, key length (-1: no key), value length


def backlog_file(args: argparse.Namespace, sim: Simulation) -> Path:
    """The simulated feed, generated once into a file (reused by later parts and runs with
    the same seed and sizes): producing from it is several times faster than generating, so
    the workers stay paused for a shorter time."""
    name = (f"backlog-s{args.seed}-e{args.events}-p{min(args.sim_people, args.people)}-"
            f"d{args.span_days:g}.bin")
    path = ROOT / "var" / "bench" / name
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    start = time.perf_counter()
    with open(tmp, "wb", buffering=1 << 20) as out:
        for feed, key, value in event_stream(sim):
            out.write(_HEAD.pack(FEEDS.index(feed), -1 if key is None else len(key), len(value)))
            if key is not None:
                out.write(key)
            out.write(value)
    tmp.rename(path)
    print(f"  backlog generated in {time.perf_counter() - start:.1f}s: {path}")
    return path


def read_backlog(path: Path) -> Iterator[tuple[str, bytes | None, bytes]]:
    with open(path, "rb", buffering=1 << 20) as f:
        read = f.read
        while head := read(_HEAD.size):
            feed, key_len, value_len = _HEAD.unpack(head)
            key = read(key_len) if key_len >= 0 else None
            yield FEEDS[feed], key, read(value_len)


def registry_size(sim: Simulation | None, total_people: int) -> int:
    return max(total_people, len(sim.world.people) if sim else 0)


# -- draining a backlog ---------------------------------------------------------------------
#: The series :func:`drain` reads.
DRAIN_SERIES = ("sunlight_records_in_total", "sunlight_events_processed_total",
                "sunlight_records_rejected_total", "sunlight_duplicates_dropped_total",
                "sunlight_late_records_total", "sunlight_alerts_total",
                "sunlight_records_routed_total")


def drain(settings: Settings, workers: list[Worker], inputs: int, settle_s: float = 5.0,
          stall_s: float = 300.0) -> dict[str, Any]:
    """Resume the (paused) workers and wait until they have read all ``inputs`` input records
    and processed everything (no keyed event for ``settle_s``). The rate counts from the
    resume to the last keyed event processed."""
    input_topics = tuple(settings.topic(f) for f in FEEDS)
    for worker in workers:
        worker.resume()
    start = time.monotonic()
    cpu_start = [w.cpu_seconds() for w in workers]
    cpu_at_change = cpu_start
    last_change, last = start, (-1.0, -1.0)
    samples: list[Samples] = []
    while True:
        time.sleep(0.5)
        for worker in workers:
            worker.check()
            worker.rss()
        # Only the series read below: Prometheus scrapes everything every 15 s, this every
        # 0.5 s (whole, it was ~3% of the worker's CPU).
        samples = [w.metrics(DRAIN_SERIES) for w in workers]
        read = sum(s.total("sunlight_records_in_total", topic=input_topics) for s in samples)
        processed = sum(s.total("sunlight_events_processed_total") for s in samples)
        now = time.monotonic()
        if (read, processed) != last:
            last, last_change = (read, processed), now
            cpu_at_change = [w.cpu_seconds() for w in workers]
        elif read >= inputs and now - last_change >= settle_s:
            break
        elif now - last_change >= stall_s:
            raise SystemExit(f"no progress for {stall_s:.0f}s: read {read:,.0f} of {inputs:,} "
                             f"(logs: {workers[0].log_path})")
    elapsed = last_change - start

    def total(name: str, **labels: str | tuple[str, ...]) -> float:
        return sum(s.total(name, **labels) for s in samples)

    return {
        "workers": len(workers),
        "inputs": inputs,
        "seconds": round(elapsed, 2),
        "events_per_s": inputs / elapsed if elapsed > 0 else float("nan"),
        # From the resume to the last progress seen (the drain's polls included).
        "cpu_us_per_event": sum(cpu_at_change) * 1e6 / inputs - sum(cpu_start) * 1e6 / inputs,
        "keyed_events_processed": total("sunlight_events_processed_total"),
        "rejected": total("sunlight_records_rejected_total"),
        "duplicates_dropped": total("sunlight_duplicates_dropped_total"),
        "late_records": total("sunlight_late_records_total"),
        "alerts": total("sunlight_alerts_total"),
        "routed_in_process": total("sunlight_records_routed_total", path="in_process"),
        "routed_by_topic": total("sunlight_records_routed_total", path="topic"),
        "peak_rss_mb": [round(w.peak_rss / 2**20, 1) for w in workers],
    }


@dataclass
class Consumed:
    """What a reader took to read ``events`` records: wall and CPU seconds from the first."""

    events: int
    seconds: float
    cpu_seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds * 1e6 / self.events if self.events else float("nan")


async def bare(settings: Settings, total: int, feeds: Iterable[str] = FEEDS) -> Consumed:
    """A consumer that only reads and decodes the input topics (this process's CPU)."""
    consumer = AIOKafkaConsumer(*(settings.topic(f) for f in feeds),
                                bootstrap_servers=settings.bootstrap_servers,
                                group_id=f"bare-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    count, start, cpu_start = 0, None, 0.0
    try:
        while count < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                if start is None:
                    start, cpu_start = time.perf_counter(), time.process_time()
                for message in messages:
                    try:
                        orjson.loads(message.value)
                    except orjson.JSONDecodeError:
                        pass
                    count += 1
        seconds, cpu = time.perf_counter() - (start or 0.0), time.process_time() - cpu_start
    finally:
        await consumer.stop()
    return Consumed(count, seconds, cpu)


def run_backlog(args: argparse.Namespace, tag: str, n_workers: int,
                processes: int = 0) -> dict[str, Any]:
    """Registry first, workers ready, workers paused, backlog produced, workers drain it.
    With ``processes``: each worker is ``sunlight worker --processes`` that many."""
    dep = Deployment(args, tag)
    try:
        sim = simulation(args)
        backlog = backlog_file(args, sim)
        reg = asyncio.run(produce(dep.settings, registry_stream(sim, args.people, args.seed)))
        people = registry_size(sim, args.people)
        print(f"  [{tag}] registry: {reg.count:,} records ({people:,} people) produced in "
              f"{reg.seconds:.1f}s")
        workers = [dep.worker(processes=processes) for _ in range(n_workers)]
        ready_s = wait_ready(workers, timeout=120 + people / 2000)
        print(f"  [{tag}] {n_workers} worker(s) ready in {ready_s:.1f}s; pausing them while "
              "the backlog is produced")
        for worker in workers:
            worker.pause()
        events = asyncio.run(produce(dep.settings, read_backlog(backlog)))
        print(f"  [{tag}] backlog: {events.count:,} events produced in {events.seconds:.1f}s "
              f"({events.rate:,.0f}/s); draining")
        if events.seconds > SESSION_TIMEOUT_S:
            print(f"  [{tag}] (paused {events.seconds:.0f}s > session timeout "
                  f"{SESSION_TIMEOUT_S:.0f}s: the group rebalances once at resume)")
        result = drain(dep.settings, workers, events.count)
        result.update({"registry_people": people, "registry_records": reg.count,
                       "ready_s": round(ready_s, 1), "produced_events_per_s": events.rate,
                       "produced_registry_per_s": reg.rate, "by_feed": dict(events.by_feed),
                       "partitions": args.partitions})
        for worker in workers:
            worker.stop()
        if tag == "throughput":
            result["bare_consumer_events_per_s"] = asyncio.run(
                bare(dep.settings, events.count)).events_per_s
        return result
    finally:
        dep.close()


# -- parts ----------------------------------------------------------------------------------
Row = tuple[str, str, str]


def part_registry(args: argparse.Namespace, results: dict[str, Any]) -> list[Row]:
    # A fresh interpreter: memory this process freed earlier would hide the growth.
    out = subprocess.run([sys.executable, __file__, "--registry-child", str(args.people),
                          "--seed", str(args.seed)], capture_output=True, check=True, cwd=ROOT)
    r = orjson.loads(out.stdout)
    results["registry"] = r
    return [("registry", "people applied to a RegistryView (in-process)", f"{r['people']:,}"),
            ("registry", "load rate (decode + validate + apply), people/s",
             f"{r['people_per_s']:,.0f}"),
            ("registry", "RSS before / after, MB",
             f"{r['rss_before_mb']:,.0f} / {r['rss_after_mb']:,.0f}"),
            ("registry", "bytes per person", f"{r['bytes_per_person']:,.0f}")]


def registry_child(n: int, seed: int) -> None:
    from stream.worker.metrics import Metrics
    from stream.worker.reference import RegistryView

    view = RegistryView(Settings(), Metrics())
    records = registry_people(n, seed=seed)
    gc.collect()
    before = rss_bytes()
    seconds = 0.0
    clock = time.perf_counter
    # One record at a time, as generated: holding many (bytes from orjson.dumps) at once
    # leaves glibc's heap fragmented and the RSS growth several times the live data.
    for key, value in records:
        start = clock()
        view.apply(key, value)
        seconds += clock() - start
    gc.collect()
    after = rss_bytes()
    print(orjson.dumps({"people": len(view.registry.people), "seconds": round(seconds, 2),
                        "people_per_s": n / seconds, "rss_before_mb": before / 2**20,
                        "rss_after_mb": after / 2**20,
                        "bytes_per_person": (after - before) / max(1, n)}).decode())


def part_throughput(args: argparse.Namespace, results: dict[str, Any]) -> list[Row]:
    r = run_backlog(args, "throughput", 1)
    r["ratio"] = r["events_per_s"] / r["bare_consumer_events_per_s"]
    results["throughput"] = r
    return [
        ("throughput", "backlog events (registry people)",
         f"{r['inputs']:,} ({r['registry_people']:,})"),
        ("throughput", "produced, events/s (registry records/s)",
         f"{r['produced_events_per_s']:,.0f} ({r['produced_registry_per_s']:,.0f})"),
        ("throughput", "worker start to ready (registry loaded), s", f"{r['ready_s']:.1f}"),
        ("throughput", "bare aiokafka consumer (read + decode), events/s",
         f"{r['bare_consumer_events_per_s']:,.0f}"),
        ("throughput", "worker, every detector on, events/s", f"{r['events_per_s']:,.0f}"),
        ("throughput", "ratio worker / bare", f"{r['ratio']:.3f}"),
        ("throughput", "worker CPU µs per event (resume to last event)",
         f"{r['cpu_us_per_event']:,.0f}"),
        ("throughput", "keyed events processed / alerts",
         f"{r['keyed_events_processed']:,.0f} / {r['alerts']:,.0f}"),
        ("throughput", "events routed in-process / by the repartition topic",
         f"{r['routed_in_process']:,.0f} / {r['routed_by_topic']:,.0f}"),
        ("throughput", "worker peak RSS, MB", f"{r['peak_rss_mb'][0]:,.0f}"),
    ]


def part_workers(args: argparse.Namespace, results: dict[str, Any]) -> list[Row]:
    one = results.get("throughput") if results.get("_ran_throughput") else None
    if one is None:
        one = run_backlog(args, "one-worker", 1)
    two = run_backlog(args, "two-workers", 2)
    # The same two from one command: a supervisor (sunlight worker --processes 2).
    unit = run_backlog(args, "processes", 1, processes=2)
    r = {"one": one, "two": two, "processes_2": unit,
         "speedup": two["events_per_s"] / one["events_per_s"],
         "speedup_processes_2": unit["events_per_s"] / one["events_per_s"]}
    results["workers"] = r
    return [("workers", "one worker, events/s", f"{one['events_per_s']:,.0f}"),
            ("workers", "two workers (one group, 2 cores), events/s",
             f"{two['events_per_s']:,.0f}"),
            ("workers", "speed-up two / one", f"{r['speedup']:.2f}"),
            ("workers", "`worker --processes 2` (one command), events/s; speed-up / one",
             f"{unit['events_per_s']:,.0f}; {r['speedup_processes_2']:.2f}"),
            ("workers", "CPU µs per event: one / two workers (all of them)",
             f"{one['cpu_us_per_event']:,.0f} / {two['cpu_us_per_event']:,.0f}"),
            ("workers", "two workers' peak RSS, MB",
             " / ".join(f"{v:,.0f}" for v in two["peak_rss_mb"]))]


def part_latency(args: argparse.Namespace, results: dict[str, Any]) -> list[Row]:
    rate = args.rate
    source = "--rate"
    if rate is None:
        previous = results.get("throughput") or {}
        if previous.get("events_per_s"):
            rate = previous["events_per_s"] / 2
            source = ("half the worker rate measured now" if results.get("_ran_throughput")
                      else f"half the worker rate in {OUT.name} ({previous.get('measured_at')})")
    if rate is None:
        raise SystemExit("latency: give --rate, or run the throughput part first")
    dep = Deployment(args, "latency")
    try:
        sim = Simulation(seed=args.seed, events=1, people=min(args.sim_people, args.people))
        reg = asyncio.run(produce(dep.settings, registry_stream(sim, args.people, args.seed)))
        worker = dep.worker()
        wait_ready([worker], timeout=120 + reg.count / 2000)
        r = asyncio.run(latency_run(dep.settings, sim, rate, args, worker))
        worker.rss()
        r.update({"rate_source": source, "registry_people": registry_size(sim, args.people),
                  "worker_peak_rss_mb": round(worker.peak_rss / 2**20, 1)})
    finally:
        dep.close()
    results["latency"] = r

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:,.0f}"

    rows = [("latency", "target rate / achieved, events/s",
             f"{r['rate']:,.0f} / {r['achieved_rate']:,.0f} ({source})"),
            ("latency", "immediate detectors measured", ", ".join(IMMEDIATE)),
            ("latency", "alerts matched / triggers sent (measured time)",
             f"{r['matched']:,} / {r['triggers']:,}")]
    for name, s in [*r["by_detector"].items(), ("all", r["all"]),
                    (f"warm-up ({args.warmup:g}s, not counted)", r["warmup_latency"])]:
        rows.append(("latency", f"event-to-alert p50 / p99 / max, ms: {name}",
                     f"{fmt(s['p50'])} / {fmt(s['p99'])} / {fmt(s['max'])} (n={s['n']})"))
    rows.append(("latency", "p50 by tenth of the run, ms",
                 " ".join(fmt(v) for v in r["p50_by_tenth"])))
    for metric in ("event_to_alert", "ingest_to_alert"):
        w = r[f"worker_{metric}"]
        rows.append(("latency", f"worker histogram {metric} p50 / p99, ms (buckets)",
                     f"{fmt(w['p50'])} / {fmt(w['p99'])}"))
    return rows


async def latency_run(settings: Settings, sim: Simulation, rate: float,
                      args: argparse.Namespace, worker: Worker) -> dict[str, Any]:
    world = sim.world
    rng = random.Random(f"bench-latency-{args.seed}")
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks=1,
                                linger_ms=1)
    alerts_topic = settings.topic("alerts")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=20)
    await producer.start()
    await consumer.start()
    partitions = await producer.partitions_for(alerts_topic)
    consumer.assign([TopicPartition(alerts_topic, p) for p in partitions])
    sent: dict[tuple[str, str], float] = {}   # (detector, trigger event_id) -> send time
    #: (detector, seconds into the run the trigger was sent, latency)
    timeline: list[tuple[str, float, float]] = []
    others: dict[str, int] = defaultdict(int)
    done = asyncio.Event()
    start = time.time()

    async def read_alerts() -> None:
        while not (done.is_set() and len(sent) == len(timeline)):
            batches = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for messages in batches.values():
                for message in messages:
                    data = orjson.loads(message.value)["data"]
                    records = data.get("evidence", {}).get("records") or [{}]
                    t = sent.get((data["detector"], records[0].get("event_id")))
                    if t is None:
                        others[data["detector"]] += 1
                    else:
                        timeline.append((data["detector"], t - start, now - t))

    reader = asyncio.create_task(read_alerts())
    n = triggers = 0
    warm: Samples | None = None
    measured_from = 0
    try:
        while (now := time.time()) < start + args.warmup + args.seconds:
            if warm is None and now >= start + args.warmup:
                warm = await asyncio.to_thread(worker.metrics)
                measured_from = n
            due = int((now - start) * rate)
            while n < due:
                ts = datetime.now(TZ)
                if rng.random() < args.trigger_share:
                    detector = IMMEDIATE[triggers % len(IMMEDIATE)]
                    emits = SCENARIOS[detector].case(world, rng, f"lat-{n}", ts)
                    triggers += 1
                else:
                    emits = [world.normal(rng, f"lat-{n}", ts)]
                for emit in emits:
                    record = dict(emit.record)
                    record["event_time"] = ts.isoformat(timespec="milliseconds")
                    if emit.label:
                        sent[(emit.label["detector"], record["event_id"])] = time.time()
                    await producer.send(settings.topic(emit.feed), value=orjson.dumps(record))
                    n += 1
            await asyncio.sleep(0.002)
        elapsed = time.time() - start - args.warmup
        await producer.flush()
        done.set()
        try:
            await asyncio.wait_for(asyncio.shield(reader), timeout=args.latency_drain)
        except TimeoutError:
            pass
    finally:
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    final = await asyncio.to_thread(worker.metrics)

    def stats(values: list[float]) -> dict[str, Any]:
        return {"n": len(values), "p50": percentile(values, 0.5),
                "p99": percentile(values, 0.99), "max": max(values) if values else None}

    measured = [(d, at - args.warmup, v) for d, at, v in timeline if at >= args.warmup]
    warmup = [v for _, at, v in timeline if at < args.warmup]
    triggers_measured = sum(1 for t in sent.values() if t - start >= args.warmup)
    histograms = {}
    for metric in ("event_to_alert", "ingest_to_alert"):
        name = f"sunlight_{metric}_seconds"
        base = warm.buckets(name, detector=IMMEDIATE) if warm else {}
        diff = sorted((le, count - base.get(le, 0.0))
                      for le, count in final.buckets(name, detector=IMMEDIATE).items())
        histograms[f"worker_{metric}"] = {"p50": histogram_quantile(0.5, diff),
                                          "p99": histogram_quantile(0.99, diff),
                                          "count": diff[-1][1] if diff else 0}
    return {"rate": rate, "achieved_rate": (n - measured_from) / elapsed,
            "seconds": round(elapsed, 1), "warmup_s": args.warmup,
            "events": n - measured_from, "triggers": triggers_measured,
            "matched": len(measured), "unmatched": triggers_measured - len(measured),
            "trigger_share": args.trigger_share,
            "by_detector": {d: stats([v for dd, _, v in measured if dd == d])
                            for d in IMMEDIATE},
            "all": stats([v for _, _, v in measured]), "warmup_latency": stats(warmup),
            "other_alerts": dict(others),
            # p50 of the alerts whose trigger was sent in each tenth of the measured time: a
            # worker that does not keep up shows as a rising latency.
            "p50_by_tenth": [percentile([v for _, at, v in measured
                                         if i * elapsed / 10 <= at < (i + 1) * elapsed / 10], 0.5)
                             for i in range(10)],
            **histograms}


def series_stream(kind: str, n: int, span_days: float, start: int = 0, total: int | None = None
                  ) -> Iterator[tuple[str, bytes | None, bytes]]:
    """Records ``start`` .. ``start + n - 1`` of ``total`` (default ``n``), each opening a new
    tracked series (a new key with detector state); event time spreads over ``span_days``."""
    t0 = datetime.fromisoformat("2026-05-04T08:00:00+08:00")
    step = span_days * 86400.0 / max(1, total or n)
    for i in range(start, start + n):
        when = (t0 + timedelta(seconds=i * step)).isoformat(timespec="seconds")
        if kind == "payee":
            payer = VILLAGES[i % len(VILLAGES)]
            record = {"event_id": f"ser-{i:09d}", "event_time": when, "region": payer[3:9],
                      "status": "executed", "payer_id": payer, "payee_id": f"P-S{i:08d}",
                      "payee_kind": "person", "purpose": "welfare_subsidy",
                      "amount": float(200 + i % 400)}
            yield "payments", None, orjson.dumps(record)
        else:
            region = VILLAGES[i % len(VILLAGES)][3:9]
            record = {"event_id": f"ser-{i:09d}", "event_time": when, "region": region,
                      "kind": "purchase", "hospital_id": f"H-{region}-B{i // 1000:05d}",
                      "drug_code": f"XB{i % 1000:05d}", "quantity": 100 + i % 50,
                      "unit_price": 12.5, "supplier_id": "C-00001"}
            yield "prescriptions", None, orjson.dumps(record)


def series_child(n: int, kind: str, span_days: float) -> None:
    """The same series through the detectors in-process (a Runner per key kind over a dict,
    as the keyed agents do over their tables), without Faust or Kafka: what the state itself
    costs (live bytes, traced), how many table entries a series makes, and their size."""
    import tracemalloc

    from detectors.config import load_detectors
    from detectors.registry import Registry
    from detectors.runner import Runner, by_kind
    from stream.ingest import ingest

    tables = {kind: {} for kind in by_kind(load_detectors(ROOT / "detectors.yaml"))}
    runners = [Runner(by_feed, tables[k], Registry()) for k, by_feed in
               by_kind(load_detectors(ROOT / "detectors.yaml")).items()]
    gc.collect()
    before = rss_bytes()
    tracemalloc.start()
    traced_before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    for feed, _, value in series_stream(kind, n, span_days):
        event = ingest(feed, value)
        for runner in runners:
            for key in runner.route(event):  # type: ignore[arg-type]
                runner.handle(event, key)  # type: ignore[arg-type]
                runner.mark_seen(event, key)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced_before
    tracemalloc.stop()
    after = rss_bytes()
    entries = {k: len(t) for k, t in tables.items() if t}
    stored = sum(len(v) for t in tables.values() for v in t.values()
                 if isinstance(v, bytes | str))
    print(orjson.dumps({"series": n, "live_bytes_per_series": traced / max(1, n),
                        "rss_bytes_per_series": (after - before) / max(1, n),
                        "events_per_s_traced": n / seconds, "entries_by_kind": entries,
                        "serialised_bytes_per_series": stored / max(1, n)}).decode())


def part_memory(args: argparse.Namespace, results: dict[str, Any]) -> list[Row]:
    dep = Deployment(args, "memory")
    stage = "keyed-payee" if args.series_kind == "payee" else "keyed-hospital_drug"
    half = args.series // 2
    try:
        worker = dep.worker()
        wait_ready([worker], timeout=120)
        time.sleep(5)
        idle = worker.rss()
        reg = asyncio.run(produce(dep.settings, (
            ("registry", k, v) for k, v in registry_people(args.people, seed=args.seed))))
        print(f"  [memory] {reg.count:,} registry people produced in {reg.seconds:.1f}s")
        wait_metric(worker, lambda s: s.total("sunlight_registry_records",
                                              record_type="person") >= args.people,
                    timeout=120 + args.people / 1000)
        time.sleep(5)
        with_people = worker.rss()
        rss_after = []
        start = time.monotonic()
        # In two halves: the second half's growth is the state's, with the memory that
        # transient buffers (read-ahead, producer batches) took in the first half reused.
        for first, count in ((0, half), (half, args.series - half)):
            ser = asyncio.run(produce(dep.settings, series_stream(
                args.series_kind, count, args.span_days, first, args.series)))
            print(f"  [memory] {ser.count:,} series records produced in {ser.seconds:.1f}s; "
                  "waiting for the worker")
            wait_metric(worker, lambda s, upto=first + count: s.total(
                "sunlight_events_processed_total", stage=stage) >= upto,
                timeout=600 + args.series / 50, stall_s=300)
            time.sleep(5)
            rss_after.append(worker.rss())
        series_s = time.monotonic() - start
    finally:
        dep.close()
    inproc_n = min(args.series, args.inproc_series)
    child = subprocess.run([sys.executable, __file__, "--series-child", str(inproc_n),
                            "--series-kind", args.series_kind, "--span-days",
                            str(args.span_days)], capture_output=True, check=True, cwd=ROOT)
    inproc = orjson.loads(child.stdout)
    mb = 2**20
    with_series = rss_after[-1]
    r = {"idle_rss_mb": idle / mb, "people": args.people, "rss_with_people_mb": with_people / mb,
         "bytes_per_person": (with_people - idle) / max(1, args.people),
         "series": args.series, "series_kind": args.series_kind,
         "rss_with_half_series_mb": rss_after[0] / mb, "rss_with_series_mb": with_series / mb,
         "bytes_per_series": (with_series - with_people) / max(1, args.series),
         "bytes_per_series_second_half": (with_series - rss_after[0]) / max(1, args.series - half),
         "series_events_per_s": args.series / series_s, "peak_rss_mb": worker.peak_rss / mb,
         "in_process": inproc}
    results["memory"] = r
    what = ("one welfare_subsidy payment to each of N payees: duplicate_subsidy_regions state "
            "per payee" if args.series_kind == "payee"
            else "one purchase for each of N hospital x drug pairs: drug_purchase_spike state")
    entries = ", ".join(f"{k} {v / max(1, inproc_n):.3f}"
                        for k, v in sorted(inproc["entries_by_kind"].items()))
    return [("memory", "worker RSS idle (empty registry), MB", f"{r['idle_rss_mb']:,.0f}"),
            ("memory", f"RSS with {args.people:,} registry people, MB",
             f"{r['rss_with_people_mb']:,.0f}"),
            ("memory", "bytes per registry person", f"{r['bytes_per_person']:,.0f}"),
            ("memory", "series", what),
            ("memory", f"RSS with half / all {args.series:,} series as well, MB",
             f"{r['rss_with_half_series_mb']:,.0f} / {r['rss_with_series_mb']:,.0f}"),
            ("memory", "bytes per series: all / second half",
             f"{r['bytes_per_series']:,.0f} / {r['bytes_per_series_second_half']:,.0f}"),
            ("memory", f"bytes per series in-process ({inproc_n:,} through a Runner, no "
                       "Faust): live / RSS",
             f"{inproc['live_bytes_per_series']:,.0f} / {inproc['rss_bytes_per_series']:,.0f}"),
            ("memory", "in-process: table entries per series, by key kind", entries)]


def wait_metric(worker: Worker, condition: Any, timeout: float, stall_s: float = 120) -> None:
    start = last_change = time.monotonic()
    last: list[tuple] = []
    while time.monotonic() - start < timeout:
        worker.check()
        worker.rss()
        samples = worker.metrics()
        if condition(samples):
            return
        if samples.rows != last:
            last, last_change = samples.rows, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            break
        time.sleep(1.0)
    raise SystemExit(f"worker {worker.name}: condition not met after "
                     f"{time.monotonic() - start:.0f}s (log: {worker.log_path})")


# -- main -----------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.splitlines()[:2]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, of: {', '.join(PARTS)} (default all)")
    parser.add_argument("--events", type=int, default=2_000_000, help="backlog size")
    parser.add_argument("--people", type=int, default=1_000_000, help="registry people")
    parser.add_argument("--sim-people", type=int, default=20_000,
                        help="people of the simulated world the events refer to (the rest of "
                             "--people are generated by bench/people.py)")
    parser.add_argument("--span-days", type=float, default=60.0,
                        help="event time the backlog (or the series) spans")
    parser.add_argument("--partitions", type=int, default=4,
                        help="partitions of every topic, internal ones too")
    parser.add_argument("--rate", type=float, help="latency: input events/s (default: half "
                        "the worker's throughput)")
    parser.add_argument("--seconds", type=float, default=45.0,
                        help="latency: how long it is measured")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="latency: seconds produced at the rate before measuring")
    parser.add_argument("--trigger-share", type=float, default=0.02,
                        help="latency: share of records that are immediate-detector cases")
    parser.add_argument("--latency-drain", type=float, default=30.0,
                        help="latency: seconds to wait for the last alerts")
    parser.add_argument("--series", type=int, default=1_000_000, help="memory: tracked series")
    parser.add_argument("--series-kind", choices=("payee", "hospital_drug"), default="payee")
    parser.add_argument("--inproc-series", type=int, default=100_000,
                        help="memory: at most this many series in the in-process check")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep-topics", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--registry-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--series-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.registry_child is not None:
        registry_child(args.registry_child, args.seed)
        return 0
    if args.series_child is not None:
        series_child(args.series_child, args.series_kind, args.span_days)
        return 0
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}; parts are {', '.join(PARTS)}")
    args.bootstrap = Settings.from_env().bootstrap_servers

    results: dict[str, Any] = orjson.loads(args.out.read_bytes()) if args.out.exists() else {}
    if "worker_events_per_s" in results:  # the file of the earlier, throughput-only bench
        results = {"throughput": {"events_per_s": results["worker_events_per_s"],
                                  "measured_at": "an earlier run"}}
    results = {k: v for k, v in results.items() if k in PARTS and isinstance(v, dict)}
    config = {k: v for k, v in vars(args).items()
              if k not in ("out", "registry_child", "series_child")}
    config["cores"] = os.cpu_count()
    # The workers run from this tree with this environment: the same compiled core, or none.
    config["compiled"] = compiled.status().detail
    print(f"compiled core: {config['compiled']}", flush=True)
    rows: list[Row] = []
    runners = {"registry": part_registry, "throughput": part_throughput,
               "latency": part_latency, "workers": part_workers, "memory": part_memory}
    for part in PARTS:
        if part not in parts:
            continue
        print(f"== {part}", flush=True)
        start = time.monotonic()
        rows += runners[part](args, results)
        results[part].update({"measured_at": datetime.now(TZ).isoformat(timespec="seconds"),
                              "config": config,
                              "part_seconds": round(time.monotonic() - start, 1)})
        results[f"_ran_{part}"] = True

    width = max(len(m) for _, m, _ in rows) + 2
    print(f"\n{'part':<12}{'measure':<{width}}value")
    previous = None
    for part, measure, value in rows:
        print(f"{part if part != previous else '':<12}{measure:<{width}}{value}")
        previous = part
    args.out.parent.mkdir(parents=True, exist_ok=True)
    saved = {k: v for k, v in results.items() if not k.startswith("_")}
    args.out.write_bytes(orjson.dumps(saved, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
