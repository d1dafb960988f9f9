"""stream/kafka.py on a real broker: the few aiokafka calls Sunlight makes beyond consuming and
producing, checked here so that a library upgrade that changes them fails a test instead of a
worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from stream.config import Settings
from stream.kafka import commit_or_redo, consumer_lag, partition_counts

pytestmark = pytest.mark.integration


@pytest.fixture
def topics(bootstrap: str) -> Iterator[tuple[str, dict[str, str]]]:
    prefix = f"k{uuid.uuid4().hex[:10]}-"
    names = {"work": f"{prefix}work", "changelog": f"{prefix}state-changelog"}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(names["work"], 3, 1), NewTopic(names["changelog"], 1, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(5):
        producer.send(names["work"], value=b"x", partition=i % 3)
        producer.send(names["changelog"], value=b"x", partition=0)
    producer.flush()
    producer.close()
    yield prefix, names
    admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
    admin.close()


def test_partition_counts_of_existing_and_missing_topics(bootstrap: str,
        topics: tuple[str, dict[str, str]]) -> None:
    prefix, names = topics
    missing = f"{prefix}missing"
    counts = asyncio.run(partition_counts(Settings(bootstrap_servers=bootstrap),
                                          [names["work"], names["changelog"], missing]))
    assert counts == {names["work"]: 3, names["changelog"]: 1, missing: 0}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        assert missing not in admin.list_topics()  # asking did not create it
    finally:
        admin.close()


def test_lag_counts_unread_work_and_skips_changelogs(bootstrap: str,
        topics: tuple[str, dict[str, str]]) -> None:
    _, names = topics

    async def lag() -> tuple[dict[str, int], dict[str, int]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            consumer.assign([TopicPartition(names["work"], p) for p in range(3)]
                            + [TopicPartition(names["changelog"], 0)])
            await consumer.seek_to_beginning()
            read, deadline = 0, time.monotonic() + 60
            while read < 10 and time.monotonic() < deadline:  # 5 work, 5 changelog records
                read += sum(map(len, (await consumer.getmany(timeout_ms=500)).values()))
            assert read == 10
            all_read = await consumer_lag(consumer)
            await consumer.seek_to_beginning()  # the high-water marks stay known
            return all_read, await consumer_lag(consumer)
        finally:
            await consumer.stop()

    all_read, none_read = asyncio.run(lag())
    assert all_read == {names["work"]: 0}
    assert none_read == {names["work"]: 5}  # a changelog is never work due


def test_commit_of_partitions_not_assigned_says_redo(bootstrap: str,
        topics: tuple[str, dict[str, str]]) -> None:
    prefix, names = topics

    async def commit() -> tuple[bool, bool]:
        consumer = AIOKafkaConsumer(names["work"], bootstrap_servers=bootstrap,
                                    group_id=f"{prefix}group", enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            await consumer.getmany(timeout_ms=5000)  # joins the group
            assigned = consumer.assignment()
            moved = await commit_or_redo(consumer, {TopicPartition(names["changelog"], 0): 1})
            ok = await commit_or_redo(consumer, {tp: 0 for tp in assigned})
            return moved, ok
        finally:
            await consumer.stop()

    moved, ok = asyncio.run(commit())
    assert moved is False  # not ours (any more): the next owner redoes, no exception
    assert ok is True
