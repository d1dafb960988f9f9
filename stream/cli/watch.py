"""``sunlight watch``: alerts as they arrive (the alert browser on a terminal, lines else)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import orjson

from stream.cli.common import VIEW
from stream.config import Settings
from stream.privacy import mask
from stream.security import client_options

HELP = "show alerts as they arrive"
ENV = VIEW


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-beginning", action="store_true")


def run(settings: Settings, args: argparse.Namespace,
              status: Callable[[], str] | None = None) -> int:
    if sys.stdout.isatty():  # a person watches: the alert browser, with the counts
        from stream.cli.browser import AlertBrowser

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
