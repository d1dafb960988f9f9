"""The registry view: every worker reads the whole compacted ``registry`` topic into memory.

Why not a Faust GlobalTable: with several workers it can loop in recovery (faust #283), and a
RocksDB table read sees only the event's partition. Reference data is small enough to hold whole
and is read far more than written, so each worker keeps its own complete copy, fed by a plain
consumer that is assigned every partition (no consumer group): the design of Kafka Streams'
global tables. The compacted topic is the durable state; a restarted worker reads it again.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from detectors.registry import Registry
from schemas import RecordError, decode
from stream.config import Settings
from stream.ingest import is_deletion, registry_key_error
from stream.kafka import partition_counts
from stream.privacy import failure
from stream.security import client_options
from stream.worker.metrics import Metrics

log = logging.getLogger(__name__)


class RegistryView:
    """Keeps ``registry`` (a :class:`detectors.registry.Registry`) in step with the topic.

    Invalid records are skipped here: the ingest agent on the same topic dead-letters and
    counts them once per record rather than once per worker.
    """

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.registry = Registry()
        self.ready = asyncio.Event()
        self.applied = 0

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is not None and is_deletion("registry", value, key):
            self.registry.delete(key.decode("utf-8", "replace"))
            self.metrics.registry_deletions.inc()
            return
        try:
            record = decode("registry", value, self.settings.max_record_bytes)
        except RecordError:
            return
        if registry_key_error(key, record) is not None:
            return  # dead-lettered by the ingest stage
        try:
            self.registry.apply(record)
        except Exception as exc:  # one entry must not stop the view (every worker's registry)
            log.error("registry view could not apply a %s record: %s", record["record_type"],
                      failure(exc))
            return
        self.applied += 1

    async def run(self) -> None:
        topic = self.settings.topic("registry")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **client_options(self.settings.kafka_security),
        )
        await consumer.start()
        try:
            count = 0
            while not count:
                count = (await partition_counts(self.settings, [topic]))[topic]
                if not count:
                    log.warning("registry topic %s not found yet; waiting", topic)
                    await asyncio.sleep(1.0)
            tps = [TopicPartition(topic, p) for p in range(count)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            pending = {tp for tp, offset in end.items() if offset > 0}
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for messages in batches.values():
                    for message in messages:
                        self.apply(message.key, message.value)
                for tp in list(pending):
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
                if not pending:
                    self._set_ready()
                self._export()
        finally:
            await consumer.stop()

    def _set_ready(self) -> None:
        if not self.ready.is_set():
            log.info("registry view ready: %d people, %d companies",
                     len(self.registry.people), len(self.registry.companies))
            self.ready.set()
            self.metrics.registry_ready.set(1)

    def _export(self) -> None:
        self.metrics.registry_records.labels("person").set(len(self.registry.people))
        self.metrics.registry_records.labels("company").set(len(self.registry.companies))
