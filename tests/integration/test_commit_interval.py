"""The commit interval (SUNLIGHT_COMMIT_INTERVAL_S): state changed by events handed over
in-process is written to the changelog once per interval, not once per batch, so a busy key
is rewritten a few times a second at most, whatever the rate; and a killed worker's successor
still gives every alert (tests/integration/test_faults.py kills one mid-stream)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from detectors.config import load_detectors
from stream.topology import Topology
from tests.integration.harness import ROOT, World

pytestmark = pytest.mark.integration

PAYER, PURPOSE = "VC-330784-001", "materials"
PAYMENTS = 60


def payment(i: int) -> dict[str, object]:
    return {"event_id": f"busy-{i}",
            "event_time": f"2026-05-01T09:{i // 60:02d}:{i % 60:02d}+08:00",
            "region": "330784", "status": "executed", "payer_id": PAYER, "payee_id": f"P-{i}",
            "payee_kind": "company", "purpose": PURPOSE, "amount": 1000.0 + i}


def changelog_writes(interval: str, bootstrap: str, tmp_path: Path) -> int:
    """Writes of the busy payer's key to its changelog while 60 payments come one every 50
    ms (about 30 batches), with the given commit interval."""
    (tmp_path / interval).mkdir()
    world = World(bootstrap, tmp_path / interval)
    try:
        worker = world.start_worker(SUNLIGHT_COMMIT_INTERVAL_S=interval)
        worker.wait_ready()
        for i in range(PAYMENTS):
            world.produce("payments", payment(i), key=f"P-{i}")
            world.flush()
            time.sleep(0.05)
        worker.wait_metric('sunlight_events_processed_total{feed="payments",'
                           'stage="keyed-payer_purpose"}', PAYMENTS)
        kind = Topology.build(load_detectors(ROOT / "detectors.yaml"), world.settings)
        changelog = kind.kinds["payer_purpose"].changelog.removeprefix(world.prefix)
        key = f"{PAYER}|{PURPOSE}".encode()
        messages = world.read_messages(changelog, 1, settle=3.0)
        return sum(1 for m in messages if m.key == key)
    finally:
        world.close()


def test_a_busy_key_is_written_once_per_interval_not_once_per_batch(
        bootstrap: str, tmp_path: Path) -> None:
    every_batch = changelog_writes("0", bootstrap, tmp_path)
    per_second = changelog_writes("1", bootstrap, tmp_path)
    print(f"\n[commit interval] writes of the busy key: {every_batch} at 0 s, {per_second} at 1 s")
    # 60 payments over about 3 s: about one write per batch at 0, a few at one per second.
    assert every_batch >= 10
    assert 1 <= per_second <= 6 < every_batch
