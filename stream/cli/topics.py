"""``sunlight topics``: create the contract's topics (idempotent)."""

from __future__ import annotations

import argparse

from stream.cli.common import KAFKA
from stream.config import Settings

HELP = "create the contract's topics (idempotent)"
ENV = (*KAFKA, "SUNLIGHT_APP_ID", "SUNLIGHT_PARTITIONS", "SUNLIGHT_MAX_RECORD_BYTES",
       "SUNLIGHT_MAX_MESSAGE_BYTES")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--partitions", action="append", default=[], metavar="TOPIC=N",
                   help="partition count of one topic (default SUNLIGHT_PARTITIONS)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from stream.topics import create_topics

    partitions = {}
    for item in args.partitions:
        name, _, count = item.partition("=")
        partitions[name] = int(count)
    created = create_topics(settings, partitions)
    print(f"created {len(created)} topic(s): {', '.join(created) or '(all existed)'}")
    return 0
