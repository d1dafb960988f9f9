"""The ingest stage's word that a source is caught up is taken back as soon as the source has
records again, on a real broker's consumer: before any record of a batch reaches the keyed stage
(``Sunlight._reading``). A "caught up" left standing while a batch runs lets the keyed
partitions' watermark pass the records of sources still unread: after a pause of the worker, an
outage or a backfill into quiet feeds, those came late and alerts changed
(``test_event_time.py``'s backlog case failed now and then)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from stream.worker.app import Sunlight

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(bootstrap: str) -> Iterator[str]:
    name = f"caughtup{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(name, 3, 1)])
    yield name
    admin.delete_topics([name])
    admin.close()


async def _marks(bootstrap: str, topic: str) -> tuple[bool, dict[str, bool], bool]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition in range(3):
            await producer.send_and_wait(topic, b"{}", partition=partition)
    finally:
        await producer.stop()
    parts = [TopicPartition(topic, p) for p in range(3)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(parts)
        read: dict[Any, list[Any]] = {}
        async with asyncio.timeout(60):  # every partition read to its end: each one's end known
            while len(read) < 3:
                read.update(await consumer.getmany(timeout_ms=500))
        consumer.seek(parts[1], 0)  # partition 1 has a record to read again, beyond any batch
        sources = {f"{topic}:{p}": True for p in range(3)}  # the last look: all caught up
        worker = SimpleNamespace(source_caught_up={"payments": sources},
                                 _quiet_since={f"{topic}:{p}": 0.0 for p in range(3)})
        feeds = {topic: SimpleNamespace(name="payments")}
        batch = {parts[0]: read[parts[0]]}  # partition 0's record is this batch's
        marked = await Sunlight._reading(worker, consumer, feeds, batch)  # type: ignore[arg-type]
        # Nothing more to read and nothing in a batch: the same look, no tick owed.
        again = await Sunlight._reading(worker, consumer, feeds, {})  # type: ignore[arg-type]
        return marked, dict(sources), again
    finally:
        await consumer.stop()


def test_sources_with_records_are_no_longer_caught_up_before_the_batch_runs(
        bootstrap: str, topic: str) -> None:
    marked, sources, again = asyncio.run(_marks(bootstrap, topic))
    assert marked  # a tick is owed ahead of the batch
    assert sources == {f"{topic}:0": False,  # in the batch
                       f"{topic}:1": False,  # a record beyond its position
                       f"{topic}:2": True}  # read to its end: still caught up
    assert not again
