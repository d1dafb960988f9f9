"""Pre-check latency: POST /v1/precheck at a steady request rate against a real worker (real
broker, registry of --people people), beside GET /livez on the same worker at the same rate
as the baseline (the HTTP stack alone).

    .venv/bin/python bench/precheck.py [--rate 200] [--seconds 20] [--people 100000]

Prints p50/p99/max per endpoint and writes var/bench/precheck.json.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
from kafka import KafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stream.config import Settings  # noqa: E402
from stream.topics import create_topics  # noqa: E402

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(settings: Settings, people: int) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks=1,
                             linger_ms=20, batch_size=256 * 1024)
    for i in range(people):
        roles = ([{"role": "village_cadre", "org_id": f"VC-{i % 500:03d}", "region": "330784",
                   "start": "2021-01-01"}] if i % 25 == 0 else [])
        record = {"record_type": "person", "person_id": f"P-{i:08d}", "roles": roles,
                  "relatives": [], "integrity_flags": []}
        producer.send(settings.topic("registry"), key=record["person_id"].encode(),
                      value=orjson.dumps(record))
    producer.flush()


def wait_ready(port: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("worker not ready")


def drive(port: int, method: str, path: str, bodies: list[bytes], rate: float,
          seconds: float, threads: int = 8) -> tuple[list[float], int]:
    """Open-loop load: request i is due at start + i/rate, whatever earlier ones took; the
    latency counts from the due time, so a stalled server shows as queueing delay."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    counter = iter(range(total))

    def worker() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        for i in counter:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                conn.request(method, path, body=bodies[i % len(bodies)] if bodies else None,
                             headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            elapsed = time.perf_counter() - due
            with lock:
                latencies.append(elapsed)
                errors += not ok

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, errors


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
            "max_ms": 1000 * ordered[-1], "n": len(ordered)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    base = Settings.from_env()
    settings = Settings(bootstrap_servers=base.bootstrap_servers, partitions=4,
                        topic_prefix=f"bench-{uuid.uuid4().hex[:6]}-")
    create_topics(settings)
    load(settings, args.people)
    port = free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "SUNLIGHT_TOPIC_PREFIX": settings.topic_prefix, "SUNLIGHT_PARTITIONS": "4",
           "SUNLIGHT_WEB_PORT": str(port), "SUNLIGHT_API_TOKEN": TOKEN,
           "SUNLIGHT_DATA_DIR": str(ROOT / "var" / "bench" / "precheck-worker"),
           "SUNLIGHT_LOG_LEVEL": "warning"}
    worker = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port)
        bodies = []
        for i in range(1000):
            payee = f"P-{(i * 7919) % args.people:08d}"
            bodies.append(orjson.dumps({
                "event_id": f"bench-{i}", "event_time": "2026-05-14T09:30:00+08:00",
                "region": "330784", "status": "requested",
                "payer_id": f"VC-{(i * 7919) % args.people % 500:03d}", "payee_id": payee,
                "payee_kind": "person", "purpose": "work_subsidy", "amount": 800.0}))
        results = {}
        for name, method, path, body in (("livez (baseline)", "GET", "/livez", []),
                                         ("precheck", "POST", "/v1/precheck", bodies)):
            latencies, errors = drive(port, method, path, body, args.rate, args.seconds)
            results[name] = {**summary(latencies), "errors": errors}
        print(f"{args.people:,} people in the registry; {args.rate:.0f} requests/s for "
              f"{args.seconds:.0f} s each\n")
        print(f"{'endpoint':<18}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'n':>8}{'errors':>8}")
        for name, r in results.items():
            print(f"{name:<18}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.1f}"
                  f"{r['n']:>8}{r['errors']:>8}")
        out = ROOT / "var" / "bench" / "precheck.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(orjson.dumps({"rate": args.rate, "seconds": args.seconds,
                                      "people": args.people, "results": results},
                                     option=orjson.OPT_INDENT_2))
        print(f"\nwritten to {out}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
