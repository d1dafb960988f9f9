"""``sunlight score``: score any series with exactly the scorer a detector uses live.

    sunlight score --in series.csv --out scored.csv [--param name=value ...]
                   [--detector drug_purchase_spike|payer_amount_outlier] [--detectors-file F]

Reads ``timestamp,value`` (a header line is optional; timestamps are dates ``YYYY-MM-DD`` or
RFC 3339 times) and writes ``timestamp,value,score``. The scorer is built by the detector itself
(``drug_purchase_spike`` by default) from its parameters in the detectors file (the ones
production runs with; its defaults when the file does not name it), then ``--param`` overrides:
the same class, the same code, the same numbers as the live detector.

``drug_purchase_spike`` scores days, as it does live: values of the same calendar day are
summed (one output row per day, with the day's first timestamp), and days missing between two
rows are days with no purchase (zeros). ``payer_amount_outlier`` scores every row (a payment).
Scores are 0 in the warm-up; an alert is ``score >= threshold`` outside the warm-up and the
cooldown (``--alerts`` adds that column).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> rows = [f"2026-03-{d:02d},{900 if d == 30 else 200 + d % 3}" for d in range(1, 31)]
>>> _ = (folder / "in.csv").write_text("timestamp,value\\n" + "\\n".join(rows) + "\\n")
>>> main(["--in", str(folder / "in.csv"), "--out", str(folder / "out.csv"),
...       "--param", "warmup=14", "--param", "min_obs=10", "--detectors-file", ""])
0
>>> lines = (folder / "out.csv").read_text().splitlines()
>>> lines[0], lines[1], lines[-1][:20]
('timestamp,value,score', '2026-03-01,201,0.0', '2026-03-30,900,0.7...')
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from detectors.scoring import DEFAULTS

DETECTORS = ("drug_purchase_spike", "payer_amount_outlier")


def parse_params(items: Iterable[str], defaults: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """``["z_half=5", "transform=none"]`` -> typed values (by the defaults' types)."""
    defaults = DEFAULTS if defaults is None else defaults
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SystemExit(f"sunlight score: --param expects NAME=VALUE, got {item!r}")
        if name not in defaults:
            raise SystemExit(f"sunlight score: unknown parameter {name!r} "
                             f"(known: {', '.join(sorted(defaults))})")
        default = defaults[name]
        try:
            if isinstance(default, bool):
                value: Any = text.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                value = int(text)
            elif isinstance(default, float):
                value = float(text)
            elif isinstance(default, tuple | list):
                value = [v.strip() for v in text.split(",") if v.strip()]
            else:
                value = text.strip()
        except ValueError:
            raise SystemExit(f"sunlight score: parameter {name!r} must be "
                             f"{type(default).__name__}, got {text!r}") from None
        out[name] = value
    return out


def configured_params(detector: str, path: Path | None) -> dict[str, Any]:
    """The detector's parameters in the detectors file (empty when it names none)."""
    if path is None or not path.is_file():
        return {}
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    entry = (data.get("detectors") or {}).get(detector) or {}
    return dict(entry.get("params") or {})


def read_rows(stream: TextIO) -> Iterator[tuple[int, str, float]]:
    for number, row in enumerate(csv.reader(stream), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise SystemExit(f"sunlight score: line {number}: expected timestamp,value")
        stamp, text = row[0].strip(), row[1].strip()
        try:
            value = float(text)
        except ValueError:
            if number == 1:  # the header
                continue
            raise SystemExit(
                f"sunlight score: line {number}: value {text!r} is not a number") from None
        yield number, stamp, value


def main(argv: list[str] | None = None) -> int:
    from detectors import CATALOGUE
    from stream.config import Settings

    parser = argparse.ArgumentParser(prog="sunlight score", description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="src", required=True,
                        help="CSV of timestamp,value ('-': stdin)")
    parser.add_argument("--out", dest="dst", default="-", help="CSV to write ('-': stdout)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a parameter of the detector's scorer (repeatable)")
    parser.add_argument("--detector", choices=DETECTORS, default=DETECTORS[0])
    parser.add_argument("--detectors-file", default=None,
                        help="the detectors file whose parameters to start from "
                             "(default SUNLIGHT_DETECTORS_FILE; '' for the defaults)")
    parser.add_argument("--alerts", action="store_true", help="add an 'alert' column")
    args = parser.parse_args(argv)

    cls = CATALOGUE[args.detector]
    path = Settings.from_env().detectors_file if args.detectors_file is None else (
        Path(args.detectors_file) if args.detectors_file else None)
    params = configured_params(args.detector, path)
    params.update(parse_params(args.param, dict(cls.defaults)))
    try:
        detector = cls(**params)
    except ValueError as exc:
        raise SystemExit(f"sunlight score: {exc}") from None
    scorer = detector.scorer  # type: ignore[attr-defined]
    daily = args.detector == "drug_purchase_spike"

    src = sys.stdin if args.src == "-" else open(args.src, newline="")  # noqa: SIM115
    try:
        rows = list(read_rows(src))
    finally:
        if src is not sys.stdin:
            src.close()
    if daily:  # sum per calendar day, in day order (a stable sort keeps each day's first stamp)
        days: dict[str, list[Any]] = {}
        for number, stamp, value in rows:
            day = stamp[:10]
            try:
                ordinal = date.fromisoformat(day).toordinal()
            except ValueError:
                raise SystemExit(f"sunlight score: line {number}: {stamp!r} is not a date or "
                                 "an RFC 3339 time") from None
            if day in days:
                days[day][2] += value
            else:
                days[day] = [ordinal, stamp, value]
        series = sorted(days.values(), key=lambda item: item[0])
    else:
        series = [[i, stamp, value] for i, (_, stamp, value) in enumerate(rows)]

    dst = sys.stdout if args.dst == "-" else open(args.dst, "w", newline="")  # noqa: SIM115
    try:
        writer = csv.writer(dst, lineterminator="\n")
        writer.writerow(["timestamp", "value", "score"] + (["alert"] if args.alerts else []))
        state = scorer.start()
        for step_no, stamp, value in series:
            step = scorer.judge(state, value, step_no)
            row = [stamp, _number(value), repr(step.score)]
            writer.writerow(row + ([int(step.alert)] if args.alerts else []))
    finally:
        if dst is not sys.stdout:
            dst.close()
    return 0


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


if __name__ == "__main__":
    raise SystemExit(main())
