"""Replay / backtest: recorded feeds through the very detector objects the stream runs.

Reads JSONL files (one record per line, optionally gzipped) named after their topic
(``payments.jsonl``, ``bids.jsonl.gz``, ``registry.jsonl`` ...), loads the registry first (as a
live worker does before it judges anything), merges the event feeds in event-time order, and
drives the same :class:`~detectors.runner.Runner` per key kind as the live agents, feeding alerts
back to the detectors that read them (escalation). The alerts have the ids and content the live
pipeline gives the same input. With a labels file it scores them: precision, recall, F1.

Jobs (``sunlight replay --jobs N``, :func:`replay_jobs`): the keys are split as live splits
them (a key's keyed partition, by the producer's partitioner, modulo N), one process each.
The first-line detectors (those that read no alerts: whole kinds) run in the jobs; the kinds
that read alerts (escalation, prescriber_concentration's) run in the calling process at the
same time, in one pass over the same records, each first-line alert delivered at the record
that raised it, as one loop feeds it back (alerts raised at one record in the order of their
time and id, whatever the jobs). The calling process reads and validates every record once
(its rejects counted there, once) and hands every job, in numbered batches, each record of
the feeds the jobs' kinds read, so each job's event time moves exactly as one job's (a record
whose keys another job owns moves the clock as a tick). One job and N jobs give the same
alerts.
"""

from __future__ import annotations

import fcntl
import gzip
import heapq
import io
import itertools
import multiprocessing
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

from detectors.base import Detector, Event
from detectors.findings import to_cloudevent
from detectors.registry import Registry
from detectors.runner import FEEDBACK_FEEDS, Outcome, Runner, by_kind, clock_feeds
from detectors.verdicts import VERDICTS, apply_verdict, index_alert, tally
from detectors.verdicts import precision as verified_precision
from schemas import FEEDS, RecordError, decode, event_ts, parse_time
from stream import heap
from stream.ingest import Rejected, ingest
from stream.outbox import key_partition

EVENT_FEEDS = ("bids", "attendance", "prescriptions", "payments", "alert-dispositions")


def feed_of(path: Path) -> str | None:
    name = path.name.removesuffix(".gz").removesuffix(".jsonl")
    return name if name in FEEDS else None


def input_files(paths: Iterable[Path]) -> list[Path]:
    """The JSONL files among ``paths`` (folders are searched, not recursively)."""
    files: list[Path] = []
    for path in paths:
        candidates = sorted(path.iterdir()) if path.is_dir() else [path]
        files += [p for p in candidates if p.is_file() and feed_of(p) is not None]
    return files


def read_lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for line in io.BufferedReader(handle):
            line = line.rstrip(b"\r\n")
            if line:
                yield line


@dataclass
class Report:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    records: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    late: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Share:
    """The keys one job handles: those whose keyed partition (as live, among ``partitions``)
    is ``job`` modulo ``jobs``."""

    job: int
    jobs: int
    partitions: int

    def owns(self, key: str) -> bool:
        return key_partition(key.encode(), self.partitions) % self.jobs == self.job


#: (index of the record in the merged input, rank of the kind) -> the alerts its first-line
#: detectors raised there (see :func:`replay_jobs`).
Raised = dict[tuple[int, int], list[dict[str, Any]]]


class Relay:
    """The first-line alerts the jobs raise, read from their pipes as the second pass reaches
    the records that raised them: both passes run at once. Each job sends (records handled so
    far, what they raised, None) every :data:`BATCH` records, and at its end (0, what is
    left, its counts)."""

    def __init__(self, pipes: list[Connection]) -> None:
        self.pipes = pipes
        self.handled = [0] * len(pipes)
        self.reports: list[Report | None] = [None] * len(pipes)
        self.raised: Raised = {}

    def pop(self, at: tuple[int, int], default: Any = ()) -> Any:
        """The alerts raised at ``at``, in an order that does not depend on the jobs."""
        for job in range(len(self.pipes)):
            while self.handled[job] <= at[0] and self.reports[job] is None:
                self._receive(job)
        alerts = self.raised.pop(at, None)
        if alerts is None:
            return default
        return sorted(alerts, key=lambda alert: (alert["time"], alert["id"]))

    def finish(self) -> list[Report]:
        """Every job's counts (once each has ended)."""
        for job in range(len(self.pipes)):
            while self.reports[job] is None:
                self._receive(job)
        return [report for report in self.reports if report is not None]

    def _receive(self, job: int) -> None:
        try:
            handled, raised, report = self.pipes[job].recv()
        except EOFError:
            raise RuntimeError(f"replay job {job} failed (its error is above)") from None
        self.handled[job], self.reports[job] = handled, report
        for at, alerts in raised.items():
            self.raised.setdefault(at, []).extend(alerts)


#: Records a job hands over its alerts after, and is given at a time.
BATCH = 1000
#: :data:`BATCH` records: the index after its last in the merged input, and (index, record)
#: of those it has that a replay needs (a job is given only the feeds its kinds read).
Batch = tuple[int, list[tuple[int, Event]]]


def batches(events: Iterable[Event]) -> Iterator[Batch]:
    """``events`` numbered and cut in batches."""
    numbered = enumerate(events)
    while batch := list(itertools.islice(numbered, BATCH)):
        yield batch[-1][0] + 1, batch
#: Committed changes are encoded into the runners' state once per this many records (a
#: multiple of :data:`BATCH`), not at every record: the encoding was a fifth of a replay's
#: time. Not once per 1,000 either: a busy key's entry (its last 1,000 event ids) was then
#: encoded 10 times as often, a tenth of the replay (of the second line, a seventh).
FLUSH_EVERY = 10 * BATCH


class Replay:
    """``share``: handle only the keys of one job (:class:`Share`). ``lines``: which kinds
    run: ``"all"``; ``"first"`` (those whose detectors read no alerts; their alerts are kept
    in :attr:`raised` by position, not fed back); ``"second"`` (the others; the first-line
    alerts come from ``raised``, each at the record that raised it)."""

    def __init__(self, detectors: list[Detector], source: str = "sunlight/sunlight",
                 max_bytes: int = 1_048_576, latest_ts: float = float("inf"),
                 share: Share | None = None, lines: str = "all",
                 raised: Raised | Relay | None = None, registry: Registry | None = None,
                 **runner_options: Any) -> None:
        self.detectors = detectors
        self.source = source
        self.max_bytes = max_bytes
        #: Records dated after this are rejected (``future_time``), as live (see bulk_latest).
        self.latest_ts = latest_ts
        #: Given already loaded (a job's, inherited from the process that read it) or empty.
        self.registry = Registry() if registry is None else registry
        # runner_options: the dedupe settings (see Runner), as the live worker has them.
        runner_options.setdefault("batch_writes", True)
        kinds = by_kind(detectors)
        #: Every kind in one order (an alert's place among those a record raises depends on
        #: it); ``runners`` has those this replay runs.
        self.kinds = list(kinds)
        second = {kind for kind, by_feed in kinds.items() if FEEDBACK_FEEDS & set(by_feed)}
        runs = {"all": set(kinds), "first": set(kinds) - second, "second": second}[lines]
        self.runners = {kind: Runner(by_feed, {}, self.registry, **runner_options)
                        for kind, by_feed in kinds.items() if kind in runs}
        clocks = clock_feeds(kinds)
        #: Per feed, the kinds a record of it concerns (rank, runner or None if the jobs run
        #: it, whether it is the kind's clock): those that read it or tick with it. The others
        #: would route it to no key, tick for none, raise nothing (asking each of them about
        #: every record cost a few per cent of the CPU).
        self.plans = {feed: [(rank, self.runners.get(kind), feed in clocks[kind])
                             for rank, kind in enumerate(self.kinds)
                             if feed in kinds[kind] or feed in clocks[kind]]
                      for feed in {feed for by_feed in kinds.values() for feed in by_feed}
                      | {feed for feeds in clocks.values() for feed in feeds}}
        self.share = share
        self.feedback = lines != "first"
        #: First line: what it raised (by position). Second: where the alerts come from.
        self.raised: Raised | Relay = {} if raised is None else raised
        self.report = Report()
        self._ids: set[str] = set()
        #: Where the record being handled is: (its index in the input, the kind's rank).
        self._at = (0, 0)

    def load_registry(self, lines: Iterable[bytes]) -> None:
        for raw in lines:
            self.report.records["registry"] += 1
            try:
                self.registry.apply(decode("registry", raw, self.max_bytes))
            except RecordError as err:
                self.report.rejected[f"registry:{err.code}"] += 1

    def events(self, files: list[Path]) -> Iterator[Event]:
        """The event feeds merged by event time (each file is read in its own order)."""

        def stream(feed: str, path: Path, rank: int) -> Iterator[tuple[float, int, int, Any]]:
            for offset, raw in enumerate(read_lines(path)):
                result = ingest(feed, raw, topic=feed, partition=0, offset=offset,
                                max_bytes=self.max_bytes, latest_ts=self.latest_ts)
                if isinstance(result, Rejected):
                    self.report.records[feed] += 1
                    self.report.rejected[f"{feed}:{result.code}"] += 1
                    continue
                yield result.ts, rank, offset, result

        streams = [stream(feed, path, rank) for rank, path in enumerate(files)
                   if (feed := feed_of(path)) in EVENT_FEEDS]
        for _, _, _, event in heapq.merge(*streams, key=lambda item: item[:3]):
            self.report.records[event.feed] += 1
            yield event

    def run(self, events: Iterable[Event], every: Callable[[int], None] | None = None
            ) -> Report:
        """Every record of ``events``; ``every`` is called with the number handled so far
        after each :data:`BATCH` of them."""
        return self.run_batches(batches(events), every)

    def run_batches(self, batches: Iterable[Batch], every: Callable[[int], None] | None = None
                    ) -> Report:
        """The records of ``batches`` (see :data:`Batch`); ``every`` is called with each
        batch's end."""
        for end, records in batches:
            for index, event in records:
                self.handle(event, index)
            if end % FLUSH_EVERY == 0:
                self.flush()
            if every is not None:
                every(end)
        self.flush()
        return self.report

    def flush(self) -> None:
        for runner in self.runners.values():
            runner.flush()

    def handle(self, event: Event, index: int | None = None) -> None:
        """One record (at ``index`` in the merged input: where alerts are placed for the
        second line; alerts read back have none)."""
        # Alerts read back don't move event time (their times come from events already seen).
        source = "" if event.feed in FEEDBACK_FEEDS else None
        for rank, runner, clocked in self.plans.get(event.feed, ()):
            if index is not None:
                self._at = (index, rank)
            if runner is None:  # a first-line kind run by the jobs: the alerts it raised here
                for alert in self.raised.pop((index, rank), ()) if index is not None else ():
                    self.publish(alert)
                continue
            keys = runner.route(event)
            mine = keys if self.share is None else tuple(filter(self.share.owns, keys))
            if clocked and (not keys or keys[:1] != mine[:1]):
                # Its clock moves though none of its keys here has the event (live: a tick);
                # before any key, as one job's first key would move it.
                self.settle(runner.tick({"merged": event.ts}, 0))
                runner.commit()
            for key in mine:
                outcome = runner.handle(event, key, source=source)
                if outcome.duplicate:
                    self.report.duplicates += 1
                    continue
                self.settle(outcome)
                runner.mark_seen(event, key)

    def settle(self, outcome: Outcome) -> None:
        for name in outcome.late:
            self.report.late[name] += 1
        for name, _ in outcome.errors:
            self.report.errors[name] += 1
        for finding in outcome.findings:
            self.publish(to_cloudevent(finding, source=self.source))

    def publish(self, alert: dict[str, Any]) -> None:
        if alert["id"] in self._ids:
            return
        self._ids.add(alert["id"])
        self.report.alerts.append(alert)
        if isinstance(self.raised, dict) and not self.feedback:
            # A job's first line: the second pass feeds it back.
            self.raised.setdefault(self._at, []).append(alert)
            return
        # Alerts are an input feed too (escalation reads them), as they are live.
        self.handle(Event("alerts", alert, parse_time(alert["time"]).timestamp(), "alerts"))


#: What a job is given (read by the forked job processes, never pickled): the detectors, the
#: registry already loaded, the Replay options, and the ends of the pipes that are not its own
#: (closed in the job, so that each pipe ends when its one writer does).
_JOB_INPUT: tuple[list[Detector], Registry, dict[str, Any], list[Connection]] | None = None

#: Batches of records a job may be given ahead of the second line (so the jobs work while it
#: does).
AHEAD = 4


def pack(batch: Batch) -> bytes:
    """Records read and validated once, for the jobs: JSON again (a tenth of the cost of
    validating; the records came from JSON, so they come back the same)."""
    end, records = batch
    return orjson.dumps((end, [(i, e.feed, e.record, e.ts, e.topic, e.partition, e.offset)
                               for i, e in records]))


def unpack(packed: bytes) -> Batch:
    end, records = orjson.loads(packed)
    return end, [(i, Event(feed, record, ts, topic, partition, offset))
                 for i, feed, record, ts, topic, partition, offset in records]


class Feeder:
    """Hands the records the calling process reads to every job, in batches, a few ahead of
    the second line. A thread writes them: the jobs' alerts are read meanwhile, so a job
    blocked on a full alert pipe can never hold up the records it waits for."""

    def __init__(self, pipes: list[Connection], wanted: set[str]) -> None:
        self.pipes = pipes
        self.wanted = wanted
        for pipe in pipes:
            widen(pipe)
        self.queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._write, name="replay-feeder", daemon=True)
        self.thread.start()

    def feed(self, events: Iterable[Event]) -> Iterator[Batch]:
        """``events`` in batches, each once every job has been given those of its records
        whose feed is in ``wanted`` (ahead: up to :data:`AHEAD` batches)."""
        given: deque[Batch] = deque()
        for end, records in batches(events):
            self.queue.put(pack((end, [(i, e) for i, e in records if e.feed in self.wanted])))
            given.append((end, records))
            if len(given) > AHEAD:
                yield given.popleft()
        self.queue.put(None)
        yield from given

    def _write(self) -> None:
        try:
            while (batch := self.queue.get()) is not None:
                for pipe in self.pipes:
                    pipe.send_bytes(batch)
            for pipe in self.pipes:
                pipe.send_bytes(b"")  # the end
        except OSError:
            pass  # a job has ended early: its error is reported where its alerts are read
        finally:
            for pipe in self.pipes:
                pipe.close()


def widen(pipe: Connection) -> None:
    """As much room in the pipe as Linux allows an unprivileged process (1 MB by default, not
    64 KB): the batches ahead then fit, and the writer thread, woken at each 64 KB, would wait
    each time for the interpreter lock the second line holds."""
    try:
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ,
                    int(Path("/proc/sys/fs/pipe-max-size").read_text()))
    except (OSError, ValueError, AttributeError):
        pass  # not Linux, or not allowed: the default room works too, more slowly


def replay_jobs(detectors: list[Detector], files: list[Path], jobs: int, partitions: int,
                **options: Any) -> Report:
    """The replay of ``files`` in ``jobs`` processes (see the module's docstring): the
    first-line detectors split by key as live (``partitions`` keyed partitions), and at the
    same time, in this process, the second line over their alerts. This process reads and
    validates the records once and hands them to every job. ``options``: Replay's (source,
    max_bytes, latest_ts, the runner's)."""
    global _JOB_INPUT
    second = Replay(detectors, lines="second", **options)
    load_registry(second, files)  # before the jobs start: they inherit it
    context = multiprocessing.get_context("fork")  # the jobs inherit the detectors
    inboxes: list[Connection] = []
    outboxes: list[Connection] = []
    processes = []
    try:
        for job in range(jobs):
            records, inbox = context.Pipe(duplex=False)
            outbox, alerts = context.Pipe(duplex=False)
            _JOB_INPUT = (detectors, second.registry, options, inboxes + outboxes)
            process = context.Process(target=_job, args=(Share(job, jobs, partitions),
                                                         records, alerts),
                                      name=f"replay-job-{job}", daemon=True)
            process.start()
            records.close()
            alerts.close()
            inboxes.append(inbox)
            outboxes.append(outbox)
            processes.append(process)
    finally:
        _JOB_INPUT = None
    try:
        relay = Relay(outboxes)
        second.raised = relay
        # The feeds the jobs' kinds read or keep time by (prescriptions: none, here).
        wanted = {feed for feed, plan in second.plans.items()
                  if any(runner is None for _, runner, _ in plan)}
        feeder = Feeder(inboxes, wanted)
        report = second.run_batches(feeder.feed(second.events(files)))
        for counts in relay.finish():
            report.duplicates += counts.duplicates
            report.late.update(counts.late)
            report.errors.update(counts.errors)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    return report


def _job(share: Share, records: Connection, send: Connection) -> None:
    assert _JOB_INPUT is not None, "a job runs in a process forked by replay_jobs"
    detectors, registry, options, others = _JOB_INPUT
    for pipe in others:
        pipe.close()
    replay = Replay(detectors, lines="first", share=share, registry=registry, **options)

    def received() -> Iterator[Batch]:
        while packed := records.recv_bytes():
            yield unpack(packed)

    def hand_over(handled: int) -> None:
        raised, replay.raised = replay.raised, {}
        send.send((handled, raised, None))

    report = replay.run_batches(received(), every=hand_over)
    send.send((0, replay.raised,
               Report(duplicates=report.duplicates, late=report.late, errors=report.errors)))
    send.close()


def load_registry(replay: Replay, files: Iterable[Path]) -> None:
    for path in files:
        if feed_of(path) == "registry":
            replay.load_registry(read_lines(path))
    heap.freeze()  # out of the collector's walks (stream/heap.py); jobs forked later share it


def bulk_latest(times: Iterable[float], tolerance_s: float = 900.0) -> float:
    """The latest event time a replay accepts: offline there is no clock to bound event time
    by, so the inputs' own bulk does. Past the 99.9th percentile of the event times by a tenth
    of their span (at least ``tolerance_s``): a record dated decades ahead is rejected, the
    last days of a feed are not.

    >>> days = [86400.0 * d for d in range(1000)]  # a feed of 1,000 days, then one from 2096
    >>> latest = bulk_latest(days + [4e9])
    >>> days[-1] < latest < 4e9
    True
    """
    ordered = sorted(times)
    if not ordered:
        return float("inf")
    low = ordered[int(0.001 * (len(ordered) - 1))]
    high = ordered[int(0.999 * (len(ordered) - 1))]
    return high + max(tolerance_s, 0.1 * (high - low))


def event_times(files: Iterable[Path]) -> Iterator[float]:
    """The event times of the event feeds among ``files`` (unreadable lines skipped)."""
    for path in files:
        if feed_of(path) not in EVENT_FEEDS:
            continue
        for raw in read_lines(path):
            try:
                yield event_ts(orjson.loads(raw))
            except (ValueError, TypeError, KeyError, RecordError):
                continue


# -- scoring against labels ------------------------------------------------------------------

def _label_key(item: dict[str, Any]) -> tuple[str, str, float]:
    data = item.get("data", item)
    return data["detector"], item["subject"], parse_time(item["time"]).timestamp()


def score(alerts: list[dict[str, Any]], labels: list[dict[str, Any]],
          tolerance_s: float = 0.0, dispositions: list[dict[str, Any]] | None = None
          ) -> dict[str, Any]:
    """Precision, recall and F1 per detector and overall; misses and false alarms listed.

    A label (detector, subject, time) is found by an alert of the same detector and subject
    whose time is within ``tolerance_s`` (exact by default); each alert finds one label."""
    unmatched: dict[tuple[str, str], list[tuple[float, dict[str, Any]]]] = {}
    for label in labels:
        detector, subject, ts = _label_key(label)
        unmatched.setdefault((detector, subject), []).append((ts, label))
    hits: Counter[str] = Counter()
    alerts_by: Counter[str] = Counter()
    false_alarms: list[dict[str, Any]] = []
    for alert in sorted(alerts, key=lambda a: (a["time"], a["id"])):
        detector, subject, ts = _label_key(alert)
        alerts_by[detector] += 1
        candidates = unmatched.get((detector, subject), [])
        best = min(candidates, key=lambda c: abs(c[0] - ts), default=None)
        if best is not None and abs(best[0] - ts) <= tolerance_s:
            candidates.remove(best)
            hits[detector] += 1
        else:
            false_alarms.append(alert)
    misses = [label for group in unmatched.values() for _, label in group]
    labels_by = Counter(_label_key(label)[0] for label in labels)
    verdicts = _verdicts(alerts, dispositions or [])
    detectors = sorted(set(alerts_by) | set(labels_by))
    rows = {d: _row(hits[d], alerts_by[d], labels_by[d], verdicts.get(d)) for d in detectors}
    overall = _row(sum(hits.values()), sum(alerts_by.values()), len(labels),
                   _sum_verdicts(verdicts.values()) if dispositions else None)
    return {"detectors": rows, "overall": overall, "tolerance_s": tolerance_s,
            "misses": misses, "false_alarms": [
                {"id": a["id"], "detector": a["data"]["detector"], "subject": a["subject"],
                 "time": a["time"], "summary": a["data"]["summary"]} for a in false_alarms]}


def _row(hits: int, alerts: int, labels: int, verdicts: dict[str, int] | None) -> dict[str, Any]:
    precision = hits / alerts if alerts else (1.0 if not labels else 0.0)
    recall = hits / labels if labels else (1.0 if not alerts else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    row: dict[str, Any] = {"alerts": alerts, "labels": labels, "hits": hits,
                           "precision": precision, "recall": recall, "f1": f1}
    if verdicts is not None:
        row.update(verdicts)
        row["verified_precision"] = verified_precision(verdicts)
    return row


def _verdicts(alerts: list[dict[str, Any]], dispositions: list[dict[str, Any]]
              ) -> dict[str, dict[str, int]]:
    states = {a["id"]: index_alert(None, a) for a in alerts}
    for disposition in sorted(dispositions, key=lambda d: d["decided_at"]):
        if disposition["alert_id"] in states:
            states[disposition["alert_id"]], _ = apply_verdict(states[disposition["alert_id"]],
                                                               disposition)
    out: dict[str, dict[str, int]] = {}
    for (detector, _), counts in tally(states.values()).items():
        row = out.setdefault(detector, dict.fromkeys(VERDICTS, 0))
        for verdict, n in counts.items():
            row[verdict] += n
    return out


def _sum_verdicts(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(VERDICTS, 0)
    for row in rows:
        for k in total:
            total[k] += row[k]
    return total
