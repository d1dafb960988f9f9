"""A seeded, realistic feed: the registry and all four event feeds, with each implemented
detector's cases (and their near misses) mixed into plenty of normal traffic.

``Simulation`` is pure (no I/O): the same seed and sizes give the same records in the same order,
so the stream to Kafka, the files for replay and the labels of what was injected all agree.
Upstream realities are part of the mix: keys that differ between producers, records a little out
of order, retried (duplicate) records and malformed ones.

Cases come from scenarios (``stream/simulator/scenarios/``): a scenario turns one draw into the
records of one case or near miss, possibly spread over weeks of event time (an award, then its
attendance), and the label of the finding it should cause. Records are released in event-time order
(with jitter), interleaved with normal traffic.
"""

from __future__ import annotations

import gzip
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from stream.simulator.scenarios import SCENARIOS, Emit
from stream.simulator.world import World

START = "2026-05-04T08:00:00+08:00"


@dataclass(frozen=True, slots=True)
class Record:
    """One record for a topic: logical feed, key bytes (or None) and value bytes."""

    feed: str
    key: bytes | None
    value: bytes | None


@dataclass
class Simulation:
    seed: int = 7
    events: int = 10_000
    people: int = 2_000
    start: str = START
    #: Mean event-time step between records, seconds (a day's feed for ~3,000 events).
    step_s: float = 30.0
    #: Share of draws that start a case / a near miss (spread over the scenarios).
    case_rate: float = 0.003
    near_miss_rate: float = 0.006
    duplicate_rate: float = 0.005
    malformed_rate: float = 0.002
    #: Scenario names to use (default: all).
    scenarios: tuple[str, ...] | None = None
    counts: Counter[str] = field(default_factory=Counter)
    #: Expected findings: {detector, subject, time, severity, action, event_id?}.
    labels: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.t0 = datetime.fromisoformat(self.start)
        self.world = World(seed=self.seed, people=self.people)
        names = self.scenarios or tuple(SCENARIOS)
        self.active = [SCENARIOS[name] for name in names]
        # Cases must be judged before the feed ends: none starts in its last stretch.
        self.horizon = self.t0 + timedelta(seconds=0.85 * self.events * self.step_s)

    def registry(self) -> Iterator[Record]:
        for record in self.world.registry_records():
            key = record.get("person_id") or record["company_id"]
            yield Record("registry", key.encode(), orjson.dumps(record))

    def stream(self) -> Iterator[Record]:
        """``events`` records in all (cases included), released in event-time order."""
        rng = random.Random(f"events-{self.seed}")
        queue: list[tuple[datetime, int, Emit]] = []
        seq = 0
        recent: list[Record] = []
        emitted = 0
        i = 0
        while emitted < self.events:
            now = self.t0 + timedelta(seconds=i * self.step_s)
            # Released records carry their own time; jitter makes the feed a little unordered.
            while queue and queue[0][0] <= now and emitted < self.events:
                _, _, emit = heapq.heappop(queue)
                record = self._emit(rng, emit)
                emitted += 1
                recent.append(record) if len(recent) < 512 else None
                yield record
            if emitted >= self.events:
                break
            ts = now - timedelta(seconds=rng.uniform(0, 600))
            roll = rng.random()
            if roll < self.malformed_rate:
                self.counts["malformed"] += 1
                emitted += 1
                yield self._malformed(rng, i, ts)
            elif roll < self.malformed_rate + self.duplicate_rate and recent:
                original = recent[rng.randrange(len(recent))]
                self.counts["duplicate"] += 1
                emitted += 1
                yield Record(original.feed, _key(rng, None), original.value)
            elif roll < self.malformed_rate + self.duplicate_rate + self.case_rate + \
                    self.near_miss_rate and self.active:
                scenario = self.active[rng.randrange(len(self.active))]
                near = roll >= self.malformed_rate + self.duplicate_rate + self.case_rate
                make = scenario.near_miss if near else scenario.case
                end = ts + timedelta(days=scenario.span_days)
                if end <= self.horizon:
                    emits = make(self.world, rng, f"{self.seed}-{i:09d}", ts)
                    # Cases use up the record budget too: start one only if the feed still
                    # runs past its judgement with what is left.
                    left = self.events - emitted - len(queue) - len(emits)
                    if end <= now + timedelta(seconds=0.85 * left * self.step_s):
                        for emit in emits:
                            heapq.heappush(queue, (emit.at, seq, emit))
                            seq += 1
            else:
                record = self._emit(rng, self.world.normal(rng, f"{self.seed}-{i:09d}", ts))
                emitted += 1
                if len(recent) < 512:
                    recent.append(record)
                elif rng.random() < 0.1:
                    recent[rng.randrange(len(recent))] = record
                yield record
            i += 1

    def _emit(self, rng: random.Random, emit: Emit) -> Record:
        if emit.count:
            self.counts[emit.count] += 1
        if emit.label:
            self.labels.append(emit.label)
        return Record(emit.feed, _key(rng, emit.record), orjson.dumps(emit.record))

    def _malformed(self, rng: random.Random, i: int, ts: datetime) -> Record:
        feed = rng.choice(("bids", "attendance", "prescriptions", "payments"))
        kind = rng.randrange(4)
        good = self.world.normal(rng, f"bad-{self.seed}-{i:09d}", ts)
        record = dict(good.record)
        if kind == 0:
            value = b"<xml>not json</xml>"
        elif kind == 1:
            value = orjson.dumps(record)[:-7]  # truncated
            feed = good.feed
        elif kind == 2:  # a required field missing
            record.pop("region")
            value, feed = orjson.dumps(record), good.feed
        else:  # a local time with no offset
            record["event_time"] = ts.strftime("%Y-%m-%d %H:%M:%S")
            value, feed = orjson.dumps(record), good.feed
        return Record(feed, None, value)

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def write_files(out: Path, registry: Iterable[Record], events: Iterable[Record],
                labels: list[dict[str, Any]], compress: bool = False) -> list[str]:
    """The feed as JSONL files per topic (what the replay command reads), then labels.jsonl
    (written last: ``labels`` fills as ``events`` is consumed). Returns the feeds written."""
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".jsonl.gz" if compress else ".jsonl"
    handles: dict[str, IO[bytes]] = {}
    try:
        for record in itertools.chain(registry, events):
            if record.feed not in handles:
                path = out / f"{record.feed}{suffix}"
                handles[record.feed] = (gzip.open(path, "wb") if compress  # type: ignore[assignment]
                                        else open(path, "wb"))  # noqa: SIM115
            handles[record.feed].write((record.value or b"") + b"\n")
    finally:
        for handle in handles.values():
            handle.close()
    with open(out / "labels.jsonl", "wb") as handle:
        for label in labels:
            handle.write(orjson.dumps(label) + b"\n")
    return sorted(handles)


def _key(rng: random.Random, record: dict[str, Any] | None) -> bytes | None:
    """Upstream systems key as they please: by project, by event, by a random id, or not at all."""
    roll = rng.random()
    if record is None or roll < 0.3:
        return None
    if roll < 0.6:
        return str(record.get("project_id") or record.get("payer_id") or "").encode() or None
    if roll < 0.8:
        return record["event_id"].encode()
    return f"k{rng.randrange(10**6)}".encode()
