"""Every detector in the catalogue, checked for what its alerts must not depend on: the order
in which the feeds arrive. As river runs one suite of checks on every estimator, this runs on
every detector of ``detectors.CATALOGUE`` with the simulator's scenarios for it: a new
detector is checked without a line of test code (and fails here until it has a scenario).

The reference is the replay in event-time order (``stream.replay``). Against it, over the same
Runner objects a live worker uses (``stream.arrival``): 50 random interleavings that keep each
topic partition's order (some partitions lagging, alerts coming back late), every order of the
four feeds one after another, and everything as one backlog. Each must give exactly the
reference's alerts, ids and content."""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors import CATALOGUE
from detectors.config import load_detectors
from detectors.registry import Registry
from stream.arrival import ArrivalReplay, orders, partitioned
from stream.ingest import Rejected, ingest
from stream.replay import Replay
from stream.scenarios import SCENARIOS
from stream.simulate import Simulation

ROOT = Path(__file__).resolve().parent.parent
DETECTORS = load_detectors(ROOT / "detectors.yaml")


def scenarios_of(name: str) -> tuple[str, ...]:
    return tuple(s for s in SCENARIOS if s == name or s.startswith(name + "_"))


def world(name: str, seed: int) -> tuple[Registry, list[tuple[str, bytes | None, bytes | None]]]:
    names = scenarios_of(name)
    span = max(SCENARIOS[n].span_days for n in names)
    events = 500  # a feed long enough for the longest case to start a few times
    sim = Simulation(seed=seed, events=events, people=200, scenarios=names,
                     step_s=max(3600.0, 2.5 * span * 86400 / events), case_rate=0.03,
                     near_miss_rate=0.03)
    registry = Registry()
    for record in sim.registry():
        registry.apply(orjson.loads(record.value or b"{}"))
    return registry, [(r.feed, r.key, r.value) for r in sim.stream()]


def in_event_time_order(registry: Registry, records: list[Any]) -> dict[str, dict[str, Any]]:
    replay = Replay(DETECTORS)
    replay.registry.__dict__.update(registry.__dict__)
    events = []
    for offset, (feed, _, value) in enumerate(records):
        event = ingest(feed, value, topic=feed, partition=0, offset=offset)
        if not isinstance(event, Rejected):
            heapq.heappush(events, (event.ts, offset, event))
    replay.run(heapq.heappop(events)[2] for _ in range(len(events)))
    return {alert["id"]: alert for alert in replay.report.alerts}


def difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    missing = [want[i]["data"]["summary"] for i in sorted(set(want) - set(got))]
    extra = [got[i]["data"]["summary"] for i in sorted(set(got) - set(want))]
    changed = [i for i in set(got) & set(want) if got[i] != want[i]]
    return f"missing {missing[:3]}, unexpected {extra[:3]}, content differs {changed[:3]}"


def test_every_detector_has_a_scenario() -> None:
    assert [name for name in CATALOGUE if not scenarios_of(name)] == []


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_alerts_do_not_depend_on_arrival_order(name: str) -> None:
    registry, records = world(name, seed=3)
    reference = in_event_time_order(registry, records)
    assert any(a["data"]["detector"] == name for a in reference.values()), (
        f"the scenarios of {name} gave no alert of it: nothing to compare")
    sources = partitioned(records)
    for i, (label, phases) in enumerate(orders(sources, seed=len(name))):
        delay = 300 * (i % 2)  # every other order: alerts read back up to 300 records late
        replay = ArrivalReplay(DETECTORS, registry, sources, feedback_delay=delay, seed=i)
        got = replay.run(phases)
        assert got == reference, f"{label}, feedback delay {delay}: " + difference(
            got, reference)
