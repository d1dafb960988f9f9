"""What several commands share: the environment lists of their --help, the simulation
options, the detectors loader."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from stream.config import VARIABLES, Settings

if TYPE_CHECKING:
    from detectors.base import Detector

#: The environment each command reads (its --help lists them; all are checked at start).
KAFKA = ("KAFKA_BOOTSTRAP_SERVERS", "SUNLIGHT_TOPIC_PREFIX", "KAFKA_SECURITY_PROTOCOL",
         "KAFKA_SASL_MECHANISM", "KAFKA_SASL_PLAIN_USERNAME", "KAFKA_SASL_PLAIN_PASSWORD",
         "KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE")
ALL = (*KAFKA, *(v.name for v in VARIABLES if v.name not in KAFKA))
VIEW = (*KAFKA, "SUNLIGHT_MASK_PERSON_IDS")


def simulation_args(p: argparse.ArgumentParser, seed: int | None = 7) -> None:
    p.add_argument("--seed", type=int, default=seed, help="random seed (same seed, same feed)")
    p.add_argument("--events", type=int, default=10_000, help="number of event records")
    p.add_argument("--people", type=int, default=2_000, help="people in the registry")


def processes(text: str) -> int:
    """A number of processes >= 1, or ``auto`` (one per core)."""
    from stream.worker.supervisor import process_count

    try:
        return process_count(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes >= 1 or "
                                         "'auto'") from None


def detectors_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detectors", type=Path, help="detectors file (default "
                                                  "SUNLIGHT_DETECTORS_FILE)")


def load(settings: Settings, named: Path | None) -> list[Detector] | None:
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
