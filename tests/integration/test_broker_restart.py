"""The broker dies mid-stream (SIGKILL of its JVM: no controlled shutdown) and comes back: the
worker rides out the outage, reconnects, and finishes with exactly the replay command's alerts.

The broker here is a private one (``deploy/kafka-local`` with its own data folder and ports),
never the shared broker other tests and people use; it is stopped and its folder deleted at
teardown, whatever the outcome."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import PrivateBroker, World
from tests.integration.test_faults import (
    check,
    detectors_file,
    generated,
    load_registry,
    produce,
)

pytestmark = pytest.mark.integration

#: Seconds the broker stays down: longer than the clients' reconnect backoff, so every
#: connection of the worker (consumer, producer, group coordinator) sees it gone.
OUTAGE_S = 8.0


@pytest.fixture
def private_broker() -> Iterator[PrivateBroker]:
    broker = PrivateBroker(Path(tempfile.mkdtemp(prefix="sunlight-broker-")))
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


def test_worker_reconnects_after_broker_restart(private_broker: PrivateBroker,
                                                tmp_path: Path) -> None:
    detectors = detectors_file(tmp_path)
    registry, events, expected = generated(seed=47, detectors=detectors)
    world = World(private_broker.bootstrap, tmp_path,
                  partitions={"payments": 3, "attendance": 2})
    try:
        worker = world.start_worker(SUNLIGHT_DETECTORS_FILE=str(detectors))
        worker.wait_ready()
        load_registry(world, registry)
        half = len(events) // 2
        produce(world, events[:half])
        worker.wait_metric('sunlight_events_processed_total{feed="payments",stage="keyed-payee"}',
                           50)
        private_broker.kill()  # mid-stream: the worker is still working through the first half
        time.sleep(OUTAGE_S)
        assert worker.process.poll() is None, f"worker died with the broker:\n{worker.tail()}"
        private_broker.start()
        produce(world, events[half:])
        check(world.read("alerts", expect=len(expected), timeout=240), expected)
        assert worker.process.poll() is None, worker.tail()
        worker.wait_ready(timeout=60)  # /readyz is back to 200
    finally:
        for started in world.workers:
            started.stop()
        world.producer.close(timeout=5)
        # No topic cleanup: the whole private broker and its folder go in the fixture.
