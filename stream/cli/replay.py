"""``sunlight replay``: recorded feeds through the detectors, scored (stream/backtest)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from stream import heap
from stream.cli.common import detectors_arg, load, processes
from stream.config import Settings

HELP = "run recorded feeds through the detectors; score them"
ENV = ("SUNLIGHT_DETECTORS_FILE", "SUNLIGHT_APP_ID", "SUNLIGHT_MAX_RECORD_BYTES",
       "SUNLIGHT_DEDUPE_MAX_IDS", "SUNLIGHT_PARTITIONS")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", type=Path,
                   help="JSONL files named after their topic (payments.jsonl[.gz], "
                        "registry.jsonl, ...) or folders of them")
    p.add_argument("--labels", type=Path, help="expected findings (JSONL: detector, subject, "
                                               "time): report precision, recall, F1")
    p.add_argument("--dispositions", type=Path,
                   help="verification results (JSONL, alert-dispositions records)")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help="seconds an alert's time may differ from its label's")
    p.add_argument("--out", type=Path, help="write the alerts here (JSONL)")
    p.add_argument("--now", help="reject records dated after this time (RFC 3339) plus "
                                 "SUNLIGHT_FUTURE_TOLERANCE_S, as a live worker would at that "
                                 "time (default: the inputs' own bulk, see "
                                 "stream/backtest/replay.py)")
    p.add_argument("--report", type=Path, help="write the report here (JSON)")
    detectors_arg(p)
    p.add_argument("--jobs", type=processes, metavar="N|auto",
                   help="split the work by key over N processes (auto: one per core), keys "
                        "routed as live (SUNLIGHT_PARTITIONS); the same alerts as one")
    p.add_argument("--no-progress", action="store_true")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from schemas import RecordError, parse_time
    from stream.backtest.replay import (
        Replay,
        bulk_latest,
        event_times,
        feed_of,
        input_files,
        load_registry,
        read_lines,
        replay_jobs,
        score,
    )

    detectors = load(settings, args.detectors)
    if detectors is None:
        return 2
    files = input_files(args.inputs)
    if not files:
        print("sunlight replay: no JSONL files named after a topic among the inputs",
              file=sys.stderr)
        return 2
    if args.now:
        try:
            latest_ts = parse_time(args.now).timestamp() + settings.future_tolerance_s
        except RecordError as exc:
            print(f"sunlight replay: --now: {exc}", file=sys.stderr)
            return 2
    else:
        latest_ts = bulk_latest(event_times(files), settings.future_tolerance_s)
    options: dict[str, Any] = dict(
        source=f"sunlight/{settings.app_id}", max_bytes=settings.max_record_bytes,
        latest_ts=latest_ts,
        # no wall clock offline: ids are forgotten only beyond the cap
        dedupe_max_ids=settings.dedupe_max_ids)
    started = time.monotonic()
    heap.tune()
    if args.jobs:
        report = replay_jobs(detectors, files, args.jobs, settings.partitions, **options)
    else:
        replay = Replay(detectors, **options)
        load_registry(replay, files)
        total = sum(_count_lines(p) for p in files if feed_of(p) != "registry")
        events = tqdm(replay.events(files), total=total or None, unit="ev", mininterval=0.5,
                      disable=args.no_progress, desc="replay")
        report = replay.run(events)
    took = time.monotonic() - started
    alerts = sorted(report.alerts, key=lambda a: (a["time"], a["id"]))
    if args.out:
        with open(args.out, "wb") as out:
            for alert in alerts:
                out.write(orjson.dumps(alert) + b"\n")
    by = Counter((a["data"]["detector"], a["data"]["severity"]) for a in alerts)
    print(f"\nrecords {sum(report.records.values()):,}  rejected "
          f"{sum(report.rejected.values()):,}  duplicates {report.duplicates:,}  late "
          f"{sum(report.late.values()):,}  detector errors {sum(report.errors.values()):,}")
    records = sum(report.records.values())
    print(f"in {took:.1f} s: {records / max(took, 1e-9):,.0f} records/s"
          f"{f' ({args.jobs} jobs)' if args.jobs else ''}")
    print(f"\n{'detector':<34}{'severity':<10}{'alerts':>8}")
    for (detector, severity), n in sorted(by.items()):
        print(f"{detector:<34}{severity:<10}{n:>8}")
    result: dict[str, object] = {"alerts": len(alerts), "by_detector": {
        f"{d}/{s}": n for (d, s), n in sorted(by.items())}}
    if args.labels:
        labels = [orjson.loads(line) for line in read_lines(args.labels)]
        dispositions = ([orjson.loads(line) for line in read_lines(args.dispositions)]
                        if args.dispositions else None)
        scored = score(alerts, labels, args.tolerance, dispositions)
        _print_scores(scored)
        result["scores"] = scored
    if args.report:
        args.report.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        print(f"\nreport written to {args.report}")
    return 0


def _count_lines(path: Path) -> int:
    if path.suffix == ".gz":
        return 0
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _print_scores(scored: dict) -> None:
    print(f"\n{'detector':<34}{'labels':>7}{'alerts':>8}{'hits':>6}{'precision':>11}"
          f"{'recall':>8}{'F1':>7}{'verified':>10}")
    rows = {**scored["detectors"], "overall": scored["overall"]}
    for name, row in rows.items():
        verified = row.get("verified_precision")
        print(f"{name:<34}{row['labels']:>7}{row['alerts']:>8}{row['hits']:>6}"
              f"{row['precision']:>11.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}"
              f"{'' if verified is None else format(verified, '.3f'):>10}")
    for title, items in (("misses", scored["misses"]), ("false alarms", scored["false_alarms"])):
        if items:
            print(f"\n{title} ({len(items)}):")
            for item in items[:20]:
                print(f"  {item.get('detector') or item['data']['detector']}  "
                      f"{item['subject']}  {item['time']}")
