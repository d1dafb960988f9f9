"""``sunlight score``: score a CSV series; the command parses its own arguments
(stream/backtest/score.py), so ``sunlight score --help`` shows its options."""

from __future__ import annotations

import argparse
import sys

HELP = "score a CSV series (a live detector's scorer, or --model auto, ewz, river:...)"
ENV = ("SUNLIGHT_DETECTORS_FILE",)
#: Its arguments go to its own parser, unseen by the top-level one.
OWN_PARSER = True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rest", nargs=argparse.REMAINDER)


def parser() -> argparse.ArgumentParser:
    from stream.backtest.score import build_parser

    return build_parser()


def run(argv: list[str]) -> int:
    from stream.backtest.score import main

    try:
        return main(argv)
    except SystemExit as exc:  # its usage errors: one line, exit 2 like every command's
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 2
        raise
