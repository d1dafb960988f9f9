"""A client for systems downstream of Sunlight: read alerts, effectively once.

:class:`AlertConsumer` subscribes to the ``alerts`` topic in a consumer group, keeps the alerts
a :class:`AlertFilter` selects (detector, severity, route, region, subject), validates each
against the published alert schema (``schemas/alert.schema.json``), drops ids it has already
handled (:class:`SeenIds`), and commits an alert's offset only after the caller's handler
returned: a handler that raises gets the same alert again on the next :meth:`AlertConsumer.run`
(or, after a restart, in the next process of the group). Typed (``py.typed``): an
:class:`Alert`'s fields are known to the caller's type checker.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.verdicts import region_of
from schemas import RecordError, decode
from schemas.records import Action, Severity
from schemas.records import Alert as AlertEvent

__all__ = ["Alert", "AlertConsumer", "AlertEvent", "AlertFilter", "SeenIds", "read_alert"]

log = logging.getLogger("sunlight.alert_consumer")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, its fields flattened from the CloudEvent (``event`` holds it whole)."""

    id: str
    subject: str
    #: When the finding became true (RFC 3339 with an offset, event time).
    time: str
    detector: str
    detector_version: str
    severity: Severity
    route: str
    sector: str
    action: Action
    score: float
    summary: str
    #: Input records, registry links, observed value and threshold.
    evidence: dict[str, Any]
    #: The region of the first evidence record that names one ('' when none does).
    region: str
    event: AlertEvent
    #: Where it was read (topic, partition, offset); -1 when not read from Kafka.
    topic: str = ""
    partition: int = -1
    offset: int = -1


def read_alert(raw: bytes, topic: str = "", partition: int = -1, offset: int = -1) -> Alert:
    """The alert in ``raw`` (a Kafka message value), validated against the alert schema.
    Raises :class:`schemas.RecordError` (``.reason`` names the field) when it is not one."""
    event: AlertEvent = decode("alerts", raw)  # type: ignore[assignment]
    data = event["data"]
    return Alert(id=event["id"], subject=event["subject"], time=event["time"],
                 detector=data["detector"], detector_version=data["detector_version"],
                 severity=data["severity"], route=data["route"], sector=data["sector"],
                 action=data["action"], score=data["score"], summary=data["summary"],
                 evidence=data["evidence"], region=region_of(event), event=event,
                 topic=topic, partition=partition, offset=offset)


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts to keep: each field, when given, is the set of values allowed (None: any);
    ``subject_contains`` keeps subjects that contain it. All given conditions must hold."""

    detectors: Collection[str] | None = None
    severities: Collection[str] | None = None
    routes: Collection[str] | None = None
    regions: Collection[str] | None = None
    subject_contains: str | None = None

    def matches(self, alert: Alert) -> bool:
        return ((self.detectors is None or alert.detector in self.detectors)
                and (self.severities is None or alert.severity in self.severities)
                and (self.routes is None or alert.route in self.routes)
                and (self.regions is None or alert.region in self.regions)
                and (not self.subject_contains or self.subject_contains in alert.subject))


class SeenIds:
    """The ids of the newest ``capacity`` handled alerts, oldest forgotten first.

    Sunlight publishes at least once: after a worker crash the same alert (same id) can come
    again, shortly after the first copy. Remembering the last ``capacity`` ids (~180 bytes
    each with the id string: the default 100,000 took 18 MB, measured with tracemalloc)
    catches those; an id older than that would pass again.
    With ``path``, every id is also appended to that file and read back at start, so a
    restarted consumer still knows what it handled (the file is rewritten to the newest
    ``capacity`` ids when it grows to twice that).

    >>> seen = SeenIds(capacity=2)
    >>> for i in ("a", "b", "c"):
    ...     seen.add(i)
    >>> "a" in seen, "c" in seen, len(seen)
    (False, True, 2)
    """

    def __init__(self, capacity: int = 100_000, path: Path | None = None) -> None:
        if capacity < 1:
            raise ValueError("SeenIds capacity must be at least 1")
        self.capacity = capacity
        self.path = path
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lines = 0
        if path is not None and path.exists():
            lines = path.read_text().split()
            self._lines = len(lines)
            self._remember(lines[-capacity:])

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def _remember(self, ids: Iterable[str]) -> None:
        for alert_id in ids:
            self._ids[alert_id] = None
            self._ids.move_to_end(alert_id)
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)

    def add(self, alert_id: str) -> None:
        self._remember((alert_id,))
        if self.path is None:
            return
        if self._lines >= 2 * self.capacity:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text("".join(f"{i}\n" for i in self._ids))
            os.replace(tmp, self.path)
            self._lines = len(self._ids)
        else:
            with self.path.open("a") as handle:
                handle.write(alert_id + "\n")
            self._lines += 1


@dataclass
class RunStats:
    """What one :meth:`AlertConsumer.run` did."""

    handled: int = 0
    duplicates: int = 0
    filtered_out: int = 0
    invalid: int = 0
    #: (topic, partition, offset, reason) of each record that was not a valid alert.
    invalid_records: list[tuple[str, int, int, str]] = field(default_factory=list)


class AlertConsumer:
    """Alerts from Kafka, each handed once to a handler, committed after it returned.

    ``kafka_options`` go to ``kafka.KafkaConsumer`` (e.g. SASL/TLS settings); or build one
    from Sunlight's environment with :meth:`from_env`.
    """

    def __init__(self, bootstrap_servers: str, group_id: str, topic: str = "alerts",
                 alert_filter: AlertFilter | None = None, seen: SeenIds | None = None,
                 **kafka_options: Any) -> None:
        from kafka import KafkaConsumer

        self.topic = topic
        self.filter = alert_filter or AlertFilter()
        self.seen = seen if seen is not None else SeenIds()
        self._consumer = KafkaConsumer(
            topic, bootstrap_servers=bootstrap_servers, group_id=group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", **kafka_options)
        self._stopping = False

    @classmethod
    def from_env(cls, group_id: str, alert_filter: AlertFilter | None = None,
                 seen: SeenIds | None = None) -> AlertConsumer:
        """Broker, topic prefix and security from the same environment variables as the
        worker's (KAFKA_BOOTSTRAP_SERVERS, SUNLIGHT_TOPIC_PREFIX, KAFKA_SECURITY_*...)."""
        from stream.config import Settings
        from stream.security import client_options

        settings = Settings.from_env()
        return cls(settings.bootstrap_servers, group_id, settings.topic("alerts"),
                   alert_filter, seen, **client_options(settings.kafka_security))

    def run(self, handler: Callable[[Alert], object], max_alerts: int | None = None,
            idle_timeout_s: float | None = None) -> RunStats:
        """Hand each new alert the filter keeps to ``handler``, in partition order; return
        after ``max_alerts`` were handled or ``idle_timeout_s`` passed with nothing to read
        (None: run until interrupted). Offsets are committed after each polled batch (at most
        500 alerts), up to the last alert whose handler returned. If ``handler`` raises, the
        alerts before it are committed; it and everything after it are read again; the
        exception propagates. A crash between a handler's return and the commit hands up to a
        batch on again: a :class:`SeenIds` with a ``path`` drops those."""
        stats = RunStats()
        idle_ms = 0.0
        self._stopping = False
        while not self._stopping and (max_alerts is None or stats.handled < max_alerts):
            batches = self._consumer.poll(timeout_ms=500, max_records=500)
            if not batches:
                idle_ms += 500
                if idle_timeout_s is not None and idle_ms >= idle_timeout_s * 1000:
                    break
                continue
            idle_ms = 0.0
            #: partition -> offset after its last record handled (or skipped) in this batch
            done: dict[Any, int] = {}
            try:
                for tp, messages in batches.items():
                    for message in messages:
                        if self._stopping or (max_alerts is not None
                                              and stats.handled >= max_alerts):
                            return stats
                        self._one(message, handler, stats)
                        done[tp] = message.offset + 1
            finally:
                # Commit what was handled, once per batch: a commit per alert cost ~8 ms
                # (bench/alert_readers.py). Polled but not handled (a handler raised, or
                # max_alerts reached): the position already moved past them; read them again.
                self._commit(done)
                for tp, messages in batches.items():
                    start = done.get(tp, messages[0].offset)
                    if start <= messages[-1].offset:
                        self._consumer.seek(tp, start)
        return stats

    def _commit(self, done: dict[Any, int]) -> None:
        from kafka.errors import CommitFailedError
        from kafka.structs import OffsetAndMetadata

        if not done:
            return
        try:
            self._consumer.commit({tp: OffsetAndMetadata(offset, "", -1)
                                   for tp, offset in done.items()})
        except CommitFailedError as err:  # partitions moved: their next owner reads them again
            log.warning("commit skipped, the group rebalanced: %s", err)

    def _one(self, message: Any, handler: Callable[[Alert], object], stats: RunStats) -> None:
        try:
            alert = read_alert(message.value, message.topic, message.partition, message.offset)
        except RecordError as err:
            # Never silently: the caller sees it in the stats and the log, and it is skipped.
            stats.invalid += 1
            stats.invalid_records.append((message.topic, message.partition, message.offset,
                                          err.reason))
            log.warning("not a valid alert at %s[%d]@%d: %s", message.topic,
                        message.partition, message.offset, err.reason)
            return
        if alert.id in self.seen:
            stats.duplicates += 1
            return
        if not self.filter.matches(alert):
            stats.filtered_out += 1
            return
        handler(alert)
        self.seen.add(alert.id)
        stats.handled += 1

    def stop(self) -> None:
        """Make :meth:`run` return after the alert in hand, its batch committed. Safe in a
        signal handler, unlike the KeyboardInterrupt Ctrl-C raises wherever the Kafka client
        happens to be (which could leave it unable to close)."""
        self._stopping = True

    def stop_on_signals(self, *signals: int) -> None:
        """Ctrl-C (SIGINT) and a service manager's stop (SIGTERM), or ``signals``, call
        :meth:`stop` (from the main thread)."""
        import signal

        for sig in signals or (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> AlertConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

