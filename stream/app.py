"""The Faust app: topics, agents, state, web views. Thin: it moves records to the pure
detectors and findings to the alerts topic, and owns the delivery guarantees.

Flow (one way): input topic (raw bytes, any key, any partition count)
  -> ingest agent: decode + validate (dead-letters on failure), then repartition by the key each
     detector family needs into an internal ``sunlight-keyed-<kind>`` topic
  -> keyed agent: drop duplicate event_ids, run the detectors with per-key state, publish alerts.

Guarantees: at-least-once. Faust flushes the producer before it commits input offsets, so every
repartitioned record, state write and alert sent for an event is on the broker before the event
counts as done. An alert is confirmed by the broker before its event is marked seen, and the
"seen" marker and detector state share one changelog partition, written state first: a crash
can redo an event (same alert id, harmless) but never skip one.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import faust
import orjson
from faust.sensors.prometheus import setup_prometheus_sensors

from detectors.base import Detector, Event, Finding
from detectors.findings import to_cloudevent
from detectors.runner import Outcome, Runner, by_kind
from detectors.verdicts import VERDICTS, apply_verdict, index_alert, precision, tally
from schemas import RecordError, parse_time
from stream import precheck
from stream.config import FEEDBACK_FEEDS, INPUT_TOPICS, Settings
from stream.ingest import Rejected, dead_letter, ingest
from stream.kafka import partition_counts
from stream.metrics import Metrics
from stream.privacy import mask
from stream.reference import RegistryView
from stream.security import faust_credentials

log = logging.getLogger("sunlight")

#: Feeds that carry alert ids, and how to read the id: verdicts are kept per alert id.
VERDICT_FEEDS: dict[str, Callable[[Event], tuple[str, ...]]] = {
    "alerts": lambda event: (event.record["id"],),
    "alert-dispositions": lambda event: (event.record["alert_id"],),
}


class Sunlight:
    """Builds and holds one worker's Faust app and the objects its agents share."""

    def __init__(self, settings: Settings, detectors: list[Detector]) -> None:
        self.settings = settings
        self.detectors = detectors
        self.metrics = Metrics()
        self.view = RegistryView(settings, self.metrics)
        self.app = faust.App(
            settings.group_id,
            broker=[f"kafka://{s}" for s in settings.bootstrap_servers.split(",")],
            store="memory://",
            datadir=str(settings.data_dir),
            autodiscover=False,
            web_host=settings.web_host,
            web_bind=settings.web_host,
            web_port=settings.web_port,
            web_tables_enabled=False,  # never serve table contents (person ids) over HTTP
            topic_partitions=settings.partitions,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            broker_commit_interval=1.0,
            table_cleanup_interval=3600.0,
            broker_credentials=faust_credentials(settings.kafka_security),
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
        )
        setup_prometheus_sensors(self.app, registry=self.metrics.registry, name_prefix="faust")
        for detector in detectors:  # series exist from the start, so a first alert is a rate
            for severity in ("red", "yellow"):
                self.metrics.alerts.labels(detector.name, severity, "review")
        self.alerts_topic = self.app.topic(
            settings.topic("alerts"), key_serializer="raw", value_serializer="raw")
        self.dead_letters_topic = self.app.topic(
            settings.topic("dead-letters"), key_serializer="raw", value_serializer="raw")
        # kind -> feed -> detectors; a kind is one repartitioned stream with its own state.
        self.kinds = by_kind(detectors)
        self.tables = {
            # One table per kind for "seen" markers, detector state and pending windows, so
            # all three share a changelog partition.
            kind: self.app.Table(f"state-{kind}", default=None, partitions=settings.partitions,
                                 key_type=str, value_type=None)
            for kind in self.kinds
        }
        self.runners = {
            kind: Runner(by_feed, self.tables[kind], self.view.registry)
            for kind, by_feed in self.kinds.items()
        }
        self.keyed_topics = {
            kind: self.app.topic(
                settings.topic(f"{settings.app_id}-keyed-{kind}"),
                internal=True,
                partitions=settings.partitions,
                key_serializer="raw",
                value_serializer="raw",
            )
            for kind in self.kinds
        }
        #: feed -> input source ("topic:partition") -> largest event time read from it.
        self.source_progress: dict[str, dict[str, float]] = {}
        self._ticked: dict[str, dict[str, float]] = {}
        self.verdict_topic = self.app.topic(
            settings.topic(f"{settings.app_id}-keyed-alert"), internal=True,
            partitions=settings.partitions, key_serializer="raw", value_serializer="raw")
        self.verdicts = self.app.Table("verdicts", default=None, partitions=settings.partitions,
                                       key_type=str, value_type=None)
        for feed in INPUT_TOPICS:
            self._ingest_agent(feed)
        for feed in FEEDBACK_FEEDS:  # read back: for second-line detectors and verdicts
            self._ingest_agent(feed)
        for kind in self.kinds:
            self._keyed_agent(kind)
        self._verdict_agent()
        self._web_and_timers()
        precheck.install(self)

    # -- ingest ---------------------------------------------------------------------------
    def _ingest_agent(self, feed: str) -> None:
        settings, metrics = self.settings, self.metrics
        topic_name = settings.topic(feed)
        topic = self.app.topic(topic_name, key_serializer="raw", value_serializer="raw")
        # (internal topic, the keys an event goes there under)
        routes: list[tuple[Any, Callable[[Event], tuple[str, ...]]]] = [
            (self.keyed_topics[kind], self.runners[kind].route)
            for kind, by_feed in self.kinds.items()
            if feed in by_feed
        ]
        if feed in VERDICT_FEEDS:
            routes.append((self.verdict_topic, VERDICT_FEEDS[feed]))
        ticking = any(feed in by_feed for by_feed in self.kinds.values()) and (
            feed not in FEEDBACK_FEEDS)
        records_in = metrics.records_in.labels(topic_name)
        last_seen = metrics.last_event_time.labels(topic_name)
        progress = self.source_progress.setdefault(feed, {})

        async def ingest_agent(stream: Any) -> None:
            async for kafka_event in stream.events():
                message = kafka_event.message
                records_in.inc()
                last_seen.set(time.time())
                result = ingest(
                    feed, message.value, key=message.key, topic=message.topic,
                    partition=message.partition, offset=message.offset,
                    max_bytes=settings.max_record_bytes,
                )
                if isinstance(result, Rejected):
                    await self._dead_letter(result, topic_name)
                    continue
                if not routes:
                    continue
                envelope = None
                for keyed_topic, keys in routes:
                    for key in keys(result):
                        if envelope is None:
                            envelope = orjson.dumps({
                                "feed": feed, "topic": message.topic,
                                "partition": message.partition, "offset": message.offset,
                                "ts": result.ts, "ingest_ts": time.time(),
                                "record": result.record,
                            })
                        await keyed_topic.send(key=key.encode(), value=envelope)
                # After the record is sent, so no tick can overtake it.
                source = f"{message.topic}:{message.partition}"
                if ticking and result.ts > progress.get(source, float("-inf")):
                    progress[source] = result.ts

        self.app.agent(topic, name=f"ingest-{feed}")(ingest_agent)

    async def _send_ticks(self) -> None:
        """Tell every keyed partition how far in event time each input partition this worker
        reads has come: the watermark reaches partitions that no record was routed to, and a
        topic read ahead of another cannot close windows the other is still filling."""
        for kind, by_feed in self.kinds.items():
            tick = {source: ts for feed in by_feed
                    for source, ts in self.source_progress.get(feed, {}).items()}
            if not tick or tick == self._ticked.get(kind):
                continue
            self._ticked[kind] = tick
            value = orjson.dumps({"tick": tick})
            for partition in range(self.settings.partitions):
                await self.keyed_topics[kind].send(value=value, partition=partition)

    async def _dead_letter(self, rejected: Rejected, topic_name: str) -> None:
        self.metrics.records_rejected.labels(topic_name, rejected.code).inc()
        letter = rejected.letter
        log.warning("rejected %s[%s]@%s: %s", letter["topic"], letter["partition"],
                    letter["offset"], rejected.reason)
        # Wait for the broker's acknowledgement: the dead letter is the only copy we keep.
        future = await self.dead_letters_topic.send(
            key=f"{letter['topic']}:{letter['partition']}:{letter['offset']}".encode(),
            value=orjson.dumps(letter),
        )
        await future

    # -- detect ---------------------------------------------------------------------------
    def _keyed_agent(self, kind: str) -> None:
        metrics, view, runner = self.metrics, self.view, self.runners[kind]
        stage = f"keyed-{kind}"

        async def keyed_agent(stream: Any) -> None:
            await view.ready.wait()  # never judge a payment against a half-loaded registry
            topics = [self.settings.topic(feed) for feed in self.kinds[kind]
                      if feed not in FEEDBACK_FEEDS]
            counts = await partition_counts(self.settings, topics)
            runner.expect([f"{t}:{p}" for t, n in counts.items() for p in range(n)],
                          range(self.settings.partitions), time.time())
            async for kafka_event in stream.events():
                message = kafka_event.message
                envelope = orjson.loads(message.value)
                now = time.time()
                if "tick" in envelope:
                    outcome = runner.tick(envelope["tick"], message.partition, now)
                    await self._settle(outcome, None, now)
                    continue
                key = message.key.decode()
                event = Event(envelope["feed"], envelope["record"], envelope["ts"],
                              envelope["topic"], envelope["partition"], envelope["offset"])
                feedback = event.feed in FEEDBACK_FEEDS  # alerts read back don't move time
                source = "" if feedback else f"{envelope['topic']}:{envelope['partition']}"
                outcome = runner.handle(event, key, message.partition, source=source, now=now)
                if outcome.duplicate:
                    metrics.duplicates_dropped.labels(event.feed, stage).inc()
                    continue
                await self._settle(outcome, event, envelope["ingest_ts"])
                runner.mark_seen(event, key)
                metrics.events_processed.labels(event.feed, stage).inc()

        self.app.agent(self.keyed_topics[kind], name=f"detect-{kind}")(keyed_agent)

    async def _settle(self, outcome: Outcome, event: Event | None, ingest_ts: float) -> None:
        """Count late records, dead-letter what a detector failed on, publish the findings."""
        metrics = self.metrics
        subject = event.event_id if event else "watermark tick"
        for name in outcome.late:
            metrics.late_records.labels(name).inc()
            log.warning("late record %s for %s: its window was already judged", subject, name)
        for name, exc in outcome.errors:
            log.error("detector %s failed on %s: %r", name, subject, exc)
            metrics.detector_errors.labels(name).inc()
            if event is not None:
                await self._dead_letter(_detector_failure(name, event, exc), event.topic)
        for finding in outcome.findings:
            await self.publish_finding(finding, ingest_ts)

    async def publish_finding(self, finding: Finding, ingest_ts: float) -> None:
        alert = to_cloudevent(finding, source=f"sunlight/{self.settings.app_id}")
        # Confirmed by the broker before the event is marked seen: see the module docstring.
        future = await self.alerts_topic.send(key=finding.subject.encode(),
                                              value=orjson.dumps(alert))
        await future
        now = time.time()
        detector = finding.detector
        self.metrics.alerts.labels(detector, finding.severity, finding.action).inc()
        event_ts = parse_time(finding.time).timestamp()
        self.metrics.event_to_alert.labels(detector).observe(max(0.0, now - event_ts))
        self.metrics.ingest_to_alert.labels(detector).observe(max(0.0, now - ingest_ts))
        log.info("alert %s %s %s on %s", alert["id"], detector, finding.severity,
                 mask(finding.subject, self.settings.mask_person_ids))

    # -- verification results ---------------------------------------------------------------
    def _verdict_agent(self) -> None:
        table, metrics = self.verdicts, self.metrics

        async def verdict_agent(stream: Any) -> None:
            async for kafka_event in stream.events():
                envelope = orjson.loads(kafka_event.message.value)
                record, alert_id = envelope["record"], kafka_event.message.key.decode()
                state = table.get(alert_id)
                if envelope["feed"] == "alerts":
                    if state is None:
                        table[alert_id] = index_alert(None, record)
                    continue
                if state is None:
                    err = RecordError("unknown_alert", "disposition for an alert id Sunlight "
                                      f"never published: {alert_id!r}", "alert_id")
                    letter = dead_letter(err, orjson.dumps(record), alert_id.encode(),
                                         envelope["topic"], envelope["partition"],
                                         envelope["offset"])
                    await self._dead_letter(Rejected(err.code, err.reason, letter),
                                            envelope["topic"])
                    continue
                new, _ = apply_verdict(state, record)
                if new != state:
                    table[alert_id] = new
                    metrics.dispositions.labels(new["detector"], new["verdict"]).inc()

        self.app.agent(self.verdict_topic, name="verdicts")(verdict_agent)

    def _export_verdicts(self) -> None:
        by_detector: dict[str, dict[str, int]] = {}
        for (detector, region), counts in tally(self.verdicts.values()).items():
            row = by_detector.setdefault(detector, dict.fromkeys(VERDICTS, 0))
            for verdict, n in counts.items():
                self.metrics.alert_verdicts.labels(detector, region, verdict).set(n)
                row[verdict] += n
        for detector, counts in by_detector.items():
            value = precision(counts)
            if value is not None:
                self.metrics.precision.labels(detector).set(value)

    # -- web, timers ----------------------------------------------------------------------
    def _web_and_timers(self) -> None:
        app, view, metrics = self.app, self.view, self.metrics

        @app.task
        async def load_registry() -> None:
            await view.run()

        @app.page("/livez")
        async def livez(web: Any, request: Any) -> Any:
            return web.json({"status": "alive"})

        @app.page("/readyz")
        async def readyz(web: Any, request: Any) -> Any:
            # Ready: partitions assigned, their state recovered, and the registry caught up.
            assigned = bool(app.consumer.assignment()) if app.consumer else False
            recovered = app.tables.recovery.completed.is_set() and not app.in_recovery
            ready = view.ready.is_set() and assigned and recovered and not app.rebalancing
            body = {"ready": ready, "registry_ready": view.ready.is_set(),
                    "partitions_assigned": assigned, "state_recovered": recovered,
                    "rebalancing": bool(app.rebalancing)}
            return web.json(body, status=200 if ready else 503)

        @app.timer(interval=0.5)
        async def send_ticks() -> None:
            await self._send_ticks()

        @app.timer(interval=15.0)
        async def export_verdicts() -> None:
            self._export_verdicts()

        @app.timer(interval=5.0)
        async def export_lag() -> None:
            consumer = app.consumer
            lag: dict[str, int] = defaultdict(int)
            for tp in consumer.assignment():
                if tp.topic.endswith("-changelog") or "__assignor" in tp.topic:
                    continue  # state backups and Faust's own topics are no work due
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue
                read = consumer._read_offset.get(tp)
                lag[tp.topic] += max(0, highwater - (read + 1 if read is not None else 0))
            for topic, value in lag.items():
                metrics.consumer_lag.labels(topic).set(value)


def _detector_failure(name: str, event: Event, exc: Exception) -> Rejected:
    err = RecordError("detector_error",
                      f"detector {name} failed on this record: {type(exc).__name__}: {exc}")
    raw = orjson.dumps(event.record)
    return Rejected(err.code, err.reason,
                    dead_letter(err, raw, None, event.topic, event.partition, event.offset))
