"""The keyed stage: runs the detectors over the repartitioned streams, batch by batch.

One consumer group reads every ``<app>-keyed-<kind>`` topic. Each kind's state (the Runner's
entries: detector states and "seen" event ids per key) lives in memory, per partition, and is
backed up to a compacted changelog topic with the same partition numbers. Per batch:

1. every event runs through its kind's Runner (state changes in memory),
2. the alerts and dead letters it produced are confirmed by the broker,
3. then each key changed in the batch is written to the changelog once,
4. then the input offsets are committed.

So a crash at any point redoes events from the last commit against state that has at most
the effects of events whose alerts are already out: an event counts as seen only once its
alerts are confirmed, and never twice. On a rebalance the revoked partitions finish their batch
(the revocation waits for it) and are dropped; assigned ones are restored from their changelog
before any of their records is processed.

Why not Faust agents and tables: Faust's per-event stream machinery and one changelog message
per table write cost more than the detectors themselves (``bench/faust_ceiling.py``); batches
amortise both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from detectors.base import Event
from detectors.runner import Outcome, Runner
from schemas import RecordError
from stream.config import FEEDBACK_FEEDS, Settings
from stream.ingest import Rejected, dead_letter
from stream.kafka import Checkpoints, Trailing, fetch_next, partition_counts
from stream.outbox import Outbox
from stream.privacy import failure
from stream.security import client_options
from stream.topology import Kind
from stream.worker.handover import Handover
from stream.worker.metrics import Metrics

log = logging.getLogger("sunlight.keyed")


class StateStore(MutableMapping[str, bytes]):
    """One kind's state as its Runner sees it (key -> encoded entry), with the partition each
    key belongs to (set by the stage before each record) and the keys changed since the last
    :meth:`take_changes`."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.partition_of: dict[str, int] = {}
        self.changed: dict[str, int] = {}
        #: The partition of the record being processed: every key written belongs to it.
        self.partition = 0

    def __getitem__(self, key: str) -> bytes:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:  # hot path: no KeyError
        return self.data.get(key, default)

    def place(self, partition: int) -> None:
        """The keys written next belong to ``partition`` (the Runner says, per key)."""
        self.partition = partition

    def __setitem__(self, key: str, value: bytes) -> None:
        self.data[key] = value
        self.partition_of[key] = self.changed[key] = self.partition

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.changed[key] = self.partition_of.pop(key, self.partition)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def take_changes(self) -> list[tuple[str, int, bytes | None]]:
        """(key, partition, value or None if deleted) for each key changed since last time."""
        changes = [(key, p, self.data.get(key)) for key, p in self.changed.items()]
        self.changed = {}
        return changes

    def restore(self, key: str, partition: int, value: bytes | None) -> None:
        if value is None:
            self.data.pop(key, None)
            self.partition_of.pop(key, None)
        else:
            self.data[key] = value
            self.partition_of[key] = partition

    def drop(self, partitions: set[int]) -> None:
        for key in [k for k, p in self.partition_of.items() if p in partitions]:
            del self.data[key], self.partition_of[key]
            self.changed.pop(key, None)


class Publisher(Protocol):
    """How the stage sends: each returns the broker's acknowledgement to wait for (the worker's
    :class:`stream.worker.app.Sunlight` does it, with dead letters for what Kafka refuses)."""

    async def send(self, producer: Any, topic: str, key: bytes | None, value: bytes | None,
                   partition: int | None, origin: tuple[str, int, int]) -> Awaitable[None]: ...

    async def settle(self, outcome: Outcome, event: Event | None, ingest_ts: float,
                     pending: list[Awaitable[Any]], outbox: Outbox) -> None: ...

    def outbox(self, producer: Any) -> Outbox: ...

    async def reject(self, rejected: Rejected, topic_name: str) -> Awaitable[None]: ...


@dataclass(slots=True)
class Handoff:
    """An event the ingest stage hands over in-process, under one of its keys (see
    :meth:`KeyedStage.take`): what it would otherwise have sent as a repartitioned message."""

    key: str
    event: Event
    ingest_ts: float
    #: The input record's key and bytes: its dead letter if the stage fails on it.
    raw_key: bytes | None
    raw: bytes | None

    def envelope(self) -> bytes:
        """The repartitioned message that carries it by the topic instead (read back by
        :meth:`KeyedStage._message`)."""
        event = self.event
        return orjson.dumps({
            "feed": event.feed, "topic": event.topic, "partition": event.partition,
            "offset": event.offset, "ts": event.ts, "ingest_ts": self.ingest_ts,
            "record": event.record,
        })


#: A keyed partition's work handed over in-process: events, and watermark ticks (a mapping).
Ready = Handoff | Mapping[str, Any]
#: ... as handed over: a tick may come as what makes it (:meth:`KeyedStage.take` says when).
Work = Ready | Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class KeyedContext:
    """What the keyed stage uses of its worker, and nothing else."""

    settings: Settings
    #: The kinds (stream/topology.py), each kind's Runner and the store its state is in.
    kinds: Mapping[str, Kind]
    runners: Mapping[str, Runner]
    stores: Mapping[str, StateStore]
    #: The stage's consumer group.
    group: str
    metrics: Metrics
    #: Set once the registry view is loaded: nothing is judged before.
    registry_ready: asyncio.Event
    #: The worker's producer (started on first use), and what sends through it.
    producer: Callable[[], Awaitable[Any]]
    publisher: Publisher


class KeyedStage:
    def __init__(self, context: KeyedContext) -> None:
        self.context = context
        self.settings = context.settings
        self.runners = context.runners
        self.stores = context.stores
        self.metrics = context.metrics
        self.kind_of_topic = {spec.topic: kind for kind, spec in context.kinds.items()}
        self.changelogs = {kind: spec.changelog for kind, spec in context.kinds.items()}
        self.consumer: AIOKafkaConsumer | None = None
        #: Set once the assigned partitions are restored; cleared while partitions move.
        self.ready = asyncio.Event()
        self._lock = asyncio.Lock()
        #: The previous batch's acks, changelog write and commit (stream.kafka.Trailing).
        self.trailing = Trailing()
        #: Offsets read (their batches run) are committed at the next checkpoint.
        self.checkpoints = Checkpoints(context.settings.commit_interval_s)
        #: Which keyed partitions the ingest stage may hand events to in-process.
        self.handover = Handover()
        #: (metric, feed, stage) -> records of the batch in flight counted there; the
        #: metrics are moved once per batch (a labelled inc per record cost 2% of the CPU).
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def watermarks(self) -> dict[str, float]:
        """kind -> the lowest watermark among this worker's partitions of it (kinds whose
        partitions have no event time yet are left out)."""
        consumer = self.consumer
        if consumer is None:
            return {}
        lowest: dict[str, float] = {}
        for tp in consumer.assignment():
            kind = self.kind_of_topic.get(tp.topic)
            if kind is None:
                continue
            watermark = self.runners[kind].watermarks.get(tp.partition, float("-inf"))
            lowest[kind] = min(lowest.get(kind, float("inf")), watermark)
        return {kind: w for kind, w in lowest.items() if w > float("-inf")}

    # -- rebalance ------------------------------------------------------------------------
    async def revoked(self, revoked: set[TopicPartition]) -> None:
        self.ready.clear()
        self.metrics.keyed_ready.set(0)
        async with self._lock:  # the batches in flight finish (and are written) first
            await self.trailing.wait()
            # What changed since the last checkpoint goes with the partitions (their next
            # owner starts from it; the ingest stage's offsets may cover it), then what was
            # read of them is committed (while still theirs).
            await self._write(self._changes(), await self.context.producer())
            if self.consumer is not None:
                await self.checkpoints.commit(self.consumer, self.checkpoints.take(), "keyed")
            for tp in revoked:
                kind = self.kind_of_topic.get(tp.topic)
                if kind is not None:
                    self.stores[kind].drop({tp.partition})
            for runner in self.runners.values():
                runner.forget_partitions()

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        async with self._lock:
            started = time.monotonic()
            restored = await self._restore(assigned)
            self.handover.moved()
            for runner in self.runners.values():
                runner.forget_partitions()
            took = time.monotonic() - started
            log.info("keyed stage: %d partition(s) assigned, %d state entries restored in "
                     "%.1f s", len(assigned), restored, took)
        metrics = self.metrics
        metrics.state_restore_seconds.observe(took)
        metrics.stage_rebalances.labels("keyed").inc()
        metrics.keyed_ready.set(1)
        self.ready.set()

    async def _restore(self, assigned: set[TopicPartition]) -> int:
        tps = {TopicPartition(self.changelogs[kind], tp.partition): kind
               for tp in assigned if (kind := self.kind_of_topic.get(tp.topic))}
        for tp, kind in tps.items():  # the changelog is the truth: nothing stale survives
            self.stores[kind].drop({tp.partition})
        if not tps:
            return 0
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers,
                                    enable_auto_commit=False,
                                    **client_options(self.settings.kafka_security))
        await consumer.start()
        count = 0
        try:
            consumer.assign(list(tps))
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(list(tps))
            remaining = {tp for tp in tps if end[tp] > 0}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=500,
                                                 max_records=20_000)
                for tp, messages in batches.items():
                    store = self.stores[tps[tp]]
                    for message in messages:
                        store.restore(message.key.decode(), tp.partition, message.value)
                    count += len(messages)
                for tp in list(remaining):
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        return count

    # -- processing -----------------------------------------------------------------------
    async def run(self) -> None:
        context, settings = self.context, self.settings
        await context.registry_ready.wait()  # never judge a payment on a half-loaded registry
        now = time.time()
        for kind, runner in self.runners.items():
            topics = [settings.topic(feed) for feed in context.kinds[kind].clock]
            counts = await partition_counts(settings, topics)
            runner.expect([f"{t}:{p}" for t, n in counts.items() for p in range(n)],
                          range(settings.partitions), now)
        self.consumer = consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=context.group, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=2000,
            session_timeout_ms=int(settings.session_timeout_s * 1000),
            heartbeat_interval_ms=int(max(1.0, settings.session_timeout_s / 10) * 1000),
            **client_options(settings.kafka_security))
        consumer.subscribe(list(self.kind_of_topic), listener=_Listener(self))
        await consumer.start()
        try:
            producer = await context.producer()
            while True:
                if self.handover.stale:
                    await self.handover.refresh(consumer)
                batches = await consumer.getmany(timeout_ms=200, max_records=2000)
                # A checkpoint: the state changed since the last is written, and the offsets
                # read since then committed after it (as the ingest stage does its own).
                if not batches:
                    await self.trailing.check()
                    if self.checkpoints.uncommitted and self.checkpoints.due():
                        async with self._lock:
                            await self.trailing.then(self._finish(
                                [], self._changes(), self.checkpoints.take(), producer,
                                time.perf_counter()))
                    continue
                checkpoint = self.checkpoints.due()
                started = time.perf_counter()
                self.handover.fetched = set(batches)  # read, not yet run: no handover there
                await fetch_next()
                async with self._lock:
                    finish = await self._batch(batches, producer, started, checkpoint)
                    self.handover.fetched = set()
                    await self.trailing.then(finish)
        finally:
            self.trailing.cancel()
            await consumer.stop()

    async def _batch(self, batches: dict[TopicPartition, list[Any]], producer: Any,
                     started: float, checkpoint: bool) -> Coroutine[Any, Any, None]:
        """Run a batch through the Runners; returns its finishing step (see :meth:`_finish`),
        to run while the next batch is processed."""
        pending: list[Awaitable[Any]] = []
        alerts = self.context.publisher.outbox(producer)
        for tp, messages in batches.items():
            await self._partition(tp, messages, self._message, pending, alerts)
            self.checkpoints.read(tp, messages[-1].offset + 1)
        if not checkpoint:
            return await self._close(pending, alerts, {}, producer, started, write=False)
        return await self._close(pending, alerts, self.checkpoints.take(), producer, started)

    async def take(self, work: Mapping[TopicPartition, Sequence[Work]], producer: Any
                   ) -> tuple[set[TopicPartition], asyncio.Future[None]]:
        """The ingest stage's in-process handover: run now the work of every keyed partition
        this worker may take (:class:`Handoff` says which), as if it had been read from
        the partition, with no second trip through Kafka. Returns the partitions taken (the
        rest is the caller's to send) and what completes once their work is finished as a
        batch's is (alerts confirmed, then state written): the caller commits its own input
        offsets only then."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.ready.is_set():  # partitions moving: the ingest stage never waits on it
            done.set_result(None)
            return set(), done
        async with self._lock:
            taken = await self.handover.takeable(self.consumer, work, self.ready.is_set())
            if not taken:
                done.set_result(None)
                return taken, done
            # A tick handed over as what makes it is made now, with no wait since the
            # partitions were found takeable: it then says what was true when they had run
            # everything sent to them, no more (a batch acknowledged meanwhile may have records
            # on their way to one of them by its topic) and no less (a batch's "not caught up"
            # marks made before this are in it).
            ready: dict[TopicPartition, list[Ready]] = {
                tp: [item() if callable(item) else item for item in work[tp]] for tp in taken}
            started = time.perf_counter()
            pending: list[Awaitable[Any]] = []
            alerts = self.context.publisher.outbox(producer)
            for tp in taken:
                await self._partition(tp, ready[tp], self._work, pending, alerts)
            # Its state is written at the ingest stage's next checkpoint.
            finish = await self._close(pending, alerts, {}, producer, started, write=False)
            await self.trailing.then(_signalling(finish, done))
        return taken, done

    async def checkpoint(self, producer: Any) -> asyncio.Future[None]:
        """Write every state change not yet written (those of the work :meth:`take` ran) to
        the changelogs, after the alerts of the work that made them are confirmed. Returns
        what completes once the broker has them: the ingest stage commits the input offsets
        of that work only then. Several batches' changes to a busy key are written once."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self._lock:
            await self.trailing.then(_signalling(self._write(self._changes(), producer), done))
        return done

    def _changes(self) -> dict[str, list[tuple[str, int, bytes | None]]]:
        """Every change committed in the Runners and not yet taken, encoded (entries are
        bytes: later work cannot change this copy)."""
        for runner in self.runners.values():
            runner.flush()
        return {kind: store.take_changes() for kind, store in self.stores.items()}

    async def _write(self, changes: dict[str, list[tuple[str, int, bytes | None]]],
                     producer: Any) -> None:
        changelog = self.context.publisher.outbox(producer)
        for kind, kind_changes in changes.items():
            topic = self.changelogs[kind]
            for key, partition, value in kind_changes:
                changelog.add(topic, key.encode(), value, (topic, partition, -1), partition)
        await (await changelog.flush())

    async def _partition(self, tp: TopicPartition, items: Iterable[Any],
                         one: Callable[..., Awaitable[None]], pending: list[Awaitable[Any]],
                         alerts: Outbox) -> None:
        """Run one keyed partition's records (``one`` runs each: a message read from the
        partition, or work handed over) through its kind's Runner. The state they change is
        encoded and written at the next checkpoint."""
        kind = self.kind_of_topic[tp.topic]
        runner, store = self.runners[kind], self.stores[kind]
        store.partition = partition = tp.partition
        for item in items:
            try:
                await one(item, kind, partition, pending, alerts)
            except Exception as exc:  # a poison record: dead-lettered, the stage goes on
                log.error("keyed stage failed on a record of %s[%s]: %s", tp.topic,
                          partition, failure(exc))
                await self._poison(item, exc, pending)
                runner.commit()  # what it changed counts: the record is dealt with

    async def _close(self, pending: list[Awaitable[Any]], alerts: Outbox,
                     offsets: dict[TopicPartition, int], producer: Any,
                     started: float, write: bool = True) -> Coroutine[Any, Any, None]:
        """Send a batch's alerts; returns its finishing step. ``write``: a checkpoint, every
        change not yet written goes (the state as this batch left it: entries are bytes, the
        next batch cannot change this copy), once its alerts are out."""
        pending.append(await alerts.flush())
        changes = self._changes() if write else {}
        metrics, counts, self.counts = self.metrics, self.counts, Counter()
        for (name, feed, stage), n in counts.items():
            getattr(metrics, name).labels(feed, stage).inc(n)
        return self._finish(pending, changes, offsets, producer, started)

    async def _finish(self, pending: list[Awaitable[Any]],
                      changes: dict[str, list[tuple[str, int, bytes | None]]],
                      offsets: dict[TopicPartition, int], producer: Any,
                      started: float) -> None:
        """A batch's end: its alerts and dead letters confirmed first; only then the state
        that marks their events seen; then its input offsets committed."""
        await asyncio.gather(*pending)
        await self._write(changes, producer)
        # Partitions moved meanwhile: their next owner redoes the batch against the state
        # written above (duplicates are dropped).
        if self.consumer is not None:
            await self.checkpoints.commit(self.consumer, offsets, "keyed")
        self.metrics.batch_seconds.labels("keyed").observe(time.perf_counter() - started)

    async def _message(self, message: Any, kind: str, partition: int,
                       pending: list[Awaitable[Any]], alerts: Outbox) -> None:
        """A repartitioned record (or watermark tick) read from a keyed partition."""
        envelope = orjson.loads(message.value)
        if "tick" in envelope:
            await self._work(envelope["tick"], kind, partition, pending, alerts)
            return
        event = Event(envelope["feed"], envelope["record"], envelope["ts"],
                      envelope["topic"], envelope["partition"], envelope["offset"])
        await self._event(event, message.key.decode(), envelope["ingest_ts"], kind,
                          partition, pending, alerts)

    async def _work(self, work: Ready, kind: str, partition: int,
                    pending: list[Awaitable[Any]], alerts: Outbox) -> None:
        """An event handed over in-process, or a watermark tick."""
        if isinstance(work, Handoff):
            await self._event(work.event, work.key, work.ingest_ts, kind, partition, pending,
                              alerts)
            return
        runner, now = self.runners[kind], time.time()
        outcome = runner.tick(work, partition, now)
        await self.context.publisher.settle(outcome, None, now, pending, alerts)
        runner.commit()

    async def _event(self, event: Event, key: str, ingest_ts: float, kind: str,
                     partition: int, pending: list[Awaitable[Any]], alerts: Outbox) -> None:
        """Run one event through its kind's Runner under ``key``."""
        runner, stage = self.runners[kind], self.context.kinds[kind].stage
        feedback = event.feed in FEEDBACK_FEEDS  # alerts read back don't move time
        source = "" if feedback else f"{event.topic}:{event.partition}"
        outcome = runner.handle(event, key, partition, source=source, now=time.time())
        if outcome.duplicate:
            self.counts["duplicates_dropped", event.feed, stage] += 1
            return
        if outcome.findings or outcome.late or outcome.errors:  # most events: nothing to say
            await self.context.publisher.settle(outcome, event, ingest_ts, pending, alerts)
        runner.commit()
        self.counts["events_processed", event.feed, stage] += 1

    async def _poison(self, item: Any, exc: Exception,
                      pending: list[Awaitable[Any]]) -> None:
        """Dead-letter a record the stage failed on: as the input record it came from when
        that can be told (handed over, or a readable envelope), else as the repartitioned
        message itself."""
        if isinstance(item, Handoff):
            event = item.event
            topic, partition, offset, raw, key = (event.topic, event.partition, event.offset,
                                                  item.raw, item.raw_key)
        elif isinstance(item, Mapping):  # a tick handed over: nothing of an input to keep
            topic, partition, offset, raw, key = "", -1, -1, orjson.dumps(item), None
        else:
            topic, partition, offset, raw, key = (item.topic, item.partition, item.offset,
                                                  item.value, item.key)
            try:
                envelope = orjson.loads(item.value)
                topic, partition, offset = (envelope["topic"], envelope["partition"],
                                            envelope["offset"])
                raw = orjson.dumps(envelope["record"])
            except Exception:  # noqa: S110 - unreadable envelope: keep the message as it is
                pass
        err = RecordError("processing_error", f"Sunlight failed on this record: {exc!r}")
        letter = dead_letter(err, raw, key, topic, partition, offset,
                             self.settings.max_message_bytes)
        pending.append(await self.context.publisher.reject(
            Rejected(err.code, err.reason, letter), topic))


async def _signalling(finish: Coroutine[Any, Any, None], done: asyncio.Future[None]) -> None:
    """Run ``finish``, then complete ``done`` with its outcome."""
    try:
        await finish
    except asyncio.CancelledError:
        done.cancel()
        raise
    except BaseException as exc:
        if not done.done():
            done.set_exception(exc)
        raise
    if not done.done():
        done.set_result(None)


class _Listener(ConsumerRebalanceListener):
    def __init__(self, stage: KeyedStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.stage.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.stage.assigned(assigned)
