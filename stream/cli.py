"""``sunlight``: the command line (worker, topics, simulate, watch, run).

``sunlight run`` is the whole product on one machine: broker (unless one is configured), topics,
a worker, the simulated feed, and a live view of the alerts. Ctrl-C stops what it started.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from stream.config import ROOT, VARIABLES, Settings, SettingsError
from stream.logs import use_json
from stream.privacy import mask
from stream.security import client_options
from stream.simulate import Record, Simulation, write_files
from stream.usage import HelpFormatter, env_help

if TYPE_CHECKING:
    from detectors.base import Detector

#: The environment each command reads (its --help lists them; all are checked at start).
KAFKA = ("KAFKA_BOOTSTRAP_SERVERS", "SUNLIGHT_TOPIC_PREFIX", "KAFKA_SECURITY_PROTOCOL",
         "KAFKA_SASL_MECHANISM", "KAFKA_SASL_PLAIN_USERNAME", "KAFKA_SASL_PLAIN_PASSWORD",
         "KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE")
ALL = (*KAFKA, *(v.name for v in VARIABLES if v.name not in KAFKA))
TOPICS = (*KAFKA, "SUNLIGHT_APP_ID", "SUNLIGHT_PARTITIONS", "SUNLIGHT_MAX_RECORD_BYTES",
          "SUNLIGHT_MAX_MESSAGE_BYTES")
REPLAY = ("SUNLIGHT_DETECTORS_FILE", "SUNLIGHT_APP_ID", "SUNLIGHT_MAX_RECORD_BYTES",
          "SUNLIGHT_DEDUPE_MAX_IDS")
SCORE = ("SUNLIGHT_DETECTORS_FILE",)
TOPOLOGY = ("SUNLIGHT_DETECTORS_FILE", "SUNLIGHT_APP_ID", "SUNLIGHT_TOPIC_PREFIX",
            "SUNLIGHT_PARTITIONS")
VIEW = (*KAFKA, "SUNLIGHT_MASK_PERSON_IDS")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number 1-65535")
    return int(text)


def _processes(text: str) -> int:
    from stream.supervisor import process_count

    try:
        return process_count(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes >= 1 or "
                                         "'auto'") from None


def _version() -> str:
    try:
        return importlib.metadata.version("sunlight")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown (not installed)"


def _settings_error() -> int | None:
    """Exit code 2 (and the one line) when the environment holds an unusable setting."""
    try:
        Settings.from_env()
    except SettingsError as exc:
        print(f"sunlight: {exc}", file=sys.stderr)
        return 2
    return None


def build_parser() -> argparse.ArgumentParser:
    """Every command, its options with their defaults, and the environment it reads."""
    parser = argparse.ArgumentParser(prog="sunlight", description=__doc__.splitlines()[0],
                                     formatter_class=HelpFormatter, epilog=env_help(ALL))
    parser.add_argument("--version", action="version", version=f"sunlight {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, env: tuple[str, ...], **kwargs: Any
                ) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=HelpFormatter,
                              epilog=env_help(env), **kwargs)

    p = command("worker", "run one stream worker (Faust)", ALL)
    p.add_argument("--web-port", type=_port, help="metrics/health port (default SUNLIGHT_WEB_PORT)")
    p.add_argument("--data-dir", type=Path, help="worker state folder (default SUNLIGHT_DATA_DIR)")
    p.add_argument("--processes", type=_processes, metavar="N|auto",
                   help="start and supervise N workers of the same group (auto: one per core); "
                        "worker i gets web port base+i and data folder <base>-i, and is "
                        "restarted with backoff if it exits")

    p = command("topics", "create the contract's topics (idempotent)", TOPICS)
    p.add_argument("--partitions", action="append", default=[], metavar="TOPIC=N",
                   help="partition count of one topic (default SUNLIGHT_PARTITIONS)")

    p = command("simulate", "write a seeded, realistic feed to Kafka (or files)", KAFKA)
    _simulation_args(p)
    p.add_argument("--rate", type=float, default=0.0, help="events/s (0: as fast as possible)")
    p.add_argument("--out", type=Path, help="write JSONL files per topic and labels.jsonl to "
                                            "this folder instead of Kafka")
    p.add_argument("--gzip", action="store_true", help="with --out: gzip the files")

    p = command("replay", "run recorded feeds through the detectors; score them", REPLAY)
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
                                 "time (default: the inputs' own bulk, see stream/replay.py)")
    p.add_argument("--report", type=Path, help="write the report here (JSON)")
    p.add_argument("--detectors", type=Path, help="detectors file (default "
                                                  "SUNLIGHT_DETECTORS_FILE)")
    p.add_argument("--no-progress", action="store_true")

    p = command("score", "score a CSV series (a live detector's scorer, or --model auto, "
                         "ewz, river:...)", SCORE, add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)

    p = command("watch", "show alerts as they arrive", VIEW)
    p.add_argument("--from-beginning", action="store_true")

    p = command("alerts", "browse alerts in the terminal; filter, open, dispose", VIEW)
    p.add_argument("--live", action="store_true", help="only alerts from now on (default: "
                                                       "from the beginning)")
    p.add_argument("--by", help="who decides verdicts given here (default: the login name)")

    p = command("dispose", "record a verdict on an alert (alert-dispositions)", KAFKA)
    p.add_argument("alert_id", metavar="ALERT_ID")
    p.add_argument("verdict", choices=("confirmed", "dismissed"))
    p.add_argument("--note", help="free text kept with the verdict")
    p.add_argument("--by", help="who decided (default: the login name)")

    p = command("run", "broker + topics + worker + simulated feed + live alerts", ALL)
    _simulation_args(p, seed=None)
    p.add_argument("--rate", type=float, default=200.0, help="simulated events/s")

    p = command("topology", "print the stages, kinds, detectors and every topic a worker "
                            "uses (no Kafka needed)", TOPOLOGY)
    p.add_argument("--json", action="store_true", help="as JSON")
    p.add_argument("--detectors", type=Path, help="detectors file (default "
                                                  "SUNLIGHT_DETECTORS_FILE)")

    p = command("new-detector", "scaffold a detector, its scenario stub and its doc page", ())
    p.add_argument("name", metavar="NAME", help="the detector's name (lower_case)")

    p = command("completion", "print a shell completion script (bash or zsh)", ())
    p.add_argument("shell", choices=("bash", "zsh"),
                   help="bash: `source <(sunlight completion bash)`; zsh: "
                        "`source <(sunlight completion zsh)`, or save it as _sunlight on $fpath")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["score"]:  # its own parser: `sunlight score --help` shows its options
        if not {"-h", "--help"} & set(argv[1:]) and (error := _settings_error()) is not None:
            return error
        from stream.scorecli import main as score_main

        try:
            return score_main(argv[1:])
        except SystemExit as exc:  # its usage errors: one line, exit 2 like every command's
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
                return 2
            raise
    args = parser.parse_args(argv)
    if args.command == "new-detector":
        from detectors.scaffold import main as new_detector

        return new_detector(args.name, Path.cwd())
    if args.command == "completion":
        from stream.completion import script
        from stream.scorecli import build_parser as score_parser

        print(script(parser, args.shell, {"score": score_parser()}))
        return 0
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"sunlight: {exc}", file=sys.stderr)
        return 2
    return {"worker": cmd_worker, "topics": cmd_topics, "simulate": cmd_simulate,
            "watch": cmd_watch, "run": cmd_run, "replay": cmd_replay,
            "dispose": cmd_dispose, "alerts": cmd_alerts, "topology": cmd_topology}[args.command](
                settings, args)


def _simulation_args(p: argparse.ArgumentParser, seed: int | None = 7) -> None:
    p.add_argument("--seed", type=int, default=seed, help="random seed (same seed, same feed)")
    p.add_argument("--events", type=int, default=10_000, help="number of event records")
    p.add_argument("--people", type=int, default=2_000, help="people in the registry")


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import faust

    from detectors.config import ConfigError, load_detectors
    from stream.app import Sunlight

    if args.web_port:
        settings = replace(settings, web_port=args.web_port)
    if args.data_dir:
        settings = replace(settings, data_dir=args.data_dir)
    try:
        detectors = load_detectors(settings.detectors_file)
    except ConfigError as exc:
        print(f"sunlight: {exc}", file=sys.stderr)
        return 2
    if args.processes:
        from stream.supervisor import supervise

        try:
            return supervise(args.processes, settings.web_port, settings.data_dir,
                             settings.log_level)
        except ValueError as exc:
            print(f"sunlight: {exc}", file=sys.stderr)
            return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.log_format == "json":  # lines logged before Faust sets up its logging
        logging.basicConfig(level=settings.log_level.upper())
        use_json(logging.getLogger())
    sunlight = Sunlight(settings, detectors)
    try:
        sunlight.prepare_topics()
    except SystemExit as exc:  # a size limit that does not fit: say which, do not start
        print(f"sunlight: {exc}", file=sys.stderr)
        return 2
    class _Worker(faust.Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            if settings.log_format == "json":
                self.spinner = None  # no terminal progress spinner among the JSON lines
            super().on_setup_root_logger(logger, level)
            # mode leaves the root logger at DEBUG whatever loglevel says, so each debug call
            # in aiokafka/Faust built a log record only for the handler to drop it (~7% of a
            # busy worker's CPU, measured with py-spy).
            logger.setLevel(level or logging.INFO)
            if settings.log_format == "json":
                use_json(logger)

    worker = _Worker(sunlight.app, loglevel=settings.log_level.upper(),
                     workdir=str(settings.data_dir), redirect_stdouts=False)
    worker.execute_from_commandline()  # exits the process when the worker stops


def _detectors(settings: Settings, named: Path | None) -> list[Detector] | None:
    """The detectors of ``--detectors`` (which must exist when named) or of the settings'
    file; None, once the problem is printed, when they cannot be loaded."""
    from detectors.config import ConfigError, load_detectors

    if named and not named.is_file():
        print(f"sunlight: --detectors {named}: no such file", file=sys.stderr)
        return None
    try:
        return load_detectors(named or settings.detectors_file)
    except ConfigError as exc:
        print(f"sunlight: {exc}", file=sys.stderr)
        return None


def cmd_topology(settings: Settings, args: argparse.Namespace) -> int:
    from stream.topology import Topology

    detectors = _detectors(settings, args.detectors)
    if detectors is None:
        return 2
    topology = Topology.build(detectors, settings)
    if args.json:
        print(orjson.dumps(topology.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print(topology.text())
    return 0


def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    from stream.topics import create_topics

    partitions = {}
    for item in args.partitions:
        name, _, count = item.partition("=")
        partitions[name] = int(count)
    created = create_topics(settings, partitions)
    print(f"created {len(created)} topic(s): {', '.join(created) or '(all existed)'}")
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    sim = Simulation(seed=args.seed, events=args.events, people=args.people)
    if args.out:
        return _simulate_to_files(sim, args.out, args.gzip)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                             linger_ms=5, **client_options(settings.kafka_security))
    registry = 0
    for record in sim.registry():
        producer.send(settings.topic(record.feed), key=record.key, value=record.value)
        registry += 1
    producer.flush()
    print(f"registry: {registry} records", flush=True)
    sent, started = 0, time.monotonic()
    try:
        for record in sim.stream():
            producer.send(settings.topic(record.feed), key=record.key, value=record.value)
            sent += 1
            if args.rate > 0:
                ahead = sent / args.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if sent % 1000 == 0:
                print(f"events: {sent}/{args.events}", flush=True)
    except KeyboardInterrupt:
        pass
    producer.flush()
    elapsed = time.monotonic() - started
    print(f"events: {sent} in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)")
    print("injected: " + orjson.dumps(sim.summary()).decode(), flush=True)
    return 0


def _simulate_to_files(sim: Simulation, out: Path, compress: bool) -> int:
    def progress(records: Iterator[Record]) -> Iterator[Record]:
        for n, record in enumerate(records, 1):
            if n % 100_000 == 0:
                print(f"events: {n:,}/{sim.events:,}", flush=True)
            yield record

    written = write_files(out, sim.registry(), progress(sim.stream()), sim.labels, compress)
    summary = {"seed": sim.seed, "events": sim.events, "injected": sim.summary()}
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print(f"wrote {', '.join(written)} and labels.jsonl ({len(sim.labels)} expected "
          f"findings) to {out}")
    print("injected: " + orjson.dumps(sim.summary()).decode())
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from schemas import RecordError, parse_time
    from stream.replay import (
        Replay,
        bulk_latest,
        event_times,
        feed_of,
        input_files,
        read_lines,
        score,
    )

    detectors = _detectors(settings, args.detectors)
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
    replay = Replay(detectors, source=f"sunlight/{settings.app_id}",
                    max_bytes=settings.max_record_bytes, latest_ts=latest_ts,
                    # no wall clock offline: ids are forgotten only beyond the cap
                    dedupe_max_ids=settings.dedupe_max_ids)
    for path in files:
        if feed_of(path) == "registry":
            replay.load_registry(read_lines(path))
    total = sum(_count_lines(p) for p in files if feed_of(p) != "registry")
    events = tqdm(replay.events(files), total=total or None, unit="ev", mininterval=0.5,
                  disable=args.no_progress, desc="replay")
    report = replay.run(events)
    alerts = sorted(report.alerts, key=lambda a: (a["time"], a["id"]))
    if args.out:
        with open(args.out, "wb") as out:
            for alert in alerts:
                out.write(orjson.dumps(alert) + b"\n")
    by = Counter((a["data"]["detector"], a["data"]["severity"]) for a in alerts)
    print(f"\nrecords {sum(report.records.values()):,}  rejected "
          f"{sum(report.rejected.values()):,}  duplicates {report.duplicates:,}  late "
          f"{sum(report.late.values()):,}  detector errors {sum(report.errors.values()):,}")
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


def cmd_alerts(settings: Settings, args: argparse.Namespace) -> int:
    from stream.browser import AlertBrowser

    AlertBrowser(settings, from_beginning=not args.live, decided_by=args.by).run()
    return 0


def cmd_dispose(settings: Settings, args: argparse.Namespace) -> int:
    from schemas import RecordError
    from stream.verdicts import disposition, find_alert, send_disposition

    try:
        record = disposition(args.alert_id, args.verdict, args.note, args.by)
    except RecordError as err:
        print(f"sunlight dispose: {err.reason}", file=sys.stderr)
        return 2
    if find_alert(settings, args.alert_id) is None:
        print(f"sunlight dispose: no alert with id {args.alert_id!r} was published on "
              f"{settings.topic('alerts')}; nothing written", file=sys.stderr)
        return 2
    send_disposition(settings, record)
    print(f"{args.verdict}: alert {args.alert_id} (written to "
          f"{settings.topic('alert-dispositions')})")
    return 0


def cmd_watch(settings: Settings, args: argparse.Namespace,
              status: Callable[[], str] | None = None) -> int:
    if sys.stdout.isatty():  # a person watches: the alert browser, with the counts
        from stream.browser import AlertBrowser

        AlertBrowser(settings, from_beginning=args.from_beginning, status=status).run()
        return 0
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("alerts"), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False, **client_options(settings.kafka_security))
    ids: set[str] = set()
    try:
        while True:
            # poll(), not iteration with consumer_timeout_ms, which can drop the rest of a
            # fetched batch when it times out in the middle of it.
            for message in (m for ms in consumer.poll(timeout_ms=1000).values() for m in ms):
                alert = orjson.loads(message.value)
                if alert["id"] in ids:  # a redelivered alert: same id, shown once
                    continue
                ids.add(alert["id"])
                data = alert["data"]
                print(f"{alert['time'][:19]}  {data['severity']:<6} {data['action']:<6} "
                      f"{data['detector']:<26} {mask(alert['subject'], settings.mask_person_ids)}",
                      flush=True)
            if status:
                print(status(), flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from stream.topics import create_topics

    logs = ROOT / "var" / "run"
    logs.mkdir(parents=True, exist_ok=True)
    started_broker = False
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        broker = subprocess.run([str(ROOT / "deploy" / "kafka-local"), "status"],
                                capture_output=True)
        if broker.returncode != 0:
            print("starting the local Kafka broker (deploy/kafka-local start)...", flush=True)
            subprocess.run([str(ROOT / "deploy" / "kafka-local"), "start"], check=True)
            started_broker = True
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    if not os.environ.get("SUNLIGHT_TOPIC_PREFIX"):
        # Each demo run gets topics of its own: another run's registry and feed (another
        # seed, other people) must not mix with this one.
        settings = replace(settings, topic_prefix=f"demo{seed}-")
    env = {**os.environ, "SUNLIGHT_TOPIC_PREFIX": settings.topic_prefix}
    created = create_topics(settings)
    print(f"topics ready ({len(created)} created, prefix {settings.topic_prefix!r})",
          flush=True)
    py = sys.executable
    children = []
    worker_log = open(logs / "worker.log", "ab")  # noqa: SIM115 - closed at exit
    sim_log = open(logs / "simulate.log", "ab")  # noqa: SIM115
    children.append(subprocess.Popen([py, "-m", "stream.cli", "worker"], cwd=ROOT, env=env,
                                     stdout=worker_log, stderr=subprocess.STDOUT))
    ready_url = f"http://{settings.web_host}:{settings.web_port}/readyz"
    print("waiting for the worker to be ready...", flush=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and children[0].poll() is None:
        try:
            with urllib.request.urlopen(ready_url, timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        time.sleep(0.5)
    # The feed starts once the worker has its partitions: a worker that starts on a large
    # backlog reaches its detectors late (see README, Performance).
    children.append(subprocess.Popen(
        [py, "-m", "stream.cli", "simulate", "--seed", str(seed), "--events", str(args.events),
         "--people", str(args.people), "--rate", str(args.rate)],
        cwd=ROOT, env=env, stdout=sim_log, stderr=subprocess.STDOUT))
    print(f"worker log: {logs / 'worker.log'}; simulator log: {logs / 'simulate.log'}")
    started = time.monotonic()
    metrics_url = f"http://{settings.web_host}:{settings.web_port}/metrics"

    def status() -> str:
        totals = _scrape(metrics_url)
        return (f"[{time.monotonic() - started:6.0f}s] records in {totals.get('in', 0):,.0f}  "
                f"rejected {totals.get('rejected', 0):,.0f}  "
                f"duplicates {totals.get('dup', 0):,.0f}  "
                f"alerts {totals.get('alerts', 0):,.0f}   (seed {seed})")

    try:
        return cmd_watch(settings, argparse.Namespace(from_beginning=False), status=status)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_broker:
            subprocess.run([str(ROOT / "deploy" / "kafka-local"), "stop"], check=False)
        print("stopped.")


def _scrape(url: str) -> dict[str, float]:
    names = {"sunlight_records_in_total": "in", "sunlight_records_rejected_total": "rejected",
             "sunlight_duplicates_dropped_total": "dup", "sunlight_alerts_total": "alerts"}
    totals: dict[str, float] = {}
    try:
        body = urllib.request.urlopen(url, timeout=1).read().decode()
    except OSError:
        return totals
    for line in body.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in names:
            totals[names[name]] = totals.get(names[name], 0) + float(line.rsplit(" ", 1)[1])
    return totals


if __name__ == "__main__":
    sys.exit(main())
