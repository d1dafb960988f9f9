"""Nothing lost, nothing doubled under faults: a worker killed mid-stream, and workers joining
and leaving (rebalance). Each run is compared with the replay command's alerts for the same
input: every expected alert is there, and every duplicate has the same id and content."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from detectors.config import load_detectors
from schemas import parse_time
from stream.backtest.replay import Replay
from stream.simulator.simulate import START, Record, Simulation
from tests.integration.harness import ROOT, World

pytestmark = pytest.mark.integration


def detectors_file(tmp_path: Path, disabled: str = "") -> Path:
    """The project's detectors file, optionally with one detector switched off."""
    path = tmp_path / "detectors.yaml"
    text = (ROOT / "detectors.yaml").read_text()
    if disabled:
        on = f"  {disabled}:\n    enabled: true"
        assert on in text
        text = text.replace(on, f"  {disabled}:\n    enabled: false")
    path.write_text(text)
    return path


def generated(seed: int, detectors: Path, events: int = 6000, step_s: float = 600.0
              ) -> tuple[list[Record], list[Record], dict[str, dict[str, Any]]]:
    # A long feed would run past today, and records dated ahead of the worker's clock are
    # dead-lettered (future_time): such a feed starts early enough to end in the past.
    start = START if events * step_s < (time.time() - parse_time(START).timestamp()) else \
        "2024-01-01T08:00:00+08:00"
    sim = Simulation(seed=seed, events=events, people=600, step_s=step_s, case_rate=0.01,
                     start=start)
    registry, events = list(sim.registry()), list(sim.stream())
    replay = Replay(load_detectors(detectors))
    replay.load_registry(r.value for r in registry)
    from stream.ingest import Rejected, ingest

    decoded = [ingest(r.feed, r.value) for r in events]
    ordered = sorted((e for e in decoded if not isinstance(e, Rejected)),
                     key=lambda e: e.ts)
    expected = {a["id"]: a for a in replay.run(ordered).alerts}
    return registry, events, expected


def load_registry(world: World, registry: list[Record]) -> None:
    for record in registry:
        world.produce(record.feed, record.value, key=record.key)
    world.flush()
    people = sum(1 for r in registry if r.key.startswith(b"P-"))
    for worker in world.workers:
        worker.wait_metric('sunlight_registry_records{record_type="person"}', people)


def produce(world: World, events: list[Record]) -> None:
    for record in events:
        world.produce(record.feed, record.value, key=record.key)
    world.flush()


def check(alerts: list[dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    first: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        alert.pop("_key", None)
        assert first.setdefault(alert["id"], alert) == alert  # a duplicate is identical
    missing = sorted((expected[i]["data"]["detector"], expected[i]["subject"], i)
                     for i in expected.keys() - first.keys())
    extra = sorted((first[i]["data"]["detector"], first[i]["subject"], i)
                   for i in first.keys() - expected.keys())
    assert (missing, extra) == ([], [])
    differing = {
        (alert["data"]["detector"], alert["subject"]): {
            field: (alert["data"].get(field), expected[alert_id]["data"].get(field))
            for field in alert["data"].keys() | expected[alert_id]["data"].keys()
            if alert["data"].get(field) != expected[alert_id]["data"].get(field)}
        for alert_id, alert in first.items() if alert != expected[alert_id]}
    # (got, expected) per field that differs
    assert not differing, "\n".join(f"{k}: {v}" for k, v in differing.items())


def test_killed_worker_loses_nothing(bootstrap: str, tmp_path: Path) -> None:
    detectors = detectors_file(tmp_path)
    registry, events, expected = generated(seed=41, detectors=detectors)
    world = World(bootstrap, tmp_path, partitions={"payments": 3, "attendance": 2})
    env = {"SUNLIGHT_SESSION_TIMEOUT_S": "10", "SUNLIGHT_DETECTORS_FILE": str(detectors)}
    try:
        first = world.start_worker(**env)
        first.wait_ready()
        load_registry(world, registry)
        half = len(events) // 2
        produce(world, events[:half])
        first.wait_metric('sunlight_events_processed_total{feed="payments",stage="keyed-payee"}',
                          50)
        first.stop(sig=signal.SIGKILL)  # no goodbye: no commit, no flush
        produce(world, events[half:])
        second = world.start_worker(**env)
        second.wait_ready(timeout=120)
        check(world.read("alerts", expect=len(expected), timeout=240, distinct="id"), expected)
    finally:
        world.close()


def test_rebalance_gives_the_same_alerts(bootstrap: str, tmp_path: Path) -> None:
    registry, events, expected = generated(seed=43, detectors=detectors_file(tmp_path))
    world = World(bootstrap, tmp_path, partitions={"payments": 3, "attendance": 2})
    try:
        first = world.start_worker()
        first.wait_ready()
        load_registry(world, registry)
        third = len(events) // 3
        produce(world, events[:third])
        second = world.start_worker()
        second.wait_ready(timeout=120)
        produce(world, events[third:2 * third])
        first.stop()  # leaves the group: its partitions and state move to the second
        produce(world, events[2 * third:])
        check(world.read("alerts", expect=len(expected), timeout=240, distinct="id"), expected)
        # Both paths ran: events for the other worker's keyed partitions by the topic, the
        # rest handed over in-process (stream/worker/handover.py).
        routed = second.metrics()
        assert routed.get('sunlight_records_routed_total{path="topic"}', 0.0) > 0
        assert routed.get('sunlight_records_routed_total{path="in_process"}', 0.0) > 0
    finally:
        world.close()
