"""A stage's checkpoints (stream.kafka.Checkpoints): when they fall, and which offsets they
commit. The commit against a real broker is exercised by the integration tests (faults,
rebalance, commit interval)."""

from __future__ import annotations

import asyncio
from typing import Any

from stream.kafka import Checkpoints


class Assigned:
    """Just what Checkpoints.commit asks of a consumer: its assignment, and a commit."""

    def __init__(self, *assigned: str) -> None:
        self.assigned = set(assigned)
        self.committed: list[dict[Any, int]] = []

    def assignment(self) -> set[str]:
        return self.assigned

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.committed.append(offsets)


def test_zero_makes_every_batch_a_checkpoint() -> None:
    checkpoints = Checkpoints(0.0)
    assert checkpoints.due() and checkpoints.due()


def test_a_long_interval_waits() -> None:
    checkpoints = Checkpoints(3600.0)
    assert not checkpoints.due()


def test_offsets_read_since_the_last_are_taken_once_the_latest_of_each() -> None:
    checkpoints = Checkpoints(1.0)
    checkpoints.read("payments-0", 10)
    checkpoints.read("payments-0", 25)
    checkpoints.read("bids-1", 7)
    assert checkpoints.take() == {"payments-0": 25, "bids-1": 7}
    assert checkpoints.take() == {}


def test_only_partitions_still_assigned_are_committed() -> None:
    consumer = Assigned("payments-0")
    asyncio.run(Checkpoints(1.0).commit(consumer, {"payments-0": 25, "bids-1": 7}, "ingest"))
    assert consumer.committed == [{"payments-0": 25}]
    nothing = Assigned()
    asyncio.run(Checkpoints(1.0).commit(nothing, {"bids-1": 7}, "ingest"))
    assert nothing.committed == []
