"""Slow consumer: a burst far above the rate a worker sustains is absorbed, with no loss.

A worker is running (registry loaded); a burst of generated events with known cases arrives all
at once. One Python producer is about as fast as one worker now, so to make the burst arrive far
faster than it can be consumed, on any machine, the worker is paused (SIGSTOP) while the burst is
produced and resumed (SIGCONT) after: the whole burst is then its backlog. The burst is large
enough that working it off outlasts a few of the lag gauge's 5 s updates.

Read off the worker's own /metrics (``sunlight_consumer_lag_messages``, summed over every topic
the worker reads: the input feeds and the internal keyed topics, wherever the backlog queues),
the lag rises well above a clear threshold, then drains to 0 and stays there; and every alert
the replay command finds for the same input is on the alerts topic (none lost, none different,
duplicates identical)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from tests.integration.harness import WorkerProcess, World
from tests.integration.test_faults import check, detectors_file, generated, load_registry

pytestmark = pytest.mark.integration

#: Events in the burst (about 2,000 expected alerts): working it off must outlast the lag
#: gauge's 5 s updates, with the lag still above THRESHOLD at the first, even on a fast machine
#: (a worker drained 100,000 between two of them at 21,000 events/s: the gauge never moved).
#: This one holds up to 36,000 events/s.
BURST = 200_000
INPUTS = ("bids", "attendance", "prescriptions", "payments")
#: Lag (messages, summed over the worker's topics) that the burst must clearly exceed.
THRESHOLD = BURST // 10
#: Drained: every lag gauge 0 for this long (the gauge is set every 5 s: two updates).
SETTLE_S = 6.0
DRAIN_TIMEOUT_S = 120.0


def lags(world: World, worker: WorkerProcess) -> dict[str, float]:
    """``sunlight_consumer_lag_messages`` per logical topic."""
    out = {}
    for name, value in worker.metrics().items():
        if name.startswith("sunlight_consumer_lag_messages{"):
            topic = name.split('topic="', 1)[1].split('"', 1)[0]
            out[topic.removeprefix(world.prefix)] = value
    return out


def test_burst_lag_rises_then_drains_without_loss(bootstrap: str, tmp_path: Path) -> None:
    # Five weeks of event time: alerts read back come behind the whole burst queued on their
    # keyed partition, and must still be within the detectors' retention (a burst spanning
    # years would find them late: counted, see the issue 13 note).
    registry, events, expected = generated(seed=53, detectors=detectors_file(tmp_path),
                                           events=BURST, step_s=30.0)
    world = World(bootstrap, tmp_path, partitions={"payments": 3, "attendance": 2})
    try:
        worker = world.start_worker()
        worker.wait_ready()
        load_registry(world, registry)
        burst = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=50,
                              batch_size=1 << 20)
        worker.process.send_signal(signal.SIGSTOP)
        try:
            for record in events:
                burst.send(world.topic(record.feed), key=record.key, value=record.value)
            burst.flush()
        finally:
            worker.process.send_signal(signal.SIGCONT)
            burst.close()
        resumed = time.monotonic()
        samples: list[tuple[float, float, float]] = []  # (t, lag of all topics, of inputs)
        zero_since = None
        while True:
            now = time.monotonic()
            lag = lags(world, worker)
            samples.append((now - resumed, sum(lag.values()),
                            sum(lag.get(t, 0.0) for t in INPUTS)))
            peak = max(s[1] for s in samples)
            # Drained: the backlog was seen in the lag, and now every gauge (input feeds,
            # internal keyed topics, alerts read back) is 0, over two updates.
            if peak > 0 and lag and not any(lag.values()):
                zero_since = now if zero_since is None else zero_since
                if now - zero_since >= SETTLE_S:
                    break
            else:
                zero_since = None
            trace = [(round(t), int(v)) for t, v, _ in samples]
            assert now - resumed < DRAIN_TIMEOUT_S, (
                f"lag did not drain within {DRAIN_TIMEOUT_S:.0f} s; (t, lag): {trace}; "
                f"last {lag}\n{worker.tail()}")
            assert worker.process.poll() is None, worker.tail()
            time.sleep(0.5)
        trace = [(round(t), int(v)) for t, v, _ in samples]
        assert peak >= THRESHOLD, f"lag peaked at {peak:.0f}, not above {THRESHOLD}: {trace}"
        assert set(INPUTS) <= lag.keys()  # the gauge covers every input feed
        check(world.read("alerts", expect=len(expected), timeout=60), expected)
        assert worker.process.poll() is None, worker.tail()
        print(f"burst of {BURST:,}: lag peaked at {peak:,.0f} (input feeds "
              f"{max(s[2] for s in samples):,.0f}); all lag 0 {zero_since - resumed:.0f} s "
              f"after resume; (t, lag): {trace}")
    finally:
        world.close()
