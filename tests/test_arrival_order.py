"""Every detector in the catalogue, checked for what its alerts must not depend on: the order
in which the feeds arrive. As river runs one suite of checks on every estimator, this runs on
every detector of ``detectors.CATALOGUE`` with the simulator's scenarios for it: a new
detector is checked without a line of test code (and fails here until it has a scenario).

The reference is the replay in event-time order (``stream.backtest.replay``). Against it, over the
same Runner objects a live worker uses (``stream.backtest.arrival``): 50 random interleavings that
keep each topic partition's order (some partitions lagging, alerts coming back late), every order
of the four feeds one after another, and everything as one backlog. Each must give exactly the
reference's alerts, ids and content."""

from __future__ import annotations

import pytest

from detectors import CATALOGUE
from stream.backtest.arrival import ArrivalReplay, orders, partitioned
from tests.worlds import DETECTORS, alerts_by_id, difference, in_event_time_order, world


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_alerts_do_not_depend_on_arrival_order(name: str) -> None:
    registry, records = world(name, seed=3, events=300)  # enough for cases: every order runs
    reference = alerts_by_id(in_event_time_order(registry, records))
    assert any(a["data"]["detector"] == name for a in reference.values()), (
        f"the scenarios of {name} gave no alert of it: nothing to compare")
    sources = partitioned(records)
    for i, (label, phases) in enumerate(orders(sources, seed=len(name))):
        delay = 300 * (i % 2)  # every other order: alerts read back up to 300 records late
        replay = ArrivalReplay(DETECTORS, registry, sources, feedback_delay=delay, seed=i)
        got = replay.run(phases)
        assert got == reference, f"{label}, feedback delay {delay}: " + difference(
            got, reference)
