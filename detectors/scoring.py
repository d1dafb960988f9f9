"""The online scorer of one series: robust, seasonal, streaming statistics in a few dozen floats.

Used live by ``drug_purchase_spike`` (a hospital-drug's daily purchased quantity) and
``payer_amount_outlier`` (a payer-purpose's payment amounts), and offline by ``sunlight score``
(``stream/backtest/score.py``) and the quality benchmark (``bench/scorer_quality.py``): one code
path, so a threshold picked on a CSV is the threshold production applies. Chosen by measurement
against a plain rolling z-score, a rolling median/MAD, river's PredictiveAnomalyDetection around a
HoltWinters, and ablations of its own parts (``bench/scorer_quality.py``; figures in its JSON).

The model, per series, on ``x = log1p(value)`` (``transform="log"``; multiplicative noise,
weekly rhythm and spikes become additive and scale-free):

* **forecast** ``f = level + trend + season[step % period]`` (additive Holt-Winters, error
  correction form; the trend is off by default: it measured worse than a level that follows),
  **scale** ``sigma`` = 1.2533 x the running mean absolute residual (the standard deviation
  for Gaussian residuals), floored at ``min_sigma`` (log units: ~10%) so that a perfectly
  regular series does not call a small wobble a spike;
* **robust learning**: a residual is clipped at ``clip`` sigmas before it updates level,
  season and scale (Huber), so a spike does not become part of the normal;
* **level shifts become the new normal**: after ``shift_days`` observations in a row beyond
  ``shift_z`` sigmas on the same side, the level is re-centred on the latest value (the alert
  goes out on the first day; the ``cooldown`` keeps the next days quiet);
* **sustained rises** (a trend change, a shift too small for one day to stand out): a CUSUM of
  the clipped residuals (allowance ``cusum_k`` sigmas) scores 0.5 when it reaches ``cusum_h``;
* **sparse series**: a zero (a day with no purchase) is not a sample of the quantity: it only
  updates the share of non-zero days. Level, season and scale learn from the non-zero values,
  so a hospital that buys a drug twice a week is compared with its usual order, not with the
  zeros between orders. Missing steps (gaps) are zeros, applied in closed form;
* **warm-up**: no alert (score 0) before ``warmup`` steps and ``min_obs`` non-zero values;
  the first values learn at running-mean rates (``1/n``), then at the fixed rates;
* **score** ``u^2 / (u^2 + K^2)`` with ``u = log1p(z+)`` and ``K = log1p(z_half)``: 0 at or
  below the forecast, 0.5 at ``z_half`` sigmas above it, strictly increasing with the value,
  and below 1.0 for every finite value (``log1p`` of the largest double is 709.8, so the score
  stays <= 1 - 7e-6): no ties at 1.0, so a threshold means something.

Two levels of use. :meth:`Scorer.update` is the online model on a flat JSON list: 11 numbers
plus ``period`` seasonal offsets (18 for weekly data), rounded to 6 decimals, about 140 bytes
(``len(orjson.dumps(state))``). :meth:`Scorer.start` / :meth:`Scorer.judge` /
:meth:`Scorer.take_late` are a series as the detectors keep it: its first ``retain`` steps'
values are kept as well (up to ~700 bytes, then dropped), so a value arriving late for one of
them (a backfill, read out of order from several partitions) is put in order and the model
refitted: the model depends on the values, not on the order they arrived in. On values in
order, a series is exactly the online model.

>>> scorer = Scorer()
>>> state = scorer.new_state()
>>> day = 739_000                      # a date's ordinal: the weekday is day % 7
>>> for i in range(35):                 # five weeks: weekdays ~200, weekends ~80
...     value = (80.0 if (day + i) % 7 in (5, 6) else 200.0) * (1.0 + 0.05 * ((i * 7) % 3 - 1))
...     step = scorer.update(state, value, day + i)
>>> step.alert
False
>>> spike = scorer.score(state, 1000.0, day + 35)   # a weekday: 5x the usual order
>>> 0.5 < spike.score < 1.0, spike.alert
(True, True)
>>> scorer.score(state, 2000.0, day + 35).score > spike.score   # monotone in the spike
True
>>> scorer.score(state, 210.0, day + 35).alert                  # inside normal variation
False
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

#: Every parameter with its default; the type of the default is the parameter's type.
DEFAULTS: dict[str, Any] = {
    #: "log": model log1p(value) (multiplicative noise and rhythm); "none": the raw value.
    "transform": "log",
    #: Season length in steps (7: weekly rhythm of daily data; 1: none).
    "period": 7,
    #: Learning rates of level, trend, season, scale and of the share of non-zero steps.
    "alpha": 0.1,
    "beta": 0.0,
    "gamma": 0.1,
    "tau": 0.1,
    "rho": 0.05,
    #: Residuals are clipped at this many sigmas before they are learned (Huber).
    "clip": 3.0,
    #: ... and at this many before they update the scale (so a spike does not blind it).
    "scale_clip": 3.0,
    #: Floor of sigma, in log units for transform "log" (0.1: ~10%), else relative to the level.
    "min_sigma": 0.1,
    #: Level shift: this many non-zero steps in a row beyond shift_z sigmas on one side.
    "shift_z": 2.0,
    "shift_days": 3,
    #: No alert before this many steps, nor before min_obs non-zero values.
    "warmup": 21,
    "min_obs": 21,
    #: The z (sigmas above the forecast) that scores 0.5.
    "z_half": 5.0,
    #: Alert when score >= threshold (after the warm-up, outside the cooldown).
    "threshold": 0.5,
    #: CUSUM of the residuals (in sigmas, each clipped at ``clip``, minus ``cusum_k``): a
    #: sustained rise (a level shift or a trend change too small for one day to stand out)
    #: scores 0.5 when it reaches ``cusum_h``. 0 turns it off.
    "cusum_k": 0.5,
    "cusum_h": 5.0,
    #: Steps for which a series keeps its values, so that a value arriving late for one of
    #: them (a backfill) is put in order: the model is refitted on them.
    "retain": 42,
    #: Steps after an alert during which the series does not alert again.
    "cooldown": 7,
    #: "up" (spikes), "down" (dips) or "both".
    "direction": "up",
}

#: The scorer's parameters for a detector's class docstring (its doc page lists them).
SCORER_PARAMETERS_DOC = """
    Parameters of the online scorer (detectors/scoring.py):
        transform: "log": model log1p(value) (multiplicative noise and rhythm); "none": the
            raw value.
        period: season length in steps (7: weekly rhythm of daily data; 1: none).
        alpha: learning rate of the level.
        beta: learning rate of the trend.
        gamma: learning rate of the season.
        tau: learning rate of the scale.
        rho: learning rate of the share of non-zero steps.
        clip: residuals are clipped at this many sigmas before they are learned (Huber).
        scale_clip: residuals are clipped at this many sigmas before they update the scale.
        min_sigma: floor of sigma, in log units for transform "log", else relative to the
            level.
        shift_z: a level shift is shift_days non-zero steps in a row beyond this many
            sigmas.
        shift_days: steps in a row beyond shift_z that make a level shift the new normal.
        warmup: no alert before this many steps.
        min_obs: no alert before this many non-zero values.
        z_half: the z (sigmas above the forecast) that scores 0.5.
        threshold: alert when the score is at or above this.
        cusum_k: allowance subtracted from each residual (sigmas) in the CUSUM of sustained
            rises.
        cusum_h: the CUSUM level that scores 0.5 (0 turns it off).
        retain: steps for which a series keeps its values, so a late value (a backfill) is
            put in order and the model refitted.
        cooldown: steps after an alert during which the series does not alert again.
        direction: "up" (spikes), "down" (dips) or "both".
    """

# State layout: a flat list (the smallest JSON), seasonal offsets at the end.
_T, _N, _M, _L, _B, _S, _P, _C, _K, _U, _D = range(11)
_SEASON = 11
_SIGMA_PER_MAD = math.sqrt(math.pi / 2)  # sigma / mean |residual| for Gaussian residuals
_NORMAL = NormalDist()


class ScorerParameterError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Step:
    """What the scorer says about one value."""

    #: 0..1 (never 1.0); 0 in the warm-up and at or below the forecast (direction "up").
    score: float
    #: Residual in sigmas (signed; 0 in the warm-up).
    z: float
    #: The forecast, in the value's own units.
    expected: float
    #: score >= threshold, out of the warm-up and the cooldown.
    alert: bool
    #: Still in the warm-up (too little history to score).
    warm: bool


class Scorer:
    """Parameters of the scorer; the per-series state is a plain list (:meth:`new_state`).

    ``update(state, value, step)`` scores ``value`` against what the state has learned, then
    learns it (the state is changed in place and returned inside the Step's caller's hands).
    ``step`` is an integer that grows by one per period unit (a day's ordinal for daily data):
    skipped steps are zeros, and a step not after the last one is refused.
    """

    defaults: Mapping[str, Any] = DEFAULTS

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise ScorerParameterError(
                f"scorer has no parameter {unknown[0]!r} (it has: {', '.join(sorted(DEFAULTS))})")
        merged = dict(DEFAULTS)
        for name, value in params.items():
            merged[name] = _coerce(name, value)
        if merged["transform"] not in ("log", "none"):
            raise ScorerParameterError("scorer parameter 'transform' must be 'log' or 'none'")
        if merged["direction"] not in ("up", "down", "both"):
            raise ScorerParameterError(
                "scorer parameter 'direction' must be 'up', 'down' or 'both'")
        if merged["period"] < 1 or merged["z_half"] <= 0 or merged["min_sigma"] <= 0:
            raise ScorerParameterError("scorer needs period >= 1, z_half > 0, min_sigma > 0")
        self.params = merged
        p = merged
        self.log = p["transform"] == "log"
        self.period: int = p["period"]
        self.alpha, self.beta, self.gamma = p["alpha"], p["beta"], p["gamma"]
        self.tau, self.rho, self.clip = p["tau"], p["rho"], p["clip"]
        self.scale_clip = p["scale_clip"]
        self.min_sigma, self.shift_z, self.shift_days = p["min_sigma"], p["shift_z"], \
            p["shift_days"]
        self.warmup, self.min_obs, self.cooldown = p["warmup"], p["min_obs"], p["cooldown"]
        self.threshold, self.direction = p["threshold"], p["direction"]
        self.retain = p["retain"]
        self.k2 = math.log1p(p["z_half"]) ** 2
        self.z_half = p["z_half"]
        self.cusum_k, self.cusum_h = p["cusum_k"], p["cusum_h"]

    # -- state ---------------------------------------------------------------------------
    def new_state(self) -> list[Any]:
        """A series with no history: last step unknown (None), everything else zero."""
        return [None, 0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0.0, 0.0] + [0.0] * self.period

    # -- a series: warm-up, then online ----------------------------------------------------
    def start(self) -> dict[str, Any]:
        """A new series. Its values are kept (``r``: first step, last step judged, and step ->
        value) for its first ``retain`` steps; after ``min_obs`` non-zero values over
        ``warmup`` steps the model (``m``) is fitted on them and scores online."""
        return {"r": {"f": None, "j": None, "b": {}}}

    def judge(self, series: dict[str, Any], value: float, step: int) -> Step:
        """Score ``value`` at ``step`` and learn it, in a series made by :meth:`start`: in
        the warm-up the value is kept (score 0, no alert) and the model fitted once there are
        enough; then each value is scored online. On values in order this is exactly the
        online model (:meth:`update` from :meth:`new_state`)."""
        raw = series.get("r")
        if raw is not None:
            self._keep(raw, value, step)
        model = series.get("m")
        if model is None:
            if raw is not None and self._ready(raw):
                series["m"] = self.fit(raw)
            result = Step(0.0, 0.0, 0.0, False, True)
        else:
            result = self.update(model, value, step)
        if raw is not None and "m" in series and step - raw["f"] + 1 > self.retain:
            del series["r"]  # old enough: online only from now on
        return result

    def take_late(self, series: dict[str, Any], value: float, step: int) -> bool:
        """A value for a step already judged. While the series keeps its values (its first
        ``retain`` steps) it is added and the model refitted on them in step order, so the
        model does not depend on the order they arrived in (a backfill read from several
        partitions). Later it is refused (False): the online model does not go back."""
        raw = series.get("r")
        if raw is None or raw["j"] is None or step > raw["j"]:
            return False
        self._keep(raw, value, step)
        if "m" in series or self._ready(raw):
            series["m"] = self.fit(raw)
        return True

    def fit(self, raw: dict[str, Any]) -> list[Any]:
        """The online model over kept values ``raw`` (``b``: step -> non-zero value), in step
        order from step ``f`` to ``j`` (steps without a value are zeros)."""
        model = self.new_state()
        values = {int(k): v for k, v in raw["b"].items()}
        steps = sorted(values)
        if raw["f"] is not None and (not steps or raw["f"] < steps[0]):
            self.update(model, 0.0, raw["f"])
        for step in steps:
            if model[_T] is None or step > model[_T]:
                self.update(model, values[step], step)
        if raw["j"] is not None and model[_T] is not None and raw["j"] > model[_T]:
            self.update(model, 0.0, raw["j"])
        return model

    def _ready(self, raw: dict[str, Any]) -> bool:
        return (raw["j"] is not None and len(raw["b"]) >= self.min_obs
                and raw["j"] - raw["f"] + 1 >= self.warmup)

    @staticmethod
    def _keep(raw: dict[str, Any], value: float, step: int) -> None:
        if not math.isfinite(value):
            raise ValueError(f"value must be finite, got {value!r}")
        if value:
            key = str(step)
            raw["b"][key] = _r(raw["b"].get(key, 0.0) + value)
        raw["f"] = step if raw["f"] is None else min(raw["f"], step)
        raw["j"] = step if raw["j"] is None else max(raw["j"], step)

    # -- scoring -------------------------------------------------------------------------
    def score(self, state: list[Any], value: float, step: int) -> Step:
        """Score ``value`` at ``step`` without learning it (the state is left untouched)."""
        return self.update(list(state), value, step)

    def score_of(self, z: float) -> float:
        """The score of a residual of ``z`` sigmas (direction already applied)."""
        if not z > 0.0:  # also NaN
            return 0.0
        u = math.log1p(z)
        u2 = u * u
        return u2 / (u2 + self.k2)

    def update(self, state: list[Any], value: float, step: int) -> Step:
        """Score ``value`` (observed at integer ``step``) against the state, then learn it."""
        if not math.isfinite(value):
            raise ValueError(f"value must be finite, got {value!r}")
        last = state[_T]
        if last is not None:
            if step <= last:
                raise ValueError(f"step {step} is not after the last step {last}")
            gap = step - last - 1
            if gap:
                self._zeros(state, gap)
        state[_T] = step
        state[_N] += 1
        cooling = state[_C] > 0
        if cooling:
            state[_C] -= 1
        period = self.period
        season = _SEASON + step % period
        if value == 0.0:
            return self._zero(state, season, cooling)
        x = math.copysign(math.log1p(abs(value)), value) if self.log else value
        level, trend = state[_L], state[_B]
        m = state[_M]
        warm = state[_N] <= self.warmup or m < self.min_obs
        if m == 0:  # the first value: the level starts on it
            state[_M] = 1
            state[_L] = _r(x)
            state[_P] = _r(state[_P] + max(self.rho, 1.0 / state[_N]) * (1.0 - state[_P]))
            return Step(0.0, 0.0, value, False, True)
        forecast = level + trend + state[season]
        sigma = self._sigma(state, forecast)
        e = x - forecast
        z = e / sigma
        # CUSUM of the clipped residuals, both sides; held at 0 in the warm-up and cooldown.
        zc = min(max(z, -self.clip), self.clip)
        up = max(0.0, state[_U] + zc - self.cusum_k)
        down = max(0.0, state[_D] - zc - self.cusum_k)
        if warm or cooling or not self.cusum_h:
            up = down = 0.0
        if warm:
            score, zs = 0.0, 0.0
        else:
            zs = z
            ratio = self.z_half / self.cusum_h if self.cusum_h else 0.0
            if self.direction == "up":
                directed = max(z, up * ratio)
            elif self.direction == "down":
                directed = max(-z, down * ratio)
            else:
                directed = max(abs(z), up * ratio, down * ratio)
            score = self.score_of(directed)
        alert = (not warm) and (not cooling) and score >= self.threshold and score > 0.0
        if alert:
            state[_C] = self.cooldown
            up = down = 0.0
        state[_U], state[_D] = _r(up), _r(down)
        self._learn(state, season, x, e, sigma, m)
        expected = math.expm1(forecast) if self.log else forecast
        return Step(score, zs, expected, alert, warm)

    # -- internals -----------------------------------------------------------------------
    def _sigma(self, state: list[Any], forecast: float) -> float:
        floor = self.min_sigma if self.log else self.min_sigma * max(abs(forecast), 1.0)
        return max(_SIGMA_PER_MAD * state[_S], floor)

    def _learn(self, state: list[Any], season: int, x: float, e: float, sigma: float,
               m: int) -> None:
        m += 1
        state[_M] = m
        period = self.period
        # The first period's residuals mostly measure seasons not yet learned: the scale learns
        # from the ones after it, and clipping waits for a scale learned over a whole period.
        if m > 2 * period + 1:
            clip = self.clip * sigma
            ec = clip if e > clip else -clip if e < -clip else e
        else:
            ec = e
        alpha = max(self.alpha, 1.0 / m)
        # Season: running mean of its own residuals for its first visits, then gamma.
        visits = 1 + (m - 1) // period
        gamma = min(max(self.gamma, 1.0 / (visits + 1)), 1.0 - alpha) if period > 1 else 0.0
        level = state[_L] + state[_B] + alpha * ec
        trend = state[_B] + self.beta * ec if self.beta else 0.0
        state[season] = _r(state[season] + gamma * ec)
        if m > period + 1:
            tau = max(self.tau, 1.0 / (m - period - 1))
            deviation = abs(e)
            if m > 2 * period + 1 and deviation > self.scale_clip * sigma:
                deviation = self.scale_clip * sigma
            state[_S] = _r(state[_S] + tau * (deviation - state[_S]))
        state[_P] = _r(state[_P] + max(self.rho, 1.0 / state[_N]) * (1.0 - state[_P]))
        # Level shift: shift_days in a row beyond shift_z sigmas, on one side.
        z = e / sigma
        run = state[_K]
        if z > self.shift_z:
            run = run + 1 if run > 0 else 1
        elif z < -self.shift_z:
            run = run - 1 if run < 0 else -1
        else:
            run = 0
        if abs(run) >= self.shift_days:
            level = x - state[season]  # today's value is the new normal
            trend = 0.0
            run = 0
            state[_U] = state[_D] = 0.0
        state[_K] = run
        state[_L] = _r(level)
        state[_B] = _r(trend)

    def _zero(self, state: list[Any], season: int, cooling: bool) -> Step:
        """A step with value 0: no sample of the level, one more step without a value."""
        p = state[_P]
        state[_P] = _r(p - max(self.rho, 1.0 / state[_N]) * p)
        warm = state[_N] <= self.warmup or state[_M] < self.min_obs
        forecast = state[_L] + state[_B] + state[season]
        expected = (math.expm1(forecast) if self.log else forecast) if state[_M] else 0.0
        if warm or self.direction == "up":
            return Step(0.0, 0.0, expected, False, warm)
        # A zero where values are the rule: as unlikely as the share of zero steps says.
        z = -_NORMAL.inv_cdf(min(max(p, 0.5), 1.0 - 1e-12))
        score = self.score_of(-z)
        alert = not cooling and score >= self.threshold and score > 0.0
        if alert:
            state[_C] = self.cooldown
        return Step(score, z, expected, alert, warm)

    def _zeros(self, state: list[Any], gap: int) -> None:
        """``gap`` skipped steps, all zero: closed form (no loop over a long silence)."""
        n = state[_N]
        # The share of non-zero steps decays once per zero step: at the running-mean rate 1/N
        # while N <= 1/rho, then at rho.
        switch = max(n, min(n + gap, int(1.0 / self.rho)))
        p = state[_P] * (n / switch if switch else 0.0)
        p *= (1.0 - self.rho) ** (n + gap - switch)
        state[_P] = _r(p)
        state[_N] = n + gap
        state[_C] = max(0, state[_C] - gap)


def _r(value: float) -> float:
    """Rounded state: 6 decimals keep the model and halve its JSON (+0.0: no "-0.0")."""
    return round(value, 6) + 0.0


def _coerce(name: str, value: Any) -> Any:
    default = DEFAULTS[name]
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScorerParameterError(f"scorer parameter {name!r} must be a number")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScorerParameterError(f"scorer parameter {name!r} must be an integer")
        return value
    if not isinstance(value, str):
        raise ScorerParameterError(f"scorer parameter {name!r} must be a string")
    return value
