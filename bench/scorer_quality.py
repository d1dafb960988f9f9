"""Scorer quality on labelled generated series: precision, recall and detection delay of the
``drug_purchase_spike`` scorer (``detectors/scoring.py``) at its default threshold, beside a plain
rolling z-score baseline and other candidates, on the very same series.

    .venv/bin/python bench/scorer_quality.py [--series 600] [--days 200] [--seed 1]
        [--param name=value ...] [--methods sunlight,rolling-z,...] [--normal-events 0]

The series are daily purchase quantities of hospital-drug pairs, seeded and reproducible:
a level between 5 and 5,000 units a day; a weekly rhythm (weekends at 20-70% of weekdays) in
60% of them; multiplicative noise (log-sd 0.05-0.35; Gaussian shocks in half of them,
heavy-tailed Student-t(4) ones in the other half); a slow trend (up to +-0.4%/day) in 40%;
sparse series (30%: a Poisson number of orders a day, 0.3-2.5 on average, so many days have
none). Labelled anomalies start after day 42 (the warm-up is 21 days), at least 30 days apart:

    spike       one day at 3-8x the usual non-zero day           up    detect within 2 days
    level_up    from that day on, 1.8-3x                         up    within 7 days
    trend_up    from that day, +2-5%/day for 30 days, then flat  up    within 21 days
    dip         one day at 0-25%                                 down  (distractor for "up")
    level_down  from that day on, 30-55%                         down  (distractor for "up")

An alert inside the detection window of an anomaly of its direction detects it (the first such
alert gives the delay, in days); every other alert is a false alarm (including repeated alerts
after a level shift's window: the scorer should have adopted the new normal by then).
Alerts while a trend change is still growing (30 days, plus 7) are not false alarms either.
Precision = detected anomalies / (detected anomalies + false alarms); recall = detected /
labelled. ``false/1k`` is false alarms per 1,000 series-days.

``clear`` is the recall of anomalies at least 4 times the series' noise (the ones a scorer
can be expected to see; a 3x spike in a series whose days vary 2x is not one of them).

Speed and memory are measured too (one core, pure Python): the scorer's updates/s on one
series, the live detectors' events/s through the Runner (state copies and due bookkeeping
included), and the JSON bytes of their per-series state (``len(orjson.dumps(state))``).

``--normal-events N`` also replays N events of the simulator's normal traffic (no scenarios)
through ``drug_purchase_spike`` and ``payer_amount_outlier`` and counts their alerts: the false
alarm rate on normal traffic.

Writes everything as JSON to ``var/bench/scorer_quality.json``.
"""

from __future__ import annotations

import argparse
import math
import pickle
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.auto_scorer import AutoScorer  # noqa: E402
from detectors.scoring import Scorer  # noqa: E402

WARMUP = 21
#: Days from an anomaly's start in which an alert detects it.
WINDOWS = {"spike": 2, "level_up": 7, "trend_up": 21, "dip": 2, "level_down": 7}
#: Days from an anomaly's start in which further alerts are not false alarms (a trend change
#: grows for 30 days; a level shift must be the new normal after its detection window).
ONGOING = {"spike": 2, "level_up": 7, "trend_up": 37, "dip": 2, "level_down": 7}
UP = ("spike", "level_up", "trend_up")
#: An anomaly is "clear" when its size is at least this many times the series' noise.
CLEAR = 4.0
DOWN = ("dip", "level_down")


@dataclass
class Anomaly:
    kind: str
    start: int  # index of the first anomalous day
    direction: str
    #: Size of the change in log units (spike: log of the day's multiple; level: log of the
    #: factor; trend: the extra growth over the detection window) over the series' noise.
    snr: float = 0.0

    @property
    def window(self) -> range:
        return range(self.start, self.start + WINDOWS[self.kind])

    @property
    def ongoing(self) -> range:
        return range(self.start, self.start + ONGOING[self.kind])


@dataclass
class Series:
    values: list[float]
    first_day: int  # date ordinal of values[0]
    anomalies: list[Anomaly] = field(default_factory=list)
    sparse: bool = False
    heavy: bool = False

    @property
    def kind(self) -> str:
        return "sparse" if self.sparse else "dense-heavy" if self.heavy else "dense"


def make_series(rng: random.Random, days: int) -> Series:
    level = math.exp(rng.uniform(math.log(5), math.log(5000)))
    first_day = 739_000 + rng.randrange(7)
    weekly = [1.0] * 7
    if rng.random() < 0.6:
        weekly = [rng.uniform(0.9, 1.1) for _ in range(5)] + [rng.uniform(0.2, 0.7)
                                                               for _ in range(2)]
    noise = rng.uniform(0.05, 0.35)
    heavy = rng.random() < 0.5  # Student-t(4) shocks instead of Gaussian ones
    growth = rng.uniform(-0.004, 0.004) if rng.random() < 0.4 else 0.0
    sparse = rng.random() < 0.3
    orders = rng.uniform(0.3, 2.5) if sparse else 0.0
    # Anomalies: 0-2, after the warm-up (day 42), 30+ days apart.
    anomalies: list[Anomaly] = []
    roll = rng.random()
    count = 0 if roll < 0.2 else 1 if roll < 0.6 else 2
    start = 42
    for _ in range(count):
        if start >= days - 25:
            break
        kind = rng.choice(("spike", "spike", "level_up", "trend_up", "dip", "level_down"))
        at = rng.randrange(start, min(start + 60, days - 25))
        anomalies.append(Anomaly(kind, at, "up" if kind in UP else "down"))
        start = at + 30
    # The log-sd of a day's total: the noise, or for sparse series that of a Poisson count of
    # orders of lognormal(0.3) sizes.
    noise_eff = math.sqrt(math.log1p(1.09 / orders)) if sparse else noise
    mean = [0.0] * days
    factor = 1.0
    extra_growth = 0.0
    for i in range(days):
        for a in anomalies:
            if a.kind == "level_up" and i == a.start:
                step = rng.uniform(1.8, 3.0)
                factor *= step
                a.snr = math.log(step) / noise_eff
            elif a.kind == "level_down" and i == a.start:
                step = rng.uniform(0.3, 0.55)
                factor *= step
                a.snr = -math.log(step) / noise_eff
            elif a.kind == "trend_up" and i == a.start:
                extra_growth = rng.uniform(0.02, 0.05)
                a.snr = extra_growth * WINDOWS["trend_up"] / noise_eff
            elif a.kind == "trend_up" and i == a.start + 30:
                extra_growth = 0.0
        factor *= math.exp(growth + extra_growth)
        mean[i] = level * factor * weekly[(first_day + i) % 7]
    values = []
    for i in range(days):
        if sparse:
            n = _poisson(rng, orders)
            size = mean[i] / orders
            total = sum(size * rng.lognormvariate(-0.045, 0.3) for _ in range(n))
            typical = mean[i] / (1.0 - math.exp(-orders))  # the usual non-zero day
        else:
            shock = _student_t(rng, 4) * 0.707 if heavy else rng.gauss(0.0, 1.0)
            total = mean[i] * math.exp(noise * shock - noise * noise / 2)
            typical = mean[i]
        for a in anomalies:
            if a.kind == "spike" and i == a.start:
                extra = rng.uniform(2.0, 7.0)
                total += typical * extra
                a.snr = math.log1p(extra) / noise_eff
            elif a.kind == "dip" and i == a.start:
                cut = rng.uniform(0.0, 0.25)
                total *= cut
                a.snr = -math.log(max(cut, 0.01)) / noise_eff
        values.append(round(total, 1))
    return Series(values, first_day, anomalies, sparse, heavy and not sparse)


def _student_t(rng: random.Random, df: int) -> float:
    """A Student-t draw (heavy tails; variance df/(df-2), scaled to 1 by the caller)."""
    return rng.gauss(0.0, 1.0) / math.sqrt(sum(rng.gauss(0.0, 1.0) ** 2 for _ in range(df)) / df)


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p < threshold:
            return k
        k += 1


# -- methods -------------------------------------------------------------------------------
class Method:
    """One scorer run over one series: ``step(value, day) -> alert``."""

    def step(self, value: float, day: int) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def state_bytes(self) -> int:
        return 0


class Sunlight(Method):
    """The scorer as drug_purchase_spike runs it: warm-up kept and fitted, then online."""

    def __init__(self, **params: Any) -> None:
        self.scorer = Scorer(**params)
        self.state = self.scorer.start()

    def step(self, value: float, day: int) -> bool:
        return self.scorer.judge(self.state, value, day).alert

    def state_bytes(self) -> int:
        return len(orjson.dumps(self.state))


class Auto(Method):
    """The general model (``--model auto``, ``detectors/auto_scorer.py``) on the same days,
    spikes only (``direction="up"``): alert at score >= ``threshold``."""

    def __init__(self, threshold: float = 0.5, **params: Any) -> None:
        self.model = AutoScorer(direction="up", **params)
        self.state = self.model.new_state()
        self.threshold = threshold

    def step(self, value: float, day: int) -> bool:
        return self.model.update(self.state, day * 86_400.0, value) >= self.threshold

    def state_bytes(self) -> int:
        return len(orjson.dumps(AutoScorer.dump(self.state)))


class RollingZ(Method):
    """The plain baseline: z of today's value against the mean and standard deviation of the
    last ``window`` days (zeros included), alert at z >= ``z``."""

    def __init__(self, window: int = 28, z: float = 3.0, robust: bool = False) -> None:
        self.values: deque[float] = deque(maxlen=window)
        self.z, self.robust = z, robust

    def step(self, value: float, day: int) -> bool:
        values = self.values
        alert = False
        if len(values) == values.maxlen:
            if self.robust:
                centre = statistics.median(values)
                spread = 1.4826 * statistics.median(abs(v - centre) for v in values)
            else:
                centre = statistics.fmean(values)
                spread = statistics.pstdev(values, centre)
            if spread > 0:
                alert = (value - centre) / spread >= self.z
            else:
                alert = value > centre
        values.append(value)
        return alert

    def state_bytes(self) -> int:
        return len(orjson.dumps(list(self.values)))


class RiverPAD(Method):
    """river's PredictiveAnomalyDetection around an additive HoltWinters (weekly season): alert
    when its score reaches 1.0 (squared error beyond mean + n_std sd) above the forecast."""

    def __init__(self) -> None:
        from river import anomaly, time_series

        self.model = anomaly.PredictiveAnomalyDetection(
            time_series.HoltWinters(alpha=0.3, beta=0.01, gamma=0.1, seasonality=7),
            horizon=1, n_std=3.0, warmup_period=WARMUP)
        self.n = 0

    def step(self, value: float, day: int) -> bool:
        model = self.model
        alert = False
        if self.n >= WARMUP:
            forecast = model.predictive_model.forecast(1)[0]
            alert = model.score_one(None, value + 1.0) >= 1.0 and value + 1.0 > forecast
        # +1: river's HoltWinters divides by the first week's mean (zero for sparse series).
        model.learn_one(None, float(value) + 1.0)
        self.n += 1
        return alert

    def state_bytes(self) -> int:
        return len(pickle.dumps(self.model))


def methods(params: dict[str, Any]) -> dict[str, Callable[[], Method]]:
    return {
        "sunlight": lambda: Sunlight(**params),
        "rolling-z": lambda: RollingZ(),
        "rolling-z-5": lambda: RollingZ(z=5.0),
        "rolling-median-mad": lambda: RollingZ(robust=True, z=3.5),
        "sunlight-raw": lambda: Sunlight(**{**params, "transform": "none"}),
        "sunlight-no-season": lambda: Sunlight(**{**params, "period": 1}),
        "sunlight-no-shift-reset": lambda: Sunlight(**{**params, "shift_days": 10_000}),
        "sunlight-no-cusum": lambda: Sunlight(**{**params, "cusum_h": 0.0}),
        "sunlight-trend": lambda: Sunlight(**{**params, "beta": 0.01}),
        "sunlight-z4": lambda: Sunlight(**{**params, "z_half": 4.0}),
        "sunlight-z6": lambda: Sunlight(**{**params, "z_half": 6.0}),
        "river-pad-holtwinters": RiverPAD,
        "auto": Auto,
        "auto-0.6": lambda: Auto(threshold=0.6),
    }


# -- evaluation ----------------------------------------------------------------------------
def evaluate(make: Callable[[], Method], corpus: list[Series], direction: str = "up"
             ) -> dict[str, Any]:
    detected: dict[str, int] = dict.fromkeys(WINDOWS, 0)
    clear_found = clear_total = 0
    false_by: dict[str, int] = {"dense": 0, "dense-heavy": 0, "sparse": 0}
    labelled: dict[str, int] = dict.fromkeys(WINDOWS, 0)
    delays: list[int] = []
    false_alarms = 0
    days_scored = 0
    updates = 0
    elapsed = 0.0
    state_bytes: list[int] = []
    for series in corpus:
        method = make()
        started = time.perf_counter()
        alerts = [i for i, v in enumerate(series.values)
                  if method.step(v, series.first_day + i)]
        elapsed += time.perf_counter() - started
        updates += len(series.values)
        state_bytes.append(method.state_bytes())
        days_scored += len(series.values) - WARMUP
        wanted = [a for a in series.anomalies if direction == "both" or a.direction == direction]
        for a in wanted:
            labelled[a.kind] += 1
            clear_total += a.snr >= CLEAR
        seen: set[int] = set()
        for i in alerts:
            hit = next((a for a in wanted if i in a.window), None)
            if hit is None:
                if not any(i in a.ongoing for a in wanted):
                    false_alarms += 1
                    false_by[series.kind] += 1
            elif id(hit) not in seen:
                seen.add(id(hit))
                detected[hit.kind] += 1
                clear_found += hit.snr >= CLEAR
                delays.append(i - hit.start)
    found = sum(detected.values())
    total = sum(labelled.values())
    return {
        "precision": found / (found + false_alarms) if found + false_alarms else 1.0,
        "recall": found / total if total else 1.0,
        "recall_clear": round(clear_found / clear_total, 3) if clear_total else 1.0,
        "recall_by_kind": {k: round(detected[k] / labelled[k], 3) for k in WINDOWS
                           if labelled[k]},
        "delay_mean_days": round(statistics.fmean(delays), 2) if delays else None,
        "delay_median_days": statistics.median(delays) if delays else None,
        "detected": found,
        "labelled": total,
        "false_alarms": false_alarms,
        "false_alarms_by_series": false_by,
        "false_per_1k_days": round(1000 * false_alarms / days_scored, 3),
        "updates_per_s": round(updates / elapsed) if elapsed else None,
        "state_bytes_mean": round(statistics.fmean(state_bytes), 1),
        "state_bytes_max": max(state_bytes),
    }


def speed_and_memory(updates: int = 300_000, pairs: int = 2_000, days: int = 60
                     ) -> dict[str, Any]:
    """Updates/s of the scorer alone, events/s of the live detectors through a Runner, and
    the bytes of their state per series."""
    from detectors.base import Event
    from detectors.drug_purchase_spike import DrugPurchaseSpike
    from detectors.payer_amount_outlier import PayerAmountOutlier
    from detectors.registry import Registry
    from detectors.runner import Runner
    from schemas import event_ts

    rng = random.Random(5)
    scorer = Scorer()
    state = scorer.new_state()
    values = [rng.lognormvariate(5.0, 0.2) for _ in range(updates)]
    started = time.perf_counter()
    for i, value in enumerate(values):
        scorer.update(state, value, 739_000 + i)
    scorer_rate = updates / (time.perf_counter() - started)
    # The auto model on five-minute rows: its largest state (288 daily bins) and its slowest path.
    auto = AutoScorer()
    auto_state = auto.new_state()
    started = time.perf_counter()
    for i, value in enumerate(values):
        auto.update(auto_state, 1_777_000_000.0 + 300.0 * i, value)
    auto_rate = updates / (time.perf_counter() - started)
    auto_bytes = len(orjson.dumps(AutoScorer.dump(auto_state)))

    # drug_purchase_spike: one purchase a day per pair, pairs interleaved day by day.
    events = []
    for day in range(days):
        for p in range(pairs):
            stamp = f"{_iso_day(day)}T{8 + p * 10 // pairs:02d}:00:00+08:00"
            record = {"event_id": f"e{day}-{p}", "event_time": stamp, "region": "330784",
                      "kind": "purchase", "hospital_id": f"H{p % 50}", "drug_code": f"D{p}",
                      "quantity": round(rng.lognormvariate(5.0, 0.2))}
            events.append(Event("prescriptions", record, event_ts(record)))
    runner = Runner({"prescriptions": [DrugPurchaseSpike()]}, {}, Registry())
    started = time.perf_counter()
    for event in events:
        key = f"{event.record['hospital_id']}|{event.record['drug_code']}"
        runner.handle(event, key)
        runner.mark_seen(event, key)
    spike_rate = len(events) / (time.perf_counter() - started)
    spike_bytes = [len(orjson.dumps(v)) for _, v in runner.states("drug_purchase_spike")]
    judged_bytes = [len(orjson.dumps(dict(v, o={})))
                    for _, v in runner.states("drug_purchase_spike")]

    outlier = PayerAmountOutlier()
    payments = []
    for i in range(updates // 3):
        record = {"event_id": f"p{i}", "event_time": "2026-05-04T10:00:00+08:00",
                  "region": "330784", "status": "executed", "payer_id": f"V{i % pairs}",
                  "payee_id": "P1", "payee_kind": "person", "purpose": "materials",
                  "amount": round(rng.lognormvariate(7.0, 0.6), 2)}
        payments.append(Event("payments", record, 1_777_000_000.0 + i * 60.0))
    runner = Runner({"payments": [outlier]}, {}, Registry())
    started = time.perf_counter()
    for event in payments:
        key = f"{event.record['payer_id']}|materials"
        runner.handle(event, key)
        runner.mark_seen(event, key)
    outlier_rate = len(payments) / (time.perf_counter() - started)
    outlier_bytes = [len(orjson.dumps(v)) for _, v in runner.states(outlier.name)
                     if not v["p"]]
    return {
        "scorer_updates_per_s": round(scorer_rate),
        "auto_updates_per_s": round(auto_rate),
        "auto_state_bytes_5min": auto_bytes,
        "drug_purchase_spike_events_per_s": round(spike_rate),
        "payer_amount_outlier_events_per_s": round(outlier_rate),
        "scorer_state_bytes": len(orjson.dumps(state)),
        "drug_purchase_spike_state_bytes_mean": round(statistics.fmean(spike_bytes), 1),
        "drug_purchase_spike_state_bytes_max": max(spike_bytes),
        "drug_purchase_spike_judged_state_bytes_max": max(judged_bytes),
        "payer_amount_outlier_state_bytes_max": max(outlier_bytes, default=0),
    }


def _iso_day(day: int) -> str:
    from datetime import date, timedelta

    return (date(2026, 3, 2) + timedelta(days=day)).isoformat()


def normal_traffic(events: int) -> dict[str, Any]:
    """Alerts of the live ML detectors on the simulator's normal traffic (no scenarios)."""
    from detectors.base import Event
    from detectors.drug_purchase_spike import DrugPurchaseSpike
    from detectors.payer_amount_outlier import PayerAmountOutlier
    from detectors.registry import Registry
    from detectors.runner import Runner
    from schemas import event_ts
    from stream.simulator.simulate import Simulation

    sim = Simulation(seed=3, events=events, scenarios=(), duplicate_rate=0.0,
                     malformed_rate=0.0, case_rate=0.0, near_miss_rate=0.0)
    spike, outlier = DrugPurchaseSpike(), PayerAmountOutlier()
    runners = {"prescriptions": Runner({"prescriptions": [spike]}, {}, Registry()),
               "payments": Runner({"payments": [outlier]}, {}, Registry())}
    findings: dict[str, int] = {spike.name: 0, outlier.name: 0}
    first = last = None
    for record in sim.stream():
        runner = runners.get(record.feed)
        if runner is None:
            continue
        data = orjson.loads(record.value)
        event = Event(record.feed, data, event_ts(data), record.feed)
        first = event.ts if first is None else first
        last = event.ts
        for key in runner.route(event):
            outcome = runner.handle(event, key)
            runner.mark_seen(event, key)
            for finding in outcome.findings:
                findings[finding.detector] += 1
    series = {name: sum(1 for _ in r.states(name)) for name, r in
              zip((spike.name, outlier.name), runners.values(), strict=True)}
    days = ((last or 0) - (first or 0)) / 86400
    return {"events": events, "event_days": round(days, 1), "alerts": findings,
            "series": series}


# -- report --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=600)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of the sunlight scorer (as `sunlight score`)")
    parser.add_argument("--methods", default="",
                        help="comma-separated subset (default: all)")
    parser.add_argument("--normal-events", type=int, default=0)
    parser.add_argument("--no-speed", action="store_true", help="skip the speed figures")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" /
                        "scorer_quality.json")
    args = parser.parse_args(argv)
    from stream.backtest.score import parse_params

    params = parse_params(args.param)
    rng = random.Random(f"scorer-quality-{args.seed}")
    corpus = [make_series(rng, args.days) for _ in range(args.series)]
    chosen = methods(params)
    if args.methods:
        chosen = {k: v for k, v in chosen.items() if k in args.methods.split(",")}
    kinds = {k: sum(1 for s in corpus for a in s.anomalies if a.kind == k) for k in WINDOWS}
    print(f"{len(corpus)} series x {args.days} days (seed {args.seed}); "
          f"{sum(s.sparse for s in corpus)} sparse; anomalies: "
          + ", ".join(f"{k} {n}" for k, n in kinds.items()))
    results: dict[str, Any] = {"series": len(corpus), "days": args.days, "seed": args.seed,
                               "params": params, "anomalies": kinds, "up": {}, "both": {}}
    header = (f"{'method':<26}{'precision':>10}{'recall':>8}{'clear':>7}{'spike':>7}{'lvl_up':>7}"
              f"{'trend':>7}{'delay':>7}{'false':>7}{'/1k d':>7}{'upd/s':>9}{'bytes':>7}")
    print("\ndirection up (spikes, level-up, trend-up; dips are distractors)")
    print(header)
    for name, make in chosen.items():
        r = evaluate(make, corpus, "up")
        results["up"][name] = r
        by = r["recall_by_kind"]
        print(f"{name:<26}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['recall_clear']:>7.3f}"
              f"{by.get('spike', 0):>7.2f}{by.get('level_up', 0):>7.2f}"
              f"{by.get('trend_up', 0):>7.2f}{r['delay_mean_days'] or 0:>7.2f}"
              f"{r['false_alarms']:>7}{r['false_per_1k_days']:>7.2f}"
              f"{r['updates_per_s'] or 0:>9}{r['state_bytes_mean']:>7.0f}")
    if "sunlight" in chosen:
        both = evaluate(lambda: Sunlight(**{**params, "direction": "both"}), corpus, "both")
        results["both"]["sunlight"] = both
        print(f"\ndirection both (all anomalies): precision {both['precision']:.3f}, recall "
              f"{both['recall']:.3f}, by kind {both['recall_by_kind']}")
    if not args.no_speed:
        figures = speed_and_memory()
        results["speed_and_memory"] = figures
        print("\nspeed (one core) and memory per series:")
        for name, value in figures.items():
            print(f"  {name:<46}{value:>12}")
    if args.normal_events:
        normal = normal_traffic(args.normal_events)
        results["normal_traffic"] = normal
        print(f"\nnormal traffic: {normal['events']} events over {normal['event_days']} days "
              f"of event time; series {normal['series']}; alerts {normal['alerts']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"\nwritten {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
