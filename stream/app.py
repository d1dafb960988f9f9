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
from typing import Any

import faust
import orjson
from faust.sensors.prometheus import setup_prometheus_sensors

from detectors.base import Detector, Event
from detectors.findings import to_cloudevent
from stream.config import INPUT_TOPICS, Settings
from stream.ingest import Rejected, ingest
from stream.metrics import Metrics
from stream.privacy import mask
from stream.reference import RegistryView

log = logging.getLogger("sunlight")


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
        )
        setup_prometheus_sensors(self.app, registry=self.metrics.registry, name_prefix="faust")
        self.alerts_topic = self.app.topic(
            settings.topic("alerts"), key_serializer="raw", value_serializer="raw")
        self.dead_letters_topic = self.app.topic(
            settings.topic("dead-letters"), key_serializer="raw", value_serializer="raw")
        # kind -> feed -> detectors; a kind is one repartitioned stream with its own state.
        self.kinds: dict[str, dict[str, list[Detector]]] = defaultdict(lambda: defaultdict(list))
        for detector in detectors:
            for feed in detector.feeds:
                self.kinds[detector.key_kind][feed].append(detector)
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
        for feed in INPUT_TOPICS:
            self._ingest_agent(feed)
        for kind in self.kinds:
            self._keyed_agent(kind)
        self._web_and_timers()

    # -- ingest ---------------------------------------------------------------------------
    def _ingest_agent(self, feed: str) -> None:
        settings, metrics = self.settings, self.metrics
        topic_name = settings.topic(feed)
        topic = self.app.topic(topic_name, key_serializer="raw", value_serializer="raw")
        routes = [
            (self.keyed_topics[kind], by_feed[feed])
            for kind, by_feed in self.kinds.items()
            if feed in by_feed
        ]
        records_in = metrics.records_in.labels(topic_name)
        last_seen = metrics.last_event_time.labels(topic_name)

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
                for keyed_topic, detectors in routes:
                    key = next((k for d in detectors if (k := d.key(result)) is not None), None)
                    if key is None:
                        continue
                    if envelope is None:
                        envelope = orjson.dumps({
                            "feed": feed, "topic": message.topic,
                            "partition": message.partition, "offset": message.offset,
                            "ts": result.ts, "ingest_ts": time.time(), "record": result.record,
                        })
                    await keyed_topic.send(key=key.encode(), value=envelope)

        self.app.agent(topic, name=f"ingest-{feed}")(ingest_agent)

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
        settings, metrics, view = self.settings, self.metrics, self.view
        by_feed = self.kinds[kind]
        stage = f"keyed-{kind}"
        # One table for "seen" markers and detector state, so both share a changelog partition.
        state = self.app.Table(
            f"state-{kind}", default=None, partitions=settings.partitions,
            key_type=str, value_type=None)

        async def keyed_agent(stream: Any) -> None:
            await view.ready.wait()  # never judge a payment against a half-loaded registry
            async for kafka_event in stream.events():
                envelope = orjson.loads(kafka_event.message.value)
                feed, record = envelope["feed"], envelope["record"]
                seen_key = f"seen|{feed}|{record['event_id']}"
                if state.get(seen_key) is not None:
                    metrics.duplicates_dropped.labels(feed, stage).inc()
                    continue
                event = Event(feed, record, envelope["ts"], envelope["topic"],
                              envelope["partition"], envelope["offset"])
                for detector in by_feed[feed]:
                    await self._run_detector(detector, event, state, envelope["ingest_ts"])
                state[seen_key] = event.ts
                metrics.events_processed.labels(feed, stage).inc()

        self.app.agent(self.keyed_topics[kind], name=f"detect-{kind}")(keyed_agent)

    async def _run_detector(
        self, detector: Detector, event: Event, state: Any, ingest_ts: float
    ) -> None:
        key = detector.key(event)
        if key is None:
            return
        state_key = f"state|{detector.name}|{key}"
        try:
            old = state.get(state_key) if detector.stateful else None
            new, findings = detector.process(event, old, self.view.registry)
        except Exception as exc:  # a detector bug must not stop the stream or lose the event
            log.exception("detector %s failed on %s", detector.name, event.event_id)
            self.metrics.detector_errors.labels(detector.name).inc()
            await self._dead_letter(_detector_failure(detector, event, exc), event.topic)
            return
        if detector.stateful and new != old:
            state[state_key] = new
        for finding in findings:
            alert = to_cloudevent(finding, source=f"sunlight/{self.settings.app_id}")
            future = await self.alerts_topic.send(
                key=finding.subject.encode(), value=orjson.dumps(alert))
            await future
            now = time.time()
            labels = (finding.detector,)
            self.metrics.alerts.labels(finding.detector, finding.severity, finding.action).inc()
            self.metrics.event_to_alert.labels(*labels).observe(max(0.0, now - event.ts))
            self.metrics.ingest_to_alert.labels(*labels).observe(max(0.0, now - ingest_ts))
            log.info("alert %s %s %s on %s", alert["id"], finding.detector, finding.severity,
                     mask(finding.subject, self.settings.mask_person_ids))

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

        @app.timer(interval=5.0)
        async def export_lag() -> None:
            consumer = app.consumer
            lag: dict[str, int] = defaultdict(int)
            for tp in consumer.assignment():
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue
                read = consumer._read_offset.get(tp)
                lag[tp.topic] += max(0, highwater - (read + 1 if read is not None else 0))
            for topic, value in lag.items():
                metrics.consumer_lag.labels(topic).set(value)


def _detector_failure(detector: Detector, event: Event, exc: Exception) -> Rejected:
    from schemas import RecordError
    from stream.ingest import dead_letter

    err = RecordError("detector_error",
                      f"detector {detector.name} failed on this record: "
                      f"{type(exc).__name__}: {exc}")
    raw = orjson.dumps(event.record)
    return Rejected(err.code, err.reason,
                    dead_letter(err, raw, None, event.topic, event.partition, event.offset))
