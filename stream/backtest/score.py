"""``sunlight score``: score any series with a live detector's scorer or with a general model.

    sunlight score --in series.csv --out scored.csv [--param name=value ...]
                   [--detector drug_purchase_spike|payer_amount_outlier] [--detectors-file F]
    sunlight score --in series.csv --model auto [--model-param name=value ...]
    sunlight score --in series.csv --model river:anomaly.HalfSpaceTrees
    ... [--alerts] [--threshold 0.5] [--plot out.png [--labels windows.json]]

Reads ``timestamp,value`` (a header line is optional; timestamps are dates ``YYYY-MM-DD`` or
RFC 3339 times) and writes ``timestamp,value,score``.

``--detector`` (the default mode) scores with exactly the scorer the live detector runs: built
by the detector itself (``drug_purchase_spike`` by default) from its parameters in the detectors
file (its defaults when the file does not name it), then ``--param`` overrides. It sums the
values of each calendar day for ``drug_purchase_spike`` (one output row per day, days missing
between two rows are days with no purchase) and scores every row for ``payer_amount_outlier``.
Scores are 0 in the warm-up; an alert is ``score >= threshold`` outside the warm-up and the
cooldown (``--alerts`` adds that column).

``--model`` scores every row, in time order, with a general model: ``auto`` (one configuration
for every series: it learns the cadence and seasonality itself; ``detectors/auto_scorer.py``),
``ewz`` (an exponentially weighted z-score: the baseline) or any river anomaly detector by its
module path (``river:anomaly.HalfSpaceTrees``, ``river:anomaly.GaussianScorer``...) to compare
side by side on the same CSV. An alert is ``score >= --threshold``.

``--plot out.png`` draws the series with its alerts, the score with the threshold, and the
labelled windows of ``--labels`` (a JSON list of ``[start, end]`` timestamps, or NAB's
``combined_windows.json``: the entry whose name ends like the input file).

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
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from detectors.auto_scorer import DEFAULTS as AUTO_DEFAULTS
from detectors.scoring import DEFAULTS

DETECTORS = ("drug_purchase_spike", "payer_amount_outlier")
MODEL_HELP = ("auto (the general model), auto:NAME=VALUE,... (its parameters), ewz (an "
              "exponentially weighted z-score), river:anomaly.HalfSpaceTrees (any river "
              "anomaly detector, by its module path)")


def make_model(spec: str) -> Callable[[float, float], float]:
    """A fresh model for one series: a function ``(time in seconds, value) -> score``."""
    name, _, rest = spec.partition(":")
    if name == "auto":
        from detectors.auto_scorer import AutoScorer

        params = parse_params([p for p in rest.split(",") if p], AUTO_DEFAULTS)
        try:
            model = AutoScorer(**params)
        except ValueError as exc:
            raise SystemExit(f"sunlight score: {exc}") from None
        state = model.new_state()
        return lambda t, v: model.update(state, t, v)
    if name == "ewz":
        return ew_zscore()
    if name == "river":
        return river_model(rest)
    raise SystemExit(f"sunlight score: unknown model {spec!r} ({MODEL_HELP})")


def ew_zscore(rate: float = 0.01) -> Callable[[float, float], float]:
    """The baseline: |value - EW mean| / EW standard deviation, as ``z / (z + 3)``."""
    mean, var, n = 0.0, 0.0, 0

    def step(_t: float, value: float) -> float:
        nonlocal mean, var, n
        n += 1
        d = value - mean
        z = abs(d) / math.sqrt(var) if var > 0 else 0.0
        a = max(rate, 1.0 / n)
        mean += a * d
        var = (1 - a) * (var + a * d * d)
        return z / (z + 3.0)

    return step


def river_model(path: str) -> Callable[[float, float], float]:
    """Any river anomaly detector by module path (``anomaly.HalfSpaceTrees``), with its default
    parameters: each value is scored, then learned. Supervised ones (``GaussianScorer``...) get
    it as their target; the others get ``{"value": v}`` through a running ``MinMaxScaler``
    (river's advice: ``HalfSpaceTrees`` expects features in [0, 1])."""
    import importlib

    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(f"river.{module_name}"), class_name)
    except (ImportError, AttributeError, ValueError):
        raise SystemExit(f"sunlight score: no river model {path!r} ({MODEL_HELP})") from None
    from river import base, preprocessing

    if not (isinstance(cls, type) and issubclass(cls, base.AnomalyDetector
                                                 | base.SupervisedAnomalyDetector)):
        raise SystemExit(f"sunlight score: river.{path} is not an anomaly detector")
    try:
        detector = cls()
    except TypeError as exc:
        raise SystemExit(f"sunlight score: river.{path} needs parameters ({exc})") from None
    if isinstance(detector, base.SupervisedAnomalyDetector):
        def supervised(_t: float, value: float) -> float:
            # river's time-series detectors take no features (x=None); its hints say dict.
            score = float(detector.score_one(None, value))  # type: ignore[arg-type]
            detector.learn_one(None, value)  # type: ignore[arg-type]
            return score

        return supervised
    scaled = preprocessing.MinMaxScaler() | detector

    def unsupervised(_t: float, value: float) -> float:
        x = {"value": value}
        score = float(scaled.score_one(x))
        scaled.learn_one(x)
        return score

    return unsupervised


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
        if not math.isfinite(value):
            raise SystemExit(f"sunlight score: line {number}: value {text!r} is not finite")
        yield number, stamp, value


def parse_time(stamp: str) -> float:
    """Seconds since the epoch of a date or an RFC 3339 time (naive times are UTC)."""
    moment = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_windows(path: Path, series: str) -> list[tuple[float, float]]:
    """Labelled windows: a JSON list of [start, end], or a mapping name -> such a list (NAB's
    ``combined_windows.json``): the entry whose name ends like ``series``'s file name."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"sunlight score: --labels {path}: {exc}") from None
    if isinstance(data, dict):
        name = Path(series).name
        matches = [v for k, v in data.items() if Path(k).name == name]
        if len(data) == 1:
            matches = list(data.values())
        if not matches:
            raise SystemExit(f"sunlight score: --labels {path} has no entry for {name!r}")
        data = matches[0]
    try:
        return [(parse_time(a), parse_time(b)) for a, b in data]
    except (TypeError, ValueError):
        raise SystemExit(f"sunlight score: --labels {path}: expected [[start, end], ...] "
                         "of dates or RFC 3339 times") from None


def build_parser() -> argparse.ArgumentParser:
    from stream.usage import HelpFormatter, env_help

    parser = argparse.ArgumentParser(prog="sunlight score", description=__doc__.splitlines()[0],
                                     formatter_class=HelpFormatter,
                                     epilog=env_help(["SUNLIGHT_DETECTORS_FILE"]))
    parser.add_argument("--in", dest="src", required=True,
                        help="CSV of timestamp,value ('-': stdin)")
    parser.add_argument("--out", dest="dst", default="-", help="CSV to write ('-': stdout)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a parameter of the detector's scorer (repeatable)")
    parser.add_argument("--detector", choices=DETECTORS, default=DETECTORS[0])
    parser.add_argument("--detectors-file", default=None,
                        help="the detectors file whose parameters to start from "
                             "(default SUNLIGHT_DETECTORS_FILE; '' for the defaults)")
    parser.add_argument("--model", default=None, help=f"score every row with a model: {MODEL_HELP}")
    parser.add_argument("--threshold", type=float, default=None,
                        help="alert threshold of --model (default 0.5) and of the plot")
    parser.add_argument("--alerts", action="store_true", help="add an 'alert' column")
    parser.add_argument("--plot", type=Path, default=None, metavar="PNG",
                        help="draw series, score, threshold and alerts to this PNG")
    parser.add_argument("--plot-size", default="1200x700", metavar="WxH",
                        help="the picture's size in pixels")
    parser.add_argument("--labels", type=Path, default=None,
                        help="labelled windows to draw (JSON; see above)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.labels is not None and args.plot is None:
        raise SystemExit("sunlight score: --labels is drawn by --plot: give --plot too")
    src = sys.stdin if args.src == "-" else open(args.src, newline="")  # noqa: SIM115
    try:
        rows = list(read_rows(src))
    finally:
        if src is not sys.stdin:
            src.close()
    if args.model is not None:
        if args.param:
            raise SystemExit("sunlight score: --param sets a detector's scorer; give a model's "
                             "parameters in --model (auto:alpha=0.1,memory=500)")
        threshold = 0.5 if args.threshold is None else args.threshold
        stamps, values, scores, alerts = score_with_model(args.model, rows, threshold)
    else:
        stamps, values, scores, alerts, threshold = score_with_detector(args, rows)
        if args.threshold is not None:
            raise SystemExit("sunlight score: --threshold is the detector's parameter here: "
                             "--param threshold=...")

    dst = sys.stdout if args.dst == "-" else open(args.dst, "w", newline="")  # noqa: SIM115
    try:
        writer = csv.writer(dst, lineterminator="\n")
        writer.writerow(["timestamp", "value", "score"] + (["alert"] if args.alerts else []))
        for stamp, value, score, alert in zip(stamps, values, scores, alerts, strict=True):
            row = [stamp, _number(value), repr(score)]
            writer.writerow(row + ([int(alert)] if args.alerts else []))
    finally:
        if dst is not sys.stdout:
            dst.close()
    if args.plot is not None:
        from stream.backtest.plot import draw

        windows = read_windows(args.labels, args.src) if args.labels else []
        try:
            width, height = (int(v) for v in args.plot_size.lower().split("x"))
        except ValueError:
            raise SystemExit("sunlight score: --plot-size expects WxH in pixels, e.g. 1200x700"
                             ) from None
        draw(args.plot, [parse_time(s) for s in stamps], values, scores, alerts, threshold,
             windows, title=f"{Path(args.src).name}: {args.model or args.detector}",
             size=(width, height))
    return 0


def score_with_model(spec: str, rows: list[tuple[int, str, float]], threshold: float
                     ) -> tuple[list[str], list[float], list[float], list[bool]]:
    """Every row, in time order, through a fresh model (``make_model``)."""
    timed = []
    for number, stamp, value in rows:
        try:
            timed.append((parse_time(stamp), stamp, value))
        except ValueError:
            raise SystemExit(f"sunlight score: line {number}: {stamp!r} is not a date or an "
                             "RFC 3339 time") from None
    timed.sort(key=lambda item: item[0])  # stable: rows of one time keep their order
    model = make_model(spec)
    scores = [model(t, value) for t, _, value in timed]
    return ([s for _, s, _ in timed], [v for _, _, v in timed], scores,
            [score >= threshold for score in scores])


def score_with_detector(args: argparse.Namespace, rows: list[tuple[int, str, float]]
                        ) -> tuple[list[str], list[float], list[float], list[bool], float]:
    """The live detector's scorer, as the detector runs it."""
    from detectors import CATALOGUE
    from stream.config import Settings

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
    if args.detector == "drug_purchase_spike":
        # Sum per calendar day, in day order (a stable sort keeps each day's first stamp).
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
    state = scorer.start()
    steps = [scorer.judge(state, value, step_no) for step_no, _, value in series]
    return ([s for _, s, _ in series], [v for _, _, v in series], [s.score for s in steps],
            [s.alert for s in steps], float(scorer.threshold))


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


if __name__ == "__main__":
    raise SystemExit(main())
