"""Hostile input for the soak (``bench/soak.py --hostile``): records around every size limit,
broken, duplicated keys, ids spelt with invisible characters, registry deletions and mis-keyed
registry records mixed into the feed; and hostile HTTP clients (idle, slow, malformed) held
against every worker's web port while a probe times ``/livez``.

The records are made from the feed's own records (same feed, same event time), so the replay of
the whole input still gives the alerts to expect: what the workers must dead-letter is counted
beside, by kind.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from stream.simulator.simulate import Record

#: Sent in hostile HTTP requests; must never reach a worker's log.
MARKER = "HOSTILE-MARKER-51c9"


def _padded(record: dict[str, Any], size: int) -> bytes:
    record = {**record, "pad": ""}
    record["pad"] = "x" * max(0, size - len(orjson.dumps(record)))
    return orjson.dumps(record)


def _nobody(record: dict[str, Any], n: int) -> dict[str, Any]:
    """The record as a new event about nobody in the registry (so it raises no alert)."""
    out = {**record, "event_id": f"hostile-{n}"}
    for name in ("payee_id", "bidder_id", "person_id", "prescriber_id"):
        if name in out:
            out[name] = f"P-NOBODY-{n}"
    return out


#: kind -> (make the record from a feed record (decoded) and a serial, dead-lettered?)
KINDS: dict[str, tuple[Callable[[dict[str, Any], int, int], tuple[str, bytes | None, bytes]],
                       bool]] = {
    "valid_0.7x": (lambda r, n, lim: ("", None, _padded(_nobody(r, n), int(0.7 * lim))), False),
    "valid_0.9x": (lambda r, n, lim: ("", None, _padded(_nobody(r, n), int(0.9 * lim))), False),
    "valid_1.0x": (lambda r, n, lim: ("", None, _padded(_nobody(r, n), lim)), False),
    "valid_1.2x": (lambda r, n, lim: ("", None, _padded(_nobody(r, n), int(1.2 * lim))), True),
    "invalid_0.9x": (lambda r, n, lim: ("", None, _padded(_nobody(r, n), int(0.9 * lim))[:-1]),
                     True),
    "invalid_1.2x": (lambda r, n, lim: ("", None, _padded(_nobody(r, n), int(1.2 * lim))[:-1]),
                     True),
    "duplicate_key": (lambda r, n, lim: ("", None, orjson.dumps(_nobody(r, n))[:-1]
                                         + b',"event_id":"twice"}'), True),
    # The same event again under a new id, its ids spelt with invisible characters.
    "invisible_ids": (lambda r, n, lim: ("", None, orjson.dumps({
        **{k: (f"\u200b{v}\ufeff " if k.endswith("_id") and isinstance(v, str) else v)
           for k, v in r.items()}, "event_id": f"hostile-{n}"})), False),
    "registry_tombstone": (lambda r, n, lim: ("registry", f"P-GHOST-{n}".encode(), b""),
                           False),
    "registry_key_mismatch": (lambda r, n, lim: ("registry", f"P-GHOST-{n}-KEY".encode(),
                                                 orjson.dumps({"record_type": "person",
                                                               "person_id": f"P-GHOST-{n}"})),
                              True),
}


def mix(events: list[Record], every: int, limit: int) -> tuple[list[Record], Counter[str],
                                                                int]:
    """``events`` with a hostile record after every ``every``-th one (kinds in turn, made from
    the record before it); the kinds sent, and how many the workers must dead-letter."""
    out: list[Record] = []
    kinds = list(KINDS)
    sent: Counter[str] = Counter()
    letters = 0
    for i, record in enumerate(events):
        out.append(record)
        if i % every != every - 1 or record.feed not in ("payments", "bids", "attendance",
                                                         "prescriptions"):
            continue
        try:
            decoded = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError:
            continue
        if not isinstance(decoded, dict):
            continue
        kind = kinds[sum(sent.values()) % len(kinds)]
        make, dead_lettered = KINDS[kind]
        feed, key, value = make(decoded, i, limit)
        out.append(Record(feed or record.feed, key, None if feed == "registry" and not value
                          else value))
        sent[kind] += 1
        letters += dead_lettered
    return out, sent, letters


def bad_requests() -> list[bytes]:
    post = (b"POST /v1/precheck HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
    return [
        post + b"Authorization: Bearer \xff\xfe" + MARKER.encode() + b"\r\nContent-Length: 2"
        b"\r\n\r\n{}",
        post + b"X-Big: " + MARKER.encode() * 4000 + b"\r\nContent-Length: 2\r\n\r\n{}",
        post + b"Content-Length: 50000000\r\n\r\n" + MARKER.encode(),
        b"GET /router/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00" + MARKER.encode() + b"\r\n\r\n",
    ]


@dataclass
class Clients:
    """Hostile HTTP clients against the workers' ports (a thread), and a /livez probe."""

    ports: Callable[[], list[int]]
    idle_per_worker: int = 200
    probe_latencies: list[float] = field(default_factory=list)
    probe_failures: Counter[str] = field(default_factory=Counter)
    bad_answers: Counter[int] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        idle: dict[int, list[socket.socket]] = {}
        requests = bad_requests()
        turn = 0
        while not self._stop.wait(1.0):
            for port in self.ports():
                held = idle.setdefault(port, [])
                held[:] = [s for s in held if _open(s)]
                for _ in range(self.idle_per_worker - len(held)):
                    try:
                        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                        sock.sendall(b"POST /v1/precheck HTTP/1.1\r\n")  # and never more
                        held.append(sock)
                    except OSError:
                        break
                self.bad_answers[_status(port, requests[turn % len(requests)])] += 1
                turn += 1
                self._probe(port)
        for held in idle.values():
            for sock in held:
                sock.close()

    def _probe(self, port: int) -> None:
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=5):
                self.probe_latencies.append(time.perf_counter() - started)
        except OSError as exc:
            if port in self.ports():  # not a worker the soak has just killed
                self.probe_failures[type(getattr(exc, "reason", exc)).__name__] += 1

    def report(self) -> dict[str, Any]:
        lat = sorted(self.probe_latencies)
        return {"livez_probes": len(lat) + sum(self.probe_failures.values()),
                "livez_failures": dict(self.probe_failures),
                "livez_p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
                "livez_max_ms": round(lat[-1] * 1000, 1) if lat else None,
                "bad_request_answers": {str(k): v for k, v in self.bad_answers.items()}}


def _open(sock: socket.socket) -> bool:
    """Whether the server still holds the connection (no EOF, no reset)."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def _status(port: int, request: bytes) -> int:
    """The status a worker answers ``request`` with (0: none)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            head = sock.recv(4096)
        return int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
    except (OSError, ValueError, IndexError):
        return 0


def log_findings(paths: Iterator[Any]) -> dict[str, int]:
    """What the workers' logs hold that they must not: the marker, fd exhaustion, tracebacks."""
    out: Counter[str] = Counter()
    for path in paths:
        text = path.read_bytes()
        out["bytes"] += len(text)
        out["marker"] += text.count(MARKER.encode())
        out["too_many_open_files"] += text.count(b"Too many open files")
        out["tracebacks"] += text.count(b"Traceback")
    return dict(out)
