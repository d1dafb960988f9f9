"""Small Kafka helpers the stream shares, on aiokafka's public API only."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, IllegalStateError

from stream.config import Settings
from stream.security import client_options

log = logging.getLogger("sunlight.kafka")


async def partition_counts(settings: Settings, topics: Iterable[str]) -> dict[str, int]:
    """Partitions per topic (0 for a topic that does not exist yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                                **client_options(settings.kafka_security))
    await admin.start()
    try:
        # Every topic, not just these: asking for a missing one may auto-create it.
        described = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()
                     if t["error_code"] == 0}
    finally:
        await admin.close()
    return {t: described.get(t, 0) for t in topics}


def is_work(topic: str) -> bool:
    """Whether records on ``topic`` are work a stage has to do: state backups (changelogs)
    and Faust's own assignor topic are not."""
    return not topic.endswith("-changelog") and "__assignor" not in topic


async def consumer_lag(consumer: Any) -> dict[str, int]:
    """Records not yet read, per topic, over the work partitions ``consumer`` is assigned
    (an aiokafka consumer, or Faust's: both have ``assignment``, ``highwater``, ``position``)."""
    lag: dict[str, int] = {}
    if consumer is None:
        return lag
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is None or not is_work(tp.topic):
            continue
        try:
            position = await consumer.position(tp)
        except IllegalStateError:  # revoked since assignment() was read
            continue
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, highwater - (position or 0))
    return lag


async def commit_or_redo(consumer: Any, offsets: dict[Any, int]) -> bool:
    """Commit ``offsets``; False when the partitions moved to another member (or were
    revoked) meanwhile: their next owner redoes the batch, which at-least-once allows."""
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError):
        return False
    return True


class Checkpoints:
    """A stage's checkpoints (every ``interval_s`` seconds; 0: every batch): the offsets its
    batches have read since the last, committed only once the state they changed is written
    (Kafka Streams' ``commit.interval.ms``)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.uncommitted: dict[Any, int] = {}
        self._at = time.monotonic()

    def due(self) -> bool:
        """Whether this batch is a checkpoint (the clock restarts when it is)."""
        now = time.monotonic()
        if now - self._at < self.interval_s:
            return False
        self._at = now
        return True

    def read(self, tp: Any, next_offset: int) -> None:
        self.uncommitted[tp] = next_offset

    def take(self) -> dict[Any, int]:
        """The offsets read since the last checkpoint (to commit once its state is written)."""
        offsets, self.uncommitted = self.uncommitted, {}
        return offsets

    async def commit(self, consumer: Any, offsets: dict[Any, int], stage: str) -> None:
        """Commit ``offsets`` of the partitions still assigned (the others' next owner redoes
        what it read: at-least-once)."""
        assigned = consumer.assignment()
        offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
        if offsets and not await commit_or_redo(consumer, offsets):
            log.info("%s stage: commit skipped (partitions moved)", stage)


#: Turns of the event loop aiokafka's fetcher takes, once a batch is taken from it, to send
#: the fetch of the next (its task wakes, builds the request, then its send task writes it:
#: 3, counted on aiokafka 0.14 against a broker).
FETCH_TURNS = 3


async def fetch_next() -> None:
    """Let the consumer ask for the next batch now. A stage runs a batch without yielding to
    the event loop: without this, the next fetch is sent only when the batch is done, and the
    stage then waits a round trip to the broker for every batch."""
    for _ in range(FETCH_TURNS):
        await asyncio.sleep(0)


class Trailing:
    """A stage's finishing step for one batch (wait for the broker's acknowledgements of what
    the batch sent, then commit its input offsets), run while the stage reads and processes
    the next batch, so a worker is not idle for a round trip to the broker per batch.

    At most one batch trails: :meth:`then` finishes the previous one before the next starts,
    so batches finish (and commit) in the order they were read; a crash redoes at most the
    batch in flight and the one trailing (at-least-once). An error of the step (the broker
    gone, not data) is raised by the next :meth:`then` or :meth:`wait`."""

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = None

    async def then(self, finish: Coroutine[Any, Any, Any]) -> None:
        """Finish the batch trailing, then let ``finish`` trail."""
        try:
            await self.wait()
        except BaseException:
            finish.close()  # never started: no "never awaited" warning
            raise
        self.task = asyncio.ensure_future(finish)

    async def wait(self) -> None:
        """Finish the batch trailing, if any (before partitions move, or at the end)."""
        task, self.task = self.task, None
        if task is not None:
            await task

    def done(self) -> bool:
        return self.task is None or self.task.done()

    async def check(self) -> None:
        """While the stage is idle: clear the trailing batch once it has finished, raising
        what its step raised (the broker gone); never waits for it."""
        if self.task is not None and self.task.done():
            await self.wait()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
