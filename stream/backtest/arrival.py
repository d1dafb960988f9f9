"""The same feeds in another arrival order: what a live worker meets, offline.

A live worker reads each input topic partition in its own order, but the partitions, topics
and Sunlight's own alerts (read back) reach it interleaved however the broker, the upstream
systems and the loop's delay make them: a backlog, one feed down and then backfilling, alerts
coming back long after the records that follow them. :class:`ArrivalReplay` drives the same
:class:`~detectors.runner.Runner` objects as a live worker does, with the same notion of
sources (each topic partition holds event time back until it says it is caught up), over any
such arrival order, so a test (or a tuner) can check that the alerts are the replay's, id for
id. :func:`orders` makes the orders: random interleavings that keep each partition's order,
every order of the feeds one after another, and everything as one backlog.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from detectors.base import Detector, Event
from detectors.findings import to_cloudevent
from detectors.registry import Registry
from detectors.runner import FEEDBACK_FEEDS, Outcome, Runner, by_kind, clock_feeds
from schemas import parse_time
from stream.ingest import Rejected, ingest

EVENT_FEEDS = ("bids", "attendance", "prescriptions", "payments")


@dataclass(frozen=True, slots=True)
class Arrival:
    """One input record as a worker reads it: its feed, partition and raw bytes."""

    feed: str
    partition: int
    offset: int
    value: bytes | None

    @property
    def source(self) -> str:
        return f"{self.feed}:{self.partition}"


def partitioned(records: Iterable[tuple[str, bytes | None, bytes | None]], partitions: int = 3
                ) -> dict[str, list[Arrival]]:
    """(feed, key, value) records as each topic partition holds them (murmur-free: a stable
    hash of the key; keyless records round-robin), in the order they were produced."""
    out: dict[str, list[Arrival]] = {}
    counters: dict[str, int] = {}
    for feed, key, value in records:
        if feed not in EVENT_FEEDS:
            continue
        if key is None:
            partition = counters.get(feed, 0) % partitions
            counters[feed] = counters.get(feed, 0) + 1
        else:
            partition = zlib.crc32(key) % partitions
        source = f"{feed}:{partition}"
        queue = out.setdefault(source, [])
        queue.append(Arrival(feed, partition, len(queue), value))
    return out


def orders(sources: dict[str, list[Arrival]], seed: int, interleavings: int = 50
           ) -> Iterator[tuple[str, list[list[Arrival]]]]:
    """(name, phases): each phase a list of arrivals; at a phase's end every source read so
    far says it is caught up (a feed done, the next not begun). Random interleavings keep each
    partition's order; "then" orders produce one feed after another; "backlog" reads every
    partition in turn, a batch at a time, as a consumer drains a backlog."""
    rng = random.Random(seed)
    names = sorted(sources)
    for i in range(interleavings):
        cursors = {name: 0 for name in names}
        weights = {name: rng.random() + 0.05 for name in names}  # some partitions lag
        merged: list[Arrival] = []
        while cursors:
            name = rng.choices(list(cursors), [weights[n] for n in cursors])[0]
            merged.append(sources[name][cursors[name]])
            cursors[name] += 1
            if cursors[name] == len(sources[name]):
                del cursors[name]
        yield f"interleaving-{i}", [merged]
    feeds = sorted({a.feed for queue in sources.values() for a in queue})
    for order in itertools.permutations(feeds):
        phases = [[a for name in names for a in sources[name] if a.feed == feed]
                  for feed in order]
        yield "then-" + ",".join(order), phases
        if order[-1] == "bids":
            # The bids system down for the whole period, longer than any source is waited
            # for: the awards arrive after event time has passed all their weeks.
            yield "down-then-" + ",".join(order), [*phases[:-1], [], phases[-1]]
    backlog: list[Arrival] = []
    cursors = {name: 0 for name in names}
    while cursors:
        for name in list(cursors):
            backlog += sources[name][cursors[name]:cursors[name] + 50]
            cursors[name] += 50
            if cursors[name] >= len(sources[name]):
                del cursors[name]
    yield "backlog", [backlog]


class ArrivalReplay:
    """Runs detectors over one arrival order as a live worker would (one keyed partition):
    each record's source holds event time back until caught up, and alerts come back as
    input ``feedback_delay`` records after they were published (each a random 0..that)."""

    def __init__(self, detectors: list[Detector], registry: Registry, sources: Iterable[str],
                 feedback_delay: int = 0, seed: int = 0,
                 source: str = "sunlight/sunlight") -> None:
        kinds = by_kind(detectors)
        self.runners = {kind: Runner(by_feed, {}, registry) for kind, by_feed in kinds.items()}
        self.clock = clock_feeds(kinds)
        self.sources = sorted(sources)
        for kind, runner in self.runners.items():
            runner.expect([s for s in self.sources if s.split(":")[0] in self.clock[kind]],
                          [0], 0.0)
        self.alerts: dict[str, dict[str, Any]] = {}
        self.late = 0
        self.source = source
        self.rng = random.Random(seed)
        self.feedback_delay = feedback_delay
        self._feedback: list[tuple[int, Event]] = []
        self._step = 0
        self._progress: dict[str, float] = {}

    def run(self, phases: list[list[Arrival]]) -> dict[str, dict[str, Any]]:
        """An empty phase: every source, read or not, says it is caught up (live: a source
        that never delivered stops holding event time after the idle timeout)."""
        read: set[str] = set()
        for phase in phases:
            for arrival in phase:
                read.add(arrival.source)
                self._arrive(arrival)
            self._caught_up(read if phase else set(self.sources))
        self._caught_up(set(self.sources))
        while self._feedback:
            self._deliver(force=True)
        return self.alerts

    def _arrive(self, arrival: Arrival) -> None:
        self._step += 1
        self._deliver()
        result = ingest(arrival.feed, arrival.value, topic=arrival.feed,
                        partition=arrival.partition, offset=arrival.offset)
        if isinstance(result, Rejected):
            return
        self._progress[arrival.source] = max(self._progress.get(arrival.source, result.ts),
                                             result.ts)
        self._handle(result, arrival.source)

    def _handle(self, event: Event, source: str) -> None:
        for kind, runner in self.runners.items():
            keys = runner.route(event)
            if not keys and source and event.feed in self.clock[kind]:
                self._settle(runner, runner.tick({source: event.ts}, 0))
            for key in keys:
                outcome = runner.handle(event, key, 0, source=source)
                if not outcome.duplicate:
                    self._settle(runner, outcome)

    def _caught_up(self, sources: set[str]) -> None:
        for kind, runner in self.runners.items():
            tick = {s: [self._progress.get(s), True] for s in sorted(sources)
                    if s.split(":")[0] in self.clock[kind]}
            if tick:
                self._settle(runner, runner.tick(tick, 0))

    def _settle(self, runner: Runner, outcome: Outcome) -> None:
        self.late += len(outcome.late)
        for finding in outcome.findings:
            alert = to_cloudevent(finding, source=self.source)
            self.alerts.setdefault(alert["id"], alert)
            event = Event("alerts", alert, parse_time(alert["time"]).timestamp(), "alerts")
            delay = self.rng.randint(0, self.feedback_delay) if self.feedback_delay else 0
            self._feedback.append((self._step + delay, event))
        runner.commit()
        if self.feedback_delay == 0:
            while self._feedback:
                self._deliver(force=True)

    def _deliver(self, force: bool = False) -> None:
        due = [item for item in self._feedback if force or item[0] <= self._step]
        if not due:
            return
        self._feedback = [item for item in self._feedback if not (force or item[0] <= self._step)]
        for _, event in due:
            self._handle(event, "")


__all__ = ["Arrival", "ArrivalReplay", "FEEDBACK_FEEDS", "orders", "partitioned"]
