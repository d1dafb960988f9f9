"""The Runner's bookkeeping: duplicates, the dedupe horizon, batched writes, restarts."""

from __future__ import annotations

from typing import Any

import orjson

from detectors.base import Detector, Event, Finding
from detectors.drug_purchase_spike import DrugPurchaseSpike
from detectors.registry import Registry
from detectors.runner import (
    SEEN_CHUNK_PREFIX,
    SEEN_CHUNKS,
    SEEN_INLINE,
    Runner,
    seen_chunk_key,
    watermark_key,
)

DAY = 86400.0
T0 = 1_778_000_000.0  # 2026-05-05


def purchase(n: int, ts: float, quantity: float = 100.0) -> Event:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(ts, UTC).isoformat()
    record = {"event_id": f"p{n}", "event_time": when, "region": "330784",
              "kind": "purchase", "hospital_id": "H1", "drug_code": "D1",
              "quantity": quantity}
    return Event("prescriptions", record, ts)


def runner(**options: Any) -> Runner:
    return Runner({"prescriptions": [DrugPurchaseSpike()]}, {}, Registry(), **options)


def feed(r: Runner, events: list[Event]) -> list[bool]:
    """Each event through the runner as the stage does; whether it was a duplicate."""
    duplicates = []
    for event in events:
        outcome = r.handle(event, "H1|D1")
        duplicates.append(outcome.duplicate)
        r.commit()
    return duplicates


def test_a_redelivered_event_counts_once() -> None:
    r = runner()
    assert feed(r, [purchase(1, T0), purchase(2, T0 + 60), purchase(1, T0)]) == [
        False, False, True]


def test_a_late_record_is_remembered_from_when_it_came_not_from_its_event_time() -> None:
    # A backfill three weeks late: its redelivery an hour later is still a duplicate, though
    # its event time lies far beyond the seven-day horizon behind the watermark.
    r = runner(dedupe_horizon_s=7 * DAY)
    now = T0 + 30 * DAY
    r.handle(purchase(1, now), "another key")  # other keys' records brought event time here
    r.commit()
    late = purchase(9, T0 + 2 * DAY)
    assert feed(r, [late, purchase(2, now + 3600), late]) == [False, False, True]


def test_ids_are_forgotten_after_the_horizon_and_beyond_the_cap() -> None:
    r = runner(dedupe_horizon_s=1 * DAY, dedupe_max_ids=3)
    feed(r, [purchase(n, T0 + n * 60) for n in range(5)])
    seen = orjson.loads(r.state["H1|D1"])["seen"]
    assert list(seen) == ["prescriptions|p2", "prescriptions|p3", "prescriptions|p4"]
    feed(r, [purchase(10, T0 + 3 * DAY)])  # the watermark moves two days on
    assert list(orjson.loads(r.state["H1|D1"])["seen"]) == ["prescriptions|p10"]


def seen_ids(r: Runner, key: str = "H1|D1") -> list[str]:
    """The dedupe ids of ``key`` as written to the state, oldest first: in its entry, or in
    the chunks its entry lists (the last "sn" of theirs)."""
    entry = orjson.loads(r.state[key])
    if "seen" in entry:
        return list(entry["seen"])
    ids = [i for number, _ in entry["sc"]
           for i in orjson.loads(r.state[seen_chunk_key(key, number)])]
    return ids[len(ids) - entry["sn"]:]


def chunk_keys(r: Runner) -> set[str]:
    return {key for key in r.state if key.startswith(SEEN_CHUNK_PREFIX)}


def is_duplicate_after_restart(state: dict[str, Any], event: Event, **options: Any) -> bool:
    """Whether a Runner started on a copy of ``state`` takes ``event`` for a duplicate."""
    restarted = Runner({"prescriptions": [DrugPurchaseSpike()]}, dict(state), Registry(),
                       **options)
    return restarted.handle(event, "H1|D1").duplicate


def test_a_busy_keys_write_carries_only_the_ids_seen_since_the_last() -> None:
    r = runner(batch_writes=True)
    feed(r, [purchase(n, T0 + n * 60) for n in range(200)])
    r.flush()
    assert b"prescriptions|p" not in r.state["H1|D1"]  # the ids are apart from the state
    assert seen_ids(r) == [f"prescriptions|p{n}" for n in range(200)]
    before = dict(r.state)
    feed(r, [purchase(n, T0 + n * 60) for n in range(200, 205)])
    r.flush()
    [new] = chunk_keys(r) - before.keys()
    assert list(orjson.loads(r.state[new])) == [f"prescriptions|p{n}" for n in range(200, 205)]
    assert {key for key in before if r.state.get(key) != before[key]} == {"H1|D1", watermark_key(0)}
    assert seen_ids(r) == [f"prescriptions|p{n}" for n in range(205)]


def test_a_few_ids_stay_in_the_keys_entry() -> None:
    r = runner(batch_writes=True)
    feed(r, [purchase(n, T0 + n * 60) for n in range(SEEN_INLINE)])
    r.flush()
    assert len(orjson.loads(r.state["H1|D1"])["seen"]) == SEEN_INLINE
    assert chunk_keys(r) == set()


def test_ids_in_chunks_are_known_after_a_restart_exactly_as_before() -> None:
    # The cap forgets ids from chunks still written (their later ids are kept): after a
    # restart the key knows the same last 100 ids, no more.
    r = runner(batch_writes=True, dedupe_max_ids=100)
    for start in range(0, 150, 10):
        feed(r, [purchase(n, T0 + n * 60) for n in range(start, start + 10)])
        r.flush()
    assert seen_ids(r) == [f"prescriptions|p{n}" for n in range(50, 150)]
    assert is_duplicate_after_restart(r.state, purchase(50, T0 + 50 * 60), dedupe_max_ids=100)
    assert is_duplicate_after_restart(r.state, purchase(149, T0 + 149 * 60),
                                      dedupe_max_ids=100)
    assert not is_duplicate_after_restart(r.state, purchase(49, T0 + 49 * 60),
                                          dedupe_max_ids=100)


def test_a_keys_chunks_stay_few_and_forgotten_ones_are_deleted() -> None:
    r = runner(batch_writes=True, dedupe_max_ids=100)
    for n in range(500):  # one id per write: a chunk each
        feed(r, [purchase(n, T0 + n * 60)])
        r.flush()
        entry = orjson.loads(r.state["H1|D1"])
        listed = {seen_chunk_key("H1|D1", number) for number, _ in entry.get("sc", ())}
        assert chunk_keys(r) == listed
        assert len(listed) <= SEEN_CHUNKS
    assert seen_ids(r) == [f"prescriptions|p{n}" for n in range(400, 500)]


def test_ids_written_in_the_entry_by_earlier_versions_are_read_and_then_chunked() -> None:
    r = runner(batch_writes=True)
    ids = {f"prescriptions|p{n}": T0 + n * 60 for n in range(100)}
    r.state["H1|D1"] = orjson.dumps({"p": 0, "s": {}, "seen": ids})
    assert feed(r, [purchase(7, T0 + 7 * 60), purchase(100, T0 + 100 * 60)]) == [True, False]
    r.flush()
    assert "seen" not in orjson.loads(r.state["H1|D1"])
    assert seen_ids(r) == [*ids, "prescriptions|p100"]
    assert is_duplicate_after_restart(r.state, purchase(7, T0 + 7 * 60))


def test_batched_writes_reach_the_state_once_per_key_at_flush() -> None:
    r = runner(batch_writes=True)
    feed(r, [purchase(n, T0 + n * 60) for n in range(10)])
    assert r.state == {}  # nothing written yet: the stage writes after the alerts are out
    assert r.flush() == 2  # the key's entry, and the partition's watermark
    assert "H1|D1" in r.state
    assert orjson.loads(r.state[watermark_key(0)])["wm"] == T0 + 9 * 60


def test_state_survives_a_restart_from_its_written_entries() -> None:
    events = [purchase(n, T0 + n * 4 * 3600, 100.0 + n % 7) for n in range(30)]  # 5 days
    first = runner()
    feed(first, events[:20])
    restarted = Runner({"prescriptions": [DrugPurchaseSpike()]}, dict(first.state), Registry())
    uninterrupted = runner()
    feed(uninterrupted, events[:20])
    # the same entries after the rest of the events, and the first half stays deduplicated
    assert feed(restarted, events) == [True] * 20 + [False] * 10
    feed(uninterrupted, events[20:])
    assert restarted.state == uninterrupted.state


def test_a_late_record_read_while_a_source_holds_event_time_back_is_remembered() -> None:
    # At start, a source that has not delivered yet holds the watermark back; a backfill read
    # then must still be recognised when a crash redelivers it after event time has moved on.
    r = runner(dedupe_horizon_s=7 * DAY)
    r.expect(["a", "b"], [0], now=0.0)
    now = T0 + 30 * DAY
    late = purchase(9, T0 + 2 * DAY)
    for event in (purchase(1, now), late):
        r.handle(event, "H1|D1", source="a", now=1.0)
        r.commit()
    assert r.watermark == float("-inf")  # "b" has said nothing yet
    r.handle(purchase(2, now + 3600), "H1|D1", source="b", now=2.0)
    r.commit()
    assert r.handle(late, "H1|D1", source="a", now=3.0).duplicate


def test_after_a_restart_ids_are_not_forgotten_because_the_clock_starts_low() -> None:
    # The restarted runner first meets a backfill record: its stamp must not fall behind the
    # key's earlier stamps, or the next record would prune ids a redelivery still needs.
    first = runner(dedupe_horizon_s=7 * DAY)
    now = T0 + 30 * DAY
    first.handle(purchase(1, now), "another key")
    first.commit()
    restarted = Runner({"prescriptions": [DrugPurchaseSpike()]}, dict(first.state), Registry(),
                       dedupe_horizon_s=7 * DAY)
    late = purchase(9, T0 + 2 * DAY)  # the first record of its key
    assert feed(restarted, [late, purchase(2, now + 3600), late]) == [False, False, True]


def test_a_source_with_a_backlog_holds_event_time_even_after_the_start_grace() -> None:
    # A worker paused (or a feed produced) for longer than the idle timeout: on resuming, a
    # partition that has records to read but has not delivered any yet still holds event time.
    r = runner()
    r.expect(["a", "b"], [0], now=0.0)
    r.tick({"a": [T0 + DAY, False], "b": [None, False]}, 0, now=100.0)  # both lagging
    r.handle(purchase(1, T0 + DAY), "H1|D1", source="a", now=100.5)
    assert r.watermark == float("-inf")  # "b" has a backlog: it holds
    r.tick({"a": [T0 + DAY, True], "b": [None, True]}, 0, now=101.0)  # "b" turns out empty
    assert r.watermark == T0 + DAY


def test_a_quiet_source_behind_a_busy_one_bounds_event_time() -> None:
    # "a" went quiet at day 1 (its producer paused, or the broker was away) while "b" is read
    # on to day 5: a's next records follow its own day 1, so the watermark waits for them.
    r = runner()
    r.expect(["a", "b"], [0], now=0.0)
    r.tick({"a": [T0 + DAY, True], "b": [T0 + 5 * DAY, False]}, 0, now=10.0)
    assert r.watermark == T0 + DAY
    r.tick({"a": [T0 + 3 * DAY, False], "b": [T0 + 5 * DAY, False]}, 0, now=12.0)
    assert r.watermark == T0 + 3 * DAY  # a's records came: it moves with them
    r.tick({"a": [T0 + 3 * DAY, True], "b": [T0 + 5 * DAY, True]}, 0, now=14.0)
    assert r.watermark == T0 + 5 * DAY  # nothing busy: every input has passed day 5


def test_a_quiet_source_that_stays_still_stops_holding_event_time() -> None:
    # A partition nobody writes to any more must not stop time for a busy one for ever.
    r = runner(idle_after_s=60.0)
    r.expect(["a", "b"], [0], now=0.0)
    r.tick({"a": [T0 + DAY, True], "b": [T0 + 2 * DAY, False]}, 0, now=10.0)
    assert r.watermark == T0 + DAY
    r.tick({"a": [T0 + DAY, True], "b": [T0 + 4 * DAY, False]}, 0, now=80.0)
    assert r.watermark == T0 + 4 * DAY  # still for 70 s: "a" no longer holds


class _Expiring(Detector):
    """Keeps the newest (or, told so, the oldest) event time per key and is due a month after
    it: its due time moves with every event, as a retention expiry does."""

    name = "expiring"
    feeds = frozenset({"prescriptions"})
    key_kind = "hospital"
    stateful = True

    def key(self, event: Event) -> str | None:
        return f"{event.record['hospital_id']}|{event.record['drug_code']}"

    def process(self, event: Event, key: str, state: Any, registry: Registry
                ) -> tuple[Any, list[Finding]]:
        return {"at": event.ts if state is None else max(event.ts, state["at"])}, []

    def due(self, state: Any) -> float | None:
        return state["at"] + 30 * DAY

    def advance(self, key: str, state: Any, watermark: float, registry: Registry
                ) -> tuple[Any, list[Finding]]:
        return None, [self.finding(subject=key, severity="yellow", route="regulator",
                                   sector="health", action="review", score=1.0,
                                   summary="expired", time="", basis=(key,), evidence={})]


def _queued(r: Runner) -> int:
    return sum(len(heap) for heap in (r._heaps or {}).values())  # the Runner's own queue


def test_a_busy_key_whose_due_time_moves_on_keeps_one_place_in_the_queue() -> None:
    """A busy key's due time moves later with each event: the queue of windows to judge
    keeps one entry for it, not one per event until the watermark passes them (bounded by
    the keys, not the events), and the key is judged once, when its last due time comes."""
    r = Runner({"prescriptions": [_Expiring()]}, {}, Registry())
    feed(r, [purchase(n, T0 + n) for n in range(30_000)])
    assert _queued(r) == 1
    # Past its first due time, not its last: not judged yet, and still one entry.
    assert r.handle(purchase(-1, T0 + 30 * DAY + 100), "H2").findings == []
    assert _queued(r) == 1
    outcome = r.handle(purchase(-2, T0 + 31 * DAY), "H2")  # a month after the last
    assert [f.subject for f in outcome.findings] == ["H1|D1"]


def test_a_due_time_moved_earlier_is_judged_then_and_once() -> None:
    """A due time that moves earlier (state rebuilt, or a detector that keeps the oldest) is
    judged at the earlier time; the later entry left in the queue judges nothing again."""
    r = Runner({"prescriptions": [_Expiring()]}, {}, Registry())
    feed(r, [purchase(1, T0 + 5 * DAY)])
    r.put_state("expiring", "H1|D1", {"at": T0})  # due a month after T0 now, not after T0 + 5d
    r.commit()
    assert [f.subject for f in r.handle(purchase(2, T0 + 30 * DAY + 1), "H2").findings] \
        == ["H1|D1"]
    r.commit()
    assert r.handle(purchase(3, T0 + 40 * DAY), "H3").findings == []  # not judged again
