"""How Sunlight's long-running processes (the worker, the replay) use Python's garbage
collector.

Both hold a large heap that lives for the whole run: the registry (100,000 people in the
benchmark, a million in production), the decoded state of busy keys, the modules. With
CPython's default thresholds a young collection runs every 700 allocations and a full one
each time the old generation has grown by a quarter, and each full pass walks that whole heap;
a batch in flight (thousands of records, their events and handovers, alive until the batch
ends) pushes enough objects there to trigger it again and again. Measured on the worker with
every detector on draining a 200k backlog (``bench/pipeline.py --parts throughput``, gc
callbacks timing each pass): the collector took 5.5 s of the 28 s drain (20 full passes of
~0.2 s); with a young collection every 20,000 allocations and the freeze below, 1.1 s.

Most young objects a worker keeps are detector states, each event's new state replacing the
key's last: alive at the next young collection, they are walked there, then again in the middle
generation's. Since the same drain (10 s) was timed again: 49 young passes and 3 middle ones
took 0.76 and 0.88 s at 20,000 (2 runs); 2-3 young passes and no middle one 0.21, 0.32 and
0.48 s at 200,000 (3 runs: a batch's records are freed before a pass sees them), with the
same peak RSS.
"""

from __future__ import annotations

import gc

#: A young collection every 200,000 allocations (tens of batches' worth of records, not one
#: record's), the middle generation every 5 of them, the old every 10 of those.
THRESHOLDS = (200_000, 5, 10)


def tune() -> None:
    """Set the thresholds: at the start of a worker or a replay."""
    gc.set_threshold(*THRESHOLDS)


def freeze() -> None:
    """After a bulk load (the registry): everything alive now moves to the permanent
    generation, which no collection walks. What dies later is still freed (reference
    counting); only reference cycles among these objects would be kept, and the registry's
    entries (strings, tuples, dicts of them) form none."""
    gc.freeze()
