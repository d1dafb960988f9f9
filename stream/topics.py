"""Creating the topics of the contract (idempotent), with kafka-python's admin client."""

from __future__ import annotations

import time

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from stream.config import INPUT_TOPICS, OUTPUT_TOPICS, Settings
from stream.security import client_options

COMPACTED = {"registry"}
#: What an input record may grow by on its way through Sunlight (its repartition envelope
#: adds the feed, topic, offsets and times).
ENVELOPE_HEADROOM = 32 * 1024


def topic_specs(settings: Settings, partitions: dict[str, int] | None = None) -> list[NewTopic]:
    partitions = partitions or {}
    specs = []
    for logical in (*INPUT_TOPICS, *OUTPUT_TOPICS):
        configs = {"cleanup.policy": "compact"} if logical in COMPACTED else {}
        if logical in OUTPUT_TOPICS:  # Sunlight writes them: its own size limit
            configs["max.message.bytes"] = str(settings.max_message_bytes)
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
    limit = {"max.message.bytes": str(settings.max_message_bytes)}
    specs = [NewTopic(name=name, num_partitions=settings.partitions, replication_factor=1,
                      topic_configs={"cleanup.policy": "compact", **limit} if compact else limit)
             for name, compact in compacted.items()]
    return _create(settings, specs, replication_factor, timeout_s)


def check_limits(settings: Settings, written: list[str], timeout_s: float = 60.0) -> None:
    """Refuse to start, saying what to change, unless every size Sunlight handles fits end to
    end: an accepted input record plus its envelope within what the producer may publish
    (``max_message_bytes``), and that within what the broker takes on every topic Sunlight
    writes (``max.message.bytes``). Otherwise the first large record would fail at the broker
    instead of at the door."""
    need = settings.max_record_bytes + ENVELOPE_HEADROOM
    if settings.max_message_bytes < need:
        raise SystemExit(
            f"SUNLIGHT_MAX_MESSAGE_BYTES={settings.max_message_bytes} must be at least "
            f"SUNLIGHT_MAX_RECORD_BYTES + {ENVELOPE_HEADROOM} = {need}: an accepted record is "
            "republished with its envelope")
    admin = _admin(settings, timeout_s)
    try:
        limits = topic_limits(admin, written)
    finally:
        admin.close()
    small = {name: limit for name, limit in limits.items()
             if limit < settings.max_message_bytes}
    if small:
        listed = ", ".join(f"{name} ({limit})" for name, limit in sorted(small.items()))
        raise SystemExit(
            f"these topics take messages of at most the bytes shown, less than "
            f"SUNLIGHT_MAX_MESSAGE_BYTES={settings.max_message_bytes}: {listed}. Raise their "
            "max.message.bytes (kafka-configs --alter --add-config max.message.bytes=N) or "
            "lower SUNLIGHT_MAX_MESSAGE_BYTES and SUNLIGHT_MAX_RECORD_BYTES")


def topic_limits(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Each existing topic's effective ``max.message.bytes`` (its own or the broker's)."""
    existing = set(admin.list_topics())
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, configs=["max.message.bytes"])
                 for name in names if name in existing]
    limits: dict[str, int] = {}
    if not resources:
        return limits
    described = admin.describe_configs(resources, config_filter="all")
    for name, configs in described.get("topic", {}).items():
        if "max.message.bytes" in configs:
            limits[name] = int(configs["max.message.bytes"]["value"])
    return limits


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
