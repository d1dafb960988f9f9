"""``sunlight run``: the whole product on one machine: broker (unless one is configured),
topics, a worker, the simulated feed, and a live view of the alerts. Ctrl-C stops what it
started."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace

from stream.cli.common import ALL, simulation_args
from stream.cli.watch import run as watch
from stream.config import ROOT, Settings

HELP = "broker + topics + worker + simulated feed + live alerts"
ENV = ALL


def add_arguments(p: argparse.ArgumentParser) -> None:
    simulation_args(p, seed=None)
    p.add_argument("--rate", type=float, default=200.0, help="simulated events/s")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from stream.topics import create_topics

    logs = ROOT / "var" / "run"
    logs.mkdir(parents=True, exist_ok=True)
    started_broker = False
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        broker = subprocess.run([str(ROOT / "deploy" / "kafka-local"), "status"],
                                capture_output=True)
        if broker.returncode != 0:
            print("starting the local Kafka broker (deploy/kafka-local start)...", flush=True)
            subprocess.run([str(ROOT / "deploy" / "kafka-local"), "start"], check=True)
            started_broker = True
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    if not os.environ.get("SUNLIGHT_TOPIC_PREFIX"):
        # Each demo run gets topics of its own: another run's registry and feed (another
        # seed, other people) must not mix with this one.
        settings = replace(settings, topic_prefix=f"demo{seed}-")
    env = {**os.environ, "SUNLIGHT_TOPIC_PREFIX": settings.topic_prefix}
    created = create_topics(settings)
    print(f"topics ready ({len(created)} created, prefix {settings.topic_prefix!r})",
          flush=True)
    py = sys.executable
    children = []
    worker_log = open(logs / "worker.log", "ab")  # noqa: SIM115 - closed at exit
    sim_log = open(logs / "simulate.log", "ab")  # noqa: SIM115
    children.append(subprocess.Popen([py, "-m", "stream.cli", "worker"], cwd=ROOT, env=env,
                                     stdout=worker_log, stderr=subprocess.STDOUT))
    ready_url = f"http://{settings.web_host}:{settings.web_port}/readyz"
    print("waiting for the worker to be ready...", flush=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and children[0].poll() is None:
        try:
            with urllib.request.urlopen(ready_url, timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        time.sleep(0.5)
    # The feed starts once the worker has its partitions: a worker that starts on a large
    # backlog reaches its detectors late (see README, Performance).
    children.append(subprocess.Popen(
        [py, "-m", "stream.cli", "simulate", "--seed", str(seed), "--events", str(args.events),
         "--people", str(args.people), "--rate", str(args.rate)],
        cwd=ROOT, env=env, stdout=sim_log, stderr=subprocess.STDOUT))
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
        return watch(settings, argparse.Namespace(from_beginning=False), status=status)
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
