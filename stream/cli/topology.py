"""``sunlight topology``: print what a worker runs and every topic it uses (no Kafka)."""

from __future__ import annotations

import argparse

import orjson

from stream.cli.common import detectors_arg, load
from stream.config import Settings

HELP = "print the stages, kinds, detectors and every topic a worker uses (no Kafka needed)"
ENV = ("SUNLIGHT_DETECTORS_FILE", "SUNLIGHT_APP_ID", "SUNLIGHT_TOPIC_PREFIX",
       "SUNLIGHT_PARTITIONS")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="as JSON")
    detectors_arg(p)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from stream.topology import Topology

    detectors = load(settings, args.detectors)
    if detectors is None:
        return 2
    topology = Topology.build(detectors, settings)
    if args.json:
        print(orjson.dumps(topology.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print(topology.text())
    return 0
