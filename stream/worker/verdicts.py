"""The verdicts stage: one entry per alert id (the alert, then its latest disposition) in a
Faust table, from the alerts read back and the ``alert-dispositions`` feed, repartitioned by
alert id (``<app>-keyed-alert``); and the verdict and precision gauges computed from it.

A disposition for an alert id Sunlight never published is dead-lettered ``unknown_alert``; a
record the stage fails on is dead-lettered ``processing_error`` and the stage goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
from faust.exceptions import PartitionsMismatch

from detectors.verdicts import VERDICTS, apply_verdict, index_alert, precision, tally
from schemas import RecordError
from stream.ingest import Rejected, dead_letter
from stream.privacy import failure
from stream.worker.metrics import Metrics

log = logging.getLogger("sunlight")


@dataclass(frozen=True)
class VerdictsContext:
    """What the verdicts stage uses of its worker, and nothing else."""

    #: alert id -> its entry (the worker's Faust table, backed by its changelog).
    table: MutableMapping[str, Any]
    metrics: Metrics
    #: Dead letters carry at most this many bytes of the record.
    max_message_bytes: int
    #: Send a dead letter; returns the broker's acknowledgement.
    reject: Callable[[Rejected, str], Awaitable[Awaitable[None]]]


class VerdictsStage:
    def __init__(self, context: VerdictsContext) -> None:
        self.context = context

    async def agent(self, stream: Any) -> None:
        """The Faust agent over the repartitioned alerts and dispositions."""
        context = self.context
        async for kafka_event in stream.events():
            message = kafka_event.message
            try:
                for _ in range(60):
                    try:
                        await self.verdict(message)
                        break
                    except PartitionsMismatch:
                        # The table's changelog is not in Faust's metadata yet (just
                        # created): the broker's state, not the record's; wait for it.
                        await asyncio.sleep(1.0)
                else:
                    await self.verdict(message)
            except Exception as exc:  # poison: dead-lettered, the agent goes on
                log.error("verdicts failed on %s[%s]@%s: %s", message.topic,
                          message.partition, message.offset, failure(exc))
                err = RecordError("processing_error",
                                  f"Sunlight failed on this record: {exc!r}")
                letter = dead_letter(err, message.value, message.key, message.topic,
                                     message.partition, message.offset,
                                     context.max_message_bytes)
                await (await context.reject(Rejected(err.code, err.reason, letter),
                                            message.topic))

    async def verdict(self, message: Any) -> None:
        context, table = self.context, self.context.table
        envelope = orjson.loads(message.value)
        record, alert_id = envelope["record"], message.key.decode()
        state = table.get(alert_id)
        if envelope["feed"] == "alerts":
            if state is None:
                table[alert_id] = index_alert(None, record)
            return
        if state is None:
            err = RecordError("unknown_alert", "disposition for an alert id Sunlight "
                              f"never published: {alert_id!r}", "alert_id")
            letter = dead_letter(err, orjson.dumps(record), alert_id.encode(),
                                 envelope["topic"], envelope["partition"],
                                 envelope["offset"], context.max_message_bytes)
            await (await context.reject(Rejected(err.code, err.reason, letter),
                                        envelope["topic"]))
            return
        new, _ = apply_verdict(state, record)
        if new != state:
            table[alert_id] = new
            context.metrics.dispositions.labels(new["detector"], new["verdict"]).inc()

    def export(self) -> None:
        """The verdict counts per detector and region, and each detector's precision."""
        metrics = self.context.metrics
        by_detector: dict[str, dict[str, int]] = {}
        for (detector, region), counts in tally(self.context.table.values()).items():
            row = by_detector.setdefault(detector, dict.fromkeys(VERDICTS, 0))
            for verdict, n in counts.items():
                metrics.alert_verdicts.labels(detector, region, verdict).set(n)
                row[verdict] += n
        for detector, counts in by_detector.items():
            value = precision(counts)
            if value is not None:
                metrics.precision.labels(detector).set(value)
