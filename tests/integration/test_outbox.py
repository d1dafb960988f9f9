"""stream/outbox.py on a real broker, through a real Faust app's producer (as the worker sends):
messages added to an outbox land where the producer's own ``send()`` puts the same keys, in the
order added, confirmed by the awaitable ``flush`` returns; a batch the broker refuses is handed
message by message to ``send_one`` (which dead-letters what is refused). The outbox reaches into
Faust for its aiokafka producer (``inner_producer``): these tests fail first if an upgrade
changes that."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterator
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from stream.outbox import KeyPartitions, Origin, Outbox, inner_producer
from stream.worker.app import _refused

pytestmark = pytest.mark.integration


@pytest.fixture
def topics(bootstrap: str) -> Iterator[dict[str, str]]:
    prefix = f"outbox{uuid.uuid4().hex[:10]}-"
    names = {"keyed": f"{prefix}keyed", "sent": f"{prefix}sent", "small": f"{prefix}small"}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(names["keyed"], 4, 1), NewTopic(names["sent"], 4, 1),
                         NewTopic(names["small"], 1, 1,
                                  topic_configs={"max.message.bytes": "2000"})])
    yield names
    admin.delete_topics(list(names.values()))
    admin.close()


async def with_producer(bootstrap: str, job: Any) -> Any:
    app = faust.App(f"outbox-test-{uuid.uuid4().hex[:6]}", broker=f"kafka://{bootstrap}",
                    store="memory://", autodiscover=False, web_enabled=False, producer_acks=-1)
    producer = await app.maybe_start_producer()
    try:
        return await job(producer)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    messages: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while len(messages) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    messages += batch
    finally:
        await consumer.stop()
    return messages


def test_the_inner_producer_is_aiokafkas(bootstrap: str) -> None:
    async def job(producer: Any) -> None:
        assert isinstance(inner_producer(producer), AIOKafkaProducer)

    asyncio.run(with_producer(bootstrap, job))


def test_messages_land_where_send_puts_them_in_the_order_added(
        bootstrap: str, topics: dict[str, str]) -> None:
    keys = [f"person:P-{i}".encode() for i in range(300)]
    by_key: KeyPartitions = {}

    async def unused(*args: Any) -> Awaitable[None]:
        raise AssertionError("nothing here is refused")

    async def job(producer: Any) -> None:
        for round_ in range(2):  # the second round with the partitions remembered per key
            outbox = Outbox(producer, unused, _refused, by_key)
            for i, key in enumerate(keys):
                outbox.add(topics["keyed"], key, f"{round_}:{i}".encode(),
                           (topics["keyed"], 0, i))
            assert len(outbox) == len(keys)
            await (await outbox.flush())  # confirmed: everything is on the broker now
        for key in keys:  # the producer's own per-message routing, for comparison
            await (await producer.send(topics["sent"], key, b"", None, None, None))

    asyncio.run(with_producer(bootstrap, job))
    keyed = asyncio.run(read_all(bootstrap, topics["keyed"], 2 * len(keys)))
    sent = asyncio.run(read_all(bootstrap, topics["sent"], len(keys)))
    where = {m.key: m.partition for m in sent}
    assert len(set(where.values())) == 4  # the keys spread over every partition
    assert {m.key: m.partition for m in keyed} == where
    for partition in range(4):  # per partition, in the order added
        values = [m.value.decode() for m in sorted(keyed, key=lambda m: m.offset)
                  if m.partition == partition]
        expected = [f"{r}:{i}" for r in range(2) for i, key in enumerate(keys)
                    if where[key] == partition]
        assert values == expected


def test_a_refused_batch_is_resent_one_message_at_a_time(
        bootstrap: str, topics: dict[str, str]) -> None:
    handed: list[tuple[bytes | None, int | None, Origin]] = []

    async def send_one(producer: Any, topic: str, key: bytes | None, value: bytes | None,
                       partition: int | None, origin: Origin,
                       headers: Any) -> Awaitable[None]:
        handed.append((key, partition, origin))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def job(producer: Any) -> None:
        outbox = Outbox(producer, send_one, _refused, {})
        small = topics["small"]
        outbox.add(small, b"a", b"x" * 10, (small, 0, 1), 0)
        outbox.add(small, b"b", b"y" * 5000, (small, 0, 2), 0)  # over max.message.bytes
        outbox.add(small, b"c", b"z" * 10, (small, 0, 3), 0)
        await (await outbox.flush())  # never fails on data

    asyncio.run(with_producer(bootstrap, job))
    assert handed == [(b"a", 0, (topics["small"], 0, 1)), (b"b", 0, (topics["small"], 0, 2)),
                      (b"c", 0, (topics["small"], 0, 3))]
