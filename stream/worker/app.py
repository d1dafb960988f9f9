"""The Faust app: topics, agents, state, web views. Thin: it moves records to the pure
detectors and findings to the alerts topic, and owns the delivery guarantees.

Flow (one way): input topic (raw bytes, any key, any partition count)
  -> ingest stage (a batch consumer group): decode + validate (dead-letters on failure), then
     repartition by the key each detector family needs into an internal
     ``<app>-keyed-<kind>`` topic (stream/topology.py names every topic and stage)
  -> keyed stage (a batch consumer group, stream/worker/keyed.py): drop duplicate event_ids, run the
     detectors with per-key state, publish alerts.
  (Where this worker owns the keyed partition and has read it up to date, the ingest stage
  hands the event over in-process instead: stream/worker/handover.py.)

Guarantees: at-least-once. Each stage commits its input offsets only once what it sent for
them is confirmed by the broker: the ingest stage its repartitioned records and dead letters,
the keyed stage (stream/worker/keyed.py) its alerts and then the state that marks their events seen.
A crash can redo events (same alert ids, harmless; duplicates dropped) but never skip one.
"""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import faust
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.tables.manager import TableManager
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from detectors.base import Detector, Event, Finding
from detectors.findings import bounded, to_cloudevent
from detectors.runner import Outcome, Runner
from schemas import RecordError, parse_time
from stream import heap
from stream.config import Settings
from stream.headers import headers_for
from stream.ingest import (
    FRAMING_BYTES,
    Rejected,
    dead_letter,
    ingest,
    is_deletion,
    registry_key_error,
)
from stream.kafka import Checkpoints, Trailing, consumer_lag, fetch_next
from stream.outbox import KeyPartitions, Outbox, Tracker, inner_producer, key_partition
from stream.privacy import failure, mask
from stream.security import client_options, faust_credentials
from stream.topics import check_limits, create_internal_topics
from stream.topology import VERDICTS_TABLE, Kind, Topology
from stream.worker.handover import Handover
from stream.worker.keyed import Handoff, KeyedContext, KeyedStage, StateStore, Work
from stream.worker.metrics import Metrics
from stream.worker.precheck import PrecheckContext
from stream.worker.precheck import handler as precheck_handler
from stream.worker.readahead import ReadAhead
from stream.worker.reference import RegistryView
from stream.worker.verdicts import VerdictsContext, VerdictsStage
from stream.worker.web import WebServer

log = logging.getLogger("sunlight")

#: How many times its input size a record's repartition envelope can be at most: orjson
#: writes 1e15 as 1000000000000000.0, NFKC makes up to 18 characters of one. Only a record
#: this close to the limit has its envelope's size measured before it is routed.
ENVELOPE_GROWTH = 32

#: Feeds that carry alert ids, and how to read the id: verdicts are kept per alert id.
VERDICT_FEEDS: dict[str, Callable[[Event], tuple[str, ...]]] = {
    "alerts": lambda event: (event.record["id"],),
    "alert-dispositions": lambda event: (event.record["alert_id"],),
}


@dataclass
class IngestFeed:
    """One input topic as the ingest stage sees it."""

    name: str
    topic: str
    #: (internal topic name, the keys an event goes there under)
    routes: list[tuple[str, Callable[[Event], tuple[str, ...]]]]
    ticking: bool
    records_in: Any
    last_seen: Any
    #: input source ("topic:partition") -> largest event time read from it
    progress: dict[str, float]


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
            # Faust's web server (its /, /router/ and table views) is off: the web port is
            # ours (stream/worker/web.py), serving only health, metrics and the pre-check.
            web_enabled=False,
            web_tables_enabled=False,
            topic_partitions=settings.partitions,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            # Batch sends (repartitioned records, changelog writes): without a linger aiokafka
            # sent a produce request per message, a fifth of a busy worker's CPU (py-spy).
            producer_linger=0.005,
            # The broker's max.message.bytes bounds a whole batch, not one message: a batch
            # of two large records under the limit each was refused (test_poison).
            producer_max_batch_size=min(512 * 1024, settings.max_message_bytes - FRAMING_BYTES),
            producer_max_request_size=settings.max_message_bytes,
            broker_commit_interval=1.0,
            table_cleanup_interval=3600.0,
            broker_credentials=faust_credentials(settings.kafka_security),
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
        )
        # Faust's sensor, on our registry (served by our /metrics).
        self.app.monitor = PrometheusMonitor(
            metrics=FaustMetrics.create(self.metrics.registry, "faust"))
        for detector in detectors:  # series exist from the start, so a first alert is a rate
            for severity in ("red", "yellow"):
                self.metrics.alerts.labels(detector.name, severity, "review")
        # The kinds (one repartitioned stream with its own state each) and every topic name.
        self.topology = topology = Topology.build(detectors, settings)
        stores = {kind: StateStore() for kind in topology.kinds}
        self.runners = {
            kind: Runner(spec.feeds, stores[kind], self.view.registry,
                         idle_after_s=settings.source_idle_s,
                         dedupe_horizon_s=settings.dedupe_horizon_s,
                         dedupe_max_ids=settings.dedupe_max_ids, batch_writes=True)
            for kind, spec in topology.kinds.items()
        }
        self.keyed = KeyedStage(KeyedContext(
            settings, topology.kinds, self.runners, stores, topology.groups["keyed"],
            self.metrics, self.view.ready, self.app.maybe_start_producer, publisher=self))
        #: feed -> input source ("topic:partition") -> largest event time read from it.
        self.source_progress: dict[str, dict[str, float]] = {}
        #: feed -> input source this worker reads -> whether it has nothing left to read.
        self.source_caught_up: dict[str, dict[str, bool]] = {}
        self._quiet_since: dict[str, float] = {}
        self.read_ahead: ReadAhead[TopicPartition] = ReadAhead(settings.read_ahead_s)
        #: Input offsets ingested (their sends acknowledged) are committed at the next
        #: checkpoint (every ``commit_interval_s``), once the state they changed is written.
        self.checkpoints = Checkpoints(settings.commit_interval_s)
        self._ticked: dict[str, dict[str, list[Any]]] = {}
        self._ticked_at: dict[str, float] = {}
        self.verdict_topic = self.app.topic(
            topology.verdict_topic, internal=True,
            partitions=settings.partitions, key_serializer="raw", value_serializer="raw")
        self.verdicts = self.app.Table(VERDICTS_TABLE, default=None,
                                       partitions=settings.partitions, key_type=str,
                                       value_type=None)
        if self.verdicts.changelog_topic.get_topic_name() != topology.verdicts_changelog:
            raise RuntimeError("Faust names the verdicts changelog "
                               f"{self.verdicts.changelog_topic.get_topic_name()!r}, the "
                               f"topology {topology.verdicts_changelog!r}")
        self.ingest_consumer: AIOKafkaConsumer | None = None
        self._key_partitions: KeyPartitions = {}  # see Outbox
        self.verdicts_stage = VerdictsStage(VerdictsContext(
            self.verdicts, self.metrics, settings.max_message_bytes, self.reject))
        self.app.agent(self.verdict_topic, name="verdicts")(self.verdicts_stage.agent)
        self._jobs()

    def prepare_topics(self) -> None:
        """Before start: create the worker's own topics and check every size limit against
        the broker (SystemExit saying what to change)."""
        names = self.topology.internal_topics()
        create_internal_topics(self.settings, names)
        check_limits(self.settings, [*names, *self.topology.outputs.values()])

    # -- ingest ---------------------------------------------------------------------------
    def _ingest_feed(self, feed: str) -> IngestFeed:
        # (internal topic, the keys an event goes there under)
        topology = self.topology
        routes: list[tuple[str, Callable[[Event], tuple[str, ...]]]] = [
            (kind.topic, self.runners[name].route)
            for name, kind in topology.kinds.items()
            if feed in kind.feeds
        ]
        if feed in VERDICT_FEEDS:
            routes.append((topology.verdict_topic, VERDICT_FEEDS[feed]))
        topic_name = topology.topic(feed)
        return IngestFeed(
            feed, topic_name, routes,
            ticking=topology.ticking(feed),
            records_in=self.metrics.records_in.labels(topic_name),
            last_seen=self.metrics.last_event_time.labels(topic_name),
            progress=self.source_progress.setdefault(feed, {}),
        )

    async def _ingest(self) -> None:
        """The ingest stage: decode + validate each input record (dead-letters on failure) and
        repartition it by the keys its detectors need. Stateless, so it runs as a plain
        consumer group of its own reading whole batches: Faust's per-event stream costs more
        than the work itself (bench/faust_ceiling.py). Input offsets are committed only once
        every record sent for the batch is confirmed by the broker (at-least-once; the keyed
        stage drops the duplicates a redelivery makes). Sends go through the app's producer,
        the one the watermark ticks use, so no tick overtakes a record it covers."""
        settings = self.settings
        feeds = {f.topic: f for f in map(self._ingest_feed, self.topology.ingest_feeds)}
        route_topics = sorted({topic for feed in feeds.values() for topic, _ in feed.routes})
        self.ingest_consumer = consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=self.topology.groups["ingest"], enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=5000,
            # Small fetches per partition, so a backlog is read across topics and partitions
            # in step: a topic read days (of event time) ahead of another makes detectors that
            # join them keep more, and ones that prune by their own newest record miss joins.
            max_partition_fetch_bytes=64 * 1024,
            # Under load, batches of a tenth of a second rather than of whatever arrived since
            # the last: each batch rewrites every key it changed to the changelog, and a busy
            # payer's key is rewritten with each (live at 5,500 events/s, 23% of the CPU).
            fetch_min_bytes=64 * 1024, fetch_max_wait_ms=100,
            session_timeout_ms=int(settings.session_timeout_s * 1000),
            heartbeat_interval_ms=int(max(1.0, settings.session_timeout_s / 10) * 1000),
            **client_options(settings.kafka_security))
        # Input partitions taken over may have records in the repartition topics: the keyed
        # stage reads those before it takes any handed over (stream/worker/handover.py).
        consumer.subscribe(list(feeds), listener=_Moved(self.keyed.handover,
                                                        self._inputs_revoked))
        await consumer.start()
        # The previous batch's acks and commit, awaited while this one is read and routed.
        trailing = Trailing()
        unacked: set[Any] = set()  # the partitions of the batch trailing
        try:
            producer = await self.app.maybe_start_producer()
            client = inner_producer(producer)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                started = time.perf_counter()
                pending: list[Awaitable[Any]] = []
                #: input source ("topic:partition") -> largest event time routed in this batch
                progress: dict[str, float] = {}
                if await self._reading(consumer, feeds, batches):
                    await self._send_ticks()  # ahead of the batch's records
                if batches:  # not before: a tick meanwhile must know of the batch's sources
                    await fetch_next()
                await self._route_batch(feeds, batches, client, route_topics, producer,
                                        pending, progress)
                # After the batch's records are sent: no tick can say "caught up" before them
                # (nor before the trailing batch's are acknowledged).
                backlog = await self._note_caught_up(consumer, feeds, batches,
                                                     busy=set() if trailing.done() else unacked)
                self._read_in_step(consumer, batches, progress, backlog)
                # A checkpoint: the state the handed-over work changed since the last is
                # written, and the input offsets it covers are then committed.
                if not batches:
                    await trailing.check()
                    if self.checkpoints.uncommitted and self.checkpoints.due():
                        await trailing.then(self._commit_ingested(
                            consumer, await self.keyed.checkpoint(producer)))
                    continue
                checkpoint = self.checkpoints.due()
                if checkpoint:
                    pending.append(await self.keyed.checkpoint(producer))
                unacked = set(batches)
                await trailing.then(self._ingested(
                    consumer, feeds, batches, pending, progress, started, checkpoint))
        finally:
            trailing.cancel()
            await consumer.stop()

    async def _reading(self, consumer: AIOKafkaConsumer, feeds: dict[str, IngestFeed],
                       batches: dict[Any, list[Any]]) -> bool:
        """Sources last said to be caught up that have records to read now (this batch's, or
        beyond it: the fetch that brought the batch told every partition's end) are marked as
        not caught up, before any of the batch reaches the keyed stage. Otherwise the keyed
        partitions would learn it only from the next tick, after the batch's records: their
        watermark, held by no source meanwhile, would run ahead to the batch's, past records
        of the other sources still unread (after a pause, an outage, a backfill into quiet
        feeds), late then. Returns whether any source was marked (its tick is due first)."""
        marked = False
        for tp in consumer.assignment():
            feed = feeds.get(tp.topic)
            caught = self.source_caught_up.get(feed.name) if feed is not None else None
            source = f"{tp.topic}:{tp.partition}"
            if not caught or not caught.get(source):
                continue
            highwater = consumer.highwater(tp)
            if tp in batches or (highwater is not None
                                 and await consumer.position(tp) < highwater):
                caught[source] = False
                self._quiet_since.pop(source, None)
                marked = True
        return marked

    async def _route_batch(self, feeds: dict[str, IngestFeed],
                           batches: dict[Any, list[Any]], client: Any, route_topics: list[str],
                           producer: Any, pending: list[Awaitable[Any]],
                           progress: dict[str, float]) -> None:
        """Decode, validate and route a batch's records: each to the keyed partitions of its
        keys, in-process or by the repartition topics (:meth:`_hand_over`)."""
        #: keyed partition -> the events routed there, in the order read
        work: dict[TopicPartition, list[Handoff]] = {}
        latest_ts = time.time() + self.settings.future_tolerance_s
        partitions = {topic: len(await client.partitions_for(topic)) for topic in route_topics}
        for tp, messages in batches.items():
            feed = feeds[tp.topic]
            feed.records_in.inc(len(messages))
            feed.last_seen.set(time.time())
            for message in messages:
                await self._ingest_one(feed, message, work, pending, latest_ts, progress,
                                       partitions)
        if work:
            pending += await self._hand_over(work, producer)

    async def _hand_over(self, work: dict[TopicPartition, list[Handoff]], producer: Any
                         ) -> list[Awaitable[Any]]:
        """What this worker's keyed stage can run now runs in-process; the rest goes by the
        repartition topics (stream/worker/handover.py). Returns what to wait for before the
        input offsets are committed."""
        taken, done = await self.keyed.take(work, producer)
        routed = self.metrics.records_routed
        outbox = self.outbox(producer, tracker=self.keyed.handover)
        envelopes: dict[int, bytes] = {}  # one per record, whatever its routes
        for tp, handed in work.items():
            if tp in taken:
                routed.labels("in_process").inc(len(handed))
                continue
            routed.labels("topic").inc(len(handed))
            for item in handed:
                event = item.event
                value = envelopes.get(id(event))
                if value is None:
                    value = envelopes[id(event)] = item.envelope()
                outbox.add(tp.topic, item.key.encode(), value,
                           (event.topic, event.partition, event.offset), tp.partition)
        return [done, await outbox.flush()]

    async def _ingested(self, consumer: AIOKafkaConsumer, feeds: dict[str, IngestFeed],
                        batches: dict[Any, list[Any]], pending: list[Awaitable[Any]],
                        progress: dict[str, float], started: float, checkpoint: bool) -> None:
        """A batch's end, once what it sent is acknowledged: its progress, then, at a
        checkpoint, the commit of its offsets and those of the batches since the last."""
        await asyncio.gather(*pending)
        # Progress counts once the broker has the batch: a tick then never reaches a keyed
        # partition ahead of a record it covers, whatever the producer's retries across a
        # broker outage do to the order of sends.
        for tp in batches:
            source = f"{tp.topic}:{tp.partition}"
            if source in progress:
                feed = feeds[tp.topic]
                feed.progress[source] = max(progress[source],
                                            feed.progress.get(source, float("-inf")))
        for tp, messages in batches.items():
            self.checkpoints.read(tp, messages[-1].offset + 1)
        if checkpoint:
            await self._commit_ingested(consumer)
        self.metrics.batch_seconds.labels("ingest").observe(time.perf_counter() - started)

    async def _commit_ingested(self, consumer: AIOKafkaConsumer,
                               written: Awaitable[Any] | None = None) -> None:
        """Commit the input offsets of the batches ingested since the last checkpoint (once
        ``written``, the checkpoint's state, is, if given)."""
        if written is not None:
            await written
        await self.checkpoints.commit(consumer, self.checkpoints.take(), "ingest")

    async def _inputs_revoked(self, revoked: set[TopicPartition]) -> None:
        """Input partitions are moving: the state of the work they handed over is written and
        their offsets committed first, so their next reader neither loses nor redoes it."""
        consumer = self.ingest_consumer
        if consumer is None:
            return
        producer = await self.app.maybe_start_producer()
        try:
            await self._commit_ingested(consumer, await self.keyed.checkpoint(producer))
        except Exception as exc:  # noqa: BLE001 - the next reader redoes them (at-least-once)
            log.warning("ingest stage: offsets not committed before partitions moved: %s", exc)

    def _read_in_step(self, consumer: AIOKafkaConsumer, batches: dict[Any, list[Any]],
                      progress: dict[str, float], backlog: set[TopicPartition]) -> None:
        """Hold back the input partitions read too far ahead in event time of the others
        (stream/worker/readahead.py), and let go of those the others caught up with."""
        ahead, assigned = self.read_ahead, consumer.assignment()
        ahead.forget([tp for tp in ahead.progress if tp not in assigned])
        for tp in batches:
            reached = progress.get(f"{tp.topic}:{tp.partition}")
            if reached is not None:
                ahead.reached(tp, reached)
        held = ahead.hold(backlog, time.time())
        paused = consumer.paused()
        if held - paused:
            consumer.pause(*(held - paused))
            self.metrics.partition_holds.inc(len(held - paused))
        if paused - held:
            consumer.resume(*(paused - held))
        self.metrics.partitions_held.set(len(held))

    async def _note_caught_up(self, consumer: AIOKafkaConsumer, feeds: dict[str, IngestFeed],
                              batches: dict[Any, list[Any]], busy: set[Any]
                              ) -> set[TopicPartition]:
        """Which of this worker's input partitions have had nothing to read for
        ``source_quiet_s``: such a source stops holding event time back
        (detectors.runner.Runner.observe). Not the moment it is read to its end: while a
        backlog is still being produced, a partition read to its end has more coming within
        milliseconds, and its next records are older than what the others have delivered.
        Nor while the broker does not answer, nor while records read from it (``busy``) wait
        for their acknowledgement. Partitions no longer assigned are forgotten:
        their new owner speaks for them. Returns the partitions with records left to read."""
        now, wall = time.monotonic(), time.time()
        since = self._quiet_since
        caught: dict[str, dict[str, bool]] = {}
        backlog: set[TopicPartition] = set()
        for tp in consumer.assignment():
            feed = feeds.get(tp.topic)
            if feed is None or not feed.ticking:
                continue
            source = f"{tp.topic}:{tp.partition}"
            highwater = consumer.highwater(tp)
            # The end of a partition as the broker last told it: with no answer for a while
            # (an outage), nobody knows what is waiting there, so it is not quiet.
            answered = consumer.last_poll_timestamp(tp)
            stale = answered is None or wall - answered / 1000 > self.settings.source_quiet_s
            unread = highwater is not None and await consumer.position(tp) < highwater
            if unread:
                backlog.add(tp)
            if tp in batches or tp in busy or highwater is None or stale or unread:
                since.pop(source, None)
                quiet = False
            else:
                quiet = now - since.setdefault(source, now) >= self.settings.source_quiet_s
            caught.setdefault(feed.name, {})[source] = quiet
        self.source_caught_up = caught
        return backlog

    async def _ingest_one(self, feed: IngestFeed, message: Any,
                          work: dict[TopicPartition, list[Handoff]],
                          pending: list[Awaitable[Any]], latest_ts: float,
                          progress: dict[str, float], partitions: dict[str, int]) -> None:
        try:
            await self._route(feed, message, work, pending, latest_ts, progress, partitions)
        except Exception as exc:  # a poison record: it goes to dead-letters, the stage goes on
            log.error("ingest failed on %s[%s]@%s: %s", message.topic, message.partition,
                      message.offset, failure(exc))
            pending.append(await self.reject(
                _failure("processing_error", f"Sunlight failed on this record: {exc!r}",
                         message.value, message.key, message.topic, message.partition,
                         message.offset, self.settings.max_message_bytes), feed.topic))

    async def _route(self, feed: IngestFeed, message: Any,
                     work: dict[TopicPartition, list[Handoff]],
                     pending: list[Awaitable[Any]], latest_ts: float,
                     progress: dict[str, float], partitions: dict[str, int]) -> None:
        """Decode and validate one input record, and add it to ``work`` under each keyed
        partition it goes to (``partitions``: each repartition topic's count)."""
        settings = self.settings
        if is_deletion(feed.name, message.value, message.key):
            return  # the registry view deletes the entry: nothing to route, nothing rejected
        result = ingest(
            feed.name, message.value, key=message.key, topic=message.topic,
            partition=message.partition, offset=message.offset,
            max_bytes=settings.max_record_bytes, letter_bytes=settings.max_message_bytes,
            latest_ts=latest_ts,
        )
        if not isinstance(result, Rejected) and feed.name == "registry":
            err = registry_key_error(message.key, result.record)
            if err is not None:
                result = Rejected(err.code, err.reason, dead_letter(
                    err, message.value, message.key, message.topic, message.partition,
                    message.offset, settings.max_message_bytes))
        if isinstance(result, Rejected):
            pending.append(await self.reject(result, feed.topic))
            return
        routed = [(keyed_topic, key) for keyed_topic, keys in feed.routes
                  for key in keys(result)]
        if routed:
            ingest_ts = time.time()
            handed = [Handoff(key, result, ingest_ts, message.key, message.value)
                      for _, key in routed]
            # Whether it goes by the topic or not, a record whose repartition envelope
            # Sunlight could not publish is refused the same, before any copy is routed.
            room = settings.max_message_bytes - FRAMING_BYTES
            if len(message.value) * ENVELOPE_GROWTH + FRAMING_BYTES > room:
                too_big = max(len(item.envelope()) + len(item.key) for item in handed)
                if too_big > room:
                    pending.append(await self.reject(_failure(
                        "oversized", f"the record's repartition envelope is {too_big} bytes, "
                        f"over the {room} bytes Sunlight may publish "
                        "(SUNLIGHT_MAX_MESSAGE_BYTES)", message.value, message.key,
                        message.topic, message.partition, message.offset,
                        settings.max_message_bytes), feed.topic))
                    return
            for (keyed_topic, key), item in zip(routed, handed, strict=True):
                tp = TopicPartition(keyed_topic,
                                    key_partition(key.encode(), partitions[keyed_topic]))
                routes = work.get(tp)
                if routes is None:
                    routes = work[tp] = []
                routes.append(item)
        if feed.ticking:  # the feed's progress moves once the outbox is sent (see _ingest)
            source = f"{message.topic}:{message.partition}"
            if result.ts > progress.get(source, float("-inf")):
                progress[source] = result.ts

    async def _send_ticks(self) -> None:
        """Tell every keyed partition how far in event time each input partition this worker
        reads has come: the watermark reaches partitions that no record was routed to, and a
        topic read ahead of another cannot close windows the other is still filling."""
        for kind in self.topology.kinds.values():
            await self._tick(kind)

    def _tick_of(self, kind: Kind) -> dict[str, list[Any]]:
        """What a tick of ``kind`` says now: source -> [event time reached (None: nothing yet),
        caught up]."""
        return {source: [self.source_progress.get(feed, {}).get(source), caught_up]
                for feed in kind.clock
                for source, caught_up in self.source_caught_up.get(feed, {}).items()}

    async def _tick(self, kind: Kind) -> None:
        """One key kind's tick, to each of its keyed partitions (see :meth:`_send_ticks`)."""
        tick = self._tick_of(kind)
        # Unchanged progress is sent again now and then: a keyed partition re-judges which
        # sources went silent (idle) only when it hears something.
        now = time.monotonic()
        if not tick or (tick == self._ticked.get(kind.name)
                        and now - self._ticked_at.get(kind.name, 0.0) < 5.0):
            return
        self._ticked[kind.name], self._ticked_at[kind.name] = tick, now
        producer = await self.app.maybe_start_producer()  # the ingest stage's producer
        # In-process where the records went in-process: a tick never overtakes them. What it
        # says is read as the keyed partitions are found takeable (KeyedStage.take), or as it
        # is sent, not now: a batch routed meanwhile (after _reading marked its sources) is
        # never followed by a tick from before it, whose "caught up" would free event time
        # from sources with records still unread.
        work: dict[TopicPartition, list[Work]] = {
            TopicPartition(kind.topic, partition): [partial(self._tick_of, kind)]
            for partition in range(self.settings.partitions)}
        taken, done = await self.keyed.take(work, producer)
        done.add_done_callback(_seen)  # its failure is the keyed stage's to raise
        for tp in work:
            if tp not in taken:
                value = orjson.dumps({"tick": self._tick_of(kind)})
                sent = await producer.send(tp.topic, None, value, tp.partition, None, None)
                self.keyed.handover.track(tp, asyncio.ensure_future(sent))

    def outbox(self, producer: Any, tracker: Tracker | None = None) -> Outbox:
        """A produce batch on ``producer`` (the app's): messages it refuses are dead-lettered
        as :meth:`send` does."""
        return Outbox(producer, self.send, _refused, self._key_partitions, tracker)

    async def send(self, producer: Any, topic: str, key: bytes | None, value: bytes | None,
                   partition: int | None, origin: tuple[str, int, int],
                   headers: list[tuple[str, bytes]] | None = None) -> Awaitable[None]:
        """Send a message; returns its confirmation by the broker. A message the producer or
        the broker refuses for what it is (too large, invalid) is dead-lettered instead, as
        coming from ``origin`` (topic, partition, offset of the input record): the returned
        awaitable never fails on data, so no record can stop the stage."""
        try:
            future = await producer.send(topic, key, value, partition, None, headers)
        except Exception as exc:
            if not _refused(exc):
                raise
            return await self._unpublishable(topic, value, origin, exc)
        return asyncio.ensure_future(self._sent(future, topic, value, origin))

    async def _sent(self, future: Awaitable[Any], topic: str, value: bytes | None,
                    origin: tuple[str, int, int]) -> None:
        try:
            await future
        except Exception as exc:
            if not _refused(exc):
                raise
            await (await self._unpublishable(topic, value, origin, exc))

    async def _unpublishable(self, topic: str, value: bytes | None,
                             origin: tuple[str, int, int],
                             exc: BaseException) -> Awaitable[None]:
        return await self.reject(_failure(
            "unpublishable", f"Kafka refused Sunlight's message for topic {topic} "
            f"({len(value or b'')} bytes): {type(exc).__name__}", value, None, *origin,
            self.settings.max_message_bytes), origin[0])

    async def reject(self, rejected: Rejected, topic_name: str) -> Awaitable[None]:
        """Send a dead letter; returns the broker's acknowledgement to wait for before the
        record's offset is committed (the dead letter is the only copy we keep). Never fails
        on data: a letter Kafka refuses is sent again without the original bytes."""
        self.metrics.records_rejected.labels(topic_name, rejected.code).inc()
        letter = rejected.letter
        # The code only: a reason can quote the record (person ids).
        log.warning("rejected %s[%s]@%s: %s", letter["topic"], letter["partition"],
                    letter["offset"], rejected.code)
        key = f"{letter['topic']}:{letter['partition']}:{letter['offset']}".encode()
        producer = await self.app.maybe_start_producer()
        topic = self.topology.outputs["dead-letters"]
        try:
            future = await producer.send(topic, key, orjson.dumps(letter), None, None,
                                         headers_for("dead-letters"))
        except Exception as exc:
            if not _refused(exc):
                raise
            future = None
        return asyncio.ensure_future(self._letter_sent(future, producer, topic, key, letter))

    async def _letter_sent(self, future: Awaitable[Any] | None, producer: Any, topic: str,
                           key: bytes, letter: dict[str, Any]) -> None:
        try:
            if future is not None:
                await future
                return
        except Exception as exc:
            if not _refused(exc):
                raise
        # The last resort: where it came from and why, without the bytes (a few hundred).
        bare = {**letter, "key_b64": None, "value_b64": None, "value_dropped": True,
                "reason": letter["reason"][:1000] + " (the original bytes were dropped: "
                          "Kafka refused the dead letter that carried them)"}
        try:
            await (await producer.send(topic, key[:1000], orjson.dumps(bare), None, None,
                                       headers_for("dead-letters")))
        except Exception as exc:
            if not _refused(exc):
                raise
            self.metrics.dead_letters_lost.inc()
            log.error("dead letter for %s[%s]@%s refused by Kafka: %s", letter["topic"],
                      letter["partition"], letter["offset"], type(exc).__name__)

    # -- detect (stream/worker/keyed.py) ------------------------------------------------------
    async def settle(self, outcome: Outcome, event: Event | None, ingest_ts: float,
                     pending: list[Awaitable[Any]], outbox: Outbox) -> None:
        """Count late records, dead-letter what a detector failed on, publish the findings
        (into ``outbox``); the broker's acknowledgements are added to ``pending``, to be
        awaited once the outbox is flushed."""
        metrics = self.metrics
        subject = event.event_id if event else "watermark tick"
        for name in outcome.late:
            metrics.late_records.labels(name).inc()
            # Event ids are not person ids; the record's where is enough to find it again.
            log.warning("late record %s (%s[%s]@%s, event time %s) for %s: older than its "
                        "retention behind the watermark, or its window was already judged",
                        subject, event.topic if event else "", event.partition if event else "",
                        event.offset if event else "", event.time if event else "", name)
        for name, exc in outcome.errors:
            log.error("detector %s failed on %s: %r", name, subject, exc)
            metrics.detector_errors.labels(name).inc()
            if event is not None:
                pending.append(await self.reject(
                    _detector_failure(name, event, exc, self.settings.max_message_bytes),
                    event.topic))
        origin = (event.topic, event.partition, event.offset) if event else None
        for finding in outcome.findings:
            pending.append(await self.publish_finding(finding, ingest_ts, origin, outbox))

    async def publish_finding(self, finding: Finding, ingest_ts: float,
                              origin: tuple[str, int, int] | None = None,
                              outbox: Outbox | None = None) -> Awaitable[None]:
        """Send the alert (bounded: it is read back as input); returns its confirmation by
        the broker (metrics count it then). An alert Kafka refuses is dead-lettered as coming
        from ``origin``, the record that raised it. Into ``outbox`` when given (its flush
        must come before the confirmation is awaited), else sent at once."""
        alert = bounded(to_cloudevent(finding, source=f"sunlight/{self.settings.app_id}"),
                        self.settings.max_record_bytes)
        topic = self.topology.outputs["alerts"]
        key, value = finding.subject.encode(), orjson.dumps(alert)
        if outbox is None:
            producer = await self.app.maybe_start_producer()
            sent = await self.send(producer, topic, key, value, None,
                                   origin or (topic, -1, -1), headers_for("alerts"))
        else:
            outbox.add(topic, key, value, origin or (topic, -1, -1),
                       headers=headers_for("alerts"))
            sent = outbox.flushed
        return asyncio.ensure_future(self._published(sent, finding, alert["id"], ingest_ts))

    async def _published(self, sent: Awaitable[Any], finding: Finding, alert_id: str,
                         ingest_ts: float) -> None:
        await sent
        now = time.time()
        detector = finding.detector
        self.metrics.alerts.labels(detector, finding.severity, finding.action).inc()
        if "registry_links_truncated" in finding.evidence:
            self.metrics.links_truncated.labels(detector).inc()
        event_ts = parse_time(finding.time).timestamp()
        self.metrics.event_to_alert.labels(detector).observe(max(0.0, now - event_ts))
        self.metrics.ingest_to_alert.labels(detector).observe(max(0.0, now - ingest_ts))
        log.info("alert %s %s %s on %s", alert_id, detector, finding.severity,
                 mask(finding.subject, self.settings.mask_person_ids))

    # -- jobs: tasks, timers, the web port -------------------------------------------------
    def _jobs(self) -> None:
        """Every job the worker runs beside Faust's own, each a named method below."""
        app = self.app
        for task in (self.load_registry, self.freeze_registry, self.dump_tasks_on_sigusr1,
                     self.run_stages, self.serve_web):
            app.task(task)
        for interval, timer in ((self.settings.tick_interval_s, self.send_ticks),
                                (15.0, self.export_verdicts), (5.0, self.export_lag)):
            app.timer(interval=interval)(timer)
        # Partitions moved: queues of due windows are rebuilt from the recovered state.
        # (mode types a handler with mypy_extensions' NamedArg, which no plain def matches.)
        handler = cast(Any, self.forget_windows)
        app.on_partitions_revoked.connect(handler, weak=False)
        app.on_partitions_assigned.connect(handler, weak=False)

    async def load_registry(self) -> None:
        await self.view.run()

    async def freeze_registry(self) -> None:
        """Once the registry is loaded, the collector stops walking it (stream/heap.py)."""
        await self.view.ready.wait()
        heap.freeze()

    async def dump_tasks_on_sigusr1(self) -> None:
        """`kill -USR1 <worker>` logs where every asyncio task waits: for a stuck worker."""
        def dump() -> None:
            for task in asyncio.all_tasks():
                buffer = io.StringIO()
                task.print_stack(limit=12, file=buffer)
                log.warning("task %s\n%s", task.get_name(), buffer.getvalue())

        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)

    async def run_stages(self) -> None:
        """The ingest and keyed stages, once the worker's own topics exist."""
        await asyncio.to_thread(create_internal_topics, self.settings,
                                self.topology.internal_topics())
        await asyncio.gather(self._ingest(), self.keyed.run())

    async def serve_web(self) -> None:
        """The web port: health, metrics and the pre-check (stream/worker/web.py)."""
        settings = self.settings
        precheck = precheck_handler(PrecheckContext(
            settings, self.metrics, self.detectors, self.view, self.publish_finding))
        server = WebServer(
            {"/livez": {"GET": self.livez}, "/readyz": {"GET": self.readyz},
             "/metrics": {"GET": self.prometheus}, "/v1/precheck": {"POST": precheck}},
            host=settings.web_host, port=settings.web_port, timeout_s=settings.web_timeout_s,
            max_connections=settings.web_max_connections, metrics=self.metrics)
        await server.serve()

    async def livez(self, request: Any) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(self, request: Any) -> web.Response:
        """Ready: partitions assigned, their state recovered, and the registry caught up."""
        app, view = self.app, self.view
        assigned = bool(app.consumer.assignment()) if app.consumer else False
        recovered = (cast(TableManager, app.tables).recovery.completed.is_set()
                     and not app.in_recovery)
        keyed = self.keyed.ready.is_set()
        ready = (view.ready.is_set() and assigned and recovered and keyed
                 and not app.rebalancing)
        body = {"ready": ready, "registry_ready": view.ready.is_set(), "keyed_ready": keyed,
                "partitions_assigned": assigned, "state_recovered": recovered,
                "rebalancing": bool(app.rebalancing)}
        return web.json_response(body, status=200 if ready else 503)

    async def prometheus(self, request: Any) -> web.Response:
        """Every metric, or only those named by ``name[]`` (as prometheus_client's own handler
        does): a whole scrape of a busy worker costs ~20 ms of its loop, a few series far
        less, for a script or the bench that polls often."""
        registry: Any = self.metrics.registry
        names = request.query.getall("name[]", [])
        if names:
            registry = registry.restricted_registry(names[:100])
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    def forget_windows(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        for runner in self.runners.values():
            runner.forget_partitions()

    async def send_ticks(self) -> None:
        await self._send_ticks()

    async def export_verdicts(self) -> None:
        self.verdicts_stage.export()

    async def export_lag(self) -> None:
        """Consumer lag per topic (every stage together), state size and event time per kind."""
        metrics = self.metrics
        lag: dict[str, int] = defaultdict(int)
        for stage in (self.app.consumer, self.ingest_consumer, self.keyed.consumer):
            for topic, value in (await consumer_lag(stage)).items():
                lag[topic] += value
        for topic, value in lag.items():
            metrics.consumer_lag.labels(topic).set(value)
        for kind, store in self.keyed.stores.items():
            metrics.state_keys.labels(kind).set(len(store))
        for kind, watermark in self.keyed.watermarks().items():
            metrics.watermark.labels(self.topology.kinds[kind].stage).set(watermark)


def _detector_failure(name: str, event: Event, exc: Exception, max_bytes: int) -> Rejected:
    return _failure("detector_error",
                    f"detector {name} failed on this record: {type(exc).__name__}: {exc}",
                    orjson.dumps(event.record), None, event.topic, event.partition,
                    event.offset, max_bytes)


def _failure(code: str, reason: str, raw: bytes | None, key: bytes | None, topic: str,
             partition: int, offset: int, max_bytes: int) -> Rejected:
    err = RecordError(code, reason)
    return Rejected(code, reason,
                    dead_letter(err, raw, key, topic, partition, offset, max_bytes))


#: What Kafka refuses a message for, whatever the retries: its size or its contents.
_DATA_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError,
                CorruptRecordException)


def _refused(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it wraps: Faust wraps aiokafka's errors) is Kafka refusing
    the message itself, as opposed to the broker being unreachable."""
    while exc is not None:
        if isinstance(exc, _DATA_ERRORS):
            return True
        exc = exc.__cause__
    return False


class _Moved(ConsumerRebalanceListener):
    """The ingest stage's partitions moved: see stream/worker/handover.py."""

    def __init__(self, handover: Handover,
                 revoking: Callable[[set[TopicPartition]], Awaitable[None]]) -> None:
        self.handover = handover
        self.revoking = revoking

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.revoking(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.handover.moved()


def _seen(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()
