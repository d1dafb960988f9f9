"""``sunlight new-detector NAME``: scaffold a detector, its scenario stub and its doc page
(detectors/scaffold.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "scaffold a detector, its scenario stub and its doc page"
ENV: tuple[str, ...] = ()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the detector's name (lower_case)")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from detectors.scaffold import main as new_detector

    return new_detector(args.name, Path.cwd())
