"""Runs the detectors of one key kind over a stream of events: duplicate input, per-key state,
event-time watermark, late records and windows that fall due.

Pure and shared: the Faust keyed agent (live) and the replay command (offline) both drive a
Runner, so both decide duplicates, lateness and window judgements alike. ``state`` is any
mutable mapping: a Faust table live, a dict offline.

>>> from detectors.registry import Registry
>>> from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee
>>> runner = Runner({"payments": [IneligibleSubsidyPayee()]}, {}, Registry())
>>> pay = {"event_id": "p1", "event_time": "2026-05-14T09:30:00+08:00", "region": "330784",
...        "status": "requested", "payer_id": "VC1", "payee_id": "P1", "payee_kind": "person",
...        "purpose": "work_subsidy", "amount": 10}
>>> event = Event("payments", pay, 1.0)
>>> runner.route(event)
('P1',)
>>> runner.handle(event, "P1").duplicate
False
>>> runner.mark_seen(event, "P1")
>>> runner.handle(event, "P1").duplicate
True
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Detector, Event, Finding
from detectors.registry import Registry


@dataclass
class Outcome:
    duplicate: bool = False
    findings: list[Finding] = field(default_factory=list)
    #: Names of detectors for which the event came after its window was judged.
    late: list[str] = field(default_factory=list)
    #: (detector name, exception) for detectors that raised on this event.
    errors: list[tuple[str, Exception]] = field(default_factory=list)


def by_kind(detectors: Iterable[Detector]) -> dict[str, dict[str, list[Detector]]]:
    """Detectors grouped by key kind, then by input feed: one Runner (and, live, one internal
    topic and state table) per kind."""
    kinds: dict[str, dict[str, list[Detector]]] = {}
    for detector in detectors:
        for feed in sorted(detector.feeds):
            kinds.setdefault(detector.key_kind, {}).setdefault(feed, []).append(detector)
    return kinds


class Runner:
    def __init__(
        self,
        detectors_by_feed: Mapping[str, list[Detector]],
        state: MutableMapping[str, Any],
        registry: Registry,
        idle_after_s: float = 60.0,
    ) -> None:
        self.by_feed = detectors_by_feed
        self.by_name = {d.name: d for ds in detectors_by_feed.values() for d in ds}
        self.state = state
        self.registry = registry
        #: Per partition, event time "now" for window judgements: the smallest, over the input
        #: sources (topic partitions) still flowing, of the largest event time each has
        #: delivered to this partition. A min, not a max: when a backlog is read, one topic can
        #: run days ahead of another, and a window must not be judged before the slower feed
        #: has caught up with it. Per partition, because only within one partition is arrival
        #: order the order the sources sent in.
        self.watermarks: dict[int, float] = {}
        self.idle_after_s = idle_after_s
        #: partition -> source -> (max event ts, wall clock last seen)
        self._sources: dict[int, dict[str, tuple[float, float]]] = {}
        #: Per partition, a heap of (due, state key) mirroring the "pending|<p>" entries.
        self._heaps: dict[int, list[tuple[float, str]]] = {}

    def route(self, event: Event) -> tuple[str, ...]:
        """The keys this kind processes ``event`` under (usually one; none if no detector of
        the kind wants it). Each key is handled separately, in the partition that owns it."""
        keys: set[str] = set()
        for detector in self.by_feed.get(event.feed, ()):
            keys.update(detector.keys(event))
        return tuple(sorted(keys))

    @staticmethod
    def seen_key(event: Event, key: str) -> str:
        return f"seen|{event.feed}|{event.event_id}|{key}"

    @property
    def watermark(self) -> float:
        """The watermark of partition 0 (the only one offline)."""
        return self.watermarks.get(0, float("-inf"))

    def expect(self, sources: Iterable[str], partitions: Iterable[int], now: float) -> None:
        """Sources known to exist (every partition of the input topics): until one delivers
        or has been silent for ``idle_after_s``, it holds the watermark back, so a topic read
        late at start cannot find its windows already closed."""
        for partition in partitions:
            known = self._sources.setdefault(partition, {})
            for source in sources:
                known.setdefault(source, (float("-inf"), now))

    def observe(self, source: str, ts: float, now: float | None = None,
                partition: int = 0) -> None:
        """Advance ``partition``'s watermark with a record's event time from ``source`` (e.g.
        its input topic and partition). ``now`` (wall clock, seconds) lets a source silent for
        ``idle_after_s`` stop holding the watermark back; offline, pass None. An empty source
        (alerts read back: their times come from events already counted) moves nothing."""
        if not source:
            return
        sources = self._sources.setdefault(partition, {})
        best, _ = sources.get(source, (ts, 0.0))
        sources[source] = (max(best, ts), now or 0.0)
        if now is None:
            active = [b for b, _ in sources.values()]
        else:
            active = [b for b, seen in sources.values() if now - seen <= self.idle_after_s]
        watermark = min(active, default=ts)
        if watermark > self.watermarks.get(partition, float("-inf")):
            self.watermarks[partition] = watermark

    def handle(self, event: Event, key: str, partition: int = 0, source: str | None = None,
               now: float | None = None) -> Outcome:
        """Run every detector that wants ``event`` under ``key``; then judge windows now due
        among the keys of ``partition``. Does not mark the event seen: call :meth:`mark_seen`
        once its findings are safely published. ``source`` and ``now``: see :meth:`observe`
        (by default one source: input merged in event-time order, as in replay)."""
        outcome = Outcome()
        if self.state.get(self.seen_key(event, key)) is not None:
            outcome.duplicate = True
            return outcome
        self.observe("merged" if source is None else source, event.ts, now, partition)
        for detector in self.by_feed.get(event.feed, ()):
            try:
                if key in detector.keys(event):
                    self._process(detector, event, key, partition, outcome)
            except Exception as exc:  # one detector's bug must not stop the others
                outcome.errors.append((detector.name, exc))
        self._advance(partition, outcome)
        return outcome

    def tick(self, progress: Mapping[str, float], partition: int, now: float | None = None
             ) -> Outcome:
        """A watermark tick (source -> event time reached): advance the watermark and judge
        the windows of ``partition`` now due, though no event of theirs arrived (a silent
        project's week)."""
        outcome = Outcome()
        for source, ts in progress.items():
            self.observe(source, ts, now, partition)
        self._advance(partition, outcome)
        return outcome

    def mark_seen(self, event: Event, key: str) -> None:
        self.state[self.seen_key(event, key)] = event.ts

    def _process(self, detector: Detector, event: Event, key: str, partition: int,
                 outcome: Outcome) -> None:
        state_key = f"state|{detector.name}|{key}"
        old = self.state.get(state_key) if detector.stateful else None
        if detector.stateful and detector.is_late(event, key, old):
            outcome.late.append(detector.name)
            return
        new, findings = detector.process(event, key, old, self.registry)
        outcome.findings.extend(findings)
        if detector.stateful:
            self._store(detector, state_key, partition, old, new)

    def _store(self, detector: Detector, state_key: str, partition: int, old: Any,
               new: Any) -> None:
        if new != old:
            if new is None:
                self.state.pop(state_key, None)
            else:
                self.state[state_key] = new
        due_old = detector.due(old) if old is not None else None
        due_new = detector.due(new) if new is not None else None
        if due_old != due_new:
            self._set_pending(partition, state_key, due_new)

    def _set_pending(self, partition: int, state_key: str, due: float | None) -> None:
        pending_key = f"pending|{partition}"
        pending = dict(self.state.get(pending_key) or {})
        if due is None:
            pending.pop(state_key, None)
        else:
            pending[state_key] = due
            heapq.heappush(self._heap(partition), (due, state_key))
        self.state[pending_key] = pending

    def _heap(self, partition: int) -> list[tuple[float, str]]:
        heap = self._heaps.get(partition)
        if heap is None:  # first use since start: rebuild from the recovered state
            pending = self.state.get(f"pending|{partition}") or {}
            heap = [(due, key) for key, due in pending.items()]
            heapq.heapify(heap)
            self._heaps[partition] = heap
        return heap

    def _advance(self, partition: int, outcome: Outcome) -> None:
        heap = self._heap(partition)
        watermark = self.watermarks.get(partition, float("-inf"))
        while heap and heap[0][0] <= watermark:
            due, state_key = heapq.heappop(heap)
            pending = self.state.get(f"pending|{partition}") or {}
            if pending.get(state_key) != due:
                continue  # superseded: the key's due time changed since this entry
            _, name, key = state_key.split("|", 2)
            detector = self.by_name.get(name)
            if detector is None:  # a detector since disabled: forget its pending windows
                self._set_pending(partition, state_key, None)
                continue
            old = self.state.get(state_key)
            try:
                new, findings = detector.advance(key, old, watermark, self.registry)
            except Exception as exc:
                outcome.errors.append((name, exc))
                self._set_pending(partition, state_key, None)
                continue
            outcome.findings.extend(findings)
            self._store(detector, state_key, partition, old, new)
            if new is not None and detector.due(new) == due:
                # advance() made no progress; don't spin on it.
                self._set_pending(partition, state_key, None)
