"""Produce batches: what a stage sends for one poll batch, handed to the producer as one record
batch per partition (aiokafka's ``create_batch`` / ``send_batch``) with one confirmation each.

Why: aiokafka's per-message ``send()`` (partition lookup, accumulator, a future per message,
and the task that waits on it) cost several times the batch API per message here, a fifth of a
busy worker's CPU (py-spy). Partitions are looked up once per topic per flush, with aiokafka's
default partitioner (the producer's, Faust setting none), so a message lands where ``send()``
would have put it (``tests/integration/test_outbox.py`` checks both on a real broker).

The guarantees stay those of ``send()``: messages of a partition keep the order they were
added in, and the awaitable :meth:`Outbox.flush` returns completes once the broker has
confirmed every one of them. It never fails on data: a batch the broker refuses for what it
holds (too large, corrupt) is sent again message by message through ``send_one``, which
dead-letters the message refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, Protocol, cast

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

#: (topic, partition, offset) of the input record a message comes from (for dead letters).
Origin = tuple[str, int, int]
Headers = list[tuple[str, bytes]]
#: (key, value, partition or None: by key, origin, headers)
Message = tuple[bytes | None, bytes | None, int | None, Origin, Headers | None]
#: Keys whose partition is remembered per topic (some 100 bytes each), before starting over.
_MAX_CACHED_KEYS = 200_000
#: topic -> (its partitions, key -> the partition the producer's partitioner gives it)
KeyPartitions = dict[str, tuple[list[int], dict[bytes, int]]]
#: Sends one message the per-message way; returns its confirmation (never failing on data).
SendOne = Callable[[Any, str, bytes | None, bytes | None, int | None, Origin,
                    Headers | None], Awaitable[Awaitable[None]]]


class Tracker(Protocol):
    """Told of each batch sent to a partition and, once it is over, of the offset past its
    last message (None: unknown). The worker's in-process handover uses it
    (stream/worker/handover.py)."""

    def sent(self, tp: TopicPartition) -> None: ...

    def confirmed(self, tp: TopicPartition, next_offset: int | None) -> None: ...


class Outbox:
    """Messages to send, per topic in the order added, until :meth:`flush`."""

    def __init__(self, producer: Any, send_one: SendOne,
                 refused: Callable[[BaseException], bool], by_key: KeyPartitions,
                 tracker: Tracker | None = None) -> None:
        #: Faust's producer (``send_one`` takes it) and the aiokafka producer inside it.
        self.producer = producer
        self.client = inner_producer(producer)
        self.send_one = send_one
        self.refused = refused
        self.topics: dict[str, list[Message]] = {}
        #: Kept by the caller from one outbox to the next: the partitioner (murmur2, in
        #: Python) runs once per key while the topic's partitions stay the same.
        self.by_key = by_key
        self.tracker = tracker
        #: Done once the messages added so far are confirmed (by the next :meth:`flush`).
        self.flushed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def add(self, topic: str, key: bytes | None, value: bytes | None, origin: Origin,
            partition: int | None = None, headers: Headers | None = None) -> None:
        messages = self.topics.get(topic)
        if messages is None:
            messages = self.topics[topic] = []
        messages.append((key, value, partition, origin, headers))

    def __len__(self) -> int:
        return sum(map(len, self.topics.values()))

    async def flush(self) -> Awaitable[None]:
        """Hand every message added so far to the producer; returns their confirmation by
        the broker. Once this returns, the messages are in the producer's queue, ahead of
        anything sent to the same partitions after."""
        client, topics, flushed = self.client, self.topics, self.flushed
        self.topics, self.flushed = {}, asyncio.get_running_loop().create_future()
        confirmations: list[Awaitable[Any]] = []
        for topic, messages in topics.items():
            partitions = sorted(await client.partitions_for(topic))  # waits for metadata
            available = list(client.client.cluster.available_partitions_for_topic(topic))
            partitioner = _PARTITIONER
            known_partitions, cache = self.by_key.get(topic, (None, {}))
            if known_partitions != partitions or len(cache) > _MAX_CACHED_KEYS:
                cache = {}
                self.by_key[topic] = (partitions, cache)
            by_partition: dict[int, list[Message]] = {}
            for message in messages:
                partition = message[2]
                if partition is None:
                    key = message[0]
                    partition = cache.get(key) if key is not None else None
                    if partition is None:
                        partition = partitioner(key, partitions, available)
                        if key is not None:
                            cache[key] = partition
                group = by_partition.get(partition)
                if group is None:
                    group = by_partition[partition] = []
                group.append(message)
            for partition, group in by_partition.items():
                confirmations += await self._send(topic, partition, group)
        asyncio.gather(*confirmations).add_done_callback(
            lambda confirmed: _settle(flushed, confirmed))
        return flushed

    async def _send(self, topic: str, partition: int,
                    messages: list[Message]) -> list[Awaitable[Any]]:
        client = self.client
        sent: list[Awaitable[Any]] = []
        batch, held = client.create_batch(), 0
        for index, (key, value, _, _, headers) in enumerate(messages):
            if batch.append(timestamp=None, key=key, value=value, headers=headers or []) is None:
                # Full: send it and start the next (the first message always fits).
                sent.append(await self._submit(batch, topic, partition, messages[held:index]))
                batch, held = client.create_batch(), index
                batch.append(timestamp=None, key=key, value=value, headers=headers or [])
        sent.append(await self._submit(batch, topic, partition, messages[held:]))
        return sent

    async def _submit(self, batch: Any, topic: str, partition: int,
                      messages: list[Message]) -> Awaitable[Any]:
        batch.close()  # nothing else joins it: its messages are exactly ``messages``
        future = await self.client.send_batch(batch, topic, partition=partition)
        confirmed = self._confirmed(future, topic, partition, messages)
        if self.tracker is not None:
            tp = TopicPartition(topic, partition)
            self.tracker.sent(tp)
            return asyncio.ensure_future(_tracked(confirmed, self.tracker, tp))
        return asyncio.ensure_future(confirmed)

    async def _confirmed(self, future: Awaitable[Any], topic: str, partition: int,
                         messages: list[Message]) -> int | None:
        """Wait for the broker; returns the offset past the batch's last message (None when
        the broker refused it and it went one message at a time)."""
        try:
            metadata = await future
            return None if metadata is None else int(metadata.offset) + len(messages)
        except Exception as exc:
            if not self.refused(exc):
                raise
        # Refused as a whole: one by one, so only the message refused is dead-lettered.
        for key, value, _, origin, headers in messages:
            await (await self.send_one(self.producer, topic, key, value, partition, origin,
                                       headers))
        return None


async def _tracked(confirmed: Awaitable[int | None], tracker: Tracker,
                   tp: TopicPartition) -> None:
    next_offset = None
    try:
        next_offset = await confirmed
    finally:
        tracker.confirmed(tp, next_offset)


_PARTITIONER = DefaultPartitioner()


def inner_producer(producer: Any) -> AIOKafkaProducer:
    """The aiokafka producer inside Faust's (``app.producer``), for aiokafka's batch API, which
    Faust does not expose. The one place Sunlight reaches into a library's private attributes:
    ``tests/integration/test_outbox.py`` fails if a Faust upgrade changes it."""
    return cast(AIOKafkaProducer, producer._ensure_producer())


@lru_cache(maxsize=1 << 18)
def key_partition(key: bytes, partitions: int) -> int:
    """The partition of ``key`` among ``partitions`` by aiokafka's default partitioner, the
    one Sunlight's producer routes keyed records with (offline, the replay splits keys with
    it as live)."""
    every = list(range(partitions))
    return int(_PARTITIONER(key, every, every))


def _settle(flushed: asyncio.Future[None], confirmed: asyncio.Future[Any]) -> None:
    if confirmed.cancelled():
        flushed.cancel()
    elif (exc := confirmed.exception()) is not None:
        flushed.set_exception(exc)
    else:
        flushed.set_result(None)
