"""Runs the detectors of one key kind over a stream of events: duplicate input, per-key state,
event-time watermark, late records and windows that fall due.

Pure and shared: the Faust keyed agent (live) and the replay command (offline) both drive a
Runner, so both decide duplicates, lateness and window judgements alike. ``state`` is any
mutable mapping: a Faust table live, a dict offline.

>>> from detectors.registry import Registry
>>> from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee
>>> runner = Runner({"payments": [IneligibleSubsidyPayee()]}, {}, Registry())
>>> pay = {"event_id": "p1", "event_time": "2026-05-14T09:30:00+08:00", "region": "330784",
...        "status": "requested", "payer_id": "VC1", "payee_id": "P1", "payee_kind": "person",
...        "purpose": "work_subsidy", "amount": 10}
>>> event = Event("payments", pay, 1.0)
>>> runner.route(event)
('P1',)
>>> runner.handle(event, "P1").duplicate
False
>>> runner.commit()  # findings published: the event counts as seen (and the watermark moved)
2
>>> runner.handle(event, "P1").duplicate
True
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson

from detectors.base import Detector, Event, Finding
from detectors.registry import Registry


@dataclass
class Outcome:
    duplicate: bool = False
    findings: list[Finding] = field(default_factory=list)
    #: Names of detectors for which the event came after its window was judged.
    late: list[str] = field(default_factory=list)
    #: (detector name, exception) for detectors that raised on this event.
    errors: list[tuple[str, Exception]] = field(default_factory=list)


@dataclass(slots=True)
class Source:
    """What a keyed partition knows of one input source (a topic partition)."""

    #: The largest event time the source has delivered (-inf: nothing yet).
    progress: float = float("-inf")
    #: Whether it has said it has nothing more to read right now.
    caught_up: bool = False
    #: Wall clock when it was first expected, when last heard of (None: never), and when
    #: its progress last moved (live only).
    expected_at: float = 0.0
    heard: float | None = None
    moved_at: float = 0.0

    def busy(self, now: float | None, idle_after_s: float) -> bool:
        """Whether records are still coming from this source (see :meth:`Runner.observe`)."""
        if now is None:
            return self.progress == float("-inf") or not self.caught_up
        if self.progress == float("-inf") and now - self.expected_at <= idle_after_s:
            return True  # not heard from yet, or empty so far: waited for a while at start
        # Records still to read (a tick said so, recently), delivered here or not yet: a
        # backlog read after a pause must not find its windows closed.
        return (not self.caught_up and self.heard is not None
                and now - self.heard <= idle_after_s)

    def holds(self, now: float | None, idle_after_s: float) -> bool:
        """Whether this source bounds the watermark while some source is busy: a busy one,
        and a quiet one that delivered lately: its next records follow its own progress, not
        the progress of a partition read faster (live, until it has been still for
        ``idle_after_s``: a partition nobody writes to must not stop time)."""
        if self.busy(now, idle_after_s):
            return True
        if self.progress == float("-inf"):
            return False
        return now is None or (self.heard is not None and now - self.heard <= idle_after_s
                               and now - self.moved_at <= idle_after_s)


#: Feeds that carry Sunlight's own alerts back in: their times come from events already
#: counted, so they never move or hold a watermark.
FEEDBACK_FEEDS = frozenset({"alerts"})


def clock_feeds(kinds: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """kind -> the input feeds whose event time is its clock: those it reads, or, for a kind
    that reads only alerts (escalation), every feed some kind reads."""
    every = sorted({feed for by_feed in kinds.values() for feed in by_feed} - FEEDBACK_FEEDS)
    return {kind: [feed for feed in every if feed in by_feed] or every
            for kind, by_feed in kinds.items()}


def watermark_key(partition: int) -> str:
    """The state key a partition's watermark is kept under (no input id starts with NUL)."""
    return f"\x00watermark:{partition}"


#: A key's dedupe ids are kept in its entry while they are at most this many. Beyond, they are
#: written apart, in chunks (:func:`seen_chunk_key`): a busy key's entry, written at every
#: checkpoint, then carries the ids seen since the last one, not the up to ``dedupe_max_ids``
#: it holds (a busy payer's 1,000 ids were 45 KB of each write).
SEEN_INLINE = 64
#: A key's ids in more chunks than this are written again as one (its entry lists them).
SEEN_CHUNKS = 32
SEEN_CHUNK_PREFIX = "\x00seen:"


def seen_chunk_key(key: str, number: int) -> str:
    """The state key of chunk ``number`` of ``key``'s dedupe ids (internal keys start with NUL;
    the key's partition is its owner's)."""
    return f"{SEEN_CHUNK_PREFIX}{number}:{key}"


def by_kind(detectors: Iterable[Detector]) -> dict[str, dict[str, list[Detector]]]:
    """Detectors grouped by key kind, then by input feed: one Runner (and, live, one internal
    topic and state table) per kind."""
    kinds: dict[str, dict[str, list[Detector]]] = {}
    for detector in detectors:
        for feed in sorted(detector.feeds):
            kinds.setdefault(detector.key_kind, {}).setdefault(feed, []).append(detector)
    return kinds


def _forget(state: MutableMapping[str, Any], key: str) -> None:
    """Delete ``key`` from ``state`` if it is there (live: a tombstone on the changelog)."""
    if state.get(key) is not None:
        del state[key]


class Runner:
    def __init__(
        self,
        detectors_by_feed: Mapping[str, list[Detector]],
        state: MutableMapping[str, Any],
        registry: Registry,
        idle_after_s: float = 60.0,
        dedupe_horizon_s: float = float("inf"),
        dedupe_max_ids: int = 1000,
        cache_size: int = 20_000,
        batch_writes: bool = False,
    ) -> None:
        self.by_feed = detectors_by_feed
        self.by_name = {d.name: d for ds in detectors_by_feed.values() for d in ds}
        self.state = state
        self.registry = registry
        #: Per partition, event time "now" for window judgements (see :meth:`observe`).
        self.watermarks: dict[int, float] = {}
        self.idle_after_s = idle_after_s
        #: partition -> source -> its progress, as this partition has heard of it.
        self._sources: dict[int, dict[str, Source]] = {}
        #: Per partition, a heap of (due, key, detector name): the windows to judge, in
        #: order; None until built from the state.
        self._heaps: dict[int, list[tuple[float, str, str]]] | None = None
        #: Detector name -> key -> the due time of its state now (built with the heaps): so
        #: neither a store nor a pop recomputes due() of the state it replaces. Strings to
        #: floats, so the garbage collector need not look inside.
        self._dues: dict[str, dict[str, float]] = {name: {} for name in self.by_name}
        #: Detector name -> key -> the time of the key's one entry on the heap that counts (at
        #: or before its due time; others of the key are superseded, skipped when popped). A
        #: due time that moves later pushes nothing: the entry, popped, is pushed again at the
        #: due time then. So a busy key, whose due time moves with each event, has one entry,
        #: not one per event until the watermark passes them (a retention away: weeks).
        self._queued: dict[str, dict[str, float]] = {name: {} for name in self.by_name}
        #: The last event routed and the keys of each of its feed's detectors: handle() of
        #: that very event does not ask them again.
        self._routed: tuple[Event | None, list[tuple[str, ...]]] = (None, [])
        #: Entries changed since the last commit(), by key.
        self._staged: dict[str, dict[str, Any]] = {}
        #: Per key, the dedupe ids added since its entry was last written (the next chunk).
        self._added: dict[str, int] = {}
        #: Decoded entries of recently used keys (busy keys are not decoded per event), and
        #: the keys committed but not yet written to ``state``.
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._dirty: set[str] = set()
        self.cache_size = cache_size
        self.batch_writes = batch_writes
        #: A duplicate is recognised if it comes within this long of its first copy (live:
        #: wall-clock seconds; offline, event time); older ids are forgotten, so state does
        #: not grow with every event.
        self.dedupe_horizon_s = dedupe_horizon_s
        #: Per partition, the latest event time seen: the clock of the dedupe horizon.
        self._latest: dict[int, float] = {}
        #: ... and at most this many ids per key (the newest), so a busy key's entry (written
        #: with every event) stays small.
        self.dedupe_max_ids = dedupe_max_ids

    def route(self, event: Event) -> tuple[str, ...]:
        """The keys this kind processes ``event`` under (usually one; none if no detector of
        the kind wants it). Each key is handled separately, in the partition that owns it."""
        detectors = self.by_feed.get(event.feed)
        if not detectors:  # most kinds read only some feeds: every record is routed to each
            return ()
        if len(detectors) == 1:  # the usual case, most often with one key
            keys = detectors[0].keys(event)
            self._routed = (event, [keys])
            return tuple(keys) if len(keys) <= 1 else tuple(sorted(set(keys)))
        per_detector = [detector.keys(event) for detector in detectors]
        self._routed = (event, per_detector)
        return tuple(sorted({key for keys in per_detector for key in keys}))

    @property
    def watermark(self) -> float:
        """The watermark of partition 0 (the only one offline)."""
        return self.watermarks.get(0, float("-inf"))

    def expect(self, sources: Iterable[str], partitions: Iterable[int], now: float) -> None:
        """Sources known to exist (every partition of the input topics). One that has never
        delivered holds the watermark back (for ``idle_after_s`` live), so a topic read late
        at start cannot find its windows already closed."""
        for partition in partitions:
            known = self._sources.setdefault(partition, {})
            for source in sources:
                known.setdefault(source, Source(expected_at=now))

    def observe(self, source: str, ts: float, now: float | None = None,
                partition: int = 0, caught_up: bool | None = None, recompute: bool = True
                ) -> None:
        """Advance ``partition``'s watermark with a source's progress (a record's event time,
        or a tick's). ``caught_up``: whether the source (an input topic partition) has nothing
        left to read (ticks say; records leave it as it was). An empty source (alerts read
        back: their times come from events already counted) moves nothing.

        While some source is *busy* (still being read with a backlog behind it, or not yet
        delivered: live, for ``idle_after_s`` after it was expected), the watermark is the
        smallest progress among the busy sources and the quiet ones that delivered lately: a
        partition that went quiet will next deliver from its own progress on, not from that
        of a partition read faster (a producer paused, a broker outage). When no source is
        busy (every one caught up: the feeds are merely fast, or live and quiet), it is the
        largest progress of all, so windows close as soon as the inputs' event time has
        passed them; the detectors' allowed lateness absorbs the skew between live feeds.
        Live (``now`` given, wall clock seconds), a source not heard of for ``idle_after_s``
        stops holding (its reader is gone), and so does a quiet one whose progress has not
        moved for as long. It never goes back. Offline (``now`` None) sources are busy until
        they say they are caught up: a replay merged in event-time order is one source,
        never caught up."""
        if not source:
            return
        sources = self._sources.setdefault(partition, {})
        state = sources.get(source)
        if state is None:
            state = sources[source] = Source(expected_at=now or 0.0)
        if ts > state.progress:
            state.progress = ts
            state.moved_at = now or 0.0
        if caught_up is not None:
            state.caught_up = caught_up
        if now is not None:
            state.heard = now
        if recompute:  # a tick recomputes once, after every source it names
            self._recompute(partition, now)

    def _recompute(self, partition: int, now: float | None) -> None:
        holding = float("inf")
        latest = float("-inf")
        busy = False
        for state in self._sources.get(partition, {}).values():
            if state.progress > latest:
                latest = state.progress
            busy = busy or state.busy(now, self.idle_after_s)
            if state.progress < holding and state.holds(now, self.idle_after_s):
                holding = state.progress
        watermark = holding if busy and holding != float("inf") else latest
        if watermark > self.watermarks.get(partition, float("-inf")):
            self.watermarks[partition] = watermark
            # Kept with the state: after a restart, what was late stays late.
            key = watermark_key(partition)
            entry = self._peek(key, partition)
            entry["wm"] = watermark
            self._staged[key] = entry

    def handle(self, event: Event, key: str, partition: int = 0, source: str | None = None,
               now: float | None = None) -> Outcome:
        """Run every detector that wants ``event`` under ``key``; then judge windows now due
        among the keys of ``partition``. Writes nothing yet: call :meth:`commit` once the
        findings are safely published (then the event counts as seen, with its state, in one
        write). ``source`` and ``now``: see :meth:`observe` (by default one source: input
        merged in event-time order, as in replay)."""
        outcome = Outcome()
        self._heap(partition)  # after a start or rebalance: clocks are read from the state
        entry = self._peek(key, partition)
        seen_id = f"{event.feed}|{event.event_id}"
        if seen_id in entry["seen"]:
            outcome.duplicate = True
            return outcome
        self._staged[key] = entry
        # A source that delivers may have more: it holds event time until a tick says again
        # that it is caught up.
        self.observe("merged" if source is None else source, event.ts, now, partition,
                     caught_up=False)
        routed_event, routed = self._routed
        known = routed if routed_event is event else None
        for index, detector in enumerate(self.by_feed.get(event.feed, ())):
            try:
                if key in (known[index] if known is not None else detector.keys(event)):
                    self._process(detector, event, key, entry, partition, outcome)
            except Exception as exc:  # one detector's bug must not stop the others
                outcome.errors.append((detector.name, exc))
        # Remembered from when it was seen: live by the wall clock (a redelivery after a crash
        # or an upstream retry comes minutes later, whatever the record's event time: a
        # backfill weeks late must not be forgotten at once); offline (no wall clock, no
        # crash) by the latest event time seen, which only grows.
        latest = self._latest[partition] = max(self._latest.get(partition, event.ts), event.ts)
        self._remember(entry, seen_id, now if now is not None else latest)
        added = self._added
        added[key] = added.get(key, 0) + 1
        self._advance(partition, outcome)
        return outcome

    def tick(self, progress: Mapping[str, Any], partition: int, now: float | None = None
             ) -> Outcome:
        """A watermark tick (source -> event time reached, or [event time or None, caught
        up]): advance the watermark and judge
        the windows of ``partition`` now due, though no event of theirs arrived (a silent
        project's week). Call :meth:`commit` after publishing its findings."""
        outcome = Outcome()
        self._heap(partition)  # restores the kept watermark first
        for source, value in progress.items():
            if isinstance(value, list | tuple):  # [event time reached or None, caught up]
                ts, caught_up = value
                self.observe(source, float("-inf") if ts is None else ts, now, partition,
                             caught_up=bool(caught_up), recompute=False)
            else:  # a record's progress alone (offline)
                self.observe(source, value, now, partition, caught_up=False, recompute=False)
        self._recompute(partition, now)  # a source may have gone quiet since last time
        self._advance(partition, outcome)
        return outcome

    def commit(self) -> int:
        """The last :meth:`handle` / :meth:`tick` is done (its findings published): its
        changes count. Written to ``state`` at once, or with ``batch_writes`` at the next
        :meth:`flush` (one write per key per batch). Returns the number of keys changed."""
        staged, self._staged = self._staged, {}
        cache, dirty = self._cache, self._dirty
        for key, entry in staged.items():
            cache[key] = entry
            cache.move_to_end(key)
            dirty.add(key)
        if not self.batch_writes:
            self.flush()
        return len(staged)

    def flush(self) -> int:
        """Write every committed change to ``state`` (encoded: live, the changelog's bytes).
        Returns the number of writes."""
        cache, state = self._cache, self.state
        # A store split by partition (the worker's) is told each key's: changes may have
        # waited through several batches of different partitions.
        place = getattr(state, "place", None)
        added = self._added
        for key in self._dirty:
            entry = cache[key]
            if place is not None:
                place(entry["p"])
            if entry["s"] or entry["seen"] or "wm" in entry:
                wire = entry
                if "sc" in entry or len(entry["seen"]) > SEEN_INLINE:
                    wire = self._write_seen(key, entry, added.get(key, 0))
                # A copy: orjson's own result keeps a 4 KB buffer whatever its length
                # (tracemalloc), 20x the entry's size in a table of a million keys.
                state[key] = bytes(memoryview(orjson.dumps(wire)))
            else:
                for number, _ in entry.pop("sc", ()):
                    _forget(state, seen_chunk_key(key, number))
                _forget(state, key)
        added.clear()
        written = len(self._dirty)
        self._dirty.clear()
        while len(cache) > self.cache_size:  # all clean now: the oldest can go
            cache.popitem(last=False)
        return written

    def _write_seen(self, key: str, entry: dict[str, Any], added: int) -> dict[str, Any]:
        """Write the key's dedupe ids apart: the ``added`` since the last write as a new chunk,
        tombstones for chunks whose every id has been forgotten. Returns the entry as written
        (its ids replaced by the chunks that hold them, "sc": [[number, ids], ...] in order,
        and their count "sn": the last "sn" ids of the chunks are the key's)."""
        state, seen = self.state, entry["seen"]
        count = len(seen)
        chunks: list[list[int]] = entry.get("sc", [])
        if not chunks or len(chunks) >= SEEN_CHUNKS:  # all of them in one chunk
            for number, _ in chunks:
                _forget(state, seen_chunk_key(key, number))
            chunks, added = [], count
        added = min(added, count)
        if added:
            number = entry.get("sx", 0)
            ids = dict(reversed(list(islice(reversed(seen.items()), added)))) \
                if added < count else seen
            state[seen_chunk_key(key, number)] = bytes(memoryview(orjson.dumps(ids)))
            chunks.append([number, added])
            entry["sx"] = number + 1
        held = sum(ids for _, ids in chunks)
        while chunks and held - chunks[0][1] >= count:  # its ids are all forgotten
            held -= chunks[0][1]
            _forget(state, seen_chunk_key(key, chunks.pop(0)[0]))
        entry["sc"], entry["sn"] = chunks, count
        return {name: value for name, value in entry.items() if name != "seen"}

    def mark_seen(self, event: Event, key: str) -> None:
        """The event's findings are published: record it as seen (see :meth:`commit`)."""
        self.commit()

    def detector_state(self, name: str, key: str) -> Any:
        """The current state of detector ``name`` for ``key`` (None if it has none)."""
        return self._peek(key, 0)["s"].get(name)

    def states(self, name: str) -> Iterator[tuple[str, Any]]:
        """(key, state) of every key detector ``name`` keeps state for."""
        for key in list(self.state.keys()):
            if key.startswith("\x00"):  # a watermark, dedupe ids
                continue
            state = self.detector_state(name, key)
            if state is not None:
                yield key, state

    def put_state(self, name: str, key: str, state: Any, partition: int = 0) -> None:
        """Set detector ``name``'s state for ``key`` directly (tests, migrations)."""
        entry = self._peek(key, partition)
        entry["s"][name] = state
        self._staged[key] = entry
        self.commit()
        self._heaps = None

    # -- state entries ------------------------------------------------------------------
    def _peek(self, key: str, partition: int) -> dict[str, Any]:
        """The key's entry ({"p": partition, "s": {detector: state}, "seen": {feed|event_id:
        event ts}}), as staged if this handle() already changed it. Put it in ``_staged`` to
        have it written."""
        entry = self._staged.get(key) or self._cache.get(key)
        if entry is None:
            raw = self.state.get(key)
            if raw is None:
                return {"p": partition, "s": {}, "seen": {}}
            entry = orjson.loads(raw)
            if "sc" in entry:  # its dedupe ids are in chunks (see _write_seen)
                entry["seen"] = self._read_seen(key, entry)
        return entry

    def _read_seen(self, key: str, entry: dict[str, Any]) -> dict[str, float]:
        """The dedupe ids of an entry written with them in chunks: the last "sn" of them."""
        pairs: list[tuple[str, float]] = []
        for number, _ in entry["sc"]:
            raw = self.state.get(seen_chunk_key(key, number))
            if raw is not None:
                pairs.extend(orjson.loads(raw).items())
        count = entry["sn"]
        return dict(pairs[len(pairs) - count:] if count else ())

    def _remember(self, entry: dict[str, Any], seen_id: str, ts: float) -> None:
        """Mark an event seen at stream time ``ts``, and forget ids seen more than the dedupe
        horizon before it (or beyond the cap). Ids are kept in arrival order, which is ``ts``
        order (it only grows), so only the oldest are looked at."""
        seen = entry["seen"]
        if seen:  # never before the key's own latest stamp (after a restart ``ts`` starts low)
            ts = max(ts, next(reversed(seen.values())))
        seen[seen_id] = ts
        cutoff = ts - self.dedupe_horizon_s
        while seen and (len(seen) > self.dedupe_max_ids or next(iter(seen.values())) < cutoff):
            del seen[next(iter(seen))]

    def _process(self, detector: Detector, event: Event, key: str, entry: dict[str, Any],
                 partition: int, outcome: Outcome) -> None:
        if not detector.stateful:
            outcome.findings.extend(detector.process(event, key, None, self.registry)[1])
            return
        old = entry["s"].get(detector.name)
        horizon = self.watermarks.get(partition, float("-inf")) - detector.retention_s()
        # Beyond retention the records it would meet may be gone: judging it could accuse
        # (or clear) someone on partial evidence, so it is counted and logged instead.
        if event.ts < horizon or detector.is_late(event, key, old):
            outcome.late.append(detector.name)
            return
        new, findings = detector.process(event, key, old, self.registry)
        if new is not None and horizon > float("-inf"):
            new = detector.forget(new, horizon)
        outcome.findings.extend(findings)
        self._store(detector, key, entry, partition, new)

    def _store(self, detector: Detector, key: str, entry: dict[str, Any], partition: int,
               new: Any) -> None:
        name = detector.name
        heap = self._heap(partition)  # built first: it builds ``_dues`` too
        dues = self._dues[name]
        if new is None:
            entry["s"].pop(name, None)
            dues.pop(key, None)  # an entry left on the heap is dropped when popped
            return
        entry["s"][name] = new
        due = detector.due(new)
        if due is None:
            dues.pop(key, None)
        elif due != dues.get(key):
            dues[key] = due
            queued = self._queued[name]
            ahead = queued.get(key)
            if ahead is None or due < ahead:  # else the entry ahead is pushed on when popped
                queued[key] = due
                heapq.heappush(heap, (due, key, name))

    def _heap(self, partition: int) -> list[tuple[float, str, str]]:
        if self._heaps is None:  # first use since start or a rebalance: rebuild from state
            self._heaps = {}
            self._dues = {name: {} for name in self.by_name}
            self._queued = {name: {} for name in self.by_name}
            for key in list(self.state.keys()):
                raw = self.state.get(key)
                if raw is None or key.startswith(SEEN_CHUNK_PREFIX):
                    continue
                entry = orjson.loads(raw)
                if "sc" in entry:
                    entry["seen"] = self._read_seen(key, entry)
                if "wm" in entry:  # the watermark goes on from where the state left it
                    if entry["wm"] > self.watermarks.get(entry["p"], float("-inf")):
                        self.watermarks[entry["p"]] = entry["wm"]
                    continue
                if entry["seen"]:  # the dedupe clock goes on from where the state left it
                    stamp = next(reversed(entry["seen"].values()))
                    if stamp > self._latest.get(entry["p"], float("-inf")):
                        self._latest[entry["p"]] = stamp
                for name, state in entry["s"].items():
                    detector = self.by_name.get(name)
                    due = detector.due(state) if detector is not None else None
                    if due is not None:
                        self._heaps.setdefault(entry["p"], []).append((due, key, name))
                        self._dues[name][key] = self._queued[name][key] = due
            for heap in self._heaps.values():
                heapq.heapify(heap)
        return self._heaps.setdefault(partition, [])

    def forget_partitions(self) -> None:
        """Partitions were revoked or assigned (after a :meth:`flush`): the in-memory queues
        of due windows and decoded entries are rebuilt from the (recovered) state."""
        self.flush()
        self._heaps = None
        self._cache.clear()

    def _advance(self, partition: int, outcome: Outcome) -> None:
        heap = self._heap(partition)
        watermark = self.watermarks.get(partition, float("-inf"))
        while heap and heap[0][0] <= watermark:
            due, key, name = heapq.heappop(heap)
            detector = self.by_name.get(name)
            if detector is None:  # a detector since disabled
                continue
            queued = self._queued[name]
            if queued.get(key) != due:
                continue  # superseded: an earlier due time of the key was pushed since
            del queued[key]
            now_due = self._dues[name].get(key)
            if now_due is None:
                continue  # the key's state has gone, or needs no judging any more
            if now_due != due:  # moved later since it was pushed: in its place again
                queued[key] = now_due
                heapq.heappush(heap, (now_due, key, name))
                continue
            entry = self._peek(key, partition)
            old = entry["s"].get(name)
            if old is None:
                continue
            self._staged[key] = entry
            try:
                new, findings = detector.advance(key, old, watermark, self.registry)
            except Exception as exc:
                outcome.errors.append((name, exc))
                continue
            outcome.findings.extend(findings)
            self._store(detector, key, entry, partition, new)
