"""Real parts for integration tests: topics on the real broker, worker processes, producers
and consumers. Each test world gets a topic prefix of its own, so tests never see each other."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from stream.config import Settings
from stream.topics import create_topics

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    """One isolated deployment on the shared broker: its own topic prefix and consumer group."""

    def __init__(self, bootstrap: str, tmp: Path, partitions: dict[str, int] | None = None,
                 internal_partitions: int = 4) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}-"
        self.bootstrap = bootstrap
        self.tmp = tmp
        self.settings = Settings(bootstrap_servers=bootstrap, topic_prefix=self.prefix,
                                 partitions=internal_partitions)
        create_topics(self.settings, partitions or {})
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
        self.workers: list[WorkerProcess] = []

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def produce(self, feed: str, value: bytes | dict[str, Any] | None,
                key: bytes | str | None = None) -> None:
        if isinstance(value, dict):
            value = orjson.dumps(value)
        if isinstance(key, str):
            key = key.encode()
        self.producer.send(self.topic(feed), key=key, value=value)

    def flush(self) -> None:
        self.producer.flush()

    def start_worker(self, open_files: int | None = None, args: tuple[str, ...] = (),
                     **env: str) -> WorkerProcess:
        """A worker process; ``open_files``: its open-files limit (``ulimit -n``); ``args``:
        more options of ``sunlight worker``."""
        worker = WorkerProcess(self, len(self.workers), env, open_files, args)
        self.workers.append(worker)
        return worker

    def read(self, topic: str, expect: int, timeout: float = 60.0,
             settle: float = 3.0, distinct: str | None = None) -> list[dict[str, Any]]:
        """Every record on ``topic``: wait until ``expect`` arrived (with ``distinct``, records
        with that many different values of that field: duplicates don't count), then
        ``settle`` seconds more so that extra (unexpected) records are seen too."""
        def decoded(message: Any) -> dict[str, Any]:
            record = orjson.loads(message.value)
            record["_key"] = message.key.decode() if message.key else None
            return record

        count = ((lambda out: len({r.get(distinct) for r in out})) if distinct else len)
        return self.read_messages(topic, expect, timeout, settle, decoded, count)

    def read_messages(self, topic: str, expect: int, timeout: float = 60.0,
                      settle: float = 3.0, convert: Any = lambda message: message,
                      count: Any = len) -> list[Any]:
        """Like :meth:`read`, the Kafka messages as they are (headers, key, value bytes)."""
        # poll(), not iteration with consumer_timeout_ms: a timeout in the middle of a fetched
        # batch dropped the rest of it (kafka-python 3.0; seen as alerts "missing" after a
        # burst, though the worker's log showed them confirmed by the broker).
        consumer = KafkaConsumer(self.topic(topic), bootstrap_servers=self.bootstrap,
                                 auto_offset_reset="earliest", enable_auto_commit=False)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        settle_until = None
        try:
            while True:
                for messages in consumer.poll(timeout_ms=500).values():
                    out.extend(convert(message) for message in messages)
                now = time.monotonic()
                if count(out) >= expect and settle_until is None:
                    settle_until = now + settle
                if (settle_until is not None and now >= settle_until) or now >= deadline:
                    return out
        finally:
            consumer.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.producer.close()
        self.delete_topics()

    def delete_topics(self) -> None:
        """Drop this world's topics (inputs, outputs, internal, changelogs): a broker that
        keeps every test's partitions runs out of file handles."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(self.prefix)]
            if mine:
                admin.delete_topics(mine)
        except KafkaError:
            pass  # best effort: the test's verdict does not depend on it
        finally:
            admin.close()


class WorkerProcess:
    """``sunlight worker`` as a real OS process."""

    def __init__(self, world: World, index: int, env: dict[str, str],
                 open_files: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.log_path = world.tmp / f"worker-{world.prefix}{index}.log"
        full_env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": world.bootstrap,
            "SUNLIGHT_TOPIC_PREFIX": world.prefix,
            "SUNLIGHT_PARTITIONS": str(world.settings.partitions),
            "SUNLIGHT_WEB_PORT": str(self.port),
            "SUNLIGHT_DATA_DIR": str(world.tmp / f"data-{index}"),
            "SUNLIGHT_DETECTORS_FILE": str(ROOT / "detectors.yaml"),
            **env,
        }
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()

        def limit_open_files() -> None:
            if open_files is not None:
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))

        self.process = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker", *args],
                                        cwd=ROOT, env=full_env, stdout=self.log,
                                        stderr=subprocess.STDOUT, preexec_fn=limit_open_files)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 90.0, port: int | None = None) -> None:
        """Until /readyz answers 200 (on ``port``: a supervised worker's, default this one's)."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{port or self.port}/readyz"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.tail()}")

    def metrics(self) -> dict[str, float]:
        """The worker's /metrics as {'name{labels}': value}."""
        body = urllib.request.urlopen(self.url("/metrics"), timeout=5).read().decode()
        samples = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def wait_metric(self, name: str, at_least: float, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        value = 0.0
        while time.monotonic() < deadline:
            try:
                value = self.metrics().get(name, 0.0)
            except OSError:
                value = 0.0
            if value >= at_least:
                return value
            time.sleep(0.5)
        raise AssertionError(f"{name} = {value}, expected >= {at_least}\n{self.tail()}")

    def stacks(self, lines: int = 200) -> str:
        """Where every asyncio task of the worker waits (it logs them on SIGUSR1), with the
        log before it: for a test that finds the worker stuck."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
        return self.tail(lines)

    def tail(self, lines: int = 60) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, sig: int = 15) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def pay_cadres(world: World, village: str, cadres: Iterable[str]) -> None:
    """Make village cadres (registry) and have their own village pay each a work subsidy: one
    ineligible_subsidy_payee alert (red) per cadre. Needs a started worker."""
    cadres = list(cadres)
    for pid in cadres:
        world.produce("registry", {"record_type": "person", "person_id": pid, "roles": [
            {"role": "village_cadre", "org_id": village, "region": village.split("-")[1],
             "start": "2020-01-01"}]}, key=pid)
    world.flush()
    world.workers[0].wait_metric('sunlight_registry_records{record_type="person"}', len(cadres))
    for pid in cadres:
        world.produce("payments", {
            "event_id": f"pay-{village}-{pid}", "event_time": "2026-05-14T09:30:00+08:00",
            "region": village.split("-")[1], "status": "executed", "payer_id": village,
            "payee_id": pid, "payee_kind": "person", "purpose": "work_subsidy",
            "amount": 700.0})
    world.flush()


def by_id(alerts: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in alerts}


class PrivateBroker:
    """A Kafka broker of one test's own (``deploy/kafka-local`` with its data folder under
    ``var`` and free ports), for faults that must not touch the shared broker: stopping or
    killing it. ``close()`` stops it and deletes its folder."""

    def __init__(self, var: Path) -> None:
        self.var = var
        self.port, self.controller_port = free_port(), free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.pid_file = var / "kafka" / "broker.pid"
        # Without KAFKA_BOOTSTRAP_SERVERS: with it set, kafka-local manages no broker at all.
        self.env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
        self.env.update(SUNLIGHT_VAR=str(var), SUNLIGHT_KAFKA_PORT=str(self.port),
                        SUNLIGHT_KAFKA_CONTROLLER_PORT=str(self.controller_port))

    def _run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ROOT / "deploy" / "kafka-local"), command], env=self.env,
                              capture_output=True, text=True, timeout=180)

    def start(self) -> None:
        result = self._run("start")
        if result.returncode != 0 or self.bootstrap not in result.stdout:
            raise AssertionError(f"private broker did not start:\n{result.stdout}{result.stderr}")

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after a timeout): a clean broker shutdown."""
        result = self._run("stop")
        if result.returncode != 0:
            raise AssertionError(f"private broker did not stop:\n{result.stdout}{result.stderr}")

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        # Only our own JVM: the pid must run kafka.Kafka on this broker's properties file.
        mine = str(self.var / "kafka" / "server.properties").encode()
        return pid if b"kafka.Kafka" in cmdline and mine in cmdline else None

    def kill(self) -> None:
        """SIGKILL the broker JVM: no controlled shutdown, no flush, the next start recovers."""
        pid = self.pid()
        if pid is None:
            raise AssertionError(f"private broker is not running:\n{self.tail()}")
        os.kill(pid, 9)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def tail(self, lines: int = 40) -> str:
        log = self.var / "kafka" / "logs" / "server.log"
        try:
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no broker log)"

    def close(self) -> None:
        try:
            self._run("stop")
        finally:
            pid = self.pid()
            if pid is not None:  # stop failed: never leave a JVM behind
                os.kill(pid, 9)
            shutil.rmtree(self.var, ignore_errors=True)
