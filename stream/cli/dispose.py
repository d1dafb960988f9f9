"""``sunlight dispose``: record a verdict on an alert (alert-dispositions)."""

from __future__ import annotations

import argparse
import sys

from stream.cli.common import KAFKA
from stream.config import Settings

HELP = "record a verdict on an alert (alert-dispositions)"
ENV = KAFKA


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alert_id", metavar="ALERT_ID")
    p.add_argument("verdict", choices=("confirmed", "dismissed"))
    p.add_argument("--note", help="free text kept with the verdict")
    p.add_argument("--by", help="who decided (default: the login name)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from schemas import RecordError
    from stream.cli.verdicts import disposition, find_alert, send_disposition

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
