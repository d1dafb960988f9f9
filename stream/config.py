"""Settings from the environment, in one place, with defaults that work on a laptop.

Every name here is read once at start; the detectors' own parameters live in the detectors
file (``SUNLIGHT_DETECTORS_FILE``), not here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: Logical feed name -> default topic name (CONTRACT.md). Topic names get ``topic_prefix``.
INPUT_TOPICS: dict[str, str] = {
    "bids": "bids",
    "attendance": "attendance",
    "prescriptions": "prescriptions",
    "payments": "payments",
    "registry": "registry",
    "alert-dispositions": "alert-dispositions",
}
OUTPUT_TOPICS: dict[str, str] = {"alerts": "alerts", "dead-letters": "dead-letters"}
#: Output topics that second-line detectors (escalation) read back as input feeds.
FEEDBACK_FEEDS = ("alerts",)

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_bool(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:9092"
    #: Prefix for every topic name (input, output and internal): lets several deployments or
    #: test runs share one broker without seeing each other.
    topic_prefix: str = ""
    app_id: str = "sunlight"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    data_dir: Path = ROOT / "var" / "worker"
    #: Partitions of the internal (repartitioned) topics and of the state changelogs. Choose it
    #: up front: it bounds how many workers can share the work.
    partitions: int = 8
    max_record_bytes: int = 1_048_576
    #: Largest message Sunlight publishes (repartitioned record, dead letter, alert): the
    #: producer's max request size and the max.message.bytes its topics are created with,
    #: checked against the broker at start. At least max_record_bytes + 32 KiB.
    max_message_bytes: int = 2_097_152
    detectors_file: Path = ROOT / "detectors.yaml"
    mask_person_ids: bool = True
    #: How long (seconds, wall clock; replay: event time) an event_id is remembered for
    #: duplicate detection, and how many ids at most per key (the newest are kept).
    dedupe_horizon_s: float = 86400.0
    dedupe_max_ids: int = 1000
    log_level: str = "info"
    #: How long the group waits for a silent (crashed) worker before handing its partitions on.
    session_timeout_s: float = 30.0
    #: Bearer token the payment pre-check (POST /v1/precheck) requires; unset: no caller is let in.
    api_token: str = ""
    #: Extra Kafka client settings (SASL/TLS), e.g. security_protocol=SASL_SSL.
    kafka_security: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        security = {
            key[len("KAFKA_") :].lower(): value
            for key, value in os.environ.items()
            if key.startswith(("KAFKA_SECURITY_", "KAFKA_SASL_", "KAFKA_SSL_")) and value
        }
        return cls(
            bootstrap_servers=_env("KAFKA_BOOTSTRAP_SERVERS", cls.bootstrap_servers),
            topic_prefix=_env("SUNLIGHT_TOPIC_PREFIX", cls.topic_prefix),
            app_id=_env("SUNLIGHT_APP_ID", cls.app_id),
            web_host=_env("SUNLIGHT_WEB_HOST", cls.web_host),
            web_port=int(_env("SUNLIGHT_WEB_PORT", str(cls.web_port))),
            data_dir=Path(_env("SUNLIGHT_DATA_DIR", str(cls.data_dir))),
            partitions=int(_env("SUNLIGHT_PARTITIONS", str(cls.partitions))),
            max_record_bytes=int(_env("SUNLIGHT_MAX_RECORD_BYTES", str(cls.max_record_bytes))),
            max_message_bytes=int(_env("SUNLIGHT_MAX_MESSAGE_BYTES",
                                       str(cls.max_message_bytes))),
            detectors_file=Path(_env("SUNLIGHT_DETECTORS_FILE", str(cls.detectors_file))),
            mask_person_ids=_env_bool("SUNLIGHT_MASK_PERSON_IDS", cls.mask_person_ids),
            dedupe_horizon_s=float(_env("SUNLIGHT_DEDUPE_HORIZON_S", str(cls.dedupe_horizon_s))),
            dedupe_max_ids=int(_env("SUNLIGHT_DEDUPE_MAX_IDS", str(cls.dedupe_max_ids))),
            log_level=_env("SUNLIGHT_LOG_LEVEL", cls.log_level),
            api_token=_env("SUNLIGHT_API_TOKEN", cls.api_token),
            session_timeout_s=float(_env("SUNLIGHT_SESSION_TIMEOUT_S",
                                         str(cls.session_timeout_s))),
            kafka_security=security,
        )

    def topic(self, name: str) -> str:
        """The real topic name of a logical topic (input, output or internal)."""
        return f"{self.topic_prefix}{INPUT_TOPICS.get(name) or OUTPUT_TOPICS.get(name) or name}"

    @property
    def group_id(self) -> str:
        return f"{self.topic_prefix}{self.app_id}"
