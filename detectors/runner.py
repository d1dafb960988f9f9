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

from collections.abc import Mapping, MutableMapping
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


class Runner:
    def __init__(
        self,
        detectors_by_feed: Mapping[str, list[Detector]],
        state: MutableMapping[str, Any],
        registry: Registry,
    ) -> None:
        self.by_feed = detectors_by_feed
        self.by_name = {d.name: d for ds in detectors_by_feed.values() for d in ds}
        self.state = state
        self.registry = registry
        #: The largest event time seen so far: event time "now" for window judgements.
        self.watermark = float("-inf")

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

    def handle(self, event: Event, key: str, partition: int = 0) -> Outcome:
        """Run every detector that wants ``event`` under ``key``; then judge windows now due
        among the keys of ``partition``. Does not mark the event seen: call :meth:`mark_seen`
        once its findings are safely published."""
        outcome = Outcome()
        if self.state.get(self.seen_key(event, key)) is not None:
            outcome.duplicate = True
            return outcome
        if event.ts > self.watermark:
            self.watermark = event.ts
        for detector in self.by_feed.get(event.feed, ()):
            try:
                if key in detector.keys(event):
                    self._process(detector, event, key, partition, outcome)
            except Exception as exc:  # one detector's bug must not stop the others
                outcome.errors.append((detector.name, exc))
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
            pending_key = f"pending|{partition}"
            pending = dict(self.state.get(pending_key) or {})
            if due_new is None:
                pending.pop(state_key, None)
            else:
                pending[state_key] = due_new
            self.state[pending_key] = pending

    def _advance(self, partition: int, outcome: Outcome) -> None:
        pending = self.state.get(f"pending|{partition}")
        if not pending:
            return
        for state_key, due in sorted(pending.items(), key=lambda item: (item[1], item[0])):
            if due > self.watermark:
                continue
            _, name, key = state_key.split("|", 2)
            detector = self.by_name.get(name)
            if detector is None:  # a detector since disabled: forget its pending windows
                self._drop_pending(partition, state_key)
                continue
            old = self.state.get(state_key)
            try:
                new, findings = detector.advance(key, old, self.watermark, self.registry)
            except Exception as exc:
                outcome.errors.append((name, exc))
                self._drop_pending(partition, state_key)
                continue
            outcome.findings.extend(findings)
            self._store(detector, state_key, partition, old, new)
            if new is not None and detector.due(new) == due:
                # advance() made no progress; don't spin on it.
                self._drop_pending(partition, state_key)

    def _drop_pending(self, partition: int, state_key: str) -> None:
        pending = dict(self.state.get(f"pending|{partition}") or {})
        pending.pop(state_key, None)
        self.state[f"pending|{partition}"] = pending
