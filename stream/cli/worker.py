"""``sunlight worker``: run one stream worker (or supervise N of them)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from stream import heap
from stream.cli.common import ALL, load, processes
from stream.config import Settings
from stream.logs import use_json

HELP = "run one stream worker (Faust)"
ENV = ALL


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number 1-65535")
    return int(text)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--web-port", type=_port, help="metrics/health port (default SUNLIGHT_WEB_PORT)")
    p.add_argument("--data-dir", type=Path, help="worker state folder (default SUNLIGHT_DATA_DIR)")
    p.add_argument("--processes", type=processes, metavar="N|auto",
                   help="start and supervise N workers of the same group (auto: one per core); "
                        "worker i gets web port base+i and data folder <base>-i, and is "
                        "restarted with backoff if it exits")


def run(settings: Settings, args: argparse.Namespace) -> int:
    import faust

    from stream.worker.app import Sunlight

    if args.web_port:
        settings = replace(settings, web_port=args.web_port)
    if args.data_dir:
        settings = replace(settings, data_dir=args.data_dir)
    detectors = load(settings, None)
    if detectors is None:
        return 2
    if args.processes:
        from stream.worker.supervisor import supervise

        try:
            return supervise(args.processes, settings.web_port, settings.data_dir,
                             settings.log_level)
        except ValueError as exc:
            print(f"sunlight: {exc}", file=sys.stderr)
            return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    heap.tune()
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
    return 0
