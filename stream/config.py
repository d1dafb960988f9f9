"""Settings from the environment, in one place, with defaults that work on a laptop.

Every name here is read once at start and checked: a value that cannot be used stops the
command with one line naming the variable and the accepted form (exit 2). The detectors' own
parameters live in the detectors file (``SUNLIGHT_DETECTORS_FILE``), not here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.runner import FEEDBACK_FEEDS as detector_feedback

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
FEEDBACK_FEEDS = tuple(sorted(detector_feedback))

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting from the environment that cannot be used: the message is one line naming the
    variable, its value and the accepted form (the commands print it and exit 2)."""


@dataclass(frozen=True)
class Variable:
    """One environment variable: the Settings field it sets, how it is read, and the accepted
    form (for the error message and ``--help``)."""

    name: str
    field: str
    form: str
    parse: Callable[[str], Any]
    meaning: str


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.strip())
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError
        return value
    return parse


def _positive_seconds(text: str) -> float:
    value = float(text.strip())
    if not 0 < value < float("inf"):
        raise ValueError
    return value


def _seconds_or_zero(text: str) -> float:
    value = float(text.strip())
    if not 0 <= value < float("inf"):
        raise ValueError
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word not in _TRUE + _FALSE:
        raise ValueError
    return word in _TRUE


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        word = text.strip().upper()
        if word not in {c.upper() for c in choices}:
            raise ValueError
        return next(c for c in choices if c.upper() == word)
    return parse


def _servers(text: str) -> str:
    for server in text.split(","):
        host, colon, port = server.strip().rpartition(":")
        if not (colon and host and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError
    return text


def _name_part(text: str) -> str:
    # Kafka topic names allow these characters only; the value starts every topic name.
    if not all(c.isascii() and (c.isalnum() or c in "._-") for c in text):
        raise ValueError
    return text


def _existing_file(text: str) -> Path:
    if not Path(text).is_file():
        raise ValueError
    return Path(text)


def _text(text: str) -> str:
    return text


#: Every environment variable Sunlight reads (Kafka security ones: ``KAFKA_SECURITY_VARIABLES``).
VARIABLES: tuple[Variable, ...] = (
    Variable("KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers", "host:port[,host:port...]",
             _servers, "the Kafka broker(s)"),
    Variable("SUNLIGHT_TOPIC_PREFIX", "topic_prefix", "letters, digits, '.', '_', '-'",
             _name_part, "prefix of every topic name"),
    Variable("SUNLIGHT_APP_ID", "app_id", "letters, digits, '.', '_', '-'", _name_part,
             "consumer group and internal topic prefix"),
    Variable("SUNLIGHT_WEB_HOST", "web_host", "a host name or address", _text,
             "address of the metrics, health and pre-check endpoints"),
    Variable("SUNLIGHT_WEB_PORT", "web_port", "a port number 1-65535", _whole(1, 65535),
             "port of the metrics, health and pre-check endpoints"),
    Variable("SUNLIGHT_WEB_TIMEOUT_S", "web_timeout_s", "a number of seconds > 0",
             _positive_seconds, "time a web client has to send a request; idle connections "
             "are closed after as long"),
    Variable("SUNLIGHT_WEB_MAX_CONNECTIONS", "web_max_connections", "a whole number >= 8",
             _whole(8), "open web connections at most (lowered to fit the open-files limit)"),
    Variable("SUNLIGHT_DATA_DIR", "data_dir", "a folder path", Path, "worker state folder"),
    Variable("SUNLIGHT_PARTITIONS", "partitions", "a whole number >= 1", _whole(1),
             "partitions of internal topics and changelogs"),
    Variable("SUNLIGHT_MAX_RECORD_BYTES", "max_record_bytes", "a whole number of bytes >= 1024",
             _whole(1024), "larger input records are rejected (oversized)"),
    Variable("SUNLIGHT_MAX_MESSAGE_BYTES", "max_message_bytes",
             "a whole number of bytes >= 1024", _whole(1024),
             "largest message Sunlight publishes"),
    Variable("SUNLIGHT_DETECTORS_FILE", "detectors_file", "the path of an existing file",
             _existing_file, "the detectors file"),
    Variable("SUNLIGHT_MASK_PERSON_IDS", "mask_person_ids", "1/0, true/false, yes/no, on/off",
             _flag, "mask person ids in logs and views"),
    Variable("SUNLIGHT_DEDUPE_HORIZON_S", "dedupe_horizon_s", "a number of seconds > 0",
             _positive_seconds, "how long an event_id is remembered as seen"),
    Variable("SUNLIGHT_DEDUPE_MAX_IDS", "dedupe_max_ids", "a whole number >= 1", _whole(1),
             "how many event_ids per key are remembered"),
    Variable("SUNLIGHT_LOG_LEVEL", "log_level", "debug, info, warning, error or critical",
             _one_of("debug", "info", "warning", "error", "critical"), "log level"),
    Variable("SUNLIGHT_LOG_FORMAT", "log_format", "text or json", _one_of("text", "json"),
             "log lines as text or as one JSON object each"),
    Variable("SUNLIGHT_FUTURE_TOLERANCE_S", "future_tolerance_s", "a number of seconds > 0",
             _positive_seconds, "how far ahead of the clock an event_time may be (later: "
             "dead-lettered as future_time)"),
    Variable("SUNLIGHT_SOURCE_IDLE_S", "source_idle_s", "a number of seconds > 0",
             _positive_seconds, "an input partition not heard of for this long stops holding "
             "event time back"),
    Variable("SUNLIGHT_SOURCE_QUIET_S", "source_quiet_s", "a number of seconds > 0",
             _positive_seconds, "an input partition with nothing to read for this long stops "
             "holding event time back (windows close this soon after a feed ends)"),
    Variable("SUNLIGHT_TICK_INTERVAL_S", "tick_interval_s", "a number of seconds > 0",
             _positive_seconds, "how often the ingest stage tells every keyed partition how "
             "far in event time each input partition has come"),
    Variable("SUNLIGHT_READ_AHEAD_S", "read_ahead_s", "a number of seconds >= 0",
             _seconds_or_zero, "draining a backlog, an input partition read this far ahead "
             "(event time) of the slowest one is held until it catches up (0: never)"),
    Variable("SUNLIGHT_COMMIT_INTERVAL_S", "commit_interval_s", "a number of seconds >= 0",
             _seconds_or_zero, "state changes are written and input offsets committed this "
             "often (0: after every batch)"),
    Variable("SUNLIGHT_COMPILED", "compiled", "auto, off or required",
             _one_of("auto", "off", "required"), "the per-event core compiled with mypyc: "
             "auto (when built from these sources), off (the sources), required (fail without)"),
    Variable("SUNLIGHT_COMPILED_DIR", "compiled_dir", "a folder path", Path,
             "where the compiled core is built (python -m compiled.build)"),
    Variable("SUNLIGHT_API_TOKEN", "api_token", "a bearer token", _text,
             "token of POST /v1/precheck (unset: nobody is let in)"),
    Variable("SUNLIGHT_SESSION_TIMEOUT_S", "session_timeout_s", "a number of seconds > 0",
             _positive_seconds, "how long the group waits for a crashed worker"),
)

#: Kafka client security (stream/security.py): variable -> (accepted form, parser).
KAFKA_SECURITY_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "KAFKA_SECURITY_PROTOCOL": ("PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                                _one_of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")),
    "KAFKA_SASL_MECHANISM": ("PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                             _one_of("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")),
    "KAFKA_SASL_PLAIN_USERNAME": ("a user name", _text),
    "KAFKA_SASL_PLAIN_PASSWORD": ("a password", _text),
    "KAFKA_SSL_CAFILE": ("the path of an existing PEM file", _existing_file),
    "KAFKA_SSL_CERTFILE": ("the path of an existing PEM file", _existing_file),
    "KAFKA_SSL_KEYFILE": ("the path of an existing PEM file", _existing_file),
}


def _read(name: str, raw: str, form: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not valid: expected {form}") from None


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:9092"
    #: Prefix for every topic name (input, output and internal): lets several deployments or
    #: test runs share one broker without seeing each other.
    topic_prefix: str = ""
    app_id: str = "sunlight"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    #: Seconds a web client has to send a request (head or body) before it is cut off, and
    #: an idle connection is kept.
    web_timeout_s: float = 5.0
    #: Open web connections at most (lowered to fit the open-files limit).
    web_max_connections: int = 256
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
    #: ``text`` (Faust's format) or ``json`` (one object per line, for log shippers).
    log_format: str = "text"
    #: How far ahead of this worker's clock an event_time may be (seconds). A record beyond it
    #: (a wrong clock upstream) is dead-lettered (``future_time``): it would drag event time
    #: and close windows that have not happened yet.
    future_tolerance_s: float = 900.0
    #: A source (input partition) not heard of for this long stops holding event time back.
    source_idle_s: float = 60.0
    #: An input partition with nothing to read for this long (seconds) stops holding event
    #: time back: windows close this soon after a fast feed ends.
    source_quiet_s: float = 2.0
    #: How often the ingest stage sends its watermark ticks (seconds): how soon a keyed
    #: partition no record reaches learns that event time moved, or that a feed went quiet.
    tick_interval_s: float = 0.5
    #: Draining a backlog, an input partition read more than this far ahead in event time of
    #: the slowest one still being read waits for it (stream/worker/readahead.py): windowed
    #: detectors then keep hours of records waiting for the watermark, not days. 0: never.
    read_ahead_s: float = 3600.0
    #: Whether the per-event core runs compiled (compiled/__init__.py reads it at import,
    #: before any setting is: here it is checked and listed like the others).
    compiled: str = "auto"
    #: Where that build is (None: var/compiled in the source tree).
    compiled_dir: Path | None = None
    #: How often (seconds) the state changed by events the ingest stage handed over
    #: in-process is written to the changelogs, and the input offsets they came from then
    #: committed (Kafka Streams' commit.interval.ms): a busy key changed by many batches is
    #: written once per interval, not once per batch. A crash redoes at most this much input
    #: (the same alerts, ids unchanged). 0: after every batch.
    commit_interval_s: float = 5.0
    #: How long the group waits for a silent (crashed) worker before handing its partitions on.
    session_timeout_s: float = 30.0
    #: Bearer token the payment pre-check (POST /v1/precheck) requires; unset: no caller is let in.
    api_token: str = ""
    #: Extra Kafka client settings (SASL/TLS), e.g. security_protocol=SASL_SSL.
    kafka_security: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings, every variable checked: :class:`SettingsError` names the first one
        that is not usable. Unset or empty variables keep their defaults."""
        env = os.environ if environ is None else environ
        values = {v.field: _read(v.name, env[v.name], v.form, v.parse)
                  for v in VARIABLES if env.get(v.name)}
        security: dict[str, str] = {}
        for name, raw in sorted(env.items()):
            if not raw or not name.startswith(("KAFKA_SECURITY_", "KAFKA_SASL_", "KAFKA_SSL_")):
                continue
            if name not in KAFKA_SECURITY_VARIABLES:
                raise SettingsError(f"{name} is not a setting Sunlight knows: expected one of "
                                    f"{', '.join(KAFKA_SECURITY_VARIABLES)}")
            form, parse = KAFKA_SECURITY_VARIABLES[name]
            security[name[len("KAFKA_"):].lower()] = str(_read(name, raw, form, parse))
        return cls(**values, kafka_security=security)

    def topic(self, name: str) -> str:
        """The real topic name of a logical topic (input, output or internal)."""
        return f"{self.topic_prefix}{INPUT_TOPICS.get(name) or OUTPUT_TOPICS.get(name) or name}"

    @property
    def group_id(self) -> str:
        return f"{self.topic_prefix}{self.app_id}"
