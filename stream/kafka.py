"""Small Kafka helpers the stream shares."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer

from stream.config import Settings
from stream.security import client_options


async def partition_counts(settings: Settings, topics: Iterable[str]) -> dict[str, int]:
    """Partitions per topic (0 for a topic that does not exist yet)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                enable_auto_commit=False, **client_options(settings.kafka_security))
    await consumer.start()
    try:
        # A group-less consumer's metadata covers only assigned topics: ask the cluster.
        metadata = await consumer._client.fetch_all_metadata()
        return {t: len(metadata.partitions_for_topic(t) or ()) for t in topics}
    finally:
        await consumer.stop()


async def consumer_lag(consumer: AIOKafkaConsumer | None) -> dict[str, int]:
    """Records not yet read, per topic, over the partitions ``consumer`` is assigned."""
    lag: dict[str, int] = {}
    for tp in consumer.assignment() if consumer is not None else ():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, highwater - await consumer.position(tp))
    return lag
