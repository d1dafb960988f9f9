"""``sunlight alerts``: browse alerts in the terminal; filter, open, dispose."""

from __future__ import annotations

import argparse

from stream.cli.common import VIEW
from stream.config import Settings

HELP = "browse alerts in the terminal; filter, open, dispose"
ENV = VIEW


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--live", action="store_true", help="only alerts from now on (default: "
                                                       "from the beginning)")
    p.add_argument("--by", help="who decides verdicts given here (default: the login name)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from stream.cli.browser import AlertBrowser

    AlertBrowser(settings, from_beginning=not args.live, decided_by=args.by).run()
    return 0
