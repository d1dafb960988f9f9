"""Replay / backtest: recorded feeds through the very detector objects the stream runs.

Reads JSONL files (one record per line, optionally gzipped) named after their topic
(``payments.jsonl``, ``bids.jsonl.gz``, ``registry.jsonl`` ...), loads the registry first (as a
live worker does before it judges anything), merges the event feeds in event-time order, and
drives the same :class:`~detectors.runner.Runner` per key kind as the live agents, feeding alerts
back to the detectors that read them (escalation). The alerts have the ids and content the live
pipeline gives the same input. With a labels file it scores them: precision, recall, F1.
"""

from __future__ import annotations

import gzip
import heapq
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
from stream.ingest import Rejected, ingest

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


class Replay:
    def __init__(self, detectors: list[Detector], source: str = "sunlight/sunlight",
                 max_bytes: int = 1_048_576, latest_ts: float = float("inf"),
                 **runner_options: Any) -> None:
        self.detectors = detectors
        self.source = source
        self.max_bytes = max_bytes
        #: Records dated after this are rejected (``future_time``), as live (see bulk_latest).
        self.latest_ts = latest_ts
        self.registry = Registry()
        # runner_options: the dedupe settings (see Runner), as the live worker has them.
        kinds = by_kind(detectors)
        self.runners = {kind: Runner(by_feed, {}, self.registry, **runner_options)
                        for kind, by_feed in kinds.items()}
        self.clock_feeds = clock_feeds(kinds)
        self.report = Report()
        self._ids: set[str] = set()

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

    def run(self, events: Iterable[Event]) -> Report:
        for event in events:
            self.handle(event)
        return self.report

    def handle(self, event: Event) -> None:
        # Alerts read back don't move event time (their times come from events already seen).
        source = "" if event.feed in FEEDBACK_FEEDS else None
        for kind, runner in self.runners.items():
            keys = runner.route(event)
            if not keys and event.feed in self.clock_feeds[kind]:
                # Its clock moves though none of its keys has the event (live: a tick).
                self.settle(runner.tick({"merged": event.ts}, 0))
                runner.commit()
            for key in keys:
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
        # Alerts are an input feed too (escalation reads them), as they are live.
        self.handle(Event("alerts", alert, parse_time(alert["time"]).timestamp(), "alerts"))


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
