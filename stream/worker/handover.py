"""Which keyed partitions this worker's ingest stage may hand events to in-process, skipping
the second trip through Kafka (the repartition topic): issue 17's largest cost left.

The keyed stage runs a keyed partition's events from one input partition in the order they
were read: the watermark, lateness and dedupe assume it. An event handed over runs at once,
so it may skip the topic only when nothing that reached the topic earlier for that keyed
partition is still unread there. A keyed partition may be taken when all of these hold:

- the keyed stage owns it and has restored its state (ready);
- nothing read from it waits for its run (a batch fetched, not yet processed);
- none of this worker's sends to it (records, ticks) is unconfirmed;
- the keyed stage has read it up to its *barrier*: past every message this worker sent to it
  (the confirmed offsets), and past its end as it was when partitions last moved (of the keyed
  stage, or of the ingest stage: an input partition taken over from another worker, or from
  this worker's previous life, may have records of its own in the topic, ahead of the ones
  read again now).

Otherwise the event goes through the topic, as it always could: the outcome is the same
(``tests/integration/test_live_equals_replay.py`` and the order and fault tests run both
ways), only faster when taken. With one worker every partition is taken once the stage
has caught up; with several, the ones the same worker owns in both stages.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

log = logging.getLogger("sunlight.keyed")


class Handover:
    """The barrier and the unconfirmed sends of each keyed partition (see the module)."""

    def __init__(self) -> None:
        #: Offsets the keyed stage must have read past before a partition can be taken.
        self.barrier: dict[TopicPartition, int] = {}
        #: Messages (batches) this worker sent to a partition and the broker has not
        #: confirmed yet.
        self.unconfirmed: Counter[TopicPartition] = Counter()
        #: Partitions of the batch the keyed stage read and has not run yet.
        self.fetched: set[TopicPartition] = set()
        #: Barriers to be re-read from the partitions' ends: at start, after partitions
        #: moved, and after a send whose offset is unknown. Nothing is taken meanwhile.
        self.stale = True

    def moved(self) -> None:
        """Partitions were assigned to the keyed or the ingest stage."""
        self.stale = True

    def sent(self, tp: TopicPartition) -> None:
        self.unconfirmed[tp] += 1

    def confirmed(self, tp: TopicPartition, next_offset: int | None) -> None:
        """A send to ``tp`` is over: ``next_offset`` is past its last message (None: unknown,
        it failed or went one message at a time)."""
        left = self.unconfirmed[tp] - 1
        if left > 0:
            self.unconfirmed[tp] = left
        else:
            del self.unconfirmed[tp]
        if next_offset is None:
            self.stale = True
        else:
            self.barrier[tp] = max(next_offset, self.barrier.get(tp, next_offset))

    def track(self, tp: TopicPartition, future: asyncio.Future[Any]) -> None:
        """A single message sent to ``tp`` (its future resolves to the broker's metadata)."""
        self.sent(tp)

        def done(sent: asyncio.Future[Any]) -> None:
            failed = sent.cancelled() or sent.exception() is not None
            metadata = None if failed else sent.result()
            self.confirmed(tp, None if metadata is None else metadata.offset + 1)

        future.add_done_callback(done)

    async def refresh(self, consumer: Any) -> None:
        """Raise the barriers of the keyed stage's partitions to their ends now."""
        self.stale = False  # before the wait: partitions moving meanwhile set it again
        assigned = list(consumer.assignment())
        try:
            ends = await consumer.end_offsets(assigned) if assigned else {}
        except KafkaError as exc:  # the broker away: nothing is taken until it answers
            log.info("keyed stage: partition ends not read (%s); records go by the topic",
                     type(exc).__name__)
            self.stale = True
            return
        for tp, end in ends.items():
            self.barrier[tp] = max(end, self.barrier.get(tp, end))

    async def takeable(self, consumer: Any, partitions: Iterable[TopicPartition],
                       ready: bool) -> set[TopicPartition]:
        """The ``partitions`` that may be taken now (call under the keyed stage's lock)."""
        if consumer is None or not ready or self.stale:
            return set()
        assigned = consumer.assignment()
        taken: set[TopicPartition] = set()
        for tp in partitions:
            barrier = self.barrier.get(tp)
            if (barrier is None or tp not in assigned or tp in self.fetched
                    or tp in self.unconfirmed):
                continue
            try:
                if await consumer.position(tp) >= barrier:
                    taken.add(tp)
            except IllegalStateError:  # revoked meanwhile
                continue
        return taken
