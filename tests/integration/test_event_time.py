"""Alerts are a fact about the feeds, not about their arrival, on a real broker: the same
generated history run live in four ways gives exactly the replay's alerts (ids and content).

- the whole history produced as fast as possible (a catch-up after an outage, a first load);
- one feed (bids: the system that was down) produced only after all the others were read, long
  after event time has passed its awards (its awards judge their past weeks at once);
- the whole history waiting as a backlog, feed after feed, before the worker reads any (the
  ingest stage reads its partitions in step in event time: stream/worker/readahead.py);
- every record under a random key (upstream systems key as they please);
- two workers, one SIGKILLed halfway through.

Each run waits for its alerts with the idle timeout set far beyond the test's length, so
windows can only close because the inputs' event time passed them, not because a feed went
quiet for a minute. Figures (records, alerts, equal to replay, seconds from the last record
produced to the last alert) are printed for the record (`pytest -s`); they are not asserted."""

from __future__ import annotations

import random
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.simulator.simulate import Record
from tests.integration.harness import ROOT, World
from tests.integration.test_faults import check, generated, load_registry

pytestmark = pytest.mark.integration

#: Longer than any run here: a window that closes only on the idle timeout fails the test.
NO_IDLE = {"SUNLIGHT_SOURCE_IDLE_S": "3600"}


def report(name: str, records: int, live: list[dict[str, Any]],
           expected: dict[str, Any], last_produced: float, world: World) -> None:
    """Seconds from the last record produced to the last alert's arrival on the topic."""
    ends = [m.timestamp / 1000 for m in world.read_messages("alerts", len(expected), 30, 1)]
    print(f"\n[event-time] {name}: records {records}, alerts {len(set(a['id'] for a in live))}, "
          f"equal to replay {len(expected)}, last alert {max(ends) - last_produced:.1f} s after "
          "the last record produced")


def produce(world: World, events: list[Record], keys: str = "as-generated") -> float:
    rng = random.Random(5)
    for record in events:
        key = record.key if keys == "as-generated" else uuid.UUID(int=rng.getrandbits(128)).bytes
        world.produce(record.feed, record.value, key=key)
    world.flush()
    return time.time()


@pytest.mark.parametrize("way", ["fast", "random-keys", "bids-last", "backlog"])
def test_live_equals_replay_whatever_the_arrival(bootstrap: str, tmp_path: Path,
                                                  way: str) -> None:
    registry, events, expected = generated(seed=31, detectors=ROOT / "detectors.yaml")
    windowed = {"key_personnel_absent", "drug_purchase_spike", "injury_claim_without_attendance",
                "prescriber_concentration"}
    assert windowed <= {a["data"]["detector"] for a in expected.values()}
    world = World(bootstrap, tmp_path, partitions={"payments": 3, "attendance": 3, "bids": 2,
                                                   "prescriptions": 2})
    try:
        # Backlog: ticks 25 times as often as by default, so one is likely to be made while
        # the first batch after the pause is routed (it once landed behind the batch's records
        # saying their sources were caught up, and the watermark passed the unread ones).
        fast_ticks = {"SUNLIGHT_TICK_INTERVAL_S": "0.02"} if way == "backlog" else {}
        worker = world.start_worker(**NO_IDLE, **fast_ticks)
        worker.wait_ready()
        load_registry(world, registry)
        if way == "bids-last":
            others = [r for r in events if r.feed != "bids"]
            produce(world, others)
            # Every other feed read to its end and quiet: event time has passed every award.
            for feed in ("attendance", "payments", "prescriptions"):
                count = sum(1 for r in others if r.feed == feed)
                worker.wait_metric(f'sunlight_records_in_total{{topic="{world.topic(feed)}"}}',
                                   count, timeout=180)
            time.sleep(8)
            last = produce(world, [r for r in events if r.feed == "bids"])
        elif way == "backlog":
            # The whole history waits while the worker is stopped, each feed produced whole
            # after the other: drained by bytes, the sparse feeds would run weeks of event
            # time ahead of the dense ones; the ingest stage holds them back instead.
            worker.process.send_signal(signal.SIGSTOP)
            try:
                for feed in ("bids", "payments", "attendance", "prescriptions"):
                    last = produce(world, [r for r in events if r.feed == feed])
            finally:
                worker.process.send_signal(signal.SIGCONT)
        else:
            last = produce(world, events, keys="random" if way == "random-keys" else
                           "as-generated")
        live = world.read("alerts", expect=len(expected), timeout=240, distinct="id")
        check(live, expected)
        if way == "backlog":
            assert worker.metrics().get("sunlight_ingest_partition_holds_total", 0.0) > 0
        report(way, len(events), live, expected, last, world)
    finally:
        world.close()


def test_two_workers_one_killed_halfway_equal_replay(bootstrap: str, tmp_path: Path) -> None:
    registry, events, expected = generated(seed=31, detectors=ROOT / "detectors.yaml")
    world = World(bootstrap, tmp_path, partitions={"payments": 3, "attendance": 3, "bids": 2,
                                                   "prescriptions": 2})
    try:
        first = world.start_worker(**NO_IDLE, SUNLIGHT_SESSION_TIMEOUT_S="10")
        second = world.start_worker(**NO_IDLE, SUNLIGHT_SESSION_TIMEOUT_S="10")
        first.wait_ready()
        second.wait_ready()
        load_registry(world, registry)
        half = len(events) // 2
        produce(world, events[:half])
        second.wait_metric("sunlight_events_processed_total"
                           '{feed="payments",stage="keyed-payee"}', 1, timeout=120)
        second.stop(signal.SIGKILL)
        last = produce(world, events[half:])
        live = world.read("alerts", expect=len(expected), timeout=300, distinct="id")
        check(live, expected)
        report("two workers, one killed", len(events), live, expected, last, world)
    finally:
        world.close()


def test_a_record_from_the_far_future_changes_no_alert(bootstrap: str, tmp_path: Path) -> None:
    registry, events, expected = generated(seed=31, detectors=ROOT / "detectors.yaml",
                                           events=3000)
    world = World(bootstrap, tmp_path)
    try:
        worker = world.start_worker(**NO_IDLE)
        worker.wait_ready()
        load_registry(world, registry)
        produce(world, events)
        world.read("alerts", expect=len(expected), timeout=240, distinct="id")
        time.sleep(4)  # every source quiet: nothing holds event time any more
        for feed, record in future_records(events):
            world.produce(feed, record, key=record["event_id"])
        world.flush()
        for feed in ("attendance", "payments", "bids", "prescriptions"):
            assert worker.wait_metric(
                f'sunlight_records_rejected_total{{reason="future_time",topic="'
                f'{world.topic(feed)}"}}', 1, timeout=60) == 1
        letters = world.read("dead-letters", expect=1, timeout=30)
        future = [letter for letter in letters if letter["reason_code"] == "future_time"]
        assert len(future) == 4 and all("2099" in letter["reason"] for letter in future)
        time.sleep(6)  # what the 2099 record could have closed would be out by now
        check(world.read("alerts", expect=len(expected), timeout=60, distinct="id"),
                expected)
    finally:
        world.close()


def future_records(events: list[Record]) -> list[tuple[str, dict[str, Any]]]:
    """A copy of an attendance, payment, bid and prescription record of the feed, each dated in
    2099 with a new event_id."""
    out: list[tuple[str, dict[str, Any]]] = []
    for feed in ("attendance", "payments", "bids", "prescriptions"):
        for record in events:
            if record.feed == feed and record.value and record.value.startswith(b"{"):
                try:
                    value = orjson.loads(record.value)
                except orjson.JSONDecodeError:
                    continue
                if "event_time" in value and "region" in value:
                    value["event_id"] = f"future-{feed}"
                    value["event_time"] = "2099-06-01T09:00:00+08:00"
                    out.append((feed, value))
                    break
    return out
