"""Worlds for the checks that run on every detector of the catalogue: a detector's scenarios
from the simulator, and the replay of their records in event-time order (the reference)."""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Any

import orjson

from detectors.base import Detector
from detectors.config import load_detectors
from detectors.registry import Registry
from stream.backtest.replay import Replay
from stream.ingest import Rejected, ingest
from stream.simulator.scenarios import SCENARIOS
from stream.simulator.simulate import Simulation, write_files

ROOT = Path(__file__).resolve().parent.parent
DETECTORS_FILE = ROOT / "detectors.yaml"
DETECTORS = load_detectors(DETECTORS_FILE)

Records = list[tuple[str, bytes | None, bytes | None]]


def scenarios_of(name: str) -> tuple[str, ...]:
    """The simulator's scenarios for detector ``name``: the name itself or ``name_*``."""
    return tuple(s for s in SCENARIOS if s == name or s.startswith(name + "_"))


def world(name: str, seed: int, events: int = 500) -> tuple[Registry, Records]:
    """The registry and the records (feed, key, value) of a feed holding detector ``name``'s
    cases and near misses among normal traffic."""
    names = scenarios_of(name)
    span = max(SCENARIOS[n].span_days for n in names)
    # ``events``: a feed long enough for the longest case to start a few times.
    sim = Simulation(seed=seed, events=events, people=200, scenarios=names,
                     step_s=max(3600.0, 2.5 * span * 86400 / events), case_rate=0.03,
                     near_miss_rate=0.03)
    registry = Registry()
    for record in sim.registry():
        registry.apply(orjson.loads(record.value or b"{}"))
    return registry, [(r.feed, r.key, r.value) for r in sim.stream()]


def recorded_feed(out: Path, **simulation: Any) -> Path:
    """A simulated world written as the files a replay reads (gzipped), with its labels."""
    sim = Simulation(**simulation)
    write_files(out, sim.registry(), sim.stream(), sim.labels, compress=True)
    return out


def in_event_time_order(registry: Registry, records: Records,
                        detectors: list[Detector] | None = None,
                        **runner_options: Any) -> Replay:
    """The replay of ``records`` merged in event-time order (alerts fed back, as live), by
    ``detectors`` (those of the detectors file by default)."""
    replay = Replay(DETECTORS if detectors is None else detectors, **runner_options)
    replay.registry.__dict__.update(registry.__dict__)
    events = []
    for offset, (feed, _, value) in enumerate(records):
        event = ingest(feed, value, topic=feed, partition=0, offset=offset)
        if not isinstance(event, Rejected):
            heapq.heappush(events, (event.ts, offset, event))
    replay.run(heapq.heappop(events)[2] for _ in range(len(events)))
    return replay


def alerts_by_id(replay: Replay) -> dict[str, dict[str, Any]]:
    return {alert["id"]: alert for alert in replay.report.alerts}


def difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    missing = [want[i]["data"]["summary"] for i in sorted(set(want) - set(got))]
    extra = [got[i]["data"]["summary"] for i in sorted(set(got) - set(want))]
    changed = [i for i in set(got) & set(want) if got[i] != want[i]]
    return f"missing {missing[:3]}, unexpected {extra[:3]}, content differs {changed[:3]}"
