"""The in-process handover's gate (stream/worker/handover.py): a keyed partition is taken only
when nothing that reached its topic earlier is still unread there. The consumer here is a
stand-in for the three things the gate asks of aiokafka's (assignment, position, end offsets);
the real thing runs in tests/integration (test_live_equals_replay, test_faults)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition

from stream.worker.handover import Handover

A, B = TopicPartition("keyed-payee", 0), TopicPartition("keyed-payee", 1)


class Consumer:
    def __init__(self, ends: dict[TopicPartition, int]) -> None:
        self.ends = dict(ends)
        self.positions = dict.fromkeys(ends, 0)

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in tps}


def takeable(handover: Handover, consumer: Any, ready: bool = True) -> set[TopicPartition]:
    return asyncio.run(handover.takeable(consumer, [A, B], ready))


def test_nothing_is_taken_before_the_partition_ends_are_read() -> None:
    handover, consumer = Handover(), Consumer({A: 0, B: 0})
    assert takeable(handover, consumer) == set()
    asyncio.run(handover.refresh(consumer))
    assert takeable(handover, consumer) == {A, B}
    assert takeable(handover, consumer, ready=False) == set()  # state not restored yet
    assert takeable(handover, None) == set()  # no keyed stage running


def test_a_partition_is_taken_once_read_up_to_its_end_when_partitions_moved() -> None:
    handover, consumer = Handover(), Consumer({A: 5, B: 0})
    asyncio.run(handover.refresh(consumer))
    assert takeable(handover, consumer) == {B}  # A has 5 records of an earlier owner unread
    consumer.positions[A] = 5
    assert takeable(handover, consumer) == {A, B}
    consumer.ends[B] = 3  # another worker's ingest sent to B, then the partitions moved
    handover.moved()
    assert takeable(handover, consumer) == set()
    asyncio.run(handover.refresh(consumer))
    assert takeable(handover, consumer) == {A}


def test_own_sends_by_the_topic_are_read_before_anything_is_handed_over() -> None:
    handover, consumer = Handover(), Consumer({A: 0, B: 0})
    asyncio.run(handover.refresh(consumer))
    handover.sent(A)
    assert takeable(handover, consumer) == {B}  # unconfirmed: its offset is not known yet
    handover.confirmed(A, 7)
    assert takeable(handover, consumer) == {B}
    consumer.positions[A] = 7
    assert takeable(handover, consumer) == {A, B}


def test_a_send_of_unknown_offset_makes_the_ends_be_read_again() -> None:
    handover, consumer = Handover(), Consumer({A: 0, B: 0})
    asyncio.run(handover.refresh(consumer))
    handover.sent(A)
    consumer.ends[A] = 2
    handover.confirmed(A, None)  # refused as a batch, then sent one by one
    assert takeable(handover, consumer) == set()
    asyncio.run(handover.refresh(consumer))
    assert takeable(handover, consumer) == {B}
    consumer.positions[A] = 2
    assert takeable(handover, consumer) == {A, B}


def test_a_batch_read_and_not_yet_run_keeps_its_partitions() -> None:
    handover, consumer = Handover(), Consumer({A: 0, B: 0})
    asyncio.run(handover.refresh(consumer))
    handover.fetched = {A}
    assert takeable(handover, consumer) == {B}
    del consumer.ends[B]  # revoked
    handover.fetched = set()
    assert takeable(handover, consumer) == {A}
