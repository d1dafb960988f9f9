"""Creating the topics of the contract (idempotent), with kafka-python's admin client."""

from __future__ import annotations

import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from stream.config import INPUT_TOPICS, OUTPUT_TOPICS, Settings
from stream.security import client_options

COMPACTED = {"registry"}


def topic_specs(settings: Settings, partitions: dict[str, int] | None = None) -> list[NewTopic]:
    partitions = partitions or {}
    specs = []
    for logical in (*INPUT_TOPICS, *OUTPUT_TOPICS):
        configs = {"cleanup.policy": "compact"} if logical in COMPACTED else {}
        specs.append(NewTopic(
            name=settings.topic(logical),
            num_partitions=partitions.get(logical, settings.partitions),
            replication_factor=1,
            topic_configs=configs,
        ))
    return specs


def create_topics(settings: Settings, partitions: dict[str, int] | None = None,
                  replication_factor: int = 1, timeout_s: float = 60.0) -> list[str]:
    """Create every input and output topic that does not exist yet; return those created."""
    return _create(settings, topic_specs(settings, partitions), replication_factor, timeout_s)


def create_internal_topics(settings: Settings, compacted: dict[str, bool],
                           replication_factor: int = 1, timeout_s: float = 60.0) -> list[str]:
    """The worker's own topics (full names -> compacted?), with ``settings.partitions``."""
    specs = [NewTopic(name=name, num_partitions=settings.partitions, replication_factor=1,
                      topic_configs={"cleanup.policy": "compact"} if compact else {})
             for name, compact in compacted.items()]
    return _create(settings, specs, replication_factor, timeout_s)


def _create(settings: Settings, specs: list[NewTopic], replication_factor: int,
            timeout_s: float) -> list[str]:
    admin = _admin(settings, timeout_s)
    created = []
    try:
        existing = set(admin.list_topics())
        for spec in specs:
            if spec.name in existing:
                continue
            spec.replication_factor = replication_factor
            try:
                admin.create_topics([spec])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
    return created


def _admin(settings: Settings, timeout_s: float) -> KafkaAdminClient:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                                    client_id="sunlight-admin",
                                    **client_options(settings.kafka_security))
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}. Start the local "
                    "broker with `deploy/kafka-local start` or set KAFKA_BOOTSTRAP_SERVERS."
                ) from exc
            time.sleep(1.0)
