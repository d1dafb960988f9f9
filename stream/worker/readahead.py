"""Which input partitions the ingest stage holds back while it drains a backlog, so every
partition is read in step in *event time*, not in bytes.

Why: a keyed partition's watermark is the slowest input partition still being read
(``detectors.runner.Runner.observe``). Fetches are sized in bytes, and feeds differ in how
many records a day of event time holds: draining a backlog read evenly by bytes, the sparse
feeds ran days of event time ahead of the dense ones. Every windowed detector then kept those
days waiting for the watermark (``payer_amount_outlier`` held 100 to 280 payments per payer
where replay holds a handful), and each batch re-encoded them into the changelog: most of the
bytes written and a good part of the CPU. Kafka Streams picks the partition with the oldest
record within a task; Flink pauses splits read too far ahead (watermark alignment). This is
the second, with the consumer's ``pause``/``resume``.

The rule, re-decided after each batch, over the partitions of ticking feeds this worker reads:

- the *floor* is the least event time reached among the partitions with a backlog (unread
  records; those read to their end are not waited for);
- a partition with a backlog that has reached more than ``read_ahead_s`` past the floor is
  held (paused), and let go once the floor has come within ``read_ahead_s`` of it;
- a partition whose records are current (within ``read_ahead_s`` of the wall clock) is never
  held: a payment warning must not wait for a backfill of last year's bids;
- the partition at the floor is never held, so the backlog always drains.

Only the reading order changes: alerts are a fact about the feeds, whatever their order
(``tests/integration/test_live_equals_replay.py``), so the same alerts come, with less state
kept on the way. ``read_ahead_s`` 0 turns it off.

>>> ahead = ReadAhead(3600.0)
>>> ahead.reached("bids-0", 10 * 86400.0)     # bids read ten days in
>>> ahead.reached("payments-0", 2 * 86400.0)  # payments two
>>> sorted(ahead.hold(backlog={"bids-0", "payments-0"}, now=400 * 86400.0))
['bids-0']
>>> ahead.reached("payments-0", 10 * 86400.0)  # payments caught up with the bids
>>> sorted(ahead.hold(backlog={"bids-0", "payments-0"}, now=400 * 86400.0))
[]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)


class ReadAhead(Generic[P]):
    """Event time reached per input partition, and which partitions to hold (the module)."""

    def __init__(self, read_ahead_s: float) -> None:
        self.read_ahead_s = read_ahead_s
        #: Largest event time read from each partition.
        self.progress: dict[P, float] = {}

    def reached(self, partition: P, ts: float) -> None:
        if ts > self.progress.get(partition, float("-inf")):
            self.progress[partition] = ts

    def forget(self, partitions: Iterable[P]) -> None:
        """Partitions no longer this worker's: their new reader speaks for them."""
        for partition in partitions:
            self.progress.pop(partition, None)

    def hold(self, backlog: Iterable[P], now: float) -> set[P]:
        """The partitions to hold now, among ``backlog`` (those with unread records);
        ``now``: the wall clock (seconds since the epoch)."""
        if self.read_ahead_s <= 0:
            return set()
        reached = {p: self.progress[p] for p in backlog if p in self.progress}
        if len(reached) < 2:
            return set()
        limit = min(reached.values()) + self.read_ahead_s
        current = now - self.read_ahead_s
        return {p for p, ts in reached.items() if limit < ts < current}
