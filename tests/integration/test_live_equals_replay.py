"""The same generated input, produced to a real broker and run by a worker, gives exactly the
alerts (ids and content) that the replay command gives over the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.config import load_detectors
from stream.backtest.replay import Replay, input_files, read_lines
from stream.simulator.simulate import Simulation, write_files
from tests.integration.harness import ROOT, World

pytestmark = pytest.mark.integration


def test_live_equals_replay(bootstrap: str, tmp_path: Path) -> None:
    sim = Simulation(seed=23, events=6000, people=600, step_s=600, case_rate=0.01)
    registry, events = list(sim.registry()), list(sim.stream())
    write_files(tmp_path / "feed", registry, events, sim.labels)
    assert len(sim.labels) > 10

    replay = Replay(load_detectors(ROOT / "detectors.yaml"))
    files = input_files([tmp_path / "feed"])
    replay.load_registry(read_lines(tmp_path / "feed" / "registry.jsonl"))
    replayed = {a["id"]: a for a in replay.run(replay.events(files)).alerts}

    world = World(bootstrap, tmp_path, partitions={"payments": 3, "attendance": 2, "bids": 2})
    try:
        worker = world.start_worker()
        worker.wait_ready()
        for record in registry:
            world.produce(record.feed, record.value, key=record.key)
        world.flush()
        people = sum(1 for r in registry if r.key.startswith(b"P-"))
        worker.wait_metric('sunlight_registry_records{record_type="person"}', people)
        for record in events:
            world.produce(record.feed, record.value, key=record.key)
        world.flush()
        live_alerts = world.read("alerts", expect=len(replayed), timeout=240)
        # One worker owns every keyed partition: its events skip the second trip through
        # Kafka once its keyed stage has caught up (stream/worker/handover.py).
        assert worker.metrics().get('sunlight_records_routed_total{path="in_process"}', 0.0) > 0
    finally:
        world.close()
    live = {}
    for alert in live_alerts:
        alert.pop("_key")
        assert live.setdefault(alert["id"], alert) == alert  # a redelivery is identical
    missing = sorted((a["data"]["detector"], a["subject"], a["time"])
                     for i, a in replayed.items() if i not in live)
    extra = sorted((a["data"]["detector"], a["subject"], a["time"])
                   for i, a in live.items() if i not in replayed)
    assert (missing, extra) == ([], [])
    for alert_id, alert in live.items():
        assert alert == replayed[alert_id]
