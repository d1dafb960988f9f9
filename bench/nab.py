"""The Numenta Anomaly Benchmark (NAB), scored by NAB's own rules, for ``sunlight score``'s models.

    .venv/bin/python bench/nab.py --nab PATH [--models auto,ewz] [--only SUBSTRING ...]
    .venv/bin/python bench/nab.py --nab PATH --verify numenta    # our scorer on NAB's results

``PATH`` is a checkout of github.com/numenta/NAB (its ``data/``, ``labels/combined_windows.json``
and, for ``--verify``, ``results/``); nothing is fetched at run time. Every series is scored
online, row by row, by each model (``auto``: :class:`detectors.auto_scorer.AutoScorer`; ``ewz``:
an exponentially weighted z-score, the baseline; ``river:anomaly.HalfSpaceTrees`` or any other
river anomaly detector), with one configuration for all 58 series, and the scores go through
NAB's scoring, re-implemented here from its documented method (NAB's whitepaper and
``nab/sweeper.py``; this is our own code):

* **windows**: each labelled anomaly is a window of timestamps; the first ``min(15% of the
  series, 750)`` rows are a probationary period and are not scored;
* **a detection** is a row whose score is at or above the threshold. Inside a window only the
  window's first detection counts, worth ``A_tp * S(y)`` with the scaled sigmoid
  ``S(y) = 2 / (1 + e^{5y}) - 1`` of its position ``y`` in the window (-1 at its left edge,
  0 past its right edge), normalised so that the left edge is worth ``A_tp``; a window without
  detection costs ``A_fn``. Every detection outside a window costs ``A_fp * S(y)``, ``y`` its
  distance past the last window's right edge in window widths (-1 before any window), so an
  alert just after a window costs little and one far from it costs ``A_fp``;
* **profiles** (cost matrices): standard ``A_fp = 0.11``; reward low FP ``A_fp = 0.22``; reward
  low FN ``A_fn = 2``;
* **threshold**: one threshold for the whole corpus, the one with the best total (every distinct
  score is tried);
* **normalisation**: ``100 (S - S_null) / (S_perfect - S_null)`` where the null detector never
  detects and the perfect one detects every window at its left edge.

``--verify DETECTOR`` reads NAB's published per-series scores of that detector
(``results/DETECTOR/*/DETECTOR_*.csv``) and prints our normalised scores beside NAB's
``results/final_results.json``, both at our best threshold and at NAB's chosen one
(``config/thresholds.json``): the proof that this scorer is NAB's. On ``numenta``, both agree to
4 decimals for the standard and reward-low-FN profiles; for reward low FP the totals agree at NAB's
threshold, and our exhaustive search finds a slightly better threshold on the published (rounded)
scores.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stream.backtest.score import MODEL_HELP, make_model  # noqa: E402

#: Cost matrices (NAB's ``config/profiles.json``): A_tp, A_fp, A_fn.
PROFILES: dict[str, tuple[float, float, float]] = {
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP_rate": (1.0, 0.22, 1.0),
    "reward_low_FN_rate": (1.0, 0.11, 2.0),
}
PROBATION_SHARE = 0.15
PROBATION_MAX = 750  # 15% of 5,000 rows


def scaled_sigmoid(position: float) -> float:
    """1 at a window's left edge (-1) falling to 0 at its right edge (0) and -1 beyond (+1)."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass
class Series:
    name: str  # e.g. "realKnownCause/nyc_taxi.csv"
    stamps: list[str]
    values: list[float]
    windows: list[tuple[int, int]]  # first and last row index of each labelled window

    @functools.cached_property
    def seconds(self) -> list[float]:
        """Seconds since the epoch (NAB's times are naive: read as UTC)."""
        return [datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp() for s in self.stamps]


def load_corpus(nab: Path, only: Sequence[str] = ()) -> list[Series]:
    labels_path = nab / "labels" / "combined_windows.json"
    if not labels_path.is_file():
        raise SystemExit(f"bench/nab.py: {labels_path} not found: --nab must be a NAB checkout")
    labels = json.loads(labels_path.read_text())
    corpus = []
    for name in sorted(labels):
        if only and not any(part in name for part in only):
            continue
        stamps, values = [], []
        with open(nab / "data" / name, newline="") as src:
            rows = csv.reader(src)
            next(rows)
            for row in rows:
                stamps.append(row[0][:19])
                values.append(float(row[1]))
        at = {stamp: i for i, stamp in enumerate(stamps)}
        windows = [(at[a[:19]], at[b[:19]]) for a, b in labels[name]]
        corpus.append(Series(name, stamps, values, windows))
    return corpus


# -- NAB's scoring --------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    score: float  # the detector's anomaly score
    worth: float  # what detecting it adds (TP) or costs (FP), already weighted
    window: int  # the window's corpus-wide number, -1 outside windows


def points(series: Series, scores: Sequence[float], profile: str, first_window: int
           ) -> tuple[list[Point], set[int]]:
    """The scorable rows of one series (after probation) and the windows they can detect."""
    a_tp, a_fp, _ = PROFILES[profile]
    n = len(series.stamps)
    if len(scores) != n:
        raise ValueError(f"{series.name}: {len(scores)} scores for {n} rows")
    probation = min(math.floor(PROBATION_SHARE * n), PROBATION_MAX)
    top = scaled_sigmoid(-1.0)
    inside: dict[int, int] = {}
    for k, (left, right) in enumerate(series.windows):
        for i in range(left, right + 1):
            inside[i] = k
    out: list[Point] = []
    windows: set[int] = set()
    last_right, last_width = None, None
    for i, score in enumerate(scores):
        k = inside.get(i)
        if k is not None:
            left, right = series.windows[k]
            width = right - left + 1
            worth = a_tp * scaled_sigmoid(-(right - i + 1) / width) / top
            if i == right:
                last_right, last_width = right, width
        elif last_right is None:
            worth = -a_fp
        else:
            worth = a_fp * scaled_sigmoid(abs(i - last_right) / (last_width - 1))
        if i >= probation:
            window = -1 if k is None else first_window + k
            if window >= 0:
                windows.add(window)
            out.append(Point(score, worth, window))
    return out, windows


def corpus_points(corpus: Sequence[Series], scores: Sequence[Sequence[float]], profile: str
                  ) -> tuple[list[Point], set[int]]:
    """Every scorable row of the corpus (windows numbered corpus-wide) and the windows."""
    every: list[Point] = []
    counted: set[int] = set()
    first = 0
    for series, series_scores in zip(corpus, scores, strict=True):
        found, windows = points(series, series_scores, profile, first)
        every.extend(found)
        counted |= windows
        first += len(series.windows)
    return every, counted


def corpus_score(corpus: Sequence[Series], scores: Sequence[Sequence[float]], profile: str,
                 threshold: float | None = None) -> tuple[float, float]:
    """NAB's raw total and its threshold: the best corpus-wide one, or the one given."""
    a_fn = PROFILES[profile][2]
    every, counted = corpus_points(corpus, scores, profile)
    every.sort(key=lambda p: p.score, reverse=True)
    best_window: dict[int, float] = {}
    total = -a_fn * len(counted)  # no detection at all
    best, best_threshold = total, math.inf
    i = 0
    while i < len(every):
        level = every[i].score
        if threshold is not None and level < threshold:
            break
        while i < len(every) and every[i].score == level:  # ties detect together
            p = every[i]
            if p.window < 0:
                total += p.worth
            else:
                old = best_window.get(p.window, -a_fn)
                if p.worth > old:
                    total += p.worth - old
                    best_window[p.window] = p.worth
            i += 1
        if threshold is not None or total > best:
            best, best_threshold = total, level
    return best, best_threshold if threshold is None else threshold


def normalised(corpus: Sequence[Series], scores: Sequence[Sequence[float]],
               thresholds: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Per profile: (NAB score 0..100, threshold): at the best threshold or the ones given."""
    windows = sum(len(s.windows) for s in corpus)
    out = {}
    for profile, (a_tp, _, a_fn) in PROFILES.items():
        given = None if thresholds is None else thresholds[profile]
        raw, threshold = corpus_score(corpus, scores, profile, given)
        null = -a_fn * windows
        perfect = a_tp * windows
        out[profile] = (100.0 * (raw - null) / (perfect - null), threshold)
    return out


# -- running models ---------------------------------------------------------------------------
def run_model(spec: str, series: Series) -> list[float]:
    """Score every row of one series online with a fresh model."""
    model = make_model(spec)
    return [model(t, v) for t, v in zip(series.seconds, series.values, strict=True)]


def read_published(nab: Path, detector: str, corpus: Iterable[Series]) -> list[list[float]]:
    out = []
    for series in corpus:
        folder, file = series.name.split("/")
        path = nab / "results" / detector / folder / f"{detector}_{file}"
        with open(path, newline="") as src:
            rows = csv.DictReader(src)
            out.append([float(row["anomaly_score"]) for row in rows])
    return out


def _print_table(rows: dict[str, dict[str, tuple[float, float]]], extra: dict[str, str]) -> None:
    names = list(PROFILES)
    print(f"{'model':34s}" + "".join(f"{n:>22s}" for n in names) + "   threshold(std)  seconds")
    for model, result in rows.items():
        cells = "".join(f"{result[n][0]:22.2f}" for n in names)
        print(f"{model:34s}{cells}   {result['standard'][1]:<15.6g}  {extra.get(model, '')}")


def main(argv: list[str] | None = None,
         runner: Callable[[str, Series], list[float]] = run_model) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", type=Path, required=True, help="a checkout of numenta/NAB")
    parser.add_argument("--models", default="auto,ewz", help=f"comma-separated; {MODEL_HELP}")
    parser.add_argument("--only", action="append", default=[],
                        help="score only series whose name contains this (repeatable; "
                             "a partial corpus is not comparable with NAB's scoreboard)")
    parser.add_argument("--verify", metavar="DETECTOR",
                        help="score NAB's published results of DETECTOR instead of our models")
    parser.add_argument("--per-series", action="store_true",
                        help="also print each series' standard-profile raw score")
    args = parser.parse_args(argv)
    corpus = load_corpus(args.nab, args.only)
    print(f"NAB corpus: {len(corpus)} series, {sum(len(s.values) for s in corpus):,} rows, "
          f"{sum(len(s.windows) for s in corpus)} windows")
    if args.verify:
        published = json.loads((args.nab / "results" / "final_results.json").read_text())
        chosen = json.loads((args.nab / "config" / "thresholds.json").read_text())[args.verify]
        scores = read_published(args.nab, args.verify, corpus)
        ours = normalised(corpus, scores)
        at_theirs = normalised(corpus, scores, {p: chosen[p]["threshold"] for p in PROFILES})
        print(f"{'profile':22s}{'ours, best threshold':>22s}{'ours, NAB threshold':>22s}"
              f"{'NAB published':>16s}")
        for profile in PROFILES:
            theirs = published.get(args.verify, {}).get(profile, float("nan"))
            print(f"{profile:22s}{ours[profile][0]:22.4f}{at_theirs[profile][0]:22.4f}"
                  f"{theirs:16.4f}")
        return 0
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    seconds: dict[str, str] = {}
    for spec in [m.strip() for m in args.models.split(",") if m.strip()]:
        start = time.perf_counter()
        scores = [runner(spec, series) for series in corpus]
        seconds[spec] = f"{time.perf_counter() - start:.1f}"
        rows[spec] = normalised(corpus, scores)
        if args.per_series:
            threshold = rows[spec]["standard"][1]
            for series, s in zip(corpus, scores, strict=True):
                raw, _ = _series_at(series, s, threshold)
                print(f"  {spec:10s} {series.name:60s} {raw:8.3f}")
    _print_table(rows, seconds)
    return 0


def _series_at(series: Series, scores: Sequence[float], threshold: float
               ) -> tuple[float, int]:
    """One series' standard raw score at a fixed threshold, and its detections."""
    found, windows = points(series, scores, "standard", 0)
    best: dict[int, float] = {}
    total = -1.0 * len(windows)
    detections = 0
    for p in found:
        if p.score >= threshold:
            detections += 1
            if p.window < 0:
                total += p.worth
            elif p.worth > best.get(p.window, -1.0):
                total += p.worth - best.get(p.window, -1.0)
                best[p.window] = p.worth
    return total, detections


if __name__ == "__main__":
    raise SystemExit(main())
