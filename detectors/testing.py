"""Drive detectors through the real :class:`~detectors.runner.Runner`, for tests and tuning.

A test (or a tuner trying parameters) gives detectors of one key kind and a list of events, in
the order they arrive; a float in the list is a watermark tick (event time has reached it).
Every event is routed, handled and committed as the live worker and the replay do: duplicates,
late records, retention, per-key state (stored as JSON bytes) and windows that fall due are the
Runner's own, never an imitation. ``until`` ends with a tick (``float("inf")``: every pending
window is judged).

>>> from detectors.duplicate_subsidy_regions import DuplicateSubsidyRegions
>>> def pay(i, day, region):
...     return Event("payments", {"event_id": f"w{i}", "event_time": f"{day}T10:00:00+08:00",
...         "region": region, "status": "executed", "payer_id": f"VC-{region}-001",
...         "payee_id": "P-7", "payee_kind": "person", "purpose": "welfare_subsidy",
...         "amount": 300}, ts=float(int(day[-2:]) * 86400))
>>> run = drive(DuplicateSubsidyRegions(), [pay(1, "2026-05-03", "331102"),
...                                         pay(2, "2026-05-20", "330602")])
>>> [(f.subject, f.basis) for f in run.findings], sorted(run.state("P-7"))
([('person:P-7', ('w2',))], ['f', 'p'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Detector, Event, Finding
from detectors.findings import to_cloudevent
from detectors.registry import Registry
from detectors.runner import Runner, by_kind

__all__ = ["Run", "drive"]


@dataclass
class Run:
    """What a drive gave: the findings in the order the Runner made them, the events it
    counted late (an event id per key and detector), the duplicates it dropped, and the Runner
    itself (its state is the key -> JSON bytes mapping a Faust table would hold)."""

    runner: Runner
    findings: list[Finding] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    duplicates: int = 0

    @property
    def detector(self) -> str:
        """The name of the only detector driven (the one :meth:`state` reads by default)."""
        [name] = self.runner.by_name
        return name

    def state(self, key: str, name: str | None = None) -> Any:
        """Detector ``name``'s state for ``key`` (None when it keeps none)."""
        return self.runner.detector_state(name or self.detector, key)

    def states(self, name: str | None = None) -> dict[str, Any]:
        """key -> state of every key detector ``name`` keeps state for."""
        return dict(self.runner.states(name or self.detector))

    def alerts(self) -> list[dict[str, Any]]:
        """The findings as the alerts a worker would publish (CloudEvents, CONTRACT.md)."""
        return [to_cloudevent(finding) for finding in self.findings]


def drive(detectors: Detector | Iterable[Detector], items: Iterable[Event | float],
          registry: Registry | None = None, *, states: Mapping[str, Any] | None = None,
          store: MutableMapping[str, Any] | None = None,
          until: float | None = None, clock: bool = True, **runner_options: Any) -> Run:
    """Run ``items`` (events, and floats as watermark ticks) through one Runner holding
    ``detectors`` (all of one key kind). ``states``: key -> starting state of the (only)
    detector; ``store``: the Runner's own state mapping to start from (a checkpoint, key ->
    bytes, as a restarted worker recovers it). An event no detector keys still carries event
    time (live: a tick). Every event is one source merged in arrival order, as a replay of one
    file. ``clock=False``: events carry no event time (handled as alerts read back are), only
    the floats move the watermark, so nothing is judged or forgotten between ticks.
    ``runner_options`` go to the Runner (e.g. ``cache_size=0``: every state read back from its
    JSON before use)."""
    chosen = [detectors] if isinstance(detectors, Detector) else list(detectors)
    kinds = by_kind(chosen)
    if len(kinds) != 1:
        raise ValueError(f"drive() runs detectors of one key kind, got {sorted(kinds)}")
    [by_feed] = kinds.values()
    runner = Runner(by_feed, {} if store is None else store, registry or Registry(),
                    **runner_options)
    run = Run(runner)
    for key, value in (states or {}).items():
        runner.put_state(run.detector, key, value)
    for item in items:
        if isinstance(item, Event):
            keys = runner.route(item)
            if not keys and clock:
                _settle(run, runner.tick({"merged": item.ts}, 0))
                runner.commit()
            for key in keys:
                outcome = runner.handle(item, key, source=None if clock else "")
                if outcome.duplicate:
                    run.duplicates += 1
                    continue
                run.late += [item.event_id for _ in outcome.late]
                _settle(run, outcome)
                runner.commit()
        else:
            _settle(run, runner.tick({"merged": float(item)}, 0))
            runner.commit()
    if until is not None:
        _settle(run, runner.tick({"merged": until}, 0))
        runner.commit()
    return run


def _settle(run: Run, outcome: Any) -> None:
    # The Runner keeps one detector's exception from stopping the others; a test wants it.
    for _, exc in outcome.errors:
        raise exc
    run.findings += outcome.findings
