"""The simulator's mix on a real broker: every injected case alerts once, nothing else does."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.simulator.simulate import Simulation
from tests.integration.harness import World

pytestmark = pytest.mark.integration


def test_simulated_feed_gives_exactly_the_injected_cases(bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path, partitions={"payments": 3, "attendance": 2})
    try:
        worker = world.start_worker()
        worker.wait_ready()
        sim = Simulation(seed=11, events=6000, people=600, step_s=600, case_rate=0.01)
        registry = list(sim.registry())
        for record in registry:
            world.produce(record.feed, record.value, key=record.key)
        world.flush()
        people = sum(1 for r in registry if r.key.startswith(b"P-"))
        worker.wait_metric('sunlight_registry_records{record_type="person"}', people)
        for record in sim.stream():
            world.produce(record.feed, record.value, key=record.key)
        world.flush()
        expected = [(label["detector"], label["subject"], label["time"], label["severity"],
                     label["action"]) for label in sim.labels]
        assert len(expected) == sum(n for k, n in sim.counts.items() if k.startswith("case:"))
        assert len(expected) > 5
        assert sim.counts["duplicate"] > 0 and sim.counts["malformed"] > 0

        alerts = world.read("alerts", expect=len(expected), timeout=240)
        got = [(a["data"]["detector"], a["subject"], a["time"], a["data"]["severity"],
                a["data"]["action"]) for a in alerts]
        assert sorted(got) == sorted(expected)  # each once: no misses, no doubles, no extras

        letters = world.read("dead-letters", expect=sim.counts["malformed"], settle=1.0)
        assert len(letters) == sim.counts["malformed"]
    finally:
        world.close()
